// ProductQuantizer: product quantization of float32 vectors to m one-byte codes.
//
// Jégou, Douze & Schmid, "Product quantization for nearest neighbor search", IEEE TPAMI 2011.
// A vector of `dim` floats is cut into m consecutive sub-vectors of dsub = dim / m floats; each
// sub-vector is replaced by the index of the nearest of 256 centroids learnt for that subspace
// (k-means, kmeans.h), so a code is m bytes. The same scheme as FAISS's `ProductQuantizer`
// (faiss/impl/ProductQuantizer.h) with nbits = 8.
//
// Asymmetric distance computation (ADC, the paper's section III.A): for a float query, a table of
// m x 256 floats holds the query's distance (or dot product) to every sub-centroid, and a code's
// approximate distance is the sum of m table entries, one per subspace:
//   L2:  |q - decode(code)|^2 = sum_j table_l2[j][code_j],   table_l2[j][c] = |q_j - C_j,c|^2
//   IP:  <q, decode(code)>    = sum_j table_ip[j][code_j],   table_ip[j][c] = <q_j, C_j,c>
// IVF-PQ (ivf.h) encodes residuals (vector - coarse centroid) and assembles its per-list tables
// from DotTable and NormTable.
//
// Memory layout: centroids are kept twice, 2 * dim * 256 floats in all (256 KiB for dim 128):
//   centroids_[(j * 256 + c) * dsub + t]   sub-centroid c of subspace j, component t (Decode,
//                                          Serialize, the canonical form)
//   transposed_[(j * dsub + t) * 256 + c]  the same values with the 256 centroids innermost, so
//                                          Encode and the table builders run 256-wide loops that
//                                          the compiler vectorises.
//
// Threading: Train and Deserialize mutate; every const method may run concurrently.
// Errors: Train returns InvalidArgument for fewer than 256 rows, ResourceExhausted when memory
// runs out; Deserialize returns DataLoss for bytes it did not write.
#ifndef SEXTANT_INDEX_PQ_H_
#define SEXTANT_INDEX_PQ_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::index {

class ProductQuantizer {
 public:
  // Centroids per subspace (8-bit codes).
  static constexpr size_t kCentroids = 256;
  // Training rows used at most (FAISS: 256 per centroid); more are sampled down.
  static constexpr size_t kMaxTrainingRows = 256 * kCentroids;

  ProductQuantizer() = default;
  // Precondition: m >= 1 and dim % m == 0.
  ProductQuantizer(size_t dim, size_t m) : dim_(dim), m_(m), dsub_(m ? dim / m : 0) {}

  // The default m for `dim`: the largest divisor of dim that is <= dim / 2 and <= 64 (so at
  // least two components per sub-vector); 1 when there is none (dim 1).
  static size_t AutoM(size_t dim);

  size_t dim() const { return dim_; }
  size_t m() const { return m_; }
  size_t dsub() const { return dsub_; }
  size_t code_size() const { return m_; }
  bool trained() const { return !centroids_.empty(); }

  // Learns the m codebooks from n row-major vectors (n >= 256; at most kMaxTrainingRows are
  // used), 25 Lloyd iterations each from 256 random rows (as FAISS), seeded by `seed`.
  // `stop`, when not null, is polled as KMeansOptions::stop is (Aborted once it reads true).
  Status Train(const float* vectors, size_t n, uint64_t seed = 1234, const std::atomic<bool>* stop = nullptr);

  // Preconditions for the rest: trained().
  // code: m bytes.
  void Encode(const float* x, uint8_t* code) const;
  void Decode(const uint8_t* code, float* x) const;

  // table[j * 256 + c] = |q_j - C_j,c|^2 (m * 256 floats).
  void L2Table(const float* query, float* table) const;
  // table[j * 256 + c] = <q_j, C_j,c> (m * 256 floats).
  void DotTable(const float* query, float* table) const;
  // table[j * 256 + c] = |C_j,c|^2 (m * 256 floats).
  void NormTable(float* table) const;
  // sum_j table[j * 256 + code[j]]: the ADC distance or dot product of one code.
  static float TableSum(const float* table, const uint8_t* code, size_t m) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
      s0 += table[(j + 0) * kCentroids + code[j + 0]];
      s1 += table[(j + 1) * kCentroids + code[j + 1]];
      s2 += table[(j + 2) * kCentroids + code[j + 2]];
      s3 += table[(j + 3) * kCentroids + code[j + 3]];
    }
    for (; j < m; ++j) s0 += table[j * kCentroids + code[j]];
    return (s0 + s1) + (s2 + s3);
  }

  // Bytes held (both centroid layouts).
  size_t MemoryBytes() const { return (centroids_.capacity() + transposed_.capacity()) * sizeof(float); }

  // Serialized form (little-endian): u32 dim, u32 m, u32 256, u8 trained, then when trained
  // m * 256 * dsub f32 centroids in the canonical layout.
  void Serialize(std::string* out) const;
  // Reads what Serialize wrote from the front of *in and advances it. DataLoss on a short or
  // inconsistent header, a dimension other than dim() (when dim() is set), or a non-finite
  // centroid; *this is unchanged then. ResourceExhausted (and untrained) when memory runs out.
  Status Deserialize(std::string_view* in);

 private:
  void BuildTransposed();

  size_t dim_ = 0;
  size_t m_ = 0;
  size_t dsub_ = 0;
  std::vector<float> centroids_;   // m * 256 * dsub, canonical layout (see above)
  std::vector<float> transposed_;  // m * dsub * 256
};

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_PQ_H_
