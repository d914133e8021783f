// DatabaseImpl: the catalogue of collections, open and close.
//
// The catalogue lives in the meta family: "format_version" -> decimal text, "next_collection_id"
// -> decimal text, and "collection/<name>" -> a JSON descriptor (docs/format.md). Collection ids
// are never reused, so a dropped collection's keys can never be mistaken for a new one's.
#include <filesystem>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "collection/collection_impl.h"
#include "collection/descriptor.h"
#include "util/logging.h"
#include "db/file_lock.h"
#include "sextant/database.h"
#include "simd/distance.h"
#include "storage/storage.h"
#include "text/text_index.h"

#ifndef SEXTANT_VERSION
#define SEXTANT_VERSION "0.0.0"
#endif

namespace sextant {
namespace {

using storage::Cf;

constexpr int kFormatVersion = 1;
constexpr std::string_view kFormatVersionKey = "format_version";
constexpr std::string_view kNextIdKey = "next_collection_id";
constexpr size_t kMaxNameLength = 128;

Status ValidateName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("collection name is empty");
  if (name.size() > kMaxNameLength) {
    return Status::InvalidArgument("collection name is " + std::to_string(name.size()) +
                                   " characters, over the limit of " + std::to_string(kMaxNameLength));
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) {
    return Status::InvalidArgument("collection name '" + std::string(name) + "' must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument("collection name '" + std::string(name) +
                                     "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::OK();
}

class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(std::string path, FileLock lock, std::unique_ptr<storage::Storage> storage,
               CollectionLimits limits)
      : path_(std::move(path)), lock_(std::move(lock)), storage_(std::move(storage)) {
    env_.storage = storage_.get();
    env_.index_dir = path_ + "/index";
    env_.limits = limits;
  }

  ~DatabaseImpl() override {
    {
      std::lock_guard guard(maintenance_mu_);
      stopping_ = true;
    }
    maintenance_cv_.notify_all();
    if (maintenance_.joinable()) maintenance_.join();
    std::lock_guard guard(mu_);
    for (auto& [name, c] : collections_) c->Close();  // stops builds, checkpoints changed indexes
    collections_.clear();
    storage_.reset();  // closes RocksDB before the lock is released
  }

  // Runs each collection's Maintain() about once a second until the database closes.
  void StartMaintenance() {
    maintenance_ = std::thread([this] {
      std::unique_lock lock(maintenance_mu_);
      while (!maintenance_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; })) {
        lock.unlock();
        std::vector<std::shared_ptr<CollectionImpl>> all;
        {
          std::lock_guard guard(mu_);
          for (auto& [name, c] : collections_) all.push_back(c);
        }
        for (auto& c : all) c->Maintain();
        lock.lock();
      }
    });
  }

  Status Load() {
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

    std::vector<CollectionDescriptor> descriptors;
    Status bad;
    std::string end(kDescriptorKeyPrefix);
    end.back() += 1;
    SEXTANT_RETURN_IF_ERROR(storage_->Scan(Cf::kMeta, kDescriptorKeyPrefix, end, [&](std::string_view, std::string_view v) {
      auto d = DecodeDescriptor(v);
      if (!d.ok()) {
        bad = d.status();
        return false;
      }
      descriptors.push_back(std::move(*d));
      return true;
    }));
    SEXTANT_RETURN_IF_ERROR(bad);
    for (auto& d : descriptors) {
      std::string name = d.name;
      SEXTANT_ASSIGN_OR_RETURN(auto c, CollectionImpl::Load(env_, std::move(d)));
      collections_.emplace(std::move(name), std::move(c));
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
    std::lock_guard guard(mu_);
    if (collections_.count(std::string(name))) {
      return Status::AlreadyExists("collection " + std::string(name) + " already exists");
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
    std::lock_guard guard(mu_);
    auto it = collections_.find(std::string(name));
    if (it == collections_.end()) return Status::NotFound("collection " + std::string(name) + " not found");
    return std::shared_ptr<Collection>(it->second);
  }

  Status DropCollection(std::string_view name) override {
    std::lock_guard guard(mu_);
    auto it = collections_.find(std::string(name));
    if (it == collections_.end()) return Status::NotFound("collection " + std::string(name) + " not found");
    const uint32_t cid = it->second->id();
    const std::string begin = storage::CollectionPrefix(cid), end = storage::CollectionPrefix(cid + 1);
    storage::Batch batch;
    batch.Delete(Cf::kMeta, DescriptorKey(name));
    for (int cf = 0; cf < storage::kNumCfs; ++cf) {
      if (static_cast<Cf>(cf) != Cf::kMeta) batch.DeleteRange(static_cast<Cf>(cf), begin, end);
    }
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, /*sync=*/true).WithPrefix("drop collection"));
    std::shared_ptr<CollectionImpl> dropped = it->second;
    collections_.erase(it);
    dropped->MarkDropped();
    // Reclaim the disk space now rather than at some later compaction. The drop is already
    // committed; a failure here only delays reclaiming.
    for (int cf = 0; cf < storage::kNumCfs; ++cf) {
      if (static_cast<Cf>(cf) != Cf::kMeta) storage_->CompactRange(static_cast<Cf>(cf), begin, end).IgnoreError();
    }
    return Status::OK();
  }

  StatusOr<std::vector<CollectionInfo>> ListCollections() const override {
    std::lock_guard guard(mu_);
    std::vector<CollectionInfo> out;
    for (const auto& [name, c] : collections_) {  // std::map: ordered by name
      SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, c->Describe());
      out.push_back(std::move(info));
    }
    return out;
  }

  const std::string& path() const override { return path_; }

 private:
  const std::string path_;
  FileLock lock_;
  std::unique_ptr<storage::Storage> storage_;
  CollectionEnv env_;

  std::thread maintenance_;
  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool stopping_ = false;  // guarded by maintenance_mu_

  mutable std::mutex mu_;  // guards the catalogue below
  std::map<std::string, std::shared_ptr<CollectionImpl>, std::less<>> collections_;
  uint32_t next_id_ = 1;
};

}  // namespace

StatusOr<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options, const std::string& path) {
  try {
    if (path.empty()) return Status::InvalidArgument("database path is empty");
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      if (std::filesystem::exists(path, ec)) {
        return Status::InvalidArgument("database path " + path + " exists and is not a directory");
      }
      if (!options.create_if_missing) {
        return Status::NotFound("no database in " + path + " (create_if_missing is false)");
      }
      std::filesystem::create_directories(path, ec);
      if (ec) return Status::Unavailable("cannot create directory " + path + ": " + ec.message());
    }
    SEXTANT_ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(path));
    storage::StorageOptions so;
    so.create_if_missing = options.create_if_missing;
    so.error_if_exists = options.error_if_exists;
    so.block_cache_bytes = options.block_cache_bytes;
    SEXTANT_ASSIGN_OR_RETURN(auto storage, storage::Storage::Open(path, so));
    CollectionLimits limits;
    limits.max_payload_bytes = options.max_payload_bytes;
    auto db = std::make_unique<DatabaseImpl>(path, std::move(lock), std::move(storage), limits);
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
