#include "index/flat.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "simd/distance.h"
#include "test_util.h"

namespace sextant::index {
namespace {

// The oracle: a plain loop in double precision.
std::vector<Neighbor> Naive(const std::vector<float>& base, size_t dim, Metric metric,
                            const std::vector<uint8_t>& mask, const float* q, size_t k) {
  std::vector<std::pair<double, uint32_t>> all;
  for (size_t i = 0; i < mask.size(); ++i) {
    if (!mask[i]) continue;
    double d = 0;
    for (size_t j = 0; j < dim; ++j) {
      const double x = base[i * dim + j], y = q[j];
      d += metric == Metric::kL2 ? (x - y) * (x - y) : -x * y;
    }
    all.emplace_back(d, static_cast<uint32_t>(i));
  }
  std::sort(all.begin(), all.end());
  std::vector<Neighbor> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back({static_cast<float>(all[i].first), all[i].second});
  return out;
}

void ExpectSame(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].distance, want[i].distance, 1e-3f * (1 + std::fabs(want[i].distance))) << "rank " << i;
    // Random data has no exact ties: ids must agree rank by rank.
    EXPECT_EQ(got[i].slot, want[i].slot) << "rank " << i;
  }
}

class FlatTest : public ::testing::TestWithParam<std::tuple<Metric, size_t>> {};

TEST_P(FlatTest, MatchesNaiveLoopForSingleAndBatchedQueries) {
  const auto [metric, dim] = GetParam();
  const size_t n = 3000;  // more than one scoring block
  std::vector<float> base = ::sextant::testing::RandomVectors(n, dim, 1);
  std::vector<float> queries = ::sextant::testing::RandomVectors(20, dim, 2);
  std::vector<uint8_t> mask(n, 1);
  for (size_t i = 0; i < n; i += 3) mask[i] = 0;  // some slots are dead or filtered out
  VectorView view{base.data(), dim, n};
  for (size_t k : {1u, 10u, 100u}) {
    std::vector<std::vector<Neighbor>> batched, single;
    ExactSearch(view, metric, mask.data(), queries.data(), 20, k, &batched);  // GEMM path
    ASSERT_EQ(batched.size(), 20u);
    for (size_t qi = 0; qi < 20; ++qi) {
      ExactSearch(view, metric, mask.data(), queries.data() + qi * dim, 1, k, &single);  // kernel path
      auto want = Naive(base, dim, metric, mask, queries.data() + qi * dim, k);
      ExpectSame(single[0], want);
      ExpectSame(batched[qi], want);
      // Both paths report the very same scores (the batch re-scores with the kernel).
      for (size_t r = 0; r < k; ++r) EXPECT_EQ(batched[qi][r].distance, single[0][r].distance);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, FlatTest,
                         ::testing::Combine(::testing::Values(Metric::kL2, Metric::kInnerProduct),
                                            ::testing::Values(size_t{1}, size_t{17}, size_t{128})));

TEST(FlatEdgeTest, FewerAllowedThanKAndEmptyInputs) {
  const size_t dim = 4;
  std::vector<float> base = ::sextant::testing::RandomVectors(10, dim, 3);
  std::vector<uint8_t> mask(10, 0);
  mask[2] = mask[7] = 1;
  std::vector<std::vector<Neighbor>> out;
  ExactSearch({base.data(), dim, 10}, Metric::kL2, mask.data(), base.data(), 1, 5, &out);
  ASSERT_EQ(out[0].size(), 2u);
  // Only slots 2 and 7 may be returned, nearest first.
  EXPECT_EQ(out[0][0].slot + out[0][1].slot, 9u);
  EXPECT_NE(out[0][0].slot, out[0][1].slot);
  EXPECT_LE(out[0][0].distance, out[0][1].distance);
  ExactSearch({base.data(), dim, 0}, Metric::kL2, mask.data(), base.data(), 1, 5, &out);
  EXPECT_TRUE(out[0].empty());
  std::fill(mask.begin(), mask.end(), 0);
  ExactSearch({base.data(), dim, 10}, Metric::kL2, mask.data(), base.data(), 9, 5, &out);
  ASSERT_EQ(out.size(), 9u);
  for (auto& list : out) EXPECT_TRUE(list.empty());
}

TEST(FlatEdgeTest, TiesAreOrderedBySlot) {
  const size_t dim = 2;
  std::vector<float> base = {1, 0, 0, 1, 1, 0, -1, 0, 1, 0};  // slots 0, 2, 4 equal
  std::vector<uint8_t> mask(5, 1);
  const float q[2] = {1, 0};
  std::vector<std::vector<Neighbor>> out;
  ExactSearch({base.data(), dim, 5}, Metric::kL2, mask.data(), q, 1, 3, &out);
  ASSERT_EQ(out[0].size(), 3u);
  EXPECT_EQ(out[0][0].slot, 0u);
  EXPECT_EQ(out[0][1].slot, 2u);
  EXPECT_EQ(out[0][2].slot, 4u);
  EXPECT_EQ(out[0][0].distance, 0.0f);
}

}  // namespace
}  // namespace sextant::index
