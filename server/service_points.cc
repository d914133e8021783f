// SextantService: the point RPCs (Upsert, UpsertStream, Get, Delete, Count, Scan) and search
// (Search, SearchBatch).
#include <algorithm>
#include <memory>
#include <span>
#include <utility>

#include "server/service.h"
#include "server/consistency.h"
#include "server/service_internal.h"

namespace sextant::server {
namespace {

// Queries searched per engine call in SearchBatch; cancellation is checked between chunks.
constexpr size_t kSearchChunk = 256;

// What hits or points may take of a response under the send limit `max_message_bytes`, keeping
// room for the rest (plans, the cursor, framing).
size_t ResponseBudget(uint64_t max_message_bytes) {
  constexpr uint64_t kOverhead = 4096;
  return static_cast<size_t>(max_message_bytes > 2 * kOverhead ? max_message_bytes - kOverhead
                                                                : max_message_bytes / 2);
}

// The fewest bytes one hit takes in a response: its field tag and length, an id, a score.
constexpr size_t kMinHitBytes = 8;

// The engine's status of a search, naming the server's limit when the results were too large.
grpc::Status SearchError(const Status& status, uint64_t max_message_bytes) {
  if (status.code() != StatusCode::kResourceExhausted) return service_internal::ToGrpc(status);
  return service_internal::Error(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 std::string(status.message()) +
                                     " (the server's max-message-bytes limit is " +
                                     std::to_string(max_message_bytes) + ")");
}

// RESOURCE_EXHAUSTED for a response of `bytes` over the send limit.
grpc::Status ResponseTooLarge(size_t bytes, uint64_t limit, std::string_view advice) {
  return service_internal::Error(grpc::StatusCode::RESOURCE_EXHAUSTED,
               "the response would take " + std::to_string(bytes) +
                   " bytes, over the server's max-message-bytes limit of " + std::to_string(limit) +
                   "; " + std::string(advice));
}

}  // namespace

using service_internal::AppendFloats;
using service_internal::Clock;
using service_internal::Describe;
using service_internal::DimensionMismatch;
using service_internal::Error;
using service_internal::ToGrpc;
using service_internal::ToProto;
using service_internal::TooManyPoints;

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
  // Validate every point before allocating anything sized n x dim: a small request of points
  // with short (or empty) vectors must not make the server reserve n x dim floats first.
  std::vector<PointId> ids;
  ids.reserve(n);
  std::vector<float> vectors;
  // Reserved only up to what a message can hold (the vectors are appended as they validate).
  vectors.reserve(std::min<size_t>(n * dim, options_.max_message_bytes / sizeof(float)));
  std::vector<std::string> payloads;
  bool any_payload = false;
  for (size_t i = 0; i < n; ++i) {
    const v1::Point& p = req.points(static_cast<int>(i));
    const std::string field = "points[" + std::to_string(i) + "]";
    auto id = convert::FromProto(p.id(), field + ".id");
    if (!id.ok()) return ToGrpc(id.status());
    ids.push_back(std::move(id).value());
    auto got = AppendFloats(p.vector(), p.vector_f32(), field + ".vector", &vectors);
    if (!got.ok()) return ToGrpc(got.status());
    if (*got != dim) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, DimensionMismatch(field + ".vector", *got, collection));
    }
    any_payload |= !p.payload().empty();
  }
  // Every vector had dim floats, so the request itself held n x dim x 4 bytes; the copy is
  // bounded by the message size. Checked anyway so that the bound does not rest on that reasoning.
  if (n * dim > options_.max_message_bytes / sizeof(float)) {
    return Error(grpc::StatusCode::RESOURCE_EXHAUSTED,
                 "points: " + std::to_string(n) + " x " + std::to_string(dim) +
                     " floats exceed the server's max-message-bytes limit of " +
                     std::to_string(options_.max_message_bytes));
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
    ConsistencyScope session(ConsistencyScope::Kind::kWrite, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    grpc::Status s = WriteBatch(*req, **c);
    if (s.ok()) {
      resp->set_upserted(static_cast<uint64_t>(req->points_size()));
      resp->set_consistency_token(session.written());
    }
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
    std::unique_ptr<ConsistencyScope> session;  // made at the first message; its token covers every batch so far
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
        if (Status s = CheckNotReserved(req.collection(), "collection"); !s.ok()) {
          note();
          return ToGrpc(s.WithPrefix(where.substr(0, where.size() - 2)));
        }
        auto c = Open(req.collection(), "collection");
        if (!c.ok()) {
          note();
          return ToGrpc(c.status().WithPrefix(where.substr(0, where.size() - 2)));
        }
        collection = std::move(c).value();
        session = std::make_unique<ConsistencyScope>(ConsistencyScope::Kind::kWrite, req.consistency_token(), ctx);
        if (Status bad = session->Check(); !bad.ok()) {
          note();
          return ToGrpc(bad.WithPrefix(where.substr(0, where.size() - 2)));
        }
      } else if (!req.collection().empty() && req.collection() != call.collection &&
                 req.collection() != collection->name()) {
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
      progress.set_consistency_token(session->written());
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
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
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
    ConsistencyScope session(ConsistencyScope::Kind::kWrite, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
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
    resp->set_consistency_token(session.written());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::Count(grpc::ServerContext* ctx, const v1::CountRequest* req,
                                   v1::CountResponse* resp) {
  return Run(ctx, "Count", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    auto n = req->filter().empty() ? (*c)->Count() : (*c)->CountWhere(req->filter());
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
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    ScanOptions options;
    if (req->limit() != 0) options.limit = req->limit();
    options.cursor = req->cursor();
    options.filter = req->filter();
    options.with_vector = req->with_vector();
    // A page ends early (with a cursor) before it would pass the send limit.
    options.max_page_bytes = ResponseBudget(options_.max_message_bytes);
    auto page = (*c)->Scan(options);
    if (!page.ok()) return ToGrpc(page.status());
    for (Point& p : page->points) convert::ToProto(p, resp->add_points());
    resp->set_next_cursor(page->next_cursor);
    if (resp->ByteSizeLong() > options_.max_message_bytes) {
      // One point alone over the limit: only a payload this server accepted but cannot send.
      return ResponseTooLarge(resp->ByteSizeLong(), options_.max_message_bytes,
                              "scan without with_vector, or raise --max-message-bytes");
    }
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- search

StatusOr<SearchOptions> SextantService::SearchOptionsFor(const v1::SearchParams& params,
                                                         size_t response_bytes) const {
  auto over = [](std::string_view field, uint32_t got, uint32_t limit, std::string_view flag) {
    return Status::InvalidArgument("params." + std::string(field) + ": " + std::to_string(got) +
                                   " exceeds the server's " + std::string(flag) + " limit of " +
                                   std::to_string(limit));
  };
  if (params.k() > options_.max_k) return over("k", params.k(), options_.max_k, "max-k");
  if (params.ef_search() > options_.max_ef_search) {
    return over("ef_search", params.ef_search(), options_.max_ef_search, "max-ef-search");
  }
  if (params.nprobe() > options_.max_nprobe) {
    return over("nprobe", params.nprobe(), options_.max_nprobe, "max-nprobe");
  }
  SEXTANT_ASSIGN_OR_RETURN(SearchOptions options, convert::FromProto(params));
  // 0 would mean "no bound" to the engine: keep at least one byte.
  options.max_result_bytes = std::max<size_t>(response_bytes, 1);
  return options;
}


grpc::Status SextantService::Search(grpc::ServerContext* ctx, const v1::SearchRequest* req,
                                    v1::SearchResponse* resp) {
  return Run(ctx, "Search", false, req->collection(), [&](Call&) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    std::vector<float> query;
    auto got = AppendFloats(req->vector(), req->vector_f32(), "vector", &query);
    if (!got.ok()) return ToGrpc(got.status());
    // With params.text the vector may be left out: BM25 search alone.
    if (*got != (*c)->dimension() && !(*got == 0 && !req->params().text().empty())) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, DimensionMismatch("vector", *got, **c));
    }
    auto options = SearchOptionsFor(req->params(), ResponseBudget(options_.max_message_bytes));
    if (!options.ok()) return ToGrpc(options.status());
    SearchPlan plan;
    auto hits = (*c)->Search(*options, query, &plan);
    if (!hits.ok()) return SearchError(hits.status(), options_.max_message_bytes);
    for (const Hit& h : *hits) convert::ToProto(h, resp->add_hits());
    convert::ToProto(plan, resp->mutable_plan());
    if (resp->ByteSizeLong() > options_.max_message_bytes) {
      return ResponseTooLarge(resp->ByteSizeLong(), options_.max_message_bytes,
                              "ask for fewer hits or leave out vectors and payloads");
    }
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::SearchBatch(grpc::ServerContext* ctx,
                                         const v1::SearchBatchRequest* req,
                                         v1::SearchBatchResponse* resp) {
  return Run(ctx, "SearchBatch", false, req->collection(), [&](Call& call) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    const size_t dim = (*c)->dimension();
    std::vector<float> queries;
    auto got = AppendFloats(req->vectors(), req->vectors_f32(), "vectors", &queries);
    if (!got.ok()) return ToGrpc(got.status());
    const size_t total = *got;
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
    const size_t budget = ResponseBudget(options_.max_message_bytes);
    auto options = SearchOptionsFor(req->params(), budget);
    if (!options.ok()) return ToGrpc(options.status());
    // Refuse before searching when the hits alone cannot fit.
    auto live = (*c)->Count();
    if (!live.ok()) return ToGrpc(live.status());
    const uint64_t per_query = std::min<uint64_t>(uint64_t{options->k} * (options->group_by.empty() ? 1 : options->group_size), *live);
    if (per_query != 0 && n > budget / (per_query * kMinHitBytes)) {
      return ResponseTooLarge(n * per_query * kMinHitBytes, options_.max_message_bytes,
                              "send fewer queries per batch or ask for fewer hits");
    }
    const std::span<const float> all(queries.data(), total);
    size_t used = 0;  // bytes of the results so far
    for (size_t first = 0; first < n; first += kSearchChunk) {
      if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "the call was cancelled");
      const size_t count = std::min(kSearchChunk, n - first);
      if (used >= budget) {
        return ResponseTooLarge(used, options_.max_message_bytes,
                                "send fewer queries per batch or ask for fewer hits");
      }
      options->max_result_bytes = budget - used;
      std::vector<SearchPlan> plans;
      auto results = (*c)->SearchBatch(*options, all.subspan(first * dim, count * dim), &plans);
      if (!results.ok()) return SearchError(results.status(), options_.max_message_bytes);
      for (size_t q = 0; q < results->size(); ++q) {
        v1::SearchResponse* r = resp->add_results();
        for (const Hit& h : (*results)[q]) convert::ToProto(h, r->add_hits());
        if (q < plans.size()) convert::ToProto(plans[q], r->mutable_plan());
        used += r->ByteSizeLong() + 5;  // the result and its field tag and length
      }
    }
    if (resp->ByteSizeLong() > options_.max_message_bytes) {
      return ResponseTooLarge(resp->ByteSizeLong(), options_.max_message_bytes,
                              "send fewer queries per batch or ask for fewer hits");
    }
    return grpc::Status::OK;
  });
}

}  // namespace sextant::server
