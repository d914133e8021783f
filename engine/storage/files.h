// The file-system seam: every file the engine reads or writes outside RocksDB (index checkpoint
// files, the database directory itself) goes through a rocksdb::FileSystem, the same one RocksDB
// uses (DatabaseOptions::file_system). By default it is the real, POSIX one; tests wrap it to
// inject faults and simulate power loss (tests/fault/fault_fs.h, docs/reliability.md).
//
// Errors: NotFound for a missing file, ResourceExhausted for a full disk (ENOSPC), Unavailable
// for any other I/O error (EIO, a failed fsync or rename); each names the file and the step.
//
// Thread safety: a Files is safe for concurrent use when its FileSystem is (the POSIX one is).
#ifndef SEXTANT_STORAGE_FILES_H_
#define SEXTANT_STORAGE_FILES_H_

#include <memory>
#include <string>
#include <string_view>

#include "sextant/status.h"

namespace rocksdb {
class FileSystem;
}

namespace sextant::storage {

class Files {
 public:
  // `fs` null: the real file system (rocksdb::FileSystem::Default()).
  explicit Files(std::shared_ptr<rocksdb::FileSystem> fs = nullptr);
  ~Files();

  const std::shared_ptr<rocksdb::FileSystem>& file_system() const { return fs_; }

  // Creates `dir` and its missing parents.
  Status CreateDirs(const std::string& dir) const;
  StatusOr<bool> IsDirectory(const std::string& path) const;
  StatusOr<bool> Exists(const std::string& path) const;

  // Writes `data` to "<path>.tmp", syncs it, renames it over `path` and syncs the directory, so
  // that after a crash `path` holds the old contents or the new ones, never a mix. On failure
  // the temporary file is removed (best effort) and `path` is untouched.
  Status WriteAtomically(const std::string& path, std::string_view data) const;

  // The whole file; NotFound when there is none.
  StatusOr<std::string> Read(const std::string& path) const;

  // Removes `path`; OK when it does not exist.
  Status Remove(const std::string& path) const;

 private:
  std::shared_ptr<rocksdb::FileSystem> fs_;
};

}  // namespace sextant::storage

#endif  // SEXTANT_STORAGE_FILES_H_
