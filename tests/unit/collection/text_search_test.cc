// Full-text (BM25) and hybrid search through the collection API (docs/text_search.md): the index
// follows upsert, overwrite, delete, delete-by-filter, replace and reopen exactly; a kill -9
// leaves index and points agreeing; hybrid fusion reports every score; bad input is rejected.
#include <fcntl.h>
#include <poll.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::ChildDir;
using ::sextant::testing::ChildFd;
using ::sextant::testing::ChildMode;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr uint32_t kDim = 4;

CollectionOptions TextOptions(Metric metric = Metric::kL2) {
  CollectionOptions o;
  o.dimension = kDim;
  o.metric = metric;
  TextFieldOptions body;
  body.field = "body";
  o.text_fields.push_back(body);
  o.payload_indexes.push_back({"kind", PayloadFieldType::kKeyword});
  return o;
}

std::string Doc(const std::string& body, const std::string& kind = "note") {
  return nlohmann::json{{"body", body}, {"kind", kind}}.dump();
}

std::vector<float> Vec(float x) { return {x, 1.0f, 0.5f, -x}; }

// id -> BM25 score of a text search.
std::map<std::string, float> TextScores(const Collection& c, const std::string& text, const std::string& filter = "") {
  SearchOptions so;
  so.k = 1000;
  so.text = text;
  so.filter = filter;
  auto hits = c.Search(so, {});
  EXPECT_TRUE(hits.ok()) << hits.status().ToString();
  std::map<std::string, float> out;
  if (!hits.ok()) return out;
  for (const Hit& h : *hits) {
    EXPECT_TRUE(h.text_score.has_value());
    EXPECT_FALSE(h.dense_score.has_value());
    if (h.text_score) {
      EXPECT_EQ(*h.text_score, h.score);
    }
    out[h.id.ToString()] = h.score;
  }
  return out;
}

void Upsert(Collection* c, uint64_t id, const std::string& body, const std::string& kind = "note") {
  ASSERT_OK(c->Upsert({}, std::vector<PointId>{PointId(id)}, Vec(static_cast<float>(id)),
                      std::vector<std::string>{Doc(body, kind)}));
}

TEST(TextSearchTest, FindsByWordsBestFirst) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
  Upsert(c.get(), 1, "The quick brown fox jumps over the lazy dog");
  Upsert(c.get(), 2, "Error E1234: the disk is full");
  Upsert(c.get(), 3, "Foxes are quick; foxes are clever");
  Upsert(c.get(), 4, "");  // no terms
  ASSERT_OK(c->Upsert({}, NumericIds(5, 1), Vec(5)));  // no payload
  auto s = TextScores(*c, "fox");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_GT(s["3"], s["1"]);  // two occurrences (stemmed "foxes"), shorter text
  auto e = TextScores(*c, "e1234");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e.count("2"));
  EXPECT_TRUE(TextScores(*c, "the of and").empty());  // stop words only: no terms, no hits
  // k limits; with_payload fills the payload.
  SearchOptions so;
  so.k = 1;
  so.text = "quick";
  so.with_payload = true;
  SearchPlan plan;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, {}, &plan));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, PointId(3));
  EXPECT_NE(hits[0].payload.find("clever"), std::string::npos);
  EXPECT_EQ(plan.index, "BM25");
}

TEST(TextSearchTest, IndexFollowsOverwriteDeleteDeleteWhereReplaceAndReopen) {
  TempDir tmp;
  std::map<std::string, float> before;
  {
    auto db = MustOpen(tmp.path());
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
    for (uint64_t i = 0; i < 40; ++i) {
      Upsert(c.get(), i, "apple " + std::string(i % 3 ? "banana " : "cherry ") + "item" + std::to_string(i),
             i % 2 ? "odd" : "even");
    }
    EXPECT_EQ(TextScores(*c, "apple").size(), 40u);
    Upsert(c.get(), 0, "durian only");  // overwrite: "apple" and "cherry" gone from point 0
    EXPECT_EQ(TextScores(*c, "apple").size(), 39u);
    EXPECT_FALSE(TextScores(*c, "cherry").count("0"));
    EXPECT_TRUE(TextScores(*c, "durian").count("0"));
    ASSERT_OK_AND_ASSIGN(uint64_t deleted, c->Delete({}, std::vector<PointId>{PointId(1), PointId(2)}));
    EXPECT_EQ(deleted, 2u);
    EXPECT_EQ(TextScores(*c, "apple").size(), 37u);
    ASSERT_OK_AND_ASSIGN(deleted, c->DeleteWhere({}, R"({"kind": "odd"})"));
    EXPECT_EQ(deleted, 19u);  // 3, 5, ..., 39
    EXPECT_EQ(TextScores(*c, "apple").size(), 18u);
    ASSERT_OK_AND_ASSIGN(uint64_t replaced, c->Replace({}, R"({"body": "durian only"})", NumericIds(100, 1), Vec(1),
                                                       std::vector<std::string>{Doc("elderberry apple")}));
    EXPECT_EQ(replaced, 1u);
    EXPECT_TRUE(TextScores(*c, "durian").empty());
    before = TextScores(*c, "apple banana cherry elderberry");
    EXPECT_EQ(before.size(), 19u);
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("t"));
  EXPECT_EQ(TextScores(*c, "apple banana cherry elderberry"), before);

  // The same documents written once into a fresh collection score the same: the statistics
  // (document count, lengths, document frequencies) are exact after the churn.
  ASSERT_OK_AND_ASSIGN(auto fresh, db->CreateCollection("fresh", TextOptions()));
  ScanOptions scan;
  scan.limit = 1000;
  ASSERT_OK_AND_ASSIGN(auto page, c->Scan(scan));
  for (const Point& p : page.points) {
    ASSERT_OK(fresh->Upsert({}, std::vector<PointId>{p.id}, p.vector, std::vector<std::string>{p.payload}));
  }
  auto again = TextScores(*fresh, "apple banana cherry elderberry");
  ASSERT_EQ(again.size(), before.size());
  for (const auto& [id, score] : before) EXPECT_FLOAT_EQ(again[id], score) << id;
}

TEST(TextSearchTest, TextSearchHonoursTheFilter) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
  for (uint64_t i = 0; i < 10; ++i) Upsert(c.get(), i, "shared word " + std::to_string(i), i < 3 ? "a" : "b");
  auto s = TextScores(*c, "shared", R"({"kind": "a"})");
  EXPECT_EQ(s.size(), 3u);
  for (const auto& [id, score] : s) EXPECT_LT(std::stoi(id), 3);
}

TEST(TextSearchTest, HybridFusesAndReportsEveryScore) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions(Metric::kL2)));
  // Point 1 is nearest to the query vector; point 7 is the only one with the rare word.
  for (uint64_t i = 0; i < 20; ++i) {
    Upsert(c.get(), i, i == 7 ? "zanzibar common" : "common text " + std::to_string(i));
  }
  const std::vector<float> query = Vec(1.0f);
  for (Fusion fusion : {Fusion::kRrf, Fusion::kWeighted}) {
    SCOPED_TRACE(std::string(FusionName(fusion)));
    SearchOptions so;
    so.k = 5;
    so.text = "zanzibar";
    so.fusion = fusion;
    SearchPlan plan;
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, query, &plan));
    ASSERT_EQ(hits.size(), 5u);
    EXPECT_NE(plan.index.find("BM25"), std::string::npos);
    // The dense winner and the text winner lead.
    std::set<std::string> top2 = {hits[0].id.ToString(), hits[1].id.ToString()};
    EXPECT_EQ(top2, (std::set<std::string>{"1", "7"}));
    for (const Hit& h : hits) {
      ASSERT_TRUE(h.dense_score.has_value());
      ASSERT_TRUE(h.text_score.has_value());
      ASSERT_OK_AND_ASSIGN(Point p, c->Get(h.id));
      float d = 0;
      for (uint32_t j = 0; j < kDim; ++j) d += (p.vector[j] - query[j]) * (p.vector[j] - query[j]);
      EXPECT_NEAR(*h.dense_score, d, 1e-4);
      EXPECT_EQ(*h.text_score > 0, h.id == PointId(7));
    }
    for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].score, hits[i].score);
    if (fusion == Fusion::kRrf) {
      // Every point is a dense candidate; 7 is 8th by distance (0, 2 at 2; then 3, 4, 5, 6 ...)
      // and 1st by text, point 1 is 1st by distance only.
      EXPECT_EQ(hits[0].id, PointId(7));
      EXPECT_FLOAT_EQ(hits[0].score, 1.0f / 61 + 1.0f / 68);
      EXPECT_EQ(hits[1].id, PointId(1));
      EXPECT_FLOAT_EQ(hits[1].score, 1.0f / 61);
    }
  }
  // Text weight 0 with the weighted fusion: dense order.
  SearchOptions so;
  so.k = 3;
  so.text = "zanzibar";
  so.fusion = Fusion::kWeighted;
  so.text_weight = 0;
  so.dense_weight = 1;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, query));
  SearchOptions dense;
  dense.k = 3;
  ASSERT_OK_AND_ASSIGN(auto dense_hits, c->Search(dense, query));
  ASSERT_EQ(hits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(hits[i].id, dense_hits[i].id);
  // Dense hits report their dense score.
  ASSERT_TRUE(dense_hits[0].dense_score.has_value());
  EXPECT_EQ(*dense_hits[0].dense_score, dense_hits[0].score);
}

TEST(TextSearchTest, BadInputIsRejectedAndWritesNothing) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", TextOptions()));
  Upsert(c.get(), 1, "hello");
  SearchOptions so;
  so.text = "   ";
  EXPECT_STATUS(c->Search(so, {}), StatusCode::kInvalidArgument, "empty");
  so.text = "hello";
  so.text_fields = {"title"};
  EXPECT_STATUS(c->Search(so, {}), StatusCode::kInvalidArgument, "title");
  so.text_fields = {};
  EXPECT_STATUS(c->Search(so, std::vector<float>{1, 2}), StatusCode::kInvalidArgument, "dimension");
  so.fusion = Fusion::kWeighted;
  so.dense_weight = -1;
  EXPECT_STATUS(c->Search(so, Vec(1)), StatusCode::kInvalidArgument, "weights");
  so.dense_weight = 0;
  so.text_weight = 0;
  EXPECT_STATUS(c->Search(so, Vec(1)), StatusCode::kInvalidArgument, "weights");
  so = {};
  so.text = "hello";
  so.k = 0;
  EXPECT_STATUS(c->Search(so, {}), StatusCode::kInvalidArgument, "k");

  // A text field holding a number: the batch writes nothing.
  std::vector<std::string> payloads = {Doc("fine"), R"({"body": 42})"};
  std::vector<float> vecs = Vec(2);
  const auto v3 = Vec(3);
  vecs.insert(vecs.end(), v3.begin(), v3.end());
  EXPECT_STATUS(c->Upsert({}, NumericIds(2, 2), vecs, payloads), StatusCode::kInvalidArgument, "point 1", "body",
                "number");
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, 1u);
  EXPECT_TRUE(TextScores(*c, "fine").empty());

  // A collection without text fields.
  CollectionOptions plain;
  plain.dimension = kDim;
  ASSERT_OK_AND_ASSIGN(auto p, db->CreateCollection("plain", plain));
  so = {};
  so.text = "hello";
  EXPECT_STATUS(p->Search(so, {}), StatusCode::kInvalidArgument, "plain", "text fields");

  // Creation: unknown language, duplicate field.
  CollectionOptions bad = TextOptions();
  bad.text_fields[0].language = "klingon";
  EXPECT_STATUS(db->CreateCollection("bad", bad), StatusCode::kInvalidArgument, "klingon", "english", "french");
  bad = TextOptions();
  bad.text_fields.push_back(bad.text_fields[0]);
  EXPECT_STATUS(db->CreateCollection("bad", bad), StatusCode::kInvalidArgument, "twice");
  EXPECT_STATUS(db->GetCollection("bad"), StatusCode::kNotFound);
}

TEST(TextSearchTest, DeclaredFieldsSurviveReopen) {
  TempDir tmp;
  {
    auto db = MustOpen(tmp.path());
    CollectionOptions o = TextOptions();
    o.text_fields[0].language = "french";
    o.text_fields[0].stop_words = false;
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", o));
    Upsert(c.get(), 1, "les chanteuses continuellement");
  }
  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("t"));
  EXPECT_EQ(TextScores(*c, "continuel").size(), 1u);  // the French stemmer still analyses queries
  EXPECT_EQ(TextScores(*c, "les").size(), 1u);        // and stop words are still kept
}

// ---- kill -9: index and points agree after a crash in the middle of a stream of batches ----

constexpr size_t kBatch = 40;

TEST(TextSearchChildHelper, Writer) {
  if (ChildMode() != "text-writer") GTEST_SKIP() << "helper for TextSearchTest.KillNine; runs only in a child process";
  alarm(120);
  auto db = Database::Open({}, ChildDir());
  if (!db.ok()) _exit(2);
  auto c = (*db)->CreateCollection("k", TextOptions());
  if (!c.ok()) _exit(3);
  const int fd = ChildFd();
  for (uint64_t b = 0; b < 1000000; ++b) {
    // Each batch overwrites half of the previous batch's ids, so replaces are in flight too.
    std::vector<PointId> ids = NumericIds(b * kBatch / 2, kBatch);
    std::vector<std::string> payloads;
    std::vector<float> vecs;
    for (size_t j = 0; j < kBatch; ++j) {
      payloads.push_back(Doc("batch" + std::to_string(b) + " common"));
      const auto v = Vec(static_cast<float>(j));
      vecs.insert(vecs.end(), v.begin(), v.end());
    }
    if (!(*c)->Upsert({}, ids, vecs, payloads).ok()) _exit(4);
    uint64_t ack = b;
    if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(5);
  }
  pause();
  _exit(0);
}

TEST(TextSearchTest, KillNineLeavesIndexAndPointsAgreeing) {
  TempDir tmp;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto child = testing::SpawnHelper("TextSearchChildHelper.Writer", "text-writer", tmp.path(), fds[1]);
  ASSERT_GT(child.pid, 0);
  close(fds[1]);
  int64_t last_ack = -1;
  while (last_ack < 30) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, 60000) <= 0) break;
    uint64_t ack;
    if (read(fds[0], &ack, sizeof ack) != sizeof ack) break;
    last_ack = static_cast<int64_t>(ack);
  }
  kill(child.pid, SIGKILL);
  int status = 0;
  waitpid(child.pid, &status, 0);
  close(fds[0]);
  ASSERT_GE(last_ack, 30) << "the writer stopped acknowledging; exit status " << status;

  auto db = MustOpen(tmp.path());
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("k"));
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  // Every live point is found by the word all of them hold, and by the word of its batch.
  EXPECT_EQ(TextScores(*c, "common").size(), count);
  ScanOptions scan;
  scan.limit = 100000;
  ASSERT_OK_AND_ASSIGN(auto page, c->Scan(scan));
  std::map<std::string, std::set<std::string>> by_word;
  for (const Point& p : page.points) {
    auto body = nlohmann::json::parse(p.payload)["body"].get<std::string>();
    by_word[body.substr(0, body.find(' '))].insert(p.id.ToString());
  }
  for (const auto& [word, ids] : by_word) {
    std::set<std::string> found;
    for (const auto& [id, score] : TextScores(*c, word)) found.insert(id);
    EXPECT_EQ(found, ids) << word;
  }
}

}  // namespace
}  // namespace sextant
