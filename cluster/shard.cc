#include "cluster/shard.h"

#include <string>

namespace sextant::cluster {

uint64_t Fnv1a64(std::string_view bytes, uint64_t h) {
  for (unsigned char b : bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return h;
}

uint32_t ShardOf(const PointId& id, uint32_t shards) {
  if (shards <= 1) return 0;
  uint64_t h;
  if (id.is_number()) {
    char key[9];
    key[0] = 0;
    uint64_t n = id.number();
    for (int i = 0; i < 8; ++i) key[1 + i] = static_cast<char>((n >> (8 * i)) & 0xff);
    h = Fnv1a64(std::string_view(key, sizeof key));
  } else {
    const char tag = 1;
    h = Fnv1a64(id.str(), Fnv1a64(std::string_view(&tag, 1)));
  }
  return static_cast<uint32_t>(h % shards);
}

}  // namespace sextant::cluster
