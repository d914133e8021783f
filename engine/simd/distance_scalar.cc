// Scalar kernels: plain C++ built for the x86-64 baseline (no -m flags), the fallback on any CPU
// and the oracle the SIMD levels are tested against.
//
// They accumulate in double. The product of two floats is exact in double (24 + 24 significant
// bits < 53), and so is the difference of two floats of similar magnitude, so the only rounding
// is in the double additions (relative error about d * 2^-53) and the final conversion: for any
// practical d the result is the float nearest the exact value, within a unit in the last place.
// That accuracy costs little here: four independent accumulators keep the add latency hidden.
// Like the SIMD levels, a batch kernel's out[i] equals the single kernel on row i bit for bit.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "simd/kernels_internal.h"

namespace sextant::simd::internal {
namespace {

struct L2Term {
  static double Of(float a, float b) {
    const double diff = static_cast<double>(a) - static_cast<double>(b);
    return diff * diff;
  }
};

struct DotTerm {
  static double Of(float a, float b) { return static_cast<double>(a) * static_cast<double>(b); }
};

template <class Term>
double SumTerms(const float* a, const float* b, size_t d) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  size_t i = 0;
  for (; i + 4 <= d; i += 4) {
    s0 += Term::Of(a[i], b[i]);
    s1 += Term::Of(a[i + 1], b[i + 1]);
    s2 += Term::Of(a[i + 2], b[i + 2]);
    s3 += Term::Of(a[i + 3], b[i + 3]);
  }
  for (; i < d; ++i) s0 += Term::Of(a[i], b[i]);
  return (s0 + s1) + (s2 + s3);
}

float L2Sq(const float* a, const float* b, size_t d) {
  return static_cast<float>(SumTerms<L2Term>(a, b, d));
}

float Dot(const float* a, const float* b, size_t d) {
  return static_cast<float>(SumTerms<DotTerm>(a, b, d));
}

float Cosine(const float* a, const float* b, size_t d) {
  const double ab = SumTerms<DotTerm>(a, b, d);
  const double aa = SumTerms<DotTerm>(a, a, d);
  const double bb = SumTerms<DotTerm>(b, b, d);
  if (aa == 0.0 || bb == 0.0) return 0.0f;
  return static_cast<float>(ab / std::sqrt(aa * bb));
}

void L2SqBatch(const float* q, const float* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = L2Sq(q, base + r * d, d);
}

void DotBatch(const float* q, const float* base, size_t n, size_t d, float* out) {
  for (size_t r = 0; r < n; ++r) out[r] = Dot(q, base + r * d, d);
}

// Exact integer arithmetic (no rounding to document): the oracle for every level.
int32_t DotU8I16(const int16_t* q, const uint8_t* code, size_t d) {
  int64_t sum = 0;
  for (size_t i = 0; i < d; ++i) sum += int64_t{q[i]} * code[i];
  return static_cast<int32_t>(sum);
}

float Sq8L2Sq(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  float sum = 0.0f;
  for (size_t i = 0; i < d; ++i) {
    const float diff = q[i] - (min[i] + static_cast<float>(code[i]) * step[i]);
    sum += diff * diff;
  }
  return sum;
}

float Sq8Dot(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  float sum = 0.0f;
  for (size_t i = 0; i < d; ++i) sum += q[i] * (min[i] + static_cast<float>(code[i]) * step[i]);
  return sum;
}

constexpr Kernels kScalarKernels = {Level::kScalar, &L2Sq,     &Dot,      &Cosine,   &L2SqBatch,
                                    &DotBatch,      &DotBatch, &DotU8I16, &Sq8L2Sq, &Sq8Dot};

}  // namespace

const Kernels* ScalarKernels() { return &kScalarKernels; }

}  // namespace sextant::simd::internal
