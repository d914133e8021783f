#include "cluster/metadata.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

namespace sextant::cluster {

using nlohmann::json;

namespace {

Status BadSpec(std::string_view what) {
  return Status::DataLoss("malformed cluster collection spec: " + std::string(what));
}

}  // namespace

std::string IndexToJson(const IndexOptions& ix) {
  json j = {{"type", static_cast<int>(ix.type)},       {"quantizer", static_cast<int>(ix.quantizer)},
            {"m", ix.m},                                {"ef_construction", ix.ef_construction},
            {"ef_search", ix.ef_search},                {"nlist", ix.nlist},
            {"nprobe", ix.nprobe},                      {"pq_m", ix.pq_m}};
  return j.dump();
}

StatusOr<IndexOptions> IndexFromJson(std::string_view text) {
  json ix = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (ix.is_discarded() || !ix.is_object()) return Status::InvalidArgument("index options are not a JSON object");
  IndexOptions o;
  try {
    o.type = static_cast<IndexType>(ix.at("type").get<int>());
    o.quantizer = static_cast<QuantizerType>(ix.at("quantizer").get<int>());
    o.m = ix.at("m").get<uint32_t>();
    o.ef_construction = ix.at("ef_construction").get<uint32_t>();
    o.ef_search = ix.at("ef_search").get<uint32_t>();
    o.nlist = ix.at("nlist").get<uint32_t>();
    o.nprobe = ix.at("nprobe").get<uint32_t>();
    o.pq_m = ix.at("pq_m").get<uint32_t>();
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("index options: ") + e.what());
  }
  return o;
}

std::string CollectionSpec::ToJson() const {
  json j;
  j["name"] = name;
  j["dimension"] = options.dimension;
  j["metric"] = std::string(MetricName(options.metric));
  j["index"] = json::parse(IndexToJson(options.index));
  j["payload_indexes"] = json::array();
  for (const auto& p : options.payload_indexes) {
    j["payload_indexes"].push_back({{"field", p.field}, {"type", static_cast<int>(p.type)}});
  }
  j["text_fields"] = json::array();
  for (const auto& t : options.text_fields) {
    j["text_fields"].push_back(
        {{"field", t.field}, {"language", t.language}, {"stemming", t.stemming}, {"stop_words", t.stop_words}});
  }
  j["properties"] = options.properties;
  j["shards"] = shards;
  j["replication"] = replication;
  j["placement"] = placement;
  j["created_us"] = created_us;
  return j.dump();
}

StatusOr<CollectionSpec> CollectionSpec::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return BadSpec("not a JSON object");
  CollectionSpec s;
  try {
    s.name = j.at("name").get<std::string>();
    s.options.dimension = j.at("dimension").get<uint32_t>();
    auto metric = ParseMetric(j.at("metric").get<std::string>());
    if (!metric.ok()) return BadSpec(metric.status().message());
    s.options.metric = *metric;
    auto index = IndexFromJson(j.at("index").dump());
    if (!index.ok()) return BadSpec(index.status().message());
    s.options.index = *index;
    for (const auto& p : j.at("payload_indexes")) {
      s.options.payload_indexes.push_back(
          {p.at("field").get<std::string>(), static_cast<PayloadFieldType>(p.at("type").get<int>())});
    }
    for (const auto& t : j.at("text_fields")) {
      TextFieldOptions tf;
      tf.field = t.at("field").get<std::string>();
      tf.language = t.at("language").get<std::string>();
      tf.stemming = t.at("stemming").get<bool>();
      tf.stop_words = t.at("stop_words").get<bool>();
      s.options.text_fields.push_back(std::move(tf));
    }
    s.options.properties = j.at("properties").get<std::string>();
    s.shards = j.at("shards").get<uint32_t>();
    s.replication = j.at("replication").get<uint32_t>();
    s.placement = j.at("placement").get<std::vector<std::vector<std::string>>>();
    s.created_us = j.at("created_us").get<uint64_t>();
  } catch (const json::exception& e) {
    return BadSpec(e.what());
  }
  if (s.shards == 0 || s.placement.size() != s.shards) return BadSpec("placement does not match shards");
  for (const auto& p : s.placement) {
    if (p.size() != s.replication) return BadSpec("placement does not match replication");
  }
  return s;
}

std::string CollectionSpec::StreamName() const {
  return "SX_" + NatsToken(name) + "_" + std::to_string(created_us);
}

std::string CollectionSpec::Subject(uint32_t shard) const {
  return "sx." + NatsToken(name) + "." + std::to_string(created_us) + "." + std::to_string(shard);
}

StatusOr<std::vector<std::vector<std::string>>> PlaceShards(uint32_t shards, uint32_t replication,
                                                            std::vector<std::string> nodes) {
  if (shards == 0 || shards > 1024) {
    return Status::InvalidArgument("shards must be 1..1024, got " + std::to_string(shards));
  }
  if (replication == 0) return Status::InvalidArgument("replication must be >= 1");
  if (replication > nodes.size()) {
    return Status::InvalidArgument("replication " + std::to_string(replication) + " is larger than the " +
                                   std::to_string(nodes.size()) + " live node(s) of the cluster");
  }
  std::sort(nodes.begin(), nodes.end());
  std::vector<std::vector<std::string>> placement(shards);
  for (uint32_t s = 0; s < shards; ++s) {
    for (uint32_t r = 0; r < replication; ++r) placement[s].push_back(nodes[(s + r) % nodes.size()]);
  }
  return placement;
}

std::string NodeInfo::ToJson() const {
  return json{{"id", id}, {"address", address}, {"started_us", started_us}}.dump();
}

StatusOr<NodeInfo> NodeInfo::FromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::DataLoss("malformed node record");
  NodeInfo n;
  try {
    n.id = j.at("id").get<std::string>();
    n.address = j.at("address").get<std::string>();
    n.started_us = j.at("started_us").get<uint64_t>();
  } catch (const json::exception& e) {
    return Status::DataLoss(std::string("malformed node record: ") + e.what());
  }
  return n;
}

Status ValidateNodeId(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return Status::InvalidArgument("node id must be 1..64 characters, got " + std::to_string(id.size()));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("node id '" + std::string(id) + "' may hold only [A-Za-z0-9_-]");
    }
  }
  return Status::OK();
}

// ---- Catalog

StatusOr<std::unique_ptr<Catalog>> Catalog::Open(NatsClient* nats, bool create) {
  SEXTANT_ASSIGN_OR_RETURN(auto kv, nats->OpenBucket(kCollectionsBucket, create));
  return std::unique_ptr<Catalog>(new Catalog(std::move(kv)));
}

Status Catalog::Create(const CollectionSpec& spec) {
  auto rev = kv_->Create(spec.name, spec.ToJson());
  if (!rev.ok() && rev.status().code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("collection " + spec.name + " already exists");
  }
  return rev.status();
}

StatusOr<CollectionSpec> Catalog::Get(const std::string& name) const {
  SEXTANT_ASSIGN_OR_RETURN(auto entry, kv_->Get(name));
  if (!entry) return Status::NotFound("collection " + name + " not found");
  return CollectionSpec::FromJson(entry->value);
}

Status Catalog::SetIndex(const std::string& name, uint64_t created_us, const IndexOptions& index) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    SEXTANT_ASSIGN_OR_RETURN(auto entry, kv_->Get(name));
    if (!entry) return Status::NotFound("collection " + name + " not found");
    SEXTANT_ASSIGN_OR_RETURN(auto spec, CollectionSpec::FromJson(entry->value));
    if (spec.created_us != created_us) return Status::NotFound("collection " + name + " was dropped");
    spec.options.index = index;
    auto rev = kv_->Update(name, spec.ToJson(), entry->revision);
    if (rev.ok()) return Status::OK();
    if (rev.status().code() != StatusCode::kAborted) return rev.status();  // else: updated meanwhile, again
  }
  return Status::Aborted("collection " + name + ": its definition kept changing; try again");
}

Status Catalog::Drop(const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto entry, kv_->Get(name));
  if (!entry) return Status::NotFound("collection " + name + " not found");
  return kv_->Delete(name);
}

StatusOr<std::vector<CollectionSpec>> Catalog::List() const {
  SEXTANT_ASSIGN_OR_RETURN(auto keys, kv_->Keys());
  std::vector<CollectionSpec> out;
  for (const auto& k : keys) {
    auto spec = Get(k);
    if (spec.status().code() == StatusCode::kNotFound) continue;  // dropped meanwhile
    if (!spec.ok()) return spec.status();
    out.push_back(std::move(*spec));
  }
  return out;
}

// ---- Membership

StatusOr<std::unique_ptr<Membership>> Membership::Open(NatsClient* nats, int64_t ttl_ms, bool create) {
  if (ttl_ms < 100) return Status::InvalidArgument("heartbeat TTL must be >= 100 ms");
  SEXTANT_ASSIGN_OR_RETURN(auto kv, nats->OpenBucket(kNodesBucket, create, ttl_ms));
  return std::unique_ptr<Membership>(new Membership(std::move(kv), ttl_ms));
}

Status Membership::Heartbeat(const NodeInfo& self) { return kv_->Put(self.id, self.ToJson()).status(); }

Status Membership::Leave(const std::string& node_id) { return kv_->Delete(node_id); }

StatusOr<std::vector<NodeInfo>> Membership::LiveNodes() const {
  SEXTANT_ASSIGN_OR_RETURN(auto keys, kv_->Keys());
  std::vector<NodeInfo> out;
  for (const auto& k : keys) {
    SEXTANT_ASSIGN_OR_RETURN(auto entry, kv_->Get(k));
    if (!entry) continue;  // expired meanwhile
    SEXTANT_ASSIGN_OR_RETURN(auto info, NodeInfo::FromJson(entry->value));
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace sextant::cluster
