// The cluster's log records: one write batch of one shard, as published to the collection's
// JetStream stream and applied by every replica of the shard (docs/cluster.md, "Log records").
//
// Encoding (little-endian): "SXW" magic, version byte 1, kind byte, then per kind
//   upsert        u32 n, u32 dim, n ids, n*dim float32, u8 has_payloads, [n x (u32 len, bytes)]
//   delete        u32 n, n ids
//   delete_where  u32 len, filter bytes
//   update_vectors  u32 n, u32 dim, n ids, n*dim float32
//   set_payload, overwrite_payload  selector, u32 len, payload JSON bytes
//   delete_payload_keys             selector, u32 n, n x (u32 len, key bytes)
//   set_index                       u32 len, index options JSON bytes
//   rebuild_index                   (nothing)
// A selector is u8 0 + u32 n + n ids, or u8 1 + u32 len + filter bytes.
// An id is u8 0 + u64 (a number) or u8 1 + u32 len + bytes (a string).
#ifndef SEXTANT_CLUSTER_WRITE_MESSAGE_H_
#define SEXTANT_CLUSTER_WRITE_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::cluster {

struct WriteMessage {
  enum class Kind : uint8_t {
    kUpsert = 1,
    kDelete = 2,
    kDeleteWhere = 3,
    kUpdateVectors = 4,
    kSetPayload = 5,
    kOverwritePayload = 6,
    kDeletePayloadKeys = 7,
    kSetIndex = 8,
    kRebuildIndex = 9,
  };
  Kind kind = Kind::kUpsert;
  uint32_t dimension = 0;             // kUpsert, kUpdateVectors
  std::vector<PointId> ids;           // kUpsert, kDelete, kUpdateVectors, payload kinds by ids
  std::vector<float> vectors;         // kUpsert, kUpdateVectors: ids.size() * dimension
  std::vector<std::string> payloads;  // kUpsert: empty, or one per id
  bool by_filter = false;             // payload kinds: `filter` selects the points, else `ids`
  std::string filter;                 // kDeleteWhere, payload kinds by filter
  std::string payload;                // kSetPayload, kOverwritePayload: a JSON object
  std::vector<std::string> keys;      // kDeletePayloadKeys
  std::string index;                  // kSetIndex: the index options as JSON (cluster/metadata.h)

  // Published to every shard of the collection (not split by point).
  bool ToEveryShard() const {
    return kind == Kind::kDeleteWhere || kind == Kind::kSetIndex || kind == Kind::kRebuildIndex ||
           (IsPayloadKind() && by_filter);
  }
  bool IsPayloadKind() const {
    return kind == Kind::kSetPayload || kind == Kind::kOverwritePayload || kind == Kind::kDeletePayloadKeys;
  }
};

std::string EncodeWriteMessage(const WriteMessage& m);
// DataLoss naming what is wrong for a truncated or malformed record.
StatusOr<WriteMessage> DecodeWriteMessage(std::string_view data);

// The encoded size of point i of an upsert (its id, vector and payload), for chunking.
size_t EncodedPointBytes(const WriteMessage& m, size_t i);
// Bytes of an encoded record besides its points (headers, counts, a payload update's payload or keys).
size_t WriteMessageOverhead(const WriteMessage& m);

// Splits a record selecting points by id (upsert, delete, update_vectors, payload updates by ids)
// into records of at most `max_bytes` encoded bytes each, on point
// boundaries, in order. InvalidArgument naming the point when one point alone is larger.
StatusOr<std::vector<WriteMessage>> SplitWriteMessage(WriteMessage m, size_t max_bytes);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_WRITE_MESSAGE_H_
