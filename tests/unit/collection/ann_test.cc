// Collections with approximate indexes (HNSW, IVF), through the public API: recall against
// exact search, filtered search at several selectivities, plans, deletes and churn, index
// changes while searching, checkpoints, crash recovery and corrupt checkpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "sextant/sextant.h"
#include "test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::TempDir;

// Gaussian blobs: `clusters` centres in [-1, 1]^dim, points spread `spread` around them.
std::vector<float> Clustered(size_t n, size_t dim, size_t clusters, uint32_t seed, float spread = 0.15f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::normal_distribution<float> g(0, spread);
  std::vector<float> centres(clusters * dim);
  for (float& c : centres) c = u(rng);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng() % clusters;
    for (size_t j = 0; j < dim; ++j) out[i * dim + j] = centres[c * dim + j] + g(rng);
  }
  return out;
}

std::unique_ptr<Database> Open(const std::string& path) {
  auto db = Database::Open(DatabaseOptions{}, path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return std::move(*db);
}

std::shared_ptr<Collection> Create(Database& db, const std::string& name, uint32_t dim, Metric metric,
                                   const std::string& spec, std::vector<PayloadIndexOptions> pidx = {}) {
  CollectionOptions o;
  o.dimension = dim;
  o.metric = metric;
  auto parsed = IndexOptions::Parse(spec);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  o.index = *parsed;
  o.payload_indexes = std::move(pidx);
  auto c = db.CreateCollection(name, o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

// Points 0..n-1 with payload {"bucket": i % 1000, "tag": "t<i%10>"}.
void Fill(Collection& c, const std::vector<float>& vectors, size_t dim, size_t first = 0) {
  const size_t n = vectors.size() / dim;
  for (size_t start = 0; start < n; start += 1000) {
    const size_t end = std::min(n, start + 1000);
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (size_t i = start; i < end; ++i) {
      const size_t id = first + i;
      ids.emplace_back(uint64_t{id});
      payloads.push_back("{\"bucket\": " + std::to_string(id % 1000) + ", \"tag\": \"t" + std::to_string(id % 10) + "\"}");
    }
    ASSERT_TRUE(c.Upsert({}, ids, std::span<const float>(vectors.data() + start * dim, (end - start) * dim), payloads).ok());
  }
}

// Mean recall@k of `opts` searches against the same searches with exact = true.
double Recall(const Collection& c, const std::vector<float>& queries, size_t dim, SearchOptions opts,
              std::vector<SearchPlan>* plans = nullptr) {
  SearchOptions exact = opts;
  exact.exact = true;
  const size_t nq = queries.size() / dim;
  double hits = 0, total = 0;
  for (size_t i = 0; i < nq; ++i) {
    std::span<const float> q(queries.data() + i * dim, dim);
    SearchPlan plan;
    auto approx = c.Search(opts, q, &plan);
    auto truth = c.Search(exact, q);
    EXPECT_TRUE(approx.ok() && truth.ok());
    if (!approx.ok() || !truth.ok()) return 0;
    EXPECT_EQ(approx->size(), truth->size()) << "a search must return min(k, matches) hits";
    std::set<uint64_t> want;
    for (const Hit& h : *truth) want.insert(h.id.number());
    for (const Hit& h : *approx) hits += want.count(h.id.number());
    total += truth->size();
    if (plans) plans->push_back(plan);
  }
  return total == 0 ? 1.0 : hits / total;
}

bool WaitUntil(const std::function<bool()>& done, int seconds = 60) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

class AnnIndexTest : public ::testing::TestWithParam<std::tuple<std::string, Metric>> {};

TEST_P(AnnIndexTest, RecallAndPlansWithAndWithoutFilters) {
  // Not a structured binding: clang 14 (the TSAN build) cannot capture one in a lambda.
  const std::string spec = std::get<0>(GetParam());
  const Metric metric = std::get<1>(GetParam());
  const size_t n = 12000, dim = 32;  // IVF-PQ trains from 39 x 256 points
  TempDir dir;
  auto db = Open(dir.path());
  auto c = Create(*db, "c", dim, metric, spec, {{"bucket", PayloadFieldType::kInteger}, {"tag", PayloadFieldType::kKeyword}});
  // Embeddings as models produce them: for inner product, norms close to 1 (HNSW on inner
  // product with widely varying norms is a known weak spot of graph indexes; see index_params.md).
  auto shape = [&](std::vector<float> v) {
    if (metric == Metric::kInnerProduct) {
      std::mt19937 rng(99);
      std::uniform_real_distribution<float> scale(0.9f, 1.1f);
      for (size_t i = 0; i < v.size() / dim; ++i) {
        double norm = 0;
        for (size_t j = 0; j < dim; ++j) norm += double{v[i * dim + j]} * v[i * dim + j];
        const float f = scale(rng) / static_cast<float>(std::sqrt(norm));
        for (size_t j = 0; j < dim; ++j) v[i * dim + j] *= f;
      }
    }
    return v;
  };
  auto data = shape(Clustered(n, dim, 40, 1, 0.3f));
  Fill(*c, data, dim);
  ASSERT_TRUE(c->WaitForIndex(120000).ok());
  ASSERT_TRUE(WaitUntil([&] { return c->Describe()->index_state == IndexState::kReady; }));
  auto info = c->Describe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->index, IndexOptions::Parse(spec)->ToString());
  EXPECT_EQ(info->index_origin, "built");
  EXPECT_GT(info->index_bytes, 0u);

  auto queries = shape(Clustered(60, dim, 40, 2, 0.3f));
  SearchOptions opts;
  opts.k = 10;
  opts.ef_search = 128;
  opts.nprobe = 16;
  std::vector<SearchPlan> plans;
  EXPECT_GE(Recall(*c, queries, dim, opts, &plans), 0.95) << spec;
  for (const auto& p : plans) EXPECT_EQ(p.kind, SearchPlan::Kind::kIndex) << "unfiltered searches use the index";

  // Selectivities 50%, 10%, 1%, 0.1%: every one returns min(k, matches) with recall >= 0.95.
  for (const char* filter : {R"({"bucket": {"$lt": 500}})", R"({"bucket": {"$lt": 100}})", R"({"bucket": {"$lt": 10}})",
                             R"({"bucket": 7})"}) {
    SearchOptions f = opts;
    f.filter = filter;
    plans.clear();
    EXPECT_GE(Recall(*c, queries, dim, f, &plans), 0.95) << spec << " " << filter;
    ASSERT_FALSE(plans.empty());
    EXPECT_TRUE(plans[0].filter_from_index) << filter;
    EXPECT_GT(plans[0].matches, 0u);
  }
  // The cost model takes the exact path for a very selective filter.
  SearchOptions rare = opts;
  rare.filter = R"({"bucket": 7})";
  SearchPlan plan;
  ASSERT_TRUE(c->Search(rare, std::span<const float>(queries.data(), dim), &plan).ok());
  EXPECT_EQ(plan.kind, SearchPlan::Kind::kExact);
  EXPECT_EQ(plan.matches, n / 1000);  // bucket 7 of 0..999

  // Logically equivalent filters give the same results.
  SearchOptions a = opts, b = opts;
  a.filter = R"({"bucket": {"$gte": 100, "$lt": 600}})";
  b.filter = R"({"$and": [{"bucket": {"$gte": 100}}, {"$not": {"bucket": {"$gte": 600}}}]})";
  for (size_t i = 0; i < 10; ++i) {
    std::span<const float> q(queries.data() + i * dim, dim);
    auto ra = c->Search(a, q), rb = c->Search(b, q);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->size(), rb->size());
    for (size_t r = 0; r < ra->size(); ++r) EXPECT_EQ((*ra)[r].id, (*rb)[r].id);
  }
}

INSTANTIATE_TEST_SUITE_P(Indexes, AnnIndexTest,
                         ::testing::Values(std::make_tuple("HNSW16", Metric::kL2),
                                           std::make_tuple("HNSW16", Metric::kCosine),
                                           std::make_tuple("HNSW16,SQ8", Metric::kInnerProduct),
                                           std::make_tuple("IVF32", Metric::kL2),
                                           std::make_tuple("IVF32,SQ8", Metric::kCosine),
                                           std::make_tuple("IVF32,PQ8", Metric::kL2)));

TEST(AnnCollectionTest, DeletedAndReplacedPointsAreNeverReturnedAndChurnKeepsRecallAndMemory) {
  const size_t n = 4000, dim = 16;
  TempDir dir;
  auto db = Open(dir.path());
  auto c = Create(*db, "c", dim, Metric::kL2, "HNSW16");
  auto data = Clustered(n, dim, 20, 3);
  Fill(*c, data, dim);
  ASSERT_TRUE(c->WaitForIndex(60000).ok());
  const uint64_t vector_bytes = c->Describe()->vector_bytes;
  auto queries = Clustered(40, dim, 20, 4);
  SearchOptions opts;
  opts.k = 10;
  opts.ef_search = 128;
  std::mt19937 rng(5);
  for (int round = 0; round < 4; ++round) {
    // Delete half, check none comes back, re-insert them with new vectors.
    std::vector<PointId> gone;
    for (size_t i = 0; i < n; ++i) {
      if (rng() % 2) gone.emplace_back(uint64_t{i});
    }
    ASSERT_EQ(*c->Delete({}, gone), gone.size());
    std::set<uint64_t> deleted;
    for (auto& id : gone) deleted.insert(id.number());
    for (size_t i = 0; i < 20; ++i) {
      auto hits = c->Search(opts, std::span<const float>(queries.data() + i * dim, dim));
      ASSERT_TRUE(hits.ok());
      for (const Hit& h : *hits) EXPECT_EQ(deleted.count(h.id.number()), 0u) << "deleted point returned";
    }
    // Give the maintenance thread (once a second) time to consolidate and release the slots.
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    auto fresh = Clustered(gone.size(), dim, 20, 100 + round);
    std::vector<std::string> payloads(gone.size(), "{}");
    ASSERT_TRUE(c->Upsert({}, gone, fresh, payloads).ok());
    EXPECT_EQ(*c->Count(), n);
    EXPECT_GE(Recall(*c, queries, dim, opts), 0.95) << "round " << round;
  }
  // Slots are reused, so memory follows the live points rather than the history.
  EXPECT_LE(c->Describe()->vector_bytes, 2 * vector_bytes + 1024 * dim * sizeof(float));
}

TEST(AnnCollectionTest, CheckpointIsLoadedOnReopenAndGivesIdenticalResults) {
  const size_t n = 5000, dim = 24;
  TempDir dir;
  auto data = Clustered(n, dim, 30, 6);
  auto queries = Clustered(30, dim, 30, 7);
  SearchOptions opts;
  opts.k = 10;
  std::vector<std::vector<Hit>> before;
  {
    auto db = Open(dir.path());
    auto c = Create(*db, "c", dim, Metric::kL2, "HNSW16");
    Fill(*c, data, dim);
    ASSERT_TRUE(c->WaitForIndex(60000).ok());
    for (size_t i = 0; i < 30; ++i) before.push_back(*c->Search(opts, std::span<const float>(queries.data() + i * dim, dim)));
  }  // close writes the checkpoint
  auto db = Open(dir.path());
  auto c = *db->GetCollection("c");
  auto info = c->Describe();
  EXPECT_EQ(info->index_origin, "checkpoint") << "reopen must load the index, not rebuild it";
  EXPECT_EQ(info->index_state, IndexState::kReady);
  for (size_t i = 0; i < 30; ++i) {
    auto after = c->Search(opts, std::span<const float>(queries.data() + i * dim, dim));
    ASSERT_TRUE(after.ok());
    ASSERT_EQ(after->size(), before[i].size());
    for (size_t r = 0; r < after->size(); ++r) {
      EXPECT_EQ((*after)[r].id, before[i][r].id);
      EXPECT_EQ((*after)[r].score, before[i][r].score);
    }
  }
}

TEST(AnnCollectionTest, WritesAfterTheCheckpointAreReplayedAfterACrash) {
  SEXTANT_SKIP_FORK_UNDER_TSAN();
  const size_t n = 3000, dim = 16;
  TempDir dir;
  auto data = Clustered(n, dim, 20, 8);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child builds, checkpoints, writes more and dies without closing (like kill -9).
    auto db = Database::Open(DatabaseOptions{}, dir.path());
    if (!db.ok()) _exit(10);
    CollectionOptions o;
    o.dimension = dim;
    o.metric = Metric::kL2;
    o.index = *IndexOptions::Parse("HNSW16");
    auto c = (*db)->CreateCollection("c", o);
    if (!c.ok()) _exit(11);
    for (size_t start = 0; start < n; start += 500) {
      std::vector<PointId> ids;
      for (size_t i = start; i < start + 500; ++i) ids.emplace_back(uint64_t{i});
      if (!(*c)->Upsert({}, ids, std::span<const float>(data.data() + start * dim, 500 * dim)).ok()) _exit(12);
    }
    if (!(*c)->WaitForIndex(60000).ok() || !(*c)->Checkpoint().ok()) _exit(13);
    // After the checkpoint: 200 new points, 100 deletes, and a replaced point.
    auto extra = Clustered(200, dim, 20, 9);
    std::vector<PointId> ids;
    for (size_t i = 0; i < 200; ++i) ids.emplace_back(uint64_t{n + i});
    if (!(*c)->Upsert({}, ids, extra).ok()) _exit(14);
    std::vector<PointId> gone;
    for (size_t i = 0; i < 100; ++i) gone.emplace_back(uint64_t{i});
    if (!(*c)->Delete({}, gone).ok()) _exit(15);
    std::vector<float> moved(dim, 5.0f);
    std::vector<PointId> one = {PointId(uint64_t{500})};
    if (!(*c)->Upsert({}, one, moved).ok()) _exit(16);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto db = Open(dir.path());
  auto c = *db->GetCollection("c");
  EXPECT_EQ(c->Describe()->index_origin, "checkpoint");
  EXPECT_EQ(*c->Count(), n + 200 - 100);
  SearchOptions opts;
  opts.k = 1;
  opts.ef_search = 64;
  // Every new point is found by its own vector; deleted ones never are; the moved one is where it moved.
  auto extra = Clustered(200, dim, 20, 9);
  int found = 0;
  for (size_t i = 0; i < 200; ++i) {
    auto hits = c->Search(opts, std::span<const float>(extra.data() + i * dim, dim));
    ASSERT_TRUE(hits.ok());
    found += !hits->empty() && (*hits)[0].score == 0.0f;
  }
  EXPECT_GE(found, 195);
  for (size_t i = 0; i < 100; ++i) {
    auto hits = c->Search(opts, std::span<const float>(data.data() + i * dim, dim));
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_GE((*hits)[0].id.number(), 100u) << "deleted point returned";
  }
  std::vector<float> moved(dim, 5.0f);
  auto hits = c->Search(opts, moved);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].id, PointId(uint64_t{500}));
  EXPECT_EQ((*hits)[0].score, 0.0f);
}

TEST(AnnCollectionTest, CheckpointLoadsAfterTheHighestSlotsWereDeletedAndTheProcessCrashed) {
  SEXTANT_SKIP_FORK_UNDER_TSAN();
  // 4,100 slots need a store of 8,192 rows; after deleting down to 4,000 the store reopens with
  // 4,096, smaller than the checkpoint's slots.
  const size_t n = 4100, dim = 8;
  TempDir dir;
  auto data = Clustered(n, dim, 8, 20);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = Database::Open(DatabaseOptions{}, dir.path());
    if (!db.ok()) _exit(10);
    CollectionOptions o;
    o.dimension = dim;
    o.metric = Metric::kL2;
    o.index = *IndexOptions::Parse("IVF8");
    auto c = (*db)->CreateCollection("c", o);
    if (!c.ok()) _exit(11);
    std::vector<PointId> ids;
    for (size_t i = 0; i < n; ++i) ids.emplace_back(uint64_t{i});
    if (!(*c)->Upsert({}, ids, data).ok()) _exit(12);
    for (int i = 0; i < 600 && (*c)->Describe()->index_origin != "built"; ++i) usleep(100000);
    if (!(*c)->Checkpoint().ok()) _exit(13);
    // Delete the points in the highest slots, then die without closing.
    // (A batch takes slots from its last point backwards, so ids 0..99 hold slots 4000..4099.)
    std::vector<PointId> gone(ids.begin(), ids.begin() + 100);
    if (!(*c)->Delete({}, gone).ok()) _exit(14);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto db = Open(dir.path());
  auto c = *db->GetCollection("c");
  EXPECT_EQ(c->Describe()->index_origin, "checkpoint");
  EXPECT_EQ(*c->Count(), 4000u);
  SearchOptions opts;
  opts.k = 10;
  opts.nprobe = 8;
  for (size_t i = 0; i < 20; ++i) {
    auto hits = c->Search(opts, std::span<const float>(data.data() + i * dim, dim));
    ASSERT_TRUE(hits.ok());
    for (const Hit& h : *hits) EXPECT_GE(h.id.number(), 100u) << "deleted point returned";
  }
  // New points reuse slots once the index lets go of them; they must all be findable.
  auto extra = Clustered(600, dim, 8, 21);
  std::vector<PointId> ids;
  for (size_t i = 0; i < 600; ++i) ids.emplace_back(uint64_t{10000 + i});
  ASSERT_TRUE(c->Upsert({}, ids, extra).ok());
  opts.k = 1;
  for (size_t i = 0; i < 600; ++i) {
    auto hits = c->Search(opts, std::span<const float>(extra.data() + i * dim, dim));
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ((*hits)[0].score, 0.0f);
  }
}

TEST(AnnCollectionTest, CorruptCheckpointIsDetectedAndRebuilt) {
  const size_t n = 3000, dim = 16;
  TempDir dir;
  auto data = Clustered(n, dim, 20, 10);
  {
    auto db = Open(dir.path());
    auto c = Create(*db, "c", dim, Metric::kL2, "HNSW16");
    Fill(*c, data, dim);
    ASSERT_TRUE(c->WaitForIndex(60000).ok());
  }
  // Flip bytes in the middle of the checkpoint file.
  std::string file;
  for (auto& e : std::filesystem::directory_iterator(dir.path() + "/index")) file = e.path();
  ASSERT_FALSE(file.empty());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(file) / 2));
    f.write("\xde\xad\xbe\xef", 4);
  }
  auto db = Open(dir.path());
  auto c = *db->GetCollection("c");
  ASSERT_TRUE(c->WaitForIndex(60000).ok());
  EXPECT_EQ(c->Describe()->index_origin, "built") << "a corrupt checkpoint must be rebuilt, not trusted";
  SearchOptions opts;
  opts.k = 10;
  opts.ef_search = 128;
  EXPECT_GE(Recall(*c, Clustered(30, dim, 20, 11), dim, opts), 0.95);
}

TEST(AnnCollectionTest, SetIndexRebuildsInTheBackgroundWhileSearchesContinue) {
  const size_t n = 6000, dim = 16;
  TempDir dir;
  auto db = Open(dir.path());
  auto c = Create(*db, "c", dim, Metric::kL2, "Flat");
  auto data = Clustered(n, dim, 20, 12);
  Fill(*c, data, dim);
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, bad{0};
  std::thread searcher([&] {
    SearchOptions opts;
    opts.k = 5;
    size_t i = 0;
    while (!stop) {
      auto hits = c->Search(opts, std::span<const float>(data.data() + (i++ % n) * dim, dim));
      if (!hits.ok() || hits->size() != 5) ++bad;
      ++searches;
    }
  });
  auto spec = IndexOptions::Parse("HNSW16");
  ASSERT_TRUE(c->SetIndex(*spec).ok());
  // Writes during the build reach the new index too.
  auto extra = Clustered(500, dim, 20, 13);
  std::vector<PointId> ids;
  for (size_t i = 0; i < 500; ++i) ids.emplace_back(uint64_t{n + i});
  ASSERT_TRUE(c->Upsert({}, ids, extra).ok());
  ASSERT_TRUE(c->WaitForIndex(120000).ok());
  stop = true;
  searcher.join();
  EXPECT_EQ(bad, 0);
  EXPECT_GT(searches, 0);
  auto info = c->Describe();
  EXPECT_EQ(info->index, "HNSW16");
  EXPECT_EQ(info->index_state, IndexState::kReady);
  SearchOptions opts;
  opts.k = 1;
  int found = 0;
  for (size_t i = 0; i < 500; ++i) {
    SearchPlan plan;
    auto hits = c->Search(opts, std::span<const float>(extra.data() + i * dim, dim), &plan);
    ASSERT_TRUE(hits.ok());
    EXPECT_EQ(plan.kind, SearchPlan::Kind::kIndex);
    found += (*hits)[0].score == 0.0f;
  }
  EXPECT_GE(found, 490);
  // The choice is durable.
  c.reset();
  db.reset();
  db = Open(dir.path());
  EXPECT_EQ((*db->GetCollection("c"))->Describe()->index, "HNSW16");
}

TEST(AnnCollectionTest, IvfSearchesExactlyUntilItHasEnoughPointsToTrain) {
  const size_t dim = 8;
  TempDir dir;
  auto db = Open(dir.path());
  auto c = Create(*db, "c", dim, Metric::kL2, "IVF8");
  auto few = Clustered(50, dim, 8, 14);
  Fill(*c, few, dim);
  ASSERT_TRUE(WaitUntil([&] { return c->Describe()->index_state == IndexState::kTraining; }));
  SearchOptions opts;
  opts.k = 5;
  SearchPlan plan;
  auto hits = c->Search(opts, std::span<const float>(few.data(), dim), &plan);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(plan.kind, SearchPlan::Kind::kExact);
  EXPECT_EQ((*hits)[0].score, 0.0f);
  // Enough points: the maintenance thread trains and builds the index.
  auto more = Clustered(20000, dim, 8, 15);
  Fill(*c, more, dim, 50);
  ASSERT_TRUE(WaitUntil([&] {
    auto info = c->Describe();
    return info->index_state == IndexState::kReady && info->index_origin == "built";
  }));
  ASSERT_TRUE(c->Search(opts, std::span<const float>(few.data(), dim), &plan).ok());
  EXPECT_EQ(plan.kind, SearchPlan::Kind::kIndex);
  opts.nprobe = 4;
  EXPECT_GE(Recall(*c, Clustered(30, dim, 8, 16), dim, opts), 0.95);
}

TEST(AnnCollectionTest, BadIndexOptionsAndPayloadTypesAreRejected) {
  TempDir dir;
  auto db = Open(dir.path());
  CollectionOptions o;
  o.dimension = 10;
  o.index = *IndexOptions::Parse("IVF16,PQ3");  // 3 does not divide 10
  EXPECT_EQ(db->CreateCollection("a", o).status().code(), StatusCode::kInvalidArgument);
  o.index = *IndexOptions::Parse("HNSW1");
  EXPECT_EQ(db->CreateCollection("a", o).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexOptions::Parse("HNSWx").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexOptions::Parse("IVF").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexOptions::Parse("LSH8").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexOptions::Parse("hnsw32,sq8")->ToString(), "HNSW32,SQ8");
  EXPECT_EQ(IndexOptions::Parse("IVF1024,PQ16")->ToString(), "IVF1024,PQ16");
  o.index = IndexOptions{};
  o.payload_indexes = {{"year", PayloadFieldType::kInteger}, {"year", PayloadFieldType::kFloat}};
  EXPECT_EQ(db->CreateCollection("a", o).status().code(), StatusCode::kInvalidArgument);
  o.payload_indexes = {{"year", PayloadFieldType::kInteger}};
  auto c = db->CreateCollection("a", o);
  ASSERT_TRUE(c.ok());
  std::vector<float> v(10, 1.0f);
  std::vector<PointId> ids = {PointId(1)};
  std::vector<std::string> bad = {R"({"year": "2001"})"};
  Status s = (*c)->Upsert({}, ids, v, bad);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("point 0"), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("year"), std::string_view::npos) << s.ToString();
  EXPECT_EQ(*(*c)->Count(), 0u);
  EXPECT_EQ((*c)->SetIndex(*IndexOptions::Parse("IVF4,PQ3")).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sextant
