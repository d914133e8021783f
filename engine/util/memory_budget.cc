#include "util/memory_budget.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace sextant::internal {
namespace {

// The first whole number in `path`, or 0 when the file is absent or says "max".
uint64_t ReadLimitFile(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !(in >> text) || text.empty() || text == "max") return 0;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    if (value > (UINT64_MAX - 9) / 10) return 0;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

}  // namespace

Status MemoryBudget::Reserve(uint64_t bytes, std::string_view what) {
  const int64_t want = static_cast<int64_t>(std::min<uint64_t>(bytes, uint64_t{INT64_MAX} / 2));
  int64_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    const uint64_t held = used < 0 ? 0 : static_cast<uint64_t>(used);
    if (held + static_cast<uint64_t>(want) > limit_) {
      return Status::ResourceExhausted(
          std::string(what) + ": the database's memory budget is exhausted: it holds " + FormatBytes(held) +
          " of its " + FormatBytes(limit_) + " limit and this needs about " + FormatBytes(static_cast<uint64_t>(want)) +
          " more (DatabaseOptions::memory_limit_bytes, sextantd --memory-limit); delete points or drop "
          "collections to free memory, or raise the limit");
    }
    if (used_.compare_exchange_weak(used, used + want, std::memory_order_relaxed)) return Status::OK();
  }
}

uint64_t MemoryBudget::AvailableMemory() {
  uint64_t physical = 0;
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) physical = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
  uint64_t cgroup = ReadLimitFile("/sys/fs/cgroup/memory.max");
  if (cgroup == 0) cgroup = ReadLimitFile("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  // cgroup v1 reports "no limit" as a huge number (about 2^63).
  if (cgroup != 0 && (physical == 0 || cgroup < physical)) return cgroup;
  return physical;
}

uint64_t MemoryBudget::DefaultLimit() {
  const uint64_t available = AvailableMemory();
  if (available == 0) return uint64_t{4} << 30;  // unknown: 4 GiB
  return available / 4 * 3;
}

std::string FormatBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  double v = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), v < 10 ? "%.2f %s" : (v < 100 ? "%.1f %s" : "%.0f %s"), v, kUnits[unit]);
  return buf;
}

}  // namespace sextant::internal
