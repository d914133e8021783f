// Snapshots: a consistent copy of one collection or of a whole database, taken while writes go
// on, that restores without rebuilding any index (docs/snapshots.md, docs/format.md).
//
// A snapshot is one directory, <snapshot dir>/<name>/, holding a RocksDB checkpoint (db/), the
// index checkpoint of each collection that has one (index/<id>.sxi) and MANIFEST.json (format
// version, scope, collections, the write sequence of the snapshot point, and the size and
// checksum of every file). It travels as one archive: a POSIX tar of that directory
// (WriteSnapshotArchive / SnapshotArchiveReader), readable by the `tar` tool.
//
// Database::CreateSnapshot and Database::RestoreCollection (database.h) take and restore them in
// a running database; the functions below list, verify, delete, restore into a new directory and
// pack or unpack archives.
#ifndef SEXTANT_SNAPSHOT_H_
#define SEXTANT_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

// The snapshot format this build writes and reads (MANIFEST.json "format_version").
inline constexpr uint32_t kSnapshotFormatVersion = 1;

struct SnapshotOptions {
  // The directory that holds snapshots (created when missing). Required.
  std::string directory;
  // The collection to snapshot; empty: the whole database.
  std::string collection;
  // The snapshot's name (1..100 characters of [A-Za-z0-9_.-], starting with a letter or digit);
  // empty: "<collection or 'db'>-<UTC time>-<4 random hex digits>".
  std::string name;
};

struct SnapshotCollection {
  std::string name;
  uint32_t dimension = 0;
  Metric metric = Metric::kL2;
  std::string index;  // index spec, as CollectionInfo::index
  uint64_t count = 0;  // live points at the snapshot point
  bool has_index_checkpoint = false;  // false for Flat (and an index still waiting to train)
};

struct SnapshotInfo {
  std::string name;
  std::string path;  // its directory
  uint32_t format_version = 0;
  std::string scope;  // "database" or "collection"
  std::vector<SnapshotCollection> collections;  // ordered by name
  uint64_t sequence = 0;    // the database's write sequence at the snapshot point
  int64_t created_ms = 0;   // Unix time, milliseconds
  uint64_t bytes = 0;       // total size of its files
  uint64_t files = 0;       // number of files (MANIFEST.json not counted)
  std::string sextant_version;  // of the build that wrote it
};

// InvalidArgument unless `name` is a valid snapshot name (see SnapshotOptions::name).
Status ValidateSnapshotName(std::string_view name);

// Reads the snapshot's manifest (not the files' checksums). NotFound when there is no snapshot at
// `path`; DataLoss when the manifest is damaged; FailedPrecondition for a newer format version.
StatusOr<SnapshotInfo> ReadSnapshotInfo(const std::string& path);

// Reads the manifest and checks every file's size and checksum, and that no file is missing or
// extra. DataLoss, naming the file, on the first mismatch.
StatusOr<SnapshotInfo> VerifySnapshot(const std::string& path);

// The snapshots in `directory`, ordered by name (an absent directory has none). Unfinished
// snapshots and uploads (hidden ".tmp-" entries) are skipped; so are entries whose manifest cannot
// be read, with a logged warning.
StatusOr<std::vector<SnapshotInfo>> ListSnapshots(const std::string& directory);

// Deletes snapshot `name` from `directory`. InvalidArgument for a bad name, NotFound when absent.
Status DeleteSnapshot(const std::string& directory, std::string_view name);

// Removes what interrupted snapshots, uploads and restores left behind in `directory` (".tmp-"
// entries). Call when nothing else writes snapshots there (the server does so at start-up).
Status RemoveUnfinishedSnapshots(const std::string& directory);

// Restores the snapshot at `snapshot_path` as a new database in `target` (which must not exist,
// or be an empty directory): verifies every checksum first, copies into a hidden sibling and
// renames it into place, so `target` appears complete or not at all. A collection snapshot gives
// a database with just that collection. Open it with Database::Open; indexes load from their
// checkpoints. DataLoss for a damaged snapshot, AlreadyExists when `target` is not empty.
Status RestoreDatabase(const std::string& snapshot_path, const std::string& target);

// Streams the snapshot at `snapshot_path` as a tar archive (paths relative to the snapshot
// directory, MANIFEST.json first) to `sink`, in pieces of at most 1 MiB. Stops at the first error
// the sink returns.
Status WriteSnapshotArchive(const std::string& snapshot_path,
                            const std::function<Status(std::string_view)>& sink);

// Unpacks an archive fed in pieces into a new snapshot of `directory`. Only regular files with
// plain relative paths are accepted. Finish() verifies every checksum and then renames the
// snapshot into place under its manifest's name (or `rename_to` when given); until then, and
// whenever anything fails, nothing is visible in `directory` (the partial copy is removed).
// DataLoss for a truncated or damaged archive, AlreadyExists when the name is taken.
class SnapshotArchiveReader {
 public:
  static StatusOr<std::unique_ptr<SnapshotArchiveReader>> Start(const std::string& directory,
                                                                std::string rename_to = "");
  virtual ~SnapshotArchiveReader() = default;
  virtual Status Write(std::string_view bytes) = 0;
  virtual StatusOr<SnapshotInfo> Finish() = 0;
  // Bytes received so far.
  virtual uint64_t received() const = 0;
};

// Convenience for files: pack a snapshot into `archive_file`, or unpack `archive_file` into
// `directory` (as SnapshotArchiveReader does).
Status ExportSnapshotArchive(const std::string& snapshot_path, const std::string& archive_file);
StatusOr<SnapshotInfo> ImportSnapshotArchive(const std::string& archive_file, const std::string& directory,
                                             std::string rename_to = "");

}  // namespace sextant

#endif  // SEXTANT_SNAPSHOT_H_
