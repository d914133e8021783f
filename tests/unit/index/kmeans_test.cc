// K-means (index/kmeans.h): determinism, finding well-separated blobs, empty-cluster repair,
// sampling, spherical centroids, and the GEMM assignment against a direct loop.
#include "index/kmeans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "test_util.h"

namespace sextant::index {
namespace {

// `blobs` centres with components N(0, spread^2), then n points each a centre (round robin) plus
// N(0, sigma^2) noise per component.
std::vector<float> Blobs(size_t n, size_t dim, size_t blobs, float spread, float sigma, uint32_t seed,
                         std::vector<float>* centres) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  centres->resize(blobs * dim);
  for (float& c : *centres) c = spread * g(rng);
  std::vector<float> x(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float* c = centres->data() + (i % blobs) * dim;
    for (size_t j = 0; j < dim; ++j) x[i * dim + j] = c[j] + sigma * g(rng);
  }
  return x;
}

float L2(const float* a, const float* b, size_t d) {
  float s = 0;
  for (size_t i = 0; i < d; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

// The stop flag is polled before the work and between spans of rows: set, KMeans returns
// Aborted; set by another thread during a long run, KMeans returns Aborted before it ends.
TEST(KMeansTest, StopFlagAbortsTraining) {
  std::vector<float> centres;
  const size_t n = 20000, dim = 32;
  const auto x = Blobs(n, dim, 50, 4.0f, 1.0f, 3, &centres);
  KMeansOptions o;
  o.k = 64;
  std::atomic<bool> stop{true};
  o.stop = &stop;
  EXPECT_EQ(KMeans(x.data(), n, dim, o).status().code(), StatusCode::kAborted);
  // Unset, the same call runs to the end and gives what a call without a flag gives.
  stop = false;
  auto with_flag = KMeans(x.data(), n, dim, o);
  ASSERT_TRUE(with_flag.ok()) << with_flag.status().ToString();
  o.stop = nullptr;
  auto without = KMeans(x.data(), n, dim, o);
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(with_flag->centroids, without->centroids);
  EXPECT_EQ(with_flag->iterations, without->iterations);

  // Set during a run that would take many iterations: it ends Aborted, not with a result.
  o.stop = &stop;
  o.max_iterations = 1000000;
  o.max_points_per_centroid = 0;
  std::atomic<bool> started{false};
  std::thread stopper([&] {
    while (!started) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
  });
  started = true;
  std::vector<float> noise(n * dim);
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (float& v : noise) v = g(rng);  // no cluster structure: Lloyd does not converge soon
  auto r = KMeans(noise.data(), n, dim, o);
  stopper.join();
  EXPECT_EQ(r.status().code(), StatusCode::kAborted);
}

TEST(KMeansTest, SameSeedSameCentroidsOtherSeedOthers) {
  const size_t n = 3000, dim = 12;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 7);
  KMeansOptions opt;
  opt.k = 20;
  opt.seed = 42;
  for (auto init : {KMeansOptions::Init::kPlusPlus, KMeansOptions::Init::kRandom}) {
    opt.init = init;
    opt.seed = 42;
    StatusOr<KMeansResult> a = KMeans(x.data(), n, dim, opt);
    StatusOr<KMeansResult> b = KMeans(x.data(), n, dim, opt);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a->centroids, b->centroids);  // bit-identical
    EXPECT_EQ(a->iterations, b->iterations);
    opt.seed = 43;
    StatusOr<KMeansResult> c = KMeans(x.data(), n, dim, opt);
    ASSERT_TRUE(c.ok());
    EXPECT_NE(a->centroids, c->centroids);
  }
}

TEST(KMeansTest, FindsWellSeparatedBlobs) {
  const size_t n = 4000, dim = 16, blobs = 8;
  std::vector<float> centres;
  std::vector<float> x = Blobs(n, dim, blobs, 10.0f, 0.5f, 3, &centres);
  KMeansOptions opt;
  opt.k = blobs;
  StatusOr<KMeansResult> r = KMeans(x.data(), n, dim, opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Every found centroid sits on a distinct true centre (within the noise of a mean of 500
  // points), so the clustering is the true one.
  std::set<size_t> matched;
  for (size_t c = 0; c < blobs; ++c) {
    size_t best = 0;
    for (size_t b = 1; b < blobs; ++b) {
      if (L2(&r->centroids[c * dim], &centres[b * dim], dim) < L2(&r->centroids[c * dim], &centres[best * dim], dim)) {
        best = b;
      }
    }
    EXPECT_LT(L2(&r->centroids[c * dim], &centres[best * dim], dim), 0.05f) << "centroid " << c;
    matched.insert(best);
  }
  EXPECT_EQ(matched.size(), blobs);
  // The objective is the within-blob noise over the sample: 256 * k rows * dim * sigma^2.
  EXPECT_EQ(r->training_points, 256u * blobs);
  EXPECT_NEAR(r->objective, 2048.0 * 16 * 0.25, 800.0);
}

TEST(KMeansTest, RepairsEmptyClusters) {
  // 990 copies of one point and 10 distinct far points: random initialisation picks copies of the
  // same point several times, and all but one of those clusters come out empty.
  const size_t dim = 4;
  std::vector<float> x(1000 * dim, 0.0f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(50.0f, 100.0f);
  for (size_t i = 990; i < 1000; ++i) {
    for (size_t j = 0; j < dim; ++j) x[i * dim + j] = u(rng) * (j % 2 ? 1.0f : -1.0f);
  }
  KMeansOptions opt;
  opt.k = 5;
  opt.init = KMeansOptions::Init::kRandom;
  StatusOr<KMeansResult> r = KMeans(x.data(), 1000, dim, opt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->empty_cluster_repairs, 0u);
  std::vector<uint32_t> labels(1000);
  AssignToCentroids(r->centroids.data(), 5, dim, x.data(), 1000, false, labels.data(), nullptr);
  std::vector<size_t> counts(5);
  for (uint32_t l : labels) ++counts[l];
  for (size_t c = 0; c < 5; ++c) EXPECT_GT(counts[c], 0u) << "cluster " << c << " is empty";
}

TEST(KMeansTest, SamplesAtMostMaxPointsPerCentroid) {
  const size_t n = 5000, dim = 4;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 9);
  KMeansOptions opt;
  opt.k = 4;
  opt.max_points_per_centroid = 100;
  StatusOr<KMeansResult> r = KMeans(x.data(), n, dim, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->training_points, 400u);
  opt.max_points_per_centroid = 0;
  r = KMeans(x.data(), n, dim, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->training_points, n);
}

TEST(KMeansTest, SphericalCentroidsHaveUnitLength) {
  const size_t n = 2000, dim = 8;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 11);
  KMeansOptions opt;
  opt.k = 10;
  opt.inner_product = true;
  opt.spherical = true;
  StatusOr<KMeansResult> r = KMeans(x.data(), n, dim, opt);
  ASSERT_TRUE(r.ok());
  for (size_t c = 0; c < 10; ++c) {
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) norm += double{r->centroids[c * dim + j]} * r->centroids[c * dim + j];
    EXPECT_NEAR(norm, 1.0, 1e-5);
  }
}

TEST(KMeansTest, RejectsBadArguments) {
  std::vector<float> x = ::sextant::testing::RandomVectors(10, 4, 1);
  KMeansOptions opt;
  opt.k = 11;
  EXPECT_EQ(KMeans(x.data(), 10, 4, opt).status().code(), StatusCode::kInvalidArgument);
  opt.k = 0;
  EXPECT_EQ(KMeans(x.data(), 10, 4, opt).status().code(), StatusCode::kInvalidArgument);
  opt.k = 10;  // n == k is allowed: every row is a centroid
  StatusOr<KMeansResult> r = KMeans(x.data(), 10, 4, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->objective, 0.0, 1e-4);
}

TEST(KMeansTest, GemmAssignmentMatchesDirectLoop) {
  // More centroids than one block (1024) and rows than one block (256).
  const size_t n = 700, k = 1500, dim = 9;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 21);
  std::vector<float> c = ::sextant::testing::RandomVectors(k, dim, 22);
  for (bool ip : {false, true}) {
    std::vector<uint32_t> labels(n);
    std::vector<float> dist(n);
    AssignToCentroids(c.data(), k, dim, x.data(), n, ip, labels.data(), dist.data());
    for (size_t i = 0; i < n; ++i) {
      double best = 1e30;
      for (size_t j = 0; j < k; ++j) {
        double d = 0;
        for (size_t t = 0; t < dim; ++t) {
          const double a = x[i * dim + t], b = c[j * dim + t];
          d += ip ? -a * b : (a - b) * (a - b);
        }
        best = std::min(best, d);
      }
      // The chosen centroid is optimal up to float rounding of the expansion.
      double chosen = 0;
      for (size_t t = 0; t < dim; ++t) {
        const double a = x[i * dim + t], b = c[labels[i] * dim + t];
        chosen += ip ? -a * b : (a - b) * (a - b);
      }
      EXPECT_NEAR(chosen, best, 1e-4) << "row " << i << (ip ? " ip" : " l2");
      EXPECT_NEAR(dist[i], best, 1e-4) << "row " << i;
    }
  }
}

}  // namespace
}  // namespace sextant::index
