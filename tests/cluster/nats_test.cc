// The NATS client wrapper, the catalogue and node liveness, against a real nats-server.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster/metadata.h"
#include "cluster/nats_client.h"
#include "nats_fixture.h"
#include "test_util.h"

namespace sextant::cluster {
namespace {

using sextant::testing::FreePort;
using sextant::testing::NatsCluster;
using sextant::testing::TempDir;

TEST(NatsClientTest, ConnectingToNothingIsAClearError) {
  int port = FreePort();  // nothing listens there
  NatsOptions o;
  o.urls = "nats://127.0.0.1:" + std::to_string(port);
  o.timeout_ms = 500;
  auto c = NatsClient::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("cannot connect to NATS at " + o.urls), std::string_view::npos)
      << c.status().ToString();
}

TEST(NatsClientTest, BadUrlsAndOptionsAreInvalidArgument) {
  NatsOptions o;
  EXPECT_EQ(NatsClient::Connect(o).status().code(), StatusCode::kInvalidArgument);
  o.urls = "127.0.0.1:4222";
  EXPECT_EQ(NatsClient::Connect(o).status().code(), StatusCode::kInvalidArgument);
  o.urls = "nats://127.0.0.1:4222,";
  EXPECT_EQ(NatsClient::Connect(o).status().code(), StatusCode::kInvalidArgument);
  o.urls = "nats://127.0.0.1:4222";
  o.replicas = 0;
  EXPECT_EQ(NatsClient::Connect(o).status().code(), StatusCode::kInvalidArgument);
}

class NatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_ = std::make_unique<NatsCluster>(dir_.path(), 1);
    NatsOptions o;
    o.urls = nats_->urls();
    auto c = NatsClient::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  TempDir dir_;
  std::unique_ptr<NatsCluster> nats_;
  std::unique_ptr<NatsClient> client_;
};

TEST_F(NatsTest, StreamsPublishAndDedupe) {
  ASSERT_TRUE(client_->EnsureStream("S1", {"s1.>"}, 60000).ok());
  ASSERT_TRUE(client_->EnsureStream("S1", {"s1.>"}, 60000).ok());  // exists: fine
  auto a = client_->Publish("s1.0", "hello", "id-1");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->sequence, 1u);
  EXPECT_FALSE(a->duplicate);
  auto again = client_->Publish("s1.0", "hello", "id-1");  // a retry: stored once
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, 1u);
  EXPECT_EQ(*client_->LastSequence("S1"), 1u);
  EXPECT_EQ(client_->LastSequence("NOPE").status().code(), StatusCode::kNotFound);
  // Too large for the server: refused before sending, never half-sent.
  std::string big(static_cast<size_t>(client_->max_payload()) + 1, 'x');
  EXPECT_EQ(client_->Publish("s1.0", big, "id-2").status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(client_->DeleteStream("S1").ok());
  EXPECT_EQ(client_->DeleteStream("S1").code(), StatusCode::kNotFound);
}

TEST_F(NatsTest, KvCompareAndSet) {
  auto kv = client_->OpenBucket("t_kv", true);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  auto r1 = (*kv)->Create("k", "v1");
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ((*kv)->Create("k", "other").status().code(), StatusCode::kAlreadyExists);
  auto r2 = (*kv)->Update("k", "v2", *r1);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ((*kv)->Update("k", "v3", *r1).status().code(), StatusCode::kAborted);  // stale revision
  auto e = (*kv)->Get("k");
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->value, "v2");
  EXPECT_EQ((*e)->revision, *r2);
  EXPECT_FALSE((*(*kv)->Get("absent")).has_value());
  ASSERT_TRUE((*kv)->Delete("k").ok());
  EXPECT_FALSE((*(*kv)->Get("k")).has_value());
  EXPECT_TRUE((*(*kv)->Keys()).empty());
  EXPECT_EQ(client_->OpenBucket("no_such_bucket", false).status().code(), StatusCode::kNotFound);
}

TEST_F(NatsTest, CatalogCreatesOnceListsAndDrops) {
  auto cat = Catalog::Open(client_.get());
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  CollectionSpec s;
  s.name = "docs";
  s.options.dimension = 4;
  s.shards = 2;
  s.replication = 1;
  s.placement = {{"a"}, {"b"}};
  s.created_us = 7;
  ASSERT_TRUE((*cat)->Create(s).ok());
  Status again = (*cat)->Create(s);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("docs"), std::string_view::npos);
  auto got = (*cat)->Get("docs");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ToJson(), s.ToJson());
  s.name = "more";
  ASSERT_TRUE((*cat)->Create(s).ok());
  auto all = (*cat)->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "docs");
  ASSERT_TRUE((*cat)->Drop("docs").ok());
  EXPECT_EQ((*cat)->Get("docs").status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*cat)->Drop("docs").code(), StatusCode::kNotFound);
}

TEST_F(NatsTest, NodesExpireWhenTheyStopBeating) {
  auto m = Membership::Open(client_.get(), 1000);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE((*m)->Heartbeat({"n1", "127.0.0.1:1", 1}).ok());
  ASSERT_TRUE((*m)->Heartbeat({"n2", "127.0.0.1:2", 2}).ok());
  auto live = (*m)->LiveNodes();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[1].address, "127.0.0.1:2");
  // n1 keeps beating, n2 stops: n2 is gone after the TTL (expiry runs about once a second).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool gone = false;
  while (std::chrono::steady_clock::now() < deadline && !gone) {
    ASSERT_TRUE((*m)->Heartbeat({"n1", "127.0.0.1:1", 1}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    live = (*m)->LiveNodes();
    ASSERT_TRUE(live.ok());
    gone = live->size() == 1;
  }
  ASSERT_TRUE(gone) << "node n2 did not expire";
  EXPECT_EQ((*live)[0].id, "n1");
  ASSERT_TRUE((*m)->Leave("n1").ok());
  EXPECT_TRUE((*(*m)->LiveNodes()).empty());
  EXPECT_EQ(Membership::Open(client_.get(), 10).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sextant::cluster
