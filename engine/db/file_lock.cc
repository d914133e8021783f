#include "db/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sextant {

StatusOr<FileLock> FileLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/sextant.lock";
  // O_NOFOLLOW: a symbolic link planted as the lock file must not make us truncate and write
  // whatever it points to.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) {
      return Status::FailedPrecondition("lock file " + path + " is a symbolic link; refusing to follow it");
    }
    return Status::Unavailable("cannot open lock file " + path + ": " + std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::FailedPrecondition("lock file " + path + " is not a regular file");
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("database " + dir +
                                        " is already open (by this or another process); "
                                        "only one open instance per directory is allowed");
    }
    return Status::Unavailable("cannot lock " + path + ": " + std::strerror(err));
  }
  // Informational: who holds it.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t written = ::pwrite(fd, pid.data(), pid.size(), 0);
    (void)written;
  }
  return FileLock(fd);
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace sextant
