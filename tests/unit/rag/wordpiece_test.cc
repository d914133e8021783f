#include "rag/wordpiece.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "unit/rag/minilm_fixture.h"

namespace sextant::rag {
namespace {

using Strings = std::vector<std::string>;

std::string FixtureDir() { return testing::MiniLmFixtureDir(); }

std::unique_ptr<WordPieceTokenizer> SmallTokenizer(uint32_t max_chars = 100) {
  Strings vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "aff", "##a", "a",
                   "play", "##ing", "##s", ",", "!", "cafe", "naive", "中", "国", "x", "##x", "."};
  auto t = WordPieceTokenizer::FromTokens(vocab, WordPieceOptions{true, max_chars});
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

TEST(WordPieceTest, GreedyLongestMatchWithContinuations) {
  auto t = SmallTokenizer();
  EXPECT_EQ(t->Tokenize("unaffable"), (Strings{"un", "##aff", "##able"}));
  EXPECT_EQ(t->Tokenize("playing plays"), (Strings{"play", "##ing", "play", "##s"}));
  // "affa": "aff" then "##a".
  EXPECT_EQ(t->Tokenize("affa"), (Strings{"aff", "##a"}));
  // A word that cannot be covered is one [UNK], even when a prefix matched.
  EXPECT_EQ(t->Tokenize("playz a"), (Strings{"[UNK]", "a"}));
  EXPECT_EQ(t->Encode("unaffable"), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(t->cls_id(), 2);
  EXPECT_EQ(t->sep_id(), 3);
  EXPECT_EQ(t->pad_id(), 0);
  EXPECT_EQ(t->unk_id(), 1);
}

TEST(WordPieceTest, BasicTokenizerNormalisesAndSplits) {
  auto t = SmallTokenizer();
  EXPECT_EQ(t->BasicTokenize("  Hello,WORLD!  "), (Strings{"hello", ",", "world", "!"}));
  // Accents are stripped (Latin-1, Latin Extended-A, Greek, Cyrillic), case is folded.
  EXPECT_EQ(t->BasicTokenize("Café NAÏVE Ångström Łódź Œuvre Ελλάδα Ёлка"),
            (Strings{"cafe", "naive", "angstrom", "łodz", "œuvre", "ελλαδα", "елка"}));
  EXPECT_EQ(t->Tokenize("CAFÉ, naïve!"), (Strings{"cafe", ",", "naive", "!"}));
  // Each CJK ideograph is a word of its own.
  EXPECT_EQ(t->BasicTokenize("ab中国cd"), (Strings{"ab", "中", "国", "cd"}));
  // ASCII symbols count as punctuation, as in BERT; control and format characters vanish;
  // any white space separates.
  EXPECT_EQ(t->BasicTokenize("a$b+c"), (Strings{"a", "$", "b", "+", "c"}));
  EXPECT_EQ(t->BasicTokenize("zero\u200bwidth\x01 tab\there\nnew\u3000line"),
            (Strings{"zerowidth", "tab", "here", "new", "line"}));
  // Unicode punctuation: em dash, guillemets, CJK full stop.
  EXPECT_EQ(t->BasicTokenize("a—b «c» d。"), (Strings{"a", "—", "b", "«", "c", "»", "d", "。"}));
  // Hangul syllables decompose into jamo; İ loses its dot before lower-casing (as in HF).
  EXPECT_EQ(t->BasicTokenize("한"), (Strings{"\u1112\u1161\u11ab"}));
  EXPECT_EQ(t->BasicTokenize("İ"), (Strings{"i"}));
  // Invalid UTF-8 is dropped rather than passed on.
  EXPECT_EQ(t->BasicTokenize("ab\xff\xc3(cd"), (Strings{"ab", "(", "cd"}));
  EXPECT_TRUE(t->BasicTokenize(" \t\n ").empty());
}

TEST(WordPieceTest, CasedVocabularyKeepsCaseAndAccents) {
  auto t = WordPieceTokenizer::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]"}, WordPieceOptions{false, 100});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->BasicTokenize("Café NAÏVE"), (Strings{"Café", "NAÏVE"}));
}

TEST(WordPieceTest, OverlongWordIsUnknown) {
  auto t = SmallTokenizer(/*max_chars=*/4);
  EXPECT_EQ(t->Tokenize("xxxx xxxxx"), (Strings{"x", "##x", "##x", "##x", "[UNK]"}));
}

TEST(WordPieceTest, BadVocabulariesAreRefused) {
  auto missing = WordPieceTokenizer::FromTokens({"[PAD]", "[UNK]", "[CLS]"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("[SEP]"), std::string::npos);
  auto repeated = WordPieceTokenizer::FromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "a"});
  ASSERT_FALSE(repeated.ok());
  EXPECT_NE(repeated.status().message().find("repeats token \"a\" (line 6)"), std::string::npos);
  testing::TempDir dir;
  auto absent = WordPieceTokenizer::Load(dir.Sub("vocab.txt"));
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
}

// Arbitrary bytes (truncated and overlong UTF-8, surrogates, NULs) give valid ids and never read
// past the input.
TEST(WordPieceTest, ArbitraryBytesAreSafe) {
  auto t = SmallTokenizer();
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 24, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    for (int32_t id : t->Encode(bytes)) {
      ASSERT_GE(id, 0);
      ASSERT_LT(static_cast<size_t>(id), t->size());
    }
  }
  EXPECT_EQ(t->Tokenize(std::string("a\0b\xed\xa0\x80" "c\xc0\xaf", 10)), (Strings{"[UNK]"}));
}

// The ids of Hugging Face's tokenizer for the reference sentences (scripts/make_minilm_fixture.py),
// exactly, with the model's own vocabulary.
TEST(WordPieceTest, MatchesHuggingFaceOnReferenceSentences) {
  ASSERT_FALSE(FixtureDir().empty()) << "tests/fixtures/minilm not found from the test binary";
  auto t = WordPieceTokenizer::Load(FixtureDir() + "/vocab.txt");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->size(), 30522u);
  std::ifstream in(FixtureDir() + "/reference.json");
  ASSERT_TRUE(in) << FixtureDir();
  auto ref = nlohmann::json::parse(in);
  ASSERT_GE(ref["items"].size(), 20u);
  for (const auto& item : ref["items"]) {
    std::string text = item["text"].get<std::string>();
    std::vector<int32_t> want = item["ids"].get<std::vector<int32_t>>();
    std::vector<int32_t> got = (*t)->Encode(text);
    got.insert(got.begin(), (*t)->cls_id());
    got.push_back((*t)->sep_id());
    EXPECT_EQ(got, want) << "text: " << text;
  }
}

}  // namespace
}  // namespace sextant::rag
