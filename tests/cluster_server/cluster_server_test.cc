// A real local cluster (scripts/cluster.sh: three nats-servers with JetStream R=3 and three
// sextantd nodes) driven through the C++ client: results equal the single-node engine (Flat,
// exact), and a sextantd killed with SIGKILL during a write load and restarted catches up with no
// acknowledged write lost and none applied twice.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "sextant/client.h"
#include "sextant/database.h"
#include "test_util.h"

namespace sextant {
namespace {

using sextant::testing::TempDir;

constexpr uint32_t kDim = 8;

std::string Shell(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    *rc = -1;
    return out;
  }
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  *rc = ::pclose(p);
  return out;
}

class ClusterServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = std::string(SEXTANT_SOURCE_DIR) + "/scripts/cluster.sh";
    env_ = "SEXTANTD=" SEXTANTD_PATH " ";
    int rc = 0;
    std::string out = Shell(env_ + "bash " + script_ + " start " + dir_.Sub("c") + " 2>&1", &rc);
    ASSERT_EQ(rc, 0) << out;
    size_t start = 0;
    while (start < out.size()) {
      size_t nl = out.find('\n', start);
      if (nl == std::string::npos) nl = out.size();
      if (nl > start) addresses_.push_back(out.substr(start, nl - start));
      start = nl + 1;
    }
    ASSERT_EQ(addresses_.size(), 3u) << out;
    for (const auto& a : addresses_) clients_.push_back(Connect(a));
  }
  void TearDown() override {
    int rc = 0;
    Shell("bash " + script_ + " stop " + dir_.Sub("c") + " 2>&1", &rc);
  }
  static std::unique_ptr<Client> Connect(const std::string& address) {
    ClientOptions o;
    o.address = address;
    o.timeout_ms = 30000;
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::string NodeCmd(const std::string& what, int n, const std::string& extra = "") {
    return env_ + "bash " + script_ + " " + what + " " + dir_.Sub("c") + " " + std::to_string(n) + " " + extra + " 2>&1";
  }

  TempDir dir_;
  std::string script_, env_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<Client>> clients_;
};

std::vector<float> RandomVectors(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n * kDim);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(ClusterFlagTest, ClusterPointingAtNothingIsAClearErrorAtStartUp) {
  TempDir dir;
  int rc = 0;
  // Port 1 on loopback: nothing listens there.
  std::string out = Shell(std::string(SEXTANTD_PATH) + " --data " + dir.Sub("d") +
                              " --listen 127.0.0.1:0 --cluster nats://127.0.0.1:1 --node-id n1 2>&1",
                          &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << rc << " " << out;
  EXPECT_NE(out.find("sextantd: --cluster nats://127.0.0.1:1: Unavailable: cannot connect to NATS at "
                     "nats://127.0.0.1:1"),
            std::string::npos)
      << out;
  out = Shell(std::string(SEXTANTD_PATH) + " --data " + dir.Sub("d") + " --cluster nats://127.0.0.1:1 2>&1", &rc);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 2) << out;
  EXPECT_NE(out.find("--cluster needs --node-id"), std::string::npos) << out;
}

TEST_F(ClusterServerTest, ThreeShardsTwoReplicasEqualTheSingleNodeEngine) {
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  auto too_many = clients_[0]->CreateCollection("docs", co, 3, 4);
  ASSERT_EQ(too_many.status().code(), StatusCode::kInvalidArgument) << too_many.status().ToString();
  EXPECT_NE(too_many.status().message().find("replication 4 is larger than the 3 live node(s)"), std::string_view::npos)
      << too_many.status().ToString();
  ASSERT_TRUE(clients_[0]->CreateCollection("docs", co, 3, 2).ok());

  DatabaseOptions ro;
  ro.create_if_missing = true;
  auto ref_db = *Database::Open(ro, dir_.Sub("single"));
  auto ref = *ref_db->CreateCollection("docs", co);
  std::mt19937 rng(8);
  auto writer = clients_[1]->Collection("docs");
  for (int b = 0; b < 10; ++b) {
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (int i = 0; i < 50; ++i) {
      int id = b * 50 + i;
      ids.push_back(id % 2 ? PointId(static_cast<uint64_t>(id)) : PointId("d" + std::to_string(id)));
      payloads.push_back("{\"tag\":\"t" + std::to_string(id % 3) + "\"}");
    }
    auto vecs = RandomVectors(rng, ids.size());
    ASSERT_TRUE(writer->Upsert({}, ids, vecs, payloads).ok());
    ASSERT_TRUE(ref->Upsert({}, ids, vecs, payloads).ok());
  }
  std::vector<PointId> del = {PointId(1), PointId("d2"), PointId(77777)};
  ASSERT_EQ(*writer->Delete({}, del), *ref->Delete({}, del));
  ASSERT_EQ(*writer->DeleteWhere({}, "{\"tag\":\"t1\"}"), *ref->DeleteWhere({}, "{\"tag\":\"t1\"}"));
  const uint64_t want_count = *ref->Count();
  // Session consistency: the writer's token covers all its writes; a reader on any node given it
  // sees them all at once (no polling).
  const std::string token = writer->consistency_token();
  ASSERT_EQ(token.rfind("v1.", 0), 0u) << token;
  {
    auto bad = clients_[2]->Collection("docs");
    bad->set_consistency_token("v1.not-a-token");
    auto n = bad->Count();
    EXPECT_EQ(n.status().code(), StatusCode::kInvalidArgument) << n.status().ToString();
    EXPECT_EQ(bad->Upsert({}, std::vector<PointId>{PointId(5)}, RandomVectors(rng, 1)).code(),
              StatusCode::kInvalidArgument);
  }

  for (size_t n = 0; n < 3; ++n) {
    auto c = clients_[n]->Collection("docs");
    c->set_consistency_token(token);
    ASSERT_EQ(*c->Count(), want_count) << "node " << n;
    EXPECT_EQ(*c->CountWhere("{\"tag\":\"t0\"}"), *ref->CountWhere("{\"tag\":\"t0\"}"));
    for (int q = 0; q < 8; ++q) {
      auto query = RandomVectors(rng, 1);
      SearchOptions so;
      so.k = 10;
      so.with_payload = true;
      if (q % 2) so.filter = "{\"tag\":\"t2\"}";
      auto got = c->Search(so, query);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      auto want = *ref->Search(so, query);
      ASSERT_EQ(got->size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ((*got)[i].id, want[i].id) << "node " << n << " query " << q << " rank " << i;
        EXPECT_EQ((*got)[i].score, want[i].score);
        EXPECT_EQ((*got)[i].payload, want[i].payload);
      }
    }
    auto p = c->Get(PointId(3));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->vector, ref->Get(PointId(3))->vector);
    EXPECT_EQ(c->Get(PointId(1)).status().code(), StatusCode::kNotFound);
  }
  auto listed = clients_[2]->ListCollections();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].count, want_count);
}

TEST_F(ClusterServerTest, KillNineDuringWritesLosesNothingAndAppliesNothingTwice) {
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  ASSERT_TRUE(clients_[0]->CreateCollection("load", co, 3, 2).ok());
  auto writer = clients_[0]->Collection("load");
  std::map<uint64_t, int> latest;  // id -> last acknowledged version
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::thread w([&] {
    std::mt19937 rng(17);
    for (int version = 1; !stop.load() && version <= 100000; ++version) {
      std::vector<PointId> ids;
      std::vector<std::string> payloads;
      std::set<uint64_t> seen;
      for (int i = 0; i < 6; ++i) {
        uint64_t id = rng() % 60;
        if (!seen.insert(id).second) continue;
        ids.emplace_back(id);
        payloads.push_back("{\"v\":" + std::to_string(version) + "}");
      }
      std::vector<float> vecs(ids.size() * kDim, static_cast<float>(version));
      Status st = writer->Upsert({}, ids, vecs, payloads);
      if (!st.ok()) continue;  // not acknowledged: the expected state does not change
      for (const auto& id : ids) latest[id.number()] = version;
      acked++;
    }
  });
  std::mt19937 rng(2);
  for (int round = 0; round < 2; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 500));
    int rc = 0;
    std::string out = Shell(NodeCmd("stop-node", 3, "KILL"), &rc);
    ASSERT_EQ(rc, 0) << out;
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 500));
    out = Shell(NodeCmd("start-node", 3), &rc);
    ASSERT_EQ(rc, 0) << out;
    addresses_[2] = out.substr(0, out.find('\n'));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  w.join();
  ASSERT_GT(acked.load(), 10);
  // Node 3 (restarted) answers from its own replicas where it has them; it must converge on
  // exactly the acknowledged state.
  auto c3 = Connect(addresses_[2])->Collection("load");
  std::vector<PointId> ids;
  for (const auto& [id, v] : latest) ids.emplace_back(id);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool match = false;
  std::string last_diff;
  while (!match && std::chrono::steady_clock::now() < deadline) {
    auto got = c3->GetMany(ids);
    auto count = c3->Count();
    if (got.ok() && count.ok() && *count == latest.size()) {
      match = true;
      for (size_t i = 0; i < ids.size() && match; ++i) {
        std::string want = "{\"v\":" + std::to_string(latest[ids[i].number()]) + "}";
        if (!(*got)[i] || (*got)[i]->payload != want) {
          match = false;
          last_diff = "id " + ids[i].ToString() + ": " + ((*got)[i] ? (*got)[i]->payload : "missing") + " want " + want;
        }
      }
    } else {
      last_diff = got.ok() && count.ok() ? "count " + std::to_string(*count) : "error";
    }
    if (!match) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(match) << last_diff;
  // Every node agrees.
  for (size_t n = 0; n < 2; ++n) {
    auto c = clients_[n]->Collection("load");
    auto got = c->GetMany(ids);
    ASSERT_TRUE(got.ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      ASSERT_TRUE((*got)[i].has_value());
      EXPECT_EQ((*got)[i]->payload, "{\"v\":" + std::to_string(latest[ids[i].number()]) + "}");
    }
  }
}

TEST_F(ClusterServerTest, KillNineOfANatsServerDuringWritesLosesNoAcknowledgedWrite) {
  // Three nats-servers with JetStream R=3: one killed with SIGKILL leaves a quorum of two, so
  // writes go on (some fail while the stream's leader moves: those were not acknowledged) and
  // reads keep working; the killed server rejoins and catches up.
  CollectionOptions co;
  co.dimension = kDim;
  co.metric = Metric::kL2;
  ASSERT_TRUE(clients_[0]->CreateCollection("nk", co, 3, 2).ok());
  std::map<uint64_t, int> latest;
  std::atomic<int> acked{0}, failed{0}, acked_after_kill{0};
  std::atomic<bool> stop{false}, killed{false};
  std::thread w([&] {
    auto writer = clients_[1]->Collection("nk");
    std::mt19937 rng(23);
    for (int version = 1; !stop.load(); ++version) {
      std::vector<PointId> ids;
      std::vector<std::string> payloads;
      std::set<uint64_t> seen;
      for (int i = 0; i < 6; ++i) {
        uint64_t id = rng() % 60;
        if (!seen.insert(id).second) continue;
        ids.emplace_back(id);
        payloads.push_back("{\"v\":" + std::to_string(version) + "}");
      }
      std::vector<float> vecs(ids.size() * kDim, static_cast<float>(version));
      if (!writer->Upsert({}, ids, vecs, payloads).ok()) {
        failed++;
        continue;
      }
      for (const auto& id : ids) latest[id.number()] = version;
      acked++;
      if (killed.load()) acked_after_kill++;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  int rc = 0;
  std::string out = Shell(NodeCmd("stop-nats", 2, "KILL"), &rc);
  ASSERT_EQ(rc, 0) << out;
  killed = true;
  // Reads keep working with one nats-server down.
  auto reader = clients_[0]->Collection("nk");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (acked_after_kill.load() < 20 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(acked_after_kill.load(), 20) << "writes did not go on with two of three nats-servers";
  EXPECT_TRUE(reader->Count().ok());
  out = Shell(NodeCmd("start-nats", 2), &rc);
  ASSERT_EQ(rc, 0) << out;
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  stop = true;
  w.join();
  std::vector<PointId> ids;
  for (const auto& [id, v] : latest) ids.emplace_back(id);
  for (size_t n = 0; n < 3; ++n) {
    auto c = clients_[n]->Collection("nk");
    bool match = false;
    std::string diff;
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!match && std::chrono::steady_clock::now() < deadline) {
      auto got = c->GetMany(ids);
      match = got.ok();
      for (size_t i = 0; match && i < ids.size(); ++i) {
        std::string want = "{\"v\":" + std::to_string(latest[ids[i].number()]) + "}";
        if (!(*got)[i] || (*got)[i]->payload != want) {
          match = false;
          diff = "id " + ids[i].ToString() + ": " + ((*got)[i] ? (*got)[i]->payload : "missing") + " want " + want;
        }
      }
      if (!match) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_TRUE(match) << "node " << n << ": " << diff;
  }
}

}  // namespace
}  // namespace sextant
