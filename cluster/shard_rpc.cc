#include "cluster/shard_rpc.h"

namespace sextant::cluster {

using nlohmann::json;

std::string RpcSubject(const std::string& node_id) { return "sx.rpc." + node_id; }

json HeaderToJson(const ShardReadHeader& h) {
  return {{"c", h.collection}, {"cu", h.created_us}, {"s", h.shard}, {"min", h.min_sequence}, {"t", h.timeout_ms}};
}

ShardReadHeader HeaderFromJson(const json& j) {
  ShardReadHeader h;
  h.collection = j.at("c").get<std::string>();
  h.created_us = j.at("cu").get<uint64_t>();
  h.shard = j.at("s").get<uint32_t>();
  h.min_sequence = j.at("min").get<uint64_t>();
  h.timeout_ms = j.at("t").get<int64_t>();
  return h;
}

json IdToJson(const PointId& id) {
  if (id.is_number()) return {{"n", id.number()}};
  return {{"s", json::binary_t(std::vector<uint8_t>(id.str().begin(), id.str().end()))}};
}

PointId IdFromJson(const json& j) {
  if (j.contains("n")) return PointId(j.at("n").get<uint64_t>());
  const auto& b = j.at("s").get_binary();
  return PointId(std::string(b.begin(), b.end()));
}

namespace {
json Text(const std::string& s) { return json::binary_t(std::vector<uint8_t>(s.begin(), s.end())); }
std::string FromText(const json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}
}  // namespace

json SearchOptionsToJson(const SearchOptions& o) {
  json j = {{"k", o.k},
          {"filter", Text(o.filter)},
          {"with_payload", o.with_payload},
          {"with_vector", o.with_vector},
          {"ef_search", o.ef_search},
          {"nprobe", o.nprobe},
          {"exact", o.exact},
          {"text", Text(o.text)},
          {"text_fields", o.text_fields},
          {"fusion", static_cast<int>(o.fusion)},
          {"rrf_k", o.rrf_k},
          {"dense_weight", o.dense_weight},
          {"text_weight", o.text_weight},
          {"candidates", o.candidates},
          {"max_result_bytes", o.max_result_bytes},
          {"payload_include", o.payload_include},
          {"payload_exclude", o.payload_exclude},
          {"group_by", o.group_by},
          {"group_size", o.group_size},
          {"mmr", o.mmr},
          {"mmr_lambda", o.mmr_lambda}};
  if (o.score_threshold) j["threshold"] = *o.score_threshold;
  return j;
}

SearchOptions SearchOptionsFromJson(const json& j) {
  SearchOptions o;
  o.k = j.at("k").get<uint32_t>();
  o.filter = FromText(j.at("filter"));
  o.with_payload = j.at("with_payload").get<bool>();
  o.with_vector = j.at("with_vector").get<bool>();
  o.ef_search = j.at("ef_search").get<uint32_t>();
  o.nprobe = j.at("nprobe").get<uint32_t>();
  o.exact = j.at("exact").get<bool>();
  o.text = FromText(j.at("text"));
  o.text_fields = j.at("text_fields").get<std::vector<std::string>>();
  o.fusion = static_cast<Fusion>(j.at("fusion").get<int>());
  o.rrf_k = j.at("rrf_k").get<uint32_t>();
  o.dense_weight = j.at("dense_weight").get<float>();
  o.text_weight = j.at("text_weight").get<float>();
  o.candidates = j.at("candidates").get<uint32_t>();
  o.max_result_bytes = j.at("max_result_bytes").get<size_t>();
  o.payload_include = j.at("payload_include").get<std::vector<std::string>>();
  o.payload_exclude = j.at("payload_exclude").get<std::vector<std::string>>();
  o.group_by = j.at("group_by").get<std::string>();
  o.group_size = j.at("group_size").get<uint32_t>();
  o.mmr = j.at("mmr").get<bool>();
  o.mmr_lambda = j.at("mmr_lambda").get<float>();
  if (j.contains("threshold")) o.score_threshold = j.at("threshold").get<float>();
  return o;
}

json HitToJson(const Hit& h) {
  json j = {{"id", IdToJson(h.id)}, {"score", h.score}, {"payload", Text(h.payload)}, {"vector", h.vector}};
  if (h.dense_score) j["dense"] = *h.dense_score;
  if (h.text_score) j["textscore"] = *h.text_score;
  if (!h.group.empty()) j["group"] = Text(h.group);
  return j;
}

Hit HitFromJson(const json& j) {
  Hit h;
  h.id = IdFromJson(j.at("id"));
  h.score = j.at("score").get<float>();
  h.payload = FromText(j.at("payload"));
  h.vector = j.at("vector").get<std::vector<float>>();
  if (j.contains("dense")) h.dense_score = j.at("dense").get<float>();
  if (j.contains("textscore")) h.text_score = j.at("textscore").get<float>();
  if (j.contains("group")) h.group = FromText(j.at("group"));
  return h;
}

json PointToJson(const Point& p) {
  return {{"id", IdToJson(p.id)}, {"vector", p.vector}, {"payload", Text(p.payload)}};
}

Point PointFromJson(const json& j) {
  Point p;
  p.id = IdFromJson(j.at("id"));
  p.vector = j.at("vector").get<std::vector<float>>();
  p.payload = FromText(j.at("payload"));
  return p;
}

json PlanToJson(const SearchPlan& p) {
  return {{"kind", static_cast<int>(p.kind)}, {"index", p.index}, {"matches", p.matches},
          {"ffi", p.filter_from_index}, {"dc", p.distance_computations}, {"effort", p.effort}};
}

SearchPlan PlanFromJson(const json& j) {
  SearchPlan p;
  p.kind = static_cast<SearchPlan::Kind>(j.at("kind").get<int>());
  p.index = j.at("index").get<std::string>();
  p.matches = j.at("matches").get<uint64_t>();
  p.filter_from_index = j.at("ffi").get<bool>();
  p.distance_computations = j.at("dc").get<uint64_t>();
  p.effort = j.at("effort").get<uint32_t>();
  return p;
}

json ScanOptionsToJson(const ScanOptions& o) {
  return {{"limit", o.limit}, {"cursor", Text(o.cursor)}, {"filter", Text(o.filter)},
          {"max_page_bytes", o.max_page_bytes}, {"with_vector", o.with_vector}};
}

ScanOptions ScanOptionsFromJson(const json& j) {
  ScanOptions o;
  o.limit = j.at("limit").get<uint32_t>();
  o.cursor = FromText(j.at("cursor"));
  o.filter = FromText(j.at("filter"));
  o.max_page_bytes = j.at("max_page_bytes").get<size_t>();
  o.with_vector = j.at("with_vector").get<bool>();
  return o;
}

json StatusToJson(const Status& s) {
  return {{"code", static_cast<int>(s.code())}, {"message", std::string(s.message())}};
}

Status StatusFromJson(const json& j) {
  int code = j.at("code").get<int>();
  if (code == 0) return Status::OK();
  return Status(static_cast<StatusCode>(code), j.at("message").get<std::string>());
}

}  // namespace sextant::cluster
