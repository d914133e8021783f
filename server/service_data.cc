// SextantService: data management RPCs: GetMany, SetPayload, DeletePayloadKeys, UpdateVectors.
#include <algorithm>
#include <utility>

#include "server/service.h"
#include "server/consistency.h"
#include "server/service_internal.h"

namespace sextant::server {

using service_internal::AppendFloats;
using service_internal::DimensionMismatch;
using service_internal::Error;
using service_internal::ToGrpc;
using service_internal::TooManyPoints;

grpc::Status SextantService::IdsFromProto(const google::protobuf::RepeatedPtrField<v1::PointId>& list,
                                          std::string_view field, std::vector<PointId>* out) const {
  const size_t n = static_cast<size_t>(list.size());
  if (n > options_.max_batch_points) return TooManyPoints(field, n, options_.max_batch_points, "ids");
  out->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    auto id = convert::FromProto(list[static_cast<int>(i)], std::string(field) + "[" + std::to_string(i) + "]");
    if (!id.ok()) return ToGrpc(id.status());
    out->push_back(std::move(id).value());
  }
  return grpc::Status::OK;
}

template <typename Req>
grpc::Status SextantService::SelectorFromProto(const Req& req, PointSelector* out) const {
  switch (req.selector_case()) {
    case Req::kIds: {
      if (req.ids().ids().empty()) return Error(grpc::StatusCode::INVALID_ARGUMENT, "ids: empty (name 1 or more points)");
      return IdsFromProto(req.ids().ids(), "ids", &out->ids);
    }
    case Req::kFilter:
      if (req.filter().empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT, "filter: empty (use {} to select every point)");
      }
      out->by_filter = true;
      out->filter = req.filter();
      return grpc::Status::OK;
    case Req::SELECTOR_NOT_SET:
      break;
  }
  return Error(grpc::StatusCode::INVALID_ARGUMENT, "selector: unset (give ids or a filter)");
}

grpc::Status SextantService::GetMany(grpc::ServerContext* ctx, const v1::GetManyRequest* req,
                                     v1::GetManyResponse* resp) {
  return Run(ctx, "GetMany", false, req->collection(), [&](Call& call) {
    call.extra.emplace_back("ids", std::to_string(req->ids_size()));
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kRead, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    std::vector<PointId> ids;
    if (grpc::Status s = IdsFromProto(req->ids(), "ids", &ids); !s.ok()) return s;
    auto points = (*c)->GetMany(ids);
    if (!points.ok()) return ToGrpc(points.status());
    for (size_t i = 0; i < ids.size(); ++i) {
      std::optional<Point>& p = (*points)[i];
      if (!p) {
        convert::ToProto(ids[i], resp->add_missing());
        continue;
      }
      if (!req->with_vector()) p->vector.clear();
      convert::ToProto(*p, resp->add_points());
    }
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::SetPayload(grpc::ServerContext* ctx, const v1::SetPayloadRequest* req,
                                        v1::UpdateResponse* resp) {
  return Run(ctx, "SetPayload", true, req->collection(), [&](Call& call) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kWrite, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    PointSelector which;
    if (grpc::Status s = SelectorFromProto(*req, &which); !s.ok()) return s;
    WriteOptions options;
    options.sync = req->sync();
    auto n = req->overwrite() ? (*c)->OverwritePayload(options, which, req->payload())
                              : (*c)->SetPayload(options, which, req->payload());
    if (!n.ok()) return ToGrpc(n.status());
    call.extra.emplace_back("updated", std::to_string(*n));
    resp->set_updated(*n);
    resp->set_consistency_token(session.written());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DeletePayloadKeys(grpc::ServerContext* ctx, const v1::DeletePayloadKeysRequest* req,
                                               v1::UpdateResponse* resp) {
  return Run(ctx, "DeletePayloadKeys", true, req->collection(), [&](Call& call) {
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kWrite, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    PointSelector which;
    if (grpc::Status s = SelectorFromProto(*req, &which); !s.ok()) return s;
    if (req->keys().empty()) return Error(grpc::StatusCode::INVALID_ARGUMENT, "keys: empty (name 1 or more keys)");
    std::vector<std::string> keys(req->keys().begin(), req->keys().end());
    WriteOptions options;
    options.sync = req->sync();
    auto n = (*c)->DeletePayloadKeys(options, which, keys);
    if (!n.ok()) return ToGrpc(n.status());
    call.extra.emplace_back("updated", std::to_string(*n));
    resp->set_updated(*n);
    resp->set_consistency_token(session.written());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::UpdateVectors(grpc::ServerContext* ctx, const v1::UpdateVectorsRequest* req,
                                           v1::UpdateResponse* resp) {
  return Run(ctx, "UpdateVectors", true, req->collection(), [&](Call& call) {
    call.extra.emplace_back("points", std::to_string(req->points_size()));
    auto c = Open(req->collection(), "collection");
    if (!c.ok()) return ToGrpc(c.status());
    ConsistencyScope session(ConsistencyScope::Kind::kWrite, req->consistency_token(), ctx);
    if (Status bad = session.Check(); !bad.ok()) return ToGrpc(bad);
    const size_t n = static_cast<size_t>(req->points_size());
    if (n == 0) return Error(grpc::StatusCode::INVALID_ARGUMENT, "points: empty (send 1 or more points)");
    if (n > options_.max_batch_points) return TooManyPoints("points", n, options_.max_batch_points, "points");
    const size_t dim = (*c)->dimension();
    std::vector<PointId> ids;
    ids.reserve(n);
    std::vector<float> vectors;
    // As in WriteBatch: reserved only up to what a message can hold, so a small request of short
    // (or empty) vectors cannot make the server reserve n x dim floats first.
    vectors.reserve(std::min<size_t>(n * dim, options_.max_message_bytes / sizeof(float)));
    for (size_t i = 0; i < n; ++i) {
      const v1::Point& p = req->points(static_cast<int>(i));
      const std::string field = "points[" + std::to_string(i) + "]";
      auto id = convert::FromProto(p.id(), field + ".id");
      if (!id.ok()) return ToGrpc(id.status());
      ids.push_back(std::move(id).value());
      if (!p.payload().empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     field + ".payload: set, but UpdateVectors keeps payloads (use SetPayload)");
      }
      auto got = AppendFloats(p.vector(), p.vector_f32(), field + ".vector", &vectors);
      if (!got.ok()) return ToGrpc(got.status());
      if (*got != dim) return Error(grpc::StatusCode::INVALID_ARGUMENT, DimensionMismatch(field + ".vector", *got, **c));
    }
    WriteOptions options;
    options.sync = req->sync();
    Status s = (*c)->UpdateVectors(options, ids, vectors);
    if (!s.ok()) return ToGrpc(s);
    resp->set_updated(n);
    resp->set_consistency_token(session.written());
    return grpc::Status::OK;
  });
}

// ---------------------------------------------------------------- aliases

grpc::Status SextantService::CreateAlias(grpc::ServerContext* ctx, const v1::CreateAliasRequest* req,
                                         v1::UpdateAliasesResponse*) {
  return Run(ctx, "CreateAlias", true, req->collection(), [&](Call& call) {
    call.extra.emplace_back("alias", req->alias());
    if (Status s = CheckNotReserved(req->alias(), "alias"); !s.ok()) return ToGrpc(s);
    return ToGrpc(db_->CreateAlias(req->alias(), req->collection()));
  });
}

grpc::Status SextantService::DeleteAlias(grpc::ServerContext* ctx, const v1::DeleteAliasRequest* req,
                                         v1::UpdateAliasesResponse*) {
  return Run(ctx, "DeleteAlias", true, "", [&](Call& call) {
    call.extra.emplace_back("alias", req->alias());
    return ToGrpc(db_->DeleteAlias(req->alias()));
  });
}

grpc::Status SextantService::ListAliases(grpc::ServerContext* ctx, const v1::ListAliasesRequest* req,
                                         v1::ListAliasesResponse* resp) {
  return Run(ctx, "ListAliases", false, req->collection(), [&](Call&) {
    auto aliases = db_->ListAliases();
    if (!aliases.ok()) return ToGrpc(aliases.status());
    for (const AliasInfo& a : *aliases) {
      if (!req->collection().empty() && a.collection != req->collection()) continue;
      v1::Alias* out = resp->add_aliases();
      out->set_alias(a.alias);
      out->set_collection(a.collection);
    }
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::UpdateAliases(grpc::ServerContext* ctx, const v1::UpdateAliasesRequest* req,
                                           v1::UpdateAliasesResponse*) {
  return Run(ctx, "UpdateAliases", true, "", [&](Call& call) {
    call.extra.emplace_back("changes", std::to_string(req->changes_size()));
    if (req->changes().empty()) return Error(grpc::StatusCode::INVALID_ARGUMENT, "changes: empty (send 1 or more)");
    std::vector<AliasChange> changes;
    changes.reserve(static_cast<size_t>(req->changes_size()));
    for (int i = 0; i < req->changes_size(); ++i) {
      const v1::AliasChange& c = req->changes(i);
      switch (c.action_case()) {
        case v1::AliasChange::kCreateAlias:
          for (const auto& [name, field] : {std::pair{c.create_alias().alias(), ".create_alias.alias"},
                                            std::pair{c.create_alias().collection(), ".create_alias.collection"}}) {
            if (Status s = CheckNotReserved(name, "changes[" + std::to_string(i) + "]" + field); !s.ok()) {
              return ToGrpc(s);
            }
          }
          changes.push_back(AliasChange::Create(c.create_alias().alias(), c.create_alias().collection()));
          break;
        case v1::AliasChange::kDeleteAlias:
          changes.push_back(AliasChange::Delete(c.delete_alias().alias()));
          break;
        case v1::AliasChange::ACTION_NOT_SET:
          return Error(grpc::StatusCode::INVALID_ARGUMENT,
                       "changes[" + std::to_string(i) + "]: unset (give create_alias or delete_alias)");
      }
    }
    return ToGrpc(db_->UpdateAliases(changes));
  });
}

}  // namespace sextant::server
