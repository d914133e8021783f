#include "server/service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <span>
#include <thread>
#include <utility>

#include "convert.h"
#include "server/log.h"

namespace sextant::server {
namespace {

using Clock = std::chrono::steady_clock;

// Queries searched per engine call in SearchBatch; cancellation is checked between chunks.
constexpr size_t kSearchChunk = 256;
// WaitForIndex polls the engine in slices this long, checking for cancellation between them.
constexpr uint64_t kWaitSliceMs = 100;
// WaitForIndex without a timeout or a deadline waits this long.
constexpr uint64_t kDefaultWaitMs = 60000;

grpc::Status Error(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

grpc::Status ToGrpc(const Status& s) { return convert::ToGrpc(s); }

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

// The client's x-request-id when it is sane (1..128 printable characters), else a fresh one.
std::string RequestId(const grpc::ServerContext* ctx) {
  std::string_view sent = Metadata(ctx, "x-request-id");
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

}  // namespace

SextantService::SextantService(Database* db, ServiceOptions options)
    : db_(db),
      options_(std::move(options)),
      keys_(options_.keys),
      embedders_(options_.embedders),
      extractive_(rag::MakeExtractiveGenerator()) {}

void SextantService::BeginShutdown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
}

bool SextantService::WaitIdle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_.wait_until(lock, deadline, [this] { return running_ == 0; });
}

template <typename Fn>
grpc::Status SextantService::Run(grpc::ServerContext* ctx, std::string_view method, bool write,
                                 std::string_view collection, Fn&& fn) {
  const auto start = Clock::now();
  Call call{ctx, Access::kDenied, RequestId(ctx), std::string(collection), {}};
  ctx->AddInitialMetadata("x-request-id", call.request_id);
  call.access = keys_.Check(Metadata(ctx, "authorization"));

  bool refused = false;
  {
    std::lock_guard lock(mu_);
    refused = shutting_down_;
    if (!refused) ++running_;
  }
  grpc::Status status;
  if (refused) {
    status = Error(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  } else if (call.access == Access::kDenied) {
    status = Error(grpc::StatusCode::UNAUTHENTICATED,
                   Metadata(ctx, "authorization").empty()
                       ? "this server needs an API key: send metadata \"authorization: Bearer KEY\""
                       : "the API key is not valid (expected \"authorization: Bearer KEY\")");
  } else if (write && call.access == Access::kReadOnly) {
    status = Error(grpc::StatusCode::PERMISSION_DENIED,
                   std::string(method) + " writes, and this API key is read-only");
  } else {
    status = fn(call);
  }
  if (!refused) {
    std::lock_guard lock(mu_);
    if (--running_ == 0) idle_.notify_all();
  }

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options_.observe) options_.observe(method, static_cast<int>(status.error_code()), seconds);
  const bool slow = seconds * 1000 >= options_.slow_call_ms;
  const LogLevel level = !status.ok() || slow ? LogLevel::kInfo : LogLevel::kDebug;
  if (LogEnabled(level)) {
    char duration[32];
    std::snprintf(duration, sizeof(duration), "%.3f", seconds * 1000);
    std::vector<LogField> fields = {{"rid", call.request_id},
                                    {"method", method},
                                    {"collection", call.collection},
                                    {"code", CodeName(status.error_code())},
                                    {"duration_ms", duration}};
    if (call.collection.empty()) fields.erase(fields.begin() + 2);
    for (const auto& [k, v] : call.extra) fields.emplace_back(k, v);
    if (slow) fields.emplace_back("slow", "true");
    // grpc::Status::error_message() returns a copy: keep it alive while the fields view it.
    const std::string error = status.error_message();
    if (!status.ok()) fields.emplace_back("error", error);
    Log(level, "call", fields);
  }
  return status;
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
    auto created = db_->CreateCollection(req->name(), *options);
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
    for (const CollectionInfo& info : *list) ToProto(info, resp->add_collections());
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

// ---------------------------------------------------------------- points

grpc::Status SextantService::WriteBatch(const v1::UpsertRequest& req, Collection& collection) {
  const size_t n = static_cast<size_t>(req.points_size());
  if (n == 0) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "points: empty (send 1.." + std::to_string(options_.max_batch_points) +
                     " points)");
  }
  if (n > options_.max_batch_points) {
    return TooManyPoints("points", n, options_.max_batch_points, "points");
  }
  const size_t dim = collection.dimension();
  std::vector<PointId> ids;
  ids.reserve(n);
  std::vector<float> vectors(n * dim);
  std::vector<std::string> payloads;
  bool any_payload = false;
  for (size_t i = 0; i < n; ++i) {
    const v1::Point& p = req.points(static_cast<int>(i));
    const std::string field = "points[" + std::to_string(i) + "]";
    auto id = convert::FromProto(p.id(), field + ".id");
    if (!id.ok()) return ToGrpc(id.status());
    ids.push_back(std::move(id).value());
    if (static_cast<size_t>(p.vector_size()) != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   DimensionMismatch(field + ".vector", static_cast<size_t>(p.vector_size()),
                                     collection));
    }
    std::copy(p.vector().begin(), p.vector().end(), vectors.begin() + static_cast<ptrdiff_t>(i * dim));
    any_payload |= !p.payload().empty();
  }
  if (any_payload) {
    payloads.reserve(n);
    for (const v1::Point& p : req.points()) payloads.push_back(p.payload());
  }
  WriteOptions options;
  options.sync = req.sync();
  return ToGrpc(collection.Upsert(options, ids, vectors, payloads));
}

grpc::Status SextantService::Upsert(grpc::ServerContext* ctx, const v1::UpsertRequest* req,
                                    v1::UpsertResponse* resp) {
  return Run(ctx, "Upsert", true, req->collection(), [&](Call& call) {
    call.extra.emplace_back("points", std::to_string(req->points_size()));
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    grpc::Status s = WriteBatch(*req, **c);
    if (s.ok()) resp->set_upserted(static_cast<uint64_t>(req->points_size()));
    return s;
  });
}

grpc::Status SextantService::UpsertStream(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::UpsertProgress, v1::UpsertRequest>* stream) {
  return Run(ctx, "UpsertStream", true, "", [&](Call& call) {
    std::shared_ptr<Collection> collection;
    v1::UpsertProgress progress;
    v1::UpsertRequest req;
    auto note = [&] {
      call.extra = {{"batches", std::to_string(progress.batches())},
                    {"points", std::to_string(progress.points())}};
    };
    while (true) {
      if (ctx->IsCancelled()) {
        note();
        return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
      }
      if (!stream->Read(&req)) {
        note();
        if (ctx->IsCancelled()) {
          return Error(grpc::StatusCode::CANCELLED,
                       "the client went away after " + std::to_string(progress.batches()) +
                           " committed batches");
        }
        break;  // the client closed its side: done
      }
      const std::string where = "message " + std::to_string(progress.batches() + 1) + ": ";
      if (!collection) {
        call.collection = req.collection();
        auto c = Open(req.collection(), "collection");
        if (!c.ok()) {
          note();
          return ToGrpc(c.status().WithPrefix(where.substr(0, where.size() - 2)));
        }
        collection = std::move(c).value();
      } else if (!req.collection().empty() && req.collection() != collection->name()) {
        note();
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     where + "collection: \"" + req.collection() + "\", but this stream writes to \"" +
                         collection->name() + "\" (leave it empty after the first message)");
      }
      grpc::Status s = WriteBatch(req, *collection);
      if (!s.ok()) {
        note();
        return grpc::Status(s.error_code(), where + s.error_message());
      }
      progress.set_batches(progress.batches() + 1);
      progress.set_points(progress.points() + static_cast<uint64_t>(req.points_size()));
      if (!stream->Write(progress)) {
        note();
        return Error(grpc::StatusCode::CANCELLED,
                     "the client went away after " + std::to_string(progress.batches()) +
                         " committed batches");
      }
    }
    note();
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Get(grpc::ServerContext* ctx, const v1::GetRequest* req,
                                 v1::Point* resp) {
  return Run(ctx, "Get", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    auto id = convert::FromProto(req->id(), "id");
    if (!id.ok()) return ToGrpc(id.status());
    auto point = (*c)->Get(*id);
    if (!point.ok()) return ToGrpc(point.status());
    convert::ToProto(*point, resp);
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                                    v1::DeleteResponse* resp) {
  return Run(ctx, "Delete", true, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    WriteOptions options;
    options.sync = req->sync();
    StatusOr<uint64_t> deleted = uint64_t{0};
    switch (req->selector_case()) {
      case v1::DeleteRequest::kIds: {
        const auto& list = req->ids().ids();
        const size_t n = static_cast<size_t>(list.size());
        if (n > options_.max_batch_points) {
          return TooManyPoints("ids", n, options_.max_batch_points, "ids");
        }
        std::vector<PointId> ids;
        ids.reserve(n);
        for (size_t i = 0; i < n; ++i) {
          auto id = convert::FromProto(list[static_cast<int>(i)], "ids[" + std::to_string(i) + "]");
          if (!id.ok()) return ToGrpc(id.status());
          ids.push_back(std::move(id).value());
        }
        if (!ids.empty()) deleted = (*c)->Delete(options, ids);
        break;
      }
      case v1::DeleteRequest::kFilter:
        if (req->filter().empty()) {
          return Error(grpc::StatusCode::INVALID_ARGUMENT,
                       "filter: empty (use {} to delete every point)");
        }
        deleted = (*c)->DeleteWhere(options, req->filter());
        break;
      case v1::DeleteRequest::SELECTOR_NOT_SET:
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "selector: unset (give ids or a filter)");
    }
    if (!deleted.ok()) return ToGrpc(deleted.status());
    resp->set_deleted(*deleted);
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Count(grpc::ServerContext* ctx, const v1::CountRequest* req,
                                   v1::CountResponse* resp) {
  return Run(ctx, "Count", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    auto n = (*c)->Count();
    if (!n.ok()) return ToGrpc(n.status());
    resp->set_count(*n);
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Scan(grpc::ServerContext* ctx, const v1::ScanRequest* req,
                                  v1::ScanResponse* resp) {
  return Run(ctx, "Scan", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ScanOptions options;
    if (req->limit() != 0) options.limit = req->limit();
    options.cursor = req->cursor();
    options.filter = req->filter();
    auto page = (*c)->Scan(options);
    if (!page.ok()) return ToGrpc(page.status());
    for (Point& p : page->points) {
      if (!req->with_vector()) p.vector.clear();
      convert::ToProto(p, resp->add_points());
    }
    resp->set_next_cursor(page->next_cursor);
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- search

grpc::Status SextantService::Search(grpc::ServerContext* ctx, const v1::SearchRequest* req,
                                    v1::SearchResponse* resp) {
  return Run(ctx, "Search", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    if (static_cast<size_t>(req->vector_size()) != (*c)->dimension()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   DimensionMismatch("vector", static_cast<size_t>(req->vector_size()), **c));
    }
    const SearchOptions options = convert::FromProto(req->params());
    SearchPlan plan;
    auto hits = (*c)->Search(options, std::span<const float>(req->vector().data(), req->vector().size()),
                             &plan);
    if (!hits.ok()) return ToGrpc(hits.status());
    for (const Hit& h : *hits) convert::ToProto(h, resp->add_hits());
    convert::ToProto(plan, resp->mutable_plan());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::SearchBatch(grpc::ServerContext* ctx,
                                         const v1::SearchBatchRequest* req,
                                         v1::SearchBatchResponse* resp) {
  return Run(ctx, "SearchBatch", false, req->collection(), [&](Call& call) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    const size_t dim = (*c)->dimension();
    const size_t total = static_cast<size_t>(req->vectors_size());
    if (total == 0 || total % dim != 0) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "vectors: " + std::to_string(total) + " floats, not a positive multiple of " +
                       "collection \"" + (*c)->name() + "\"'s dimension " + std::to_string(dim));
    }
    const size_t n = total / dim;
    call.extra.emplace_back("queries", std::to_string(n));
    if (n > options_.max_batch_points) {
      return TooManyPoints("vectors", n, options_.max_batch_points, "queries");
    }
    const SearchOptions options = convert::FromProto(req->params());
    const std::span<const float> all(req->vectors().data(), total);
    for (size_t first = 0; first < n; first += kSearchChunk) {
      if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
      const size_t count = std::min(kSearchChunk, n - first);
      std::vector<SearchPlan> plans;
      auto results = (*c)->SearchBatch(options, all.subspan(first * dim, count * dim), &plans);
      if (!results.ok()) return ToGrpc(results.status());
      for (size_t q = 0; q < results->size(); ++q) {
        v1::SearchResponse* r = resp->add_results();
        for (const Hit& h : (*results)[q]) convert::ToProto(h, r->add_hits());
        if (q < plans.size()) convert::ToProto(plans[q], r->mutable_plan());
      }
    }
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- text (RAG)

Status SextantService::CheckEmbedderAllowed(const rag::EmbedderConfig& config,
                                            std::string_view what) const {
  if (config.kind != "openai" || options_.allow_remote_embedders) return Status::OK();
  return Status::PermissionDenied(
      std::string(what) + ": an \"openai\" embedder makes the server call a URL chosen by a client (" +
      config.openai_base_url +
      "), and this server does not allow that (start sextantd with --allow-remote-embedders)");
}

StatusOr<std::shared_ptr<rag::TextCollection>> SextantService::OpenText(std::string_view name,
                                                                        std::string_view field) {
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, Open(name, field));
  {
    std::lock_guard lock(text_mu_);
    auto it = texts_.find(name);
    if (it != texts_.end() && &it->second->collection() == c.get()) return it->second;
  }
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, c->Describe());
  SEXTANT_ASSIGN_OR_RETURN(std::optional<rag::TextCollectionOptions> config,
                           rag::TextCollection::ConfigOf(info));
  if (!config) {
    return Status::FailedPrecondition(
        "collection \"" + std::string(name) +
        "\" is a plain vector collection, not a text collection (text RPCs need one made with "
        "CreateCollectionRequest.text; use Upsert and Search on this one)");
  }
  SEXTANT_RETURN_IF_ERROR(CheckEmbedderAllowed(config->embedder, "collection \"" + std::string(name) + "\""));
  // Opening may load a model: done without the lock, so other collections are not held up.
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<rag::TextCollection> opened,
                           rag::TextCollection::Open(*db_, name, embedders_));
  std::shared_ptr<rag::TextCollection> text = std::move(opened);
  std::lock_guard lock(text_mu_);
  auto& slot = texts_[std::string(name)];
  if (slot && &slot->collection() == &text->collection()) return slot;  // another call was first
  slot = text;
  return text;
}

void SextantService::ForgetText(std::string_view name) {
  std::lock_guard lock(text_mu_);
  if (auto it = texts_.find(name); it != texts_.end()) texts_.erase(it);
}

grpc::Status SextantService::CreateTextCollection(const v1::CreateCollectionRequest& req,
                                                  v1::CollectionInfo* resp) {
  if (req.metric() != v1::METRIC_UNSPECIFIED && req.metric() != v1::METRIC_COSINE) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "metric: a text collection always uses METRIC_COSINE (leave metric unset)");
  }
  if (req.payload_indexes_size() > 0) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "payload_indexes: not available for a text collection (it indexes document_id "
                 "itself; filters on metadata are answered by scanning)");
  }
  if (!req.properties().empty()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 "properties: a text collection records its own (its embedder and chunking); "
                 "leave properties empty");
  }
  auto options = convert::FromProto(req.text(), "text");
  if (!options.ok()) return ToGrpc(options.status());
  if (req.has_index()) {
    auto index = convert::FromProto(req.index(), "index");
    if (!index.ok()) return ToGrpc(index.status());
    options->index = *index;
  }
  if (Status s = CheckEmbedderAllowed(options->embedder, "text.embedder"); !s.ok()) return ToGrpc(s);
  // The embedder decides the dimension: check the request against it before creating anything.
  auto embedder = embedders_.Get(options->embedder);
  if (!embedder.ok()) return ToGrpc(embedder.status().WithPrefix("text.embedder"));
  const uint32_t dim = (*embedder)->dimension();  // 0: an endpoint not asked yet
  if (dim != 0) {
    if (req.dimension() != 0 && req.dimension() != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "dimension: " + std::to_string(req.dimension()) + ", but embedder " +
                       (*embedder)->spec() + " makes vectors of " + std::to_string(dim) +
                       " (leave dimension 0 for a text collection)");
    }
    if (options->embedder.kind == "local" && options->embedder.dimension != 0 &&
        options->embedder.dimension != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "text.embedder.dimension: " + std::to_string(options->embedder.dimension) +
                       ", but model " + (*embedder)->spec() + " makes vectors of " +
                       std::to_string(dim) + " (leave it 0)");
    }
    if (dim > options_.max_dimension) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "text.embedder: its dimension " + std::to_string(dim) +
                       " exceeds the server's max-dimension limit of " +
                       std::to_string(options_.max_dimension));
    }
  }
  auto created = rag::TextCollection::Create(*db_, req.name(), *options, embedders_);
  if (!created.ok()) return ToGrpc(created.status());
  std::shared_ptr<rag::TextCollection> text = std::move(created).value();
  const uint32_t made = text->collection().dimension();
  if ((req.dimension() != 0 && made != req.dimension()) || made > options_.max_dimension) {
    // An endpoint that reported its dimension only now: undo the create.
    const std::string spec = text->embedder().spec();
    text.reset();
    (void)db_->DropCollection(req.name());
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 made > options_.max_dimension
                     ? "text.embedder: its dimension " + std::to_string(made) +
                           " exceeds the server's max-dimension limit of " +
                           std::to_string(options_.max_dimension)
                     : "dimension: " + std::to_string(req.dimension()) + ", but embedder " + spec +
                           " makes vectors of " + std::to_string(made) +
                           " (leave dimension 0 for a text collection)");
  }
  {
    std::lock_guard lock(text_mu_);
    texts_[req.name()] = text;
  }
  return Describe(text->collection(), resp);
}

grpc::Status SextantService::IngestDocuments(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::IngestProgress, v1::IngestDocumentsRequest>* stream) {
  return Run(ctx, "IngestDocuments", true, "", [&](Call& call) {
    std::shared_ptr<rag::TextCollection> text;
    v1::IngestProgress progress;
    uint64_t messages = 0;
    v1::IngestDocumentsRequest req;
    auto note = [&] {
      call.extra = {{"messages", std::to_string(messages)},
                    {"documents", std::to_string(progress.documents())},
                    {"chunks", std::to_string(progress.chunks())}};
    };
    auto gone = [&] {
      note();
      return Error(grpc::StatusCode::CANCELLED,
                   "the client went away after " + std::to_string(messages) +
                       " acknowledged messages");
    };
    while (true) {
      if (ctx->IsCancelled()) return gone();
      if (!stream->Read(&req)) {
        if (ctx->IsCancelled()) return gone();
        break;  // the client closed its side: done
      }
      const std::string where = "message " + std::to_string(messages + 1);
      if (!text) {
        call.collection = req.collection();
        auto t = OpenText(req.collection(), "collection");
        if (!t.ok()) {
          note();
          return ToGrpc(t.status().WithPrefix(where));
        }
        text = std::move(t).value();
      } else if (!req.collection().empty() && req.collection() != text->name()) {
        note();
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     where + ": collection: \"" + req.collection() +
                         "\", but this stream writes to \"" + text->name() +
                         "\" (leave it empty after the first message)");
      }
      const size_t n = static_cast<size_t>(req.documents_size());
      if (n == 0) {
        note();
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     where + ": documents: empty (send 1.." +
                         std::to_string(options_.max_batch_points) + " documents)");
      }
      if (n > options_.max_batch_points) {
        note();
        grpc::Status s = TooManyPoints("documents", n, options_.max_batch_points, "documents");
        return grpc::Status(s.error_code(), where + ": " + s.error_message());
      }
      std::vector<rag::Document> documents;
      documents.reserve(n);
      for (const v1::Document& d : req.documents()) documents.push_back(convert::FromProto(d));
      rag::IngestOptions options;
      options.write.sync = req.sync();
      // The whole message is one engine batch.
      options.batch_documents = static_cast<uint32_t>(n);
      if (ctx->IsCancelled()) return gone();  // nothing of this message is written
      auto result = text->Ingest(documents, options);
      if (!result.ok()) {
        note();
        return ToGrpc(result.status().WithPrefix(where));
      }
      ++messages;
      progress.set_documents(progress.documents() + result->documents);
      progress.set_chunks(progress.chunks() + result->chunks);
      progress.set_replaced_chunks(progress.replaced_chunks() + result->replaced_chunks);
      if (!stream->Write(progress)) return gone();
    }
    note();
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DeleteDocuments(grpc::ServerContext* ctx,
                                             const v1::DeleteDocumentsRequest* req,
                                             v1::DeleteDocumentsResponse* resp) {
  return Run(ctx, "DeleteDocuments", true, req->collection(), [&](Call& call) {
    const size_t n = static_cast<size_t>(req->document_ids_size());
    call.extra.emplace_back("documents", std::to_string(n));
    if (n == 0) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "document_ids: empty (name the documents to delete)");
    }
    if (n > options_.max_batch_points) {
      return TooManyPoints("document_ids", n, options_.max_batch_points, "ids");
    }
    std::vector<std::string> ids;
    ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string& id = req->document_ids(static_cast<int>(i));
      if (id.empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "document_ids[" + std::to_string(i) + "]: empty");
      }
      ids.push_back(id);
    }
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());
    auto deleted = (*text)->DeleteDocuments(ids);
    if (!deleted.ok()) return ToGrpc(deleted.status());
    resp->set_deleted_chunks(*deleted);
    call.extra.emplace_back("chunks", std::to_string(*deleted));
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Embed(grpc::ServerContext* ctx, const v1::EmbedRequest* req,
                                   v1::EmbedResponse* resp) {
  return Run(ctx, "Embed", false, req->collection(), [&](Call& call) {
    const size_t n = static_cast<size_t>(req->texts_size());
    call.extra.emplace_back("texts", std::to_string(n));
    if (n == 0) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "texts: empty (send 1.." +
                                                           std::to_string(options_.max_batch_points) +
                                                           " texts)");
    }
    if (n > options_.max_batch_points) {
      return TooManyPoints("texts", n, options_.max_batch_points, "texts");
    }
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());
    const std::vector<std::string> texts(req->texts().begin(), req->texts().end());
    auto vectors = (*text)->Embed(texts);
    if (!vectors.ok()) return ToGrpc(vectors.status());
    if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
    resp->set_dimension((*text)->embedder().dimension());
    resp->mutable_vectors()->Assign(vectors->begin(), vectors->end());
    resp->set_embedder_spec((*text)->embedder().spec());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Ask(grpc::ServerContext* ctx, const v1::AskRequest* req,
                                 grpc::ServerWriter<v1::AskResponse>* writer) {
  return Run(ctx, "Ask", false, req->collection(), [&](Call& call) {
    const std::string& question = req->question();
    if (std::all_of(question.begin(), question.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "question: empty (ask something)");
    }
    if (req->k() > kMaxAskK) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "k: " + std::to_string(req->k()) + " exceeds the limit of " +
                       std::to_string(kMaxAskK) + " chunks per question");
    }
    const std::string& name = req->generator().empty() ? options_.default_generator : req->generator();
    rag::Generator* generator = nullptr;
    if (name == "extractive") {
      generator = extractive_.get();
    } else if (name == "openai") {
      if (!options_.llm) {
        return Error(grpc::StatusCode::FAILED_PRECONDITION,
                     "generator: \"openai\" is not configured on this server (start sextantd "
                     "with --llm-url and --llm-model), and \"extractive\" needs no model");
      }
      generator = options_.llm.get();
    } else {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "generator: \"" + req->generator() +
                       "\" is not \"extractive\" or \"openai\" (\"\" = the server's default)");
    }
    call.extra.emplace_back("generator", name);
    auto text = OpenText(req->collection(), "collection");
    if (!text.ok()) return ToGrpc(text.status());

    rag::AskOptions options;
    if (req->k() != 0) options.retrieve.k = req->k();
    options.retrieve.filter = req->filter();
    options.retrieve.ef_search = req->ef_search();
    options.prompt.system_template = req->system_template();
    options.prompt.user_template = req->user_template();
    if (req->max_prompt_tokens() != 0) options.prompt.max_prompt_tokens = req->max_prompt_tokens();
    call.extra.emplace_back("k", std::to_string(options.retrieve.k));

    // Stops the generator as soon as the client is gone (or a piece cannot be sent).
    bool lost = false;
    uint64_t pieces = 0;
    auto on_token = [&](std::string_view piece) {
      if (lost || ctx->IsCancelled()) {
        lost = true;
        return false;
      }
      if (req->stream()) {
        v1::AskResponse event;
        event.set_token(std::string(piece));
        if (!writer->Write(event)) {
          lost = true;
          return false;
        }
        ++pieces;
      }
      return true;
    };
    auto answer = (*text)->Ask(question, options, *generator, on_token);
    if (lost || ctx->IsCancelled()) {
      return Error(grpc::StatusCode::CANCELLED, "the call was cancelled; the answer was stopped");
    }
    if (!answer.ok()) return ToGrpc(answer.status());
    if (req->stream()) call.extra.emplace_back("pieces", std::to_string(pieces));
    call.extra.emplace_back("citations", std::to_string(answer->citations.size()));
    v1::AskResponse last;
    convert::ToProto(*answer, last.mutable_answer());
    if (!writer->Write(last)) {
      return Error(grpc::StatusCode::CANCELLED, "the client went away before the answer was sent");
    }
    return grpc::Status::OK;
  });
}

}  // namespace sextant::server
