// The server's resource bounds, through the wire API: requests are validated before anything
// sized by them is allocated, and k, ef_search, nprobe and response sizes are bounded.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

// The peak resident memory (VmHWM) of process `pid`, in bytes; 0 when unknown.
uint64_t PeakRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// A request of `n` points with empty vectors.
v1::UpsertRequest EmptyVectors(const std::string& collection, size_t n) {
  v1::UpsertRequest req;
  req.set_collection(collection);
  for (size_t i = 0; i < n; ++i) req.add_points()->mutable_id()->set_num(i);
  return req;
}

TEST(LimitsTest, UpsertValidatesVectorLengthsBeforeAllocating) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  constexpr uint32_t kBigDim = 65536;
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("wide", kBigDim), &info).ok());
  const uint64_t before = PeakRss(server.process().pid());
  ASSERT_GT(before, 0u);

  // About 4 KB on the wire; allocating n x dim floats first would take 1000 x 65536 x 4 = 256 MiB.
  const v1::UpsertRequest req = EmptyVectors("wide", 1000);
  ASSERT_LT(req.ByteSizeLong(), 10000u);
  v1::UpsertResponse resp;
  grpc::Status s = server.stub().Upsert(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << Describe(s);
  EXPECT_NE(s.error_message().find("points[0].vector: 0 floats"), std::string::npos) << s.error_message();

  // The same through a stream.
  {
    auto ctx = Ctx();
    auto stream = server.stub().UpsertStream(ctx.get());
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::UpsertProgress progress;
    while (stream->Read(&progress)) {
    }
    s = stream->Finish();
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << Describe(s);
  }
  const uint64_t after = PeakRss(server.process().pid());
  EXPECT_LT(after, before + (64u << 20)) << "peak RSS grew from " << before << " to " << after;

  v1::CountResponse count;
  v1::CountRequest count_req;
  count_req.set_collection("wide");
  ASSERT_TRUE(server.stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 0u);
}


// One server with small bounds, a 256-d collection of 300 points with 1 KB payloads.
class BoundsTest : public ::testing::Test {
 protected:
  static constexpr size_t kDim = 256;
  static constexpr size_t kPoints = 300;
  static void SetUpTestSuite() {
    server_ = new ServerFixture();
    ASSERT_TRUE(server_->Start({"--max-message-bytes", "200000", "--max-k", "500",
                                "--max-ef-search", "600", "--max-nprobe", "20"}));
    v1::CollectionInfo info;
    ASSERT_TRUE(server_->stub().CreateCollection(Ctx().get(), CreateReq("c", kDim), &info).ok());
    const std::vector<float> vectors = RandomVectors(kPoints, kDim, 7);
    for (size_t first = 0; first < kPoints; first += 50) {
      v1::UpsertRequest req = UpsertReq("c", first, 50, kDim, vectors);
      for (auto& p : *req.mutable_points()) p.set_payload("{\"pad\":\"" + std::string(1000, 'x') + "\"}");
      v1::UpsertResponse resp;
      ASSERT_TRUE(server_->stub().Upsert(Ctx().get(), req, &resp).ok());
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    if (HasFailure()) server_->PrintLog();
  }
  v1::Sextant::Stub& stub() { return server_->stub(); }
  static v1::SearchRequest Query(uint32_t k) {
    v1::SearchRequest req;
    req.set_collection("c");
    req.mutable_vector()->Resize(kDim, 0.5f);
    req.mutable_params()->set_k(k);
    return req;
  }
  static void ExpectError(const grpc::Status& s, StatusCode code, const std::string& part) {
    EXPECT_EQ(s.error_code(), code) << Describe(s);
    EXPECT_NE(s.error_message().find(part), std::string::npos) << s.error_message();
  }
  static ServerFixture* server_;
};
ServerFixture* BoundsTest::server_ = nullptr;

TEST_F(BoundsTest, KEfSearchAndNprobeAreBounded) {
  v1::SearchResponse resp;
  ExpectError(stub().Search(Ctx().get(), Query(1000000000), &resp), StatusCode::INVALID_ARGUMENT,
              "params.k: 1000000000 exceeds the server's max-k limit of 500");
  v1::SearchRequest req = Query(10);
  req.mutable_params()->set_ef_search(601);
  ExpectError(stub().Search(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT, "max-ef-search");
  req = Query(10);
  req.mutable_params()->set_nprobe(21);
  ExpectError(stub().Search(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT, "max-nprobe");
  v1::SearchBatchRequest batch;
  batch.set_collection("c");
  batch.mutable_vectors()->Resize(2 * kDim, 0.5f);
  batch.mutable_params()->set_k(501);
  v1::SearchBatchResponse results;
  ExpectError(stub().SearchBatch(Ctx().get(), batch, &results), StatusCode::INVALID_ARGUMENT, "max-k");

  // At the bounds: allowed. k = max-k returns every point of this small collection.
  req = Query(500);
  req.mutable_params()->set_ef_search(600);
  req.mutable_params()->set_nprobe(20);
  grpc::Status s = stub().Search(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.hits_size(), static_cast<int>(kPoints));

  v1::ServerInfoResponse info;
  ASSERT_TRUE(stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info).ok());
  EXPECT_EQ(info.max_k(), 500u);
  EXPECT_EQ(info.max_ef_search(), 600u);
  EXPECT_EQ(info.max_nprobe(), 20u);
}

TEST_F(BoundsTest, SearchOverTheSendLimitIsRefusedByTheServer) {
  // 300 hits with vectors take 300 KB: over the 200 KB limit.
  v1::SearchRequest req = Query(300);
  req.mutable_params()->set_with_vector(true);
  v1::SearchResponse resp;
  ExpectError(stub().Search(Ctx().get(), req, &resp), StatusCode::RESOURCE_EXHAUSTED,
              "max-message-bytes");
  // So do 300 hits with 1 KB payloads.
  req = Query(300);
  req.mutable_params()->set_with_payload(true);
  ExpectError(stub().Search(Ctx().get(), req, &resp), StatusCode::RESOURCE_EXHAUSTED,
              "max-message-bytes");
  // Fewer fit.
  req = Query(50);
  req.mutable_params()->set_with_vector(true);
  req.mutable_params()->set_with_payload(true);
  grpc::Status s = stub().Search(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.hits_size(), 50);

  // A batch whose results together pass the limit, each query's alone fitting.
  v1::SearchBatchRequest batch;
  batch.set_collection("c");
  batch.mutable_vectors()->Resize(10 * kDim, 0.5f);
  batch.mutable_params()->set_k(100);
  batch.mutable_params()->set_with_payload(true);
  v1::SearchBatchResponse results;
  ExpectError(stub().SearchBatch(Ctx().get(), batch, &results), StatusCode::RESOURCE_EXHAUSTED,
              "max-message-bytes");
  // Refused before searching: 20000 queries x 300 hits cannot fit whatever they hold.
  batch.mutable_vectors()->Resize(20000 * kDim, 0.5f);
  batch.mutable_params()->set_k(300);
  batch.mutable_params()->set_with_payload(false);
  ASSERT_GT(batch.ByteSizeLong(), 200000u);  // over the receive limit: gRPC refuses it first
  batch.mutable_vectors()->Resize(150 * kDim, 0.5f);  // 150 x 300 x 8 bytes > 200 KB
  ExpectError(stub().SearchBatch(Ctx().get(), batch, &results), StatusCode::RESOURCE_EXHAUSTED,
              "fewer queries");
}

TEST_F(BoundsTest, ScanPagesEndBeforeTheSendLimit) {
  // 300 points x (1 KB vector + 1 KB payload) = 600 KB: one page of 300 cannot be sent, so the
  // server ends pages early and the cursor walks through all of them.
  v1::ScanRequest req;
  req.set_collection("c");
  req.set_limit(300);
  req.set_with_vector(true);
  std::vector<uint64_t> seen;
  int pages = 0;
  while (true) {
    v1::ScanResponse resp;
    grpc::Status s = stub().Scan(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ++pages;
    EXPECT_LE(resp.ByteSizeLong(), 200000u);
    for (const v1::Point& p : resp.points()) {
      EXPECT_EQ(p.vector_size(), static_cast<int>(kDim));
      seen.push_back(p.id().num());
    }
    if (resp.next_cursor().empty()) break;
    ASSERT_GT(resp.points_size(), 0);
    req.set_cursor(resp.next_cursor());
    ASSERT_LT(pages, 100);
  }
  EXPECT_GE(pages, 4);
  ASSERT_EQ(seen.size(), kPoints);
  for (size_t i = 0; i < kPoints; ++i) EXPECT_EQ(seen[i], i);

  // Without vectors, pages hold more (payloads only: 300 KB, so still two pages at least).
  req.clear_cursor();
  req.set_with_vector(false);
  v1::ScanResponse resp;
  ASSERT_TRUE(stub().Scan(Ctx().get(), req, &resp).ok());
  EXPECT_GT(resp.points_size(), 100);
  EXPECT_TRUE(resp.points(0).vector().empty());
}

TEST(LimitsConfigTest, BadBoundsAreUsageErrors) {
  std::string output;
  EXPECT_EQ(RunSextantd({"--max-k", "0"}, &output), 2);
  EXPECT_NE(output.find("--max-k"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--max-ef-search", "x"}, &output), 2);
  EXPECT_NE(output.find("--max-ef-search"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--max-nprobe", "99999999999"}, &output), 2);
  EXPECT_NE(output.find("--max-nprobe"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--help"}, &output), 0);
  for (const char* flag : {"--max-k", "--max-ef-search", "--max-nprobe"}) {
    EXPECT_NE(output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace sextant::testing
