// Fuzz target: every request type of the wire API, through the proto -> engine conversions and
// the service's validation, into a real database (sextantd's SextantService on an in-process
// gRPC channel; the database lives in /dev/shm).
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
    grpc::ClientContext ctx;
    v1::ListCollectionsResponse list;
    grpc::Status s = stub->ListCollections(&ctx, v1::ListCollectionsRequest(), &list);
    Check(s.ok(), "list collections", s.error_message());
    for (const v1::CollectionInfo& c : list.collections()) {
      if (keep_fixed && (c.name() == "vec" || c.name() == "ivf" || c.name() == "txt")) continue;
      grpc::ClientContext drop_ctx;
      v1::DropCollectionRequest req;
      req.set_name(c.name());
      v1::DropCollectionResponse resp;
      s = stub->DropCollection(&drop_ctx, req, &resp);
      Check(s.ok(), "drop a collection", s.error_message());
    }
  }

  // Drops every collection and creates the fixed ones.
  void Reset() {
    DropAll(/*keep_fixed=*/false);
    auto create = [&](const std::string& text) {
      v1::CreateCollectionRequest req;
      Check(google::protobuf::TextFormat::ParseFromString(text, &req), "bad fixed request", text);
      grpc::ClientContext ctx;
      v1::CollectionInfo info;
      grpc::Status s = stub->CreateCollection(&ctx, req, &info);
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
      grpc::ClientContext ctx;
      v1::DescribeCollectionRequest req;
      req.set_name(name);
      v1::CollectionInfo info;
      if (stub->DescribeCollection(&ctx, req, &info).error_code() == grpc::StatusCode::NOT_FOUND) {
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

template <typename Req, typename Resp, typename Fn>
void Unary(const std::string& bytes, const char* method, Fn call) {
  Req req;
  if (!req.ParseFromString(bytes)) return;
  grpc::ClientContext ctx;
  Resp resp;
  CheckStatus(call(&ctx, req, &resp), method);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* h = new Harness();  // lives for the process (libFuzzer exits without unwinding)
  static struct Cleanup { ~Cleanup() { delete h; } } cleanup;
  sextant::fuzz::Input in(data, size);
  const uint8_t method = in.Byte();
  const std::string bytes(in.Rest());
  v1::Sextant::Stub& stub = *h->stub;

  switch (method % 19) {
    case 0: Unary<v1::ServerInfoRequest, v1::ServerInfoResponse>(bytes, "ServerInfo", [&](auto* c, auto& r, auto* o) { return stub.ServerInfo(c, r, o); }); break;
    case 1: Unary<v1::CreateCollectionRequest, v1::CollectionInfo>(bytes, "CreateCollection", [&](auto* c, auto& r, auto* o) { return stub.CreateCollection(c, r, o); }); break;
    case 2: Unary<v1::DescribeCollectionRequest, v1::CollectionInfo>(bytes, "DescribeCollection", [&](auto* c, auto& r, auto* o) { return stub.DescribeCollection(c, r, o); }); break;
    case 3: Unary<v1::ListCollectionsRequest, v1::ListCollectionsResponse>(bytes, "ListCollections", [&](auto* c, auto& r, auto* o) { return stub.ListCollections(c, r, o); }); break;
    case 4: Unary<v1::DropCollectionRequest, v1::DropCollectionResponse>(bytes, "DropCollection", [&](auto* c, auto& r, auto* o) { return stub.DropCollection(c, r, o); }); break;
    case 5: Unary<v1::SetIndexRequest, v1::CollectionInfo>(bytes, "SetIndex", [&](auto* c, auto& r, auto* o) { return stub.SetIndex(c, r, o); }); break;
    case 6: {
      v1::WaitForIndexRequest req;
      if (!req.ParseFromString(bytes)) break;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
      v1::CollectionInfo resp;
      grpc::Status s = stub.WaitForIndex(&ctx, req, &resp);
      if (s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) CheckStatus(s, "WaitForIndex");
      break;
    }
    case 7: Unary<v1::UpsertRequest, v1::UpsertResponse>(bytes, "Upsert", [&](auto* c, auto& r, auto* o) { return stub.Upsert(c, r, o); }); break;
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
    case 9: Unary<v1::GetRequest, v1::Point>(bytes, "Get", [&](auto* c, auto& r, auto* o) { return stub.Get(c, r, o); }); break;
    case 10: Unary<v1::DeleteRequest, v1::DeleteResponse>(bytes, "Delete", [&](auto* c, auto& r, auto* o) { return stub.Delete(c, r, o); }); break;
    case 11: Unary<v1::CountRequest, v1::CountResponse>(bytes, "Count", [&](auto* c, auto& r, auto* o) { return stub.Count(c, r, o); }); break;
    case 12: Unary<v1::ScanRequest, v1::ScanResponse>(bytes, "Scan", [&](auto* c, auto& r, auto* o) { return stub.Scan(c, r, o); }); break;
    case 13: {
      v1::SearchRequest req;
      if (!req.ParseFromString(bytes)) break;
      grpc::ClientContext ctx;
      v1::SearchResponse resp;
      grpc::Status s = stub.Search(&ctx, req, &resp);
      CheckStatus(s, "Search");
      const uint32_t k = req.params().k() == 0 ? 10 : req.params().k();
      if (s.ok()) Check(static_cast<uint32_t>(resp.hits_size()) <= k, "Search returned more than k hits");
      break;
    }
    case 14: Unary<v1::SearchBatchRequest, v1::SearchBatchResponse>(bytes, "SearchBatch", [&](auto* c, auto& r, auto* o) { return stub.SearchBatch(c, r, o); }); break;
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
    case 16: Unary<v1::DeleteDocumentsRequest, v1::DeleteDocumentsResponse>(bytes, "DeleteDocuments", [&](auto* c, auto& r, auto* o) { return stub.DeleteDocuments(c, r, o); }); break;
    case 17: Unary<v1::EmbedRequest, v1::EmbedResponse>(bytes, "Embed", [&](auto* c, auto& r, auto* o) { return stub.Embed(c, r, o); }); break;
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
  h->Tidy();
  if (++h->calls % 1000 == 0) h->Reset();
  return 0;
}
