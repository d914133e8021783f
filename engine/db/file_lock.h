// An exclusive, non-blocking lock on a database directory (flock on DIR/sextant.lock).
//
// flock locks belong to the open file description, so a second open of the same directory fails
// whether it comes from another process or from this one.
#ifndef SEXTANT_DB_FILE_LOCK_H_
#define SEXTANT_DB_FILE_LOCK_H_

#include <string>

#include "sextant/status.h"

namespace sextant {

class FileLock {
 public:
  // Locks `dir`; FailedPrecondition at once (never waits) when it is already locked.
  static StatusOr<FileLock> Acquire(const std::string& dir);

  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();  // releases the lock

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sextant

#endif  // SEXTANT_DB_FILE_LOCK_H_
