// Nodes of one cluster (in one process, each with its own local database) through the engine's
// Database/Collection interfaces (cluster/cluster_database.h): any node answers, results equal
// the single-node engine, replicas fail over, a shard without a live replica is an explicit error.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <thread>

#include "cluster/cluster_database.h"
#include "cluster/node.h"
#include "cluster/session.h"
#include "cluster/shard.h"
#include "nats_fixture.h"
#include "sextant/database.h"
#include "test_util.h"

namespace sextant::cluster {
namespace {

using sextant::testing::NatsCluster;
using sextant::testing::TempDir;

constexpr uint32_t kDim = 8;

struct TestNode {
  std::unique_ptr<Database> local;
  std::unique_ptr<ClusterNode> node;
  std::unique_ptr<ClusterDatabase> db;
};

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override { nats_ = std::make_unique<NatsCluster>(dir_.path(), 1); }

  void StartNode(const std::string& id) {
    TestNode t;
    DatabaseOptions o;
    o.create_if_missing = true;
    auto local = Database::Open(o, dir_.Sub("node-" + id));
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    t.local = std::move(*local);
    NodeOptions no;
    no.nats_urls = nats_->urls();
    no.node_id = id;
    no.address = "127.0.0.1:0";
    no.heartbeat_ms = 200;
    no.node_ttl_ms = 1000;
    no.read_timeout_ms = 5000;
    auto node = ClusterNode::Start(no, t.local.get());
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    t.node = std::move(*node);
    t.db = std::make_unique<ClusterDatabase>(t.node.get(), dir_.Sub("node-" + id));
    nodes_[id] = std::move(t);
  }

  void StopNode(const std::string& id) {
    nodes_[id].db.reset();
    nodes_[id].node.reset();
    nodes_[id].local.reset();
    nodes_.erase(id);
  }

  TempDir dir_;
  std::unique_ptr<NatsCluster> nats_;
  std::map<std::string, TestNode> nodes_;
};

std::vector<float> RandomVectors(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n * kDim);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST_F(NodeTest, AnyNodeAnswersAndResultsEqualTheSingleNode) {
  for (auto id : {"a", "b", "c"}) ASSERT_NO_FATAL_FAILURE(StartNode(id));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kCosine;
  co.payload_indexes = {{"g", PayloadFieldType::kInteger}};

  auto too_many = nodes_["a"].db->CreateSharded("docs", co, 3, 4);
  ASSERT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("replication 4"), std::string_view::npos);
  EXPECT_EQ(nodes_["a"].db->CreateSharded("bad name!", co, 3, 2).status().code(), StatusCode::kInvalidArgument);

  auto created = nodes_["a"].db->CreateSharded("docs", co, 3, 2);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(nodes_["b"].db->CreateSharded("docs", co, 1, 1).status().code(), StatusCode::kAlreadyExists);

  DatabaseOptions ro;
  ro.create_if_missing = true;
  auto ref_db = *Database::Open(ro, dir_.Sub("single"));
  auto ref = *ref_db->CreateCollection("docs", co);

  std::mt19937 rng(21);
  // Writes through b, in batches, with numeric and string ids.
  auto via_b = *nodes_["b"].db->GetCollection("docs");
  for (int batch = 0; batch < 8; ++batch) {
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (int i = 0; i < 40; ++i) {
      int id = batch * 40 + i;
      ids.push_back(i % 3 ? PointId(static_cast<uint64_t>(id)) : PointId("s" + std::to_string(id)));
      payloads.push_back("{\"g\":" + std::to_string(id % 4) + "}");
    }
    auto vecs = RandomVectors(rng, ids.size());
    ASSERT_TRUE(via_b->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
    ASSERT_TRUE(ref->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
  }
  std::vector<PointId> del = {PointId(1), PointId(2), PointId("s3"), PointId(424242)};
  auto deleted = via_b->Delete(WriteOptions{}, del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, *ref->Delete(WriteOptions{}, del));
  auto dw = via_b->DeleteWhere(WriteOptions{}, "{\"g\":2}");
  ASSERT_TRUE(dw.ok()) << dw.status().ToString();
  EXPECT_EQ(*dw, *ref->DeleteWhere(WriteOptions{}, "{\"g\":2}"));

  // b's own reads see its writes at once (read-your-writes through one node).
  EXPECT_EQ(*via_b->Count(), *ref->Count());
  // Other nodes: eventually (they have not seen b's sequences); wait for them.
  for (auto id : {"a", "c"}) {
    auto c = *nodes_[id].db->GetCollection("docs");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (*c->Count() != *ref->Count() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last delete_where on every replica

  for (auto id : {"a", "b", "c"}) {
    auto c = *nodes_[id].db->GetCollection("docs");
    EXPECT_EQ(*c->Count(), *ref->Count()) << id;
    EXPECT_EQ(*c->CountWhere("{\"g\":1}"), *ref->CountWhere("{\"g\":1}")) << id;
    auto info = c->Describe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->count, *ref->Count());
    EXPECT_EQ(info->dimension, kDim);
    for (int q = 0; q < 10; ++q) {
      auto query = RandomVectors(rng, 1);
      SearchOptions so;
      so.k = 7;
      so.with_payload = true;
      if (q % 2) so.filter = "{\"g\":{\"$in\":[0,3]}}";
      SearchPlan plan;
      auto got = c->Search(so, query, &plan);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      auto want = *ref->Search(so, query);
      ASSERT_EQ(got->size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ((*got)[i].id, want[i].id) << id << " q" << q << " #" << i;
        EXPECT_EQ((*got)[i].score, want[i].score);
        EXPECT_EQ((*got)[i].payload, want[i].payload);
      }
    }
    // Get across shards; a missing id is nullopt.
    std::vector<PointId> ids = {PointId(4), PointId("s6"), PointId(1), PointId(319)};
    auto many = c->GetMany(ids);
    ASSERT_TRUE(many.ok());
    auto want_many = *ref->GetMany(ids);
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_EQ((*many)[i].has_value(), want_many[i].has_value()) << i;
      if (want_many[i]) {
        EXPECT_EQ((*many)[i]->vector, want_many[i]->vector);
      }
    }
    EXPECT_EQ(c->Get(PointId(1)).status().code(), StatusCode::kNotFound);
    // Scan visits every point once, page by page, across shards.
    ScanOptions so;
    so.limit = 33;
    std::vector<PointId> seen;
    while (true) {
      auto page = c->Scan(so);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      ASSERT_LE(page->points.size(), so.limit);
      for (const auto& p : page->points) seen.push_back(p.id);
      if (page->next_cursor.empty()) break;
      so.cursor = page->next_cursor;
    }
    EXPECT_EQ(seen.size(), *ref->Count());
    std::sort(seen.begin(), seen.end(), IdBefore);
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
    ScanOptions bad;
    bad.cursor = "9:x";
    EXPECT_EQ(c->Scan(bad).status().code(), StatusCode::kInvalidArgument);
  }

  auto listed = nodes_["c"].db->ListCollections();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "docs");

  // Unsupported operations say so.
  EXPECT_EQ(via_b->Checkpoint().code(), StatusCode::kUnimplemented);

  // Drop: gone everywhere, local data removed on every node.
  ASSERT_TRUE(nodes_["c"].db->DropCollection("docs").ok());
  EXPECT_EQ(nodes_["a"].db->GetCollection("docs").status().code(), StatusCode::kNotFound);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto id : {"a", "b", "c"}) {
    while (!(*nodes_[id].local->ListCollections()).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE((*nodes_[id].local->ListCollections()).empty()) << id;
  }
}

// Every SearchOptions field reaches the shards (shard_rpc), and shaped searches over several
// shards (score_threshold, group_by, mmr) equal the single node; text and hybrid searches on one
// shard, read through a node that does not host it, equal the single node too.
TEST_F(NodeTest, ShapedAndHybridSearchesEqualTheSingleNode) {
  for (auto id : {"a", "b", "c"}) ASSERT_NO_FATAL_FAILURE(StartNode(id));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kCosine;
  co.text_fields = {{"body", "english"}};
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("shaped", co, 3, 1).ok());
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("one", co, 1, 1).ok());  // on a: b reads it remotely
  DatabaseOptions ro;
  ro.create_if_missing = true;
  auto ref_db = *Database::Open(ro, dir_.Sub("single"));
  auto ref = *ref_db->CreateCollection("ref", co);

  std::mt19937 rng(77);
  const std::vector<std::string> words = {"alpha", "beta", "gamma", "delta", "river", "stone",
                                          "cloud", "ember", "frost", "grove", "harbor", "island"};
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < 240; ++i) {
    ids.push_back(i % 4 ? PointId(i) : PointId("p" + std::to_string(i)));
    std::string body;
    for (size_t w = 0; w < 3 + i % 6; ++w) body += (body.empty() ? "" : " ") + words[rng() % words.size()];
    // Every fifth point has no group value.
    payloads.push_back(i % 5 == 0 ? "{\"body\":\"" + body + "\"}"
                                  : "{\"g\":" + std::to_string(i % 7) + ",\"body\":\"" + body + "\"}");
  }
  auto vecs = RandomVectors(rng, ids.size());
  ASSERT_TRUE(ref->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
  for (auto name : {"shaped", "one"}) {
    auto c = *nodes_["a"].db->GetCollection(name);
    ASSERT_TRUE(c->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
    ASSERT_EQ(*c->Count(), ids.size());  // a's reads wait for its writes
  }
  auto shaped = *nodes_["b"].db->GetCollection("shaped");
  auto one = *nodes_["b"].db->GetCollection("one");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*shaped->Count() != ids.size() || *one->Count() != ids.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto expect_same = [&](const std::shared_ptr<Collection>& c, const SearchOptions& so,
                         const std::vector<float>& query, const std::string& what) {
    auto got = c->Search(so, query, nullptr);
    ASSERT_TRUE(got.ok()) << what << ": " << got.status().ToString();
    auto want = ref->Search(so, query);
    ASSERT_TRUE(want.ok()) << what << ": " << want.status().ToString();
    ASSERT_EQ(got->size(), want->size()) << what;
    for (size_t i = 0; i < want->size(); ++i) {
      const Hit& g = (*got)[i];
      const Hit& w = (*want)[i];
      EXPECT_EQ(g.id.ToString(), w.id.ToString()) << what << " #" << i;
      EXPECT_FLOAT_EQ(g.score, w.score) << what << " #" << i;
      EXPECT_EQ(g.group, w.group) << what << " #" << i;
      EXPECT_EQ(g.payload, w.payload) << what << " #" << i;
      EXPECT_EQ(g.vector, w.vector) << what << " #" << i;
      EXPECT_EQ(g.dense_score.has_value(), w.dense_score.has_value()) << what << " #" << i;
      EXPECT_EQ(g.text_score.has_value(), w.text_score.has_value()) << what << " #" << i;
      if (g.text_score && w.text_score) {
        EXPECT_FLOAT_EQ(*g.text_score, *w.text_score) << what << " #" << i;
      }
    }
  };
  for (int q = 0; q < 6; ++q) {
    auto query = RandomVectors(rng, 1);
    const std::string tag = " q" + std::to_string(q);
    for (const auto& [c, name] : {std::pair{shaped, std::string("shaped")}, std::pair{one, std::string("one")}}) {
      SearchOptions th;
      th.k = 20;
      th.score_threshold = 0.3f;
      th.with_payload = true;
      th.payload_include = {"g"};
      expect_same(c, th, query, name + " threshold" + tag);
      SearchOptions gb;
      gb.k = 3;
      gb.group_by = "g";
      gb.group_size = 2 + q % 2;
      if (q % 3 == 1) gb.candidates = 12;  // a small pool: its boundary matters
      if (q % 3 == 2) gb.score_threshold = 0.0f;
      expect_same(c, gb, query, name + " group_by" + tag);
      SearchOptions mmr;
      mmr.k = 6;
      mmr.mmr = true;
      mmr.mmr_lambda = q % 2 ? 0.3f : 0.7f;
      mmr.with_vector = q % 2 == 1;
      expect_same(c, mmr, query, name + " mmr" + tag);
    }
    // Text and hybrid on one shard: fused exactly as the single node fuses.
    SearchOptions text;
    text.k = 8;
    text.text = words[q] + " " + words[q + 3];
    expect_same(one, text, {}, "text" + tag);
    SearchOptions hy = text;
    hy.fusion = q % 2 ? Fusion::kWeighted : Fusion::kRrf;
    hy.dense_weight = 0.7f;
    hy.text_weight = 0.3f;
    hy.rrf_k = 10;
    hy.candidates = 40;
    hy.text_fields = {"body"};
    expect_same(one, hy, query, "hybrid" + tag);
    hy.group_by = "g";
    expect_same(one, hy, query, "hybrid group_by" + tag);
  }
  // Bad shaping options are refused with the engine's errors, on one shard and on several.
  auto query = RandomVectors(rng, 1);
  for (const auto& c : {shaped, one}) {
    SearchOptions both;
    both.group_by = "g";
    both.mmr = true;
    EXPECT_EQ(c->Search(both, query, nullptr).status().code(), StatusCode::kInvalidArgument);
    SearchOptions lambda;
    lambda.mmr = true;
    lambda.mmr_lambda = 1.5f;
    EXPECT_EQ(c->Search(lambda, query, nullptr).status().code(), StatusCode::kInvalidArgument);
    SearchOptions size;
    size.group_by = "g";
    size.group_size = 0;
    EXPECT_EQ(c->Search(size, query, nullptr).status().code(), StatusCode::kInvalidArgument);
    SearchOptions nan;
    nan.score_threshold = std::numeric_limits<float>::quiet_NaN();
    EXPECT_EQ(c->Search(nan, query, nullptr).status().code(), StatusCode::kInvalidArgument);
  }
}

// Payload updates (set, overwrite, delete keys; by ids and by filter) and UpdateVectors go through
// the log: every replica ends equal to the single node, counts are the single node's, bad updates
// are refused before anything is published, and a filter of {} never touches the replicas' marker.
TEST_F(NodeTest, PayloadAndVectorUpdatesEqualTheSingleNode) {
  for (auto id : {"a", "b", "c"}) ASSERT_NO_FATAL_FAILURE(StartNode(id));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kCosine;
  co.payload_indexes = {{"g", PayloadFieldType::kInteger}};
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("upd", co, 3, 2).ok());
  DatabaseOptions ro;
  ro.create_if_missing = true;
  auto ref_db = *Database::Open(ro, dir_.Sub("single"));
  auto ref = *ref_db->CreateCollection("upd", co);
  auto c = *nodes_["b"].db->GetCollection("upd");

  std::mt19937 rng(5);
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < 120; ++i) {
    ids.push_back(i % 3 ? PointId(i) : PointId("u" + std::to_string(i)));
    payloads.push_back("{\"g\":" + std::to_string(i % 4) + ",\"keep\":" + std::to_string(i) + "}");
  }
  auto vecs = RandomVectors(rng, ids.size());
  ASSERT_TRUE(c->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
  ASSERT_TRUE(ref->Upsert(WriteOptions{}, ids, vecs, payloads).ok());

  const WriteOptions wo;
  auto same = [&](StatusOr<uint64_t> got, StatusOr<uint64_t> want, const char* what) {
    ASSERT_EQ(got.status().code(), want.status().code()) << what << ": " << got.status().ToString();
    if (want.ok()) {
      EXPECT_EQ(*got, *want) << what;
    }
  };
  std::vector<PointId> some = {ids[1], ids[3], ids[7], ids[3]};
  same(c->SetPayload(wo, PointSelector::Ids(some), "{\"tag\":\"x\"}"),
       ref->SetPayload(wo, PointSelector::Ids(some), "{\"tag\":\"x\"}"), "set by ids");
  same(c->SetPayload(wo, PointSelector::Where("{\"g\":1}"), "{\"one\":true}"),
       ref->SetPayload(wo, PointSelector::Where("{\"g\":1}"), "{\"one\":true}"), "set by filter");
  same(c->OverwritePayload(wo, PointSelector::Ids({ids[10], ids[11]}), "{\"g\":3,\"new\":1}"),
       ref->OverwritePayload(wo, PointSelector::Ids({ids[10], ids[11]}), "{\"g\":3,\"new\":1}"), "overwrite by ids");
  std::vector<std::string> keys = {"keep"};
  same(c->DeletePayloadKeys(wo, PointSelector::Where("{\"g\":2}"), keys),
       ref->DeletePayloadKeys(wo, PointSelector::Where("{\"g\":2}"), keys), "delete keys by filter");
  std::vector<std::string> tag = {"tag"};
  same(c->DeletePayloadKeys(wo, PointSelector::Ids({ids[1]}), tag),
       ref->DeletePayloadKeys(wo, PointSelector::Ids({ids[1]}), tag), "delete keys by ids");
  // {} selects every point, and never the marker: the replicas go on applying afterwards.
  same(c->SetPayload(wo, PointSelector::Where("{}"), "{\"all\":1}"),
       ref->SetPayload(wo, PointSelector::Where("{}"), "{\"all\":1}"), "set everything");
  same(c->OverwritePayload(wo, PointSelector::Where("{\"g\":0}"), "{\"g\":0}"),
       ref->OverwritePayload(wo, PointSelector::Where("{\"g\":0}"), "{\"g\":0}"), "overwrite by filter");
  std::vector<PointId> moved = {ids[2], ids[5], ids[9]};
  auto new_vecs = RandomVectors(rng, moved.size());
  ASSERT_TRUE(c->UpdateVectors(wo, moved, new_vecs).ok());
  ASSERT_TRUE(ref->UpdateVectors(wo, moved, new_vecs).ok());

  // Refused before publishing, with the single node's codes; nothing changes.
  std::vector<PointId> missing = {ids[0], PointId(999999)};
  same(c->SetPayload(wo, PointSelector::Ids(missing), "{\"m\":1}"),
       ref->SetPayload(wo, PointSelector::Ids(missing), "{\"m\":1}"), "missing id");
  EXPECT_EQ(c->SetPayload(wo, PointSelector::Ids({ids[0]}), "[1]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->SetPayload(wo, PointSelector::Ids({ids[0]}), "{\"_sextant_applied_seq\":1}").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Upsert(wo, std::vector<PointId>{PointId(5000)}, RandomVectors(rng, 1),
                      std::vector<std::string>{"{\"_sextant_applied_seq\":1}"})
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->SetPayload(wo, PointSelector::Where(""), "{\"m\":1}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->SetPayload(wo, PointSelector::Where("{\"g\":"), "{\"m\":1}").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(c->DeletePayloadKeys(wo, PointSelector::Ids({ids[0]}), {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->UpdateVectors(wo, missing, RandomVectors(rng, 2)).code(), StatusCode::kNotFound);
  EXPECT_EQ(c->UpdateVectors(wo, moved, RandomVectors(rng, 1)).code(), StatusCode::kInvalidArgument);
  std::vector<float> nan_vec(kDim, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(c->UpdateVectors(wo, std::vector<PointId>{ids[0]}, nan_vec).code(), StatusCode::kInvalidArgument);
  std::vector<float> zero(kDim, 0.0f);
  EXPECT_EQ(c->UpdateVectors(wo, std::vector<PointId>{ids[0]}, zero).code(), StatusCode::kInvalidArgument);
  // A write after them all: every replica is still applying.
  const std::vector<float> last_vec(vecs.begin(), vecs.begin() + kDim);
  ASSERT_TRUE(c->Upsert(wo, std::vector<PointId>{PointId(7777)}, last_vec).ok());
  ASSERT_TRUE(ref->Upsert(wo, std::vector<PointId>{PointId(7777)}, last_vec).ok());

  std::vector<PointId> all = ids;
  all.push_back(PointId(7777));
  auto want = *ref->GetMany(all);
  for (auto id : {"a", "b", "c"}) {
    auto via = *nodes_[id].db->GetCollection("upd");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto n = via->CountWhere("{\"all\":1}");
      auto m = via->Count();
      if (n.ok() && m.ok() && *n == ids.size() - 30 && *m == all.size()) break;  // the 30 g=0 points lost "all"
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto got = via->GetMany(all);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status().ToString();
    for (size_t i = 0; i < all.size(); ++i) {
      ASSERT_TRUE((*got)[i].has_value()) << id << " " << all[i].ToString();
      EXPECT_EQ((*got)[i]->payload, want[i]->payload) << id << " " << all[i].ToString();
      EXPECT_EQ((*got)[i]->vector, want[i]->vector) << id << " " << all[i].ToString();
    }
    EXPECT_EQ(*via->CountWhere("{\"g\":3}"), *ref->CountWhere("{\"g\":3}")) << id;
    SearchOptions so;
    so.k = 5;
    so.filter = "{\"one\":true}";
    auto q = std::vector<float>(vecs.begin() + 2 * kDim, vecs.begin() + 3 * kDim);
    auto hits = via->Search(so, q, nullptr);
    ASSERT_TRUE(hits.ok());
    auto want_hits = *ref->Search(so, q);
    ASSERT_EQ(hits->size(), want_hits.size());
    for (size_t i = 0; i < hits->size(); ++i) EXPECT_EQ((*hits)[i].id.ToString(), want_hits[i].id.ToString());
  }
  // SetIndex through the log: every replica's local collection changes its index, the catalogue
  // records it (Describe through any node), exact searches still equal the single node.
  auto hnsw = IndexOptions::Parse("HNSW16");
  ASSERT_TRUE(hnsw.ok()) << hnsw.status().ToString();
  IndexOptions bad = *hnsw;
  bad.m = 0;
  EXPECT_EQ(c->SetIndex(bad).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(c->SetIndex(*hnsw).ok());
  ASSERT_TRUE(ref->SetIndex(*hnsw).ok());
  const std::string want_index = (*ref->Describe()).index;
  for (auto id : {"a", "b", "c"}) {
    auto via = *nodes_[id].db->GetCollection("upd");
    EXPECT_EQ((*via->Describe()).index, want_index) << id;
    auto spec = *nodes_[id].node->GetSpec("upd");
    for (uint32_t s = 0; s < 3; ++s) {
      auto rep = nodes_[id].node->LocalReplica(spec, s);
      if (!rep) continue;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while ((*rep->collection()->Describe()).index != want_index && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      EXPECT_EQ((*rep->collection()->Describe()).index, want_index) << id << " shard " << s;
    }
    SearchOptions so;
    so.k = 10;
    so.exact = true;
    auto hits = via->Search(so, last_vec, nullptr);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    auto want_hits = *ref->Search(so, last_vec);
    ASSERT_EQ(hits->size(), want_hits.size());
    for (size_t i = 0; i < hits->size(); ++i) EXPECT_EQ((*hits)[i].id.ToString(), want_hits[i].id.ToString());
  }
  // RebuildIndex goes through the log too: a record on every shard, which every replica applies
  // (rebuilding its index in the background), and searches still equal the single node.
  std::string rebuilt;
  {
    SessionScope rebuild("", std::chrono::steady_clock::time_point::max());
    ASSERT_TRUE(c->RebuildIndex().ok());
    rebuilt = rebuild.written();
  }
  auto rebuilt_at = ParseToken(rebuilt);
  ASSERT_TRUE(rebuilt_at.ok()) << rebuilt;
  for (auto id : {"a", "b", "c"}) {
    auto spec = *nodes_[id].node->GetSpec("upd");
    for (uint32_t s = 0; s < 3; ++s) {
      ASSERT_GT(rebuilt_at->sequences[s], 0u) << "shard " << s;
      auto rep = nodes_[id].node->LocalReplica(spec, s);
      if (!rep) continue;
      ASSERT_TRUE(rep->WaitApplied(rebuilt_at->sequences[s], 20000).ok()) << id << " shard " << s;
      ASSERT_TRUE(rep->collection()->WaitForIndex(20000).ok()) << id << " shard " << s;
      EXPECT_EQ((*rep->collection()->Describe()).index, want_index);
    }
    SearchOptions so;
    so.k = 10;
    so.exact = true;
    auto hits = (*nodes_[id].db->GetCollection("upd"))->Search(so, last_vec, nullptr);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    auto want_hits = *ref->Search(so, last_vec);
    ASSERT_EQ(hits->size(), want_hits.size());
    for (size_t i = 0; i < hits->size(); ++i) EXPECT_EQ((*hits)[i].id.ToString(), want_hits[i].id.ToString());
  }

  // Every replica applied every record (none skipped as rejected).
  for (auto id : {"a", "b", "c"}) {
    auto spec = *nodes_[id].node->GetSpec("upd");
    for (uint32_t s = 0; s < 3; ++s) {
      if (auto rep = nodes_[id].node->LocalReplica(spec, s)) {
        EXPECT_EQ(rep->skipped_records(), 0u) << id << " shard " << s;
        EXPECT_TRUE(rep->last_error().ok()) << rep->last_error().ToString();
      }
    }
  }
}

// /metrics of a node in cluster mode: per-shard applied and last sequences and the lag of this
// node's replicas; a replica that stops applying shows its lag.
TEST_F(NodeTest, MetricsShowEachLocalShardsAppliedSequenceAndLag) {
  ASSERT_NO_FATAL_FAILURE(StartNode("a"));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("mx", co, 2, 1).ok());
  auto c = *nodes_["a"].db->GetCollection("mx");
  std::mt19937 rng(9);
  std::vector<PointId> ids;
  for (uint64_t i = 0; i < 40; ++i) ids.emplace_back(i);
  ASSERT_TRUE(c->Upsert(WriteOptions{}, ids, RandomVectors(rng, ids.size())).ok());
  ASSERT_EQ(*c->Count(), 40u);  // applied on both shards
  auto metric = [&](const std::string& text, const std::string& name, int shard) -> int64_t {
    std::string key = name + "{collection=\"mx\",shard=\"" + std::to_string(shard) + "\"} ";
    size_t at = text.find(key);
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + key.size()));
  };
  std::string text = RenderClusterMetrics(*nodes_["a"].node);
  EXPECT_NE(text.find("sextant_cluster_live_nodes 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE sextant_cluster_shard_lag gauge"), std::string::npos) << text;
  for (int s = 0; s < 2; ++s) {
    EXPECT_GT(metric(text, "sextant_cluster_shard_applied_sequence", s), 0) << text;
    EXPECT_EQ(metric(text, "sextant_cluster_shard_applied_sequence", s),
              metric(text, "sextant_cluster_shard_last_sequence", s)) << text;
    EXPECT_EQ(metric(text, "sextant_cluster_shard_lag", s), 0) << text;
    EXPECT_EQ(metric(text, "sextant_cluster_shard_skipped_records", s), 0) << text;
  }
  // Shard 0's replica stops applying: a write to it shows as lag there, not on shard 1.
  auto spec = *nodes_["a"].node->GetSpec("mx");
  nodes_["a"].node->LocalReplica(spec, 0)->Stop();
  std::vector<PointId> more;
  for (uint64_t i = 100; more.size() < 3; ++i) {
    if (ShardOf(PointId(i), 2) == 0) more.emplace_back(i);
  }
  ASSERT_TRUE(c->Upsert(WriteOptions{}, more, RandomVectors(rng, more.size())).ok());
  text = RenderClusterMetrics(*nodes_["a"].node);
  EXPECT_GT(metric(text, "sextant_cluster_shard_lag", 0), 0) << text;
  EXPECT_EQ(metric(text, "sextant_cluster_shard_lag", 1), 0) << text;
  ASSERT_TRUE(nodes_["a"].node->LocalReplica(spec, 0)->Start().ok());
  ASSERT_EQ(*c->Count(), 43u);
  text = RenderClusterMetrics(*nodes_["a"].node);
  EXPECT_EQ(metric(text, "sextant_cluster_shard_lag", 0), 0) << text;
}

TEST_F(NodeTest, ReadsFailOverAndAShardWithoutReplicasIsUnavailable) {
  for (auto id : {"a", "b", "c"}) ASSERT_NO_FATAL_FAILURE(StartNode(id));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("rep2", co, 3, 2).ok());
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("rep1", co, 3, 1).ok());
  std::mt19937 rng(4);
  std::vector<PointId> ids;
  for (uint64_t i = 0; i < 90; ++i) ids.emplace_back(i);
  auto vecs = RandomVectors(rng, ids.size());
  for (auto name : {"rep2", "rep1"}) {
    auto c = *nodes_["a"].db->GetCollection(name);
    ASSERT_TRUE(c->Upsert(WriteOptions{}, ids, vecs).ok());
    ASSERT_EQ(*c->Count(), 90u);
  }
  // Let b and c catch up before c goes away.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  StopNode("c");
  // Replication 2: every shard still has a live replica, from either remaining node.
  for (auto id : {"a", "b"}) {
    auto c = *nodes_[id].db->GetCollection("rep2");
    auto n = c->Count();
    ASSERT_TRUE(n.ok()) << id << ": " << n.status().ToString();
    EXPECT_EQ(*n, 90u);
    SearchOptions so;
    so.k = 5;
    EXPECT_TRUE(c->Search(so, std::vector<float>(kDim, 0.1f), nullptr).ok());
  }
  // Replication 1: c's shard has no live replica: UNAVAILABLE naming it.
  auto c1 = *nodes_["a"].db->GetCollection("rep1");
  auto n = c1->Count();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(n.status().message().find("has no live replica"), std::string_view::npos) << n.status().ToString();
  EXPECT_NE(n.status().message().find("placed on c"), std::string_view::npos) << n.status().ToString();
  // Writes still go to the log (JetStream is up); c applies them when it returns.
  std::vector<PointId> more = {PointId(1000), PointId(1001), PointId(1002), PointId(1003)};
  ASSERT_TRUE(c1->Upsert(WriteOptions{}, more, RandomVectors(rng, more.size())).ok());
  ASSERT_NO_FATAL_FAILURE(StartNode("c"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  StatusOr<uint64_t> count = Status::Unavailable("not yet");
  while (std::chrono::steady_clock::now() < deadline) {
    count = c1->Count();
    if (count.ok() && *count == 94u) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 94u);
}

TEST_F(NodeTest, ConsistencyTokensGiveReadYourWritesAcrossNodes) {
  for (auto id : {"a", "b"}) ASSERT_NO_FATAL_FAILURE(StartNode(id));
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("sess", co, 2, 1).ok());
  ASSERT_TRUE(nodes_["a"].db->CreateSharded("other", co, 2, 1).ok());
  auto spec = *nodes_["a"].node->GetSpec("sess");
  // Placement (s + r) mod N over {a, b}: shard 0 on a, shard 1 on b.
  ASSERT_EQ(spec.placement[1], std::vector<std::string>{"b"});
  auto on_a = *nodes_["a"].db->GetCollection("sess");
  auto on_b = *nodes_["b"].db->GetCollection("sess");
  std::mt19937 rng(12);
  std::vector<PointId> ids;
  for (uint64_t i = 0; i < 20; ++i) ids.emplace_back(i);
  ASSERT_TRUE(on_a->Upsert(WriteOptions{}, ids, RandomVectors(rng, ids.size())).ok());
  ASSERT_EQ(*on_a->Count(), 20u);

  // b's replica of shard 1 stops applying; a writes there and gets a token.
  auto rep = nodes_["b"].node->LocalReplica(spec, 1);
  ASSERT_NE(rep, nullptr);
  rep->Stop();
  std::vector<PointId> more;
  for (uint64_t i = 100; more.size() < 5; ++i) {
    if (ShardOf(PointId(i), 2) == 1) more.emplace_back(i);
  }
  std::string token;
  {
    SessionScope write("", std::chrono::steady_clock::time_point::max());
    ASSERT_TRUE(on_a->Upsert(WriteOptions{}, more, RandomVectors(rng, more.size())).ok());
    token = write.written();
  }
  auto parsed = ParseToken(token);
  ASSERT_TRUE(parsed.ok()) << token;
  EXPECT_EQ(parsed->created_us, spec.created_us);
  ASSERT_EQ(parsed->sequences.size(), 2u);
  EXPECT_EQ(parsed->sequences[0], 0u);  // nothing written to shard 0
  EXPECT_GT(parsed->sequences[1], 0u);

  // Without the token, b reads what its replica has (the write is not there yet).
  EXPECT_EQ(*on_b->Count(), 20u);
  // With it, the read waits; when the wait runs out: DEADLINE_EXCEEDED naming the shard.
  {
    SessionScope read(token, std::chrono::steady_clock::now() + std::chrono::milliseconds(300));
    auto n = on_b->Count();
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.status().code(), StatusCode::kDeadlineExceeded) << n.status().ToString();
    EXPECT_NE(n.status().message().find("shard 1 of sess"), std::string_view::npos) << n.status().ToString();
    // Node a reads shard 1 from b too: the token travels with the shard read.
    auto got = on_a->Get(more[0]);
    EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded) << got.status().ToString();
  }
  // The replica resumes while a read waits: the read returns the write.
  std::thread resume([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(rep->Start().ok());
  });
  {
    SessionScope read(token, std::chrono::steady_clock::now() + std::chrono::seconds(20));
    auto n = on_b->Count();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_EQ(*n, 25u);
    SearchOptions so;
    so.k = 30;
    auto hits = on_b->Search(so, std::vector<float>(kDim, 0.1f), nullptr);
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    EXPECT_EQ(hits->size(), 25u);
    EXPECT_TRUE(on_b->Get(more[4]).ok());
  }
  resume.join();

  // Tokens of one collection combine by the per-shard maximum.
  std::string token2;
  {
    SessionScope write("", std::chrono::steady_clock::time_point::max());
    ASSERT_TRUE(on_b->Upsert(WriteOptions{}, ids, RandomVectors(rng, ids.size())).ok());
    token2 = write.written();
  }
  auto merged = MergeTokens(token, token2);
  ASSERT_TRUE(merged.ok());
  auto pm = *ParseToken(*merged);
  auto p2 = *ParseToken(token2);
  EXPECT_EQ(pm.sequences[0], p2.sequences[0]);
  EXPECT_EQ(pm.sequences[1], std::max(parsed->sequences[1], p2.sequences[1]));
  EXPECT_EQ(*MergeTokens("", token2), token2);
  EXPECT_EQ(MergeTokens("v1.x", token2).status().code(), StatusCode::kInvalidArgument);

  // Bad tokens: INVALID_ARGUMENT before anything is read.
  auto other = *nodes_["a"].db->GetCollection("other");
  const std::string wrong_shards = "v1." + std::to_string(spec.created_us) + ".3";
  for (const std::string& bad : {std::string("garbage"), std::string("v1."), std::string("v1.12"),
                                 std::string("v1.1.-2"), std::string("v1.1..2"), wrong_shards}) {
    SessionScope read(bad, std::chrono::steady_clock::time_point::max());
    auto n = on_b->Count();
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument) << bad << ": " << n.status().ToString();
    auto hits = on_a->Search(SearchOptions{}, std::vector<float>(kDim, 0.1f), nullptr);
    EXPECT_EQ(hits.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  {
    SessionScope read(token, std::chrono::steady_clock::time_point::max());  // sess's token, reading other
    auto n = other->Count();
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument) << n.status().ToString();
    EXPECT_NE(n.status().message().find("not from collection other"), std::string_view::npos)
        << n.status().ToString();
  }
}

TEST_F(NodeTest, BadNodeOptionsAreRefused) {
  DatabaseOptions o;
  o.create_if_missing = true;
  auto local = *Database::Open(o, dir_.Sub("x"));
  NodeOptions no;
  no.nats_urls = nats_->urls();
  no.node_id = "bad.id";
  EXPECT_EQ(ClusterNode::Start(no, local.get()).status().code(), StatusCode::kInvalidArgument);
  no.node_id = "ok";
  no.node_ttl_ms = no.heartbeat_ms;
  EXPECT_EQ(ClusterNode::Start(no, local.get()).status().code(), StatusCode::kInvalidArgument);
  no.node_ttl_ms = 4000;
  no.nats_urls = "nats://127.0.0.1:" + std::to_string(sextant::testing::FreePort());
  no.connect_timeout_ms = 500;
  auto s = ClusterNode::Start(no, local.get());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("cannot connect to NATS"), std::string_view::npos);
}

}  // namespace
}  // namespace sextant::cluster
