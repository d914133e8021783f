#include "index/sq8.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "simd/distance.h"
#include "test_util.h"

namespace sextant::index {
namespace {

// Dimensions that exercise every SIMD tail (faiss test_distances_dispatch.cpp's list) plus
// common embedding widths.
const size_t kDims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 64, 100, 128, 384};

struct Ranges {
  std::vector<float> lo, hi;
};

Ranges RangesOf(const std::vector<float>& v, size_t n, size_t dim) {
  Ranges r{std::vector<float>(v.begin(), v.begin() + dim), std::vector<float>(v.begin(), v.begin() + dim)};
  for (size_t i = 1; i < n; ++i) {
    for (size_t j = 0; j < dim; ++j) {
      r.lo[j] = std::min(r.lo[j], v[i * dim + j]);
      r.hi[j] = std::max(r.hi[j], v[i * dim + j]);
    }
  }
  return r;
}

// Data with a different scale and offset per dimension, so per-dimension ranges matter.
std::vector<float> SkewedVectors(size_t n, size_t dim, uint32_t seed) {
  std::vector<float> v = ::sextant::testing::RandomVectors(n, dim, seed);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < dim; ++j) v[i * dim + j] = v[i * dim + j] * (1.0f + j % 5) + 0.5f * (j % 3);
  }
  return v;
}

TEST(Sq8Test, UntrainedUntilTrain) {
  Sq8Quantizer q(8);
  EXPECT_FALSE(q.trained());
  EXPECT_EQ(q.code_size(), 8u);
  q.Train(nullptr, 0);  // n == 0 learns nothing
  EXPECT_FALSE(q.trained());
  std::vector<float> v = ::sextant::testing::RandomVectors(10, 8, 1);
  q.Train(v.data(), 10);
  EXPECT_TRUE(q.trained());
}

TEST(Sq8Test, RoundTripWithinHalfAStep) {
  for (size_t dim : kDims) {
    const size_t n = 500;
    std::vector<float> v = SkewedVectors(n, dim, 7);
    Sq8Quantizer q(dim);
    q.Train(v.data(), n);
    const Ranges r = RangesOf(v, n, dim);
    std::vector<uint8_t> code(dim);
    std::vector<float> back(dim);
    for (size_t i = 0; i < n; ++i) {
      q.Encode(v.data() + i * dim, code.data());
      q.Decode(code.data(), back.data());
      for (size_t j = 0; j < dim; ++j) {
        const float step = (r.hi[j] - r.lo[j]) / 255.0f;
        ASSERT_LE(std::fabs(back[j] - v[i * dim + j]), 0.5f * step * 1.001f + 1e-6f)
            << "dim " << dim << " row " << i << " component " << j;
      }
    }
  }
}

TEST(Sq8Test, ValuesOutsideTheTrainedRangeClamp) {
  const size_t dim = 4;
  std::vector<float> v = {0, -1, 10, 5,  //
                          1, 1, 20, 5};
  Sq8Quantizer q(dim);
  q.Train(v.data(), 2);
  const float x[dim] = {-3, 7, 15, 100};
  uint8_t code[dim];
  q.Encode(x, code);
  EXPECT_EQ(code[0], 0);
  EXPECT_EQ(code[1], 255);
  EXPECT_NEAR(code[2], 128, 1);
  EXPECT_EQ(code[3], 0);  // a constant dimension has one code
  float back[dim];
  q.Decode(code, back);
  EXPECT_FLOAT_EQ(back[0], 0.0f);
  EXPECT_FLOAT_EQ(back[1], 1.0f);
  EXPECT_FLOAT_EQ(back[3], 5.0f);
}

TEST(Sq8Test, NonFiniteInputEncodesWithoutCrashing) {
  const size_t dim = 3;
  std::vector<float> v = {0, 0, 0, 1, 1, 1};
  Sq8Quantizer q(dim);
  q.Train(v.data(), 2);
  const float x[dim] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity()};
  uint8_t code[dim];
  q.Encode(x, code);
  EXPECT_EQ(code[0], 0);
  EXPECT_EQ(code[1], 255);
  EXPECT_EQ(code[2], 0);
}

// Ranges near FLT_MAX: training and a save/load round trip still work (the decoded extreme may
// overflow to infinity; such vectors are not meaningful to search, but must not break anything).
TEST(Sq8Test, ExtremeRangesSurviveRoundTrip) {
  const size_t dim = 2;
  const float big = std::numeric_limits<float>::max();
  std::vector<float> v = {-big, 0, big, 1};
  Sq8Quantizer q(dim);
  q.Train(v.data(), 2);
  uint8_t code[dim];
  float back[dim];
  q.Encode(v.data() + 2, code);
  q.Decode(code, back);
  EXPECT_EQ(code[0], 255);
  EXPECT_TRUE(std::isfinite(back[1]));
  std::string blob;
  q.Serialize(&blob);
  Sq8Quantizer r;
  std::string_view in = blob;
  EXPECT_TRUE(r.Deserialize(&in).ok());
}

// The distance kernels (whatever SIMD level is active) against the decoded vector in double.
TEST(Sq8Test, DistancesEqualDistancesToTheDecodedVector) {
  for (size_t dim : kDims) {
    const size_t n = 200;
    std::vector<float> v = SkewedVectors(n, dim, 11);
    std::vector<float> queries = SkewedVectors(20, dim, 12);
    Sq8Quantizer q(dim);
    q.Train(v.data(), n);
    std::vector<uint8_t> code(dim);
    std::vector<float> back(dim);
    for (size_t i = 0; i < n; ++i) {
      q.Encode(v.data() + i * dim, code.data());
      q.Decode(code.data(), back.data());
      const float* qv = queries.data() + (i % 20) * dim;
      double l2 = 0, dot = 0, scale = 0;
      for (size_t j = 0; j < dim; ++j) {
        l2 += (double{qv[j]} - back[j]) * (double{qv[j]} - back[j]);
        dot += double{qv[j]} * back[j];
        scale += std::fabs(double{qv[j]} * back[j]);
      }
      ASSERT_NEAR(q.L2Sqr(qv, code.data()), l2, 1e-4 * (1 + l2)) << "dim " << dim;
      ASSERT_NEAR(q.Dot(qv, code.data()), dot, 1e-4 * (1 + scale)) << "dim " << dim;
    }
  }
}

// The approximation error of a code's distance, against the exact float distance, stays within
// what the half-step rounding allows: with e = x - decode(x), |e_i| <= step_i / 2,
//   | |q - x^|^2 - |q - x|^2 | <= 2 |q - x| |e| + |e|^2   and   |q.x^ - q.x| <= sum |q_i| |e_i|.
TEST(Sq8Test, DistanceApproximationWithinRoundingBound) {
  for (size_t dim : {16u, 100u, 128u}) {
    const size_t n = 1000;
    std::vector<float> v = SkewedVectors(n, dim, 21);
    std::vector<float> queries = SkewedVectors(10, dim, 22);
    Sq8Quantizer q(dim);
    q.Train(v.data(), n);
    const Ranges r = RangesOf(v, n, dim);
    std::vector<uint8_t> code(dim);
    for (size_t i = 0; i < n; ++i) {
      const float* x = v.data() + i * dim;
      const float* qv = queries.data() + (i % 10) * dim;
      q.Encode(x, code.data());
      double l2 = 0, dot = 0, e2 = 0, qe = 0;
      for (size_t j = 0; j < dim; ++j) {
        const double half = (r.hi[j] - r.lo[j]) / 255.0 / 2;
        l2 += (double{qv[j]} - x[j]) * (double{qv[j]} - x[j]);
        dot += double{qv[j]} * x[j];
        e2 += half * half;
        qe += std::fabs(double{qv[j]}) * half;
      }
      const double l2_bound = 2 * std::sqrt(l2) * std::sqrt(e2) + e2;
      EXPECT_LE(std::fabs(q.L2Sqr(qv, code.data()) - l2), l2_bound * 1.01 + 1e-4);
      EXPECT_LE(std::fabs(q.Dot(qv, code.data()) - dot), qe * 1.01 + 1e-4);
    }
  }
}

// Ranking quality: the nearest neighbour by code distance is almost always among the true top 3.
TEST(Sq8Test, CodeDistancesPreserveRanking) {
  const size_t dim = 64, n = 2000, nq = 50;
  std::vector<float> v = ::sextant::testing::RandomVectors(n, dim, 31);
  std::vector<float> queries = ::sextant::testing::RandomVectors(nq, dim, 32);
  Sq8Quantizer q(dim);
  q.Train(v.data(), n);
  std::vector<uint8_t> codes(n * dim);
  for (size_t i = 0; i < n; ++i) q.Encode(v.data() + i * dim, codes.data() + i * dim);
  int hits = 0;
  for (size_t qi = 0; qi < nq; ++qi) {
    const float* qv = queries.data() + qi * dim;
    std::vector<std::pair<double, size_t>> exact(n);
    size_t best = 0;
    float best_d = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < n; ++i) {
      double d = 0;
      for (size_t j = 0; j < dim; ++j) d += (double{qv[j]} - v[i * dim + j]) * (double{qv[j]} - v[i * dim + j]);
      exact[i] = {d, i};
      const float a = q.L2Sqr(qv, codes.data() + i * dim);
      if (a < best_d) best_d = a, best = i;
    }
    std::partial_sort(exact.begin(), exact.begin() + 3, exact.end());
    for (int t = 0; t < 3; ++t) hits += exact[t].second == best;
  }
  EXPECT_GE(hits, static_cast<int>(nq * 9 / 10));
}

TEST(Sq8Test, SerializeRoundTrip) {
  const size_t dim = 33;
  std::vector<float> v = SkewedVectors(100, dim, 41);
  Sq8Quantizer q(dim);
  q.Train(v.data(), 100);
  std::string blob;
  q.Serialize(&blob);
  blob += "tail";  // Deserialize reads only its own bytes
  Sq8Quantizer r;
  std::string_view in = blob;
  ASSERT_TRUE(r.Deserialize(&in).ok());
  EXPECT_EQ(in, "tail");
  EXPECT_EQ(r.dim(), dim);
  ASSERT_TRUE(r.trained());
  std::vector<uint8_t> a(dim), b(dim);
  for (size_t i = 0; i < 100; ++i) {
    q.Encode(v.data() + i * dim, a.data());
    r.Encode(v.data() + i * dim, b.data());
    ASSERT_EQ(a, b);
    EXPECT_EQ(q.L2Sqr(v.data(), a.data()), r.L2Sqr(v.data(), b.data()));
  }

  // An untrained quantizer round-trips as untrained.
  Sq8Quantizer u(dim);
  std::string ublob;
  u.Serialize(&ublob);
  Sq8Quantizer u2(dim);
  std::string_view uin = ublob;
  ASSERT_TRUE(u2.Deserialize(&uin).ok());
  EXPECT_FALSE(u2.trained());
  EXPECT_TRUE(uin.empty());
}

TEST(Sq8Test, DeserializeRejectsBadBytes) {
  const size_t dim = 16;
  std::vector<float> v = SkewedVectors(100, dim, 51);
  Sq8Quantizer q(dim);
  q.Train(v.data(), 100);
  std::string blob;
  q.Serialize(&blob);
  for (size_t cut = 0; cut < blob.size(); ++cut) {
    Sq8Quantizer r(dim);
    std::string_view in(blob.data(), cut);
    Status s = r.Deserialize(&in);
    ASSERT_EQ(s.code(), StatusCode::kDataLoss) << "cut at " << cut;
    EXPECT_FALSE(r.trained());
  }
  {  // another dimension than the one expected
    Sq8Quantizer r(dim + 1);
    std::string_view in = blob;
    EXPECT_EQ(r.Deserialize(&in).code(), StatusCode::kDataLoss);
  }
  {  // a NaN step, a negative step, a bad flag
    for (size_t offset : {5 + dim * 4, 5 + dim * 4 + 8}) {
      std::string bad = blob;
      const float nan = std::numeric_limits<float>::quiet_NaN(), neg = -1.0f;
      std::memcpy(bad.data() + offset, offset == 5 + dim * 4 ? &nan : &neg, 4);
      Sq8Quantizer r(dim);
      std::string_view in = bad;
      EXPECT_EQ(r.Deserialize(&in).code(), StatusCode::kDataLoss);
    }
    std::string bad = blob;
    bad[4] = 7;
    Sq8Quantizer r(dim);
    std::string_view in = bad;
    EXPECT_EQ(r.Deserialize(&in).code(), StatusCode::kDataLoss);
  }
  {  // a huge dimension with too few bytes is rejected without allocating it
    std::string bad = blob;
    const uint32_t huge = 0xFFFFFFF0u;
    std::memcpy(bad.data(), &huge, 4);
    Sq8Quantizer r;
    std::string_view in = bad;
    EXPECT_EQ(r.Deserialize(&in).code(), StatusCode::kDataLoss);
  }
}

// The integer form (PrepareQuery + dot_u8_i16 + CodeTerm) against the float-decoding kernels,
// for every SIMD level this CPU runs: the same approximate distance, up to the rounding of the
// query to 16 bits (relative to the distance's magnitude), with and without far-away queries.
TEST(Sq8Test, IntegerScoringMatchesDecodedDistances) {
  for (size_t dim : kDims) {
    const size_t n = 300;
    std::vector<float> v = SkewedVectors(n, dim, 21);
    Sq8Quantizer q(dim);
    q.Train(v.data(), n);
    std::vector<float> queries = SkewedVectors(20, dim, 22);
    for (size_t j = 0; j < dim; ++j) queries[j] = 40.0f * queries[j] - 3.0f;  // far outside the ranges
    std::vector<uint8_t> code(dim);
    Sq8Quantizer::IntQuery iq;
    for (simd::Level level : simd::AvailableLevels()) {
      const simd::Kernels* k = simd::ForLevel(level);
      ASSERT_NE(k, nullptr);
      for (bool l2 : {true, false}) {
        SCOPED_TRACE("dim=" + std::to_string(dim) + " level=" + std::string(simd::LevelName(level)) +
                     (l2 ? " l2" : " dot"));
        for (size_t qi = 0; qi < 20; ++qi) {
          const float* query = queries.data() + qi * dim;
          q.PrepareQuery(query, l2, &iq);
          ASSERT_EQ(iq.q.size(), dim);
          for (size_t r = 0; r < n; r += 7) {
            q.Encode(v.data() + r * dim, code.data());
            const float got = iq.base + iq.scale * static_cast<float>(k->dot_u8_i16(iq.q.data(), code.data(), dim)) +
                              (l2 ? q.CodeTerm(code.data()) : 0.0f);
            const float want = l2 ? q.L2Sqr(query, code.data()) : -q.Dot(query, code.data());
            // Rounding t to the 16-bit grid moves each term by at most half a grid step, times
            // the code: |scale| / 2 * sum(c_i). Beyond that only float rounding of the parts.
            const int32_t idot = k->dot_u8_i16(iq.q.data(), code.data(), dim);
            double sum_c = 0;
            for (size_t i = 0; i < dim; ++i) sum_c += code[i];
            const double mag = std::fabs(iq.base) + std::fabs(double(iq.scale) * idot) +
                               (l2 ? q.CodeTerm(code.data()) : 0.0) + std::fabs(want);
            const double tol = std::fabs(iq.scale) / 2 * sum_c + 1e-5 * mag + 1e-6;
            ASSERT_NEAR(got, want, tol) << "row " << r;
          }
        }
      }
    }
  }
}

// A query equal to a code's decoded vector is at distance ~0 from it (L2), and a zero query
// gives scale 0 and a zero dot product.
TEST(Sq8Test, IntegerScoringEdgeCases) {
  const size_t dim = 33;
  std::vector<float> v = SkewedVectors(100, dim, 31);
  Sq8Quantizer q(dim);
  q.Train(v.data(), 100);
  std::vector<uint8_t> code(dim);
  q.Encode(v.data(), code.data());
  std::vector<float> x(dim);
  q.Decode(code.data(), x.data());
  Sq8Quantizer::IntQuery iq;
  q.PrepareQuery(x.data(), true, &iq);
  const float self = iq.base + iq.scale * static_cast<float>(simd::Active().dot_u8_i16(iq.q.data(), code.data(), dim)) +
                     q.CodeTerm(code.data());
  EXPECT_NEAR(self, 0.0f, 1e-3f * q.CodeTerm(code.data()) + 1e-4f);
  std::vector<float> zero(dim, 0.0f);
  q.PrepareQuery(zero.data(), false, &iq);
  EXPECT_EQ(iq.scale, 0.0f);
  EXPECT_EQ(iq.base, 0.0f);
  for (int16_t value : iq.q) EXPECT_EQ(value, 0);
}

}  // namespace
}  // namespace sextant::index
