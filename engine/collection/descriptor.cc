#include "collection/descriptor.h"

#include <nlohmann/json.hpp>

namespace sextant {
namespace {

std::string_view IndexTypeName(IndexType t) {
  switch (t) {
    case IndexType::kFlat: return "flat";
    case IndexType::kHnsw: return "hnsw";
    case IndexType::kIvf: return "ivf";
  }
  return "flat";
}

std::string_view QuantizerName(QuantizerType q) {
  switch (q) {
    case QuantizerType::kNone: return "none";
    case QuantizerType::kSq8: return "sq8";
    case QuantizerType::kPq: return "pq";
  }
  return "none";
}

}  // namespace

std::string DescriptorKey(std::string_view name) { return std::string(kDescriptorKeyPrefix) + std::string(name); }

std::string_view PayloadFieldTypeName(PayloadFieldType type) {
  switch (type) {
    case PayloadFieldType::kKeyword: return "keyword";
    case PayloadFieldType::kInteger: return "integer";
    case PayloadFieldType::kFloat: return "float";
    case PayloadFieldType::kBool: return "bool";
  }
  return "keyword";
}

StatusOr<PayloadFieldType> ParsePayloadFieldType(std::string_view name) {
  if (name == "keyword" || name == "string") return PayloadFieldType::kKeyword;
  if (name == "integer" || name == "int") return PayloadFieldType::kInteger;
  if (name == "float" || name == "number") return PayloadFieldType::kFloat;
  if (name == "bool" || name == "boolean") return PayloadFieldType::kBool;
  return Status::InvalidArgument("payload index type '" + std::string(name) +
                                 "' is not one of keyword, integer, float, bool");
}

std::string EncodeDescriptor(const CollectionDescriptor& d) {
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& f : d.payload_indexes) {
    fields.push_back({{"field", f.field}, {"type", std::string(PayloadFieldTypeName(f.type))}});
  }
  const IndexOptions& i = d.index;
  nlohmann::json j = {{"id", d.id},
                      {"name", d.name},
                      {"dimension", d.dimension},
                      {"metric", std::string(MetricName(d.metric))},
                      {"index",
                       {{"type", std::string(IndexTypeName(i.type))},
                        {"quantizer", std::string(QuantizerName(i.quantizer))},
                        {"m", i.m},
                        {"ef_construction", i.ef_construction},
                        {"ef_search", i.ef_search},
                        {"nlist", i.nlist},
                        {"nprobe", i.nprobe},
                        {"pq_m", i.pq_m}}},
                      {"payload_indexes", fields}};
  if (!d.text_fields.empty()) {
    nlohmann::json text = nlohmann::json::array();
    for (const auto& f : d.text_fields) {
      text.push_back({{"field", f.field}, {"language", f.language}, {"stemming", f.stemming}, {"stop_words", f.stop_words}});
    }
    j["text_fields"] = text;
  }
  if (!d.properties.empty()) j["properties"] = nlohmann::json::parse(d.properties);
  return j.dump();
}

StatusOr<CollectionDescriptor> DecodeDescriptor(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto corrupt = [&](std::string_view why) {
    return Status::DataLoss("corrupt collection descriptor (" + std::string(why) +
                            "): " + std::string(text.substr(0, 200)));
  };
  if (!j.is_object() || !j["id"].is_number_unsigned() || !j["name"].is_string() ||
      !j["dimension"].is_number_unsigned() || !j["metric"].is_string()) {
    return corrupt("missing fields");
  }
  CollectionDescriptor d;
  d.id = j["id"].get<uint32_t>();
  d.name = j["name"].get<std::string>();
  d.dimension = j["dimension"].get<uint32_t>();
  auto metric = ParseMetric(j["metric"].get<std::string>());
  if (!metric.ok() || d.dimension == 0 || d.dimension > CollectionOptions::kMaxDimension) return corrupt("metric or dimension");
  d.metric = *metric;
  // Descriptors written before indexes existed have neither key: Flat, no payload indexes.
  if (j.contains("index")) {
    const auto& i = j["index"];
    if (!i.is_object()) return corrupt("index");
    auto u32 = [&](const char* key, uint32_t* out) {
      if (i.contains(key) && i[key].is_number_unsigned()) *out = i[key].get<uint32_t>();
    };
    const std::string type = i.value("type", "flat"), quantizer = i.value("quantizer", "none");
    d.index.type = type == "hnsw" ? IndexType::kHnsw : type == "ivf" ? IndexType::kIvf : IndexType::kFlat;
    d.index.quantizer = quantizer == "sq8" ? QuantizerType::kSq8 : quantizer == "pq" ? QuantizerType::kPq : QuantizerType::kNone;
    u32("m", &d.index.m);
    u32("ef_construction", &d.index.ef_construction);
    u32("ef_search", &d.index.ef_search);
    u32("nlist", &d.index.nlist);
    u32("nprobe", &d.index.nprobe);
    u32("pq_m", &d.index.pq_m);
    if (!d.index.Validate(d.dimension).ok()) return corrupt("index options");
  }
  if (j.contains("payload_indexes")) {
    if (!j["payload_indexes"].is_array()) return corrupt("payload_indexes");
    for (const auto& f : j["payload_indexes"]) {
      if (!f.is_object() || !f["field"].is_string() || !f["type"].is_string()) return corrupt("payload index");
      auto type = ParsePayloadFieldType(f["type"].get<std::string>());
      if (!type.ok()) return corrupt("payload index type");
      d.payload_indexes.push_back({f["field"].get<std::string>(), *type});
    }
  }
  if (j.contains("text_fields")) {
    if (!j["text_fields"].is_array()) return corrupt("text_fields");
    for (const auto& f : j["text_fields"]) {
      if (!f.is_object() || !f["field"].is_string() || !f["language"].is_string() || !f["stemming"].is_boolean() ||
          !f["stop_words"].is_boolean()) {
        return corrupt("text field");
      }
      d.text_fields.push_back({f["field"].get<std::string>(), f["language"].get<std::string>(),
                               f["stemming"].get<bool>(), f["stop_words"].get<bool>()});
    }
  }
  if (j.contains("properties")) {
    if (!j["properties"].is_object()) return corrupt("properties");
    d.properties = j["properties"].dump();
  }
  return d;
}

}  // namespace sextant
