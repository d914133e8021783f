// HNSW build time and single-threaded search throughput at fixed ef, with recall@10 as a counter.
//
//   ninja -C build hnsw_bench && build/bench/hnsw_bench [--benchmark_filter=...]
//
// Data sets (each is skipped when unavailable):
//   siftsmall   ../shared/data/siftsmall (10k x 128, L2, the file's ground truth), or
//               $SEXTANT_DATA_DIR/siftsmall
//   clustered   100k x 128 seeded gaussian blobs, each varying inside its own random 24-dimensional
//               subspace plus isotropic noise (L2; exact ground truth computed here). Size with
//               SEXTANT_BENCH_N (default 100000).
// SEXTANT_BENCH_DUMP=DIR writes each data set as DIR/<name>_{base,query}.fvecs and
// DIR/<name>_gt.ivecs, so another library (hnswlib) can be measured on identical vectors.
//
// Counters: build_s (adding every vector, one thread), bytes_per_vector (MemoryBytes / Size),
// recall (mean recall@10 over all queries), dist_per_query, and items_per_second = queries/s of
// one thread issuing one query at a time.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "index/flat.h"
#include "index/hnsw.h"
#include "index/sq8.h"
#include "simd/distance.h"
#include "tools/vector_file.h"

namespace sextant::index {
namespace {

struct Dataset {
  std::string name;
  size_t dim = 0;
  Metric metric = Metric::kL2;
  std::vector<float> base, queries;
  std::vector<std::vector<uint32_t>> truth;  // first 10 true neighbours per query
  size_t n() const { return base.size() / dim; }
  size_t nq() const { return queries.size() / dim; }
};

// TEXMEX files through the one reader and writer (tools/vector_file.h).
using vecfile::ReadTexmexValues;

template <typename T>
void WriteVecs(const std::string& path, const T* data, size_t rows, size_t dim) {
  Status s = vecfile::WriteTexmex(path, data, rows, static_cast<uint32_t>(dim));
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
}

std::vector<float> Clustered(size_t n, size_t dim, uint32_t seed, size_t clusters, size_t intrinsic) {
  std::mt19937 rng(4321);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centers(clusters * dim), bases(clusters * intrinsic * dim);
  for (float& x : centers) x = 2.0f * g(rng);
  for (float& x : bases) x = g(rng) / std::sqrt(static_cast<float>(intrinsic));
  std::mt19937 prng(seed);
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  std::vector<float> out(n * dim), z(intrinsic);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = pick(prng);
    for (float& x : z) x = g(prng);
    for (size_t j = 0; j < dim; ++j) {
      float v = centers[c * dim + j] + 0.1f * g(prng);
      for (size_t t = 0; t < intrinsic; ++t) v += z[t] * bases[(c * intrinsic + t) * dim + j];
      out[i * dim + j] = v;
    }
  }
  return out;
}

std::string DataDir() {
  const char* env = std::getenv("SEXTANT_DATA_DIR");
  if (env != nullptr && *env) return env;
  for (const char* guess : {"../shared/data", "../../shared/data", "../../../shared/data", "/work/shared/data"}) {
    if (std::filesystem::is_directory(guess)) return guess;
  }
  return "";
}

void Dump(const Dataset& d) {
  const char* dir = std::getenv("SEXTANT_BENCH_DUMP");
  if (dir == nullptr || !*dir) return;
  std::filesystem::create_directories(dir);
  const std::string prefix = std::string(dir) + "/" + d.name;
  WriteVecs(prefix + "_base.fvecs", d.base.data(), d.n(), d.dim);
  WriteVecs(prefix + "_query.fvecs", d.queries.data(), d.nq(), d.dim);
  std::vector<int32_t> gt;
  for (const auto& t : d.truth) gt.insert(gt.end(), t.begin(), t.end());
  WriteVecs(prefix + "_gt.ivecs", gt.data(), d.nq(), 10);
}

const Dataset* GetDataset(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Dataset>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.get();
  auto d = std::make_unique<Dataset>();
  d->name = name;
  if (name == "siftsmall") {
    const std::string dir = DataDir() + "/siftsmall/";
    size_t qd = 0, gd = 0;
    d->base = ReadTexmexValues<float>(dir + "siftsmall_base.fvecs", &d->dim);
    d->queries = ReadTexmexValues<float>(dir + "siftsmall_query.fvecs", &qd);
    auto gt = ReadTexmexValues<int32_t>(dir + "siftsmall_groundtruth.ivecs", &gd);
    if (d->base.empty() || qd != d->dim || gd < 10) {
      cache[name] = nullptr;
      return nullptr;
    }
    for (size_t q = 0; q < d->nq(); ++q) d->truth.emplace_back(gt.begin() + q * gd, gt.begin() + q * gd + 10);
  } else {
    const char* env = std::getenv("SEXTANT_BENCH_N");
    const size_t n = env != nullptr ? std::strtoull(env, nullptr, 10) : 100000;
    d->dim = 128;
    d->base = Clustered(n, d->dim, 1, 100, 24);
    d->queries = Clustered(1000, d->dim, 2, 100, 24);
    std::vector<uint8_t> mask(n, 1);
    std::vector<std::vector<Neighbor>> exact;
    ExactSearch(VectorView{d->base.data(), d->dim, n}, d->metric, mask.data(), d->queries.data(), d->nq(), 10,
                &exact);
    for (const auto& e : exact) {
      d->truth.emplace_back();
      for (const Neighbor& nb : e) d->truth.back().push_back(nb.slot);
    }
  }
  Dump(*d);
  const Dataset* out = d.get();
  cache[name] = std::move(d);
  return out;
}

struct Built {
  std::unique_ptr<VectorStore> store;
  std::unique_ptr<HnswIndex> index;
  double build_s = 0;
};

std::unique_ptr<Built> BuildIndex(const Dataset& d, const std::string& spec) {
  auto built = std::make_unique<Built>();
  built->store = std::make_unique<VectorStore>(d.dim);
  built->store->Reserve(d.n());
  for (size_t i = 0; i < d.n(); ++i) {
    std::memcpy(built->store->Row(static_cast<uint32_t>(i)), d.base.data() + i * d.dim, d.dim * 4);
  }
  IndexOptions o = IndexOptions::Parse(spec).value();
  o.ef_construction = 200;
  built->index = HnswIndex::Create(o, d.metric, built->store.get()).value();
  const auto start = std::chrono::steady_clock::now();
  if (built->index->NeedsTraining()) {
    const size_t sample = std::min<size_t>(d.n(), 20000);
    if (!built->index->Train(d.base.data(), sample).ok()) std::abort();
  }
  for (size_t i = 0; i < d.n(); ++i) {
    if (!built->index->Add(static_cast<uint32_t>(i)).ok()) std::abort();
  }
  built->build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return built;
}

std::map<std::string, std::unique_ptr<Built>>& Indexes() {
  static std::map<std::string, std::unique_ptr<Built>> cache;
  return cache;
}

Built* GetIndex(const Dataset& d, const std::string& spec) {
  auto& cache = Indexes();
  const std::string key = d.name + "/" + spec;
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  cache[key] = BuildIndex(d, spec);
  return cache[key].get();
}

void BM_Build(benchmark::State& state, std::string dataset, std::string spec) {
  const Dataset* d = GetDataset(dataset);
  if (d == nullptr) {
    state.SkipWithError("data set not available");
    return;
  }
  std::unique_ptr<Built> built;
  for (auto _ : state) built = BuildIndex(*d, spec);
  state.counters["build_s"] = built->build_s;
  state.counters["bytes_per_vector"] =
      static_cast<double>(built->index->MemoryBytes()) / static_cast<double>(built->index->Size());
  state.counters["n"] = static_cast<double>(d->n());
  Indexes()[d->name + "/" + spec] = std::move(built);  // the search benchmarks reuse it
}

void BM_Search(benchmark::State& state, std::string dataset, std::string spec, double selectivity) {
  const Dataset* d = GetDataset(dataset);
  if (d == nullptr) {
    state.SkipWithError("data set not available");
    return;
  }
  Built* b = GetIndex(*d, spec);
  const uint32_t ef = static_cast<uint32_t>(state.range(0));
  const size_t n = d->n();
  std::vector<uint8_t> mask(n, 1);
  uint64_t allowed = n;
  std::vector<std::vector<uint32_t>> truth = d->truth;
  if (selectivity < 1.0) {
    std::mt19937 rng(7);
    std::bernoulli_distribution keep(selectivity);
    allowed = 0;
    for (auto& m : mask) allowed += (m = keep(rng));
    std::vector<std::vector<Neighbor>> exact;
    ExactSearch(VectorView{d->base.data(), d->dim, n}, d->metric, mask.data(), d->queries.data(), d->nq(), 10,
                &exact);
    truth.clear();
    for (const auto& e : exact) {
      truth.emplace_back();
      for (const Neighbor& nb : e) truth.back().push_back(nb.slot);
    }
  }
  IndexSearchParams p;
  p.k = 10;
  p.ef_search = ef;
  p.mask = mask.data();
  p.mask_size = n;
  p.allowed = allowed;
  std::vector<Neighbor> out;
  IndexSearchStats stats;
  // Recall and effort over every query, outside the timed loop.
  size_t hits = 0;
  uint64_t distances = 0;
  for (size_t q = 0; q < d->nq(); ++q) {
    if (!b->index->Search(d->queries.data() + q * d->dim, p, &out, &stats).ok()) std::abort();
    std::set<uint32_t> want(truth[q].begin(), truth[q].end());
    for (const Neighbor& nb : out) hits += want.count(nb.slot);
    distances += stats.distance_computations;
  }
  size_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b->index->Search(d->queries.data() + q * d->dim, p, &out, &stats).ok());
    if (++q == d->nq()) q = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["recall"] = static_cast<double>(hits) / static_cast<double>(d->nq() * 10);
  state.counters["dist_per_query"] = static_cast<double>(distances) / static_cast<double>(d->nq());
}

// One SQ8 code scored against a query, the inner step of the HNSW-SQ8 walk, two ways: decoding
// each code to floats (Sq8Quantizer::L2Sqr, the walk before issue 15) and the integer form the walk
// uses now (PrepareQuery once per query, then simd dot_u8_i16 + the code's L2 term per code).
// 10,000 codes of dimension state.range(0) (in cache at d 128: 1.3 MB), visited in a scattered
// order as a walk visits them. items_per_second = codes scored per second, at simd::Active()'s
// level (SEXTANT_SIMD=avx2|sse4|scalar to compare levels).
void BM_Sq8Score(benchmark::State& state, bool integer) {
  const size_t d = static_cast<size_t>(state.range(0)), n = 10000;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n * d);
  for (float& x : v) x = 30.0f * normal(rng) + 50.0f;
  Sq8Quantizer quantizer(d);
  quantizer.Train(v.data(), n);
  std::vector<uint8_t> codes(n * d);
  std::vector<float> terms(n);
  for (size_t i = 0; i < n; ++i) {
    quantizer.Encode(v.data() + i * d, codes.data() + i * d);
    terms[i] = quantizer.CodeTerm(codes.data() + i * d);
  }
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>((i * 7919) % n);
  const float* query = v.data() + 5 * d;
  Sq8Quantizer::IntQuery iq;
  const auto fn = simd::Active().dot_u8_i16;
  for (auto _ : state) {
    float sum = 0.0f;
    if (integer) {
      quantizer.PrepareQuery(query, true, &iq);
      for (uint32_t i : order) {
        sum += iq.base + iq.scale * static_cast<float>(fn(iq.q.data(), codes.data() + i * d, d)) + terms[i];
      }
    } else {
      for (uint32_t i : order) sum += quantizer.L2Sqr(query, codes.data() + i * d);
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.SetLabel(std::string(simd::LevelName(simd::Active().level)));
}

void Register() {
  for (const bool integer : {false, true}) {
    benchmark::RegisterBenchmark(integer ? "Sq8Score/integer" : "Sq8Score/decode", BM_Sq8Score, integer)
        ->ArgName("d")
        ->Arg(128)
        ->Arg(384)
        ->Unit(benchmark::kMicrosecond);
  }
  for (const std::string dataset : {"siftsmall", "clustered"}) {
    for (const std::string spec : {"HNSW16", "HNSW16,SQ8"}) {
      benchmark::RegisterBenchmark(("Build/" + dataset + "/" + spec).c_str(), BM_Build, dataset, spec)
          ->Iterations(1)
          ->Unit(benchmark::kSecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("Search/" + dataset + "/" + spec).c_str(), BM_Search, dataset, spec, 1.0)
          ->ArgName("ef")
          ->Arg(10)
          ->Arg(16)
          ->Arg(32)
          ->Arg(64)
          ->Arg(128)
          ->Unit(benchmark::kMicrosecond);
    }
    for (double s : {0.5, 0.1, 0.01}) {
      benchmark::RegisterBenchmark(("FilteredSearch/" + dataset + "/HNSW16/sel" + std::to_string(s).substr(0, 4)).c_str(),
                                   BM_Search, dataset, std::string("HNSW16"), s)
          ->ArgName("ef")
          ->Arg(16)
          ->Arg(64)
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace sextant::index

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sextant::index::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
