// sextantd --memory-limit: the budget through the wire API. Writes that would pass it fail with
// RESOURCE_EXHAUSTED naming the budget, nothing acknowledged is lost, deletes make room, and the
// use and the limit are reported by ServerInfo and /metrics.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

v1::ServerInfoResponse Info(ServerFixture& server) {
  v1::ServerInfoResponse info;
  EXPECT_TRUE(server.stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info).ok());
  return info;
}

uint64_t Count(ServerFixture& server, const std::string& collection) {
  v1::CountRequest req;
  req.set_collection(collection);
  v1::CountResponse resp;
  EXPECT_TRUE(server.stub().Count(Ctx().get(), req, &resp).ok());
  return resp.count();
}

TEST(MemoryLimitTest, WritesOverTheBudgetAreResourceExhaustedAndDeletesMakeRoom) {
  constexpr uint64_t kCache = 1 << 20, kLimit = 3 << 20;
  constexpr size_t kDim = 128, kBatch = 256, kMaxPoints = 40 * kBatch;
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--block-cache-bytes", std::to_string(kCache), "--memory-limit", "3MiB", "--metrics",
                            "127.0.0.1:0"}));
  v1::ServerInfoResponse info = Info(server);
  EXPECT_EQ(info.memory_limit_bytes(), kLimit);
  EXPECT_GE(info.memory_used_bytes(), kCache);

  v1::CollectionInfo created;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("v", kDim), &created).ok());
  const std::vector<float> vectors = RandomVectors(kMaxPoints + kBatch, kDim, 7);
  uint64_t acked = 0;
  grpc::Status refused;
  while (acked < kMaxPoints) {
    v1::UpsertResponse resp;
    grpc::Status s = server.stub().Upsert(Ctx().get(), UpsertReq("v", acked, kBatch, kDim, vectors), &resp);
    if (!s.ok()) {
      refused = s;
      break;
    }
    acked += kBatch;
  }
  ASSERT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED) << Describe(refused) << " after " << acked;
  EXPECT_NE(refused.error_message().find("memory budget"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("--memory-limit"), std::string::npos) << refused.error_message();
  EXPECT_GT(acked, 0u);
  EXPECT_EQ(Count(server, "v"), acked);  // the refused batch wrote nothing
  info = Info(server);
  EXPECT_LE(info.memory_used_bytes(), kLimit);
  EXPECT_GT(info.memory_used_bytes(), kCache + acked * kDim * 4);

  // /metrics reports the same budget.
  const std::string metrics_addr = LogValue(server.process().log(), "metrics_listening", "listen");
  ASSERT_FALSE(metrics_addr.empty()) << server.process().log();
  const std::string page = HttpGet(metrics_addr, "/metrics");
  const size_t at = page.find("\nsextant_memory_limit_bytes ");
  ASSERT_NE(at, std::string::npos) << page;
  // Gauges render as doubles ("3.145728e+06").
  EXPECT_EQ(std::strtod(page.c_str() + at + sizeof("\nsextant_memory_limit_bytes ") - 1, nullptr),
            static_cast<double>(kLimit));
  EXPECT_NE(page.find("sextant_memory_used_bytes "), std::string::npos) << page;

  // Searches still work; deleting makes room for the same write.
  v1::SearchRequest search;
  search.set_collection("v");
  search.mutable_vector()->Assign(vectors.begin(), vectors.begin() + kDim);
  search.mutable_params()->set_k(3);
  v1::SearchResponse hits;
  ASSERT_TRUE(server.stub().Search(Ctx().get(), search, &hits).ok());
  EXPECT_EQ(hits.hits_size(), 3);
  v1::DeleteRequest del;
  del.set_collection("v");
  del.set_filter("{}");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(server.stub().Delete(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), acked);
  EXPECT_LT(Info(server).memory_used_bytes(), info.memory_used_bytes());
  v1::UpsertResponse resp;
  grpc::Status again = server.stub().Upsert(Ctx().get(), UpsertReq("v", acked, kBatch, kDim, vectors), &resp);
  EXPECT_TRUE(again.ok()) << Describe(again);
  EXPECT_EQ(Count(server, "v"), kBatch);
}

TEST(MemoryLimitTest, BadLimitsAreUsageErrorsAtStartUp) {
  std::string output;
  EXPECT_EQ(RunSextantd({"--memory-limit", "lots"}, &output), 2);
  EXPECT_NE(output.find("--memory-limit: \"lots\" is not a size"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--memory-limit", "4XB"}, &output), 2);
  EXPECT_NE(output.find("--memory-limit"), std::string::npos) << output;
  // Not above the block cache it includes (64 MiB by default).
  EXPECT_EQ(RunSextantd({"--memory-limit", "32MiB"}, &output), 2);
  EXPECT_NE(output.find("must exceed --block-cache-bytes"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--help"}, &output), 0);
  EXPECT_NE(output.find("--memory-limit"), std::string::npos);
}

}  // namespace
}  // namespace sextant::testing
