// The sextant.v1.Sextant service: every RPC translated to the embedded engine (sextant::Database),
// with the server's own concerns added in one place (SextantService::Run): request ids, API-key
// checks, limits, logging and the per-call metrics hook.
#ifndef SEXTANT_SERVER_SERVICE_H_
#define SEXTANT_SERVER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/database.h"
#include "sextant/v1/sextant.grpc.pb.h"
#include "server/auth.h"
#include "server/config.h"

namespace sextant::server {

struct ServiceOptions {
  uint64_t max_message_bytes = 64u << 20;  // reported by ServerInfo; gRPC enforces it
  uint32_t max_batch_points = 10000;
  uint32_t max_dimension = 65536;
  uint32_t slow_call_ms = 1000;
  std::vector<ApiKey> keys;  // empty: no authentication
  std::string build;         // ServerInfo.build
  // Called once per finished call with the method name ("Search"), the gRPC code and the
  // duration in seconds. May be empty.
  std::function<void(std::string_view method, int code, double seconds)> observe;
};

// Thread-safe; the synchronous gRPC server calls it from its thread pool. Must outlive the
// grpc::Server that serves it. Does not own the database.
class SextantService final : public v1::Sextant::Service {
 public:
  SextantService(Database* db, ServiceOptions options);

  // The first step of a clean shutdown: from now on new calls fail at once with UNAVAILABLE
  // ("the server is shutting down") while the calls already running go on.
  void BeginShutdown();
  // Waits until no call is running or `deadline` passes; true when idle.
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

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

  // Validates one upsert batch against `collection` and the limits, and commits it.
  grpc::Status WriteBatch(const v1::UpsertRequest& req, Collection& collection);

  std::mutex mu_;
  std::condition_variable idle_;
  int running_ = 0;             // calls inside Run; guarded by mu_
  bool shutting_down_ = false;  // guarded by mu_

  Database* const db_;
  const ServiceOptions options_;
  const KeyStore keys_;
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_SERVICE_H_
