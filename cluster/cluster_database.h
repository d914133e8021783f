// The engine's Database and Collection interfaces over a cluster: what sextantd serves in cluster
// mode, so that every RPC works on any node with the same proto and the same clients.
//
// A ClusterCollection routes writes through the log (acknowledged once JetStream stored them) and
// reads to one live replica per shard:
//   Search / SearchBatch  fan out to every shard for its top k, merge by score (nearest first; ties
//                         by id: numbers ascending before strings in byte order)
//   Count / CountWhere    summed over the shards
//   Get / GetMany         routed to each id's shard
//   Scan                  shard after shard; the cursor holds the shard ("<shard>:<engine cursor>"),
//                         so pages come in shard order, and by id within a shard
// Reads through a node wait until the replica they use has applied every write that node
// acknowledged (read-your-writes through one node). Delete and DeleteWhere return the number of
// points matching when the delete was accepted (the log applies it later, on every replica).
#ifndef SEXTANT_CLUSTER_CLUSTER_DATABASE_H_
#define SEXTANT_CLUSTER_CLUSTER_DATABASE_H_

#include <memory>
#include <string>

#include "cluster/node.h"
#include "cluster/search_merge.h"  // IdBefore: the id order of Scan and of ties
#include "sextant/database.h"

namespace sextant::cluster {

class ClusterDatabase final : public Database {
 public:
  // `node` must outlive this object. `path` is the node's local data directory (for path()).
  ClusterDatabase(ClusterNode* node, std::string path) : node_(node), path_(std::move(path)) {}

  // With the cluster's defaults for shards and replication (1 and 1); see CreateSharded.
  StatusOr<std::shared_ptr<Collection>> CreateCollection(std::string_view name,
                                                         const CollectionOptions& options) override;
  StatusOr<std::shared_ptr<Collection>> CreateSharded(std::string_view name, const CollectionOptions& options,
                                                      uint32_t shards, uint32_t replication);
  StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) override;
  Status DropCollection(std::string_view name) override;
  StatusOr<std::vector<CollectionInfo>> ListCollections() const override;
  StatusOr<RepairReport> RepairCollection(std::string_view name) override;
  Status CreateAlias(std::string_view alias, std::string_view collection) override;
  Status DeleteAlias(std::string_view alias) override;
  StatusOr<std::vector<AliasInfo>> ListAliases() const override;
  Status UpdateAliases(std::span<const AliasChange> changes) override;
  const std::string& path() const override { return path_; }
  StatusOr<SnapshotInfo> CreateSnapshot(const SnapshotOptions& options) override;
  StatusOr<CollectionInfo> RestoreCollection(const std::string& snapshot_path, std::string_view source,
                                             std::string_view name) override;

  ClusterNode* node() const { return node_; }

 private:
  ClusterNode* node_;
  std::string path_;
};

// Orders hits nearest first for `metric` (L2 ascending, the others descending), ties by id.
bool HitBefore(Metric metric, const Hit& a, const Hit& b);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_CLUSTER_DATABASE_H_
