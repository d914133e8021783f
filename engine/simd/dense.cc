// Packing for the dense kernels and the choice of their table (simd/dense.h). Baseline flags.
#include <cstring>

#include "simd/dense.h"
#include "simd/dense_internal.h"
#include "simd/kernels_internal.h"

namespace sextant::simd {

void DenseKernels::PackB(const float* b, size_t k, size_t m, size_t ldb, float* packed) const {
  for (size_t j0 = 0; j0 < m; j0 += panel) {
    const size_t cols = m - j0 < panel ? m - j0 : panel;
    float* out = packed + j0 * k;
    for (size_t p = 0; p < k; ++p, out += panel) {
      std::memcpy(out, b + p * ldb + j0, cols * sizeof(float));
      std::memset(out + cols, 0, (panel - cols) * sizeof(float));
    }
  }
}

void DenseKernels::PackBTransposed(const float* a, size_t k, size_t m, size_t lda, float* packed) const {
  for (size_t j0 = 0; j0 < m; j0 += panel) {
    const size_t cols = m - j0 < panel ? m - j0 : panel;
    float* out = packed + j0 * k;
    for (size_t p = 0; p < k; ++p, out += panel) {
      for (size_t c = 0; c < cols; ++c) out[c] = a[(j0 + c) * lda + p];
      for (size_t c = cols; c < panel; ++c) out[c] = 0.0f;
    }
  }
}

const DenseKernels* DenseForLevel(Level level) {
  if (!internal::CpuSupports(level)) return nullptr;
  // The best table built at or below `level`.
  switch (level) {
    case Level::kAvx512:
      if (const DenseKernels* k = internal::Avx512Dense(); k != nullptr) return k;
      [[fallthrough]];
    case Level::kAvx2:
      if (const DenseKernels* k = internal::Avx2Dense(); k != nullptr) return k;
      [[fallthrough]];
    case Level::kSse4:
    case Level::kScalar:
      break;
  }
  return internal::ScalarDense();
}

const DenseKernels& ActiveDense() {
  static const DenseKernels* const kernels = DenseForLevel(Active().level);
  return *kernels;
}

}  // namespace sextant::simd
