// The $text filter operator (docs/filters.md): {"field": {"$text": "words"}} and
// {"field": {"$text": {"query": ..., "match": "any" | "all" | "phrase"}}}, combined with every
// other filter, in every call that takes a filter; its errors name the field.
#include <set>

#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MustOpen;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 4;

std::vector<float> Vec(float x) { return {x, 1.0f, 0.5f, -x}; }

class TextFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = MustOpen(tmp_.path());
    CollectionOptions o;
    o.dimension = kDim;
    o.metric = Metric::kL2;
    TextFieldOptions body;
    body.field = "body";
    o.text_fields.push_back(body);
    TextFieldOptions title;
    title.field = "meta.title";
    title.language = "none";
    o.text_fields.push_back(title);
    o.payload_indexes.push_back({"kind", PayloadFieldType::kKeyword});
    auto c = db_->CreateCollection("t", o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    c_ = *c;
    const std::vector<std::string> docs = {
        R"({"body": "The quick brown fox jumps", "kind": "a", "year": 2001, "meta": {"title": "Foxes"}})",
        R"({"body": "A lazy dog sleeps in the sun", "kind": "a", "year": 2005})",
        R"({"body": ["brown dogs", "quick cats"], "kind": "b", "year": 2010, "meta": {"title": "Pets"}})",
        R"({"body": "Error E1234: disk full", "kind": "b", "year": 2020})",
        R"({"kind": "c"})",
    };
    for (size_t i = 0; i < docs.size(); ++i) {
      ASSERT_OK(c_->Upsert({}, std::vector<PointId>{PointId(i)}, Vec(static_cast<float>(i)),
                           std::vector<std::string>{docs[i]}));
    }
    // Many more points without the words, so the index narrows for real.
    for (uint64_t i = 100; i < 200; ++i) {
      ASSERT_OK(c_->Upsert({}, std::vector<PointId>{PointId(i)}, Vec(static_cast<float>(i)),
                           std::vector<std::string>{R"({"body": "filler text here", "kind": "z"})"}));
    }
  }

  std::set<uint64_t> Ids(const std::string& filter) {
    SearchOptions so;
    so.k = 1000;
    so.filter = filter;
    auto hits = c_->Search(so, Vec(0));
    EXPECT_TRUE(hits.ok()) << filter << ": " << hits.status().ToString();
    std::set<uint64_t> out;
    if (hits.ok()) {
      for (const Hit& h : *hits) out.insert(h.id.number());
    }
    auto count = c_->CountWhere(filter);
    EXPECT_TRUE(count.ok());
    if (count.ok()) {
      EXPECT_EQ(*count, out.size()) << filter;
    }
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
};

TEST_F(TextFilterTest, AnyAllAndPhrase) {
  EXPECT_EQ(Ids(R"({"body": {"$text": "fox"}})"), (std::set<uint64_t>{0}));
  EXPECT_EQ(Ids(R"({"body": {"$text": "FOXES dog"}})"), (std::set<uint64_t>{0, 1, 2}));  // stemmed, any
  EXPECT_EQ(Ids(R"({"body": {"$text": {"query": "quick brown", "match": "all"}}})"), (std::set<uint64_t>{0, 2}));
  // Phrase: in sequence within one string (point 2's "brown" and "quick" are in two strings).
  EXPECT_EQ(Ids(R"({"body": {"$text": {"query": "quick brown", "match": "phrase"}}})"), (std::set<uint64_t>{0}));
  EXPECT_EQ(Ids(R"({"body": {"$text": {"query": "brown quick", "match": "phrase"}}})"), (std::set<uint64_t>{}));
  EXPECT_EQ(Ids(R"({"body": {"$text": {"query": "lazy dog sleeps", "match": "phrase"}}})"), (std::set<uint64_t>{1}));
  EXPECT_EQ(Ids(R"({"body": {"$text": "e1234"}})"), (std::set<uint64_t>{3}));
  // A nested text field with language "none": no stemming.
  EXPECT_EQ(Ids(R"({"meta.title": {"$text": "foxes"}})"), (std::set<uint64_t>{0}));
  EXPECT_EQ(Ids(R"({"meta.title": {"$text": "fox"}})"), (std::set<uint64_t>{}));
  // Stop words only: no terms, nothing matches.
  EXPECT_EQ(Ids(R"({"body": {"$text": "the a of"}})"), (std::set<uint64_t>{}));
}

TEST_F(TextFilterTest, CombinesWithEveryFilter) {
  EXPECT_EQ(Ids(R"({"body": {"$text": "quick"}, "kind": "b"})"), (std::set<uint64_t>{2}));
  EXPECT_EQ(Ids(R"({"body": {"$text": "dog"}, "year": {"$lt": 2008}})"), (std::set<uint64_t>{1}));
  EXPECT_EQ(Ids(R"({"$or": [{"body": {"$text": "fox"}}, {"kind": "c"}]})"), (std::set<uint64_t>{0, 4}));
  EXPECT_EQ(Ids(R"({"$and": [{"body": {"$text": "dog"}}, {"$not": {"kind": "a"}}]})"), (std::set<uint64_t>{2}));
  // $not of $text: every point without the word (filler included).
  std::set<uint64_t> not_fox = Ids(R"({"$not": {"body": {"$text": "fox"}}})");
  EXPECT_EQ(not_fox.size(), 104u);
  EXPECT_FALSE(not_fox.count(0));
  EXPECT_EQ(Ids(R"({"body": {"$text": "fox", "$exists": true}})"), (std::set<uint64_t>{0}));

  // Every call that takes a filter: text search, scan, payload edits, delete.
  SearchOptions so;
  so.k = 10;
  so.text = "brown";
  so.filter = R"({"body": {"$text": "dog"}})";
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, {}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId(2));
  ScanOptions scan;
  scan.filter = R"({"body": {"$text": "dog"}})";
  ASSERT_OK_AND_ASSIGN(auto page, c_->Scan(scan));
  EXPECT_EQ(page.points.size(), 2u);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c_->SetPayload({}, PointSelector::Where(R"({"body": {"$text": "disk"}})"),
                                                 R"({"flag": true})"));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(Ids(R"({"flag": true})"), (std::set<uint64_t>{3}));
  ASSERT_OK_AND_ASSIGN(n, c_->DeleteWhere({}, R"({"body": {"$text": "filler"}})"));
  EXPECT_EQ(n, 100u);
  EXPECT_EQ(Ids(R"({"body": {"$text": "text"}})"), (std::set<uint64_t>{}));
}

TEST_F(TextFilterTest, ErrorsNameTheField) {
  SearchOptions so;
  so.filter = R"({"kind": {"$text": "a"}})";
  EXPECT_STATUS(c_->Search(so, Vec(0)), StatusCode::kInvalidArgument, "$text", "kind", "no text index", "body");
  EXPECT_STATUS(c_->CountWhere(R"({"$or": [{"x": 1}, {"nope": {"$text": "a"}}]})"), StatusCode::kInvalidArgument,
                "nope");
  EXPECT_STATUS(c_->DeleteWhere({}, R"({"kind": {"$text": "a"}})"), StatusCode::kInvalidArgument, "kind");
  ScanOptions scan;
  scan.filter = R"({"kind": {"$text": "a"}})";
  EXPECT_STATUS(c_->Scan(scan), StatusCode::kInvalidArgument, "kind");
  EXPECT_STATUS(c_->CountWhere(R"({"body": {"$text": " "}})"), StatusCode::kInvalidArgument, "body", "empty");
  EXPECT_STATUS(c_->CountWhere(R"({"body": {"$text": {"query": "x", "match": "some"}}})"),
                StatusCode::kInvalidArgument, "match");
  ASSERT_OK_AND_ASSIGN(uint64_t count, c_->Count());
  EXPECT_EQ(count, 105u);  // nothing deleted

  CollectionOptions plain;
  plain.dimension = kDim;
  ASSERT_OK_AND_ASSIGN(auto p, db_->CreateCollection("plain", plain));
  EXPECT_STATUS(p->CountWhere(R"({"body": {"$text": "a"}})"), StatusCode::kInvalidArgument, "body",
                "no text fields");
}

}  // namespace
}  // namespace sextant
