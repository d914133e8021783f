// Writers are not starved by a steady stream of searches (the collection lock prefers writers).
// This asserts progress, not speed: the searchers stop on their own after two minutes, and the
// test fails if the writes have not all landed while the searches were still running.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "sextant/sextant.h"
#include "test_util.h"

namespace sextant {
namespace {

TEST(FairnessTest, WritesCompleteWhileSearchersLoopNonStop) {
  ::sextant::testing::TempDir dir;
  auto db = Database::Open(DatabaseOptions{}, dir.path());
  ASSERT_TRUE(db.ok());
  CollectionOptions o;
  o.dimension = 16;
  o.metric = Metric::kL2;
  auto c = *(*db)->CreateCollection("c", o);
  auto base = ::sextant::testing::RandomVectors(1000, 16, 1);
  std::vector<PointId> ids;
  for (uint64_t i = 0; i < 1000; ++i) ids.emplace_back(i);
  ASSERT_TRUE(c->Upsert({}, ids, base).ok());

  std::atomic<bool> writes_done{false};
  std::atomic<bool> searches_gave_up{false};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&, t] {
      SearchOptions so;
      so.k = 64;
      size_t i = t;
      while (!writes_done) {
        if (std::chrono::steady_clock::now() > deadline) {
          searches_gave_up = true;
          return;
        }
        auto hits = c->Search(so, std::span<const float>(base.data() + (i++ % 1000) * 16, 16));
        if (!hits.ok()) return;
      }
    });
  }
  auto extra = ::sextant::testing::RandomVectors(10, 16, 2);
  for (uint64_t b = 0; b < 150; ++b) {
    std::vector<PointId> batch;
    for (uint64_t i = 0; i < 10; ++i) batch.emplace_back(100000 + b * 10 + i);
    ASSERT_TRUE(c->Upsert({}, batch, extra).ok());
  }
  const bool in_time = !searches_gave_up;
  writes_done = true;
  for (auto& t : searchers) t.join();
  EXPECT_TRUE(in_time) << "writes were starved by concurrent searches";
  EXPECT_EQ(*c->Count(), 2500u);
}

}  // namespace
}  // namespace sextant
