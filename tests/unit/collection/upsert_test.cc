// Contract tests of the collection write and read paths (collection.h): Upsert, Get, Delete,
// Count, Describe and Scan, with numeric and string ids and JSON payloads.
#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::ScanAll;
using ::sextant::testing::TempDir;

// No whitespace outside strings.
bool IsCompact(std::string_view json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      return false;
    }
  }
  return true;
}

class UpsertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::SharedDatabase::Open(); }
  static void TearDownTestSuite() { testing::SharedDatabase::Close(); }
  void SetUp() override {
    db_ = testing::SharedDatabase::db();
    ASSERT_NE(db_, nullptr);
    c_ = MustCreate(db_, testing::TestCollectionName(), 3, Metric::kL2);
    ASSERT_NE(c_, nullptr);
  }
  uint64_t Count() {
    auto n = c_->Count();
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : ~uint64_t{0};
  }
  Database* db_ = nullptr;
  std::shared_ptr<Collection> c_;
};

TEST_F(UpsertTest, NumericAndStringIdsAreDistinct) {
  std::vector<PointId> ids = {PointId(uint64_t{7}), PointId("7"), PointId(uint64_t{0}),
                              PointId(UINT64_MAX), PointId("seven")};
  std::vector<float> v = {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5};
  ASSERT_OK(c_->Upsert({}, ids, v));
  EXPECT_EQ(Count(), 5u);
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(ids[i]));
    EXPECT_EQ(p.id, ids[i]);
    EXPECT_EQ(p.id.is_number(), ids[i].is_number());
    const float x = static_cast<float>(i + 1);
    EXPECT_EQ(p.vector, (std::vector<float>{x, x, x})) << "id " << ids[i].ToString();
    EXPECT_EQ(p.payload, "{}");
  }
  // Deleting the number leaves the string.
  std::vector<PointId> del = {PointId(uint64_t{7})};
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->Delete({}, del));
  EXPECT_EQ(n, 1u);
  EXPECT_STATUS(c_->Get(PointId(uint64_t{7})), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(Point s, c_->Get(PointId("7")));
  EXPECT_EQ(s.vector, (std::vector<float>{2, 2, 2}));
}

TEST_F(UpsertTest, StringIdsAreBytes) {
  // Ids are compared as bytes: case, whitespace, UTF-8 and embedded NULs all count.
  std::vector<PointId> ids = {PointId("a"), PointId("A"), PointId("a "), PointId("caf\xc3\xa9"),
                              PointId(std::string("x\0y", 3)), PointId(std::string("x\0z", 3)),
                              PointId(std::string(512, 'q'))};
  std::vector<float> v;
  for (size_t i = 0; i < ids.size(); ++i) v.insert(v.end(), {float(i), 0, 0});
  ASSERT_OK(c_->Upsert({}, ids, v));
  EXPECT_EQ(Count(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(ids[i]));
    EXPECT_EQ(p.id, ids[i]);
    EXPECT_EQ(p.vector[0], float(i));
  }
  EXPECT_STATUS(c_->Get(PointId("x")), StatusCode::kNotFound);
}

TEST_F(UpsertTest, ReupsertReplacesVectorAndPayload) {
  std::vector<PointId> ids = {PointId(uint64_t{1}), PointId("b"), PointId(uint64_t{3})};
  ASSERT_OK(c_->Upsert({}, ids, std::vector<float>{1, 1, 1, 2, 2, 2, 3, 3, 3},
                       std::vector<std::string>{R"({"v":1})", R"({"v":2})", R"({"v":3})"}));
  // Replace 1 with a new payload, "b" with none, 3 with an empty-string payload.
  ASSERT_OK(c_->Upsert({}, ids, std::vector<float>{10, 10, 10, 20, 20, 20, 30, 30, 30},
                       std::vector<std::string>{R"({"v":"new"})", "", ""}));
  EXPECT_EQ(Count(), 3u);
  ASSERT_OK_AND_ASSIGN(Point p1, c_->Get(ids[0]));
  EXPECT_EQ(p1.vector, (std::vector<float>{10, 10, 10}));
  EXPECT_EQ(p1.payload, R"({"v":"new"})");
  ASSERT_OK_AND_ASSIGN(Point pb, c_->Get(ids[1]));
  EXPECT_EQ(pb.vector, (std::vector<float>{20, 20, 20}));
  EXPECT_EQ(pb.payload, "{}");
  ASSERT_OK_AND_ASSIGN(Point p3, c_->Get(ids[2]));
  EXPECT_EQ(p3.payload, "{}");

  // Without a payloads span at all, the old payload is replaced by none too.
  ASSERT_OK(c_->Upsert({}, std::vector<PointId>{ids[0]}, std::vector<float>{5, 5, 5}));
  ASSERT_OK_AND_ASSIGN(Point p1b, c_->Get(ids[0]));
  EXPECT_EQ(p1b.vector, (std::vector<float>{5, 5, 5}));
  EXPECT_EQ(p1b.payload, "{}");

  // Search sees the new vectors only.
  SearchOptions so;
  so.k = 10;
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{5, 5, 5}));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, ids[0]);
  EXPECT_FLOAT_EQ(hits[0].score, 0.0f);
  EXPECT_EQ(hits[0].payload, "{}");
  EXPECT_EQ(hits[1].id, ids[1]);  // "b" at 20: 3 * 15^2 = 675
  EXPECT_FLOAT_EQ(hits[1].score, 675.0f);
  EXPECT_EQ(hits[2].id, ids[2]);  // 3 at 30: 3 * 25^2 = 1875
  EXPECT_FLOAT_EQ(hits[2].score, 1875.0f);
}

TEST_F(UpsertTest, LastOccurrenceInOneBatchWins) {
  std::vector<PointId> ids = {PointId(uint64_t{5}), PointId("x"), PointId(uint64_t{5}),
                              PointId(uint64_t{6}), PointId("x"), PointId(uint64_t{5})};
  std::vector<float> v = {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6};
  std::vector<std::string> pl = {R"({"n":1})", R"({"n":2})", R"({"n":3})",
                                 R"({"n":4})", R"({"n":5})", ""};
  ASSERT_OK(c_->Upsert({}, ids, v, pl));
  EXPECT_EQ(Count(), 3u);
  ASSERT_OK_AND_ASSIGN(Point p5, c_->Get(PointId(uint64_t{5})));
  EXPECT_EQ(p5.vector, (std::vector<float>{6, 6, 6}));
  EXPECT_EQ(p5.payload, "{}");
  ASSERT_OK_AND_ASSIGN(Point px, c_->Get(PointId("x")));
  EXPECT_EQ(px.vector, (std::vector<float>{5, 5, 5}));
  EXPECT_EQ(px.payload, R"({"n":5})");
  // Only one copy of each id is searchable.
  SearchOptions so;
  so.k = 100;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{0, 0, 0}));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(ScanAll(*c_).size(), 3u);

  // Duplicates of an id that already exists: again the last one wins.
  ASSERT_OK(c_->Upsert({}, std::vector<PointId>{PointId(uint64_t{6}), PointId(uint64_t{6})},
                       std::vector<float>{7, 7, 7, 8, 8, 8}));
  ASSERT_OK_AND_ASSIGN(Point p6, c_->Get(PointId(uint64_t{6})));
  EXPECT_EQ(p6.vector, (std::vector<float>{8, 8, 8}));
  EXPECT_EQ(Count(), 3u);
}

TEST_F(UpsertTest, DeleteSkipsAbsentIdsAndReturnsHowManyWereDeleted) {
  ASSERT_OK(c_->Upsert({}, NumericIds(0, 10), std::vector<float>(30, 1.0f)));
  std::vector<PointId> del = {PointId(uint64_t{1}), PointId(uint64_t{3}), PointId(uint64_t{1}),
                              PointId(uint64_t{999}), PointId("1"), PointId(uint64_t{9})};
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->Delete({}, del));
  EXPECT_EQ(n, 3u);  // 1, 3 and 9; the repeated 1, 999 and "1" are not points
  EXPECT_EQ(Count(), 7u);
  for (uint64_t id : {1, 3, 9}) EXPECT_STATUS(c_->Get(PointId(id)), StatusCode::kNotFound);
  for (uint64_t id : {0, 2, 4, 5, 6, 7, 8}) EXPECT_OK(c_->Get(PointId(id)));

  // Deleting again deletes nothing.
  ASSERT_OK_AND_ASSIGN(uint64_t again, c_->Delete({}, del));
  EXPECT_EQ(again, 0u);
  std::vector<PointId> none;
  auto empty = c_->Delete({}, none);
  if (empty.ok()) {
    EXPECT_EQ(*empty, 0u);
  }
  EXPECT_EQ(Count(), 7u);

  // Deleted points are gone from search and scan.
  SearchOptions so;
  so.k = 100;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{1, 1, 1}));
  EXPECT_EQ(hits.size(), 7u);
  for (const Hit& h : hits) {
    EXPECT_NE(h.id, PointId(uint64_t{1}));
    EXPECT_NE(h.id, PointId(uint64_t{3}));
    EXPECT_NE(h.id, PointId(uint64_t{9}));
  }
  EXPECT_EQ(ScanAll(*c_).size(), 7u);

  // A deleted id can be inserted again, fresh.
  ASSERT_OK(c_->Upsert({}, std::vector<PointId>{PointId(uint64_t{3})}, std::vector<float>{4, 5, 6},
                       std::vector<std::string>{R"({"back":1})"}));
  ASSERT_OK_AND_ASSIGN(Point p3, c_->Get(PointId(uint64_t{3})));
  EXPECT_EQ(p3.vector, (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(p3.payload, R"({"back":1})");
  EXPECT_EQ(Count(), 8u);
}

TEST_F(UpsertTest, DeleteWhereDeletesExactlyTheMatchingPoints) {
  const size_t kN = 300;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < kN; ++i) {
    payloads.push_back(i % 5 == 0 ? std::string("{}")
                                  : R"({"group":)" + std::to_string(i % 3) + R"(,"name":"p)" + std::to_string(i) + "\"}");
  }
  ASSERT_OK(c_->Upsert({}, NumericIds(0, kN), testing::RandomVectors(kN, 3, 21), payloads));

  // Malformed and empty filters are refused and delete nothing.
  EXPECT_STATUS(c_->DeleteWhere({}, ""), StatusCode::kInvalidArgument);
  EXPECT_STATUS(c_->DeleteWhere({}, R"({"group": {"$gt": )"), StatusCode::kInvalidArgument);
  EXPECT_STATUS(c_->DeleteWhere({}, R"({"group": {"$bogus": 1}})"), StatusCode::kInvalidArgument);
  EXPECT_EQ(Count(), kN);

  size_t expected = 0;
  for (size_t i = 0; i < kN; ++i) expected += (i % 5 != 0 && i % 3 == 1);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->DeleteWhere({}, R"({"group": 1})"));
  EXPECT_EQ(n, expected);
  EXPECT_EQ(Count(), kN - expected);
  for (size_t i = 0; i < kN; ++i) {
    const bool gone = i % 5 != 0 && i % 3 == 1;
    EXPECT_EQ(c_->Get(PointId(uint64_t{i})).ok(), !gone) << i;
  }
  // Nothing left to match: zero, not an error.
  ASSERT_OK_AND_ASSIGN(uint64_t again, c_->DeleteWhere({}, R"({"group": 1})"));
  EXPECT_EQ(again, 0u);

  // Searches never return a deleted point.
  SearchOptions so;
  so.k = static_cast<uint32_t>(kN);
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{0.5f, 0.5f, 0.5f}));
  EXPECT_EQ(hits.size(), kN - expected);
  for (const Hit& h : hits) EXPECT_EQ(h.payload.find(R"("group":1)"), std::string::npos) << h.payload;

  // "{}" matches every point, including those without a payload.
  ASSERT_OK_AND_ASSIGN(uint64_t rest, c_->DeleteWhere({}, "{}"));
  EXPECT_EQ(rest, kN - expected);
  EXPECT_EQ(Count(), 0u);
}

TEST(DeleteWhereTest, UsesPayloadIndexesAndKeepsTheAnnIndexConsistent) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  ASSERT_NE(db, nullptr);
  CollectionOptions o;
  o.dimension = 8;
  o.metric = Metric::kL2;
  o.index = *IndexOptions::Parse("HNSW8");
  o.payload_indexes.push_back({"group", PayloadFieldType::kInteger});
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("dw", o));
  const size_t kN = 2000;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < kN; ++i) payloads.push_back(R"({"group":)" + std::to_string(i % 10) + "}");
  auto vecs = testing::RandomVectors(kN, 8, 5);
  ASSERT_OK(c->Upsert({}, NumericIds(0, kN), vecs, payloads));
  ASSERT_OK(c->WaitForIndex(60000));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->DeleteWhere({}, R"({"group": {"$in": [2, 7]}})"));
  EXPECT_EQ(n, kN / 5);
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, kN - kN / 5);
  SearchOptions so;
  so.k = 50;
  so.with_payload = true;
  for (size_t q = 0; q < 20; ++q) {
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, std::span<const float>(vecs.data() + q * 8 * 37, 8)));
    EXPECT_EQ(hits.size(), 50u);
    for (const Hit& h : hits) {
      EXPECT_NE(h.id.number() % 10, 2u);
      EXPECT_NE(h.id.number() % 10, 7u);
    }
  }
}

TEST_F(UpsertTest, DeleteThenReinsertManyKeepsEveryPointDistinct) {
  // Churn: inserts after deletes may reuse internal storage; every id must keep its own data.
  const size_t kN = 200;
  auto vecs = testing::RandomVectors(kN, 3, 11);
  ASSERT_OK(c_->Upsert({}, NumericIds(0, kN), vecs));
  std::vector<PointId> odd;
  for (uint64_t i = 1; i < kN; i += 2) odd.emplace_back(i);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->Delete({}, odd));
  EXPECT_EQ(n, kN / 2);
  auto vecs2 = testing::RandomVectors(kN, 3, 12);
  std::vector<PointId> fresh;
  for (size_t i = 0; i < kN; ++i) fresh.emplace_back("new-" + std::to_string(i));
  ASSERT_OK(c_->Upsert({}, fresh, vecs2));
  EXPECT_EQ(Count(), kN / 2 + kN);
  for (uint64_t i = 0; i < kN; i += 2) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(PointId(i)));
    EXPECT_EQ(p.vector, std::vector<float>(vecs.begin() + i * 3, vecs.begin() + i * 3 + 3)) << i;
  }
  for (size_t i = 0; i < kN; ++i) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(fresh[i]));
    EXPECT_EQ(p.vector, std::vector<float>(vecs2.begin() + i * 3, vecs2.begin() + i * 3 + 3)) << i;
  }
  for (const PointId& id : odd) EXPECT_STATUS(c_->Get(id), StatusCode::kNotFound);
}

TEST_F(UpsertTest, CountAndDescribe) {
  ASSERT_OK_AND_ASSIGN(CollectionInfo empty, c_->Describe());
  EXPECT_EQ(empty.name, c_->name());
  EXPECT_EQ(empty.dimension, 3u);
  EXPECT_EQ(empty.metric, Metric::kL2);
  EXPECT_EQ(empty.count, 0u);
  EXPECT_EQ(Count(), 0u);
  ASSERT_OK(c_->Upsert({}, NumericIds(0, 25), std::vector<float>(75, 0.5f)));
  ASSERT_OK(c_->Upsert({}, NumericIds(20, 10), std::vector<float>(30, 0.5f)));  // 5 replaced
  EXPECT_EQ(Count(), 30u);
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c_->Describe());
  EXPECT_EQ(info.count, 30u);
  ASSERT_OK_AND_ASSIGN(auto list, db_->ListCollections());
  auto it = std::find_if(list.begin(), list.end(), [&](const CollectionInfo& i) { return i.name == c_->name(); });
  ASSERT_NE(it, list.end());
  EXPECT_EQ(it->count, 30u);
}

TEST_F(UpsertTest, PayloadRoundTripIsCompactJson) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({ "a" : 1 , "b" : [ 1, 2 , 3 ], "c" : { "d" : "x y" } })",
       R"({"a":1,"b":[1,2,3],"c":{"d":"x y"}})"},
      {"{}", "{}"},
      {"  { }  ", "{}"},
      {R"({"s":"caf\u00e9 \"q\" \\ \n"})", ""},  // compared as JSON below
      {R"({"n":null,"t":true,"f":false,"i":-12,"x":1.5,"big":18446744073709551615})", ""},
      {R"({"nested":{"deep":{"deeper":[{"k":[]},{}]}}})", R"({"nested":{"deep":{"deeper":[{"k":[]},{}]}}})"},
      {"\n{\n\t\"tab\": \"t\"\n}\n", R"({"tab":"t"})"},
  };
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (size_t i = 0; i < cases.size(); ++i) {
    ids.emplace_back(uint64_t{i});
    payloads.push_back(cases[i].first);
  }
  ASSERT_OK(c_->Upsert({}, ids, std::vector<float>(3 * cases.size(), 1.0f), payloads));
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(ids[i]));
    auto want = nlohmann::json::parse(cases[i].first);
    auto got = nlohmann::json::parse(p.payload, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(got.is_discarded()) << "Get returned invalid JSON: " << p.payload;
    EXPECT_TRUE(got.is_object()) << p.payload;
    EXPECT_EQ(got, want) << "case " << i << ": " << p.payload;
    EXPECT_TRUE(IsCompact(p.payload)) << "case " << i << ": " << p.payload;
    if (!cases[i].second.empty()) {
      EXPECT_EQ(p.payload, cases[i].second) << "case " << i;
    }
  }
  // Search with_payload and Scan return the same text.
  SearchOptions so;
  so.k = static_cast<uint32_t>(cases.size());
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{1, 1, 1}));
  ASSERT_EQ(hits.size(), cases.size());
  for (const Hit& h : hits) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(h.id));
    EXPECT_EQ(h.payload, p.payload);
  }
  for (const Point& sp : ScanAll(*c_)) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(sp.id));
    EXPECT_EQ(sp.payload, p.payload);
    EXPECT_EQ(sp.vector, p.vector);
  }
}

TEST_F(UpsertTest, NoPayloadReadsAsEmptyObject) {
  ASSERT_OK(c_->Upsert({}, NumericIds(0, 2), std::vector<float>(6, 1.0f)));
  ASSERT_OK(c_->Upsert({}, NumericIds(2, 2), std::vector<float>(6, 1.0f), std::vector<std::string>{"", ""}));
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(Point p, c_->Get(PointId(i)));
    EXPECT_EQ(p.payload, "{}");
  }
  SearchOptions so;
  so.with_payload = true;
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>{0, 0, 0}));
  ASSERT_EQ(hits.size(), 4u);
  for (const Hit& h : hits) EXPECT_EQ(h.payload, "{}");
  // Without with_payload the payload is not filled.
  ASSERT_OK(c_->Upsert({}, NumericIds(0, 1), std::vector<float>(3, 1.0f),
                       std::vector<std::string>{R"({"a":1})"}));
  so.with_payload = false;
  ASSERT_OK_AND_ASSIGN(auto bare, c_->Search(so, std::vector<float>{0, 0, 0}));
  for (const Hit& h : bare) EXPECT_TRUE(h.payload.empty()) << h.payload;
}

TEST_F(UpsertTest, PayloadAtTheSizeLimitIsAccepted) {
  DatabaseOptions o;
  o.max_payload_bytes = 100;
  TempDir tmp;
  auto db = MustOpen(tmp.path(), o);
  auto c = MustCreate(db.get(), "small", 2, Metric::kL2);
  // {"k":"xxx..."} of exactly 100 bytes: 8 bytes of syntax + 92 x's.
  const std::string exact = R"({"k":")" + std::string(92, 'x') + R"("})";
  ASSERT_EQ(exact.size(), 100u);
  ASSERT_OK(c->Upsert({}, NumericIds(0, 1), std::vector<float>{1, 2}, std::vector<std::string>{exact}));
  ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId(uint64_t{0})));
  EXPECT_EQ(p.payload, exact);
  const std::string over = R"({"k":")" + std::string(93, 'x') + R"("})";
  EXPECT_STATUS(c->Upsert({}, NumericIds(1, 1), std::vector<float>{1, 2}, std::vector<std::string>{over}),
                StatusCode::kInvalidArgument, "payload");
}

TEST_F(UpsertTest, CosineCollectionStoresNormalisedVectors) {
  auto cos = MustCreate(db_, testing::TestCollectionName("-cos"), 4, Metric::kCosine);
  ASSERT_OK(cos->Upsert({}, NumericIds(0, 2), std::vector<float>{3, 0, 4, 0, -2, -2, -2, -2}));
  ASSERT_OK_AND_ASSIGN(Point p0, cos->Get(PointId(uint64_t{0})));
  ASSERT_EQ(p0.vector.size(), 4u);
  EXPECT_NEAR(p0.vector[0], 0.6, 1e-6);
  EXPECT_NEAR(p0.vector[1], 0.0, 1e-6);
  EXPECT_NEAR(p0.vector[2], 0.8, 1e-6);
  ASSERT_OK_AND_ASSIGN(Point p1, cos->Get(PointId(uint64_t{1})));
  for (float x : p1.vector) EXPECT_NEAR(x, -0.5, 1e-6);
}

TEST_F(UpsertTest, LargeBatch) {
  const size_t kN = 20000;
  auto vecs = testing::RandomVectors(kN, 3, 5);
  ASSERT_OK(c_->Upsert({}, NumericIds(1000000, kN), vecs));
  EXPECT_EQ(Count(), kN);
  ASSERT_OK_AND_ASSIGN(Point last, c_->Get(PointId(uint64_t{1000000 + kN - 1})));
  EXPECT_EQ(last.vector, std::vector<float>(vecs.end() - 3, vecs.end()));
}

// ---- Scan ----

TEST_F(UpsertTest, ScanOrdersNumbersAscendingThenStringsByBytes) {
  std::vector<PointId> ids = {PointId("b"),        PointId(uint64_t{256}), PointId("10"),
                              PointId(UINT64_MAX), PointId("a"),          PointId(uint64_t{1}),
                              PointId("B"),        PointId(uint64_t{255}), PointId("ab"),
                              PointId(uint64_t{0}), PointId(uint64_t{65536}), PointId("\xc3\xa9"),
                              PointId(uint64_t{1} << 40), PointId("a\x01")};
  ASSERT_OK(c_->Upsert({}, ids, std::vector<float>(3 * ids.size(), 1.0f)));
  const std::vector<PointId> want = {
      PointId(uint64_t{0}),   PointId(uint64_t{1}), PointId(uint64_t{255}),       PointId(uint64_t{256}),
      PointId(uint64_t{65536}), PointId(uint64_t{1} << 40), PointId(UINT64_MAX), PointId("10"),
      PointId("B"),           PointId("a"),         PointId("a\x01"),             PointId("ab"),
      PointId("b"),           PointId("\xc3\xa9")};
  for (uint32_t limit : {1u, 2u, 3u, 5u, 14u, 100u}) {
    auto all = ScanAll(*c_, limit);
    ASSERT_EQ(all.size(), want.size()) << "limit " << limit;
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(all[i].id, want[i]) << "limit " << limit << " position " << i;
  }
}

TEST_F(UpsertTest, ScanPagesVisitEachPointOnceAndRespectTheLimit) {
  const size_t kN = 250;
  std::vector<PointId> ids;
  std::vector<std::string> pl;
  for (size_t i = 0; i < kN; ++i) {
    ids.push_back(i % 3 == 0 ? PointId("s" + std::to_string(i)) : PointId(uint64_t{i * 7}));
    pl.push_back(R"({"i":)" + std::to_string(i) + "}");
  }
  auto vecs = testing::RandomVectors(kN, 3, 9);
  ASSERT_OK(c_->Upsert({}, ids, vecs, pl));

  ScanOptions o;
  o.limit = 100;
  std::vector<size_t> page_sizes;
  std::set<std::string> seen;
  for (int guard = 0; guard < 10; ++guard) {
    ASSERT_OK_AND_ASSIGN(ScanPage page, c_->Scan(o));
    page_sizes.push_back(page.points.size());
    EXPECT_LE(page.points.size(), 100u);
    for (const Point& p : page.points) {
      EXPECT_TRUE(seen.insert((p.id.is_number() ? "n" : "s") + p.id.ToString()).second)
          << "visited twice: " << p.id.ToString();
      ASSERT_OK_AND_ASSIGN(Point g, c_->Get(p.id));
      EXPECT_EQ(p.vector, g.vector);
      EXPECT_EQ(p.payload, g.payload);
    }
    if (page.next_cursor.empty()) break;
    o.cursor = page.next_cursor;
  }
  EXPECT_EQ(seen.size(), kN);
  EXPECT_EQ(page_sizes, (std::vector<size_t>{100, 100, 50}));

  // A page boundary exactly at the end: the page holding the last point says it is the last.
  ASSERT_OK_AND_ASSIGN(uint64_t deleted, c_->Delete({}, std::vector<PointId>(ids.begin(), ids.begin() + 50)));
  ASSERT_EQ(deleted, 50u);
  o = {};
  o.limit = 100;
  ASSERT_OK_AND_ASSIGN(ScanPage p1, c_->Scan(o));
  EXPECT_EQ(p1.points.size(), 100u);
  ASSERT_FALSE(p1.next_cursor.empty());
  o.cursor = p1.next_cursor;
  ASSERT_OK_AND_ASSIGN(ScanPage p2, c_->Scan(o));
  EXPECT_EQ(p2.points.size(), 100u);
  EXPECT_TRUE(p2.next_cursor.empty()) << "the page with the last point must end the scan";

  // One big page.
  o = {};
  o.limit = 100000;
  ASSERT_OK_AND_ASSIGN(ScanPage big, c_->Scan(o));
  EXPECT_EQ(big.points.size(), 200u);
  EXPECT_TRUE(big.next_cursor.empty());
}

TEST_F(UpsertTest, ScanOfEmptyCollection) {
  ASSERT_OK_AND_ASSIGN(ScanPage page, c_->Scan({}));
  EXPECT_TRUE(page.points.empty());
  EXPECT_TRUE(page.next_cursor.empty());
}

TEST_F(UpsertTest, ScanWithFilter) {
  const size_t kN = 300;
  std::vector<std::string> pl;
  for (size_t i = 0; i < kN; ++i) {
    pl.push_back(R"({"g":)" + std::to_string(i % 4) + R"(,"tag":")" + (i % 2 ? "odd" : "even") + "\"}");
  }
  ASSERT_OK(c_->Upsert({}, NumericIds(0, kN), testing::RandomVectors(kN, 3, 4), pl));
  for (uint32_t limit : {7u, 1000u}) {
    auto g1 = ScanAll(*c_, limit, R"({"g":1})");
    ASSERT_EQ(g1.size(), kN / 4) << "limit " << limit;
    for (size_t j = 0; j < g1.size(); ++j) {
      EXPECT_EQ(g1[j].id, PointId(uint64_t{4 * j + 1}));
      EXPECT_EQ(nlohmann::json::parse(g1[j].payload)["g"], 1);
    }
    auto odd_low = ScanAll(*c_, limit, R"({"tag":"odd","g":{"$lt":2}})");
    EXPECT_EQ(odd_low.size(), kN / 4);  // i % 4 == 1
    auto none = ScanAll(*c_, limit, R"({"g":17})");
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(ScanAll(*c_, limit, "{}").size(), kN);
  }
}

TEST_F(UpsertTest, ScanVisitsPointsThatExistThroughoutExactlyOnceDespiteWrites) {
  const size_t kN = 300;
  ASSERT_OK(c_->Upsert({}, NumericIds(0, kN), testing::RandomVectors(kN, 3, 1)));
  std::map<uint64_t, int> visits;
  std::set<uint64_t> deleted;
  ScanOptions o;
  o.limit = 40;
  uint64_t next_new = 10000;
  for (int page_no = 0; page_no < 100; ++page_no) {
    ASSERT_OK_AND_ASSIGN(ScanPage page, c_->Scan(o));
    for (const Point& p : page.points) {
      ASSERT_TRUE(p.id.is_number());
      ++visits[p.id.number()];
    }
    if (page.next_cursor.empty()) break;
    o.cursor = page.next_cursor;
    // Between pages: delete a point ahead and one behind, insert new ones before and after,
    // and replace a point ahead.
    const uint64_t ahead = std::min<uint64_t>(kN - 1, 40 * (page_no + 1) + 17);
    // Deleting the last point of the page must not lose the scan's place.
    std::vector<PointId> del = {PointId(ahead), PointId(uint64_t(page_no)), page.points.back().id};
    deleted.insert(page.points.back().id.number());
    ASSERT_OK(c_->Delete({}, del).status());
    deleted.insert(ahead);
    deleted.insert(uint64_t(page_no));
    std::vector<PointId> add = {PointId(next_new++), PointId(uint64_t{kN + 1000 + page_no})};
    ASSERT_OK(c_->Upsert({}, add, std::vector<float>(6, 0.25f)));
    const uint64_t replace = std::min<uint64_t>(kN - 1, 40 * (page_no + 1) + 3);
    if (!deleted.count(replace)) {
      ASSERT_OK(c_->Upsert({}, std::vector<PointId>{PointId(replace)}, std::vector<float>(3, 0.5f)));
    }
  }
  for (uint64_t i = 0; i < kN; ++i) {
    if (deleted.count(i)) {
      EXPECT_LE(visits[i], 1) << i;
    } else {
      EXPECT_EQ(visits[i], 1) << "point " << i << " existed throughout the scan";
    }
  }
  for (const auto& [id, n] : visits) EXPECT_LE(n, 1) << id;
}

}  // namespace
}  // namespace sextant
