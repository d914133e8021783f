// Full-text, hybrid and shaped search through sextantd with the C++ client (docs/text_search.md):
// a collection with a text field, BM25 alone (no query vector), hybrid with RRF and weighted
// fusion, group_by/group_size, score_threshold, MMR with a $text filter, SearchBatch with a text,
// and each bad option as InvalidArgument naming what is wrong.
#include <algorithm>
#include <string>
#include <vector>

#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::HitIds;
using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::TestServer;

class ClientHybridTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer;
    started_ = server_->Start();
    if (!started_) ADD_FAILURE() << started_.message();
  }
  static void TearDownTestSuite() {
    if (server_->process.running()) {
      EXPECT_EQ(server_->process.Stop(), 0) << server_->process.log();
    }
    delete server_;
    server_ = nullptr;
  }
  // The Python and Go clients' fixture: 20 points (i, 1) under L2 with payload
  // {"doc": "d<i/4>", "body": ...}, only point 13's body saying "error E1234 disk full".
  void SetUp() override {
    ASSERT_TRUE(started_) << "sextantd is not running";
    client_ = MustConnect(server_->process.address());
    ASSERT_NE(client_, nullptr);
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    CollectionOptions options = Options(2, Metric::kL2);
    options.text_fields.push_back(TextFieldOptions{.field = "body"});
    ASSERT_TRUE(client_->CreateCollection(name, options).ok());
    col_ = client_->Collection(name);
    std::vector<float> vectors;
    std::vector<std::string> payloads;
    for (int i = 0; i < 20; ++i) {
      vectors.insert(vectors.end(), {static_cast<float>(i), 1.0f});
      payloads.push_back(R"({"doc": "d)" + std::to_string(i / 4) + R"(", "body": ")" +
                         (i == 13 ? "error E1234 disk full" : "common words") + "\"}");
    }
    ASSERT_OK(col_->Upsert({}, NumericIds(20), vectors, payloads));
  }
  static TestServer* server_;
  static ::testing::AssertionResult started_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<RemoteCollection> col_;
  const std::vector<float> origin_ = {0.0f, 1.0f};
};

TestServer* ClientHybridTest::server_ = nullptr;
::testing::AssertionResult ClientHybridTest::started_ = ::testing::AssertionFailure();

TEST_F(ClientHybridTest, TextAndHybridSearch) {
  SearchOptions text;
  text.text = "E1234";
  auto hits = col_->Search(text, {});  // no query vector: BM25 alone
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(HitIds(*hits), std::vector<uint64_t>({13}));
  ASSERT_TRUE((*hits)[0].text_score.has_value());
  EXPECT_GT(*(*hits)[0].text_score, 0);
  EXPECT_EQ(*(*hits)[0].text_score, (*hits)[0].score);
  EXPECT_FALSE((*hits)[0].dense_score.has_value());

  SearchOptions hybrid = text;  // vector and text: RRF (k = 60)
  hybrid.k = 2;
  hits = col_->Search(hybrid, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  std::vector<uint64_t> ids = HitIds(*hits);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, std::vector<uint64_t>({0, 13}));
  for (const Hit& h : *hits) {
    EXPECT_TRUE(h.dense_score.has_value() && h.text_score.has_value());
    // Each is first in one list and absent from the other's top: 1/61 plus its rank there.
    EXPECT_GE(h.score, 1.0f / 61 - 1e-6f);
    EXPECT_LE(h.score, 1.0f / 61 + 1.0f / 62 + 1e-6f);
  }

  hybrid.k = 1;
  hybrid.fusion = Fusion::kWeighted;
  hybrid.dense_weight = 0;
  hybrid.text_weight = 1;
  hits = col_->Search(hybrid, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>({13}));
  hybrid.dense_weight = 1;
  hybrid.text_weight = 0;
  hits = col_->Search(hybrid, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>({0}));

  // SearchBatch: the same text fused with each query vector.
  SearchOptions batch;
  batch.k = 1;
  batch.text = "disk";
  batch.fusion = Fusion::kWeighted;
  batch.dense_weight = 1;
  batch.text_weight = 0;
  auto results = col_->SearchBatch(batch, std::vector<float>{0, 1, 19, 1});
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ(HitIds((*results)[0]), std::vector<uint64_t>({0}));
  EXPECT_EQ(HitIds((*results)[1]), std::vector<uint64_t>({19}));
  ASSERT_TRUE((*results)[1][0].text_score.has_value());
}

TEST_F(ClientHybridTest, GroupsThresholdAndMmr) {
  SearchOptions grouped;
  grouped.k = 3;
  grouped.group_by = "doc";
  auto hits = col_->Search(grouped, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>({0, 4, 8}));
  EXPECT_EQ((*hits)[1].group, "\"d1\"");
  grouped.group_size = 2;
  hits = col_->Search(grouped, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>({0, 1, 4, 5, 8, 9}));

  SearchOptions threshold;
  threshold.score_threshold = 4.0f;  // L2: distance <= 4
  hits = col_->Search(threshold, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(HitIds(*hits), std::vector<uint64_t>({0, 1, 2}));
  SearchOptions text_threshold;
  text_threshold.text = "E1234";
  text_threshold.score_threshold = 1e6f;  // nothing scores that high: no hits, no error
  hits = col_->Search(text_threshold, {});
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_TRUE(hits->empty());

  SearchOptions mmr;
  mmr.k = 3;
  mmr.mmr = true;
  mmr.mmr_lambda = 0.5f;
  mmr.filter = R"({"body": {"$text": "common"}})";
  hits = col_->Search(mmr, origin_);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->size(), 3u);
  for (const Hit& h : *hits) EXPECT_NE(h.id.number(), 13u);
}

TEST_F(ClientHybridTest, BadOptionsAreInvalidArgument) {
  auto expect_invalid = [&](const SearchOptions& options, std::span<const float> query, const std::string& what) {
    auto r = col_->Search(options, query);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(what), std::string::npos) << r.status().ToString() << " names no " << what;
  };
  SearchOptions o;
  o.text = "   ";
  expect_invalid(o, {}, "empty");
  o = {};
  o.text = "x";
  o.text_fields = {"title"};
  expect_invalid(o, {}, "title");
  o = {};
  o.text = "x";
  o.fusion = Fusion::kWeighted;
  o.dense_weight = -1;
  expect_invalid(o, origin_, "weight");
  o.dense_weight = 0;  // both 0: the client refuses it (0 on the wire means the default)
  o.text_weight = 0;
  expect_invalid(o, origin_, "weight");
  o = {};
  o.group_by = "doc";
  o.group_size = 5000;  // above kMaxGroupSize
  expect_invalid(o, origin_, "group_size");
  o.group_size = 0;  // the client refuses it (0 on the wire means 1)
  expect_invalid(o, origin_, "group_size");
  o = {};
  o.mmr = true;
  o.mmr_lambda = 2;
  expect_invalid(o, origin_, "mmr_lambda");
  o = {};
  o.filter = R"({"doc": {"$text": "d1"}})";
  expect_invalid(o, origin_, "doc");
  o = {};
  expect_invalid(o, {}, "");  // neither a vector nor a text

  CollectionOptions bad = Options(2, Metric::kL2);
  bad.text_fields.push_back(TextFieldOptions{.field = "body", .language = "klingon"});
  auto created = client_->CreateCollection("bad_language", bad);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(created.status().message().find("english"), std::string::npos) << created.status().ToString();

  ASSERT_TRUE(client_->CreateCollection("no_text", Options(2, Metric::kL2)).ok());
  SearchOptions text;
  text.text = "x";
  auto r = client_->Collection("no_text")->Search(text, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("text fields"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace sextant
