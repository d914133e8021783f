// The snapshot RPCs against a real sextantd with --snapshot-dir: create, list, restore (answers
// equal to the original's), download and upload round trip, damaged and truncated uploads
// (DATA_LOSS, nothing stored), and every error path (no --snapshot-dir, bad names, unknown
// snapshots, read-only keys, path tricks).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

constexpr size_t kDim = 8;

class SnapshotServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    snaps_ = server_.dir().Sub("snaps");
    ASSERT_TRUE(server_.Start({"--snapshot-dir", snaps_, "--read-only-key", "ro", "--api-key", "rw"}));
  }
  v1::Sextant::Stub& stub() { return server_.stub(); }

  void Fill(const std::string& name, const std::string& index) {
    v1::CollectionInfo info;
    auto s = stub().CreateCollection(Ctx("rw").get(), CreateReq(name, kDim, v1::METRIC_L2, index), &info);
    ASSERT_TRUE(s.ok()) << Describe(s);
    v1::UpsertResponse resp;
    s = stub().Upsert(Ctx("rw").get(), UpsertReq(name, 0, 500, kDim, vectors_), &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    v1::WaitForIndexRequest w;
    w.set_collection(name);
    w.set_timeout_ms(60000);
    s = stub().WaitForIndex(Ctx("rw").get(), w, &info);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }

  std::vector<v1::SearchResponse> Answers(const std::string& name) {
    std::vector<v1::SearchResponse> out;
    for (size_t q = 0; q < 5; ++q) {
      for (const char* filter : {"", "{\"group\": 3}"}) {
        v1::SearchRequest req;
        req.set_collection(name);
        for (size_t j = 0; j < kDim; ++j) req.add_vector(vectors_[900 * kDim + q * kDim + j]);
        req.mutable_params()->set_k(7);
        req.mutable_params()->set_filter(filter);
        req.mutable_params()->set_with_payload(true);
        v1::SearchResponse resp;
        auto s = stub().Search(Ctx("ro").get(), req, &resp);
        EXPECT_TRUE(s.ok()) << Describe(s);
        out.push_back(resp);
      }
    }
    return out;
  }

  static void ExpectSame(const std::vector<v1::SearchResponse>& a, const std::vector<v1::SearchResponse>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t q = 0; q < a.size(); ++q) {
      ASSERT_EQ(a[q].hits_size(), b[q].hits_size());
      for (int r = 0; r < a[q].hits_size(); ++r) {
        EXPECT_EQ(a[q].hits(r).id().SerializeAsString(), b[q].hits(r).id().SerializeAsString());
        EXPECT_EQ(a[q].hits(r).score(), b[q].hits(r).score());
        EXPECT_EQ(a[q].hits(r).payload(), b[q].hits(r).payload());
      }
    }
  }

  std::string Download(const std::string& name, grpc::Status* status) {
    v1::DownloadSnapshotRequest req;
    req.set_name(name);
    auto ctx = Ctx("ro");
    auto reader = stub().DownloadSnapshot(ctx.get(), req);
    std::string bytes;
    v1::SnapshotChunk chunk;
    while (reader->Read(&chunk)) {
      EXPECT_LE(chunk.data().size(), 1u << 20);
      bytes += chunk.data();
    }
    *status = reader->Finish();
    return bytes;
  }

  grpc::Status Upload(const std::string& bytes, const std::string& name, v1::SnapshotInfo* info,
                      const std::string& key = "rw") {
    auto ctx = Ctx(key);
    auto writer = stub().UploadSnapshot(ctx.get(), info);
    for (size_t at = 0, i = 0; at < bytes.size() || i == 0; at += 100000, ++i) {
      v1::UploadSnapshotRequest req;
      if (i == 0) req.set_name(name);
      req.set_data(bytes.substr(at, 100000));
      if (!writer->Write(req)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  ServerFixture server_;
  std::string snaps_;
  std::vector<float> vectors_ = RandomVectors(1000, kDim, 11);
};

TEST_F(SnapshotServerTest, CreateListRestoreDownloadUploadDelete) {
  Fill("docs", "HNSW8");
  Fill("other", "Flat");
  const auto before = Answers("docs");

  v1::CreateSnapshotRequest create;
  create.set_collection("docs");
  create.set_name("docs-1");
  v1::SnapshotInfo info;
  auto s = stub().CreateSnapshot(Ctx("rw").get(), create, &info);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(info.name(), "docs-1");
  EXPECT_EQ(info.scope(), "collection");
  ASSERT_EQ(info.collections_size(), 1);
  EXPECT_EQ(info.collections(0).count(), 500u);
  EXPECT_TRUE(info.collections(0).index_checkpoint());
  EXPECT_GT(info.bytes(), 500u * kDim * 4);
  EXPECT_TRUE(std::filesystem::exists(snaps_ + "/docs-1/MANIFEST.json"));

  v1::SnapshotInfo whole;
  s = stub().CreateSnapshot(Ctx("rw").get(), v1::CreateSnapshotRequest(), &whole);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(whole.scope(), "database");
  EXPECT_EQ(whole.collections_size(), 2);
  EXPECT_EQ(whole.name().rfind("db-", 0), 0u) << whole.name();

  v1::ListSnapshotsResponse list;
  s = stub().ListSnapshots(Ctx("ro").get(), v1::ListSnapshotsRequest(), &list);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(list.snapshots_size(), 2);

  // Later writes are not in the snapshot.
  v1::UpsertResponse up;
  ASSERT_TRUE(stub().Upsert(Ctx("rw").get(), UpsertReq("docs", 500, 100, kDim, vectors_), &up).ok());

  v1::RestoreSnapshotRequest restore;
  restore.set_name("docs-1");
  restore.set_collection("docs_restored");
  v1::CollectionInfo restored;
  s = stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(restored.count(), 500u);
  EXPECT_EQ(restored.index_origin(), "checkpoint");
  ExpectSame(before, Answers("docs_restored"));

  // Download, then upload under a new name; restore from the uploaded copy.
  grpc::Status ds;
  const std::string archive = Download("docs-1", &ds);
  ASSERT_TRUE(ds.ok()) << Describe(ds);
  EXPECT_GT(archive.size(), info.bytes());
  v1::SnapshotInfo uploaded;
  s = Upload(archive, "docs-copy", &uploaded);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(uploaded.name(), "docs-copy");
  EXPECT_EQ(uploaded.collections(0).count(), 500u);
  restore.set_name("docs-copy");
  restore.set_collection("docs_uploaded");
  s = stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ExpectSame(before, Answers("docs_uploaded"));

  // Truncated and damaged uploads: DATA_LOSS, nothing stored.
  s = Upload(archive.substr(0, archive.size() / 2), "half", &uploaded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(s);
  std::string damaged = archive;
  damaged[damaged.size() / 2 + 17] ^= 0x40;
  s = Upload(damaged, "damaged", &uploaded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(s);
  s = Upload(std::string(), "", &uploaded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(s);
  // The same name again.
  s = Upload(archive, "docs-copy", &uploaded);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << Describe(s);
  s = stub().ListSnapshots(Ctx("ro").get(), v1::ListSnapshotsRequest(), &list);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(list.snapshots_size(), 3);
  for (const auto& e : std::filesystem::directory_iterator(snaps_)) {
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
  }

  // A snapshot damaged on the server's disk: restore and download refuse with DATA_LOSS.
  for (const auto& e : std::filesystem::recursive_directory_iterator(snaps_ + "/docs-copy/db")) {
    if (e.path().extension() == ".sst") {
      std::filesystem::resize_file(e.path(), std::filesystem::file_size(e.path()) - 10);
      break;
    }
  }
  restore.set_collection("from_damaged");
  s = stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(s);
  v1::DescribeCollectionRequest describe;
  describe.set_name("from_damaged");
  EXPECT_EQ(stub().DescribeCollection(Ctx("ro").get(), describe, &restored).error_code(), grpc::StatusCode::NOT_FOUND);
  Download("docs-copy", &ds);
  EXPECT_EQ(ds.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(ds);

  v1::DeleteSnapshotRequest del;
  del.set_name("docs-copy");
  v1::DeleteSnapshotResponse del_resp;
  s = stub().DeleteSnapshot(Ctx("rw").get(), del, &del_resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_FALSE(std::filesystem::exists(snaps_ + "/docs-copy"));
  s = stub().DeleteSnapshot(Ctx("rw").get(), del, &del_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(s);
}

TEST_F(SnapshotServerTest, ErrorPaths) {
  Fill("docs", "Flat");
  v1::SnapshotInfo info;
  v1::CreateSnapshotRequest create;
  create.set_collection("nope");
  EXPECT_EQ(stub().CreateSnapshot(Ctx("rw").get(), create, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  create.set_collection("docs");
  create.set_name("../../etc");
  auto s = stub().CreateSnapshot(Ctx("rw").get(), create, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_NE(s.error_message().find("name"), std::string::npos) << s.error_message();
  create.set_name("ok");
  s = stub().CreateSnapshot(Ctx("ro").get(), create, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(s);
  ASSERT_TRUE(stub().CreateSnapshot(Ctx("rw").get(), create, &info).ok());
  EXPECT_EQ(stub().CreateSnapshot(Ctx("rw").get(), create, &info).error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::RestoreSnapshotRequest restore;
  v1::CollectionInfo restored;
  restore.set_collection("x");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  restore.set_name("missing");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::NOT_FOUND);
  restore.set_name("/tmp");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  restore.set_name("ok");
  restore.set_collection("");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  restore.set_collection("docs");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  restore.set_collection("x");
  restore.set_source("zzz");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("rw").get(), restore, &restored).error_code(), grpc::StatusCode::NOT_FOUND);
  restore.set_source("");
  EXPECT_EQ(stub().RestoreSnapshot(Ctx("ro").get(), restore, &restored).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  grpc::Status ds;
  Download("missing", &ds);
  EXPECT_EQ(ds.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(ds);
  Download("..", &ds);
  EXPECT_EQ(ds.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(ds);
  v1::SnapshotInfo up;
  s = Upload("garbage that is not a tar archive at all", "g", &up);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS) << Describe(s);
  const std::string archive = Download("ok", &ds);
  ASSERT_TRUE(ds.ok());
  s = Upload(archive, "bad/name", &up);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << Describe(s);
  s = Upload(archive, "ro-upload", &up, "ro");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << Describe(s);
  v1::DeleteSnapshotRequest del;
  v1::DeleteSnapshotResponse del_resp;
  del.set_name("ok");
  EXPECT_EQ(stub().DeleteSnapshot(Ctx("ro").get(), del, &del_resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  del.set_name("");
  EXPECT_EQ(stub().DeleteSnapshot(Ctx("rw").get(), del, &del_resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(SnapshotServerNoDirTest, SnapshotRpcsNeedASnapshotDir) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  v1::SnapshotInfo info;
  auto s = server.stub().CreateSnapshot(Ctx().get(), v1::CreateSnapshotRequest(), &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << Describe(s);
  EXPECT_NE(s.error_message().find("--snapshot-dir"), std::string::npos) << s.error_message();
  v1::ListSnapshotsResponse list;
  EXPECT_EQ(server.stub().ListSnapshots(Ctx().get(), v1::ListSnapshotsRequest(), &list).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(SnapshotServerFlagsTest, SnapshotDirFlagErrors) {
  TempDir tmp;
  std::string out;
  EXPECT_EQ(RunSextantd({"--data", tmp.Sub("d"), "--snapshot-dir", ""}, &out), 2) << out;
  EXPECT_NE(out.find("--snapshot-dir"), std::string::npos) << out;
  EXPECT_EQ(RunSextantd({"--data", tmp.Sub("d"), "--listen", "127.0.0.1:0", "--snapshot-dir", tmp.Sub("d")}, &out), 2)
      << out;
  EXPECT_NE(out.find("--snapshot-dir"), std::string::npos) << out;
}

}  // namespace
}  // namespace sextant::testing
