// IvfIndex: the inverted-file index (IVF-Flat, IVF-SQ8, IVF-PQ).
//
// Sivic & Zisserman, "Video Google" (ICCV 2003) for the inverted file; Jégou, Douze & Schmid,
// "Product quantization for nearest neighbor search" (TPAMI 2011), section IV ("IVFADC") for
// residual encoding and the asymmetric distances, and section IV.C / "Searching in one billion
// vectors: re-rank with source coding" (ICASSP 2011) for re-ranking. The structure follows FAISS's
// IndexIVF / IndexIVFFlat / IndexIVFScalarQuantizer / IndexIVFPQ (faiss/IndexIVF*.h).
//
// Training: k-means (kmeans.h, 10 Lloyd iterations like FAISS's IVF, at most 256 * nlist sampled
// rows) splits the space into nlist cells, one centroid each; inner product and cosine use
// spherical k-means (unit-length centroids, assignment by the largest dot product), as FAISS does
// for METRIC_INNER_PRODUCT. Each vector is added to the list of its nearest centroid. For SQ8 and
// PQ the quantizer is then trained on the residuals x - centroid(x) of the training rows.
//
// What a list entry holds (per vector, besides the 4-byte slot):
//   IVF-Flat  a copy of the float32 vector (4 * dim bytes): lists are scanned sequentially with
//             the SIMD batch kernels instead of chasing store rows, at the price of a second copy
//             of every vector (MemoryBytes counts it). The scan's distances are exact.
//   IVF-SQ8   the SQ8 code of the residual x - c (dim bytes; sq8.h, trained on residuals).
//             L2: |q - x|^2 ~ |(q - c) - decode(code)|^2; IP: q.x ~ q.c + q.decode(code).
//   IVF-PQ    the PQ code of the residual x - c (pq_m bytes; pq.h), for every metric, as FAISS's
//             IndexIVFPQ (by_residual). L2 uses FAISS's precomputed tables:
//               |q - c - r|^2 = |q - c|^2 + sum_j (T_c[j][r_j] - 2 <q_j, r_j>),
//               T_c[j][i] = |C_j,i|^2 + 2 <c_j, C_j,i>   (per list: nlist * pq_m * 256 floats)
//             when they fit in kMaxPrecomputedTableBytes, else a per-list table from q - c.
//             IP: q.x ~ q.c + sum_j <q_j, C_j,r_j>, one table per query.
// Quantized scans keep the RerankCandidates(k) best approximate candidates and re-rank them with
// exact distances on the store's float32 rows (flat.h Distance), so returned distances are exact.
//
// Search: the coarse distances to all nlist centroids, then the nprobe nearest lists are
// scanned. Only allowed slots (the mask) that the index holds and has not removed are
// candidates; a masked-out entry costs a byte test, not a distance. Filters:
//  - a mask allowing a fraction s = allowed / Size() < 1 probes ceil(nprobe / s) lists (at most
//    nlist), so that about as many candidates are scored as without a filter, and recall holds;
//  - when fewer than min(k, allowed) candidates were found (a filter whose matches lie away from
//    the query, or allowed == 0 = unknown), nprobe doubles and the next lists are scanned until
//    enough are found or every list was probed; after such a widening one more doubling is
//    scanned, since the first matches found in far lists are seldom the nearest.
// IndexSearchStats::effort is the number of lists probed; distance_computations counts coarse,
// list and re-rank distances.
//
// Training threshold: MinTrainingPoints() = max(39 * nlist, 1000), and for PQ at least
// 39 * 256 = 9984 (FAISS warns below 39 training points per centroid; the PQ codebooks have 256
// centroids each). Train itself accepts n >= nlist (and >= 256 for PQ) with a lower quality.
//
// Invariants (after Train):
//  - every held slot is in exactly one list; entry i of a list is slots[i] with code i;
//  - slot_state_[s] is kLive for an added slot, kRemoved for a removed one still in its list
//    (until Consolidate), kAbsent otherwise; Size() counts kLive, PendingRemovals() kRemoved;
//  - centroids, quantizer and precomputed tables never change after Train (there is no in-place
//    retrain: the collection builds a fresh index).
//
// Threading (vector_index.h's contract): Add, Remove, Consolidate, Train, Save on one writer
// thread at a time; Search on any number of threads, concurrently with Add and Remove. Each list
// has a reader/writer lock: Search holds it shared while scanning that list, Add holds it
// exclusively while appending (so a list may grow, and reallocate, between two probes). Slot
// states are bytes read and written atomically. Train and Consolidate run with searches excluded.
//
// Memory layout: centroids_ nlist x dim floats, row-major; per list two parallel arrays (slots,
// and codes: vectors for Flat, code_size bytes per entry otherwise); slot_state_ one byte per slot
// up to the largest slot ever added (a SegmentedRows, so it grows without moving).
//
// Saved form (little-endian; Save / Load):
//   index    := header [trained-part] removed checksum
//   header   := u32 magic "SXIV" (0x56495853) | u32 version (1) | u32 dim | u8 metric (0 l2,
//               1 ip, 2 cosine) | u8 quantizer (0 none, 1 sq8, 2 pq) | u8 trained | u8 0
//               | u32 nlist | u32 pq_m (0 unless PQ)
//   trained-part (only when trained) := nlist * dim f32 centroids | quantizer | list * nlist
//   quantizer:= nothing (Flat) | Sq8Quantizer::Serialize | ProductQuantizer::Serialize
//   list     := u32 count | count * u32 slot | count * code_size code bytes
//   removed  := u64 count | count * u32 slot   (held slots removed but not consolidated)
//   checksum := u64 Hash64 (util/hash.h) of every byte before it
// Load checks the checksum, every length against the bytes left before allocating, that
// centroids and codebooks are finite, and that every slot is unique, below the store's capacity
// and (for "removed") held; anything else is DataLoss. Precomputed tables are rebuilt, not saved.
#ifndef SEXTANT_INDEX_IVF_H_
#define SEXTANT_INDEX_IVF_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "index/pq.h"
#include "index/segmented.h"
#include "index/sq8.h"
#include "index/vector_index.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "simd/distance.h"
#include "sync/mutex.h"

namespace sextant::index {

class IvfIndex final : public VectorIndex {
 public:
  static constexpr uint32_t kMagic = 0x56495853;  // "SXIV"
  static constexpr uint32_t kFormatVersion = 1;
  // Re-ranked candidates of a quantized search: max(kRerankFactor * k, kRerankMin).
  static constexpr size_t kRerankFactor = 8;
  static constexpr size_t kRerankMin = 64;
  // IVF-PQ with L2 keeps per-list distance tables up to this size (else computes them per probe).
  static constexpr size_t kMaxPrecomputedTableBytes = size_t{64} << 20;
  // Lloyd iterations for the coarse quantizer (FAISS: 10).
  static constexpr int kTrainIterations = 10;
  static constexpr uint64_t kTrainSeed = 1234;

  // An empty, untrained index for `options` (type kIvf) over `store` (not owned; it must outlive
  // the index; its width is the dimension). options.pq_m == 0 resolves to
  // ProductQuantizer::AutoM(dim). InvalidArgument when the options do not validate.
  static StatusOr<std::unique_ptr<VectorIndex>> Create(const IndexOptions& options, Metric metric,
                                                       const VectorStore* store);
  // Restores what Save wrote, for the same options (nlist, quantizer, pq_m; nprobe is taken from
  // `options`), metric and store width. Every slot the saved index holds must be below
  // store->capacity(). DataLoss for anything else (see the saved form above).
  static StatusOr<std::unique_ptr<VectorIndex>> Load(std::string_view bytes, const IndexOptions& options,
                                                     Metric metric, const VectorStore* store);

  ~IvfIndex() override;

  // "IVF256", "IVF256,SQ8", "IVF256,PQ64" (pq_m resolved).
  std::string Spec() const override;

  bool NeedsTraining() const override { return !trained_.load(std::memory_order_acquire); }
  size_t MinTrainingPoints() const override;
  // Learns the centroids (and the quantizer) from n rows. Does not add them. FailedPrecondition
  // when already trained; InvalidArgument when n < nlist (or < 256 for PQ); ResourceExhausted when
  // memory runs out (the index stays untrained).
  Status Train(const float* vectors, size_t n) override;

  // FailedPrecondition before Train or when Holds(slot); InvalidArgument when the slot has no row
  // in the store; ResourceExhausted when memory runs out (nothing is added).
  Status Add(uint32_t slot) override;
  void Remove(uint32_t slot) override;
  // Drops removed entries from every list, returns their slots (ascending) and shrinks lists that
  // lost more than half their capacity.
  std::vector<uint32_t> Consolidate() override;
  size_t PendingRemovals() const override { return pending_.load(std::memory_order_relaxed); }
  size_t Size() const override { return live_.load(std::memory_order_relaxed); }
  bool Holds(uint32_t slot) const override;

  // FailedPrecondition before Train; InvalidArgument for a null mask. k == 0 gives no results.
  // params.allowed == 0 is read as "unknown" (the search then widens until k are found).
  Status Search(const float* query, const IndexSearchParams& params, std::vector<Neighbor>* out,
                IndexSearchStats* stats) const override;

  // Centroids, lists (slots and codes, by capacity; IVF-Flat's lists hold a float32 copy of every
  // vector), slot states, the quantizer and the precomputed PQ tables.
  size_t MemoryBytes() const override;

  Status Save(std::string* out) const override;

  // Introspection (tests, benchmarks, stats).
  uint32_t nlist() const { return nlist_; }
  size_t code_size() const { return code_size_; }
  size_t pq_m() const { return pq_.m(); }
  bool uses_precomputed_tables() const { return !pq_tables_.empty(); }
  size_t RerankCandidates(size_t k) const;
  // Entries (live and removed) per list.
  std::vector<size_t> ListSizes() const;

 private:
  enum SlotState : uint8_t { kAbsent = 0, kLive = 1, kRemoved = 2 };

  struct List {
    mutable internal::SharedMutex mu;
    std::vector<uint32_t> slots SEXTANT_GUARDED_BY(mu);
    std::vector<float> vectors SEXTANT_GUARDED_BY(mu);  // IVF-Flat: dim floats per entry
    std::vector<float> norms SEXTANT_GUARDED_BY(mu);    // IVF-Flat with L2: |x|^2 per entry (derived, not saved)
    std::vector<uint8_t> codes SEXTANT_GUARDED_BY(mu);  // SQ8 / PQ: code_size bytes per entry
  };

  struct ScanScratch;

  IvfIndex(const IndexOptions& options, Metric metric, const VectorStore* store);

  bool IsDot() const { return metric_ != Metric::kL2; }
  // IVF-Flat with L2 keeps each entry's squared norm beside it: a list is then scanned as dot
  // products (|q|^2 + |x|^2 - 2 q.x), half the arithmetic of squared differences.
  bool KeepsNorms() const { return options_.quantizer == QuantizerType::kNone && !IsDot(); }
  // Coarse distances of q to every centroid from dot_rows: |q|^2 + |c|^2 - 2 q.c for L2 (q_norm
  // = |q|^2), -q.c for the dot metrics.
  void CoarseDistances(const simd::Kernels& kern, const float* q, float q_norm, float* out) const;
  uint8_t StateOf(uint32_t slot) const;
  void SetState(uint32_t slot, uint8_t state);
  // Nearest list to x (by the metric), ties to the lower index.
  uint32_t NearestList(const float* x) const;
  // Builds what Train/Load derive: lists_ and, for IVF-PQ with L2, pq_tables_.
  void BuildDerived();
  // Load's body: fills this fresh index from `bytes` (may throw std::bad_alloc).
  Status Deserialize(std::string_view bytes);
  // Scans list `l` whose coarse distance is `coarse`, pushing allowed candidates into scratch.
  void ScanList(uint32_t l, float coarse, const float* query, const IndexSearchParams& params,
                ScanScratch* scratch) const;

  const IndexOptions options_;  // pq_m resolved
  const Metric metric_;
  const VectorStore* const store_;
  const size_t dim_;
  const uint32_t nlist_;
  const size_t code_size_;  // bytes per entry: 4 * dim (Flat), dim (SQ8), pq_m (PQ)

  std::atomic<bool> trained_{false};
  std::vector<float> centroids_;  // nlist * dim; fixed after Train
  std::vector<float> centroid_norms_;  // L2: |c|^2 per centroid (derived by BuildDerived)
  Sq8Quantizer sq8_;
  ProductQuantizer pq_;
  std::vector<float> pq_tables_;  // IVF-PQ L2: nlist * pq_m * 256, T_c above; may be empty
  std::unique_ptr<List[]> lists_;  // nlist, after Train
  SegmentedRows<uint8_t> slot_state_{1};
  std::atomic<size_t> live_{0};
  std::atomic<size_t> pending_{0};
};

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_IVF_H_
