// CollectionImpl's reads of many points and updates that keep the vector or the payload:
// GetMany, CountWhere, SetPayload / OverwritePayload / DeletePayloadKeys (one atomic batch of
// payload, payload index and full-text index changes; the vector index is untouched) and UpdateVectors (the
// write path with every payload kept, collection_write.cc).
#include <algorithm>
#include <unordered_set>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "payload/filter.h"
#include "payload/payload.h"
#include "payload/payload_edit.h"

namespace sextant {

using storage::Cf;
using collection_internal::Guarded;
using collection_internal::PointLabel;
using collection_internal::ValidateId;

StatusOr<std::vector<std::optional<Point>>> CollectionImpl::GetMany(std::span<const PointId> ids) const {
  return Guarded("get", [&]() -> StatusOr<std::vector<std::optional<Point>>> {
    for (size_t i = 0; i < ids.size(); ++i) {
      SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i]).WithPrefix("get: " + PointLabel(i, ids[i])));
    }
    std::vector<std::optional<Point>> out(ids.size());
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = id_slot_.find(storage::EncodeId(ids[i]));
      if (it == id_slot_.end()) continue;
      Point p;
      p.id = ids[i];
      const float* v = store_.Row(it->second);
      p.vector.assign(v, v + desc_.dimension);
      SEXTANT_ASSIGN_OR_RETURN(p.payload, ReadPayload(it->second));
      out[i] = std::move(p);
    }
    return out;
  });
}

StatusOr<uint64_t> CollectionImpl::CountWhere(std::string_view filter_text) const {
  return Guarded("count", [&]() -> StatusOr<uint64_t> {
    std::optional<payload::Filter> filter;
    if (!filter_text.empty()) {
      auto parsed = payload::Filter::Parse(filter_text);
      if (!parsed.ok()) return parsed.status().WithPrefix("count: filter");
      if (!parsed->MatchesAll()) filter = std::move(*parsed);
    }
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    return m.count;
  });
}

StatusOr<uint64_t> CollectionImpl::EditPayloads(const WriteOptions& options, const PointSelector& points,
                                                std::string_view what, const std::function<void(nlohmann::json*)>& edit) {
  const std::string op(what);
  std::optional<payload::Filter> filter;
  std::vector<std::string> encoded;
  if (points.by_filter) {
    if (points.filter.empty()) {
      return Status::InvalidArgument(op + ": filter is empty (use {} to select every point)");
    }
    auto parsed = payload::Filter::Parse(points.filter);
    if (!parsed.ok()) return parsed.status().WithPrefix(op + ": filter");
    if (!parsed->MatchesAll()) filter = std::move(*parsed);
  } else {
    encoded.reserve(points.ids.size());
    for (size_t i = 0; i < points.ids.size(); ++i) {
      SEXTANT_RETURN_IF_ERROR(ValidateId(points.ids[i]).WithPrefix(op + ": " + PointLabel(i, points.ids[i])));
      encoded.push_back(storage::EncodeId(points.ids[i]));
    }
  }

  // Exclusive from selecting the points to the commit, so no write slips in between.
  internal::WriterLock<internal::RwMutex> lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  std::vector<uint32_t> slots;
  if (points.by_filter) {
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    slots.reserve(m.count);
    for (uint32_t s = 0; s < slots_; ++s) {
      if (m.mask[s] && live_[s]) slots.push_back(s);
    }
  } else {
    std::unordered_set<uint32_t> seen;
    for (size_t i = 0; i < encoded.size(); ++i) {
      auto it = id_slot_.find(encoded[i]);
      if (it == id_slot_.end()) {
        return Status::NotFound(op + ": " + PointLabel(i, points.ids[i]) + " not found in collection " + desc_.name);
      }
      if (seen.insert(it->second).second) slots.push_back(it->second);
    }
  }
  if (slots.empty()) return uint64_t{0};

  // Compute every new payload and its index entries before writing anything.
  std::vector<std::string> texts(slots.size());
  std::vector<std::vector<std::string>> entries(slots.size());
  std::vector<text::DocTerms> docs(text_index_ ? slots.size() : 0);
  for (size_t j = 0; j < slots.size(); ++j) {
    SEXTANT_ASSIGN_OR_RETURN(std::string stored, ReadPayload(slots[j]));
    nlohmann::json value = payload::ParseStored(stored);
    edit(&value);
    texts[j] = value.dump();
    auto label = [&]() SEXTANT_REQUIRES(mu_) {
      auto id = storage::DecodeId(slot_ids_[slots[j]]);
      return op + ": point " + (id.ok() ? id->ToString() : std::string("?"));
    };
    if (texts[j].size() > env_.limits.max_payload_bytes) {
      return Status::InvalidArgument(label() + ": payload is " + std::to_string(texts[j].size()) +
                                     " bytes, over the limit of " + std::to_string(env_.limits.max_payload_bytes));
    }
    if (payload_index_) {
      SEXTANT_RETURN_IF_ERROR(payload_index_->Check(value).WithPrefix(label() + ": payload"));
      entries[j] = payload_index_->Entries(value);
      std::sort(entries[j].begin(), entries[j].end());
    }
    if (text_index_) {
      // The full-text index follows the edited payload (an edit may add, change or drop text).
      SEXTANT_RETURN_IF_ERROR(text_index_->Check(value).WithPrefix(label() + ": payload"));
      docs[j] = text_index_->Analyze(value);
    }
  }

  storage::Batch batch;
  for (size_t j = 0; j < slots.size(); ++j) {
    const std::string slot_key = storage::SlotKey(desc_.id, slots[j]);
    if (texts[j] == "{}") {
      batch.Delete(Cf::kPayloads, slot_key);
    } else {
      batch.Put(Cf::kPayloads, slot_key, texts[j]);
    }
    if (payload_index_) {
      const std::vector<std::string>& old = payload_index_->EntriesOf(slots[j]);  // sorted
      for (const std::string& e : old) {
        if (!std::binary_search(entries[j].begin(), entries[j].end(), e)) {
          batch.Delete(Cf::kPayloadIndex, PayloadIndexKey(e, slots[j]));
        }
      }
      for (const std::string& e : entries[j]) {
        if (!std::binary_search(old.begin(), old.end(), e)) batch.Put(Cf::kPayloadIndex, PayloadIndexKey(e, slots[j]), "");
      }
    }
    if (text_index_) {
      if (docs[j].empty()) {
        batch.Delete(Cf::kText, slot_key);
      } else {
        batch.Put(Cf::kText, slot_key, text::EncodeDocTerms(docs[j]));
      }
    }
  }
  SEXTANT_RETURN_IF_ERROR(env_.storage->Write(batch, options.sync).WithPrefix(op));
  if (payload_index_) {
    for (size_t j = 0; j < slots.size(); ++j) payload_index_->Set(slots[j], std::move(entries[j]));
    ChargeData();
  }
  if (text_index_) {
    for (size_t j = 0; j < slots.size(); ++j) text_index_->Set(slots[j], docs[j]);
  }
  return uint64_t{slots.size()};
}

StatusOr<uint64_t> CollectionImpl::SetPayload(const WriteOptions& options, const PointSelector& points,
                                              std::string_view payload_text) {
  return Guarded("set_payload", [&]() -> StatusOr<uint64_t> {
    std::string compact;
    SEXTANT_RETURN_IF_ERROR(payload::ValidatePayload(payload_text, env_.limits.max_payload_bytes, &compact)
                                .WithPrefix("set_payload: payload"));
    const nlohmann::json update = payload::ParseStored(compact);
    return EditPayloads(options, points, "set_payload",
                        [&](nlohmann::json* value) { payload::MergeTopLevel(value, update); });
  });
}

StatusOr<uint64_t> CollectionImpl::OverwritePayload(const WriteOptions& options, const PointSelector& points,
                                                    std::string_view payload_text) {
  return Guarded("overwrite_payload", [&]() -> StatusOr<uint64_t> {
    std::string compact;
    SEXTANT_RETURN_IF_ERROR(payload::ValidatePayload(payload_text, env_.limits.max_payload_bytes, &compact)
                                .WithPrefix("overwrite_payload: payload"));
    const nlohmann::json replacement = payload::ParseStored(compact);
    return EditPayloads(options, points, "overwrite_payload", [&](nlohmann::json* value) { *value = replacement; });
  });
}

StatusOr<uint64_t> CollectionImpl::DeletePayloadKeys(const WriteOptions& options, const PointSelector& points,
                                                     std::span<const std::string> keys) {
  return Guarded("delete_payload_keys", [&]() -> StatusOr<uint64_t> {
    if (keys.empty()) return Status::InvalidArgument("delete_payload_keys: keys is empty");
    std::vector<std::string> paths(keys.begin(), keys.end());
    SEXTANT_RETURN_IF_ERROR(payload::ValidatePaths(paths, "keys").WithPrefix("delete_payload_keys"));
    return EditPayloads(options, points, "delete_payload_keys",
                        [&](nlohmann::json* value) { payload::DeletePaths(value, paths); });
  });
}

Status CollectionImpl::UpdateVectors(const WriteOptions& options, std::span<const PointId> ids,
                                     std::span<const float> vectors) {
  return Guarded("update_vectors", [&]() -> Status {
    return WritePoints(options, nullptr, ids, vectors, {}, /*keep_payloads=*/true).status();
  });
}

}  // namespace sextant
