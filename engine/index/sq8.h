// SQ8: per-dimension scalar quantization of float32 vectors to one byte per component.
//
// Train learns each dimension's [min, max]; Encode maps a value to round((x - min) / step),
// clamped to 0..255, where step = (max - min) / 255. Distances between a float query and a code
// are computed against the decoded value min + code * step, so they approximate the float
// distance; callers re-rank the best candidates with full-precision vectors.
//
// Integer scoring (the HNSW-SQ8 walk). Expanding the decoded value x_i = min_i + step_i * c_i,
//   |q - x|^2 = |q - min|^2 - 2 sum t_i c_i + sum (step_i c_i)^2,   t_i = (q_i - min_i) * step_i
//   q . x     = q . min + sum t_i c_i,                                t_i = q_i * step_i
// PrepareQuery scales t onto 16-bit integers once per query, so each code costs one integer dot
// product (simd dot_u8_i16: 8-bit codes x 16-bit query) plus, for L2, the code's own term
// CodeTerm(c), which callers compute once per code and keep. The only error beyond the codes'
// own is the rounding of t to 16 bits (at most half of max|t_i| / 32767 per dimension; for
// d > 257 the scale shrinks so that the 32-bit sum cannot overflow, still >= 11 bits at d = 4096).
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

  // A query prepared for integer scoring: the approximate distance to a code c is
  //   base + scale * simd dot_u8_i16(q, c, dim) + (l2 ? CodeTerm(c) : 0)
  // (squared L2 when l2, else the negated dot product: smaller is nearer in both).
  struct IntQuery {
    std::vector<int16_t> q;  // dim values, sum(|q_i|) * 255 < 2^31
    float scale = 0.0f;
    float base = 0.0f;
  };
  // Fills *out for `query` (dim floats). Requires trained(). Reuses out->q's capacity.
  void PrepareQuery(const float* query, bool l2, IntQuery* out) const;
  // sum((step_i * code_i)^2): the code's own term of the squared L2 distance above.
  float CodeTerm(const uint8_t* code) const;

  void Serialize(std::string* out) const;
  // Reads what Serialize wrote from the front of *in and advances it; DataLoss on bad bytes.
  Status Deserialize(std::string_view* in);

 private:
  size_t dim_ = 0;
  std::vector<float> min_, step_;
};

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_SQ8_H_
