// Helpers shared by the test suites: temporary directories, the real data sets in
// ../shared/data, .fvecs/.ivecs readers and seeded synthetic vectors.
#ifndef SEXTANT_TESTS_TEST_UTIL_H_
#define SEXTANT_TESTS_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sextant/status.h"
#include "tools/vector_file.h"

// SEXTANT_TSAN: 1 in a ThreadSanitizer build (clang or gcc), else 0.
#if defined(__SANITIZE_THREAD__)
#define SEXTANT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SEXTANT_TSAN 1
#endif
#endif
#ifndef SEXTANT_TSAN
#define SEXTANT_TSAN 0
#endif

// In a test that forks a child which goes on without exec: ThreadSanitizer does not support that
// in a process with threads (the child can deadlock in the runtime), so the test skips under it.
#define SEXTANT_SKIP_FORK_UNDER_TSAN()                                                           \
  do {                                                                                           \
    if (SEXTANT_TSAN) GTEST_SKIP() << "forks without exec, which ThreadSanitizer does not support"; \
  } while (0)

namespace sextant::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sextant-test-XXXXXX";
    char* made = mkdtemp(tmpl.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The shared data folder ($SEXTANT_DATA_DIR, else ../shared/data beside the project), or nullopt
// when it is absent, as on a user's fresh clone.
inline std::optional<std::string> DataDir() {
  const char* env = std::getenv("SEXTANT_DATA_DIR");
  std::string dir = env && *env ? env : SEXTANT_DEFAULT_DATA_DIR;
  if (std::filesystem::is_directory(dir)) return dir;
  return std::nullopt;
}

// Skips the current test with a message when the data folder or the file in it is missing.
#define SEXTANT_REQUIRE_DATA(var, relpath)                                                    \
  std::string var;                                                                            \
  do {                                                                                        \
    auto _dir = ::sextant::testing::DataDir();                                                \
    if (!_dir || !std::filesystem::exists(*_dir + "/" + (relpath))) {                         \
      GTEST_SKIP() << "shared data file " << (relpath)                                        \
                   << " not found (set SEXTANT_DATA_DIR or place ../shared/data beside the repo)"; \
    }                                                                                         \
    var = *_dir + "/" + (relpath);                                                            \
  } while (0)

// Reads a TEXMEX .fvecs (float) or .ivecs (int32) file through the one vector-file reader
// (tools/vector_file.h). Returns the values row-major and sets *dim; on error it records a test
// failure naming the problem and returns nothing.
template <typename T>
std::vector<T> ReadVecs(const std::string& path, size_t* dim) {
  StatusOr<vecfile::TexmexRows<T>> rows = vecfile::ReadTexmex<T>(path);
  if (!rows.ok()) {
    ADD_FAILURE() << rows.status().ToString();
    *dim = 0;
    return {};
  }
  *dim = rows->dim;
  return std::move(rows->values);
}

// n * dim floats, uniform in [-1, 1), from a fixed seed.
inline std::vector<float> RandomVectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n * dim);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_TEST_UTIL_H_
