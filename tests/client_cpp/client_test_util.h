// Helpers of the C++ client tests: a real sextantd in a temporary directory, a client connected
// to it, seeded points, and assertions on Status kinds.
#ifndef SEXTANT_TESTS_CLIENT_CPP_CLIENT_TEST_UTIL_H_
#define SEXTANT_TESTS_CLIENT_CPP_CLIENT_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/sextantd_process.h"
#include "sextant/client.h"
#include "test_util.h"

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const ::sextant::Status _s = (expr);                  \
    ASSERT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                   \
  do {                                                    \
    const ::sextant::Status _s = (expr);                  \
    EXPECT_TRUE(_s.ok()) << #expr << ": " << _s.ToString(); \
  } while (0)
// `expr` (a Status) failed with `code`.
#define EXPECT_CODE(expr, want)                                             \
  do {                                                                      \
    const ::sextant::Status _s = (expr);                                    \
    EXPECT_EQ(_s.code(), (want)) << #expr << " returned " << _s.ToString(); \
  } while (0)

namespace sextant::testing {

// A server in its own temporary directory (data in <tmp>/data).
struct TestServer {
  TempDir dir;
  SextantdProcess process;

  std::string data_dir() const { return dir.Sub("data"); }

  // Starts (or restarts) sextantd on the same data directory.
  ::testing::AssertionResult Start(const std::vector<std::string>& extra = {}) {
    if (process.Start(data_dir(), extra)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "sextantd did not start (" << SextantdPath()
                                         << "); its log:\n"
                                         << process.log();
  }
};

inline std::unique_ptr<Client> MustConnect(const std::string& address, const std::string& key = "") {
  ClientOptions options;
  options.address = address;
  options.api_key = key;
  options.timeout_ms = 60000;
  auto client = Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

inline CollectionOptions Options(uint32_t dimension, Metric metric, const std::string& index = "Flat") {
  CollectionOptions options;
  options.dimension = dimension;
  options.metric = metric;
  options.index = IndexOptions::Parse(index).value();
  return options;
}

// Ids 0..n-1 as numbers.
inline std::vector<PointId> NumericIds(size_t n, uint64_t first = 0) {
  std::vector<PointId> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i) ids.emplace_back(static_cast<uint64_t>(first + i));
  return ids;
}

inline std::vector<uint64_t> HitIds(const std::vector<Hit>& hits) {
  std::vector<uint64_t> out;
  for (const Hit& h : hits) out.push_back(h.id.is_number() ? h.id.number() : ~uint64_t{0});
  return out;
}

// Share of `truth`'s first k ids found in `got`.
inline double Recall(const std::vector<uint64_t>& got, const std::vector<uint64_t>& truth, size_t k) {
  std::set<uint64_t> want(truth.begin(), truth.begin() + std::min(k, truth.size()));
  size_t found = 0;
  for (size_t i = 0; i < std::min(k, got.size()); ++i) found += want.count(got[i]);
  return want.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(want.size());
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_CLIENT_CPP_CLIENT_TEST_UTIL_H_
