#include "storage/files.h"

#include <rocksdb/file_system.h>

#include "storage/rocks_status.h"

namespace sextant::storage {
namespace {

std::string Parent(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Files::Files(std::shared_ptr<rocksdb::FileSystem> fs)
    : fs_(fs != nullptr ? std::move(fs) : rocksdb::FileSystem::Default()) {}
Files::~Files() = default;

Status Files::CreateDirs(const std::string& dir) const {
  if (dir.empty() || dir == "/" || dir == ".") return Status::OK();
  SEXTANT_ASSIGN_OR_RETURN(bool is_dir, IsDirectory(dir));
  if (is_dir) return Status::OK();
  SEXTANT_RETURN_IF_ERROR(CreateDirs(Parent(dir)));
  return FromRocks(fs_->CreateDirIfMissing(dir, rocksdb::IOOptions(), nullptr), "creating directory " + dir);
}

StatusOr<bool> Files::IsDirectory(const std::string& path) const {
  bool is_dir = false;
  rocksdb::IOStatus s = fs_->IsDirectory(path, rocksdb::IOOptions(), &is_dir, nullptr);
  if (s.IsNotFound() || s.IsPathNotFound()) return false;
  if (!s.ok()) {
    // The POSIX file system reports a missing path as an IOError carrying ENOENT.
    SEXTANT_ASSIGN_OR_RETURN(bool exists, Exists(path));
    if (!exists) return false;
    return FromRocks(s, "checking directory " + path);
  }
  return is_dir;
}

StatusOr<bool> Files::Exists(const std::string& path) const {
  rocksdb::IOStatus s = fs_->FileExists(path, rocksdb::IOOptions(), nullptr);
  if (s.ok()) return true;
  if (s.IsNotFound() || s.IsPathNotFound()) return false;
  return FromRocks(s, "checking " + path);
}

Status Files::WriteAtomically(const std::string& path, std::string_view data) const {
  const rocksdb::IOOptions io;
  const std::string tmp = path + ".tmp";
  const std::string dir = Parent(path);
  SEXTANT_RETURN_IF_ERROR(CreateDirs(dir));
  auto fail = [&](const rocksdb::IOStatus& s, const std::string& step) {
    fs_->DeleteFile(tmp, io, nullptr).PermitUncheckedError();
    return FromRocks(s, step + " " + tmp);
  };
  {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = fs_->NewWritableFile(tmp, rocksdb::FileOptions(), &file, nullptr);
    if (!s.ok()) return fail(s, "creating");
    s = file->Append(rocksdb::Slice(data.data(), data.size()), io, nullptr);
    if (!s.ok()) {
      file->Close(io, nullptr).PermitUncheckedError();
      return fail(s, "writing");
    }
    s = file->Fsync(io, nullptr);
    if (!s.ok()) {
      file->Close(io, nullptr).PermitUncheckedError();
      return fail(s, "syncing");
    }
    s = file->Close(io, nullptr);
    if (!s.ok()) return fail(s, "closing");
  }
  rocksdb::IOStatus s = fs_->RenameFile(tmp, path, io, nullptr);
  if (!s.ok()) return fail(s, "renaming to " + path + ":");
  // The rename is durable once the directory is synced; until then a crash may leave the old file.
  std::unique_ptr<rocksdb::FSDirectory> d;
  s = fs_->NewDirectory(dir, io, &d, nullptr);
  if (s.ok()) s = d->Fsync(io, nullptr);
  if (s.ok()) s = d->Close(io, nullptr);
  return FromRocks(s, "syncing directory " + dir);
}

StatusOr<std::string> Files::Read(const std::string& path) const {
  const rocksdb::IOOptions io;
  uint64_t size = 0;
  rocksdb::IOStatus s = fs_->GetFileSize(path, io, &size, nullptr);
  if (!s.ok()) {
    SEXTANT_ASSIGN_OR_RETURN(bool exists, Exists(path));
    if (!exists) return Status::NotFound("no file " + path);
    return FromRocks(s, "reading " + path);
  }
  std::unique_ptr<rocksdb::FSSequentialFile> file;
  s = fs_->NewSequentialFile(path, rocksdb::FileOptions(), &file, nullptr);
  if (s.IsNotFound() || s.IsPathNotFound()) return Status::NotFound("no file " + path);
  if (!s.ok()) return FromRocks(s, "opening " + path);
  std::string out;
  out.reserve(size);
  std::string buf(1 << 20, '\0');
  while (true) {
    rocksdb::Slice chunk;
    s = file->Read(buf.size(), io, &chunk, buf.data(), nullptr);
    if (!s.ok()) return FromRocks(s, "reading " + path);
    if (chunk.empty()) break;
    out.append(chunk.data(), chunk.size());
  }
  return out;
}

Status Files::Remove(const std::string& path) const {
  rocksdb::IOStatus s = fs_->DeleteFile(path, rocksdb::IOOptions(), nullptr);
  if (s.ok() || s.IsNotFound() || s.IsPathNotFound()) return Status::OK();
  SEXTANT_ASSIGN_OR_RETURN(bool exists, Exists(path));
  if (!exists) return Status::OK();
  return FromRocks(s, "removing " + path);
}

}  // namespace sextant::storage
