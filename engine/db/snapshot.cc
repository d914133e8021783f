// The public snapshot functions of sextant/snapshot.h that work on snapshot directories alone:
// names, reading and verifying, listing, deleting, and restoring into a new database directory.
#include <algorithm>
#include <filesystem>

#include "db/names.h"
#include "db/snapshot_files.h"
#include "sextant/snapshot.h"
#include "util/logging.h"

namespace sextant {
namespace fs = std::filesystem;
using namespace snapshot_internal;

constexpr size_t kMaxSnapshotNameLength = 100;

Status ValidateSnapshotName(std::string_view name) {
  return db_internal::ValidateName(name, "snapshot name", kMaxSnapshotNameLength);
}

StatusOr<SnapshotInfo> ReadSnapshotInfo(const std::string& path) {
  SEXTANT_ASSIGN_OR_RETURN(Manifest m, ReadManifest(path));
  return m.info;
}

StatusOr<SnapshotInfo> VerifySnapshot(const std::string& path) {
  SEXTANT_ASSIGN_OR_RETURN(Manifest m, ReadManifest(path));
  SEXTANT_RETURN_IF_ERROR(VerifyFiles(path, m));
  bool has_current = false;
  for (const auto& f : m.files) has_current |= f.path == "db/CURRENT";
  if (!has_current) return Status::DataLoss("snapshot " + path + " holds no database (no db/CURRENT)");
  return m.info;
}

StatusOr<std::vector<SnapshotInfo>> ListSnapshots(const std::string& directory) {
  std::vector<SnapshotInfo> out;
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) return out;
  for (const auto& e : fs::directory_iterator(directory, ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind(kTmpPrefix, 0) == 0 || !ValidateSnapshotName(name).ok()) continue;
    auto m = ReadManifest(e.path().string());
    if (!m.ok()) {
      internal::Log(internal::LogLevel::kWarning, "skipping snapshot " + e.path().string() + ": " + m.status().ToString());
      continue;
    }
    m->info.name = name;  // the directory's name is the snapshot's name
    out.push_back(std::move(m->info));
  }
  if (ec) return Status::Unavailable("listing " + directory + ": " + ec.message());
  std::sort(out.begin(), out.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) { return a.name < b.name; });
  return out;
}

Status DeleteSnapshot(const std::string& directory, std::string_view name) {
  SEXTANT_RETURN_IF_ERROR(ValidateSnapshotName(name).WithPrefix("delete snapshot"));
  const std::string path = directory + "/" + std::string(name);
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return Status::NotFound("snapshot " + std::string(name) + " not found");
  // Rename first so a crash part-way never leaves a half-deleted snapshot under its name.
  SEXTANT_ASSIGN_OR_RETURN(std::string trash, MakeStagingDir(directory, "delete"));
  fs::remove(trash, ec);
  if (::rename(path.c_str(), trash.c_str()) != 0) {
    return Status::Unavailable("delete snapshot " + std::string(name) + ": rename failed");
  }
  fs::remove_all(trash, ec);
  if (ec) return Status::Unavailable("delete snapshot " + std::string(name) + ": " + ec.message());
  return Status::OK();
}

Status RemoveUnfinishedSnapshots(const std::string& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) return Status::OK();
  for (const auto& e : fs::directory_iterator(directory, ec)) {
    if (e.path().filename().string().rfind(kTmpPrefix, 0) == 0) {
      std::error_code rm;
      fs::remove_all(e.path(), rm);
      if (rm) return Status::Unavailable("removing " + e.path().string() + ": " + rm.message());
    }
  }
  if (ec) return Status::Unavailable("listing " + directory + ": " + ec.message());
  return Status::OK();
}

Status RestoreDatabase(const std::string& snapshot_path, const std::string& target) {
  if (target.empty()) return Status::InvalidArgument("restore: target directory is empty");
  SEXTANT_ASSIGN_OR_RETURN(Manifest m, ReadManifest(snapshot_path));
  SEXTANT_RETURN_IF_ERROR(VerifySnapshot(snapshot_path).status());
  std::error_code ec;
  fs::path tpath = fs::absolute(target, ec);
  if (fs::exists(tpath, ec)) {
    if (!fs::is_directory(tpath, ec) || !fs::is_empty(tpath, ec)) {
      return Status::AlreadyExists("restore: " + target + " exists and is not an empty directory");
    }
    fs::remove(tpath, ec);
  }
  const std::string parent = tpath.parent_path().string();
  SEXTANT_ASSIGN_OR_RETURN(std::string staging, MakeStagingDir(parent, "restore"));
  auto copy = [&]() -> Status {
    fs::create_directories(staging + "/index", ec);
    for (const ManifestFile& f : m.files) {
      std::string to;
      if (f.path.rfind("db/", 0) == 0) {
        to = staging + "/" + f.path.substr(3);
      } else if (f.path.rfind("index/", 0) == 0) {
        to = staging + "/" + f.path;
      } else {
        continue;
      }
      SEXTANT_RETURN_IF_ERROR(CopyFileSynced(snapshot_path + "/" + f.path, to));
    }
    // The copies must match the manifest too (a file damaged while being read).
    Manifest copied = m;
    for (ManifestFile& f : copied.files) {
      if (f.path.rfind("db/", 0) == 0) f.path = f.path.substr(3);
    }
    SEXTANT_RETURN_IF_ERROR(VerifyFiles(staging, copied));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging + "/index", true));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging, true));
    return RenameNoReplace(staging, tpath.string());
  };
  Status s = copy();
  if (!s.ok()) fs::remove_all(staging, ec);
  return s.WithPrefix("restore");
}

}  // namespace sextant
