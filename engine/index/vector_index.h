// VectorIndex: the one interface every approximate index (HNSW, IVF) implements.
//
// The index never sees storage. It reads full-precision vectors from the collection's
// VectorStore (segmented.h) by slot, and keeps only its own structure (graph links, cluster
// lists, quantized codes). Distances follow index/flat.h: smaller is nearer (squared L2, or the
// negated dot product for inner product and cosine; cosine vectors arrive normalised).
//
// Threading contract (the collection keeps it):
//  - Add, Remove, Consolidate, Train and Save are called by one thread at a time (the
//    collection serialises index writers).
//  - Search may run on many threads at once, concurrently with Add and Remove (but not with
//    Train or Consolidate, which the collection runs with searches excluded).
//  - A slot passed to Add has its vector already written in the store, and that row is not
//    rewritten while the slot is in the index (until Consolidate releases it).
#ifndef SEXTANT_INDEX_VECTOR_INDEX_H_
#define SEXTANT_INDEX_VECTOR_INDEX_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "index/flat.h"
#include "index/segmented.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::index {

struct IndexSearchParams {
  size_t k = 10;            // >= 1
  uint32_t ef_search = 0;   // HNSW candidate list; 0 = the index default. The index uses max(ef, k).
  uint32_t nprobe = 0;      // IVF lists to probe; 0 = the index default
  // Which slots may be returned: slot s is allowed iff s < mask_size && mask[s] != 0. Never
  // null. The mask already excludes deleted slots, so an index need not track deletions to be
  // correct; it tracks them only to repair itself.
  const uint8_t* mask = nullptr;
  size_t mask_size = 0;
  // Number of allowed slots (the planner counted them); lets a filtered walk widen its search.
  uint64_t allowed = 0;
};

struct IndexSearchStats {
  uint64_t distance_computations = 0;  // full-precision and quantized distances computed
  uint32_t effort = 0;                 // HNSW: ef used by the last pass; IVF: lists probed
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // The canonical spec ("HNSW16", "IVF256,PQ16").
  virtual std::string Spec() const = 0;

  // Indexes that learn from data (IVF clusters, SQ8 ranges, PQ codebooks) return true until
  // Train succeeds; Add before that is a FailedPrecondition. `n` rows of the store's width.
  virtual bool NeedsTraining() const { return false; }
  // Minimum points worth training on; the collection trains once it has this many.
  virtual size_t MinTrainingPoints() const { return 0; }
  virtual Status Train(const float* vectors, size_t n) {
    (void)vectors;
    (void)n;
    return Status::OK();
  }
  // A flag a long Train polls (between k-means iterations and blocks of rows): once it reads
  // true, Train gives up with Aborted and the index stays untrained. Null (the default) never
  // stops. The flag must outlive the index's Train calls.
  void SetTrainingStop(const std::atomic<bool>* stop) { training_stop_ = stop; }

  // Adds `slot` (its vector is store row `slot`). FailedPrecondition when Holds(slot): the
  // collection gives a replaced point a new slot and reuses a slot only after Consolidate has
  // released it, so an index never updates a vector in place.
  virtual Status Add(uint32_t slot) = 0;
  // Removes `slot` from the index's results at once; the memory is reclaimed by Consolidate.
  virtual void Remove(uint32_t slot) = 0;
  // Repairs the structure around removed slots (re-links graph neighbours, drops list entries)
  // and returns the slots it no longer references, which the caller may reuse for new vectors.
  virtual std::vector<uint32_t> Consolidate() = 0;
  // Removed slots not yet consolidated.
  virtual size_t PendingRemovals() const = 0;
  // Slots currently indexed (not removed).
  virtual size_t Size() const = 0;
  // Whether `slot` is referenced by the index (added, or removed but not yet consolidated).
  virtual bool Holds(uint32_t slot) const = 0;

  // The k nearest allowed slots to `query`, nearest first, with exact full-precision distances.
  // Returns min(k, allowed) results unless the index cannot reach that many allowed slots, in
  // which case the caller falls back to exact search.
  virtual Status Search(const float* query, const IndexSearchParams& params,
                        std::vector<Neighbor>* out, IndexSearchStats* stats) const = 0;

  // Memory held by the index itself (not the VectorStore), in bytes.
  virtual size_t MemoryBytes() const = 0;

  // Serialises the whole index (not the vectors) into *out. Load (below) reads it back.
  virtual Status Save(std::string* out) const = 0;

 protected:
  const std::atomic<bool>* training_stop_ = nullptr;  // see SetTrainingStop
};

// About what MemoryBytes() of an index of `options` holding `points` vectors of `dim` floats in
// slots below `slots` will be (the memory budget asks before a build or a write allocates; the
// per-slot arrays grow with the highest slot, in doubling segments). Flat: 0.
uint64_t EstimateIndexBytes(const IndexOptions& options, uint32_t dim, uint64_t points, uint64_t slots);

// Creates an empty index for `options` over `store` (whose width is the dimension).
// InvalidArgument for options that do not fit (options.Validate).
StatusOr<std::unique_ptr<VectorIndex>> CreateIndex(const IndexOptions& options, Metric metric,
                                                   const VectorStore* store);

// Restores an index saved by VectorIndex::Save for the same options, metric and store width.
// DataLoss when the bytes are not such an index (the caller rebuilds).
StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(std::string_view bytes, const IndexOptions& options,
                                                 Metric metric, const VectorStore* store);

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_VECTOR_INDEX_H_
