// Dense float kernels for neural-network inference (the local encoder, engine/rag): one matrix
// product on packed weights, with the bias and GELU folded into it, row softmax and row LayerNorm,
// one implementation per instruction set, chosen by the same run-time detection as the distance
// kernels (simd/distance.h: Active(), capped by SEXTANT_SIMD).
//
//   dense_scalar.cc   plain C++ at the baseline flags: the fallback (scalar and sse4) and the oracle
//   dense_avx2.cc     AVX2 + FMA (avx2)
//   dense_avx512.cc   AVX-512 F (avx512)
//
// The product's right-hand side is packed once (PackB / PackBTransposed, e.g. when a model is
// loaded) into column panels of `panel` columns, each k x panel contiguous, the last one padded
// with zeros; the layout depends on the table (16 columns for AVX2 and scalar, 32 for AVX-512), so
// pack with the table that multiplies. Results agree between levels to float rounding (summation
// order differs), not bit for bit.
#ifndef SEXTANT_SIMD_DENSE_H_
#define SEXTANT_SIMD_DENSE_H_

#include <cstddef>

#include "simd/distance.h"

namespace sextant::simd {

enum class Epilogue { kNone = 0, kGelu = 1 };  // kGelu: y = x/2 (1 + erf(x / sqrt 2)), BERT's GELU

struct DenseKernels {
  Level level;
  size_t panel;  // columns per packed panel
  // y[i][j] = act(bias[j] + sum_p x[i][p] B[p][j]) for i < n, j < m; x and y row-major with row
  // strides ldx >= k and ldy >= m (so blocks of wider matrices can be read and written in place);
  // bias may be null (0). B is k x m, packed by this table's PackB. Writes nothing past column m
  // of a row of y. n, k or m may be 0 (then y is untouched, or with k = 0, act(bias)).
  void (*gemm)(const float* x, size_t ldx, const float* packed_b, const float* bias, float* y, size_t ldy,
               size_t n, size_t k, size_t m, Epilogue epilogue);
  // Each of n rows (m values, row stride ld): x = softmax(scale * x). m >= 1.
  void (*softmax_rows)(float* x, size_t n, size_t m, size_t ld, float scale);
  // Each of n rows of d values (contiguous, n x d): x = LayerNorm(x + add) with gamma, beta and eps,
  // where add (same shape) may be null. d >= 1.
  void (*layernorm_rows)(float* x, const float* add, size_t n, size_t d, const float* gamma, const float* beta,
                         float eps);

  // Floats PackB / PackBTransposed write for a k x m matrix: k * (m rounded up to `panel`).
  size_t PackedSize(size_t k, size_t m) const { return k * ((m + panel - 1) / panel) * panel; }
  // Packs B (k x m, row-major, row stride ldb >= m) into `packed` (PackedSize(k, m) floats).
  void PackB(const float* b, size_t k, size_t m, size_t ldb, float* packed) const;
  // Packs B = A^T, given A (m x k, row-major, row stride lda >= k): for products x A^T such as
  // attention's Q K^T.
  void PackBTransposed(const float* a, size_t k, size_t m, size_t lda, float* packed) const;
};

// The dense kernels for `level`, or nullptr when this CPU cannot run them. Levels without their
// own dense kernels (sse4) get the best ones below them.
const DenseKernels* DenseForLevel(Level level);

// The table for this process's level (Active().level). Resolved on first call, then constant.
const DenseKernels& ActiveDense();

}  // namespace sextant::simd

#endif  // SEXTANT_SIMD_DENSE_H_
