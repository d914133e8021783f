// Product quantizer (index/pq.h): default m, reconstruction error, ADC tables against direct
// distances, and the serialized form.
#include "index/pq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "test_util.h"

namespace sextant::index {
namespace {

// Clustered data: 40 centres N(0, 1), points = centre + N(0, 0.3^2).
std::vector<float> Clustered(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centres(40 * dim);
  for (float& c : centres) c = g(rng);
  std::vector<float> x(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const size_t b = rng() % 40;
    for (size_t j = 0; j < dim; ++j) x[i * dim + j] = centres[b * dim + j] + 0.3f * g(rng);
  }
  return x;
}

double Mse(const ProductQuantizer& pq, const std::vector<float>& x, size_t n) {
  const size_t dim = pq.dim();
  std::vector<uint8_t> code(pq.code_size());
  std::vector<float> y(dim);
  double err = 0;
  for (size_t i = 0; i < n; ++i) {
    pq.Encode(&x[i * dim], code.data());
    pq.Decode(code.data(), y.data());
    for (size_t j = 0; j < dim; ++j) err += (x[i * dim + j] - y[j]) * (x[i * dim + j] - y[j]);
  }
  return err / static_cast<double>(n);
}

TEST(PqTest, AutoMIsLargestDivisorUpToHalfAndSixtyFour) {
  EXPECT_EQ(ProductQuantizer::AutoM(128), 64u);
  EXPECT_EQ(ProductQuantizer::AutoM(32), 16u);
  EXPECT_EQ(ProductQuantizer::AutoM(96), 48u);
  EXPECT_EQ(ProductQuantizer::AutoM(100), 50u);
  EXPECT_EQ(ProductQuantizer::AutoM(768), 64u);
  EXPECT_EQ(ProductQuantizer::AutoM(200), 50u);
  EXPECT_EQ(ProductQuantizer::AutoM(7), 1u);
  EXPECT_EQ(ProductQuantizer::AutoM(2), 1u);
  EXPECT_EQ(ProductQuantizer::AutoM(1), 1u);
}

TEST(PqTest, ReconstructionErrorIsSmallAndFallsWithM) {
  const size_t n = 2000, dim = 32;
  std::vector<float> x = Clustered(n, dim, 1);
  std::vector<float> test = Clustered(500, dim, 1);  // same centres (seeded), other noise below
  {
    std::mt19937 rng(99);
    std::normal_distribution<float> g(0.0f, 0.01f);
    for (float& v : test) v += g(rng);
  }
  double variance = 0;  // per vector, around the mean
  std::vector<double> mean(dim);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < dim; ++j) mean[j] += x[i * dim + j] / n;
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < dim; ++j) variance += (x[i * dim + j] - mean[j]) * (x[i * dim + j] - mean[j]) / n;
  }
  double previous = variance;
  for (size_t m : {4u, 8u, 16u}) {
    ProductQuantizer pq(dim, m);
    ASSERT_TRUE(pq.Train(x.data(), n).ok());
    const double mse = Mse(pq, test, 500);
    EXPECT_LT(mse, 0.25 * variance) << "m " << m;
    EXPECT_LT(mse, previous) << "m " << m;
    previous = mse;
  }
}

TEST(PqTest, EncodePicksTheNearestSubCentroid) {
  const size_t n = 1000, dim = 12, m = 3, dsub = 4;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 5);
  ProductQuantizer pq(dim, m);
  ASSERT_TRUE(pq.Train(x.data(), n).ok());
  std::vector<uint8_t> code(m), probe(m);
  std::vector<float> dec(dim);
  for (size_t i = 0; i < 50; ++i) {
    const float* v = &x[i * dim];
    pq.Encode(v, code.data());
    for (size_t j = 0; j < m; ++j) {
      float best = 1e30f;
      int arg = -1;
      for (int c = 0; c < 256; ++c) {
        probe = code;
        probe[j] = static_cast<uint8_t>(c);
        pq.Decode(probe.data(), dec.data());
        float d = 0;
        for (size_t t = 0; t < dsub; ++t) d += (v[j * dsub + t] - dec[j * dsub + t]) * (v[j * dsub + t] - dec[j * dsub + t]);
        if (d < best) {
          best = d;
          arg = c;
        }
      }
      EXPECT_EQ(code[j], arg) << "vector " << i << " subspace " << j;
    }
  }
}

TEST(PqTest, AdcTablesEqualDistancesToTheDecodedVector) {
  const size_t n = 2000, dim = 24, m = 8;
  std::vector<float> x = Clustered(n, dim, 2);
  std::vector<float> q = Clustered(20, dim, 3);
  ProductQuantizer pq(dim, m);
  ASSERT_TRUE(pq.Train(x.data(), n).ok());
  std::vector<float> l2(m * 256), ip(m * 256), norms(m * 256), dec(dim);
  std::vector<uint8_t> code(m);
  pq.NormTable(norms.data());
  double rel_err = 0;
  size_t pairs = 0;
  for (size_t qi = 0; qi < 20; ++qi) {
    const float* qv = &q[qi * dim];
    pq.L2Table(qv, l2.data());
    pq.DotTable(qv, ip.data());
    for (size_t i = 0; i < 200; ++i) {
      const float* v = &x[i * dim];
      pq.Encode(v, code.data());
      pq.Decode(code.data(), dec.data());
      double dl2 = 0, dip = 0, dnorm = 0, exact = 0;
      for (size_t j = 0; j < dim; ++j) {
        dl2 += (qv[j] - dec[j]) * (qv[j] - dec[j]);
        dip += qv[j] * dec[j];
        dnorm += dec[j] * dec[j];
        exact += (qv[j] - v[j]) * (qv[j] - v[j]);
      }
      EXPECT_NEAR(ProductQuantizer::TableSum(l2.data(), code.data(), m), dl2, 1e-3 * (1 + dl2));
      EXPECT_NEAR(ProductQuantizer::TableSum(ip.data(), code.data(), m), dip, 1e-3 * (1 + std::fabs(dip)));
      EXPECT_NEAR(ProductQuantizer::TableSum(norms.data(), code.data(), m), dnorm, 1e-3 * (1 + dnorm));
      rel_err += std::fabs(dl2 - exact) / exact;
      ++pairs;
    }
  }
  // ADC approximates the exact distance closely on average.
  EXPECT_LT(rel_err / static_cast<double>(pairs), 0.1);
}

TEST(PqTest, TrainNeedsTwoHundredFiftySixRows) {
  std::vector<float> x = ::sextant::testing::RandomVectors(255, 8, 1);
  ProductQuantizer pq(8, 4);
  EXPECT_EQ(pq.Train(x.data(), 255).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(pq.trained());
}

TEST(PqTest, SerializeRoundTripAndBadBytes) {
  const size_t n = 600, dim = 16, m = 4;
  std::vector<float> x = ::sextant::testing::RandomVectors(n, dim, 8);
  ProductQuantizer pq(dim, m);
  ASSERT_TRUE(pq.Train(x.data(), n).ok());
  std::string bytes;
  pq.Serialize(&bytes);
  bytes += "tail";

  ProductQuantizer back(dim, m);
  std::string_view in(bytes);
  ASSERT_TRUE(back.Deserialize(&in).ok());
  EXPECT_EQ(in, "tail");
  std::vector<uint8_t> a(m), b(m);
  for (size_t i = 0; i < 100; ++i) {
    pq.Encode(&x[i * dim], a.data());
    back.Encode(&x[i * dim], b.data());
    EXPECT_EQ(a, b);
  }

  const std::string whole = bytes.substr(0, bytes.size() - 4);
  for (size_t len = 0; len < whole.size(); len += 7) {
    ProductQuantizer t(dim, m);
    std::string_view cut(whole.data(), len);
    EXPECT_EQ(t.Deserialize(&cut).code(), StatusCode::kDataLoss) << "length " << len;
    EXPECT_FALSE(t.trained());
  }
  std::string nan = whole;
  const float bad = std::nanf("");
  std::memcpy(&nan[13 + 40], &bad, 4);
  std::string_view nan_in(nan);
  EXPECT_EQ(ProductQuantizer(dim, m).Deserialize(&nan_in).code(), StatusCode::kDataLoss);
  std::string_view other(whole);
  EXPECT_EQ(ProductQuantizer(dim * 2, m).Deserialize(&other).code(), StatusCode::kDataLoss);
  std::string bad_m = whole;
  bad_m[4] = 3;  // m = 3 does not divide 16
  std::string_view bad_m_in(bad_m);
  EXPECT_EQ(ProductQuantizer().Deserialize(&bad_m_in).code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace sextant::index
