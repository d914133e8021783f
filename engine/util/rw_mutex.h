// A reader/writer mutex that prefers writers: once a writer waits, new readers wait behind it.
//
// std::shared_mutex on glibc prefers readers, so a steady stream of searches can keep a write
// out for minutes. This wraps pthread_rwlock_t with PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
// and meets the SharedMutex requirements (std::shared_lock, std::unique_lock and
// std::condition_variable_any work with it).
//
// Not recursive: a thread holding it shared must not take it shared again (a waiting writer would
// block the second acquisition, and the writer waits for the first).
#ifndef SEXTANT_UTIL_RW_MUTEX_H_
#define SEXTANT_UTIL_RW_MUTEX_H_

#include <pthread.h>

#include <cstdlib>

namespace sextant::internal {

class RwMutex {
 public:
  RwMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#if defined(__GLIBC__)
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    if (pthread_rwlock_init(&rw_, &attr) != 0) std::abort();
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwMutex() { pthread_rwlock_destroy(&rw_); }
  RwMutex(const RwMutex&) = delete;
  RwMutex& operator=(const RwMutex&) = delete;

  void lock() { Check(pthread_rwlock_wrlock(&rw_)); }
  bool try_lock() { return pthread_rwlock_trywrlock(&rw_) == 0; }
  void unlock() { Check(pthread_rwlock_unlock(&rw_)); }
  void lock_shared() { Check(pthread_rwlock_rdlock(&rw_)); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&rw_) == 0; }
  void unlock_shared() { Check(pthread_rwlock_unlock(&rw_)); }

 private:
  static void Check(int rc) {
    if (rc != 0) std::abort();  // EDEADLK or EINVAL: a locking bug, never user input
  }
  pthread_rwlock_t rw_;
};

}  // namespace sextant::internal

#endif  // SEXTANT_UTIL_RW_MUTEX_H_
