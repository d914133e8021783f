// HnswIndex: a hierarchical navigable small-world graph over the collection's vectors.
//
// The algorithm is Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search
// using Hierarchical Navigable Small World graphs", IEEE TPAMI 42(4), 2020 (arXiv:1603.09320):
// every point is a node on layer 0 and, with geometrically falling probability, on layers
// 1..level; a search descends greedily through the upper layers and then runs a best-first search
// with a candidate list of `ef` entries on layer 0. Inserting a point searches the same way with
// ef_construction and links it to the neighbours the paper's selection heuristic (Algorithm 4,
// without the extension or pruned-connection options, as in hnswlib) keeps; a neighbour whose
// list overflows re-selects its own list with the same heuristic. Levels follow the paper's
// mL = 1 / ln(m). Upper layers keep at most m links per node, layer 0 at most 2m.
//
// The graph is kept apart from the vectors (faiss IndexHNSW, usearch index_gt): vectors are read
// from the collection's VectorStore by slot, and the index holds only links, a few bits of state
// per slot and, for HNSW-SQ8, one byte per component.
//
// Memory layout (all tables are SegmentedRows, whose rows never move):
//   links0_  one row per slot, 1 + 2m uint32: [count, id_0 .. id_{2m-1}]. Layer-0 neighbours.
//   meta_    one uint64 per slot:  bits 0..31  first row of the slot's block in upper_
//                                  bits 32..39 level (0 = layer 0 only)
//                                  bit 40      held (the slot is in the graph)
//                                  bit 41      removed (held, waiting for Consolidate)
//   upper_   rows of 1 + m uint32: [count, id_0 .. id_{m-1}]. A slot with level L > 0 owns L
//            consecutive rows starting at its `first` row (row first + l - 1 is layer l). Only the
//            ~1/m of slots that reach layer 1 own any.
//   codes_   HNSW-SQ8 only: one row of `dim` bytes per slot (Sq8Quantizer codes).
//   code_terms_ HNSW-SQ8 with L2 only: one float per slot, Sq8Quantizer::CodeTerm of its code, so
//            the walk scores a code with one integer dot product (sq8.h); derived from the codes,
//            never saved.
// A slot's level is a pure function of (seed, slot) (see LevelOf), so a slot that Consolidate
// released and Add reuses gets its old level back, and with it its old block in upper_: blocks
// are allocated on a slot's first Add and kept, so slot reuse never grows memory.
// Bytes per indexed vector (m = 16): 132 (layer 0) + 8 (meta) + ~68/15 (upper) ≈ 145, plus `dim`
// for SQ8 (and 4 for its L2 code term), plus the doubling slack of SegmentedRows (capacity is the
// next power of two >= 1024).
//
// Invariants (between calls of the writer):
//  - Every id in a held slot's lists is a held slot, never the slot itself, with level >= that
//    layer. The entry point is held and has the largest level; it is kNone iff nothing is held.
//  - Removed slots keep their links and keep routing searches until Consolidate; they are never
//    returned, and chosen as new neighbours by Add only on a layer where no live node is in reach
//    (otherwise the new node would have no links and no search would find it).
//  - After Consolidate no list mentions a removed slot, and released slots hold nothing.
//
// Threading (vector_index.h's contract): one writer at a time (Add, Remove, Consolidate, Train,
// Save), and any number of concurrent Searches alongside Add and Remove. Because there is a
// single writer, writers need no locks among themselves (hnswlib locks each node because its
// inserts run in parallel; its query path reads lists without locks). Readers and the writer
// share the lists through atomic loads and stores (std::atomic_ref, acquire/release; plain moves
// on x86): the writer fills a new node's own lists and state before it release-stores the node's
// id into any neighbour's list, so a reader that acquire-loads an id sees the node complete. A
// reader may see a neighbour list half rewritten (a mix of old and new ids, all of them valid
// held nodes), which only changes which nodes it visits, never their validity. The entry point
// and top level change together through one atomic word. Visited sets are epoch-tagged arrays
// taken from a pool, so a search allocates nothing of size O(n) after warm-up.
#ifndef SEXTANT_INDEX_HNSW_H_
#define SEXTANT_INDEX_HNSW_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "index/segmented.h"
#include "index/sq8.h"
#include "index/vector_index.h"

namespace sextant::index {

class HnswIndex final : public VectorIndex {
 public:
  // Creates an empty index over `store` (not owned; must outlive the index), whose width is the
  // dimension. InvalidArgument when options are not HNSW options valid for that dimension
  // (IndexOptions::Validate) or store is null.
  static StatusOr<std::unique_ptr<HnswIndex>> Create(const IndexOptions& options, Metric metric,
                                                     const VectorStore* store);
  // Restores an index from Save's bytes for the same options (m and quantizer must match; the
  // ef values are taken from `options`), metric and store width. Every length, id and level is
  // checked against the bytes and the store: anything else is DataLoss, never a crash and never
  // an allocation larger than the input justifies. ResourceExhausted when memory runs out.
  static StatusOr<std::unique_ptr<HnswIndex>> Load(std::string_view bytes,
                                                   const IndexOptions& options, Metric metric,
                                                   const VectorStore* store);

  ~HnswIndex() override;

  // "HNSW<m>" or "HNSW<m>,SQ8".
  std::string Spec() const override;

  // HNSW-SQ8 needs the per-dimension ranges of a sample before the first Add.
  bool NeedsTraining() const override;
  size_t MinTrainingPoints() const override;
  // Learns the SQ8 ranges from n >= 1 row-major vectors (a no-op OK for plain HNSW). If slots are
  // already indexed their codes are recomputed. InvalidArgument for n == 0 or a null pointer.
  Status Train(const float* vectors, size_t n) override;

  // Inserts `slot` (store row `slot`). InvalidArgument when slot is beyond the store's capacity;
  // FailedPrecondition when Holds(slot) or when the quantizer is untrained; ResourceExhausted when
  // memory runs out (the slot is then held as removed, and the next Consolidate releases it).
  Status Add(uint32_t slot) override;
  // Marks `slot` removed: never returned again, still routes searches until Consolidate. A slot
  // not held (or already removed) is ignored.
  void Remove(uint32_t slot) override;
  // Re-links every node that points to a removed node (its live neighbours plus the removed
  // neighbours' live neighbours, chosen with the heuristic; a search supplements a node left with
  // too few), moves the entry point off a removed node, and releases the removed slots, which it
  // returns in ascending order. Runs with searches excluded (contract).
  std::vector<uint32_t> Consolidate() override;
  size_t PendingRemovals() const override;
  size_t Size() const override;
  bool Holds(uint32_t slot) const override;

  // The k nearest allowed slots with exact distances. ef = max(params.ef_search or the default,
  // k), capped at params.allowed when that is non-zero (0 means "not counted"). The layer-0 walk
  // crosses every node, allowed or not, but only allowed, non-removed nodes enter the result
  // list, and the walk does not stop while that list is short of ef (hnswlib's filtered rule):
  // it widens by itself until the list is full and no candidate can improve it, or until it has
  // seen every node reachable from the entry point. So it returns min(k, allowed) results unless
  // some allowed nodes are unreachable, which only the caller's exact fallback can fix; a restart
  // with a larger ef would see the same nodes. The cost grows like ef / selectivity.
  // stats->effort is the ef used. HNSW-SQ8 walks on codes and re-ranks the whole result list
  // with the float vectors. InvalidArgument for k == 0 or a null mask.
  Status Search(const float* query, const IndexSearchParams& params, std::vector<Neighbor>* out,
                IndexSearchStats* stats) const override;

  size_t MemoryBytes() const override;

  // Format (little-endian), version 1:
  //   "SXHNSW\0\1" u32 version u32 dim u32 m u8 metric u8 quantizer u16 reserved
  //   u32 entry (0xFFFFFFFF when empty) u32 top_level + 1 (0 when empty)
  //   u64 seed (of LevelOf) u64 slot_limit (> every slot) u64 node_count
  //   node_count x { u32 slot (ascending) u8 level u8 flags(bit0 removed)
  //                  u32 count0, count0 x u32 id; level x { u32 count, count x u32 id } }
  //   [SQ8: Sq8Quantizer::Serialize bytes, then node_count x dim code bytes, in node order]
  Status Save(std::string* out) const override;

  // Checks the invariants above (links point to held nodes of the right level, counts within
  // bounds, entry point, counters); after Consolidate also that no list mentions a removed slot.
  // For tests; call it with no writer running.
  Status TEST_Validate(bool expect_consolidated) const;
  // Live nodes that no chain of links (on any layer) from the entry point reaches.
  size_t TEST_Unreachable() const;
  // The level `slot` has (or would have) in the graph.
  int TEST_LevelOf(uint32_t slot) const { return LevelOf(slot); }

 private:
  struct Scratch;
  class ScratchPool;
  struct Candidate {
    float distance;
    uint32_t id;
  };

  HnswIndex(const IndexOptions& options, Metric metric, const VectorStore* store);

  // meta_ words.
  static constexpr uint64_t kHeld = uint64_t{1} << 40;
  static constexpr uint64_t kRemoved = uint64_t{1} << 41;
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  static constexpr int kMaxLevel = 32;
  static uint32_t FirstUpper(uint64_t meta) { return static_cast<uint32_t>(meta); }
  static int LevelOfMeta(uint64_t meta) { return static_cast<int>((meta >> 32) & 0xFF); }

  uint64_t LoadMeta(uint32_t slot) const;
  void StoreMeta(uint32_t slot, uint64_t meta);
  int LevelOf(uint32_t slot) const;  // the deterministic level of a slot
  // The list [count, ids...] of `slot` on `level`; nullptr when the slot has no such layer.
  const uint32_t* List(uint32_t slot, int level) const;
  uint32_t* MutableList(uint32_t slot, int level);
  size_t MaxLinks(int level) const { return level == 0 ? m0_ : m_; }
  // Replaces a list (ids first, then the count, each release-stored; see the file comment).
  void WriteList(uint32_t* list, const uint32_t* ids, size_t n);

  // Makes rows for `slot` addressable in every table (may allocate; throws bad_alloc).
  void ReserveSlot(uint32_t slot);
  Status AddImpl(uint32_t slot);
  // Links `slot` (its lists already allocated and empty) into the graph.
  void Insert(uint32_t slot, int level);
  // Heuristic selection: `cands` sorted nearest first (distances to the base); keeps at most
  // `max` into *out.
  void SelectNeighbors(const std::vector<Candidate>& cands, size_t max,
                       std::vector<Candidate>* out) const;
  // Adds `slot` to `neighbor`'s list on `level`, re-selecting when full.
  void Connect(uint32_t neighbor, uint32_t slot, float distance, int level, Scratch* s);
  // Rebuilds `slot`'s list on `level` without removed nodes; returns whether it changed.
  void Repair(uint32_t slot, int level, Scratch* s);
  // Search for a point's own vector on `level` (construction and repair), results nearest first.
  void SearchForInsert(const float* vec, uint32_t exclude, int level, size_t ef, Scratch* s,
                       std::vector<Candidate>* out) const;
  float StoredDistance(uint32_t a, uint32_t b) const;

  template <class Dist>
  uint32_t GreedyDescend(const Dist& dist, uint32_t ep, float* ep_distance, int from_level,
                         int to_level, uint64_t* count) const;
  // Best-first search of one layer from `ep`; fills s->results (a max-heap of at most ef
  // accepted nodes). Nodes not accepted are walked through but never kept.
  template <class Dist, class Accept>
  void SearchLayer(const Dist& dist, uint32_t ep, float ep_distance, int level, size_t ef,
                   const Accept& accept, Scratch* s, uint64_t* count) const;
  template <class Dist>
  Status SearchWith(const Dist& dist, const float* query, const IndexSearchParams& params,
                    Scratch* s, std::vector<Neighbor>* out, IndexSearchStats* stats) const;
  // HNSW-SQ8: encodes the slot's vector into codes_ (and its term into code_terms_).
  void EncodeSlot(uint32_t slot);

  void SerializeTo(std::string* out) const;
  Status ParseFrom(std::string_view bytes);

  const IndexOptions options_;
  const Metric metric_;
  const VectorStore* const store_;
  const size_t dim_;
  const size_t m_, m0_;
  const double level_mult_;
  uint64_t seed_;
  const bool sq8_;
  // The float kernel (squared L2 or dot, from simd::Active(), fixed for the process) and the sign
  // that turns it into a distance (+1, or -1 for the negated dot product).
  float (*const kernel_)(const float*, const float*, size_t);
  const float sign_;
  const size_t vector_lines_;  // cache lines of one float vector worth prefetching (<= 8)

  SegmentedRows<uint32_t> links0_;
  SegmentedRows<uint64_t> meta_;
  SegmentedRows<uint32_t> upper_;
  SegmentedRows<uint8_t> codes_;
  SegmentedRows<float> code_terms_;
  Sq8Quantizer quantizer_;
  uint64_t upper_rows_used_ = 0;  // writer only

  // (entry slot) | (uint64(max_level + 1) << 32); 0 in the high half means empty.
  std::atomic<uint64_t> entry_{0};
  std::atomic<uint64_t> held_{0};
  std::atomic<uint64_t> removed_{0};
  uint64_t slot_limit_ = 0;  // writer only: 1 + the largest slot ever held

  std::unique_ptr<ScratchPool> pool_;
};

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_HNSW_H_
