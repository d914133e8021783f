// DatabaseImpl: the catalogue of collections, open and close.
//
// The catalogue lives in the meta family: "format_version" -> decimal text, "next_collection_id"
// -> decimal text, and "collection/<name>" -> a JSON descriptor (docs/format.md). Collection ids
// are never reused, so a dropped collection's keys can never be mistaken for a new one's.
#include <algorithm>
#include <condition_variable>
#include <optional>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "collection/collection_impl.h"
#include "collection/descriptor.h"
#include "collection/index_file.h"
#include "collection/repair.h"
#include "util/logging.h"
#include "db/file_lock.h"
#include "db/names.h"
#include "db/snapshot_ops.h"
#include "sextant/database.h"
#include "simd/distance.h"
#include "storage/files.h"
#include "storage/storage.h"
#include "sync/mutex.h"
#include "text/text_index.h"

#ifndef SEXTANT_VERSION
#define SEXTANT_VERSION "0.0.0"
#endif

namespace sextant {
namespace {

using storage::Cf;
using internal::Log;
using internal::LogLevel;

constexpr int kFormatVersion = 1;
constexpr std::string_view kFormatVersionKey = "format_version";
constexpr std::string_view kNextIdKey = "next_collection_id";
constexpr std::string_view kAliasKeyPrefix = "alias/";  // "alias/<alias>" -> the collection's name

std::string AliasKey(std::string_view alias) { return std::string(kAliasKeyPrefix) + std::string(alias); }
constexpr size_t kMaxNameLength = 128;

Status ValidateName(std::string_view name, std::string_view what = "collection name") {
  return db_internal::ValidateName(name, what, kMaxNameLength);
}

class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(std::string path, FileLock lock, std::unique_ptr<storage::Storage> storage,
               std::shared_ptr<const storage::Files> files, CollectionLimits limits,
               std::shared_ptr<internal::MemoryBudget> budget)
      : path_(std::move(path)), lock_(std::move(lock)), storage_(std::move(storage)) {
    env_.storage = storage_.get();
    env_.files = std::move(files);
    env_.index_dir = path_ + "/index";
    env_.limits = limits;
    env_.budget = std::move(budget);
  }

  MemoryUsage Memory() const override { return {env_.budget->used(), env_.budget->limit()}; }

  ~DatabaseImpl() override {
    {
      internal::MutexLock guard(maintenance_mu_);
      stopping_ = true;
    }
    maintenance_cv_.notify_all();
    if (maintenance_.joinable()) maintenance_.join();
    internal::MutexLock guard(mu_);
    for (auto& [name, c] : collections_) c->Close();  // stops builds, checkpoints changed indexes
    collections_.clear();
    storage_.reset();  // closes RocksDB before the lock is released
  }

  // Runs each collection's Maintain() about once a second until the database closes.
  void StartMaintenance() {
    maintenance_ = std::thread([this] {
      internal::MutexLock lock(maintenance_mu_);
      while (!maintenance_cv_.wait_for(maintenance_mu_, std::chrono::seconds(1),
                                       [&]() SEXTANT_REQUIRES(maintenance_mu_) { return stopping_; })) {
        lock.Unlock();
        std::vector<std::shared_ptr<CollectionImpl>> all;
        {
          internal::MutexLock guard(mu_);
          for (auto& [name, c] : collections_) all.push_back(c);
        }
        for (auto& c : all) c->Maintain();
        lock.Lock();
      }
    });
  }

  // Runs in Open, before the database is shared: it fills the catalogue without mu_.
  Status Load() SEXTANT_NO_THREAD_SAFETY_ANALYSIS {
    SEXTANT_ASSIGN_OR_RETURN(auto version, storage_->Get(Cf::kMeta, kFormatVersionKey));
    if (!version) {
      storage::Batch batch;
      batch.Put(Cf::kMeta, kFormatVersionKey, std::to_string(kFormatVersion));
      batch.Put(Cf::kMeta, kNextIdKey, "1");
      SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true));
    } else if (std::atoi(version->c_str()) > kFormatVersion || std::atoi(version->c_str()) < 1) {
      return Status::FailedPrecondition("database " + path_ + " has format version " + *version +
                                        "; this build of Sextant reads version " + std::to_string(kFormatVersion));
    }
    SEXTANT_ASSIGN_OR_RETURN(auto next, storage_->Get(Cf::kMeta, kNextIdKey));
    next_id_ = next ? static_cast<uint32_t>(std::stoul(*next)) : 1;
    SEXTANT_RETURN_IF_ERROR(RemoveInterruptedRestores());

    std::vector<CollectionDescriptor> descriptors;
    std::string end(kDescriptorKeyPrefix);
    end.back() += 1;
    SEXTANT_RETURN_IF_ERROR(storage_->Scan(Cf::kMeta, kDescriptorKeyPrefix, end, [&](std::string_view k, std::string_view v) SEXTANT_NO_THREAD_SAFETY_ANALYSIS {
      auto d = DecodeDescriptor(v);
      if (!d.ok()) {
        SetAside(std::string(k.substr(kDescriptorKeyPrefix.size())), std::nullopt, d.status());
        return true;
      }
      descriptors.push_back(std::move(*d));
      return true;
    }));
    for (auto& d : descriptors) {
      auto c = CollectionImpl::Load(env_, d);
      if (!c.ok()) {
        // Stored records that do not load: set the collection aside, open the rest. Any other
        // error (out of memory, I/O) is the database's and fails the open.
        if (c.status().code() != StatusCode::kDataLoss) return c.status();
        SetAside(d.name, d, c.status());
        continue;
      }
      collections_.emplace(d.name, std::move(*c));
    }
    std::string alias_end(kAliasKeyPrefix);
    alias_end.back() += 1;
    SEXTANT_RETURN_IF_ERROR(storage_->Scan(Cf::kMeta, kAliasKeyPrefix, alias_end, [&](std::string_view k, std::string_view v) SEXTANT_NO_THREAD_SAFETY_ANALYSIS {
      aliases_.emplace(std::string(k.substr(kAliasKeyPrefix.size())), std::string(v));
      return true;
    }));
    // An alias naming no collection (its record damaged) is left out, as damaged collections are:
    // the database still opens; re-creating the alias replaces the record.
    for (auto it = aliases_.begin(); it != aliases_.end();) {
      if (collections_.count(it->second) || damaged_.count(it->second)) {
        ++it;
        continue;
      }
      internal::Log(internal::LogLevel::kWarning, "database " + path_ + ": alias " + it->first +
                                                      " names collection " + it->second + ", which does not exist; ignored");
      it = aliases_.erase(it);
    }
    return Status::OK();
  }

  StatusOr<std::shared_ptr<Collection>> CreateCollection(std::string_view name,
                                                         const CollectionOptions& options) override {
    SEXTANT_RETURN_IF_ERROR(ValidateName(name).WithPrefix("create collection"));
    if (options.dimension == 0 || options.dimension > CollectionOptions::kMaxDimension) {
      return Status::InvalidArgument("create collection " + std::string(name) + ": dimension must be 1.." +
                                     std::to_string(CollectionOptions::kMaxDimension) + ", got " +
                                     std::to_string(options.dimension));
    }
    if (MetricName(options.metric) == "unknown") {
      return Status::InvalidArgument("create collection " + std::string(name) + ": unknown metric");
    }
    SEXTANT_RETURN_IF_ERROR(options.index.Validate(options.dimension).WithPrefix("create collection " + std::string(name)));
    if (!options.payload_indexes.empty()) {
      SEXTANT_RETURN_IF_ERROR(payload::PayloadIndexSet::Create(options.payload_indexes)
                                  .status()
                                  .WithPrefix("create collection " + std::string(name)));
    }
    if (!options.text_fields.empty()) {
      SEXTANT_RETURN_IF_ERROR(
          text::TextIndex::Create(options.text_fields).status().WithPrefix("create collection " + std::string(name)));
    }
    std::string properties;
    if (!options.properties.empty()) {
      constexpr size_t kMaxPropertiesBytes = 64 * 1024;
      nlohmann::json parsed = nlohmann::json::parse(options.properties, nullptr, /*allow_exceptions=*/false);
      if (!parsed.is_object()) {
        return Status::InvalidArgument("create collection " + std::string(name) +
                                       ": properties must be a JSON object");
      }
      properties = parsed.dump();
      if (properties.size() > kMaxPropertiesBytes) {
        return Status::InvalidArgument("create collection " + std::string(name) + ": properties exceed " +
                                       std::to_string(kMaxPropertiesBytes) + " bytes");
      }
    }
    internal::MutexLock guard(mu_);
    if (collections_.count(std::string(name)) || restoring_.count(std::string(name)) || damaged_.count(name)) {
      return Status::AlreadyExists("collection " + std::string(name) + " already exists");
    }
    if (auto a = aliases_.find(name); a != aliases_.end()) {
      return Status::AlreadyExists("create collection " + std::string(name) + ": an alias of that name exists (of " +
                                   a->second + ")");
    }
    CollectionDescriptor d{next_id_, std::string(name), options.dimension, options.metric, options.index,
                           options.payload_indexes, options.text_fields, std::move(properties)};
    storage::Batch batch;
    batch.Put(Cf::kMeta, DescriptorKey(name), EncodeDescriptor(d));
    batch.Put(Cf::kMeta, kNextIdKey, std::to_string(next_id_ + 1));
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("create collection"));
    ++next_id_;
    SEXTANT_ASSIGN_OR_RETURN(auto c, CollectionImpl::Load(env_, std::move(d)));
    collections_.emplace(std::string(name), c);
    return std::shared_ptr<Collection>(c);
  }

  StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) override {
    internal::MutexLock guard(mu_);
    std::string_view target = name;
    if (!collections_.count(name) && !damaged_.count(name)) {
      if (auto a = aliases_.find(name); a != aliases_.end()) target = a->second;
    }
    auto it = collections_.find(target);
    if (it == collections_.end()) {
      if (auto d = damaged_.find(target); d != damaged_.end()) return DamagedError(d->first, d->second);
      return Status::NotFound("collection " + std::string(name) + " not found");
    }
    return std::shared_ptr<Collection>(it->second);
  }

  Status DropCollection(std::string_view name) override {
    std::shared_ptr<CollectionImpl> dropped;
    {
      // Under the catalogue mutex only the commit and the catalogue change: stopping the
      // collection's background build and reclaiming its disk space can take long, and every
      // call that looks a collection up waits for this mutex.
      internal::MutexLock guard(mu_);
      auto it = collections_.find(std::string(name));
      if (it == collections_.end()) {
        if (auto d = damaged_.find(name); d != damaged_.end()) return DropDamaged(d);
        if (auto a = aliases_.find(name); a != aliases_.end()) {
          return Status::FailedPrecondition("drop collection " + std::string(name) + ": that is an alias of " +
                                            a->second + "; delete the alias, or drop " + a->second +
                                            " by its own name");
        }
        return Status::NotFound("collection " + std::string(name) + " not found");
      }
      const uint32_t cid = it->second->id();
      const std::string begin = storage::CollectionPrefix(cid), end = storage::CollectionPrefix(cid + 1);
      storage::Batch batch;
      batch.Delete(Cf::kMeta, DescriptorKey(name));
      // The collection's aliases go with it.
      std::vector<std::string> its_aliases;
      for (const auto& [alias, target] : aliases_) {
        if (target == name) {
          its_aliases.push_back(alias);
          batch.Delete(Cf::kMeta, AliasKey(alias));
        }
      }
      for (int cf = 0; cf < storage::kNumCfs; ++cf) {
        if (static_cast<Cf>(cf) != Cf::kMeta) batch.DeleteRange(static_cast<Cf>(cf), begin, end);
      }
      SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("drop collection"));
      dropped = it->second;
      collections_.erase(it);
      for (const std::string& alias : its_aliases) aliases_.erase(alias);
    }
    const uint32_t cid = dropped->id();
    const std::string begin = storage::CollectionPrefix(cid), end = storage::CollectionPrefix(cid + 1);
    dropped->MarkDropped();
    // Reclaim the disk space now rather than at some later compaction. The drop is already
    // committed; a failure here only delays reclaiming.
    for (int cf = 0; cf < storage::kNumCfs; ++cf) {
      if (static_cast<Cf>(cf) != Cf::kMeta) storage_->CompactRange(static_cast<Cf>(cf), begin, end).IgnoreError();
    }
    return Status::OK();
  }

  StatusOr<std::vector<CollectionInfo>> ListCollections() const override {
    internal::MutexLock guard(mu_);
    std::vector<CollectionInfo> out;
    for (const auto& [name, c] : collections_) {
      SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, c->Describe());
      out.push_back(std::move(info));
    }
    for (const auto& [name, d] : damaged_) {
      CollectionInfo info;
      info.name = name;
      if (d.descriptor) {
        info.dimension = d.descriptor->dimension;
        info.metric = d.descriptor->metric;
        info.index = d.descriptor->index.ToString();
        info.properties = d.descriptor->properties;
        info.text_fields = d.descriptor->text_fields;
      }
      info.damage = d.why.ToString();
      out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const CollectionInfo& a, const CollectionInfo& b) { return a.name < b.name; });
    return out;
  }

  Status CreateAlias(std::string_view alias, std::string_view collection) override {
    const AliasChange change = AliasChange::Create(std::string(alias), std::string(collection));
    return UpdateAliases(std::span(&change, 1));
  }

  Status DeleteAlias(std::string_view alias) override {
    const AliasChange change = AliasChange::Delete(std::string(alias));
    return UpdateAliases(std::span(&change, 1));
  }

  StatusOr<std::vector<AliasInfo>> ListAliases() const override {
    internal::MutexLock guard(mu_);
    std::vector<AliasInfo> out;
    out.reserve(aliases_.size());
    for (const auto& [alias, target] : aliases_) out.push_back({alias, target});
    return out;
  }

  Status UpdateAliases(std::span<const AliasChange> changes) override {
    if (changes.empty()) return Status::InvalidArgument("alias changes: empty");
    internal::MutexLock guard(mu_);
    // Apply to a copy, so that a failing change leaves everything as it was.
    auto next = aliases_;
    for (size_t i = 0; i < changes.size(); ++i) {
      const AliasChange& c = changes[i];
      const bool create = c.kind == AliasChange::Kind::kCreate;
      const std::string label = changes.size() == 1 ? std::string(create ? "create alias " : "delete alias ") + c.alias
                                                    : "change " + std::to_string(i) + " (" +
                                                          (create ? "create " : "delete ") + c.alias + ")";
      SEXTANT_RETURN_IF_ERROR(ValidateName(c.alias, "alias").WithPrefix(label));
      if (!create) {
        if (next.erase(c.alias) == 0) return Status::NotFound(label + ": alias " + c.alias + " not found");
        continue;
      }
      if (collections_.count(c.alias) || restoring_.count(c.alias)) {
        return Status::AlreadyExists(label + ": a collection named " + c.alias + " exists");
      }
      // A damaged collection keeps its name until it is repaired or dropped: an alias of that name
      // would hide it (names resolve to collections first, and the repair would bring back a
      // collection its alias shadows).
      if (damaged_.count(c.alias)) {
        return Status::AlreadyExists(label + ": a collection named " + c.alias +
                                     " exists (damaged: repair or drop it first)");
      }
      if (auto a = next.find(c.alias); a != next.end()) {
        return Status::AlreadyExists(label + ": alias " + c.alias + " already names collection " + a->second +
                                     " (delete it first, in the same call to switch it)");
      }
      if (auto d = damaged_.find(c.collection); d != damaged_.end()) {
        return DamagedError(d->first, d->second).WithPrefix(label);
      }
      if (!collections_.count(c.collection)) {
        return Status::NotFound(label + ": collection " + c.collection + " not found" +
                                (next.count(c.collection) ? " (it is an alias; aliases name collections)" : ""));
      }
      next.emplace(c.alias, c.collection);
    }
    storage::Batch batch;
    for (const auto& [alias, target] : aliases_) {
      if (!next.count(alias)) batch.Delete(Cf::kMeta, AliasKey(alias));
    }
    for (const auto& [alias, target] : next) {
      auto o = aliases_.find(alias);
      if (o == aliases_.end() || o->second != target) batch.Put(Cf::kMeta, AliasKey(alias), target);
    }
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("update aliases"));
    aliases_ = std::move(next);
    return Status::OK();
  }

  StatusOr<RepairReport> RepairCollection(std::string_view name) override {
    std::optional<CollectionDescriptor> descriptor;
    std::shared_ptr<CollectionImpl> healthy;
    {
      internal::MutexLock guard(mu_);
      if (auto it = collections_.find(name); it != collections_.end()) {
        healthy = it->second;
      }
    }
    if (healthy) {
      // Its records loaded; rebuild the index (outside the catalogue mutex: it joins a build).
      SEXTANT_RETURN_IF_ERROR(healthy->RebuildIndex());
      SEXTANT_ASSIGN_OR_RETURN(uint64_t count, healthy->Count());
      RepairReport report;
      report.points_kept = count;
      return report;
    }
    {
      internal::MutexLock guard(mu_);
      auto d = damaged_.find(name);
      if (d == damaged_.end()) return Status::NotFound("collection " + std::string(name) + " not found");
      if (!d->second.descriptor) {
        return Status::FailedPrecondition("collection " + std::string(name) +
                                          ": its catalogue entry is unreadable, so it cannot be repaired; drop it");
      }
      if (d->second.repairing) return Status::Aborted("collection " + std::string(name) + " is being repaired");
      d->second.repairing = true;  // the salvage runs without the catalogue mutex
      descriptor = d->second.descriptor;
    }
    auto salvaged = SalvageCollection(storage_.get(), *descriptor);
    Status failed = salvaged.status();
    std::shared_ptr<CollectionImpl> loaded;
    if (failed.ok()) {
      // The index is derived state: rebuilt from the salvaged points.
      env_.files->Remove(IndexFilePath(env_.index_dir, descriptor->id)).IgnoreError();
      auto c = CollectionImpl::Load(env_, *descriptor);
      if (c.ok()) {
        loaded = std::move(*c);
      } else {
        failed = c.status();
      }
    }
    internal::MutexLock guard(mu_);
    auto d = damaged_.find(name);
    d->second.repairing = false;
    if (!failed.ok()) {
      d->second.why = failed;
      return failed.WithPrefix("repair " + std::string(name));
    }
    damaged_.erase(d);
    collections_.emplace(std::string(name), std::move(loaded));
    internal::Log(internal::LogLevel::kInfo, "collection " + std::string(name) + " repaired: kept " +
                                                 std::to_string(salvaged->points_kept) + " points, removed " +
                                                 std::to_string(salvaged->points_removed));
    return *salvaged;
  }

  const std::string& path() const override { return path_; }

  StatusOr<SnapshotInfo> CreateSnapshot(const SnapshotOptions& options) override {
    namespace si = snapshot_internal;
    if (options.directory.empty()) return Status::InvalidArgument("snapshot: no snapshot directory given");
    const std::string name = options.name.empty() ? si::DefaultSnapshotName(options.collection) : options.name;
    SEXTANT_RETURN_IF_ERROR(ValidateSnapshotName(name).WithPrefix("snapshot"));
    const std::string final_path = options.directory + "/" + name;
    std::error_code ec;
    if (std::filesystem::exists(final_path, ec)) return Status::AlreadyExists("snapshot " + name + " already exists");
    SEXTANT_ASSIGN_OR_RETURN(std::string staging, si::MakeStagingDir(options.directory, "snapshot"));
    SnapshotInfo info;
    info.name = name;
    info.format_version = kSnapshotFormatVersion;
    info.scope = options.collection.empty() ? "database" : "collection";
    info.sextant_version = std::string(Version());
    info.created_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    std::vector<si::SnapshotPart> parts;
    Status taken = [&]() -> Status {
      // The snapshot point: the catalogue and every collection concerned held still (no write
      // commits, no index changes, no create or drop) while the indexes are serialised and
      // RocksDB writes its checkpoint. Holds are taken in name order, like every other
      // multi-collection lock in the database.
      internal::MutexLock guard(mu_);
      std::vector<std::unique_ptr<CollectionImpl::SnapshotHold>> holds;
      for (auto& [cname, c] : collections_) {
        if (!options.collection.empty() && cname != options.collection) continue;
        SEXTANT_ASSIGN_OR_RETURN(auto hold, c->HoldForSnapshot());
        si::SnapshotPart part;
        part.id = c->id();
        part.info.name = cname;
        part.info.dimension = hold->descriptor.dimension;
        part.info.metric = hold->descriptor.metric;
        part.info.index = hold->descriptor.index.ToString();
        part.info.count = hold->count;
        part.info.has_index_checkpoint = hold->index.has_value();
        part.index = std::move(hold->index);
        parts.push_back(std::move(part));
        holds.push_back(std::move(hold));
      }
      if (!options.collection.empty() && parts.empty()) {
        return Status::NotFound("snapshot: collection " + options.collection + " not found");
      }
      info.sequence = storage_->LatestSequence();
      return storage_->CreateCheckpoint(staging + "/db");
    }();
    if (!taken.ok()) {
      std::filesystem::remove_all(staging, ec);
      return taken;
    }
    return si::FinishSnapshot(*env_.files, staging, final_path, std::move(info), std::move(parts));
  }

  StatusOr<CollectionInfo> RestoreCollection(const std::string& snapshot_path, std::string_view source,
                                             std::string_view name) override {
    namespace si = snapshot_internal;
    SEXTANT_RETURN_IF_ERROR(ValidateName(name).WithPrefix("restore"));
    SEXTANT_ASSIGN_OR_RETURN(SnapshotInfo info, VerifySnapshot(snapshot_path));
    const SnapshotCollection* from = nullptr;
    if (source.empty()) {
      if (info.collections.size() != 1) {
        return Status::InvalidArgument("restore: snapshot " + info.name + " holds " +
                                       std::to_string(info.collections.size()) +
                                       " collections; name the one to restore");
      }
      from = &info.collections[0];
    } else {
      for (const auto& c : info.collections) {
        if (c.name == source) from = &c;
      }
      if (from == nullptr) {
        return Status::NotFound("restore: snapshot " + info.name + " has no collection " + std::string(source));
      }
    }
    storage::StorageOptions so;
    so.create_if_missing = false;
    so.read_only = true;
    so.file_system = env_.files->file_system();
    so.block_cache_bytes = 8 << 20;
    SEXTANT_ASSIGN_OR_RETURN(auto src, storage::Storage::Open(snapshot_path + "/db", so));
    SEXTANT_ASSIGN_OR_RETURN(auto text, src->Get(Cf::kMeta, DescriptorKey(from->name)));
    if (!text) return Status::DataLoss("restore: snapshot " + info.name + " lacks the catalogue entry of " + from->name);
    SEXTANT_ASSIGN_OR_RETURN(CollectionDescriptor d, DecodeDescriptor(*text));
    const uint32_t src_id = d.id;

    // Reserve the name and a fresh id, with a marker that makes an interrupted restore undo itself.
    uint32_t cid = 0;
    {
      internal::MutexLock guard(mu_);
      if (collections_.count(std::string(name)) || restoring_.count(std::string(name)) || damaged_.count(name)) {
        return Status::AlreadyExists("restore: collection " + std::string(name) + " already exists");
      }
      if (aliases_.count(name)) {
        return Status::AlreadyExists("restore: " + std::string(name) + " is an alias; restore under another name");
      }
      cid = next_id_;
      storage::Batch batch;
      batch.Put(Cf::kMeta, kNextIdKey, std::to_string(cid + 1));
      batch.Put(Cf::kMeta, si::RestoringKey(cid), std::string(name));
      SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("restore"));
      ++next_id_;
      restoring_.insert(std::string(name));
    }
    const std::string index_path = IndexFilePath(env_.index_dir, cid);
    auto copy = [&]() -> StatusOr<CollectionInfo> {
      SEXTANT_RETURN_IF_ERROR(si::CopyCollectionData(*src, src_id, *storage_, cid));
      auto file = ReadIndexFile(*env_.files, IndexFilePath(snapshot_path + "/index", src_id));
      if (file.ok()) {
        file->collection_id = cid;
        SEXTANT_RETURN_IF_ERROR(WriteIndexFile(*env_.files, index_path, *file));
      } else if (file.status().code() != StatusCode::kNotFound) {
        return file.status();
      }
      d.id = cid;
      d.name = std::string(name);
      internal::MutexLock guard(mu_);
      storage::Batch batch;
      batch.Put(Cf::kMeta, DescriptorKey(name), EncodeDescriptor(d));
      batch.Delete(Cf::kMeta, si::RestoringKey(cid));
      SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true));
      restoring_.erase(std::string(name));
      auto loaded = CollectionImpl::Load(env_, d);
      if (!loaded.ok()) {
        // Committed but unloadable: take the catalogue entry back out.
        storage::Batch undo;
        undo.Delete(Cf::kMeta, DescriptorKey(name));
        undo.Put(Cf::kMeta, si::RestoringKey(cid), std::string(name));
        storage_->Write(undo, /*sync=*/true).IgnoreError();
        return loaded.status();
      }
      collections_.emplace(std::string(name), *loaded);
      return (*loaded)->Describe();
    };
    auto result = copy();
    if (!result.ok()) {
      internal::MutexLock guard(mu_);
      restoring_.erase(std::string(name));
      if (!collections_.count(std::string(name))) UndoRestore(cid).IgnoreError();
      return result.status().WithPrefix("restore");
    }
    return result;
  }

 private:
  // Removes the keys and index file of collection id `cid` and its restore marker.
  Status UndoRestore(uint32_t cid) {
    const std::string begin = storage::CollectionPrefix(cid), end = storage::CollectionPrefix(cid + 1);
    storage::Batch batch;
    for (int cf = 0; cf < storage::kNumCfs; ++cf) {
      if (static_cast<Cf>(cf) != Cf::kMeta) batch.DeleteRange(static_cast<Cf>(cf), begin, end);
    }
    batch.Delete(Cf::kMeta, snapshot_internal::RestoringKey(cid));
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true));
    return env_.files->Remove(IndexFilePath(env_.index_dir, cid));
  }

  // A restore that a crash interrupted left its marker: remove what it had copied.
  Status RemoveInterruptedRestores() {
    std::vector<uint32_t> ids;
    std::string end(snapshot_internal::kRestoringKeyPrefix);
    end.back() += 1;
    SEXTANT_RETURN_IF_ERROR(storage_->Scan(Cf::kMeta, snapshot_internal::kRestoringKeyPrefix, end,
                                           [&](std::string_view k, std::string_view) {
                                             ids.push_back(static_cast<uint32_t>(std::strtoul(
                                                 std::string(k.substr(snapshot_internal::kRestoringKeyPrefix.size())).c_str(),
                                                 nullptr, 10)));
                                             return true;
                                           }));
    for (uint32_t cid : ids) {
      Log(LogLevel::kWarning, "database " + path_ + ": removing the remains of an interrupted restore (collection id " +
                                  std::to_string(cid) + ")");
      SEXTANT_RETURN_IF_ERROR(UndoRestore(cid));
    }
    return Status::OK();
  }

  const std::string path_;
  FileLock lock_;
  std::unique_ptr<storage::Storage> storage_;
  CollectionEnv env_;

  std::thread maintenance_;
  internal::Mutex maintenance_mu_;
  std::condition_variable_any maintenance_cv_;
  bool stopping_ SEXTANT_GUARDED_BY(maintenance_mu_) = false;

  // A collection set aside when the database opened (see Database::RepairCollection).
  struct Damaged {
    std::optional<CollectionDescriptor> descriptor;  // none when the catalogue entry is unreadable
    Status why;
    bool repairing = false;
  };

  void SetAside(const std::string& name, std::optional<CollectionDescriptor> descriptor, const Status& why)
      SEXTANT_REQUIRES(mu_) {
    internal::Log(internal::LogLevel::kError, "collection " + name + " is damaged and set aside (" + why.ToString() +
                                                  "); its calls fail with DataLoss until `sextant repair " + name +
                                                  "` or `sextant drop " + name + "`");
    damaged_[name] = Damaged{std::move(descriptor), why, false};
  }

  static Status DamagedError(const std::string& name, const Damaged& d) {
    if (d.repairing) return Status::DataLoss("collection " + name + " is damaged and being repaired");
    return Status::DataLoss("collection " + name + " is damaged (" + std::string(d.why.message()) + "); `sextant repair " +
                            name + "` keeps its intact points, `sextant drop " + name + "` deletes it");
  }

  // Deletes a damaged collection's catalogue entry and (when its id is known) its records; requires mu_.
  Status DropDamaged(std::map<std::string, Damaged, std::less<>>::iterator d) SEXTANT_REQUIRES(mu_) {
    if (d->second.repairing) return Status::Aborted("collection " + d->first + " is being repaired");
    storage::Batch batch;
    batch.Delete(Cf::kMeta, DescriptorKey(d->first));
    std::vector<std::string> its_aliases;  // the collection's aliases go with it
    for (const auto& [alias, target] : aliases_) {
      if (target == d->first) {
        its_aliases.push_back(alias);
        batch.Delete(Cf::kMeta, AliasKey(alias));
      }
    }
    if (d->second.descriptor) {
      const uint32_t cid = d->second.descriptor->id;
      for (int cf = 0; cf < storage::kNumCfs; ++cf) {
        if (static_cast<Cf>(cf) != Cf::kMeta) {
          batch.DeleteRange(static_cast<Cf>(cf), storage::CollectionPrefix(cid), storage::CollectionPrefix(cid + 1));
        }
      }
    }
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("drop collection"));
    if (d->second.descriptor) env_.files->Remove(IndexFilePath(env_.index_dir, d->second.descriptor->id)).IgnoreError();
    damaged_.erase(d);
    for (const std::string& alias : its_aliases) aliases_.erase(alias);
    return Status::OK();
  }

  mutable internal::Mutex mu_;  // guards the catalogue below
  std::map<std::string, std::shared_ptr<CollectionImpl>, std::less<>> collections_ SEXTANT_GUARDED_BY(mu_);
  // alias -> collection name
  std::map<std::string, std::string, std::less<>> aliases_ SEXTANT_GUARDED_BY(mu_);
  // names reserved by restores in progress
  std::set<std::string, std::less<>> restoring_ SEXTANT_GUARDED_BY(mu_);
  std::map<std::string, Damaged, std::less<>> damaged_ SEXTANT_GUARDED_BY(mu_);
  uint32_t next_id_ SEXTANT_GUARDED_BY(mu_) = 1;
};

}  // namespace

StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options, const std::string& path) {
  try {
    if (path.empty()) return Status::InvalidArgument("database path is empty");
    auto files = std::make_shared<const storage::Files>(options.file_system);
    SEXTANT_ASSIGN_OR_RETURN(bool is_dir, files->IsDirectory(path));
    if (!is_dir) {
      SEXTANT_ASSIGN_OR_RETURN(bool exists, files->Exists(path));
      if (exists) return Status::InvalidArgument("database path " + path + " exists and is not a directory");
      if (!options.create_if_missing) {
        return Status::NotFound("no database in " + path + " (create_if_missing is false)");
      }
      SEXTANT_RETURN_IF_ERROR(files->CreateDirs(path));
    }
    if (options.memory_limit_bytes != 0 && options.memory_limit_bytes <= options.block_cache_bytes) {
      return Status::InvalidArgument("memory_limit_bytes (" + std::to_string(options.memory_limit_bytes) +
                                     ") must exceed block_cache_bytes (" + std::to_string(options.block_cache_bytes) +
                                     "), which it includes");
    }
    SEXTANT_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(path));
    storage::StorageOptions so;
    so.create_if_missing = options.create_if_missing;
    so.error_if_exists = options.error_if_exists;
    so.block_cache_bytes = options.block_cache_bytes;
    so.file_system = files->file_system();
    SEXTANT_ASSIGN_OR_RETURN(auto storage, storage::Storage::Open(path, so));
    CollectionLimits limits;
    limits.max_payload_bytes = options.max_payload_bytes;
    auto budget = std::make_shared<internal::MemoryBudget>(options.memory_limit_bytes);
    budget->Charge(static_cast<int64_t>(options.block_cache_bytes));  // the cache fills up to its capacity
    auto db = std::make_unique<DatabaseImpl>(path, std::move(lock), std::move(storage), std::move(files), limits,
                                             std::move(budget));
    SEXTANT_RETURN_IF_ERROR(db->Load());
    db->StartMaintenance();
    return std::unique_ptr<Database>(std::move(db));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("opening " + path + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal("opening " + path + ": " + e.what());
  }
}

std::string_view SimdLevelName() { return simd::LevelName(simd::Active().level); }

std::string_view Version() { return SEXTANT_VERSION; }

}  // namespace sextant
