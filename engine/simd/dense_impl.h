// The dense kernels (simd/dense.h), written once over a small table of intrinsics V (dense_avx2.cc,
// dense_avx512.cc define V and include this file; nothing else may).
//
// As in distance_impl.h, everything is in an unnamed namespace and uses nothing but intrinsics
// (always inlined) and plain arithmetic, so no inline function compiled with one ISA's flags can
// be shared with (and leak into) code built for another (BUILD-NOTES.md, pitfall 4). No std::.
//
// The product. B is packed in panels of 2 W columns (W = floats per register), each k x 2W
// contiguous. The micro-kernel computes a block of up to 6 rows by one panel in 12 registers,
// one broadcast of x and two FMAs per row and step of k. The accumulators are named variables,
// never an array: GCC at -O2 (the RelWithDebInfo build users get) does not fully unroll a loop
// over an accumulator array and then keeps it in memory, a load, FMA and store per step, which
// ran the local encoder at half speed. k is cut in blocks of kKc so that a panel's block (kKc x 2W
// floats) stays in L1 while the 6-row blocks of a chunk of kMc rows (in L2) pass over it; the first
// k-block starts from the bias, later ones from the partial sums in y, and the last one applies
// the epilogue (GELU).
//
// exp and erf are vector polynomials: exp is Cephes' expf (relative error about 1e-7 over the
// range used), erf is Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7); both are far
// inside what a cosine >= 0.999 to the reference encoder needs.
#ifndef SEXTANT_SIMD_DENSE_IMPL_H_
#define SEXTANT_SIMD_DENSE_IMPL_H_

#include <stddef.h>

#include "simd/dense_internal.h"

namespace sextant::simd::internal {
namespace {

template <class V>
struct DenseImpl {
  using R = typename V::Reg;
  static constexpr size_t W = V::kWidth;
  static constexpr size_t P = 2 * W;  // panel width
  static constexpr size_t kKc = 256;
  static constexpr size_t kMc = 72;   // a multiple of 6

  static inline R Exp(R x) {
    x = V::Min(x, V::Set1(88.3762626647949f));
    x = V::Max(x, V::Set1(-87.3365478515625f));  // 2^n below stays a normal float
    const R fx = V::Round(V::Mul(x, V::Set1(1.44269504088896341f)));
    x = V::Fma(fx, V::Set1(-0.693359375f), x);
    x = V::Fma(fx, V::Set1(2.12194440e-4f), x);
    R y = V::Set1(1.9875691500e-4f);
    y = V::Fma(y, x, V::Set1(1.3981999507e-3f));
    y = V::Fma(y, x, V::Set1(8.3334519073e-3f));
    y = V::Fma(y, x, V::Set1(4.1665795894e-2f));
    y = V::Fma(y, x, V::Set1(1.6666665459e-1f));
    y = V::Fma(y, x, V::Set1(5.0000001201e-1f));
    y = V::Fma(y, V::Mul(x, x), V::Add(x, V::Set1(1.0f)));
    return V::Mul(y, V::Pow2(fx));
  }

  static inline R Erf(R x) {
    const R a = V::Abs(x);
    const R t = V::Div(V::Set1(1.0f), V::Fma(V::Set1(0.3275911f), a, V::Set1(1.0f)));
    R poly = V::Set1(1.061405429f);
    poly = V::Fma(poly, t, V::Set1(-1.453152027f));
    poly = V::Fma(poly, t, V::Set1(1.421413741f));
    poly = V::Fma(poly, t, V::Set1(-0.284496736f));
    poly = V::Fma(poly, t, V::Set1(0.254829592f));
    poly = V::Mul(poly, t);
    const R e = Exp(V::Sub(V::Zero(), V::Mul(a, a)));
    const R y = V::Sub(V::Set1(1.0f), V::Mul(poly, e));
    return V::CopySign(y, x);
  }

  static inline R Gelu(R v) {
    const R half = V::Mul(v, V::Set1(0.5f));
    return V::Fma(half, Erf(V::Mul(v, V::Set1(0.70710678118654752f))), half);
  }

  // Rows i .. i + Rows - 1 (x and y already offset to row i, x to the k-block) by one panel.
  // `next`, when not null, is the next panel's k-block, prefetched a row (2W floats) per step so
  // that it is in cache when its turn comes: with few rows (short texts) the weights stream from
  // memory once per call and their latency, not the FMAs, sets the pace.
  template <int Rows>
  static inline void Block(const float* x, size_t ldx, const float* panel, size_t kb, const float* bias,
                           bool first, bool gelu, float* y, size_t ldy, size_t cols, const float* next) {
    const size_t n0 = cols < W ? cols : W;
    const size_t n1 = cols > W ? cols - W : 0;
    R c00 = V::Zero(), c01 = V::Zero(), c10 = V::Zero(), c11 = V::Zero(), c20 = V::Zero(), c21 = V::Zero();
    R c30 = V::Zero(), c31 = V::Zero(), c40 = V::Zero(), c41 = V::Zero(), c50 = V::Zero(), c51 = V::Zero();
    if (first) {
      if (bias != nullptr) {
        const R b0 = V::LoadN(bias, n0), b1 = V::LoadN(bias + W, n1);
        c00 = c10 = c20 = c30 = c40 = c50 = b0;
        c01 = c11 = c21 = c31 = c41 = c51 = b1;
      }
    } else {
#define SEXTANT_DENSE_LOAD(r)                               \
  if constexpr (Rows > r) {                                 \
    c##r##0 = V::LoadN(y + (r) * ldy, n0);                  \
    c##r##1 = V::LoadN(y + (r) * ldy + W, n1);              \
  }
      SEXTANT_DENSE_LOAD(0) SEXTANT_DENSE_LOAD(1) SEXTANT_DENSE_LOAD(2)
      SEXTANT_DENSE_LOAD(3) SEXTANT_DENSE_LOAD(4) SEXTANT_DENSE_LOAD(5)
#undef SEXTANT_DENSE_LOAD
    }
    const float* wp = panel;
    for (size_t p = 0; p < kb; ++p, wp += P) {
      if (next != nullptr) {
        for (size_t b = 0; b < P * sizeof(float); b += 64) {
          __builtin_prefetch(reinterpret_cast<const char*>(next + p * P) + b);
        }
      }
      const R w0 = V::Load(wp), w1 = V::Load(wp + W);
#define SEXTANT_DENSE_STEP(r)                               \
  if constexpr (Rows > r) {                                 \
    const R xv = V::Set1(x[(r) * ldx + p]);                 \
    c##r##0 = V::Fma(xv, w0, c##r##0);                      \
    c##r##1 = V::Fma(xv, w1, c##r##1);                      \
  }
      SEXTANT_DENSE_STEP(0) SEXTANT_DENSE_STEP(1) SEXTANT_DENSE_STEP(2)
      SEXTANT_DENSE_STEP(3) SEXTANT_DENSE_STEP(4) SEXTANT_DENSE_STEP(5)
#undef SEXTANT_DENSE_STEP
    }
#define SEXTANT_DENSE_STORE(r)                                          \
  if constexpr (Rows > r) {                                             \
    if (gelu) {                                                         \
      c##r##0 = Gelu(c##r##0);                                          \
      c##r##1 = Gelu(c##r##1);                                          \
    }                                                                   \
    V::StoreN(y + (r) * ldy, c##r##0, n0);                              \
    V::StoreN(y + (r) * ldy + W, c##r##1, n1);                          \
  }
    SEXTANT_DENSE_STORE(0) SEXTANT_DENSE_STORE(1) SEXTANT_DENSE_STORE(2)
    SEXTANT_DENSE_STORE(3) SEXTANT_DENSE_STORE(4) SEXTANT_DENSE_STORE(5)
#undef SEXTANT_DENSE_STORE
  }

  static void Gemm(const float* x, size_t ldx, const float* packed, const float* bias, float* y, size_t ldy,
                   size_t n, size_t k, size_t m, Epilogue epilogue) {
    const size_t kblocks = k == 0 ? 1 : (k + kKc - 1) / kKc;
    for (size_t kbi = 0; kbi < kblocks; ++kbi) {
      const size_t k0 = kbi * kKc;
      const size_t kb = k - k0 < kKc ? k - k0 : kKc;
      const bool first = kbi == 0;
      const bool gelu = kbi + 1 == kblocks && epilogue == Epilogue::kGelu;
      for (size_t r0 = 0; r0 < n; r0 += kMc) {
        const size_t r1 = n - r0 < kMc ? n : r0 + kMc;
        for (size_t j0 = 0; j0 < m; j0 += P) {
          const size_t cols = m - j0 < P ? m - j0 : P;
          const float* panel = packed + j0 * k + k0 * P;
          const float* b = bias != nullptr ? bias + j0 : nullptr;
          // With one chunk of rows (n <= kMc: short inputs) each panel passes once and streams from
          // memory: the first block of rows over it prefetches the next panel's k-block.
          const float* next = n <= kMc && j0 + P < m ? panel + P * k : nullptr;
          size_t i = r0;
          for (; i + 6 <= r1; i += 6, next = nullptr) {
            Block<6>(x + i * ldx + k0, ldx, panel, kb, b, first, gelu, y + i * ldy + j0, ldy, cols, next);
          }
          const float* xi = x + i * ldx + k0;
          float* yi = y + i * ldy + j0;
          switch (r1 - i) {
            case 5: Block<5>(xi, ldx, panel, kb, b, first, gelu, yi, ldy, cols, next); break;
            case 4: Block<4>(xi, ldx, panel, kb, b, first, gelu, yi, ldy, cols, next); break;
            case 3: Block<3>(xi, ldx, panel, kb, b, first, gelu, yi, ldy, cols, next); break;
            case 2: Block<2>(xi, ldx, panel, kb, b, first, gelu, yi, ldy, cols, next); break;
            case 1: Block<1>(xi, ldx, panel, kb, b, first, gelu, yi, ldy, cols, next); break;
            default: break;
          }
        }
      }
    }
  }

  static void SoftmaxRows(float* x, size_t n, size_t m, size_t ld, float scale) {
    const R vscale = V::Set1(scale);
    for (size_t i = 0; i < n; ++i) {
      float* row = x + i * ld;
      R mx = V::Set1(row[0]);
      size_t j = 0;
      for (; j + W <= m; j += W) mx = V::Max(mx, V::Load(row + j));
      if (j < m) mx = V::Max(mx, V::LoadNOr(row + j, m - j, row[0]));
      const R shift = V::Mul(V::Set1(V::ReduceMax(mx)), vscale);
      R sum = V::Zero();
      for (j = 0; j + W <= m; j += W) {
        const R e = Exp(V::Fma(V::Load(row + j), vscale, V::Sub(V::Zero(), shift)));
        V::StoreN(row + j, e, W);
        sum = V::Add(sum, e);
      }
      if (j < m) {
        const R e = V::KeepN(Exp(V::Fma(V::LoadN(row + j, m - j), vscale, V::Sub(V::Zero(), shift))), m - j);
        V::StoreN(row + j, e, m - j);
        sum = V::Add(sum, e);
      }
      const R inv = V::Set1(1.0f / V::ReduceAdd(sum));
      for (j = 0; j + W <= m; j += W) V::StoreN(row + j, V::Mul(V::Load(row + j), inv), W);
      if (j < m) V::StoreN(row + j, V::Mul(V::LoadN(row + j, m - j), inv), m - j);
    }
  }

  static void LayerNormRows(float* x, const float* add, size_t n, size_t d, const float* gamma, const float* beta,
                            float eps) {
    const float inv_d = 1.0f / static_cast<float>(d);
    for (size_t i = 0; i < n; ++i) {
      float* row = x + i * d;
      const float* plus = add != nullptr ? add + i * d : nullptr;
      R sum = V::Zero();
      for (size_t j = 0; j < d; j += W) {
        const size_t cnt = d - j < W ? d - j : W;
        R v = V::LoadN(row + j, cnt);
        if (plus != nullptr) {
          v = V::Add(v, V::LoadN(plus + j, cnt));
          V::StoreN(row + j, v, cnt);
        }
        sum = V::Add(sum, v);
      }
      const R mean = V::Set1(V::ReduceAdd(sum) * inv_d);
      R sq = V::Zero();
      for (size_t j = 0; j < d; j += W) {
        const size_t cnt = d - j < W ? d - j : W;
        const R c = V::KeepN(V::Sub(V::LoadN(row + j, cnt), mean), cnt);
        sq = V::Fma(c, c, sq);
      }
      const float var = V::ReduceAdd(sq) * inv_d;
      const R inv = V::Div(V::Set1(1.0f), V::Sqrt(V::Set1(var + eps)));
      for (size_t j = 0; j < d; j += W) {
        const size_t cnt = d - j < W ? d - j : W;
        const R c = V::Mul(V::Sub(V::LoadN(row + j, cnt), mean), inv);
        V::StoreN(row + j, V::Fma(c, V::LoadN(gamma + j, cnt), V::LoadN(beta + j, cnt)), cnt);
      }
    }
  }

  static constexpr DenseKernels Table(Level level) {
    return DenseKernels{level, P, &Gemm, &SoftmaxRows, &LayerNormRows};
  }
};

}  // namespace
}  // namespace sextant::simd::internal

#endif  // SEXTANT_SIMD_DENSE_IMPL_H_
