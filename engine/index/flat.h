// Exact (brute-force) k-nearest-neighbour search over vectors held contiguously in memory.
//
// The index layer never sees storage: the collection hands it a VectorView of its in-memory
// vectors and a mask of the slots that may be returned (live, and matching the filter when there
// is one). Distances are "smaller is nearer": squared L2, or the negated dot product for inner
// product and cosine (cosine vectors are normalised by the collection before they get here).
//
// Single queries scan with the SIMD kernels (simd/distance.h). Batches of queries score blocks of
// the base with one matrix product (Eigen), keep a short list of candidates per query, and
// re-score those with the same SIMD kernels, so a batch returns exactly the scores a single query
// would.
#ifndef SEXTANT_INDEX_FLAT_H_
#define SEXTANT_INDEX_FLAT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sextant/types.h"

namespace sextant::index {

// Read-only view of `slots` vectors of `dim` floats, row i at data + i * dim.
struct VectorView {
  const float* data = nullptr;
  size_t dim = 0;
  size_t slots = 0;
};

struct Neighbor {
  float distance;  // smaller is nearer (see above)
  uint32_t slot;
  bool operator<(const Neighbor& o) const {
    return distance < o.distance || (distance == o.distance && slot < o.slot);
  }
};

// For each of the nq queries (row-major, nq * view.dim floats), the k nearest slots among those
// with mask[slot] != 0, nearest first (ties by slot). out->size() == nq afterwards; each list
// holds min(k, allowed slots) entries. Never fails for valid arguments (validated by the caller).
void ExactSearch(const VectorView& view, Metric metric, const uint8_t* mask, const float* queries,
                 size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out);

// Queries at or above this count take the matrix-product path.
inline constexpr size_t kBatchedScoringMinQueries = 8;

// The distance between one query and one stored vector, as ExactSearch computes it.
float Distance(Metric metric, const float* query, const float* vector, size_t dim);

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_FLAT_H_
