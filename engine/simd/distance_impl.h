// The distance kernels, written once as templates on the xsimd architecture, and the table that
// exposes one instantiation as a Kernels.
//
// Include this ONLY from distance_sse4.cc, distance_avx2.cc and distance_avx512.cc: each of them
// is compiled with its own -m flags and instantiates MakeKernels<Arch>() once.
//
// Keeping ISAs apart (BUILD-NOTES.md, pitfall 4). An inline function or template instantiation
// that two object files both emit is a weak (COMDAT) symbol, and the linker keeps one copy for the
// whole program. If the AVX-512 file and the SSE file both emitted such a helper, the SSE path
// could end up calling the AVX-512 copy and die with SIGILL on an older CPU; the same goes for any
// std:: helper shared with the baseline code. Two defences:
//   * Everything below is in an unnamed namespace, which is normally not done in a header: each
//     ISA file gets its own internal-linkage copy that the linker never merges.
//   * xsimd's own inline functions (namespace xsimd) cannot be renamed, so the entry points the
//     table points to are marked `flatten`: every call inside them, down through xsimd, is
//     inlined, and no out-of-line xsimd or std:: copy is emitted at all (`nm` on the three ISA
//     objects at -O1, -O2, -O3 and with ASan/UBSan: no weak symbols). At -O0 GCC ignores
//     `flatten`; the weak symbols left are then xsimd templates on that file's own arch
//     (batch<float, avx512bw>, ...), which no other object instantiates: ReduceAdd below
//     exists partly to keep it so.
//   Keep the per-ISA files tiny (an include and one instantiation) so this stays true.
//
// Numerics. l2sq and dot run four independent vector accumulators over blocks of 4 batches (one
// FMA per batch where the ISA has it, which hides the FMA latency at two loads per cycle), add
// up to three whole batches left over into separate accumulators, fold them pairwise, take the
// horizontal sum, and then add the fewer than `batch::size` trailing elements one by one (scalar
// tail; no masked loads, so nothing past a[d - 1] or b[d - 1] is ever read). cosine does the
// same with two accumulators for each of its three sums.
// Results therefore differ between levels in the last bits (summation order), but within a level
// a batch kernel's out[i] is bit-identical to the single-pair kernel on row i, whatever n and i:
// the batch kernels run exactly the single-pair code per row (index/flat.cc re-scores candidates
// through the kernels and relies on that). Scanning row after row keeps the access pattern one
// sequential stream, which the hardware prefetcher follows, so out-of-cache scans run at memory
// bandwidth (see bench/micro/kernels_bench.cc).
#ifndef SEXTANT_SIMD_DISTANCE_IMPL_H_
#define SEXTANT_SIMD_DISTANCE_IMPL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

// All intrinsics, whatever the -m flags (GCC and Clang declare them with target attributes), for
// ReduceAdd's AVX-512 branch, which the other files parse but never instantiate.
#include <immintrin.h>

#include <xsimd/xsimd.hpp>

#include "simd/distance.h"

namespace sextant::simd::internal {
namespace {

// The sum of the lanes. xsimd 8.1's hadd() for AVX-512 narrows to an xsimd avx2 batch and reuses
// the AVX hadd (two vhaddps); the shuffle tree below is shorter, and it keeps the AVX-512 object
// free of xsimd's avx/avx2 types, which the AVX2 object also instantiates: at -O0, where
// `flatten` does nothing, those would otherwise be weak symbols shared by both objects. (GCC 12's
// _mm512_reduce_add_ps and _mm512_castps512_ps256 would do, but they trip a false
// -Wuninitialized inside its headers.)
template <class Arch>
inline float ReduceAdd(const xsimd::batch<float, Arch>& v) {
  if constexpr (std::is_base_of_v<xsimd::avx512f, Arch>) {
    const __m512 v16 = v;
    const __m256 v8 = _mm256_add_ps(_mm512_extractf32x8_ps(v16, 0), _mm512_extractf32x8_ps(v16, 1));
    const __m128 v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
    const __m128 v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
    return _mm_cvtss_f32(_mm_add_ss(v2, _mm_movehdup_ps(v2)));
  } else {
    return xsimd::hadd(v);
  }
}

// Per-element terms of the sums: squared difference and product. Acc(a, b, acc) = acc + term.
struct L2Term {
  template <class B>
  static B Acc(const B& a, const B& b, const B& acc) {
    const B diff = a - b;
    return xsimd::fma(diff, diff, acc);
  }
  static float AccScalar(float a, float b, float acc) {
    const float diff = a - b;
    return acc + diff * diff;
  }
};

struct DotTerm {
  template <class B>
  static B Acc(const B& a, const B& b, const B& acc) {
    return xsimd::fma(a, b, acc);
  }
  static float AccScalar(float a, float b, float acc) { return acc + a * b; }
};

// sum over i < d of Term(a[i], b[i]). See the file comment for the order of summation.
template <class Arch, class Term>
inline float SumTerms(const float* a, const float* b, size_t d) {
  using B = xsimd::batch<float, Arch>;
  constexpr size_t kW = B::size;
  B acc0(0.0f), acc1(0.0f), acc2(0.0f), acc3(0.0f);
  size_t i = 0;
  for (; i + 4 * kW <= d; i += 4 * kW) {
    acc0 = Term::Acc(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
    acc1 = Term::Acc(B::load_unaligned(a + i + kW), B::load_unaligned(b + i + kW), acc1);
    acc2 = Term::Acc(B::load_unaligned(a + i + 2 * kW), B::load_unaligned(b + i + 2 * kW), acc2);
    acc3 = Term::Acc(B::load_unaligned(a + i + 3 * kW), B::load_unaligned(b + i + 3 * kW), acc3);
  }
  if (i + kW <= d) {
    acc0 = Term::Acc(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
    i += kW;
    if (i + kW <= d) {
      acc1 = Term::Acc(B::load_unaligned(a + i), B::load_unaligned(b + i), acc1);
      i += kW;
      if (i + kW <= d) {
        acc2 = Term::Acc(B::load_unaligned(a + i), B::load_unaligned(b + i), acc2);
        i += kW;
      }
    }
  }
  float sum = ReduceAdd((acc0 + acc1) + (acc2 + acc3));
  for (; i < d; ++i) sum = Term::AccScalar(a[i], b[i], sum);
  return sum;
}

// dot(a, b) / (|a| |b|) in one pass: three sums, two accumulators each.
template <class Arch>
inline float CosineImpl(const float* a, const float* b, size_t d) {
  using B = xsimd::batch<float, Arch>;
  constexpr size_t kW = B::size;
  B ab0(0.0f), ab1(0.0f), aa0(0.0f), aa1(0.0f), bb0(0.0f), bb1(0.0f);
  size_t i = 0;
  for (; i + 2 * kW <= d; i += 2 * kW) {
    const B a0 = B::load_unaligned(a + i);
    const B b0 = B::load_unaligned(b + i);
    const B a1 = B::load_unaligned(a + i + kW);
    const B b1 = B::load_unaligned(b + i + kW);
    ab0 = xsimd::fma(a0, b0, ab0);
    aa0 = xsimd::fma(a0, a0, aa0);
    bb0 = xsimd::fma(b0, b0, bb0);
    ab1 = xsimd::fma(a1, b1, ab1);
    aa1 = xsimd::fma(a1, a1, aa1);
    bb1 = xsimd::fma(b1, b1, bb1);
  }
  if (i + kW <= d) {
    const B a0 = B::load_unaligned(a + i);
    const B b0 = B::load_unaligned(b + i);
    ab0 = xsimd::fma(a0, b0, ab0);
    aa0 = xsimd::fma(a0, a0, aa0);
    bb0 = xsimd::fma(b0, b0, bb0);
    i += kW;
  }
  float ab = ReduceAdd(ab0 + ab1);
  float aa = ReduceAdd(aa0 + aa1);
  float bb = ReduceAdd(bb0 + bb1);
  for (; i < d; ++i) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa == 0.0f || bb == 0.0f) return 0.0f;
  // The product of the squared norms in double cannot overflow or lose range.
  return static_cast<float>(ab / std::sqrt(static_cast<double>(aa) * static_cast<double>(bb)));
}

// dot_rows: q against four rows at a time, so that each batch of q is loaded once for four rows,
// with two accumulators per row (eight FMA chains hide the FMA latency), and the block two blocks
// ahead prefetched a cache line at a time (list scans jump from list to list, where the hardware
// prefetcher needs a while to catch on). Leftover rows go through SumTerms.
template <class Arch>
inline void DotRows(const float* q, const float* base, size_t n, size_t d, float* out) {
  using B = xsimd::batch<float, Arch>;
  constexpr size_t kW = B::size;
  const size_t block_bytes = 4 * d * sizeof(float);
  const char* end = reinterpret_cast<const char*>(base + n * d);
  size_t r = 0;
  for (; r + 4 <= n; r += 4) {
    const float* x0 = base + r * d;
    const float* x1 = x0 + d;
    const float* x2 = x1 + d;
    const float* x3 = x2 + d;
    const char* ahead = reinterpret_cast<const char*>(x0) + 2 * block_bytes;
    for (size_t b = 0; b < block_bytes && ahead + b < end; b += 64) __builtin_prefetch(ahead + b);
    B a0(0.0f), a1(0.0f), a2(0.0f), a3(0.0f), c0(0.0f), c1(0.0f), c2(0.0f), c3(0.0f);
    size_t i = 0;
    for (; i + 2 * kW <= d; i += 2 * kW) {
      const B q0 = B::load_unaligned(q + i);
      const B q1 = B::load_unaligned(q + i + kW);
      a0 = xsimd::fma(q0, B::load_unaligned(x0 + i), a0);
      a1 = xsimd::fma(q0, B::load_unaligned(x1 + i), a1);
      a2 = xsimd::fma(q0, B::load_unaligned(x2 + i), a2);
      a3 = xsimd::fma(q0, B::load_unaligned(x3 + i), a3);
      c0 = xsimd::fma(q1, B::load_unaligned(x0 + i + kW), c0);
      c1 = xsimd::fma(q1, B::load_unaligned(x1 + i + kW), c1);
      c2 = xsimd::fma(q1, B::load_unaligned(x2 + i + kW), c2);
      c3 = xsimd::fma(q1, B::load_unaligned(x3 + i + kW), c3);
    }
    if (i + kW <= d) {
      const B q0 = B::load_unaligned(q + i);
      a0 = xsimd::fma(q0, B::load_unaligned(x0 + i), a0);
      a1 = xsimd::fma(q0, B::load_unaligned(x1 + i), a1);
      a2 = xsimd::fma(q0, B::load_unaligned(x2 + i), a2);
      a3 = xsimd::fma(q0, B::load_unaligned(x3 + i), a3);
      i += kW;
    }
    float s0 = ReduceAdd(a0 + c0), s1 = ReduceAdd(a1 + c1), s2 = ReduceAdd(a2 + c2), s3 = ReduceAdd(a3 + c3);
    for (; i < d; ++i) {
      s0 += q[i] * x0[i];
      s1 += q[i] * x1[i];
      s2 += q[i] * x2[i];
      s3 += q[i] * x3[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < n; ++r) out[r] = SumTerms<Arch, DotTerm>(q, base + r * d, d);
}

// The sum of the eight 32-bit lanes of an AVX2 register / sixteen of an AVX-512 one (integer:
// any order gives the same result).
inline int32_t ReduceAddI32(__m128i x) {
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4E));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xB1));
  return _mm_cvtsi128_si32(x);
}

// dot_u8_i16 (distance.h). Per step, codes are zero-extended to 16 bits and vpmaddwd multiplies
// them with the query's 16-bit values and adds adjacent pairs into 32-bit lanes; two accumulators
// per level hide the add latency. AVX-512 finishes the tail with masked loads (fault-suppressing,
// so nothing past the end is touched); the narrower levels finish it one element at a time.
template <class Arch>
inline int32_t DotU8I16(const int16_t* q, const uint8_t* code, size_t d) {
  size_t i = 0;
  int32_t sum = 0;
  if constexpr (std::is_base_of_v<xsimd::avx512bw, Arch>) {
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    for (; i + 64 <= d; i += 64) {
      const __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(code + i)));
      const __m512i c1 =
          _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(code + i + 32)));
      acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(c0, _mm512_loadu_si512(q + i)));
      acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(c1, _mm512_loadu_si512(q + i + 32)));
    }
    if (i + 32 <= d) {
      const __m512i c0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(code + i)));
      acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(c0, _mm512_loadu_si512(q + i)));
      i += 32;
    }
    if (i < d) {
      const __mmask32 m = static_cast<__mmask32>((uint64_t{1} << (d - i)) - 1);
      const __m512i c0 = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, code + i));
      acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(c0, _mm512_maskz_loadu_epi16(m, q + i)));
      i = d;
    }
    const __m512i acc = _mm512_add_epi32(acc0, acc1);
    const __m256i a8 = _mm256_add_epi32(_mm512_extracti64x4_epi64(acc, 0), _mm512_extracti64x4_epi64(acc, 1));
    sum = ReduceAddI32(_mm_add_epi32(_mm256_castsi256_si128(a8), _mm256_extracti128_si256(a8, 1)));
  } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    for (; i + 32 <= d; i += 32) {
      const __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i)));
      const __m256i c1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i + 16)));
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i))));
      acc1 = _mm256_add_epi32(acc1,
                              _mm256_madd_epi16(c1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i + 16))));
    }
    if (i + 16 <= d) {
      const __m256i c0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i)));
      acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(c0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i))));
      i += 16;
    }
    const __m256i acc = _mm256_add_epi32(acc0, acc1);
    sum = ReduceAddI32(_mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1)));
  } else {
    __m128i acc0 = _mm_setzero_si128(), acc1 = _mm_setzero_si128();
    for (; i + 16 <= d; i += 16) {
      const __m128i c16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i));
      const __m128i c0 = _mm_cvtepu8_epi16(c16);
      const __m128i c1 = _mm_cvtepu8_epi16(_mm_srli_si128(c16, 8));
      acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(c0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i))));
      acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(c1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 8))));
    }
    sum = ReduceAddI32(_mm_add_epi32(acc0, acc1));
  }
  for (; i < d; ++i) sum += int32_t{q[i]} * int32_t{code[i]};
  return sum;
}

// sq8_l2sq / sq8_dot (distance.h): codes decoded on the fly, x_i = min_i + code_i * step_i, in one
// pass. AVX-512 takes 32 then 16 codes per step and AVX2 16, widened u8 -> u32 -> f32 with FMA;
// the SSE level 16 codes per step with SSE2 only (multiply, then add). The tail is plain code.
template <class Arch, bool kL2>
inline float Sq8Decode(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  size_t i = 0;
  float sum = 0.0f;
  if constexpr (std::is_base_of_v<xsimd::avx512bw, Arch>) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    auto step16 = [&](size_t o, __m512& acc) {
      const __m512 c = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + o))));
      const __m512 x = _mm512_fmadd_ps(c, _mm512_loadu_ps(step + o), _mm512_loadu_ps(min + o));
      if constexpr (kL2) {
        const __m512 diff = _mm512_sub_ps(_mm512_loadu_ps(q + o), x);
        acc = _mm512_fmadd_ps(diff, diff, acc);
      } else {
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + o), x, acc);
      }
    };
    for (; i + 32 <= d; i += 32) {
      step16(i, acc0);
      step16(i + 16, acc1);
    }
    if (i + 16 <= d) {
      step16(i, acc0);
      i += 16;
    }
    const __m512 acc = _mm512_add_ps(acc0, acc1);
    const __m256 v8 = _mm256_add_ps(_mm512_extractf32x8_ps(acc, 0), _mm512_extractf32x8_ps(acc, 1));
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    sum = _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
  } else if constexpr (std::is_base_of_v<xsimd::avx2, Arch>) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; i + 16 <= d; i += 16) {
      const __m128i c16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i));
      const __m256 c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c16));
      const __m256 c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(c16, 8)));
      const __m256 x0 = _mm256_fmadd_ps(c0, _mm256_loadu_ps(step + i), _mm256_loadu_ps(min + i));
      const __m256 x1 = _mm256_fmadd_ps(c1, _mm256_loadu_ps(step + i + 8), _mm256_loadu_ps(min + i + 8));
      if constexpr (kL2) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), x0);
        const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), x1);
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
      } else {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), x0, acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), x1, acc1);
      }
    }
    const __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    sum = _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
  } else {
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= d; i += 16) {
      const __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i));
      const __m128i lo16 = _mm_unpacklo_epi8(c8, zero);
      const __m128i hi16 = _mm_unpackhi_epi8(c8, zero);
      const __m128i parts[4] = {_mm_unpacklo_epi16(lo16, zero), _mm_unpackhi_epi16(lo16, zero),
                                _mm_unpacklo_epi16(hi16, zero), _mm_unpackhi_epi16(hi16, zero)};
      for (int j = 0; j < 4; ++j) {
        const size_t o = i + 4 * static_cast<size_t>(j);
        const __m128 x = _mm_add_ps(_mm_loadu_ps(min + o), _mm_mul_ps(_mm_cvtepi32_ps(parts[j]), _mm_loadu_ps(step + o)));
        const __m128 qv = _mm_loadu_ps(q + o);
        __m128& acc = (j & 1) ? acc1 : acc0;
        if constexpr (kL2) {
          const __m128 diff = _mm_sub_ps(qv, x);
          acc = _mm_add_ps(acc, _mm_mul_ps(diff, diff));
        } else {
          acc = _mm_add_ps(acc, _mm_mul_ps(qv, x));
        }
      }
    }
    __m128 v = _mm_add_ps(acc0, acc1);
    __m128 shuf = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
    __m128 sums = _mm_add_ps(v, shuf);
    shuf = _mm_movehl_ps(shuf, sums);
    sum = _mm_cvtss_f32(_mm_add_ss(sums, shuf));
  }
  for (; i < d; ++i) {
    const float x = min[i] + static_cast<float>(code[i]) * step[i];
    if constexpr (kL2) {
      const float diff = q[i] - x;
      sum += diff * diff;
    } else {
      sum += q[i] * x;
    }
  }
  return sum;
}

// The entry points the table holds. `flatten`: see the file comment.
template <class Arch>
struct Entry {
  [[gnu::flatten]] static float L2Sq(const float* a, const float* b, size_t d) {
    return SumTerms<Arch, L2Term>(a, b, d);
  }
  [[gnu::flatten]] static float Dot(const float* a, const float* b, size_t d) {
    return SumTerms<Arch, DotTerm>(a, b, d);
  }
  [[gnu::flatten]] static float Cosine(const float* a, const float* b, size_t d) {
    return CosineImpl<Arch>(a, b, d);
  }
  [[gnu::flatten]] static void L2SqBatch(const float* q, const float* base, size_t n, size_t d,
                                         float* out) {
    for (size_t r = 0; r < n; ++r) out[r] = SumTerms<Arch, L2Term>(q, base + r * d, d);
  }
  [[gnu::flatten]] static void DotBatch(const float* q, const float* base, size_t n, size_t d,
                                        float* out) {
    for (size_t r = 0; r < n; ++r) out[r] = SumTerms<Arch, DotTerm>(q, base + r * d, d);
  }
  [[gnu::flatten]] static void DotRowsEntry(const float* q, const float* base, size_t n, size_t d, float* out) {
    DotRows<Arch>(q, base, n, d, out);
  }
  [[gnu::flatten]] static int32_t DotU8I16Entry(const int16_t* q, const uint8_t* code, size_t d) {
    return DotU8I16<Arch>(q, code, d);
  }
  [[gnu::flatten]] static float Sq8L2Sq(const float* q, const uint8_t* code, const float* min, const float* step,
                                        size_t d) {
    return Sq8Decode<Arch, true>(q, code, min, step, d);
  }
  [[gnu::flatten]] static float Sq8Dot(const float* q, const uint8_t* code, const float* min, const float* step,
                                       size_t d) {
    return Sq8Decode<Arch, false>(q, code, min, step, d);
  }
};

template <class Arch>
constexpr Kernels MakeKernels(Level level) {
  return Kernels{level,
                 &Entry<Arch>::L2Sq,
                 &Entry<Arch>::Dot,
                 &Entry<Arch>::Cosine,
                 &Entry<Arch>::L2SqBatch,
                 &Entry<Arch>::DotBatch,
                 &Entry<Arch>::DotRowsEntry,
                 &Entry<Arch>::DotU8I16Entry,
                 &Entry<Arch>::Sq8L2Sq,
                 &Entry<Arch>::Sq8Dot};
}

}  // namespace
}  // namespace sextant::simd::internal

#endif  // SEXTANT_SIMD_DISTANCE_IMPL_H_
