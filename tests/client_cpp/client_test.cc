// Every call of the C++ client against a real sextantd: server info, collections, points
// (upsert, get, delete by ids and by filter, count, scan), searches (single, batch, filters,
// payloads, vectors, plans), index changes, and the bulk UpsertStream.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <thread>

#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::HitIds;
using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TestServer;

constexpr uint32_t kDim = 8;

// One server for the whole suite; each test uses collections of its own name.
class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer;
    started_ = server_->Start();
    if (!started_) {
      ADD_FAILURE() << started_.message();
    }
  }
  static void TearDownTestSuite() {
    if (server_->process.running()) {
      EXPECT_EQ(server_->process.Stop(), 0) << server_->process.log();
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(started_) << "sextantd is not running";
    client_ = MustConnect(server_->process.address());
    ASSERT_NE(client_, nullptr);
  }

  // A fresh collection `name` (L2, kDim) holding n points with ids 0..n-1 and payloads
  // {"group": i % 5, "name": "p<i>"}; returns its handle.
  std::unique_ptr<RemoteCollection> Filled(const std::string& name, size_t n,
                                           const std::string& index = "Flat") {
    auto created = client_->CreateCollection(name, Options(kDim, Metric::kL2, index));
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    auto c = client_->Collection(name);
    vectors_ = RandomVectors(n, kDim, 11);
    std::vector<std::string> payloads;
    for (size_t i = 0; i < n; ++i) {
      payloads.push_back(nlohmann::json{{"group", i % 5}, {"name", "p" + std::to_string(i)}}.dump());
    }
    EXPECT_OK(c->Upsert({}, NumericIds(n), vectors_, payloads));
    return c;
  }

  static TestServer* server_;
  static ::testing::AssertionResult started_;
  std::unique_ptr<Client> client_;
  std::vector<float> vectors_;
};

TestServer* ClientTest::server_ = nullptr;
::testing::AssertionResult ClientTest::started_ = ::testing::AssertionFailure();

TEST(ClientConnectTest, RejectsBadOptionsWithoutNetwork) {
  ClientOptions options;
  EXPECT_CODE(Client::Connect(options).status(), StatusCode::kInvalidArgument);
  options.address = "127.0.0.1:1";
  options.root_certificates = "-----BEGIN CERTIFICATE-----";
  EXPECT_CODE(Client::Connect(options).status(), StatusCode::kInvalidArgument);
  options.root_certificates.clear();
  options.max_receive_message_bytes = 0;
  EXPECT_CODE(Client::Connect(options).status(), StatusCode::kInvalidArgument);
}

TEST(ClientConnectTest, UnreachableServerIsUnavailableOnFirstCall) {
  // Connect succeeds (it is lazy); the first call reports that nothing listens there.
  ClientOptions options;
  options.address = "127.0.0.1:1";
  options.timeout_ms = 20000;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto info = (*client)->Info();
  EXPECT_EQ(info.status().code(), StatusCode::kUnavailable) << info.status().ToString();
  EXPECT_CODE((*client)->Collection("x")->Count().status(), StatusCode::kUnavailable);
}

TEST_F(ClientTest, Info) {
  auto info = client_->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->version.empty());
  EXPECT_FALSE(info->build.empty());
  const std::vector<std::string> levels = {"scalar", "sse4", "avx2", "avx512"};
  EXPECT_NE(std::find(levels.begin(), levels.end(), info->simd_level), levels.end()) << info->simd_level;
  EXPECT_FALSE(info->read_only);
  EXPECT_EQ(info->limits.max_batch_points, 10000u);
  EXPECT_EQ(info->limits.max_dimension, 65536u);
  EXPECT_EQ(info->limits.max_message_bytes, uint64_t{64} << 20);
}

TEST_F(ClientTest, CreateDescribeListDrop) {
  CollectionOptions options = Options(kDim, Metric::kCosine, "HNSW16");
  options.payload_indexes = {{.field = "lang", .type = PayloadFieldType::kKeyword}};
  auto created = client_->CreateCollection("cdld_b", options);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->name, "cdld_b");
  EXPECT_EQ(created->dimension, kDim);
  EXPECT_EQ(created->metric, Metric::kCosine);
  EXPECT_EQ(created->index, "HNSW16");
  EXPECT_EQ(created->count, 0u);
  ASSERT_TRUE(client_->CreateCollection("cdld_a", Options(3, Metric::kInnerProduct)).ok());

  // A new HNSW collection may report kBuilding for a moment while its (empty) index is set up.
  ASSERT_OK(client_->Collection("cdld_b")->WaitForIndex(60000));
  auto described = client_->Describe("cdld_b");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->metric, Metric::kCosine);
  EXPECT_EQ(described->index, "HNSW16");
  EXPECT_EQ(described->index_state, IndexState::kReady);

  auto list = client_->ListCollections();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::vector<std::string> names;
  for (const CollectionInfo& info : *list) names.push_back(info.name);
  ASSERT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto a = std::find(names.begin(), names.end(), "cdld_a");
  ASSERT_NE(a, names.end());
  ASSERT_NE(a + 1, names.end());
  EXPECT_EQ(*(a + 1), "cdld_b");
  EXPECT_EQ((*list)[static_cast<size_t>(a - names.begin())].metric, Metric::kInnerProduct);
  EXPECT_EQ((*list)[static_cast<size_t>(a - names.begin())].dimension, 3u);

  ASSERT_OK(client_->DropCollection("cdld_a"));
  ASSERT_OK(client_->DropCollection("cdld_b"));
  EXPECT_CODE(client_->Describe("cdld_b").status(), StatusCode::kNotFound);
  EXPECT_CODE(client_->DropCollection("cdld_b"), StatusCode::kNotFound);
  list = client_->ListCollections();
  ASSERT_TRUE(list.ok());
  for (const CollectionInfo& info : *list) EXPECT_NE(info.name.rfind("cdld_", 0), 0u) << info.name;
}

TEST_F(ClientTest, UpsertGetCountReplace) {
  auto c = Filled("points", 50);
  EXPECT_EQ(c->name(), "points");
  auto count = c->Count();
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 50u);

  auto p = c->Get(7);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, PointId(7));
  ASSERT_EQ(p->vector.size(), kDim);
  for (uint32_t d = 0; d < kDim; ++d) EXPECT_EQ(p->vector[d], vectors_[7 * kDim + d]);
  EXPECT_EQ(nlohmann::json::parse(p->payload), (nlohmann::json{{"group", 2}, {"name", "p7"}}));

  // Replace point 7 (new vector, no payload) and add a string id.
  std::vector<PointId> ids = {PointId(7), PointId("doc-1")};
  std::vector<float> v(2 * kDim, 0.5f);
  v[kDim] = 2.0f;
  std::vector<std::string> payloads = {"", R"({"lang": "en"})"};
  ASSERT_OK(c->Upsert({.sync = true}, ids, v, payloads));
  EXPECT_EQ(*c->Count(), 51u);
  p = c->Get(7);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->vector, std::vector<float>(kDim, 0.5f));
  EXPECT_EQ(p->payload, "{}");
  p = c->Get("doc-1");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->id.is_string());
  EXPECT_EQ(p->vector[0], 2.0f);
  EXPECT_EQ(nlohmann::json::parse(p->payload)["lang"], "en");
  // The number 7 and the string "7" are different ids.
  EXPECT_CODE(c->Get("7").status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Get(1000).status(), StatusCode::kNotFound);
}

// The client sends vectors as packed float32 (Point.vector_f32 and the search requests'): every
// bit survives the trip, in upserts, the stream, UpdateVectors and the queries.
TEST_F(ClientTest, PackedVectorsArriveBitExact) {
  ASSERT_OK(client_->CreateCollection("packed", Options(4, Metric::kL2, "Flat")).status());
  auto c = client_->Collection("packed");
  const std::vector<float> v = {1.0f / 3.0f, -0.0f, 1e-40f /* subnormal */, 3.0e17f,   // point 0
                                0.1f, 0.2f, 0.3f, 0.4f,                                // point 1
                                -7.25f, 1e-7f, 123456.789f, -1.0f / 7.0f};             // point 2
  ASSERT_OK(c->Upsert({}, std::vector<PointId>{PointId(0), PointId(1)},
                      std::span<const float>(v).first(8), {}));
  auto stream = c->OpenUpsertStream();
  ASSERT_OK(stream->Write(std::vector<PointId>{PointId(2)}, std::span<const float>(v).subspan(8), {}));
  ASSERT_OK(stream->Finish().status());
  for (uint64_t i = 0; i < 3; ++i) {
    auto p = c->Get(i);
    ASSERT_OK(p.status());
    ASSERT_EQ(p->vector.size(), 4u);
    for (size_t d = 0; d < 4; ++d) {
      EXPECT_EQ(std::bit_cast<uint32_t>(p->vector[d]), std::bit_cast<uint32_t>(v[i * 4 + d])) << i << "," << d;
    }
  }
  const std::vector<float> moved = {-0.5f, 2.0f / 3.0f, 5e-39f, 1.25f};
  ASSERT_OK(c->UpdateVectors({}, std::vector<PointId>{PointId(1)}, moved));
  auto p = c->Get(1);
  ASSERT_OK(p.status());
  for (size_t d = 0; d < 4; ++d) EXPECT_EQ(std::bit_cast<uint32_t>(p->vector[d]), std::bit_cast<uint32_t>(moved[d]));

  // A query equal to a stored vector is at distance exactly 0, alone and in a batch.
  SearchOptions so;
  so.k = 1;
  auto hits = c->Search(so, std::span<const float>(v).subspan(8));
  ASSERT_OK(hits.status());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].id, PointId(2));
  EXPECT_EQ((*hits)[0].score, 0.0f);
  std::vector<float> queries(moved);
  queries.insert(queries.end(), v.begin() + 8, v.end());
  auto batch = c->SearchBatch(so, queries);
  ASSERT_OK(batch.status());
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0][0].id, PointId(1));
  EXPECT_EQ((*batch)[0][0].score, 0.0f);
  EXPECT_EQ((*batch)[1][0].id, PointId(2));
  // A query of the wrong length still fails with the field named.
  auto bad = c->Search(so, std::span<const float>(v).first(3));
  EXPECT_CODE(bad.status(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("vector"), std::string::npos) << bad.status().ToString();
}

TEST_F(ClientTest, DeleteByIdsAndByFilter) {
  auto c = Filled("deletes", 100);
  std::vector<PointId> ids = {PointId(1), PointId(2), PointId(3), PointId(555), PointId("absent")};
  auto deleted = c->Delete({}, ids);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 3u);  // absent ids are skipped
  EXPECT_CODE(c->Get(2).status(), StatusCode::kNotFound);
  EXPECT_EQ(*c->Count(), 97u);

  // group 4: ids 4, 9, ..., 99 = 20 points, none deleted yet.
  deleted = c->DeleteWhere({}, R"({"group": 4})");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, 20u);
  EXPECT_EQ(*c->Count(), 77u);
  deleted = c->DeleteWhere({.sync = true}, R"({"group": 4})");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0u);
  EXPECT_CODE(c->DeleteWhere({}, "").status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->DeleteWhere({}, "{\"group\": ").status(), StatusCode::kInvalidArgument);
  // "{}" matches every point.
  deleted = c->DeleteWhere({}, "{}");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 77u);
  EXPECT_EQ(*c->Count(), 0u);
}

TEST_F(ClientTest, GetManyCountWherePayloadUpdatesUpdateVectors) {
  auto c = Filled("data_management", 20);
  std::vector<PointId> ids{PointId(3), PointId(99), PointId(0)};
  auto got = c->GetMany(ids);
  ASSERT_OK(got.status());
  ASSERT_EQ(got->size(), 3u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ((*got)[0]->id, PointId(3));
  EXPECT_EQ((*got)[0]->vector.size(), kDim);
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  auto no_vectors = c->GetMany(ids, /*with_vector=*/false);
  ASSERT_OK(no_vectors.status());
  EXPECT_TRUE((*no_vectors)[0]->vector.empty());

  EXPECT_EQ(*c->CountWhere(R"({"group": 1})"), 4u);
  EXPECT_EQ(*c->CountWhere(""), 20u);
  EXPECT_CODE(c->CountWhere("{bad").status(), StatusCode::kInvalidArgument);

  auto n = c->SetPayload({}, PointSelector::Where(R"({"group": 1})"), R"({"tag": "one"})");
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(*c->CountWhere(R"({"tag": "one", "group": 1})"), 4u);
  ASSERT_OK(c->OverwritePayload({}, PointSelector::Ids({PointId(2)}), R"({"only": 1})").status());
  EXPECT_EQ(nlohmann::json::parse(c->Get(PointId(2))->payload), nlohmann::json::parse(R"({"only":1})"));
  std::vector<std::string> keys{"tag"};
  n = c->DeletePayloadKeys({}, PointSelector::Where("{}"), keys);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 20u);
  EXPECT_EQ(*c->CountWhere(R"({"tag": {"$exists": true}})"), 0u);
  EXPECT_CODE(c->SetPayload({}, PointSelector::Ids({PointId(1), PointId(500)}), R"({"x":1})").status(),
              StatusCode::kNotFound);
  EXPECT_CODE(c->SetPayload({}, PointSelector::Ids({}), R"({"x":1})").status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->DeletePayloadKeys({}, PointSelector::Ids({PointId(1)}), std::vector<std::string>{}).status(),
              StatusCode::kInvalidArgument);

  std::vector<float> far(kDim, 100.0f);
  const std::string before = c->Get(PointId(5))->payload;
  ASSERT_OK(c->UpdateVectors({}, std::vector<PointId>{PointId(5)}, far));
  EXPECT_EQ(c->Get(PointId(5))->payload, before);
  SearchOptions so;
  so.k = 1;
  auto hits = c->Search(so, far);
  ASSERT_OK(hits.status());
  EXPECT_EQ((*hits)[0].id, PointId(5));
  EXPECT_CODE(c->UpdateVectors({}, std::vector<PointId>{PointId(500)}, far), StatusCode::kNotFound);
  EXPECT_CODE(c->UpdateVectors({}, std::vector<PointId>{PointId(5)}, std::vector<float>(kDim - 1, 1.0f)),
              StatusCode::kInvalidArgument);

  so.with_payload = true;
  so.payload_include = {"name"};
  hits = c->Search(so, far);
  ASSERT_OK(hits.status());
  EXPECT_EQ(nlohmann::json::parse((*hits)[0].payload), nlohmann::json::parse(R"({"name":"p5"})"));
}

TEST_F(ClientTest, Aliases) {
  auto a = Filled("alias_target_a", 3);
  ASSERT_OK(client_->CreateCollection("alias_target_b", Options(kDim, Metric::kL2, "Flat")).status());
  ASSERT_OK(client_->CreateAlias("alias_live", "alias_target_a"));
  auto live = client_->Collection("alias_live");
  EXPECT_EQ(*live->Count(), 3u);
  EXPECT_CODE(client_->CreateAlias("alias_live", "alias_target_a"), StatusCode::kAlreadyExists);
  std::vector<AliasChange> swap{AliasChange::Delete("alias_live"), AliasChange::Create("alias_live", "alias_target_b")};
  ASSERT_OK(client_->UpdateAliases(swap));
  EXPECT_EQ(*live->Count(), 0u);
  auto list = client_->ListAliases();
  ASSERT_OK(list.status());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].alias, "alias_live");
  EXPECT_EQ((*list)[0].collection, "alias_target_b");
  ASSERT_OK(client_->DeleteAlias("alias_live"));
  EXPECT_CODE(client_->DeleteAlias("alias_live"), StatusCode::kNotFound);
  EXPECT_CODE(live->Count().status(), StatusCode::kNotFound);
}

TEST_F(ClientTest, ScanPagesInIdOrder) {
  auto c = Filled("scan", 25);
  std::vector<uint64_t> seen;
  ScanOptions options;
  options.limit = 10;
  int pages = 0;
  do {
    auto page = c->Scan(options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (const Point& p : page->points) {
      seen.push_back(p.id.number());
      ASSERT_EQ(p.vector.size(), kDim);
      EXPECT_EQ(p.vector[0], vectors_[p.id.number() * kDim]);
      EXPECT_EQ(nlohmann::json::parse(p.payload)["name"], "p" + std::to_string(p.id.number()));
    }
    options.cursor = page->next_cursor;
  } while (!options.cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  std::vector<uint64_t> want(25);
  for (uint64_t i = 0; i < 25; ++i) want[i] = i;
  EXPECT_EQ(seen, want);

  // Filtered, payloads only.
  ScanOptions filtered;
  filtered.limit = 100;
  filtered.filter = R"({"group": 0})";
  auto page = c->Scan(filtered, /*with_vector=*/false);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->points.size(), 5u);
  for (const Point& p : page->points) {
    EXPECT_EQ(p.id.number() % 5, 0u);
    EXPECT_TRUE(p.vector.empty());
    EXPECT_FALSE(p.payload.empty());
  }
  EXPECT_TRUE(page->next_cursor.empty());
  ScanOptions zero;
  zero.limit = 0;
  EXPECT_CODE(c->Scan(zero).status(), StatusCode::kInvalidArgument);
}

// Exact nearest neighbours of `query` among the `n` rows of `vectors` (L2), nearest first.
std::vector<uint64_t> BruteForce(const std::vector<float>& vectors, size_t n, const float* query,
                                 size_t k, uint64_t skip_group = ~uint64_t{0}) {
  std::vector<std::pair<double, uint64_t>> all;
  for (size_t i = 0; i < n; ++i) {
    if (skip_group != ~uint64_t{0} && i % 5 != skip_group) continue;
    double d = 0;
    for (uint32_t j = 0; j < kDim; ++j) {
      const double x = static_cast<double>(vectors[i * kDim + j]) - query[j];
      d += x * x;
    }
    all.emplace_back(d, i);
  }
  std::sort(all.begin(), all.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < std::min(k, all.size()); ++i) out.push_back(all[i].second);
  return out;
}

TEST_F(ClientTest, SearchExactWithFilterPayloadVectorAndPlan) {
  constexpr size_t kN = 300;
  auto c = Filled("search", kN);
  const std::vector<float> queries = RandomVectors(4, kDim, 99);
  for (size_t q = 0; q < 4; ++q) {
    std::span<const float> query(queries.data() + q * kDim, kDim);
    SearchOptions options;
    options.k = 7;
    SearchPlan plan;
    auto hits = c->Search(options, query, &plan);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    EXPECT_EQ(HitIds(*hits), BruteForce(vectors_, kN, query.data(), 7));
    EXPECT_TRUE(std::is_sorted(hits->begin(), hits->end(),
                               [](const Hit& a, const Hit& b) { return a.score < b.score; }));
    for (const Hit& h : *hits) {
      EXPECT_TRUE(h.payload.empty());
      EXPECT_TRUE(h.vector.empty());
    }
    EXPECT_EQ(plan.kind, SearchPlan::Kind::kExact);
    EXPECT_EQ(plan.index, "Flat");
    EXPECT_EQ(plan.matches, kN);

    options.filter = R"({"group": 3})";
    options.with_payload = true;
    options.with_vector = true;
    hits = c->Search(options, query, &plan);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    EXPECT_EQ(HitIds(*hits), BruteForce(vectors_, kN, query.data(), 7, 3));
    EXPECT_EQ(plan.matches, kN / 5);
    for (const Hit& h : *hits) {
      EXPECT_EQ(nlohmann::json::parse(h.payload)["group"], 3);
      ASSERT_EQ(h.vector.size(), kDim);
      double d = 0;
      for (uint32_t j = 0; j < kDim; ++j) {
        EXPECT_EQ(h.vector[j], vectors_[h.id.number() * kDim + j]);
        d += (h.vector[j] - query[j]) * (h.vector[j] - query[j]);
      }
      EXPECT_NEAR(h.score, d, 1e-4);
    }
  }
  // k larger than the matches: all of them.
  SearchOptions all;
  all.k = 1000;
  all.filter = R"({"group": 1})";
  auto hits = c->Search(all, std::span<const float>(queries.data(), kDim));
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), kN / 5);
}

TEST_F(ClientTest, SearchBatchMatchesSingleSearches) {
  constexpr size_t kN = 200;
  auto c = Filled("batch", kN);
  const std::vector<float> queries = RandomVectors(6, kDim, 5);
  SearchOptions options;
  options.k = 5;
  options.with_payload = true;
  std::vector<SearchPlan> plans;
  auto batch = c->SearchBatch(options, queries, &plans);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 6u);
  ASSERT_EQ(plans.size(), 6u);
  for (size_t q = 0; q < 6; ++q) {
    auto single = c->Search(options, std::span<const float>(queries.data() + q * kDim, kDim));
    ASSERT_TRUE(single.ok());
    ASSERT_EQ((*batch)[q].size(), single->size());
    for (size_t i = 0; i < single->size(); ++i) {
      EXPECT_EQ((*batch)[q][i].id, (*single)[i].id);
      EXPECT_NEAR((*batch)[q][i].score, (*single)[i].score, 1e-5);
      EXPECT_EQ((*batch)[q][i].payload, (*single)[i].payload);
    }
    EXPECT_EQ(plans[q].matches, kN);
  }
  // 6 queries of kDim floats, minus one: not a whole number of queries.
  EXPECT_CODE(c->SearchBatch(options, std::span<const float>(queries.data(), queries.size() - 1)).status(),
              StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, SetIndexWaitRebuild) {
  constexpr size_t kN = 600;
  auto c = Filled("reindex", kN);
  ASSERT_OK(c->SetIndex(IndexOptions::Parse("HNSW16").value()));
  ASSERT_OK(c->WaitForIndex(60000));
  auto info = c->Describe();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->index, "HNSW16");
  EXPECT_EQ(info->index_state, IndexState::kReady);
  EXPECT_EQ(info->count, kN);
  EXPECT_GT(info->index_bytes, 0u);
  EXPECT_EQ(info->vector_bytes, kN * kDim * sizeof(float));

  const std::vector<float> query = RandomVectors(1, kDim, 3);
  SearchOptions options;
  options.k = 10;
  options.ef_search = 200;
  SearchPlan plan;
  auto hits = c->Search(options, query, &plan);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(plan.kind, SearchPlan::Kind::kIndex);
  EXPECT_EQ(plan.index, "HNSW16");
  EXPECT_EQ(plan.effort, 200u);
  // ef 200 over 600 points: the graph walk finds (nearly) the exact answer.
  EXPECT_GE(testing::Recall(HitIds(*hits), BruteForce(vectors_, kN, query.data(), 10), 10), 0.9);
  // exact bypasses the index.
  options.exact = true;
  hits = c->Search(options, query, &plan);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(plan.kind, SearchPlan::Kind::kExact);

  ASSERT_OK(c->RebuildIndex());
  ASSERT_OK(c->WaitForIndex(60000));
  info = c->Describe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->index, "HNSW16");
  EXPECT_EQ(info->index_state, IndexState::kReady);
  EXPECT_EQ(info->index_origin, "built");

  // Back to exact search.
  ASSERT_OK(c->SetIndex(IndexOptions{}));
  ASSERT_OK(c->WaitForIndex(60000));
  EXPECT_EQ(c->Describe()->index, "Flat");
}

TEST_F(ClientTest, UpsertStreamCommitsEveryBatch) {
  ASSERT_TRUE(client_->CreateCollection("stream", Options(kDim, Metric::kL2)).ok());
  auto c = client_->Collection("stream");
  auto stream = c->OpenUpsertStream();
  const std::vector<float> vectors = RandomVectors(250, kDim, 8);
  for (size_t b = 0; b < 5; ++b) {
    std::vector<std::string> payloads(50, R"({"batch": )" + std::to_string(b) + "}");
    ASSERT_OK(stream->Write(NumericIds(50, b * 50),
                            std::span<const float>(vectors.data() + b * 50 * kDim, 50 * kDim), payloads));
    EXPECT_EQ(stream->committed_batches(), b + 1);
    EXPECT_EQ(stream->committed_points(), (b + 1) * 50);
    // Acknowledged means visible.
    EXPECT_EQ(*c->Count(), (b + 1) * 50);
  }
  // A batch the client refuses is not sent and leaves the stream usable.
  EXPECT_CODE(stream->Write(NumericIds(2), std::span<const float>(vectors.data(), 3)),
              StatusCode::kInvalidArgument);
  auto total = stream->Finish();
  ASSERT_TRUE(total.ok()) << total.status().ToString();
  EXPECT_EQ(*total, 250u);
  EXPECT_EQ(*stream->Finish(), 250u);  // again: same answer
  EXPECT_CODE(stream->Write(NumericIds(1), std::span<const float>(vectors.data(), kDim)),
              StatusCode::kFailedPrecondition);
  EXPECT_EQ(*c->Count(), 250u);
  auto p = c->Get(120);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(nlohmann::json::parse(p->payload)["batch"], 2);

  // A stream with no batch commits nothing and makes no call.
  auto empty = c->OpenUpsertStream();
  auto none = empty->Finish();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
}

TEST_F(ClientTest, UpsertStreamStopsAtTheFirstRejectedBatch) {
  ASSERT_TRUE(client_->CreateCollection("stream_err", Options(kDim, Metric::kL2)).ok());
  auto c = client_->Collection("stream_err");
  auto stream = c->OpenUpsertStream({.sync = true});
  const std::vector<float> vectors = RandomVectors(30, kDim, 9);
  ASSERT_OK(stream->Write(NumericIds(10), std::span<const float>(vectors.data(), 10 * kDim)));
  ASSERT_OK(stream->Write(NumericIds(10, 10), std::span<const float>(vectors.data() + 10 * kDim, 10 * kDim)));
  // Third batch: a vector of the wrong dimension (kDim + 1 floats per point).
  std::vector<float> wrong((kDim + 1) * 2, 1.0f);
  const Status s = stream->Write(NumericIds(2, 100), wrong);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(stream->committed_points(), 20u);
  // The stream is over: later writes and Finish report the same error.
  EXPECT_EQ(stream->Write(NumericIds(10, 20), std::span<const float>(vectors.data() + 20 * kDim, 10 * kDim)), s);
  EXPECT_EQ(stream->Finish().status(), s);
  // The two acknowledged batches stay; nothing of the rejected one was written.
  EXPECT_EQ(*c->Count(), 20u);
  EXPECT_CODE(c->Get(100).status(), StatusCode::kNotFound);
}

TEST_F(ClientTest, AbandonedStreamKeepsAcknowledgedBatches) {
  ASSERT_TRUE(client_->CreateCollection("stream_drop", Options(kDim, Metric::kL2)).ok());
  auto c = client_->Collection("stream_drop");
  const std::vector<float> vectors = RandomVectors(40, kDim, 10);
  {
    auto stream = c->OpenUpsertStream();
    ASSERT_OK(stream->Write(NumericIds(20), std::span<const float>(vectors.data(), 20 * kDim)));
    ASSERT_OK(stream->Write(NumericIds(20, 20), std::span<const float>(vectors.data() + 20 * kDim, 20 * kDim)));
    // Destroyed without Finish: the call is cancelled.
  }
  EXPECT_EQ(*c->Count(), 40u);
}

TEST_F(ClientTest, HandleOutlivesClient) {
  auto c = Filled("outlive", 10);
  client_.reset();
  auto count = c->Count();
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 10u);
}

TEST_F(ClientTest, ConcurrentCallsShareOneClient) {
  auto c = Filled("concurrent", 100);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto mine = client_->Collection("concurrent");
      const std::vector<float> query = RandomVectors(1, kDim, static_cast<uint32_t>(t));
      for (int i = 0; i < 20; ++i) {
        auto hits = mine->Search({}, query);
        if (!hits.ok() || hits->size() != 10) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace sextant
