// SalvageCollection (repair.h): one pass over each family of the collection, then one batch.
#include "collection/repair.h"

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "payload/payload.h"
#include "payload/payload_index.h"
#include "text/text_index.h"
#include "util/coding.h"

namespace sextant {

using storage::Cf;

StatusOr<RepairReport> SalvageCollection(storage::Storage* storage, const CollectionDescriptor& d) {
  const std::string prefix = storage::CollectionPrefix(d.id);
  const std::string end = storage::CollectionPrefix(d.id + 1);
  const size_t vector_bytes = size_t{d.dimension} * sizeof(float);
  RepairReport report;
  storage::Batch batch;

  // Ids: slot -> the encoded id that keeps it (the first in key order).
  std::map<uint32_t, std::string> ids;
  SEXTANT_RETURN_IF_ERROR(storage->Scan(Cf::kIds, prefix, end, [&](std::string_view k, std::string_view v) {
    if (v.size() != 4 || k.size() <= prefix.size()) {
      batch.Delete(Cf::kIds, k);
      ++report.records_removed;
      return true;
    }
    const uint32_t slot = internal::DecodeFixed32LE(v.data());
    if (!ids.emplace(slot, std::string(k.substr(prefix.size()))).second) {
      batch.Delete(Cf::kIds, k);  // a second id for a slot: its own vector is lost
      ++report.points_removed;
    }
    return true;
  }));

  // Vectors: keep those of a known id with the right size.
  std::set<uint32_t> with_vector;
  SEXTANT_RETURN_IF_ERROR(storage->Scan(Cf::kVectors, prefix, end, [&](std::string_view k, std::string_view v) {
    if (k.size() != prefix.size() + 4) {
      batch.Delete(Cf::kVectors, k);
      ++report.records_removed;
      return true;
    }
    const uint32_t slot = internal::DecodeFixed32BE(k.data() + prefix.size());
    if (!ids.count(slot)) {
      batch.Delete(Cf::kVectors, k);  // no id points here (Load ignores these; tidy them anyway)
      ++report.records_removed;
    } else if (v.size() != vector_bytes) {
      batch.Delete(Cf::kVectors, k);
    } else {
      with_vector.insert(slot);
    }
    return true;
  }));
  for (auto it = ids.begin(); it != ids.end();) {
    if (with_vector.count(it->first)) {
      ++it;
      continue;
    }
    batch.Delete(Cf::kIds, storage::IdKey(d.id, it->second));
    ++report.points_removed;
    it = ids.erase(it);
  }
  report.points_kept = ids.size();

  // Payloads of surviving points, checked; their payload index entries and analyzed text derived
  // again (a payload whose text fields do not hold text is removed, as Upsert would refuse it).
  std::unique_ptr<payload::PayloadIndexSet> schema;
  if (!d.payload_indexes.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(schema, payload::PayloadIndexSet::Create(d.payload_indexes));
  }
  std::unique_ptr<text::TextIndex> text_schema;
  if (!d.text_fields.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(text_schema, text::TextIndex::Create(d.text_fields));
  }
  std::vector<std::pair<uint32_t, std::vector<std::string>>> entries;
  std::vector<std::pair<uint32_t, std::string>> texts;  // slot -> encoded DocTerms
  SEXTANT_RETURN_IF_ERROR(storage->Scan(Cf::kPayloads, prefix, end, [&](std::string_view k, std::string_view v) {
    const bool key_ok = k.size() == prefix.size() + 4;
    const uint32_t slot = key_ok ? internal::DecodeFixed32BE(k.data() + prefix.size()) : 0;
    std::string compact;
    bool keep = key_ok && ids.count(slot) &&
                payload::ValidatePayload(v, SIZE_MAX, &compact).ok();
    if (keep && compact != "{}" && (schema || text_schema)) {
      const nlohmann::json parsed = payload::ParseStored(compact);
      keep = (!schema || schema->Check(parsed).ok()) && (!text_schema || text_schema->Check(parsed).ok());
      if (keep && schema) entries.emplace_back(slot, schema->Entries(parsed));
      if (keep && text_schema) {
        const text::DocTerms doc = text_schema->Analyze(parsed);
        if (!doc.empty()) texts.emplace_back(slot, text::EncodeDocTerms(doc));
      }
    }
    if (!keep) {
      batch.Delete(Cf::kPayloads, k);
      ++report.records_removed;
    }
    return true;
  }));
  batch.DeleteRange(Cf::kPayloadIndex, prefix, end);
  for (const auto& [slot, list] : entries) {
    for (const std::string& e : list) {
      std::string key = prefix + e;
      internal::PutFixed32BE(&key, slot);
      batch.Put(Cf::kPayloadIndex, key, "");
    }
  }
  // The full-text records, derived again from the kept payloads (damaged or stale ones go).
  batch.DeleteRange(Cf::kText, prefix, end);
  for (const auto& [slot, record] : texts) batch.Put(Cf::kText, storage::SlotKey(d.id, slot), record);
  SEXTANT_RETURN_IF_ERROR(storage->Write(batch, /*sync=*/true));
  return report;
}

}  // namespace sextant
