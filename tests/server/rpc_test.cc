// Every RPC of sextant.v1.Sextant against a real sextantd: the happy paths.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

constexpr size_t kDim = 8;

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }
  v1::Sextant::Stub& stub() { return server_.stub(); }

  // Creates "docs" (L2, kDim) holding 100 points with ids 0..99.
  void Fill() {
    v1::CollectionInfo info;
    ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());
    v1::UpsertResponse resp;
    auto status = stub().Upsert(Ctx().get(), UpsertReq("docs", 0, 100, kDim, vectors_), &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
    ASSERT_EQ(resp.upserted(), 100u);
  }

  ServerFixture server_;
  std::vector<float> vectors_ = RandomVectors(1000, kDim, 7);
};

TEST_F(RpcTest, ServerInfoReportsVersionAndLimits) {
  v1::ServerInfoResponse info;
  auto status = stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_FALSE(info.version().empty());
  EXPECT_FALSE(info.build().empty());
  const std::set<std::string> levels = {"scalar", "sse4", "avx2", "avx512"};
  EXPECT_TRUE(levels.count(info.simd_level())) << info.simd_level();
  EXPECT_FALSE(info.read_only());
  EXPECT_EQ(info.max_message_bytes(), 64u << 20);
  EXPECT_EQ(info.max_batch_points(), 10000u);
  EXPECT_EQ(info.max_dimension(), 65536u);
}

TEST_F(RpcTest, ShardsAndReplicationNeedClusterMode) {
  v1::CreateCollectionRequest req = CreateReq("sharded", 4);
  v1::CollectionInfo info;
  req.set_shards(3);
  auto status = stub().CreateCollection(Ctx().get(), req, &info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("cluster mode"), std::string::npos) << status.error_message();
  req.set_shards(1);
  req.set_replication(2);
  EXPECT_EQ(stub().CreateCollection(Ctx().get(), req, &info).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_replication(1);  // 1 and 1: the single node's layout
  status = stub().CreateCollection(Ctx().get(), req, &info);
  EXPECT_TRUE(status.ok()) << Describe(status);
}

TEST_F(RpcTest, CollectionsCreateDescribeListDrop) {
  v1::CreateCollectionRequest req = CreateReq("b_docs", 16, v1::METRIC_COSINE, "HNSW16");
  v1::PayloadIndex* pi = req.add_payload_indexes();
  pi->set_field("group");
  pi->set_type(v1::PAYLOAD_FIELD_TYPE_INTEGER);
  v1::CollectionInfo info;
  auto status = stub().CreateCollection(Ctx().get(), req, &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(info.name(), "b_docs");
  EXPECT_EQ(info.dimension(), 16u);
  EXPECT_EQ(info.metric(), v1::METRIC_COSINE);
  EXPECT_EQ(info.index(), "HNSW16");
  EXPECT_EQ(info.count(), 0u);
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("a_docs", 4), &info).ok());

  v1::DescribeCollectionRequest describe;
  describe.set_name("a_docs");
  ASSERT_TRUE(stub().DescribeCollection(Ctx().get(), describe, &info).ok());
  EXPECT_EQ(info.dimension(), 4u);
  EXPECT_EQ(info.metric(), v1::METRIC_L2);
  EXPECT_EQ(info.index(), "Flat");
  EXPECT_EQ(info.index_state(), v1::INDEX_STATE_READY);

  v1::ListCollectionsResponse list;
  ASSERT_TRUE(stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  ASSERT_EQ(list.collections_size(), 2);
  EXPECT_EQ(list.collections(0).name(), "a_docs");  // ordered by name
  EXPECT_EQ(list.collections(1).name(), "b_docs");

  v1::DropCollectionRequest drop;
  drop.set_name("a_docs");
  v1::DropCollectionResponse dropped;
  ASSERT_TRUE(stub().DropCollection(Ctx().get(), drop, &dropped).ok());
  list.Clear();
  ASSERT_TRUE(stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  ASSERT_EQ(list.collections_size(), 1);
  EXPECT_EQ(list.collections(0).name(), "b_docs");
}

TEST_F(RpcTest, UpsertGetCountScan) {
  Fill();
  v1::CountRequest count_req;
  count_req.set_collection("docs");
  v1::CountResponse count;
  ASSERT_TRUE(stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 100u);

  v1::GetRequest get;
  get.set_collection("docs");
  get.mutable_id()->set_num(42);
  v1::Point point;
  auto status = stub().Get(Ctx().get(), get, &point);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(point.id().num(), 42u);
  ASSERT_EQ(point.vector_size(), static_cast<int>(kDim));
  for (size_t j = 0; j < kDim; ++j) EXPECT_EQ(point.vector(static_cast<int>(j)), vectors_[42 * kDim + j]);
  EXPECT_EQ(point.payload(), "{\"group\":2}");

  // A string id is a different id from the number.
  v1::UpsertRequest up;
  up.set_collection("docs");
  v1::Point* p = up.add_points();
  p->mutable_id()->set_str("42");
  p->mutable_vector()->Assign(vectors_.begin(), vectors_.begin() + kDim);
  v1::UpsertResponse upserted;
  ASSERT_TRUE(stub().Upsert(Ctx().get(), up, &upserted).ok());
  get.mutable_id()->set_str("42");
  ASSERT_TRUE(stub().Get(Ctx().get(), get, &point).ok());
  EXPECT_EQ(point.id().str(), "42");
  EXPECT_EQ(point.payload(), "{}");

  // Scan pages of 30 visit all 101 points once, in id order, numbers before strings.
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    v1::ScanRequest scan;
    scan.set_collection("docs");
    scan.set_limit(30);
    scan.set_cursor(cursor);
    scan.set_with_vector(pages == 0);
    v1::ScanResponse page;
    status = stub().Scan(Ctx().get(), scan, &page);
    ASSERT_TRUE(status.ok()) << Describe(status);
    for (const auto& pt : page.points()) {
      seen.push_back(pt.id().has_num() ? std::to_string(pt.id().num()) : "s" + pt.id().str());
      EXPECT_EQ(pt.vector_size(), pages == 0 ? static_cast<int>(kDim) : 0);
      EXPECT_FALSE(pt.payload().empty());
    }
    cursor = page.next_cursor();
    ++pages;
  } while (!cursor.empty() && pages < 10);
  ASSERT_EQ(seen.size(), 101u);
  EXPECT_EQ(pages, 4);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(seen[i], std::to_string(i));
  EXPECT_EQ(seen[100], "s42");

  // Scan with a filter.
  v1::ScanRequest scan;
  scan.set_collection("docs");
  scan.set_filter("{\"group\": 3}");
  v1::ScanResponse page;
  ASSERT_TRUE(stub().Scan(Ctx().get(), scan, &page).ok());
  EXPECT_EQ(page.points_size(), 10);
  EXPECT_TRUE(page.next_cursor().empty());
}

TEST_F(RpcTest, DeleteByIdsAndByFilter) {
  Fill();
  v1::DeleteRequest del;
  del.set_collection("docs");
  for (uint64_t id : {1, 2, 3, 500}) del.mutable_ids()->add_ids()->set_num(id);  // 500 is absent
  v1::DeleteResponse deleted;
  auto status = stub().Delete(Ctx().get(), del, &deleted);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(deleted.deleted(), 3u);

  del.Clear();
  del.set_collection("docs");
  del.set_filter("{\"group\": 5}");
  status = stub().Delete(Ctx().get(), del, &deleted);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(deleted.deleted(), 10u);

  v1::CountRequest count_req;
  count_req.set_collection("docs");
  v1::CountResponse count;
  ASSERT_TRUE(stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 87u);
}

// The exact nearest neighbours of a query by brute force over ids [0, n).
std::vector<uint64_t> BruteForce(const std::vector<float>& vectors, size_t n, const float* q,
                                 size_t k, int group = -1) {
  std::vector<std::pair<float, uint64_t>> scored;
  for (size_t i = 0; i < n; ++i) {
    if (group >= 0 && static_cast<int>(i % 10) != group) continue;
    float d = 0;
    for (size_t j = 0; j < kDim; ++j) {
      const float diff = vectors[i * kDim + j] - q[j];
      d += diff * diff;
    }
    scored.emplace_back(d, i);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < std::min(k, scored.size()); ++i) ids.push_back(scored[i].second);
  return ids;
}

TEST_F(RpcTest, SearchAndSearchBatchMatchBruteForce) {
  Fill();
  const std::vector<float> queries = RandomVectors(5, kDim, 99);
  for (size_t q = 0; q < 5; ++q) {
    v1::SearchRequest req;
    req.set_collection("docs");
    req.mutable_vector()->Assign(queries.begin() + static_cast<ptrdiff_t>(q * kDim),
                                 queries.begin() + static_cast<ptrdiff_t>((q + 1) * kDim));
    req.mutable_params()->set_k(7);
    req.mutable_params()->set_with_payload(true);
    v1::SearchResponse resp;
    auto status = stub().Search(Ctx().get(), req, &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
    const auto expected = BruteForce(vectors_, 100, queries.data() + q * kDim, 7);
    ASSERT_EQ(resp.hits_size(), 7);
    for (int i = 0; i < 7; ++i) {
      EXPECT_EQ(resp.hits(i).id().num(), expected[static_cast<size_t>(i)]);
      EXPECT_FALSE(resp.hits(i).payload().empty());
      EXPECT_EQ(resp.hits(i).vector_size(), 0);
    }
    EXPECT_EQ(resp.plan().kind(), v1::SearchPlan::KIND_EXACT);
    EXPECT_EQ(resp.plan().matches(), 100u);

    // Filtered, with vectors.
    req.mutable_params()->set_filter("{\"group\": 4}");
    req.mutable_params()->set_with_vector(true);
    req.mutable_params()->set_k(3);
    resp.Clear();
    status = stub().Search(Ctx().get(), req, &resp);
    ASSERT_TRUE(status.ok()) << Describe(status);
    const auto filtered = BruteForce(vectors_, 100, queries.data() + q * kDim, 3, 4);
    ASSERT_EQ(resp.hits_size(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(resp.hits(i).id().num(), filtered[static_cast<size_t>(i)]);
      EXPECT_EQ(resp.hits(i).vector_size(), static_cast<int>(kDim));
    }
    EXPECT_EQ(resp.plan().matches(), 10u);
  }

  v1::SearchBatchRequest batch;
  batch.set_collection("docs");
  batch.mutable_vectors()->Assign(queries.begin(), queries.end());
  v1::SearchBatchResponse results;  // k = 0: the default, 10
  auto status = stub().SearchBatch(Ctx().get(), batch, &results);
  ASSERT_TRUE(status.ok()) << Describe(status);
  ASSERT_EQ(results.results_size(), 5);
  for (size_t q = 0; q < 5; ++q) {
    const auto expected = BruteForce(vectors_, 100, queries.data() + q * kDim, 10);
    const auto& r = results.results(static_cast<int>(q));
    ASSERT_EQ(r.hits_size(), 10);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(r.hits(i).id().num(), expected[static_cast<size_t>(i)]);
    EXPECT_EQ(r.plan().kind(), v1::SearchPlan::KIND_EXACT);
  }
}

TEST_F(RpcTest, SetIndexAndWaitForIndex) {
  Fill();
  v1::SetIndexRequest set;
  set.set_collection("docs");
  set.mutable_index()->set_spec("HNSW8");
  v1::CollectionInfo info;
  auto status = stub().SetIndex(Ctx().get(), set, &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(info.index(), "HNSW8");

  v1::WaitForIndexRequest wait;
  wait.set_collection("docs");
  wait.set_timeout_ms(20000);
  status = stub().WaitForIndex(Ctx().get(), wait, &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(info.index_state(), v1::INDEX_STATE_READY);
  EXPECT_EQ(info.index(), "HNSW8");

  // Searches now walk the graph.
  v1::SearchRequest req;
  req.set_collection("docs");
  req.mutable_vector()->Assign(vectors_.begin(), vectors_.begin() + kDim);
  req.mutable_params()->set_k(1);
  v1::SearchResponse resp;
  ASSERT_TRUE(stub().Search(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.hits_size(), 1);
  EXPECT_EQ(resp.hits(0).id().num(), 0u);
  EXPECT_EQ(resp.plan().kind(), v1::SearchPlan::KIND_INDEX);
  EXPECT_EQ(resp.plan().index(), "HNSW8");

  // Rebuild keeps the spec.
  set.Clear();
  set.set_collection("docs");
  set.set_rebuild(true);
  status = stub().SetIndex(Ctx().get(), set, &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(info.index(), "HNSW8");
  ASSERT_TRUE(stub().WaitForIndex(Ctx().get(), wait, &info).ok());
}

TEST_F(RpcTest, UpsertStreamReportsProgressPerBatch) {
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());
  auto ctx = Ctx();
  auto stream = stub().UpsertStream(ctx.get());
  for (uint64_t b = 0; b < 5; ++b) {
    v1::UpsertRequest req = UpsertReq(b == 0 ? "docs" : "", b * 200, 200, kDim, vectors_);
    ASSERT_TRUE(stream->Write(req));
    v1::UpsertProgress progress;
    ASSERT_TRUE(stream->Read(&progress));
    EXPECT_EQ(progress.batches(), b + 1);
    EXPECT_EQ(progress.points(), (b + 1) * 200);
  }
  ASSERT_TRUE(stream->WritesDone());
  v1::UpsertProgress extra;
  EXPECT_FALSE(stream->Read(&extra));
  auto status = stream->Finish();
  ASSERT_TRUE(status.ok()) << Describe(status);

  v1::CountRequest count_req;
  count_req.set_collection("docs");
  v1::CountResponse count;
  ASSERT_TRUE(stub().Count(Ctx().get(), count_req, &count).ok());
  EXPECT_EQ(count.count(), 1000u);
}

TEST_F(RpcTest, RequestIdIsEchoedInMetadata) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "test-rid-123");
  v1::ServerInfoResponse info;
  ASSERT_TRUE(stub().ServerInfo(&ctx, v1::ServerInfoRequest(), &info).ok());
  const auto& md = ctx.GetServerInitialMetadata();
  auto it = md.find("x-request-id");
  ASSERT_NE(it, md.end());
  EXPECT_EQ(std::string(it->second.data(), it->second.size()), "test-rid-123");

  grpc::ClientContext ctx2;
  ASSERT_TRUE(stub().ServerInfo(&ctx2, v1::ServerInfoRequest(), &info).ok());
  auto it2 = ctx2.GetServerInitialMetadata().find("x-request-id");
  ASSERT_NE(it2, ctx2.GetServerInitialMetadata().end());
  EXPECT_EQ(it2->second.size(), 16u);  // a generated one
}

}  // namespace
}  // namespace sextant::testing
