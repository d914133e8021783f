// The full-text index under the calls that keep a point but change its payload or vector
// (SetPayload, OverwritePayload, DeletePayloadKeys, UpdateVectors), and text search's guards
// (payload projection, max_result_bytes, SearchBatch with text). Regression tests: the index used
// to go stale after payload edits and to lose a point's terms on UpdateVectors, and text search
// ignored the projection and the result bound.
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 4;

CollectionOptions TextOptions() {
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = Metric::kL2;
  TextFieldOptions body;
  body.field = "body";
  o.text_fields.push_back(body);
  o.payload_indexes.push_back({"kind", PayloadFieldType::kKeyword});
  return o;
}

std::vector<float> Vec(float x) { return {x, 1.0f, 0.5f, -x}; }

std::set<std::string> TextIds(const Collection& c, const std::string& text) {
  SearchOptions so;
  so.k = 1000;
  so.text = text;
  auto hits = c.Search(so, {});
  EXPECT_TRUE(hits.ok()) << hits.status().ToString();
  std::set<std::string> out;
  if (hits.ok()) {
    for (const Hit& h : *hits) out.insert(h.id.ToString());
  }
  return out;
}

void Put(Collection* c, uint64_t id, const std::string& payload) {
  ASSERT_OK(c->Upsert({}, std::vector<PointId>{PointId(id)}, Vec(static_cast<float>(id)),
                      std::vector<std::string>{payload}));
}

TEST(TextUpdatesTest, PayloadEditsKeepTheTextIndexCurrentAcrossReopen) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
    Put(c.get(), 1, R"({"body": "alpha beta", "kind": "a"})");
    Put(c.get(), 2, R"({"body": "alpha gamma", "kind": "b"})");
    Put(c.get(), 3, R"({"kind": "b"})");

    // set_payload: point 1's body changes; point 3 gains one.
    ASSERT_OK(c->SetPayload({}, PointSelector::Ids({PointId(1)}), R"({"body": "delta"})").status());
    ASSERT_OK(c->SetPayload({}, PointSelector::Ids({PointId(3)}), R"({"body": "alpha epsilon"})").status());
    EXPECT_EQ(TextIds(*c, "alpha"), (std::set<std::string>{"2", "3"}));
    EXPECT_EQ(TextIds(*c, "delta"), (std::set<std::string>{"1"}));
    EXPECT_TRUE(TextIds(*c, "beta").empty());

    // overwrite_payload by filter: both "b" points get a new body.
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->OverwritePayload({}, PointSelector::Where(R"({"kind": "b"})"),
                                                         R"({"body": "zeta", "kind": "c"})"));
    EXPECT_EQ(n, 2u);
    EXPECT_TRUE(TextIds(*c, "alpha").empty());
    EXPECT_EQ(TextIds(*c, "zeta"), (std::set<std::string>{"2", "3"}));

    // delete_payload_keys: the body goes, and so do its terms.
    ASSERT_OK(c->DeletePayloadKeys({}, PointSelector::Ids({PointId(2)}), std::vector<std::string>{"body"}).status());
    EXPECT_EQ(TextIds(*c, "zeta"), (std::set<std::string>{"3"}));

    // A text field set to a number is refused and changes nothing.
    EXPECT_STATUS(c->SetPayload({}, PointSelector::Ids({PointId(3)}), R"({"body": 7})"), StatusCode::kInvalidArgument,
                  "body", "number");
    EXPECT_EQ(TextIds(*c, "zeta"), (std::set<std::string>{"3"}));
  }
  // The stored records agree with memory.
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("t"));
  EXPECT_EQ(TextIds(*c, "zeta"), (std::set<std::string>{"3"}));
  EXPECT_EQ(TextIds(*c, "delta"), (std::set<std::string>{"1"}));
  EXPECT_TRUE(TextIds(*c, "alpha").empty());
}

TEST(TextUpdatesTest, UpdateVectorsKeepsTheTextTerms) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
    Put(c.get(), 1, R"({"body": "needle in a haystack"})");
    Put(c.get(), 2, R"({"body": "hay"})");
    ASSERT_OK(c->UpdateVectors({}, std::vector<PointId>{PointId(1), PointId(2)}, [] {
      auto v = Vec(5);
      auto w = Vec(6);
      v.insert(v.end(), w.begin(), w.end());
      return v;
    }()));
    EXPECT_EQ(TextIds(*c, "needle"), (std::set<std::string>{"1"}));
    EXPECT_EQ(TextIds(*c, "hay"), (std::set<std::string>{"2"}));
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("t"));
  EXPECT_EQ(TextIds(*c, "needle"), (std::set<std::string>{"1"}));
  ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId(1)));
  EXPECT_EQ(p.vector, Vec(5));
}

TEST(TextUpdatesTest, TextSearchHonoursProjectionAndTheResultBound) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
  for (uint64_t i = 0; i < 10; ++i) {
    Put(c.get(), i, nlohmann::json{{"body", "word " + std::string(200, 'x')}, {"kind", "k"}, {"n", i}}.dump());
  }
  for (bool hybrid : {false, true}) {
    SCOPED_TRACE(hybrid ? "hybrid" : "text");
    const std::vector<float> q = hybrid ? Vec(1) : std::vector<float>();
    SearchOptions so;
    so.k = 10;
    so.text = "word";
    so.with_payload = true;
    so.payload_include = {"n"};
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, q));
    ASSERT_EQ(hits.size(), 10u);
    for (const Hit& h : hits) EXPECT_EQ(nlohmann::json::parse(h.payload).size(), 1u) << h.payload;
    so.payload_include = {"bad..path"};
    EXPECT_STATUS(c->Search(so, q), StatusCode::kInvalidArgument, "payload_include");
    so.payload_include = {};
    so.payload_exclude = {""};
    EXPECT_STATUS(c->Search(so, q), StatusCode::kInvalidArgument, "payload_exclude");
    so.payload_exclude = {};
    so.max_result_bytes = 1000;  // ten payloads of 230+ bytes do not fit
    EXPECT_STATUS(c->Search(so, q), StatusCode::kResourceExhausted, "1000");
    so.with_payload = false;
    ASSERT_OK_AND_ASSIGN(hits, c->Search(so, q));  // ids alone fit
    EXPECT_EQ(hits.size(), 10u);
  }
}

TEST(TextUpdatesTest, SearchBatchRunsTheTextWithEveryQuery) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
  for (uint64_t i = 0; i < 20; ++i) Put(c.get(), i, i == 7 ? R"({"body": "zanzibar"})" : R"({"body": "common"})");
  SearchOptions so;
  so.k = 3;
  so.text = "zanzibar";
  std::vector<float> queries = Vec(1);
  const auto v15 = Vec(15);
  queries.insert(queries.end(), v15.begin(), v15.end());
  ASSERT_OK_AND_ASSIGN(auto results, c->SearchBatch(so, queries));
  ASSERT_EQ(results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(auto one, c->Search(so, std::span<const float>(queries).subspan(i * kDim, kDim)));
    ASSERT_EQ(results[i].size(), one.size());
    for (size_t j = 0; j < one.size(); ++j) {
      EXPECT_EQ(results[i][j].id, one[j].id);
      EXPECT_EQ(results[i][j].score, one[j].score);
      EXPECT_TRUE(results[i][j].text_score.has_value());
      EXPECT_TRUE(results[i][j].dense_score.has_value());
    }
    // Each query's dense winner and the text winner lead.
    std::set<std::string> top2 = {results[i][0].id.ToString(), results[i][1].id.ToString()};
    EXPECT_TRUE(top2.count("7"));
    EXPECT_TRUE(top2.count(i == 0 ? "1" : "15"));
  }
  // No query vector: BM25 alone, one list.
  ASSERT_OK_AND_ASSIGN(results, c->SearchBatch(so, {}));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_EQ(results[0].size(), 1u);
  EXPECT_EQ(results[0][0].id, PointId(7));
  EXPECT_FALSE(results[0][0].dense_score.has_value());
  // Without text, an empty batch is still an error.
  so.text = "";
  EXPECT_STATUS(c->SearchBatch(so, {}), StatusCode::kInvalidArgument, "dimension");
}

}  // namespace
}  // namespace sextant
