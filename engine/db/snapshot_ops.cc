#include "db/snapshot_ops.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>

#include "collection/descriptor.h"

namespace sextant::snapshot_internal {
namespace fs = std::filesystem;
using storage::Cf;

namespace {

// Removes collection `keep`'s strangers from a checkpoint: other descriptors, other ids' keys.
Status PruneToCollection(const storage::Files& files, const std::string& db_dir, uint32_t keep, const std::string& keep_name) {
  storage::StorageOptions so;
  so.create_if_missing = false;
  so.block_cache_bytes = 8 << 20;
  so.file_system = files.file_system();
  SEXTANT_ASSIGN_OR_RETURN(auto st, storage::Storage::Open(db_dir, so));
  storage::Batch batch;
  std::string end(kDescriptorKeyPrefix);
  end.back() += 1;
  SEXTANT_RETURN_IF_ERROR(st->Scan(Cf::kMeta, kDescriptorKeyPrefix, end, [&](std::string_view k, std::string_view) {
    if (k.substr(kDescriptorKeyPrefix.size()) != keep_name) batch.Delete(Cf::kMeta, k);
    return true;
  }));
  std::string rend(kRestoringKeyPrefix);
  rend.back() += 1;
  batch.DeleteRange(Cf::kMeta, kRestoringKeyPrefix, rend);  // restores in progress elsewhere
  const std::string lo = storage::CollectionPrefix(0), mid = storage::CollectionPrefix(keep);
  const std::string after = storage::CollectionPrefix(keep + 1), hi = "\xff\xff\xff\xff\xff";
  for (int cf = 0; cf < storage::kNumCfs; ++cf) {
    if (static_cast<Cf>(cf) == Cf::kMeta) continue;
    batch.DeleteRange(static_cast<Cf>(cf), lo, mid);
    if (keep != UINT32_MAX) batch.DeleteRange(static_cast<Cf>(cf), after, hi);
  }
  SEXTANT_RETURN_IF_ERROR(st->Write(batch, /*sync=*/true));
  for (int cf = 0; cf < storage::kNumCfs; ++cf) {
    if (static_cast<Cf>(cf) == Cf::kMeta) continue;
    SEXTANT_RETURN_IF_ERROR(st->CompactRange(static_cast<Cf>(cf), lo, mid));
    SEXTANT_RETURN_IF_ERROR(st->CompactRange(static_cast<Cf>(cf), after, hi));
  }
  return Status::OK();
}

}  // namespace

std::string RestoringKey(uint32_t cid) { return std::string(kRestoringKeyPrefix) + std::to_string(cid); }

std::string DefaultSnapshotName(const std::string& collection) {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  // Names are at most 100 characters; collection names up to 128.
  std::string base = collection.empty() ? "db" : collection.substr(0, 100 - 1 - 16 - 1 - 4);
  return base + "-" + when + "-" + suffix;
}

StatusOr<SnapshotInfo> FinishSnapshot(const storage::Files& files, const std::string& staging, const std::string& final_path, SnapshotInfo info,
                                      std::vector<SnapshotPart> parts) {
  auto body = [&]() -> StatusOr<SnapshotInfo> {
    Manifest m;
    for (SnapshotPart& p : parts) {
      if (p.index) {
        SEXTANT_RETURN_IF_ERROR(files.CreateDirs(staging + "/index"));
        SEXTANT_RETURN_IF_ERROR(WriteIndexFile(files, IndexFilePath(staging + "/index", p.id), *p.index));
        p.index.reset();  // free the memory early
      }
      m.collection_ids.push_back(p.id);
      info.collections.push_back(p.info);
    }
    if (info.scope == "collection") {
      SEXTANT_RETURN_IF_ERROR(PruneToCollection(files, staging + "/db", parts.at(0).id, parts.at(0).info.name));
    }
    // RocksDB's diagnostic logs are not data; leave them out.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(staging + "/db", ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("LOG", 0) == 0) fs::remove(e.path(), ec);
    }
    SEXTANT_ASSIGN_OR_RETURN(std::vector<std::string> files, ListFiles(staging));
    for (const std::string& f : files) {
      SEXTANT_ASSIGN_OR_RETURN(ManifestFile mf, ChecksumFile(staging, f));
      info.bytes += mf.bytes;
      m.files.push_back(std::move(mf));
    }
    info.files = m.files.size();
    info.path = final_path;
    m.info = info;
    SEXTANT_RETURN_IF_ERROR(WriteManifest(staging, m));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging + "/db", true));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging + "/index", true));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging, true));
    SEXTANT_RETURN_IF_ERROR(RenameNoReplace(staging, final_path));
    return info;
  };
  auto result = body();
  if (!result.ok()) {
    std::error_code ec;
    fs::remove_all(staging, ec);
  }
  return result;
}

Status CopyCollectionData(const storage::Storage& src, uint32_t src_cid, storage::Storage& dst, uint32_t dst_cid) {
  constexpr size_t kBatchBytes = 8 << 20;
  const std::string begin = storage::CollectionPrefix(src_cid), end = storage::CollectionPrefix(src_cid + 1);
  const std::string dst_prefix = storage::CollectionPrefix(dst_cid);
  for (int cf = 0; cf < storage::kNumCfs; ++cf) {
    const Cf family = static_cast<Cf>(cf);
    if (family == Cf::kMeta) continue;
    auto batch = std::make_unique<storage::Batch>();
    size_t bytes = 0;
    Status failed;
    std::string key;
    SEXTANT_RETURN_IF_ERROR(src.Scan(family, begin, end, [&](std::string_view k, std::string_view v) {
      key.assign(dst_prefix);
      key.append(k.substr(begin.size()));
      batch->Put(family, key, v);
      bytes += key.size() + v.size();
      if (bytes >= kBatchBytes) {
        failed = dst.Write(*batch, /*sync=*/false);
        if (!failed.ok()) return false;
        batch = std::make_unique<storage::Batch>();
        bytes = 0;
      }
      return true;
    }));
    SEXTANT_RETURN_IF_ERROR(failed);
    if (batch->Count() > 0) SEXTANT_RETURN_IF_ERROR(dst.Write(*batch, /*sync=*/false));
  }
  return Status::OK();
}

}  // namespace sextant::snapshot_internal
