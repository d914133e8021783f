// Result shaping (docs/text_search.md#result-shaping): group_by with group_size, score_threshold
// and MMR, on dense, text and hybrid searches; and their bad input.
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"
#include "sextant/shaping.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 2;

// 30 chunks of 6 documents (doc d holds chunks 5d..5d+4); chunk i's vector is (i, 1), so under
// L2 the query (0, 1) ranks the chunks by id, and document 0's chunks come first.
class ShapingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = MustOpen(tmp_.path());
    CollectionOptions o;
    o.dimension = kDim;
    o.metric = Metric::kL2;
    TextFieldOptions body;
    body.field = "body";
    o.text_fields.push_back(body);
    auto c = db_->CreateCollection("t", o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    c_ = *c;
    std::vector<PointId> ids;
    std::vector<float> vectors;
    std::vector<std::string> payloads;
    for (uint64_t i = 0; i < 30; ++i) {
      ids.emplace_back(i);
      vectors.insert(vectors.end(), {static_cast<float>(i), 1.0f});
      nlohmann::json p = {{"doc", "d" + std::to_string(i / 5)}, {"body", i % 2 ? "apple pie" : "apple"}};
      payloads.push_back(p.dump());
    }
    ids.emplace_back(uint64_t{30});  // no "doc": never grouped
    vectors.insert(vectors.end(), {0.5f, 1.0f});
    payloads.push_back(R"({"body": "apple"})");
    ASSERT_OK(c_->Upsert({}, ids, vectors, payloads));
  }

  TempDir tmp_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
};

TEST_F(ShapingTest, GroupByReturnsDistinctGroupsWithTheirBestHits) {
  const std::vector<float> q = {0.0f, 1.0f};
  SearchOptions so;
  so.k = 3;
  so.group_by = "doc";
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, q));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, PointId(0));  // each document's nearest chunk
  EXPECT_EQ(hits[1].id, PointId(5));
  EXPECT_EQ(hits[2].id, PointId(10));
  EXPECT_EQ(hits[0].group, "\"d0\"");
  EXPECT_EQ(hits[2].group, "\"d2\"");

  so.group_size = 2;
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(so, q));
  std::vector<uint64_t> got;
  for (const Hit& h : hits) got.push_back(h.id.number());
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 1, 5, 6, 10, 11}));

  // More groups than exist: all of them, none repeated; point 30 has no "doc".
  so.k = 50;
  so.group_size = 1;
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(so, q));
  std::set<std::string> groups;
  for (const Hit& h : hits) {
    EXPECT_TRUE(groups.insert(h.group).second) << h.group;
    EXPECT_NE(h.id, PointId(30));
  }
  EXPECT_EQ(groups.size(), 6u);

  // Text and hybrid searches group too. BM25 prefers the shorter "apple" (even chunks).
  SearchOptions ts;
  ts.k = 2;
  ts.text = "apple";
  ts.group_by = "doc";
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(ts, {}));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_NE(hits[0].group, hits[1].group);
  for (const Hit& h : hits) EXPECT_EQ(h.id.number() % 2, 0u);
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(ts, q));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].group, "\"d0\"");
  EXPECT_NE(hits[1].group, "\"d0\"");
}

TEST_F(ShapingTest, ScoreThresholdKeepsOnlyGoodEnoughHits) {
  // L2: the score is a distance, kept when <= the threshold. Chunk i is at distance i^2.
  SearchOptions so;
  so.k = 100;
  so.score_threshold = 9.0f;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{0.0f, 1.0f}));
  std::set<uint64_t> ids;
  for (const Hit& h : hits) {
    ids.insert(h.id.number());
    EXPECT_LE(h.score, 9.0f);
  }
  EXPECT_EQ(ids, (std::set<uint64_t>{0, 1, 2, 3, 30}));
  // Text: BM25 >= threshold. "pie" scores only the odd chunks.
  SearchOptions ts;
  ts.k = 100;
  ts.text = "apple pie";
  ASSERT_OK_AND_ASSIGN(auto all, c_->Search(ts, {}));
  ASSERT_EQ(all.size(), 31u);
  ts.score_threshold = (all.front().score + all.back().score) / 2;
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(ts, {}));
  EXPECT_EQ(hits.size(), 15u);
  for (const Hit& h : hits) EXPECT_GE(h.score, *ts.score_threshold);
  // Nothing good enough: no hits, not an error.
  ts.score_threshold = 1e9f;
  ASSERT_OK_AND_ASSIGN(hits, c_->Search(ts, {}));
  EXPECT_TRUE(hits.empty());
}

TEST(ShapingMmrTest, MmrPrefersDiverseHits) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  CollectionOptions o;
  o.dimension = 2;
  o.metric = Metric::kCosine;
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("m", o));
  // 1 and 2 are near duplicates next to the query; 3 points elsewhere but is still relevant.
  ASSERT_OK(c->Upsert({}, std::vector<PointId>{PointId(1), PointId(2), PointId(3)},
                      std::vector<float>{1.0f, 0.01f, 1.0f, 0.02f, 0.7f, 0.7f}));
  const std::vector<float> q = {1.0f, 0.0f};
  SearchOptions so;
  so.k = 2;
  ASSERT_OK_AND_ASSIGN(auto plain, c->Search(so, q));
  EXPECT_EQ(plain[0].id, PointId(1));
  EXPECT_EQ(plain[1].id, PointId(2));
  so.mmr = true;
  so.mmr_lambda = 0.3f;  // 0.3 * 0.707 - 0.7 * 0.714 (3) beats 0.3 * 1.0 - 0.7 * 1.0 (2)
  ASSERT_OK_AND_ASSIGN(auto diverse, c->Search(so, q));
  ASSERT_EQ(diverse.size(), 2u);
  EXPECT_EQ(diverse[0].id, PointId(1));
  EXPECT_EQ(diverse[1].id, PointId(3));
  EXPECT_FLOAT_EQ(diverse[1].score, std::sqrt(0.5f));  // hits keep their scores
  so.mmr_lambda = 1.0f;  // relevance alone: the plain order
  ASSERT_OK_AND_ASSIGN(auto same, c->Search(so, q));
  EXPECT_EQ(same[1].id, PointId(2));
}

// The shared rule (sextant/shaping.h) that collections and cluster/ both use.
TEST(ShapingMmrTest, SelectMmrDirectly) {
  // Rows: 0 and 1 nearly equal, 2 orthogonal to them; a zero vector (3) has similarity 0 to all.
  const std::vector<std::vector<float>> rows = {{1, 0}, {1, 0.01f}, {0, 1}, {0, 0}};
  auto row = [&](size_t i) { return rows[i].data(); };
  // Cosine relevance as it is: lambda 1 is the relevance order; lambda 0.5 skips the duplicate.
  EXPECT_EQ(shaping::SelectMmr({0.9, 0.8, 0.5, 0.1}, true, 3, 1.0, 2, row), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(shaping::SelectMmr({0.9, 0.8, 0.5, 0.1}, true, 2, 0.5, 2, row), (std::vector<size_t>{0, 2}));
  // Other scores are min-max normalised, so their scale does not matter.
  EXPECT_EQ(shaping::SelectMmr({900, 800, 500, 100}, false, 2, 0.5, 2, row),
            shaping::SelectMmr({9, 8, 5, 1}, false, 2, 0.5, 2, row));
  // k over n gives every candidate once; ties go to the better-ranked one; empty in, empty out.
  EXPECT_EQ(shaping::SelectMmr({0.5, 0.5}, true, 5, 1.0, 2, row), (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(shaping::SelectMmr({}, true, 3, 0.5, 2, row).empty());
  // A NaN relevance does not make the selection fail: k picks still come back.
  EXPECT_EQ(shaping::SelectMmr({std::nan(""), std::nan("")}, true, 2, 0.5, 2, row).size(), 2u);
}

TEST(ShapingMmrTest, PoolSize) {
  SearchOptions o;
  o.k = 7;
  EXPECT_EQ(shaping::PoolSize(o), 7u);
  o.mmr = true;
  EXPECT_EQ(shaping::PoolSize(o), 100u);
  o.k = 20;
  EXPECT_EQ(shaping::PoolSize(o), 200u);
  o.mmr = false;
  o.group_by = "doc";
  o.group_size = 3;
  EXPECT_EQ(shaping::PoolSize(o), 600u);
  o.candidates = 5;  // at least k
  EXPECT_EQ(shaping::PoolSize(o), 20u);
}

TEST_F(ShapingTest, BadShapingOptionsAreRejected) {
  const std::vector<float> q = {0.0f, 1.0f};
  SearchOptions so;
  so.group_by = "doc";
  so.group_size = 0;
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "group_size");
  so.group_size = SearchOptions::kMaxGroupSize + 1;
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "group_size");
  so.group_size = 1;
  so.group_by = "a..b";
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "group_by", "a..b");
  so.group_by = "doc";
  so.mmr = true;
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "mmr", "group_by");
  so = {};
  so.mmr = true;
  so.mmr_lambda = 1.5f;
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "mmr_lambda");
  so.mmr_lambda = std::nanf("");
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "mmr_lambda");
  so = {};
  so.score_threshold = std::nanf("");
  EXPECT_STATUS(c_->Search(so, q), StatusCode::kInvalidArgument, "score_threshold");
  so.text = "apple";
  EXPECT_STATUS(c_->Search(so, {}), StatusCode::kInvalidArgument, "score_threshold");
}

}  // namespace
}  // namespace sextant
