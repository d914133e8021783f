// Private to engine/simd: the per-ISA dense kernel tables (simd/dense.h). Each is defined in its
// own file compiled with that ISA's flags and is nullptr when the file was built without them; none
// checks the CPU (DenseForLevel does).
#ifndef SEXTANT_SIMD_DENSE_INTERNAL_H_
#define SEXTANT_SIMD_DENSE_INTERNAL_H_

#include "simd/dense.h"

namespace sextant::simd::internal {

const DenseKernels* ScalarDense();  // never nullptr
const DenseKernels* Avx2Dense();
const DenseKernels* Avx512Dense();

}  // namespace sextant::simd::internal

#endif  // SEXTANT_SIMD_DENSE_INTERNAL_H_
