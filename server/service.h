// The sextant.v1.Sextant service: every RPC translated to the embedded engine (sextant::Database),
// with the server's own concerns added in one place (SextantService::Run): request ids, API-key
// checks, limits, logging and the per-call metrics hook.
#ifndef SEXTANT_SERVER_SERVICE_H_
#define SEXTANT_SERVER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/database.h"
#include "sextant/rag.h"
#include "sextant/v1/sextant.grpc.pb.h"
#include "server/auth.h"
#include "server/config.h"
#include "sync/mutex.h"

namespace sextant::server {

struct ServiceOptions {
  uint64_t max_message_bytes = 64u << 20;  // reported by ServerInfo; gRPC enforces it
  uint32_t max_batch_points = 10000;
  uint32_t max_dimension = 65536;
  uint32_t max_k = 10000;          // SearchParams.k above it is INVALID_ARGUMENT
  uint32_t max_ef_search = 10000;  // SearchParams.ef_search above it is INVALID_ARGUMENT
  uint32_t max_nprobe = 65536;     // SearchParams.nprobe above it is INVALID_ARGUMENT
  uint32_t slow_call_ms = 1000;
  std::vector<ApiKey> keys;  // empty: no authentication
  std::string build;         // ServerInfo.build
  std::string snapshot_dir;  // where snapshots live; empty: the snapshot RPCs fail (FAILED_PRECONDITION)
  // Called once per finished call with the method name ("Search"), the gRPC code and the
  // duration in seconds. May be empty.
  std::function<void(std::string_view method, int code, double seconds)> observe;

  // Cluster mode: creates a collection with shards and replication (null on a single node,
  // where CreateCollectionRequest.shards/replication above 1 are INVALID_ARGUMENT).
  std::function<StatusOr<std::shared_ptr<Collection>>(std::string_view name, const CollectionOptions& options,
                                                      uint32_t shards, uint32_t replication)>
      create_sharded;

  // Text collections (RAG).
  rag::EmbedderEnvironment embedders = rag::EmbedderEnvironment::FromProcess();
  bool allow_remote_embedders = false;  // clients may create "openai" text collections
  std::string default_generator = "extractive";  // AskRequest.generator ""
  std::shared_ptr<rag::Generator> llm;           // "openai"; null when none is configured
  rag::GenerationLimits generation_limits;       // what a request's generation settings may ask
  rag::ConversationLimits conversation_limits;   // server-side conversations (ChatRequest.conversation_id)
};

// Collections (and aliases) whose names start with "sextant." hold Sextant's own data (server-side
// conversations: rag::ConversationStore::kConversationCollection). The service hides them from
// ListCollections and refuses clients' writes, drops and creates of such names.
inline constexpr std::string_view kReservedNamePrefix = "sextant.";
inline bool IsReservedName(std::string_view name) {
  return name.substr(0, kReservedNamePrefix.size()) == kReservedNamePrefix;
}
// PermissionDenied for a reserved name (`field` names the request field), else OK.
Status CheckNotReserved(std::string_view name, std::string_view field);

// Most chunks one Ask may retrieve (AskRequest.k).
inline constexpr uint32_t kMaxAskK = 100;

// Thread-safe; the synchronous gRPC server calls it from its thread pool. Must outlive the
// grpc::Server that serves it. Does not own the database.
class SextantService final : public v1::Sextant::Service {
 public:
  SextantService(Database* db, ServiceOptions options);

  // The first step of a clean shutdown: from now on new calls fail at once with UNAVAILABLE
  // ("the server is shutting down") while the calls already running go on.
  void BeginShutdown();
  // Waits until no call is running or `deadline` passes; true when idle. HTTP requests
  // (TrackHttpRequest) count as calls.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

  // A request of an HTTP front end (the OpenAI endpoint, MCP) in flight: counted like a gRPC call
  // while it lives, so that a clean shutdown drains it. Hold it until the answer is written (a
  // streamed answer: in its content provider).
  class HttpRequest {
   public:
    explicit HttpRequest(SextantService* service) : service_(service) {}
    ~HttpRequest();
    HttpRequest(const HttpRequest&) = delete;
    HttpRequest& operator=(const HttpRequest&) = delete;

   private:
    SextantService* const service_;
  };
  // Null once BeginShutdown ran (answer 503 "the server is shutting down").
  std::shared_ptr<HttpRequest> TrackHttpRequest();
  // The end of the shutdown grace: HTTP answers still being generated stop at their next token
  // (a stream is cut without its [DONE], a plain answer becomes a 503).
  void CancelHttpRequests() { http_cancelled_.store(true); }
  bool http_cancelled() const { return http_cancelled_.load(); }

  grpc::Status ServerInfo(grpc::ServerContext* ctx, const v1::ServerInfoRequest* req,
                          v1::ServerInfoResponse* resp) override;
  grpc::Status CreateCollection(grpc::ServerContext* ctx, const v1::CreateCollectionRequest* req,
                                v1::CollectionInfo* resp) override;
  grpc::Status DescribeCollection(grpc::ServerContext* ctx,
                                  const v1::DescribeCollectionRequest* req,
                                  v1::CollectionInfo* resp) override;
  grpc::Status ListCollections(grpc::ServerContext* ctx, const v1::ListCollectionsRequest* req,
                               v1::ListCollectionsResponse* resp) override;
  grpc::Status DropCollection(grpc::ServerContext* ctx, const v1::DropCollectionRequest* req,
                              v1::DropCollectionResponse* resp) override;
  grpc::Status SetIndex(grpc::ServerContext* ctx, const v1::SetIndexRequest* req,
                        v1::CollectionInfo* resp) override;
  grpc::Status WaitForIndex(grpc::ServerContext* ctx, const v1::WaitForIndexRequest* req,
                            v1::CollectionInfo* resp) override;
  grpc::Status Upsert(grpc::ServerContext* ctx, const v1::UpsertRequest* req,
                      v1::UpsertResponse* resp) override;
  grpc::Status UpsertStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::UpsertProgress, v1::UpsertRequest>* stream) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetRequest* req, v1::Point* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                      v1::DeleteResponse* resp) override;
  grpc::Status Count(grpc::ServerContext* ctx, const v1::CountRequest* req,
                     v1::CountResponse* resp) override;
  grpc::Status Scan(grpc::ServerContext* ctx, const v1::ScanRequest* req,
                    v1::ScanResponse* resp) override;
  grpc::Status Search(grpc::ServerContext* ctx, const v1::SearchRequest* req,
                      v1::SearchResponse* resp) override;
  grpc::Status SearchBatch(grpc::ServerContext* ctx, const v1::SearchBatchRequest* req,
                           v1::SearchBatchResponse* resp) override;
  grpc::Status IngestDocuments(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::IngestProgress, v1::IngestDocumentsRequest>* stream) override;
  grpc::Status DeleteDocuments(grpc::ServerContext* ctx, const v1::DeleteDocumentsRequest* req,
                               v1::DeleteDocumentsResponse* resp) override;
  grpc::Status Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                     v1::EmbedResponse* resp) override;
  grpc::Status Ask(grpc::ServerContext* ctx, const v1::AskRequest* req,
                   grpc::ServerWriter<v1::AskResponse>* writer) override;
  grpc::Status Chat(grpc::ServerContext* ctx, const v1::ChatRequest* req,
                    grpc::ServerWriter<v1::AskResponse>* writer) override;
  grpc::Status Retrieve(grpc::ServerContext* ctx, const v1::RetrieveRequest* req,
                        v1::RetrieveResponse* resp) override;
  // service_data.cc
  grpc::Status GetMany(grpc::ServerContext* ctx, const v1::GetManyRequest* req,
                       v1::GetManyResponse* resp) override;
  grpc::Status SetPayload(grpc::ServerContext* ctx, const v1::SetPayloadRequest* req,
                          v1::UpdateResponse* resp) override;
  grpc::Status DeletePayloadKeys(grpc::ServerContext* ctx, const v1::DeletePayloadKeysRequest* req,
                                 v1::UpdateResponse* resp) override;
  grpc::Status UpdateVectors(grpc::ServerContext* ctx, const v1::UpdateVectorsRequest* req,
                             v1::UpdateResponse* resp) override;
  grpc::Status CreateAlias(grpc::ServerContext* ctx, const v1::CreateAliasRequest* req,
                           v1::UpdateAliasesResponse* resp) override;
  grpc::Status DeleteAlias(grpc::ServerContext* ctx, const v1::DeleteAliasRequest* req,
                           v1::UpdateAliasesResponse* resp) override;
  grpc::Status ListAliases(grpc::ServerContext* ctx, const v1::ListAliasesRequest* req,
                           v1::ListAliasesResponse* resp) override;
  grpc::Status UpdateAliases(grpc::ServerContext* ctx, const v1::UpdateAliasesRequest* req,
                             v1::UpdateAliasesResponse* resp) override;

  // For sextantd's HTTP front ends (server/openai_http.h): the same keys, text collections,
  // generators and limits the RPCs use.
  Access CheckKey(std::string_view authorization) const { return keys_.Check(authorization); }
  StatusOr<std::shared_ptr<rag::TextCollection>> OpenTextCollection(std::string_view name) {
    return OpenText(name, "model");
  }
  StatusOr<rag::Generator*> FindGenerator(const std::string& name) const { return ChooseGenerator(name); }
  const rag::GenerationLimits& generation_limits() const { return options_.generation_limits; }
  // Every collection but the reserved ones (for the MCP endpoint's list_collections).
  StatusOr<std::vector<CollectionInfo>> CollectionInfos() const;
  // The names of the text collections.
  StatusOr<std::vector<std::string>> TextCollectionNames() const;
  // The conversation store (ChatRequest.conversation_id), or why there is none (bad limits, a
  // reserved name taken).
  StatusOr<rag::ConversationStore*> Conversations() const;
  grpc::Status CreateSnapshot(grpc::ServerContext* ctx, const v1::CreateSnapshotRequest* req,
                              v1::SnapshotInfo* resp) override;
  grpc::Status ListSnapshots(grpc::ServerContext* ctx, const v1::ListSnapshotsRequest* req,
                             v1::ListSnapshotsResponse* resp) override;
  grpc::Status DeleteSnapshot(grpc::ServerContext* ctx, const v1::DeleteSnapshotRequest* req,
                              v1::DeleteSnapshotResponse* resp) override;
  grpc::Status RestoreSnapshot(grpc::ServerContext* ctx, const v1::RestoreSnapshotRequest* req,
                               v1::CollectionInfo* resp) override;
  grpc::Status DownloadSnapshot(grpc::ServerContext* ctx, const v1::DownloadSnapshotRequest* req,
                                grpc::ServerWriter<v1::SnapshotChunk>* writer) override;
  grpc::Status UploadSnapshot(grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadSnapshotRequest>* reader,
                              v1::SnapshotInfo* resp) override;
  grpc::Status ListConversations(grpc::ServerContext* ctx, const v1::ListConversationsRequest* req,
                                 v1::ListConversationsResponse* resp) override;
  grpc::Status GetConversation(grpc::ServerContext* ctx, const v1::GetConversationRequest* req,
                               v1::Conversation* resp) override;
  grpc::Status DeleteConversation(grpc::ServerContext* ctx, const v1::DeleteConversationRequest* req,
                                  v1::DeleteConversationResponse* resp) override;

  // What a handler knows about its call, and what it adds to the call's log line.
  struct Call {
    grpc::ServerContext* ctx;
    Access access;
    std::string request_id;
    std::string collection;                                 // for the log line
    std::vector<std::pair<std::string, std::string>> extra;  // more log fields
  };

 private:
  template <typename Fn>
  grpc::Status Run(grpc::ServerContext* ctx, std::string_view method, bool write,
                   std::string_view collection, Fn&& fn);

  // The collection named in a request (field `field`), or its error.
  StatusOr<std::shared_ptr<Collection>> Open(std::string_view name, std::string_view field);

  // The text collection named in a request (field `field`): opened once and cached. NotFound,
  // FailedPrecondition for a plain vector collection, PermissionDenied for an "openai" one
  // without allow_remote_embedders, or the embedder's error (a missing local model is NotFound).
  StatusOr<std::shared_ptr<rag::TextCollection>> OpenText(std::string_view name,
                                                          std::string_view field);
  // Forgets the cached text collection `name` (after a drop).
  void ForgetText(std::string_view name);
  // CreateCollection with CreateCollectionRequest.text set.
  grpc::Status CreateTextCollection(const v1::CreateCollectionRequest& req, v1::CollectionInfo* resp);
  // PermissionDenied unless remote embedders are allowed, for an "openai" embedder.
  Status CheckEmbedderAllowed(const rag::EmbedderConfig& config, std::string_view what) const;

  // SearchParams checked against the server's bounds (k, ef_search, nprobe) and converted, with
  // the engine's result bound set to what fits in `response_bytes`.
  StatusOr<SearchOptions> SearchOptionsFor(const v1::SearchParams& params, size_t response_bytes) const;
  // The generator a request names ("" = the server's default), or INVALID_ARGUMENT /
  // FAILED_PRECONDITION.
  StatusOr<rag::Generator*> ChooseGenerator(const std::string& requested) const;
  // Runs a chat (Ask in tool mode, and Chat) and writes its tokens and answer to `writer`.
  // With a conversation_id, `messages` are the new ones of a stored conversation.
  grpc::Status RunChat(Call& call, const std::string& collection, const std::vector<rag::ChatMessage>& messages,
                       const rag::ChatOptions& options, const std::string& generator, bool stream,
                       grpc::ServerWriter<v1::AskResponse>* writer, const std::string& conversation_id = {});
  // The ids of a request's list (field `field`), at most max_batch_points of them.
  grpc::Status IdsFromProto(const google::protobuf::RepeatedPtrField<v1::PointId>& list, std::string_view field,
                            std::vector<PointId>* out) const;
  // A SetPayload/DeletePayloadKeys selector (ids or a filter).
  template <typename Req>
  grpc::Status SelectorFromProto(const Req& req, PointSelector* out) const;
  // The snapshot directory, or FAILED_PRECONDITION when the server has none.
  StatusOr<std::string> SnapshotDir() const;
  // The path of snapshot `name` (validated) in the snapshot directory.
  StatusOr<std::string> SnapshotPath(std::string_view name, std::string_view field) const;

  // Validates one upsert batch against `collection` and the limits, and commits it.
  grpc::Status WriteBatch(const v1::UpsertRequest& req, Collection& collection);

  internal::Mutex mu_;
  std::condition_variable_any idle_;
  int running_ SEXTANT_GUARDED_BY(mu_) = 0;  // calls inside Run
  bool shutting_down_ SEXTANT_GUARDED_BY(mu_) = false;
  std::atomic<bool> http_cancelled_{false};

  Database* const db_;
  const ServiceOptions options_;
  const KeyStore keys_;

  // Shares loaded embedding models between text collections.
  rag::EmbedderProvider embedders_;
  std::shared_ptr<rag::Generator> extractive_;
  // Opened text collections by name. Entries are checked against the database's collection
  // object on every use (a dropped and re-created name gets a new one).
  internal::Mutex text_mu_;
  std::map<std::string, std::shared_ptr<rag::TextCollection>, std::less<>> texts_ SEXTANT_GUARDED_BY(text_mu_);
  // Server-side conversations (set once in the constructor; null with conversations_error_).
  std::unique_ptr<rag::ConversationStore> conversations_;
  Status conversations_error_;
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_SERVICE_H_
