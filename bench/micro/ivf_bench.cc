// IVF build time (training + adding) and single-threaded search throughput at fixed nprobe, with
// recall@10 as a counter, for IVF-Flat, IVF-SQ8 and IVF-PQ.
//
//   ninja -C build ivf_bench && build/bench/ivf_bench [--benchmark_filter=...]
//
// Data sets (each is skipped when unavailable):
//   clustered   100k x 128 seeded gaussian blobs, each varying inside its own random 24-dimensional
//               subspace plus isotropic noise (L2; exact ground truth computed here); the same
//               vectors as hnsw_bench's "clustered". Size with SEXTANT_BENCH_N (default 100000).
//   siftsmall   ../shared/data/siftsmall (10k x 128, L2, the file's ground truth), or
//               $SEXTANT_DATA_DIR/siftsmall
// SEXTANT_BENCH_DUMP=DIR writes each data set as DIR/<name>_{base,query}.fvecs and
// DIR/<name>_gt.ivecs, so FAISS can be measured on identical vectors (docs/index_params.md shows
// the comparison).
//
// Specs: IVF1024, IVF1024,SQ8, IVF1024,PQ16 on "clustered" (nlist 1024 ~ 3 sqrt(n)), IVF64 and
// IVF64,PQ16 on siftsmall. Training uses every base vector (FAISS would sample 256 * nlist).
//
// Counters: train_s, add_s, build_s (one thread), bytes_per_vector (MemoryBytes / Size), recall
// (mean recall@10 over all queries), lists (probed per query), dist_per_query, and
// items_per_second = queries/s of one thread issuing one query at a time.
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
#include "index/ivf.h"
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

// `clusters` centres N(0, 4); a point is a centre, plus a N(0, 1) combination of the centre's
// `intrinsic` random directions (scaled by 1/sqrt(intrinsic)), plus N(0, 0.01) noise.
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
  std::unique_ptr<VectorIndex> index;
  double train_s = 0;
  double add_s = 0;
};

std::unique_ptr<Built> BuildIndex(const Dataset& d, const std::string& spec) {
  auto built = std::make_unique<Built>();
  built->store = std::make_unique<VectorStore>(d.dim);
  built->store->Reserve(d.n());
  for (size_t i = 0; i < d.n(); ++i) {
    std::memcpy(built->store->Row(static_cast<uint32_t>(i)), d.base.data() + i * d.dim, d.dim * 4);
  }
  const IndexOptions o = IndexOptions::Parse(spec).value();
  built->index = IvfIndex::Create(o, d.metric, built->store.get()).value();
  const auto start = std::chrono::steady_clock::now();
  if (!built->index->Train(d.base.data(), d.n()).ok()) std::abort();
  const auto trained = std::chrono::steady_clock::now();
  for (size_t i = 0; i < d.n(); ++i) {
    if (!built->index->Add(static_cast<uint32_t>(i)).ok()) std::abort();
  }
  const auto added = std::chrono::steady_clock::now();
  built->train_s = std::chrono::duration<double>(trained - start).count();
  built->add_s = std::chrono::duration<double>(added - trained).count();
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
  state.counters["train_s"] = built->train_s;
  state.counters["add_s"] = built->add_s;
  state.counters["build_s"] = built->train_s + built->add_s;
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
  const uint32_t nprobe = static_cast<uint32_t>(state.range(0));
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
  p.nprobe = nprobe;
  p.mask = mask.data();
  p.mask_size = n;
  p.allowed = allowed;
  std::vector<Neighbor> out;
  IndexSearchStats stats;
  // Recall and effort over every query, outside the timed loop.
  size_t hits = 0;
  uint64_t distances = 0, lists = 0;
  for (size_t q = 0; q < d->nq(); ++q) {
    stats = {};
    if (!b->index->Search(d->queries.data() + q * d->dim, p, &out, &stats).ok()) std::abort();
    std::set<uint32_t> want(truth[q].begin(), truth[q].end());
    for (const Neighbor& nb : out) hits += want.count(nb.slot);
    distances += stats.distance_computations;
    lists += stats.effort;
  }
  size_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b->index->Search(d->queries.data() + q * d->dim, p, &out, &stats).ok());
    if (++q == d->nq()) q = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["recall"] = static_cast<double>(hits) / static_cast<double>(d->nq() * 10);
  state.counters["dist_per_query"] = static_cast<double>(distances) / static_cast<double>(d->nq());
  state.counters["lists"] = static_cast<double>(lists) / static_cast<double>(d->nq());
}

void Register() {
  struct Setting {
    std::string dataset;
    std::vector<std::string> specs;
    std::vector<int64_t> nprobes;
  };
  const Setting settings[] = {
      {"siftsmall", {"IVF64", "IVF64,PQ16"}, {1, 2, 4, 8, 16}},
      {"clustered", {"IVF1024", "IVF1024,SQ8", "IVF1024,PQ16"}, {1, 2, 4, 8, 16, 32, 64}},
  };
  for (const Setting& s : settings) {
    for (const std::string& spec : s.specs) {
      benchmark::RegisterBenchmark(("Build/" + s.dataset + "/" + spec).c_str(), BM_Build, s.dataset, spec)
          ->Iterations(1)
          ->Unit(benchmark::kSecond)
          ->UseRealTime();
      auto* search =
          benchmark::RegisterBenchmark(("Search/" + s.dataset + "/" + spec).c_str(), BM_Search, s.dataset, spec, 1.0)
              ->ArgName("nprobe")
              ->Unit(benchmark::kMicrosecond);
      for (int64_t np : s.nprobes) search->Arg(np);
    }
    for (double sel : {0.5, 0.1}) {
      const std::string spec = s.specs.front();
      benchmark::RegisterBenchmark(
          ("FilteredSearch/" + s.dataset + "/" + spec + "/sel" + std::to_string(sel).substr(0, 4)).c_str(), BM_Search,
          s.dataset, spec, sel)
          ->ArgName("nprobe")
          ->Arg(8)
          ->Arg(16)
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
