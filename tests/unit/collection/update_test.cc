// Updates that keep the vector (SetPayload, OverwritePayload, DeletePayloadKeys) or the payload
// (UpdateVectors), GetMany, CountWhere and Search's payload include/exclude lists.
#include <atomic>

#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 4;

// Points 0..n-1 with payload {"group": i % 3 as "g0".."g2", "n": i, "meta": {"a": i, "b": "x"}},
// on a collection with a keyword index on "group" and an integer index on "n".
std::shared_ptr<Collection> MakeIndexed(Database* db, const std::string& name, int n, IndexOptions index = {}) {
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = Metric::kL2;
  o.index = index;
  o.payload_indexes = {{"group", PayloadFieldType::kKeyword}, {"n", PayloadFieldType::kInteger}};
  auto c = db->CreateCollection(name, o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  std::vector<PointId> ids;
  std::vector<float> v;
  std::vector<std::string> payloads;
  for (int i = 0; i < n; ++i) {
    ids.emplace_back(uint64_t(i));
    for (uint32_t d = 0; d < kDim; ++d) v.push_back(static_cast<float>(i) + 0.01f * static_cast<float>(d));
    payloads.push_back(
        nlohmann::json{{"group", "g" + std::to_string(i % 3)}, {"n", i}, {"meta", {{"a", i}, {"b", "x"}}}}.dump());
  }
  EXPECT_TRUE((*c)->Upsert({}, ids, v, payloads).ok());
  return *c;
}

nlohmann::json PayloadOf(const Collection& c, uint64_t id) {
  auto p = c.Get(PointId(id));
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? nlohmann::json::parse(p->payload) : nlohmann::json();
}

TEST(GetManyTest, ReturnsPointsInOrderAndReportsMissing) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 5);
  std::vector<PointId> ids{PointId(3), PointId(99), PointId("3"), PointId(0)};
  ASSERT_OK_AND_ASSIGN(auto got, c->GetMany(ids));
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->id, PointId(3));
  EXPECT_FLOAT_EQ(got[0]->vector[0], 3.0f);
  EXPECT_EQ(nlohmann::json::parse(got[0]->payload)["n"], 3);
  EXPECT_FALSE(got[1].has_value());
  EXPECT_FALSE(got[2].has_value());  // the string "3" is not the number 3
  ASSERT_TRUE(got[3].has_value());
  EXPECT_EQ(got[3]->id, PointId(0));
  ASSERT_OK_AND_ASSIGN(auto none, c->GetMany(std::vector<PointId>{}));
  EXPECT_TRUE(none.empty());
  EXPECT_STATUS(c->GetMany(std::vector<PointId>{PointId(1), PointId("")}), StatusCode::kInvalidArgument, "point 1");
}

TEST(CountWhereTest, CountsMatchesFromIndexAndPayloads) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 30);
  EXPECT_EQ(*c->CountWhere(""), 30u);
  EXPECT_EQ(*c->CountWhere("{}"), 30u);
  EXPECT_EQ(*c->CountWhere(R"({"group": "g1"})"), 10u);            // from the index
  EXPECT_EQ(*c->CountWhere(R"({"meta.a": {"$lt": 7}})"), 7u);      // reads payloads
  EXPECT_EQ(*c->CountWhere(R"({"group": "g1", "meta.a": {"$lt": 7}})"), 2u);  // 1, 4
  EXPECT_STATUS(c->CountWhere("{bad"), StatusCode::kInvalidArgument, "count", "filter");
}

TEST(PayloadUpdateTest, SetMergesOverwriteReplacesDeleteRemovesByIds) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 6);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->SetPayload({}, PointSelector::Ids({1, 2, 2}), R"({"group":"new","extra":[1,2]})"));
  EXPECT_EQ(n, 2u);  // the repeated id counts once
  auto p1 = PayloadOf(*c, 1);
  EXPECT_EQ(p1["group"], "new");
  EXPECT_EQ(p1["extra"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(p1["n"], 1);  // kept
  EXPECT_EQ(PayloadOf(*c, 0)["group"], "g0");  // not selected

  ASSERT_OK_AND_ASSIGN(n, c->OverwritePayload({}, PointSelector::Ids({3}), R"({"only":true})"));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(PayloadOf(*c, 3), nlohmann::json::parse(R"({"only":true})"));
  ASSERT_OK(c->OverwritePayload({}, PointSelector::Ids({4}), ""));
  EXPECT_EQ(PayloadOf(*c, 4), nlohmann::json::object());

  std::vector<std::string> keys{"meta.b", "n", "absent", "meta.zz.deep"};
  ASSERT_OK_AND_ASSIGN(n, c->DeletePayloadKeys({}, PointSelector::Ids({5}), keys));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(PayloadOf(*c, 5), nlohmann::json::parse(R"({"group":"g2","meta":{"a":5}})"));

  // The payload indexes follow: filters answered from them see the new values.
  EXPECT_EQ(*c->CountWhere(R"({"group":"new"})"), 2u);
  EXPECT_EQ(*c->CountWhere(R"({"group":"g1"})"), 0u);  // 1 moved to "new", 4 was cleared
  EXPECT_EQ(*c->CountWhere(R"({"n":{"$exists":true}})"), 3u);  // 0, 1, 2
  SearchOptions so;
  so.k = 10;
  so.filter = R"({"group":"new"})";
  std::vector<float> q(kDim, 0.0f);
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, q));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, PointId(1));
  // Vectors untouched.
  EXPECT_FLOAT_EQ(c->Get(PointId(1))->vector[0], 1.0f);
}

TEST(PayloadUpdateTest, ByFilterUpdatesEveryMatchAtomically) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 30, *IndexOptions::Parse("HNSW16"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->SetPayload({}, PointSelector::Where(R"({"group":"g2"})"), R"({"flag":1})"));
  EXPECT_EQ(n, 10u);
  EXPECT_EQ(*c->CountWhere(R"({"flag":1})"), 10u);
  ASSERT_OK_AND_ASSIGN(n, c->SetPayload({}, PointSelector::Where(R"({"group":"none"})"), R"({"flag":2})"));
  EXPECT_EQ(n, 0u);
  ASSERT_OK_AND_ASSIGN(n, c->DeletePayloadKeys({}, PointSelector::Where("{}"), std::vector<std::string>{"flag"}));
  EXPECT_EQ(n, 30u);
  EXPECT_EQ(*c->CountWhere(R"({"flag":{"$exists":true}})"), 0u);
  // A value of the wrong type for an indexed field fails the whole call, and nothing changes.
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Where("{}"), R"({"n":"text"})"), StatusCode::kInvalidArgument,
                "set_payload", "declared integer");
  EXPECT_EQ(*c->CountWhere(R"({"n":{"$gte":0}})"), 30u);
}

TEST(PayloadUpdateTest, ErrorsWriteNothing) {
  TempDir dir;
  DatabaseOptions opts;
  opts.max_payload_bytes = 200;
  auto db = MustOpen(dir.path(), opts);
  auto c = MakeIndexed(db.get(), "c", 4);
  const auto before = PayloadOf(*c, 1);
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Ids({1, 77}), R"({"x":1})"), StatusCode::kNotFound, "77");
  EXPECT_EQ(PayloadOf(*c, 1), before);
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Ids({1}), "[1]"), StatusCode::kInvalidArgument, "not a JSON object");
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Ids({1}), "{x"), StatusCode::kInvalidArgument, "payload");
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Where(""), R"({"x":1})"), StatusCode::kInvalidArgument, "filter");
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Where("{bad"), R"({"x":1})"), StatusCode::kInvalidArgument, "filter");
  EXPECT_STATUS(c->DeletePayloadKeys({}, PointSelector::Ids({1}), std::vector<std::string>{}),
                StatusCode::kInvalidArgument, "keys");
  EXPECT_STATUS(c->DeletePayloadKeys({}, PointSelector::Ids({1}), std::vector<std::string>{"a..b"}),
                StatusCode::kInvalidArgument, "keys[0]");
  // Merged payload over the size limit.
  const std::string big = R"({"pad":")" + std::string(150, 'x') + R"("})";
  EXPECT_STATUS(c->SetPayload({}, PointSelector::Ids({1}), big), StatusCode::kInvalidArgument, "over the limit");
  EXPECT_EQ(PayloadOf(*c, 1), before);
}

TEST(PayloadUpdateTest, SurvivesReopen) {
  TempDir dir;
  {
    auto db = MustOpen(dir.path());
    auto c = MakeIndexed(db.get(), "c", 6);
    ASSERT_OK(c->SetPayload({}, PointSelector::Ids({2}), R"({"group":"moved"})"));
    ASSERT_OK(c->DeletePayloadKeys({}, PointSelector::Ids({3}), std::vector<std::string>{"group"}));
  }
  auto db = MustOpen(dir.path());
  auto c = *db->GetCollection("c");
  EXPECT_EQ(PayloadOf(*c, 2)["group"], "moved");
  EXPECT_EQ(*c->CountWhere(R"({"group":"moved"})"), 1u);  // the index entries were persisted
  EXPECT_EQ(*c->CountWhere(R"({"group":"g2"})"), 1u);     // 5 (2 moved)
  EXPECT_EQ(*c->CountWhere(R"({"group":"g0"})"), 1u);     // 0 (3 lost its group)
}

TEST(UpdateVectorsTest, ReplacesVectorsKeepsPayloadsAndIndex) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 50, *IndexOptions::Parse("HNSW16"));
  const auto before = PayloadOf(*c, 7);
  std::vector<float> v(kDim, 1000.0f);
  ASSERT_OK(c->UpdateVectors({}, std::vector<PointId>{PointId(7)}, v));
  EXPECT_EQ(PayloadOf(*c, 7), before);
  EXPECT_FLOAT_EQ(c->Get(PointId(7))->vector[0], 1000.0f);
  EXPECT_EQ(*c->CountWhere(R"({"group":"g1"})"), 17u);  // 1, 4, ..., 49: 7 still counted
  SearchOptions so;
  so.k = 1;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, v));  // through the index
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId(7));
  so.filter = R"({"group":"g1"})";
  ASSERT_OK_AND_ASSIGN(hits, c->Search(so, v));
  EXPECT_EQ(hits[0].id, PointId(7));
  EXPECT_EQ(*c->Count(), 50u);

  EXPECT_STATUS(c->UpdateVectors({}, std::vector<PointId>{PointId(1), PointId(500)}, std::vector<float>(2 * kDim, 1.0f)),
                StatusCode::kNotFound, "500");
  EXPECT_FLOAT_EQ(c->Get(PointId(1))->vector[0], 1.0f);  // nothing written
  EXPECT_STATUS(c->UpdateVectors({}, std::vector<PointId>{PointId(1)}, std::vector<float>(3, 1.0f)),
                StatusCode::kInvalidArgument, "update_vectors", "floats");
  std::vector<float> bad(kDim, 1.0f);
  bad[2] = std::nanf("");
  EXPECT_STATUS(c->UpdateVectors({}, std::vector<PointId>{PointId(1)}, bad), StatusCode::kInvalidArgument,
                "update_vectors");
}

TEST(SearchPayloadSelectionTest, IncludeAndExcludePaths) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 3);
  SearchOptions so;
  so.k = 1;
  so.with_payload = true;
  so.payload_include = {"group", "meta.a", "missing"};
  std::vector<float> q(kDim, 0.0f);
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, q));
  EXPECT_EQ(nlohmann::json::parse(hits[0].payload), nlohmann::json::parse(R"({"group":"g0","meta":{"a":0}})"));
  so.payload_include.clear();
  so.payload_exclude = {"meta"};
  ASSERT_OK_AND_ASSIGN(hits, c->Search(so, q));
  EXPECT_EQ(nlohmann::json::parse(hits[0].payload), nlohmann::json::parse(R"({"group":"g0","n":0})"));
  so.payload_include = {"meta"};
  so.payload_exclude = {"meta.b"};
  ASSERT_OK_AND_ASSIGN(hits, c->Search(so, q));
  EXPECT_EQ(nlohmann::json::parse(hits[0].payload), nlohmann::json::parse(R"({"meta":{"a":0}})"));
  so.payload_exclude = {""};
  EXPECT_STATUS(c->Search(so, q), StatusCode::kInvalidArgument, "payload_exclude[0]");
}

// Searches filtered on a payload field see each point either before or after a concurrent
// payload update, never an error, and the counts stay consistent.
TEST(PayloadUpdateTest, ConcurrentWithSearch) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeIndexed(db.get(), "c", 300, *IndexOptions::Parse("HNSW16"));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      SearchOptions so;
      so.k = 5;
      so.with_payload = true;
      so.filter = R"({"group":{"$in":["g0","flip"]}})";
      std::vector<float> q(kDim, 50.0f);
      while (!stop) {
        auto hits = c->Search(so, q);
        if (!hits.ok() || hits->size() != 5) ++errors;
        auto n = c->CountWhere(R"({"group":{"$in":["g0","flip"]}})");
        if (!n.ok() || *n != 100) ++errors;  // flips move whole g0 <-> flip sets atomically
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(c->SetPayload({}, PointSelector::Where(R"({"group":"g0"})"), R"({"group":"flip"})"));
    ASSERT_OK(c->SetPayload({}, PointSelector::Where(R"({"group":"flip"})"), R"({"group":"g0"})"));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
}

}  // namespace
}  // namespace sextant
