// One node of a Sextant cluster: its NATS connection, its heartbeat, the shard replicas placed on
// it (kept in step with the catalogue), the write log, and reads of any shard, served locally or
// asked of a node hosting it (NATS request/reply, cluster/shard_rpc.h).
#ifndef SEXTANT_CLUSTER_NODE_H_
#define SEXTANT_CLUSTER_NODE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cluster/log_writer.h"
#include "cluster/metadata.h"
#include "cluster/nats_client.h"
#include "cluster/replica.h"
#include <nlohmann/json.hpp>

#include "sextant/database.h"
#include "sync/mutex.h"

namespace sextant::cluster {

struct NodeOptions {
  std::string nats_urls;          // nats://HOST:PORT[,...]
  std::string node_id;            // [A-Za-z0-9_-]{1,64}, unique in the cluster
  std::string address;            // this node's client address (host:port), shown in status
  int jetstream_replicas = 1;     // R of the streams and buckets this node creates (3 in production)
  int64_t heartbeat_ms = 1000;    // how often the node beats and re-reads the catalogue
  int64_t node_ttl_ms = 4000;     // a node silent this long is dead
  int64_t read_timeout_ms = 10000;  // a shard read waits this long for its replica (and its catch-up)
  int64_t connect_timeout_ms = 5000;
};

// Per shard, where a replica is and how far it has applied (sextant cluster status).
struct ReplicaStatus {
  std::string collection;
  uint32_t shard = 0;
  std::string node;
  bool live = false;
  uint64_t applied = 0;  // only known for this node's replicas (0 otherwise)
  uint64_t last = 0;     // the stream sequence of the shard's last record
  bool local = false;    // a replica on this node (applied and skipped are known)
  uint64_t skipped = 0;  // records every replica rejected alike (ShardReplica::skipped_records)
};

// Prometheus text for this node's replicas (for sextantd's /metrics):
//   sextant_cluster_shard_applied_sequence{collection,shard}  stream sequence applied
//   sextant_cluster_shard_last_sequence{collection,shard}     sequence of the shard's last record
//   sextant_cluster_shard_lag{collection,shard}               last - applied (0: caught up); stream
//                                                             sequences, which other shards share
//   sextant_cluster_shard_skipped_records{collection,shard}   records rejected by every replica
//   sextant_cluster_live_nodes                                nodes with a live heartbeat
// A shard whose last sequence cannot be read (NATS down) shows applied only.
class ClusterNode;
std::string RenderClusterMetrics(ClusterNode& node);

class ClusterNode {
 public:
  // Connects (Unavailable with a clear message when NATS is not there), joins (first heartbeat),
  // opens this node's replicas and starts serving shard reads. `local` holds the replicas and
  // must outlive the node.
  static StatusOr<std::unique_ptr<ClusterNode>> Start(const NodeOptions& options, Database* local);
  ~ClusterNode();  // leaves the cluster (deletes its heartbeat key) and stops every replica

  const NodeOptions& options() const { return options_; }

  // ---- metadata
  // InvalidArgument when replication > live nodes (or shards/replication out of range, or the
  // engine options are bad); AlreadyExists when the name is taken.
  StatusOr<CollectionSpec> CreateCollection(std::string_view name, const CollectionOptions& options,
                                            uint32_t shards, uint32_t replication);
  Status DropCollection(std::string_view name);
  StatusOr<CollectionSpec> GetSpec(std::string_view name);
  StatusOr<std::vector<CollectionSpec>> ListSpecs();
  StatusOr<std::vector<NodeInfo>> LiveNodes() const;

  // ---- writes (acknowledged by JetStream); the node remembers the sequences, so that its own
  // later reads wait for them (read-your-writes through one node).
  StatusOr<ShardSequences> Upsert(const CollectionSpec& spec, std::span<const PointId> ids,
                                  std::span<const float> vectors, std::span<const std::string> payloads);
  StatusOr<ShardSequences> Delete(const CollectionSpec& spec, std::span<const PointId> ids);
  StatusOr<ShardSequences> DeleteWhere(const CollectionSpec& spec, std::string_view filter);
  // Every replica changes its vector index (through the log), then the catalogue records it.
  StatusOr<ShardSequences> SetIndex(const CollectionSpec& spec, const IndexOptions& index);
  // Every replica rebuilds its current index from its vectors (through the log).
  StatusOr<ShardSequences> RebuildIndex(const CollectionSpec& spec);
  StatusOr<ShardSequences> UpdateVectors(const CollectionSpec& spec, std::span<const PointId> ids,
                                         std::span<const float> vectors);
  StatusOr<ShardSequences> UpdatePayload(const CollectionSpec& spec, WriteMessage::Kind kind,
                                         const PointSelector& selector, std::string_view payload,
                                         std::span<const std::string> keys);

  // ---- reads of one shard, from one live replica (this node's when it hosts one). Unavailable
  // naming the shard when no replica answers.
  StatusOr<std::vector<Hit>> SearchShard(const CollectionSpec& spec, uint32_t shard, const SearchOptions& options,
                                         std::span<const float> query, SearchPlan* plan);
  StatusOr<uint64_t> CountShard(const CollectionSpec& spec, uint32_t shard, std::string_view filter);
  StatusOr<std::vector<std::optional<Point>>> GetShard(const CollectionSpec& spec, uint32_t shard,
                                                       std::span<const PointId> ids);
  StatusOr<ScanPage> ScanShard(const CollectionSpec& spec, uint32_t shard, const ScanOptions& options);

  // Brings this node's replicas in line with the catalogue now (also done every heartbeat).
  Status Sync();
  // Every replica of every collection, with liveness and lag.
  StatusOr<std::vector<ReplicaStatus>> ReplicaStatuses();
  // This node's replica of the shard, or null.
  std::shared_ptr<ShardReplica> LocalReplica(const CollectionSpec& spec, uint32_t shard);

 private:
  ClusterNode() = default;
  void HeartbeatLoop();
  StatusOr<nlohmann::json> Ask(const std::string& node, const nlohmann::json& request, int64_t timeout_ms);
  // Runs `local` on this node's replica, or sends `request` to each live replica in turn.
  template <typename T, typename LocalFn, typename DecodeFn>
  StatusOr<T> ReadShard(const CollectionSpec& spec, uint32_t shard, nlohmann::json request, LocalFn local,
                        DecodeFn decode);
  uint64_t MinSequence(const CollectionSpec& spec, uint32_t shard);
  void NoteWritten(const CollectionSpec& spec, const ShardSequences& seqs);
  static void OnRequest(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure);
  nlohmann::json Serve(const nlohmann::json& request);
  // The "status" request (cluster/status.h): every replica on this node with how far it applied.
  nlohmann::json ServeStatus();

  NodeOptions options_;
  Database* db_ = nullptr;
  std::unique_ptr<NatsClient> nats_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<LogWriter> writer_;
  NodeInfo self_;
  natsSubscription* rpc_sub_ = nullptr;

  internal::Mutex sync_mu_;  // one Sync at a time; taken before mu_
  mutable internal::Mutex mu_ SEXTANT_ACQUIRED_AFTER(sync_mu_);
  std::map<std::string, std::shared_ptr<ShardReplica>> replicas_ SEXTANT_GUARDED_BY(mu_);  // StreamName/shard -> replica
  std::vector<std::string> live_ SEXTANT_GUARDED_BY(mu_);                  // live node ids, sorted
  std::map<std::string, ShardSequences> written_ SEXTANT_GUARDED_BY(mu_);  // StreamName -> this node's writes

  std::atomic<bool> stop_{false};  // set under stop_mu_, so HeartbeatLoop's wait cannot miss it
  internal::Mutex stop_mu_;
  std::condition_variable_any stop_cv_;
  std::thread heartbeat_;
};

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_NODE_H_
