// The database's memory budget (DatabaseOptions::memory_limit_bytes, Database::Memory): writes and
// index builds that would pass it are refused with ResourceExhausted before they allocate, nothing
// acknowledged is lost, deletes and searches keep working, and deleting makes room again.
#include <atomic>
#include <thread>

#include "../collection/engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr uint64_t kCache = 1 << 20;

DatabaseOptions Budget(uint64_t beyond_cache) {
  DatabaseOptions o;
  o.block_cache_bytes = kCache;
  o.memory_limit_bytes = kCache + beyond_cache;
  return o;
}

std::vector<float> Vectors(size_t n, size_t dim, float base) {
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < v.size(); ++i) v[i] = base + static_cast<float>(i % 97) * 0.01f;
  return v;
}

// Upserts batches of `batch` points until the budget refuses one; returns how many were acknowledged.
uint64_t FillUntilRefused(Collection* c, size_t batch, Status* refused) {
  uint64_t acked = 0;
  for (int round = 0; round < 1000; ++round) {
    Status st = c->Upsert({}, NumericIds(acked, batch), Vectors(batch, c->dimension(), 1.0f));
    if (!st.ok()) {
      *refused = st;
      return acked;
    }
    acked += batch;
  }
  *refused = Status::OK();
  return acked;
}

TEST(MemoryBudgetTest, RefusesWritesBeforeTheLimitThenDeletesMakeRoom) {
  TempDir tmp;
  auto db = MustOpen(tmp.path(), Budget(2 << 20));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Memory().limit_bytes, kCache + (2 << 20));
  EXPECT_GE(db->Memory().used_bytes, kCache);  // the block cache is charged from the start
  auto c = MustCreate(db.get(), "v", 128, Metric::kL2);
  ASSERT_NE(c, nullptr);

  Status refused;
  const uint64_t acked = FillUntilRefused(c.get(), 256, &refused);
  ASSERT_FALSE(refused.ok()) << "2 MiB never filled after " << acked << " points";
  EXPECT_STATUS(refused, StatusCode::kResourceExhausted, "upsert", "collection v", "memory budget", "limit",
                "memory_limit_bytes");
  EXPECT_GT(acked, 1000u);
  const MemoryUsage full = db->Memory();
  EXPECT_LE(full.used_bytes, full.limit_bytes);
  EXPECT_GT(full.used_bytes, kCache + 128 * 4 * acked);  // at least the vectors themselves

  // Nothing of the refused batch was written; everything acknowledged is there and searchable.
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, acked);
  EXPECT_EQ(c->Get(PointId(acked)).status().code(), StatusCode::kNotFound);
  SearchOptions so;
  so.k = 5;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, Vectors(1, 128, 1.0f), nullptr));
  EXPECT_EQ(hits.size(), 5u);

  // update_vectors takes new slots too: refused the same way, and the old vectors stay.
  EXPECT_STATUS(c->UpdateVectors({}, NumericIds(0, 256), Vectors(256, 128, 5.0f)), StatusCode::kResourceExhausted,
                "update_vectors", "memory budget");
  ASSERT_OK_AND_ASSIGN(Point p0, c->Get(PointId(uint64_t{0})));
  EXPECT_FLOAT_EQ(p0.vector[0], 1.0f);

  // Deleting frees the slots and the ids: the same write now fits.
  ASSERT_OK_AND_ASSIGN(uint64_t deleted, c->Delete({}, NumericIds(0, acked / 2)));
  EXPECT_EQ(deleted, acked / 2);
  EXPECT_LT(db->Memory().used_bytes, full.used_bytes);
  ASSERT_OK(c->Upsert({}, NumericIds(acked, 256), Vectors(256, 128, 2.0f)));
  ASSERT_OK_AND_ASSIGN(count, c->Count());
  EXPECT_EQ(count, acked - acked / 2 + 256);

  // Dropping the collection gives back everything it charged.
  c.reset();
  ASSERT_OK(db->DropCollection("v"));
  EXPECT_EQ(db->Memory().used_bytes, kCache);
}

TEST(MemoryBudgetTest, OpeningOverTheLimitLoadsEverythingAndRefusesOnlyWrites) {
  TempDir tmp;
  uint64_t acked = 0;
  {
    auto db = MustOpen(tmp.path(), Budget(4 << 20));
    auto c = MustCreate(db.get(), "v", 64, Metric::kCosine);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 4000), Vectors(4000, 64, 1.0f)));
    acked = 4000;
  }
  // Reopened with a budget smaller than what is stored: nothing is lost or refused to open.
  auto db = MustOpen(tmp.path(), Budget(64 << 10));
  ASSERT_NE(db, nullptr);
  EXPECT_GT(db->Memory().used_bytes, db->Memory().limit_bytes);
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("v"));
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, acked);
  SearchOptions so;
  so.k = 3;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, Vectors(1, 64, 1.0f), nullptr));
  EXPECT_EQ(hits.size(), 3u);
  EXPECT_STATUS(c->Upsert({}, NumericIds(acked, 1), Vectors(1, 64, 1.0f)), StatusCode::kResourceExhausted,
                "memory budget");
  ASSERT_OK_AND_ASSIGN(uint64_t deleted, c->DeleteWhere({}, "{}"));
  EXPECT_EQ(deleted, acked);
  ASSERT_OK_AND_ASSIGN(count, c->Count());
  EXPECT_EQ(count, 0u);
}

TEST(MemoryBudgetTest, RefusesAnIndexBuildThatWouldNotFitAndKeepsTheOldIndex) {
  TempDir tmp;
  auto db = MustOpen(tmp.path(), Budget(600 << 10));
  auto c = MustCreate(db.get(), "v", 8, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 3000), Vectors(3000, 8, 1.0f)));
  IndexOptions hnsw;
  hnsw.type = IndexType::kHnsw;
  hnsw.m = 32;
  // 3000 nodes of 65 links each (4096 rows of 260 bytes, about 1 MiB) do not fit beside the data.
  EXPECT_STATUS(c->SetIndex(hnsw), StatusCode::kResourceExhausted, "set index", "HNSW32", "3000 points",
                "memory budget");
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c->Describe());
  EXPECT_EQ(info.index, "Flat");  // the refused options were not recorded
  EXPECT_STATUS(c->RebuildIndex(), StatusCode::kOk);  // Flat: nothing to build
  // A smaller collection: its graph fits (the graph's arrays follow the highest slot, so deleting
  // points of the first collection would not do: the slots stay spread).
  c.reset();
  ASSERT_OK(db->DropCollection("v"));
  c = MustCreate(db.get(), "v", 8, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 500), Vectors(500, 8, 1.0f)));
  ASSERT_OK(c->SetIndex(hnsw));
  ASSERT_OK(c->WaitForIndex(60000));
  ASSERT_OK_AND_ASSIGN(info, c->Describe());
  EXPECT_EQ(info.index, "HNSW32");
  EXPECT_GT(info.index_bytes, 0u);
  EXPECT_LE(db->Memory().used_bytes, db->Memory().limit_bytes)
      << "index " << info.index_bytes << " vectors " << info.vector_bytes;
}

TEST(MemoryBudgetTest, LimitMustExceedTheBlockCacheAndDefaultsToAShareOfMemory) {
  TempDir tmp;
  DatabaseOptions o;
  o.block_cache_bytes = kCache;
  o.memory_limit_bytes = kCache;
  auto bad = Database::Open(o, tmp.Sub("a"));
  EXPECT_STATUS(bad.status(), StatusCode::kInvalidArgument, "memory_limit_bytes", "block_cache_bytes");
  auto db = MustOpen(tmp.Sub("b"));
  ASSERT_NE(db, nullptr);
  EXPECT_GT(db->Memory().limit_bytes, uint64_t{64} << 20);
  EXPECT_EQ(db->Memory().used_bytes, DatabaseOptions{}.block_cache_bytes);
}

// Writers racing into several collections of one database: the budget is shared, never passed,
// and every acknowledged point is there.
TEST(MemoryBudgetTest, ConcurrentWritersShareOneBudget) {
  TempDir tmp;
  auto db = MustOpen(tmp.path(), Budget(3 << 20));
  constexpr int kThreads = 4;
  std::vector<std::shared_ptr<Collection>> cs;
  for (int t = 0; t < kThreads; ++t) cs.push_back(MustCreate(db.get(), "c" + std::to_string(t), 32, Metric::kL2));
  std::vector<uint64_t> acked(kThreads);
  std::vector<Status> refused(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { acked[t] = FillUntilRefused(cs[t].get(), 64, &refused[t]); });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(refused[t].code(), StatusCode::kResourceExhausted) << refused[t].ToString();
    ASSERT_OK_AND_ASSIGN(uint64_t count, cs[t]->Count());
    EXPECT_EQ(count, acked[t]);
  }
  EXPECT_LE(db->Memory().used_bytes, db->Memory().limit_bytes);
}

}  // namespace
}  // namespace sextant
