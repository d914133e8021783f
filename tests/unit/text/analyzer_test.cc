// The analyzer (text/analyzer.h): Unicode word splitting and lower-casing, stop words, Snowball
// stemming per language, and the error for an unknown language.
#include "text/analyzer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sextant::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::unique_ptr<Analyzer> Make(const std::string& language, bool stemming = true, bool stop_words = true) {
  TextFieldOptions o;
  o.field = "body";
  o.language = language;
  o.stemming = stemming;
  o.stop_words = stop_words;
  auto a = Analyzer::Create(o);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return a.ok() ? std::move(a).value() : nullptr;
}

TEST(AnalyzerTest, SplitsOnAnythingButLettersAndDigits) {
  EXPECT_THAT(SplitWords("Hello, world! error_code=E42; x-ray"),
              ElementsAre("hello", "world", "error", "code", "e42", "x", "ray"));
  EXPECT_THAT(SplitWords(""), IsEmpty());
  EXPECT_THAT(SplitWords("  ...  "), IsEmpty());
}

TEST(AnalyzerTest, LowerCasesUnicode) {
  EXPECT_THAT(SplitWords("ÉCOLE Straße ΣΟΦΙΑ Москва"), ElementsAre("école", "straße", "σοφια", "москва"));
  // Non-Latin scripts are letters; CJK ideographs too (one run without spaces is one word).
  EXPECT_THAT(SplitWords("naïve café 東京"), ElementsAre("naïve", "café", "東京"));
}

TEST(AnalyzerTest, InvalidUtf8SeparatesWords) {
  EXPECT_THAT(SplitWords(std::string("abc\xff" "def\xc3")), ElementsAre("abc", "def"));
  // An overlong encoding of '/' is not a character.
  EXPECT_THAT(SplitWords(std::string("a\xc0\xaf" "b")), ElementsAre("a", "b"));
}

TEST(AnalyzerTest, DropsOverlongWords) {
  EXPECT_THAT(SplitWords(std::string(kMaxTermBytes + 1, 'a') + " ok"), ElementsAre("ok"));
  EXPECT_THAT(SplitWords(std::string(kMaxTermBytes, 'a')), ElementsAre(std::string(kMaxTermBytes, 'a')));
}

TEST(AnalyzerTest, EnglishStemsAndDropsStopWords) {
  auto a = Make("english");
  EXPECT_THAT(a->Analyze("The runners were running to the Connected networks"),
              ElementsAre("runner", "run", "connect", "network"));
  auto no_stop = Make("english", true, false);
  EXPECT_THAT(no_stop->Analyze("The running"), ElementsAre("the", "run"));
  auto no_stem = Make("english", false, true);
  EXPECT_THAT(no_stem->Analyze("The running"), ElementsAre("running"));
}

TEST(AnalyzerTest, StemsPerLanguage) {
  EXPECT_THAT(Make("french")->Analyze("continuellement"), ElementsAre("continuel"));
  EXPECT_THAT(Make("german")->Analyze("Häuser"), ElementsAre("haus"));
  EXPECT_THAT(Make("spanish")->Analyze("corriendo"), ElementsAre("corr"));
  EXPECT_THAT(Make("russian")->Analyze("книгами"), ElementsAre("книг"));
  // "none": words as they are, no stop words.
  EXPECT_THAT(Make("none")->Analyze("The Running"), ElementsAre("the", "running"));
}

TEST(AnalyzerTest, LanguageNamesAreCaseInsensitive) {
  EXPECT_THAT(Make("English")->Analyze("running"), ElementsAre("run"));
}

TEST(AnalyzerTest, UnknownLanguageNamesTheSupportedOnes) {
  TextFieldOptions o;
  o.field = "body";
  o.language = "klingon";
  auto a = Analyzer::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("klingon"));
  EXPECT_THAT(a.status().message(), HasSubstr("body"));
  EXPECT_THAT(a.status().message(), HasSubstr("english"));
  EXPECT_THAT(a.status().message(), HasSubstr("french"));
  EXPECT_THAT(a.status().message(), HasSubstr("none"));
}

TEST(AnalyzerTest, SupportedLanguagesIncludeTheMainOnes) {
  auto langs = SupportedLanguages();
  for (const char* l : {"none", "english", "french", "german", "spanish", "italian", "portuguese", "dutch", "russian"}) {
    EXPECT_NE(std::find(langs.begin(), langs.end(), l), langs.end()) << l;
  }
}

}  // namespace
}  // namespace sextant::text
