// SextantService: the call wrapper's pieces, server info, and the collection RPCs. Points and
// search are in service_points.cc, text collections (RAG) in service_rag.cc.
#include "server/service.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <random>
#include <thread>
#include <utility>

#include "server/service_internal.h"

namespace sextant::server {
namespace service_internal {

std::string_view CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

// The value of metadata `key` sent by the client, or "".
std::string_view Metadata(const grpc::ServerContext* ctx, std::string_view key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return {};
  return std::string_view(it->second.data(), it->second.size());
}

// The client's x-request-id when it is sane (1..128 printable characters), else (or when `ctx`
// is null) a fresh one.
std::string RequestId(const grpc::ServerContext* ctx) {
  const std::string_view sent = ctx ? Metadata(ctx, "x-request-id") : std::string_view();
  if (!sent.empty() && sent.size() <= 128 &&
      std::all_of(sent.begin(), sent.end(), [](char c) { return c > ' ' && c <= '~'; })) {
    return std::string(sent);
  }
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   std::hash<std::thread::id>()(std::this_thread::get_id()));
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string DimensionMismatch(std::string_view field, size_t got, const Collection& c) {
  return std::string(field) + ": " + std::to_string(got) + " floats, collection \"" + c.name() +
         "\" has dimension " + std::to_string(c.dimension());
}

grpc::Status TooManyPoints(std::string_view field, size_t n, uint32_t limit,
                           std::string_view what) {
  return Error(grpc::StatusCode::RESOURCE_EXHAUSTED,
               std::string(field) + ": " + std::to_string(n) + " " + std::string(what) +
                   " exceed the server's max-batch-points limit of " + std::to_string(limit));
}

// CollectionInfo, with `text` for a text collection.
void ToProto(const CollectionInfo& info, v1::CollectionInfo* out) {
  convert::ToProto(info, out);
  auto text = rag::TextCollection::ConfigOf(info);
  if (text.ok() && text->has_value()) {
    convert::ToProto(**text, convert::RecordedEmbedderSpec(info.properties), out->mutable_text());
  }
}

grpc::Status Describe(Collection& c, v1::CollectionInfo* out) {
  auto info = c.Describe();
  if (!info.ok()) return ToGrpc(info.status());
  ToProto(*info, out);
  return grpc::Status::OK;
}

}  // namespace service_internal

namespace {

// WaitForIndex polls the engine in slices this long, checking for cancellation between them.
constexpr uint64_t kWaitSliceMs = 100;
// WaitForIndex without a timeout or a deadline waits this long.
constexpr uint64_t kDefaultWaitMs = 60000;

}  // namespace

using service_internal::Clock;
using service_internal::Describe;
using service_internal::DimensionMismatch;
using service_internal::Error;
using service_internal::ToGrpc;
using service_internal::ToProto;
using service_internal::TooManyPoints;

SextantService::SextantService(Database* db, ServiceOptions options)
    : db_(db),
      options_(std::move(options)),
      keys_(options_.keys),
      embedders_(options_.embedders),
      extractive_(rag::MakeExtractiveGenerator()) {
  auto store = rag::ConversationStore::Open(*db_, options_.conversation_limits);
  if (store.ok()) {
    conversations_ = std::move(store).value();
  } else {
    conversations_error_ = store.status();
  }
}

Status CheckNotReserved(std::string_view name, std::string_view field) {
  if (!IsReservedName(name)) return Status::OK();
  return Status::PermissionDenied(std::string(field) + ": \"" + std::string(name) +
                                  "\": names starting with \"sextant.\" are reserved for Sextant's own data "
                                  "(server-side conversations: use ListConversations, GetConversation and "
                                  "DeleteConversation)");
}

StatusOr<std::vector<CollectionInfo>> SextantService::CollectionInfos() const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, db_->ListCollections());
  std::erase_if(all, [](const CollectionInfo& info) { return IsReservedName(info.name); });
  return all;
}

void SextantService::BeginShutdown() {
  internal::MutexLock lock(mu_);
  shutting_down_ = true;
}

std::shared_ptr<SextantService::HttpRequest> SextantService::TrackHttpRequest() {
  internal::MutexLock lock(mu_);
  if (shutting_down_) return nullptr;
  ++running_;
  return std::make_shared<HttpRequest>(this);
}

SextantService::HttpRequest::~HttpRequest() {
  internal::MutexLock lock(service_->mu_);
  if (--service_->running_ == 0) service_->idle_.notify_all();
}

bool SextantService::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  internal::MutexLock lock(mu_);
  return idle_.wait_until(mu_, deadline, [this]() SEXTANT_REQUIRES(mu_) { return running_ == 0; });
}

StatusOr<std::shared_ptr<Collection>> SextantService::Open(std::string_view name,
                                                           std::string_view field) {
  if (name.empty()) {
    return Status::InvalidArgument(std::string(field) + ": empty (name the collection)");
  }
  return db_->GetCollection(name);
}

// ---------------------------------------------------------------- server

grpc::Status SextantService::ServerInfo(grpc::ServerContext* ctx, const v1::ServerInfoRequest*,
                                        v1::ServerInfoResponse* resp) {
  return Run(ctx, "ServerInfo", false, "", [&](Call& call) {
    resp->set_version(std::string(Version()));
    resp->set_build(options_.build);
    resp->set_simd_level(std::string(SimdLevelName()));
    resp->set_read_only(call.access == Access::kReadOnly);
    resp->set_max_message_bytes(options_.max_message_bytes);
    resp->set_max_batch_points(options_.max_batch_points);
    resp->set_max_dimension(options_.max_dimension);
    resp->set_max_k(options_.max_k);
    resp->set_max_ef_search(options_.max_ef_search);
    resp->set_max_nprobe(options_.max_nprobe);
    const MemoryUsage memory = db_->Memory();
    resp->set_memory_limit_bytes(memory.limit_bytes);
    resp->set_memory_used_bytes(memory.used_bytes);
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- collections

grpc::Status SextantService::CreateCollection(grpc::ServerContext* ctx,
                                              const v1::CreateCollectionRequest* req,
                                              v1::CollectionInfo* resp) {
  return Run(ctx, "CreateCollection", true, req->name(), [&](Call& call) {
    if (req->has_text()) {
      call.extra.emplace_back("text", "true");
      return CreateTextCollection(*req, resp);
    }
    if (req->dimension() > options_.max_dimension) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "dimension: " + std::to_string(req->dimension()) +
                       " exceeds the server's max-dimension limit of " +
                       std::to_string(options_.max_dimension));
    }
    auto options = convert::FromProto(*req);
    if (!options.ok()) return ToGrpc(options.status());
    if (!options->properties.empty()) {
      // A plain collection must not pass for a text one (whose recorded embedder the server
      // would then trust).
      CollectionInfo probe;
      probe.properties = options->properties;
      auto text = rag::TextCollection::ConfigOf(probe);
      if (!text.ok() || text->has_value()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "properties: the key \"sextant.text\" is reserved for text collections "
                     "(create one with CreateCollectionRequest.text)");
      }
    }
    StatusOr<std::shared_ptr<Collection>> created = Status::Internal("not created");
    if (options_.create_sharded) {
      created = options_.create_sharded(req->name(), *options, req->shards(), req->replication());
    } else if (req->shards() > 1 || req->replication() > 1) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "shards and replication above 1 need cluster mode (sextantd --cluster; docs/cluster.md)");
    } else {
      created = db_->CreateCollection(req->name(), *options);
    }
    if (!created.ok()) return ToGrpc(created.status());
    return Describe(**created, resp);
  });
}

grpc::Status SextantService::DescribeCollection(grpc::ServerContext* ctx,
                                                const v1::DescribeCollectionRequest* req,
                                                v1::CollectionInfo* resp) {
  return Run(ctx, "DescribeCollection", false, req->name(), [&](Call&) {
    auto c = Open(req->name(), "name");
    if (!c.ok()) return ToGrpc(c.status());
    return Describe(**c, resp);
  });
}

grpc::Status SextantService::ListCollections(grpc::ServerContext* ctx,
                                             const v1::ListCollectionsRequest*,
                                             v1::ListCollectionsResponse* resp) {
  return Run(ctx, "ListCollections", false, "", [&](Call&) {
    auto list = db_->ListCollections();
    if (!list.ok()) return ToGrpc(list.status());
    for (const CollectionInfo& info : *list) {
      if (!IsReservedName(info.name)) ToProto(info, resp->add_collections());  // Sextant's own are hidden
    }
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DropCollection(grpc::ServerContext* ctx,
                                            const v1::DropCollectionRequest* req,
                                            v1::DropCollectionResponse*) {
  return Run(ctx, "DropCollection", true, req->name(), [&](Call&) {
    if (req->name().empty()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "name: empty (name the collection)");
    }
    const Status dropped = db_->DropCollection(req->name());
    ForgetText(req->name());
    return ToGrpc(dropped);
  });
}

grpc::Status SextantService::SetIndex(grpc::ServerContext* ctx, const v1::SetIndexRequest* req,
                                      v1::CollectionInfo* resp) {
  return Run(ctx, "SetIndex", true, req->collection(), [&](Call& call) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    if (req->rebuild()) {
      call.extra.emplace_back("rebuild", "true");
      if (Status s = (*c)->RebuildIndex(); !s.ok()) return ToGrpc(s);
    } else {
      auto options = convert::FromProto(req->index(), "index");
      if (!options.ok()) return ToGrpc(options.status());
      call.extra.emplace_back("index", options->ToString());
      if (Status s = (*c)->SetIndex(*options); !s.ok()) return ToGrpc(s);
    }
    return Describe(**c, resp);
  });
}

grpc::Status SextantService::WaitForIndex(grpc::ServerContext* ctx,
                                          const v1::WaitForIndexRequest* req,
                                          v1::CollectionInfo* resp) {
  return Run(ctx, "WaitForIndex", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    // Wait for timeout_ms, or else until the call's deadline, or else kDefaultWaitMs; never past
    // the deadline.
    uint64_t wait_ms = req->timeout_ms();
    const auto deadline = ctx->deadline();
    const auto now_sys = std::chrono::system_clock::now();
    const bool has_deadline = deadline < now_sys + std::chrono::hours(24 * 365);
    if (has_deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now_sys);
      const uint64_t left_ms = left.count() > 0 ? static_cast<uint64_t>(left.count()) : 0;
      wait_ms = wait_ms == 0 ? left_ms : std::min(wait_ms, left_ms);
    } else if (wait_ms == 0) {
      wait_ms = kDefaultWaitMs;
    }
    const auto end = Clock::now() + std::chrono::milliseconds(wait_ms);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
      const uint64_t slice =
          std::min<uint64_t>(kWaitSliceMs, left.count() > 0 ? static_cast<uint64_t>(left.count()) : 0);
      Status s = (*c)->WaitForIndex(slice);
      if (s.ok()) break;
      if (s.code() != StatusCode::kUnavailable) return ToGrpc(s);
      if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
      if (Clock::now() >= end) {
        return Error(grpc::StatusCode::DEADLINE_EXCEEDED,
                     "the index of collection \"" + req->collection() +
                         "\" is still building after " + std::to_string(wait_ms) + " ms");
      }
    }
    return Describe(**c, resp);
  });
}

}  // namespace sextant::server
