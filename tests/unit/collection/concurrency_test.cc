// Concurrency smoke test (collection.h: safe for concurrent use; a search sees all of a batch or
// none of it): searchers run while a writer upserts and deletes.
#include <atomic>
#include <chrono>
#include <thread>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr size_t kDim = 16;
constexpr size_t kBase = 1000;
constexpr size_t kGroup = 10;  // the writer's batches: kGroup points, all at one far-away spot

TEST(ConcurrencyTest, SearchesDuringWritesSeeWholeBatches) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "c", kDim, Metric::kL2);
  ASSERT_NE(c, nullptr);
  ASSERT_OK(c->Upsert({}, NumericIds(0, kBase), testing::RandomVectors(kBase, kDim, 1)));

  // Base points are in [-1, 1]^16; the writer's points all sit at (10, ..., 10), so a query
  // there ranks them first with score 0, base points at >= 16 * 81.
  const std::vector<float> spot(kDim, 10.0f);
  std::atomic<bool> stop{false};
  std::atomic<int> writer_batches{0};
  std::atomic<int> searches{0};
  std::atomic<int> failures{0};

  std::thread writer([&] {
    for (uint64_t b = 0; b < 150 && failures == 0; ++b) {
      std::vector<PointId> ids;
      for (size_t j = 0; j < kGroup; ++j) ids.emplace_back("w" + std::to_string(b) + "-" + std::to_string(j));
      std::vector<float> v;
      for (size_t j = 0; j < kGroup; ++j) v.insert(v.end(), spot.begin(), spot.end());
      if (!c->Upsert({}, ids, v).ok()) ++failures;
      if (b >= 3) {
        // Delete an older batch whole, in one call.
        std::vector<PointId> old;
        for (size_t j = 0; j < kGroup; ++j) old.emplace_back("w" + std::to_string(b - 3) + "-" + std::to_string(j));
        auto n = c->Delete({}, old);
        if (!n.ok() || *n != kGroup) ++failures;
      }
      // Replace some base points too (same ids, new vectors within the base range).
      if (!c->Upsert({}, NumericIds(b % kBase, 5), testing::RandomVectors(5, kDim, static_cast<uint32_t>(b))).ok()) {
        ++failures;
      }
      ++writer_batches;
    }
    stop = true;
  });

  auto check = [&](const std::vector<Hit>& hits, size_t k) {
    // k is above the writer's live points (at most 4 batches) and below the base's size: every
    // result holds all writer points visible, then base points.
    if (hits.size() != k) ADD_FAILURE() << "got " << hits.size() << " hits for k " << k;
    size_t at_spot = 0;
    std::set<std::string> seen;
    for (size_t r = 0; r < hits.size(); ++r) {
      const Hit& h = hits[r];
      const std::string key = (h.id.is_number() ? "#" : "$") + h.id.ToString();
      if (!seen.insert(key).second) ADD_FAILURE() << "duplicate id " << key;
      if (h.id.is_number()) {
        if (h.id.number() >= kBase) ADD_FAILURE() << "unknown id " << h.id.number();
      } else {
        if (h.id.str().empty() || h.id.str()[0] != 'w') ADD_FAILURE() << "unknown id " << h.id.str();
        if (h.score > 1e-3f) ADD_FAILURE() << "writer point " << h.id.str() << " scored " << h.score;
        ++at_spot;
      }
      if (r > 0 && hits[r - 1].score > h.score) ADD_FAILURE() << "not nearest first at rank " << r;
    }
    // Whole batches only: a batch of kGroup was either visible entirely or not at all. (A delete
    // batch removes a whole group too.)
    if (at_spot % kGroup != 0) ADD_FAILURE() << at_spot << " writer points visible: a partial batch";
  };

  // Each reader stops when the writer is done or after kMaxReads calls, whichever comes first:
  // the engine's reader/writer lock may let a stream of readers hold a writer off, and this test
  // is about consistency, not fairness.
  constexpr int kMaxReads = 400;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      SearchOptions so;
      so.k = 64;
      std::vector<float> batch;
      for (int q = 0; q < 9; ++q) batch.insert(batch.end(), spot.begin(), spot.end());
      for (int reads = 0; reads < kMaxReads && !stop && failures == 0; ++reads) {
        if (t == 0) {
          auto hits = c->Search(so, spot);
          if (!hits.ok()) {
            ++failures;
            ADD_FAILURE() << hits.status().ToString();
            break;
          }
          check(*hits, so.k);
        } else if (t == 1) {
          auto hits = c->SearchBatch(so, batch);  // the batched scoring path
          if (!hits.ok() || hits->size() != 9) {
            ++failures;
            ADD_FAILURE() << hits.status().ToString();
            break;
          }
          for (const auto& h : *hits) check(h, so.k);
        } else {
          auto count = c->Count();
          auto page = c->Scan({});
          auto got = c->Get(PointId(uint64_t{7}));
          if (!count.ok() || !page.ok() || !got.ok()) {
            ++failures;
            ADD_FAILURE() << "count/scan/get failed";
            break;
          }
          if (*count < kBase || *count > kBase + 4 * kGroup || (*count - kBase) % kGroup != 0) {
            ADD_FAILURE() << "count " << *count << " is not base plus whole batches";
          }
        }
        ++searches;
      }
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(writer_batches.load(), 150);
  EXPECT_GT(searches.load(), 0);
  // The final state: three batches at the spot.
  SearchOptions so;
  so.k = 100;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, spot));
  size_t at_spot = 0;
  for (const Hit& h : hits) at_spot += h.id.is_string();
  EXPECT_EQ(at_spot, 3 * kGroup);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, kBase + 3 * kGroup);
}

TEST(ConcurrencyTest, DropWhileOthersSearchAndWrite) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "doomed", 8, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 500), testing::RandomVectors(500, 8, 3)));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, not_found{0};
  auto classify = [&](const Status& s) {
    if (s.ok()) return;
    if (s.code() == StatusCode::kNotFound) {
      ++not_found;
    } else {
      ++bad;
      ADD_FAILURE() << s.ToString();
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      const auto q = testing::RandomVectors(4, 8, 10 + t);
      uint64_t next = 1000;
      while (!stop) {
        switch (t) {
          case 0: {
            auto r = c->Search({}, std::span(q).first(8));
            classify(r.status());
            if (r.ok() && r->size() != 10) ADD_FAILURE() << r->size() << " hits";
            break;
          }
          case 1: classify(c->SearchBatch({}, q).status()); break;
          default:
            classify(c->Upsert({}, NumericIds(next, 4), q));
            next += 4;
            break;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_OK(db->DropCollection("doomed"));
  // Once the drop has returned, every call sees NotFound.
  const int before = not_found.load();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (not_found.load() < before + 3 && bad.load() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(not_found.load(), before) << "calls after the drop did not report NotFound";
  EXPECT_STATUS(c->Count(), StatusCode::kNotFound);
  EXPECT_STATUS(db->GetCollection("doomed"), StatusCode::kNotFound);
  // The name is free again, and empty.
  auto again = MustCreate(db.get(), "doomed", 8, Metric::kL2);
  ASSERT_OK_AND_ASSIGN(uint64_t n, again->Count());
  EXPECT_EQ(n, 0u);
}

TEST(ConcurrencyTest, ParallelWritersToDistinctIdsAllLand) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  auto c = MustCreate(db.get(), "c", 4, Metric::kCosine);
  constexpr int kThreads = 4, kBatches = 40, kPer = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        auto ids = NumericIds(static_cast<uint64_t>((t * kBatches + b) * kPer), kPer);
        if (!c->Upsert({}, ids, testing::RandomVectors(kPer, 4, static_cast<uint32_t>(t * 1000 + b))).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, uint64_t{kThreads} * kBatches * kPer);
  EXPECT_EQ(testing::ScanAll(*c).size(), n);
}

}  // namespace
}  // namespace sextant
