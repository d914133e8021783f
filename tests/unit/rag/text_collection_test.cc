// Text collections (TextCollection in sextant/rag.h): the embedder recorded with the collection,
// ingest and atomic re-ingest, deleting documents, retrieval with filters, Ask with timings, and
// the refusals (plain collections, mismatched embedders, bad documents).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "minilm_fixture.h"
#include "sextant/database.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

using Json = nlohmann::json;

std::unique_ptr<Database> OpenDb(const std::string& path) {
  auto db = Database::Open({}, path);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::vector<Document> Corpus() {
  return {
      {"rivers", "The Danube flows through ten countries before it reaches the Black Sea. Its delta is a wetland.",
       R"({"topic":"geography","lang":"en"})"},
      {"bread", "Sourdough bread rises with wild yeast and lactic bacteria. The starter is fed with flour and water.",
       R"({"topic":"cooking","lang":"en"})"},
      {"stars", "A neutron star is the collapsed core of a massive star. Pulsars are rotating neutron stars.",
       R"({"topic":"astronomy","lang":"en"})"},
      {"chess", "In chess the king castles with a rook. The queen is the strongest piece on the board.",
       R"({"topic":"games","lang":"fr"})"},
  };
}

RetrieveOptions Rk(uint32_t k, std::string filter = "") {
  RetrieveOptions o;
  o.k = k;
  o.filter = std::move(filter);
  return o;
}

uint64_t ChunksOf(TextCollection& tc, const std::string& doc) {
  SearchOptions so;
  so.k = 1000;
  so.exact = true;
  so.filter = Json{{"document_id", doc}}.dump();
  std::vector<float> q(tc.embedder().dimension(), 0.0f);
  q[0] = 1.0f;
  auto hits = tc.collection().Search(so, q);
  EXPECT_TRUE(hits.ok()) << hits.status().ToString();
  return hits.ok() ? hits->size() : 0;
}

TEST(TextCollectionTest, CreateRecordsTheEmbedderAndReopens) {
  testing::TempDir dir;
  EmbedderProvider provider;
  {
    auto db = OpenDb(dir.path());
    TextCollectionOptions o;
    o.embedder.hash.dimension = 256;
    auto tc = TextCollection::Create(*db, "faq", o, provider);
    ASSERT_TRUE(tc.ok()) << tc.status().ToString();
    EXPECT_EQ((*tc)->collection().dimension(), 256u);
    EXPECT_EQ((*tc)->collection().metric(), Metric::kCosine);
    auto info = (*tc)->collection().Describe();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->index, "HNSW16");
    auto config = TextCollection::ConfigOf(*info);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    ASSERT_TRUE(config->has_value());
    EXPECT_EQ((*config)->embedder.kind, "hash");
    EXPECT_EQ((*config)->embedder.hash.dimension, 256u);
    EXPECT_EQ((*config)->chunker.chunk_tokens, 256u);
    EXPECT_NE(info->properties.find("hash:256"), std::string::npos) << info->properties;
    ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
    EXPECT_TRUE(TextCollection::Create(*db, "faq", o, provider).status().code() == StatusCode::kAlreadyExists);
  }
  auto db = OpenDb(dir.path());
  EmbedderProvider fresh;
  auto tc = TextCollection::Open(*db, "faq", fresh);
  ASSERT_TRUE(tc.ok()) << tc.status().ToString();
  EXPECT_EQ((*tc)->embedder().spec(), "hash:256:3-5:bigrams:v1");
  auto found = (*tc)->Retrieve("Which sea does the Danube reach?", Rk(2));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_FALSE(found->empty());
  EXPECT_EQ((*found)[0].document_id, "rivers");
}

TEST(TextCollectionTest, PlainCollectionsAndBadConfigsAreRefused) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  CollectionOptions plain;
  plain.dimension = 8;
  ASSERT_TRUE(db->CreateCollection("vectors", plain).ok());
  auto opened = TextCollection::Open(*db, "vectors", provider);
  EXPECT_EQ(opened.status().code(), StatusCode::kFailedPrecondition) << opened.status().ToString();
  EXPECT_NE(opened.status().message().find("not a text collection"), std::string::npos);
  EXPECT_EQ(TextCollection::Open(*db, "absent", provider).status().code(), StatusCode::kNotFound);

  TextCollectionOptions bad;
  bad.embedder.kind = "word2vec";
  auto made = TextCollection::Create(*db, "t", bad, provider);
  EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(made.status().message().find("word2vec"), std::string::npos);
  bad.embedder.kind = "local";
  bad.embedder.local_model = "../etc";
  EXPECT_EQ(TextCollection::Create(*db, "t", bad, provider).status().code(), StatusCode::kInvalidArgument);
  bad.embedder.kind = "openai";
  bad.embedder.openai_base_url = "ftp://x";
  bad.embedder.openai_model = "m";
  EXPECT_EQ(TextCollection::Create(*db, "t", bad, provider).status().code(), StatusCode::kInvalidArgument);
  TextCollectionOptions wp;
  wp.chunker.tokens = TokenKind::kWordPiece;
  wp.chunker_set = true;
  EXPECT_EQ(TextCollection::Create(*db, "t", wp, provider).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db->GetCollection("t").status().code(), StatusCode::kNotFound);
}

TEST(TextCollectionTest, MissingLocalModelIsNotFoundWithAHint) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderEnvironment env;
  env.model_root = dir.path() + "/models";
  EmbedderProvider provider(env);
  TextCollectionOptions o;
  o.embedder.kind = "local";
  auto tc = TextCollection::Create(*db, "t", o, provider);
  EXPECT_EQ(tc.status().code(), StatusCode::kNotFound) << tc.status().ToString();
  EXPECT_NE(tc.status().message().find("fetch-model.sh"), std::string::npos) << tc.status().ToString();
  EXPECT_EQ(db->GetCollection("t").status().code(), StatusCode::kNotFound);
}

TEST(TextCollectionTest, EmbedderThatNoLongerMatchesTheRecordIsRefused) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  // A collection whose record claims vectors of another hash embedder version.
  CollectionOptions co;
  co.dimension = 384;
  co.properties = R"({"sextant.text":{"version":1,"embedder":{"kind":"hash","dimension":384},)"
                  R"("embedder_spec":"hash:384:3-5:bigrams:v0","chunker":{"chunk_tokens":256,"overlap_tokens":32}}})";
  ASSERT_TRUE(db->CreateCollection("old", co).ok());
  auto tc = TextCollection::Open(*db, "old", provider);
  EXPECT_EQ(tc.status().code(), StatusCode::kFailedPrecondition) << tc.status().ToString();
  EXPECT_NE(tc.status().message().find("v0"), std::string::npos);

  co.properties = R"({"sextant.text":{"embedder":{"kind":7},"chunker":{}}})";
  ASSERT_TRUE(db->CreateCollection("corrupt", co).ok());
  EXPECT_EQ(TextCollection::Open(*db, "corrupt", provider).status().code(), StatusCode::kDataLoss);
}

TEST(TextCollectionTest, SearchWithAVectorOfAnotherModelIsRefused) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = TextCollection::Create(*db, "t", {}, provider);
  ASSERT_TRUE(tc.ok());
  ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
  std::vector<std::string> q{"neutron star"};
  auto v = (*tc)->Embed(q);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 384u);
  SearchOptions so;
  so.k = 1;
  so.with_payload = true;
  auto other = (*tc)->SearchEmbedded(*v, "local:all-MiniLM-L6-v2", so);
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  auto same = (*tc)->SearchEmbedded(*v, (*tc)->embedder().spec(), so);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  ASSERT_EQ(same->size(), 1u);
  EXPECT_EQ(Json::parse((*same)[0].payload)["document_id"], "stars");
}

TEST(TextCollectionTest, IngestChunksWithOffsetsMetadataAndProgress) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  TextCollectionOptions o;
  o.chunker.chunk_tokens = 16;
  o.chunker.overlap_tokens = 4;
  o.chunker_set = true;
  auto tc = TextCollection::Create(*db, "t", o, provider);
  ASSERT_TRUE(tc.ok()) << tc.status().ToString();
  std::vector<Document> docs = Corpus();
  std::vector<IngestProgress> seen;
  IngestOptions io;
  io.batch_documents = 3;
  io.progress = [&](const IngestProgress& p) { seen.push_back(p); };
  auto r = (*tc)->Ingest(docs, io);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  uint64_t expected = 0;
  for (const Document& d : docs) expected += ChunkText(d.text, o.chunker)->size();
  EXPECT_EQ(r->documents, 4u);
  EXPECT_EQ(r->chunks, expected);
  EXPECT_GT(expected, 4u);
  EXPECT_EQ(r->replaced_chunks, 0u);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].documents, 3u);
  EXPECT_EQ(seen[1].documents, 4u);
  EXPECT_EQ(seen[1].chunks, expected);
  EXPECT_EQ(seen[1].total_documents, 4u);
  EXPECT_EQ(*(*tc)->collection().Count(), expected);

  auto chunk = (*tc)->collection().Get(PointId(std::string("bread#1")));
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  Json p = Json::parse(chunk->payload);
  EXPECT_EQ(p["document_id"], "bread");
  EXPECT_EQ(p["chunk"], 1);
  EXPECT_EQ(p["metadata"]["topic"], "cooking");
  const std::string& text = docs[1].text;
  EXPECT_EQ(p["text"].get<std::string>(),
            text.substr(p["begin"].get<size_t>(), p["end"].get<size_t>() - p["begin"].get<size_t>()));

  // Metadata filters restrict retrieval.
  auto fr = (*tc)->Retrieve("the Danube and the Black Sea", Rk(10, R"({"metadata.lang":"fr"})"));
  ASSERT_TRUE(fr.ok()) << fr.status().ToString();
  ASSERT_FALSE(fr->empty());
  for (const Citation& c : *fr) EXPECT_EQ(c.document_id, "chess");
  auto malformed = (*tc)->Retrieve("x", Rk(3, R"({"metadata.lang": )"));
  EXPECT_EQ(malformed.status().code(), StatusCode::kInvalidArgument);
}

TEST(TextCollectionTest, ReIngestReplacesAndEmptyTextOrDeleteRemoves) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  TextCollectionOptions o;
  o.chunker.chunk_tokens = 8;
  o.chunker.overlap_tokens = 0;
  o.chunker_set = true;
  auto tc = TextCollection::Create(*db, "t", o, provider);
  ASSERT_TRUE(tc.ok());
  ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
  const uint64_t before = ChunksOf(**tc, "rivers");
  ASSERT_GT(before, 1u);

  std::vector<Document> v2{{"rivers", "Glaciers carve fjords.", ""}};
  auto r = (*tc)->Ingest(v2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks, 1u);
  EXPECT_EQ(r->replaced_chunks, before);
  EXPECT_EQ(ChunksOf(**tc, "rivers"), 1u);
  auto found = (*tc)->Retrieve("Danube delta wetland Black Sea", Rk(20));
  ASSERT_TRUE(found.ok());
  for (const Citation& c : *found) EXPECT_EQ(c.text.find("Danube"), std::string::npos) << c.text;
  auto got = (*tc)->collection().Get(PointId(std::string("rivers#0")));
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(Json::parse(got->payload).contains("metadata"));

  std::vector<Document> empty{{"bread", "", ""}};
  r = (*tc)->Ingest(empty);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->chunks, 0u);
  EXPECT_GT(r->replaced_chunks, 0u);
  EXPECT_EQ(ChunksOf(**tc, "bread"), 0u);

  const uint64_t stars = ChunksOf(**tc, "stars");
  std::vector<std::string> ids{"stars", "no-such-document"};
  auto deleted = (*tc)->DeleteDocuments(ids);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, stars);
  EXPECT_EQ(ChunksOf(**tc, "stars"), 0u);
  EXPECT_GT(ChunksOf(**tc, "chess"), 0u);
  std::vector<std::string> bad{""};
  EXPECT_EQ((*tc)->DeleteDocuments(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST(TextCollectionTest, BadDocumentsWriteNothing) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = TextCollection::Create(*db, "t", {}, provider);
  ASSERT_TRUE(tc.ok());
  auto expect_refused = [&](std::vector<Document> docs, std::string_view needle) {
    auto r = (*tc)->Ingest(docs);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
    EXPECT_EQ(*(*tc)->collection().Count(), 0u);
  };
  std::vector<Document> docs = Corpus();
  docs[2].metadata = "[1, 2]";
  expect_refused(docs, "metadata");
  docs = Corpus();
  docs[3].id = "rivers";
  expect_refused(docs, "twice");
  docs = Corpus();
  docs[1].id = "";
  expect_refused(docs, "id");
  docs = Corpus();
  docs[1].id = std::string(300, 'x');
  expect_refused(docs, "id");
  // A payload over the database's limit fails the write; nothing of the batch is written.
  docs = Corpus();
  docs[0].metadata = Json{{"blob", std::string(70000, 'x')}}.dump();
  auto r = (*tc)->Ingest(docs);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(*(*tc)->collection().Count(), 0u);
}

TEST(TextCollectionTest, ReadersSeeOneVersionOfADocumentOrTheOther) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  TextCollectionOptions o;
  o.chunker.chunk_tokens = 8;
  o.chunker.overlap_tokens = 0;
  o.chunker_set = true;
  o.index = IndexOptions{};  // exact, so a search sees every chunk
  auto tc = TextCollection::Create(*db, "t", o, provider);
  ASSERT_TRUE(tc.ok());
  auto version = [](int v) {
    std::string text;
    for (int i = 0; i < (v % 2 ? 7 : 3) * 8; ++i) text += "v" + std::to_string(v) + " ";
    return std::vector<Document>{{"doc", text, Json{{"version", v}}.dump()}};
  };
  ASSERT_TRUE((*tc)->Ingest(version(0)).ok());
  std::atomic<bool> done{false};
  std::atomic<int> mixed{0}, checks{0};
  std::thread reader([&] {
    SearchOptions so;
    so.k = 100;
    so.with_payload = true;
    std::vector<float> q((*tc)->embedder().dimension(), 0.0f);
    q[1] = 1.0f;
    while (!done.load() || checks.load() < 50) {
      auto hits = (*tc)->collection().Search(so, q);
      ASSERT_TRUE(hits.ok());
      std::set<int> versions;
      for (const Hit& h : *hits) versions.insert(Json::parse(h.payload)["metadata"]["version"].get<int>());
      const size_t expected = versions.empty() ? 0 : (*versions.begin() % 2 ? 7 : 3);
      if (versions.size() != 1 || hits->size() != expected) mixed.fetch_add(1);
      checks.fetch_add(1);
    }
  });
  for (int v = 1; v <= 60; ++v) ASSERT_TRUE((*tc)->Ingest(version(v)).ok());
  done = true;
  reader.join();
  EXPECT_EQ(mixed.load(), 0) << "of " << checks.load() << " searches";
}

TEST(TextCollectionTest, AskRetrievesPromptsGeneratesAndTimes) {
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderProvider provider;
  auto tc = TextCollection::Create(*db, "t", {}, provider);
  ASSERT_TRUE(tc.ok());
  ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
  auto generator = MakeExtractiveGenerator();
  AskOptions ao;
  ao.retrieve.k = 3;
  std::string streamed;
  auto answer = (*tc)->Ask("What is a pulsar?", ao, *generator, [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(streamed, answer->text);
  EXPECT_NE(answer->text.find("neutron"), std::string::npos) << answer->text;
  ASSERT_EQ(answer->citations.size(), 3u);
  EXPECT_EQ(answer->citations[0].number, 1u);
  EXPECT_EQ(answer->citations[0].document_id, "stars");
  EXPECT_TRUE(answer->citations[0].cited);
  EXPECT_GE(answer->citations[0].score, answer->citations[1].score);
  EXPECT_EQ(answer->generator, "extractive");
  EXPECT_EQ(answer->embedder, (*tc)->embedder().spec());
  EXPECT_GE(answer->timings.total_ms,
            answer->timings.embed_ms + answer->timings.retrieve_ms + answer->timings.generate_ms - 1e-6);
  EXPECT_GT(answer->timings.total_ms, 0.0);

  // The prompt budget drops the lowest-ranked chunks, and only those reach the citations.
  ao.retrieve.k = 4;
  auto full = (*tc)->Ask("What is a pulsar?", ao, *generator);
  ASSERT_TRUE(full.ok());
  ASSERT_EQ(full->citations.size(), 4u);
  bool trimmed = false;
  for (uint32_t budget = 20; budget < 400 && !trimmed; budget += 5) {
    ao.prompt.max_prompt_tokens = budget;
    auto small = (*tc)->Ask("What is a pulsar?", ao, *generator);
    ASSERT_TRUE(small.ok());
    if (small->citations.empty() || small->citations.size() == 4) continue;
    trimmed = true;
    for (size_t i = 0; i < small->citations.size(); ++i) {
      EXPECT_EQ(small->citations[i].document_id, full->citations[i].document_id);
    }
  }
  EXPECT_TRUE(trimmed) << "no budget kept between 1 and 3 of the 4 chunks";

  EXPECT_EQ((*tc)->Ask("  ", ao, *generator).status().code(), StatusCode::kInvalidArgument);
  ao.retrieve.k = 0;
  EXPECT_EQ((*tc)->Ask("stars", ao, *generator).status().code(), StatusCode::kInvalidArgument);
}

TEST(TextCollectionTest, LocalEmbedderWithWordPieceChunks) {
  const std::string model = testing::MiniLmModelDir();
  if (model.empty()) GTEST_SKIP() << "all-MiniLM-L6-v2 is not installed (bash scripts/fetch-model.sh)";
  testing::TempDir dir;
  auto db = OpenDb(dir.path());
  EmbedderEnvironment env;
  env.model_root = std::filesystem::path(model).parent_path().string();
  env.threads = 1;
  EmbedderProvider provider(env);
  TextCollectionOptions o;
  o.embedder.kind = "local";
  o.embedder.local_model = std::filesystem::path(model).filename().string();
  auto tc = TextCollection::Create(*db, "t", o, provider);
  ASSERT_TRUE(tc.ok()) << tc.status().ToString();
  EXPECT_EQ((*tc)->options().chunker.tokens, TokenKind::kWordPiece);
  EXPECT_EQ((*tc)->collection().dimension(), 384u);
  ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
  auto found = (*tc)->Retrieve("Which river ends in the Black Sea?", Rk(1));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].document_id, "rivers");
  auto found2 = (*tc)->Retrieve("how do I make bread with a starter", Rk(1));
  ASSERT_TRUE(found2.ok());
  EXPECT_EQ((*found2)[0].document_id, "bread");
}

}  // namespace
}  // namespace sextant::rag
