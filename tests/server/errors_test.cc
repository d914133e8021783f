// Every documented error code of sextantd, with messages that name the bad field.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

constexpr size_t kDim = 8;

// One server for the suite, with small limits so that they are cheap to hit.
class ErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerFixture();
    ASSERT_TRUE(server_->Start({"--max-message-bytes", "200000", "--max-batch-points", "500",
                                "--max-dimension", "1024"}));
    v1::CollectionInfo info;
    ASSERT_TRUE(server_->stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());
    v1::UpsertResponse resp;
    ASSERT_TRUE(server_->stub().Upsert(Ctx().get(), UpsertReq("docs", 0, 100, kDim, Vectors()), &resp).ok());
  }
  void TearDown() override {
    if (HasFailure()) server_->PrintLog();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static const std::vector<float>& Vectors() {
    static const std::vector<float> v = RandomVectors(10000, kDim, 3);
    return v;
  }
  v1::Sextant::Stub& stub() { return server_->stub(); }

  // Asserts `status` has `code` and a message containing every one of `parts`.
  static void ExpectError(const grpc::Status& status, StatusCode code,
                          std::initializer_list<std::string> parts) {
    EXPECT_EQ(status.error_code(), code) << Describe(status);
    for (const std::string& part : parts) {
      EXPECT_NE(status.error_message().find(part), std::string::npos)
          << "message \"" << status.error_message() << "\" lacks \"" << part << "\"";
    }
  }

  static ServerFixture* server_;
};
ServerFixture* ErrorsTest::server_ = nullptr;

TEST_F(ErrorsTest, WrongDimensionNamesThePoint) {
  v1::UpsertRequest req = UpsertReq("docs", 1000, 5, kDim, Vectors());
  req.mutable_points(3)->mutable_vector()->RemoveLast();
  v1::UpsertResponse resp;
  ExpectError(stub().Upsert(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"points[3].vector: 7 floats, collection \"docs\" has dimension 8"});

  v1::SearchRequest search;
  search.set_collection("docs");
  search.mutable_vector()->Resize(9, 0.5f);
  v1::SearchResponse hits;
  ExpectError(stub().Search(Ctx().get(), search, &hits), StatusCode::INVALID_ARGUMENT,
              {"vector: 9 floats", "dimension 8"});

  v1::SearchBatchRequest batch;
  batch.set_collection("docs");
  batch.mutable_vectors()->Resize(12, 0.5f);
  v1::SearchBatchResponse results;
  ExpectError(stub().SearchBatch(Ctx().get(), batch, &results), StatusCode::INVALID_ARGUMENT,
              {"vectors: 12 floats", "dimension 8"});
}

TEST_F(ErrorsTest, ConsistencyTokensAreEmptyOnASingleNodeAndMalformedOnesAreRefused) {
  // A collection of its own: the suite's "docs" keeps exactly 100 points for the other tests.
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("tokens", kDim), &info).ok());
  v1::UpsertRequest req = UpsertReq("tokens", 9000, 3, kDim, Vectors());
  v1::UpsertResponse resp;
  ASSERT_TRUE(stub().Upsert(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.consistency_token(), "");  // every read already sees every acknowledged write
  v1::CountRequest count;
  count.set_collection("tokens");
  count.set_consistency_token("v1.12.0");  // well formed: nothing to wait for on a single node
  v1::CountResponse n;
  ASSERT_TRUE(stub().Count(Ctx().get(), count, &n).ok());
#ifdef SEXTANT_WITH_CLUSTER
  count.set_consistency_token("v1.twelve");
  ExpectError(stub().Count(Ctx().get(), count, &n), StatusCode::INVALID_ARGUMENT,
              {"consistency_token: malformed consistency token"});
  req.set_consistency_token("garbage");
  ExpectError(stub().Upsert(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"consistency_token: malformed consistency token (not a v1 token)"});
  v1::SearchRequest search;
  search.set_collection("tokens");
  search.mutable_vector()->Resize(kDim, 0.5f);
  search.set_consistency_token("v1.");
  v1::SearchResponse hits;
  ExpectError(stub().Search(Ctx().get(), search, &hits), StatusCode::INVALID_ARGUMENT, {"consistency_token"});
#endif
}

TEST_F(ErrorsTest, NanAndUnsetIdAreInvalidAndWriteNothing) {
  v1::UpsertRequest req = UpsertReq("docs", 2000, 5, kDim, Vectors());
  req.mutable_points(4)->set_vector(2, std::numeric_limits<float>::quiet_NaN());
  v1::UpsertResponse resp;
  ExpectError(stub().Upsert(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"point 4", "vector[2]", "NaN"});

  req = UpsertReq("docs", 2000, 5, kDim, Vectors());
  req.mutable_points(2)->clear_id();
  ExpectError(stub().Upsert(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"points[2].id: unset"});

  // Neither batch wrote anything.
  v1::CountRequest count_req;
  count_req.set_collection("docs");
  v1::CountResponse count;
  ASSERT_TRUE(stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 100u);

  v1::GetRequest get;
  get.set_collection("docs");
  v1::Point point;
  ExpectError(stub().Get(Ctx().get(), get, &point), StatusCode::INVALID_ARGUMENT, {"id: unset"});

  v1::UpsertRequest bad_payload = UpsertReq("docs", 2000, 1, kDim, Vectors());
  bad_payload.mutable_points(0)->set_payload("[1, 2]");
  ExpectError(stub().Upsert(Ctx().get(), bad_payload, &resp), StatusCode::INVALID_ARGUMENT,
              {"payload"});

  v1::UpsertRequest empty;
  empty.set_collection("docs");
  ExpectError(stub().Upsert(Ctx().get(), empty, &resp), StatusCode::INVALID_ARGUMENT,
              {"points: empty"});
}

TEST_F(ErrorsTest, MalformedFilter) {
  v1::SearchRequest search;
  search.set_collection("docs");
  search.mutable_vector()->Resize(kDim, 0.5f);
  search.mutable_params()->set_filter("{\"group\": {\"$gt\": ");
  v1::SearchResponse hits;
  ExpectError(stub().Search(Ctx().get(), search, &hits), StatusCode::INVALID_ARGUMENT, {});

  v1::DeleteRequest del;
  del.set_collection("docs");
  del.set_filter("{\"$bogus\": 1}");
  v1::DeleteResponse deleted;
  ExpectError(stub().Delete(Ctx().get(), del, &deleted), StatusCode::INVALID_ARGUMENT, {});

  del.clear_filter();
  ExpectError(stub().Delete(Ctx().get(), del, &deleted), StatusCode::INVALID_ARGUMENT,
              {"selector"});

  v1::ScanRequest scan;
  scan.set_collection("docs");
  scan.set_filter("not json");
  v1::ScanResponse page;
  ExpectError(stub().Scan(Ctx().get(), scan, &page), StatusCode::INVALID_ARGUMENT, {});
  scan.clear_filter();
  scan.set_cursor("garbage");
  ExpectError(stub().Scan(Ctx().get(), scan, &page), StatusCode::INVALID_ARGUMENT, {"cursor"});
}

TEST_F(ErrorsTest, BadCreateRequests) {
  v1::CollectionInfo info;
  v1::CreateCollectionRequest req = CreateReq("c1", 4);
  req.set_metric(v1::METRIC_UNSPECIFIED);
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"metric"});
  ExpectError(stub().CreateCollection(Ctx().get(), CreateReq("c1", 2000), &info),
              StatusCode::INVALID_ARGUMENT, {"dimension: 2000", "max-dimension", "1024"});
  ExpectError(stub().CreateCollection(Ctx().get(), CreateReq("c1", 0), &info),
              StatusCode::INVALID_ARGUMENT, {});
  ExpectError(stub().CreateCollection(Ctx().get(), CreateReq("bad name!", 4), &info),
              StatusCode::INVALID_ARGUMENT, {});
  ExpectError(stub().CreateCollection(Ctx().get(), CreateReq("c1", 4, v1::METRIC_L2, "HNSW1x"), &info),
              StatusCode::INVALID_ARGUMENT, {"index.spec"});
  ExpectError(stub().CreateCollection(Ctx().get(), CreateReq("docs", 4), &info),
              StatusCode::ALREADY_EXISTS, {"docs"});
}

TEST_F(ErrorsTest, UnknownCollectionAndPointAreNotFound) {
  v1::DescribeCollectionRequest describe;
  describe.set_name("nope");
  v1::CollectionInfo info;
  ExpectError(stub().DescribeCollection(Ctx().get(), describe, &info), StatusCode::NOT_FOUND,
              {"nope"});
  v1::DropCollectionRequest drop;
  drop.set_name("nope");
  v1::DropCollectionResponse dropped;
  ExpectError(stub().DropCollection(Ctx().get(), drop, &dropped), StatusCode::NOT_FOUND, {});
  v1::UpsertResponse up;
  ExpectError(stub().Upsert(Ctx().get(), UpsertReq("nope", 0, 1, kDim, Vectors()), &up),
              StatusCode::NOT_FOUND, {});
  v1::CountRequest count_req;
  count_req.set_collection("nope");
  v1::CountResponse count;
  ExpectError(stub().Count(Ctx().get(), count_req, &count), StatusCode::NOT_FOUND, {});
  v1::SearchRequest search;
  search.set_collection("nope");
  search.mutable_vector()->Resize(kDim, 0.5f);
  v1::SearchResponse hits;
  ExpectError(stub().Search(Ctx().get(), search, &hits), StatusCode::NOT_FOUND, {});

  v1::GetRequest get;
  get.set_collection("docs");
  get.mutable_id()->set_num(999999);
  v1::Point point;
  ExpectError(stub().Get(Ctx().get(), get, &point), StatusCode::NOT_FOUND, {});

  // No collection named at all.
  count_req.clear_collection();
  ExpectError(stub().Count(Ctx().get(), count_req, &count), StatusCode::INVALID_ARGUMENT,
              {"collection"});
}

TEST_F(ErrorsTest, OversizeBatchAndMessageAreResourceExhausted) {
  v1::UpsertResponse resp;
  ExpectError(stub().Upsert(Ctx().get(), UpsertReq("docs", 0, 501, kDim, Vectors()), &resp),
              StatusCode::RESOURCE_EXHAUSTED, {"points: 501 points", "max-batch-points", "500"});
  // 500 is allowed.
  auto status = stub().Upsert(Ctx().get(), UpsertReq("docs", 0, 500, kDim, Vectors()), &resp);
  EXPECT_TRUE(status.ok()) << Describe(status);

  // About 300 KB, over --max-message-bytes 200000: gRPC refuses it before the service sees it.
  v1::UpsertRequest big = UpsertReq("docs", 0, 400, kDim, Vectors());
  for (auto& p : *big.mutable_points()) p.set_payload("{\"pad\": \"" + std::string(700, 'x') + "\"}");
  ASSERT_GT(big.ByteSizeLong(), 200000u);
  status = stub().Upsert(Ctx().get(), big, &resp);
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << Describe(status);

  v1::DeleteRequest del;
  del.set_collection("docs");
  for (int i = 0; i < 501; ++i) del.mutable_ids()->add_ids()->set_num(static_cast<uint64_t>(i) + 100000);
  v1::DeleteResponse deleted;
  ExpectError(stub().Delete(Ctx().get(), del, &deleted), StatusCode::RESOURCE_EXHAUSTED,
              {"max-batch-points"});

  v1::SearchBatchRequest batch;
  batch.set_collection("docs");
  batch.mutable_vectors()->Resize(501 * kDim, 0.25f);
  v1::SearchBatchResponse results;
  ExpectError(stub().SearchBatch(Ctx().get(), batch, &results), StatusCode::RESOURCE_EXHAUSTED,
              {"501 queries", "max-batch-points"});

  v1::ServerInfoResponse info;
  ASSERT_TRUE(stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info).ok());
  EXPECT_EQ(info.max_message_bytes(), 200000u);
  EXPECT_EQ(info.max_batch_points(), 500u);
  EXPECT_EQ(info.max_dimension(), 1024u);
}

TEST_F(ErrorsTest, StreamMessageFailingValidationEndsTheStreamKeepingEarlierBatches) {
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("stream_bad", kDim), &info).ok());
  auto ctx = Ctx();
  auto stream = stub().UpsertStream(ctx.get());
  ASSERT_TRUE(stream->Write(UpsertReq("stream_bad", 0, 50, kDim, Vectors())));
  v1::UpsertProgress progress;
  ASSERT_TRUE(stream->Read(&progress));
  EXPECT_EQ(progress.points(), 50u);
  v1::UpsertRequest bad = UpsertReq("", 50, 50, kDim, Vectors());
  bad.mutable_points(7)->mutable_vector()->Add(1.0f);
  stream->Write(bad);
  EXPECT_FALSE(stream->Read(&progress));
  ExpectError(stream->Finish(), StatusCode::INVALID_ARGUMENT,
              {"message 2", "points[7].vector: 9 floats"});

  v1::CountRequest count_req;
  count_req.set_collection("stream_bad");
  v1::CountResponse count;
  ASSERT_TRUE(stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 50u);

  // A later message for another collection is refused as well.
  auto ctx2 = Ctx();
  auto stream2 = stub().UpsertStream(ctx2.get());
  ASSERT_TRUE(stream2->Write(UpsertReq("stream_bad", 100, 10, kDim, Vectors())));
  ASSERT_TRUE(stream2->Read(&progress));
  stream2->Write(UpsertReq("docs", 100, 10, kDim, Vectors()));
  EXPECT_FALSE(stream2->Read(&progress));
  ExpectError(stream2->Finish(), StatusCode::INVALID_ARGUMENT, {"collection", "docs"});

  // And one whose first message names no collection, or an unknown one.
  auto ctx3 = Ctx();
  auto stream3 = stub().UpsertStream(ctx3.get());
  stream3->Write(UpsertReq("nope", 0, 10, kDim, Vectors()));
  EXPECT_FALSE(stream3->Read(&progress));
  ExpectError(stream3->Finish(), StatusCode::NOT_FOUND, {"message 1"});
}

TEST_F(ErrorsTest, WaitForIndexTimesOutWhileBuilding) {
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("slow", 32), &info).ok());
  const std::vector<float> v = RandomVectors(4000, 32, 11);
  for (uint64_t first = 0; first < 4000; first += 500) {
    v1::UpsertResponse resp;
    ASSERT_TRUE(stub().Upsert(Ctx().get(), UpsertReq("slow", first, 500, 32, v), &resp).ok());
  }
  v1::SetIndexRequest set;
  set.set_collection("slow");
  set.mutable_index()->set_spec("HNSW32");
  set.mutable_index()->set_ef_construction(800);
  ASSERT_TRUE(stub().SetIndex(Ctx().get(), set, &info).ok());
  ASSERT_EQ(info.index_state(), v1::INDEX_STATE_BUILDING);

  v1::WaitForIndexRequest wait;
  wait.set_collection("slow");
  wait.set_timeout_ms(1);
  ExpectError(stub().WaitForIndex(Ctx().get(), wait, &info), StatusCode::DEADLINE_EXCEEDED,
              {"still building"});

  // Without timeout_ms, the call's own deadline bounds the wait.
  wait.set_timeout_ms(0);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  EXPECT_EQ(stub().WaitForIndex(&ctx, wait, &info).error_code(), StatusCode::DEADLINE_EXCEEDED);

  // The server is still fine, and the build completes.
  wait.set_timeout_ms(60000);
  auto status = stub().WaitForIndex(Ctx().get(), wait, &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(info.index_state(), v1::INDEX_STATE_READY);
}

}  // namespace
}  // namespace sextant::testing
