// Dense kernels in plain C++ at the baseline flags (simd/dense.h): the fallback below AVX2 and
// the oracle the vector levels are tested against. The product works on blocks of 2 rows by one
// 16-column panel in 8 accumulators of 4 floats (GCC vector extensions: SSE2 at the baseline).
#include <cmath>
#include <cstddef>

#include "simd/dense_internal.h"

namespace sextant::simd::internal {
namespace {

constexpr size_t kPanel = 16;

float Gelu(float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); }

// 4 floats as one SSE2 register at the baseline flags (GCC vector extension; plain arithmetic).
typedef float F4 __attribute__((vector_size(16)));

F4 LoadF4(const float* p) {
  F4 v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}

// Rows i0 .. i0 + R - 1 (R = 1 or 2) by one 16-column panel, in 4R named vector accumulators
// (an array would stay in memory at -O2).
template <size_t R>
void Block(const float* x, size_t ldx, const float* panel, const float* bias, float* y, size_t ldy, size_t k,
           size_t cols, Epilogue epilogue) {
  F4 a0 = {}, a1 = {}, a2 = {}, a3 = {}, b0 = {}, b1 = {}, b2 = {}, b3 = {};
  for (size_t p = 0; p < k; ++p) {
    const float* w = panel + p * kPanel;
    const F4 w0 = LoadF4(w), w1 = LoadF4(w + 4), w2 = LoadF4(w + 8), w3 = LoadF4(w + 12);
    const float x0 = x[p];
    a0 += x0 * w0;
    a1 += x0 * w1;
    a2 += x0 * w2;
    a3 += x0 * w3;
    if constexpr (R > 1) {
      const float x1 = x[ldx + p];
      b0 += x1 * w0;
      b1 += x1 * w1;
      b2 += x1 * w2;
      b3 += x1 * w3;
    }
  }
  float acc[2][kPanel];
  __builtin_memcpy(acc[0], &a0, 16), __builtin_memcpy(acc[0] + 4, &a1, 16);
  __builtin_memcpy(acc[0] + 8, &a2, 16), __builtin_memcpy(acc[0] + 12, &a3, 16);
  __builtin_memcpy(acc[1], &b0, 16), __builtin_memcpy(acc[1] + 4, &b1, 16);
  __builtin_memcpy(acc[1] + 8, &b2, 16), __builtin_memcpy(acc[1] + 12, &b3, 16);
  for (size_t r = 0; r < R; ++r) {
    float* out = y + r * ldy;
    for (size_t c = 0; c < cols; ++c) {
      const float v = acc[r][c] + (bias != nullptr ? bias[c] : 0.0f);
      out[c] = epilogue == Epilogue::kGelu ? Gelu(v) : v;
    }
  }
}

void Gemm(const float* x, size_t ldx, const float* packed, const float* bias, float* y, size_t ldy, size_t n,
          size_t k, size_t m, Epilogue epilogue) {
  for (size_t j0 = 0; j0 < m; j0 += kPanel) {
    const size_t cols = m - j0 < kPanel ? m - j0 : kPanel;
    const float* panel = packed + j0 * k;
    const float* b = bias != nullptr ? bias + j0 : nullptr;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) Block<2>(x + i * ldx, ldx, panel, b, y + i * ldy + j0, ldy, k, cols, epilogue);
    for (; i < n; ++i) Block<1>(x + i * ldx, ldx, panel, b, y + i * ldy + j0, ldy, k, cols, epilogue);
  }
}

void SoftmaxRows(float* x, size_t n, size_t m, size_t ld, float scale) {
  for (size_t i = 0; i < n; ++i) {
    float* row = x + i * ld;
    float max = row[0];
    for (size_t j = 1; j < m; ++j) max = row[j] > max ? row[j] : max;
    float sum = 0.0f;
    for (size_t j = 0; j < m; ++j) {
      row[j] = std::exp((row[j] - max) * scale);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (size_t j = 0; j < m; ++j) row[j] *= inv;
  }
}

void LayerNormRows(float* x, const float* add, size_t n, size_t d, const float* gamma, const float* beta,
                   float eps) {
  for (size_t i = 0; i < n; ++i) {
    float* row = x + i * d;
    if (add != nullptr) {
      for (size_t j = 0; j < d; ++j) row[j] += add[i * d + j];
    }
    float sum = 0.0f;
    for (size_t j = 0; j < d; ++j) sum += row[j];
    const float mean = sum / static_cast<float>(d);
    float sq = 0.0f;
    for (size_t j = 0; j < d; ++j) sq += (row[j] - mean) * (row[j] - mean);
    const float inv = 1.0f / std::sqrt(sq / static_cast<float>(d) + eps);
    for (size_t j = 0; j < d; ++j) row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
  }
}

constexpr DenseKernels kScalarDense = {Level::kScalar, kPanel, &Gemm, &SoftmaxRows, &LayerNormRows};

}  // namespace

const DenseKernels* ScalarDense() { return &kScalarDense; }

}  // namespace sextant::simd::internal
