// Durability (collection.h, options.h WriteOptions): data, replacements and deletes survive
// close and reopen; acknowledged batches survive kill -9 of the writing process, and a batch is
// never half there.
#include <fcntl.h>
#include <poll.h>

#include <cstring>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::ChildDir;
using ::sextant::testing::ChildFd;
using ::sextant::testing::ChildMode;
using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::ScanAll;
using ::sextant::testing::TempDir;

// Everything a collection holds, by id, for comparing before and after a reopen.
std::map<std::string, Point> Snapshot(const Collection& c) {
  std::map<std::string, Point> out;
  for (Point& p : ScanAll(c, 777)) {
    out.emplace((p.id.is_number() ? "#" : "$") + p.id.ToString(), std::move(p));
  }
  return out;
}

void ExpectSameContents(const std::map<std::string, Point>& a, const std::map<std::string, Point>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, p] : a) {
    auto it = b.find(key);
    ASSERT_NE(it, b.end()) << key;
    EXPECT_EQ(it->second.id, p.id);
    EXPECT_EQ(it->second.vector, p.vector) << key;
    EXPECT_EQ(it->second.payload, p.payload) << key;
  }
}

TEST(PersistenceTest, DataSurvivesCloseAndOpen) {
  TempDir tmp;
  const size_t kN = 3000, kDim = 16;
  auto vecs = testing::RandomVectors(kN, kDim, 3);
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < kN; ++i) {
    ids.push_back(i % 2 ? PointId(uint64_t{i}) : PointId("doc-" + std::to_string(i)));
    payloads.push_back(i % 3 ? R"({"i":)" + std::to_string(i) + "}" : "");
  }
  std::map<std::string, Point> before_l2, before_cos;
  std::vector<std::vector<Hit>> hits_before;
  const auto queries = testing::RandomVectors(10, kDim, 4);
  SearchOptions so;
  so.k = 25;
  so.with_payload = true;
  {
    auto db = MustOpen(tmp.path());
    auto l2 = MustCreate(db.get(), "l2", kDim, Metric::kL2);
    auto cos = MustCreate(db.get(), "cos", kDim, Metric::kCosine);
    for (size_t s = 0; s < kN; s += 1000) {
      ASSERT_OK(l2->Upsert({}, std::span(ids).subspan(s, 1000), std::span(vecs).subspan(s * kDim, 1000 * kDim),
                           std::span(payloads).subspan(s, 1000)));
      ASSERT_OK(cos->Upsert({}, std::span(ids).subspan(s, 1000), std::span(vecs).subspan(s * kDim, 1000 * kDim)));
    }
    before_l2 = Snapshot(*l2);
    before_cos = Snapshot(*cos);
    ASSERT_EQ(before_l2.size(), kN);
    ASSERT_OK_AND_ASSIGN(hits_before, l2->SearchBatch(so, queries));
  }
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("reopen " + std::to_string(round));
    auto db = MustOpen(tmp.path());
    ASSERT_NE(db, nullptr);
    ASSERT_OK_AND_ASSIGN(auto l2, db->GetCollection("l2"));
    ASSERT_OK_AND_ASSIGN(auto cos, db->GetCollection("cos"));
    EXPECT_EQ(l2->metric(), Metric::kL2);
    EXPECT_EQ(cos->metric(), Metric::kCosine);
    EXPECT_EQ(cos->dimension(), kDim);
    ASSERT_OK_AND_ASSIGN(uint64_t n, l2->Count());
    EXPECT_EQ(n, kN);
    ExpectSameContents(before_l2, Snapshot(*l2));
    ExpectSameContents(before_cos, Snapshot(*cos));
    ASSERT_OK_AND_ASSIGN(auto hits_after, l2->SearchBatch(so, queries));
    ASSERT_EQ(hits_after.size(), hits_before.size());
    for (size_t q = 0; q < hits_after.size(); ++q) {
      testing::ExpectSameHits(hits_before[q], hits_after[q], "query " + std::to_string(q));
      for (size_t r = 0; r < hits_after[q].size(); ++r) EXPECT_EQ(hits_after[q][r].payload, hits_before[q][r].payload);
    }
  }
}

TEST(PersistenceTest, ReplacementsAndDeletesSurviveReopen) {
  TempDir tmp;
  const size_t kDim = 4;
  {
    auto db = MustOpen(tmp.path());
    auto c = MustCreate(db.get(), "c", kDim, Metric::kInnerProduct);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 100), std::vector<float>(100 * kDim, 1.0f),
                        std::vector<std::string>(100, R"({"v":1})")));
    // Replace 0..9 (5..9 without a payload), delete 50..79 and an absent id.
    ASSERT_OK(c->Upsert({}, NumericIds(0, 5), std::vector<float>(5 * kDim, 2.0f),
                        std::vector<std::string>(5, R"({"v":2})")));
    ASSERT_OK(c->Upsert({}, NumericIds(5, 5), std::vector<float>(5 * kDim, 3.0f)));
    auto del = NumericIds(50, 30);
    del.emplace_back("absent");
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Delete({}, del));
    ASSERT_EQ(n, 30u);
  }
  {
    auto db = MustOpen(tmp.path());
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_EQ(n, 70u);
    for (uint64_t i = 0; i < 100; ++i) {
      auto p = c->Get(PointId(i));
      if (i >= 50 && i < 80) {
        EXPECT_STATUS(p, StatusCode::kNotFound);
        continue;
      }
      ASSERT_OK(p);
      const float want = i < 5 ? 2.0f : i < 10 ? 3.0f : 1.0f;
      EXPECT_EQ(p->vector, std::vector<float>(kDim, want)) << i;
      EXPECT_EQ(p->payload, i < 5 ? R"({"v":2})" : i < 10 ? "{}" : R"({"v":1})") << i;
    }
    SearchOptions so;
    so.k = 1000;
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, std::vector<float>(kDim, 1.0f)));
    EXPECT_EQ(hits.size(), 70u);
    for (const Hit& h : hits) EXPECT_FALSE(h.id.number() >= 50 && h.id.number() < 80) << h.id.number();
    // Churn after the reopen: new points, more deletes, re-inserts of deleted ids.
    ASSERT_OK(c->Upsert({}, NumericIds(60, 10), std::vector<float>(10 * kDim, 4.0f)));
    ASSERT_OK(c->Upsert({}, NumericIds(200, 40), std::vector<float>(40 * kDim, 5.0f)));
    ASSERT_OK(c->Delete({}, NumericIds(0, 3)).status());
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 70u + 10 + 40 - 3);
  ASSERT_OK_AND_ASSIGN(Point p65, c->Get(PointId(uint64_t{65})));
  EXPECT_EQ(p65.vector, std::vector<float>(kDim, 4.0f));
  EXPECT_EQ(p65.payload, "{}");
  ASSERT_OK_AND_ASSIGN(Point p239, c->Get(PointId(uint64_t{239})));
  EXPECT_EQ(p239.vector, std::vector<float>(kDim, 5.0f));
  EXPECT_STATUS(c->Get(PointId(uint64_t{1})), StatusCode::kNotFound);
  EXPECT_STATUS(c->Get(PointId(uint64_t{55})), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Point p3, c->Get(PointId(uint64_t{3})));
  EXPECT_EQ(p3.vector, std::vector<float>(kDim, 2.0f));
  EXPECT_EQ(ScanAll(*c).size(), n);
}

TEST(PersistenceTest, SyncWritesSurviveReopen) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    auto c = MustCreate(db.get(), "c", 2, Metric::kL2);
    WriteOptions w;
    w.sync = true;
    ASSERT_OK(c->Upsert(w, NumericIds(0, 10), std::vector<float>(20, 1.0f)));
    ASSERT_OK(c->Delete(w, NumericIds(0, 2)).status());
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 8u);
}

TEST(PersistenceTest, EmptyCollectionSurvivesReopen) {
  TempDir tmp;
  { ASSERT_NE(MustCreate(MustOpen(tmp.path()).get(), "empty", 9, Metric::kCosine), nullptr); }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("empty"));
  EXPECT_EQ(c->dimension(), 9u);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 0u);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 1), std::vector<float>(9, 1.0f)));
}

// ---- kill -9 ----

constexpr size_t kKillBatch = 50;
constexpr size_t kKillDim = 8;

// The vector of point j of batch b: all values derived from (b, j), so the parent can check them.
std::vector<float> KillBatchVectors(uint64_t b) {
  std::vector<float> v(kKillBatch * kKillDim);
  for (size_t j = 0; j < kKillBatch; ++j) {
    for (size_t d = 0; d < kKillDim; ++d) v[j * kKillDim + d] = static_cast<float>(b * 1000 + j) + 0.125f * d;
  }
  return v;
}

// Runs only as a child (SpawnHelper): upserts batch after batch into the database and writes
// the number of each acknowledged batch to the pipe, until it is killed.
TEST(PersistenceChildHelper, Writer) {
  if (ChildMode() != "writer") GTEST_SKIP() << "helper for PersistenceTest.KillNine; runs only in a child process";
  alarm(120);  // never outlive a parent that forgot us
  auto db = Database::Open({}, ChildDir());
  if (!db.ok()) _exit(2);
  CollectionOptions o;
  o.dimension = kKillDim;
  o.metric = Metric::kL2;
  auto c = (*db)->CreateCollection("k", o);
  if (!c.ok()) _exit(3);
  const int fd = ChildFd();
  for (uint64_t b = 0; b < 1000000; ++b) {
    std::vector<PointId> ids = NumericIds(b * kKillBatch, kKillBatch);
    std::vector<std::string> payloads(kKillBatch, R"({"b":)" + std::to_string(b) + "}");
    if (!(*c)->Upsert({}, ids, KillBatchVectors(b), payloads).ok()) _exit(4);
    uint64_t ack = b;
    if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(5);
  }
  pause();
  _exit(0);
}

TEST(PersistenceTest, AcknowledgedBatchesSurviveKillNine) {
  for (int run = 0; run < 3; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    TempDir tmp;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    auto child = testing::SpawnHelper("PersistenceChildHelper.Writer", "writer", tmp.path(), fds[1]);
    ASSERT_GT(child.pid, 0);
    close(fds[1]);

    // Read some acks (a different number each run), then kill without warning.
    const uint64_t wait_for = 5 + 20 * run;
    int64_t last_ack = -1;
    bool child_failed = false;
    while (last_ack < static_cast<int64_t>(wait_for)) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (poll(&pfd, 1, 60000) <= 0) {
        child_failed = true;
        break;
      }
      uint64_t ack;
      ssize_t r = read(fds[0], &ack, sizeof ack);
      if (r != sizeof ack) {
        child_failed = true;
        break;
      }
      EXPECT_EQ(static_cast<int64_t>(ack), last_ack + 1);
      last_ack = static_cast<int64_t>(ack);
    }
    kill(child.pid, SIGKILL);
    int status = 0;
    waitpid(child.pid, &status, 0);
    ASSERT_FALSE(child_failed) << "the writer stopped acknowledging; exit status " << status;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    // Acks already in the pipe were acknowledged before the kill too.
    uint64_t ack;
    while (read(fds[0], &ack, sizeof ack) == sizeof ack) last_ack = static_cast<int64_t>(ack);
    close(fds[0]);

    auto db = MustOpen(tmp.path());
    ASSERT_NE(db, nullptr);
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("k"));
    ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
    // Every acknowledged batch, and perhaps the one in flight; nothing else.
    const uint64_t acked = static_cast<uint64_t>(last_ack + 1);
    EXPECT_TRUE(count == acked * kKillBatch || count == (acked + 1) * kKillBatch)
        << "count " << count << " after " << acked << " acknowledged batches of " << kKillBatch;
    for (uint64_t b = 0; b < acked + 2; ++b) {
      const auto want = KillBatchVectors(b);
      size_t present = 0;
      for (size_t j = 0; j < kKillBatch; ++j) {
        auto p = c->Get(PointId(b * kKillBatch + j));
        if (!p.ok()) {
          EXPECT_EQ(p.status().code(), StatusCode::kNotFound) << p.status().ToString();
          continue;
        }
        ++present;
        EXPECT_EQ(p->vector, std::vector<float>(want.begin() + j * kKillDim, want.begin() + (j + 1) * kKillDim));
        EXPECT_EQ(p->payload, R"({"b":)" + std::to_string(b) + "}");
      }
      if (b < acked) {
        EXPECT_EQ(present, kKillBatch) << "acknowledged batch " << b << " lost points";
      } else {
        EXPECT_TRUE(present == 0 || present == kKillBatch) << "batch " << b << " is partly there: " << present;
        if (b == acked + 1) {
          EXPECT_EQ(present, 0u) << "batch " << b << " was never started";
        }
      }
    }
    // Search agrees with Get.
    SearchOptions so;
    so.k = 100000;
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, std::vector<float>(kKillDim, 0.0f)));
    EXPECT_EQ(hits.size(), count);
    // And the recovered database takes new writes.
    ASSERT_OK(c->Upsert({}, NumericIds(1ull << 40, 1), std::vector<float>(kKillDim, 1.0f)));
  }
}

}  // namespace
}  // namespace sextant
