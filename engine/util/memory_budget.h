// MemoryBudget: how much memory a database may hold, and how much it holds (an estimate).
//
// The engine keeps every vector, its vector indexes, its payload and text indexes in memory.
// Each collection charges the budget what it holds, estimated from the sizes of its structures
// (capacities and counts, not malloc hooks), and asks it before a write or an index build would
// allocate more: Reserve fails with ResourceExhausted naming the limit, the use and the need,
// and the write allocates and writes nothing. Memory already held (loading a database, a write
// that was allowed) is charged with Charge without a check, so opening never fails and nothing
// acknowledged is lost; deletes and searches never ask.
//
// Thread-safe (atomics); used by every collection of one database.
#ifndef SEXTANT_UTIL_MEMORY_BUDGET_H_
#define SEXTANT_UTIL_MEMORY_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant::internal {

class MemoryBudget {
 public:
  // `limit`: bytes; 0 = DefaultLimit().
  explicit MemoryBudget(uint64_t limit) : limit_(limit == 0 ? DefaultLimit() : limit) {}
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  uint64_t limit() const { return limit_; }
  // Bytes charged plus bytes reserved.
  uint64_t used() const {
    const int64_t u = used_.load(std::memory_order_relaxed);
    return u < 0 ? 0 : static_cast<uint64_t>(u);
  }

  // Reserves `bytes` for an allocation about to happen, or ResourceExhausted (nothing reserved)
  // when used() + bytes would pass the limit; the message starts with `what`.
  Status Reserve(uint64_t bytes, std::string_view what);
  void Release(uint64_t bytes) { used_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed); }
  // Memory already held (delta > 0) or freed (delta < 0); never refused.
  void Charge(int64_t delta) { used_.fetch_add(delta, std::memory_order_relaxed); }

  // The default limit: three quarters of the memory this process may use, the smaller of the
  // physical memory and the cgroup's limit (cgroup v2 memory.max, or v1 memory.limit_in_bytes).
  static uint64_t DefaultLimit();
  // The smaller of the physical memory and the cgroup limit, in bytes (0 when unknown).
  static uint64_t AvailableMemory();

 private:
  const uint64_t limit_;
  std::atomic<int64_t> used_{0};
};

// A reservation released when it goes out of scope (once the memory it stood for is charged).
class MemoryReservation {
 public:
  MemoryReservation() = default;
  MemoryReservation(MemoryBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
  MemoryReservation(MemoryReservation&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
  MemoryReservation& operator=(MemoryReservation&& o) noexcept {
    if (this != &o) {
      Reset();
      budget_ = o.budget_;
      bytes_ = o.bytes_;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~MemoryReservation() { Reset(); }
  void Reset() {
    if (budget_ != nullptr && bytes_ != 0) budget_->Release(bytes_);
    bytes_ = 0;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  MemoryBudget* budget_ = nullptr;
  uint64_t bytes_ = 0;
};

// "1.5 GiB", "640 KiB", "17 bytes": a size for messages.
std::string FormatBytes(uint64_t bytes);

}  // namespace sextant::internal

#endif  // SEXTANT_UTIL_MEMORY_BUDGET_H_
