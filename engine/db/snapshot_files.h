// Snapshot directories on disk: the manifest, file checksums, the durable-write helpers, and the
// hidden ".tmp-" staging directories that make a snapshot (or a restore) appear whole or not at
// all. The layout and the manifest are in docs/format.md ("Snapshots").
#ifndef SEXTANT_DB_SNAPSHOT_FILES_H_
#define SEXTANT_DB_SNAPSHOT_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/snapshot.h"
#include "sextant/status.h"

namespace sextant::snapshot_internal {

inline constexpr std::string_view kManifestName = "MANIFEST.json";
inline constexpr std::string_view kTmpPrefix = ".tmp-";

struct ManifestFile {
  std::string path;  // relative to the snapshot directory, "/"-separated
  uint64_t bytes = 0;
  uint64_t checksum = 0;  // internal::StreamHash64 of the contents
};

struct Manifest {
  SnapshotInfo info;  // path, bytes and files are filled in from the files on reading
  std::vector<uint32_t> collection_ids;  // parallel to info.collections
  std::vector<ManifestFile> files;
};

// A fresh hidden directory in `parent` for staging ("<parent>/.tmp-<tag>-<random>").
StatusOr<std::string> MakeStagingDir(const std::string& parent, std::string_view tag);

// Checksum and size of a file.
StatusOr<ManifestFile> ChecksumFile(const std::string& root, const std::string& relative);

// Lists every regular file under `root` (relative paths, sorted), except the manifest.
StatusOr<std::vector<std::string>> ListFiles(const std::string& root);

// Writes `m` as root/MANIFEST.json (fsync'ed), with its own checksum.
Status WriteManifest(const std::string& root, const Manifest& m);
// Reads root/MANIFEST.json: NotFound when absent, DataLoss when damaged, FailedPrecondition for a
// newer format version.
StatusOr<Manifest> ReadManifest(const std::string& root);
// Checks every listed file's size and checksum.
Status VerifyFiles(const std::string& root, const Manifest& m);

// fsync of a file or a directory (best effort for directories).
Status SyncPath(const std::string& path, bool directory);
// Copies a file and fsyncs the copy.
Status CopyFileSynced(const std::string& from, const std::string& to);
// Renames `from` to `to` (which must not exist) and fsyncs the parent. AlreadyExists when it does.
Status RenameNoReplace(const std::string& from, const std::string& to);

// A relative path of a snapshot file is made of components of [A-Za-z0-9_.-] (none "." or
// ".."), at most 3 deep. Archives and manifests must use only such paths.
bool IsSafeRelativePath(std::string_view path);

}  // namespace sextant::snapshot_internal

#endif  // SEXTANT_DB_SNAPSHOT_FILES_H_
