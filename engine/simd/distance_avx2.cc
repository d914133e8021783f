// AVX2 + FMA kernels: distance_impl.h instantiated for xsimd::fma3<xsimd::avx2>. This file alone
// is compiled with -mavx2 -mfma (engine/CMakeLists.txt; GCC's -mavx2 does not imply -mfma); keep
// it this small (see distance_impl.h on why).
#include "simd/kernels_internal.h"

#if defined(__AVX2__) && defined(__FMA__)
#include "simd/distance_impl.h"

namespace sextant::simd::internal {

const Kernels* Avx2Kernels() {
  static constexpr Kernels kKernels = MakeKernels<xsimd::fma3<xsimd::avx2>>(Level::kAvx2);
  return &kKernels;
}

}  // namespace sextant::simd::internal

#else  // built without -mavx2 -mfma: the level is not available

namespace sextant::simd::internal {
const Kernels* Avx2Kernels() { return nullptr; }
}  // namespace sextant::simd::internal

#endif
