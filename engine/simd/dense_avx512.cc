// The dense kernels (simd/dense.h) on AVX-512 F: dense_impl.h over 16-float registers (panels of
// 32 columns). This file alone is compiled with the AVX-512 flags (engine/CMakeLists.txt) and
// includes only intrinsics.
#include "simd/dense_internal.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

namespace sextant::simd::internal {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr size_t kWidth = 16;
  static inline __mmask16 Mask(size_t n) {
    return n >= kWidth ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1u);
  }
  static inline Reg Load(const float* p) { return _mm512_loadu_ps(p); }
  static inline Reg LoadN(const float* p, size_t n) {
    return n >= kWidth ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(Mask(n), p);
  }
  static inline Reg LoadNOr(const float* p, size_t n, float fill) {
    return n >= kWidth ? _mm512_loadu_ps(p) : _mm512_mask_loadu_ps(_mm512_set1_ps(fill), Mask(n), p);
  }
  static inline void StoreN(float* p, Reg v, size_t n) {
    if (n >= kWidth) {
      _mm512_storeu_ps(p, v);
    } else if (n > 0) {
      _mm512_mask_storeu_ps(p, Mask(n), v);
    }
  }
  static inline Reg KeepN(Reg v, size_t n) { return n >= kWidth ? v : _mm512_maskz_mov_ps(Mask(n), v); }
  static inline Reg Set1(float v) { return _mm512_set1_ps(v); }
  static inline Reg Zero() { return _mm512_setzero_ps(); }
  static inline Reg Add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static inline Reg Sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static inline Reg Mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static inline Reg Div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static inline Reg Fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static inline Reg Min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
  static inline Reg Max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static inline Reg Sqrt(Reg a) { return _mm512_sqrt_ps(a); }
  static inline Reg Round(Reg a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static inline Reg Abs(Reg a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a); }
  static inline Reg CopySign(Reg mag, Reg sign) {
    return _mm512_or_ps(Abs(mag), _mm512_and_ps(_mm512_set1_ps(-0.0f), sign));
  }
  static inline Reg Pow2(Reg n) {
    const __m512i i = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(i, 23));
  }
  static inline float ReduceAdd(Reg v) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  static inline float ReduceMax(Reg v) {
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
};

}  // namespace
}  // namespace sextant::simd::internal

#include "simd/dense_impl.h"

namespace sextant::simd::internal {

const DenseKernels* Avx512Dense() {
  static constexpr DenseKernels kKernels = DenseImpl<Avx512>::Table(Level::kAvx512);
  return &kKernels;
}

}  // namespace sextant::simd::internal

#else  // built without the AVX-512 flags

namespace sextant::simd::internal {
const DenseKernels* Avx512Dense() { return nullptr; }
}  // namespace sextant::simd::internal

#endif
