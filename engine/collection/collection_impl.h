// CollectionImpl: the write path, the search planner, the index lifecycle and the in-memory state
// of one collection.
//
// State. Each point lives in a dense 32-bit slot. In memory: every vector (store_, a
// SegmentedRows whose rows never move), which slots are live, each live slot's encoded external
// id and the map back, the payload indexes, and the vector index (index_; none for Flat, or while
// an IVF/SQ8 index waits for enough points to train). RocksDB holds ids (id -> slot), vectors
// (slot -> floats), payloads (slot -> JSON) and payload index entries; payloads are read from
// RocksDB when a search needs them.
//
// Slots. A new point takes a free slot or a new one. A replaced point gets a NEW slot and its old
// slot is retired, as is a deleted point's: an index may still reference a retired slot (as a
// removed graph node, say) until its Consolidate releases it, so a slot's row is never rewritten
// while any index holds it. Without an index a retired slot is free at once.
//
// Locks (always taken in this order; build_mu_ and checkpoint_mu_, when needed, come first, in
// that order):
//   mu_        reader/writer, writer-preferring. Searches, gets and scans hold it shared. A write holds it exclusive
//              for its commit: plan slots, one RocksDB batch, update memory.
//   index_mu_  serialises every change to index_ (Add/Remove, consolidation, the swap after a
//              build, saving). A writer takes index_mu_ before releasing mu_ (hand-off), so
//              index changes happen in commit order; searches keep running meanwhile (the
//              indexes allow Search concurrent with Add/Remove), and the write is acknowledged
//              only after its index changes, so an acknowledged point is searchable.
//   free_mu_   guards free_slots_ (touched by commits and by index-phase releases).
// Consolidation, training swaps and the end of a background build take mu_ exclusive as well,
// as the VectorIndex contract asks.
#ifndef SEXTANT_COLLECTION_COLLECTION_IMPL_H_
#define SEXTANT_COLLECTION_COLLECTION_IMPL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "collection/descriptor.h"
#include "collection/index_file.h"
#include "index/segmented.h"
#include "index/vector_index.h"
#include "payload/filter.h"
#include "payload/payload_index.h"
#include "sextant/collection.h"
#include "storage/files.h"
#include "storage/storage.h"
#include "text/text_index.h"
#include "util/memory_budget.h"
#include "sync/mutex.h"

namespace sextant {

// Limits from DatabaseOptions that the write path enforces.
struct CollectionLimits {
  size_t max_payload_bytes = 64 * 1024;
};

// What a collection needs from its database.
struct CollectionEnv {
  storage::Storage* storage = nullptr;  // owned by the database; valid until Close()
  std::shared_ptr<const storage::Files> files;  // all file I/O outside RocksDB (the same file system)
  std::string index_dir;                // where index checkpoint files go
  CollectionLimits limits;
  // The database's memory budget, shared by its collections (never null once Load is called).
  std::shared_ptr<internal::MemoryBudget> budget;
};

class CollectionImpl final : public Collection {
 public:
  // Loads the collection's ids, vectors and payload index entries into memory, and its index
  // from its checkpoint file (applying the writes the checkpoint misses); when the file is
  // missing or damaged the index is rebuilt in the background (with a logged warning when it was
  // damaged) and searches are exact meanwhile. DataLoss when ids and vectors disagree.
  static StatusOr<std::shared_ptr<CollectionImpl>> Load(const CollectionEnv& env, CollectionDescriptor descriptor);
  ~CollectionImpl() override;

  const std::string& name() const override { return desc_.name; }
  uint32_t dimension() const override { return desc_.dimension; }
  Metric metric() const override { return desc_.metric; }

  Status Upsert(const WriteOptions& options, std::span<const PointId> ids, std::span<const float> vectors,
                std::span<const std::string> payloads) override;
  StatusOr<uint64_t> Delete(const WriteOptions& options, std::span<const PointId> ids) override;
  StatusOr<uint64_t> DeleteWhere(const WriteOptions& options, std::string_view filter) override;
  StatusOr<uint64_t> Replace(const WriteOptions& options, std::string_view delete_filter, std::span<const PointId> ids,
                             std::span<const float> vectors, std::span<const std::string> payloads) override;
  StatusOr<Point> Get(const PointId& id) const override;
  StatusOr<std::vector<std::optional<Point>>> GetMany(std::span<const PointId> ids) const override;
  StatusOr<uint64_t> Count() const override;
  StatusOr<uint64_t> CountWhere(std::string_view filter) const override;
  StatusOr<uint64_t> SetPayload(const WriteOptions& options, const PointSelector& points,
                                std::string_view payload) override;
  StatusOr<uint64_t> OverwritePayload(const WriteOptions& options, const PointSelector& points,
                                      std::string_view payload) override;
  StatusOr<uint64_t> DeletePayloadKeys(const WriteOptions& options, const PointSelector& points,
                                       std::span<const std::string> keys) override;
  Status UpdateVectors(const WriteOptions& options, std::span<const PointId> ids,
                       std::span<const float> vectors) override;
  StatusOr<ScanPage> Scan(const ScanOptions& options) const override;
  StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                    SearchPlan* plan) const override;
  StatusOr<std::vector<std::vector<Hit>>> SearchBatch(const SearchOptions& options, std::span<const float> queries,
                                                      std::vector<SearchPlan>* plans) const override;
  StatusOr<CollectionInfo> Describe() const override;
  Status SetIndex(const IndexOptions& options) override;
  Status RebuildIndex() override;
  Status WaitForIndex(uint64_t timeout_ms) const override;
  Status Checkpoint() override;

  uint32_t id() const { return desc_.id; }

  // The collection held still for a snapshot: while a SnapshotHold lives no write commits and
  // the index does not change (searches go on; writes wait). It carries the descriptor, the live
  // count and the index as it stands (none for Flat, or while an index waits to train), which
  // matches the stored data exactly: together with a storage checkpoint taken while it is held,
  // a restore answers every query as this collection did.
  struct SnapshotHold {
    std::shared_lock<internal::RwMutex> lock;  // mu_, shared
    std::unique_lock<internal::Mutex> index_lock;  // index_mu_
    CollectionDescriptor descriptor;
    uint64_t count = 0;
    std::optional<IndexFile> index;
  };
  StatusOr<std::unique_ptr<SnapshotHold>> HoldForSnapshot();

  // Background upkeep, called periodically by the database's maintenance thread: consolidates
  // the index after many deletes, trains a waiting index once there are enough points, and
  // checkpoints an index that has changed a lot since its last checkpoint.
  void Maintain();

  // Tests: called by every checkpoint after it has copied the index and released the
  // collection's locks, before it fingerprints the vectors and writes the file (a latch here shows
  // that searches and writes go on meanwhile). Null: none.
  void SetCheckpointHookForTesting(std::function<void()> hook);

  // The database is dropping this collection: stop background work, delete the checkpoint
  // file; every call returns NotFound from now on.
  void MarkDropped();
  // The database is closing: stop background work, checkpoint a changed index, and return
  // FailedPrecondition from every call from now on. Waits for calls in flight.
  void Close();

 private:
  enum class State { kOpen, kDropped, kClosed };
  struct Matches;  // the planner's view of a filter: mask of allowed slots and their count

  CollectionImpl(const CollectionEnv& env, CollectionDescriptor descriptor);

  Status CheckOpen() const SEXTANT_REQUIRES_SHARED(mu_);
  Status LoadIndexFromFile() SEXTANT_REQUIRES(mu_, index_mu_);  // during Load
  // Serialises index_ (non-null) with the fingerprints of the slots it holds; requires mu_
  // (either mode) and index_mu_.
  Status SaveIndexLocked(IndexFile* file) const SEXTANT_REQUIRES_SHARED(mu_) SEXTANT_REQUIRES(index_mu_);
  // The part of SaveIndexLocked that needs the locks: the index's bytes (a copy of its arrays),
  // the header, and the slots it holds (*held).
  Status CopyIndexLocked(IndexFile* file, std::vector<uint32_t>* held) const SEXTANT_REQUIRES_SHARED(mu_)
      SEXTANT_REQUIRES(index_mu_);
  // Fills file->fingerprints for `held` (slots below `slots`) from the vector store. Without the
  // locks it requires checkpoint_mu_, which keeps every held slot's row as it is (see below).
  void FingerprintSlots(IndexFile* file, const std::vector<uint32_t>& held, uint32_t slots) const;
  // Which slots the (parsed) filter allows; requires mu_ shared.
  // Upsert, and with delete_filter also Replace: one atomic batch. Returns how many live points
  // matched the filter. Call inside Guarded.
  // With keep_payloads (UpdateVectors): every id must exist, and each keeps its stored payload.
  StatusOr<uint64_t> WritePoints(const WriteOptions& options, const payload::Filter* delete_filter,
                                 std::span<const PointId> ids, std::span<const float> vectors,
                                 std::span<const std::string> payloads, bool keep_payloads = false) SEXTANT_EXCLUDES(mu_);
  // The payload-update calls: applies `edit` to the payload of every selected point, in one
  // atomic batch with the payload index entries that change (collection_update.cc).
  StatusOr<uint64_t> EditPayloads(const WriteOptions& options, const PointSelector& points, std::string_view what,
                                  const std::function<void(nlohmann::json*)>& edit) SEXTANT_EXCLUDES(mu_);
  // Adds the removal of the live point in `slot` (id, vector, payload, payload index entries).
  // Caller holds mu_ exclusively.
  void DeletePoint(uint32_t slot, storage::Batch* batch) const SEXTANT_REQUIRES(mu_);
  // Binds the filter's $text conditions to the text index (InvalidArgument naming a field without
  // one); requires mu_ shared. FilterMatches binds by itself.
  StatusOr<payload::Filter> BindFilter(const payload::Filter& filter) const SEXTANT_REQUIRES_SHARED(mu_);
  StatusOr<Matches> FilterMatches(const std::optional<payload::Filter>& filter) const SEXTANT_REQUIRES_SHARED(mu_);
  // The k nearest matching slots of each of nq queries (q: nq * dimension, normalised for
  // cosine), by index walk or exact scoring as the planner decides; requires mu_ shared.
  Status DenseNeighbors(const SearchOptions& options, size_t k, const float* q, size_t nq, const Matches& m,
                        std::vector<std::vector<index::Neighbor>>* found, std::vector<SearchPlan>* plan) const SEXTANT_REQUIRES_SHARED(mu_);
  // A hit for a live slot (payload and vector as options ask); requires mu_ shared.
  StatusOr<Hit> MakeHit(uint32_t slot, float score, const SearchOptions& options) const SEXTANT_REQUIRES_SHARED(mu_);
  // Result shaping (collection_select.cc): a search's ranked candidates (best first) become its
  // hits through score_threshold, group_by or mmr, and k.
  struct Candidate {
    uint32_t slot;
    float score;
  };
  struct Selected {
    uint32_t slot;
    float score;
    std::string group;  // with group_by: the group's value as JSON text
  };
  static bool Shaped(const SearchOptions& options);      // group_by or mmr: a larger pool
  static size_t PoolSize(const SearchOptions& options);  // candidates to rank before shaping
  static Status CheckShaping(const SearchOptions& options);
  // `higher_better`: false when scores are L2 distances; `cosine_scores`: they are cosine
  // similarities (MMR uses them as they are). Requires mu_ shared.
  StatusOr<std::vector<Selected>> Select(const SearchOptions& options, const std::vector<Candidate>& ranked,
                                         bool higher_better, bool cosine_scores = false) const SEXTANT_REQUIRES_SHARED(mu_);
  // MakeHit, counted against options.max_result_bytes in *result_bytes (ResourceExhausted when
  // over; the fixed part is checked before the payload is read); requires mu_ shared.
  StatusOr<Hit> BudgetedHit(uint32_t slot, float score, const SearchOptions& options, size_t* result_bytes) const
      SEXTANT_REQUIRES_SHARED(mu_);
  // Text (BM25) and hybrid search, SearchBatch with options.text (collection_text.cc): the fusion
  // options' checks (hybrid: with query vectors), and the search itself for nq query vectors
  // (q: normalised for cosine; nq == 0: BM25 alone, one result list); requires mu_ shared.
  Status CheckTextOptions(const SearchOptions& options, bool hybrid) const;
  StatusOr<std::vector<std::vector<Hit>>> TextSearchLocked(const SearchOptions& options, const float* q, size_t nq,
                                                           const Matches& m, std::vector<SearchPlan>* plans) const
      SEXTANT_REQUIRES_SHARED(mu_);
  StatusOr<std::string> ReadPayload(uint32_t slot) const;
  // Deletes these live slots in one batch and retires them; the caller hands *retired to the index
  // (HandOffDeletes).
  StatusOr<uint64_t> DeleteSlots(const WriteOptions& options, const std::vector<uint32_t>& slots,
                                 std::vector<uint32_t>* retired) SEXTANT_REQUIRES(mu_);
  std::vector<index::VectorRun> Runs() const SEXTANT_REQUIRES_SHARED(mu_);

  // ---- Memory budget (util/memory_budget.h). The collection charges the budget an estimate of
  // what it holds, in two parts: its data (vectors, ids, payload and text indexes; requires mu_)
  // and its vector index (requires index_mu_). Charge* brings the charge up to date.
  uint64_t DataBytes() const SEXTANT_REQUIRES_SHARED(mu_);
  void ChargeData() SEXTANT_REQUIRES(mu_);
  void ChargeIndex() SEXTANT_REQUIRES(index_mu_);
  void ReleaseCharges();       // the collection is gone: everything it charged is freed
  // About how much memory a write of `points` new slots up to slot `next_slot` adds, given the
  // payload index entries and text of its points (requires mu_ exclusive).
  uint64_t WriteGrowth(size_t points, uint64_t next_slot, uint64_t entry_bytes) const SEXTANT_REQUIRES(mu_);
  // Reserves what a build of `options` over the live points allocates (the index and its
  // training sample), or ResourceExhausted; requires build_mu_.
  Status ReserveBuild(const IndexOptions& options, std::string_view what) SEXTANT_REQUIRES(build_mu_);
  // Logs a background build refused by the budget, at most once a minute.
  void WarnBudget(const Status& st);
  void EnsureCapacity(uint64_t slots) SEXTANT_REQUIRES(mu_);
  std::string PayloadIndexKey(const std::string& entry, uint32_t slot) const;

  // Retires a slot in the commit phase (requires mu_ exclusive): it stops being live; it is
  // freed at once when no index can hold it.
  void RetireSlot(uint32_t slot, std::vector<uint32_t>* retired) SEXTANT_REQUIRES(mu_);
  // The index phase of a write (requires index_mu_): apply removals and adds to the index (and
  // to the pending log of a build in progress).
  void ApplyToIndex(const std::vector<uint32_t>& removed, const std::vector<uint32_t>& added)
      SEXTANT_REQUIRES(index_mu_);
  // Rebuilds free_slots_ from scratch (requires mu_ exclusive and index_mu_).
  void RecomputeFreeSlots() SEXTANT_REQUIRES(mu_, index_mu_);

  // Background build of `options` (a new index, a retrain, or training once enough points), on
  // builder_. Start and Stop require build_mu_.
  void StartBuild(const IndexOptions& options) SEXTANT_REQUIRES(build_mu_);
  void StopBuild() SEXTANT_REQUIRES(build_mu_);
  // Starts training an index that waits for points, once the collection has enough.
  void StartTrainingIfWaiting();
  void BuildMain(IndexOptions options);
  // Ends a build: swaps in `built` (after applying the writes it has not seen) or, when null,
  // keeps the current index; sets the state and recomputes the free slots.
  void EndBuild(std::shared_ptr<index::VectorIndex> built, const IndexOptions& options, IndexState state);
  Status PersistDescriptor(const CollectionDescriptor& d);
  // Checkpoint's body; requires checkpoint_mu_.
  Status CheckpointLocked() SEXTANT_REQUIRES(checkpoint_mu_);

  const CollectionEnv env_;
  const std::string prefix_;  // storage::CollectionPrefix(id)

  mutable internal::RwMutex mu_ SEXTANT_ACQUIRED_AFTER(checkpoint_mu_);  // writer-preferring: searches cannot starve writes
  mutable internal::Mutex index_mu_ SEXTANT_ACQUIRED_AFTER(mu_);
  internal::Mutex free_mu_;
  internal::Mutex build_mu_;  // guards builder_ and build_stop_ (starting/stopping builds)
  // One checkpoint at a time; also held by MarkDropped and Close around their state change, so no
  // checkpoint writes a file after a drop or close. Taken after build_mu_ (never while joining the
  // builder, whose build ends with a checkpoint) and before mu_.
  //
  // A checkpoint copies the index under mu_ (shared) and index_mu_, then releases them and
  // fingerprints the vectors of the slots that copy holds and writes the file holding only
  // checkpoint_mu_, so searches and writes go on meanwhile. The rows of those slots must not change
  // until it is done: a row is rewritten only once its slot is free, and a slot the index holds is
  // freed only by Consolidate, by the swap at the end of a build (EndBuild) or by SetIndex(Flat),
  // which all take checkpoint_mu_ first.
  internal::Mutex checkpoint_mu_ SEXTANT_ACQUIRED_AFTER(build_mu_);
  std::function<void()> checkpoint_hook_ SEXTANT_GUARDED_BY(checkpoint_mu_);

  // Fixed at Load, read without a lock (name, dimension, metric, ...), except desc_.index, which
  // SetIndex changes: desc_.index is guarded by mu_.
  CollectionDescriptor desc_;
  State state_ SEXTANT_GUARDED_BY(mu_) = State::kOpen;
  index::VectorStore store_;    // rows written under mu_ exclusive before the slot is published
  std::vector<uint8_t> live_ SEXTANT_GUARDED_BY(mu_);  // one per slot up to capacity
  std::vector<std::string> slot_ids_ SEXTANT_GUARDED_BY(mu_);  // encoded id, "" if none
  std::unordered_map<std::string, uint32_t> id_slot_ SEXTANT_GUARDED_BY(mu_);
  uint32_t slots_ SEXTANT_GUARDED_BY(mu_) = 0;  // high-water mark
  std::unique_ptr<payload::PayloadIndexSet> payload_index_ SEXTANT_GUARDED_BY(mu_);  // null when none declared
  // Null when no text fields. The pointer is set in Load and never changed after (MarkDropped keeps
  // it), so writes call its Check and Analyze (which read only the declared fields) before taking
  // mu_; its entries (Set, Clear, Bind, Search, Score) are guarded by mu_. Not annotated for that
  // split: keep it so (never reset or replace it while the collection is shared).
  std::unique_ptr<text::TextIndex> text_index_;
  // The declared fields alone (never holds entries), for validating payloads before taking mu_:
  // set in Load before the collection is shared and never changed, so it needs no lock (unlike
  // payload_index_, which MarkDropped frees). Null when none declared.
  std::unique_ptr<const payload::PayloadIndexSet> payload_schema_;
  std::vector<uint32_t> free_slots_ SEXTANT_GUARDED_BY(free_mu_);

  // Guarded by index_mu_ for changes, and by mu_ exclusive + index_mu_ for replacing the pointer
  // or flipping building_ (so readers holding either lock see a stable value).
  std::shared_ptr<index::VectorIndex> index_;
  bool building_ = false;
  // (is_add, slot) seen by a build in progress
  std::vector<std::pair<bool, uint32_t>> pending_ops_ SEXTANT_GUARDED_BY(index_mu_);
  IndexState index_state_ SEXTANT_GUARDED_BY(mu_) = IndexState::kReady;
  std::string index_spec_ SEXTANT_GUARDED_BY(mu_) = "Flat";  // spec of index_ (may differ from desc_ during a build)
  std::string index_identity_ SEXTANT_GUARDED_BY(mu_);  // spec + build parameters of index_, recorded in checkpoints
  std::string index_origin_ SEXTANT_GUARDED_BY(mu_) = "none";  // CollectionInfo::index_origin
  std::atomic<size_t> min_training_points_{0};  // while kTraining
  std::atomic<bool> rebuild_requested_{false};  // an index Add failed after its write committed
  std::atomic<bool> build_running_{false};

  std::thread builder_ SEXTANT_GUARDED_BY(build_mu_);
  std::atomic<bool> build_stop_{false};
  mutable std::condition_variable_any index_cv_;  // notified when index_state_ changes (with mu_)

  std::atomic<int64_t> data_charged_{0};   // what DataBytes() was when last charged
  std::atomic<int64_t> index_charged_{0};  // what the index held when last charged
  // Held from StartBuild until the build ends (EndBuild releases it).
  internal::MemoryReservation build_reservation_ SEXTANT_GUARDED_BY(index_mu_);
  // Set by ReserveBuild (under build_mu_), taken by StartBuild.
  internal::MemoryReservation next_build_reservation_ SEXTANT_GUARDED_BY(build_mu_);
  std::atomic<int64_t> last_budget_warning_{-3600};  // steady-clock seconds of WarnBudget's last log

  std::atomic<uint64_t> changes_since_checkpoint_{0};
  std::chrono::steady_clock::time_point last_checkpoint_ SEXTANT_GUARDED_BY(checkpoint_mu_) =
      std::chrono::steady_clock::now();
};

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_COLLECTION_IMPL_H_
