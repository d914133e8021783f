// Contract tests of sextant::Database (database.h): open and create, the directory lock across
// threads and processes, the collection catalogue (names, dimensions, metrics, duplicates, drop,
// list) and what collection handles do once their collection or database is gone.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "../collection/engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::ChildDir;
using ::sextant::testing::ChildMode;
using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;
using ::testing::HasSubstr;

std::vector<float> Ones(size_t n) { return std::vector<float>(n, 1.0f); }

// ---- Open ----

TEST(DatabaseOpenTest, CreatesMissingDirectory) {
  TempDir tmp;
  const std::string path = tmp.Sub("a/b/db");
  ASSERT_FALSE(std::filesystem::exists(path));
  auto db = MustOpen(path);
  ASSERT_NE(db, nullptr);
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_EQ(db->path(), path);
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  EXPECT_TRUE(list.empty());
}

TEST(DatabaseOpenTest, ReopenSeesCollectionsWithTheirOptionsAndCounts) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    auto a = MustCreate(db.get(), "alpha", 3, Metric::kL2);
    auto b = MustCreate(db.get(), "beta", 5, Metric::kInnerProduct);
    auto c = MustCreate(db.get(), "gamma", 2, Metric::kCosine);
    ASSERT_OK(a->Upsert({}, NumericIds(0, 2), Ones(6)));
    ASSERT_OK(c->Upsert({}, NumericIds(0, 4), Ones(8)));
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, "alpha");
  EXPECT_EQ(list[0].dimension, 3u);
  EXPECT_EQ(list[0].metric, Metric::kL2);
  EXPECT_EQ(list[0].count, 2u);
  EXPECT_EQ(list[1].name, "beta");
  EXPECT_EQ(list[1].dimension, 5u);
  EXPECT_EQ(list[1].metric, Metric::kInnerProduct);
  EXPECT_EQ(list[1].count, 0u);
  EXPECT_EQ(list[2].name, "gamma");
  EXPECT_EQ(list[2].metric, Metric::kCosine);
  EXPECT_EQ(list[2].count, 4u);
  ASSERT_OK_AND_ASSIGN(auto b, db->GetCollection("beta"));
  EXPECT_EQ(b->name(), "beta");
  EXPECT_EQ(b->dimension(), 5u);
  EXPECT_EQ(b->metric(), Metric::kInnerProduct);
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, b->Describe());
  EXPECT_EQ(info.name, "beta");
  EXPECT_EQ(info.dimension, 5u);
  EXPECT_EQ(info.count, 0u);
}

TEST(DatabaseOpenTest, CreateIfMissingFalseOnMissingOrEmptyDirectoryIsNotFound) {
  TempDir tmp;
  DatabaseOptions o;
  o.create_if_missing = false;
  EXPECT_STATUS(Database::Open(o, tmp.Sub("nothing-here")), StatusCode::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("nothing-here")));

  std::filesystem::create_directories(tmp.Sub("empty"));
  EXPECT_STATUS(Database::Open(o, tmp.Sub("empty")), StatusCode::kNotFound);
  // The failed attempt did not leave a database behind.
  EXPECT_STATUS(Database::Open(o, tmp.Sub("empty")), StatusCode::kNotFound);

  // Once it exists, create_if_missing = false opens it.
  { ASSERT_NE(MustOpen(tmp.Sub("real")), nullptr); }
  auto db = Database::Open(o, tmp.Sub("real"));
  EXPECT_OK(db);
}

TEST(DatabaseOpenTest, ErrorIfExists) {
  TempDir tmp;
  DatabaseOptions o;
  o.error_if_exists = true;
  {
    // Nothing there yet: error_if_exists does not get in the way of creating it.
    auto db = Database::Open(o, tmp.Sub("db"));
    ASSERT_OK(db);
    auto c = MustCreate(db->get(), "c", 2, Metric::kL2);
    ASSERT_OK(c->Upsert({}, NumericIds(1, 1), Ones(2)));
  }
  EXPECT_STATUS(Database::Open(o, tmp.Sub("db")), StatusCode::kAlreadyExists);
  // The refused open changed nothing.
  auto db = MustOpen(tmp.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 1u);
}

TEST(DatabaseOpenTest, PathThatIsAFileIsAnError) {
  TempDir tmp;
  const std::string file = tmp.Sub("file");
  std::ofstream(file) << "not a database";
  auto db = Database::Open({}, file);
  EXPECT_FALSE(db.ok());
}

TEST(DatabaseOpenTest, SecondOpenInSameProcessFailsAtOnceAndFirstKeepsWorking) {
  TempDir tmp;
  auto first = MustOpen(tmp.path());
  auto c = MustCreate(first.get(), "c", 2, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(1, 1), Ones(2)));

  EXPECT_STATUS(Database::Open({}, tmp.path()), StatusCode::kFailedPrecondition);
  // Again, and through a different spelling of the same directory.
  EXPECT_STATUS(Database::Open({}, tmp.path() + "/."), StatusCode::kFailedPrecondition);
  DatabaseOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_STATUS(Database::Open(no_create, tmp.path()), StatusCode::kFailedPrecondition);

  // The failed attempts did not disturb the open database.
  ASSERT_OK(c->Upsert({}, NumericIds(2, 1), Ones(2)));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 2u);

  c.reset();
  first.reset();
  auto again = MustOpen(tmp.path());
  ASSERT_NE(again, nullptr);
  ASSERT_OK_AND_ASSIGN(auto c2, again->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(uint64_t n2, c2->Count());
  EXPECT_EQ(n2, 2u);
}

TEST(DatabaseOpenTest, OpenWorksAfterTheFirstCloses) {
  TempDir tmp;
  for (int round = 0; round < 3; ++round) {
    auto db = MustOpen(tmp.path());
    ASSERT_NE(db, nullptr) << "round " << round;
    auto c = MustCreate(db.get(), "c" + std::to_string(round), 1, Metric::kL2);
    ASSERT_NE(c, nullptr);
    ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
    EXPECT_EQ(list.size(), static_cast<size_t>(round + 1));
  }
}

TEST(DatabaseOpenTest, ConcurrentOpensOfOneDirectoryLetExactlyOneIn) {
  TempDir tmp;
  { ASSERT_NE(MustOpen(tmp.path()), nullptr); }
  constexpr int kThreads = 4;
  std::vector<StatusOr<std::unique_ptr<Database>>> results;
  results.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) results.emplace_back(Status::Internal("not run"));
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      results[i] = Database::Open({}, tmp.path());
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int ok = 0;
  for (auto& r : results) {
    if (r.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
    }
  }
  EXPECT_EQ(ok, 1);
}

// ---- The lock across processes ----

// Runs only as a child (SpawnHelper): opens the directory and exits with the status code's
// number; 100 + something when the open worked but the data was not as expected.
TEST(DatabaseChildHelper, Open) {
  if (ChildMode() != "open") GTEST_SKIP() << "helper for DatabaseLockTest; runs only in a child process";
  alarm(60);  // never hang, whatever happens
  auto db = Database::Open({}, ChildDir());
  if (!db.ok()) _exit(static_cast<int>(db.status().code()));
  auto c = (*db)->GetCollection("c");
  if (!c.ok()) _exit(101);
  auto n = (*c)->Count();
  if (!n.ok() || *n != 3) _exit(102);
  // Write something the parent can check afterwards.
  std::vector<PointId> ids = {PointId("from-child")};
  std::vector<float> v = {4, 5};
  if (!(*c)->Upsert({}, ids, v).ok()) _exit(103);
  db->reset();
  _exit(0);
}

int RunOpenChild(const std::string& dir) {
  auto child = testing::SpawnHelper("DatabaseChildHelper.Open", "open", dir);
  EXPECT_GT(child.pid, 0);
  int status = testing::WaitChild(child, std::chrono::seconds(60));
  EXPECT_NE(status, -1) << "the child's Open hung: it must fail at once, not wait";
  if (status < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// The lock file is opened with O_NOFOLLOW: a symbolic link in its place is refused, and the file
// it points to is neither truncated nor written (before, Open wrote its pid into the target).
TEST(DatabaseLockTest, LockFileThatIsASymlinkIsRefusedAndItsTargetUntouched) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  { auto db = MustOpen(dir); }
  const std::string target = tmp.Sub("precious.txt");
  {
    std::ofstream f(target);
    f << "do not truncate me\n";
  }
  std::filesystem::remove(dir + "/sextant.lock");
  std::filesystem::create_symlink(target, dir + "/sextant.lock");
  auto db = Database::Open({}, dir);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition) << db.status().ToString();
  EXPECT_THAT(db.status().message(), HasSubstr("symbolic link"));
  std::ifstream f(target);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "do not truncate me\n");
  // A directory in its place is refused too.
  std::filesystem::remove(dir + "/sextant.lock");
  std::filesystem::create_directory(dir + "/sextant.lock");
  EXPECT_STATUS(Database::Open({}, dir), StatusCode::kUnavailable);
}

TEST(DatabaseLockTest, OpenFromAnotherProcessFailsWhileOpenAndWorksAfterClose) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    auto c = MustCreate(db.get(), "c", 2, Metric::kL2);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 3), Ones(6)));
    EXPECT_EQ(RunOpenChild(tmp.path()), static_cast<int>(StatusCode::kFailedPrecondition))
        << "a second process opened a directory this process holds open";
    // Still ours, still working.
    ASSERT_OK(c->Upsert({}, NumericIds(3, 1), Ones(2)));
    ASSERT_OK(c->Delete({}, NumericIds(3, 1)));
  }
  EXPECT_EQ(RunOpenChild(tmp.path()), 0) << "the child could not open the closed database";
  // And the child's write is visible to us.
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId("from-child")));
  EXPECT_EQ(p.vector, (std::vector<float>{4, 5}));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 4u);
}

// ---- Collection names, dimensions, metrics ----

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = MustOpen(tmp_.path());
    ASSERT_NE(db_, nullptr);
  }
  CollectionOptions Opts(uint32_t dim, Metric m = Metric::kL2) {
    CollectionOptions o;
    o.dimension = dim;
    o.metric = m;
    return o;
  }
  TempDir tmp_;
  std::unique_ptr<Database> db_;
};

TEST_F(DatabaseTest, ValidCollectionNames) {
  const std::vector<std::string> good = {
      "a", "Z", "0", "9lives", "docs", "My_Collection-2.v1", "a.b.c", "a-", "a_", "a.",
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", std::string(128, 'x')};
  for (const std::string& name : good) {
    auto c = db_->CreateCollection(name, Opts(4));
    EXPECT_OK(c);
    if (c.ok()) {
      EXPECT_EQ((*c)->name(), name);
    }
    ASSERT_OK_AND_ASSIGN(auto got, db_->GetCollection(name));
    EXPECT_EQ(got->name(), name);
  }
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_EQ(list.size(), good.size());
}

TEST_F(DatabaseTest, InvalidCollectionNames) {
  const std::vector<std::string> bad = {"",
                                        std::string(129, 'x'),
                                        std::string(1000, 'a'),
                                        ".hidden",
                                        "-dash",
                                        "_under",
                                        ".",
                                        "..",
                                        "a b",
                                        "a/b",
                                        "../escape",
                                        "a\\b",
                                        "a:b",
                                        "a*",
                                        "caf\xc3\xa9",
                                        std::string("a\0b", 3),
                                        "tab\t",
                                        "new\nline"};
  for (const std::string& name : bad) {
    EXPECT_STATUS(db_->CreateCollection(name, Opts(4)), StatusCode::kInvalidArgument, "name");
  }
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_TRUE(list.empty()) << "a rejected name was created";
}

TEST_F(DatabaseTest, DimensionBounds) {
  EXPECT_STATUS(db_->CreateCollection("d0", Opts(0)), StatusCode::kInvalidArgument, "dimension");
  EXPECT_STATUS(db_->CreateCollection("dbig", Opts(65537)), StatusCode::kInvalidArgument, "dimension");
  EXPECT_STATUS(db_->CreateCollection("dmax", Opts(UINT32_MAX)), StatusCode::kInvalidArgument,
                "dimension");
  EXPECT_STATUS(db_->GetCollection("d0"), StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(auto one, db_->CreateCollection("d1", Opts(1)));
  EXPECT_EQ(one->dimension(), 1u);
  ASSERT_OK(one->Upsert({}, NumericIds(0, 3), std::vector<float>{3, -1, 10}));
  SearchOptions so;
  so.k = 3;
  ASSERT_OK_AND_ASSIGN(auto hits, one->Search(so, std::vector<float>{0}));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, PointId(uint64_t{1}));
  EXPECT_FLOAT_EQ(hits[0].score, 1.0f);
  EXPECT_EQ(hits[1].id, PointId(uint64_t{0}));
  EXPECT_FLOAT_EQ(hits[1].score, 9.0f);
  EXPECT_EQ(hits[2].id, PointId(uint64_t{2}));
  EXPECT_FLOAT_EQ(hits[2].score, 100.0f);

  ASSERT_OK_AND_ASSIGN(auto big, db_->CreateCollection("d65536", Opts(65536, Metric::kInnerProduct)));
  EXPECT_EQ(big->dimension(), 65536u);
  std::vector<float> v(2 * 65536, 0.5f);
  std::fill(v.begin() + 65536, v.end(), 0.25f);
  ASSERT_OK(big->Upsert({}, NumericIds(7, 2), v));
  ASSERT_OK_AND_ASSIGN(auto bh, big->Search(so, std::vector<float>(65536, 1.0f)));
  ASSERT_EQ(bh.size(), 2u);
  EXPECT_EQ(bh[0].id, PointId(uint64_t{7}));
  EXPECT_NEAR(bh[0].score, 32768.0, 1e-2);
  EXPECT_NEAR(bh[1].score, 16384.0, 1e-2);
  ASSERT_OK_AND_ASSIGN(Point p, big->Get(PointId(uint64_t{8})));
  EXPECT_EQ(p.vector.size(), 65536u);
  EXPECT_EQ(p.vector.back(), 0.25f);
}

TEST_F(DatabaseTest, InvalidMetric) {
  CollectionOptions o = Opts(4);
  o.metric = static_cast<Metric>(42);
  EXPECT_STATUS(db_->CreateCollection("m", o), StatusCode::kInvalidArgument, "metric");
  EXPECT_STATUS(db_->GetCollection("m"), StatusCode::kNotFound);
}

TEST_F(DatabaseTest, DuplicateNameIsAlreadyExistsAndKeepsTheOriginal) {
  auto c = MustCreate(db_.get(), "dup", 3, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 1), Ones(3)));
  EXPECT_STATUS(db_->CreateCollection("dup", Opts(3)), StatusCode::kAlreadyExists, "dup");
  EXPECT_STATUS(db_->CreateCollection("dup", Opts(8, Metric::kCosine)), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(auto got, db_->GetCollection("dup"));
  EXPECT_EQ(got->dimension(), 3u);
  EXPECT_EQ(got->metric(), Metric::kL2);
  ASSERT_OK_AND_ASSIGN(uint64_t n, got->Count());
  EXPECT_EQ(n, 1u);
  // Names are case-sensitive: "DUP" is another collection.
  EXPECT_OK(db_->CreateCollection("DUP", Opts(3)));
}

TEST_F(DatabaseTest, ConcurrentCreatesOfOneNameLetExactlyOneIn) {
  constexpr int kThreads = 6;
  std::vector<Status> st(kThreads);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      st[i] = db_->CreateCollection("race", Opts(static_cast<uint32_t>(i + 1))).status();
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const Status& s : st) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();
    }
  }
  EXPECT_EQ(ok, 1);
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_EQ(list.size(), 1u);
}

TEST_F(DatabaseTest, GetUnknownIsNotFoundAndGetReturnsTheSameObject) {
  EXPECT_STATUS(db_->GetCollection("nope"), StatusCode::kNotFound, "nope");
  EXPECT_STATUS(db_->GetCollection(""), StatusCode::kNotFound);
  auto c = MustCreate(db_.get(), "c", 2, Metric::kL2);
  ASSERT_OK_AND_ASSIGN(auto g1, db_->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(auto g2, db_->GetCollection("c"));
  EXPECT_EQ(g1.get(), c.get());
  EXPECT_EQ(g2.get(), c.get());
  // A write through one handle is seen through the other.
  ASSERT_OK(g1->Upsert({}, NumericIds(5, 1), Ones(2)));
  EXPECT_OK(g2->Get(PointId(uint64_t{5})));
}

TEST_F(DatabaseTest, DropThenGetIsNotFound) {
  auto c = MustCreate(db_.get(), "gone", 2, Metric::kL2);
  ASSERT_OK(db_->DropCollection("gone"));
  EXPECT_STATUS(db_->GetCollection("gone"), StatusCode::kNotFound);
  EXPECT_STATUS(db_->DropCollection("gone"), StatusCode::kNotFound);
  EXPECT_STATUS(db_->DropCollection("never-was"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_TRUE(list.empty());
}

TEST_F(DatabaseTest, DropFreesDataAndRecreateIsEmpty) {
  auto c = MustCreate(db_.get(), "x", 4, Metric::kL2);
  auto keep = MustCreate(db_.get(), "y", 4, Metric::kL2);
  std::vector<std::string> payloads(50, R"({"old":true})");
  ASSERT_OK(c->Upsert({}, NumericIds(0, 50), testing::RandomVectors(50, 4, 1), payloads));
  ASSERT_OK(keep->Upsert({}, NumericIds(0, 50), testing::RandomVectors(50, 4, 2), payloads));
  ASSERT_OK(db_->DropCollection("x"));

  // Same name, other options: a new, empty collection.
  auto fresh = MustCreate(db_.get(), "x", 4, Metric::kInnerProduct);
  ASSERT_NE(fresh, nullptr);
  EXPECT_NE(fresh.get(), c.get());
  ASSERT_OK_AND_ASSIGN(uint64_t n, fresh->Count());
  EXPECT_EQ(n, 0u);
  EXPECT_STATUS(fresh->Get(PointId(uint64_t{0})), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto hits, fresh->Search({}, Ones(4)));
  EXPECT_TRUE(hits.empty());
  EXPECT_TRUE(testing::ScanAll(*fresh).empty());
  // The old handle still refers to the dropped collection, not the new one.
  EXPECT_STATUS(c->Count(), StatusCode::kNotFound);
  // The other collection, with the same ids, is untouched.
  ASSERT_OK_AND_ASSIGN(uint64_t kn, keep->Count());
  EXPECT_EQ(kn, 50u);
  ASSERT_OK_AND_ASSIGN(Point kp, keep->Get(PointId(uint64_t{49})));
  EXPECT_EQ(kp.payload, R"({"old":true})");

  // Also after reopening: the dropped data does not come back.
  ASSERT_OK(fresh->Upsert({}, NumericIds(100, 1), Ones(4)));
  fresh.reset();
  keep.reset();
  c.reset();
  db_.reset();
  db_ = MustOpen(tmp_.path());
  ASSERT_OK_AND_ASSIGN(auto x, db_->GetCollection("x"));
  EXPECT_EQ(x->metric(), Metric::kInnerProduct);
  ASSERT_OK_AND_ASSIGN(uint64_t xn, x->Count());
  EXPECT_EQ(xn, 1u);
  EXPECT_STATUS(x->Get(PointId(uint64_t{0})), StatusCode::kNotFound);
  auto all = testing::ScanAll(*x);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, PointId(uint64_t{100}));
  ASSERT_OK_AND_ASSIGN(auto y, db_->GetCollection("y"));
  ASSERT_OK_AND_ASSIGN(uint64_t yn, y->Count());
  EXPECT_EQ(yn, 50u);
}

TEST_F(DatabaseTest, DroppedCollectionStaysDroppedAfterReopen) {
  auto c = MustCreate(db_.get(), "tmp", 2, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 10), Ones(20)));
  ASSERT_OK(db_->DropCollection("tmp"));
  c.reset();
  db_.reset();
  db_ = MustOpen(tmp_.path());
  EXPECT_STATUS(db_->GetCollection("tmp"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  EXPECT_TRUE(list.empty());
}

// Every call on a handle whose collection was dropped returns `code`.
void ExpectEveryCallFails(Collection& c, StatusCode code) {
  const uint32_t dim = c.dimension();
  std::vector<PointId> ids = {PointId(uint64_t{1})};
  std::vector<float> v(dim, 1.0f);
  EXPECT_STATUS(c.Upsert({}, ids, v), code);
  EXPECT_STATUS(c.Delete({}, ids), code);
  EXPECT_STATUS(c.Get(ids[0]), code);
  EXPECT_STATUS(c.Count(), code);
  EXPECT_STATUS(c.Scan({}), code);
  EXPECT_STATUS(c.Search({}, v), code);
  EXPECT_STATUS(c.SearchBatch({}, v), code);
  EXPECT_STATUS(c.Describe(), code);
  EXPECT_STATUS(c.DeleteWhere({}, "{}"), code);
  EXPECT_STATUS(c.Replace({}, "{}", ids, v, {}), code);
  EXPECT_STATUS(c.SetIndex(*IndexOptions::Parse("HNSW8")), code);
  EXPECT_STATUS(c.RebuildIndex(), code);
  EXPECT_STATUS(c.WaitForIndex(10), code);
  EXPECT_STATUS(c.Checkpoint(), code);
}

TEST_F(DatabaseTest, HandleHeldAcrossDropReturnsNotFound) {
  auto c = MustCreate(db_.get(), "held", 3, Metric::kCosine);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 5), testing::RandomVectors(5, 3, 7)));
  ASSERT_OK(db_->DropCollection("held"));
  EXPECT_EQ(c->name(), "held");
  EXPECT_EQ(c->dimension(), 3u);
  ExpectEveryCallFails(*c, StatusCode::kNotFound);
  // Recreating the name does not revive the old handle.
  auto again = MustCreate(db_.get(), "held", 3, Metric::kCosine);
  ExpectEveryCallFails(*c, StatusCode::kNotFound);
  EXPECT_OK(again->Count());
}

TEST_F(DatabaseTest, HandleDroppedByAnotherThreadReturnsNotFound) {
  auto c = MustCreate(db_.get(), "shared", 2, Metric::kL2);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 5), Ones(10)));
  std::thread([&] { EXPECT_OK(db_->DropCollection("shared")); }).join();
  ExpectEveryCallFails(*c, StatusCode::kNotFound);
}

TEST_F(DatabaseTest, ListCollectionsIsSortedByNameWithCounts) {
  const std::vector<std::string> names = {"zeta", "alpha", "Beta", "0first", "alpha.2", "alpha-1", "mid"};
  for (size_t i = 0; i < names.size(); ++i) {
    auto c = MustCreate(db_.get(), names[i], 2, Metric::kL2);
    ASSERT_NE(c, nullptr);
    if (i > 0) ASSERT_OK(c->Upsert({}, NumericIds(0, i), Ones(2 * i)));
  }
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  ASSERT_EQ(list.size(), names.size());
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].name, want[i]) << "position " << i;
    const size_t created_at = static_cast<size_t>(std::find(names.begin(), names.end(), list[i].name) - names.begin());
    EXPECT_EQ(list[i].count, created_at) << list[i].name;
    EXPECT_EQ(list[i].dimension, 2u);
  }
  ASSERT_OK(db_->DropCollection("alpha"));
  ASSERT_OK_AND_ASSIGN(auto after, db_->ListCollections());
  ASSERT_EQ(after.size(), names.size() - 1);
  for (const auto& info : after) EXPECT_NE(info.name, "alpha");
  EXPECT_TRUE(std::is_sorted(after.begin(), after.end(),
                             [](const CollectionInfo& a, const CollectionInfo& b) { return a.name < b.name; }));
}

TEST_F(DatabaseTest, HandlesAfterDatabaseIsDestroyedReturnFailedPrecondition) {
  auto a = MustCreate(db_.get(), "a", 4, Metric::kL2);
  auto b = MustCreate(db_.get(), "b", 4, Metric::kCosine);
  ASSERT_OK(a->Upsert({}, NumericIds(0, 10), testing::RandomVectors(10, 4, 3)));
  // With an index: its Checkpoint used to read the closed database's storage and write a file
  // into a directory the database no longer locked.
  CollectionOptions with_index;
  with_index.dimension = 4;
  with_index.metric = Metric::kL2;
  with_index.index = *IndexOptions::Parse("HNSW8");
  ASSERT_OK_AND_ASSIGN(auto h, db_->CreateCollection("h", with_index));
  ASSERT_OK(h->Upsert({}, NumericIds(0, 50), testing::RandomVectors(50, 4, 4)));
  ASSERT_OK(h->WaitForIndex(60000));
  db_.reset();
  ExpectEveryCallFails(*h, StatusCode::kFailedPrecondition);
  EXPECT_EQ(a->name(), "a");
  EXPECT_EQ(a->dimension(), 4u);
  EXPECT_EQ(b->metric(), Metric::kCosine);
  ExpectEveryCallFails(*a, StatusCode::kFailedPrecondition);
  ExpectEveryCallFails(*b, StatusCode::kFailedPrecondition);
  // The directory is released even though handles are still alive.
  auto db = MustOpen(tmp_.path());
  ASSERT_NE(db, nullptr);
  ASSERT_OK_AND_ASSIGN(auto a2, db->GetCollection("a"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, a2->Count());
  EXPECT_EQ(n, 10u);
  // The stale handle stays dead even while a new Database has the directory open.
  ExpectEveryCallFails(*a, StatusCode::kFailedPrecondition);
}

TEST_F(DatabaseTest, CollectionsAreIndependent) {
  auto a = MustCreate(db_.get(), "a", 2, Metric::kL2);
  auto b = MustCreate(db_.get(), "b", 2, Metric::kL2);
  ASSERT_OK(a->Upsert({}, NumericIds(0, 3), std::vector<float>{0, 0, 1, 1, 2, 2},
                      std::vector<std::string>{R"({"in":"a"})", "", ""}));
  ASSERT_OK(b->Upsert({}, NumericIds(0, 1), std::vector<float>{9, 9},
                      std::vector<std::string>{R"({"in":"b"})"}));
  ASSERT_OK_AND_ASSIGN(Point pa, a->Get(PointId(uint64_t{0})));
  ASSERT_OK_AND_ASSIGN(Point pb, b->Get(PointId(uint64_t{0})));
  EXPECT_EQ(pa.vector, (std::vector<float>{0, 0}));
  EXPECT_EQ(pa.payload, R"({"in":"a"})");
  EXPECT_EQ(pb.vector, (std::vector<float>{9, 9}));
  EXPECT_EQ(pb.payload, R"({"in":"b"})");
  EXPECT_EQ(testing::ScanAll(*a).size(), 3u);
  EXPECT_EQ(testing::ScanAll(*b).size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto hits, b->Search({}, std::vector<float>{0, 0}));
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t deleted, b->Delete({}, NumericIds(0, 3)));
  EXPECT_EQ(deleted, 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t na, a->Count());
  EXPECT_EQ(na, 3u);
}

// ---- Free functions of the public API ----

TEST(PublicApiTest, MetricNamesRoundTrip) {
  EXPECT_EQ(MetricName(Metric::kL2), "l2");
  EXPECT_EQ(MetricName(Metric::kInnerProduct), "ip");
  EXPECT_EQ(MetricName(Metric::kCosine), "cosine");
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    ASSERT_OK_AND_ASSIGN(Metric back, ParseMetric(MetricName(m)));
    EXPECT_EQ(back, m);
  }
  const std::vector<std::pair<std::string, Metric>> aliases = {
      {"euclidean", Metric::kL2}, {"dot", Metric::kInnerProduct},
      {"inner_product", Metric::kInnerProduct}, {"cos", Metric::kCosine}};
  for (const auto& [name, m] : aliases) {
    ASSERT_OK_AND_ASSIGN(Metric got, ParseMetric(name));
    EXPECT_EQ(got, m) << name;
  }
  EXPECT_STATUS(ParseMetric("manhattan"), StatusCode::kInvalidArgument, "manhattan");
  EXPECT_STATUS(ParseMetric(""), StatusCode::kInvalidArgument);
}

TEST(PublicApiTest, PointIdKinds) {
  PointId n(uint64_t{7});
  PointId s("7");
  EXPECT_TRUE(n.is_number());
  EXPECT_TRUE(s.is_string());
  EXPECT_NE(n, s);
  EXPECT_EQ(n.ToString(), "7");
  EXPECT_EQ(s.ToString(), "7");
  EXPECT_EQ(PointId(UINT64_MAX).ToString(), "18446744073709551615");
  EXPECT_EQ(PointId(std::string("abc")), PointId("abc"));
}

TEST(PublicApiTest, VersionAndSimdLevel) {
  EXPECT_TRUE(std::regex_match(std::string(Version()), std::regex(R"(\d+\.\d+\.\d+)"))) << Version();
  const std::string level(SimdLevelName());
  EXPECT_THAT((std::vector<std::string>{"scalar", "sse4", "avx2", "avx512"}), ::testing::Contains(level));
}

}  // namespace
}  // namespace sextant
