// The local encoder's large products on AVX2 + FMA, chosen at run time (engine/rag/local_encoder.cc
// falls back to Eigen at the baseline flags when the CPU lacks them or SEXTANT_SIMD asks for less).
#ifndef SEXTANT_RAG_LOCAL_ENCODER_GEMM_H_
#define SEXTANT_RAG_LOCAL_ENCODER_GEMM_H_

namespace sextant::rag::internal {

// True when the CPU and OS support AVX2 and FMA and $SEXTANT_SIMD (as for the distance
// kernels: "scalar", "sse4", "avx2", "avx512") does not name a lower level. Decided once.
bool UseAvx2Gemm();

// Copies row-major w (k x m, m a multiple of 16) into `packed` (k * m floats) as m / 16 panels
// of 16 columns, each k x 16 contiguous: the layout GemmBiasAvx2 reads.
void PackPanels(const float* w, long k, long m, float* packed);

// y = x w + b for row-major, contiguous x (n x k), b (m) and y (n x m), with w given as
// PackPanels made it. Returns false (and writes nothing) when m is not a multiple of 16 or the
// CPU lacks AVX2/FMA.
bool GemmBiasAvx2(const float* x, const float* packed_w, const float* b, float* y, long n, long k, long m);

}  // namespace sextant::rag::internal

#endif  // SEXTANT_RAG_LOCAL_ENCODER_GEMM_H_
