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
#include <algorithm>
#include <cstdint>
#include <span>
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

// A contiguous run of rows: row i of the run is slot first_slot + i.
struct VectorRun {
  uint32_t first_slot;
  size_t rows;
  const float* data;
};

// For each of the nq queries (row-major, nq * dim floats), the k nearest slots among those
// with mask[slot] != 0, nearest first (ties by slot). out->size() == nq afterwards; each list
// holds min(k, allowed slots) entries. Never fails for valid arguments (validated by the caller).
// The mask must cover every slot of the runs.
void ExactSearch(std::span<const VectorRun> runs, size_t dim, Metric metric, const uint8_t* mask,
                 const float* queries, size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out);
// The same over one contiguous block of view.slots rows starting at slot 0.
void ExactSearch(const VectorView& view, Metric metric, const uint8_t* mask, const float* queries,
                 size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out);

// Exact search over an explicit list of slots (a filter's few matches): `vector_of(slot)` gives
// each slot's row. Cheaper than a masked scan when the list is short.
template <typename VectorOf>
void ExactSearchSlots(std::span<const uint32_t> slots, VectorOf&& vector_of, size_t dim, Metric metric,
                      const float* query, size_t k, std::vector<Neighbor>* out);

// Queries at or above this count take the matrix-product path.
inline constexpr size_t kBatchedScoringMinQueries = 8;

// The distance between one query and one stored vector, as ExactSearch computes it.
float Distance(Metric metric, const float* query, const float* vector, size_t dim);

template <typename VectorOf>
void ExactSearchSlots(std::span<const uint32_t> slots, VectorOf&& vector_of, size_t dim, Metric metric,
                      const float* query, size_t k, std::vector<Neighbor>* out) {
  out->clear();
  if (k == 0) return;
  out->reserve(std::min(k, slots.size()) + 1);
  for (uint32_t slot : slots) {
    Neighbor n{Distance(metric, query, vector_of(slot), dim), slot};
    if (out->size() < k) {
      out->push_back(n);
      std::push_heap(out->begin(), out->end());
    } else if (n < out->front()) {
      std::pop_heap(out->begin(), out->end());
      out->back() = n;
      std::push_heap(out->begin(), out->end());
    }
  }
  std::sort_heap(out->begin(), out->end());
}

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_FLAT_H_
