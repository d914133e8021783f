// Power-loss tests: random workloads against a database on the fault-injecting file system
// (fault_fs.h), a simulated power loss at a random file-system operation (dropping, or tearing,
// everything not yet synced), a reopen, and a check of what survived:
//
//   - sync=true writes: every acknowledged write is there;
//   - sync=false writes: what is there is the state after some prefix of the acknowledged writes
//     (no holes, no torn batch), and at least everything up to the last synced write (catalogue
//     changes and SetIndex always sync);
//   - the write in flight when the power went is there entirely or not at all;
//   - indexes agree with the points (an index search finds what an exact search finds), payload
//     indexes agree with the payloads, and the database takes writes again.
//
// Seeded and reproducible in its workload: the seed is printed; SEXTANT_POWER_LOSS_SEED and
// SEXTANT_POWER_LOSS_ITERATIONS change them (docs/reliability.md). Background threads (RocksDB,
// index builds) make the exact file operation the power goes at vary a little between runs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "../unit/collection/engine_test_helpers.h"
#include "fault_fs.h"

namespace sextant {
namespace {

using ::sextant::testing::FaultFs;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 4;
constexpr int kMaxCollections = 3;
constexpr int kIdSpace = 60;

struct PointVal {
  std::vector<float> vector;
  std::string payload;
  bool operator==(const PointVal&) const = default;
};
using CollState = std::map<uint64_t, PointVal>;
using DbState = std::map<std::string, CollState>;

enum class SyncMode { kAlways, kNever, kMixed };
const char* SyncModeName(SyncMode m) {
  return m == SyncMode::kAlways ? "sync=true" : m == SyncMode::kNever ? "sync=false" : "mixed";
}
const char* TearName(FaultFs::Tear t) {
  return t == FaultFs::Tear::kNone ? "drop" : t == FaultFs::Tear::kPrefix ? "tear" : "tear+garbage";
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

std::string Payload(int g, int v) { return "{\"g\":" + std::to_string(g) + ",\"v\":" + std::to_string(v) + "}"; }
int PayloadGroup(const std::string& payload) { return payload[5] - '0'; }  // {"g":N,...

std::string Describe(const DbState& s) {
  std::ostringstream out;
  for (const auto& [name, c] : s) {
    out << name << "[" << c.size() << ":";
    int shown = 0;
    for (const auto& [id, p] : c) {
      if (shown++ == 12) {
        out << " ...";
        break;
      }
      out << " " << id << "=" << p.payload;
    }
    out << "] ";
  }
  return out.str();
}

// One crash point: a workload, a power loss, a reopen, the checks.
class PowerLossRun {
 public:
  PowerLossRun(uint64_t seed, SyncMode mode, FaultFs::Tear tear) : seed_(seed), mode_(mode), tear_(tear), rng_(seed) {}

  // Empty when everything held; otherwise what went wrong and how to reproduce it.
  std::string Run() {
    fs_ = std::make_shared<FaultFs>(/*real_sync=*/false);
    options_.file_system = fs_;
    path_ = tmp_.Sub("db");
    auto opened = Database::Open(options_, path_);
    if (!opened.ok()) return Fail("open: " + opened.status().ToString());
    db_ = std::move(opened).value();
    states_.push_back({});
    const int steps = std::uniform_int_distribution<int>(10, 40)(rng_);
    // The power goes at a random file-system operation; calibrated so that most runs end inside
    // the workload (a run whose workload finishes first loses power right after it).
    fs_->PowerOffAfter(std::uniform_int_distribution<int64_t>(1, 12 * steps)(rng_));
    for (int step = 0; step < steps && fs_->powered_on(); ++step) {
      std::string error = Step(step);
      if (!error.empty()) return Fail(error);
    }
    crashed_in_workload_ = !fs_->powered_on();
    fs_->PowerOff();
    db_.reset();  // its closing checkpoints and flushes fail: the power is off
    crash_report_ = fs_->SimulateCrash(seed_ * 7919 + 1, tear_);
    return Fail(Verify());
  }

 private:
  // Runs one random operation; an error is a failure of the database (not of the power).
  std::string Step(int step) {
    const int r = std::uniform_int_distribution<int>(0, 99)(rng_);
    std::vector<std::string> names;
    for (const auto& [name, c] : states_.back()) names.push_back(name);
    if (names.empty() || (r >= 90 && names.size() < kMaxCollections)) return CreateCollection(step);
    const std::string name = names[std::uniform_int_distribution<size_t>(0, names.size() - 1)(rng_)];
    auto got = db_->GetCollection(name);
    if (!got.ok()) return "GetCollection " + name + ": " + got.status().ToString();
    std::shared_ptr<Collection> c = std::move(got).value();
    WriteOptions wo;
    wo.sync = mode_ == SyncMode::kAlways || (mode_ == SyncMode::kMixed && rng_() % 4 == 0);
    DbState next = states_.back();
    CollState& cs = next[name];
    const std::string tag = "#" + std::to_string(step) + " " + name + (wo.sync ? " sync " : " ");
    if (r < 40 || r >= 90) {
      std::vector<PointId> ids;
      std::vector<float> vectors;
      std::vector<std::string> payloads;
      const int n = std::uniform_int_distribution<int>(1, 8)(rng_);
      std::map<uint64_t, PointVal> batch;
      for (int i = 0; i < n; ++i) batch[rng_() % kIdSpace] = RandomPoint(step);
      for (auto& [id, p] : batch) {
        ids.emplace_back(id);
        vectors.insert(vectors.end(), p.vector.begin(), p.vector.end());
        payloads.push_back(p.payload);
        cs[id] = p;
      }
      return Write(tag + "upsert " + std::to_string(batch.size()), wo.sync, std::move(next),
                   c->Upsert(wo, ids, vectors, payloads));
    }
    if (r < 52) {
      std::vector<PointId> ids;
      const int n = std::uniform_int_distribution<int>(1, 4)(rng_);
      for (int i = 0; i < n; ++i) {
        const uint64_t id = rng_() % kIdSpace;
        ids.emplace_back(id);
        cs.erase(id);
      }
      return Write(tag + "delete " + std::to_string(n), wo.sync, std::move(next), c->Delete(wo, ids).status());
    }
    if (r < 68) {
      const int g = static_cast<int>(rng_() % 3);
      const std::string filter = "{\"g\":" + std::to_string(g) + "}";
      std::erase_if(cs, [&](const auto& kv) { return PayloadGroup(kv.second.payload) == g; });
      if (r < 60) {
        return Write(tag + "delete-where " + filter, wo.sync, std::move(next), c->DeleteWhere(wo, filter).status());
      }
      std::vector<PointId> ids;
      std::vector<float> vectors;
      std::vector<std::string> payloads;
      const int n = std::uniform_int_distribution<int>(1, 4)(rng_);
      std::map<uint64_t, PointVal> batch;
      for (int i = 0; i < n; ++i) batch[rng_() % kIdSpace] = RandomPoint(step);
      for (auto& [id, p] : batch) {
        ids.emplace_back(id);
        vectors.insert(vectors.end(), p.vector.begin(), p.vector.end());
        payloads.push_back(p.payload);
        cs[id] = p;
      }
      return Write(tag + "replace " + filter, wo.sync, std::move(next),
                   c->Replace(wo, filter, ids, vectors, payloads).status());
    }
    if (r < 74) return Maintenance(tag + "checkpoint", c->Checkpoint(), false);
    if (r < 80) return Maintenance(tag + "set-index", c->SetIndex(RandomIndex()), true);
    if (r < 84) {
      Status s = c->WaitForIndex(2000);  // a timeout is fine; an I/O error only with the power off
      if (!s.ok() && s.code() != StatusCode::kDeadlineExceeded && fs_->powered_on()) {
        return tag + "wait-for-index: " + s.ToString();
      }
      log_.push_back(tag + "wait-for-index");
      return "";
    }
    if (r < 87) {
      c.reset();
      next.erase(name);
      return Write(tag + "drop", true, std::move(next), db_->DropCollection(name));
    }
    // A clean close and reopen (RocksDB flushes the recovered log at open).
    c.reset();
    log_.push_back(tag + "reopen");
    db_.reset();
    if (!fs_->powered_on()) return "";
    auto opened = Database::Open(options_, path_);
    if (!opened.ok()) {
      if (!fs_->powered_on()) return "";
      return "reopen: " + opened.status().ToString();
    }
    db_ = std::move(opened).value();
    lower_ = states_.size() - 1;  // a clean close keeps everything acknowledged before it
    return "";
  }

  std::string CreateCollection(int step) {
    const std::string name = "c" + std::to_string(rng_() % kMaxCollections);
    DbState next = states_.back();
    if (next.count(name) != 0) return "";
    next[name] = {};
    CollectionOptions co;
    co.dimension = kDim;
    co.metric = Metric::kL2;
    co.index = RandomIndex();
    if (rng_() % 2 == 0) co.payload_indexes.push_back({"g", PayloadFieldType::kInteger});
    return Write("#" + std::to_string(step) + " create " + name + " " + co.index.ToString(), true, std::move(next),
                 db_->CreateCollection(name, co).status());
  }

  IndexOptions RandomIndex() {
    IndexOptions o;
    switch (rng_() % 3) {
      case 0: break;
      case 1:
        o.type = IndexType::kHnsw;
        o.m = 8;
        o.ef_construction = 32;
        break;
      default:
        o.type = IndexType::kIvf;
        o.nlist = 4;
        o.nprobe = 2;
    }
    return o;
  }

  PointVal RandomPoint(int step) {
    PointVal p;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (uint32_t i = 0; i < kDim; ++i) p.vector.push_back(u(rng_));
    p.payload = Payload(static_cast<int>(rng_() % 3), step);
    return p;
  }

  // Records a state-changing write: acknowledged (status OK), in flight (failed with the power
  // off), or a failure of the database (failed with the power on).
  std::string Write(const std::string& what, bool sync, DbState next, const Status& s) {
    if (s.ok()) {
      log_.push_back(what);
      states_.push_back(std::move(next));
      if (sync) lower_ = states_.size() - 1;
      return "";
    }
    if (!fs_->powered_on()) {
      log_.push_back(what + " (in flight: " + s.ToString() + ")");
      in_flight_ = std::move(next);
      return "";
    }
    return what + ": " + s.ToString();
  }

  std::string Maintenance(const std::string& what, const Status& s, bool syncs) {
    if (s.ok()) {
      log_.push_back(what);
      if (syncs) lower_ = states_.size() - 1;
      return "";
    }
    if (!fs_->powered_on()) {
      log_.push_back(what + " (in flight: " + s.ToString() + ")");
      return "";
    }
    return what + ": " + s.ToString();
  }

  std::string Verify() {
    auto opened = Database::Open(options_, path_);
    if (!opened.ok()) return "reopen after the power loss: " + opened.status().ToString();
    db_ = std::move(opened).value();
    DbState found;
    auto list = db_->ListCollections();
    if (!list.ok()) return "list: " + list.status().ToString();
    for (const CollectionInfo& info : *list) {
      auto c = db_->GetCollection(info.name);
      if (!c.ok()) return "get " + info.name + ": " + c.status().ToString();
      CollState& cs = found[info.name];
      for (Point& p : ::sextant::testing::ScanAll(**c)) cs[p.id.number()] = {std::move(p.vector), std::move(p.payload)};
    }
    // Which acknowledged prefix is this?
    int match = -1;
    for (size_t k = lower_; k < states_.size(); ++k) {
      if (states_[k] == found) match = static_cast<int>(k);
    }
    const bool is_in_flight = in_flight_ && *in_flight_ == found;
    if (match < 0 && !is_in_flight) {
      std::string why = "the recovered state is no allowed prefix of the " + std::to_string(states_.size() - 1) +
                        " acknowledged writes (at least " + std::to_string(lower_) + " must survive" +
                        (in_flight_ ? ", or the write in flight" : "") + ")\n  found:    " + Describe(found) +
                        "\n  expected: " + Describe(states_.back());
      for (size_t k = 0; k < states_.size(); ++k) {
        if (states_[k] == found) why += "\n  (it equals the state after " + std::to_string(k) + " writes)";
      }
      return why;
    }
    lost_ = is_in_flight ? 0 : static_cast<int>(states_.size() - 1) - match;
    in_flight_recovered_ = is_in_flight;
    // The indexes agree with the points.
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (const auto& [name, cs] : found) {
      auto c = std::move(db_->GetCollection(name)).value();
      for (int g = 0; g < 3; ++g) {
        const size_t want = std::count_if(cs.begin(), cs.end(), [&](const auto& kv) {
          return PayloadGroup(kv.second.payload) == g;
        });
        const std::string filter = "{\"g\":" + std::to_string(g) + "}";
        const size_t got = ::sextant::testing::ScanAll(*c, 1000, filter).size();
        if (got != want) return name + ": filter " + filter + " scans " + std::to_string(got) + " points, not " + std::to_string(want);
      }
      if (cs.empty()) continue;
      for (int q = 0; q < 3; ++q) {
        std::vector<float> query;
        for (uint32_t i = 0; i < kDim; ++i) query.push_back(u(rng_));
        SearchOptions exact;
        exact.k = 10;
        exact.exact = true;
        SearchOptions indexed = exact;
        indexed.exact = false;
        indexed.ef_search = 500;
        indexed.nprobe = 64;
        auto a = c->Search(exact, query);
        auto b = c->Search(indexed, query);
        if (!a.ok() || !b.ok()) return name + ": search: " + (a.ok() ? b : a).status().ToString();
        std::vector<uint64_t> ia, ib;
        for (const Hit& h : *a) ia.push_back(h.id.number());
        for (const Hit& h : *b) ib.push_back(h.id.number());
        if (ia != ib || ia.size() != std::min<size_t>(10, cs.size())) {
          std::string why = name + ": the index answers [";
          for (uint64_t id : ib) why += " " + std::to_string(id);
          why += " ], an exact search [";
          for (uint64_t id : ia) why += " " + std::to_string(id);
          return why + " ]";
        }
      }
      // And it takes writes again.
      WriteOptions wo;
      wo.sync = true;
      std::vector<PointId> id{PointId(uint64_t{999})};
      std::vector<float> v(kDim, 0.5f);
      if (Status s = c->Upsert(wo, id, v); !s.ok()) return name + ": upsert after recovery: " + s.ToString();
      if (auto p = c->Get(id[0]); !p.ok()) return name + ": get after recovery: " + p.status().ToString();
    }
    return "";
  }

  std::string Fail(const std::string& why) {
    if (why.empty()) return "";
    std::string out = "seed " + std::to_string(seed_) + " (" + SyncModeName(mode_) + ", " + TearName(tear_) +
                      "): " + why + "\n  crash:" + crash_report_ + "\n  workload:";
    for (const auto& l : log_) out += "\n    " + l;
    return out;
  }

 public:
  bool crashed_in_workload_ = false;
  bool in_flight_recovered_ = false;
  int lost_ = 0;  // acknowledged writes the recovered state lacks

 private:
  const uint64_t seed_;
  const SyncMode mode_;
  const FaultFs::Tear tear_;
  std::mt19937_64 rng_;
  TempDir tmp_;
  std::string path_;
  std::shared_ptr<FaultFs> fs_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::vector<DbState> states_;          // states_[k]: after the first k acknowledged writes
  size_t lower_ = 0;                     // states_ before this index may not be what survives
  std::optional<DbState> in_flight_;     // the state had the write in flight been applied
  std::vector<std::string> log_;
  std::string crash_report_;
};

// What a crash of the test process (an assertion inside RocksDB, a signal) prints: the seed.
char g_current_seed[96];
void PrintSeedOnAbort(int sig) {
  const ssize_t ignored = ::write(2, g_current_seed, std::strlen(g_current_seed));
  (void)ignored;
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

// Aborts the process (failing the test, not hanging CI) when an iteration takes too long.
class Watchdog {
 public:
  explicit Watchdog(int seconds) : seconds_(seconds), thread_([this] { Loop(); }) {}
  ~Watchdog() {
    stop_ = true;
    thread_.join();
  }
  void Beat(uint64_t seed) {
    std::snprintf(g_current_seed, sizeof g_current_seed, "\npower-loss: the process died at seed %llu\n",
                  static_cast<unsigned long long>(seed));
    seed_ = seed;
    beats_++;
  }

 private:
  void Loop() {
    uint64_t last = beats_;
    auto since = std::chrono::steady_clock::now();
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (beats_ != last) {
        last = beats_;
        since = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - since > std::chrono::seconds(seconds_)) {
        std::fprintf(stderr, "power-loss: seed %llu hung for %d s\n", static_cast<unsigned long long>(seed_.load()), seconds_);
        std::abort();
      }
    }
  }
  const int seconds_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> beats_{0};
  std::atomic<uint64_t> seed_{0};
  std::thread thread_;
};

void RunMany(SyncMode mode, uint64_t salt) {
  const uint64_t base = EnvNumber("SEXTANT_POWER_LOSS_SEED", 20261207) + salt * 1'000'000;
  const uint64_t n = EnvNumber("SEXTANT_POWER_LOSS_ITERATIONS", 40);
  std::printf("power-loss %s: seeds %llu..%llu (SEXTANT_POWER_LOSS_SEED=%llu, SEXTANT_POWER_LOSS_ITERATIONS=%llu)\n",
              SyncModeName(mode), static_cast<unsigned long long>(base), static_cast<unsigned long long>(base + n - 1),
              static_cast<unsigned long long>(base - salt * 1'000'000), static_cast<unsigned long long>(n));
  Watchdog dog(120);
  std::signal(SIGABRT, PrintSeedOnAbort);
  std::signal(SIGSEGV, PrintSeedOnAbort);
  int failures = 0;
  std::map<std::string, int> outcomes;
  int64_t lost = 0;
  for (uint64_t i = 0; i < n && failures < 3; ++i) {
    const uint64_t seed = base + i;
    dog.Beat(seed);
    const auto tear = static_cast<FaultFs::Tear>(seed % 3);
    PowerLossRun run(seed, mode, tear);
    const std::string error = run.Run();
    if (!error.empty()) {
      ++failures;
      ADD_FAILURE() << error;
    } else {
      outcomes[run.crashed_in_workload_ ? "crashed mid-workload" : "crashed after it"]++;
      if (run.in_flight_recovered_) outcomes["in-flight write recovered"]++;
      if (run.lost_ > 0) outcomes["lost unsynced writes"]++;
      lost += run.lost_;
    }
  }
  std::printf("power-loss %s: %llu crash points, %d failed;", SyncModeName(mode), static_cast<unsigned long long>(n),
              failures);
  for (const auto& [k, v] : outcomes) std::printf(" %s: %d,", k.c_str(), v);
  std::printf(" acknowledged unsynced writes lost in all: %lld\n", static_cast<long long>(lost));
}

TEST(PowerLossTest, SyncedWritesAllSurvive) { RunMany(SyncMode::kAlways, 0); }
TEST(PowerLossTest, UnsyncedWritesSurviveAsAPrefix) { RunMany(SyncMode::kNever, 1); }
TEST(PowerLossTest, MixedWritesSurviveUpToTheLastSync) { RunMany(SyncMode::kMixed, 2); }

}  // namespace
}  // namespace sextant
