// SextantService: the point RPCs (Upsert, UpsertStream, Get, Delete, Count, Scan) and search
// (Search, SearchBatch).
#include <algorithm>
#include <span>
#include <utility>

#include "server/service.h"
#include "server/service_internal.h"

namespace sextant::server {
namespace {

// Queries searched per engine call in SearchBatch; cancellation is checked between chunks.
constexpr size_t kSearchChunk = 256;

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
  std::vector<PointId> ids;
  ids.reserve(n);
  std::vector<float> vectors;
  vectors.reserve(n * dim);
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
    std::vector<float> query;
    auto got = AppendFloats(req->vector(), req->vector_f32(), "vector", &query);
    if (!got.ok()) return ToGrpc(got.status());
    if (*got != (*c)->dimension()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, DimensionMismatch("vector", *got, **c));
    }
    const SearchOptions options = convert::FromProto(req->params());
    SearchPlan plan;
    auto hits = (*c)->Search(options, query, &plan);
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
    const SearchOptions options = convert::FromProto(req->params());
    const std::span<const float> all(queries.data(), total);
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

}  // namespace sextant::server
