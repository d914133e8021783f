// A small AVX2 + FMA matrix product for the local encoder's linear layers.
//
// Built with the baseline flags: only the functions marked target("avx2,fma") use those
// instructions, and this file includes nothing but intrinsics and C headers, so no inline
// library code compiled for AVX2 can be shared with (and leak into) baseline code (BUILD-NOTES
// pitfall 4). Eigen is deliberately not used here for the same reason (pitfall 5).
#include "rag/local_encoder_gemm.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

namespace sextant::rag::internal {
namespace {

#if defined(__x86_64__)
bool CpuHasAvx2Fma() {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  // The OS must save YMM state (XCR0 bits 1 and 2); xgetbv needs OSXSAVE (CPUID.1:ECX bit 27).
  unsigned eax = 1, ebx = 0, ecx = 0, edx = 0;
  __asm__ volatile("cpuid" : "+a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx));
  if ((ecx & (1u << 27)) == 0) return false;
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0x6) == 0x6;
}

// Rows i0 .. i0+R-1 by columns j0 .. j0+15 of y = x w + b; `panel` is w's columns j0 .. j0+15,
// packed k x 16 contiguous.
template <int R>
__attribute__((target("avx2,fma"))) inline void Block(const float* x, const float* panel, const float* b,
                                                      float* y, long k, long m, long i0, long j0) {
  __m256 acc[R][2];
  const __m256 b0 = _mm256_loadu_ps(b + j0), b1 = _mm256_loadu_ps(b + j0 + 8);
  for (int r = 0; r < R; ++r) {
    acc[r][0] = b0;
    acc[r][1] = b1;
  }
  const float* wp = panel;
  for (long p = 0; p < k; ++p, wp += 16) {
    const __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 xv = _mm256_broadcast_ss(x + (i0 + r) * k + p);
      acc[r][0] = _mm256_fmadd_ps(xv, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xv, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm256_storeu_ps(y + (i0 + r) * m + j0, acc[r][0]);
    _mm256_storeu_ps(y + (i0 + r) * m + j0 + 8, acc[r][1]);
  }
}

__attribute__((target("avx2,fma"))) void Gemm(const float* x, const float* packed, const float* b, float* y,
                                              long n, long k, long m) {
  const long kRowChunk = 48;  // rows of x kept hot in L2 while all column panels pass over them
  for (long r0 = 0; r0 < n; r0 += kRowChunk) {
    const long r1 = r0 + kRowChunk < n ? r0 + kRowChunk : n;
    for (long j0 = 0; j0 < m; j0 += 16) {
      const float* panel = packed + j0 * k;
      long i = r0;
      for (; i + 6 <= r1; i += 6) Block<6>(x, panel, b, y, k, m, i, j0);
      for (; i < r1; ++i) Block<1>(x, panel, b, y, k, m, i, j0);
    }
  }
}
#endif

}  // namespace

bool UseAvx2Gemm() {
#if defined(__x86_64__)
  static const bool use = [] {
    if (!CpuHasAvx2Fma()) return false;
    const char* env = getenv("SEXTANT_SIMD");
    if (env != nullptr && *env != '\0' && strcmp(env, "avx2") != 0 && strcmp(env, "avx512") != 0) return false;
    return true;
  }();
  return use;
#else
  return false;
#endif
}

void PackPanels(const float* w, long k, long m, float* packed) {
  for (long j0 = 0; j0 < m; j0 += 16) {
    for (long p = 0; p < k; ++p) memcpy(packed + j0 * k + p * 16, w + p * m + j0, 16 * sizeof(float));
  }
}

bool GemmBiasAvx2(const float* x, const float* packed, const float* b, float* y, long n, long k, long m) {
#if defined(__x86_64__)
  if (m % 16 != 0 || !UseAvx2Gemm()) return false;
  Gemm(x, packed, b, y, n, k, m);
  return true;
#else
  (void)x, (void)packed, (void)b, (void)y, (void)n, (void)k, (void)m;
  return false;
#endif
}

}  // namespace sextant::rag::internal
