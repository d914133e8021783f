// Which shard a point id belongs to: a stable hash, the same on every node, every version and
// every platform (docs/cluster.md). Changing it would move points between shards, so it is fixed:
//
//   key(number n) = 0x00 followed by n as 8 bytes little-endian
//   key(string s) = 0x01 followed by the bytes of s
//   shard         = FNV-1a-64(key) mod shards
//
// (FNV-1a 64: h = 14695981039346656037; for each byte b: h = (h xor b) * 1099511628211 mod 2^64.)
// The number 7 and the string "7" are different ids and may land on different shards.
#ifndef SEXTANT_CLUSTER_SHARD_H_
#define SEXTANT_CLUSTER_SHARD_H_

#include <cstdint>
#include <string_view>

#include "sextant/types.h"

namespace sextant::cluster {

uint64_t Fnv1a64(std::string_view bytes, uint64_t h = 14695981039346656037ull);

// The shard of `id` among `shards` (>= 1).
uint32_t ShardOf(const PointId& id, uint32_t shards);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_SHARD_H_
