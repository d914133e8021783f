// What `sextant cluster status` shows (docs/cluster.md): the cluster's nodes and their liveness,
// its collections, their shards, where each shard's replicas are and how far each has applied
// the shard's log against the stream's last record (lag). Read from NATS alone, without being a
// node: the catalogue and heartbeat buckets, the streams' last sequences, and a "status" request
// to each live node (cluster/shard_rpc.h's subject), which reports its replicas.
#ifndef SEXTANT_CLUSTER_STATUS_H_
#define SEXTANT_CLUSTER_STATUS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/metadata.h"
#include "cluster/nats_client.h"

namespace sextant::cluster {

struct ReplicaState {
  std::string node;
  bool live = false;      // the node's heartbeat is current
  bool reported = false;  // the node answered the status request (applied/skipped are known)
  uint64_t applied = 0;   // stream sequence applied
  uint64_t skipped = 0;   // records every replica rejected alike
  std::string error;      // the replica's last apply error ("" when applying normally)
};

struct ShardState {
  uint32_t shard = 0;
  bool last_known = false;
  uint64_t last = 0;  // stream sequence of the shard's last record (0: none)
  std::vector<ReplicaState> replicas;
};

struct CollectionState {
  CollectionSpec spec;
  std::vector<ShardState> shards;
};

struct ClusterState {
  std::vector<NodeInfo> nodes;  // live nodes, sorted by id
  std::vector<CollectionState> collections;
  std::vector<std::string> unanswered;  // live nodes that did not answer the status request
};

// FailedPrecondition when NATS holds no Sextant cluster (its buckets are absent); Unavailable
// when NATS does not answer. A node that does not answer within timeout_ms is listed in
// `unanswered` (its replicas show reported = false).
StatusOr<ClusterState> ReadClusterState(NatsClient* nats, int64_t timeout_ms);

// One replica's lag: last - applied (0 when unknown or caught up).
uint64_t ReplicaLag(const ShardState& shard, const ReplicaState& replica);

std::string ClusterStateText(const ClusterState& state);
nlohmann::json ClusterStateJson(const ClusterState& state);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_STATUS_H_
