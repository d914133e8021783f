// CollectionImpl's write path: Upsert, Replace, Delete, DeleteWhere. Each validates everything
// first, then commits one RocksDB batch under mu_ exclusive, updates memory, and hands off to
// the index phase under index_mu_ (see collection_impl.h for the locks).
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "payload/filter.h"
#include "payload/payload.h"
#include "simd/distance.h"
#include "util/coding.h"
#include "util/logging.h"

namespace sextant {
namespace {
// A payload index entry beyond its text (map node or posting element and its share of the key).
constexpr uint64_t kEntryOverhead = 64;
}  // namespace

using storage::Cf;
using internal::Log;
using internal::LogLevel;
using collection_internal::Guarded;
using collection_internal::PointLabel;
using collection_internal::ValidateId;
using collection_internal::ValidateVector;

void CollectionImpl::RetireSlot(uint32_t slot, std::vector<uint32_t>* retired) {
  live_[slot] = 0;
  slot_ids_[slot].clear();
  if (payload_index_) payload_index_->Clear(slot);
  if (text_index_) text_index_->Clear(slot);
  if (!index_ && !building_) {
    internal::MutexLock f(free_mu_);
    free_slots_.push_back(slot);
  } else {
    retired->push_back(slot);  // released by the index's Consolidate, or when a build ends
  }
}

void CollectionImpl::ApplyToIndex(const std::vector<uint32_t>& removed, const std::vector<uint32_t>& added) {
  if (index_) {
    for (uint32_t s : removed) index_->Remove(s);
    for (uint32_t s : added) {
      Status st = index_->Add(s);
      if (!st.ok()) {
        // The write is durable; only the index missed it. Rebuild so it is searchable again.
        Log(LogLevel::kError, "collection " + desc_.name + ": index add failed (" + st.ToString() +
                                  "); the index will be rebuilt");
        rebuild_requested_ = true;
      }
    }
  }
  if (building_) {
    for (uint32_t s : removed) pending_ops_.emplace_back(false, s);
    for (uint32_t s : added) pending_ops_.emplace_back(true, s);
  }
}

void CollectionImpl::RecomputeFreeSlots() {
  internal::MutexLock f(free_mu_);
  free_slots_.clear();
  for (uint32_t s = slots_; s-- > 0;) {  // highest first: pop_back reuses the lowest
    if (!live_[s] && !(index_ && index_->Holds(s))) free_slots_.push_back(s);
  }
}

std::string CollectionImpl::PayloadIndexKey(const std::string& entry, uint32_t slot) const {
  std::string key = prefix_;
  key += entry;
  internal::PutFixed32BE(&key, slot);
  return key;
}

Status CollectionImpl::Upsert(const WriteOptions& options, std::span<const PointId> ids, std::span<const float> vectors,
                              std::span<const std::string> payloads) {
  return Guarded("upsert", [&]() -> Status { return WritePoints(options, nullptr, ids, vectors, payloads).status(); });
}

StatusOr<uint64_t> CollectionImpl::Replace(const WriteOptions& options, std::string_view delete_filter,
                                           std::span<const PointId> ids, std::span<const float> vectors,
                                           std::span<const std::string> payloads) {
  return Guarded("replace", [&]() -> StatusOr<uint64_t> {
    if (delete_filter.empty()) return Status::InvalidArgument("replace: filter is empty (use {} to replace every point)");
    auto parsed = payload::Filter::Parse(delete_filter);
    if (!parsed.ok()) return parsed.status().WithPrefix("replace: filter");
    return WritePoints(options, &*parsed, ids, vectors, payloads);
  });
}

StatusOr<uint64_t> CollectionImpl::WritePoints(const WriteOptions& options, const payload::Filter* delete_filter,
                                               std::span<const PointId> ids, std::span<const float> vectors,
                                               std::span<const std::string> payloads, bool keep_payloads) {
  {
    const size_t n = ids.size();
    const size_t dim = desc_.dimension;
    const std::string what = keep_payloads ? "update_vectors" : "upsert";
    if (n == 0) return Status::InvalidArgument(what + ": the batch is empty");
    if (vectors.size() != n * dim) {
      return Status::InvalidArgument(what + ": vectors holds " + std::to_string(vectors.size()) + " floats, expected " +
                                     std::to_string(n * dim) + " (" + std::to_string(n) + " ids x dimension " +
                                     std::to_string(dim) + ")");
    }
    if (!payloads.empty() && payloads.size() != n) {
      return Status::InvalidArgument("upsert: " + std::to_string(payloads.size()) + " payloads for " +
                                     std::to_string(n) + " ids");
    }

    // Validate everything before touching anything, so a bad point writes nothing.
    std::vector<float> normalized;
    const float* rows = vectors.data();
    if (desc_.metric == Metric::kCosine) {
      normalized.assign(vectors.begin(), vectors.end());
      rows = normalized.data();
    }
    std::vector<std::string> encoded(n), compact(n);
    std::vector<std::vector<std::string>> entries(n);
    std::vector<text::DocTerms> texts(text_index_ ? n : 0);
    for (size_t i = 0; i < n; ++i) {
      const std::string label = what + ": " + PointLabel(i, ids[i]);
      SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i]).WithPrefix(label));
      SEXTANT_RETURN_IF_ERROR(ValidateVector(vectors.data() + i * dim, dim, "vector").WithPrefix(label));
      if (desc_.metric == Metric::kCosine && simd::Normalize(normalized.data() + i * dim, dim) == 0.0f) {
        return Status::InvalidArgument(label + ": vector is all zeros, which has no direction for the cosine metric");
      }
      std::string_view text = payloads.empty() ? std::string_view() : std::string_view(payloads[i]);
      SEXTANT_RETURN_IF_ERROR(
          payload::ValidatePayload(text, env_.limits.max_payload_bytes, &compact[i]).WithPrefix(label + ": payload"));
      if ((payload_schema_ || text_index_) && compact[i] != "{}") {
        nlohmann::json parsed = payload::ParseStored(compact[i]);
        if (payload_schema_) {
          SEXTANT_RETURN_IF_ERROR(payload_schema_->Check(parsed).WithPrefix(label + ": payload"));
          entries[i] = payload_schema_->Entries(parsed);
        }
        if (text_index_) {
          // Check and Analyze read only the declared fields and analyzers, which never change.
          SEXTANT_RETURN_IF_ERROR(text_index_->Check(parsed).WithPrefix(label + ": payload"));
          texts[i] = text_index_->Analyze(parsed);
        }
      }
      encoded[i] = storage::EncodeId(ids[i]);
    }

    internal::WriterLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());

    // Plan slots: every written point takes a fresh slot; a replaced point's old slot retires.
    // When an id repeats within the batch, its last occurrence wins.
    struct Planned {
      size_t index;
      uint32_t slot;
      int64_t old_slot;  // -1 for a new id
    };
    std::vector<Planned> plan;
    plan.reserve(n);
    std::unordered_set<std::string_view> seen;
    uint64_t next_slot = slots_;
    {
      internal::MutexLock f(free_mu_);
      for (size_t i = n; i-- > 0;) {
        if (!seen.insert(encoded[i]).second) continue;
        auto it = id_slot_.find(encoded[i]);
        const int64_t old_slot = it == id_slot_.end() ? -1 : int64_t{it->second};
        uint32_t slot;
        if (!free_slots_.empty()) {
          slot = free_slots_.back();
          free_slots_.pop_back();
        } else if (next_slot <= UINT32_MAX) {
          slot = static_cast<uint32_t>(next_slot++);
        } else {
          for (const Planned& p : plan) {
            if (p.slot < slots_) free_slots_.push_back(p.slot);
          }
          return Status::ResourceExhausted(what + ": collection " + desc_.name + " is full (2^32 slots)");
        }
        plan.push_back({i, slot, old_slot});
      }
    }
    auto give_back = [&]() SEXTANT_REQUIRES(mu_) {
      internal::MutexLock f(free_mu_);
      for (const Planned& p : plan) {
        if (p.slot < slots_) free_slots_.push_back(p.slot);
      }
    };

    // The memory budget, before anything is allocated: refused writes write nothing.
    internal::MemoryReservation reservation;
    if (env_.budget) {
      uint64_t entry_bytes = 0;
      for (const Planned& p : plan) {
        for (const std::string& e : entries[p.index]) entry_bytes += e.size() + kEntryOverhead;
      }
      const uint64_t growth = WriteGrowth(plan.size(), next_slot, entry_bytes);
      const std::string call = delete_filter ? "replace" : what;
      if (Status st = env_.budget->Reserve(growth, call + " into collection " + desc_.name); !st.ok()) {
        give_back();
        return st;
      }
      reservation = internal::MemoryReservation(env_.budget.get(), growth);
    }

    // UpdateVectors: every id exists and keeps its payload (and so its payload index entries).
    if (keep_payloads) {
      for (const Planned& p : plan) {
        if (p.old_slot < 0) {
          give_back();
          return Status::NotFound("update_vectors: " + PointLabel(p.index, ids[p.index]) +
                                  " not found in collection " + desc_.name);
        }
      }
      for (const Planned& p : plan) {
        const uint32_t old = static_cast<uint32_t>(p.old_slot);
        auto stored = ReadPayload(old);
        if (!stored.ok()) {
          give_back();
          return stored.status().WithPrefix("update_vectors");
        }
        compact[p.index] = std::move(*stored);
        if (payload_index_) entries[p.index] = payload_index_->EntriesOf(old);
        if (text_index_) {
          // The point keeps its analyzed text too: carry the stored record to the new slot.
          auto record = env_.storage->Get(Cf::kText, storage::SlotKey(desc_.id, old));
          StatusOr<text::DocTerms> doc = text::DocTerms();
          if (record.ok() && record->has_value()) doc = text::DecodeDocTerms(**record, desc_.text_fields.size());
          if (!record.ok() || !doc.ok()) {
            give_back();
            return (record.ok() ? doc.status() : record.status()).WithPrefix("update_vectors");
          }
          texts[p.index] = std::move(*doc);
        }
      }
    }

    // Replace: the points matching the filter that this batch does not itself replace.
    std::vector<uint32_t> removed;
    uint64_t matched = 0;
    if (delete_filter != nullptr) {
      std::optional<payload::Filter> filter;
      if (!delete_filter->MatchesAll()) filter = *delete_filter;
      auto m = FilterMatches(filter);
      if (!m.ok()) {
        give_back();
        return m.status().WithPrefix("replace");
      }
      std::unordered_set<uint32_t> replaced;
      for (const Planned& p : plan) {
        if (p.old_slot >= 0) replaced.insert(static_cast<uint32_t>(p.old_slot));
      }
      for (uint32_t s = 0; s < slots_; ++s) {
        if (!m->mask[s] || !live_[s]) continue;
        ++matched;
        if (!replaced.count(s)) removed.push_back(s);
      }
    }

    storage::Batch batch;
    for (uint32_t slot : removed) DeletePoint(slot, &batch);
    for (const Planned& p : plan) {
      const std::string slot_key = storage::SlotKey(desc_.id, p.slot);
      std::string slot_value;
      internal::PutFixed32LE(&slot_value, p.slot);
      batch.Put(Cf::kIds, storage::IdKey(desc_.id, encoded[p.index]), slot_value);
      batch.Put(Cf::kVectors, slot_key,
                std::string_view(reinterpret_cast<const char*>(rows + p.index * dim), dim * sizeof(float)));
      if (compact[p.index] != "{}") batch.Put(Cf::kPayloads, slot_key, compact[p.index]);
      for (const std::string& e : entries[p.index]) batch.Put(Cf::kPayloadIndex, PayloadIndexKey(e, p.slot), "");
      if (text_index_ && !texts[p.index].empty()) batch.Put(Cf::kText, slot_key, text::EncodeDocTerms(texts[p.index]));
      if (p.old_slot >= 0) {
        const uint32_t old = static_cast<uint32_t>(p.old_slot);
        const std::string old_key = storage::SlotKey(desc_.id, old);
        batch.Delete(Cf::kVectors, old_key);
        batch.Delete(Cf::kPayloads, old_key);
        if (text_index_) batch.Delete(Cf::kText, old_key);
        if (payload_index_) {
          for (const std::string& e : payload_index_->EntriesOf(old)) batch.Delete(Cf::kPayloadIndex, PayloadIndexKey(e, old));
        }
      }
    }
    // Allocate before committing, so nothing can fail between the commit and the memory update.
    try {
      EnsureCapacity(next_slot);
      id_slot_.reserve(id_slot_.size() + plan.size());
    } catch (...) {
      give_back();
      throw;
    }
    Status written = env_.storage->Write(batch, options.sync);
    if (!written.ok()) {
      give_back();
      return written.WithPrefix(delete_filter ? "replace" : what);
    }

    std::vector<uint32_t> retired, added;
    for (uint32_t slot : removed) {
      id_slot_.erase(slot_ids_[slot]);
      RetireSlot(slot, &retired);
    }
    added.reserve(plan.size());
    for (const Planned& p : plan) {
      std::memcpy(store_.Row(p.slot), rows + p.index * dim, dim * sizeof(float));
      if (p.old_slot >= 0) RetireSlot(static_cast<uint32_t>(p.old_slot), &retired);
      live_[p.slot] = 1;
      slot_ids_[p.slot] = encoded[p.index];
      id_slot_[encoded[p.index]] = p.slot;
      if (payload_index_) payload_index_->Set(p.slot, std::move(entries[p.index]));
      if (text_index_) text_index_->Set(p.slot, texts[p.index]);
      added.push_back(p.slot);
    }
    slots_ = static_cast<uint32_t>(std::max<uint64_t>(slots_, next_slot));
    changes_since_checkpoint_ += plan.size() + removed.size();
    ChargeData();
    // This write may bring a waiting index to the points it needs to train: start it now, so a
    // bulk load followed by WaitForIndex gets the index rather than exact search.
    const bool train = index_state_ == IndexState::kTraining && id_slot_.size() >= min_training_points_;
    if (index_ || building_) {
      internal::MutexLock index_lock(index_mu_);  // hand-off: index changes in commit order
      lock.Unlock();
      ApplyToIndex(retired, added);
      ChargeIndex();
    } else {
      lock.Unlock();
    }
    if (train) StartTrainingIfWaiting();
    return matched;
  }
}

StatusOr<uint64_t> CollectionImpl::Delete(const WriteOptions& options, std::span<const PointId> ids) {
  return Guarded("delete", [&]() -> StatusOr<uint64_t> {
    internal::WriterLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    std::vector<uint32_t> slots;
    std::unordered_set<uint32_t> seen;
    for (const PointId& id : ids) {
      auto it = id_slot_.find(storage::EncodeId(id));
      if (it != id_slot_.end() && seen.insert(it->second).second) slots.push_back(it->second);
    }
    std::vector<uint32_t> retired;
    SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, DeleteSlots(options, slots, &retired));
    if (index_ || building_) {
      internal::MutexLock index_lock(index_mu_);  // hand-off: index changes in commit order
      lock.Unlock();
      ApplyToIndex(retired, {});
    }
    return deleted;
  });
}

StatusOr<uint64_t> CollectionImpl::DeleteWhere(const WriteOptions& options, std::string_view filter_text) {
  return Guarded("delete", [&]() -> StatusOr<uint64_t> {
    if (filter_text.empty()) {
      return Status::InvalidArgument("delete: filter is empty (use {} to delete every point)");
    }
    SEXTANT_ASSIGN_OR_RETURN(payload::Filter parsed, payload::Filter::Parse(filter_text));
    std::optional<payload::Filter> filter;
    if (!parsed.MatchesAll()) filter = std::move(parsed);
    // Exclusive from the match to the commit, so no write slips in between.
    internal::WriterLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    std::vector<uint32_t> slots;
    slots.reserve(m.count);
    for (uint32_t s = 0; s < slots_; ++s) {
      if (m.mask[s] && live_[s]) slots.push_back(s);
    }
    std::vector<uint32_t> retired;
    SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, DeleteSlots(options, slots, &retired));
    if (index_ || building_) {
      internal::MutexLock index_lock(index_mu_);  // hand-off: index changes in commit order
      lock.Unlock();
      ApplyToIndex(retired, {});
    }
    return deleted;
  });
}

void CollectionImpl::DeletePoint(uint32_t slot, storage::Batch* batch) const {
  const std::string slot_key = storage::SlotKey(desc_.id, slot);
  batch->Delete(Cf::kIds, storage::IdKey(desc_.id, slot_ids_[slot]));
  batch->Delete(Cf::kVectors, slot_key);
  batch->Delete(Cf::kPayloads, slot_key);
  if (text_index_) batch->Delete(Cf::kText, slot_key);
  if (payload_index_) {
    for (const std::string& e : payload_index_->EntriesOf(slot)) batch->Delete(Cf::kPayloadIndex, PayloadIndexKey(e, slot));
  }
}

StatusOr<uint64_t> CollectionImpl::DeleteSlots(const WriteOptions& options, const std::vector<uint32_t>& slots,
                                               std::vector<uint32_t>* retired) {
  if (slots.empty()) {
    // Nothing to write; a synced call still makes every earlier acknowledged write durable.
    if (options.sync) SEXTANT_RETURN_IF_ERROR(env_.storage->SyncWal().WithPrefix("delete"));
    return uint64_t{0};
  }
  storage::Batch batch;
  for (uint32_t slot : slots) DeletePoint(slot, &batch);
  {
    internal::MutexLock f(free_mu_);
    free_slots_.reserve(free_slots_.size() + slots.size());
  }
  SEXTANT_RETURN_IF_ERROR(env_.storage->Write(batch, options.sync).WithPrefix("delete"));
  for (uint32_t slot : slots) {
    id_slot_.erase(slot_ids_[slot]);
    RetireSlot(slot, retired);
  }
  changes_since_checkpoint_ += slots.size();
  ChargeData();
  return uint64_t{slots.size()};
}

}  // namespace sextant
