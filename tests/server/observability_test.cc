// What sextantd tells operators: gRPC health checking, server reflection, Prometheus metrics and
// structured log lines with request ids.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

constexpr size_t kDim = 4;

std::string HealthRequest(const std::string& service) {
  // HealthCheckRequest { string service = 1; }
  if (service.empty()) return "";
  return std::string(1, '\x0a') + static_cast<char>(service.size()) + service;
}

TEST(ObservabilityTest, HealthCheckIsServing) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  for (const std::string service : {"", "sextant.v1.Sextant"}) {
    grpc::ClientContext ctx;
    std::string response;
    auto status = RawUnaryCall(server.channel(), "/grpc.health.v1.Health/Check",
                               HealthRequest(service), &response, &ctx);
    ASSERT_TRUE(status.ok()) << service << ": " << Describe(status);
    EXPECT_EQ(response, std::string("\x08\x01", 2)) << service;  // status: SERVING
  }
  grpc::ClientContext ctx;
  std::string response;
  EXPECT_EQ(RawUnaryCall(server.channel(), "/grpc.health.v1.Health/Check",
                         HealthRequest("no.such.Service"), &response, &ctx)
                .error_code(),
            StatusCode::NOT_FOUND);
}

TEST(ObservabilityTest, ReflectionListsTheService) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  // ServerReflectionRequest { string list_services = 7; } over the bidi stream.
  grpc::GenericStub stub(server.channel());
  grpc::CompletionQueue cq;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(&ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  ASSERT_NE(call, nullptr);
  void* tag = nullptr;
  bool ok = false;
  auto step = [&](intptr_t expected) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), expected);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  const std::string request("\x3a\x00", 2);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1);
  call->Write(req, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer resp;
  call->Read(&resp, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  EXPECT_TRUE(status.ok()) << Describe(status);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("sextant.v1.Sextant"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST(ObservabilityTest, MetricsEndpoint) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--metrics", "127.0.0.1:0"}));
  const std::string metrics_addr =
      LogValue(server.process().log(), "metrics_listening", "listen");
  ASSERT_FALSE(metrics_addr.empty()) << server.process().log();

  const std::vector<float> v = RandomVectors(100, kDim, 1);
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());
  v1::UpsertResponse up;
  ASSERT_TRUE(server.stub().Upsert(Ctx().get(), UpsertReq("docs", 0, 100, kDim, v), &up).ok());
  for (int i = 0; i < 3; ++i) {
    v1::SearchRequest req;
    req.set_collection("docs");
    req.mutable_vector()->Resize(kDim, 0.5f);
    v1::SearchResponse resp;
    ASSERT_TRUE(server.stub().Search(Ctx().get(), req, &resp).ok());
  }
  v1::CountRequest count_req;
  count_req.set_collection("nope");
  v1::CountResponse count;
  ASSERT_EQ(server.stub().Count(Ctx().get(), count_req, &count).error_code(), StatusCode::NOT_FOUND);

  const std::string page = HttpGet(metrics_addr, "/metrics");
  ASSERT_EQ(page.rfind("HTTP/1.", 0), 0u) << page;
  EXPECT_NE(page.find(" 200 "), std::string::npos) << page.substr(0, 200);
  for (const std::string line : {
           "sextant_requests_total{method=\"Search\",code=\"OK\"} 3\n",
           "sextant_requests_total{method=\"Upsert\",code=\"OK\"} 1\n",
           "sextant_requests_total{method=\"Count\",code=\"NOT_FOUND\"} 1\n",
           "sextant_request_errors_total{method=\"Count\",code=\"NOT_FOUND\"} 1\n",
           "sextant_request_duration_seconds_count{method=\"Search\"} 3\n",
           "sextant_collection_points{collection=\"docs\"} 100\n",
           "sextant_index_state{collection=\"docs\",state=\"ready\"} 1\n",
           "sextant_index_state{collection=\"docs\",state=\"building\"} 0\n",
       }) {
    EXPECT_NE(page.find(line), std::string::npos) << "missing: " << line << "in:\n" << page;
  }
  EXPECT_EQ(page.find("sextant_request_errors_total{method=\"Search\""), std::string::npos);
}

TEST(ObservabilityTest, LogLinesCarryRequestIds) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "rid-for-the-log");
  v1::CountRequest count_req;
  count_req.set_collection("nope");
  v1::CountResponse count;
  ASSERT_EQ(server.stub().Count(&ctx, count_req, &count).error_code(), StatusCode::NOT_FOUND);
  v1::ListCollectionsResponse list;
  grpc::ClientContext ok_ctx;
  ok_ctx.AddMetadata("x-request-id", "rid-ok-call");
  ASSERT_TRUE(server.stub().ListCollections(&ok_ctx, v1::ListCollectionsRequest(), &list).ok());
  ASSERT_EQ(server.process().Stop(), 0);

  // At the default level (info), errors are logged and successful fast calls are not.
  const std::string log = server.process().log();
  EXPECT_NE(log.find("level=info event=call rid=rid-for-the-log method=Count collection=nope "
                     "code=NOT_FOUND duration_ms="),
            std::string::npos)
      << log;
  // The error field holds the message the client got (it names the collection).
  const size_t error_at = log.find("error=\"");
  ASSERT_NE(error_at, std::string::npos) << log;
  const std::string error_value = log.substr(error_at, log.find('\n', error_at) - error_at);
  EXPECT_NE(error_value.find("nope"), std::string::npos) << error_value;
  EXPECT_EQ(log.find("rid-ok-call"), std::string::npos) << log;
  EXPECT_NE(log.find("event=start"), std::string::npos) << log;
  EXPECT_NE(log.find("event=shutdown signal=SIGTERM"), std::string::npos) << log;
}

TEST(ObservabilityTest, DebugLevelLogsEveryCall) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--log-level", "debug"}));
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "rid-ok-call");
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(server.stub().ListCollections(&ctx, v1::ListCollectionsRequest(), &list).ok());
  ASSERT_EQ(server.process().Stop(), 0);
  const std::string log = server.process().log();
  EXPECT_NE(log.find("level=debug event=call rid=rid-ok-call method=ListCollections code=OK "
                     "duration_ms="),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace sextant::testing
