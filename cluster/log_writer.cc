#include "cluster/log_writer.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cluster/replica.h"
#include "cluster/shard.h"

namespace sextant::cluster {

namespace {

Status ValidateId(const PointId& id, size_t i) {
  if (id.is_string()) {
    if (id.str().empty() || id.str().size() > PointId::kMaxIdBytes) {
      return Status::InvalidArgument("point " + std::to_string(i) + ": id must be 1.." +
                                     std::to_string(PointId::kMaxIdBytes) + " bytes");
    }
    if (IsReservedId(id)) {
      return Status::InvalidArgument("point " + std::to_string(i) + ": ids starting with a NUL byte are reserved in cluster mode");
    }
  }
  return Status::OK();
}

// Ids and vectors of an upsert or update_vectors: InvalidArgument naming the point.
Status ValidateVectors(const CollectionSpec& spec, std::span<const PointId> ids, std::span<const float> vectors) {
  const uint32_t dim = spec.options.dimension;
  for (size_t i = 0; i < ids.size(); ++i) {
    SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i], i));
    double norm2 = 0;
    for (uint32_t d = 0; d < dim; ++d) {
      float v = vectors[i * dim + d];
      if (!std::isfinite(v)) {
        return Status::InvalidArgument("point " + std::to_string(i) + " (id " + ids[i].ToString() +
                                       "): vector component " + std::to_string(d) + " is not finite");
      }
      norm2 += double{v} * v;
    }
    if (std::sqrt(norm2) > CollectionOptions::kMaxVectorNorm) {
      return Status::InvalidArgument("point " + std::to_string(i) + " (id " + ids[i].ToString() + "): vector norm too large");
    }
    if (spec.options.metric == Metric::kCosine && norm2 == 0) {
      return Status::InvalidArgument("point " + std::to_string(i) + " (id " + ids[i].ToString() +
                                     "): zero vector in a cosine collection");
    }
  }
  return Status::OK();
}

}  // namespace

LogWriter::LogWriter(NatsClient* nats, std::string node_id, size_t max_message_bytes)
    : nats_(nats), node_id_(std::move(node_id)), max_message_bytes_(max_message_bytes) {
  if (max_message_bytes_ == 0) {
    int64_t mp = nats_->max_payload();
    max_message_bytes_ = mp > 4096 ? static_cast<size_t>(mp - 1024) : 1024;  // room for the headers
  }
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  instance_ = buf;
}

std::string LogWriter::NextMsgId() {
  return node_id_ + "-" + instance_ + "-" + std::to_string(counter_.fetch_add(1));
}

Status LogWriter::CreateStream(const CollectionSpec& spec) {
  std::vector<std::string> subjects;
  for (uint32_t s = 0; s < spec.shards; ++s) subjects.push_back(spec.Subject(s));
  return nats_->EnsureStream(spec.StreamName(), subjects, /*dedupe_ms=*/2 * 60 * 1000);
}

Status LogWriter::DeleteStream(const CollectionSpec& spec) {
  Status st = nats_->DeleteStream(spec.StreamName());
  return st.code() == StatusCode::kNotFound ? Status::OK() : st;
}

StatusOr<ShardSequences> LogWriter::PublishPerShard(const CollectionSpec& spec, std::vector<WriteMessage>& per_shard) {
  ShardSequences seqs(spec.shards, 0);
  for (uint32_t s = 0; s < spec.shards; ++s) {
    WriteMessage& m = per_shard[s];
    const bool every_shard = m.ToEveryShard();
    if (!every_shard && m.ids.empty()) continue;
    SEXTANT_ASSIGN_OR_RETURN(auto parts, SplitWriteMessage(std::move(m), max_message_bytes_));
    for (const auto& part : parts) {
      SEXTANT_ASSIGN_OR_RETURN(auto ack, nats_->Publish(spec.Subject(s), EncodeWriteMessage(part), NextMsgId()));
      seqs[s] = ack.sequence;
    }
  }
  return seqs;
}

StatusOr<ShardSequences> LogWriter::Upsert(const CollectionSpec& spec, std::span<const PointId> ids,
                                           std::span<const float> vectors, std::span<const std::string> payloads) {
  const uint32_t dim = spec.options.dimension;
  if (ids.empty()) return Status::InvalidArgument("empty upsert: no points");
  if (vectors.size() != ids.size() * dim) {
    return Status::InvalidArgument("upsert of " + std::to_string(ids.size()) + " points of dimension " +
                                   std::to_string(dim) + " needs " + std::to_string(ids.size() * dim) +
                                   " floats, got " + std::to_string(vectors.size()));
  }
  if (!payloads.empty() && payloads.size() != ids.size()) {
    return Status::InvalidArgument("upsert of " + std::to_string(ids.size()) + " points with " +
                                   std::to_string(payloads.size()) + " payloads");
  }
  SEXTANT_RETURN_IF_ERROR(ValidateVectors(spec, ids, vectors));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!payloads.empty() && !payloads[i].empty()) {
      auto j = nlohmann::json::parse(payloads[i], nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        return Status::InvalidArgument("point " + std::to_string(i) + " (id " + ids[i].ToString() +
                                       "): payload is not a JSON object");
      }
      if (j.contains(kMarkerKey)) {
        return Status::InvalidArgument("point " + std::to_string(i) + " (id " + ids[i].ToString() + "): payload key " +
                                       kMarkerKey + " is reserved in cluster mode");
      }
    }
  }
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) {
    m.kind = WriteMessage::Kind::kUpsert;
    m.dimension = dim;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    WriteMessage& m = per_shard[ShardOf(ids[i], spec.shards)];
    m.ids.push_back(ids[i]);
    m.vectors.insert(m.vectors.end(), vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
    if (!payloads.empty()) {
      m.payloads.push_back(payloads[i]);
    }
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::Delete(const CollectionSpec& spec, std::span<const PointId> ids) {
  if (ids.empty()) return Status::InvalidArgument("empty delete: no ids");
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) m.kind = WriteMessage::Kind::kDelete;
  for (size_t i = 0; i < ids.size(); ++i) {
    SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i], i));
    per_shard[ShardOf(ids[i], spec.shards)].ids.push_back(ids[i]);
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::DeleteWhere(const CollectionSpec& spec, std::string_view filter) {
  if (filter.empty()) return Status::InvalidArgument("delete by filter needs a filter (use {} to delete every point)");
  auto j = nlohmann::json::parse(filter, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("filter is not a JSON object");
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) {
    m.kind = WriteMessage::Kind::kDeleteWhere;
    m.filter = std::string(filter);
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::UpdateVectors(const CollectionSpec& spec, std::span<const PointId> ids,
                                                  std::span<const float> vectors) {
  const uint32_t dim = spec.options.dimension;
  if (ids.empty()) return Status::InvalidArgument("empty vector update: no ids");
  if (vectors.size() != ids.size() * dim) {
    return Status::InvalidArgument("vector update of " + std::to_string(ids.size()) + " points of dimension " +
                                   std::to_string(dim) + " needs " + std::to_string(ids.size() * dim) +
                                   " floats, got " + std::to_string(vectors.size()));
  }
  SEXTANT_RETURN_IF_ERROR(ValidateVectors(spec, ids, vectors));
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) {
    m.kind = WriteMessage::Kind::kUpdateVectors;
    m.dimension = dim;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    WriteMessage& m = per_shard[ShardOf(ids[i], spec.shards)];
    m.ids.push_back(ids[i]);
    m.vectors.insert(m.vectors.end(), vectors.begin() + i * dim, vectors.begin() + (i + 1) * dim);
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::UpdatePayload(const CollectionSpec& spec, WriteMessage::Kind kind,
                                                  const PointSelector& selector, std::string_view payload,
                                                  std::span<const std::string> keys) {
  WriteMessage proto;
  proto.kind = kind;
  if (!proto.IsPayloadKind()) return Status::InvalidArgument("not a payload update");
  if (kind == WriteMessage::Kind::kDeletePayloadKeys) {
    if (keys.empty()) return Status::InvalidArgument("delete payload keys: no keys");
    for (const auto& k : keys) {
      if (k.empty()) return Status::InvalidArgument("delete payload keys: an empty key");
    }
    proto.keys.assign(keys.begin(), keys.end());
  } else {
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("payload is not a JSON object");
    if (j.contains(kMarkerKey)) {
      return Status::InvalidArgument(std::string("payload key ") + kMarkerKey + " is reserved in cluster mode");
    }
    proto.payload = std::string(payload);
  }
  std::vector<WriteMessage> per_shard(spec.shards, proto);
  if (selector.by_filter) {
    if (selector.filter.empty()) return Status::InvalidArgument("a payload update by filter needs a filter ({} selects every point)");
    auto f = nlohmann::json::parse(selector.filter, nullptr, false);
    if (f.is_discarded() || !f.is_object()) return Status::InvalidArgument("filter is not a JSON object");
    for (auto& m : per_shard) {
      m.by_filter = true;
      m.filter = selector.filter;
    }
  } else {
    if (selector.ids.empty()) return Status::InvalidArgument("a payload update by ids needs ids");
    for (size_t i = 0; i < selector.ids.size(); ++i) {
      SEXTANT_RETURN_IF_ERROR(ValidateId(selector.ids[i], i));
      per_shard[ShardOf(selector.ids[i], spec.shards)].ids.push_back(selector.ids[i]);
    }
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::SetIndex(const CollectionSpec& spec, const IndexOptions& index) {
  SEXTANT_RETURN_IF_ERROR(index.Validate(spec.options.dimension));
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) {
    m.kind = WriteMessage::Kind::kSetIndex;
    m.index = IndexToJson(index);
  }
  return PublishPerShard(spec, per_shard);
}

StatusOr<ShardSequences> LogWriter::RebuildIndex(const CollectionSpec& spec) {
  std::vector<WriteMessage> per_shard(spec.shards);
  for (auto& m : per_shard) m.kind = WriteMessage::Kind::kRebuildIndex;
  return PublishPerShard(spec, per_shard);
}

}  // namespace sextant::cluster
