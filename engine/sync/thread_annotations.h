// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html), the
// abseil/leveldb way: a lock is a capability, data says which lock guards it, functions say which
// locks they need. Under clang the build adds -Wthread-safety -Werror=thread-safety
// (SEXTANT_THREAD_SAFETY, on by default for clang), so taking the wrong lock or none fails the
// build; under other compilers the macros expand to nothing.
//
// Use the lock types of sync/mutex.h (std::mutex and std::lock_guard carry no annotations in
// libstdc++).
#ifndef SEXTANT_SYNC_THREAD_ANNOTATIONS_H_
#define SEXTANT_SYNC_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define SEXTANT_THREAD_ANNOTATION_(x) __attribute__((x))
#else
#define SEXTANT_THREAD_ANNOTATION_(x)
#endif

// Types.
#define SEXTANT_CAPABILITY(name) SEXTANT_THREAD_ANNOTATION_(capability(name))
#define SEXTANT_SCOPED_CAPABILITY SEXTANT_THREAD_ANNOTATION_(scoped_lockable)

// Data.
#define SEXTANT_GUARDED_BY(mu) SEXTANT_THREAD_ANNOTATION_(guarded_by(mu))
#define SEXTANT_PT_GUARDED_BY(mu) SEXTANT_THREAD_ANNOTATION_(pt_guarded_by(mu))
#define SEXTANT_ACQUIRED_AFTER(...) SEXTANT_THREAD_ANNOTATION_(acquired_after(__VA_ARGS__))
#define SEXTANT_ACQUIRED_BEFORE(...) SEXTANT_THREAD_ANNOTATION_(acquired_before(__VA_ARGS__))

// Functions.
#define SEXTANT_REQUIRES(...) SEXTANT_THREAD_ANNOTATION_(requires_capability(__VA_ARGS__))
#define SEXTANT_REQUIRES_SHARED(...) SEXTANT_THREAD_ANNOTATION_(requires_shared_capability(__VA_ARGS__))
#define SEXTANT_EXCLUDES(...) SEXTANT_THREAD_ANNOTATION_(locks_excluded(__VA_ARGS__))
#define SEXTANT_ACQUIRE(...) SEXTANT_THREAD_ANNOTATION_(acquire_capability(__VA_ARGS__))
#define SEXTANT_ACQUIRE_SHARED(...) SEXTANT_THREAD_ANNOTATION_(acquire_shared_capability(__VA_ARGS__))
#define SEXTANT_RELEASE(...) SEXTANT_THREAD_ANNOTATION_(release_capability(__VA_ARGS__))
#define SEXTANT_RELEASE_SHARED(...) SEXTANT_THREAD_ANNOTATION_(release_shared_capability(__VA_ARGS__))
#define SEXTANT_RELEASE_GENERIC(...) SEXTANT_THREAD_ANNOTATION_(release_generic_capability(__VA_ARGS__))
#define SEXTANT_TRY_ACQUIRE(...) SEXTANT_THREAD_ANNOTATION_(try_acquire_capability(__VA_ARGS__))
#define SEXTANT_TRY_ACQUIRE_SHARED(...) SEXTANT_THREAD_ANNOTATION_(try_acquire_shared_capability(__VA_ARGS__))
#define SEXTANT_ASSERT_CAPABILITY(x) SEXTANT_THREAD_ANNOTATION_(assert_capability(x))
#define SEXTANT_ASSERT_SHARED_CAPABILITY(x) SEXTANT_THREAD_ANNOTATION_(assert_shared_capability(x))
#define SEXTANT_RETURN_CAPABILITY(x) SEXTANT_THREAD_ANNOTATION_(lock_returned(x))
// For code the analysis cannot follow (a lock handed between functions or objects); say why at
// each use.
#define SEXTANT_NO_THREAD_SAFETY_ANALYSIS SEXTANT_THREAD_ANNOTATION_(no_thread_safety_analysis)

#endif  // SEXTANT_SYNC_THREAD_ANNOTATIONS_H_
