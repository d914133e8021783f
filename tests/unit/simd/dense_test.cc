// The dense kernels (simd/dense.h) of every level this CPU runs against plain double-precision
// loops: the product over shapes that exercise the 6-row blocks and their leftovers, partial
// panels, k-blocks and row strides; GELU; softmax and LayerNorm with vector tails. Also: nothing
// is written past a row's m columns, and the active table follows SEXTANT_SIMD's level.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "simd/dense.h"
#include "simd/distance.h"

namespace sextant::simd {
namespace {

std::vector<const DenseKernels*> Tables() {
  std::vector<const DenseKernels*> out;
  for (Level level : AvailableLevels()) {
    const DenseKernels* t = DenseForLevel(level);
    EXPECT_NE(t, nullptr) << LevelName(level);
    if (t != nullptr) out.push_back(t);
  }
  return out;
}

double Gelu(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

TEST(DenseTest, EveryLevelHasATableAndTheActiveOneFollowsTheLevel) {
  EXPECT_EQ(DenseForLevel(Level::kScalar)->level, Level::kScalar);
  EXPECT_EQ(DenseForLevel(Level::kSse4) == nullptr, ForLevel(Level::kSse4) == nullptr);
  const Level active = Active().level;
  EXPECT_LE(ActiveDense().level, active);
  EXPECT_EQ(&ActiveDense(), DenseForLevel(active));
}

TEST(DenseTest, GemmMatchesPlainLoops) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const DenseKernels* t : Tables()) {
    for (size_t n : {1u, 5u, 6u, 7u, 13u, 80u}) {
      for (size_t k : {0u, 1u, 7u, 32u, 300u, 600u}) {
        for (size_t m : {1u, 8u, 15u, 16u, 17u, 33u, 64u}) {
          for (bool with_bias : {false, true}) {
            for (Epilogue epi : {Epilogue::kNone, Epilogue::kGelu}) {
              const size_t ldx = k + 3, ldb = m + 2, ldy = m + 5;
              std::vector<float> x(n * ldx), b(k * ldb), bias(m), y(n * ldy, 42.0f);
              for (auto* v : {&x, &b, &bias}) {
                for (float& f : *v) f = u(rng);
              }
              std::vector<float> packed(t->PackedSize(k, m), -1.0f);
              t->PackB(b.data(), k, m, ldb, packed.data());
              t->gemm(x.data(), ldx, packed.data(), with_bias ? bias.data() : nullptr, y.data(), ldy, n, k, m, epi);
              for (size_t i = 0; i < n; ++i) {
                for (size_t j = 0; j < ldy; ++j) {
                  if (j >= m) {
                    ASSERT_EQ(y[i * ldy + j], 42.0f) << "wrote past column m: " << LevelName(t->level);
                    continue;
                  }
                  double want = with_bias ? bias[j] : 0.0;
                  for (size_t p = 0; p < k; ++p) want += double(x[i * ldx + p]) * b[p * ldb + j];
                  if (epi == Epilogue::kGelu) want = Gelu(want);
                  ASSERT_NEAR(y[i * ldy + j], want, 2e-5 * (1 + std::sqrt(double(k))))
                      << LevelName(t->level) << " n " << n << " k " << k << " m " << m << " at " << i << "," << j
                      << (epi == Epilogue::kGelu ? " gelu" : "");
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST(DenseTest, PackTransposedIsPackOfTheTranspose) {
  std::mt19937 rng(6);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const DenseKernels* t : Tables()) {
    const size_t k = 9, m = 37, lda = 12;
    std::vector<float> a(m * lda), at(k * m);
    for (float& f : a) f = u(rng);
    for (size_t p = 0; p < k; ++p) {
      for (size_t j = 0; j < m; ++j) at[p * m + j] = a[j * lda + p];
    }
    std::vector<float> p1(t->PackedSize(k, m)), p2(t->PackedSize(k, m));
    t->PackB(at.data(), k, m, m, p1.data());
    t->PackBTransposed(a.data(), k, m, lda, p2.data());
    EXPECT_EQ(p1, p2) << LevelName(t->level);
  }
}

TEST(DenseTest, GeluMatchesErfFormOverItsRange) {
  for (const DenseKernels* t : Tables()) {
    std::vector<float> x, one(1, 1.0f), y;
    for (float v = -12.0f; v <= 12.0f; v += 0.01f) x.push_back(v);
    std::vector<float> packed(t->PackedSize(1, 1));
    t->PackB(one.data(), 1, 1, 1, packed.data());
    y.resize(x.size());
    t->gemm(x.data(), 1, packed.data(), nullptr, y.data(), 1, x.size(), 1, 1, Epilogue::kGelu);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(y[i], Gelu(x[i]), 3e-7 * (1 + std::fabs(x[i]))) << LevelName(t->level) << " at " << x[i];
    }
  }
}

TEST(DenseTest, SoftmaxRowsMatchPlainLoops) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-30, 30);
  for (const DenseKernels* t : Tables()) {
    for (size_t m : {1u, 3u, 8u, 15u, 16u, 17u, 40u, 257u}) {
      const size_t n = 5, ld = m + 4;
      std::vector<float> x(n * ld);
      for (float& f : x) f = u(rng);
      const std::vector<float> orig = x;
      const float scale = 0.17f;
      t->softmax_rows(x.data(), n, m, ld, scale);
      for (size_t i = 0; i < n; ++i) {
        double max = -1e30, sum = 0;
        for (size_t j = 0; j < m; ++j) max = std::max<double>(max, orig[i * ld + j]);
        for (size_t j = 0; j < m; ++j) sum += std::exp((orig[i * ld + j] - max) * scale);
        for (size_t j = 0; j < ld; ++j) {
          if (j >= m) {
            ASSERT_EQ(x[i * ld + j], orig[i * ld + j]) << "wrote past column m";
            continue;
          }
          const double want = std::exp((orig[i * ld + j] - max) * scale) / sum;
          ASSERT_NEAR(x[i * ld + j], want, 1e-6 * want + 1e-9) << LevelName(t->level) << " m " << m;
        }
      }
    }
  }
}

TEST(DenseTest, LayerNormRowsMatchPlainLoops) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-3, 3);
  for (const DenseKernels* t : Tables()) {
    for (size_t d : {1u, 7u, 8u, 16u, 23u, 384u}) {
      for (bool with_add : {false, true}) {
        const size_t n = 4;
        std::vector<float> x(n * d), add(n * d), gamma(d), beta(d);
        for (auto* v : {&x, &add, &gamma, &beta}) {
          for (float& f : *v) f = u(rng);
        }
        const std::vector<float> orig = x;
        t->layernorm_rows(x.data(), with_add ? add.data() : nullptr, n, d, gamma.data(), beta.data(), 1e-5f);
        for (size_t i = 0; i < n; ++i) {
          std::vector<double> v(d);
          double mean = 0, var = 0;
          for (size_t j = 0; j < d; ++j) mean += v[j] = double(orig[i * d + j]) + (with_add ? add[i * d + j] : 0.0);
          mean /= double(d);
          for (size_t j = 0; j < d; ++j) var += (v[j] - mean) * (v[j] - mean);
          var /= double(d);
          for (size_t j = 0; j < d; ++j) {
            const double want = (v[j] - mean) / std::sqrt(var + 1e-5) * gamma[j] + beta[j];
            ASSERT_NEAR(x[i * d + j], want, 1e-4) << LevelName(t->level) << " d " << d << " at " << i << "," << j;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sextant::simd
