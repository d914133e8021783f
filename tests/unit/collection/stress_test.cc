// Concurrent stress of one database for a bounded time: searches (single, batched, filtered,
// exact), upserts with payloads, deletes by id and by filter, index changes and rebuilds,
// checkpoints, and a collection dropped and created again, all at once. Run under
// ThreadSanitizer in scripts/test.sh (build-tsan), where a data race fails it; in every build it
// checks that nothing fails except as designed (NotFound on the collection being dropped) and that
// the surviving collection holds exactly the acknowledged writes.
//
// SEXTANT_STRESS_SECONDS sets the duration (default 10).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 8;
constexpr uint64_t kMaxIds = 8000;  // the upserter stops here; everything else goes on

std::chrono::seconds StressDuration() {
  const char* env = std::getenv("SEXTANT_STRESS_SECONDS");
  const int s = env ? std::atoi(env) : 10;
  return std::chrono::seconds(s > 0 ? s : 10);
}

std::vector<float> VectorOf(uint64_t id) {
  // Distinct per id, so an exact search for it finds it first (distance 0).
  std::vector<float> v(kDim);
  for (uint32_t j = 0; j < kDim; ++j) v[j] = static_cast<float>((id * 2654435761u + j * 40503u) % 10007) / 100.0f;
  return v;
}

// As stored: compact JSON with keys in order.
std::string PayloadOf(uint64_t id) {
  return R"({"n":)" + std::to_string(id) + R"(,"parity":")" + std::string(id % 2 ? "odd" : "even") + R"("})";
}

TEST(StressTest, EverythingAtOnce) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = Metric::kL2;
  o.index = *IndexOptions::Parse("HNSW8");
  o.payload_indexes = {{"parity", PayloadFieldType::kKeyword}, {"n", PayloadFieldType::kInteger}};
  ASSERT_OK_AND_ASSIGN(auto coll, db->CreateCollection("main", o));
  ASSERT_OK(db->CreateCollection("ephemeral", o).status());

  const auto deadline = std::chrono::steady_clock::now() + StressDuration();
  auto running = [&] { return std::chrono::steady_clock::now() < deadline; };
  std::atomic<int> failures{0};
  auto fail = [&](const std::string& what, const Status& s) {
    if (++failures <= 20) ADD_FAILURE() << what << ": " << s.ToString();
  };

  // The model of "main": ids [0, acked) were upserted; `deleted` were deleted since (by the
  // deleter only, which deletes ids below acked, never twice).
  std::atomic<uint64_t> acked{0};
  std::mutex model_mu;
  std::set<uint64_t> deleted;

  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // upserts, batches of 16 with payloads
    uint64_t next = 0;
    while (running()) {
      if (next >= kMaxIds) {  // bounded, so the checks at the end (and their index build) stay short
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      std::vector<float> v;
      std::vector<std::string> p;
      for (uint64_t id = next; id < next + 16; ++id) {
        const auto x = VectorOf(id);
        v.insert(v.end(), x.begin(), x.end());
        p.push_back(PayloadOf(id));
      }
      Status s = coll->Upsert({}, NumericIds(next, 16), v, p);
      if (!s.ok()) {
        fail("upsert", s);
        continue;
      }
      next += 16;
      acked = next;
    }
  });
  threads.emplace_back([&] {  // deletes by id, and by filter on the id range it owns
    uint64_t round = 0;
    while (running()) {
      const uint64_t high = acked.load();
      if (high < 64) {
        std::this_thread::yield();
        continue;
      }
      ++round;
      // Ids ending in 7 (mod 64) up to `high`, by id; ids ending in 13 by filter on n.
      std::vector<PointId> ids;
      {
        std::lock_guard l(model_mu);
        for (uint64_t id = 7; id < high; id += 64) {
          if (deleted.insert(id).second) ids.emplace_back(id);
        }
      }
      if (!ids.empty()) {
        auto n = coll->Delete({}, ids);
        if (!n.ok() || *n != ids.size()) fail("delete", n.status());
      }
      const uint64_t target = (round * 64 + 13) % high;
      bool fresh;
      {
        std::lock_guard l(model_mu);
        fresh = deleted.insert(target).second;
      }
      auto n = coll->DeleteWhere({}, R"({"n":)" + std::to_string(target) + "}");
      if (!n.ok() || *n != (fresh ? 1u : 0u)) fail("delete where", n.status());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {  // searches
      SearchOptions so;
      so.k = 5;
      uint64_t i = 0;
      while (running()) {
        ++i;
        so.filter = i % 3 == 0 ? R"({"parity":"odd"})" : "";
        so.exact = i % 5 == 0;
        const uint64_t id = acked.load() ? (i * 7919) % acked.load() : 0;
        auto q = VectorOf(id);
        if (t == 0) {
          auto r = coll->Search(so, q);
          if (!r.ok()) fail("search", r.status());
        } else {
          q.insert(q.end(), q.begin(), q.end());
          auto r = coll->SearchBatch(so, q);
          if (!r.ok()) fail("search batch", r.status());
        }
        if (i % 16 == 0) {
          auto g = coll->Get(PointId(id));
          if (!g.ok() && g.status().code() != StatusCode::kNotFound) fail("get", g.status());
          auto d = coll->Describe();
          if (!d.ok()) fail("describe", d.status());
        }
      }
    });
  }
  threads.emplace_back([&] {  // index changes, rebuilds and checkpoints
    const char* specs[] = {"HNSW8", "Flat", "IVF16", "HNSW12"};
    uint64_t i = 0;
    while (running()) {
      ++i;
      Status s;
      if (i % 3 == 0) {
        s = coll->Checkpoint();
      } else if (i % 3 == 1) {
        s = coll->SetIndex(*IndexOptions::Parse(specs[(i / 3) % 4]));
      } else {
        s = coll->RebuildIndex();
      }
      if (!s.ok()) fail("index change", s);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  threads.emplace_back([&] {  // drop and create "ephemeral" while others use it
    while (running()) {
      Status s = db->DropCollection("ephemeral");
      if (!s.ok()) fail("drop", s);
      auto c = db->CreateCollection("ephemeral", o);
      if (!c.ok()) fail("create", c.status());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  threads.emplace_back([&] {  // writes, searches and checkpoints on "ephemeral"
    uint64_t next = 0;
    while (running()) {
      auto c = db->GetCollection("ephemeral");
      if (!c.ok()) {
        if (c.status().code() != StatusCode::kNotFound) fail("get collection", c.status());
        continue;
      }
      auto allowed = [&](const Status& s) { return s.ok() || s.code() == StatusCode::kNotFound; };
      std::vector<float> v;
      for (uint64_t id = next; id < next + 8; ++id) {
        const auto x = VectorOf(id);
        v.insert(v.end(), x.begin(), x.end());
      }
      if (Status s = (*c)->Upsert({}, NumericIds(next, 8), v, std::vector<std::string>(8, PayloadOf(next)));
          !allowed(s)) {
        fail("ephemeral upsert", s);
      }
      next += 8;
      if (auto r = (*c)->Search({}, VectorOf(next / 2)); !allowed(r.status())) fail("ephemeral search", r.status());
      if (next % 64 == 0) {
        if (Status s = (*c)->Checkpoint(); !allowed(s)) fail("ephemeral checkpoint", s);
      }
    }
  });
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  // "main" holds exactly the acknowledged upserts minus the deletes.
  ASSERT_OK(coll->WaitForIndex(120000));
  const uint64_t high = acked.load();
  ASSERT_OK_AND_ASSIGN(uint64_t count, coll->Count());
  EXPECT_EQ(count, high - deleted.size());
  SearchOptions exact;
  exact.k = 1;
  exact.exact = true;
  for (uint64_t id = 0; id < high; id += std::max<uint64_t>(1, high / 200)) {
    auto got = coll->Get(PointId(id));
    if (deleted.count(id)) {
      EXPECT_STATUS(got, StatusCode::kNotFound);
      continue;
    }
    ASSERT_OK(got);
    EXPECT_EQ(got->vector, VectorOf(id));
    EXPECT_EQ(got->payload, PayloadOf(id));
    ASSERT_OK_AND_ASSIGN(auto hits, coll->Search(exact, VectorOf(id)));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].score, 0.0f) << id;
  }
  // And the same after a reopen (checkpoints taken under load are consistent).
  coll.reset();
  db.reset();
  db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(coll, db->GetCollection("main"));
  ASSERT_OK_AND_ASSIGN(uint64_t reopened, coll->Count());
  EXPECT_EQ(reopened, high - deleted.size());
}

}  // namespace
}  // namespace sextant
