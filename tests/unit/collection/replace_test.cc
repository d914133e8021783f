// Collection::Replace (delete by filter and upsert in one atomic batch) and collection
// properties (CollectionOptions::properties, recorded and returned by Describe).
#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::TempDir;

std::shared_ptr<Collection> MakeDocs(Database* db, const std::string& name, IndexOptions index = {}) {
  CollectionOptions o;
  o.dimension = 4;
  o.metric = Metric::kL2;
  o.index = index;
  o.payload_indexes = {{"doc", PayloadFieldType::kKeyword}};
  auto c = db->CreateCollection(name, o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// n chunks of document `doc`, ids "<doc>#i", vectors near (base + i).
void WriteDoc(Collection* c, const std::string& doc, int n, float base) {
  std::vector<PointId> ids;
  std::vector<float> v;
  std::vector<std::string> payloads;
  for (int i = 0; i < n; ++i) {
    ids.emplace_back(doc + "#" + std::to_string(i));
    for (int d = 0; d < 4; ++d) v.push_back(base + static_cast<float>(i) + 0.1f * static_cast<float>(d));
    payloads.push_back(nlohmann::json{{"doc", doc}, {"chunk", i}}.dump());
  }
  ASSERT_TRUE(c->Upsert({}, ids, v, payloads).ok());
}

std::vector<std::string> IdsOf(Collection* c) {
  ScanOptions s;
  s.limit = 1000;
  auto page = c->Scan(s);
  EXPECT_TRUE(page.ok());
  std::vector<std::string> out;
  for (const Point& p : page->points) out.push_back(p.id.ToString());
  return out;
}

TEST(ReplaceTest, RemovesMatchesNotReplacedAndUpsertsAtomically) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeDocs(db.get(), "docs");
  WriteDoc(c.get(), "a", 5, 0);
  WriteDoc(c.get(), "b", 3, 100);

  // a shrinks from 5 chunks to 2: #0 and #1 are replaced, #2..#4 removed.
  std::vector<PointId> ids{PointId(std::string("a#0")), PointId(std::string("a#1"))};
  std::vector<float> v{9, 9, 9, 9, 8, 8, 8, 8};
  std::vector<std::string> payloads{R"({"doc":"a","chunk":0,"v":2})", R"({"doc":"a","chunk":1,"v":2})"};
  auto removed = c->Replace({}, R"({"doc":"a"})", ids, v, payloads);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 5u);  // every old chunk of a: 2 replaced, 3 removed
  EXPECT_EQ(*c->Count(), 5u);
  auto got = c->Get(PointId(std::string("a#0")));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(nlohmann::json::parse(got->payload)["v"], 2);
  EXPECT_EQ(got->vector[0], 9.0f);
  EXPECT_TRUE(c->Get(PointId(std::string("a#4"))).status().code() == StatusCode::kNotFound);
  EXPECT_TRUE(c->Get(PointId(std::string("b#2"))).ok());

  // Searching near the removed chunks never returns them.
  SearchOptions so;
  so.k = 10;
  std::vector<float> q{3, 3, 3, 3};
  auto hits = c->Search(so, q);
  ASSERT_TRUE(hits.ok());
  for (const Hit& h : *hits) EXPECT_NE(h.id.ToString().substr(0, 3), "a#2") << h.id.ToString();
  EXPECT_EQ(hits->size(), 5u);
}

TEST(ReplaceTest, BadInputWritesNothingAndDeletesNothing) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  auto c = MakeDocs(db.get(), "docs");
  WriteDoc(c.get(), "a", 3, 0);
  const auto before = IdsOf(c.get());
  std::vector<PointId> ids{PointId(std::string("a#0"))};
  std::vector<float> nan{0, std::nanf(""), 0, 0};
  auto r = c->Replace({}, R"({"doc":"a"})", ids, nan);
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(IdsOf(c.get()), before);

  std::vector<float> ok{1, 1, 1, 1};
  r = c->Replace({}, R"({"doc": )", ids, ok);
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find("filter"), std::string::npos) << r.status().ToString();
  r = c->Replace({}, "", ids, ok);
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument);
  r = c->Replace({}, R"({"doc":"a"})", {}, {});
  EXPECT_TRUE(r.status().code() == StatusCode::kInvalidArgument);
  EXPECT_EQ(IdsOf(c.get()), before);
}

TEST(ReplaceTest, HnswIndexAndReopenSeeTheReplacement) {
  TempDir dir;
  {
    auto db = MustOpen(dir.path());
    auto c = MakeDocs(db.get(), "docs", *IndexOptions::Parse("HNSW8"));
    ASSERT_TRUE(c->WaitForIndex(60000).ok());
    WriteDoc(c.get(), "a", 20, 0);
    WriteDoc(c.get(), "b", 20, 1000);
    std::vector<PointId> ids{PointId(std::string("a#new"))};
    std::vector<float> v{500, 500, 500, 500};
    std::vector<std::string> p{R"({"doc":"a"})"};
    auto removed = c->Replace({}, R"({"doc":"a"})", ids, v, p);
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(*removed, 20u);
    SearchOptions so;
    so.k = 5;
    so.filter = R"({"doc":"a"})";
    std::vector<float> q{0, 0, 0, 0};
    auto hits = c->Search(so, q);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id.ToString(), "a#new");
  }
  auto db = MustOpen(dir.path());
  auto c = db->GetCollection("docs");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*(*c)->Count(), 21u);
  EXPECT_TRUE((*c)->Get(PointId(std::string("a#3"))).status().code() == StatusCode::kNotFound);
}

TEST(PropertiesTest, RecordedReturnedAndPersisted) {
  TempDir dir;
  {
    auto db = MustOpen(dir.path());
    CollectionOptions o;
    o.dimension = 3;
    o.properties = R"({ "app": {"owner": "rag", "n": 3} })";
    ASSERT_TRUE(db->CreateCollection("p", o).ok());
    auto info = (*db->GetCollection("p"))->Describe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->properties, R"({"app":{"n":3,"owner":"rag"}})");
    o.properties.clear();
    ASSERT_TRUE(db->CreateCollection("plain", o).ok());
    EXPECT_EQ((*db->GetCollection("plain"))->Describe()->properties, "");
  }
  auto db = MustOpen(dir.path());
  EXPECT_EQ((*db->GetCollection("p"))->Describe()->properties, R"({"app":{"n":3,"owner":"rag"}})");
}

TEST(PropertiesTest, RefusesWhatIsNotAJsonObject) {
  TempDir dir;
  auto db = MustOpen(dir.path());
  CollectionOptions o;
  o.dimension = 3;
  for (std::string bad : std::vector<std::string>{"[1,2]", "{", "\"x\"", std::string("{\"k\":\"") + std::string(70000, 'x') + "\"}"}) {
    o.properties = bad;
    auto c = db->CreateCollection("p", o);
    EXPECT_TRUE(c.status().code() == StatusCode::kInvalidArgument) << bad.substr(0, 20) << " -> " << c.status().ToString();
  }
  EXPECT_TRUE(db->GetCollection("p").status().code() == StatusCode::kNotFound);
}

}  // namespace
}  // namespace sextant
