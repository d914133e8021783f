// K-means clustering on Eigen: the trainer behind the IVF coarse quantizer (ivf.h) and the
// product quantizer's sub-codebooks (pq.h).
//
// Algorithm (Lloyd 1982; initialisation by Arthur & Vassilvitskii, "k-means++: the advantages of
// careful seeding", SODA 2007), arranged the way FAISS's `Clustering` (faiss/Clustering.h) does it:
//  1. Sampling: at most `max_points_per_centroid * k` rows take part (FAISS: 256 per centroid);
//     the sample is drawn without replacement from a generator seeded with `seed`.
//  2. Initialisation: k-means++ (D^2 sampling, squared L2 even for inner product) when its cost
//     n * k * dim stays below a budget, else k distinct random rows of the sample (FAISS's
//     choice). `init` forces one or the other.
//  3. Lloyd iterations: each row goes to its nearest centroid, then each centroid moves to the
//     mean of its rows. The assignment is one blocked matrix product per block of rows:
//     |x - c|^2 = |x|^2 - 2 x.c + |c|^2, or -x.c for inner product (argmax of the dot product).
//     Stops after `max_iterations` or when no row changes cluster.
//  4. Empty clusters are repaired after each assignment: the rows farthest from their centroids
//     (taken from clusters that keep at least one row) become the empty clusters' new centroids,
//     the relocation scikit-learn uses. Clusters therefore never stay empty while the sample has
//     at least k distinct rows.
//  5. Spherical k-means (Dhillon & Modha 2001) for inner product / cosine: centroids are scaled to
//     unit length after each update, as FAISS's IndexIVF does for METRIC_INNER_PRODUCT.
//
// Determinism: the same input, options and seed give bit-identical centroids (single-threaded
// Eigen; no OpenMP). Eigen here is compiled for the x86-64 baseline (SSE2): no -m flags on these
// files (shared/BUILD-NOTES.md, pitfall 5), so training runs on any CPU but uses neither AVX2 nor
// AVX-512 for its products; the k-means++ distance pass uses the dispatched SIMD kernels.
//
// Threading: the functions are reentrant; nothing is shared between calls.
// Errors: InvalidArgument for n < k or k == 0 or dim == 0; ResourceExhausted when memory runs out;
// Aborted when options.stop was set.
#ifndef SEXTANT_INDEX_KMEANS_H_
#define SEXTANT_INDEX_KMEANS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "sextant/status.h"

namespace sextant::index {

struct KMeansOptions {
  enum class Init {
    kAuto,      // k-means++ when n * k * dim <= kPlusPlusBudget, else random rows
    kPlusPlus,  // always k-means++
    kRandom,    // always k distinct random rows of the sample
  };

  // Number of clusters, >= 1.
  size_t k = 0;
  // Lloyd iterations at most (FAISS uses 10 for IVF coarse quantizers, 25 for PQ codebooks).
  int max_iterations = 25;
  // Seeds sampling, initialisation and nothing else.
  uint64_t seed = 1234;
  // The training sample is capped at max_points_per_centroid * k rows; 0 = no cap.
  size_t max_points_per_centroid = 256;
  // Assign by the largest dot product instead of the smallest squared L2 distance.
  bool inner_product = false;
  // Scale centroids to unit length after each update (spherical k-means).
  bool spherical = false;
  Init init = Init::kAuto;
  // When not null, polled before each Lloyd iteration and between blocks of rows of each
  // assignment (a few milliseconds of work apart): once it reads true, KMeans gives up with
  // Aborted. Lets a collection being dropped or closed stop a long training.
  const std::atomic<bool>* stop = nullptr;

  // Multiply-adds k-means++ may spend (n * k * dim) under Init::kAuto: ~1 s on one core.
  static constexpr double kPlusPlusBudget = 4.0e9;
};

struct KMeansResult {
  std::vector<float> centroids;  // k rows of dim floats, row-major
  // Final sum over the sample of the distance to the assigned centroid (squared L2, or the
  // negated dot product for inner product), as of the last assignment.
  double objective = 0;
  int iterations = 0;                // Lloyd iterations run
  size_t empty_cluster_repairs = 0;  // centroids relocated because their cluster was empty
  size_t training_points = 0;        // rows after sampling
};

// Clusters n row-major vectors of `dim` floats (all finite) into options.k clusters.
StatusOr<KMeansResult> KMeans(const float* x, size_t n, size_t dim, const KMeansOptions& options);

// For each of n rows of x, the index of the nearest of k centroids (smallest squared L2, or
// largest dot product when inner_product) into labels[i], and that distance (squared L2, or the
// negated dot product) into distances[i] when distances is not null. Ties go to the lower index.
// Blocked matrix products (Eigen); distances from the |x|^2 - 2 x.c + |c|^2 expansion, clamped at
// 0, so they may differ from a direct computation in the last bits. May throw std::bad_alloc;
// KMeans catches it.
void AssignToCentroids(const float* centroids, size_t k, size_t dim, const float* x, size_t n,
                       bool inner_product, uint32_t* labels, float* distances);

// The index of the smallest of v[0..n) (n >= 1), the first one on ties; NaNs are never chosen
// unless v[0] is one. SSE2 (the x86-64 baseline), four lanes, then a scalar tail.
size_t ArgMin(const float* v, size_t n);

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_KMEANS_H_
