// A fault-injecting rocksdb::FileSystem for tests (given as DatabaseOptions::file_system), modelled
// on RocksDB's FaultInjectionTestFS (utilities/fault_injection_fs.h, which Debian does not ship).
//
// Power loss. Data written but not yet synced lives only in the page cache: the wrapper tracks,
// for every file written through it, how many bytes were synced (Sync/Fsync) and, for every
// directory, the entries created or renamed since the directory was last synced. PowerOff()
// makes every later write, sync, create, rename and delete fail (the machine is off; the test
// then destroys the database). SimulateCrash() then does to the real files what the power loss
// would have done: renames and creations not followed by a directory sync are undone (a file
// renamed over another gets the old one back), every file is cut back to its synced length — or,
// with tearing, keeps a random part of its unsynced tail, optionally with garbage in the last
// sector — and the file system is powered on again.
//
// Faults. Inject() arms an error (ENOSPC -> NoSpace, EIO -> IOError) for one kind of operation on
// files whose name contains a string, after `skip` matching operations, for `times` operations
// (or until cleared). Reads are never failed.
//
// Thread safe (RocksDB calls it from its background threads).
#ifndef SEXTANT_TESTS_FAULT_FAULT_FS_H_
#define SEXTANT_TESTS_FAULT_FAULT_FS_H_

#include <rocksdb/file_system.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sextant::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  enum class Op { kCreate, kWrite, kSync, kDirSync, kRename, kDelete };
  enum class Error { kNoSpace, kIo };
  enum class Tear {
    kNone,     // every unsynced byte is lost
    kPrefix,   // a random prefix of each file's unsynced bytes survives
    kGarbage,  // as kPrefix, and the last up-to-512 surviving unsynced bytes are random
  };

  // `real_sync`: whether Sync/Fsync reach the disk (tests of simulated crashes need not pay).
  explicit FaultFs(bool real_sync = false);
  const char* Name() const override { return "SextantFaultFs"; }

  // ---- power loss ----
  void PowerOff();
  // Powers off just before the n-th (from 1) write, sync, create, rename or delete from now on
  // (that operation and every later one fail).
  void PowerOffAfter(int64_t n);
  // How many such operations the file system has seen since construction.
  int64_t mutations() const;
  // Applies the loss of everything unsynced (see above) to the real files and powers on.
  // Returns a line describing what was dropped (for failure messages).
  std::string SimulateCrash(uint64_t seed, Tear tear);
  bool powered_on() const;

  // ---- faults ----
  void Inject(Op op, Error error, std::string name_contains = "", int skip = 0, int times = -1);
  void ClearFaults();
  // How many operations failed because of Inject (not PowerOff) since construction.
  int faults_fired() const;

  // ---- rocksdb::FileSystem ----
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus LinkFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* d) override;

  // Used by the file and directory wrappers.
  rocksdb::IOStatus Check(Op op, const std::string& name);
  void Appended(const std::string& name, uint64_t new_size);
  void Synced(const std::string& name, uint64_t size);
  void DirSynced(const std::string& dir);

 private:
  struct FileState {
    uint64_t synced = 0;  // bytes that survive a crash
    uint64_t size = 0;    // bytes written
  };
  // One directory change not yet made durable by a directory sync, undone by a crash.
  struct DirChange {
    enum Kind { kCreated, kRenamed } kind;
    std::string path;                           // created file, or the rename's target
    std::string from;                           // the rename's source
    std::optional<std::string> replaced;        // what the rename's target held before
    std::optional<FileState> replaced_state;
  };
  struct Fault {
    Op op;
    Error error;
    std::string name_contains;
    int skip;
    int times;
  };

  rocksdb::IOStatus CheckLocked(Op op, const std::string& name);
  void Created(const std::string& name);

  const bool real_sync_;
  mutable std::mutex mu_;
  bool on_ = true;
  int64_t off_countdown_ = -1;  // < 0: no scheduled power-off
  int64_t mutations_ = 0;
  std::map<std::string, FileState> files_;
  std::map<std::string, std::vector<DirChange>> dir_changes_;  // by directory
  std::vector<Fault> faults_;
  int fired_ = 0;
};

const char* OpName(FaultFs::Op op);

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_FAULT_FAULT_FS_H_
