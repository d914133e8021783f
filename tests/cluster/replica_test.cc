// Replicas materialising the log: results equal to the single-node engine (Flat, exact), exactly
// once across restarts, validation before publishing, large batches split.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cluster/log_writer.h"
#include "cluster/replica.h"
#include "cluster/shard.h"
#include "nats_fixture.h"
#include "sextant/database.h"
#include "test_util.h"

namespace sextant::cluster {
namespace {

using sextant::testing::NatsCluster;
using sextant::testing::TempDir;

constexpr uint32_t kDim = 8;

std::unique_ptr<Database> OpenDb(const std::string& path) {
  DatabaseOptions o;
  o.create_if_missing = true;
  auto db = Database::Open(o, path);
  if (!db.ok()) ADD_FAILURE() << db.status().ToString();
  return db.ok() ? std::move(*db) : nullptr;
}

uint64_t NowUs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_ = std::make_unique<NatsCluster>(dir_.path(), 1);
    NatsOptions o;
    o.urls = nats_->urls();
    auto c = NatsClient::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }

  CollectionSpec MakeSpec(uint32_t shards, uint32_t replication, std::vector<std::string> nodes) {
    CollectionSpec s;
    s.name = "docs";
    s.options.dimension = kDim;
    s.options.metric = Metric::kL2;
    s.options.payload_indexes = {{"g", PayloadFieldType::kInteger}};
    s.shards = shards;
    s.replication = replication;
    s.placement = *PlaceShards(shards, replication, std::move(nodes));
    s.created_us = NowUs();
    return s;
  }

  TempDir dir_;
  std::unique_ptr<NatsCluster> nats_;
  std::unique_ptr<NatsClient> client_;
};

void Seed(std::mt19937& rng, size_t n, std::vector<float>* v) {
  std::uniform_real_distribution<float> u(-1, 1);
  v->resize(n * kDim);
  for (auto& x : *v) x = u(rng);
}

TEST_F(ReplicaTest, ThreeShardsTwoReplicasEqualTheSingleNodeEngine) {
  std::vector<std::string> nodes = {"a", "b", "c"};
  CollectionSpec spec = MakeSpec(3, 2, nodes);
  LogWriter writer(client_.get(), "a");
  ASSERT_TRUE(writer.CreateStream(spec).ok());

  std::map<std::string, std::unique_ptr<Database>> dbs;
  for (const auto& n : nodes) dbs[n] = OpenDb(dir_.Sub("node-" + n));
  auto ref_db = OpenDb(dir_.Sub("single"));
  auto ref = *ref_db->CreateCollection("docs", spec.options);

  // replicas[shard] = its replicas (one per hosting node)
  std::vector<std::vector<std::unique_ptr<ShardReplica>>> replicas(spec.shards);
  for (uint32_t s = 0; s < spec.shards; ++s) {
    for (const auto& n : spec.placement[s]) {
      auto r = ShardReplica::Open(client_.get(), dbs[n].get(), spec, s, n);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE((*r)->Start().ok());
      replicas[s].push_back(std::move(*r));
    }
  }

  std::mt19937 rng(11);
  ShardSequences last(spec.shards, 0);
  auto note = [&](const ShardSequences& seqs) {
    for (uint32_t s = 0; s < spec.shards; ++s) last[s] = std::max(last[s], seqs[s]);
  };
  for (int batch = 0; batch < 12; ++batch) {
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (int i = 0; i < 50; ++i) {
      uint64_t id = batch * 50 + i;
      ids.push_back(batch % 2 ? PointId(id) : PointId("p" + std::to_string(id)));
      payloads.push_back("{\"g\":" + std::to_string(id % 5) + ",\"i\":" + std::to_string(id) + "}");
    }
    std::vector<float> vecs;
    Seed(rng, ids.size(), &vecs);
    auto seqs = writer.Upsert(spec, ids, vecs, payloads);
    ASSERT_TRUE(seqs.ok()) << seqs.status().ToString();
    note(*seqs);
    ASSERT_TRUE(ref->Upsert(WriteOptions{}, ids, vecs, payloads).ok());
  }
  std::vector<PointId> del = {PointId(51), PointId(53), PointId("p0"), PointId("p2"), PointId(999999)};
  note(*writer.Delete(spec, del));
  ASSERT_TRUE(ref->Delete(WriteOptions{}, del).ok());
  note(*writer.DeleteWhere(spec, "{\"g\":3}"));
  ASSERT_TRUE(ref->DeleteWhere(WriteOptions{}, "{\"g\":3}").ok());

  for (uint32_t s = 0; s < spec.shards; ++s) {
    for (auto& r : replicas[s]) ASSERT_TRUE(r->WaitApplied(last[s], 20000).ok()) << r->last_error().ToString();
  }

  // Both replicas of a shard hold the same points; together the shards hold the reference's.
  auto scan_all = [](const ShardReplica& r) {
    std::vector<Point> out;
    ScanOptions so;
    so.limit = 97;
    while (true) {
      auto page = r.Scan(so);
      EXPECT_TRUE(page.ok());
      for (auto& p : page->points) out.push_back(std::move(p));
      if (page->next_cursor.empty()) break;
      so.cursor = page->next_cursor;
    }
    return out;
  };
  std::map<std::string, Point> merged;
  for (uint32_t s = 0; s < spec.shards; ++s) {
    auto first = scan_all(*replicas[s][0]);
    auto second = scan_all(*replicas[s][1]);
    ASSERT_EQ(first.size(), second.size());
    for (size_t i = 0; i < first.size(); ++i) {
      EXPECT_EQ(first[i].id, second[i].id);
      EXPECT_EQ(first[i].vector, second[i].vector);
      EXPECT_EQ(first[i].payload, second[i].payload);
      merged[first[i].id.ToString() + (first[i].id.is_number() ? "#n" : "#s")] = first[i];
    }
  }
  uint64_t ref_count = *ref->Count();
  EXPECT_EQ(ref_count, 600u - 5 + 1 /*999999 absent*/ - 119 /*g==3 among the rest*/);
  ASSERT_EQ(merged.size(), ref_count);
  for (const auto& [key, p] : merged) {
    auto want = ref->Get(p.id);
    ASSERT_TRUE(want.ok()) << key;
    EXPECT_EQ(want->vector, p.vector);
    EXPECT_EQ(want->payload, p.payload);
  }

  // Counts, with and without filters, summed over one replica per shard.
  for (std::string filter : {"", "{}", "{\"g\":1}", "{\"g\":{\"$gte\":2}}"}) {
    uint64_t sum = 0;
    for (uint32_t s = 0; s < spec.shards; ++s) sum += *replicas[s][s % 2]->Count(filter);
    EXPECT_EQ(sum, filter.empty() || filter == "{}" ? ref_count : *ref->CountWhere(filter)) << filter;
  }

  // Search: each shard's top k, merged by score (ties by id), equals the single node's top k.
  for (int q = 0; q < 20; ++q) {
    std::vector<float> query;
    Seed(rng, 1, &query);
    SearchOptions so;
    so.k = 10;
    so.with_payload = true;
    if (q % 2) so.filter = "{\"g\":{\"$lte\":2}}";
    std::vector<Hit> all;
    for (uint32_t s = 0; s < spec.shards; ++s) {
      auto hits = replicas[s][q % 2]->Search(so, query, nullptr);
      ASSERT_TRUE(hits.ok()) << hits.status().ToString();
      ASSERT_LE(hits->size(), so.k);
      for (auto& h : *hits) all.push_back(std::move(h));
    }
    std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) {
      if (a.score != b.score) return a.score < b.score;  // L2: lower is nearer
      return a.id.ToString() < b.id.ToString();
    });
    all.resize(std::min<size_t>(all.size(), so.k));
    auto want = ref->Search(so, query);
    ASSERT_TRUE(want.ok());
    ASSERT_EQ(all.size(), want->size());
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].id, (*want)[i].id) << "query " << q << " rank " << i;
      EXPECT_EQ(all[i].score, (*want)[i].score);
      EXPECT_EQ(all[i].payload, (*want)[i].payload);
    }
  }
}

TEST_F(ReplicaTest, AppliesExactlyOnceAcrossRestarts) {
  CollectionSpec spec = MakeSpec(1, 1, {"a"});
  LogWriter writer(client_.get(), "a");
  ASSERT_TRUE(writer.CreateStream(spec).ok());
  std::vector<float> v1(kDim, 1.0f), v2(kDim, 2.0f);
  PointId id(1);
  uint64_t s1 = (*writer.Upsert(spec, {&id, 1}, v1, {}))[0];
  uint64_t s2 = (*writer.Upsert(spec, {&id, 1}, v2, {}))[0];
  ASSERT_LT(s1, s2);

  std::string db_path = dir_.Sub("node-a");
  {
    auto db = OpenDb(db_path);
    auto r = *ShardReplica::Open(client_.get(), db.get(), spec, 0, "a");
    ASSERT_TRUE(r->Start().ok());
    ASSERT_TRUE(r->WaitApplied(s2, 20000).ok());
    r->Stop();
  }
  auto db = OpenDb(db_path);
  auto r = *ShardReplica::Open(client_.get(), db.get(), spec, 0, "a");
  EXPECT_EQ(r->applied_sequence(), s2);  // the marker survived the restart
  // The first record delivered again (a lost ack) must not turn the point back to v1.
  WriteMessage m;
  m.kind = WriteMessage::Kind::kUpsert;
  m.dimension = kDim;
  m.ids = {id};
  m.vectors = v1;
  ASSERT_TRUE(r->Apply(s1, EncodeWriteMessage(m)).ok());
  EXPECT_EQ(r->collection()->Get(id)->vector, v2);
  EXPECT_EQ(*r->Count(""), 1u);

  // Consuming again resumes after the marker: only the new record is applied.
  PointId id2(2);
  uint64_t s3 = (*writer.Upsert(spec, {&id2, 1}, v1, {}))[0];
  ASSERT_TRUE(r->Start().ok());
  ASSERT_TRUE(r->WaitApplied(s3, 20000).ok());
  EXPECT_EQ(*r->Count(""), 2u);
  EXPECT_EQ(r->collection()->Get(id)->vector, v2);
  EXPECT_EQ(r->skipped_records(), 0u);
}

TEST_F(ReplicaTest, RestartsDuringWritesLoseNothingAndApplyNothingTwice) {
  // A writer overwrites a small set of ids with increasing versions while the replica is stopped
  // and reopened at random moments. A record applied twice out of order would leave an id at
  // an older version; a lost record would leave it older too.
  CollectionSpec spec = MakeSpec(2, 1, {"a", "b"});
  LogWriter writer(client_.get(), "w");
  ASSERT_TRUE(writer.CreateStream(spec).ok());
  std::string path = dir_.Sub("node");
  auto db = OpenDb(path);
  std::vector<std::unique_ptr<ShardReplica>> reps;
  for (uint32_t s = 0; s < 2; ++s) {
    reps.push_back(*ShardReplica::Open(client_.get(), db.get(), spec, s, "n"));
    ASSERT_TRUE(reps.back()->Start().ok());
  }
  std::map<uint64_t, int> latest;  // id -> last acknowledged version
  ShardSequences last(2, 0);
  std::atomic<bool> done{false};
  std::thread w([&] {
    std::mt19937 rng(5);
    for (int version = 1; version <= 300; ++version) {
      std::vector<PointId> ids;
      std::vector<std::string> payloads;
      std::set<uint64_t> seen;
      for (int i = 0; i < 5; ++i) {
        uint64_t id = rng() % 40;
        if (!seen.insert(id).second) continue;
        ids.emplace_back(id);
        payloads.push_back("{\"v\":" + std::to_string(version) + "}");
      }
      std::vector<float> vecs(ids.size() * kDim, static_cast<float>(version));
      auto seqs = writer.Upsert(spec, ids, vecs, payloads);
      if (!seqs.ok()) {
        ADD_FAILURE() << seqs.status().ToString();
        break;
      }
      for (const auto& id : ids) latest[id.number()] = version;
      for (uint32_t s = 0; s < 2; ++s) last[s] = std::max(last[s], (*seqs)[s]);
    }
    done = true;
  });
  std::mt19937 rng(9);
  int restarts = 0;
  while (!done.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 60));
    reps.clear();  // stop both replicas
    db.reset();    // and close the database, as a crash would
    db = OpenDb(path);
    for (uint32_t s = 0; s < 2; ++s) {
      reps.push_back(*ShardReplica::Open(client_.get(), db.get(), spec, s, "n"));
      ASSERT_TRUE(reps.back()->Start().ok());
    }
    ++restarts;
  }
  w.join();
  EXPECT_GT(restarts, 0);
  for (uint32_t s = 0; s < 2; ++s) ASSERT_TRUE(reps[s]->WaitApplied(last[s], 30000).ok());
  uint64_t total = 0;
  for (auto& r : reps) total += *r->Count("");
  EXPECT_EQ(total, latest.size());
  for (auto [id, version] : latest) {
    auto& r = reps[ShardOf(PointId(id), 2)];
    auto p = r->collection()->Get(PointId(id));
    ASSERT_TRUE(p.ok()) << id;
    EXPECT_EQ(p->payload, "{\"v\":" + std::to_string(version) + "}") << "id " << id;
    EXPECT_EQ(p->vector[0], static_cast<float>(version));
  }
}

TEST_F(ReplicaTest, BadWritesAreRefusedBeforePublishing) {
  CollectionSpec spec = MakeSpec(2, 1, {"a", "b"});
  spec.options.metric = Metric::kCosine;
  LogWriter writer(client_.get(), "a");
  ASSERT_TRUE(writer.CreateStream(spec).ok());
  std::vector<float> ok(kDim, 1.0f), zero(kDim, 0.0f), nan(kDim, 1.0f), shortv(kDim - 1, 1.0f);
  nan[3] = std::nanf("");
  PointId id(1), reserved(kMarkerId), empty_str(std::string{});
  std::string not_object = "[1]";
  auto expect_invalid = [](const StatusOr<ShardSequences>& r, std::string_view needle) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string_view::npos) << r.status().ToString();
  };
  expect_invalid(writer.Upsert(spec, {&id, 1}, shortv, {}), "needs 8 floats");
  expect_invalid(writer.Upsert(spec, {&id, 1}, nan, {}), "component 3 is not finite");
  expect_invalid(writer.Upsert(spec, {&id, 1}, zero, {}), "zero vector");
  expect_invalid(writer.Upsert(spec, {&reserved, 1}, ok, {}), "reserved");
  expect_invalid(writer.Upsert(spec, {&empty_str, 1}, ok, {}), "id must be");
  expect_invalid(writer.Upsert(spec, {&id, 1}, ok, {&not_object, 1}), "not a JSON object");
  expect_invalid(writer.Upsert(spec, {}, {}, {}), "empty");
  expect_invalid(writer.Delete(spec, {}), "empty");
  expect_invalid(writer.Delete(spec, {&reserved, 1}), "reserved");
  expect_invalid(writer.DeleteWhere(spec, ""), "needs a filter");
  expect_invalid(writer.DeleteWhere(spec, "{nope"), "not a JSON object");
  EXPECT_EQ(*client_->LastSequence(spec.StreamName()), 0u);  // nothing was published
}

TEST_F(ReplicaTest, LargeBatchesAreSplitIntoAtomicMessages) {
  CollectionSpec spec = MakeSpec(1, 1, {"a"});
  LogWriter writer(client_.get(), "a", /*max_message_bytes=*/4096);
  ASSERT_TRUE(writer.CreateStream(spec).ok());
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (uint64_t i = 0; i < 2000; ++i) {
    ids.emplace_back(i);
    payloads.push_back("{\"i\":" + std::to_string(i) + "}");
  }
  std::vector<float> vecs;
  std::mt19937 rng(3);
  Seed(rng, ids.size(), &vecs);
  auto seqs = writer.Upsert(spec, ids, vecs, payloads);
  ASSERT_TRUE(seqs.ok()) << seqs.status().ToString();
  EXPECT_GT((*seqs)[0], 20u);  // many messages, each under 4 KiB
  auto db = OpenDb(dir_.Sub("n"));
  auto r = *ShardReplica::Open(client_.get(), db.get(), spec, 0, "a");
  ASSERT_TRUE(r->Start().ok());
  ASSERT_TRUE(r->WaitApplied((*seqs)[0], 20000).ok());
  EXPECT_EQ(*r->Count(""), 2000u);
  EXPECT_EQ(r->collection()->Get(PointId(1999))->payload, "{\"i\":1999}");
}

}  // namespace
}  // namespace sextant::cluster
