// Exact search (collection.h, Search and SearchBatch) against a naive loop in double precision:
// every metric, several k, deletes, payload filters, batched scoring, ties, and recall 1.0 on
// the real siftsmall and word2vec data.
#include <nlohmann/json.hpp>

#include <fstream>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::ExpectExactTopK;
using ::sextant::testing::ExpectSameHits;
using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::Oracle;
using ::sextant::testing::ReadVecs;
using ::sextant::testing::TempDir;

constexpr size_t kN = 2000;
constexpr size_t kDim = 37;
constexpr size_t kQueries = 20;

std::string PayloadOf(size_t i) {
  return R"({"g":)" + std::to_string(i % 7) + R"(,"i":)" + std::to_string(i) + R"(,"tag":")" +
         (i % 2 ? "odd" : "even") + "\"}";
}

// A collection of kN seeded random points (a mix of numeric and string ids, all with payloads)
// and the oracle holding the same points.
class SearchTest : public ::testing::TestWithParam<Metric> {
 protected:
  static void SetUpTestSuite() { testing::SharedDatabase::Open(); }
  static void TearDownTestSuite() { testing::SharedDatabase::Close(); }
  void SetUp() override {
    db_ = testing::SharedDatabase::db();
    ASSERT_NE(db_, nullptr);
    c_ = MustCreate(db_, testing::TestCollectionName(), kDim, GetParam());
    ASSERT_NE(c_, nullptr);
    oracle_.metric = GetParam();
    oracle_.dim = kDim;
    std::vector<float> vecs = testing::RandomVectors(kN, kDim, 42);
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (size_t i = 0; i < kN; ++i) {
      ids.push_back(i % 5 == 4 ? PointId("s" + std::to_string(i)) : PointId(uint64_t{i}));
      payloads.push_back(PayloadOf(i));
      oracle_.Add(ids.back(), vecs.data() + i * kDim, payloads.back());
    }
    // In several batches.
    for (size_t start = 0; start < kN; start += 500) {
      ASSERT_OK(c_->Upsert({}, std::span(ids).subspan(start, 500), std::span(vecs).subspan(start * kDim, 500 * kDim),
                           std::span(payloads).subspan(start, 500)));
    }
    queries_ = testing::RandomVectors(kQueries, kDim, 7);
  }
  const float* Query(size_t q) const { return queries_.data() + q * kDim; }
  std::span<const float> QuerySpan(size_t q) const { return std::span(queries_).subspan(q * kDim, kDim); }

  // The i field of the payload of each oracle row, in row order.
  std::vector<int64_t> FieldI() const {
    std::vector<int64_t> out;
    for (const std::string& p : oracle_.payloads) out.push_back(nlohmann::json::parse(p)["i"].get<int64_t>());
    return out;
  }

  Database* db_ = nullptr;
  std::shared_ptr<Collection> c_;
  Oracle oracle_;
  std::vector<float> queries_;
};

TEST_P(SearchTest, MatchesNaiveLoopForSeveralK) {
  for (uint32_t k : {1u, 5u, 10u, 100u, 1000u}) {
    SearchOptions so;
    so.k = k;
    for (size_t q = 0; q < kQueries; ++q) {
      ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(q)));
      ExpectExactTopK(oracle_, Query(q), hits, k, nullptr, "k=" + std::to_string(k) + " q=" + std::to_string(q));
    }
  }
}

TEST_P(SearchTest, KLargerThanCountReturnsEveryPoint) {
  for (uint32_t k : {uint32_t{kN}, uint32_t{kN + 1}, 100000u, UINT32_MAX}) {
    SearchOptions so;
    so.k = k;
    ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(0)));
    EXPECT_EQ(hits.size(), kN) << "k=" << k;
    ExpectExactTopK(oracle_, Query(0), hits, kN);
  }
}

TEST_P(SearchTest, SearchBatchEqualsPerQuerySearch) {
  for (uint32_t k : {1u, 10u, 250u}) {
    for (size_t nq : {size_t{1}, size_t{3}, size_t{8}, kQueries}) {
      SCOPED_TRACE("k=" + std::to_string(k) + " nq=" + std::to_string(nq));
      SearchOptions so;
      so.k = k;
      ASSERT_OK_AND_ASSIGN(auto batch, c_->SearchBatch(so, std::span(queries_).first(nq * kDim)));
      ASSERT_EQ(batch.size(), nq);
      for (size_t q = 0; q < nq; ++q) {
        ASSERT_OK_AND_ASSIGN(auto single, c_->Search(so, QuerySpan(q)));
        ExpectSameHits(single, batch[q], "query " + std::to_string(q));
        ExpectExactTopK(oracle_, Query(q), batch[q], k);
      }
    }
  }
}

TEST_P(SearchTest, ScoresFollowTheMetricDefinition) {
  // A stored point used as the query: its own score is the extreme one.
  const size_t row = 123;
  SearchOptions so;
  so.k = 3;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::span(oracle_.row(row), kDim)));
  ASSERT_EQ(hits.size(), 3u);
  switch (GetParam()) {
    case Metric::kL2:
      EXPECT_EQ(hits[0].id, oracle_.ids[row]);
      EXPECT_NEAR(hits[0].score, 0.0, 1e-5);
      break;
    case Metric::kCosine:
      EXPECT_EQ(hits[0].id, oracle_.ids[row]);
      EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
      break;
    case Metric::kInnerProduct:
      // Not necessarily itself; the score is the plain dot product.
      EXPECT_NEAR(hits[0].score, oracle_.TopK(oracle_.row(row), 1)[0].score, 1e-3);
      break;
  }
  // Scaling the query scales l2 and ip scores but not cosine ones.
  std::vector<float> q(QuerySpan(1).begin(), QuerySpan(1).end());
  std::vector<float> q3 = q;
  for (float& x : q3) x *= 3.0f;
  ASSERT_OK_AND_ASSIGN(auto h1, c_->Search(so, q));
  ASSERT_OK_AND_ASSIGN(auto h3, c_->Search(so, q3));
  if (GetParam() == Metric::kCosine) {
    ExpectSameHits(h1, h3);
    for (const Hit& h : h1) {
      EXPECT_LE(h.score, 1.0001f);
      EXPECT_GE(h.score, -1.0001f);
    }
  } else if (GetParam() == Metric::kInnerProduct) {
    ASSERT_EQ(h1.size(), h3.size());
    for (size_t r = 0; r < h1.size(); ++r) {
      EXPECT_EQ(h1[r].id, h3[r].id);
      EXPECT_NEAR(h3[r].score, 3 * h1[r].score, 1e-3 * std::max(1.0f, std::fabs(h3[r].score)));
    }
  }
}

TEST_P(SearchTest, DeletedPointsAreNeverReturned) {
  std::vector<PointId> del;
  for (size_t i = 0; i < kN; i += 3) del.push_back(oracle_.ids[i]);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->Delete({}, del));
  ASSERT_EQ(n, del.size());
  for (const PointId& id : del) oracle_.Remove(id);
  SearchOptions so;
  for (uint32_t k : {1u, 10u, 500u, 5000u}) {
    so.k = k;
    for (size_t q = 0; q < kQueries; q += 4) {
      ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(q)));
      ExpectExactTopK(oracle_, Query(q), hits, k);
    }
    ASSERT_OK_AND_ASSIGN(auto batch, c_->SearchBatch(so, queries_));
    for (size_t q = 0; q < kQueries; ++q) ExpectExactTopK(oracle_, Query(q), batch[q], k);
  }
  // The nearest point of a deleted vector itself is someone else.
  so.k = 1;
  const std::vector<float> first = testing::RandomVectors(1, kDim, 42);  // point 0's vector
  ASSERT_OK_AND_ASSIGN(auto self, c_->Search(so, first));
  ASSERT_EQ(self.size(), 1u);
  EXPECT_NE(self[0].id, PointId(uint64_t{0}));
}

TEST_P(SearchTest, DeletingEverythingLeavesNothingToFind) {
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->Delete({}, oracle_.ids));
  EXPECT_EQ(n, kN);
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search({}, QuerySpan(0)));
  EXPECT_TRUE(hits.empty());
  ASSERT_OK_AND_ASSIGN(auto batch, c_->SearchBatch({}, queries_));
  ASSERT_EQ(batch.size(), kQueries);
  for (const auto& b : batch) EXPECT_TRUE(b.empty());
}

TEST_P(SearchTest, ReplacedVectorsAreSearchedWithTheirNewValue) {
  // Move 50 points onto (a scaled copy of) query 0; they must become its nearest.
  std::vector<PointId> moved;
  std::vector<float> vecs;
  for (size_t i = 0; i < 50; ++i) {
    moved.push_back(oracle_.ids[i * 10]);
    for (size_t j = 0; j < kDim; ++j) vecs.push_back(Query(0)[j] * (GetParam() == Metric::kL2 ? 1.0f : 5.0f));
  }
  ASSERT_OK(c_->Upsert({}, moved, vecs));
  for (size_t i = 0; i < 50; ++i) {
    const long r = oracle_.Find(moved[i]);
    std::copy(vecs.begin() + i * kDim, vecs.begin() + (i + 1) * kDim, oracle_.vectors.begin() + r * kDim);
  }
  SearchOptions so;
  so.k = 60;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(0)));
  ExpectExactTopK(oracle_, Query(0), hits, 60);
  std::set<std::string> top50;
  for (size_t r = 0; r < 50; ++r) top50.insert(hits[r].id.ToString() + (hits[r].id.is_number() ? "#" : "$"));
  for (const PointId& id : moved) EXPECT_TRUE(top50.count(id.ToString() + (id.is_number() ? "#" : "$"))) << id.ToString();
}

TEST_P(SearchTest, WithPayloadFillsThePayload) {
  SearchOptions so;
  so.k = 20;
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(2)));
  ASSERT_EQ(hits.size(), 20u);
  for (const Hit& h : hits) {
    const long r = oracle_.Find(h.id);
    ASSERT_GE(r, 0);
    EXPECT_EQ(h.payload, oracle_.payloads[r]);
  }
  ASSERT_OK_AND_ASSIGN(auto batch, c_->SearchBatch(so, queries_));
  for (const auto& b : batch) {
    for (const Hit& h : b) EXPECT_EQ(h.payload, oracle_.payloads[oracle_.Find(h.id)]);
  }
}

TEST_P(SearchTest, SameStateAndQueryGiveTheSameResult) {
  SearchOptions so;
  so.k = 50;
  ASSERT_OK_AND_ASSIGN(auto a, c_->Search(so, QuerySpan(5)));
  ASSERT_OK_AND_ASSIGN(auto b, c_->Search(so, QuerySpan(5)));
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    EXPECT_EQ(a[r].id, b[r].id);
    EXPECT_EQ(a[r].score, b[r].score);
  }
}

// ---- Filters ----

struct NamedFilter {
  std::string text;
  std::function<bool(int64_t i)> matches;  // on the payload's i (g = i % 7, tag = odd/even)
};

std::vector<NamedFilter> Filters() {
  return {
      {R"({"g":3})", [](int64_t i) { return i % 7 == 3; }},
      {R"({"g":{"$eq":3}})", [](int64_t i) { return i % 7 == 3; }},
      {R"({"tag":"odd"})", [](int64_t i) { return i % 2 == 1; }},
      {R"({"i":{"$lt":100}})", [](int64_t i) { return i < 100; }},
      {R"({"i":{"$gte":150,"$lt":160}})", [](int64_t i) { return i >= 150 && i < 160; }},
      {R"({"g":{"$ne":0}})", [](int64_t i) { return i % 7 != 0; }},
      {R"({"g":{"$in":[1,2]},"tag":"even"})", [](int64_t i) { return (i % 7 == 1 || i % 7 == 2) && i % 2 == 0; }},
      {R"({"g":{"$nin":[0,1,2,3,4]}})", [](int64_t i) { return i % 7 >= 5; }},
      {R"({"$or":[{"g":1},{"i":{"$gt":1990}}]})", [](int64_t i) { return i % 7 == 1 || i > 1990; }},
      {R"({"$and":[{"tag":"odd"},{"i":{"$lte":21}}]})", [](int64_t i) { return i % 2 == 1 && i <= 21; }},
      {R"({"$not":{"g":{"$lt":6}}})", [](int64_t i) { return i % 7 >= 6; }},
      {R"({"i":{"$in":[5,17,1999,123456]}})", [](int64_t i) { return i == 5 || i == 17 || i == 1999; }},
      {R"({"i":{"$gt":100000}})", [](int64_t) { return false; }},
      {R"({"missing":{"$exists":true}})", [](int64_t) { return false; }},
      {R"({"g":{"$exists":true}})", [](int64_t) { return true; }},
      {"{}", [](int64_t) { return true; }},
  };
}

TEST_P(SearchTest, FilteredSearchIsTheTopKAmongMatchingPoints) {
  // Some deletes too, so the filter and the tombstones combine.
  std::vector<PointId> del;
  for (size_t i = 1; i < kN; i += 11) del.push_back(oracle_.ids[i]);
  ASSERT_OK(c_->Delete({}, del).status());
  for (const PointId& id : del) oracle_.Remove(id);

  const std::vector<int64_t> field_i = FieldI();
  for (const NamedFilter& f : Filters()) {
    auto keep = [&](size_t r) { return f.matches(field_i[r]); };
    size_t matching = 0;
    for (size_t r = 0; r < oracle_.size(); ++r) matching += keep(r);
    for (uint32_t k : {1u, 10u, 300u}) {
      SCOPED_TRACE(f.text + " k=" + std::to_string(k));
      SearchOptions so;
      so.k = k;
      so.filter = f.text;
      for (size_t q = 0; q < 2; ++q) {
        ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(q)));
        EXPECT_EQ(hits.size(), std::min<size_t>(k, matching));
        ExpectExactTopK(oracle_, Query(q), hits, k, keep);
      }
      // 8 queries: enough for the batched scoring path.
      constexpr size_t kBatchQueries = 8;
      ASSERT_OK_AND_ASSIGN(auto batch, c_->SearchBatch(so, std::span(queries_).first(kBatchQueries * kDim)));
      ASSERT_EQ(batch.size(), kBatchQueries);
      for (size_t q = 0; q < kBatchQueries; ++q) ExpectExactTopK(oracle_, Query(q), batch[q], k, keep);
    }
  }
}

TEST_P(SearchTest, FilterSeesReplacedPayloads) {
  // Give 30 points a new payload with a field no one else has; only they match.
  std::vector<PointId> ids;
  std::vector<float> vecs;
  std::vector<std::string> pl;
  for (size_t i = 0; i < 30; ++i) {
    const size_t r = i * 37;
    ids.push_back(oracle_.ids[r]);
    vecs.insert(vecs.end(), oracle_.row(r), oracle_.row(r) + kDim);
    pl.push_back(R"({"flag":"yes"})");
  }
  ASSERT_OK(c_->Upsert({}, ids, vecs, pl));
  SearchOptions so;
  so.k = 100;
  so.filter = R"({"flag":"yes"})";
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, QuerySpan(0)));
  ASSERT_EQ(hits.size(), 30u);
  for (const Hit& h : hits) EXPECT_EQ(h.payload, R"({"flag":"yes"})");
  // And their old payload no longer matches.
  so.filter = R"({"i":0})";
  ASSERT_OK_AND_ASSIGN(auto old, c_->Search(so, QuerySpan(0)));
  EXPECT_TRUE(old.empty());  // i == 0 was row 0, now replaced
}

INSTANTIATE_TEST_SUITE_P(Metrics, SearchTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const ::testing::TestParamInfo<Metric>& info) {
                           return std::string(MetricName(info.param));
                         });

// Points without a payload read as {}: a missing field matches $ne, $nin and $exists: false
// (docs/filters.md), and nothing else.
TEST(SearchFilterTest, PointsWithoutPayloadMatchOnlyMissingFieldFilters) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "f", 3, Metric::kL2);
  const size_t n = 60;
  const auto vecs = testing::RandomVectors(n, 3, 8);
  std::vector<std::string> pl(n);
  for (size_t i = 0; i < n; ++i) {
    // i % 3 == 0: no payload; 1: g = 3; 2: g = 4.
    if (i % 3 == 1) pl[i] = R"({"g":3})";
    if (i % 3 == 2) pl[i] = R"({"g":4})";
  }
  ASSERT_OK(c->Upsert({}, testing::NumericIds(0, n), vecs, pl));
  // Replace a few of the payloads by none, and a few payload-less points by one.
  ASSERT_OK(c->Upsert({}, testing::NumericIds(1, 1), std::span(vecs).subspan(3, 3), std::vector<std::string>{""}));
  ASSERT_OK(c->Upsert({}, testing::NumericIds(0, 1), std::span(vecs).first(3), std::vector<std::string>{R"({"g":4})"}));
  auto kind = [](size_t i) {  // 0: none, 3 or 4: g
    if (i == 1) return 0;
    if (i == 0) return 4;
    return i % 3 == 0 ? 0 : i % 3 == 1 ? 3 : 4;
  };
  Oracle oracle;
  oracle.metric = Metric::kL2;
  oracle.dim = 3;
  for (size_t i = 0; i < n; ++i) oracle.Add(PointId(uint64_t{i}), vecs.data() + i * 3);

  const std::vector<std::pair<std::string, std::function<bool(int)>>> filters = {
      {R"({"g":3})", [](int k) { return k == 3; }},
      {R"({"g":{"$ne":3}})", [](int k) { return k != 3; }},
      {R"({"g":{"$nin":[4]}})", [](int k) { return k != 4; }},
      {R"({"g":{"$exists":false}})", [](int k) { return k == 0; }},
      {R"({"g":{"$exists":true}})", [](int k) { return k != 0; }},
      {R"({"g":{"$gte":0}})", [](int k) { return k != 0; }},
      {R"({"$not":{"g":4}})", [](int k) { return k != 4; }},
      {R"({"g":null})", [](int) { return false; }},
  };
  const std::vector<float> q = {0.1f, -0.2f, 0.3f};
  for (const auto& [text, pred] : filters) {
    SCOPED_TRACE(text);
    auto keep = [&, &pred = pred](size_t r) { return pred(kind(r)); };
    SearchOptions so;
    so.k = 1000;
    so.filter = text;
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, q));
    ExpectExactTopK(oracle, q.data(), hits, so.k, keep);
    so.k = 4;
    ASSERT_OK_AND_ASSIGN(auto top4, c->Search(so, q));
    ExpectExactTopK(oracle, q.data(), top4, so.k, keep);
    size_t want = 0;
    for (size_t i = 0; i < n; ++i) want += keep(i);
    const auto scanned = testing::ScanAll(*c, 7, text);
    EXPECT_EQ(scanned.size(), want);
    for (const Point& p : scanned) EXPECT_TRUE(keep(p.id.number())) << p.id.number();
  }
}

// ---- Ties and small exact cases ----

TEST(SearchTiesTest, EqualScoresComeInAFixedOrder) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "t", 2, Metric::kL2);
  // 12 points at the same place, 4 a little further.
  std::vector<PointId> ids;
  std::vector<float> v;
  for (uint64_t i = 0; i < 12; ++i) {
    ids.emplace_back(i * 13 % 17);
    v.insert(v.end(), {1, 1});
  }
  for (uint64_t i = 0; i < 4; ++i) {
    ids.emplace_back("far" + std::to_string(i));
    v.insert(v.end(), {2, 2});
  }
  ASSERT_OK(c->Upsert({}, ids, v));
  SearchOptions so;
  so.k = 16;
  ASSERT_OK_AND_ASSIGN(auto first, c->Search(so, std::vector<float>{0, 0}));
  ASSERT_EQ(first.size(), 16u);
  for (size_t r = 0; r < 12; ++r) {
    EXPECT_TRUE(first[r].id.is_number()) << r;
    EXPECT_FLOAT_EQ(first[r].score, 2.0f);
  }
  for (size_t r = 12; r < 16; ++r) EXPECT_FLOAT_EQ(first[r].score, 8.0f);
  for (int rep = 0; rep < 5; ++rep) {
    ASSERT_OK_AND_ASSIGN(auto again, c->Search(so, std::vector<float>{0, 0}));
    ASSERT_EQ(again.size(), first.size());
    for (size_t r = 0; r < again.size(); ++r) EXPECT_EQ(again[r].id, first[r].id) << "rank " << r;
  }
  // k cutting through the tie still returns only tied points, and the same ones each time.
  so.k = 5;
  ASSERT_OK_AND_ASSIGN(auto cut1, c->Search(so, std::vector<float>{0, 0}));
  ASSERT_OK_AND_ASSIGN(auto cut2, c->Search(so, std::vector<float>{0, 0}));
  ASSERT_EQ(cut1.size(), 5u);
  for (size_t r = 0; r < 5; ++r) {
    EXPECT_FLOAT_EQ(cut1[r].score, 2.0f);
    EXPECT_EQ(cut1[r].id, cut2[r].id);
  }
}

TEST(SearchExactValuesTest, HandComputedScores) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto l2 = MustCreate(db.get(), "l2", 3, Metric::kL2);
  auto ip = MustCreate(db.get(), "ip", 3, Metric::kInnerProduct);
  auto cos = MustCreate(db.get(), "cos", 3, Metric::kCosine);
  std::vector<PointId> ids = {PointId("a"), PointId("b"), PointId("c")};
  std::vector<float> v = {1, 0, 0, 0, 2, 0, -3, 0, 4};
  for (auto* c : {l2.get(), ip.get(), cos.get()}) ASSERT_OK(c->Upsert({}, ids, v));
  const std::vector<float> q = {1, 1, 0};
  SearchOptions so;
  so.k = 3;
  ASSERT_OK_AND_ASSIGN(auto hl2, l2->Search(so, q));
  ASSERT_EQ(hl2.size(), 3u);
  EXPECT_EQ(hl2[0].id, PointId("a"));  // (0)^2 + 1 + 0 = 1
  EXPECT_FLOAT_EQ(hl2[0].score, 1.0f);
  EXPECT_EQ(hl2[1].id, PointId("b"));  // 1 + 1 = 2
  EXPECT_FLOAT_EQ(hl2[1].score, 2.0f);
  EXPECT_EQ(hl2[2].id, PointId("c"));  // 16 + 1 + 16 = 33
  EXPECT_FLOAT_EQ(hl2[2].score, 33.0f);

  ASSERT_OK_AND_ASSIGN(auto hip, ip->Search(so, q));
  ASSERT_EQ(hip.size(), 3u);
  EXPECT_EQ(hip[0].id, PointId("b"));  // 2
  EXPECT_FLOAT_EQ(hip[0].score, 2.0f);
  EXPECT_EQ(hip[1].id, PointId("a"));  // 1
  EXPECT_FLOAT_EQ(hip[1].score, 1.0f);
  EXPECT_EQ(hip[2].id, PointId("c"));  // -3
  EXPECT_FLOAT_EQ(hip[2].score, -3.0f);

  ASSERT_OK_AND_ASSIGN(auto hcos, cos->Search(so, q));
  ASSERT_EQ(hcos.size(), 3u);
  // a and b both at cos 1/sqrt(2); c at -3/(5 sqrt(2)).
  EXPECT_NEAR(hcos[0].score, 1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(hcos[1].score, 1 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(hcos[2].id, PointId("c"));
  EXPECT_NEAR(hcos[2].score, -3 / (5 * std::sqrt(2.0)), 1e-6);
}

// ---- Real data ----

TEST(SiftSmallTest, ExactL2RecallIsOneTiesAside) {
  SEXTANT_REQUIRE_DATA(base_path, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t dim = 0, qdim = 0, k = 0;
  const std::vector<float> base = ReadVecs<float>(base_path, &dim);
  const std::vector<float> queries = ReadVecs<float>(query_path, &qdim);
  const std::vector<int32_t> gt = ReadVecs<int32_t>(gt_path, &k);
  ASSERT_EQ(dim, 128u);
  ASSERT_EQ(qdim, 128u);
  ASSERT_EQ(k, 100u);
  const size_t n = base.size() / dim, nq = queries.size() / dim;
  ASSERT_EQ(n, 10000u);
  ASSERT_EQ(nq, 100u);
  ASSERT_EQ(gt.size(), nq * k);

  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "sift", 128, Metric::kL2);
  for (size_t start = 0; start < n; start += 1000) {
    ASSERT_OK(c->Upsert({}, testing::NumericIds(start, 1000), std::span(base).subspan(start * dim, 1000 * dim)));
  }

  auto dist = [&](size_t q, size_t row) {
    return testing::TrueScore(Metric::kL2, queries.data() + q * dim, base.data() + row * dim, dim);
  };
  SearchOptions so;
  so.k = 100;
  ASSERT_OK_AND_ASSIGN(auto batch, c->SearchBatch(so, queries));
  ASSERT_EQ(batch.size(), nq);

  size_t found_batch = 0, found_single = 0, exact_rank = 0;
  for (size_t q = 0; q < nq; ++q) {
    ASSERT_OK_AND_ASSIGN(auto single, c->Search(so, std::span(queries).subspan(q * dim, dim)));
    const int32_t* g = gt.data() + q * k;
    const double kth = dist(q, static_cast<size_t>(g[k - 1]));
    std::set<int64_t> gt_set(g, g + k);
    for (const auto* hits : {&batch[q], &single}) {
      ASSERT_EQ(hits->size(), k) << "query " << q;
      size_t found = 0;
      for (size_t r = 0; r < k; ++r) {
        const Hit& h = (*hits)[r];
        ASSERT_TRUE(h.id.is_number());
        ASSERT_LT(h.id.number(), n);
        const double d = dist(q, h.id.number());
        // The data are integers, so squared distances are exact in float and double alike.
        EXPECT_EQ(h.score, d) << "query " << q << " rank " << r;
        // Ties aside: an id not in the ground truth counts when it is as near as the 100th.
        if (gt_set.count(static_cast<int64_t>(h.id.number())) || d <= kth) ++found;
        // Rank by rank, the distance equals the ground truth's at that rank.
        EXPECT_EQ(d, dist(q, static_cast<size_t>(g[r]))) << "query " << q << " rank " << r;
        if (hits == &single && h.id.number() == static_cast<uint64_t>(g[r])) ++exact_rank;
      }
      (hits == &single ? found_single : found_batch) += found;
    }
    ExpectSameHits(single, batch[q], "query " + std::to_string(q));
  }
  const double recall_batch = double(found_batch) / double(nq * k);
  const double recall_single = double(found_single) / double(nq * k);
  EXPECT_EQ(recall_batch, 1.0);
  EXPECT_EQ(recall_single, 1.0);
  // Ties make ~0.2% of ground-truth ids order-ambiguous; far more mismatches would be a bug.
  EXPECT_GE(exact_rank, nq * k * 99 / 100);
  RecordProperty("recall_at_100", std::to_string(recall_single));
}

TEST(Word2VecTest, CosineSearchMatchesNaiveLoopAndKnowsKings) {
  SEXTANT_REQUIRE_DATA(vec_path, "word2vec-1k/word2vec_1000x300.fvecs");
  SEXTANT_REQUIRE_DATA(words_path, "word2vec-1k/words.txt");
  size_t dim = 0;
  const std::vector<float> vecs = ReadVecs<float>(vec_path, &dim);
  ASSERT_EQ(dim, 300u);
  const size_t n = vecs.size() / dim;
  ASSERT_EQ(n, 1000u);
  std::vector<std::string> words;
  std::ifstream in(words_path);
  for (std::string w; std::getline(in, w);) words.push_back(w);
  ASSERT_GE(words.size(), n);

  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "w2v", 300, Metric::kCosine);
  std::vector<PointId> ids;
  for (size_t i = 0; i < n; ++i) ids.emplace_back(words[i]);
  ASSERT_OK(c->Upsert({}, ids, vecs));

  Oracle oracle;
  oracle.metric = Metric::kCosine;
  oracle.dim = dim;
  for (size_t i = 0; i < n; ++i) oracle.Add(ids[i], vecs.data() + i * dim);

  SearchOptions so;
  so.k = 10;
  // Every 20th word as a query, through SearchBatch; each word's nearest is itself.
  std::vector<float> queries;
  std::vector<size_t> rows;
  for (size_t i = 0; i < n; i += 20) {
    rows.push_back(i);
    queries.insert(queries.end(), vecs.begin() + i * dim, vecs.begin() + (i + 1) * dim);
  }
  ASSERT_OK_AND_ASSIGN(auto batch, c->SearchBatch(so, queries));
  ASSERT_EQ(batch.size(), rows.size());
  for (size_t j = 0; j < rows.size(); ++j) {
    ExpectExactTopK(oracle, vecs.data() + rows[j] * dim, batch[j], 10, nullptr, words[rows[j]]);
    ASSERT_FALSE(batch[j].empty());
    EXPECT_EQ(batch[j][0].id, ids[rows[j]]);
    EXPECT_NEAR(batch[j][0].score, 1.0, 1e-5);
  }

  const auto king = std::find(words.begin(), words.end(), "king");
  ASSERT_NE(king, words.end());
  const size_t kr = static_cast<size_t>(king - words.begin());
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, std::span(vecs).subspan(kr * dim, dim)));
  ExpectExactTopK(oracle, vecs.data() + kr * dim, hits, 10, nullptr, "king");
  ASSERT_GE(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, PointId("king"));
  EXPECT_EQ(hits[1].id, PointId("queen"));  // the data's README: nn(king) = queen, york, george
}

}  // namespace
}  // namespace sextant
