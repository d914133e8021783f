// API keys: missing or unknown keys are UNAUTHENTICATED, read-only keys cannot write, health
// checks need no key.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

constexpr size_t kDim = 4;

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerFixture();
    const std::string key_file = server_->dir().Sub("keys.txt");
    std::ofstream(key_file) << "# keys for the test\n\nfile-rw\nfile-ro read-only\n";
    ASSERT_TRUE(server_->Start({"--api-key", "rw-key", "--read-only-key", "ro-key",
                                "--api-key-file", key_file}));
    v1::CollectionInfo info;
    auto status = server_->stub().CreateCollection(Ctx("rw-key").get(), CreateReq("docs", kDim), &info);
    ASSERT_TRUE(status.ok()) << Describe(status);
    v1::UpsertResponse resp;
    status = server_->stub().Upsert(Ctx("rw-key").get(), UpsertReq("docs", 0, 20, kDim, Vectors()), &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
  }
  void TearDown() override {
    if (HasFailure()) server_->PrintLog();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static const std::vector<float>& Vectors() {
    static const std::vector<float> v = RandomVectors(100, kDim, 5);
    return v;
  }
  v1::Sextant::Stub& stub() { return server_->stub(); }

  uint64_t Count() {
    v1::CountRequest req;
    req.set_collection("docs");
    v1::CountResponse resp;
    auto status = stub().Count(Ctx("rw-key").get(), req, &resp);
    EXPECT_TRUE(status.ok()) << Describe(status);
    return resp.count();
  }

  static ServerFixture* server_;
};
ServerFixture* AuthTest::server_ = nullptr;

TEST_F(AuthTest, NoKeyOrWrongKeyIsUnauthenticated) {
  v1::ServerInfoResponse info;
  EXPECT_EQ(stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub().ServerInfo(Ctx("wrong").get(), v1::ServerInfoRequest(), &info).error_code(),
            StatusCode::UNAUTHENTICATED);
  // A prefix or an extension of a real key is not the key.
  EXPECT_EQ(stub().ServerInfo(Ctx("rw-ke").get(), v1::ServerInfoRequest(), &info).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub().ServerInfo(Ctx("rw-key2").get(), v1::ServerInfoRequest(), &info).error_code(),
            StatusCode::UNAUTHENTICATED);
  // The key without the Bearer scheme.
  grpc::ClientContext raw;
  raw.AddMetadata("authorization", "rw-key");
  EXPECT_EQ(stub().ServerInfo(&raw, v1::ServerInfoRequest(), &info).error_code(),
            StatusCode::UNAUTHENTICATED);

  v1::CountRequest count_req;
  count_req.set_collection("docs");
  v1::CountResponse count;
  auto status = stub().Count(Ctx().get(), count_req, &count);
  EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_NE(status.error_message().find("authorization: Bearer"), std::string::npos)
      << status.error_message();
  v1::UpsertResponse up;
  EXPECT_EQ(stub().Upsert(Ctx("wrong").get(), UpsertReq("docs", 50, 1, kDim, Vectors()), &up)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Count(), 20u);
}

TEST_F(AuthTest, KeysReportTheirKind) {
  for (const auto& [key, read_only] : std::vector<std::pair<std::string, bool>>{
           {"rw-key", false}, {"ro-key", true}, {"file-rw", false}, {"file-ro", true}}) {
    v1::ServerInfoResponse info;
    auto status = stub().ServerInfo(Ctx(key).get(), v1::ServerInfoRequest(), &info);
    ASSERT_TRUE(status.ok()) << key << ": " << Describe(status);
    EXPECT_EQ(info.read_only(), read_only) << key;
  }
  // The scheme is case-insensitive.
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "bearer file-rw");
  v1::ServerInfoResponse info;
  EXPECT_TRUE(stub().ServerInfo(&ctx, v1::ServerInfoRequest(), &info).ok());
}

TEST_F(AuthTest, ReadOnlyKeyReadsButCannotWrite) {
  for (const std::string key : {"ro-key", "file-ro"}) {
    SCOPED_TRACE(key);
    // Reads work.
    v1::CountRequest count_req;
    count_req.set_collection("docs");
    v1::CountResponse count;
    ASSERT_TRUE(stub().Count(Ctx(key).get(), count_req, &count).ok());
    EXPECT_EQ(count.count(), 20u);
    v1::SearchRequest search;
    search.set_collection("docs");
    search.mutable_vector()->Resize(kDim, 0.5f);
    v1::SearchResponse hits;
    ASSERT_TRUE(stub().Search(Ctx(key).get(), search, &hits).ok());
    EXPECT_EQ(hits.hits_size(), 10);
    v1::ListCollectionsResponse list;
    ASSERT_TRUE(stub().ListCollections(Ctx(key).get(), v1::ListCollectionsRequest(), &list).ok());

    // Every write is PERMISSION_DENIED.
    v1::CollectionInfo info;
    EXPECT_EQ(stub().CreateCollection(Ctx(key).get(), CreateReq("other", kDim), &info).error_code(),
              StatusCode::PERMISSION_DENIED);
    v1::DropCollectionRequest drop;
    drop.set_name("docs");
    v1::DropCollectionResponse dropped;
    EXPECT_EQ(stub().DropCollection(Ctx(key).get(), drop, &dropped).error_code(),
              StatusCode::PERMISSION_DENIED);
    v1::SetIndexRequest set;
    set.set_collection("docs");
    set.mutable_index()->set_spec("HNSW8");
    EXPECT_EQ(stub().SetIndex(Ctx(key).get(), set, &info).error_code(),
              StatusCode::PERMISSION_DENIED);
    v1::UpsertResponse up;
    auto status = stub().Upsert(Ctx(key).get(), UpsertReq("docs", 50, 3, kDim, Vectors()), &up);
    EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED);
    EXPECT_NE(status.error_message().find("read-only"), std::string::npos) << status.error_message();
    v1::DeleteRequest del;
    del.set_collection("docs");
    del.set_filter("{}");
    v1::DeleteResponse deleted;
    EXPECT_EQ(stub().Delete(Ctx(key).get(), del, &deleted).error_code(),
              StatusCode::PERMISSION_DENIED);
    auto ctx = Ctx(key);
    auto stream = stub().UpsertStream(ctx.get());
    stream->Write(UpsertReq("docs", 60, 3, kDim, Vectors()));
    v1::UpsertProgress progress;
    EXPECT_FALSE(stream->Read(&progress));
    EXPECT_EQ(stream->Finish().error_code(), StatusCode::PERMISSION_DENIED);

    // Nothing changed.
    EXPECT_EQ(Count(), 20u);
    v1::DescribeCollectionRequest describe;
    describe.set_name("docs");
    ASSERT_TRUE(stub().DescribeCollection(Ctx(key).get(), describe, &info).ok());
    EXPECT_EQ(info.index(), "Flat");
  }
}

TEST_F(AuthTest, ReadWriteKeysWrite) {
  v1::UpsertResponse up;
  ASSERT_TRUE(stub().Upsert(Ctx("file-rw").get(), UpsertReq("docs", 20, 5, kDim, Vectors()), &up).ok());
  EXPECT_EQ(Count(), 25u);
  v1::DeleteRequest del;
  del.set_collection("docs");
  for (uint64_t id = 20; id < 25; ++id) del.mutable_ids()->add_ids()->set_num(id);
  v1::DeleteResponse deleted;
  ASSERT_TRUE(stub().Delete(Ctx("rw-key").get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 5u);
}

TEST_F(AuthTest, HealthCheckNeedsNoKey) {
  grpc::ClientContext ctx;
  std::string response;
  // HealthCheckRequest{service: ""} is empty on the wire; SERVING is status = 1 (08 01).
  auto status = RawUnaryCall(server_->channel(), "/grpc.health.v1.Health/Check", "", &response, &ctx);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(response, std::string("\x08\x01", 2));
}

}  // namespace
}  // namespace sextant::testing
