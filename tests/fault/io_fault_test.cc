// I/O fault tests: ENOSPC and EIO on write, on fsync, on create, on a failed rename and on a
// directory fsync, at each I/O site of the engine (the write-ahead log, RocksDB's flushes and
// compactions, the index checkpoint writer), injected through the fault file system
// (fault_fs.h), plus a real disk-full on a small tmpfs the test mounts.
//
// For every site and error: the call fails with a clear status (ResourceExhausted for a full disk,
// Unavailable for an I/O error, naming the file), the database stays readable, nothing
// acknowledged is lost (also after a reopen), the failed write is all there or absent, and once
// the fault clears writes work again — or, where RocksDB stops writes after a failed log write,
// they are refused with a clear status until the database is reopened (docs/reliability.md).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "../unit/collection/engine_test_helpers.h"
#include "fault_fs.h"

namespace sextant {
namespace {

using ::sextant::testing::FaultFs;
using ::sextant::testing::NumericIds;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 8;

struct Site {
  const char* name;
  FaultFs::Op op;
  const char* file;  // part of the file name the fault applies to
  // The action that reaches the site; `next_id` is the first id it may write.
  enum Action { kUpsert, kUpsertSync, kCheckpoint, kDrop } action;
  bool reported;  // whether the failure reaches the caller (a drop's compaction does not)
};

const Site kSites[] = {
    {"log_write", FaultFs::Op::kWrite, ".log", Site::kUpsert, true},
    {"log_fsync", FaultFs::Op::kSync, ".log", Site::kUpsertSync, true},
    {"checkpoint_create", FaultFs::Op::kCreate, ".sxi", Site::kCheckpoint, true},
    {"checkpoint_write", FaultFs::Op::kWrite, ".sxi", Site::kCheckpoint, true},
    {"checkpoint_fsync", FaultFs::Op::kSync, ".sxi", Site::kCheckpoint, true},
    {"checkpoint_rename", FaultFs::Op::kRename, ".sxi", Site::kCheckpoint, true},
    {"checkpoint_dir_fsync", FaultFs::Op::kDirSync, "index", Site::kCheckpoint, true},
    {"table_write", FaultFs::Op::kWrite, ".sst", Site::kDrop, false},
    {"manifest_write", FaultFs::Op::kWrite, "MANIFEST", Site::kDrop, false},
};

struct Case {
  Site site;
  FaultFs::Error error;
};

std::string Name(const Case& c) {
  return std::string(c.site.name) + (c.error == FaultFs::Error::kNoSpace ? "_ENOSPC" : "_EIO");
}
std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return Name(info.param); }

class IoFaultTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<FaultFs>();
    options_.file_system = fs_;
    path_ = tmp_.Sub("db");
    Reopen();
    CollectionOptions co;
    co.dimension = kDim;
    co.metric = Metric::kL2;
    co.index.type = IndexType::kHnsw;
    co.index.m = 8;
    co.index.ef_construction = 32;
    ASSERT_TRUE(db_->CreateCollection("c", co).ok());
    ASSERT_TRUE(db_->CreateCollection("other", co).ok());
    // 200 acknowledged points (synced), an index, a first checkpoint.
    ASSERT_OK(Upsert("c", 0, 200, true));
    ASSERT_OK(Upsert("other", 0, 50, true));
    ASSERT_OK(Get("c")->WaitForIndex(60'000));
    ASSERT_OK(Get("c")->Checkpoint());
  }

  void Reopen() {
    db_.reset();
    auto opened = Database::Open(options_, path_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    db_ = std::move(opened).value();
  }

  std::shared_ptr<Collection> Get(const std::string& name) { return std::move(db_->GetCollection(name)).value(); }

  Status Upsert(const std::string& name, uint64_t first, size_t n, bool sync) {
    WriteOptions wo;
    wo.sync = sync;
    std::vector<float> v = RandomVectors(n, kDim, static_cast<uint32_t>(first + 1));
    Status s = Get(name)->Upsert(wo, NumericIds(first, n), v);
    if (s.ok()) {
      for (size_t i = 0; i < n; ++i) acked_[name][first + i] = std::vector<float>(v.begin() + i * kDim, v.begin() + (i + 1) * kDim);
    }
    return s;
  }

  // Every acknowledged point is there with its vector; the points of `maybe` are all there or
  // all absent.
  void ExpectAcknowledged(const std::string& name, uint64_t maybe_first = 0, size_t maybe_n = 0) {
    auto c = Get(name);
    std::map<uint64_t, std::vector<float>> found;
    for (Point& p : ::sextant::testing::ScanAll(*c)) found[p.id.number()] = p.vector;
    size_t maybe_present = 0;
    for (size_t i = 0; i < maybe_n; ++i) maybe_present += found.erase(maybe_first + i);
    EXPECT_TRUE(maybe_present == 0 || maybe_present == maybe_n)
        << name << ": " << maybe_present << " of the " << maybe_n << " points of the failed write are there (torn batch)";
    EXPECT_EQ(found, acked_[name]) << name << ": the acknowledged points differ";
    // The index agrees with the points.
    SearchOptions exact;
    exact.k = 10;
    exact.exact = true;
    SearchOptions indexed = exact;
    indexed.exact = false;
    indexed.ef_search = 400;
    const std::vector<float> q = RandomVectors(1, kDim, 99);
    ASSERT_OK_AND_ASSIGN(auto a, c->Search(exact, q));
    ASSERT_OK_AND_ASSIGN(auto b, c->Search(indexed, q));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id) << name << ": index and exact search disagree at " << i;
  }

  TempDir tmp_;
  std::string path_;
  std::shared_ptr<FaultFs> fs_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::map<std::string, std::map<uint64_t, std::vector<float>>> acked_;
};

TEST_P(IoFaultTest, FailsClearlyStaysReadableLosesNothingAndRecovers) {
  const Case& tc = GetParam();
  const StatusCode want = tc.error == FaultFs::Error::kNoSpace ? StatusCode::kResourceExhausted : StatusCode::kUnavailable;
  fs_->Inject(tc.site.op, tc.error, tc.site.file);

  // 1. The call at the site fails with a clear status.
  Status s;
  uint64_t failed_first = 0;
  size_t failed_n = 0;
  switch (tc.site.action) {
    case Site::kUpsert:
    case Site::kUpsertSync:
      failed_first = 1000;
      failed_n = 20;
      s = Upsert("c", failed_first, failed_n, tc.site.action == Site::kUpsertSync);
      break;
    case Site::kCheckpoint:
      ASSERT_OK(Upsert("c", 300, 10, true));  // something for the checkpoint to save
      s = Get("c")->Checkpoint();
      break;
    case Site::kDrop:
      ASSERT_OK(Upsert("c", 300, 10, true));
      s = db_->DropCollection("other");  // committed first; its compaction writes tables
      if (s.ok()) acked_.erase("other");
      break;
  }
  EXPECT_GT(fs_->faults_fired(), 0) << "the fault was never reached";
  if (tc.site.reported) {
    ASSERT_FALSE(s.ok()) << "the call succeeded although its " << OpName(tc.site.op) << " failed";
    EXPECT_EQ(s.code(), want) << s.ToString();
    EXPECT_NE(s.message().find("injected"), std::string::npos) << "the status does not carry the cause: " << s.ToString();
  } else {
    EXPECT_OK(s);
  }

  // 2. The database stays readable, with every acknowledged point.
  ExpectAcknowledged("c", failed_first, failed_n);
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_EQ(list.size(), acked_.size());

  // 3. Once the fault clears, writes work again, or are refused clearly until a reopen.
  fs_->ClearFaults();
  Status again = Upsert("c", 2000, 5, true);
  if (!again.ok()) {
    std::printf("%s: writes refused until reopen after the fault: %s\n", Name(GetParam()).c_str(),
                again.ToString().c_str());
    EXPECT_TRUE(again.code() == StatusCode::kUnavailable || again.code() == StatusCode::kResourceExhausted)
        << again.ToString();
    ExpectAcknowledged("c", failed_first, failed_n);  // still readable
  } else {
    std::printf("%s: writes work again without a reopen\n", Name(GetParam()).c_str());
  }
  if (tc.site.action == Site::kCheckpoint) {
    EXPECT_OK(again);
    EXPECT_OK(Get("c")->Checkpoint());  // a checkpoint after the fault cleared
  }

  // 4. After a reopen: everything acknowledged, the index agrees, writes work.
  ASSERT_NO_FATAL_FAILURE(Reopen());
  ExpectAcknowledged("c", failed_first, failed_n);
  for (const auto& [name, points] : acked_) {
    ASSERT_OK_AND_ASSIGN(uint64_t n, Get(name)->Count());
    EXPECT_GE(n, points.size());
  }
  EXPECT_OK(Upsert("c", 3000, 5, true));
  ASSERT_NO_FATAL_FAILURE(Reopen());
  ExpectAcknowledged("c", failed_first, failed_n);
}

std::vector<Case> AllCases() {
  std::vector<Case> out;
  for (const Site& s : kSites) {
    for (auto e : {FaultFs::Error::kNoSpace, FaultFs::Error::kIo}) out.push_back({s, e});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Sites, IoFaultTest, ::testing::ValuesIn(AllCases()), CaseName);

// Opening fails clearly (never crashes) when the file system fails, and works once it does not.
TEST(IoFaultOpenTest, OpenFailsClearlyAndWorksOnceTheFaultClears) {
  TempDir tmp;
  auto fs = std::make_shared<FaultFs>();
  DatabaseOptions options;
  options.file_system = fs;
  {
    auto db = Database::Open(options, tmp.Sub("db"));
    ASSERT_TRUE(db.ok());
    CollectionOptions co;
    co.dimension = kDim;
    co.metric = Metric::kL2;
    ASSERT_TRUE((*db)->CreateCollection("c", co).ok());
  }
  fs->Inject(FaultFs::Op::kCreate, FaultFs::Error::kIo);
  auto failed = Database::Open(options, tmp.Sub("db"));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable) << failed.status().ToString();
  fs->ClearFaults();
  auto db = Database::Open(options, tmp.Sub("db"));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto list, (*db)->ListCollections());
  EXPECT_EQ(list.size(), 1u);
}

// A real full disk: a 12 MiB tmpfs the test mounts (skipped when it cannot mount: not root, or no
// mount namespace), filled through the database until the disk is full.
TEST(DiskFullTest, RealTmpfsFillsUpFailsClearlyAndRecoversWhenSpaceIsFreed) {
  TempDir tmp;
  const std::string mnt = tmp.Sub("small");
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=12m") != 0) {
    GTEST_SKIP() << "cannot mount a 12 MiB tmpfs on " << mnt << ": " << std::strerror(errno)
                 << " (needs root or CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  // Ballast, freed later to make room again.
  {
    std::ofstream ballast(mnt + "/ballast", std::ios::binary);
    std::string mb(1 << 20, 'x');
    for (int i = 0; i < 8; ++i) ballast.write(mb.data(), mb.size());
  }
  const std::string path = mnt + "/db";
  std::map<uint64_t, std::vector<float>> acked;
  Status full;
  uint64_t next = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, path));
    CollectionOptions co;
    co.dimension = 64;
    co.metric = Metric::kL2;
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", co));
    WriteOptions wo;
    wo.sync = true;
    for (int batch = 0; batch < 10'000; ++batch) {
      std::vector<float> v = RandomVectors(50, 64, static_cast<uint32_t>(batch + 1));
      Status s = c->Upsert(wo, NumericIds(next, 50), v);
      if (!s.ok()) {
        full = s;
        break;
      }
      for (size_t i = 0; i < 50; ++i) acked[next + i] = std::vector<float>(v.begin() + i * 64, v.begin() + (i + 1) * 64);
      next += 50;
    }
    ASSERT_FALSE(full.ok()) << "12 MiB never filled up";
    EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
    std::printf("disk full after %zu points: %s\n", acked.size(), full.ToString().c_str());
    // Still readable.
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_EQ(n, acked.size());
    ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId(uint64_t{0})));
    EXPECT_EQ(p.vector, acked[0]);
    // Free space: writes work again, or are refused clearly until a reopen.
    std::filesystem::remove(mnt + "/ballast");
    Status again = c->Upsert(wo, NumericIds(1'000'000, 1), RandomVectors(1, 64, 7));
    std::printf("after freeing space, without a reopen: %s\n", again.ok() ? "writes work" : again.ToString().c_str());
    if (again.ok()) acked[1'000'000] = RandomVectors(1, 64, 7);
  }
  // Reopening recovers the log into a table, which needs room: there is, the ballast is gone.
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, path));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  std::map<uint64_t, std::vector<float>> found;
  for (Point& p : ::sextant::testing::ScanAll(*c, 1000)) found[p.id.number()] = p.vector;
  // The batch that hit the full disk is all there or absent.
  size_t torn = 0;
  for (uint64_t i = next; i < next + 50; ++i) torn += found.erase(i);
  EXPECT_TRUE(torn == 0 || torn == 50) << torn;
  EXPECT_EQ(found, acked);
  WriteOptions wo;
  wo.sync = true;
  EXPECT_OK(c->Upsert(wo, NumericIds(2'000'000, 1), RandomVectors(1, 64, 8)));
}

}  // namespace
}  // namespace sextant
