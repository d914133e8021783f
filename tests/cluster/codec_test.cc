// The parts of cluster mode that need no NATS: the shard hash, the log record codec and chunking,
// shard placement, the collection spec's JSON.
#include <gtest/gtest.h>

#include <map>

#include "cluster/metadata.h"
#include "cluster/replica.h"
#include "cluster/shard.h"
#include "cluster/shard_rpc.h"
#include "cluster/write_message.h"

namespace sextant::cluster {
namespace {

TEST(ShardTest, HashIsTheDocumentedFnv1a) {
  // FNV-1a 64 reference values (the algorithm's published test vectors).
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
  // Keys: 0x00 + 8 bytes LE for numbers, 0x01 + bytes for strings.
  std::string num_key("\0\x07\0\0\0\0\0\0\0", 9);
  EXPECT_EQ(ShardOf(PointId(7), 1000), Fnv1a64(num_key) % 1000);
  EXPECT_EQ(ShardOf(PointId("7"), 1000), Fnv1a64(std::string("\x01" "7")) % 1000);
  EXPECT_EQ(ShardOf(PointId(12345), 1), 0u);
}

TEST(ShardTest, SpreadsIdsEvenly) {
  std::map<uint32_t, int> counts;
  for (uint64_t i = 0; i < 30000; ++i) counts[ShardOf(PointId(i), 3)]++;
  for (int i = 0; i < 3000; ++i) counts[ShardOf(PointId("doc-" + std::to_string(i)), 3)]++;
  ASSERT_EQ(counts.size(), 3u);
  for (auto [shard, n] : counts) {
    EXPECT_GT(n, 10000) << shard;
    EXPECT_LT(n, 12000) << shard;
  }
}

WriteMessage SampleUpsert() {
  WriteMessage m;
  m.kind = WriteMessage::Kind::kUpsert;
  m.dimension = 3;
  m.ids = {PointId(1), PointId("two"), PointId(uint64_t{1} << 63)};
  m.vectors = {1, 2, 3, 4, 5, 6, -7, 8.5f, 9};
  m.payloads = {"{\"a\":1}", "", "{\"b\":\"x\"}"};
  return m;
}

TEST(WriteMessageTest, RoundTripsEveryKind) {
  WriteMessage up = SampleUpsert();
  auto d = DecodeWriteMessage(EncodeWriteMessage(up));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->kind, WriteMessage::Kind::kUpsert);
  EXPECT_EQ(d->dimension, 3u);
  EXPECT_EQ(d->ids, up.ids);
  EXPECT_EQ(d->vectors, up.vectors);
  EXPECT_EQ(d->payloads, up.payloads);

  up.payloads.clear();
  d = DecodeWriteMessage(EncodeWriteMessage(up));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->payloads.empty());

  WriteMessage del;
  del.kind = WriteMessage::Kind::kDelete;
  del.ids = {PointId(9), PointId("x")};
  d = DecodeWriteMessage(EncodeWriteMessage(del));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, WriteMessage::Kind::kDelete);
  EXPECT_EQ(d->ids, del.ids);

  WriteMessage dw;
  dw.kind = WriteMessage::Kind::kDeleteWhere;
  dw.filter = "{\"a\":1}";
  d = DecodeWriteMessage(EncodeWriteMessage(dw));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->filter, dw.filter);
}

TEST(WriteMessageTest, EveryTruncationAndCorruptionIsDataLoss) {
  std::string enc = EncodeWriteMessage(SampleUpsert());
  for (size_t n = 0; n < enc.size(); ++n) {
    auto d = DecodeWriteMessage(std::string_view(enc).substr(0, n));
    ASSERT_FALSE(d.ok()) << "prefix " << n;
    EXPECT_EQ(d.status().code(), StatusCode::kDataLoss) << n;
  }
  EXPECT_EQ(DecodeWriteMessage(enc + "x").status().code(), StatusCode::kDataLoss);  // trailing bytes
  std::string bad_version = enc;
  bad_version[3] = 9;
  EXPECT_NE(DecodeWriteMessage(bad_version).status().message().find("version 9"), std::string_view::npos);
  std::string bad_kind = enc;
  bad_kind[4] = 77;
  EXPECT_EQ(DecodeWriteMessage(bad_kind).status().code(), StatusCode::kDataLoss);
  // A dimension so large that count * dimension * 4 would overflow: DATA_LOSS, nothing read.
  std::string huge_dim = enc;
  for (int i = 9; i < 13; ++i) huge_dim[i] = static_cast<char>(0xff);
  auto d = DecodeWriteMessage(huge_dim);
  EXPECT_EQ(d.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(d.status().message().find("upsert: truncated vectors"), std::string_view::npos) << d.status().ToString();
}

// The updates that keep vectors or payloads: round trips, every truncation is DATA_LOSS, and
// chunking keeps each part's payload or keys.
TEST(WriteMessageTest, UpdateRecordsRoundTripTruncateAndSplit) {
  std::vector<WriteMessage> samples;
  WriteMessage uv;
  uv.kind = WriteMessage::Kind::kUpdateVectors;
  uv.dimension = 2;
  uv.ids = {PointId(3), PointId("v")};
  uv.vectors = {1, 2, 3, 4};
  samples.push_back(uv);
  for (auto kind : {WriteMessage::Kind::kSetPayload, WriteMessage::Kind::kOverwritePayload,
                    WriteMessage::Kind::kDeletePayloadKeys}) {
    for (bool by_filter : {false, true}) {
      WriteMessage m;
      m.kind = kind;
      m.by_filter = by_filter;
      if (by_filter) {
        m.filter = "{\"g\":1}";
      } else {
        m.ids = {PointId(1), PointId("two")};
      }
      if (kind == WriteMessage::Kind::kDeletePayloadKeys) {
        m.keys = {"a", "b.c"};
      } else {
        m.payload = "{\"a\":[1,2]}";
      }
      samples.push_back(m);
    }
  }
  WriteMessage si;
  si.kind = WriteMessage::Kind::kSetIndex;
  si.index = IndexToJson(*IndexOptions::Parse("IVF64,PQ4"));
  samples.push_back(si);
  WriteMessage rebuild;
  rebuild.kind = WriteMessage::Kind::kRebuildIndex;
  samples.push_back(rebuild);
  for (const auto& m : samples) {
    const std::string enc = EncodeWriteMessage(m);
    auto d = DecodeWriteMessage(enc);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->kind, m.kind);
    EXPECT_EQ(d->ids, m.ids);
    EXPECT_EQ(d->vectors, m.vectors);
    EXPECT_EQ(d->dimension, m.dimension);
    EXPECT_EQ(d->by_filter, m.by_filter);
    EXPECT_EQ(d->filter, m.filter);
    EXPECT_EQ(d->payload, m.payload);
    EXPECT_EQ(d->keys, m.keys);
    EXPECT_EQ(d->index, m.index);
    for (size_t n = 0; n < enc.size(); ++n) {
      EXPECT_EQ(DecodeWriteMessage(std::string_view(enc).substr(0, n)).status().code(), StatusCode::kDataLoss)
          << static_cast<int>(m.kind) << " prefix " << n;
    }
    EXPECT_EQ(DecodeWriteMessage(enc + "x").status().code(), StatusCode::kDataLoss);
  }
  // The index options survive their JSON; malformed JSON is InvalidArgument.
  auto ix = IndexFromJson(si.index);
  ASSERT_TRUE(ix.ok()) << ix.status().ToString();
  EXPECT_EQ(ix->ToString(), IndexOptions::Parse("IVF64,PQ4")->ToString());
  EXPECT_EQ(ix->nlist, 64u);
  EXPECT_EQ(ix->pq_m, 4u);
  EXPECT_EQ(IndexFromJson("{\"type\":1}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IndexFromJson("[").status().code(), StatusCode::kInvalidArgument);
  // A payload update by 500 ids splits into parts that each carry the payload.
  WriteMessage big;
  big.kind = WriteMessage::Kind::kSetPayload;
  big.payload = "{\"tag\":\"" + std::string(100, 'x') + "\"}";
  for (uint64_t i = 0; i < 500; ++i) big.ids.emplace_back(i);
  auto parts = SplitWriteMessage(big, 1024);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_GT(parts->size(), 4u);
  size_t next = 0;
  for (const auto& p : *parts) {
    EXPECT_LE(EncodeWriteMessage(p).size(), 1024u);
    EXPECT_EQ(p.payload, big.payload);
    for (const auto& id : p.ids) EXPECT_EQ(id, PointId(static_cast<uint64_t>(next++)));
  }
  EXPECT_EQ(next, 500u);
  // A payload larger than a message is refused, not split.
  big.payload = "{\"tag\":\"" + std::string(2000, 'x') + "\"}";
  EXPECT_EQ(SplitWriteMessage(big, 1024).status().code(), StatusCode::kInvalidArgument);
  big.by_filter = true;
  big.ids.clear();
  big.filter = "{}";
  EXPECT_EQ(SplitWriteMessage(big, 1024).status().code(), StatusCode::kInvalidArgument);
}

TEST(WriteMessageTest, SplitsOnPointBoundariesUnderTheLimit) {
  WriteMessage m;
  m.kind = WriteMessage::Kind::kUpsert;
  m.dimension = 16;
  for (int i = 0; i < 1000; ++i) {
    m.ids.emplace_back(static_cast<uint64_t>(i));
    for (int d = 0; d < 16; ++d) m.vectors.push_back(static_cast<float>(i * 16 + d));
    m.payloads.push_back("{\"i\":" + std::to_string(i) + "}");
  }
  const size_t limit = 4096;
  auto parts = SplitWriteMessage(m, limit);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_GT(parts->size(), 10u);
  size_t next = 0;
  for (const auto& p : *parts) {
    std::string enc = EncodeWriteMessage(p);
    EXPECT_LE(enc.size(), limit);
    for (size_t i = 0; i < p.ids.size(); ++i, ++next) {
      ASSERT_EQ(p.ids[i], PointId(static_cast<uint64_t>(next)));
      ASSERT_EQ(p.vectors[i * 16], static_cast<float>(next * 16));
      ASSERT_EQ(p.payloads[i], "{\"i\":" + std::to_string(next) + "}");
    }
  }
  EXPECT_EQ(next, 1000u);

  WriteMessage huge;
  huge.kind = WriteMessage::Kind::kUpsert;
  huge.dimension = 2000;
  huge.ids = {PointId("big")};
  huge.vectors.assign(2000, 1.0f);
  auto refused = SplitWriteMessage(huge, limit);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("id big"), std::string_view::npos);
}

TEST(PlacementTest, SpreadsReplicasAndRefusesTooManyReplicas) {
  auto p = PlaceShards(3, 2, {"c", "a", "b"});
  ASSERT_TRUE(p.ok());
  std::vector<std::vector<std::string>> want = {{"a", "b"}, {"b", "c"}, {"c", "a"}};
  EXPECT_EQ(*p, want);
  auto too_many = PlaceShards(3, 4, {"a", "b", "c"});
  EXPECT_EQ(too_many.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("replication 4"), std::string_view::npos);
  EXPECT_EQ(PlaceShards(0, 1, {"a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PlaceShards(1, 0, {"a"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(SpecTest, JsonRoundTripAndNames) {
  CollectionSpec s;
  s.name = "my.docs_v2";
  s.options.dimension = 8;
  s.options.metric = Metric::kL2;
  s.options.index = *IndexOptions::Parse("HNSW8");
  s.options.payload_indexes = {{"genre", PayloadFieldType::kKeyword}};
  s.options.text_fields = {TextFieldOptions{"body", "english", true, true}};
  s.options.properties = "{\"x\":1}";
  s.shards = 2;
  s.replication = 1;
  s.placement = {{"n1"}, {"n2"}};
  s.created_us = 42;
  auto back = CollectionSpec::FromJson(s.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), s.ToJson());
  EXPECT_EQ(back->options.index.ToString(), "HNSW8");
  EXPECT_EQ(s.StreamName(), "SX_my_ddocs__v2_42");
  EXPECT_EQ(s.Subject(1), "sx.my_ddocs__v2.42.1");
  EXPECT_NE(NatsToken("a.b"), NatsToken("a_b"));
  EXPECT_EQ(CollectionSpec::FromJson("{}").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(CollectionSpec::FromJson("nope").status().code(), StatusCode::kDataLoss);
  std::string local = LocalCollectionName(s, 1);
  EXPECT_EQ(local.rfind("my.docs_v2.", 0), 0u);
  CollectionSpec long_name;
  long_name.name = std::string(128, 'x');
  EXPECT_LE(LocalCollectionName(long_name, 1023).size(), 128u);
}

TEST(NodeIdTest, Validates) {
  EXPECT_TRUE(ValidateNodeId("node-1_a").ok());
  EXPECT_EQ(ValidateNodeId("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNodeId("a.b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateNodeId(std::string(65, 'a')).code(), StatusCode::kInvalidArgument);
}

TEST(ShardRpcTest, SearchOptionsAndHitsRoundTripEveryField) {
  SearchOptions o;
  o.k = 17;
  o.filter = "{\"a\":1}";
  o.with_payload = true;
  o.with_vector = true;
  o.ef_search = 33;
  o.nprobe = 4;
  o.exact = true;
  o.text = std::string("caf\xc3\xa9 \0x", 8);
  o.text_fields = {"title", "body"};
  o.fusion = Fusion::kWeighted;
  o.rrf_k = 12;
  o.dense_weight = 0.25f;
  o.text_weight = 0.75f;
  o.candidates = 300;
  o.score_threshold = -0.5f;
  o.group_by = "doc.id";
  o.group_size = 4;
  o.mmr = true;
  o.mmr_lambda = 0.2f;
  o.max_result_bytes = 123456;
  o.payload_include = {"x"};
  o.payload_exclude = {"y.z"};
  // Through MessagePack, as on the wire.
  SearchOptions b = SearchOptionsFromJson(nlohmann::json::from_msgpack(nlohmann::json::to_msgpack(SearchOptionsToJson(o))));
  EXPECT_EQ(b.k, o.k);
  EXPECT_EQ(b.filter, o.filter);
  EXPECT_EQ(b.with_payload, o.with_payload);
  EXPECT_EQ(b.with_vector, o.with_vector);
  EXPECT_EQ(b.ef_search, o.ef_search);
  EXPECT_EQ(b.nprobe, o.nprobe);
  EXPECT_EQ(b.exact, o.exact);
  EXPECT_EQ(b.text, o.text);
  EXPECT_EQ(b.text_fields, o.text_fields);
  EXPECT_EQ(b.fusion, o.fusion);
  EXPECT_EQ(b.rrf_k, o.rrf_k);
  EXPECT_EQ(b.dense_weight, o.dense_weight);
  EXPECT_EQ(b.text_weight, o.text_weight);
  EXPECT_EQ(b.candidates, o.candidates);
  EXPECT_EQ(b.score_threshold, o.score_threshold);
  EXPECT_EQ(b.group_by, o.group_by);
  EXPECT_EQ(b.group_size, o.group_size);
  EXPECT_EQ(b.mmr, o.mmr);
  EXPECT_EQ(b.mmr_lambda, o.mmr_lambda);
  EXPECT_EQ(b.max_result_bytes, o.max_result_bytes);
  EXPECT_EQ(b.payload_include, o.payload_include);
  EXPECT_EQ(b.payload_exclude, o.payload_exclude);
  o.score_threshold.reset();
  EXPECT_FALSE(SearchOptionsFromJson(SearchOptionsToJson(o)).score_threshold.has_value());

  Hit h;
  h.id = PointId("d-1");
  h.score = 0.5f;
  h.dense_score = 0.25f;
  h.text_score = 3.5f;
  h.payload = "{\"g\":\"x\"}";
  h.vector = {1, 2};
  h.group = "\"x\"";
  Hit g = HitFromJson(nlohmann::json::from_msgpack(nlohmann::json::to_msgpack(HitToJson(h))));
  EXPECT_EQ(g.id, h.id);
  EXPECT_EQ(g.score, h.score);
  EXPECT_EQ(g.dense_score, h.dense_score);
  EXPECT_EQ(g.text_score, h.text_score);
  EXPECT_EQ(g.payload, h.payload);
  EXPECT_EQ(g.vector, h.vector);
  EXPECT_EQ(g.group, h.group);
  // A field missing from a request is an error the server answers with, not a default.
  auto j = SearchOptionsToJson(o);
  j.erase("group_by");
  EXPECT_THROW(SearchOptionsFromJson(j), nlohmann::json::exception);
}

}  // namespace
}  // namespace sextant::cluster
