// A checkpoint copies the index under the collection's locks and fingerprints and writes it
// outside them: a writer that arrives during a checkpoint does not queue behind it, so searches
// (which queue behind a waiting writer) go on. A latch in the checkpoint shows it, not timing.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <future>
#include <set>
#include <thread>

#include "collection/collection_impl.h"
#include "collection/index_file.h"
#include "storage/files.h"
#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::RandomVectors;

// A checkpoint hook that signals `entered` when the first checkpoint reaches it and holds every
// checkpoint there until `released`. A background checkpoint (after an index build, or by
// Maintain) may reach the hook too, before or after the test's own: signalling twice threw
// std::future_error inside the checkpoint, which then failed (seen once in CI's scalar pass).
std::function<void()> PauseCheckpoints(std::promise<void>* entered, std::shared_future<void> released) {
  auto signalled = std::make_shared<std::atomic<bool>>(false);
  return [entered, released, signalled] {
    if (!signalled->exchange(true)) entered->set_value();
    released.wait();
  };
}
using ::sextant::testing::TempDir;
using namespace std::chrono_literals;

TEST(CheckpointOutsideLockTest, SearchesAndWritesCompleteWhileACheckpointRuns) {
  TempDir tmp;
  constexpr uint32_t kDim = 32;
  constexpr size_t kPoints = 8000;
  const std::vector<float> vectors = RandomVectors(kPoints + 1, kDim, 11);
  const std::vector<float> extra(vectors.end() - kDim, vectors.end());
  {
    auto db = MustOpen(tmp.path());
    CollectionOptions o;
    o.dimension = kDim;
    o.metric = Metric::kL2;
    o.index.type = IndexType::kHnsw;
    o.index.m = 8;
    o.index.ef_construction = 40;
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("big", o));
    ASSERT_OK(c->Upsert({}, NumericIds(0, kPoints),
                        std::span<const float>(vectors.data(), kPoints * kDim)));
    ASSERT_OK(c->WaitForIndex(300000));
    auto* impl = dynamic_cast<CollectionImpl*>(c.get());
    ASSERT_NE(impl, nullptr);

    std::promise<void> entered, release;
    std::shared_future<void> released = release.get_future().share();
    impl->SetCheckpointHookForTesting(PauseCheckpoints(&entered, released));
    auto checkpoint = std::async(std::launch::async, [&] { return c->Checkpoint(); });
    ASSERT_EQ(entered.get_future().wait_for(120s), std::future_status::ready) << "the checkpoint never ran";

    // The checkpoint is paused between its copy and its write. A writer first (were the checkpoint
    // holding the collection's lock, it would queue, and the search behind it), then a search.
    const std::vector<PointId> extra_id = {PointId(uint64_t{kPoints})};
    auto write = std::async(std::launch::async, [&] { return c->Upsert({}, extra_id, extra); });
    const bool write_done = write.wait_for(60s) == std::future_status::ready;
    SearchOptions so;
    so.k = 1;
    auto search = std::async(std::launch::async, [&] { return c->Search(so, extra, nullptr); });
    const bool search_done = search.wait_for(60s) == std::future_status::ready;
    release.set_value();
    EXPECT_TRUE(write_done) << "a write waited for the checkpoint";
    EXPECT_TRUE(search_done) << "a search waited for the checkpoint";
    ASSERT_OK(checkpoint.get());
    ASSERT_OK(write.get());
    auto hits = search.get();
    ASSERT_OK(hits.status());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, PointId(uint64_t{kPoints}));  // acknowledged, so searchable
    impl->SetCheckpointHookForTesting(nullptr);
  }
  // The checkpoints load (no rebuild) and every point is there, the one written during the
  // paused checkpoint included.
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("big"));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c->Describe());
  EXPECT_EQ(info.index_origin, "checkpoint");
  EXPECT_EQ(info.count, kPoints + 1);
  SearchOptions so;
  so.k = 1;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, extra, nullptr));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId(uint64_t{kPoints}));
}

// A checkpoint paused after its copy while every point is deleted, the index consolidated and new
// points written: consolidation (the one way a held slot is freed here) waits for the checkpoint,
// so the file it writes fingerprints exactly the vectors the copied index held, never a new vector
// written into a reused slot.
TEST(CheckpointOutsideLockTest, SlotsTheCopyHoldsAreNotReusedUntilItIsWritten) {
  TempDir tmp;
  constexpr uint32_t kDim = 16;
  constexpr size_t kPoints = 3000;
  const std::vector<float> vectors = RandomVectors(2 * kPoints, kDim, 5);
  std::set<uint64_t> originals;
  for (size_t i = 0; i < kPoints; ++i) originals.insert(VectorFingerprint(vectors.data() + i * kDim, kDim));
  auto db = MustOpen(tmp.path());
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = Metric::kL2;
  o.index.type = IndexType::kHnsw;
  o.index.m = 8;
  o.index.ef_construction = 32;
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", o));
  ASSERT_OK(c->Upsert({}, NumericIds(0, kPoints), std::span<const float>(vectors.data(), kPoints * kDim)));
  ASSERT_OK(c->WaitForIndex(300000));
  auto* impl = dynamic_cast<CollectionImpl*>(c.get());
  ASSERT_NE(impl, nullptr);
  std::promise<void> entered, release, deleted;
  std::shared_future<void> released = release.get_future().share();
  impl->SetCheckpointHookForTesting(PauseCheckpoints(&entered, released));
  auto checkpoint = std::async(std::launch::async, [&] { return c->Checkpoint(); });
  ASSERT_EQ(entered.get_future().wait_for(120s), std::future_status::ready);
  auto churn = std::async(std::launch::async, [&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(c->DeleteWhere({}, "{}").status());
    deleted.set_value();
    impl->Maintain();  // 3000 removals: consolidates, once the checkpoint lets it
    return c->Upsert({}, NumericIds(0, kPoints),
                     std::span<const float>(vectors.data() + kPoints * kDim, kPoints * kDim));
  });
  ASSERT_EQ(deleted.get_future().wait_for(120s), std::future_status::ready);
  // Without the guard the churn finishes here, rewriting freed slots under the paused checkpoint;
  // with it, it waits for the checkpoint (this wait then times out, which is fine).
  churn.wait_for(5s);
  release.set_value();
  ASSERT_OK(checkpoint.get());
  ASSERT_OK(churn.get());
  impl->SetCheckpointHookForTesting(nullptr);

  const storage::Files files;
  ASSERT_OK_AND_ASSIGN(IndexFile file, ReadIndexFile(files, IndexFilePath(tmp.path() + "/index", impl->id())));
  size_t held = 0;
  for (uint64_t f : file.fingerprints) {
    if (f == 0) continue;
    ++held;
    EXPECT_TRUE(originals.count(f)) << "the checkpoint fingerprinted a vector its index never held";
  }
  EXPECT_EQ(held, kPoints);
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, kPoints);
}

}  // namespace
}  // namespace sextant
