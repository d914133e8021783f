// Data outlives the server: a clean stop (SIGTERM) and a restart on the same directory keep every
// point, payload and index (loaded from its checkpoint); a kill -9 keeps every acknowledged write.
#include <nlohmann/json.hpp>

#include <map>

#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::HitIds;
using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TestServer;

constexpr uint32_t kDim = 12;
constexpr size_t kN = 2000;

struct Snapshot {
  uint64_t count = 0;
  std::vector<std::vector<Hit>> hits;
  Point point;
};

Snapshot Take(RemoteCollection& c, const std::vector<float>& queries) {
  Snapshot s;
  auto count = c.Count();
  EXPECT_TRUE(count.ok()) << count.status().ToString();
  s.count = count.ok() ? *count : 0;
  SearchOptions options;
  options.k = 10;
  options.with_payload = true;
  auto hits = c.SearchBatch(options, queries);
  EXPECT_TRUE(hits.ok()) << hits.status().ToString();
  if (hits.ok()) s.hits = std::move(hits).value();
  auto point = c.Get(42);
  EXPECT_TRUE(point.ok()) << point.status().ToString();
  if (point.ok()) s.point = std::move(point).value();
  return s;
}

void ExpectSamePointAndCount(const Snapshot& a, const Snapshot& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.point.id, b.point.id);
  EXPECT_EQ(a.point.vector, b.point.vector);
  EXPECT_EQ(a.point.payload, b.point.payload);
}

void ExpectSameHits(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.hits.size(), b.hits.size());
  for (size_t q = 0; q < a.hits.size(); ++q) {
    ASSERT_EQ(a.hits[q].size(), b.hits[q].size()) << "query " << q;
    for (size_t i = 0; i < a.hits[q].size(); ++i) {
      EXPECT_EQ(a.hits[q][i].id, b.hits[q][i].id) << "query " << q << " hit " << i;
      EXPECT_EQ(a.hits[q][i].score, b.hits[q][i].score) << "query " << q << " hit " << i;
      EXPECT_EQ(a.hits[q][i].payload, b.hits[q][i].payload) << "query " << q << " hit " << i;
    }
  }
}

// Mean recall@10 of `approx` against the exact answers.
double MeanRecall(const Snapshot& approx, const Snapshot& exact) {
  double sum = 0;
  for (size_t q = 0; q < exact.hits.size() && q < approx.hits.size(); ++q) {
    sum += testing::Recall(HitIds(approx.hits[q]), HitIds(exact.hits[q]), 10);
  }
  return exact.hits.empty() ? 0 : sum / static_cast<double>(exact.hits.size());
}

TEST(ClientDurabilityTest, RestartKeepsDataAndIndex) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  auto client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  const std::vector<float> vectors = RandomVectors(kN, kDim, 31);
  const std::vector<float> queries = RandomVectors(10, kDim, 32);
  std::vector<std::string> payloads;
  for (size_t i = 0; i < kN; ++i) payloads.push_back(nlohmann::json{{"i", i}, {"even", i % 2 == 0}}.dump());
  std::map<std::string, Snapshot> before;
  for (const std::string index : {"Flat", "HNSW16"}) {
    const std::string name = index == "Flat" ? "keep_flat" : "keep_hnsw";
    ASSERT_TRUE(client->CreateCollection(name, Options(kDim, Metric::kInnerProduct, index)).ok());
    auto c = client->Collection(name);
    auto stream = c->OpenUpsertStream();
    for (size_t start = 0; start < kN; start += 400) {
      ASSERT_OK(stream->Write(NumericIds(400, start), std::span<const float>(vectors).subspan(start * kDim, 400 * kDim),
                              std::span<const std::string>(payloads).subspan(start, 400)));
    }
    ASSERT_TRUE(stream->Finish().ok());
    ASSERT_EQ(*c->DeleteWhere({}, R"({"even": false})"), kN / 2);
    ASSERT_OK(c->WaitForIndex(60000));
    before[name] = Take(*c, queries);
    EXPECT_EQ(before[name].count, kN / 2);
  }

  ASSERT_EQ(server.process.Stop(), 0) << server.process.log();
  ASSERT_TRUE(server.Start());
  // A new port: a new client.
  client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  auto list = client->ListCollections();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  std::map<std::string, Snapshot> after;
  for (const auto& [name, snapshot] : before) {
    SCOPED_TRACE(name);
    auto c = client->Collection(name);
    auto info = c->Describe();
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->count, kN / 2);
    after[name] = Take(*c, queries);
    ExpectSamePointAndCount(snapshot, after[name]);
  }
  // Exact search answers exactly as before. The HNSW index comes back from its checkpoint (the
  // server stopped cleanly after the build had finished), and keeps finding the exact neighbours.
  // (Its answers may differ in a hit or two: reloading a graph that holds many deleted nodes can
  // repair it differently; the engine's behaviour, not the server's.)
  ExpectSameHits(before["keep_flat"], after["keep_flat"]);
  EXPECT_EQ(client->Describe("keep_hnsw")->index_origin, "checkpoint");
  EXPECT_GE(MeanRecall(before["keep_hnsw"], before["keep_flat"]), 0.9);
  EXPECT_GE(MeanRecall(after["keep_hnsw"], after["keep_flat"]), 0.9);
  EXPECT_EQ(server.process.Stop(), 0) << server.process.log();
}

TEST(ClientDurabilityTest, KilledServerKeepsAcknowledgedWrites) {
  TestServer server;
  ASSERT_TRUE(server.Start());
  auto client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CreateCollection("killed", Options(kDim, Metric::kL2, "HNSW16")).ok());
  auto c = client->Collection("killed");
  const std::vector<float> vectors = RandomVectors(600, kDim, 33);
  ASSERT_OK(c->Upsert({}, NumericIds(300), std::span<const float>(vectors).subspan(0, 300 * kDim)));
  auto stream = c->OpenUpsertStream();
  ASSERT_OK(stream->Write(NumericIds(300, 300), std::span<const float>(vectors).subspan(300 * kDim)));
  ASSERT_EQ(*c->Delete({}, NumericIds(10)), 10u);

  server.process.Kill();  // kill -9: no flush, no checkpoint
  // The stream's call is broken now.
  EXPECT_FALSE(stream->Finish().ok());
  ASSERT_TRUE(server.Start());
  client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  c = client->Collection("killed");
  EXPECT_EQ(*c->Count(), 590u);
  EXPECT_EQ(c->Get(5).status().code(), StatusCode::kNotFound);
  auto p = c->Get(599);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->vector, std::vector<float>(vectors.end() - kDim, vectors.end()));
  // Each point is its own nearest neighbour after the replay.
  SearchOptions options;
  options.k = 1;
  for (uint64_t i = 10; i < 600; i += 37) {
    auto hits = c->Search(options, std::span<const float>(vectors).subspan(i * kDim, kDim));
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>{i});
  }
  EXPECT_EQ(server.process.Stop(), 0) << server.process.log();
}

}  // namespace
}  // namespace sextant
