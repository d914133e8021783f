// Ingest and exact-search throughput through the public engine API (sextant/sextant.h), with
// RocksDB and its write-ahead log in the loop: what an embedding application sees.
//
//   ingest_bench [--benchmark_filter=...] [--benchmark_min_time=0.5]
//
// Ingest: 128-d float vectors, batches of 1,000 new points per Upsert, into a fresh database in a
// fresh temporary directory ($TMPDIR or /tmp) for every run. items_per_second counts points.
//   ingest/no_payload      WriteOptions{} (WAL on, no fsync: survives kill -9)
//   ingest/payload50       the same with a ~50-byte JSON payload per point
//   ingest/sync            WriteOptions{.sync = true}: one fsync of the WAL per batch
//
// Search: exact (flat) l2 search over 100,000 x 128 random vectors, loaded once. items_per_second
// counts queries.
//   search/k:10            one query per Search call
//   search_batch/100q/k:10 100 queries per SearchBatch call (the batched scoring path)
// Wall-clock time throughout (UseRealTime): RocksDB works in background threads too.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "sextant/sextant.h"

namespace {

constexpr uint32_t kDim = 128;
constexpr size_t kBatch = 1000;
constexpr size_t kPoolBatches = 32;  // distinct vector batches, reused with new ids
constexpr size_t kSearchPoints = 100000;
constexpr size_t kQueries = 100;

// A fresh directory, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sextant-bench-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<float> RandomVectors(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n * kDim);
  for (float& x : v) x = u(rng);
  return v;
}

const std::vector<float>& VectorPool() {
  static const std::vector<float> pool = RandomVectors(kPoolBatches * kBatch, 1);
  return pool;
}

// ~50 bytes of JSON per point, e.g. {"title":"doc-0000123","year":2007,"tag":"news"}.
std::string SmallPayload(uint64_t id) {
  static const char* const kTags[] = {"news", "blog", "wiki", "mail"};
  char buf[96];
  std::snprintf(buf, sizeof buf, R"({"title":"doc-%07llu","year":%llu,"tag":"%s"})",
                static_cast<unsigned long long>(id % 10000000), static_cast<unsigned long long>(1990 + id % 35),
                kTags[id % 4]);
  return buf;
}

void Die(const sextant::Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::abort();
}

void BM_Ingest(benchmark::State& state, bool with_payload, bool sync) {
  ScratchDir dir;
  auto db = sextant::Database::Open({}, dir.path());
  if (!db.ok()) Die(db.status(), "open");
  sextant::CollectionOptions co;
  co.dimension = kDim;
  co.metric = sextant::Metric::kL2;
  auto c = (*db)->CreateCollection("bench", co);
  if (!c.ok()) Die(c.status(), "create");
  sextant::WriteOptions wo;
  wo.sync = sync;

  const std::vector<float>& pool = VectorPool();
  std::vector<sextant::PointId> ids(kBatch);
  std::vector<std::string> payloads;
  uint64_t next_id = 0;
  size_t batch_no = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < kBatch; ++i) ids[i] = sextant::PointId(next_id + i);
    if (with_payload) {
      payloads.resize(kBatch);
      for (size_t i = 0; i < kBatch; ++i) payloads[i] = SmallPayload(next_id + i);
    }
    const float* rows = pool.data() + (batch_no % kPoolBatches) * kBatch * kDim;
    state.ResumeTiming();

    sextant::Status s = (*c)->Upsert(wo, ids, std::span<const float>(rows, kBatch * kDim), payloads);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    next_id += kBatch;
    ++batch_no;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatch * kDim * sizeof(float)));
  state.counters["points"] = static_cast<double>(next_id);
}

BENCHMARK_CAPTURE(BM_Ingest, no_payload, false, false)->Name("ingest/no_payload")->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Ingest, payload50, true, false)->Name("ingest/payload50")->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Ingest, sync, false, true)->Name("ingest/sync")->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// 100k x 128 random points in one l2 collection, made on first use and kept for every search
// benchmark; removed at exit (the database closes before its directory goes).
struct SearchFixture {
  ScratchDir dir;
  std::unique_ptr<sextant::Database> db;
  std::shared_ptr<sextant::Collection> collection;
  std::vector<float> queries = RandomVectors(kQueries, 99);

  SearchFixture() {
    auto opened = sextant::Database::Open({}, dir.path());
    if (!opened.ok()) Die(opened.status(), "open");
    db = std::move(opened).value();
    sextant::CollectionOptions co;
    co.dimension = kDim;
    co.metric = sextant::Metric::kL2;
    auto c = db->CreateCollection("search", co);
    if (!c.ok()) Die(c.status(), "create");
    collection = std::move(c).value();
    const std::vector<float> base = RandomVectors(kSearchPoints, 2);
    std::vector<sextant::PointId> ids(kBatch);
    for (size_t start = 0; start < kSearchPoints; start += kBatch) {
      for (size_t i = 0; i < kBatch; ++i) ids[i] = sextant::PointId(uint64_t{start + i});
      auto s = collection->Upsert({}, ids, std::span<const float>(base).subspan(start * kDim, kBatch * kDim));
      if (!s.ok()) Die(s, "load");
    }
  }
  ~SearchFixture() {
    collection.reset();
    db.reset();  // before dir's destructor removes the files
  }
};

SearchFixture& Fixture() {
  static SearchFixture fixture;
  return fixture;
}

void BM_Search(benchmark::State& state) {
  SearchFixture& f = Fixture();
  sextant::SearchOptions so;
  so.k = static_cast<uint32_t>(state.range(0));
  size_t q = 0;
  for (auto _ : state) {
    auto hits = f.collection->Search(so, std::span<const float>(f.queries).subspan((q % kQueries) * kDim, kDim));
    if (!hits.ok() || hits->size() != so.k) {
      state.SkipWithError(hits.ok() ? "short result" : hits.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(hits->data());
    ++q;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Search)->Name("search")->Arg(10)->ArgName("k")->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SearchBatch(benchmark::State& state) {
  SearchFixture& f = Fixture();
  sextant::SearchOptions so;
  so.k = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) {
    auto hits = f.collection->SearchBatch(so, f.queries);
    if (!hits.ok() || hits->size() != kQueries) {
      state.SkipWithError(hits.ok() ? "short result" : hits.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(hits->data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kQueries));
}
BENCHMARK(BM_SearchBatch)->Name("search_batch/100q")->Arg(10)->ArgName("k")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
