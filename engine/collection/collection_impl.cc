#include "collection/collection_impl.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <unordered_set>

#include "collection/index_file.h"
#include "index/flat.h"
#include "payload/filter.h"
#include "payload/payload.h"
#include "simd/distance.h"
#include "util/coding.h"
#include "util/logging.h"

namespace sextant {

using storage::Cf;
using internal::Log;
using internal::LogLevel;

namespace {

using storage::Cf;

// Runs a public entry point's body, turning anything thrown by a dependency (std::bad_alloc
// above all) into a Status: the engine never throws at its callers.
template <typename F>
auto Guarded(std::string_view what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  }
}

// "point 57 (id \"abc\")" or "point 3 (id 7)": how errors name a point of a batch.
std::string PointLabel(size_t index, const PointId& id) {
  std::string out = "point " + std::to_string(index) + " (id ";
  if (id.is_number()) {
    out += std::to_string(id.number());
  } else {
    std::string s = id.str().size() > 64 ? id.str().substr(0, 64) + "..." : id.str();
    out += "\"" + s + "\"";
  }
  return out + ")";
}

Status ValidateId(const PointId& id) {
  if (id.is_string()) {
    if (id.str().empty()) return Status::InvalidArgument("id is an empty string");
    if (id.str().size() > PointId::kMaxIdBytes) {
      return Status::InvalidArgument("id is " + std::to_string(id.str().size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(PointId::kMaxIdBytes));
    }
  }
  return Status::OK();
}

// Checks that every component is finite; names the first one that is not.
Status ValidateVector(const float* v, size_t dim, std::string_view field) {
  for (size_t j = 0; j < dim; ++j) {
    if (!std::isfinite(v[j])) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(j) + "] is " +
                                     (std::isnan(v[j]) ? "NaN" : "infinite"));
    }
  }
  return Status::OK();
}

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

float ScoreOf(Metric metric, float distance) { return metric == Metric::kL2 ? distance : -distance; }

// The identity of an index's structure: its spec plus the build parameters the spec leaves out.
// A checkpoint is loaded only into a collection configured with the same identity.
std::string IndexIdentity(const IndexOptions& o) {
  std::string out = o.ToString();
  if (o.type == IndexType::kHnsw) out += ";efc=" + std::to_string(o.ef_construction);
  return out;
}

// Exact search is cheaper than a filtered index walk when few points match. A filtered HNSW walk
// computes about kWalkDistancesPerEf * ef / selectivity distances (measured on siftsmall and
// synthetic sets: 4 to 8 x ef / selectivity, bench/README.md); scoring the matches costs
// `matches` distances. They are equal near matches^2 = kWalkDistancesPerEf * ef * live.
constexpr double kWalkDistancesPerEf = 8.0;

bool ExactIsCheaper(const IndexOptions& o, uint32_t ef, uint32_t nprobe, uint64_t matches, uint64_t live) {
  if (o.type == IndexType::kHnsw) {
    const double ef_used = ef ? ef : o.ef_search;
    return static_cast<double>(matches) * static_cast<double>(matches) <=
           kWalkDistancesPerEf * ef_used * static_cast<double>(live);
  }
  if (o.type == IndexType::kIvf) {
    // An IVF probe scans about nprobe / nlist of the points whatever the filter.
    const double probed = static_cast<double>(nprobe ? nprobe : o.nprobe) / std::max<uint32_t>(o.nlist, 1);
    return static_cast<double>(matches) <= probed * static_cast<double>(live);
  }
  return true;
}

}  // namespace

// The planner's view of a filter.
struct CollectionImpl::Matches {
  const uint8_t* mask = nullptr;  // allowed slots (live_.size() entries)
  std::vector<uint8_t> owned;     // backs `mask` when it is not live_ itself
  uint64_t count = 0;             // allowed slots
  bool filtered = false;          // a (non-trivial) filter was given
  bool from_index = false;        // answered from payload indexes alone
};

CollectionImpl::CollectionImpl(const CollectionEnv& env, CollectionDescriptor descriptor)
    : env_(env),
      prefix_(storage::CollectionPrefix(descriptor.id)),
      desc_(std::move(descriptor)),
      store_(desc_.dimension) {}

CollectionImpl::~CollectionImpl() {
  std::lock_guard b(build_mu_);
  StopBuild();
}

StatusOr<std::shared_ptr<CollectionImpl>> CollectionImpl::Load(const CollectionEnv& env,
                                                               CollectionDescriptor descriptor) {
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(env, std::move(descriptor)));
  const std::string& name = c->desc_.name;
  const std::string end = storage::CollectionPrefix(c->desc_.id + 1);
  const size_t dim = c->desc_.dimension;
  if (!c->desc_.payload_indexes.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(c->payload_index_, payload::PayloadIndexSet::Create(c->desc_.payload_indexes));
  }
  Status bad;

  SEXTANT_RETURN_IF_ERROR(env.storage->Scan(Cf::kIds, c->prefix_, end, [&](std::string_view k, std::string_view v) {
    if (v.size() != 4 || k.size() <= c->prefix_.size()) {
      bad = Status::DataLoss("collection " + name + ": corrupt id entry");
      return false;
    }
    const uint32_t slot = internal::DecodeFixed32LE(v.data());
    if (slot >= c->slots_) {
      c->slots_ = slot + 1;
      c->slot_ids_.resize(c->slots_);
    }
    std::string encoded(k.substr(c->prefix_.size()));
    if (!c->slot_ids_[slot].empty()) {
      bad = Status::DataLoss("collection " + name + ": two ids share slot " + std::to_string(slot));
      return false;
    }
    c->slot_ids_[slot] = encoded;
    c->id_slot_.emplace(std::move(encoded), slot);
    return true;
  }));
  SEXTANT_RETURN_IF_ERROR(bad);

  c->store_.Reserve(c->slots_);
  c->live_.assign(c->store_.capacity(), 0);
  c->slot_ids_.resize(c->store_.capacity());
  SEXTANT_RETURN_IF_ERROR(env.storage->Scan(Cf::kVectors, c->prefix_, end, [&](std::string_view k, std::string_view v) {
    if (k.size() != c->prefix_.size() + 4) {
      bad = Status::DataLoss("collection " + name + ": corrupt vector key");
      return false;
    }
    const uint32_t slot = internal::DecodeFixed32BE(k.data() + c->prefix_.size());
    if (slot >= c->slots_ || c->slot_ids_[slot].empty()) return true;  // no id: not a point
    if (v.size() != dim * sizeof(float)) {
      bad = Status::DataLoss("collection " + name + ": vector of slot " + std::to_string(slot) + " has " +
                             std::to_string(v.size()) + " bytes, expected " + std::to_string(dim * sizeof(float)));
      return false;
    }
    std::memcpy(c->store_.Row(slot), v.data(), v.size());
    c->live_[slot] = 1;
    return true;
  }));
  SEXTANT_RETURN_IF_ERROR(bad);
  for (uint32_t slot = 0; slot < c->slots_; ++slot) {
    if (!c->slot_ids_[slot].empty() && !c->live_[slot]) {
      return Status::DataLoss("collection " + name + ": point in slot " + std::to_string(slot) + " has no vector");
    }
  }

  if (c->payload_index_) {
    SEXTANT_RETURN_IF_ERROR(env.storage->Scan(Cf::kPayloadIndex, c->prefix_, end, [&](std::string_view k, std::string_view) {
      if (k.size() <= c->prefix_.size() + 4) {
        bad = Status::DataLoss("collection " + name + ": corrupt payload index key");
        return false;
      }
      const uint32_t slot = internal::DecodeFixed32BE(k.data() + k.size() - 4);
      if (slot < c->slots_ && c->live_[slot]) {
        c->payload_index_->Add(slot, std::string(k.substr(c->prefix_.size(), k.size() - c->prefix_.size() - 4)));
      }
      return true;
    }));
    SEXTANT_RETURN_IF_ERROR(bad);
  }

  if (c->desc_.index.type != IndexType::kFlat) {
    Status loaded = c->LoadIndexFromFile();
    if (!loaded.ok()) {
      if (loaded.code() == StatusCode::kNotFound || loaded.code() == StatusCode::kFailedPrecondition) {
        // No checkpoint yet, or one of an index the collection no longer uses: build, quietly.
        Log(LogLevel::kInfo, "collection " + name + ": building the index (" + loaded.ToString() + ")");
      } else {
        Log(LogLevel::kWarning, "collection " + name + ": index checkpoint not usable (" + loaded.ToString() +
                                    "); rebuilding it from the stored vectors");
      }
      std::lock_guard b(c->build_mu_);
      c->index_state_ = IndexState::kBuilding;
      c->StartBuild(c->desc_.index);
    }
  }
  {
    std::unique_lock l(c->mu_);
    std::lock_guard il(c->index_mu_);
    if (!c->building_) c->RecomputeFreeSlots();
  }
  return c;
}

Status CollectionImpl::LoadIndexFromFile() {
  SEXTANT_ASSIGN_OR_RETURN(IndexFile file, ReadIndexFile(IndexFilePath(env_.index_dir, desc_.id)));
  if (file.collection_id != desc_.id || file.dimension != desc_.dimension || file.metric != desc_.metric ||
      file.index_spec != IndexIdentity(desc_.index)) {
    return Status::FailedPrecondition("checkpoint is of index " + file.index_spec + ", the collection wants " +
                                      IndexIdentity(desc_.index));
  }
  // The checkpoint may reference slots above today's highest (their points were deleted after
  // it was taken): count them as allocated, so the index can load them as removed and no new
  // point takes one before the index has let it go.
  if (file.fingerprints.size() > slots_) {
    if (file.fingerprints.size() > UINT32_MAX) return Status::DataLoss("checkpoint has too many slots");
    EnsureCapacity(file.fingerprints.size());
    slots_ = static_cast<uint32_t>(file.fingerprints.size());
  }
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<index::VectorIndex> idx,
                           index::LoadIndex(file.index_bytes, desc_.index, desc_.metric, &store_));
  // Apply what the checkpoint does not cover: compare each slot's vector with the fingerprint the
  // index saw. Slots whose vector changed (a slot released and reused after the checkpoint) are
  // removed and re-added.
  const size_t dim = desc_.dimension;
  const uint64_t limit = std::max<uint64_t>(slots_, file.fingerprints.size());
  std::vector<uint32_t> readd, add;
  uint64_t removed = 0;
  for (uint64_t s64 = 0; s64 < limit; ++s64) {
    const uint32_t s = static_cast<uint32_t>(s64);
    const bool live = s < slots_ && live_[s];
    const bool held = idx->Holds(s);
    if (live) {
      if (!held) {
        add.push_back(s);
      } else if (s >= file.fingerprints.size() || file.fingerprints[s] != VectorFingerprint(store_.Row(s), dim)) {
        readd.push_back(s);
      }
    } else if (held) {
      idx->Remove(s);
      ++removed;
    }
  }
  if (!readd.empty()) {
    for (uint32_t s : readd) idx->Remove(s);
    idx->Consolidate();
  }
  for (const auto* list : {&readd, &add}) {
    for (uint32_t s : *list) SEXTANT_RETURN_IF_ERROR(idx->Add(s));
  }
  if (idx->PendingRemovals() > std::max<size_t>(1000, idx->Size() / 10)) idx->Consolidate();
  index_ = std::move(idx);
  index_spec_ = desc_.index.ToString();
  index_identity_ = IndexIdentity(desc_.index);
  index_origin_ = "checkpoint";
  index_state_ = IndexState::kReady;
  const uint64_t tail = readd.size() + add.size() + removed;
  changes_since_checkpoint_ = tail;
  if (tail > 0) {
    Log(LogLevel::kInfo, "collection " + desc_.name + ": index checkpoint loaded; applied " + std::to_string(tail) +
                             " later changes");
  }
  return Status::OK();
}

Status CollectionImpl::CheckOpen() const {
  switch (state_) {
    case State::kOpen: return Status::OK();
    case State::kDropped: return Status::NotFound("collection " + desc_.name + " was dropped");
    case State::kClosed: return Status::FailedPrecondition("collection " + desc_.name + ": its database is closed");
  }
  return Status::Internal("bad collection state");
}

void CollectionImpl::EnsureCapacity(uint64_t slots) {
  store_.Reserve(slots);
  const size_t cap = static_cast<size_t>(store_.capacity());
  if (live_.size() < cap) {
    live_.resize(cap, 0);
    slot_ids_.resize(cap);
  }
}

void CollectionImpl::RetireSlot(uint32_t slot, std::vector<uint32_t>* retired) {
  live_[slot] = 0;
  slot_ids_[slot].clear();
  if (payload_index_) payload_index_->Clear(slot);
  if (!index_ && !building_) {
    std::lock_guard f(free_mu_);
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
  std::lock_guard f(free_mu_);
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
                                               std::span<const std::string> payloads) {
  {
    const size_t n = ids.size();
    const size_t dim = desc_.dimension;
    if (n == 0) return Status::InvalidArgument("upsert: the batch is empty");
    if (vectors.size() != n * dim) {
      return Status::InvalidArgument("upsert: vectors holds " + std::to_string(vectors.size()) + " floats, expected " +
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
    for (size_t i = 0; i < n; ++i) {
      const std::string label = "upsert: " + PointLabel(i, ids[i]);
      SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i]).WithPrefix(label));
      SEXTANT_RETURN_IF_ERROR(ValidateVector(vectors.data() + i * dim, dim, "vector").WithPrefix(label));
      if (desc_.metric == Metric::kCosine && simd::Normalize(normalized.data() + i * dim, dim) == 0.0f) {
        return Status::InvalidArgument(label + ": vector is all zeros, which has no direction for the cosine metric");
      }
      std::string_view text = payloads.empty() ? std::string_view() : std::string_view(payloads[i]);
      SEXTANT_RETURN_IF_ERROR(
          payload::ValidatePayload(text, env_.limits.max_payload_bytes, &compact[i]).WithPrefix(label + ": payload"));
      if (payload_index_ && compact[i] != "{}") {
        nlohmann::json parsed = payload::ParseStored(compact[i]);
        SEXTANT_RETURN_IF_ERROR(payload_index_->Check(parsed).WithPrefix(label + ": payload"));
        entries[i] = payload_index_->Entries(parsed);
      }
      encoded[i] = storage::EncodeId(ids[i]);
    }

    std::unique_lock lock(mu_);
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
      std::lock_guard f(free_mu_);
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
          return Status::ResourceExhausted("upsert: collection " + desc_.name + " is full (2^32 slots)");
        }
        plan.push_back({i, slot, old_slot});
      }
    }
    auto give_back = [&] {
      std::lock_guard f(free_mu_);
      for (const Planned& p : plan) {
        if (p.slot < slots_) free_slots_.push_back(p.slot);
      }
    };

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
      if (p.old_slot >= 0) {
        const uint32_t old = static_cast<uint32_t>(p.old_slot);
        const std::string old_key = storage::SlotKey(desc_.id, old);
        batch.Delete(Cf::kVectors, old_key);
        batch.Delete(Cf::kPayloads, old_key);
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
      return written.WithPrefix(delete_filter ? "replace" : "upsert");
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
      added.push_back(p.slot);
    }
    slots_ = static_cast<uint32_t>(std::max<uint64_t>(slots_, next_slot));
    changes_since_checkpoint_ += plan.size() + removed.size();
    // This write may bring a waiting index to the points it needs to train: start it now, so a
    // bulk load followed by WaitForIndex gets the index rather than exact search.
    const bool train = index_state_ == IndexState::kTraining && id_slot_.size() >= min_training_points_;
    if (index_ || building_) {
      std::lock_guard index_lock(index_mu_);  // hand-off: index changes in commit order
      lock.unlock();
      ApplyToIndex(retired, added);
    } else {
      lock.unlock();
    }
    if (train) StartTrainingIfWaiting();
    return matched;
  }
}

void CollectionImpl::StartTrainingIfWaiting() {
  std::lock_guard b(build_mu_);
  if (build_running_) return;
  StopBuild();  // joins a builder thread that has finished
  std::shared_lock lock(mu_);
  if (state_ != State::kOpen || index_state_ != IndexState::kTraining || id_slot_.size() < min_training_points_) return;
  const IndexOptions options = desc_.index;
  lock.unlock();
  StartBuild(options);
}

StatusOr<uint64_t> CollectionImpl::Delete(const WriteOptions& options, std::span<const PointId> ids) {
  return Guarded("delete", [&]() -> StatusOr<uint64_t> {
    std::unique_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    std::vector<uint32_t> slots;
    std::unordered_set<uint32_t> seen;
    for (const PointId& id : ids) {
      auto it = id_slot_.find(storage::EncodeId(id));
      if (it != id_slot_.end() && seen.insert(it->second).second) slots.push_back(it->second);
    }
    return DeleteSlots(options, slots, lock);
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
    std::unique_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    std::vector<uint32_t> slots;
    slots.reserve(m.count);
    for (uint32_t s = 0; s < slots_; ++s) {
      if (m.mask[s] && live_[s]) slots.push_back(s);
    }
    return DeleteSlots(options, slots, lock);
  });
}

void CollectionImpl::DeletePoint(uint32_t slot, storage::Batch* batch) const {
  const std::string slot_key = storage::SlotKey(desc_.id, slot);
  batch->Delete(Cf::kIds, storage::IdKey(desc_.id, slot_ids_[slot]));
  batch->Delete(Cf::kVectors, slot_key);
  batch->Delete(Cf::kPayloads, slot_key);
  if (payload_index_) {
    for (const std::string& e : payload_index_->EntriesOf(slot)) batch->Delete(Cf::kPayloadIndex, PayloadIndexKey(e, slot));
  }
}

StatusOr<uint64_t> CollectionImpl::DeleteSlots(const WriteOptions& options, const std::vector<uint32_t>& slots,
                                               std::unique_lock<internal::RwMutex>& lock) {
  if (slots.empty()) return uint64_t{0};
  storage::Batch batch;
  for (uint32_t slot : slots) DeletePoint(slot, &batch);
  {
    std::lock_guard f(free_mu_);
    free_slots_.reserve(free_slots_.size() + slots.size());
  }
  SEXTANT_RETURN_IF_ERROR(env_.storage->Write(batch, options.sync).WithPrefix("delete"));
  std::vector<uint32_t> retired;
  for (uint32_t slot : slots) {
    id_slot_.erase(slot_ids_[slot]);
    RetireSlot(slot, &retired);
  }
  changes_since_checkpoint_ += slots.size();
  if (index_ || building_) {
    std::lock_guard index_lock(index_mu_);
    lock.unlock();
    ApplyToIndex(retired, {});
  }
  return uint64_t{slots.size()};
}

StatusOr<std::string> CollectionImpl::ReadPayload(uint32_t slot) const {
  SEXTANT_ASSIGN_OR_RETURN(auto value, env_.storage->Get(Cf::kPayloads, storage::SlotKey(desc_.id, slot)));
  return value ? std::move(*value) : std::string("{}");
}

StatusOr<Point> CollectionImpl::Get(const PointId& id) const {
  return Guarded("get", [&]() -> StatusOr<Point> {
    SEXTANT_RETURN_IF_ERROR(ValidateId(id).WithPrefix("get"));
    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    auto it = id_slot_.find(storage::EncodeId(id));
    if (it == id_slot_.end()) return Status::NotFound("point " + id.ToString() + " not found in collection " + desc_.name);
    Point p;
    p.id = id;
    const float* v = store_.Row(it->second);
    p.vector.assign(v, v + desc_.dimension);
    SEXTANT_ASSIGN_OR_RETURN(p.payload, ReadPayload(it->second));
    return p;
  });
}

StatusOr<uint64_t> CollectionImpl::Count() const {
  std::shared_lock lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  return uint64_t{id_slot_.size()};
}

StatusOr<CollectionInfo> CollectionImpl::Describe() const {
  std::shared_lock lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  CollectionInfo info;
  info.name = desc_.name;
  info.dimension = desc_.dimension;
  info.metric = desc_.metric;
  info.count = id_slot_.size();
  info.index = desc_.index.ToString();
  info.index_state = index_state_;
  info.index_bytes = index_ ? index_->MemoryBytes() : 0;
  info.vector_bytes = uint64_t{slots_} * desc_.dimension * sizeof(float);
  info.index_origin = index_origin_;
  info.properties = desc_.properties;
  return info;
}

StatusOr<ScanPage> CollectionImpl::Scan(const ScanOptions& options) const {
  return Guarded("scan", [&]() -> StatusOr<ScanPage> {
    if (options.limit == 0 || options.limit > 100000) {
      return Status::InvalidArgument("scan: limit must be 1..100000, got " + std::to_string(options.limit));
    }
    std::string after;
    if (!options.cursor.empty() && (!HexDecode(options.cursor, &after) || after.empty())) {
      return Status::InvalidArgument("scan: cursor is not one this collection returned");
    }
    std::optional<payload::Filter> filter;
    if (!options.filter.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(filter, payload::Filter::Parse(options.filter));
      if (filter->MatchesAll()) filter.reset();
    }

    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    ScanPage page;
    std::string begin = after.empty() ? prefix_ : storage::IdKey(desc_.id, after) + '\0';
    Status bad;
    SEXTANT_RETURN_IF_ERROR(env_.storage->Scan(
        Cf::kIds, begin, storage::CollectionPrefix(desc_.id + 1), [&](std::string_view k, std::string_view v) {
          const uint32_t slot = internal::DecodeFixed32LE(v.data());
          std::string_view encoded = k.substr(prefix_.size());
          auto text = ReadPayload(slot);
          if (!text.ok()) {
            bad = text.status();
            return false;
          }
          if (filter && !filter->Matches(payload::ParseStored(*text))) return true;
          if (page.points.size() == options.limit) {  // one more exists: this page is not the last
            page.next_cursor = HexEncode(storage::EncodeId(page.points.back().id));
            return false;
          }
          auto id = storage::DecodeId(encoded);
          if (!id.ok()) {
            bad = id.status();
            return false;
          }
          const float* vec = store_.Row(slot);
          page.points.push_back(Point{std::move(*id), std::vector<float>(vec, vec + desc_.dimension), std::move(*text)});
          return true;
        }));
    SEXTANT_RETURN_IF_ERROR(bad);
    return page;
  });
}

std::vector<index::VectorRun> CollectionImpl::Runs() const {
  std::vector<index::VectorRun> runs;
  store_.ForEachRun(slots_, [&](uint32_t first, size_t rows, const float* data) { runs.push_back({first, rows, data}); });
  return runs;
}

StatusOr<CollectionImpl::Matches> CollectionImpl::FilterMatches(const std::optional<payload::Filter>& filter) const {
  Matches m;
  if (!filter) {
    m.mask = live_.data();
    m.count = id_slot_.size();
    return m;
  }
  m.filtered = true;
  // Payload indexes first: they may answer the filter alone, or narrow it to a few candidates.
  std::optional<payload::PayloadIndexSet::Narrowed> narrowed;
  if (payload_index_) narrowed = payload_index_->Narrow(*filter, live_.data(), live_.size());
  if (narrowed && narrowed->exact) {
    m.owned = std::move(narrowed->mask);
    m.count = narrowed->count;
    m.from_index = true;
  } else if (narrowed && narrowed->count <= slots_ / 8) {
    // Few candidates: read each one's payload.
    m.owned = std::move(narrowed->mask);
    for (uint32_t s = 0; s < slots_; ++s) {
      if (!m.owned[s]) continue;
      SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadPayload(s));
      m.owned[s] = filter->Matches(payload::ParseStored(text)) ? 1 : 0;
      m.count += m.owned[s];
    }
  } else {
    // Read every payload. Points without one have {} as payload; most filters reject it, but
    // $ne, $nin and $exists: false accept it.
    const uint8_t* candidates = narrowed ? narrowed->mask.data() : live_.data();
    const uint8_t empty_matches = filter->Matches(nlohmann::json::object()) ? 1 : 0;
    m.owned.assign(live_.size(), 0);
    for (size_t i = 0; i < m.owned.size(); ++i) m.owned[i] = candidates[i] & empty_matches;
    SEXTANT_RETURN_IF_ERROR(env_.storage->Scan(Cf::kPayloads, prefix_, storage::CollectionPrefix(desc_.id + 1),
                                               [&](std::string_view k, std::string_view v) {
      const uint32_t slot = internal::DecodeFixed32BE(k.data() + prefix_.size());
      if (slot < m.owned.size() && candidates[slot]) m.owned[slot] = filter->Matches(payload::ParseStored(v)) ? 1 : 0;
      return true;
    }));
    for (uint8_t b : m.owned) m.count += b;
  }
  m.mask = m.owned.data();
  return m;
}

StatusOr<std::vector<std::vector<Hit>>> CollectionImpl::SearchBatch(const SearchOptions& options,
                                                                    std::span<const float> queries,
                                                                    std::vector<SearchPlan>* plans) const {
  return Guarded("search", [&]() -> StatusOr<std::vector<std::vector<Hit>>> {
    const size_t dim = desc_.dimension;
    if (options.k == 0) return Status::InvalidArgument("search: k must be at least 1");
    if (queries.empty() || queries.size() % dim != 0) {
      return Status::InvalidArgument("search: query has " + std::to_string(queries.size()) +
                                     " floats, expected a multiple of the dimension " + std::to_string(dim));
    }
    const size_t nq = queries.size() / dim;
    std::vector<float> normalized;
    const float* q = queries.data();
    if (desc_.metric == Metric::kCosine) {
      normalized.assign(queries.begin(), queries.end());
      q = normalized.data();
    }
    for (size_t i = 0; i < nq; ++i) {
      const std::string label = nq == 1 ? "search: query" : "search: query " + std::to_string(i);
      SEXTANT_RETURN_IF_ERROR(ValidateVector(queries.data() + i * dim, dim, "vector").WithPrefix(label));
      if (desc_.metric == Metric::kCosine && simd::Normalize(normalized.data() + i * dim, dim) == 0.0f) {
        return Status::InvalidArgument(label + ": vector is all zeros, which has no direction for the cosine metric");
      }
    }
    std::optional<payload::Filter> filter;
    if (!options.filter.empty()) {
      auto parsed = payload::Filter::Parse(options.filter);
      if (!parsed.ok()) return parsed.status();
      if (!parsed->MatchesAll()) filter = std::move(*parsed);
    }

    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    const size_t want = std::min<uint64_t>(options.k, m.count);

    // Plan: the index for unfiltered searches and for filters that match many points; exact
    // scoring when asked, when there is no (trained) index, or when few points match.
    const bool use_index = index_ && !options.exact && want > 0 &&
                           (!m.filtered || !ExactIsCheaper(desc_.index, options.ef_search, options.nprobe, m.count,
                                                           id_slot_.size()));
    std::vector<std::vector<index::Neighbor>> found(nq);
    std::vector<SearchPlan> plan(nq);
    std::vector<size_t> exact_queries;
    if (use_index) {
      index::IndexSearchParams params;
      params.k = want;
      params.ef_search = options.ef_search;
      params.nprobe = options.nprobe;
      params.mask = m.mask;
      params.mask_size = live_.size();
      params.allowed = m.count;
      for (size_t i = 0; i < nq; ++i) {
        index::IndexSearchStats stats;
        SEXTANT_RETURN_IF_ERROR(index_->Search(q + i * dim, params, &found[i], &stats).WithPrefix("search"));
        plan[i].kind = SearchPlan::Kind::kIndex;
        plan[i].index = index_spec_;
        plan[i].distance_computations = stats.distance_computations;
        plan[i].effort = stats.effort;
        if (found[i].size() < want) exact_queries.push_back(i);  // the walk came up short
      }
    } else {
      for (size_t i = 0; i < nq; ++i) exact_queries.push_back(i);
    }
    if (!exact_queries.empty() && want > 0) {
      // Few matches: gather them; otherwise scan everything under the mask.
      std::vector<uint32_t> list;
      if (m.count <= slots_ / 8) {
        list.reserve(m.count);
        for (uint32_t s = 0; s < slots_; ++s) {
          if (m.mask[s]) list.push_back(s);
        }
      }
      const auto runs = Runs();
      std::vector<float> gathered;
      if (list.empty() && exact_queries.size() >= index::kBatchedScoringMinQueries) {
        gathered.reserve(exact_queries.size() * dim);
        for (size_t i : exact_queries) gathered.insert(gathered.end(), q + i * dim, q + (i + 1) * dim);
        std::vector<std::vector<index::Neighbor>> batch;
        index::ExactSearch(runs, dim, desc_.metric, m.mask, gathered.data(), exact_queries.size(), want, &batch);
        for (size_t j = 0; j < exact_queries.size(); ++j) found[exact_queries[j]] = std::move(batch[j]);
      } else {
        for (size_t i : exact_queries) {
          if (!list.empty()) {
            index::ExactSearchSlots(list, [&](uint32_t s) { return store_.Row(s); }, dim, desc_.metric, q + i * dim, want,
                                    &found[i]);
          } else {
            std::vector<std::vector<index::Neighbor>> one;
            index::ExactSearch(runs, dim, desc_.metric, m.mask, q + i * dim, 1, want, &one);
            found[i] = std::move(one[0]);
          }
        }
      }
      for (size_t i : exact_queries) {
        plan[i].distance_computations += list.empty() ? slots_ : list.size();
        plan[i].kind = SearchPlan::Kind::kExact;
        plan[i].index = "Flat";
        plan[i].effort = 0;
      }
    }

    std::vector<std::vector<Hit>> results(nq);
    for (size_t i = 0; i < nq; ++i) {
      plan[i].matches = m.count;
      plan[i].filter_from_index = m.from_index;
      results[i].reserve(found[i].size());
      for (const index::Neighbor& nb : found[i]) {
        Hit hit;
        SEXTANT_ASSIGN_OR_RETURN(hit.id, storage::DecodeId(slot_ids_[nb.slot]));
        hit.score = ScoreOf(desc_.metric, nb.distance);
        if (options.with_vector) {
          const float* v = store_.Row(nb.slot);
          hit.vector.assign(v, v + dim);
        }
        if (options.with_payload) {
          SEXTANT_ASSIGN_OR_RETURN(hit.payload, ReadPayload(nb.slot));
        }
        results[i].push_back(std::move(hit));
      }
    }
    if (plans) *plans = std::move(plan);
    return results;
  });
}

StatusOr<std::vector<Hit>> CollectionImpl::Search(const SearchOptions& options, std::span<const float> query,
                                                  SearchPlan* plan) const {
  if (query.size() != desc_.dimension) {
    return Status::InvalidArgument("search: query has " + std::to_string(query.size()) +
                                   " floats, expected the dimension " + std::to_string(desc_.dimension));
  }
  std::vector<SearchPlan> plans;
  SEXTANT_ASSIGN_OR_RETURN(auto results, SearchBatch(options, query, plan ? &plans : nullptr));
  if (plan) *plan = std::move(plans[0]);
  return std::move(results[0]);
}

// ---- Index lifecycle ----

Status CollectionImpl::PersistDescriptor(const CollectionDescriptor& d) {
  storage::Batch batch;
  batch.Put(Cf::kMeta, DescriptorKey(d.name), EncodeDescriptor(d));
  return env_.storage->Write(batch, /*sync=*/true);
}

Status CollectionImpl::SetIndex(const IndexOptions& options) {
  return Guarded("set index", [&]() -> Status {
    SEXTANT_RETURN_IF_ERROR(options.Validate(desc_.dimension).WithPrefix("set index"));
    std::lock_guard b(build_mu_);
    {
      std::unique_lock lock(mu_);
      SEXTANT_RETURN_IF_ERROR(CheckOpen());
      CollectionDescriptor d = desc_;
      d.index = options;
      SEXTANT_RETURN_IF_ERROR(PersistDescriptor(d).WithPrefix("set index"));
      desc_ = std::move(d);
    }
    StopBuild();
    if (options.type == IndexType::kFlat) {
      {
        std::unique_lock lock(mu_);
        std::lock_guard il(index_mu_);
        index_.reset();
        index_spec_ = "Flat";
        index_identity_.clear();
        index_origin_ = "none";
        index_state_ = IndexState::kReady;
        RecomputeFreeSlots();
      }
      index_cv_.notify_all();
      std::error_code ec;
      std::filesystem::remove(IndexFilePath(env_.index_dir, desc_.id), ec);
      return Status::OK();
    }
    StartBuild(options);
    return Status::OK();
  });
}

Status CollectionImpl::RebuildIndex() {
  std::lock_guard b(build_mu_);
  IndexOptions options;
  {
    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    options = desc_.index;
  }
  if (options.type == IndexType::kFlat) return Status::OK();  // nothing to rebuild
  StopBuild();
  StartBuild(options);
  return Status::OK();
}

Status CollectionImpl::WaitForIndex(uint64_t timeout_ms) const {
  std::shared_lock lock(mu_);
  const bool done = index_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return state_ != State::kOpen || index_state_ != IndexState::kBuilding;
  });
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  if (!done) return Status::Unavailable("collection " + desc_.name + ": index still building after " +
                                        std::to_string(timeout_ms) + " ms");
  return Status::OK();
}

void CollectionImpl::StartBuild(const IndexOptions& options) {
  build_stop_ = false;
  build_running_ = true;
  {
    std::unique_lock lock(mu_);
    index_state_ = IndexState::kBuilding;
  }
  builder_ = std::thread([this, options] {
    BuildMain(options);
    build_running_ = false;
  });
}

void CollectionImpl::StopBuild() {
  if (!builder_.joinable()) return;
  build_stop_ = true;
  builder_.join();
  build_stop_ = false;
}

void CollectionImpl::EndBuild(std::shared_ptr<index::VectorIndex> built, const IndexOptions& options,
                              IndexState state) {
  {
    std::unique_lock lock(mu_);
    std::lock_guard il(index_mu_);
    if (built) {
      for (const auto& [is_add, slot] : pending_ops_) {
        if (is_add && !built->Holds(slot)) {
          if (Status st = built->Add(slot); !st.ok()) rebuild_requested_ = true;
        } else if (!is_add && built->Holds(slot)) {
          built->Remove(slot);
        }
      }
      index_ = std::move(built);
      index_spec_ = options.ToString();
      index_identity_ = IndexIdentity(options);
      index_origin_ = "built";
      changes_since_checkpoint_ = std::max<uint64_t>(changes_since_checkpoint_, 1);
    } else if (state == IndexState::kTraining) {
      index_.reset();
      index_spec_ = "Flat";
      index_identity_.clear();
      index_origin_ = "none";
    }
    building_ = false;
    pending_ops_.clear();
    RecomputeFreeSlots();
    index_state_ = state;
  }
  index_cv_.notify_all();
}

void CollectionImpl::BuildMain(IndexOptions options) {
  std::vector<uint32_t> snapshot;
  {
    std::unique_lock lock(mu_);
    std::lock_guard il(index_mu_);
    if (state_ != State::kOpen) return;
    building_ = true;
    pending_ops_.clear();
    index_state_ = IndexState::kBuilding;
    snapshot.reserve(id_slot_.size());
    for (uint32_t s = 0; s < slots_; ++s) {
      if (live_[s]) snapshot.push_back(s);
    }
  }
  auto fail = [&](const Status& st) {
    Log(LogLevel::kError, "collection " + desc_.name + ": building index " + options.ToString() + " failed: " +
                              st.ToString());
    EndBuild(nullptr, options, IndexState::kReady);
  };
  auto created = index::CreateIndex(options, desc_.metric, &store_);
  if (!created.ok()) return fail(created.status());
  std::shared_ptr<index::VectorIndex> idx = std::move(*created);

  if (idx->NeedsTraining()) {
    const size_t need = idx->MinTrainingPoints();
    if (snapshot.size() < need) {
      // Not enough points yet: searches are exact until Maintain() sees enough and trains.
      min_training_points_ = need;
      EndBuild(nullptr, options, IndexState::kTraining);
      std::error_code ec;
      std::filesystem::remove(IndexFilePath(env_.index_dir, desc_.id), ec);
      return;
    }
    // A deterministic, evenly spread sample of at most kMaxTrainingPoints vectors.
    constexpr size_t kMaxTrainingPoints = 100000;
    const size_t n = std::min(snapshot.size(), std::max(need, kMaxTrainingPoints));
    std::vector<float> sample;
    try {
      sample.resize(n * desc_.dimension);
    } catch (const std::bad_alloc&) {
      return fail(Status::ResourceExhausted("out of memory for the training sample"));
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t s = snapshot[i * snapshot.size() / n];
      std::memcpy(sample.data() + i * desc_.dimension, store_.Row(s), desc_.dimension * sizeof(float));
    }
    if (Status st = idx->Train(sample.data(), n); !st.ok()) return fail(st);
  }
  for (uint32_t s : snapshot) {
    if (build_stop_) return EndBuild(nullptr, options, IndexState::kReady);
    if (Status st = idx->Add(s); !st.ok()) return fail(st);
  }
  // Catch up with the writes made meanwhile, until few are left; the last ones are applied with
  // writers held off, at the swap.
  for (;;) {
    if (build_stop_) return EndBuild(nullptr, options, IndexState::kReady);
    std::vector<std::pair<bool, uint32_t>> ops;
    {
      std::lock_guard il(index_mu_);
      if (pending_ops_.size() < 256) break;
      ops.swap(pending_ops_);
    }
    for (const auto& [is_add, slot] : ops) {
      if (is_add && !idx->Holds(slot)) {
        if (Status st = idx->Add(slot); !st.ok()) return fail(st);
      } else if (!is_add && idx->Holds(slot)) {
        idx->Remove(slot);
      }
    }
  }
  EndBuild(std::move(idx), options, IndexState::kReady);
  if (Status st = Checkpoint(); !st.ok()) {
    Log(LogLevel::kWarning, "collection " + desc_.name + ": index checkpoint failed: " + st.ToString());
  }
}

Status CollectionImpl::Checkpoint() {
  return Guarded("checkpoint", [&]() -> Status {
    std::lock_guard c(checkpoint_mu_);
    IndexFile file;
    {
      std::shared_lock lock(mu_);
      if (state_ == State::kDropped) return CheckOpen();
      std::lock_guard il(index_mu_);
      if (!index_) return Status::OK();  // Flat or waiting to train: nothing to save
      SEXTANT_RETURN_IF_ERROR(index_->Save(&file.index_bytes).WithPrefix("checkpoint"));
      file.collection_id = desc_.id;
      file.dimension = desc_.dimension;
      file.metric = desc_.metric;
      file.index_spec = index_identity_;
      file.sequence = env_.storage->LatestSequence();
      file.fingerprints.assign(slots_, 0);
      for (uint32_t s = 0; s < slots_; ++s) {
        if (index_->Holds(s)) file.fingerprints[s] = VectorFingerprint(store_.Row(s), desc_.dimension);
      }
      changes_since_checkpoint_ = 0;
    }
    Status written = WriteIndexFile(IndexFilePath(env_.index_dir, desc_.id), file);
    if (!written.ok()) {
      changes_since_checkpoint_ += 1;  // try again later
      return written.WithPrefix("checkpoint");
    }
    last_checkpoint_ = std::chrono::steady_clock::now();
    return Status::OK();
  });
}

void CollectionImpl::Maintain() {
  // Consolidate after many removals: repairs the graph / lists and frees slots for reuse.
  bool consolidate = false, train = false, rebuild = false;
  uint64_t size = 0;
  {
    std::shared_lock lock(mu_);
    if (state_ != State::kOpen) return;
    size = id_slot_.size();
    consolidate = index_ && !building_ && index_->PendingRemovals() > std::max<size_t>(1000, index_->Size() / 10);
    train = index_state_ == IndexState::kTraining && size >= min_training_points_;
    rebuild = rebuild_requested_.exchange(false);
  }
  if (consolidate) {
    std::unique_lock lock(mu_);
    std::lock_guard il(index_mu_);
    if (index_ && !building_ && state_ == State::kOpen) {
      std::vector<uint32_t> released = index_->Consolidate();
      std::lock_guard f(free_mu_);
      for (uint32_t s : released) {
        if (s < slots_ && !live_[s]) free_slots_.push_back(s);
      }
    }
  }
  if (train) StartTrainingIfWaiting();
  if (rebuild) {
    std::lock_guard b(build_mu_);
    if (!build_running_) {
      StopBuild();  // joins a finished builder thread
      std::shared_lock lock(mu_);
      const IndexOptions options = desc_.index;
      lock.unlock();
      if (options.type != IndexType::kFlat) StartBuild(options);
    }
  }
  const auto since = std::chrono::steady_clock::now() - last_checkpoint_;
  if (changes_since_checkpoint_ > std::max<uint64_t>(10000, size / 5) && since > std::chrono::seconds(30)) {
    if (Status st = Checkpoint(); !st.ok()) {
      Log(LogLevel::kWarning, "collection " + desc_.name + ": index checkpoint failed: " + st.ToString());
    }
  }
}

void CollectionImpl::MarkDropped() {
  {
    std::lock_guard b(build_mu_);
    StopBuild();
  }
  {
    std::unique_lock lock(mu_);
    std::lock_guard il(index_mu_);
    state_ = State::kDropped;
    index_.reset();
    live_ = {};
    slot_ids_ = {};
    id_slot_ = {};
    slots_ = 0;
    payload_index_.reset();
  }
  index_cv_.notify_all();
  std::error_code ec;
  std::filesystem::remove(IndexFilePath(env_.index_dir, desc_.id), ec);
}

void CollectionImpl::Close() {
  {
    std::lock_guard b(build_mu_);
    StopBuild();
  }
  bool save = false;
  {
    std::shared_lock lock(mu_);
    save = state_ == State::kOpen && index_ &&
           (changes_since_checkpoint_ > 0 ||
            !std::filesystem::exists(IndexFilePath(env_.index_dir, desc_.id)));
  }
  if (save) {
    if (Status st = Checkpoint(); !st.ok()) {
      Log(LogLevel::kWarning, "collection " + desc_.name + ": index checkpoint on close failed: " + st.ToString());
    }
  }
  {
    std::unique_lock lock(mu_);
    if (state_ == State::kOpen) state_ = State::kClosed;
  }
  index_cv_.notify_all();
}

}  // namespace sextant
