// One replica of one shard of a cluster collection on this node: a local engine collection that
// materialises the shard's subject of the collection's JetStream stream, in order, exactly once.
//
// Exactly once across restarts: the engine's public API has no place for "the stream sequence
// applied" beside a write, so each local shard collection holds one reserved point, the marker
// (id kMarkerId, payload {"_sextant_applied_seq": N}), and every log record is applied together
// with the marker's new value in ONE engine batch:
//   upsert        Collection::Upsert of the points plus the marker (one atomic batch)
//   delete_where  Collection::Replace(filter, marker) (deletes and upserts in one atomic batch)
//   delete (ids)  Collection::Delete, then Upsert(marker): two batches. A crash between them
//                 replays the delete, which finds nothing to delete: a delete by ids applied on the
//                 state it produced leaves that state unchanged, and nothing later was applied
//                 (records apply strictly in order), so the replay is invisible.
// On start the replica reads the marker and consumes from sequence N+1; a record delivered again
// (a lost ack, a redelivery) with a sequence <= N is skipped. Reads through this class never show
// the marker (the cluster layer rejects user ids starting with '\0').
#ifndef SEXTANT_CLUSTER_REPLICA_H_
#define SEXTANT_CLUSTER_REPLICA_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cluster/metadata.h"
#include "cluster/nats_client.h"
#include "sextant/database.h"
#include "sync/mutex.h"

typedef struct __natsSubscription natsSubscription;
typedef struct __natsMsg natsMsg;

namespace sextant::cluster {

// The marker's id: a string starting with '\0', which the cluster layer refuses as a user id.
inline const std::string kMarkerId = std::string("\0sextant.applied", 16);
inline constexpr char kMarkerKey[] = "_sextant_applied_seq";

// Whether a user may use this id in a cluster collection (ids starting with '\0' are reserved).
bool IsReservedId(const PointId& id);

// The local collection holding shard `shard` of `spec` on a node: "<name prefix>.<hash>.s<shard>",
// unique per (name, created_us), at most 128 characters.
std::string LocalCollectionName(const CollectionSpec& spec, uint32_t shard);

class ShardReplica {
 public:
  // Opens (creating when absent) the local collection and reads its marker. Does not consume yet.
  static StatusOr<std::unique_ptr<ShardReplica>> Open(NatsClient* nats, Database* db, const CollectionSpec& spec,
                                                      uint32_t shard, const std::string& node_id);
  ~ShardReplica();
  ShardReplica(const ShardReplica&) = delete;
  ShardReplica& operator=(const ShardReplica&) = delete;

  // Creates the durable consumer (starting after the marker's sequence) and the apply thread.
  Status Start();
  // Stops the apply thread (the consumer stays, for a later Start).
  void Stop();

  // Applies one log record with stream sequence `seq`: skipped (OK) when seq <= the applied
  // sequence. A record the engine rejects for its content (InvalidArgument, NotFound) or that does
  // not decode is skipped on every replica alike and counted in skipped_records(); any other error
  // is returned and nothing is recorded (the record is retried).
  Status Apply(uint64_t seq, std::string_view data);

  uint64_t applied_sequence() const { return applied_.load(); }
  uint64_t skipped_records() const { return skipped_.load(); }
  // The last error of the apply loop (OK when it is applying normally).
  Status last_error() const;
  // Blocks until applied_sequence() >= seq; DeadlineExceeded after timeout_ms.
  Status WaitApplied(uint64_t seq, int64_t timeout_ms) const;

  // ---- reads, never showing the marker
  StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                    SearchPlan* plan) const;
  StatusOr<uint64_t> Count(std::string_view filter) const;
  StatusOr<std::vector<std::optional<Point>>> GetMany(std::span<const PointId> ids) const;
  StatusOr<ScanPage> Scan(const ScanOptions& options) const;

  const std::shared_ptr<Collection>& collection() const { return coll_; }
  uint32_t shard() const { return shard_; }
  const CollectionSpec& spec() const { return spec_; }

 private:
  ShardReplica() = default;
  void Loop();
  Status Subscribe();
  void Unsubscribe();
  std::string MarkerPayload(uint64_t seq) const;
  Status UpsertMarkerOnly(uint64_t seq);

  NatsClient* nats_ = nullptr;
  CollectionSpec spec_;
  uint32_t shard_ = 0;
  std::string node_id_;
  std::string durable_;
  std::shared_ptr<Collection> coll_;
  std::vector<float> marker_vector_;

  std::atomic<uint64_t> applied_{0};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  natsSubscription* sub_ = nullptr;  // owned by the apply thread while it runs

  mutable internal::Mutex mu_;  // with cv_, waits for applied_
  mutable std::condition_variable_any cv_;
  Status last_error_ SEXTANT_GUARDED_BY(mu_);
};

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_REPLICA_H_
