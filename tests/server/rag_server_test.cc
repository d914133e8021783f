// Text collections (RAG) over gRPC against a real sextantd: CreateCollection with `text`,
// IngestDocuments, DeleteDocuments, Embed and Ask, with the hash embedder (no model needed) and,
// when it is installed, the local MiniLM model.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sextant/database.h"
#include "sextant/rag.h"
#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

constexpr uint32_t kHashDim = 64;

void ExpectError(const grpc::Status& s, StatusCode code, const std::vector<std::string>& needles) {
  EXPECT_EQ(s.error_code(), code) << Describe(s);
  for (const std::string& n : needles) {
    EXPECT_NE(s.error_message().find(n), std::string::npos)
        << "\"" << n << "\" not in: " << s.error_message();
  }
}

v1::CreateCollectionRequest TextReq(const std::string& name, uint32_t hash_dim = kHashDim) {
  v1::CreateCollectionRequest req;
  req.set_name(name);
  req.mutable_text()->mutable_embedder()->set_kind("hash");
  req.mutable_text()->mutable_embedder()->set_dimension(hash_dim);
  return req;
}

v1::Document Doc(const std::string& id, const std::string& text, const std::string& metadata = "") {
  v1::Document d;
  d.set_id(id);
  d.set_text(text);
  d.set_metadata(metadata);
  return d;
}

// A few small documents, each about one subject.
std::vector<v1::Document> Corpus() {
  return {
      Doc("otters",
          "Sea otters use rocks as tools to crack open shellfish. They float on their backs while "
          "eating. A group of resting otters is called a raft.",
          R"({"topic": "animals", "year": 2001})"),
      Doc("volcanoes",
          "Volcanoes form where magma reaches the surface of the earth. Basalt lava flows are runny "
          "and travel far. Explosive eruptions throw ash high into the sky.",
          R"({"topic": "geology", "year": 2005})"),
      Doc("bread",
          "Sourdough bread rises because wild yeast and lactic bacteria ferment the dough. Bakers "
          "feed the starter with flour and water every day.",
          R"({"topic": "cooking", "year": 2010})"),
      Doc("comets",
          "Comets are icy bodies that grow a glowing tail when they pass near the sun. Halley's "
          "comet returns about every seventy six years.",
          R"({"topic": "astronomy", "year": 2015})"),
  };
}

// A long document of distinct numbered sentences: several chunks at 32 tokens per chunk.
std::string LongText(const std::string& word, int sentences) {
  std::string text;
  for (int i = 0; i < sentences; ++i) {
    text += "The " + word + " sentence number " + std::to_string(i) + " talks about " + word +
            " things in detail. ";
  }
  return text;
}

class RagServerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start(Flags())); }
  virtual std::vector<std::string> Flags() { return {}; }
  v1::Sextant::Stub& stub() { return server_.stub(); }

  void CreateText(const std::string& name, v1::CollectionInfo* info = nullptr) {
    v1::CollectionInfo ignored;
    auto s = stub().CreateCollection(Ctx().get(), TextReq(name), info ? info : &ignored);
    ASSERT_TRUE(s.ok()) << Describe(s);
  }

  // Sends `messages` on one IngestDocuments stream; returns the status and the progress answers.
  grpc::Status Ingest(const std::string& collection,
                      const std::vector<std::vector<v1::Document>>& messages,
                      std::vector<v1::IngestProgress>* progress = nullptr,
                      const std::string& key = "") {
    auto ctx = Ctx(key);
    auto stream = stub().IngestDocuments(ctx.get());
    bool first = true;
    for (const auto& docs : messages) {
      v1::IngestDocumentsRequest req;
      if (first) req.set_collection(collection);
      first = false;
      for (const v1::Document& d : docs) *req.add_documents() = d;
      if (!stream->Write(req)) break;
      v1::IngestProgress p;
      if (!stream->Read(&p)) break;
      if (progress) progress->push_back(p);
    }
    stream->WritesDone();
    v1::IngestProgress extra;
    while (stream->Read(&extra)) {
    }
    return stream->Finish();
  }

  uint64_t Count(const std::string& collection) {
    v1::CountRequest req;
    req.set_collection(collection);
    v1::CountResponse resp;
    auto s = stub().Count(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << Describe(s);
    return resp.count();
  }

  // Every chunk's payload text of a document, via Scan.
  std::vector<std::string> ChunkTexts(const std::string& collection, const std::string& doc) {
    v1::ScanRequest req;
    req.set_collection(collection);
    req.set_filter(R"({"document_id": ")" + doc + R"("})");
    req.set_limit(1000);
    v1::ScanResponse resp;
    auto s = stub().Scan(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << Describe(s);
    std::vector<std::string> out;
    for (const v1::Point& p : resp.points()) out.push_back(p.payload());
    return out;
  }

  v1::AskRequest AskReq(const std::string& collection, const std::string& question, uint32_t k = 3) {
    v1::AskRequest req;
    req.set_collection(collection);
    req.set_question(question);
    req.set_k(k);
    return req;
  }

  // Runs Ask; returns its status, the streamed pieces and the final answer.
  grpc::Status RunAsk(const v1::AskRequest& req, std::vector<std::string>* pieces,
                      v1::AskAnswer* answer, const std::string& key = "") {
    auto ctx = Ctx(key);
    auto reader = stub().Ask(ctx.get(), req);
    v1::AskResponse event;
    int answers = 0;
    bool answer_last = false;
    while (reader->Read(&event)) {
      if (event.has_answer()) {
        *answer = event.answer();
        ++answers;
        answer_last = true;
      } else {
        EXPECT_EQ(answers, 0) << "a token after the answer";
        pieces->push_back(event.token());
        answer_last = false;
      }
    }
    grpc::Status s = reader->Finish();
    if (s.ok()) {
      EXPECT_EQ(answers, 1);
      EXPECT_TRUE(answer_last);
    }
    return s;
  }

  ServerFixture server_;
};

TEST_F(RagServerTest, CreateTextCollectionDescribeAndList) {
  v1::CollectionInfo info;
  CreateText("kb", &info);
  EXPECT_EQ(info.name(), "kb");
  EXPECT_EQ(info.dimension(), kHashDim);  // follows from the embedder
  EXPECT_EQ(info.metric(), v1::METRIC_COSINE);
  EXPECT_EQ(info.index(), "HNSW16");
  ASSERT_TRUE(info.has_text());
  EXPECT_EQ(info.text().embedder().kind(), "hash");
  EXPECT_EQ(info.text().embedder().dimension(), kHashDim);
  EXPECT_EQ(info.text().embedder_spec().rfind("hash:64:", 0), 0u) << info.text().embedder_spec();
  EXPECT_NE(info.properties().find("sextant.text"), std::string::npos) << info.properties();

  // The dimension may also be given, when it is the embedder's; the index may be chosen.
  v1::CreateCollectionRequest req = TextReq("kb_flat");
  req.set_dimension(kHashDim);
  req.set_metric(v1::METRIC_COSINE);
  req.mutable_index()->set_spec("Flat");
  req.mutable_text()->mutable_chunking()->set_chunk_tokens(40);
  req.mutable_text()->mutable_chunking()->set_markdown(true);
  auto s = stub().CreateCollection(Ctx().get(), req, &info);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(info.index(), "Flat");
  EXPECT_EQ(info.text().chunking().chunk_tokens(), 40u);
  EXPECT_EQ(info.text().chunking().overlap_tokens(), 19u);  // below half of chunk_tokens
  EXPECT_TRUE(info.text().chunking().markdown());
  EXPECT_EQ(info.text().chunking().tokens(), "whitespace");

  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("plain", 4), &info).ok());
  EXPECT_FALSE(info.has_text());
  EXPECT_EQ(info.properties(), "");

  v1::DescribeCollectionRequest describe;
  describe.set_name("kb");
  ASSERT_TRUE(stub().DescribeCollection(Ctx().get(), describe, &info).ok());
  ASSERT_TRUE(info.has_text());
  EXPECT_EQ(info.text().embedder().kind(), "hash");
  EXPECT_FALSE(info.text().embedder_spec().empty());

  v1::ListCollectionsResponse list;
  ASSERT_TRUE(stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  ASSERT_EQ(list.collections_size(), 3);
  EXPECT_EQ(list.collections(0).name(), "kb");
  EXPECT_TRUE(list.collections(0).has_text());
  EXPECT_EQ(list.collections(0).text().embedder_spec(), info.text().embedder_spec());
  EXPECT_EQ(list.collections(1).name(), "kb_flat");
  EXPECT_TRUE(list.collections(1).has_text());
  EXPECT_EQ(list.collections(2).name(), "plain");
  EXPECT_FALSE(list.collections(2).has_text());
}

TEST_F(RagServerTest, CreateTextCollectionRejectsBadRequests) {
  v1::CollectionInfo info;
  v1::CreateCollectionRequest req = TextReq("bad");
  req.set_dimension(32);
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"dimension: 32", "64"});
  req = TextReq("bad");
  req.set_metric(v1::METRIC_L2);
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"metric", "COSINE"});
  req = TextReq("bad");
  req.mutable_text()->mutable_embedder()->set_kind("word2vec");
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"text.embedder.kind", "word2vec"});
  req = TextReq("bad");
  req.mutable_text()->mutable_chunking()->set_tokens("wordpiece");
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"text.chunking.tokens", "local"});
  req = TextReq("bad");
  req.mutable_text()->mutable_chunking()->set_chunk_tokens(4);
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"text.chunking.chunk_tokens"});
  req = TextReq("bad");
  req.set_properties(R"({"owner": "me"})");
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::INVALID_ARGUMENT,
              {"properties"});
  // A plain collection cannot pose as a text one.
  v1::CreateCollectionRequest plain = CreateReq("fake", 4);
  plain.set_properties(R"({"sextant.text": {"embedder": {"kind": "hash"}}})");
  ExpectError(stub().CreateCollection(Ctx().get(), plain, &info), StatusCode::INVALID_ARGUMENT,
              {"sextant.text", "reserved"});
  // "openai" embedders need --allow-remote-embedders.
  req = TextReq("bad", 0);
  req.mutable_text()->mutable_embedder()->set_kind("openai");
  req.mutable_text()->mutable_embedder()->set_openai_base_url("http://127.0.0.1:1/v1");
  req.mutable_text()->mutable_embedder()->set_openai_model("m");
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::PERMISSION_DENIED,
              {"--allow-remote-embedders", "http://127.0.0.1:1/v1"});

  v1::ListCollectionsResponse list;
  ASSERT_TRUE(stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  EXPECT_EQ(list.collections_size(), 0);  // nothing was created

  // Plain collections keep their own properties.
  plain = CreateReq("plain", 4);
  plain.set_properties(R"({"owner": "me"})");
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), plain, &info).ok());
  EXPECT_NE(info.properties().find("owner"), std::string::npos);
  EXPECT_FALSE(info.has_text());
}

TEST_F(RagServerTest, IngestReportsProgressAndReingestReplacesChunks) {
  CreateText("kb");
  std::vector<v1::Document> corpus = Corpus();
  std::vector<v1::IngestProgress> progress;
  auto s = Ingest("kb", {{corpus[0], corpus[1]}, {corpus[2]}, {corpus[3]}}, &progress);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(progress.size(), 3u);
  EXPECT_EQ(progress[0].documents(), 2u);
  EXPECT_EQ(progress[1].documents(), 3u);
  EXPECT_EQ(progress[2].documents(), 4u);
  EXPECT_GE(progress[0].chunks(), 2u);
  EXPECT_GT(progress[1].chunks(), progress[0].chunks());
  EXPECT_GT(progress[2].chunks(), progress[1].chunks());
  EXPECT_EQ(progress[2].replaced_chunks(), 0u);
  EXPECT_EQ(Count("kb"), progress[2].chunks());

  // A long document in several chunks, then a new version of it with fewer chunks.
  v1::CreateCollectionRequest req = TextReq("long");
  req.mutable_text()->mutable_chunking()->set_chunk_tokens(32);
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), req, &info).ok());
  progress.clear();
  s = Ingest("long", {{Doc("manual", LongText("zebra", 40))}, {Doc("other", LongText("yak", 5))}},
             &progress);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(progress.size(), 2u);
  const uint64_t old_chunks = progress[0].chunks();
  ASSERT_GT(old_chunks, 5u);
  const uint64_t before = Count("long");
  EXPECT_EQ(before, progress[1].chunks());
  EXPECT_EQ(ChunkTexts("long", "manual").size(), old_chunks);

  progress.clear();
  s = Ingest("long", {{Doc("manual", LongText("giraffe", 8))}}, &progress);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0].documents(), 1u);
  EXPECT_EQ(progress[0].replaced_chunks(), old_chunks);
  const uint64_t new_chunks = progress[0].chunks();
  EXPECT_LT(new_chunks, old_chunks);
  EXPECT_EQ(Count("long"), before - old_chunks + new_chunks);
  for (const std::string& payload : ChunkTexts("long", "manual")) {
    EXPECT_EQ(payload.find("zebra"), std::string::npos) << payload;
    EXPECT_NE(payload.find("giraffe"), std::string::npos) << payload;
  }
  // The old text is no longer retrievable: asking about it finds only the new version and the
  // other document.
  v1::AskAnswer answer;
  std::vector<std::string> pieces;
  s = RunAsk(AskReq("long", "zebra things in detail", 20), &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_FALSE(answer.citations().empty());
  for (const v1::Citation& c : answer.citations()) {
    EXPECT_EQ(c.text().find("zebra"), std::string::npos) << c.text();
  }

  // An empty text deletes the document's chunks.
  progress.clear();
  s = Ingest("long", {{Doc("manual", "")}}, &progress);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(progress[0].replaced_chunks(), new_chunks);
  EXPECT_TRUE(ChunkTexts("long", "manual").empty());
}

TEST_F(RagServerTest, DeleteDocuments) {
  CreateText("kb");
  std::vector<v1::IngestProgress> progress;
  ASSERT_TRUE(Ingest("kb", {Corpus()}, &progress).ok());
  const uint64_t total = Count("kb");
  const size_t otter_chunks = ChunkTexts("kb", "otters").size();
  ASSERT_GT(otter_chunks, 0u);

  v1::DeleteDocumentsRequest req;
  req.set_collection("kb");
  req.add_document_ids("otters");
  req.add_document_ids("no-such-document");
  v1::DeleteDocumentsResponse resp;
  auto s = stub().DeleteDocuments(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.deleted_chunks(), otter_chunks);
  EXPECT_EQ(Count("kb"), total - otter_chunks);
  EXPECT_TRUE(ChunkTexts("kb", "otters").empty());
  v1::AskAnswer answer;
  std::vector<std::string> pieces;
  ASSERT_TRUE(RunAsk(AskReq("kb", "sea otters crack shellfish with rocks", 10), &pieces, &answer).ok());
  for (const v1::Citation& c : answer.citations()) EXPECT_NE(c.document_id(), "otters");

  // Deleting again finds nothing.
  s = stub().DeleteDocuments(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.deleted_chunks(), 0u);

  req.clear_document_ids();
  ExpectError(stub().DeleteDocuments(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"document_ids: empty"});
  req.add_document_ids("");
  ExpectError(stub().DeleteDocuments(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT,
              {"document_ids[0]"});
}

TEST_F(RagServerTest, EmbedReturnsUnitVectorsOfTheCollectionsDimension) {
  CreateText("kb");
  v1::EmbedRequest req;
  req.set_collection("kb");
  req.add_texts("sea otters");
  req.add_texts("volcanic ash and lava");
  req.add_texts("sea otters");
  v1::EmbedResponse resp;
  auto s = stub().Embed(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.dimension(), kHashDim);
  EXPECT_EQ(resp.embedder_spec().rfind("hash:64:", 0), 0u);
  ASSERT_EQ(resp.vectors_size(), static_cast<int>(3 * kHashDim));
  for (int t = 0; t < 3; ++t) {
    double norm = 0;
    for (uint32_t j = 0; j < kHashDim; ++j) {
      const double x = resp.vectors(static_cast<int>(t * kHashDim + j));
      norm += x * x;
    }
    EXPECT_NEAR(norm, 1.0, 1e-5) << "text " << t;
  }
  // The same text, the same vector; different texts, different vectors.
  bool same = true, different = false;
  for (uint32_t j = 0; j < kHashDim; ++j) {
    same &= resp.vectors(static_cast<int>(j)) == resp.vectors(static_cast<int>(2 * kHashDim + j));
    different |= resp.vectors(static_cast<int>(j)) != resp.vectors(static_cast<int>(kHashDim + j));
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(different);

  req.clear_texts();
  ExpectError(stub().Embed(Ctx().get(), req, &resp), StatusCode::INVALID_ARGUMENT, {"texts: empty"});
}

TEST_F(RagServerTest, AskAnswersWithCitationsAndStreamsTheSameAnswer) {
  CreateText("kb");
  ASSERT_TRUE(Ingest("kb", {Corpus()}).ok());

  v1::AskRequest req = AskReq("kb", "How often does Halley's comet return?");
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  auto s = RunAsk(req, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_TRUE(pieces.empty());  // not streamed
  EXPECT_NE(answer.answer().find("seventy six years"), std::string::npos) << answer.answer();
  EXPECT_EQ(answer.generator(), "extractive");
  EXPECT_EQ(answer.embedder_spec().rfind("hash:64:", 0), 0u);
  ASSERT_FALSE(answer.citations().empty());
  EXPECT_LE(answer.citations_size(), 3);
  EXPECT_EQ(answer.citations(0).number(), 1u);
  EXPECT_EQ(answer.citations(0).document_id(), "comets");
  bool any_cited = false;
  for (const v1::Citation& c : answer.citations()) {
    EXPECT_FALSE(c.document_id().empty());
    EXPECT_FALSE(c.text().empty());
    EXPECT_LT(c.begin(), c.end());
    any_cited |= c.cited();
  }
  EXPECT_TRUE(any_cited);
  EXPECT_GT(answer.timings().total_ms(), 0);
  EXPECT_GT(answer.timings().embed_ms(), 0);
  EXPECT_GT(answer.timings().retrieve_ms(), 0);
  EXPECT_GE(answer.timings().total_ms(), answer.timings().embed_ms());

  // Streamed: the pieces put together are the final answer.
  req.set_stream(true);
  std::vector<std::string> streamed;
  v1::AskAnswer streamed_answer;
  s = RunAsk(req, &streamed, &streamed_answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_GE(streamed.size(), 2u);
  std::string joined;
  for (const std::string& p : streamed) joined += p;
  EXPECT_EQ(joined, streamed_answer.answer());
  EXPECT_EQ(streamed_answer.answer(), answer.answer());
  ASSERT_EQ(streamed_answer.citations_size(), answer.citations_size());
  EXPECT_EQ(streamed_answer.citations(0).document_id(), "comets");

  // generator "extractive" explicitly, and k limits the citations.
  req = AskReq("kb", "sourdough starter flour", 1);
  req.set_generator("extractive");
  s = RunAsk(req, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(answer.citations_size(), 1);
  EXPECT_EQ(answer.citations(0).document_id(), "bread");
}

TEST_F(RagServerTest, AskFiltersOnDocumentMetadata) {
  CreateText("kb");
  ASSERT_TRUE(Ingest("kb", {Corpus()}).ok());
  // A question about comets, restricted to the geology documents.
  v1::AskRequest req = AskReq("kb", "Halley's comet tail near the sun", 5);
  req.set_filter(R"({"metadata.topic": "geology"})");
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  auto s = RunAsk(req, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_FALSE(answer.citations().empty());
  for (const v1::Citation& c : answer.citations()) EXPECT_EQ(c.document_id(), "volcanoes");

  req.set_filter(R"({"metadata.year": {"$gte": 2010}})");
  s = RunAsk(req, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  std::set<std::string> docs;
  for (const v1::Citation& c : answer.citations()) docs.insert(c.document_id());
  EXPECT_EQ(docs, (std::set<std::string>{"bread", "comets"}));

  req.set_filter(R"({"metadata.year": {"$gte": )");
  ExpectError(RunAsk(req, &pieces, &answer), StatusCode::INVALID_ARGUMENT, {});
}

TEST_F(RagServerTest, RetrieveReturnsScoredChunksByModeGroupAndThreshold) {
  v1::CollectionInfo info;
  CreateText("kb", &info);
  EXPECT_TRUE(info.text().text_indexed());
  EXPECT_EQ(info.text().text_language(), "english");
  ASSERT_TRUE(Ingest("kb", {Corpus(), {Doc("long", LongText("basalt", 80))}}).ok());

  v1::RetrieveRequest req;
  req.set_collection("kb");
  req.set_query("Halley comet tail");
  req.set_k(3);
  v1::RetrieveResponse resp;
  auto s = stub().Retrieve(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(resp.retrieval(), "hybrid");
  EXPECT_EQ(resp.embedder_spec().rfind("hash:64:", 0), 0u);
  ASSERT_EQ(resp.chunks_size(), 3);
  EXPECT_EQ(resp.chunks(0).document_id(), "comets");
  EXPECT_EQ(resp.chunks(0).number(), 1u);
  EXPECT_TRUE(resp.chunks(0).has_dense_score());
  EXPECT_TRUE(resp.chunks(0).has_text_score());
  EXPECT_GT(resp.chunks(0).text_score(), 0);
  EXPECT_FALSE(resp.chunks(0).cited());
  EXPECT_GE(resp.timings().total_ms(), resp.timings().embed_ms());

  // text: BM25 alone, only chunks holding a query word; dense: cosine scores.
  req.set_retrieval("text");
  req.set_query("sourdough");
  ASSERT_TRUE(stub().Retrieve(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.retrieval(), "text");
  ASSERT_EQ(resp.chunks_size(), 1);
  EXPECT_EQ(resp.chunks(0).document_id(), "bread");
  EXPECT_FALSE(resp.chunks(0).has_dense_score());
  EXPECT_FLOAT_EQ(resp.chunks(0).text_score(), resp.chunks(0).score());
  req.set_retrieval("dense");
  ASSERT_TRUE(stub().Retrieve(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.chunks_size(), 3);
  EXPECT_FALSE(resp.chunks(0).has_text_score());

  // group_by: the long document fills the results without it, gives one chunk with it.
  req.set_retrieval("");
  req.set_query("basalt lava");
  req.set_k(4);
  ASSERT_TRUE(stub().Retrieve(Ctx().get(), req, &resp).ok());
  int long_chunks = 0;
  for (const v1::Citation& c : resp.chunks()) long_chunks += c.document_id() == "long";
  EXPECT_GT(long_chunks, 1);
  req.set_group_by("document_id");
  ASSERT_TRUE(stub().Retrieve(Ctx().get(), req, &resp).ok());
  std::set<std::string> docs;
  for (const v1::Citation& c : resp.chunks()) EXPECT_TRUE(docs.insert(c.document_id()).second) << c.document_id();

  // A threshold nothing passes: no chunks from Retrieve, "I don't know" from Ask.
  req.set_score_threshold(0.999f);
  ASSERT_TRUE(stub().Retrieve(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.chunks_size(), 0);
  v1::AskRequest ask = AskReq("kb", "What is the capital of Peru?");
  ask.set_score_threshold(0.999f);
  ask.set_retrieval("dense");
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  s = RunAsk(ask, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_NE(answer.answer().find("I don't know"), std::string::npos) << answer.answer();
  EXPECT_EQ(answer.citations_size(), 0);
  EXPECT_EQ(answer.retrieval(), "dense");

  // Error paths.
  v1::RetrieveRequest bad = req;
  bad.clear_score_threshold();
  bad.set_query(" ");
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT, {"query"});
  bad.set_query("lava");
  bad.set_retrieval("sparse");
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT,
              {"retrieval", "sparse", "hybrid, dense, text"});
  bad.set_retrieval("dense");
  bad.set_score_threshold(1.5f);
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT, {"score_threshold"});
  bad.set_retrieval("text");
  bad.set_score_threshold(-1.0f);
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT, {"score_threshold"});
  bad.clear_score_threshold();
  bad.set_k(1001);
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT, {"k"});
  bad.set_k(3);
  bad.set_group_size(1001);
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::INVALID_ARGUMENT, {"group_size"});
  bad.set_group_size(1);
  bad.set_collection("nope");
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::NOT_FOUND, {"nope"});
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("plain", 4), &info).ok());
  bad.set_collection("plain");
  ExpectError(stub().Retrieve(Ctx().get(), bad, &resp), StatusCode::FAILED_PRECONDITION,
              {"not a text collection"});
  ask.set_retrieval("bm25");
  ExpectError(RunAsk(ask, &pieces, &answer), StatusCode::INVALID_ARGUMENT, {"retrieval", "bm25"});
  ask.set_retrieval("text");
  ask.set_score_threshold(-2.0f);
  ExpectError(RunAsk(ask, &pieces, &answer), StatusCode::INVALID_ARGUMENT, {"score_threshold"});
  v1::ChatRequest chat;
  chat.set_collection("kb");
  v1::ChatMessage* m = chat.add_messages();
  m->set_role("user");
  m->set_content("lava?");
  chat.set_retrieval("vector");
  auto ctx = Ctx();
  auto reader = stub().Chat(ctx.get(), chat);
  v1::AskResponse event;
  while (reader->Read(&event)) {
  }
  ExpectError(reader->Finish(), StatusCode::INVALID_ARGUMENT, {"retrieval", "vector"});
}

TEST_F(RagServerTest, ErrorPaths) {
  CreateText("kb");
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("plain", 4), &info).ok());
  std::vector<std::string> pieces;
  v1::AskAnswer answer;

  // Unknown collection.
  ExpectError(RunAsk(AskReq("nope", "anything?"), &pieces, &answer), StatusCode::NOT_FOUND, {"nope"});
  v1::EmbedRequest embed;
  embed.set_collection("nope");
  embed.add_texts("x");
  v1::EmbedResponse embedded;
  ExpectError(stub().Embed(Ctx().get(), embed, &embedded), StatusCode::NOT_FOUND, {"nope"});
  ExpectError(Ingest("nope", {{Doc("a", "text")}}), StatusCode::NOT_FOUND, {"message 1"});
  v1::DeleteDocumentsRequest del;
  del.set_collection("nope");
  del.add_document_ids("a");
  v1::DeleteDocumentsResponse deleted;
  ExpectError(stub().DeleteDocuments(Ctx().get(), del, &deleted), StatusCode::NOT_FOUND, {"nope"});
  ExpectError(RunAsk(AskReq("", "anything?"), &pieces, &answer), StatusCode::INVALID_ARGUMENT,
              {"collection"});

  // A plain vector collection.
  ExpectError(RunAsk(AskReq("plain", "anything?"), &pieces, &answer),
              StatusCode::FAILED_PRECONDITION, {"plain", "not a text collection"});
  embed.set_collection("plain");
  ExpectError(stub().Embed(Ctx().get(), embed, &embedded), StatusCode::FAILED_PRECONDITION,
              {"not a text collection"});
  ExpectError(Ingest("plain", {{Doc("a", "text")}}), StatusCode::FAILED_PRECONDITION,
              {"not a text collection"});
  EXPECT_EQ(Count("plain"), 0u);

  // Bad questions, k and generators.
  ExpectError(RunAsk(AskReq("kb", ""), &pieces, &answer), StatusCode::INVALID_ARGUMENT, {"question"});
  ExpectError(RunAsk(AskReq("kb", "  \n"), &pieces, &answer), StatusCode::INVALID_ARGUMENT,
              {"question"});
  ExpectError(RunAsk(AskReq("kb", "why?", 101), &pieces, &answer), StatusCode::INVALID_ARGUMENT,
              {"k: 101"});
  v1::AskRequest ask = AskReq("kb", "why?");
  ask.set_generator("openai");
  ExpectError(RunAsk(ask, &pieces, &answer), StatusCode::FAILED_PRECONDITION,
              {"openai", "--llm-url"});
  ask.set_generator("gpt");
  ExpectError(RunAsk(ask, &pieces, &answer), StatusCode::INVALID_ARGUMENT, {"generator", "gpt"});

  // Bad documents: the message fails and nothing of it is written; earlier messages stay.
  std::vector<v1::IngestProgress> progress;
  ASSERT_TRUE(Ingest("kb", {{Doc("good", "a fine document about otters")}}, &progress).ok());
  const uint64_t count = Count("kb");
  ExpectError(Ingest("kb", {{Doc("a", "alpha text"), Doc("b", "beta text", "{not json")}}),
              StatusCode::INVALID_ARGUMENT, {"message 1", "metadata"});
  ExpectError(Ingest("kb", {{Doc("c", "gamma text", "[1, 2]")}}), StatusCode::INVALID_ARGUMENT,
              {"metadata"});
  ExpectError(Ingest("kb", {{Doc("", "no id")}}), StatusCode::INVALID_ARGUMENT, {"message 1"});
  ExpectError(Ingest("kb", {{Doc("d", "one"), Doc("d", "two")}}), StatusCode::INVALID_ARGUMENT,
              {"d"});
  ExpectError(Ingest("kb", {{}}), StatusCode::INVALID_ARGUMENT, {"documents: empty"});
  progress.clear();
  ExpectError(Ingest("kb", {{Doc("e", "epsilon text")}, {Doc("f", "phi text", "{bad")}}, &progress),
              StatusCode::INVALID_ARGUMENT, {"message 2", "metadata"});
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(Count("kb"), count + progress[0].chunks());
  EXPECT_TRUE(ChunkTexts("kb", "a").empty());
  EXPECT_TRUE(ChunkTexts("kb", "b").empty());
  EXPECT_TRUE(ChunkTexts("kb", "f").empty());
  EXPECT_FALSE(ChunkTexts("kb", "e").empty());

  // A stream that switches collections.
  CreateText("kb2");
  {
    auto ctx = Ctx();
    auto stream = stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest req;
    req.set_collection("kb");
    *req.add_documents() = Doc("g", "gamma");
    ASSERT_TRUE(stream->Write(req));
    v1::IngestProgress p;
    ASSERT_TRUE(stream->Read(&p));
    req.set_collection("kb2");
    stream->Write(req);
    EXPECT_FALSE(stream->Read(&p));
    ExpectError(stream->Finish(), StatusCode::INVALID_ARGUMENT, {"message 2", "kb2"});
  }
}

TEST_F(RagServerTest, CancelledIngestKeepsAcknowledgedMessagesOnly) {
  CreateText("kb");
  auto ctx = Ctx();
  auto stream = stub().IngestDocuments(ctx.get());
  v1::IngestDocumentsRequest req;
  req.set_collection("kb");
  *req.add_documents() = Corpus()[0];
  ASSERT_TRUE(stream->Write(req));
  v1::IngestProgress p;
  ASSERT_TRUE(stream->Read(&p));
  ctx->TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), StatusCode::CANCELLED);
  EXPECT_EQ(Count("kb"), p.chunks());
  EXPECT_EQ(ChunkTexts("kb", "otters").size(), p.chunks());
}

TEST_F(RagServerTest, DropForgetsTheTextCollection) {
  CreateText("kb");
  ASSERT_TRUE(Ingest("kb", {Corpus()}).ok());
  v1::DropCollectionRequest drop;
  drop.set_name("kb");
  v1::DropCollectionResponse dropped;
  ASSERT_TRUE(stub().DropCollection(Ctx().get(), drop, &dropped).ok());
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  ExpectError(RunAsk(AskReq("kb", "otters?"), &pieces, &answer), StatusCode::NOT_FOUND, {"kb"});

  // The name again, now a plain collection: text RPCs refuse it.
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), CreateReq("kb", 4), &info).ok());
  ExpectError(RunAsk(AskReq("kb", "otters?"), &pieces, &answer), StatusCode::FAILED_PRECONDITION,
              {"not a text collection"});
  // And a text collection of another dimension.
  ASSERT_TRUE(stub().DropCollection(Ctx().get(), drop, &dropped).ok());
  ASSERT_TRUE(stub().CreateCollection(Ctx().get(), TextReq("kb", 32), &info).ok());
  EXPECT_EQ(info.dimension(), 32u);
  v1::EmbedRequest embed;
  embed.set_collection("kb");
  embed.add_texts("x y z");
  v1::EmbedResponse embedded;
  ASSERT_TRUE(stub().Embed(Ctx().get(), embed, &embedded).ok());
  EXPECT_EQ(embedded.dimension(), 32u);
}

TEST_F(RagServerTest, RestartKeepsTheTextCollectionAndMatchesTheEngine) {
  CreateText("kb");
  ASSERT_TRUE(Ingest("kb", {Corpus()}).ok());
  v1::EmbedRequest embed;
  embed.set_collection("kb");
  embed.add_texts("sea otters use rocks");
  embed.add_texts("comets grow a tail");
  v1::EmbedResponse before;
  ASSERT_TRUE(stub().Embed(Ctx().get(), embed, &before).ok());
  std::vector<std::string> pieces;
  v1::AskAnswer answer_before;
  ASSERT_TRUE(RunAsk(AskReq("kb", "What do bakers feed the starter?"), &pieces, &answer_before).ok());
  const uint64_t count = Count("kb");
  ASSERT_EQ(server_.process().Stop(), 0);

  // The engine, in this process, on the same directory: the same vectors.
  {
    DatabaseOptions options;
    auto db = Database::Open(options, server_.data_dir());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    rag::EmbedderProvider embedders;
    auto text = rag::TextCollection::Open(**db, "kb", embedders);
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    const std::vector<std::string> texts = {"sea otters use rocks", "comets grow a tail"};
    auto vectors = (*text)->Embed(texts);
    ASSERT_TRUE(vectors.ok()) << vectors.status().ToString();
    ASSERT_EQ(vectors->size(), static_cast<size_t>(before.vectors_size()));
    for (size_t i = 0; i < vectors->size(); ++i) {
      EXPECT_FLOAT_EQ((*vectors)[i], before.vectors(static_cast<int>(i))) << i;
    }
    EXPECT_EQ((*text)->embedder().spec(), before.embedder_spec());
  }

  ASSERT_TRUE(server_.Start());
  EXPECT_EQ(Count("kb"), count);
  v1::DescribeCollectionRequest describe;
  describe.set_name("kb");
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().DescribeCollection(Ctx().get(), describe, &info).ok());
  ASSERT_TRUE(info.has_text());
  EXPECT_EQ(info.text().embedder_spec(), before.embedder_spec());
  v1::EmbedResponse after;
  ASSERT_TRUE(stub().Embed(Ctx().get(), embed, &after).ok());
  ASSERT_EQ(after.vectors_size(), before.vectors_size());
  for (int i = 0; i < after.vectors_size(); ++i) EXPECT_EQ(after.vectors(i), before.vectors(i));
  v1::AskAnswer answer_after;
  ASSERT_TRUE(RunAsk(AskReq("kb", "What do bakers feed the starter?"), &pieces, &answer_after).ok());
  EXPECT_EQ(answer_after.answer(), answer_before.answer());
  ASSERT_FALSE(answer_after.citations().empty());
  EXPECT_EQ(answer_after.citations(0).document_id(), "bread");
  // And it still ingests.
  ASSERT_TRUE(Ingest("kb", {{Doc("new", "A brand new document about lighthouses.")}}).ok());
  EXPECT_GT(Count("kb"), count);
}

// ---- servers started with other flags

class RagKeysTest : public RagServerTest {
 protected:
  std::vector<std::string> Flags() override { return {"--api-key", "rw", "--read-only-key", "ro"}; }
};

TEST_F(RagKeysTest, ReadOnlyKeyMayAskButNotWrite) {
  v1::CollectionInfo info;
  ASSERT_TRUE(stub().CreateCollection(Ctx("rw").get(), TextReq("kb"), &info).ok());
  ASSERT_TRUE(Ingest("kb", {Corpus()}, nullptr, "rw").ok());
  const uint64_t count = [&] {
    v1::CountRequest req;
    req.set_collection("kb");
    v1::CountResponse resp;
    EXPECT_TRUE(stub().Count(Ctx("ro").get(), req, &resp).ok());
    return resp.count();
  }();

  ExpectError(Ingest("kb", {{Doc("x", "read only writes")}}, nullptr, "ro"),
              StatusCode::PERMISSION_DENIED, {"IngestDocuments", "read-only"});
  v1::DeleteDocumentsRequest del;
  del.set_collection("kb");
  del.add_document_ids("otters");
  v1::DeleteDocumentsResponse deleted;
  ExpectError(stub().DeleteDocuments(Ctx("ro").get(), del, &deleted), StatusCode::PERMISSION_DENIED,
              {"DeleteDocuments"});
  ExpectError(stub().CreateCollection(Ctx("ro").get(), TextReq("kb2"), &info),
              StatusCode::PERMISSION_DENIED, {});
  ExpectError(Ingest("kb", {{Doc("x", "no key")}}), StatusCode::UNAUTHENTICATED, {});

  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  auto s = RunAsk(AskReq("kb", "sea otters"), &pieces, &answer, "ro");
  ASSERT_TRUE(s.ok()) << Describe(s);
  v1::EmbedRequest embed;
  embed.set_collection("kb");
  embed.add_texts("x");
  v1::EmbedResponse embedded;
  EXPECT_TRUE(stub().Embed(Ctx("ro").get(), embed, &embedded).ok());

  v1::CountRequest req;
  req.set_collection("kb");
  v1::CountResponse resp;
  ASSERT_TRUE(stub().Count(Ctx("ro").get(), req, &resp).ok());
  EXPECT_EQ(resp.count(), count);
}

class RagEmptyModelDirTest : public RagServerTest {
 protected:
  std::vector<std::string> Flags() override {
    std::filesystem::create_directories(models_.path());
    return {"--model-dir", models_.path()};
  }
  TempDir models_;
};

TEST_F(RagEmptyModelDirTest, MissingLocalModelIsNotFoundWithAFetchHint) {
  v1::CreateCollectionRequest req;
  req.set_name("local_kb");
  req.mutable_text()->mutable_embedder()->set_kind("local");
  v1::CollectionInfo info;
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::NOT_FOUND,
              {"all-MiniLM-L6-v2", "fetch-model"});
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  EXPECT_EQ(list.collections_size(), 0);
}

class RagRemoteTest : public RagServerTest {
 protected:
  // Nothing listens on port 1: the endpoints are unreachable.
  std::vector<std::string> Flags() override {
    return {"--allow-remote-embedders", "--llm-url", "http://127.0.0.1:1/v1", "--llm-model",
            "tiny", "--llm-timeout-ms", "2000"};
  }
};

TEST_F(RagRemoteTest, UnreachableEndpointsAreUnavailable) {
  // The flag lets the request through to the endpoint, which is down.
  v1::CreateCollectionRequest req;
  req.set_name("remote");
  req.mutable_text()->mutable_embedder()->set_kind("openai");
  req.mutable_text()->mutable_embedder()->set_openai_base_url("http://127.0.0.1:1/v1");
  req.mutable_text()->mutable_embedder()->set_openai_model("embedder");
  v1::CollectionInfo info;
  ExpectError(stub().CreateCollection(Ctx().get(), req, &info), StatusCode::UNAVAILABLE,
              {"127.0.0.1:1"});

  // The configured LLM is down: UNAVAILABLE with the engine's message; extractive still works.
  CreateText("kb");
  ASSERT_TRUE(Ingest("kb", {Corpus()}).ok());
  v1::AskRequest ask = AskReq("kb", "what is a raft of otters?");
  ask.set_generator("openai");
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  ExpectError(RunAsk(ask, &pieces, &answer), StatusCode::UNAVAILABLE, {"127.0.0.1:1"});
  ask.set_generator("");  // the default stays extractive
  auto s = RunAsk(ask, &pieces, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(answer.generator(), "extractive");
}

// ---- an OpenAI-compatible chat endpoint, faked: streams server-sent events

// Serves POST /v1/chat/completions on a loopback port. With `endless`, it sends a piece every
// 20 ms until the client hangs up; otherwise the pieces of `kPieces`, then [DONE]. Also serves
// POST /v1/embeddings: 8 numbers per input, counting its bytes by value modulo 8.
class FakeLlm {
 public:
  static constexpr const char* kPieces[] = {"Sea otters ", "crack shellfish ", "with rocks [1]."};

  explicit FakeLlm(bool endless) : endless_(endless) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 8);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeLlm() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int requests() const { return requests_; }
  int pieces_sent() const { return pieces_; }
  bool client_hung_up() const { return hung_up_; }
  int embedding_requests() const { return embedding_requests_; }
  std::string last_request() const {
    std::lock_guard lock(mu_);
    return last_request_;
  }

 private:
  void Serve() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      // The request: headers, then Content-Length bytes of body.
      std::string in;
      char buf[4096];
      size_t need = std::string::npos;
      while (need == std::string::npos || in.size() < need) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        const size_t end = in.find("\r\n\r\n");
        if (need == std::string::npos && end != std::string::npos) {
          size_t length = 0;
          const size_t at = in.find("Content-Length: ");
          if (at != std::string::npos && at < end) length = std::stoul(in.substr(at + 16));
          need = end + 4 + length;
        }
      }
      {
        std::lock_guard lock(mu_);
        last_request_ = in;
      }
      auto send_all = [&](const std::string& data) {
        return ::send(c, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
      };
      if (in.rfind("POST /v1/embeddings", 0) == 0) {
        ++embedding_requests_;
        const size_t body_at = in.find("\r\n\r\n");
        const auto request = nlohmann::json::parse(in.substr(body_at + 4), nullptr, false);
        nlohmann::json data = nlohmann::json::array();
        if (request.is_object() && request.contains("input")) {
          for (size_t i = 0; i < request["input"].size(); ++i) {
            std::vector<double> e(8, 1.0);
            for (unsigned char ch : request["input"][i].get<std::string>()) e[ch % 8] += 1;
            data.push_back({{"index", i}, {"embedding", e}});
          }
        }
        const std::string body = nlohmann::json{{"data", data}}.dump();
        send_all("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
        close(c);
        continue;
      }
      ++requests_;
      auto event = [](const std::string& piece) {
        return "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + piece + "\"}}]}\n\n";
      };
      send_all("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n");
      if (endless_) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!stop_ && std::chrono::steady_clock::now() < give_up) {
          if (!send_all(event("more "))) {
            hung_up_ = true;
            break;
          }
          ++pieces_;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      } else {
        for (const char* p : kPieces) {
          send_all(event(p));
          ++pieces_;
        }
        send_all("data: [DONE]\n\n");
      }
      close(c);
    }
  }

  const bool endless_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> pieces_{0};
  std::atomic<bool> hung_up_{false};
  std::atomic<int> embedding_requests_{0};
  mutable std::mutex mu_;
  std::string last_request_;
};

TEST(RagLlmTest, OpenAIGeneratorStreamsThroughTheServer) {
  FakeLlm llm(/*endless=*/false);
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--generator", "openai", "--llm-url", llm.url(), "--llm-model", "tiny"}));
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), TextReq("kb"), &info).ok());
  {
    auto ctx = Ctx();
    auto stream = server.stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest req;
    req.set_collection("kb");
    for (const v1::Document& d : Corpus()) *req.add_documents() = d;
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::IngestProgress p;
    while (stream->Read(&p)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  // generator "" is the server's default, here the LLM.
  v1::AskRequest req;
  req.set_collection("kb");
  req.set_question("How do sea otters open shellfish?");
  req.set_stream(true);
  auto ctx = Ctx();
  auto reader = server.stub().Ask(ctx.get(), req);
  v1::AskResponse event;
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  while (reader->Read(&event)) {
    if (event.has_answer()) {
      answer = event.answer();
    } else {
      pieces.push_back(event.token());
    }
  }
  auto s = reader->Finish();
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(pieces, (std::vector<std::string>{FakeLlm::kPieces[0], FakeLlm::kPieces[1],
                                              FakeLlm::kPieces[2]}));
  EXPECT_EQ(answer.answer(), "Sea otters crack shellfish with rocks [1].");
  EXPECT_EQ(answer.generator(), "openai:tiny");
  ASSERT_FALSE(answer.citations().empty());
  EXPECT_EQ(answer.citations(0).document_id(), "otters");
  EXPECT_TRUE(answer.citations(0).cited());
  EXPECT_GT(answer.timings().generate_ms(), 0);
  EXPECT_EQ(llm.requests(), 1);

  // "extractive" is still there on request.
  req.set_generator("extractive");
  req.set_stream(false);
  auto ctx2 = Ctx();
  auto reader2 = server.stub().Ask(ctx2.get(), req);
  ASSERT_TRUE(reader2->Read(&event));
  EXPECT_EQ(event.answer().generator(), "extractive");
  EXPECT_FALSE(reader2->Read(&event));
  EXPECT_TRUE(reader2->Finish().ok());
  EXPECT_EQ(llm.requests(), 1);
}

TEST(RagLlmTest, CancellingAskStopsTheGeneration) {
  FakeLlm llm(/*endless=*/true);
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--llm-url", llm.url(), "--llm-model", "tiny"}));
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), TextReq("kb"), &info).ok());
  {
    auto ctx = Ctx();
    auto stream = server.stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest req;
    req.set_collection("kb");
    for (const v1::Document& d : Corpus()) *req.add_documents() = d;
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::IngestProgress p;
    while (stream->Read(&p)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  v1::AskRequest req;
  req.set_collection("kb");
  req.set_question("Tell me everything about otters.");
  req.set_stream(true);
  req.set_generator("openai");
  auto ctx = Ctx();
  auto reader = server.stub().Ask(ctx.get(), req);
  v1::AskResponse event;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.token(), "more ");
  }
  ctx->TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
  // The server stops reading the endpoint: the fake sees the connection close long before its
  // own 60 s limit.
  for (int i = 0; i < 1500 && !llm.client_hung_up(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(llm.client_hung_up()) << llm.pieces_sent() << " pieces sent";
  // The call is logged as cancelled.
  std::string log;
  for (int i = 0; i < 500; ++i) {
    log = server.process().log();
    if (log.find("method=Ask") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(log.find("method=Ask collection=kb code=CANCELLED"), std::string::npos) << log;
}

TEST(RagLlmTest, OpenAIEmbedderNeedsAllowRemoteEmbeddersAlsoAfterARestart) {
  FakeLlm endpoint(/*endless=*/false);
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--allow-remote-embedders", "--openai-api-key", "sk-test"}));
  v1::CreateCollectionRequest create;
  create.set_name("remote");
  v1::EmbedderConfig* e = create.mutable_text()->mutable_embedder();
  e->set_kind("openai");
  e->set_openai_base_url(endpoint.url());
  e->set_openai_model("emb");
  v1::CollectionInfo info;
  auto s = server.stub().CreateCollection(Ctx().get(), create, &info);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(info.dimension(), 8u);  // learned from the endpoint
  EXPECT_EQ(info.text().embedder().dimension(), 8u);
  EXPECT_EQ(info.text().embedder().openai_base_url(), endpoint.url());
  EXPECT_EQ(info.text().embedder_spec(), "openai:emb@" + endpoint.url());
  EXPECT_GE(endpoint.embedding_requests(), 1);
  // The server's key, not one from the client.
  EXPECT_NE(endpoint.last_request().find("Bearer sk-test"), std::string::npos) << endpoint.last_request();
  {
    auto ctx = Ctx();
    auto stream = server.stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest req;
    req.set_collection("remote");
    for (const v1::Document& d : Corpus()) *req.add_documents() = d;
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::IngestProgress p;
    while (stream->Read(&p)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  v1::AskRequest ask;
  ask.set_collection("remote");
  ask.set_question("otters");
  {
    auto ctx = Ctx();
    auto reader = server.stub().Ask(ctx.get(), ask);
    v1::AskResponse event;
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_FALSE(event.answer().citations().empty());
    EXPECT_EQ(event.answer().embedder_spec(), "openai:emb@" + endpoint.url());
    while (reader->Read(&event)) {
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  ASSERT_EQ(server.process().Stop(), 0);

  // Without the flag the collection is still listed and counted, but not embedded with.
  ASSERT_TRUE(server.Start());
  v1::DescribeCollectionRequest describe;
  describe.set_name("remote");
  ASSERT_TRUE(server.stub().DescribeCollection(Ctx().get(), describe, &info).ok());
  EXPECT_EQ(info.text().embedder().kind(), "openai");
  EXPECT_GT(info.count(), 0u);
  const int before = endpoint.embedding_requests();
  auto ctx = Ctx();
  auto reader = server.stub().Ask(ctx.get(), ask);
  v1::AskResponse event;
  EXPECT_FALSE(reader->Read(&event));
  ExpectError(reader->Finish(), StatusCode::PERMISSION_DENIED, {"--allow-remote-embedders", endpoint.url()});
  v1::EmbedRequest embed;
  embed.set_collection("remote");
  embed.add_texts("x");
  v1::EmbedResponse embedded;
  ExpectError(server.stub().Embed(Ctx().get(), embed, &embedded), StatusCode::PERMISSION_DENIED,
              {"--allow-remote-embedders"});
  EXPECT_EQ(endpoint.embedding_requests(), before);
}

TEST(RagObservabilityTest, TextRpcsAreCountedAndLogged) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--metrics", "127.0.0.1:0", "--log-level", "debug"}));
  const std::string metrics_addr = LogValue(server.process().log(), "metrics_listening", "listen");
  ASSERT_FALSE(metrics_addr.empty()) << server.process().log();
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), TextReq("kb"), &info).ok());
  {
    auto ctx = Ctx();
    auto stream = server.stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest req;
    req.set_collection("kb");
    for (const v1::Document& d : Corpus()) *req.add_documents() = d;
    ASSERT_TRUE(stream->Write(req));
    stream->WritesDone();
    v1::IngestProgress p;
    while (stream->Read(&p)) {
    }
    ASSERT_TRUE(stream->Finish().ok());
  }
  v1::AskRequest ask;
  ask.set_collection("kb");
  ask.set_question("volcano ash");
  auto ctx = Ctx();
  auto reader = server.stub().Ask(ctx.get(), ask);
  v1::AskResponse event;
  while (reader->Read(&event)) {
  }
  ASSERT_TRUE(reader->Finish().ok());
  v1::EmbedRequest embed;
  embed.set_collection("nope");
  embed.add_texts("x");
  v1::EmbedResponse embedded;
  ASSERT_EQ(server.stub().Embed(Ctx().get(), embed, &embedded).error_code(), StatusCode::NOT_FOUND);

  const std::string metrics = HttpGet(metrics_addr, "/metrics");
  for (const char* line : {R"(sextant_requests_total{method="IngestDocuments",code="OK"} 1)",
                           R"(sextant_requests_total{method="Ask",code="OK"} 1)",
                           R"(sextant_requests_total{method="Embed",code="NOT_FOUND"} 1)",
                           R"(sextant_request_errors_total{method="Embed",code="NOT_FOUND"} 1)"}) {
    EXPECT_NE(metrics.find(line), std::string::npos) << line << "\n" << metrics;
  }
  const std::string log = server.process().log();
  EXPECT_NE(log.find("method=IngestDocuments collection=kb code=OK"), std::string::npos) << log;
  EXPECT_NE(log.find("documents=4"), std::string::npos) << log;
  EXPECT_NE(log.find("method=Ask collection=kb code=OK"), std::string::npos) << log;
  EXPECT_NE(log.find("generator=extractive"), std::string::npos) << log;
  EXPECT_NE(log.find("method=CreateCollection collection=kb code=OK"), std::string::npos) << log;
}

// ---- the local MiniLM model, when installed

std::string LocalModelRoot() {
  if (const char* env = std::getenv("SEXTANT_MODEL_DIR"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.cache/sextant/models" : std::string();
}

class RagLocalModelTest : public RagServerTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(LocalModelRoot() + "/all-MiniLM-L6-v2/model.safetensors")) {
      GTEST_SKIP() << "all-MiniLM-L6-v2 is not installed under " << LocalModelRoot()
                   << " (bash scripts/fetch-model.sh installs it)";
    }
    RagServerTest::SetUp();
  }
  std::vector<std::string> Flags() override { return {"--model-dir", LocalModelRoot()}; }
};

TEST_F(RagLocalModelTest, LocalEmbedderAnswersFromTheRightDocument) {
  v1::CreateCollectionRequest req;
  req.set_name("local_kb");
  req.mutable_text()->mutable_embedder()->set_kind("local");
  v1::CollectionInfo info;
  auto s = stub().CreateCollection(Ctx().get(), req, &info);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(info.dimension(), 384u);
  EXPECT_EQ(info.text().embedder().local_model(), "all-MiniLM-L6-v2");
  EXPECT_EQ(info.text().embedder_spec(), "local:all-MiniLM-L6-v2");
  ASSERT_TRUE(Ingest("local_kb", {Corpus()}).ok());
  // Few words shared with the answer's document: the model has to know what they mean.
  std::vector<std::string> pieces;
  v1::AskAnswer answer;
  s = RunAsk(AskReq("local_kb", "Which marine mammal uses stones to open its food?"), &pieces,
             &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_FALSE(answer.citations().empty());
  EXPECT_EQ(answer.citations(0).document_id(), "otters");
  EXPECT_EQ(answer.embedder_spec(), "local:all-MiniLM-L6-v2");
}

}  // namespace
}  // namespace sextant::testing
