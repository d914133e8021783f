// The write path of cluster mode: a write batch is validated, split by shard (ShardOf), chunked
// to NATS's max payload on point boundaries, and published to the collection's stream on each
// shard's subject with a unique message id (JetStream drops a retried duplicate). A call returns
// only once JetStream has acknowledged every part (stored on a quorum of the stream's replicas).
//
// Atomicity: each published part is applied atomically by every replica. A batch spanning several
// shards, or larger than one message, is several parts: each is atomic, the batch as a whole is
// not (docs/cluster.md). When a publish fails part-way, the parts acknowledged before stay.
#ifndef SEXTANT_CLUSTER_LOG_WRITER_H_
#define SEXTANT_CLUSTER_LOG_WRITER_H_

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cluster/metadata.h"
#include "cluster/nats_client.h"
#include "cluster/write_message.h"
#include "sextant/options.h"
#include "sextant/types.h"

namespace sextant::cluster {

// Per shard, the stream sequence of the last record a write produced there (0: none). A read
// carrying it (session consistency) waits until each shard's replica has applied that far.
using ShardSequences = std::vector<uint64_t>;

class LogWriter {
 public:
  // max_message_bytes: 0 = the server's max_payload less room for headers.
  LogWriter(NatsClient* nats, std::string node_id, size_t max_message_bytes = 0);

  // Creates the collection's stream with one subject per shard (or succeeds when it exists).
  Status CreateStream(const CollectionSpec& spec);
  Status DeleteStream(const CollectionSpec& spec);

  // Validation errors (InvalidArgument naming the point and field) come before anything is
  // published: sizes, dimension, non-finite or too large components, a zero vector in a cosine
  // collection, an empty, oversize or reserved id, a payload that is not a JSON object.
  StatusOr<ShardSequences> Upsert(const CollectionSpec& spec, std::span<const PointId> ids,
                                  std::span<const float> vectors, std::span<const std::string> payloads);
  StatusOr<ShardSequences> Delete(const CollectionSpec& spec, std::span<const PointId> ids);
  // Published to every shard. InvalidArgument for an empty or malformed-JSON filter.
  StatusOr<ShardSequences> DeleteWhere(const CollectionSpec& spec, std::string_view filter);

  // Published to each id's shard. InvalidArgument (before publishing) as for Upsert.
  StatusOr<ShardSequences> UpdateVectors(const CollectionSpec& spec, std::span<const PointId> ids,
                                         std::span<const float> vectors);
  // kind: kSetPayload, kOverwritePayload (payload: a JSON object) or kDeletePayloadKeys (keys).
  // By ids: to each id's shard; by filter: to every shard.
  StatusOr<ShardSequences> UpdatePayload(const CollectionSpec& spec, WriteMessage::Kind kind,
                                         const PointSelector& selector, std::string_view payload,
                                         std::span<const std::string> keys);

  // Published to every shard; InvalidArgument when the options do not fit the collection.
  StatusOr<ShardSequences> SetIndex(const CollectionSpec& spec, const IndexOptions& index);
  // Published to every shard: each replica rebuilds its current index from its vectors.
  StatusOr<ShardSequences> RebuildIndex(const CollectionSpec& spec);

  size_t max_message_bytes() const { return max_message_bytes_; }

 private:
  StatusOr<ShardSequences> PublishPerShard(const CollectionSpec& spec, std::vector<WriteMessage>& per_shard);
  std::string NextMsgId();

  NatsClient* nats_;
  std::string node_id_;
  size_t max_message_bytes_;
  std::string instance_;  // random, so message ids of two runs of one node never collide
  std::atomic<uint64_t> counter_{0};
};

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_LOG_WRITER_H_
