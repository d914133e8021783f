// sextant cluster status (cluster/status.h, cluster/tools/sextant_cluster.cc) against a real
// nats-server and nodes in this process: nodes, collections, shards, replicas and their lag; the
// tool's output and its errors (no cluster on the NATS, an unreachable URL, a bad command line).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "cluster/cluster_database.h"
#include "cluster/node.h"
#include "cluster/shard.h"
#include "cluster/status.h"
#include "nats_fixture.h"
#include "sextant/database.h"
#include "test_util.h"

namespace sextant::cluster {
namespace {

using sextant::testing::NatsCluster;
using sextant::testing::TempDir;

// Runs the sextant-cluster tool; its stdout and stderr, and its exit status.
std::string RunTool(const std::string& args, int* exit_code) {
  std::string out;
  FILE* p = ::popen((std::string(SEXTANT_CLUSTER_TOOL_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    *exit_code = -1;
    return out;
  }
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  int rc = ::pclose(p);
  *exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

struct Node {
  std::unique_ptr<Database> local;
  std::unique_ptr<ClusterNode> node;
};

TEST(ClusterStatusTest, ShowsNodesShardsReplicasAndLag) {
  TempDir dir;
  NatsCluster nats(dir.path(), 1);
  NatsOptions no;
  no.urls = nats.urls();
  auto reader = NatsClient::Connect(no);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();

  // Nothing there yet: a clear error, and the tool exits 1 saying so.
  auto empty = ReadClusterState(reader->get(), 1000);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kFailedPrecondition) << empty.status().ToString();
  int rc = 0;
  std::string out = RunTool("status --nats " + nats.urls(), &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("NATS holds no Sextant cluster"), std::string::npos) << out;

  std::map<std::string, Node> nodes;
  for (const char* id : {"a", "b"}) {
    DatabaseOptions o;
    o.create_if_missing = true;
    Node n;
    auto local = Database::Open(o, dir.Sub(std::string("node-") + id));
    ASSERT_TRUE(local.ok()) << local.status().ToString();
    n.local = std::move(*local);
    NodeOptions nopt;
    nopt.nats_urls = nats.urls();
    nopt.node_id = id;
    nopt.address = std::string("127.0.0.1:70") + (id[0] == 'a' ? "01" : "02");
    nopt.heartbeat_ms = 200;
    nopt.node_ttl_ms = 1000;
    auto started = ClusterNode::Start(nopt, n.local.get());
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    n.node = std::move(*started);
    nodes[id] = std::move(n);
  }
  ClusterDatabase db(nodes["a"].node.get(), dir.Sub("node-a"));
  CollectionOptions co;
  co.dimension = 4;
  co.metric = Metric::kL2;
  ASSERT_TRUE(db.CreateSharded("st", co, 2, 2).ok());
  auto c = *db.GetCollection("st");
  std::vector<PointId> ids;
  std::vector<float> vecs;
  for (uint64_t i = 0; i < 20; ++i) {
    ids.emplace_back(i);
    for (int d = 0; d < 4; ++d) vecs.push_back(static_cast<float>(i + d + 1));
  }
  ASSERT_TRUE(c->Upsert(WriteOptions{}, ids, vecs).ok());
  auto spec = *nodes["a"].node->GetSpec("st");
  ASSERT_TRUE(nodes["b"].node->Sync().ok());
  auto caught_up = [&](const std::string& node, uint32_t shard) {
    auto rep = nodes[node].node->LocalReplica(spec, shard);
    return rep != nullptr && rep->WaitApplied(*reader->get()->LastSequenceOf(spec.StreamName(), spec.Subject(shard)),
                                              10000).ok();
  };
  for (const char* id : {"a", "b"}) {
    for (uint32_t s = 0; s < 2; ++s) ASSERT_TRUE(caught_up(id, s)) << id << " shard " << s;
  }

  auto state = ReadClusterState(reader->get(), 3000);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  ASSERT_EQ(state->nodes.size(), 2u);
  EXPECT_EQ(state->nodes[0].id, "a");
  EXPECT_EQ(state->nodes[1].address, "127.0.0.1:7002");
  EXPECT_TRUE(state->unanswered.empty());
  ASSERT_EQ(state->collections.size(), 1u);
  const CollectionState& cs = state->collections[0];
  EXPECT_EQ(cs.spec.name, "st");
  ASSERT_EQ(cs.shards.size(), 2u);
  for (const auto& sh : cs.shards) {
    EXPECT_TRUE(sh.last_known);
    EXPECT_GT(sh.last, 0u);
    ASSERT_EQ(sh.replicas.size(), 2u);
    for (const auto& r : sh.replicas) {
      EXPECT_TRUE(r.live && r.reported) << r.node;
      EXPECT_EQ(r.applied, sh.last) << r.node;
      EXPECT_EQ(ReplicaLag(sh, r), 0u);
    }
  }

  // b's replica of shard 0 stops applying: a write to shard 0 shows as lag there only.
  nodes["b"].node->LocalReplica(spec, 0)->Stop();
  std::vector<PointId> more;
  for (uint64_t i = 100; more.size() < 3; ++i) {
    if (ShardOf(PointId(i), 2) == 0) more.emplace_back(i);
  }
  ASSERT_TRUE(c->Upsert(WriteOptions{}, more, std::vector<float>(more.size() * 4, 1.0f)).ok());
  ASSERT_TRUE(caught_up("a", 0));
  state = ReadClusterState(reader->get(), 3000);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  for (const auto& sh : state->collections[0].shards) {
    for (const auto& r : sh.replicas) {
      const bool stopped = sh.shard == 0 && r.node == "b";
      EXPECT_EQ(ReplicaLag(sh, r) > 0, stopped) << "shard " << sh.shard << " on " << r.node;
    }
  }
  std::string text = ClusterStateText(*state);
  EXPECT_NE(text.find("st  dimension 4"), std::string::npos) << text;
  EXPECT_NE(text.find("shards 2, replication 2"), std::string::npos) << text;
  const ShardState& shard0 = state->collections[0].shards[0];
  for (const auto& r : shard0.replicas) {
    if (r.node != "b") continue;
    const std::string line = "b  live  applied " + std::to_string(r.applied) + "  lag " +
                             std::to_string(shard0.last - r.applied);
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }

  // The tool prints the same, or JSON.
  out = RunTool("status --nats " + nats.urls(), &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nodes: 2 live"), std::string::npos) << out;
  EXPECT_NE(out.find("shard 1"), std::string::npos) << out;
  out = RunTool("status --json --nats=" + nats.urls(), &rc);
  EXPECT_EQ(rc, 0) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["collections"][0]["shards"], 2);
  EXPECT_EQ(j["collections"][0]["shard_states"][0]["replicas"].size(), 2u);
  ASSERT_TRUE(nodes["b"].node->LocalReplica(spec, 0)->Start().ok());

  // A node that died leaves the live set; its replicas show as down.
  nodes["b"].node.reset();
  nodes["b"].local.reset();
  state = ReadClusterState(reader->get(), 3000);
  ASSERT_TRUE(state.ok());
  ASSERT_EQ(state->nodes.size(), 1u);
  for (const auto& sh : state->collections[0].shards) {
    for (const auto& r : sh.replicas) EXPECT_EQ(r.live, r.node == "a") << r.node;
  }
  EXPECT_NE(ClusterStateText(*state).find("b  DOWN  applied unknown"), std::string::npos) << ClusterStateText(*state);
}

TEST(ClusterStatusTest, ToolErrors) {
  int rc = 0;
  std::string out = RunTool("status --timeout-ms 500 --nats nats://127.0.0.1:" +
                                std::to_string(sextant::testing::FreePort()),
                            &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cannot connect to NATS"), std::string::npos) << out;
  out = RunTool("status", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("status needs --nats URL"), std::string::npos) << out;
  out = RunTool("status --nats nats://x:1 --timeout-ms soon", &rc);
  EXPECT_EQ(rc, 2) << out;
  out = RunTool("status --nats nats://x:1 --verbose", &rc);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("unknown argument '--verbose'"), std::string::npos) << out;
  out = RunTool("statu", &rc);
  EXPECT_EQ(rc, 2) << out;
  out = RunTool("help", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("usage: sextant cluster status"), std::string::npos) << out;
}

}  // namespace
}  // namespace sextant::cluster
