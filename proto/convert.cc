#include "convert.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace sextant::convert {
namespace {

Status Bad(std::string_view field, std::string_view why) {
  std::string msg(field);
  msg += ": ";
  msg += why;
  return Status::InvalidArgument(msg);
}

uint32_t ToLittleEndian(uint32_t bits) {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap32(bits);
  return bits;
}

}  // namespace

// ---- packed float32

void PackFloats(std::span<const float> floats, std::string* out) {
  out->resize(floats.size() * sizeof(float));
  if constexpr (std::endian::native == std::endian::little) {
    if (!floats.empty()) std::memcpy(out->data(), floats.data(), out->size());
  } else {
    for (size_t i = 0; i < floats.size(); ++i) {
      const uint32_t bits = ToLittleEndian(std::bit_cast<uint32_t>(floats[i]));
      std::memcpy(out->data() + i * sizeof(float), &bits, sizeof(bits));
    }
  }
}

StatusOr<size_t> AppendFloats(const google::protobuf::RepeatedField<float>& floats, const std::string& packed,
                              std::string_view field, std::vector<float>* out) {
  if (packed.empty()) {
    out->insert(out->end(), floats.begin(), floats.end());
    return static_cast<size_t>(floats.size());
  }
  if (!floats.empty()) {
    return Status::InvalidArgument(std::string(field) + " and " + std::string(field) +
                                   "_f32 are both set (send one of them)");
  }
  if (packed.size() % sizeof(float) != 0) {
    return Status::InvalidArgument(std::string(field) + "_f32: " + std::to_string(packed.size()) +
                                   " bytes, not a multiple of 4 (packed little-endian float32)");
  }
  const size_t n = packed.size() / sizeof(float);
  const size_t at = out->size();
  out->resize(at + n);
  std::memcpy(out->data() + at, packed.data(), packed.size());
  if constexpr (std::endian::native == std::endian::big) {
    for (size_t i = at; i < at + n; ++i) {
      (*out)[i] = std::bit_cast<float>(ToLittleEndian(std::bit_cast<uint32_t>((*out)[i])));
    }
  }
  return n;
}

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
  out->set_properties(options.properties);
  for (const TextFieldOptions& t : options.text_fields) {
    v1::TextField* tf = out->add_text_fields();
    tf->set_field(t.field);
    tf->set_language(t.language);
    tf->set_no_stemming(!t.stemming);
    tf->set_no_stop_words(!t.stop_words);
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
  options.properties = request.properties();
  for (const v1::TextField& tf : request.text_fields()) {
    TextFieldOptions t;
    t.field = tf.field();
    if (!tf.language().empty()) t.language = tf.language();
    t.stemming = !tf.no_stemming();
    t.stop_words = !tf.no_stop_words();
    options.text_fields.push_back(std::move(t));
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
  out->set_properties(info.properties);
  for (const TextFieldOptions& t : info.text_fields) {
    v1::TextField* tf = out->add_text_fields();
    tf->set_field(t.field);
    tf->set_language(t.language);
    tf->set_no_stemming(!t.stemming);
    tf->set_no_stop_words(!t.stop_words);
  }
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
  out.properties = info.properties();
  for (const v1::TextField& tf : info.text_fields()) {
    TextFieldOptions t;
    t.field = tf.field();
    if (!tf.language().empty()) t.language = tf.language();
    t.stemming = !tf.no_stemming();
    t.stop_words = !tf.no_stop_words();
    out.text_fields.push_back(std::move(t));
  }
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
  if (hit.dense_score) out->set_dense_score(*hit.dense_score);
  if (hit.text_score) out->set_text_score(*hit.text_score);
  out->set_group(hit.group);
}

StatusOr<Hit> FromProto(const v1::Hit& hit, std::string_view field) {
  Hit out;
  SEXTANT_ASSIGN_OR_RETURN(out.id, FromProto(hit.id(), std::string(field) + ".id"));
  out.score = hit.score();
  out.payload = hit.payload();
  out.vector.assign(hit.vector().begin(), hit.vector().end());
  if (hit.has_dense_score()) out.dense_score = hit.dense_score();
  if (hit.has_text_score()) out.text_score = hit.text_score();
  out.group = hit.group();
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
  for (const std::string& p : options.payload_include) out->add_payload_include(p);
  for (const std::string& p : options.payload_exclude) out->add_payload_exclude(p);
  out->set_text(options.text);
  for (const std::string& f : options.text_fields) out->add_text_fields(f);
  v1::FusionParams* fusion = out->mutable_fusion();
  fusion->set_method(std::string(FusionName(options.fusion)));
  fusion->set_rrf_k(options.rrf_k);
  fusion->set_dense_weight(options.dense_weight);
  fusion->set_text_weight(options.text_weight);
  fusion->set_candidates(options.candidates);
  out->set_group_by(options.group_by);
  out->set_group_size(options.group_size);
  if (options.score_threshold) out->set_score_threshold(*options.score_threshold);
  if (options.mmr) out->mutable_mmr()->set_mmr_lambda(options.mmr_lambda);
}

StatusOr<SearchOptions> FromProto(const v1::SearchParams& params) {
  SearchOptions options;
  if (params.k() != 0) options.k = params.k();
  options.filter = params.filter();
  options.with_payload = params.with_payload();
  options.with_vector = params.with_vector();
  options.ef_search = params.ef_search();
  options.nprobe = params.nprobe();
  options.exact = params.exact();
  options.payload_include.assign(params.payload_include().begin(), params.payload_include().end());
  options.payload_exclude.assign(params.payload_exclude().begin(), params.payload_exclude().end());
  options.text = params.text();
  options.text_fields.assign(params.text_fields().begin(), params.text_fields().end());
  if (params.has_fusion()) {
    const v1::FusionParams& f = params.fusion();
    if (!f.method().empty()) {
      auto method = ParseFusion(f.method());
      if (!method.ok()) return method.status().WithPrefix("params.fusion.method");
      options.fusion = *method;
    }
    if (f.rrf_k() != 0) options.rrf_k = f.rrf_k();
    if (f.dense_weight() != 0 || f.text_weight() != 0) {
      options.dense_weight = f.dense_weight();
      options.text_weight = f.text_weight();
    }
    options.candidates = f.candidates();
  }
  options.group_by = params.group_by();
  if (params.group_size() != 0) options.group_size = params.group_size();
  if (params.has_score_threshold()) options.score_threshold = params.score_threshold();
  if (params.has_mmr()) {
    options.mmr = true;
    options.mmr_lambda = params.mmr().mmr_lambda();
  }
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

// ---- text collections

namespace {

constexpr uint32_t kDefaultHashDimension = 384;
constexpr uint32_t kDefaultOverlap = 32;
constexpr uint32_t kLocalChunkTokens = 200;
constexpr uint32_t kOtherChunkTokens = 256;

}  // namespace

void ToProto(const rag::EmbedderConfig& config, v1::EmbedderConfig* out) {
  out->set_kind(config.kind);
  if (config.kind == "hash") {
    out->set_dimension(config.hash.dimension);
  } else if (config.kind == "local") {
    out->set_local_model(config.local_model);
    out->set_dimension(config.dimension);
  } else {
    out->set_openai_base_url(config.openai_base_url);
    out->set_openai_model(config.openai_model);
    out->set_dimension(config.dimension);
  }
}

StatusOr<rag::EmbedderConfig> FromProto(const v1::EmbedderConfig& config, std::string_view field) {
  const std::string f(field);
  rag::EmbedderConfig out;
  out.kind = config.kind().empty() ? std::string("hash") : config.kind();
  if (out.kind != "hash" && out.kind != "local" && out.kind != "openai") {
    return Bad(f + ".kind", "\"" + config.kind() + "\" is not one of \"hash\", \"local\", \"openai\"");
  }
  // A field of another kind is a mistake worth reporting rather than ignoring.
  if (out.kind != "local" && !config.local_model().empty()) {
    return Bad(f + ".local_model", "only for kind \"local\" (kind is \"" + out.kind + "\")");
  }
  if (out.kind != "openai" && (!config.openai_base_url().empty() || !config.openai_model().empty())) {
    return Bad(f + (config.openai_base_url().empty() ? ".openai_model" : ".openai_base_url"),
               "only for kind \"openai\" (kind is \"" + out.kind + "\")");
  }
  if (out.kind == "hash") {
    out.hash.dimension = config.dimension() != 0 ? config.dimension() : kDefaultHashDimension;
  } else if (out.kind == "local") {
    if (!config.local_model().empty()) out.local_model = config.local_model();
    // The model decides; a non-zero dimension is checked against it when the collection is made.
    out.dimension = config.dimension();
  } else {
    if (config.openai_base_url().empty()) return Bad(f + ".openai_base_url", "empty (give the endpoint, \".../v1\")");
    if (config.openai_model().empty()) return Bad(f + ".openai_model", "empty (name the embedding model)");
    out.openai_base_url = config.openai_base_url();
    out.openai_model = config.openai_model();
    out.dimension = config.dimension();
  }
  return out;
}

void ToProto(const rag::TextCollectionOptions& options, std::string_view embedder_spec,
             v1::TextOptions* out) {
  ToProto(options.embedder, out->mutable_embedder());
  v1::ChunkingConfig* c = out->mutable_chunking();
  if (options.chunker_set) {
    c->set_chunk_tokens(options.chunker.chunk_tokens);
    c->set_overlap_tokens(options.chunker.overlap_tokens);
    c->set_markdown(options.chunker.markdown);
    c->set_tokens(options.chunker.tokens == rag::TokenKind::kWordPiece ? "wordpiece" : "whitespace");
  } else {
    c->Clear();  // the embedder's default chunking
  }
  out->set_embedder_spec(std::string(embedder_spec));
  out->set_text_language(options.text_language);
  out->set_text_indexed(!options.text_language.empty());
}

StatusOr<rag::TextCollectionOptions> FromProto(const v1::TextOptions& options, std::string_view field) {
  const std::string f(field);
  rag::TextCollectionOptions out;
  SEXTANT_ASSIGN_OR_RETURN(out.embedder, FromProto(options.embedder(), f + ".embedder"));
  if (!options.text_language().empty()) out.text_language = options.text_language();
  const v1::ChunkingConfig& c = options.chunking();
  const std::string cf = f + ".chunking";
  const bool local = out.embedder.kind == "local";
  rag::TokenKind tokens = local ? rag::TokenKind::kWordPiece : rag::TokenKind::kWhitespace;
  if (c.tokens() == "whitespace") {
    tokens = rag::TokenKind::kWhitespace;
  } else if (c.tokens() == "wordpiece") {
    if (!local) {
      return Bad(cf + ".tokens", "\"wordpiece\" needs embedder kind \"local\" (its vocabulary sizes the chunks)");
    }
    tokens = rag::TokenKind::kWordPiece;
  } else if (!c.tokens().empty()) {
    return Bad(cf + ".tokens", "\"" + c.tokens() + "\" is not \"whitespace\" or \"wordpiece\"");
  }
  out.chunker_set = c.chunk_tokens() != 0 || c.overlap_tokens() != 0 || c.markdown() || !c.tokens().empty();
  if (out.chunker_set) {
    out.chunker.tokens = tokens;
    out.chunker.markdown = c.markdown();
    out.chunker.chunk_tokens = c.chunk_tokens() != 0 ? c.chunk_tokens()
                               : tokens == rag::TokenKind::kWordPiece ? kLocalChunkTokens
                                                                      : kOtherChunkTokens;
    if (out.chunker.chunk_tokens < 8) {
      return Bad(cf + ".chunk_tokens", std::to_string(out.chunker.chunk_tokens) + " is below 8");
    }
    out.chunker.overlap_tokens = c.overlap_tokens() != 0
                                     ? c.overlap_tokens()
                                     : std::min(kDefaultOverlap, (out.chunker.chunk_tokens - 1) / 2);
    if (out.chunker.overlap_tokens * 2 >= out.chunker.chunk_tokens) {
      return Bad(cf + ".overlap_tokens", std::to_string(out.chunker.overlap_tokens) +
                                             " is not below half of chunk_tokens (" +
                                             std::to_string(out.chunker.chunk_tokens) + ")");
    }
  }
  return out;
}

std::string RecordedEmbedderSpec(std::string_view properties) {
  if (properties.empty()) return "";
  const nlohmann::json props = nlohmann::json::parse(properties, nullptr, /*allow_exceptions=*/false);
  if (!props.is_object()) return "";
  auto text = props.find("sextant.text");
  if (text == props.end() || !text->is_object()) return "";
  auto spec = text->find("embedder_spec");
  return spec != text->end() && spec->is_string() ? spec->get<std::string>() : std::string();
}

void ToProto(const rag::Document& document, v1::Document* out) {
  out->set_id(document.id);
  out->set_text(document.text);
  out->set_metadata(document.metadata);
}

rag::Document FromProto(const v1::Document& document) {
  return rag::Document{document.id(), document.text(), document.metadata()};
}

void ToProto(const rag::Citation& citation, v1::Citation* out) {
  out->set_number(citation.number);
  out->set_document_id(citation.document_id);
  out->set_chunk(citation.chunk);
  out->set_score(citation.score);
  out->set_text(citation.text);
  out->set_begin(citation.begin);
  out->set_end(citation.end);
  out->set_cited(citation.cited);
  if (citation.dense_score) out->set_dense_score(*citation.dense_score);
  if (citation.text_score) out->set_text_score(*citation.text_score);
}

rag::Citation FromProto(const v1::Citation& citation) {
  rag::Citation out;
  out.number = citation.number();
  out.document_id = citation.document_id();
  out.chunk = citation.chunk();
  out.score = citation.score();
  out.text = citation.text();
  out.begin = citation.begin();
  out.end = citation.end();
  out.cited = citation.cited();
  if (citation.has_dense_score()) out.dense_score = citation.dense_score();
  if (citation.has_text_score()) out.text_score = citation.text_score();
  return out;
}

void ToProto(const rag::AskTimings& timings, v1::AskTimings* out) {
  out->set_embed_ms(timings.embed_ms);
  out->set_retrieve_ms(timings.retrieve_ms);
  out->set_generate_ms(timings.generate_ms);
  out->set_total_ms(timings.total_ms);
  out->set_rewrite_ms(timings.rewrite_ms);
  out->set_tools_ms(timings.tools_ms);
}

rag::AskTimings FromProto(const v1::AskTimings& timings) {
  return rag::AskTimings{timings.embed_ms(),   timings.retrieve_ms(), timings.generate_ms(),
                         timings.total_ms(),   timings.rewrite_ms(),  timings.tools_ms()};
}

void ToProto(const rag::Answer& answer, v1::AskAnswer* out) {
  out->set_answer(answer.text);
  for (const rag::Citation& c : answer.citations) ToProto(c, out->add_citations());
  ToProto(answer.timings, out->mutable_timings());
  out->set_generator(answer.generator);
  out->set_embedder_spec(answer.embedder);
  out->set_standalone_question(answer.standalone_question);
  for (const rag::ToolCall& c : answer.tool_calls) ToProto(c, out->add_tool_calls());
  for (const rag::ToolCall& c : answer.pending_calls) ToProto(c, out->add_pending_calls());
  for (const rag::ChatMessage& m : answer.messages) ToProto(m, out->add_messages());
  out->set_finish_reason(answer.finish_reason);
  out->set_tool_rounds(answer.tool_rounds);
  out->set_retrieval(answer.retrieval);
}

rag::Answer FromProto(const v1::AskAnswer& answer) {
  rag::Answer out;
  out.text = answer.answer();
  for (const v1::Citation& c : answer.citations()) out.citations.push_back(FromProto(c));
  out.timings = FromProto(answer.timings());
  out.generator = answer.generator();
  out.embedder = answer.embedder_spec();
  out.standalone_question = answer.standalone_question();
  for (const v1::ToolCall& c : answer.tool_calls()) out.tool_calls.push_back(FromProto(c));
  for (const v1::ToolCall& c : answer.pending_calls()) out.pending_calls.push_back(FromProto(c));
  for (const v1::ChatMessage& m : answer.messages()) out.messages.push_back(FromProto(m));
  out.finish_reason = answer.finish_reason();
  out.tool_rounds = answer.tool_rounds();
  out.retrieval = answer.retrieval();
  return out;
}

void ToProto(const rag::ToolCall& call, v1::ToolCall* out) {
  out->set_id(call.id);
  out->set_name(call.name);
  out->set_arguments(call.arguments);
}

rag::ToolCall FromProto(const v1::ToolCall& call) { return {call.id(), call.name(), call.arguments()}; }

void ToProto(const rag::ChatMessage& message, v1::ChatMessage* out) {
  out->set_role(message.role);
  out->set_content(message.content);
  for (const rag::ToolCall& c : message.tool_calls) ToProto(c, out->add_tool_calls());
  out->set_tool_call_id(message.tool_call_id);
}

void ToProto(const rag::ConversationInfo& info, v1::ConversationInfo* out) {
  out->set_id(info.id);
  out->set_collection(info.collection);
  out->set_messages(info.messages);
  out->set_bytes(info.bytes);
  out->set_created_ms(info.created_ms);
  out->set_updated_ms(info.updated_ms);
}

rag::ChatMessage FromProto(const v1::ChatMessage& message) {
  rag::ChatMessage out{message.role(), message.content(), {}, message.tool_call_id()};
  for (const v1::ToolCall& c : message.tool_calls()) out.tool_calls.push_back(FromProto(c));
  return out;
}

rag::GenerationSettings FromProto(const v1::GenerationSettings& settings) {
  rag::GenerationSettings out;
  if (settings.has_temperature()) out.temperature = settings.temperature();
  if (settings.has_max_tokens()) out.max_tokens = settings.max_tokens();
  out.stop.assign(settings.stop().begin(), settings.stop().end());
  out.model = settings.model();
  if (settings.has_seed()) out.seed = settings.seed();
  return out;
}

void ToProto(const rag::GenerationSettings& settings, v1::GenerationSettings* out) {
  if (settings.temperature) out->set_temperature(*settings.temperature);
  if (settings.max_tokens) out->set_max_tokens(*settings.max_tokens);
  for (const std::string& s : settings.stop) out->add_stop(s);
  out->set_model(settings.model);
  if (settings.seed) out->set_seed(*settings.seed);
}

rag::FunctionDefinition FromProto(const v1::FunctionDefinition& function) {
  rag::FunctionDefinition out;
  out.name = function.name();
  out.description = function.description();
  if (!function.parameters().empty()) out.parameters = function.parameters();
  return out;
}

void ToProto(const SnapshotInfo& info, v1::SnapshotInfo* out) {
  out->set_name(info.name);
  out->set_scope(info.scope);
  for (const SnapshotCollection& c : info.collections) {
    v1::SnapshotCollection* pc = out->add_collections();
    pc->set_name(c.name);
    pc->set_dimension(c.dimension);
    pc->set_metric(ToProto(c.metric));
    pc->set_index(c.index);
    pc->set_count(c.count);
    pc->set_index_checkpoint(c.has_index_checkpoint);
  }
  out->set_sequence(info.sequence);
  out->set_created_ms(info.created_ms);
  out->set_bytes(info.bytes);
  out->set_files(info.files);
  out->set_format_version(info.format_version);
  out->set_sextant_version(info.sextant_version);
}

SnapshotInfo FromProto(const v1::SnapshotInfo& info) {
  SnapshotInfo out;
  out.name = info.name();
  out.scope = info.scope();
  for (const v1::SnapshotCollection& pc : info.collections()) {
    SnapshotCollection c;
    c.name = pc.name();
    c.dimension = pc.dimension();
    auto metric = FromProto(pc.metric(), "metric");
    if (metric.ok()) c.metric = *metric;
    c.index = pc.index();
    c.count = pc.count();
    c.has_index_checkpoint = pc.index_checkpoint();
    out.collections.push_back(std::move(c));
  }
  out.sequence = info.sequence();
  out.created_ms = info.created_ms();
  out.bytes = info.bytes();
  out.files = info.files();
  out.format_version = info.format_version();
  out.sextant_version = info.sextant_version();
  return out;
}

}  // namespace sextant::convert
