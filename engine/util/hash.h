// A fast 64-bit hash for checksums of index files and fingerprints of vectors. Not
// cryptographic; detects corruption and tells whether a vector changed.
#ifndef SEXTANT_UTIL_HASH_H_
#define SEXTANT_UTIL_HASH_H_

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

namespace sextant::internal {

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

// Hash of n bytes, consuming 8 at a time (four independent lanes for speed).
inline uint64_t Hash64(const void* data, size_t n, uint64_t seed = 0) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h[4] = {seed ^ 0x9e3779b97f4a7c15ull, seed + 0x632be59bd9b4e019ull, ~seed, seed * 3 + 1};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      h[l] = (h[l] ^ w) * 0x9fb21c651e98df25ull;
      h[l] ^= h[l] >> 29;
    }
  }
  uint64_t acc = Mix64(h[0]) ^ Mix64(h[1] + 1) ^ Mix64(h[2] + 2) ^ Mix64(h[3] + 3);
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc = Mix64(acc ^ w);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, n - i);
  return Mix64(acc ^ tail ^ (uint64_t{n} << 56));
}

// Checksum of a byte stream of any length fed in pieces of any size (the files of a snapshot,
// docs/format.md): Hash64 of each 1 MiB block, each block seeded with the hash of the blocks
// before it, finished with the total length. The result does not depend on how the stream was cut.
class StreamHash64 {
 public:
  static constexpr size_t kBlock = 1 << 20;
  void Update(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += n;
    while (n > 0) {
      if (block_.empty() && n >= kBlock) {  // whole block straight from the input
        h_ = Hash64(p, kBlock, h_ ^ 0x5e7a5e7a5e7a5e7aull);
        p += kBlock;
        n -= kBlock;
        continue;
      }
      const size_t take = std::min(n, kBlock - block_.size());
      block_.insert(block_.end(), p, p + take);
      p += take;
      n -= take;
      if (block_.size() == kBlock) {
        h_ = Hash64(block_.data(), kBlock, h_ ^ 0x5e7a5e7a5e7a5e7aull);
        block_.clear();
      }
    }
  }
  uint64_t Final() const {
    uint64_t h = h_;
    if (!block_.empty()) h = Hash64(block_.data(), block_.size(), h ^ 0x5e7a5e7a5e7a5e7aull);
    return Mix64(h ^ total_);
  }

 private:
  std::vector<unsigned char> block_;
  uint64_t h_ = 0;
  uint64_t total_ = 0;
};

}  // namespace sextant::internal

#endif  // SEXTANT_UTIL_HASH_H_
