// Fuzz target: every request type of the wire API, through the proto -> engine conversions and
// the service's validation, into a real database (sextantd's SextantService; the database lives
// in /dev/shm). Unary methods are called on the service directly; the streaming ones go through
// an in-process gRPC channel.
//
// Input: a method byte, then the serialized request message of that method. The streaming RPCs
// (UpsertStream, IngestDocuments, Ask) send the message and read every reply. Fixed collections
// exist for requests to name: "vec" (4-d, L2, HNSW, payload index on "k"), "ivf" (3-d, cosine,
// IVF-SQ8) and "txt" (a text collection, hash embedder, 32-d); anything else the input creates is
// dropped after the call, and every 1,000 calls the fixed collections start afresh, so the state
// stays small.
// Checked beyond "no crash, no sanitizer report": no call ends INTERNAL, UNKNOWN or DATA_LOSS
// (bad input is a client error with a message); a Search never returns more than k hits.
//
// The service runs with small limits (32 dimensions, 64 points per batch) so that memory stays
// bounded; the server's limits and memory budget have tests of their own.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "fuzz_util.h"
#include "sextant/database.h"
#include "sextant/v1/sextant.grpc.pb.h"
#include "server/log.h"
#include "server/service.h"

namespace v1 = sextant::v1;
using sextant::fuzz::Check;

namespace {

struct Harness {
  std::string dir;
  std::unique_ptr<sextant::Database> db;
  std::unique_ptr<sextant::server::SextantService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::Sextant::Stub> stub;
  uint64_t calls = 0;

  Harness() {
    namespace fs = std::filesystem;
    const std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    dir = base + "/sextant_service_fuzz_" + std::to_string(getpid());
    fs::remove_all(dir);
    fs::create_directories(dir + "/models");
    sextant::server::SetLogLevel(sextant::server::LogLevel::kError);
    sextant::DatabaseOptions options;
    auto opened = sextant::Database::Open(options, dir + "/db");
    Check(opened.ok(), "open database", opened.status().ToString());
    db = std::move(opened).value();
    sextant::server::ServiceOptions so;
    so.max_dimension = 32;
    so.max_batch_points = 64;
    so.max_message_bytes = 1 << 20;
    so.embedders.model_root = dir + "/models";  // empty: "local" embedders are NotFound
    so.embedders.openai_api_key.clear();
    so.allow_remote_embedders = false;
    service = std::make_unique<sextant::server::SextantService>(db.get(), so);
    grpc::ServerBuilder builder;
    builder.RegisterService(service.get());
    builder.SetMaxReceiveMessageSize(1 << 20);
    server = builder.BuildAndStart();
    Check(server != nullptr, "start the in-process server");
    grpc::ChannelArguments args;
    stub = v1::Sextant::NewStub(server->InProcessChannel(args));
    Reset();
  }

  ~Harness() {
    server->Shutdown();
    server.reset();
    service.reset();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Drops collections through the service (which forgets its cached text collections).
  void DropAll(bool keep_fixed) {
    grpc::ServerContext ctx;
    v1::ListCollectionsRequest list_req;
    v1::ListCollectionsResponse list;
    grpc::Status s = service->ListCollections(&ctx, &list_req, &list);
    Check(s.ok(), "list collections", s.error_message());
    for (const v1::CollectionInfo& c : list.collections()) {
      if (keep_fixed && (c.name() == "vec" || c.name() == "ivf" || c.name() == "txt")) continue;
      grpc::ServerContext drop_ctx;
      v1::DropCollectionRequest req;
      req.set_name(c.name());
      v1::DropCollectionResponse resp;
      s = service->DropCollection(&drop_ctx, &req, &resp);
      Check(s.ok(), "drop a collection", s.error_message());
    }
  }

  // Drops every collection and creates the fixed ones.
  void Reset() {
    DropAll(/*keep_fixed=*/false);
    auto create = [&](const std::string& text) {
      v1::CreateCollectionRequest req;
      Check(google::protobuf::TextFormat::ParseFromString(text, &req), "bad fixed request", text);
      grpc::ServerContext ctx;
      v1::CollectionInfo info;
      grpc::Status s = service->CreateCollection(&ctx, &req, &info);
      Check(s.ok(), "create a fixed collection", s.error_message());
    };
    create(R"(name: "vec" dimension: 4 metric: METRIC_L2 index { spec: "HNSW8" }
              payload_indexes { field: "k" type: PAYLOAD_FIELD_TYPE_KEYWORD })");
    create(R"(name: "ivf" dimension: 3 metric: METRIC_COSINE index { spec: "IVF2,SQ8" })");
    create(R"(name: "txt" text { embedder { kind: "hash" dimension: 32 } chunking { chunk_tokens: 16 } })");
  }

  // Drops what the last call created, and recreates a fixed collection it dropped.
  void Tidy() {
    DropAll(/*keep_fixed=*/true);
    for (const char* name : {"vec", "ivf", "txt"}) {
      grpc::ServerContext ctx;
      v1::DescribeCollectionRequest req;
      req.set_name(name);
      v1::CollectionInfo info;
      if (service->DescribeCollection(&ctx, &req, &info).error_code() == grpc::StatusCode::NOT_FOUND) {
        Reset();
        return;
      }
    }
  }
};

void CheckStatus(const grpc::Status& s, const char* method) {
  const auto code = s.error_code();
  Check(code != grpc::StatusCode::INTERNAL && code != grpc::StatusCode::UNKNOWN &&
            code != grpc::StatusCode::DATA_LOSS,
        method, std::to_string(code) + " " + s.error_message());
  if (!s.ok()) Check(!s.error_message().empty(), "an error without a message", method);
}

// Seeds: one or more valid requests of every method, in text format (scripts/fuzz.sh --seeds).
struct Seed {
  uint8_t method;
  const char* type;  // the request message's name
  const char* text;
};
const Seed kSeeds[] = {
    {0, "ServerInfoRequest", ""},
    {1, "CreateCollectionRequest", R"(name: "new1" dimension: 8 metric: METRIC_INNER_PRODUCT index { spec: "HNSW4,SQ8" })"},
    {1, "CreateCollectionRequest", R"(name: "new2" dimension: 2 metric: METRIC_L2 index { spec: "IVF4,PQ1" nprobe: 2 }
        payload_indexes { field: "n" type: PAYLOAD_FIELD_TYPE_INTEGER } properties: "{\"owner\": \"me\"}")"},
    {1, "CreateCollectionRequest", R"(name: "t2" text { embedder { kind: "hash" } chunking { chunk_tokens: 8 markdown: true } })"},
    {2, "DescribeCollectionRequest", R"(name: "vec")"},
    {3, "ListCollectionsRequest", ""},
    {4, "DropCollectionRequest", R"(name: "ivf")"},
    {5, "SetIndexRequest", R"(collection: "vec" index { spec: "IVF2" })"},
    {5, "SetIndexRequest", R"(collection: "ivf" rebuild: true)"},
    {6, "WaitForIndexRequest", R"(collection: "vec" timeout_ms: 100)"},
    {7, "UpsertRequest", R"(collection: "vec" points { id { num: 1 } vector: [1, 2, 3, 4] payload: "{\"k\": \"a\", \"n\": 3}" }
        points { id { str: "two" } vector: [0, 0, 0, 1] })"},
    {7, "UpsertRequest", R"(collection: "ivf" points { id { num: 7 } vector: [1, 0, 0] } points { id { num: 8 } vector: [0, 1, 0] }
        points { id { num: 9 } vector: [0, 0, 1] } sync: true)"},
    {8, "UpsertRequest", R"(collection: "vec" points { id { num: 5 } vector: [0.5, 0.5, 0, 0] payload: "{\"k\": \"b\"}" })"},
    {9, "GetRequest", R"(collection: "vec" id { num: 1 })"},
    {10, "DeleteRequest", R"(collection: "vec" ids { ids { num: 1 } ids { str: "two" } })"},
    {10, "DeleteRequest", R"(collection: "vec" filter: "{\"k\": {\"$in\": [\"a\", \"b\"]}}")"},
    {11, "CountRequest", R"(collection: "ivf")"},
    {12, "ScanRequest", R"(collection: "vec" limit: 2 filter: "{\"k\": \"a\"}" with_vector: true)"},
    {13, "SearchRequest", R"(collection: "vec" vector: [1, 2, 3, 4] params { k: 3 filter: "{\"n\": {\"$gte\": 1}}" with_payload: true ef_search: 16 })"},
    {13, "SearchRequest", R"(collection: "ivf" vector: [1, 1, 0] params { k: 2 nprobe: 1 exact: true with_vector: true })"},
    {14, "SearchBatchRequest", R"(collection: "vec" vectors: [1, 2, 3, 4, 4, 3, 2, 1] params { k: 2 })"},
    {15, "IngestDocumentsRequest", R"(collection: "txt" documents { id: "d1" text: "# Title\n\nSome text. More text here.\n\n- a list" metadata: "{\"lang\": \"en\"}" }
        documents { id: "d2" text: "Another document about vectors and search." })"},
    {16, "DeleteDocumentsRequest", R"(collection: "txt" document_ids: ["d1", "nope"])"},
    {17, "EmbedRequest", R"(collection: "txt" texts: ["hello world", ""])"},
    {18, "AskRequest", R"(collection: "txt" question: "what about vectors?" k: 3 stream: true)"},
    {18, "AskRequest", R"(collection: "txt" question: "title?" filter: "{\"metadata.lang\": \"en\"}" max_prompt_tokens: 50
        system_template: "ctx {context}" user_template: "q {question}")"},
};

void WriteSeeds(const char* dir) {
  int i = 0;
  for (const Seed& seed : kSeeds) {
    const google::protobuf::Descriptor* d =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(std::string("sextant.v1.") + seed.type);
    Check(d != nullptr, "unknown message", seed.type);
    std::unique_ptr<google::protobuf::Message> m(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
    Check(google::protobuf::TextFormat::ParseFromString(seed.text, m.get()), "bad seed", seed.text);
    std::string bytes(1, static_cast<char>(seed.method));
    bytes += m->SerializeAsString();
    std::FILE* f = std::fopen((std::string(dir) + "/seed-" + std::to_string(i++)).c_str(), "wb");
    Check(f != nullptr, "cannot write a seed", dir);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

// A unary method, called directly on the service with a fresh server context (no transport, so
// no thread hand-offs per call: the fuzzer runs many times faster).
template <typename Req, typename Resp, typename Fn>
void Unary(const std::string& bytes, const char* method, Fn call) {
  Req req;
  if (!req.ParseFromString(bytes)) return;
  grpc::ServerContext ctx;
  Resp resp;
  CheckStatus(call(&ctx, &req, &resp), method);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SEXTANT_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();  // lives for the process (libFuzzer exits without unwinding)
  static struct Cleanup { ~Cleanup() { delete h; } } cleanup;
  sextant::fuzz::Input in(data, size);
  const uint8_t method = in.Byte();
  const std::string bytes(in.Rest());
  v1::Sextant::Stub& stub = *h->stub;  // the streaming methods go through the in-process channel
  sextant::server::SextantService& svc = *h->service;

  switch (method % 19) {
    case 0: Unary<v1::ServerInfoRequest, v1::ServerInfoResponse>(bytes, "ServerInfo", [&](auto* c, auto* r, auto* o) { return svc.ServerInfo(c, r, o); }); break;
    case 1: Unary<v1::CreateCollectionRequest, v1::CollectionInfo>(bytes, "CreateCollection", [&](auto* c, auto* r, auto* o) { return svc.CreateCollection(c, r, o); }); break;
    case 2: Unary<v1::DescribeCollectionRequest, v1::CollectionInfo>(bytes, "DescribeCollection", [&](auto* c, auto* r, auto* o) { return svc.DescribeCollection(c, r, o); }); break;
    case 3: Unary<v1::ListCollectionsRequest, v1::ListCollectionsResponse>(bytes, "ListCollections", [&](auto* c, auto* r, auto* o) { return svc.ListCollections(c, r, o); }); break;
    case 4: Unary<v1::DropCollectionRequest, v1::DropCollectionResponse>(bytes, "DropCollection", [&](auto* c, auto* r, auto* o) { return svc.DropCollection(c, r, o); }); break;
    case 5: Unary<v1::SetIndexRequest, v1::CollectionInfo>(bytes, "SetIndex", [&](auto* c, auto* r, auto* o) { return svc.SetIndex(c, r, o); }); break;
    case 6: {
      v1::WaitForIndexRequest req;
      if (!req.ParseFromString(bytes)) break;
      if (req.timeout_ms() == 0 || req.timeout_ms() > 200) req.set_timeout_ms(200);  // 0 would wait 60 s
      grpc::ServerContext ctx;
      v1::CollectionInfo resp;
      grpc::Status s = svc.WaitForIndex(&ctx, &req, &resp);
      if (s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) CheckStatus(s, "WaitForIndex");
      break;
    }
    case 7: Unary<v1::UpsertRequest, v1::UpsertResponse>(bytes, "Upsert", [&](auto* c, auto* r, auto* o) { return svc.Upsert(c, r, o); }); break;
    case 8: {
      v1::UpsertRequest req;
      if (!req.ParseFromString(bytes)) break;
      grpc::ClientContext ctx;
      auto stream = stub.UpsertStream(&ctx);
      stream->Write(req);
      stream->Write(req);  // the same batch again: a replace
      stream->WritesDone();
      v1::UpsertProgress progress;
      while (stream->Read(&progress)) {}
      CheckStatus(stream->Finish(), "UpsertStream");
      break;
    }
    case 9: Unary<v1::GetRequest, v1::Point>(bytes, "Get", [&](auto* c, auto* r, auto* o) { return svc.Get(c, r, o); }); break;
    case 10: Unary<v1::DeleteRequest, v1::DeleteResponse>(bytes, "Delete", [&](auto* c, auto* r, auto* o) { return svc.Delete(c, r, o); }); break;
    case 11: Unary<v1::CountRequest, v1::CountResponse>(bytes, "Count", [&](auto* c, auto* r, auto* o) { return svc.Count(c, r, o); }); break;
    case 12: Unary<v1::ScanRequest, v1::ScanResponse>(bytes, "Scan", [&](auto* c, auto* r, auto* o) { return svc.Scan(c, r, o); }); break;
    case 13: {
      v1::SearchRequest req;
      if (!req.ParseFromString(bytes)) break;
      grpc::ServerContext ctx;
      v1::SearchResponse resp;
      grpc::Status s = svc.Search(&ctx, &req, &resp);
      CheckStatus(s, "Search");
      const uint32_t k = req.params().k() == 0 ? 10 : req.params().k();
      if (s.ok()) Check(static_cast<uint32_t>(resp.hits_size()) <= k, "Search returned more than k hits");
      break;
    }
    case 14: Unary<v1::SearchBatchRequest, v1::SearchBatchResponse>(bytes, "SearchBatch", [&](auto* c, auto* r, auto* o) { return svc.SearchBatch(c, r, o); }); break;
    case 15: {
      v1::IngestDocumentsRequest req;
      if (!req.ParseFromString(bytes)) break;
      grpc::ClientContext ctx;
      auto stream = stub.IngestDocuments(&ctx);
      stream->Write(req);
      stream->WritesDone();
      v1::IngestProgress progress;
      while (stream->Read(&progress)) {}
      CheckStatus(stream->Finish(), "IngestDocuments");
      break;
    }
    case 16: Unary<v1::DeleteDocumentsRequest, v1::DeleteDocumentsResponse>(bytes, "DeleteDocuments", [&](auto* c, auto* r, auto* o) { return svc.DeleteDocuments(c, r, o); }); break;
    case 17: Unary<v1::EmbedRequest, v1::EmbedResponse>(bytes, "Embed", [&](auto* c, auto* r, auto* o) { return svc.Embed(c, r, o); }); break;
    case 18: {
      v1::AskRequest req;
      if (!req.ParseFromString(bytes)) break;
      if (req.generator() != "" && req.generator() != "extractive") break;  // no LLM in the fuzzer
      grpc::ClientContext ctx;
      auto reader = stub.Ask(&ctx, req);
      v1::AskResponse resp;
      while (reader->Read(&resp)) {}
      CheckStatus(reader->Finish(), "Ask");
      break;
    }
  }
  const int m = method % 19;
  if (m == 1 || m == 4) h->Tidy();  // after a create or a drop
  if (++h->calls % 1000 == 0) h->Reset();
  return 0;
}
