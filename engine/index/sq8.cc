// Sq8Quantizer (sq8.h): per-dimension [min, max] scalar quantization to one byte per component.
//
// Distances against a code decode on the fly (min + code * step) inside one pass, so nothing is
// allocated per call. The loops are written three times: SSE2 (the x86-64 baseline, always safe),
// and AVX2+FMA / AVX-512 versions compiled through function-level `target` attributes. The wider
// versions are chosen once per process from simd::Active()'s level (so SEXTANT_SIMD=sse4 or
// =scalar also caps them; "scalar" selects the plain loop, which is the test oracle). A `target`
// function cannot be inlined into baseline code, and the baseline inline helpers it calls are
// compiled for the baseline, so no wide instruction leaks out of them (BUILD-NOTES pitfall 4).
//
// Serialized form (little-endian): u32 dim, u8 trained, then when trained dim f32 mins and dim f32
// steps. Deserialize checks every length and that each min is finite and each step finite and
// >= 0, so garbage is DataLoss rather than a NaN distance later.
#include "index/sq8.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define SEXTANT_SQ8_X86 1
#endif

#include "simd/distance.h"

namespace sextant::index {
namespace {

using Sq8Fn = float (*)(const float* q, const uint8_t* code, const float* min, const float* step,
                        size_t d);

// Plain loops: the reference, and the path for SEXTANT_SIMD=scalar and non-x86 builds.
float L2Scalar(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  float sum = 0.0f;
  for (size_t i = 0; i < d; ++i) {
    const float diff = q[i] - (min[i] + static_cast<float>(code[i]) * step[i]);
    sum += diff * diff;
  }
  return sum;
}

float DotScalar(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  float sum = 0.0f;
  for (size_t i = 0; i < d; ++i) sum += q[i] * (min[i] + static_cast<float>(code[i]) * step[i]);
  return sum;
}

#ifdef SEXTANT_SQ8_X86

inline float HorizontalSum128(__m128 v) {
  __m128 shuf = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
  __m128 sums = _mm_add_ps(v, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  return _mm_cvtss_f32(_mm_add_ss(sums, shuf));
}

// SSE2: 16 codes per step, widened u8 -> u16 -> u32 -> f32.
template <bool kL2>
float Sse2Impl(const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
  const __m128i zero = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m128i c8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i));
    const __m128i lo16 = _mm_unpacklo_epi8(c8, zero);
    const __m128i hi16 = _mm_unpackhi_epi8(c8, zero);
    const __m128i parts[4] = {_mm_unpacklo_epi16(lo16, zero), _mm_unpackhi_epi16(lo16, zero),
                              _mm_unpacklo_epi16(hi16, zero), _mm_unpackhi_epi16(hi16, zero)};
    for (int j = 0; j < 4; ++j) {
      const size_t o = i + 4 * static_cast<size_t>(j);
      const __m128 x = _mm_add_ps(_mm_loadu_ps(min + o),
                                  _mm_mul_ps(_mm_cvtepi32_ps(parts[j]), _mm_loadu_ps(step + o)));
      const __m128 qv = _mm_loadu_ps(q + o);
      if constexpr (kL2) {
        const __m128 diff = _mm_sub_ps(qv, x);
        if (j & 1) {
          acc1 = _mm_add_ps(acc1, _mm_mul_ps(diff, diff));
        } else {
          acc0 = _mm_add_ps(acc0, _mm_mul_ps(diff, diff));
        }
      } else {
        if (j & 1) {
          acc1 = _mm_add_ps(acc1, _mm_mul_ps(qv, x));
        } else {
          acc0 = _mm_add_ps(acc0, _mm_mul_ps(qv, x));
        }
      }
    }
  }
  float sum = HorizontalSum128(_mm_add_ps(acc0, acc1));
  if constexpr (kL2) {
    return sum + L2Scalar(q + i, code + i, min + i, step + i, d - i);
  } else {
    return sum + DotScalar(q + i, code + i, min + i, step + i, d - i);
  }
}

float L2Sse2(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Sse2Impl<true>(q, c, mn, st, d);
}
float DotSse2(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Sse2Impl<false>(q, c, mn, st, d);
}

// AVX2 + FMA: 8 codes per step. Everything it needs is written inside it (intrinsics only), so
// the compiler emits no shared helper built for AVX2.
template <bool kL2>
__attribute__((target("avx2,fma"))) float Avx2Impl(const float* q, const uint8_t* code,
                                                   const float* min, const float* step, size_t d) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
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
  float sum = _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
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

float L2Avx2(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Avx2Impl<true>(q, c, mn, st, d);
}
float DotAvx2(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Avx2Impl<false>(q, c, mn, st, d);
}

// AVX-512: 16 codes per step. (GCC 12 warns falsely inside avx512fintrin.h that
// _mm512_undefined_* is uninitialized; engine/CMakeLists.txt silences the same for the kernels.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
template <bool kL2>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"))) float Avx512Impl(
    const float* q, const uint8_t* code, const float* min, const float* step, size_t d) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    const __m512 c0 = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i))));
    const __m512 c1 = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i + 16))));
    const __m512 x0 = _mm512_fmadd_ps(c0, _mm512_loadu_ps(step + i), _mm512_loadu_ps(min + i));
    const __m512 x1 =
        _mm512_fmadd_ps(c1, _mm512_loadu_ps(step + i + 16), _mm512_loadu_ps(min + i + 16));
    if constexpr (kL2) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), x0);
      const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), x1);
      acc0 = _mm512_fmadd_ps(d0, d0, acc0);
      acc1 = _mm512_fmadd_ps(d1, d1, acc1);
    } else {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), x0, acc0);
      acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), x1, acc1);
    }
  }
  if (i + 16 <= d) {
    const __m512 c0 = _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(code + i))));
    const __m512 x0 = _mm512_fmadd_ps(c0, _mm512_loadu_ps(step + i), _mm512_loadu_ps(min + i));
    if constexpr (kL2) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), x0);
      acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    } else {
      acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), x0, acc0);
    }
    i += 16;
  }
  const __m512 acc = _mm512_add_ps(acc0, acc1);
  const __m256 v8 =
      _mm256_add_ps(_mm512_extractf32x8_ps(acc, 0), _mm512_extractf32x8_ps(acc, 1));
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  float sum = _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
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

float L2Avx512(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Avx512Impl<true>(q, c, mn, st, d);
}
float DotAvx512(const float* q, const uint8_t* c, const float* mn, const float* st, size_t d) {
  return Avx512Impl<false>(q, c, mn, st, d);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // SEXTANT_SQ8_X86

struct Sq8Kernels {
  Sq8Fn l2;
  Sq8Fn dot;
};

Sq8Kernels ChooseKernels() {
#ifdef SEXTANT_SQ8_X86
  // simd::Active() has checked the CPU (and the OS's register saving) for its level.
  switch (simd::Active().level) {
    case simd::Level::kAvx512: return {&L2Avx512, &DotAvx512};
    case simd::Level::kAvx2: return {&L2Avx2, &DotAvx2};
    case simd::Level::kSse4: return {&L2Sse2, &DotSse2};
    case simd::Level::kScalar: break;
  }
#endif
  return {&L2Scalar, &DotScalar};
}

const Sq8Kernels& Kernels() {
  static const Sq8Kernels kernels = ChooseKernels();
  return kernels;
}

void PutU32(std::string* out, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);
  out->append(buf, 4);
}

}  // namespace

void Sq8Quantizer::Train(const float* vectors, size_t n) {
  if (n == 0 || dim_ == 0) return;
  std::vector<float> lo(vectors, vectors + dim_), hi(lo);
  for (size_t r = 1; r < n; ++r) {
    const float* v = vectors + r * dim_;
    for (size_t i = 0; i < dim_; ++i) {
      lo[i] = std::min(lo[i], v[i]);
      hi[i] = std::max(hi[i], v[i]);
    }
  }
  std::vector<float> step(dim_);
  for (size_t i = 0; i < dim_; ++i) {
    // In double: max - min may exceed FLT_MAX for extreme inputs; the quotient never does.
    step[i] = static_cast<float>((static_cast<double>(hi[i]) - lo[i]) / 255.0);
  }
  min_ = std::move(lo);
  step_ = std::move(step);
}

void Sq8Quantizer::Encode(const float* x, uint8_t* code) const {
  for (size_t i = 0; i < dim_; ++i) {
    if (step_[i] <= 0.0f) {
      code[i] = 0;
      continue;
    }
    const double t = std::nearbyint((static_cast<double>(x[i]) - min_[i]) / step_[i]);
    // NaN compares false both ways and lands on 0.
    code[i] = t >= 255.0 ? uint8_t{255} : t > 0.0 ? static_cast<uint8_t>(t) : uint8_t{0};
  }
}

void Sq8Quantizer::Decode(const uint8_t* code, float* x) const {
  for (size_t i = 0; i < dim_; ++i) x[i] = min_[i] + static_cast<float>(code[i]) * step_[i];
}

float Sq8Quantizer::L2Sqr(const float* query, const uint8_t* code) const {
  return Kernels().l2(query, code, min_.data(), step_.data(), dim_);
}

float Sq8Quantizer::Dot(const float* query, const uint8_t* code) const {
  return Kernels().dot(query, code, min_.data(), step_.data(), dim_);
}

void Sq8Quantizer::PrepareQuery(const float* query, bool l2, IntQuery* out) const {
  out->q.resize(dim_);
  // t in double (one pass to find the largest), then rounded onto [-cap, cap].
  double amax = 0.0, base = 0.0;
  for (size_t i = 0; i < dim_; ++i) {
    const double qi = query[i];
    const double t = l2 ? (qi - min_[i]) * step_[i] : qi * step_[i];
    amax = std::max(amax, std::fabs(t));
    base += l2 ? (qi - min_[i]) * (qi - min_[i]) : -qi * min_[i];
  }
  // sum(|q_i|) * 255 <= dim * cap * 255 <= INT32_MAX: the kernel's 32-bit sum cannot overflow.
  const double cap =
      std::max(1.0, std::min(32767.0, std::floor(double{INT32_MAX} / (255.0 * static_cast<double>(dim_)))));
  const double unit = amax / cap;  // the value of one query step
  if (!(unit > 0.0) || !std::isfinite(unit)) {
    std::fill(out->q.begin(), out->q.end(), int16_t{0});
    out->scale = 0.0f;
  } else {
    for (size_t i = 0; i < dim_; ++i) {
      const double qi = query[i];
      const double t = l2 ? (qi - min_[i]) * step_[i] : qi * step_[i];
      out->q[i] = static_cast<int16_t>(std::clamp(std::nearbyint(t / unit), -cap, cap));
    }
    out->scale = static_cast<float>((l2 ? -2.0 : -1.0) * unit);
  }
  out->base = static_cast<float>(base);
}

float Sq8Quantizer::CodeTerm(const uint8_t* code) const {
  double sum = 0.0;
  for (size_t i = 0; i < dim_; ++i) {
    const double x = static_cast<double>(step_[i]) * code[i];
    sum += x * x;
  }
  return static_cast<float>(sum);
}

void Sq8Quantizer::Serialize(std::string* out) const {
  PutU32(out, static_cast<uint32_t>(dim_));
  out->push_back(trained() ? 1 : 0);
  if (!trained()) return;
  const size_t bytes = dim_ * sizeof(float);
  out->append(reinterpret_cast<const char*>(min_.data()), bytes);
  out->append(reinterpret_cast<const char*>(step_.data()), bytes);
}

Status Sq8Quantizer::Deserialize(std::string_view* in) {
  if (in->size() < 5) return Status::DataLoss("sq8: truncated header");
  uint32_t dim;
  std::memcpy(&dim, in->data(), 4);
  const uint8_t trained = static_cast<uint8_t>((*in)[4]);
  if (dim == 0 || (dim_ != 0 && dim != dim_)) {
    return Status::DataLoss("sq8: dimension " + std::to_string(dim) + ", expected " +
                            std::to_string(dim_));
  }
  if (trained > 1) return Status::DataLoss("sq8: bad trained flag");
  std::string_view rest = in->substr(5);
  std::vector<float> lo, step;
  if (trained == 1) {
    const uint64_t bytes = uint64_t{dim} * sizeof(float);
    if (rest.size() < 2 * bytes) return Status::DataLoss("sq8: truncated ranges");
    lo.resize(dim);
    step.resize(dim);
    std::memcpy(lo.data(), rest.data(), bytes);
    std::memcpy(step.data(), rest.data() + bytes, bytes);
    for (uint32_t i = 0; i < dim; ++i) {
      if (!std::isfinite(lo[i]) || !std::isfinite(step[i]) || step[i] < 0.0f ||
          !std::isfinite(static_cast<double>(lo[i]) + 255.0 * step[i])) {
        return Status::DataLoss("sq8: bad range for dimension " + std::to_string(i));
      }
    }
    rest.remove_prefix(2 * bytes);
  }
  dim_ = dim;
  min_ = std::move(lo);
  step_ = std::move(step);
  *in = rest;
  return Status::OK();
}

}  // namespace sextant::index
