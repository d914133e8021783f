// Tests for engine/simd: every SIMD level this CPU can run against the scalar kernels (the
// oracle), over dimensions that exercise every tail length, with aligned and unaligned pointers;
// the scalar kernels against an independent reference; no reads past the end of a vector (guard
// page); batch results bit-identical to the single-pair kernel; level names; Normalize; and the
// choice of level, both as a pure function and end to end through SEXTANT_SIMD in a child process.
//
// Tolerances. Float summation error grows with the sum of the magnitudes of the terms, not with
// the result (a dot product can cancel to nearly 0), so each comparison allows
// 1e-5 * sum|term| + 1e-6; for d = 1024 random values that is about 100 times the typical error
// and still far below what a wrong tail or a dropped batch would cause.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "simd/distance.h"
#include "simd/kernels_internal.h"
#include "test_util.h"

namespace sextant::simd {
namespace {

using internal::ChooseLevel;

constexpr size_t kDims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127, 128, 129, 1024};
constexpr Level kAllLevels[] = {Level::kScalar, Level::kSse4, Level::kAvx2, Level::kAvx512};

double Tolerance(double magnitude) { return 1e-5 * magnitude + 1e-6; }

// Independent double-precision references, written as plainly as possible.
double RefL2Sq(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return s;
}
double RefDot(const float* a, const float* b, size_t d) {
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += double{a[i]} * b[i];
  return s;
}
double AbsDot(const float* a, const float* b, size_t d) {  // sum |a_i b_i|: the dot's scale
  double s = 0;
  for (size_t i = 0; i < d; ++i) s += std::fabs(double{a[i]} * b[i]);
  return s;
}
double RefCosine(const float* a, const float* b, size_t d) {
  const double aa = RefDot(a, a, d), bb = RefDot(b, b, d);
  if (aa == 0 || bb == 0) return 0;
  return RefDot(a, b, d) / std::sqrt(aa * bb);
}
// Tolerance for a cosine: the dot's error relative to |a||b|, plus the norms' relative error.
double CosineTolerance(const float* a, const float* b, size_t d) {
  const double norms = std::sqrt(RefDot(a, a, d) * RefDot(b, b, d));
  return Tolerance(norms == 0 ? 0 : AbsDot(a, b, d) / norms + 1.0);
}

// Floats at a chosen offset from a 64-byte boundary, so a kernel sees both aligned and
// misaligned pointers.
class Buffer {
 public:
  Buffer(size_t n, size_t offset, uint32_t seed) : storage_(n + offset + 16) {
    const uintptr_t addr = reinterpret_cast<uintptr_t>(storage_.data());
    const size_t skip = ((64 - addr % 64) % 64) / sizeof(float);
    data_ = storage_.data() + skip + offset;
    const std::vector<float> values = testing::RandomVectors(n, 1, seed);
    std::memcpy(data_, values.data(), n * sizeof(float));
  }
  float* data() { return data_; }

 private:
  std::vector<float> storage_;
  float* data_ = nullptr;
};

class LevelTest : public ::testing::TestWithParam<Level> {
 protected:
  void SetUp() override {
    kernels_ = ForLevel(GetParam());
    if (kernels_ == nullptr) {
      GTEST_SKIP() << "this CPU (or build) has no " << LevelName(GetParam()) << " kernels";
    }
    oracle_ = ForLevel(Level::kScalar);
    ASSERT_NE(oracle_, nullptr);
  }
  const Kernels* kernels_ = nullptr;
  const Kernels* oracle_ = nullptr;
};

TEST_P(LevelTest, TableIsComplete) {
  EXPECT_EQ(kernels_->level, GetParam());
  EXPECT_NE(kernels_->l2sq, nullptr);
  EXPECT_NE(kernels_->dot, nullptr);
  EXPECT_NE(kernels_->cosine, nullptr);
  EXPECT_NE(kernels_->l2sq_batch, nullptr);
  EXPECT_NE(kernels_->dot_batch, nullptr);
  EXPECT_NE(kernels_->dot_rows, nullptr);
  EXPECT_NE(kernels_->dot_u8_i16, nullptr);
  EXPECT_NE(kernels_->sq8_l2sq, nullptr);
  EXPECT_NE(kernels_->sq8_dot, nullptr);
}

// sq8_l2sq / sq8_dot decode min + code * step on the fly: each level within float tolerance of
// the scalar oracle and of a double-precision decode, over every tail length and unaligned.
TEST_P(LevelTest, Sq8KernelsMatchScalar) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f), pos(0.0f, 0.01f);
  std::uniform_int_distribution<int> cv(0, 255);
  for (size_t d : kDims) {
    for (size_t offset : {0, 1, 3}) {
      SCOPED_TRACE("d=" + std::to_string(d) + " offset=" + std::to_string(offset));
      std::vector<float> qb(d + offset), mnb(d + offset), stb(d + offset);
      std::vector<uint8_t> cb(d + offset);
      float *q = qb.data() + offset, *mn = mnb.data() + offset, *st = stb.data() + offset;
      uint8_t* c = cb.data() + offset;
      double l2 = 0, dot = 0, abs_dot = 0;
      for (size_t i = 0; i < d; ++i) {
        q[i] = u(rng);
        mn[i] = u(rng);
        st[i] = pos(rng);
        c[i] = static_cast<uint8_t>(cv(rng));
        const double x = double{mn[i]} + static_cast<double>(c[i]) * st[i];
        l2 += (q[i] - x) * (q[i] - x);
        dot += q[i] * x;
        abs_dot += std::abs(q[i] * x);
      }
      EXPECT_NEAR(kernels_->sq8_l2sq(q, c, mn, st, d), oracle_->sq8_l2sq(q, c, mn, st, d), Tolerance(l2));
      EXPECT_NEAR(kernels_->sq8_l2sq(q, c, mn, st, d), l2, Tolerance(l2));
      EXPECT_NEAR(kernels_->sq8_dot(q, c, mn, st, d), oracle_->sq8_dot(q, c, mn, st, d), Tolerance(abs_dot));
      EXPECT_NEAR(kernels_->sq8_dot(q, c, mn, st, d), dot, Tolerance(abs_dot));
      // Only the last component differs from the query: a dropped tail shows up.
      for (size_t i = 0; i < d; ++i) q[i] = mn[i] + static_cast<float>(c[i]) * st[i];
      q[d - 1] += 0.5f;
      EXPECT_NEAR(kernels_->sq8_l2sq(q, c, mn, st, d), 0.25, 1e-4);
    }
  }
}

// dot_u8_i16 is integer arithmetic: every level must equal a plain int64 loop exactly, over
// every tail length, at unaligned addresses, and at the extremes the contract allows
// (sum(|q_i|) * 255 < 2^31: full-range 16-bit values up to d = 257, scaled down beyond).
int64_t RefDotU8I16(const int16_t* q, const uint8_t* c, size_t d) {
  int64_t s = 0;
  for (size_t i = 0; i < d; ++i) s += int64_t{q[i]} * int64_t{c[i]};
  return s;
}

TEST_P(LevelTest, DotU8I16IsExact) {
  std::mt19937 rng(5);
  for (size_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 95, 96, 127, 128, 129,
                   255, 256, 257, 384, 768, 1024}) {
    const int cap = static_cast<int>(std::min<int64_t>(32767, INT32_MAX / (255 * int64_t(d))));
    for (size_t offset : {0, 1, 3}) {
      SCOPED_TRACE("d=" + std::to_string(d) + " offset=" + std::to_string(offset));
      std::vector<int16_t> qbuf(d + offset);
      std::vector<uint8_t> cbuf(d + offset);
      int16_t* q = qbuf.data() + offset;
      uint8_t* c = cbuf.data() + offset;
      std::uniform_int_distribution<int> qv(-cap, cap), cv(0, 255);
      for (size_t i = 0; i < d; ++i) {
        q[i] = static_cast<int16_t>(qv(rng));
        c[i] = static_cast<uint8_t>(cv(rng));
      }
      EXPECT_EQ(kernels_->dot_u8_i16(q, c, d), RefDotU8I16(q, c, d));
      EXPECT_EQ(oracle_->dot_u8_i16(q, c, d), RefDotU8I16(q, c, d));
      // Extremes: all codes 255 against +cap and then -cap (the largest sums of either sign).
      std::fill(c, c + d, uint8_t{255});
      std::fill(q, q + d, static_cast<int16_t>(cap));
      EXPECT_EQ(kernels_->dot_u8_i16(q, c, d), RefDotU8I16(q, c, d));
      std::fill(q, q + d, static_cast<int16_t>(-cap));
      EXPECT_EQ(kernels_->dot_u8_i16(q, c, d), RefDotU8I16(q, c, d));
      // Only the last element set: a dropped or misplaced tail shows up.
      std::fill(q, q + d, int16_t{0});
      q[d - 1] = 7;
      c[d - 1] = 9;
      EXPECT_EQ(kernels_->dot_u8_i16(q, c, d), 63);
    }
  }
}

TEST_P(LevelTest, PairKernelsMatchScalar) {
  uint32_t seed = 1;
  for (size_t d : kDims) {
    for (size_t offset : {0, 1, 3}) {
      Buffer a(d, offset, seed++), b(d, offset == 0 ? 0 : offset + 1, seed++);
      SCOPED_TRACE("d=" + std::to_string(d) + " offset=" + std::to_string(offset));
      const double abs_dot = AbsDot(a.data(), b.data(), d);
      EXPECT_NEAR(kernels_->l2sq(a.data(), b.data(), d), oracle_->l2sq(a.data(), b.data(), d),
                  Tolerance(RefL2Sq(a.data(), b.data(), d)));
      EXPECT_NEAR(kernels_->dot(a.data(), b.data(), d), oracle_->dot(a.data(), b.data(), d),
                  Tolerance(abs_dot));
      EXPECT_NEAR(kernels_->cosine(a.data(), b.data(), d), oracle_->cosine(a.data(), b.data(), d),
                  CosineTolerance(a.data(), b.data(), d));
      // A vector against itself: l2sq exactly 0, cosine 1.
      EXPECT_EQ(kernels_->l2sq(a.data(), a.data(), d), 0.0f);
      EXPECT_NEAR(kernels_->cosine(a.data(), a.data(), d), 1.0, 1e-6);
    }
  }
}

TEST_P(LevelTest, BatchKernelsMatchScalarAndPairKernels) {
  uint32_t seed = 100;
  for (size_t d : kDims) {
    for (size_t n : {1, 2, 5, 37}) {
      SCOPED_TRACE("d=" + std::to_string(d) + " n=" + std::to_string(n));
      Buffer q(d, 1, seed++);
      Buffer base(n * d, 1, seed++);  // unaligned rows
      const float kSentinel = -12345.0f;
      std::vector<float> l2(n + 1, kSentinel), dot(n + 1, kSentinel), l2_ref(n), dot_ref(n);
      kernels_->l2sq_batch(q.data(), base.data(), n, d, l2.data());
      kernels_->dot_batch(q.data(), base.data(), n, d, dot.data());
      oracle_->l2sq_batch(q.data(), base.data(), n, d, l2_ref.data());
      oracle_->dot_batch(q.data(), base.data(), n, d, dot_ref.data());
      EXPECT_EQ(l2[n], kSentinel) << "wrote past out[n - 1]";
      EXPECT_EQ(dot[n], kSentinel) << "wrote past out[n - 1]";
      for (size_t r = 0; r < n; ++r) {
        const float* row = base.data() + r * d;
        EXPECT_NEAR(l2[r], l2_ref[r], Tolerance(RefL2Sq(q.data(), row, d))) << "row " << r;
        EXPECT_NEAR(dot[r], dot_ref[r], Tolerance(AbsDot(q.data(), row, d))) << "row " << r;
        // Bit-identical to the single-pair kernel on the same row (index/flat.cc relies on it).
        EXPECT_EQ(l2[r], kernels_->l2sq(q.data(), row, d)) << "row " << r;
        EXPECT_EQ(dot[r], kernels_->dot(q.data(), row, d)) << "row " << r;
        float one = 0;
        kernels_->l2sq_batch(q.data(), row, 1, d, &one);
        EXPECT_EQ(one, l2[r]) << "row " << r;
      }
    }
  }
}

// dot_rows (four rows at a time, another order of summation) against the scalar oracle, over row
// counts around its blocks of four.
TEST_P(LevelTest, DotRowsMatchesScalar) {
  uint32_t seed = 300;
  for (size_t d : kDims) {
    for (size_t n : {1, 3, 4, 5, 8, 11, 80}) {
      SCOPED_TRACE("d=" + std::to_string(d) + " n=" + std::to_string(n));
      Buffer q(d, 1, seed++);
      Buffer base(n * d, 3, seed++);
      const float kSentinel = -12345.0f;
      std::vector<float> out(n + 1, kSentinel), ref(n);
      kernels_->dot_rows(q.data(), base.data(), n, d, out.data());
      oracle_->dot_batch(q.data(), base.data(), n, d, ref.data());
      EXPECT_EQ(out[n], kSentinel) << "wrote past out[n - 1]";
      for (size_t r = 0; r < n; ++r) {
        EXPECT_NEAR(out[r], ref[r], Tolerance(AbsDot(q.data(), base.data() + r * d, d))) << "row " << r;
      }
    }
  }
}

TEST_P(LevelTest, CosineOfZeroVectorIsZero) {
  for (size_t d : kDims) {
    std::vector<float> zero(d, 0.0f);
    Buffer a(d, 0, 7);
    EXPECT_EQ(kernels_->cosine(zero.data(), a.data(), d), 0.0f) << "d=" << d;
    EXPECT_EQ(kernels_->cosine(a.data(), zero.data(), d), 0.0f) << "d=" << d;
    EXPECT_EQ(kernels_->cosine(zero.data(), zero.data(), d), 0.0f) << "d=" << d;
  }
}

TEST_P(LevelTest, KnownValues) {
  const float a[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
  const float b[] = {17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(kernels_->dot(a, b, 17), 969.0f);     // sum i (18 - i), i = 1..17
  EXPECT_EQ(kernels_->l2sq(a, b, 17), 1632.0f);   // sum (2i - 18)^2
  EXPECT_EQ(kernels_->dot(a, a, 1), 1.0f);
  const float x[] = {3, 0}, y[] = {0, 4}, z[] = {-2, 0};
  EXPECT_EQ(kernels_->cosine(x, y, 2), 0.0f);
  EXPECT_FLOAT_EQ(kernels_->cosine(x, z, 2), -1.0f);
  EXPECT_EQ(kernels_->l2sq(x, y, 2), 25.0f);
}

// Every kernel on vectors that end exactly at an inaccessible page: a read past the last element
// (a full-width load in the tail) crashes the test.
TEST_P(LevelTest, NoReadPastTheEnd) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t max_d = 129;
  ASSERT_LE(6 * max_d * sizeof(float), page);
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  char* guard = static_cast<char*>(mem) + page;
  ASSERT_EQ(mprotect(guard, page, PROT_NONE), 0);
  float* end = reinterpret_cast<float*>(guard);
  for (size_t d : kDims) {
    if (d > max_d) continue;
    // Two rows of d floats, the second ending at the guard page; a query just before them.
    float* base = end - 2 * d;
    float* q = base - d;
    const std::vector<float> values = testing::RandomVectors(3 * d, 1, static_cast<uint32_t>(d));
    std::memcpy(q, values.data(), 3 * d * sizeof(float));
    float out[2];
    const float* last = end - d;
    EXPECT_GE(kernels_->l2sq(q, last, d), 0.0f);
    EXPECT_TRUE(std::isfinite(kernels_->dot(last, q, d)));
    EXPECT_TRUE(std::isfinite(kernels_->cosine(q, last, d)));
    kernels_->l2sq_batch(q, base, 2, d, out);
    kernels_->dot_batch(q, base, 2, d, out);
    EXPECT_EQ(out[1], kernels_->dot(q, last, d));
    // dot_rows over five rows (a block of four and one left), the last at the guard page.
    float* rows5 = end - 5 * d;
    float* q5 = rows5 - d;
    const std::vector<float> more = testing::RandomVectors(6 * d, 1, static_cast<uint32_t>(d + 1));
    std::memcpy(q5, more.data(), 6 * d * sizeof(float));
    float out5[5];
    kernels_->dot_rows(q5, rows5, 5, d, out5);
    EXPECT_TRUE(std::isfinite(out5[4]));
    // dot_u8_i16 with both the codes and the query ending at the guard page.
    uint8_t* code_end = reinterpret_cast<uint8_t*>(guard) - d;
    std::fill(code_end, code_end + d, uint8_t{2});
    int16_t* q16 = reinterpret_cast<int16_t*>(
        (reinterpret_cast<uintptr_t>(code_end) - 2 * d - 16) & ~uintptr_t{1});  // 2-byte aligned
    for (size_t i = 0; i < d; ++i) q16[i] = 3;
    EXPECT_EQ(kernels_->dot_u8_i16(q16, code_end, d), static_cast<int32_t>(6 * d));
    int16_t* q16_end = reinterpret_cast<int16_t*>(guard) - d;
    uint8_t* code_lo = reinterpret_cast<uint8_t*>(q16_end) - d - 1;
    for (size_t i = 0; i < d; ++i) q16_end[i] = -1;
    std::fill(code_lo, code_lo + d, uint8_t{255});
    EXPECT_EQ(kernels_->dot_u8_i16(q16_end, code_lo, d), -255 * static_cast<int32_t>(d));
  }
  munmap(mem, 2 * page);
}

std::string LevelParamName(const ::testing::TestParamInfo<Level>& info) {
  return std::string(LevelName(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllLevels, LevelTest, ::testing::ValuesIn(kAllLevels), LevelParamName);

// The oracle itself, against the plain double loops above: it must be accurate to float
// rounding, far tighter than the SIMD tolerance.
TEST(ScalarKernelsTest, MatchDoubleReference) {
  const Kernels* scalar = ForLevel(Level::kScalar);
  ASSERT_NE(scalar, nullptr);
  uint32_t seed = 500;
  for (size_t d : kDims) {
    Buffer a(d, 1, seed++), b(d, 0, seed++);
    const double l2 = RefL2Sq(a.data(), b.data(), d);
    const double dot = RefDot(a.data(), b.data(), d);
    EXPECT_NEAR(scalar->l2sq(a.data(), b.data(), d), l2, 1e-7 * l2 + 1e-12) << "d=" << d;
    EXPECT_NEAR(scalar->dot(a.data(), b.data(), d), dot,
                1e-7 * std::fabs(dot) + 1e-12 * AbsDot(a.data(), b.data(), d)) << "d=" << d;
    EXPECT_NEAR(scalar->cosine(a.data(), b.data(), d), RefCosine(a.data(), b.data(), d), 1e-7)
        << "d=" << d;
  }
}

TEST(LevelsTest, NamesRoundTrip) {
  EXPECT_EQ(LevelName(Level::kScalar), "scalar");
  EXPECT_EQ(LevelName(Level::kSse4), "sse4");
  EXPECT_EQ(LevelName(Level::kAvx2), "avx2");
  EXPECT_EQ(LevelName(Level::kAvx512), "avx512");
  for (Level level : kAllLevels) EXPECT_EQ(ParseLevel(LevelName(level)), level);
  EXPECT_EQ(ParseLevel("AVX2"), Level::kAvx2);
  EXPECT_EQ(ParseLevel(""), std::nullopt);
  EXPECT_EQ(ParseLevel("avx"), std::nullopt);
  EXPECT_EQ(ParseLevel("sse4.2"), std::nullopt);
  EXPECT_EQ(ParseLevel("avx512 "), std::nullopt);
}

TEST(LevelsTest, AvailableLevelsAreConsistent) {
  const std::vector<Level> available = AvailableLevels();
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(available.front(), Level::kScalar);
  for (size_t i = 1; i < available.size(); ++i) EXPECT_LT(available[i - 1], available[i]);
  for (Level level : kAllLevels) {
    const bool listed = std::find(available.begin(), available.end(), level) != available.end();
    const Kernels* kernels = ForLevel(level);
    EXPECT_EQ(kernels != nullptr, listed) << LevelName(level);
    if (kernels != nullptr) {
      EXPECT_EQ(kernels->level, level);
    }
    if (!internal::CpuSupports(level)) {
      EXPECT_EQ(kernels, nullptr) << LevelName(level);
    }
  }
}

TEST(LevelsTest, ActiveFollowsChooseLevel) {
  const char* env = std::getenv("SEXTANT_SIMD");
  const Level expected = ChooseLevel(env ? std::optional<std::string_view>(env) : std::nullopt,
                                     AvailableLevels(), nullptr);
  EXPECT_EQ(Active().level, expected);
  EXPECT_EQ(&Active(), ForLevel(expected));
}

TEST(ChooseLevelTest, DefaultIsBestAvailable) {
  std::string warning = "stale";
  const std::vector<Level> all = {Level::kScalar, Level::kSse4, Level::kAvx2, Level::kAvx512};
  EXPECT_EQ(ChooseLevel(std::nullopt, all, &warning), Level::kAvx512);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(ChooseLevel("", all, &warning), Level::kAvx512);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(ChooseLevel(std::nullopt, {Level::kScalar, Level::kSse4}, &warning), Level::kSse4);
  EXPECT_EQ(ChooseLevel(std::nullopt, {Level::kScalar}, &warning), Level::kScalar);
}

TEST(ChooseLevelTest, KnownNameCapsTheLevel) {
  std::string warning;
  const std::vector<Level> all = {Level::kScalar, Level::kSse4, Level::kAvx2, Level::kAvx512};
  EXPECT_EQ(ChooseLevel("scalar", all, &warning), Level::kScalar);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(ChooseLevel("sse4", all, &warning), Level::kSse4);
  EXPECT_EQ(ChooseLevel("avx2", all, &warning), Level::kAvx2);
  EXPECT_EQ(ChooseLevel("avx512", all, &warning), Level::kAvx512);
  EXPECT_EQ(ChooseLevel("AVX2", all, &warning), Level::kAvx2);
  EXPECT_EQ(warning, "");
}

TEST(ChooseLevelTest, UnavailableLevelFallsBackBelowWithWarning) {
  std::string warning;
  EXPECT_EQ(ChooseLevel("avx512", {Level::kScalar, Level::kSse4, Level::kAvx2}, &warning),
            Level::kAvx2);
  EXPECT_NE(warning.find("avx512"), std::string::npos) << warning;
  EXPECT_NE(warning.find("using avx2"), std::string::npos) << warning;
  // Not above what was asked for, even when something higher is available.
  EXPECT_EQ(ChooseLevel("avx2", {Level::kScalar, Level::kAvx512}, &warning), Level::kScalar);
  EXPECT_NE(warning.find("using scalar"), std::string::npos) << warning;
  EXPECT_EQ(ChooseLevel("avx2", {Level::kScalar, Level::kSse4}, nullptr), Level::kSse4);
}

TEST(ChooseLevelTest, UnknownNameUsesBestWithWarning) {
  std::string warning;
  EXPECT_EQ(ChooseLevel("neon", {Level::kScalar, Level::kSse4, Level::kAvx2}, &warning),
            Level::kAvx2);
  EXPECT_NE(warning.find("\"neon\""), std::string::npos) << warning;
  EXPECT_NE(warning.find("using avx2"), std::string::npos) << warning;
}

// End to end: Active() is resolved once per process, so each case runs in a fresh child process
// (the "threadsafe" death-test style re-executes this binary for just this test) with
// SEXTANT_SIMD set there, and the child reports the level it got on stderr.
void ReportActiveLevelUnder(const char* value) {
  setenv("SEXTANT_SIMD", value, 1);
  setenv("SEXTANT_LOG_LEVEL", "warning", 1);
  std::fprintf(stderr, "active=%s\n", std::string(LevelName(Active().level)).c_str());
  std::fflush(stderr);
  std::exit(0);
}

TEST(ActiveTest, EnvironmentForcesLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::vector<Level> available = AvailableLevels();
  for (Level level : kAllLevels) {
    const std::string name(LevelName(level));
    const Level expected = ChooseLevel(name, available, nullptr);
    const std::string pattern = "active=" + std::string(LevelName(expected));
    EXPECT_EXIT(ReportActiveLevelUnder(name.c_str()), ::testing::ExitedWithCode(0), pattern)
        << "SEXTANT_SIMD=" << name;
  }
}

TEST(ActiveTest, UnknownEnvironmentValueWarnsAndUsesBest) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string best(LevelName(AvailableLevels().back()));
  EXPECT_EXIT(ReportActiveLevelUnder("bogus"), ::testing::ExitedWithCode(0),
              "sextant WARNING: SEXTANT_SIMD=\"bogus\".*active=" + best);
}

TEST(NormalizeTest, ScalesToUnitLengthAndReturnsNorm) {
  for (size_t d : kDims) {
    std::vector<float> v = testing::RandomVectors(1, d, static_cast<uint32_t>(d) + 9);
    for (float& x : v) x *= 3.0f;
    const double norm = std::sqrt(RefDot(v.data(), v.data(), d));
    const std::vector<float> before = v;
    EXPECT_NEAR(Normalize(v.data(), d), norm, 1e-6 * norm) << "d=" << d;
    EXPECT_NEAR(RefDot(v.data(), v.data(), d), 1.0, 1e-6) << "d=" << d;
    for (size_t i = 0; i < d; ++i) EXPECT_NEAR(v[i], before[i] / norm, 1e-6) << "d=" << d;
  }
  float single = -2.5f;
  EXPECT_EQ(Normalize(&single, 1), 2.5f);
  EXPECT_EQ(single, -1.0f);
  float pair[] = {3.0f, 4.0f};
  EXPECT_EQ(Normalize(pair, 2), 5.0f);
  EXPECT_FLOAT_EQ(pair[0], 0.6f);
  EXPECT_FLOAT_EQ(pair[1], 0.8f);
}

TEST(NormalizeTest, ZeroVectorIsLeftUnchanged) {
  std::vector<float> zero(17, 0.0f);
  EXPECT_EQ(Normalize(zero.data(), zero.size()), 0.0f);
  for (float x : zero) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace sextant::simd
