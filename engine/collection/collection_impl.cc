// CollectionImpl: loading a collection (ids, vectors, payload index entries, the index
// checkpoint), its open/dropped/closed state, Describe and Count, and shutting it down.
// The write path is in collection_write.cc, reads and the planner in collection_search.cc, the
// index lifecycle and checkpoints in collection_index.cc.
#include "collection/collection_impl.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "collection/collection_internal.h"
#include "collection/index_file.h"
#include "util/coding.h"
#include "util/logging.h"

namespace sextant {

using storage::Cf;
using internal::Log;
using internal::LogLevel;
using collection_internal::IndexIdentity;

namespace collection_internal {

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

// Checks that every component is finite (naming the first one that is not) and that the norm
// keeps every score finite.
Status ValidateVector(const float* v, size_t dim, std::string_view field) {
  double squares = 0;
  for (size_t j = 0; j < dim; ++j) {
    if (!std::isfinite(v[j])) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(j) + "] is " +
                                     (std::isnan(v[j]) ? "NaN" : "infinite"));
    }
    squares += static_cast<double>(v[j]) * static_cast<double>(v[j]);
  }
  constexpr double kMax = CollectionOptions::kMaxVectorNorm;
  if (!(squares <= kMax * kMax)) {  // also catches a double overflow to +inf
    char norm[32];
    std::snprintf(norm, sizeof(norm), "%.3g", std::sqrt(squares));
    return Status::InvalidArgument(std::string(field) + " has norm " + norm + ", above the limit of 1e18 " +
                                   "(its scores would overflow float32)");
  }
  return Status::OK();
}

// The identity of an index's structure: its spec plus the build parameters the spec leaves out.
// A checkpoint is loaded only into a collection configured with the same identity.
std::string IndexIdentity(const IndexOptions& o) {
  std::string out = o.ToString();
  if (o.type == IndexType::kHnsw) out += ";efc=" + std::to_string(o.ef_construction);
  return out;
}

}  // namespace collection_internal

CollectionImpl::CollectionImpl(const CollectionEnv& env, CollectionDescriptor descriptor)
    : env_(env),
      prefix_(storage::CollectionPrefix(descriptor.id)),
      desc_(std::move(descriptor)),
      store_(desc_.dimension) {}

CollectionImpl::~CollectionImpl() {
  {
    internal::MutexLock b(build_mu_);
    StopBuild();
  }
  ReleaseCharges();
}

StatusOr<std::shared_ptr<CollectionImpl>> CollectionImpl::Load(const CollectionEnv& env,
                                                               CollectionDescriptor descriptor) {
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(env, std::move(descriptor)));
  const std::string& name = c->desc_.name;
  const std::string end = storage::CollectionPrefix(c->desc_.id + 1);
  const size_t dim = c->desc_.dimension;
  // Nobody else sees the collection yet: held for the analysis (the scans' callbacks run on this
  // thread, inside it), released before a build starts.
  internal::WriterLock<internal::RwMutex> loading(c->mu_);
  if (!c->desc_.payload_indexes.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(c->payload_index_, payload::PayloadIndexSet::Create(c->desc_.payload_indexes));
    SEXTANT_ASSIGN_OR_RETURN(c->payload_schema_, payload::PayloadIndexSet::Create(c->desc_.payload_indexes));
  }
  if (!c->desc_.text_fields.empty()) {
    SEXTANT_ASSIGN_OR_RETURN(c->text_index_, text::TextIndex::Create(c->desc_.text_fields));
  }
  Status bad;

  SEXTANT_RETURN_IF_ERROR(env.storage->Scan(Cf::kIds, c->prefix_, end, [&](std::string_view k, std::string_view v) {
    c->mu_.AssertHeld();  // Load's
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
    c->mu_.AssertHeld();  // Load's
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
      c->mu_.AssertHeld();  // Load's
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

  if (c->text_index_) {
    const size_t num_fields = c->desc_.text_fields.size();
    SEXTANT_RETURN_IF_ERROR(env.storage->Scan(Cf::kText, c->prefix_, end, [&](std::string_view k, std::string_view v) {
      c->mu_.AssertHeld();  // Load's
      if (k.size() != c->prefix_.size() + 4) {
        bad = Status::DataLoss("collection " + name + ": corrupt text index key");
        return false;
      }
      const uint32_t slot = internal::DecodeFixed32BE(k.data() + c->prefix_.size());
      if (slot >= c->slots_ || !c->live_[slot]) return true;  // no point: not indexed
      auto doc = text::DecodeDocTerms(v, num_fields);
      if (!doc.ok()) {
        bad = doc.status().WithPrefix("collection " + name + ", slot " + std::to_string(slot));
        return false;
      }
      c->text_index_->Set(slot, *doc);
      return true;
    }));
    SEXTANT_RETURN_IF_ERROR(bad);
  }

  loading.Unlock();
  if (c->desc_.index.type != IndexType::kFlat) {
    Status loaded;
    {
      internal::WriterLock<internal::RwMutex> l(c->mu_);
      internal::MutexLock il(c->index_mu_);
      loaded = c->LoadIndexFromFile();
    }
    if (!loaded.ok()) {
      if (loaded.code() == StatusCode::kNotFound || loaded.code() == StatusCode::kFailedPrecondition) {
        // No checkpoint yet, or one of an index the collection no longer uses: build, quietly.
        Log(LogLevel::kInfo, "collection " + name + ": building the index (" + loaded.ToString() + ")");
      } else {
        Log(LogLevel::kWarning, "collection " + name + ": index checkpoint not usable (" + loaded.ToString() +
                                    "); rebuilding it from the stored vectors");
      }
      internal::MutexLock b(c->build_mu_);
      c->StartBuild(c->desc_.index);
    }
  }
  {
    internal::WriterLock<internal::RwMutex> l(c->mu_);
    internal::MutexLock il(c->index_mu_);
    if (!c->building_) c->RecomputeFreeSlots();
    // What was stored is loaded whatever the budget says: opening never loses data. Writes are
    // refused until enough is deleted when it is over.
    c->ChargeData();
    c->ChargeIndex();
  }
  return c;
}

Status CollectionImpl::LoadIndexFromFile() {
  SEXTANT_ASSIGN_OR_RETURN(IndexFile file, ReadIndexFile(*env_.files, IndexFilePath(env_.index_dir, desc_.id)));
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

namespace {
// An id's entry in id_slot_ (hash node: next pointer, key string, slot, cached hash, rounded to
// the allocator's 16 bytes) and its bucket pointer. Ids longer than the string's inline buffer
// (15 bytes) also hold their text twice on the heap; that is not counted.
constexpr uint64_t kIdEntryBytes = 80;
}  // namespace

uint64_t CollectionImpl::DataBytes() const {
  uint64_t bytes = store_.MemoryBytes() + live_.capacity() + slot_ids_.capacity() * sizeof(std::string) +
                   id_slot_.size() * kIdEntryBytes;
  if (payload_index_) bytes += payload_index_->MemoryBytes();
  if (text_index_) bytes += text_index_->MemoryBytes();
  return bytes;
}

void CollectionImpl::ChargeData() {
  if (!env_.budget) return;
  const int64_t now = static_cast<int64_t>(DataBytes());
  env_.budget->Charge(now - data_charged_.exchange(now));
}

void CollectionImpl::ChargeIndex() {
  if (!env_.budget) return;
  const int64_t now = index_ ? static_cast<int64_t>(index_->MemoryBytes()) : 0;
  env_.budget->Charge(now - index_charged_.exchange(now));
}

void CollectionImpl::ReleaseCharges() {
  if (!env_.budget) return;
  env_.budget->Charge(-(data_charged_.exchange(0) + index_charged_.exchange(0)));
}

uint64_t CollectionImpl::WriteGrowth(size_t points, uint64_t next_slot, uint64_t entry_bytes) const {
  const uint64_t dim = desc_.dimension;
  const uint64_t new_rows = store_.CapacityFor(next_slot) - store_.capacity();
  uint64_t bytes = new_rows * (dim * sizeof(float) + 1 + sizeof(std::string)) + points * kIdEntryBytes + entry_bytes;
  if (text_index_ && !id_slot_.empty()) bytes += points * (text_index_->MemoryBytes() / id_slot_.size());
  if (index_ || building_) {
    // Both the index in use and the one being built take every new point.
    const uint64_t live = id_slot_.size();
    const uint64_t before = index::EstimateIndexBytes(desc_.index, desc_.dimension, live, slots_);
    const uint64_t after = index::EstimateIndexBytes(desc_.index, desc_.dimension, live + points,
                                                     std::max<uint64_t>(slots_, next_slot));
    bytes += (after > before ? after - before : 0) * (index_ && building_ ? 2 : 1);
  }
  return bytes;
}

Status CollectionImpl::ReserveBuild(const IndexOptions& options, std::string_view what) {
  next_build_reservation_.Reset();
  if (!env_.budget || options.type == IndexType::kFlat) return Status::OK();
  uint64_t n = 0, slots = 0;
  {
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    n = id_slot_.size();
    slots = slots_;
  }
  uint64_t bytes = index::EstimateIndexBytes(options, desc_.dimension, n, slots);
  if (options.type == IndexType::kIvf || options.quantizer != QuantizerType::kNone) {
    bytes += std::min<uint64_t>(n, 100000) * desc_.dimension * sizeof(float);  // the training sample
  }
  SEXTANT_RETURN_IF_ERROR(env_.budget->Reserve(bytes, std::string(what) + " " + options.ToString() + " of collection " +
                                                          desc_.name + " (" + std::to_string(n) + " points)"));
  next_build_reservation_ = internal::MemoryReservation(env_.budget.get(), bytes);
  return Status::OK();
}

StatusOr<uint64_t> CollectionImpl::Count() const {
  internal::ReaderLock<internal::RwMutex> lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  return uint64_t{id_slot_.size()};
}

StatusOr<CollectionInfo> CollectionImpl::Describe() const {
  internal::ReaderLock<internal::RwMutex> lock(mu_);
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
  info.text_fields = desc_.text_fields;
  return info;
}

void CollectionImpl::MarkDropped() {
  {
    internal::MutexLock b(build_mu_);
    StopBuild();
  }
  // Held to the end: a checkpoint in progress finishes writing before its file is removed, and
  // none starts after (it sees kDropped), so no orphan index file is left behind.
  internal::MutexLock c(checkpoint_mu_);
  {
    internal::WriterLock<internal::RwMutex> lock(mu_);
    internal::MutexLock il(index_mu_);
    state_ = State::kDropped;
    index_.reset();
    live_ = {};
    slot_ids_ = {};
    id_slot_ = {};
    slots_ = 0;
    payload_index_.reset();
    build_reservation_.Reset();
  }
  ReleaseCharges();  // the rows go when the last handle does
  index_cv_.notify_all();
  env_.files->Remove(IndexFilePath(env_.index_dir, desc_.id)).IgnoreError();
}

void CollectionImpl::Close() {
  {
    internal::MutexLock b(build_mu_);
    StopBuild();
  }
  {
    // Held until the state is kClosed: a checkpoint running on another thread finishes first
    // (while the storage and the directory lock are still there), and none starts after.
    internal::MutexLock c(checkpoint_mu_);
    bool save = false;
    const StatusOr<bool> on_disk = env_.files->Exists(IndexFilePath(env_.index_dir, desc_.id));
    {
      internal::ReaderLock<internal::RwMutex> lock(mu_);
      save = state_ == State::kOpen && index_ && (changes_since_checkpoint_ > 0 || !on_disk.ok() || !*on_disk);
    }
    if (save) {
      if (Status st = CheckpointLocked(); !st.ok()) {
        Log(LogLevel::kWarning, "collection " + desc_.name + ": index checkpoint on close failed: " + st.ToString());
      }
    }
    internal::WriterLock<internal::RwMutex> lock(mu_);
    if (state_ == State::kOpen) state_ = State::kClosed;
  }
  index_cv_.notify_all();
}

}  // namespace sextant
