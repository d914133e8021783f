// rocksdb::Status -> sextant::Status, in one place (STYLE.md "Error handling"). Storage-layer
// internal: only engine/storage includes RocksDB.
#ifndef SEXTANT_STORAGE_ROCKS_STATUS_H_
#define SEXTANT_STORAGE_ROCKS_STATUS_H_

#include <string>
#include <string_view>

#include <rocksdb/status.h>

#include "sextant/status.h"

namespace sextant::storage {

inline Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::DataLoss(msg);
  if (s.IsNoSpace() || s.IsMemoryLimit()) return Status::ResourceExhausted(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(msg);
  if (s.IsAborted()) return Status::Aborted(msg);
  // Any other I/O error: the file system failed (EIO, a failed fsync or rename). The call may
  // be retried once the fault clears.
  if (s.IsIOError()) return Status::Unavailable(msg);
  return Status::Internal(msg);
}

}  // namespace sextant::storage

#endif  // SEXTANT_STORAGE_ROCKS_STATUS_H_
