// Regression tests for data races between a collection's lifecycle calls and its readers and
// writers. Each passes in a plain build whatever the locking; the ThreadSanitizer pass of
// scripts/test.sh (build-tsan) is what fails them when a race comes back, so each one runs the
// two racing calls against each other many times.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

// SetIndex used to assign the whole descriptor under the write lock while SearchBatch read its
// dimension and metric before taking any lock (TSAN: write in SetIndex, read in SearchBatch).
TEST(RaceTest, SetIndexWhileSearchBatchReadsTheDescriptor) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  CollectionOptions o;
  o.dimension = 8;
  o.metric = Metric::kL2;
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", o));
  ASSERT_OK(c->Upsert({}, NumericIds(0, 300), testing::RandomVectors(300, 8, 1)));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      const auto q = testing::RandomVectors(3, 8, 20 + t);
      SearchOptions so;
      so.k = 5;
      while (!stop) {
        auto r = t == 0 ? c->SearchBatch(so, q) : c->SearchBatch(so, std::span(q).first(8));
        if (!r.ok() || (*r)[0].size() != 5) ++bad;
        ++searches;
      }
    });
  }
  for (const char* spec : {"HNSW8", "Flat", "HNSW12", "Flat", "HNSW8"}) {
    ASSERT_OK(c->SetIndex(*IndexOptions::Parse(spec)));
  }
  ASSERT_OK(c->WaitForIndex(60000));
  // Let the readers overlap the last swap too.
  while (searches.load() < 50) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto info, c->Describe());
  EXPECT_EQ(info.index, "HNSW8");
}

// MarkDropped used to free the payload index set while an upsert, not yet holding the lock,
// checked its payloads against it (a use-after-free in waiting: TSAN reported the pointer).
TEST(RaceTest, DropWhileUpsertsCheckIndexedPayloads) {
  for (int round = 0; round < 5; ++round) {
    TempDir tmp;
    auto db = MustOpen(tmp.path());
    CollectionOptions o;
    o.dimension = 4;
    o.metric = Metric::kL2;
    o.payload_indexes = {{"genre", PayloadFieldType::kKeyword}, {"year", PayloadFieldType::kInteger}};
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("doomed", o));
    std::atomic<bool> stop{false};
    std::atomic<int> bad{0}, ok{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t) {
      writers.emplace_back([&, t] {
        uint64_t next = static_cast<uint64_t>(t) << 32;
        // Many payloads per call, so the unlocked validation phase is long.
        std::vector<std::string> payloads;
        for (int i = 0; i < 64; ++i) {
          payloads.push_back(R"({"genre":"g)" + std::to_string(i % 7) + R"(","year":)" + std::to_string(1990 + i) + "}");
        }
        const auto v = testing::RandomVectors(64, 4, 5 + t);
        while (!stop) {
          Status s = c->Upsert({}, NumericIds(next, 64), v, payloads);
          next += 64;
          if (s.ok()) {
            ++ok;
          } else if (s.code() != StatusCode::kNotFound) {
            ++bad;
            ADD_FAILURE() << s.ToString();
          }
        }
      });
    }
    while (ok.load() < 3) std::this_thread::sleep_for(std::chrono::microseconds(100));
    ASSERT_OK(db->DropCollection("doomed"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop = true;
    for (auto& w : writers) w.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_STATUS(c->Upsert({}, NumericIds(0, 64), testing::RandomVectors(64, 4, 9),
                            std::vector<std::string>(64, R"({"genre":"x"})")),
                  StatusCode::kNotFound);
  }
}

// A checkpoint writes its file outside the collection's lock; a drop used to remove the file in
// that window, and the checkpoint then wrote it back: an orphan file no collection owns.
TEST(RaceTest, CheckpointRacingDropLeavesNoIndexFile) {
  for (int round = 0; round < 4; ++round) {
    TempDir tmp;
    auto db = MustOpen(tmp.path());
    CollectionOptions o;
    o.dimension = 32;
    o.metric = Metric::kL2;
    o.index = *IndexOptions::Parse("HNSW8");
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", o));
    ASSERT_OK(c->Upsert({}, NumericIds(0, 3000), testing::RandomVectors(3000, 32, 7 + round)));
    ASSERT_OK(c->WaitForIndex(120000));
    std::atomic<int> checkpoints{0};
    std::thread checkpointer([&] {
      for (;;) {
        Status s = c->Checkpoint();
        if (!s.ok()) {
          EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
          return;
        }
        ++checkpoints;
      }
    });
    while (checkpoints.load() < 1 + round) std::this_thread::yield();
    ASSERT_OK(db->DropCollection("c"));
    checkpointer.join();
    const std::string index_dir = tmp.path() + "/index";
    if (std::filesystem::exists(index_dir)) {
      for (const auto& entry : std::filesystem::directory_iterator(index_dir)) {
        ADD_FAILURE() << "round " << round << ": " << entry.path() << " outlived the drop of its collection";
      }
    }
  }
}

// Dropping a collection while its IVF index trains: the drop stops the training (k-means polls
// the build's stop flag) and does not hold the catalogue mutex while it waits for the builder,
// so other calls on the database go on meanwhile. Before, the drop sat on the catalogue mutex
// until the whole training ended.
TEST(RaceTest, DropDuringIvfTrainingReleasesTheCatalogueFirst) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  CollectionOptions o;
  o.dimension = 32;
  o.metric = Metric::kL2;
  ASSERT_OK_AND_ASSIGN(auto big, db->CreateCollection("big", o));
  ASSERT_OK_AND_ASSIGN(auto other, db->CreateCollection("other", o));
  const size_t n = 60000;
  const auto data = testing::RandomVectors(n, 32, 11);  // no clusters: k-means runs all iterations
  for (size_t i = 0; i < n; i += 10000) {
    ASSERT_OK(big->Upsert({}, NumericIds(i, 10000), std::span(data).subspan(i * 32, 10000 * 32)));
  }
  ASSERT_OK(big->SetIndex(*IndexOptions::Parse("IVF256")));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into k-means
  ASSERT_OK_AND_ASSIGN(auto info, big->Describe());
  ASSERT_EQ(info.index_state, IndexState::kBuilding) << "the training ended before the drop; use more points";
  std::atomic<bool> dropped{false};
  std::thread dropper([&] {
    EXPECT_OK(db->DropCollection("big"));
    dropped = true;
  });
  // The catalogue already says "big" is gone while the drop still waits for the builder.
  bool seen_gone_during_drop = false;
  while (!dropped) {
    auto got = db->GetCollection("big");
    if (!got.ok() && !dropped) {
      seen_gone_during_drop = true;
      break;
    }
  }
  dropper.join();
  EXPECT_TRUE(seen_gone_during_drop) << "the drop held the catalogue mutex until it returned";
  EXPECT_STATUS(big->Describe(), StatusCode::kNotFound);
  EXPECT_OK(other->Count());
}

}  // namespace
}  // namespace sextant
