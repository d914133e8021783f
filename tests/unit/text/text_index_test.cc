// The BM25 index (text/text_index.h): scores against a hand-computed corpus, exact statistics
// under replace and clear, the $text match, the stored record's encoding, and bad input.
#include "text/text_index.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

namespace sextant::text {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<TextIndex> MakeIndex(std::vector<TextFieldOptions> fields) {
  auto index = TextIndex::Create(fields);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? std::move(index).value() : nullptr;
}

TextFieldOptions Field(const std::string& name, const std::string& language = "none") {
  TextFieldOptions o;
  o.field = name;
  o.language = language;
  return o;
}

void Put(TextIndex* index, uint32_t slot, const std::string& body) {
  index->Set(slot, index->Analyze(nlohmann::json{{"body", body}}));
}

std::map<uint32_t, float> Scores(const TextIndex& index, const std::string& text) {
  auto q = index.Prepare(text, {});
  EXPECT_TRUE(q.ok()) << q.status().ToString();
  std::map<uint32_t, float> out;
  for (auto [slot, score] : index.Search(*q, nullptr, 0, 100)) out[slot] = score;
  return out;
}

// d0 "a b c", d1 "a a d", d2 "b d e f": N = 3, average length 10/3, k1 = 1.2, b = 0.75.
// Computed by hand with score = idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avg)),
// idf = ln(1 + (N - df + 0.5) / (df + 0.5)).
TEST(TextIndexTest, Bm25MatchesHandComputedScores) {
  auto index = MakeIndex({Field("body")});
  Put(index.get(), 0, "a b c");
  Put(index.get(), 1, "a a d");
  Put(index.get(), 2, "b d e f");
  auto a = Scores(*index, "a");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NEAR(a[0], 0.490051, 1e-5);
  EXPECT_NEAR(a[1], 0.664957, 1e-5);
  auto ad = Scores(*index, "a d");
  ASSERT_EQ(ad.size(), 3u);
  EXPECT_NEAR(ad[0], 0.490051, 1e-5);
  EXPECT_NEAR(ad[1], 1.155008, 1e-5);
  EXPECT_NEAR(ad[2], 0.434457, 1e-5);
  // A repeated query term counts twice.
  auto dd = Scores(*index, "d D");
  EXPECT_NEAR(dd[1], 0.980102, 1e-5);
  EXPECT_NEAR(dd[2], 0.868914, 1e-5);
  // Score() agrees with Search().
  auto q = index->Prepare("a d", {});
  ASSERT_TRUE(q.ok());
  EXPECT_NEAR(index->Score(*q, 1), 1.155008, 1e-5);
  EXPECT_EQ(index->Score(*q, 7), 0.0f);
}

TEST(TextIndexTest, SearchOrdersBestFirstAndHonoursKAndMask) {
  auto index = MakeIndex({Field("body")});
  Put(index.get(), 0, "a b c");
  Put(index.get(), 1, "a a d");
  Put(index.get(), 2, "b d e f");
  auto q = index->Prepare("a d", {});
  ASSERT_TRUE(q.ok());
  auto top = index->Search(*q, nullptr, 0, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1u);
  EXPECT_EQ(top[1].first, 0u);
  std::vector<uint8_t> mask = {1, 0, 1};
  auto masked = index->Search(*q, mask.data(), mask.size(), 10);
  ASSERT_EQ(masked.size(), 2u);
  EXPECT_EQ(masked[0].first, 0u);
  EXPECT_EQ(masked[1].first, 2u);
  // Unknown terms score nothing; an all-stop-word query has no terms.
  auto none = index->Prepare("zzz", {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(index->Search(*none, nullptr, 0, 10).empty());
}

// Replacing and clearing keep the statistics exact: the scores equal those of an index built
// from the surviving documents alone.
TEST(TextIndexTest, StatisticsStayExactUnderReplaceAndClear) {
  std::mt19937 rng(7);
  const std::vector<std::string> vocab = {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"};
  auto random_doc = [&] {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) s += vocab[rng() % vocab.size()] + " ";
    return s;
  };
  auto churned = MakeIndex({Field("body")});
  std::map<uint32_t, std::string> live;
  for (int step = 0; step < 2000; ++step) {
    const uint32_t slot = rng() % 200;
    if (rng() % 4 == 0) {
      churned->Clear(slot);
      live.erase(slot);
    } else {
      live[slot] = random_doc();
      Put(churned.get(), slot, live[slot]);
    }
  }
  auto fresh = MakeIndex({Field("body")});
  uint64_t total = 0;
  for (const auto& [slot, body] : live) {
    Put(fresh.get(), slot, body);
    total += fresh->Analyze(nlohmann::json{{"body", body}})[0].length;
  }
  EXPECT_EQ(churned->DocCount(0), live.size());
  EXPECT_EQ(churned->TotalLength(0), total);
  for (const std::string& t : vocab) EXPECT_EQ(churned->DocFreq(0, t), fresh->DocFreq(0, t)) << t;
  for (const char* query : {"alpha", "beta gamma", "theta theta eta", "alpha beta gamma delta"}) {
    auto a = Scores(*churned, query), b = Scores(*fresh, query);
    ASSERT_EQ(a.size(), b.size()) << query;
    for (const auto& [slot, score] : b) EXPECT_FLOAT_EQ(a[slot], score) << query << " slot " << slot;
  }
}

TEST(TextIndexTest, FieldsAreScoredSeparatelyAndCanBeChosen) {
  auto index = MakeIndex({Field("title"), Field("body")});
  index->Set(0, index->Analyze(nlohmann::json{{"title", "rocks"}, {"body", "stones and pebbles"}}));
  index->Set(1, index->Analyze(nlohmann::json{{"title", "pebbles"}, {"body", "rocks"}}));
  auto title = index->Prepare("rocks", {"title"});
  ASSERT_TRUE(title.ok());
  auto hits = index->Search(*title, nullptr, 0, 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].first, 0u);
  auto both = index->Prepare("rocks", {});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(index->Search(*both, nullptr, 0, 10).size(), 2u);
  auto bad = index->Prepare("rocks", {"summary"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("summary"));
}

TEST(TextIndexTest, ArraysOfStringsAreOneDocument) {
  auto index = MakeIndex({Field("tags")});
  auto doc = index->Analyze(nlohmann::json::parse(R"({"tags": ["red car", null, "blue car"]})"));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0].length, 4u);
  ASSERT_EQ(doc[0].terms.size(), 3u);
  EXPECT_EQ(doc[0].terms[1], (std::pair<std::string, uint32_t>("car", 2)));
}

TEST(TextIndexTest, MatchAnyAndAll) {
  auto index = MakeIndex({Field("body", "english")});
  Put(index.get(), 0, "Running shoes for trails");
  Put(index.get(), 1, "A trail map");
  Put(index.get(), 2, "Shoes");
  auto any = index->Match(0, "trail shoe", false, 4);
  EXPECT_EQ(any, (std::vector<uint8_t>{1, 1, 1, 0}));
  auto all = index->Match(0, "trails SHOES", true, 4);
  EXPECT_EQ(all, (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(index->Match(0, "the", false, 4), (std::vector<uint8_t>(4, 0)));
  EXPECT_EQ(index->Match(0, "shoes unknownword", true, 4), (std::vector<uint8_t>(4, 0)));
}

TEST(TextIndexTest, CheckRejectsNonText) {
  auto index = MakeIndex({Field("body")});
  EXPECT_TRUE(index->Check(nlohmann::json::parse(R"({"body": "ok", "other": 3})")).ok());
  EXPECT_TRUE(index->Check(nlohmann::json::parse(R"({"body": null})")).ok());
  EXPECT_TRUE(index->Check(nlohmann::json::parse(R"({})")).ok());
  auto number = index->Check(nlohmann::json::parse(R"({"body": 3})"));
  EXPECT_EQ(number.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(number.message(), HasSubstr("body"));
  EXPECT_THAT(number.message(), HasSubstr("number"));
  auto element = index->Check(nlohmann::json::parse(R"({"body": ["x", {"a": 1}]})"));
  EXPECT_EQ(element.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(element.message(), HasSubstr("element 1"));
}

TEST(TextIndexTest, PrepareRejectsEmptyQueries) {
  auto index = MakeIndex({Field("body")});
  for (const char* text : {"", "   ", "\t\n"}) {
    auto q = index->Prepare(text, {});
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(q.status().message(), HasSubstr("empty"));
  }
  auto none = MakeIndex({});
  auto q = none->Prepare("word", {});
  ASSERT_FALSE(q.ok());
  EXPECT_THAT(q.status().message(), HasSubstr("no text fields"));
}

TEST(TextIndexTest, CreateRejectsBadFields) {
  EXPECT_EQ(TextIndex::Create({Field("")}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TextIndex::Create({Field("a..b")}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TextIndex::Create({Field("$text")}).status().code(), StatusCode::kInvalidArgument);
  auto twice = TextIndex::Create({Field("a"), Field("a")});
  EXPECT_THAT(twice.status().message(), HasSubstr("twice"));
  auto lang = TextIndex::Create({Field("a", "klingon")});
  EXPECT_THAT(lang.status().message(), HasSubstr("english"));
  std::vector<TextFieldOptions> many;
  for (size_t i = 0; i <= kMaxTextFields; ++i) many.push_back(Field("f" + std::to_string(i)));
  EXPECT_EQ(TextIndex::Create(many).status().code(), StatusCode::kInvalidArgument);
}

TEST(TextIndexTest, RecordRoundTripsAndCorruptionIsDataLoss) {
  auto index = MakeIndex({Field("title"), Field("body")});
  DocTerms doc = index->Analyze(nlohmann::json{{"title", "x y x"}, {"body", "émigré"}});
  const std::string bytes = EncodeDocTerms(doc);
  auto back = DecodeDocTerms(bytes, 2);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].length, 3u);
  EXPECT_EQ((*back)[0].terms, doc[0].terms);
  EXPECT_EQ((*back)[1].terms, doc[1].terms);
  EXPECT_EQ(DecodeDocTerms(bytes, 1).status().code(), StatusCode::kDataLoss);  // field 1 of 1
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_EQ(DecodeDocTerms(bytes.substr(0, cut), 2).status().code(), StatusCode::kDataLoss) << cut;
  }
  EXPECT_EQ(DecodeDocTerms(bytes + "x", 2).status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sextant::text
