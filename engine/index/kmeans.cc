// K-means (kmeans.h). Memory: the sample (at most max_points_per_centroid * k rows, copied only
// when sampling drops rows), k * dim double sums, and per-row labels and distances.
#include "index/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <numeric>
#include <random>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <Eigen/Core>

#include "simd/distance.h"

namespace sextant::index {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows of x and centroids per matrix product: a 256 x 1024 score block is 1 MiB.
constexpr size_t kRowBlock = 256;
constexpr size_t kCentroidBlock = 1024;
// Rows assigned between two checks of KMeansOptions::stop: a whole number of row blocks.
constexpr size_t kStopCheckRows = 16 * kRowBlock;

// Uniform integer in [0, n) from a 64-bit generator; written out (not a std distribution) so
// the sequence is the same with every standard library.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) { return rng() % n; }
double UniformUnit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// The first `m` entries of a seeded Fisher-Yates shuffle of 0..n-1.
std::vector<uint32_t> SampleWithoutReplacement(size_t n, size_t m, std::mt19937_64& rng) {
  std::vector<uint32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0u);
  for (size_t i = 0; i < m; ++i) {
    const size_t j = i + static_cast<size_t>(UniformBelow(rng, n - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(m);
  return idx;
}

void InitRandom(const float* x, size_t n, size_t dim, size_t k, std::mt19937_64& rng,
                float* centroids) {
  const std::vector<uint32_t> pick = SampleWithoutReplacement(n, k, rng);
  for (size_t c = 0; c < k; ++c) std::memcpy(centroids + c * dim, x + size_t{pick[c]} * dim, dim * 4);
}

// k-means++: each next centroid is a row drawn with probability proportional to its squared
// distance to the nearest centroid chosen so far.
void InitPlusPlus(const float* x, size_t n, size_t dim, size_t k, std::mt19937_64& rng,
                  float* centroids) {
  const simd::Kernels& kern = simd::Active();
  std::vector<float> nearest(n), d(n);
  size_t pick = static_cast<size_t>(UniformBelow(rng, n));
  for (size_t c = 0; c < k; ++c) {
    const float* row = x + pick * dim;
    std::memcpy(centroids + c * dim, row, dim * 4);
    if (c + 1 == k) break;
    kern.l2sq_batch(row, x, n, dim, d.data());
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      nearest[i] = c == 0 ? d[i] : std::min(nearest[i], d[i]);
      total += nearest[i];
    }
    if (!(total > 0)) {  // every row coincides with a centroid: any row will do
      pick = static_cast<size_t>(UniformBelow(rng, n));
      continue;
    }
    const double target = UniformUnit(rng) * total;
    double acc = 0;
    pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      acc += nearest[i];
      if (acc > target && nearest[i] > 0) {
        pick = i;
        break;
      }
    }
  }
}

}  // namespace

namespace {

// The index of the smallest value(i) for i in [0, n) (n >= 1), the first on ties. vec4(i) gives
// value(i .. i + 3) as one SSE2 vector, scalar(i) gives value(i). Two independent sets of four
// lanes (so two compare-and-select chains run in parallel); lane j of a set tracks the first
// minimum of its indices, and merging prefers the lower index on equal values.
template <typename Vec4, typename Scalar>
size_t ArgMinOf(size_t n, Vec4&& vec4, Scalar&& scalar, float* min_value) {
  size_t best = 0;
  float best_v = scalar(0);
  size_t i = 1;
#if defined(__SSE2__)
  if (n >= 16) {
    __m128 lo_a = vec4(0), lo_b = vec4(4);
    __m128i idx_a = _mm_setr_epi32(0, 1, 2, 3);
    __m128i idx_b = _mm_setr_epi32(4, 5, 6, 7);
    __m128i best_a = idx_a, best_b = idx_b;
    const __m128i eight = _mm_set1_epi32(8);
    auto step = [](__m128 x, __m128i idx, __m128* lo, __m128i* lo_idx) {
      const __m128 lt = _mm_cmplt_ps(x, *lo);
      *lo = _mm_or_ps(_mm_and_ps(lt, x), _mm_andnot_ps(lt, *lo));
      const __m128i take = _mm_castps_si128(lt);
      *lo_idx = _mm_or_si128(_mm_and_si128(take, idx), _mm_andnot_si128(take, *lo_idx));
    };
    for (i = 8; i + 8 <= n; i += 8) {
      idx_a = _mm_add_epi32(idx_a, eight);
      idx_b = _mm_add_epi32(idx_b, eight);
      step(vec4(i), idx_a, &lo_a, &best_a);
      step(vec4(i + 4), idx_b, &lo_b, &best_b);
    }
    alignas(16) float vals[8];
    alignas(16) int32_t ids[8];
    _mm_store_ps(vals, lo_a);
    _mm_store_ps(vals + 4, lo_b);
    _mm_store_si128(reinterpret_cast<__m128i*>(ids), best_a);
    _mm_store_si128(reinterpret_cast<__m128i*>(ids + 4), best_b);
    best = static_cast<size_t>(ids[0]);
    best_v = vals[0];
    for (int j = 1; j < 8; ++j) {
      if (vals[j] < best_v || (vals[j] == best_v && static_cast<size_t>(ids[j]) < best)) {
        best_v = vals[j];
        best = static_cast<size_t>(ids[j]);
      }
    }
  }
#endif
  for (; i < n; ++i) {
    const float v = scalar(i);
    if (v < best_v) {
      best_v = v;
      best = i;
    }
  }
  if (min_value != nullptr) *min_value = best_v;
  return best;
}

}  // namespace

size_t ArgMin(const float* v, size_t n) {
#if defined(__SSE2__)
  auto vec4 = [v](size_t i) { return _mm_loadu_ps(v + i); };
#else
  auto vec4 = [](size_t) { return 0; };
#endif
  return ArgMinOf(n, vec4, [v](size_t i) { return v[i]; }, nullptr);
}

void AssignToCentroids(const float* centroids, size_t k, size_t dim, const float* x, size_t n,
                       bool inner_product, uint32_t* labels, float* distances) {
  const auto d = static_cast<Eigen::Index>(dim);
  Eigen::Map<const RowMatrix> all_c(centroids, static_cast<Eigen::Index>(k), d);
  Eigen::VectorXf half_norms;
  if (!inner_product) half_norms = 0.5f * all_c.rowwise().squaredNorm();
  RowMatrix scores;
  std::vector<float> best(std::min(n, kRowBlock));
  for (size_t r0 = 0; r0 < n; r0 += kRowBlock) {
    const size_t rows = std::min(kRowBlock, n - r0);
    Eigen::Map<const RowMatrix> xb(x + r0 * dim, static_cast<Eigen::Index>(rows), d);
    Eigen::VectorXf x_norms;
    if (!inner_product) x_norms = xb.rowwise().squaredNorm();
    std::fill(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(rows),
              std::numeric_limits<float>::infinity());
    for (size_t r = 0; r < rows; ++r) labels[r0 + r] = 0;
    for (size_t c0 = 0; c0 < k; c0 += kCentroidBlock) {
      const size_t cols = std::min(kCentroidBlock, k - c0);
      scores.noalias() = xb * all_c.middleRows(static_cast<Eigen::Index>(c0),
                                               static_cast<Eigen::Index>(cols)).transpose();
      for (size_t r = 0; r < rows; ++r) {
        const float* s = scores.data() + r * cols;
        float value;
        size_t arg;
        // One pass: the distance expansion and the running minimum, four centroids at a time.
        if (inner_product) {
#if defined(__SSE2__)
          auto vec4 = [s](size_t i) { return _mm_sub_ps(_mm_setzero_ps(), _mm_loadu_ps(s + i)); };
#else
          auto vec4 = [](size_t) { return 0; };
#endif
          arg = ArgMinOf(cols, vec4, [s](size_t i) { return -s[i]; }, &value);
        } else {
          // argmin |x - c|^2 = argmin (|c|^2 / 2 - x.c); |x|^2 + 2 * that minimum is the distance.
          const float* hn = half_norms.data() + c0;
#if defined(__SSE2__)
          auto vec4 = [&](size_t i) { return _mm_sub_ps(_mm_loadu_ps(hn + i), _mm_loadu_ps(s + i)); };
#else
          auto vec4 = [](size_t) { return 0; };
#endif
          arg = ArgMinOf(cols, vec4, [&](size_t i) { return hn[i] - s[i]; }, &value);
          value = x_norms[static_cast<Eigen::Index>(r)] + 2.0f * value;
        }
        if (value < best[r]) {
          best[r] = value;
          labels[r0 + r] = static_cast<uint32_t>(c0 + arg);
        }
      }
    }
    if (distances != nullptr) {
      for (size_t r = 0; r < rows; ++r) {
        distances[r0 + r] = inner_product ? best[r] : std::max(best[r], 0.0f);
      }
    }
  }
}

StatusOr<KMeansResult> KMeans(const float* x, size_t n, size_t dim, const KMeansOptions& options) {
  const size_t k = options.k;
  if (k == 0 || dim == 0) return Status::InvalidArgument("kmeans: k and dim must be >= 1");
  if (n < k) {
    return Status::InvalidArgument("kmeans: " + std::to_string(n) + " training points for " +
                                   std::to_string(k) + " clusters (need at least as many)");
  }
  if (n > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument("kmeans: more than 2^32 - 1 training points");
  }
  try {
    std::mt19937_64 rng(options.seed);
    KMeansResult result;

    // 1. Sample (sorted, so the copy reads the input in order).
    std::vector<float> sample_rows;
    const float* data = x;
    size_t m = n;
    if (options.max_points_per_centroid > 0 && n / options.max_points_per_centroid >= k &&
        n > options.max_points_per_centroid * k) {
      m = options.max_points_per_centroid * k;
      std::vector<uint32_t> pick = SampleWithoutReplacement(n, m, rng);
      std::sort(pick.begin(), pick.end());
      sample_rows.resize(m * dim);
      for (size_t i = 0; i < m; ++i) std::memcpy(&sample_rows[i * dim], x + size_t{pick[i]} * dim, dim * 4);
      data = sample_rows.data();
    }
    result.training_points = m;

    auto stopped = [&] { return options.stop != nullptr && options.stop->load(std::memory_order_relaxed); };
    if (stopped()) return Status::Aborted("kmeans: stopped");

    // 2. Initialise.
    result.centroids.resize(k * dim);
    float* cent = result.centroids.data();
    bool plus_plus = options.init == KMeansOptions::Init::kPlusPlus;
    if (options.init == KMeansOptions::Init::kAuto) {
      plus_plus = static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(dim) <=
                  KMeansOptions::kPlusPlusBudget;
    }
    if (plus_plus) {
      InitPlusPlus(data, m, dim, k, rng, cent);
    } else {
      InitRandom(data, m, dim, k, rng, cent);
    }
    auto normalize_centroid = [&](size_t c) {
      if (options.spherical) simd::Normalize(cent + c * dim, dim);
    };
    for (size_t c = 0; c < k; ++c) normalize_centroid(c);

    // 3. Lloyd iterations.
    std::vector<uint32_t> labels(m), previous(m);
    std::vector<float> dist(m);
    std::vector<double> sums(k * dim);
    std::vector<size_t> counts(k);
    std::vector<uint32_t> by_distance;
    for (int it = 0; it < options.max_iterations; ++it) {
      // In spans of whole row blocks, so the result is the same as one call's, with a stop check
      // between spans.
      for (size_t r0 = 0; r0 < m; r0 += kStopCheckRows) {
        if (stopped()) return Status::Aborted("kmeans: stopped");
        AssignToCentroids(cent, k, dim, data + r0 * dim, std::min(kStopCheckRows, m - r0), options.inner_product,
                          labels.data() + r0, dist.data() + r0);
      }
      result.iterations = it + 1;
      result.objective = std::accumulate(dist.begin(), dist.end(), 0.0);
      if (it > 0 && labels == previous) break;  // converged: the centroids are already the means

      std::fill(sums.begin(), sums.end(), 0.0);
      std::fill(counts.begin(), counts.end(), 0);
      for (size_t i = 0; i < m; ++i) {
        double* s = &sums[size_t{labels[i]} * dim];
        const float* row = data + i * dim;
        for (size_t j = 0; j < dim; ++j) s[j] += row[j];
        ++counts[labels[i]];
      }

      // 4. Empty clusters take the rows farthest from their centroids.
      size_t empties = static_cast<size_t>(std::count(counts.begin(), counts.end(), size_t{0}));
      if (empties > 0) {
        by_distance.resize(m);
        std::iota(by_distance.begin(), by_distance.end(), 0u);
        std::stable_sort(by_distance.begin(), by_distance.end(),
                         [&](uint32_t a, uint32_t b) { return dist[a] > dist[b]; });
        size_t next = 0;
        for (size_t e = 0; e < k; ++e) {
          if (counts[e] != 0) continue;
          // The farthest row whose cluster keeps another row and that does not sit on its
          // centroid (moving a duplicate of a centroid separates nothing).
          while (next < m && (counts[labels[by_distance[next]]] <= 1 ||
                              (!options.inner_product && !(dist[by_distance[next]] > 0.0f)))) {
            ++next;
          }
          if (next == m) break;  // fewer than k distinct rows: leave the rest where they are
          const uint32_t i = by_distance[next++];
          const float* row = data + size_t{i} * dim;
          double* from = &sums[size_t{labels[i]} * dim];
          double* to = &sums[e * dim];
          for (size_t j = 0; j < dim; ++j) {
            from[j] -= row[j];
            to[j] = row[j];
          }
          --counts[labels[i]];
          counts[e] = 1;
          labels[i] = static_cast<uint32_t>(e);
          ++result.empty_cluster_repairs;
        }
      }

      for (size_t c = 0; c < k; ++c) {
        if (counts[c] == 0) continue;  // keep its previous position
        const double inv = 1.0 / static_cast<double>(counts[c]);
        for (size_t j = 0; j < dim; ++j) cent[c * dim + j] = static_cast<float>(sums[c * dim + j] * inv);
        normalize_centroid(c);
      }
      previous.swap(labels);
    }
    return result;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("kmeans: out of memory for " + std::to_string(n) + " x " +
                                     std::to_string(dim) + " training points");
  } catch (...) {
    return Status::Internal("kmeans: unexpected exception");
  }
}

}  // namespace sextant::index
