// Throughput of the batch distance kernels (one query against n contiguous rows, as a flat scan
// runs them) for every SIMD level this CPU can run, beside a memory-bandwidth reference over the
// same bytes, so the report shows what share of the bandwidth a scan reaches.
//
//   kernels_bench [--benchmark_filter=...] [--benchmark_min_time=0.1]
//
// Names are <kernel>/<level>/d<dim>/<set>: kernel l2sq_batch, dot_batch or dot_rows; set 64MiB (far larger
// than the caches: a DRAM scan) or 1MiB (fits in L2). bytes_per_second counts the rows scanned,
// n * d * 4 bytes per call; the query and the 8 KiB of results stay in L1. As in index/flat.cc,
// the base is scanned in blocks of 2048 rows into one reused output buffer. Set lists80 is an IVF
// list scan's pattern: runs of 80 rows from random places in the 64 MiB.
//
// The reference, stream_sum/<isa>/<set>, adds up the same floats with a plain loop: eight
// independent accumulators so that neither add latency nor the loop limits it. The sse2 version
// is x86-64 baseline code like the rest of this file; the avx2 and avx512 versions are compiled
// for those ISAs through a target attribute on the one function each (no -m flag on this file)
// and are registered only when the CPU has them. Out of cache, all of them measure the DRAM
// bandwidth one core can pull; in L2, the widest one is the ceiling for a scan.
#include <immintrin.h>

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "simd/distance.h"

namespace {

using sextant::simd::Kernels;
using sextant::simd::Level;

constexpr size_t kLargeBytes = size_t{64} << 20;  // out of cache
constexpr size_t kSmallBytes = size_t{1} << 20;   // in L2
constexpr size_t kBlockRows = 2048;               // index/flat.cc's block
constexpr size_t kDims[] = {32, 128, 384, 768, 1536};

// 64 MiB of random floats in [-1, 1), made once and shared by every benchmark.
const std::vector<float>& Base() {
  static const std::vector<float> base = [] {
    std::vector<float> v(kLargeBytes / sizeof(float));
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& x : v) x = u(rng);
    return v;
  }();
  return base;
}

enum class Kernel { kL2sqBatch, kDotBatch, kDotRows };

const char* KernelName(Kernel k) {
  return k == Kernel::kL2sqBatch ? "l2sq_batch/" : k == Kernel::kDotBatch ? "dot_batch/" : "dot_rows/";
}

void BM_Scan(benchmark::State& state, const Kernels* kernels, Kernel kernel, size_t dim, size_t bytes) {
  const float* base = Base().data();
  const size_t rows = bytes / (dim * sizeof(float));
  std::vector<float> query(dim);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : query) x = u(rng);
  std::vector<float> out(kBlockRows);
  const auto batch = kernel == Kernel::kL2sqBatch ? kernels->l2sq_batch
                     : kernel == Kernel::kDotBatch ? kernels->dot_batch
                                                   : kernels->dot_rows;
  for (auto _ : state) {
    for (size_t start = 0; start < rows; start += kBlockRows) {
      const size_t n = std::min(kBlockRows, rows - start);
      batch(query.data(), base + start * dim, n, dim, out.data());
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rows * dim * sizeof(float)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows));  // distances
}

// An IVF list scan's pattern: 80 rows (a list of a 100k-point, 1264-list index) at a time, each
// run of rows starting at a random place in the 64 MiB, so every call starts cold.
void BM_Lists(benchmark::State& state, const Kernels* kernels, Kernel kernel, size_t dim) {
  constexpr size_t kListRows = 80;
  const float* base = Base().data();
  const size_t rows = kLargeBytes / (dim * sizeof(float));
  std::vector<float> query(dim), out(kListRows);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : query) x = u(rng);
  std::vector<size_t> starts(4096);
  for (size_t& st : starts) st = std::uniform_int_distribution<size_t>(0, rows - kListRows)(rng);
  const auto batch = kernel == Kernel::kL2sqBatch ? kernels->l2sq_batch
                     : kernel == Kernel::kDotBatch ? kernels->dot_batch
                                                   : kernels->dot_rows;
  size_t next = 0;
  for (auto _ : state) {
    for (size_t c = 0; c < 16; ++c, next = (next + 1) % starts.size()) {
      batch(query.data(), base + starts[next] * dim, kListRows, dim, out.data());
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * 16 * kListRows * dim * sizeof(float)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 16 * kListRows));
}

// The bandwidth reference, three widths. Each returns the sum so the loads cannot be dropped.
// The eight accumulators are spelled out: in an array, GCC -O2 keeps them in memory.
float StreamSumSse2(const float* p, size_t n) {
  __m128 s0 = _mm_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm_add_ps(s0, _mm_loadu_ps(p + i));
    s1 = _mm_add_ps(s1, _mm_loadu_ps(p + i + 4));
    s2 = _mm_add_ps(s2, _mm_loadu_ps(p + i + 8));
    s3 = _mm_add_ps(s3, _mm_loadu_ps(p + i + 12));
    s4 = _mm_add_ps(s4, _mm_loadu_ps(p + i + 16));
    s5 = _mm_add_ps(s5, _mm_loadu_ps(p + i + 20));
    s6 = _mm_add_ps(s6, _mm_loadu_ps(p + i + 24));
    s7 = _mm_add_ps(s7, _mm_loadu_ps(p + i + 28));
  }
  const __m128 t = _mm_add_ps(_mm_add_ps(_mm_add_ps(s0, s1), _mm_add_ps(s2, s3)),
                              _mm_add_ps(_mm_add_ps(s4, s5), _mm_add_ps(s6, s7)));
  float lanes[4];
  _mm_storeu_ps(lanes, t);
  float sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) sum += p[i];
  return sum;
}

__attribute__((target("avx2"))) float StreamSumAvx2(const float* p, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(p + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(p + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(p + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(p + i + 24));
    s4 = _mm256_add_ps(s4, _mm256_loadu_ps(p + i + 32));
    s5 = _mm256_add_ps(s5, _mm256_loadu_ps(p + i + 40));
    s6 = _mm256_add_ps(s6, _mm256_loadu_ps(p + i + 48));
    s7 = _mm256_add_ps(s7, _mm256_loadu_ps(p + i + 56));
  }
  const __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                                 _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
  float lanes[8];
  _mm256_storeu_ps(lanes, t);
  float sum = 0.0f;
  for (float x : lanes) sum += x;
  for (; i < n; ++i) sum += p[i];
  return sum;
}

__attribute__((target("avx512f"))) float StreamSumAvx512(const float* p, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(p + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_loadu_ps(p + i + 48));
    s4 = _mm512_add_ps(s4, _mm512_loadu_ps(p + i + 64));
    s5 = _mm512_add_ps(s5, _mm512_loadu_ps(p + i + 80));
    s6 = _mm512_add_ps(s6, _mm512_loadu_ps(p + i + 96));
    s7 = _mm512_add_ps(s7, _mm512_loadu_ps(p + i + 112));
  }
  const __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                                 _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
  float lanes[16];
  _mm512_storeu_ps(lanes, t);
  float sum = 0.0f;
  for (float x : lanes) sum += x;
  for (; i < n; ++i) sum += p[i];
  return sum;
}

void BM_StreamSum(benchmark::State& state, float (*sum)(const float*, size_t), size_t bytes) {
  const float* base = Base().data();
  const size_t n = bytes / sizeof(float);
  for (auto _ : state) {
    float s = sum(base, n);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * sizeof(float)));
}

std::string SetName(size_t bytes) { return bytes == kLargeBytes ? "64MiB" : "1MiB"; }

void RegisterAll() {
  const size_t sets[] = {kLargeBytes, kSmallBytes};
  for (size_t bytes : sets) {
    benchmark::RegisterBenchmark(("stream_sum/sse2/" + SetName(bytes)).c_str(), BM_StreamSum,
                                 StreamSumSse2, bytes);
    if (__builtin_cpu_supports("avx2")) {
      benchmark::RegisterBenchmark(("stream_sum/avx2/" + SetName(bytes)).c_str(), BM_StreamSum,
                                   StreamSumAvx2, bytes);
    }
    if (__builtin_cpu_supports("avx512f")) {
      benchmark::RegisterBenchmark(("stream_sum/avx512/" + SetName(bytes)).c_str(), BM_StreamSum,
                                   StreamSumAvx512, bytes);
    }
  }
  for (size_t bytes : sets) {
    for (const Kernel kernel : {Kernel::kL2sqBatch, Kernel::kDotBatch, Kernel::kDotRows}) {
      for (Level level : sextant::simd::AvailableLevels()) {
        const Kernels* kernels = sextant::simd::ForLevel(level);
        for (size_t dim : kDims) {
          const std::string name = std::string(KernelName(kernel)) + std::string(sextant::simd::LevelName(level)) +
                                   "/d" + std::to_string(dim) + "/" + SetName(bytes);
          benchmark::RegisterBenchmark(name.c_str(), BM_Scan, kernels, kernel, dim, bytes);
        }
      }
    }
  }
  // IVF list scans (bench/README.md, "IVF list scan"): d 128 only.
  for (const Kernel kernel : {Kernel::kL2sqBatch, Kernel::kDotRows}) {
    for (Level level : sextant::simd::AvailableLevels()) {
      const std::string name =
          std::string(KernelName(kernel)) + std::string(sextant::simd::LevelName(level)) + "/d128/lists80";
      benchmark::RegisterBenchmark(name.c_str(), BM_Lists, sextant::simd::ForLevel(level), kernel, size_t{128});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
