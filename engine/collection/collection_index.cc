// CollectionImpl's index lifecycle: SetIndex, RebuildIndex, WaitForIndex, the background build
// (training, catch-up, swap), checkpoints, and the periodic Maintain().
#include <algorithm>
#include <cstring>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "collection/index_file.h"
#include "util/logging.h"

namespace sextant {

using storage::Cf;
using internal::Log;
using internal::LogLevel;
using collection_internal::Guarded;
using collection_internal::IndexIdentity;

void CollectionImpl::StartTrainingIfWaiting() {
  internal::MutexLock b(build_mu_);
  if (build_running_) return;
  StopBuild();  // joins a builder thread that has finished
  internal::ReaderLock<internal::RwMutex> lock(mu_);
  if (state_ != State::kOpen || index_state_ != IndexState::kTraining || id_slot_.size() < min_training_points_) return;
  const IndexOptions options = desc_.index;
  lock.Unlock();
  if (Status st = ReserveBuild(options, "training index"); !st.ok()) {
    WarnBudget(st);  // searches stay exact; Maintain tries again
    return;
  }
  StartBuild(options);
}

void CollectionImpl::WarnBudget(const Status& st) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t last = last_budget_warning_.load();
  if (now - last >= 60 && last_budget_warning_.compare_exchange_strong(last, now)) {
    Log(LogLevel::kWarning, "collection " + desc_.name + ": " + st.ToString());
  }
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
    internal::MutexLock b(build_mu_);
    // Before the new options are recorded: a refused build changes nothing.
    SEXTANT_RETURN_IF_ERROR(ReserveBuild(options, "set index: building"));
    {
      internal::WriterLock<internal::RwMutex> lock(mu_);
      CollectionDescriptor d = desc_;
      d.index = options;
      Status persisted = CheckOpen();
      if (persisted.ok()) persisted = PersistDescriptor(d).WithPrefix("set index");
      if (!persisted.ok()) {
        next_build_reservation_.Reset();
        return persisted;
      }
      // Only the index options change: the rest of desc_ is read without mu_ (dimension, metric,
      // name), so it must never be written after Load.
      desc_.index = options;
    }
    StopBuild();
    if (options.type == IndexType::kFlat) {
      // Before the index goes and its slots are freed: a checkpoint of it finishes first.
      internal::MutexLock c(checkpoint_mu_);
      {
        internal::WriterLock<internal::RwMutex> lock(mu_);
        internal::MutexLock il(index_mu_);
        index_.reset();
        index_spec_ = "Flat";
        index_identity_.clear();
        index_origin_ = "none";
        index_state_ = IndexState::kReady;
        RecomputeFreeSlots();
        ChargeIndex();
      }
      index_cv_.notify_all();
      env_.files->Remove(IndexFilePath(env_.index_dir, desc_.id)).IgnoreError();
      return Status::OK();
    }
    StartBuild(options);
    return Status::OK();
  });
}

Status CollectionImpl::RebuildIndex() {
  internal::MutexLock b(build_mu_);
  IndexOptions options;
  {
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    options = desc_.index;
  }
  if (options.type == IndexType::kFlat) return Status::OK();  // nothing to rebuild
  SEXTANT_RETURN_IF_ERROR(ReserveBuild(options, "rebuild index: building"));
  StopBuild();
  StartBuild(options);
  return Status::OK();
}

Status CollectionImpl::WaitForIndex(uint64_t timeout_ms) const {
  std::shared_lock lock(mu_);  // index_cv_ waits through it
  mu_.AssertReaderHeld();
  const bool done = index_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&]() SEXTANT_REQUIRES_SHARED(mu_) {
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
    internal::WriterLock<internal::RwMutex> lock(mu_);
    internal::MutexLock il(index_mu_);
    index_state_ = IndexState::kBuilding;
    build_reservation_ = std::move(next_build_reservation_);  // none when loading
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
    // The swap frees the slots only the old index held: a checkpoint of it finishes first.
    internal::MutexLock c(checkpoint_mu_);
    internal::WriterLock<internal::RwMutex> lock(mu_);
    internal::MutexLock il(index_mu_);
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
    ChargeIndex();
    build_reservation_.Reset();
  }
  index_cv_.notify_all();
}

void CollectionImpl::BuildMain(IndexOptions options) {
  std::vector<uint32_t> snapshot;
  {
    internal::WriterLock<internal::RwMutex> lock(mu_);
    internal::MutexLock il(index_mu_);
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
      env_.files->Remove(IndexFilePath(env_.index_dir, desc_.id)).IgnoreError();
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
    idx->SetTrainingStop(&build_stop_);  // a drop, close or newer build need not wait for k-means
    Status trained = idx->Train(sample.data(), n);
    idx->SetTrainingStop(nullptr);
    if (!trained.ok()) {
      if (build_stop_) return EndBuild(nullptr, options, IndexState::kReady);
      return fail(trained);
    }
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
      internal::MutexLock il(index_mu_);
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

Status CollectionImpl::CopyIndexLocked(IndexFile* file, std::vector<uint32_t>* held) const {
  SEXTANT_RETURN_IF_ERROR(index_->Save(&file->index_bytes));
  file->collection_id = desc_.id;
  file->dimension = desc_.dimension;
  file->metric = desc_.metric;
  file->index_spec = index_identity_;
  file->sequence = env_.storage->LatestSequence();
  held->clear();
  for (uint32_t s = 0; s < slots_; ++s) {
    if (index_->Holds(s)) held->push_back(s);
  }
  return Status::OK();
}

void CollectionImpl::FingerprintSlots(IndexFile* file, const std::vector<uint32_t>& held, uint32_t slots) const {
  file->fingerprints.assign(slots, 0);
  for (uint32_t s : held) file->fingerprints[s] = VectorFingerprint(store_.Row(s), desc_.dimension);
}

Status CollectionImpl::SaveIndexLocked(IndexFile* file) const {
  std::vector<uint32_t> held;
  SEXTANT_RETURN_IF_ERROR(CopyIndexLocked(file, &held));
  FingerprintSlots(file, held, slots_);
  return Status::OK();
}

void CollectionImpl::SetCheckpointHookForTesting(std::function<void()> hook) {
  internal::MutexLock c(checkpoint_mu_);
  checkpoint_hook_ = std::move(hook);
}

Status CollectionImpl::Checkpoint() {
  return Guarded("checkpoint", [&]() -> Status {
    internal::MutexLock c(checkpoint_mu_);
    return CheckpointLocked();
  });
}

Status CollectionImpl::CheckpointLocked() {
  return Guarded("checkpoint", [&]() -> Status {
    checkpoint_mu_.AssertHeld();  // the caller's (the analysis does not follow it into lambdas)
    IndexFile file;
    std::vector<uint32_t> held;
    uint32_t slots = 0;
    {
      // Under the locks only the copy: the index's arrays into bytes, and which slots it holds.
      internal::ReaderLock<internal::RwMutex> lock(mu_);
      // Dropped: the file must not come back. Closed: the storage and the directory's lock
      // belong to a database that is gone.
      SEXTANT_RETURN_IF_ERROR(CheckOpen());
      internal::MutexLock il(index_mu_);
      if (!index_) return Status::OK();  // Flat or waiting to train: nothing to save
      SEXTANT_RETURN_IF_ERROR(CopyIndexLocked(&file, &held).WithPrefix("checkpoint"));
      slots = slots_;
      changes_since_checkpoint_ = 0;
    }
    // Outside them (searches and writes go on): fingerprint every held slot's vector, encode,
    // checksum and write. checkpoint_mu_ keeps those rows unchanged (see collection_impl.h).
    if (checkpoint_hook_) checkpoint_hook_();
    FingerprintSlots(&file, held, slots);
    // The checkpoint must never be ahead of the durable log: it holds every write acknowledged
    // before it, and after a power loss that drops unsynced writes, an index that has them would
    // disagree with the points (found by tests/fault/power_loss_test.cc).
    Status written = env_.storage->SyncWal();
    if (written.ok()) written = WriteIndexFile(*env_.files, IndexFilePath(env_.index_dir, desc_.id), file);
    if (!written.ok()) {
      changes_since_checkpoint_ += 1;  // try again later
      return written.WithPrefix("checkpoint");
    }
    last_checkpoint_ = std::chrono::steady_clock::now();
    return Status::OK();
  });
}

StatusOr<std::unique_ptr<CollectionImpl::SnapshotHold>> CollectionImpl::HoldForSnapshot() {
  return Guarded("snapshot", [&]() -> StatusOr<std::unique_ptr<SnapshotHold>> {
    auto hold = std::make_unique<SnapshotHold>();
    // The order every writer uses (mu_, then index_mu_): once both are held, every committed
    // write has also reached the index, and no other write can commit.
    // The hold keeps both after this returns (std locks: the analysis cannot follow them there).
    hold->lock = std::shared_lock(mu_);
    mu_.AssertReaderHeld();
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    hold->index_lock = std::unique_lock(index_mu_);
    index_mu_.AssertHeld();
    hold->descriptor = desc_;
    hold->count = id_slot_.size();
    if (index_) {
      IndexFile file;
      SEXTANT_RETURN_IF_ERROR(SaveIndexLocked(&file).WithPrefix("snapshot of " + desc_.name));
      hold->index = std::move(file);
    }
    return hold;
  });
}

void CollectionImpl::Maintain() {
  // Consolidate after many removals: repairs the graph / lists and frees slots for reuse.
  bool consolidate = false, train = false, rebuild = false;
  uint64_t size = 0;
  {
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    if (state_ != State::kOpen) return;
    size = id_slot_.size();
    consolidate = index_ && !building_ && index_->PendingRemovals() > std::max<size_t>(1000, index_->Size() / 10);
    train = index_state_ == IndexState::kTraining && size >= min_training_points_;
    rebuild = rebuild_requested_.exchange(false);
  }
  if (consolidate) {
    internal::MutexLock c(checkpoint_mu_);  // released slots may be rewritten: not during a checkpoint
    internal::WriterLock<internal::RwMutex> lock(mu_);
    internal::MutexLock il(index_mu_);
    if (index_ && !building_ && state_ == State::kOpen) {
      std::vector<uint32_t> released = index_->Consolidate();
      ChargeIndex();
      internal::MutexLock f(free_mu_);
      for (uint32_t s : released) {
        if (s < slots_ && !live_[s]) free_slots_.push_back(s);
      }
    }
  }
  if (train) StartTrainingIfWaiting();
  if (rebuild) {
    internal::MutexLock b(build_mu_);
    if (!build_running_) {
      StopBuild();  // joins a finished builder thread
      internal::ReaderLock<internal::RwMutex> lock(mu_);
      const IndexOptions options = desc_.index;
      lock.Unlock();
      if (options.type != IndexType::kFlat) {
        if (Status st = ReserveBuild(options, "rebuilding index"); st.ok()) {
          StartBuild(options);
        } else {
          WarnBudget(st);
          rebuild_requested_ = true;  // try again at the next Maintain
        }
      }
    }
  }
  std::chrono::steady_clock::duration since;
  {
    internal::MutexLock c(checkpoint_mu_);
    since = std::chrono::steady_clock::now() - last_checkpoint_;
  }
  if (changes_since_checkpoint_ > std::max<uint64_t>(10000, size / 5) && since > std::chrono::seconds(30)) {
    if (Status st = Checkpoint(); !st.ok()) {
      Log(LogLevel::kWarning, "collection " + desc_.name + ": index checkpoint failed: " + st.ToString());
    }
  }
}

}  // namespace sextant
