// The dense kernels (simd/dense.h) on AVX2 + FMA: dense_impl.h over 8-float registers. This file
// alone is compiled with -mavx2 -mfma (engine/CMakeLists.txt) and includes only intrinsics.
#include "simd/dense_internal.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

namespace sextant::simd::internal {
namespace {

struct Avx2 {
  using Reg = __m256;
  static constexpr size_t kWidth = 8;
  static inline __m256i Mask(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline Reg Load(const float* p) { return _mm256_loadu_ps(p); }
  // The first n (<= 8) lanes from p, 0 in the others; reads nothing past p[n - 1].
  static inline Reg LoadN(const float* p, size_t n) {
    return n >= kWidth ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, Mask(n));
  }
  static inline Reg LoadNOr(const float* p, size_t n, float fill) {
    return n >= kWidth ? _mm256_loadu_ps(p)
                       : _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, Mask(n)),
                                          _mm256_castsi256_ps(Mask(n)));
  }
  static inline void StoreN(float* p, Reg v, size_t n) {
    if (n >= kWidth) {
      _mm256_storeu_ps(p, v);
    } else if (n > 0) {
      _mm256_maskstore_ps(p, Mask(n), v);
    }
  }
  static inline Reg KeepN(Reg v, size_t n) {
    return n >= kWidth ? v : _mm256_and_ps(v, _mm256_castsi256_ps(Mask(n)));
  }
  static inline Reg Set1(float v) { return _mm256_set1_ps(v); }
  static inline Reg Zero() { return _mm256_setzero_ps(); }
  static inline Reg Add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static inline Reg Sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static inline Reg Mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static inline Reg Div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static inline Reg Fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static inline Reg Min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static inline Reg Max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static inline Reg Sqrt(Reg a) { return _mm256_sqrt_ps(a); }
  static inline Reg Round(Reg a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static inline Reg Abs(Reg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static inline Reg CopySign(Reg mag, Reg sign) {
    return _mm256_or_ps(Abs(mag), _mm256_and_ps(_mm256_set1_ps(-0.0f), sign));
  }
  // 2^n for whole-valued n in [-126, 127].
  static inline Reg Pow2(Reg n) {
    const __m256i i = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(i, 23));
  }
  static inline float ReduceAdd(Reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static inline float ReduceMax(Reg v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace sextant::simd::internal

#include "simd/dense_impl.h"

namespace sextant::simd::internal {

const DenseKernels* Avx2Dense() {
  static constexpr DenseKernels kKernels = DenseImpl<Avx2>::Table(Level::kAvx2);
  return &kKernels;
}

}  // namespace sextant::simd::internal

#else  // built without -mavx2 -mfma

namespace sextant::simd::internal {
const DenseKernels* Avx2Dense() { return nullptr; }
}  // namespace sextant::simd::internal

#endif
