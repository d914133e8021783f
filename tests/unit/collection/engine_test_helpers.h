// Helpers for the engine's contract tests (collection_test and db_test): status assertions,
// opening databases, a naive exact-search oracle in double precision, and running a helper in a
// fresh child process (fork + exec of the test binary itself).
#ifndef SEXTANT_TESTS_UNIT_COLLECTION_ENGINE_TEST_HELPERS_H_
#define SEXTANT_TESTS_UNIT_COLLECTION_ENGINE_TEST_HELPERS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "sextant/sextant.h"
#include "test_util.h"

extern char** environ;

namespace sextant {

// Readable gtest output for the public value types.
inline void PrintTo(const PointId& id, std::ostream* os) {
  if (id.is_number()) {
    *os << id.number();
  } else {
    *os << '"' << id.str() << '"';
  }
}
inline void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }
inline void PrintTo(const Hit& h, std::ostream* os) {
  *os << "{";
  PrintTo(h.id, os);
  *os << ", " << h.score << "}";
}

}  // namespace sextant

namespace sextant::testing {

inline const Status& ToStatus(const Status& s) { return s; }
template <typename T>
const Status& ToStatus(const StatusOr<T>& s) {
  return s.status();
}

#define SX_CONCAT_INNER_(a, b) a##b
#define SX_CONCAT_(a, b) SX_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr)                                                   \
  do {                                                                    \
    const auto& _sx_r = (expr);                                           \
    ASSERT_TRUE(::sextant::testing::ToStatus(_sx_r).ok())                 \
        << #expr << " -> " << ::sextant::testing::ToStatus(_sx_r).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                   \
  do {                                                                    \
    const auto& _sx_r = (expr);                                           \
    EXPECT_TRUE(::sextant::testing::ToStatus(_sx_r).ok())                 \
        << #expr << " -> " << ::sextant::testing::ToStatus(_sx_r).ToString(); \
  } while (0)

#define SX_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                              \
  auto tmp = (expr);                                                               \
  ASSERT_TRUE(tmp.ok()) << #expr << " -> " << tmp.status().ToString();             \
  lhs = std::move(tmp).value()
// `ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr);` (only in functions returning void).
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  SX_ASSERT_OK_AND_ASSIGN_IMPL_(SX_CONCAT_(_sx_or_, __LINE__), lhs, expr)

// Whether `text` holds `n` as a whole number (a run of digits not part of a longer one).
inline bool MentionsNumber(std::string_view text, uint64_t n) {
  const std::string want = std::to_string(n);
  for (size_t i = 0; i < text.size();) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
    if (text.substr(i, j - i) == want) return true;
    i = j;
  }
  return false;
}

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Asserts that `s` failed with `code` and that its message (case-insensitively) contains every
// string in `words`.
#define EXPECT_STATUS(expr, code_, ...)                                                      \
  do {                                                                                       \
    const ::sextant::Status _sx_s = ::sextant::testing::ToStatus(expr);                      \
    EXPECT_EQ(_sx_s.code(), (code_)) << #expr << " -> " << _sx_s.ToString();                 \
    for (const std::string& _sx_w : std::vector<std::string>{__VA_ARGS__}) {                 \
      EXPECT_NE(::sextant::testing::Lower(_sx_s.message()).find(::sextant::testing::Lower(_sx_w)), \
                std::string::npos)                                                           \
          << #expr << ": message \"" << _sx_s.message() << "\" does not mention \"" << _sx_w << "\""; \
    }                                                                                        \
  } while (0)

// Opens (creating) a database, failing the test on error.
inline std::unique_ptr<Database> MustOpen(const std::string& path, DatabaseOptions options = {}) {
  auto db = Database::Open(options, path);
  EXPECT_TRUE(db.ok()) << "Open(" << path << ") -> " << db.status().ToString();
  if (!db.ok()) return nullptr;
  return std::move(db).value();
}

inline std::shared_ptr<Collection> MustCreate(Database* db, const std::string& name, uint32_t dim,
                                              Metric metric) {
  CollectionOptions o;
  o.dimension = dim;
  o.metric = metric;
  auto c = db->CreateCollection(name, o);
  EXPECT_TRUE(c.ok()) << "CreateCollection(" << name << ") -> " << c.status().ToString();
  if (!c.ok()) return nullptr;
  return std::move(c).value();
}

inline std::vector<PointId> NumericIds(uint64_t first, size_t n) {
  std::vector<PointId> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i) ids.emplace_back(first + i);
  return ids;
}

// All points of a collection, via Scan with the given page size and filter.
inline std::vector<Point> ScanAll(const Collection& c, uint32_t limit = 1000,
                                  const std::string& filter = "") {
  std::vector<Point> out;
  ScanOptions o;
  o.limit = limit;
  o.filter = filter;
  for (int guard = 0; guard < 1000000; ++guard) {
    auto page = c.Scan(o);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) break;
    for (Point& p : page->points) out.push_back(std::move(p));
    if (page->next_cursor.empty()) break;
    o.cursor = page->next_cursor;
  }
  return out;
}

// One database shared by the tests of a suite (opening one costs far more than creating a
// collection); each test works in collections of its own, named after it.
class SharedDatabase {
 public:
  static void Open(const DatabaseOptions& options = {}) {
    options_ = options;
    dir_ = new TempDir();
    db_ = MustOpen(dir_->path(), options_).release();
  }
  // Closes and opens the database again (handles taken before are dead afterwards).
  static void Reopen() {
    delete db_;
    db_ = MustOpen(dir_->path(), options_).release();
  }
  static void Close() {
    delete db_;
    db_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  static Database* db() { return db_; }

 private:
  static inline TempDir* dir_ = nullptr;
  static inline Database* db_ = nullptr;
  static inline DatabaseOptions options_;
};

// A valid collection name unique to the running test, plus `suffix`.
inline std::string TestCollectionName(const std::string& suffix = "") {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("t.") + info->test_suite_name() + "." + info->name() + suffix;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-' && ch != '.') ch = '_';
  }
  return name.size() > 128 ? name.substr(name.size() - 128) : name;
}

// ---- The oracle: scores in double precision, straight from the definitions in types.h. ----

inline double Dot(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// The score types.h defines for `metric` between query q and stored (original) vector x.
inline double TrueScore(Metric metric, const float* q, const float* x, size_t dim) {
  switch (metric) {
    case Metric::kL2: {
      double s = 0;
      for (size_t i = 0; i < dim; ++i) {
        double d = static_cast<double>(q[i]) - x[i];
        s += d * d;
      }
      return s;
    }
    case Metric::kInnerProduct:
      return Dot(q, x, dim);
    case Metric::kCosine:
      return Dot(q, x, dim) / std::sqrt(Dot(q, q, dim) * Dot(x, x, dim));
  }
  return 0;
}

inline bool LowerIsNearer(Metric metric) { return metric == Metric::kL2; }

struct Scored {
  size_t row;  // index into the oracle's rows
  double score;
};

// Rows the naive search looks at: their ids and original vectors.
struct Oracle {
  Metric metric = Metric::kL2;
  size_t dim = 0;
  std::vector<PointId> ids;
  std::vector<float> vectors;  // ids.size() * dim, the vectors as upserted (not normalised)
  std::vector<std::string> payloads;  // may be empty

  size_t size() const { return ids.size(); }
  const float* row(size_t i) const { return vectors.data() + i * dim; }

  void Add(const PointId& id, const float* v, std::string payload = "") {
    ids.push_back(id);
    vectors.insert(vectors.end(), v, v + dim);
    payloads.push_back(std::move(payload));
  }
  // Removes the row of `id` (if any).
  void Remove(const PointId& id) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) {
        ids.erase(ids.begin() + static_cast<long>(i));
        vectors.erase(vectors.begin() + static_cast<long>(i * dim),
                      vectors.begin() + static_cast<long>((i + 1) * dim));
        payloads.erase(payloads.begin() + static_cast<long>(i));
        return;
      }
    }
  }
  // Index of `id`'s row, or -1.
  long Find(const PointId& id) const {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] == id) return static_cast<long>(i);
    }
    return -1;
  }

  // The k best rows for `query` among those `keep` accepts, best first.
  std::vector<Scored> TopK(const float* query, size_t k,
                           const std::function<bool(size_t)>& keep = nullptr) const {
    std::vector<Scored> all;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (keep && !keep(i)) continue;
      all.push_back({i, TrueScore(metric, query, row(i), dim)});
    }
    const bool lower = LowerIsNearer(metric);
    auto nearer = [lower](const Scored& a, const Scored& b) {
      return lower ? a.score < b.score : a.score > b.score;
    };
    if (all.size() > k) {
      std::partial_sort(all.begin(), all.begin() + static_cast<long>(k), all.end(), nearer);
      all.resize(k);
    } else {
      std::sort(all.begin(), all.end(), nearer);
    }
    return all;
  }
};

// Tolerance for comparing a float score with its double definition.
inline double ScoreTolerance(double score) { return 2e-4 * std::max(1.0, std::fabs(score)); }

// Checks that `hits` is the exact top-k the oracle gives for `query` (ids may differ only where
// two points score the same within the tolerance), nearest first, with scores per the metric.
inline void ExpectExactTopK(const Oracle& oracle, const float* query,
                            const std::vector<Hit>& hits, size_t k,
                            const std::function<bool(size_t)>& keep = nullptr,
                            const std::string& context = "") {
  SCOPED_TRACE(context);
  const std::vector<Scored> want = oracle.TopK(query, k, keep);
  ASSERT_EQ(hits.size(), want.size());
  std::set<std::string> seen;
  const bool lower = LowerIsNearer(oracle.metric);
  for (size_t r = 0; r < hits.size(); ++r) {
    const Hit& h = hits[r];
    const long row = oracle.Find(h.id);
    ASSERT_GE(row, 0) << "rank " << r << ": id " << h.id.ToString() << " is not a live point";
    if (keep) {
      EXPECT_TRUE(keep(static_cast<size_t>(row)))
          << "rank " << r << ": id " << h.id.ToString() << " does not match the filter";
    }
    EXPECT_TRUE(seen.insert((h.id.is_number() ? "n" : "s") + h.id.ToString()).second)
        << "id " << h.id.ToString() << " returned twice";
    const double truth = TrueScore(oracle.metric, query, oracle.row(static_cast<size_t>(row)), oracle.dim);
    EXPECT_NEAR(h.score, truth, ScoreTolerance(truth))
        << "rank " << r << ": the score of id " << h.id.ToString() << " is not its "
        << MetricName(oracle.metric) << " score";
    EXPECT_NEAR(truth, want[r].score, ScoreTolerance(want[r].score))
        << "rank " << r << ": got id " << h.id.ToString() << ", the naive loop has id "
        << oracle.ids[want[r].row].ToString();
    if (r > 0) {
      if (lower) {
        EXPECT_LE(hits[r - 1].score, h.score) << "not nearest first at rank " << r;
      } else {
        EXPECT_GE(hits[r - 1].score, h.score) << "not nearest first at rank " << r;
      }
    }
  }
}

// Checks two result lists are the same (ids equal, scores within tolerance).
inline void ExpectSameHits(const std::vector<Hit>& a, const std::vector<Hit>& b,
                           const std::string& context = "") {
  SCOPED_TRACE(context);
  ASSERT_EQ(a.size(), b.size());
  for (size_t r = 0; r < a.size(); ++r) {
    EXPECT_EQ(a[r].id, b[r].id) << "rank " << r;
    EXPECT_NEAR(a[r].score, b[r].score, ScoreTolerance(a[r].score)) << "rank " << r;
  }
}

// ---- Child processes: fork + exec of this test binary running one helper test. ----

// The environment variable that tells a helper test it runs as a child, and its arguments.
inline constexpr const char* kChildModeEnv = "SEXTANT_TEST_CHILD_MODE";
inline constexpr const char* kChildDirEnv = "SEXTANT_TEST_CHILD_DIR";
inline constexpr const char* kChildFdEnv = "SEXTANT_TEST_CHILD_FD";

struct Child {
  pid_t pid = -1;
};

// Starts this binary again running only `helper_test` (a gtest filter) with the child
// environment set. Everything is prepared before fork, so the child only calls execve.
inline Child SpawnHelper(const std::string& helper_test, const std::string& mode,
                         const std::string& dir, int fd = -1) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("SEXTANT_TEST_CHILD_")) continue;
    env_store.emplace_back(kv);
  }
  env_store.push_back(std::string(kChildModeEnv) + "=" + mode);
  env_store.push_back(std::string(kChildDirEnv) + "=" + dir);
  env_store.push_back(std::string(kChildFdEnv) + "=" + std::to_string(fd));
  std::vector<char*> envp;
  for (std::string& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=" + helper_test;
  std::string quiet = "--gtest_brief=1";
  std::vector<char*> argv = {exe.data(), filter.data(), quiet.data(), nullptr};

  Child child;
  child.pid = fork();
  if (child.pid == 0) {
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  return child;
}

// Waits for the child to exit, at most `timeout`; kills it and returns -1 if it does not.
// Otherwise returns its wait status.
inline int WaitChild(const Child& child, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(child.pid, &status, WNOHANG);
    if (r == child.pid) return status;
    if (r < 0) return -2;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(child.pid, SIGKILL);
      waitpid(child.pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// In a helper test: the child mode, or empty when this process is not a child.
inline std::string ChildMode() {
  const char* m = std::getenv(kChildModeEnv);
  return m ? m : "";
}
inline std::string ChildDir() {
  const char* d = std::getenv(kChildDirEnv);
  return d ? d : "";
}
inline int ChildFd() {
  const char* f = std::getenv(kChildFdEnv);
  return f ? std::atoi(f) : -1;
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_UNIT_COLLECTION_ENGINE_TEST_HELPERS_H_
