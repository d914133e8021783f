// Retrieval in text collections (docs/rag.md, "Retrieval modes"): the chunk text indexed for BM25
// at creation, retrieval "hybrid" | "dense" | "text", group_by with group_size, the score
// threshold and the "I don't know" answer of Ask and Chat, collections created before text
// indexing, and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sextant/database.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

std::unique_ptr<Database> OpenDb(const std::string& path) {
  auto db = Database::Open({}, path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::vector<Document> Corpus() {
  return {
      {"rivers", "The Danube flows through ten countries before it reaches the Black Sea. Its delta is a wetland.", ""},
      {"bread", "Sourdough bread rises with wild yeast and lactic bacteria. The starter is fed with flour and water.",
       ""},
      {"stars", "A neutron star is the collapsed core of a massive star. Pulsars are rotating neutron stars.", ""},
      {"errors", "When the server answers with error code XQ7731 the disk quota is exhausted.", ""},
      {"chess", "In chess the king castles with a rook. The queen is the strongest piece on the board.", ""},
  };
}

// Counts its calls; answers with a fixed text.
class CountingGenerator : public Generator {
 public:
  std::string name() const override { return "counting"; }
  StatusOr<Generation> Generate(std::string_view, const Prompt&, const TokenCallback&) override {
    ++calls;
    Generation g;
    g.text = "generated";
    return g;
  }
  int calls = 0;
};

std::unique_ptr<TextCollection> MakeCollection(Database& db, EmbedderProvider& provider, std::string_view name,
                                               TextCollectionOptions o = {}) {
  auto tc = TextCollection::Create(db, name, o, provider);
  EXPECT_TRUE(tc.ok()) << tc.status().ToString();
  if (!tc.ok()) return nullptr;
  auto r = (*tc)->Ingest(Corpus());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(tc).value();
}

RetrieveOptions Mode(RetrievalMode mode, uint32_t k) {
  RetrieveOptions o;
  o.retrieval = mode;
  o.k = k;
  return o;
}

TEST(RetrievalTest, ModesParseAndNameThemselves) {
  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kText}) {
    auto parsed = ParseRetrievalMode(RetrievalModeName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(*ParseRetrievalMode(""), RetrievalMode::kHybrid);
  auto bad = ParseRetrievalMode("bm25");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("hybrid, dense, text"), std::string::npos) << bad.status().ToString();
}

TEST(RetrievalTest, ChunkTextIsIndexedAtCreationAndAfterReopen) {
  testing::TempDir dir;
  EmbedderProvider provider;
  {
    auto db = OpenDb(dir.path());
    TextCollectionOptions o;
    o.text_language = "french";
    auto tc = MakeCollection(*db, provider, "fr", o);
    ASSERT_TRUE(tc);
    EXPECT_TRUE(tc->text_indexed());
    auto info = tc->collection().Describe();
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info->text_fields.size(), 1u);
    EXPECT_EQ(info->text_fields[0].field, "text");
    EXPECT_EQ(info->text_fields[0].language, "french");
    TextCollectionOptions none;
    none.text_language = "none";
    auto plain = MakeCollection(*db, provider, "none", none);
    ASSERT_TRUE(plain);
    auto pinfo = plain->collection().Describe();
    ASSERT_TRUE(pinfo.ok());
    ASSERT_EQ(pinfo->text_fields.size(), 1u);
    EXPECT_FALSE(pinfo->text_fields[0].stemming);
    EXPECT_FALSE(pinfo->text_fields[0].stop_words);
  }
  auto db = OpenDb(dir.path());
  auto tc = TextCollection::Open(*db, "fr", provider);
  ASSERT_TRUE(tc.ok()) << tc.status().ToString();
  EXPECT_TRUE((*tc)->text_indexed());
  EXPECT_EQ((*tc)->options().text_language, "french");
  auto found = (*tc)->Retrieve("XQ7731", Mode(RetrievalMode::kText, 3));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].document_id, "errors");

  // Bad languages are refused at creation, naming the field.
  TextCollectionOptions bad;
  bad.text_language = "klingon";
  auto refused = TextCollection::Create(*db, "bad", bad, provider);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("english"), std::string::npos) << refused.status().ToString();
  bad.text_language = "";
  EXPECT_EQ(TextCollection::Create(*db, "bad", bad, provider).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(db->GetCollection("bad").ok());
}

TEST(RetrievalTest, TextDenseAndHybridReportTheirScores) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = MakeCollection(*db, provider, "t");
  ASSERT_TRUE(tc);

  // A rare identifier: BM25 finds exactly the chunk holding it, and only that one.
  auto text = tc->Retrieve("what does XQ7731 mean", Mode(RetrievalMode::kText, 5));
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  ASSERT_GE(text->size(), 1u);
  EXPECT_EQ((*text)[0].document_id, "errors");
  ASSERT_TRUE((*text)[0].text_score.has_value());
  EXPECT_FLOAT_EQ(*(*text)[0].text_score, (*text)[0].score);
  EXPECT_FALSE((*text)[0].dense_score.has_value());
  EXPECT_GT((*text)[0].score, 0.0f);

  auto dense = tc->Retrieve("what does XQ7731 mean", Mode(RetrievalMode::kDense, 5));
  ASSERT_TRUE(dense.ok());
  ASSERT_EQ(dense->size(), 5u);
  for (const Citation& c : *dense) {
    ASSERT_TRUE(c.dense_score.has_value());
    EXPECT_FLOAT_EQ(*c.dense_score, c.score);
    EXPECT_FALSE(c.text_score.has_value());
    EXPECT_LE(c.score, 1.0f + 1e-5f);
  }

  auto hybrid = tc->Retrieve("what does XQ7731 mean", Mode(RetrievalMode::kHybrid, 5));
  ASSERT_TRUE(hybrid.ok());
  ASSERT_EQ(hybrid->size(), 5u);
  EXPECT_EQ((*hybrid)[0].document_id, "errors");  // first in the BM25 list and present in the dense one
  for (size_t i = 0; i < hybrid->size(); ++i) {
    const Citation& c = (*hybrid)[i];
    EXPECT_EQ(c.number, i + 1);
    ASSERT_TRUE(c.dense_score.has_value());
    ASSERT_TRUE(c.text_score.has_value());
    EXPECT_LE(c.score, 2.0f / 61 + 1e-6f);  // RRF with k = 60, two lists
    if (i > 0) {
      EXPECT_LE(c.score, (*hybrid)[i - 1].score);
    }
  }

  // The default is hybrid, and Ask says which mode it used.
  EXPECT_EQ(RetrieveOptions{}.retrieval, RetrievalMode::kHybrid);
  auto generator = MakeExtractiveGenerator();
  AskOptions ao;
  auto answer = tc->Ask("What is a pulsar?", ao, *generator);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->retrieval, "hybrid");
  ASSERT_FALSE(answer->citations.empty());
  EXPECT_EQ(answer->citations[0].document_id, "stars");
  ao.retrieve.retrieval = RetrievalMode::kText;
  answer = tc->Ask("What is a pulsar?", ao, *generator);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->retrieval, "text");

  // A filter combines with every mode.
  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kText}) {
    RetrieveOptions o = Mode(m, 5);
    o.filter = R"({"document_id": "bread"})";
    auto found = tc->Retrieve("bread yeast flour", o);
    ASSERT_TRUE(found.ok()) << RetrievalModeName(m) << ": " << found.status().ToString();
    ASSERT_EQ(found->size(), 1u) << RetrievalModeName(m);
    EXPECT_EQ((*found)[0].document_id, "bread");
  }
}

TEST(RetrievalTest, GroupByCapsChunksPerDocument) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  TextCollectionOptions o;
  o.chunker.chunk_tokens = 8;
  o.chunker.overlap_tokens = 0;
  o.chunker_set = true;
  auto tc = TextCollection::Create(*db, "g", o, provider);
  ASSERT_TRUE(tc.ok()) << tc.status().ToString();
  std::string long_text;
  for (int i = 0; i < 12; ++i) long_text += "Volcanoes erupt lava and ash from the magma chamber, part " + std::to_string(i) + ". ";
  std::vector<Document> docs = {
      {"long", long_text, ""},
      {"short-a", "A volcano erupts lava.", ""},
      {"short-b", "Magma and ash of a volcano.", ""},
      {"other", "Sourdough bread rises with yeast.", ""},
  };
  ASSERT_TRUE((*tc)->Ingest(docs).ok());

  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kText}) {
    RetrieveOptions ro = Mode(m, 6);
    auto plain = (*tc)->Retrieve("volcano lava magma ash", ro);
    ASSERT_TRUE(plain.ok());
    std::map<std::string, int> per_doc;
    for (const Citation& c : *plain) ++per_doc[c.document_id];
    EXPECT_GT(per_doc["long"], 2) << RetrievalModeName(m) << ": the long document fills the results without a cap";

    ro.group_by = "document_id";
    ro.group_size = 1;
    auto one = (*tc)->Retrieve("volcano lava magma ash", ro);
    ASSERT_TRUE(one.ok()) << one.status().ToString();
    std::map<std::string, int> distinct;
    for (const Citation& c : *one) EXPECT_EQ(++distinct[c.document_id], 1) << RetrievalModeName(m);
    EXPECT_GE(one->size(), 3u) << RetrievalModeName(m);

    ro.group_size = 2;
    auto two = (*tc)->Retrieve("volcano lava magma ash", ro);
    ASSERT_TRUE(two.ok());
    ASSERT_LE(two->size(), 6u);
    std::map<std::string, int> capped;
    for (size_t i = 0; i < two->size(); ++i) {
      EXPECT_LE(++capped[(*two)[i].document_id], 2) << RetrievalModeName(m);
      EXPECT_EQ((*two)[i].number, i + 1);
      if (i > 0) {
        EXPECT_LE((*two)[i].score, (*two)[i - 1].score) << RetrievalModeName(m) << ": best first";
      }
    }
    EXPECT_EQ(capped["long"], 2) << RetrievalModeName(m);
  }

  RetrieveOptions bad = Mode(RetrievalMode::kHybrid, 3);
  bad.group_by = "document_id";
  bad.group_size = 0;
  EXPECT_EQ((*tc)->Retrieve("lava", bad).status().code(), StatusCode::kInvalidArgument);
  bad.group_size = 1001;
  EXPECT_EQ((*tc)->Retrieve("lava", bad).status().code(), StatusCode::kInvalidArgument);
  bad.group_size = 1;
  bad.group_by = "..";
  EXPECT_EQ((*tc)->Retrieve("lava", bad).status().code(), StatusCode::kInvalidArgument);
}

TEST(RetrievalTest, ThresholdKeepsRelevantChunksAndAskSaysItDoesNotKnow) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = MakeCollection(*db, provider, "t");
  ASSERT_TRUE(tc);

  // Each mode filters on its own scale; the hybrid one on the dense part of each hit.
  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kText}) {
    RetrieveOptions o = Mode(m, 5);
    auto all = tc->Retrieve("neutron star pulsar bread sea", o);
    ASSERT_TRUE(all.ok());
    ASSERT_GE(all->size(), 2u);
    const float cut = m == RetrievalMode::kText ? (*all)[0].score : *(*all)[0].dense_score;
    o.score_threshold = cut;
    auto kept = tc->Retrieve("neutron star pulsar bread sea", o);
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
    ASSERT_GE(kept->size(), 1u) << RetrievalModeName(m);
    for (const Citation& c : *kept) {
      EXPECT_GE(m == RetrievalMode::kText ? c.score : *c.dense_score, cut) << RetrievalModeName(m);
    }
    EXPECT_LT(kept->size(), all->size()) << RetrievalModeName(m);
  }

  // Nothing passes: Ask answers that it does not know, cites nothing and calls no generator.
  for (RetrievalMode m : {RetrievalMode::kHybrid, RetrievalMode::kDense, RetrievalMode::kText}) {
    AskOptions ao;
    ao.retrieve = Mode(m, 5);
    ao.retrieve.score_threshold = m == RetrievalMode::kText ? 1000.0f : 0.999f;
    CountingGenerator counting;
    std::string streamed;
    auto answer = tc->Ask("What is the capital of Peru?", ao, counting, [&](std::string_view piece) {
      streamed += piece;
      return true;
    });
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(counting.calls, 0);
    EXPECT_TRUE(answer->citations.empty());
    EXPECT_NE(answer->text.find("I don't know"), std::string::npos) << answer->text;
    EXPECT_EQ(streamed, answer->text);
    EXPECT_EQ(answer->generator, "counting");
    auto extractive = MakeExtractiveGenerator();
    auto ex = tc->Ask("What is the capital of Peru?", ao, *extractive);
    ASSERT_TRUE(ex.ok());
    EXPECT_NE(ex->text.find("I don't know"), std::string::npos) << ex->text;
    EXPECT_TRUE(ex->citations.empty());

    // Chat (retrieve-first mode) honours it too.
    ChatOptions co;
    co.retrieve = ao.retrieve;
    std::vector<ChatMessage> messages = {{"user", "What is the capital of Peru?", {}, {}}};
    auto chat = tc->Chat(messages, co, counting);
    ASSERT_TRUE(chat.ok()) << chat.status().ToString();
    EXPECT_EQ(counting.calls, 0);
    EXPECT_TRUE(chat->citations.empty());
    EXPECT_EQ(chat->text, answer->text);
    EXPECT_EQ(chat->finish_reason, "stop");
    ASSERT_EQ(chat->messages.size(), 1u);
    EXPECT_EQ(chat->messages[0].content, chat->text);
  }

  // A threshold that some chunk passes leaves Ask as it was.
  CountingGenerator counting;
  AskOptions ao;
  ao.retrieve.score_threshold = -1.0f;
  auto answer = tc->Ask("What is a pulsar?", ao, counting);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(counting.calls, 1);
  EXPECT_EQ(answer->text, "generated");
  EXPECT_FALSE(answer->citations.empty());
}

TEST(RetrievalTest, ThresholdsOutOfRangeAreInvalidArgument) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = MakeCollection(*db, provider, "t");
  ASSERT_TRUE(tc);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    RetrievalMode mode;
    float threshold;
  };
  for (Case c : {Case{RetrievalMode::kDense, 1.5f}, Case{RetrievalMode::kDense, -1.01f}, Case{RetrievalMode::kHybrid, 2.0f},
                 Case{RetrievalMode::kHybrid, nan}, Case{RetrievalMode::kText, -0.5f}, Case{RetrievalMode::kText, inf},
                 Case{RetrievalMode::kText, nan}}) {
    RetrieveOptions o = Mode(c.mode, 3);
    o.score_threshold = c.threshold;
    auto found = tc->Retrieve("neutron", o);
    EXPECT_EQ(found.status().code(), StatusCode::kInvalidArgument)
        << RetrievalModeName(c.mode) << " " << c.threshold;
    EXPECT_NE(found.status().message().find("score_threshold"), std::string::npos) << found.status().ToString();
    AskOptions ao;
    ao.retrieve = o;
    CountingGenerator counting;
    EXPECT_EQ(tc->Ask("neutron", ao, counting).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(counting.calls, 0);
  }
  // A BM25 threshold above 1 is fine for text retrieval.
  RetrieveOptions o = Mode(RetrievalMode::kText, 3);
  o.score_threshold = 5.0f;
  EXPECT_TRUE(tc->Retrieve("neutron", o).ok());
}

TEST(RetrievalTest, CollectionsWithoutATextIndexRetrieveDense) {
  // A text collection as created before chunk text was indexed: the same recorded configuration,
  // no text field.
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto modern = MakeCollection(*db, provider, "modern");
  ASSERT_TRUE(modern);
  auto info = modern->collection().Describe();
  ASSERT_TRUE(info.ok());
  CollectionOptions co;
  co.dimension = info->dimension;
  co.metric = Metric::kCosine;
  co.payload_indexes = {{"document_id", PayloadFieldType::kKeyword}};
  co.properties = info->properties;
  ASSERT_TRUE(db->CreateCollection("old", co).ok());
  auto old = TextCollection::Open(*db, "old", provider);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_FALSE((*old)->text_indexed());
  EXPECT_EQ((*old)->options().text_language, "");
  ASSERT_TRUE((*old)->Ingest(Corpus()).ok());

  EXPECT_EQ((*old)->EffectiveRetrieval(RetrievalMode::kHybrid), RetrievalMode::kDense);
  auto hybrid = (*old)->Retrieve("neutron star", Mode(RetrievalMode::kHybrid, 2));
  ASSERT_TRUE(hybrid.ok()) << hybrid.status().ToString();
  ASSERT_EQ(hybrid->size(), 2u);
  EXPECT_FALSE((*hybrid)[0].text_score.has_value());
  auto generator = MakeExtractiveGenerator();
  auto answer = (*old)->Ask("What is a pulsar?", AskOptions{}, *generator);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->retrieval, "dense");

  auto text = (*old)->Retrieve("neutron star", Mode(RetrievalMode::kText, 2));
  EXPECT_EQ(text.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("re-create"), std::string::npos) << text.status().ToString();
}

}  // namespace
}  // namespace sextant::rag
