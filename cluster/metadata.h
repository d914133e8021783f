// The cluster's shared metadata, all of it in JetStream key-value buckets (never only in one
// node's memory):
//   sextant_collections  collection name -> CollectionSpec (JSON), created with compare-and-set
//   sextant_nodes        node id -> NodeInfo (JSON), rewritten every heartbeat; the bucket's TTL
//                        expires a node that stops beating, so Keys() are the live nodes
#ifndef SEXTANT_CLUSTER_METADATA_H_
#define SEXTANT_CLUSTER_METADATA_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/nats_client.h"
#include "sextant/options.h"
#include "sextant/status.h"

namespace sextant::cluster {

inline constexpr char kCollectionsBucket[] = "sextant_collections";
inline constexpr char kNodesBucket[] = "sextant_nodes";

// A cluster collection: its engine options, its shards and where their replicas live.
struct CollectionSpec {
  std::string name;
  CollectionOptions options;  // dimension, metric, index, payload indexes, text fields, properties
  uint32_t shards = 1;
  uint32_t replication = 1;
  // placement[s] = the node ids hosting shard s (replication of them, distinct).
  std::vector<std::vector<std::string>> placement;
  // Microseconds since the epoch when it was created; with the name it makes the stream name
  // unique, so a collection dropped and created again never replays the old one's log.
  uint64_t created_us = 0;

  std::string ToJson() const;
  static StatusOr<CollectionSpec> FromJson(std::string_view json);

  // The JetStream stream holding the collection's log, and shard s's subject in it.
  std::string StreamName() const;
  std::string Subject(uint32_t shard) const;
};

// Spreads shards x replication replicas over `nodes` (sorted): shard s's replicas are nodes
// (s + r) mod N for r < replication, so every node gets an even share. InvalidArgument when
// shards is 0 or > 1024, replication is 0 or larger than the number of nodes.
StatusOr<std::vector<std::vector<std::string>>> PlaceShards(uint32_t shards, uint32_t replication,
                                                            std::vector<std::string> nodes);

struct NodeInfo {
  std::string id;
  std::string address;  // the node's gRPC address, host:port
  uint64_t started_us = 0;
  std::string ToJson() const;
  static StatusOr<NodeInfo> FromJson(std::string_view json);
};

// Node ids: 1..64 characters of [A-Za-z0-9_-] (they become key and consumer names).
Status ValidateNodeId(std::string_view id);

// Collection definitions in the sextant_collections bucket.
// Index options as JSON text (the collection spec's "index" object, and the set_index record).
std::string IndexToJson(const IndexOptions& index);
StatusOr<IndexOptions> IndexFromJson(std::string_view text);

class Catalog {
 public:
  // create = false: only an existing bucket (for tools reading a cluster, sextant cluster status).
  static StatusOr<std::unique_ptr<Catalog>> Open(NatsClient* nats, bool create = true);
  // AlreadyExists when the name is taken (compare-and-set: of two nodes creating it at once,
  // one wins).
  Status Create(const CollectionSpec& spec);
  // NotFound when absent.
  StatusOr<CollectionSpec> Get(const std::string& name) const;
  Status Drop(const std::string& name);
  // Records the collection's new vector index (compare-and-set, retried when another update
  // lands first). NotFound when it was dropped (or dropped and created again).
  Status SetIndex(const std::string& name, uint64_t created_us, const IndexOptions& index);
  StatusOr<std::vector<CollectionSpec>> List() const;

 private:
  explicit Catalog(std::unique_ptr<KvBucket> kv) : kv_(std::move(kv)) {}
  std::unique_ptr<KvBucket> kv_;
};

// Node liveness in the sextant_nodes bucket.
class Membership {
 public:
  // ttl_ms: how long a node counts as live after its last heartbeat.
  static StatusOr<std::unique_ptr<Membership>> Open(NatsClient* nats, int64_t ttl_ms, bool create = true);
  Status Heartbeat(const NodeInfo& self);
  Status Leave(const std::string& node_id);
  // The live nodes, sorted by id.
  StatusOr<std::vector<NodeInfo>> LiveNodes() const;
  int64_t ttl_ms() const { return ttl_ms_; }

 private:
  Membership(std::unique_ptr<KvBucket> kv, int64_t ttl_ms) : kv_(std::move(kv)), ttl_ms_(ttl_ms) {}
  std::unique_ptr<KvBucket> kv_;
  int64_t ttl_ms_;
};

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_METADATA_H_
