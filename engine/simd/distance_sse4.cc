// SSE4.2 kernels: distance_impl.h instantiated for xsimd::sse4_2. This file alone is compiled
// with -msse4.2 (engine/CMakeLists.txt); keep it this small (see distance_impl.h on why).
#include "simd/kernels_internal.h"

#if defined(__SSE4_2__)
#include "simd/distance_impl.h"

namespace sextant::simd::internal {

const Kernels* Sse4Kernels() {
  static constexpr Kernels kKernels = MakeKernels<xsimd::sse4_2>(Level::kSse4);
  return &kKernels;
}

}  // namespace sextant::simd::internal

#else  // built without -msse4.2: the level is not available

namespace sextant::simd::internal {
const Kernels* Sse4Kernels() { return nullptr; }
}  // namespace sextant::simd::internal

#endif
