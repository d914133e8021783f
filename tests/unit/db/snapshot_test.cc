// Snapshots and restore (sextant/snapshot.h, Database::CreateSnapshot / RestoreCollection):
// every index type restores from its checkpoint and answers exactly as the original; snapshots
// taken while writing hold whole batches; damaged, truncated or incomplete snapshots and
// archives are refused with DataLoss and leave nothing behind; names, listing and deletion.
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "../collection/engine_test_helpers.h"
#include "sextant/snapshot.h"

namespace sextant {
namespace {

namespace fs = std::filesystem;
using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::ScanAll;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 16;

std::vector<float> RandomVectors(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n * kDim);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<std::string> Payloads(uint64_t first, size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t id = first + i;
    out.push_back("{\"g\":" + std::to_string(id % 5) + ",\"name\":\"p" + std::to_string(id) + "\"}");
  }
  return out;
}

std::shared_ptr<Collection> CreateIndexed(Database* db, const std::string& name, const std::string& spec) {
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = Metric::kL2;
  auto idx = IndexOptions::Parse(spec);
  EXPECT_TRUE(idx.ok()) << spec;
  o.index = *idx;
  o.payload_indexes = {{"g", PayloadFieldType::kInteger}};
  auto c = db->CreateCollection(name, o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// Every answer a collection gives to a fixed set of queries (plain and filtered, ANN and exact).
std::vector<std::vector<Hit>> Answers(const Collection& c) {
  std::vector<std::vector<Hit>> out;
  const std::vector<float> queries = RandomVectors(8, 99);
  for (const std::string& filter : {std::string(), std::string("{\"g\": 2}")}) {
    for (bool exact : {false, true}) {
      for (size_t q = 0; q < 8; ++q) {
        SearchOptions so;
        so.k = 10;
        so.filter = filter;
        so.exact = exact;
        so.with_payload = true;
        auto hits = c.Search(so, std::span<const float>(queries.data() + q * kDim, kDim));
        EXPECT_TRUE(hits.ok()) << hits.status().ToString();
        out.push_back(hits.ok() ? *hits : std::vector<Hit>{});
      }
    }
  }
  return out;
}

void ExpectIdentical(const std::vector<std::vector<Hit>>& a, const std::vector<std::vector<Hit>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t q = 0; q < a.size(); ++q) {
    ASSERT_EQ(a[q].size(), b[q].size()) << "query " << q;
    for (size_t r = 0; r < a[q].size(); ++r) {
      EXPECT_EQ(a[q][r].id, b[q][r].id) << "query " << q << " rank " << r;
      EXPECT_EQ(a[q][r].score, b[q][r].score) << "query " << q << " rank " << r;
      EXPECT_EQ(a[q][r].payload, b[q][r].payload) << "query " << q << " rank " << r;
    }
  }
}

void Fill(Collection* c, uint64_t first, size_t n, uint32_t seed) {
  ASSERT_OK(c->Upsert({}, NumericIds(first, n), RandomVectors(n, seed), Payloads(first, n)));
}

// The first file under `dir` whose name ends with `suffix`.
std::string FindFile(const std::string& dir, const std::string& suffix) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string p = e.path().string();
    if (e.is_regular_file() && p.size() >= suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return p;
    }
  }
  return "";
}

bool NoStagingLeft(const std::string& dir) {
  if (!fs::exists(dir)) return true;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) return false;
  }
  return true;
}

class EveryIndexTest : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryIndexTest, RestoresFromItsCheckpointAndAnswersExactlyAsTheOriginal) {
  TempDir tmp;
  const std::string snaps = tmp.Sub("snaps");
  auto db = MustOpen(tmp.Sub("db"));
  auto c = CreateIndexed(db.get(), "orig", GetParam());
  // PQ trains its codebooks on at least 39 * 256 points.
  // (with 100 to spare: the 50 deletes below must not take it under the minimum, or whether it
  // trains depends on when the background build starts).
  const size_t n = GetParam().find("PQ") != std::string::npos ? 10100 : 3000;
  const uint64_t live = n - 50;
  Fill(c.get(), 0, n, 1);
  ASSERT_OK(c->Delete({}, NumericIds(100, 50)));  // removed points are part of the state too
  ASSERT_OK(c->WaitForIndex(60000));
  const auto before = Answers(*c);

  SnapshotOptions so;
  so.directory = snaps;
  so.collection = "orig";
  ASSERT_OK_AND_ASSIGN(SnapshotInfo info, db->CreateSnapshot(so));
  EXPECT_EQ(info.scope, "collection");
  ASSERT_EQ(info.collections.size(), 1u);
  EXPECT_EQ(info.collections[0].name, "orig");
  EXPECT_EQ(info.collections[0].count, live);
  EXPECT_EQ(info.collections[0].has_index_checkpoint, GetParam() != "Flat");
  EXPECT_GT(info.bytes, n * kDim * 4);

  // Writes after the snapshot are not in it.
  Fill(c.get(), 10000, 10, 7);

  ASSERT_OK_AND_ASSIGN(CollectionInfo restored_info, db->RestoreCollection(info.path, "", "copy"));
  EXPECT_EQ(restored_info.count, live);
  EXPECT_EQ(restored_info.index, c->Describe()->index);
  ASSERT_OK_AND_ASSIGN(auto copy, db->GetCollection("copy"));
  if (GetParam() != "Flat") {
    EXPECT_EQ(restored_info.index_origin, "checkpoint") << "the index was rebuilt";
    EXPECT_EQ(restored_info.index_state, IndexState::kReady);
  }
  // The original minus its later writes answers as the copy does.
  ASSERT_OK(c->Delete({}, NumericIds(10000, 10)));
  ExpectIdentical(before, Answers(*copy));
  ASSERT_OK_AND_ASSIGN(Point p, copy->Get(PointId(uint64_t{7})));
  EXPECT_EQ(p.payload, Payloads(7, 1)[0]);
  EXPECT_EQ(copy->Get(PointId(uint64_t{120})).status().code(), StatusCode::kNotFound);

  // A new database from the snapshot, and it survives a reopen.
  ASSERT_OK(RestoreDatabase(info.path, tmp.Sub("restored")));
  for (int round = 0; round < 2; ++round) {
    auto db2 = MustOpen(tmp.Sub("restored"));
    ASSERT_OK_AND_ASSIGN(auto list, db2->ListCollections());
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].name, "orig");
    EXPECT_EQ(list[0].count, live);
    if (GetParam() != "Flat") {
      EXPECT_EQ(list[0].index_origin, "checkpoint");
    }
    ASSERT_OK_AND_ASSIGN(auto c2, db2->GetCollection("orig"));
    ExpectIdentical(before, Answers(*c2));
  }
  // The copy in the first database survives a reopen as well.
  db.reset();
  db = MustOpen(tmp.Sub("db"));
  ASSERT_OK_AND_ASSIGN(copy, db->GetCollection("copy"));
  ExpectIdentical(before, Answers(*copy));
}

INSTANTIATE_TEST_SUITE_P(Indexes, EveryIndexTest,
                         ::testing::Values("Flat", "HNSW8", "HNSW8,SQ8", "IVF16", "IVF16,SQ8", "IVF16,PQ4"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(SnapshotTest, WholeDatabaseWhileWritingHoldsWholeBatchesInOrder) {
  TempDir tmp;
  auto db = MustOpen(tmp.Sub("db"));
  auto a = CreateIndexed(db.get(), "a", "HNSW8");
  auto b = CreateIndexed(db.get(), "b", "Flat");
  constexpr size_t kBatch = 40;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> batches_a{0}, batches_b{0};
  auto writer = [&](Collection* c, std::atomic<uint64_t>* done, uint32_t seed) {
    for (uint64_t i = 0; !stop && i < 100000; ++i) {
      Status s = c->Upsert({}, NumericIds(i * kBatch, kBatch), RandomVectors(kBatch, seed + static_cast<uint32_t>(i)),
                           Payloads(i * kBatch, kBatch));
      if (!s.ok()) {
        ADD_FAILURE() << s.ToString();
        return;
      }
      done->store(i + 1);
    }
  };
  std::thread ta(writer, a.get(), &batches_a, 1000), tb(writer, b.get(), &batches_b, 5000);
  while (batches_a < 20 || batches_b < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const uint64_t acked_a = batches_a, acked_b = batches_b;  // acknowledged before the snapshot
  SnapshotOptions so;
  so.directory = tmp.Sub("snaps");
  so.name = "nightly";
  auto info = db->CreateSnapshot(so);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  ta.join();
  tb.join();
  ASSERT_OK(info.status());
  EXPECT_EQ(info->name, "nightly");
  EXPECT_EQ(info->scope, "database");
  ASSERT_EQ(info->collections.size(), 2u);

  ASSERT_OK(RestoreDatabase(info->path, tmp.Sub("restored")));
  auto db2 = MustOpen(tmp.Sub("restored"));
  for (const auto& [name, acked, seed] : {std::tuple{"a", acked_a, 1000u}, std::tuple{"b", acked_b, 5000u}}) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(auto c, db2->GetCollection(name));
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    // Whole batches, every acknowledged one, and a prefix of the writer's sequence.
    EXPECT_EQ(n % kBatch, 0u);
    EXPECT_GE(n, acked * kBatch);
    const auto& listed = info->collections[std::string(name) == "a" ? 0 : 1];
    EXPECT_EQ(listed.count, n);
    const auto points = ScanAll(*c, 5000);
    ASSERT_EQ(points.size(), n);
    for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(points[i].id, PointId(i));
    // Vectors are the ones written.
    const uint64_t last_batch = n / kBatch - 1;
    const auto expect = RandomVectors(kBatch, seed + static_cast<uint32_t>(last_batch));
    ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId(last_batch * kBatch)));
    EXPECT_EQ(p.vector, std::vector<float>(expect.begin(), expect.begin() + kDim));
  }
  ASSERT_OK_AND_ASSIGN(auto ra, db2->GetCollection("a"));
  EXPECT_EQ(ra->Describe()->index_origin, "checkpoint");
  // Exact search on the restored HNSW collection finds each point itself.
  SearchOptions exact;
  exact.k = 1;
  ASSERT_OK_AND_ASSIGN(Point p0, ra->Get(PointId(uint64_t{3})));
  ASSERT_OK_AND_ASSIGN(auto hits, ra->Search(exact, p0.vector));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId(uint64_t{3}));
}

class DamagedSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = MustOpen(tmp_.Sub("db"));
    auto c = CreateIndexed(db_.get(), "src", "HNSW8");
    Fill(c.get(), 0, 2000, 3);
    ASSERT_OK(c->WaitForIndex(60000));
    SnapshotOptions so;
    so.directory = tmp_.Sub("snaps");
    so.collection = "src";
    so.name = "s1";
    ASSERT_OK_AND_ASSIGN(info_, db_->CreateSnapshot(so));
  }

  // Every way of restoring refuses with DataLoss and leaves nothing behind.
  void ExpectRefusedCleanly(const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_STATUS(VerifySnapshot(info_.path), StatusCode::kDataLoss);
    EXPECT_STATUS(db_->RestoreCollection(info_.path, "src", "restored"), StatusCode::kDataLoss);
    ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
    EXPECT_EQ(list.size(), 1u);
    EXPECT_EQ(db_->GetCollection("restored").status().code(), StatusCode::kNotFound);
    EXPECT_STATUS(RestoreDatabase(info_.path, tmp_.Sub("newdb")), StatusCode::kDataLoss);
    EXPECT_FALSE(fs::exists(tmp_.Sub("newdb")));
    EXPECT_TRUE(NoStagingLeft(tmp_.path()));
    // The name is still free: a later good restore works.
    EXPECT_EQ(db_->CreateCollection("restored", CollectionOptions{}).status().code(), StatusCode::kInvalidArgument)
        << "(dimension 0 is refused, which proves the name itself was free)";
  }

  TempDir tmp_;
  std::unique_ptr<Database> db_;
  SnapshotInfo info_;
};

TEST_F(DamagedSnapshotTest, FlippedByteInAnSstFile) {
  const std::string sst = FindFile(info_.path + "/db", ".sst");
  ASSERT_FALSE(sst.empty());
  {
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(sst) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(sst) / 2));
    c ^= 0x5a;
    f.write(&c, 1);
  }
  ExpectRefusedCleanly("flipped byte");
}

TEST_F(DamagedSnapshotTest, TruncatedIndexFile) {
  const std::string sxi = FindFile(info_.path + "/index", ".sxi");
  ASSERT_FALSE(sxi.empty());
  fs::resize_file(sxi, fs::file_size(sxi) - 100);
  ExpectRefusedCleanly("truncated index file");
}

TEST_F(DamagedSnapshotTest, MissingFile) {
  fs::remove(info_.path + "/db/CURRENT");
  ExpectRefusedCleanly("missing CURRENT");
}

TEST_F(DamagedSnapshotTest, EditedManifest) {
  const std::string m = info_.path + "/MANIFEST.json";
  std::ifstream in(m);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t at = text.find("\"count\": 2000");
  ASSERT_NE(at, std::string::npos) << text;
  text.replace(at, 13, "\"count\": 2001");
  std::ofstream(m, std::ios::trunc) << text;
  ExpectRefusedCleanly("edited manifest");
}

TEST_F(DamagedSnapshotTest, ArchiveRoundTripAndTruncatedOrDamagedArchives) {
  const std::string archive = tmp_.Sub("s1.tar");
  ASSERT_OK(ExportSnapshotArchive(info_.path, archive));
  const std::string other = tmp_.Sub("other");
  // Round trip: imported under a new name, restorable.
  ASSERT_OK_AND_ASSIGN(SnapshotInfo imported, ImportSnapshotArchive(archive, other, "copied"));
  EXPECT_EQ(imported.name, "copied");
  EXPECT_EQ(imported.collections.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto restored, db_->RestoreCollection(imported.path, "", "from_archive"));
  EXPECT_EQ(restored.count, 2000u);
  EXPECT_EQ(restored.index_origin, "checkpoint");
  // The same name again: AlreadyExists, nothing half-written.
  EXPECT_STATUS(ImportSnapshotArchive(archive, other, "copied"), StatusCode::kAlreadyExists);
  EXPECT_TRUE(NoStagingLeft(other));

  std::string bytes;
  {
    std::ifstream in(archive, std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  for (size_t cut : {bytes.size() / 3, bytes.size() - 1024, bytes.size() - 1, size_t{100}}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::ofstream(tmp_.Sub("cut.tar"), std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(cut));
    EXPECT_STATUS(ImportSnapshotArchive(tmp_.Sub("cut.tar"), other, "cut"), StatusCode::kDataLoss);
    EXPECT_FALSE(fs::exists(other + "/cut"));
    EXPECT_TRUE(NoStagingLeft(other));
  }
  // A damaged byte in the middle of a file's data.
  std::string damaged = bytes;
  damaged[damaged.size() / 2] ^= 0x11;
  std::ofstream(tmp_.Sub("bad.tar"), std::ios::binary | std::ios::trunc).write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
  EXPECT_STATUS(ImportSnapshotArchive(tmp_.Sub("bad.tar"), other, "bad"), StatusCode::kDataLoss);
  EXPECT_FALSE(fs::exists(other + "/bad"));
  EXPECT_TRUE(NoStagingLeft(other));
  ASSERT_OK_AND_ASSIGN(auto listed, ListSnapshots(other));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "copied");
}

TEST(SnapshotArchiveTest, RefusesPathsThatLeaveTheSnapshot) {
  TempDir tmp;
  // A tar entry named "../evil" (ustar header built by hand).
  std::string h(512, '\0');
  std::memcpy(h.data(), "../evil", 7);
  std::memcpy(&h[100], "0000644", 7);
  std::memcpy(&h[124], "00000000001", 11);
  h[156] = '0';
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char ch : h) sum += ch;
  std::snprintf(&h[148], 8, "%06o", sum);
  ASSERT_OK_AND_ASSIGN(auto reader, SnapshotArchiveReader::Start(tmp.Sub("snaps")));
  EXPECT_STATUS(reader->Write(h), StatusCode::kInvalidArgument, "../evil");
  EXPECT_FALSE(fs::exists(tmp.Sub("evil")));
  reader.reset();
  EXPECT_TRUE(NoStagingLeft(tmp.Sub("snaps")));
}

TEST(SnapshotTest, NamesListingDeletionAndBadRequests) {
  TempDir tmp;
  const std::string snaps = tmp.Sub("snaps");
  auto db = MustOpen(tmp.Sub("db"));
  auto a = MustCreate(db.get(), "a", 4, Metric::kL2);
  auto b = MustCreate(db.get(), "b", 4, Metric::kL2);
  ASSERT_OK(a->Upsert({}, NumericIds(0, 3), std::vector<float>(12, 1.0f)));

  SnapshotOptions so;
  EXPECT_STATUS(db->CreateSnapshot(so), StatusCode::kInvalidArgument, "directory");
  so.directory = snaps;
  so.collection = "nope";
  EXPECT_STATUS(db->CreateSnapshot(so), StatusCode::kNotFound, "nope");
  so.collection = "a";
  so.name = "../x";
  EXPECT_STATUS(db->CreateSnapshot(so), StatusCode::kInvalidArgument, "snapshot name");
  so.name = "";
  ASSERT_OK_AND_ASSIGN(SnapshotInfo generated, db->CreateSnapshot(so));
  EXPECT_EQ(generated.name.rfind("a-", 0), 0u) << generated.name;
  so.collection = "";
  so.name = "full";
  ASSERT_OK_AND_ASSIGN(SnapshotInfo full, db->CreateSnapshot(so));
  EXPECT_STATUS(db->CreateSnapshot(so), StatusCode::kAlreadyExists, "full");
  EXPECT_TRUE(NoStagingLeft(snaps));

  ASSERT_OK_AND_ASSIGN(auto listed, ListSnapshots(snaps));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].name, "full");
  EXPECT_EQ(listed[1].collections.size(), 2u);
  EXPECT_EQ(listed[1].format_version, kSnapshotFormatVersion);
  ASSERT_OK_AND_ASSIGN(auto none, ListSnapshots(tmp.Sub("absent")));
  EXPECT_TRUE(none.empty());

  // A database snapshot holds several collections: the source must be named.
  EXPECT_STATUS(db->RestoreCollection(full.path, "", "x"), StatusCode::kInvalidArgument, "name the one");
  EXPECT_STATUS(db->RestoreCollection(full.path, "zzz", "x"), StatusCode::kNotFound, "zzz");
  EXPECT_STATUS(db->RestoreCollection(full.path, "a", "b"), StatusCode::kAlreadyExists, "b");
  EXPECT_STATUS(db->RestoreCollection(full.path, "a", "bad name"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(db->RestoreCollection(tmp.Sub("nothing"), "a", "x"), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto ra, db->RestoreCollection(full.path, "a", "a2"));
  EXPECT_EQ(ra.count, 3u);
  EXPECT_STATUS(RestoreDatabase(full.path, tmp.Sub("db")), StatusCode::kAlreadyExists);

  EXPECT_STATUS(DeleteSnapshot(snaps, "nope"), StatusCode::kNotFound);
  EXPECT_STATUS(DeleteSnapshot(snaps, "../db"), StatusCode::kInvalidArgument);
  ASSERT_OK(DeleteSnapshot(snaps, "full"));
  ASSERT_OK_AND_ASSIGN(listed, ListSnapshots(snaps));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, generated.name);
  EXPECT_TRUE(NoStagingLeft(snaps));
}

}  // namespace
}  // namespace sextant
