// AVX-512 kernels: distance_impl.h instantiated for xsimd::avx512bw (16 floats per register).
// This file alone is compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma
// (engine/CMakeLists.txt); keep it this small (see distance_impl.h on why). xsimd 8.1 has no
// AVX-512 override of fma(), so its generic a * b + c is used; GCC contracts it into vfmadd
// (C++ defaults to -ffp-contract=fast), which the disassembly of this object confirms.
#include "simd/kernels_internal.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__FMA__)
#include "simd/distance_impl.h"

namespace sextant::simd::internal {

const Kernels* Avx512Kernels() {
  static constexpr Kernels kKernels = MakeKernels<xsimd::avx512bw>(Level::kAvx512);
  return &kKernels;
}

}  // namespace sextant::simd::internal

#else  // built without the AVX-512 flags: the level is not available

namespace sextant::simd::internal {
const Kernels* Avx512Kernels() { return nullptr; }
}  // namespace sextant::simd::internal

#endif
