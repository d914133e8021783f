// SegmentedRows<T>: a growable table of fixed-width rows whose rows never move.
//
// Rows live in at most kMaxSegments segments of doubling size (segment 0 holds first_rows() rows,
// segment s >= 1 holds first_rows() << (s - 1)), the layout of TBB's concurrent_vector. Growing
// allocates a new segment and never copies, so a pointer to a row stays valid for the table's
// lifetime, and readers may read rows (and call Row()) while one writer grows the table.
//
// Threading: Reserve() must not run concurrently with another Reserve(); Row() and segment
// reads may run concurrently with Reserve() for rows below the capacity the reader observed.
// Writing a row's contents is the caller's business (the owner of a row writes it before
// publishing the row to readers).
//
// first_rows() is kFirstRows (1024) for narrow rows and smaller for wide ones, so the first
// segment stays near kFirstSegmentBytes (256 KiB) or one row: a table of 65,536-float rows
// starts with one row (256 KiB), not 1,024 (256 MiB), and memory follows the rows in use.
//
// Segments of 2 MiB and more are 2 MiB-aligned and advised for transparent huge pages
// (madvise(MADV_HUGEPAGE); Debian's default THP mode only gives huge pages to memory that asks).
// Searches read rows at random, and with 4 KiB pages nearly every row of a large table costs a
// TLB miss as well as a cache miss.
#ifndef SEXTANT_INDEX_SEGMENTED_H_
#define SEXTANT_INDEX_SEGMENTED_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sextant::index {

template <typename T>
class SegmentedRows {
 public:
  static constexpr uint32_t kFirstRows = 1024;
  static constexpr size_t kFirstSegmentBytes = size_t{256} << 10;
  static constexpr int kMaxSegments = 34;  // capacity >= first_rows() << 33 > 2^32 rows

  explicit SegmentedRows(size_t width) : width_(width), first_shift_(FirstShift(width)) {}
  SegmentedRows(const SegmentedRows&) = delete;
  SegmentedRows& operator=(const SegmentedRows&) = delete;
  ~SegmentedRows() {
    for (int s = 0; s < kMaxSegments; ++s) {
      Free(segments_[s].load(std::memory_order_relaxed), SegmentRows(s) * width_);
    }
  }

  size_t width() const { return width_; }
  // Rows of segment 0 (a power of two, 1..kFirstRows).
  uint32_t first_rows() const { return uint32_t{1} << first_shift_; }
  // Rows that can be addressed without another Reserve().
  uint64_t capacity() const { return capacity_.load(std::memory_order_acquire); }

  // Makes rows [0, rows) addressable; new rows are zero-filled. Never moves existing rows.
  void Reserve(uint64_t rows) {
    while (capacity_.load(std::memory_order_relaxed) < rows) {
      const int s = SegmentsInUse();
      const uint64_t n = SegmentRows(s);
      T* seg = Allocate(n * width_);
      segments_[s].store(seg, std::memory_order_release);
      capacity_.store(SegmentStart(s) + n, std::memory_order_release);
    }
  }

  // Row `row` (width() values). Precondition: row < capacity().
  T* Row(uint32_t row) {
    const int s = SegmentOf(row);
    return segments_[s].load(std::memory_order_acquire) + (row - SegmentStart(s)) * width_;
  }
  const T* Row(uint32_t row) const { return const_cast<SegmentedRows*>(this)->Row(row); }

  // Contiguous runs: calls fn(first_row, rows, data) for the segments covering [0, limit).
  template <typename F>
  void ForEachRun(uint64_t limit, F&& fn) const {
    for (int s = 0; s < kMaxSegments && SegmentStart(s) < limit; ++s) {
      const T* seg = segments_[s].load(std::memory_order_acquire);
      if (seg == nullptr) return;
      const uint64_t first = SegmentStart(s);
      const uint64_t rows = std::min<uint64_t>(SegmentRows(s), limit - first);
      fn(static_cast<uint32_t>(first), static_cast<size_t>(rows), seg);
    }
  }

  // The capacity Reserve(rows) would leave (rows it makes addressable, counting whole segments).
  uint64_t CapacityFor(uint64_t rows) const {
    const uint64_t cap = capacity();
    if (rows <= cap) return cap;
    const int s = SegmentOf(static_cast<uint32_t>(std::min<uint64_t>(rows - 1, UINT32_MAX)));
    return SegmentStart(s) + SegmentRows(s);
  }

  // The capacity a table of `width`-value rows has once `rows` rows are addressable.
  static uint64_t CapacityForRows(size_t width, uint64_t rows) {
    if (rows == 0) return 0;
    const uint64_t first = uint64_t{1} << FirstShift(width);
    return rows <= first ? first : std::bit_ceil(rows);
  }

  // Bytes allocated.
  size_t MemoryBytes() const { return static_cast<size_t>(capacity()) * width_ * sizeof(T); }

  int SegmentOf(uint32_t row) const { return std::bit_width(row >> first_shift_); }
  uint64_t SegmentStart(int s) const { return s == 0 ? 0 : uint64_t{1} << (first_shift_ + s - 1); }
  uint64_t SegmentRows(int s) const { return uint64_t{1} << (first_shift_ + (s == 0 ? 0 : s - 1)); }

 private:
  // log2 of the first segment's rows: the largest power of two of rows fitting in
  // kFirstSegmentBytes, at least 1 row, at most kFirstRows.
  static int FirstShift(size_t width) {
    const size_t row_bytes = std::max<size_t>(width, 1) * sizeof(T);
    int shift = std::countr_zero(kFirstRows);
    while (shift > 0 && (size_t{1} << shift) * row_bytes > kFirstSegmentBytes) --shift;
    return shift;
  }

  static_assert(std::is_trivial_v<T>, "rows are zero-filled memory");
  static constexpr size_t kHugePage = size_t{2} << 20;

  // `count` zeroed values (throws std::bad_alloc).
  static T* Allocate(size_t count) {
    const size_t bytes = count * sizeof(T);
    if (bytes < kHugePage) return new T[count]();
    void* p = ::operator new(bytes, std::align_val_t(kHugePage));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(p, bytes, MADV_HUGEPAGE);  // a hint; without THP it changes nothing
#endif
    std::memset(p, 0, bytes);
    return static_cast<T*>(p);
  }
  static void Free(T* p, size_t count) {
    if (p == nullptr) return;
    if (count * sizeof(T) < kHugePage) {
      delete[] p;
    } else {
      ::operator delete(static_cast<void*>(p), std::align_val_t(kHugePage));
    }
  }

  int SegmentsInUse() const {
    int s = 0;
    while (s < kMaxSegments && segments_[s].load(std::memory_order_relaxed) != nullptr) ++s;
    return s;
  }

  const size_t width_;
  const int first_shift_;
  std::array<std::atomic<T*>, kMaxSegments> segments_{};
  std::atomic<uint64_t> capacity_{0};
};

// The collection's full-precision vectors, one row of `dimension` floats per slot. Indexes read
// vectors through it; the collection writes a slot's row before any index is given the slot and
// never rewrites a row while an index holds that slot.
using VectorStore = SegmentedRows<float>;

}  // namespace sextant::index

#endif  // SEXTANT_INDEX_SEGMENTED_H_
