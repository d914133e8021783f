#include "convert.h"

#include <string>

namespace sextant::convert {
namespace {

Status Bad(std::string_view field, std::string_view why) {
  std::string msg(field);
  msg += ": ";
  msg += why;
  return Status::InvalidArgument(msg);
}

}  // namespace

// ---- status

grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // StatusCode keeps gRPC's numbers (status.h), so the cast is the mapping.
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(status.code())), std::string(status.message()));
}

Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return Status::OK();
  const int code = static_cast<int>(status.error_code());
  if (code < 1 || code > static_cast<int>(StatusCode::kUnauthenticated)) {
    return Status(StatusCode::kUnknown, status.error_message());
  }
  return Status(static_cast<StatusCode>(code), status.error_message());
}

// ---- point ids

void ToProto(const PointId& id, v1::PointId* out) {
  if (id.is_number()) {
    out->set_num(id.number());
  } else {
    out->set_str(id.str());
  }
}

StatusOr<PointId> FromProto(const v1::PointId& id, std::string_view field) {
  switch (id.kind_case()) {
    case v1::PointId::kNum: return PointId(id.num());
    case v1::PointId::kStr: return PointId(id.str());
    case v1::PointId::KIND_NOT_SET: break;
  }
  return Bad(field, "unset (give a number or a string)");
}

// ---- metrics

v1::Metric ToProto(Metric metric) {
  switch (metric) {
    case Metric::kL2: return v1::METRIC_L2;
    case Metric::kInnerProduct: return v1::METRIC_INNER_PRODUCT;
    case Metric::kCosine: return v1::METRIC_COSINE;
  }
  return v1::METRIC_UNSPECIFIED;
}

StatusOr<Metric> FromProto(v1::Metric metric, std::string_view field) {
  switch (metric) {
    case v1::METRIC_L2: return Metric::kL2;
    case v1::METRIC_INNER_PRODUCT: return Metric::kInnerProduct;
    case v1::METRIC_COSINE: return Metric::kCosine;
    default: break;
  }
  return Bad(field, "metric " + std::to_string(static_cast<int>(metric)) +
                        " is not one of METRIC_L2, METRIC_INNER_PRODUCT, METRIC_COSINE");
}

// ---- index specs

void ToProto(const IndexOptions& options, v1::IndexSpec* out) {
  out->set_spec(options.ToString());
  out->set_ef_construction(options.ef_construction);
  out->set_ef_search(options.ef_search);
  out->set_nprobe(options.nprobe);
}

StatusOr<IndexOptions> FromProto(const v1::IndexSpec& spec, std::string_view field) {
  IndexOptions options;
  if (!spec.spec().empty()) {
    auto parsed = IndexOptions::Parse(spec.spec());
    if (!parsed.ok()) return parsed.status().WithPrefix(std::string(field) + ".spec");
    options = *parsed;
  }
  if (spec.ef_construction() != 0) options.ef_construction = spec.ef_construction();
  if (spec.ef_search() != 0) options.ef_search = spec.ef_search();
  if (spec.nprobe() != 0) options.nprobe = spec.nprobe();
  return options;
}

// ---- payload index declarations

v1::PayloadFieldType ToProto(PayloadFieldType type) {
  switch (type) {
    case PayloadFieldType::kKeyword: return v1::PAYLOAD_FIELD_TYPE_KEYWORD;
    case PayloadFieldType::kInteger: return v1::PAYLOAD_FIELD_TYPE_INTEGER;
    case PayloadFieldType::kFloat: return v1::PAYLOAD_FIELD_TYPE_FLOAT;
    case PayloadFieldType::kBool: return v1::PAYLOAD_FIELD_TYPE_BOOL;
  }
  return v1::PAYLOAD_FIELD_TYPE_UNSPECIFIED;
}

StatusOr<PayloadFieldType> FromProto(v1::PayloadFieldType type, std::string_view field) {
  switch (type) {
    case v1::PAYLOAD_FIELD_TYPE_KEYWORD: return PayloadFieldType::kKeyword;
    case v1::PAYLOAD_FIELD_TYPE_INTEGER: return PayloadFieldType::kInteger;
    case v1::PAYLOAD_FIELD_TYPE_FLOAT: return PayloadFieldType::kFloat;
    case v1::PAYLOAD_FIELD_TYPE_BOOL: return PayloadFieldType::kBool;
    default: break;
  }
  return Bad(field, "type " + std::to_string(static_cast<int>(type)) + " is not one of KEYWORD, INTEGER, FLOAT, BOOL");
}

// ---- collections

void ToProto(std::string_view name, const CollectionOptions& options, v1::CreateCollectionRequest* out) {
  out->set_name(std::string(name));
  out->set_dimension(options.dimension);
  out->set_metric(ToProto(options.metric));
  ToProto(options.index, out->mutable_index());
  for (const PayloadIndexOptions& p : options.payload_indexes) {
    v1::PayloadIndex* pi = out->add_payload_indexes();
    pi->set_field(p.field);
    pi->set_type(ToProto(p.type));
  }
}

StatusOr<CollectionOptions> FromProto(const v1::CreateCollectionRequest& request) {
  CollectionOptions options;
  options.dimension = request.dimension();
  SEXTANT_ASSIGN_OR_RETURN(options.metric, FromProto(request.metric(), "metric"));
  if (request.has_index()) {
    SEXTANT_ASSIGN_OR_RETURN(options.index, FromProto(request.index(), "index"));
  }
  for (int i = 0; i < request.payload_indexes_size(); ++i) {
    const v1::PayloadIndex& pi = request.payload_indexes(i);
    const std::string field = "payload_indexes[" + std::to_string(i) + "]";
    PayloadIndexOptions p;
    p.field = pi.field();
    SEXTANT_ASSIGN_OR_RETURN(p.type, FromProto(pi.type(), field + ".type"));
    options.payload_indexes.push_back(std::move(p));
  }
  return options;
}

v1::IndexState ToProto(IndexState state) {
  switch (state) {
    case IndexState::kReady: return v1::INDEX_STATE_READY;
    case IndexState::kTraining: return v1::INDEX_STATE_TRAINING;
    case IndexState::kBuilding: return v1::INDEX_STATE_BUILDING;
  }
  return v1::INDEX_STATE_UNSPECIFIED;
}

IndexState FromProto(v1::IndexState state) {
  switch (state) {
    case v1::INDEX_STATE_TRAINING: return IndexState::kTraining;
    case v1::INDEX_STATE_BUILDING: return IndexState::kBuilding;
    default: return IndexState::kReady;
  }
}

void ToProto(const CollectionInfo& info, v1::CollectionInfo* out) {
  out->set_name(info.name);
  out->set_dimension(info.dimension);
  out->set_metric(ToProto(info.metric));
  out->set_count(info.count);
  out->set_index(info.index);
  out->set_index_state(ToProto(info.index_state));
  out->set_index_bytes(info.index_bytes);
  out->set_vector_bytes(info.vector_bytes);
  out->set_index_origin(info.index_origin);
}

CollectionInfo FromProto(const v1::CollectionInfo& info) {
  CollectionInfo out;
  out.name = info.name();
  out.dimension = info.dimension();
  auto metric = FromProto(info.metric(), "metric");
  if (metric.ok()) out.metric = *metric;
  out.count = info.count();
  out.index = info.index();
  out.index_state = FromProto(info.index_state());
  out.index_bytes = info.index_bytes();
  out.vector_bytes = info.vector_bytes();
  out.index_origin = info.index_origin();
  return out;
}

// ---- points and hits

void ToProto(const Point& point, v1::Point* out) {
  ToProto(point.id, out->mutable_id());
  out->mutable_vector()->Assign(point.vector.begin(), point.vector.end());
  out->set_payload(point.payload);
}

StatusOr<Point> FromProto(const v1::Point& point, std::string_view field) {
  Point out;
  SEXTANT_ASSIGN_OR_RETURN(out.id, FromProto(point.id(), std::string(field) + ".id"));
  out.vector.assign(point.vector().begin(), point.vector().end());
  out.payload = point.payload().empty() ? std::string("{}") : point.payload();
  return out;
}

void ToProto(const Hit& hit, v1::Hit* out) {
  ToProto(hit.id, out->mutable_id());
  out->set_score(hit.score);
  out->set_payload(hit.payload);
  out->mutable_vector()->Assign(hit.vector.begin(), hit.vector.end());
}

StatusOr<Hit> FromProto(const v1::Hit& hit, std::string_view field) {
  Hit out;
  SEXTANT_ASSIGN_OR_RETURN(out.id, FromProto(hit.id(), std::string(field) + ".id"));
  out.score = hit.score();
  out.payload = hit.payload();
  out.vector.assign(hit.vector().begin(), hit.vector().end());
  return out;
}

// ---- search

void ToProto(const SearchOptions& options, v1::SearchParams* out) {
  out->set_k(options.k);
  out->set_filter(options.filter);
  out->set_with_payload(options.with_payload);
  out->set_with_vector(options.with_vector);
  out->set_ef_search(options.ef_search);
  out->set_nprobe(options.nprobe);
  out->set_exact(options.exact);
}

SearchOptions FromProto(const v1::SearchParams& params) {
  SearchOptions options;
  if (params.k() != 0) options.k = params.k();
  options.filter = params.filter();
  options.with_payload = params.with_payload();
  options.with_vector = params.with_vector();
  options.ef_search = params.ef_search();
  options.nprobe = params.nprobe();
  options.exact = params.exact();
  return options;
}

void ToProto(const SearchPlan& plan, v1::SearchPlan* out) {
  out->set_kind(plan.kind == SearchPlan::Kind::kIndex ? v1::SearchPlan::KIND_INDEX : v1::SearchPlan::KIND_EXACT);
  out->set_index(plan.index);
  out->set_matches(plan.matches);
  out->set_filter_from_index(plan.filter_from_index);
  out->set_distance_computations(plan.distance_computations);
  out->set_effort(plan.effort);
}

SearchPlan FromProto(const v1::SearchPlan& plan) {
  SearchPlan out;
  out.kind = plan.kind() == v1::SearchPlan::KIND_INDEX ? SearchPlan::Kind::kIndex : SearchPlan::Kind::kExact;
  out.index = plan.index();
  out.matches = plan.matches();
  out.filter_from_index = plan.filter_from_index();
  out.distance_computations = plan.distance_computations();
  out.effort = plan.effort();
  return out;
}

}  // namespace sextant::convert
