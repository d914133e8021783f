// Helpers shared by the libFuzzer targets: a reader that takes typed values off the front of the
// input (so one input chooses options and carries the bytes under test), and a check that aborts
// with a message, which libFuzzer reports as a crash with the input that caused it.
#ifndef SEXTANT_TESTS_FUZZ_FUZZ_UTIL_H_
#define SEXTANT_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace sextant::fuzz {

// Consumes the input from the front. Past the end every read returns zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{Byte()} << (8 * i);
    return v;
  }
  // Up to `max` bytes, ended early by `delimiter` (which is consumed and not returned).
  std::string_view Until(char delimiter) {
    const char* begin = reinterpret_cast<const char*>(data_ + pos_);
    const void* found = std::memchr(begin, delimiter, size_ - pos_);
    size_t n = found ? static_cast<size_t>(static_cast<const char*>(found) - begin) : size_ - pos_;
    pos_ += n + (found ? 1 : 0);
    return {begin, n};
  }
  std::string_view Rest() {
    std::string_view rest(reinterpret_cast<const char*>(data_ + pos_), size_ - pos_);
    pos_ = size_;
    return rest;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Aborts with `what` when `ok` is false: an invariant of the code under test does not hold.
inline void Check(bool ok, const char* what, const std::string& detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant failed: %s %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace sextant::fuzz

#endif  // SEXTANT_TESTS_FUZZ_FUZZ_UTIL_H_
