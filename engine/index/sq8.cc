// Sq8Quantizer (sq8.h): per-dimension [min, max] scalar quantization to one byte per component.
//
// Distances against a code decode on the fly (min + code * step) inside one pass, so nothing is
// allocated per call: simd::Kernels::sq8_l2sq / sq8_dot, chosen with the other kernels at the
// process's SIMD level (SEXTANT_SIMD=scalar selects the plain loop, the test oracle). The graph
// walk scores codes in integers instead (PrepareQuery, simd::Kernels::dot_u8_i16).
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

#include "simd/distance.h"
#include "util/coding.h"

namespace sextant::index {

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
  return simd::Active().sq8_l2sq(query, code, min_.data(), step_.data(), dim_);
}

float Sq8Quantizer::Dot(const float* query, const uint8_t* code) const {
  return simd::Active().sq8_dot(query, code, min_.data(), step_.data(), dim_);
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
  sextant::internal::PutFixed32LE(out, static_cast<uint32_t>(dim_));
  out->push_back(trained() ? 1 : 0);
  if (!trained()) return;
  const size_t bytes = dim_ * sizeof(float);
  out->append(reinterpret_cast<const char*>(min_.data()), bytes);
  out->append(reinterpret_cast<const char*>(step_.data()), bytes);
}

Status Sq8Quantizer::Deserialize(std::string_view* in) {
  if (in->size() < 5) return Status::DataLoss("sq8: truncated header");
  const uint32_t dim = sextant::internal::DecodeFixed32LE(in->data());
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
