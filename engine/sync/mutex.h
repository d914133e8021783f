// Annotated locks (sync/thread_annotations.h): Mutex and MutexLock (std::mutex and
// std::lock_guard); RwMutex (a writer-preferring reader/writer lock) and SharedMutex
// (std::shared_mutex), both held through ReaderLock and WriterLock. Each scoped lock can be
// released early (Unlock); a MutexLock can be taken again (Lock).
//
// Condition variables: use std::condition_variable_any on the Mutex itself (wait(mu, pred)
// releases and retakes it; to the analysis the mutex stays held, which is what the caller sees).
// Predicates that read guarded data are lambdas annotated SEXTANT_REQUIRES(mu).
//
// The std lock wrappers (std::unique_lock, std::shared_lock) still work with these types, but the
// analysis cannot see what they hold: data read under them cannot be GUARDED_BY.
#ifndef SEXTANT_SYNC_MUTEX_H_
#define SEXTANT_SYNC_MUTEX_H_

#include <pthread.h>

#include <cstdlib>
#include <mutex>
#include <shared_mutex>

#include "sync/thread_annotations.h"

namespace sextant::internal {

class SEXTANT_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() SEXTANT_ACQUIRE() { mu_.lock(); }
  bool try_lock() SEXTANT_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void unlock() SEXTANT_RELEASE() { mu_.unlock(); }
  // Tells the analysis the caller holds it (where it cannot see that itself).
  void AssertHeld() const SEXTANT_ASSERT_CAPABILITY(this) {}

 private:
  std::mutex mu_;
};

class SEXTANT_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) SEXTANT_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() SEXTANT_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() SEXTANT_RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void Lock() SEXTANT_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A reader/writer mutex that prefers writers: once a writer waits, new readers wait behind it.
//
// std::shared_mutex on glibc prefers readers, so a steady stream of searches can keep a write
// out for minutes. This wraps pthread_rwlock_t with PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
// and meets the SharedMutex requirements (std::shared_lock, std::unique_lock and
// std::condition_variable_any work with it).
//
// Not recursive: a thread holding it shared must not take it shared again (a waiting writer would
// block the second acquisition, and the writer waits for the first).
class SEXTANT_CAPABILITY("mutex") RwMutex {
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

  void lock() SEXTANT_ACQUIRE() { Check(pthread_rwlock_wrlock(&rw_)); }
  bool try_lock() SEXTANT_TRY_ACQUIRE(true) { return pthread_rwlock_trywrlock(&rw_) == 0; }
  void unlock() SEXTANT_RELEASE() { Check(pthread_rwlock_unlock(&rw_)); }
  void lock_shared() SEXTANT_ACQUIRE_SHARED() { Check(pthread_rwlock_rdlock(&rw_)); }
  bool try_lock_shared() SEXTANT_TRY_ACQUIRE_SHARED(true) { return pthread_rwlock_tryrdlock(&rw_) == 0; }
  void unlock_shared() SEXTANT_RELEASE_SHARED() { Check(pthread_rwlock_unlock(&rw_)); }
  void AssertHeld() const SEXTANT_ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const SEXTANT_ASSERT_SHARED_CAPABILITY(this) {}

 private:
  static void Check(int rc) {
    if (rc != 0) std::abort();  // EDEADLK or EINVAL: a locking bug, never user input
  }
  pthread_rwlock_t rw_;
};

// std::shared_mutex, annotated (prefers readers on glibc: for locks whose writers are rare and
// short, such as a metrics registry or an IVF list).
class SEXTANT_CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() SEXTANT_ACQUIRE() { mu_.lock(); }
  bool try_lock() SEXTANT_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void unlock() SEXTANT_RELEASE() { mu_.unlock(); }
  void lock_shared() SEXTANT_ACQUIRE_SHARED() { mu_.lock_shared(); }
  bool try_lock_shared() SEXTANT_TRY_ACQUIRE_SHARED(true) { return mu_.try_lock_shared(); }
  void unlock_shared() SEXTANT_RELEASE_SHARED() { mu_.unlock_shared(); }
  void AssertHeld() const SEXTANT_ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const SEXTANT_ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

// Holds an RwMutex or a SharedMutex shared.
template <class M>
class SEXTANT_SCOPED_CAPABILITY ReaderLock {
 public:
  explicit ReaderLock(M& mu) SEXTANT_ACQUIRE_SHARED(mu) : mu_(mu) { mu_.lock_shared(); }
  ~ReaderLock() SEXTANT_RELEASE() {
    if (held_) mu_.unlock_shared();
  }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

  void Unlock() SEXTANT_RELEASE() {
    mu_.unlock_shared();
    held_ = false;
  }

 private:
  M& mu_;
  bool held_ = true;
};

// Holds an RwMutex or a SharedMutex exclusively.
template <class M>
class SEXTANT_SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(M& mu) SEXTANT_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~WriterLock() SEXTANT_RELEASE() {
    if (held_) mu_.unlock();
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  void Unlock() SEXTANT_RELEASE() {
    mu_.unlock();
    held_ = false;
  }

 private:
  M& mu_;
  bool held_ = true;
};

}  // namespace sextant::internal

#endif  // SEXTANT_SYNC_MUTEX_H_
