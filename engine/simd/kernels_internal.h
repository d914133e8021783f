// Private to engine/simd and its tests: the per-ISA kernel tables and the pure function that
// picks the level for a process. Nothing outside engine/simd and tests/unit/simd includes this.
//
// Each *Kernels() function is defined in its own file, compiled with that ISA's -m flags
// (engine/CMakeLists.txt). It returns nullptr when the file was built without those flags (for
// instance on a compiler or target that lacks them); it never checks the CPU. Calling into a table
// the CPU cannot run is undefined (SIGILL): go through ForLevel(), which checks first.
#ifndef SEXTANT_SIMD_KERNELS_INTERNAL_H_
#define SEXTANT_SIMD_KERNELS_INTERNAL_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "simd/distance.h"

namespace sextant::simd::internal {

const Kernels* ScalarKernels();  // never nullptr
const Kernels* Sse4Kernels();    // distance_sse4.cc: xsimd::sse4_2
const Kernels* Avx2Kernels();    // distance_avx2.cc: xsimd::fma3<xsimd::avx2>
const Kernels* Avx512Kernels();  // distance_avx512.cc: xsimd::avx512bw

// True when this CPU (and its OS, which must save the wider registers on a context switch) can
// run `level`. Detected once; does not consider whether the kernels were built.
bool CpuSupports(Level level);

// The level Active() uses, given the value of SEXTANT_SIMD (nullopt when unset) and the levels
// that can run here (ascending, starting with kScalar). Unset or empty: the best available level.
// A known name: that level if available, else the best available level below it. An unknown
// name: the best available level. In the last two cases a message for the log is stored in
// *warning (when warning is non-null); otherwise *warning is cleared.
Level ChooseLevel(std::optional<std::string_view> env, const std::vector<Level>& available,
                  std::string* warning);

}  // namespace sextant::simd::internal

#endif  // SEXTANT_SIMD_KERNELS_INTERNAL_H_
