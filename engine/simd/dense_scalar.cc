// Dense kernels in plain C++ at the baseline flags (simd/dense.h): the fallback below AVX2 and
// the oracle the vector levels are tested against. The product works on blocks of 4 rows by one
// 16-column panel with a local accumulator array, which the compiler keeps in SSE registers.
#include <cmath>
#include <cstddef>

#include "simd/dense_internal.h"

namespace sextant::simd::internal {
namespace {

constexpr size_t kPanel = 16;

float Gelu(float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); }

void Gemm(const float* x, size_t ldx, const float* packed, const float* bias, float* y, size_t ldy, size_t n,
          size_t k, size_t m, Epilogue epilogue) {
  for (size_t j0 = 0; j0 < m; j0 += kPanel) {
    const size_t cols = m - j0 < kPanel ? m - j0 : kPanel;
    const float* panel = packed + j0 * k;
    for (size_t i0 = 0; i0 < n; i0 += 4) {
      const size_t rows = n - i0 < 4 ? n - i0 : 4;
      float acc[4][kPanel] = {};
      for (size_t p = 0; p < k; ++p) {
        const float* w = panel + p * kPanel;
        for (size_t r = 0; r < rows; ++r) {
          const float xv = x[(i0 + r) * ldx + p];
          for (size_t c = 0; c < kPanel; ++c) acc[r][c] += xv * w[c];
        }
      }
      for (size_t r = 0; r < rows; ++r) {
        float* out = y + (i0 + r) * ldy + j0;
        for (size_t c = 0; c < cols; ++c) {
          const float v = acc[r][c] + (bias != nullptr ? bias[j0 + c] : 0.0f);
          out[c] = epilogue == Epilogue::kGelu ? Gelu(v) : v;
        }
      }
    }
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
