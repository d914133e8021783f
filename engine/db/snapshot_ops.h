// The steps of taking and restoring a snapshot that do not need the database's locks; the
// database (database_impl.cc) takes the locks and calls these (docs/snapshots.md).
#ifndef SEXTANT_DB_SNAPSHOT_OPS_H_
#define SEXTANT_DB_SNAPSHOT_OPS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collection/index_file.h"
#include "db/snapshot_files.h"
#include "sextant/snapshot.h"
#include "sextant/status.h"
#include "storage/files.h"
#include "storage/storage.h"

namespace sextant::snapshot_internal {

// What the snapshot keeps of one collection, taken while it was held still.
struct SnapshotPart {
  uint32_t id = 0;
  SnapshotCollection info;
  std::optional<IndexFile> index;
};

// The default name: "<collection or 'db'>-<UTC yyyymmddThhmmssZ>-<4 hex digits>".
std::string DefaultSnapshotName(const std::string& collection);

// Completes a snapshot whose RocksDB checkpoint is in staging/db: writes the index files, for a
// collection snapshot removes every other collection from the checkpoint, writes the manifest and
// renames the staging directory to `final_path`. Removes the staging directory on failure.
StatusOr<SnapshotInfo> FinishSnapshot(const storage::Files& files, const std::string& staging, const std::string& final_path, SnapshotInfo info,
                                      std::vector<SnapshotPart> parts);

// Copies every key of collection `src_cid` of `src` (every family but meta) to `dst` under
// collection id `dst_cid`, in batches.
Status CopyCollectionData(const storage::Storage& src, uint32_t src_cid, storage::Storage& dst, uint32_t dst_cid);

// Meta-family key marking a restore in progress into collection id `cid`: a database that opens
// with one removes that id's keys (the restore was interrupted).
std::string RestoringKey(uint32_t cid);
inline constexpr std::string_view kRestoringKeyPrefix = "restoring/";

}  // namespace sextant::snapshot_internal

#endif  // SEXTANT_DB_SNAPSHOT_OPS_H_
