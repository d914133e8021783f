// SQ8: per-dimension scalar quantization of float32 vectors to one byte per component.
//
// Train learns each dimension's [min, max]; Encode maps a value to round((x - min) / step),
// clamped to 0..255, where step = (max - min) / 255. Distances between a float query and a code
// are computed against the decoded value min + code * step, so they approximate the float
// distance; callers re-rank the best candidates with full-precision vectors.
#ifndef SEXTANT_INDEX_SQ8_H_
#define SEXTANT_INDEX_SQ8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::index {

class Sq8Quantizer {
 public:
  Sq8Quantizer() = default;
  explicit Sq8Quantizer(size_t dim) : dim_(dim) {}

  size_t dim() const { return dim_; }
  bool trained() const { return !min_.empty(); }
  size_t code_size() const { return dim_; }

  // Learns ranges from n row-major vectors (n >= 1).
  void Train(const float* vectors, size_t n);
  void Encode(const float* x, uint8_t* code) const;
  void Decode(const uint8_t* code, float* x) const;

  // Approximate squared L2 distance / dot product between a float query and a code.
  float L2Sqr(const float* query, const uint8_t* code) const;
  float Dot(const float* query, const uint8_t* code) const;

  void Serialize(std::string* out) const;
  // Reads what Serialize wrote from the front of *in and advances it; DataLoss on bad bytes.
  Status Deserialize(std::string_view* in);

 private:
  size_t dim_ = 0;
  std::vector<float> min_, step_;
};

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_SQ8_H_
