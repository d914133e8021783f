// CollectionImpl: the write path, exact search and the in-memory state of one collection.
//
// State and invariants. Each point lives in a dense 32-bit slot. In memory the collection holds
// every vector (vectors_, slot-major, dim floats a slot), which slots are live, the encoded
// external id of every live slot and the map back from id to slot. RocksDB holds the same, as
// ids (id -> slot), vectors (slot -> floats) and payloads (slot -> JSON); payloads are read from
// RocksDB when needed. A deleted slot is reused by a later insert.
//
// Threading. mu_ is a reader/writer lock: searches, gets and scans take it shared; writes take it
// exclusive for the RocksDB commit and the in-memory update together, so a reader sees a batch
// entirely or not at all and memory never runs ahead of, or behind, what is durable.
#ifndef SEXTANT_COLLECTION_COLLECTION_IMPL_H_
#define SEXTANT_COLLECTION_COLLECTION_IMPL_H_

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sextant/collection.h"
#include "storage/storage.h"

namespace sextant {

// What the catalogue records about a collection (db/ persists it in the meta family).
struct CollectionDescriptor {
  uint32_t id = 0;  // key prefix in every column family; never reused
  std::string name;
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
};

// Limits from DatabaseOptions that the write path enforces.
struct CollectionLimits {
  size_t max_payload_bytes = 64 * 1024;
};

class CollectionImpl final : public Collection {
 public:
  // Loads the collection's ids and vectors from storage into memory. DataLoss when they do not
  // agree (an id whose vector is missing or of the wrong size).
  static StatusOr<std::shared_ptr<CollectionImpl>> Load(storage::Storage* storage,
                                                        CollectionDescriptor descriptor,
                                                        CollectionLimits limits);

  const std::string& name() const override { return desc_.name; }
  uint32_t dimension() const override { return desc_.dimension; }
  Metric metric() const override { return desc_.metric; }

  Status Upsert(const WriteOptions& options, std::span<const PointId> ids,
                std::span<const float> vectors, std::span<const std::string> payloads) override;
  StatusOr<uint64_t> Delete(const WriteOptions& options, std::span<const PointId> ids) override;
  StatusOr<Point> Get(const PointId& id) const override;
  StatusOr<uint64_t> Count() const override;
  StatusOr<ScanPage> Scan(const ScanOptions& options) const override;
  StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                    SearchPlan* plan) const override;
  StatusOr<std::vector<std::vector<Hit>>> SearchBatch(const SearchOptions& options,
                                                      std::span<const float> queries,
                                                      std::vector<SearchPlan>* plans) const override;
  StatusOr<CollectionInfo> Describe() const override;
  Status SetIndex(const IndexOptions& options) override;
  Status RebuildIndex() override;
  Status WaitForIndex(uint64_t timeout_ms) const override;
  Status Checkpoint() override;

  const CollectionDescriptor& descriptor() const { return desc_; }

  // Called by the database with its catalogue lock held: after a drop every call returns
  // NotFound; after the database closes, FailedPrecondition. Waits for calls in flight.
  void MarkDropped();
  void MarkClosed();

 private:
  enum class State { kOpen, kDropped, kClosed };

  CollectionImpl(storage::Storage* storage, CollectionDescriptor descriptor, CollectionLimits limits);

  Status CheckOpen() const;  // requires mu_ held (either mode)
  // The mask of slots a search may return: live, and matching the filter when one is given.
  StatusOr<std::vector<uint8_t>> SearchMask(const std::string& filter) const;
  StatusOr<std::string> ReadPayload(uint32_t slot) const;
  void EnsureCapacity(uint32_t slots);

  storage::Storage* const storage_;  // owned by the database; valid while state_ != kClosed
  const CollectionDescriptor desc_;
  const CollectionLimits limits_;
  const std::string prefix_;  // storage::CollectionPrefix(desc_.id)

  mutable std::shared_mutex mu_;
  State state_ = State::kOpen;                         // guarded by mu_
  std::vector<float> vectors_;                         // guarded by mu_; slots_ * dim floats
  std::vector<uint8_t> live_;                          // guarded by mu_; one per slot
  std::vector<std::string> slot_ids_;                  // guarded by mu_; encoded id, "" if free
  std::unordered_map<std::string, uint32_t> id_slot_;  // guarded by mu_
  std::vector<uint32_t> free_slots_;                   // guarded by mu_
  uint32_t slots_ = 0;                                 // guarded by mu_; slots in use or freed
};

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_COLLECTION_IMPL_H_
