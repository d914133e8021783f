#include "fault_fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <random>

namespace sextant::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

std::string DirOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool ReadWhole(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  ::close(fd);
  return n == 0;
}

bool WriteWhole(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return done == data.size();
}

uint64_t RealSize(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  const off_t end = ::lseek(fd, 0, SEEK_END);
  ::close(fd);
  return end < 0 ? 0 : static_cast<uint64_t>(end);
}

class File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(std::unique_ptr<rocksdb::FSWritableFile> target, std::string name, FaultFs* fs, uint64_t size,
       bool real_sync)
      : FSWritableFileOwnerWrapper(std::move(target)), name_(std::move(name)), fs_(fs), size_(size),
        real_sync_(real_sync) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kWrite, name_);
    if (s.ok()) s = target()->Append(data, o, d);
    if (s.ok()) fs_->Appended(name_, size_ += data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo&,
                  IODebugContext* d) override {
    return Append(data, o, d);
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kWrite, name_);
    if (s.ok()) s = target()->PositionedAppend(data, offset, o, d);
    if (s.ok()) fs_->Appended(name_, size_ = std::max<uint64_t>(size_, offset + data.size()));
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo&, IODebugContext* d) override {
    return PositionedAppend(data, offset, o, d);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kWrite, name_);
    if (s.ok()) s = target()->Truncate(size, o, d);
    if (s.ok()) fs_->Appended(name_, size_ = size);
    return s;
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kWrite, name_);
    return s.ok() ? target()->Flush(o, d) : s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* d) override { return DoSync(o, d); }
  IOStatus Fsync(const IOOptions& o, IODebugContext* d) override { return DoSync(o, d); }
  // RangeSync starts write-back; it promises nothing, so it syncs nothing here.
  IOStatus RangeSync(uint64_t, uint64_t, const IOOptions&, IODebugContext*) override {
    return fs_->Check(FaultFs::Op::kWrite, name_);
  }
  IOStatus Close(const IOOptions& o, IODebugContext* d) override {
    // Closing never makes data durable; the descriptor is released even with the power off.
    return target()->Close(o, d);
  }
  bool IsSyncThreadSafe() const override { return true; }

 private:
  IOStatus DoSync(const IOOptions& o, IODebugContext* d) {
    IOStatus s = fs_->Check(FaultFs::Op::kSync, name_);
    if (s.ok()) s = target()->Flush(o, d);
    if (s.ok() && real_sync_) s = target()->Fsync(o, d);
    if (s.ok()) fs_->Synced(name_, size_);
    return s;
  }

  const std::string name_;
  FaultFs* const fs_;
  uint64_t size_;
  const bool real_sync_;
};

class Dir final : public rocksdb::FSDirectory {
 public:
  Dir(std::unique_ptr<rocksdb::FSDirectory> target, std::string name, FaultFs* fs, bool real_sync)
      : target_(std::move(target)), name_(std::move(name)), fs_(fs), real_sync_(real_sync) {}
  IOStatus Fsync(const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kDirSync, name_);
    if (s.ok() && real_sync_) s = target_->Fsync(o, d);
    if (s.ok()) fs_->DirSynced(name_);
    return s;
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* d, const rocksdb::DirFsyncOptions&) override {
    return Fsync(o, d);
  }
  IOStatus Close(const IOOptions& o, IODebugContext* d) override { return target_->Close(o, d); }
  size_t GetUniqueId(char* id, size_t max) const override { return target_->GetUniqueId(id, max); }

 private:
  std::unique_ptr<rocksdb::FSDirectory> target_;
  const std::string name_;
  FaultFs* const fs_;
  const bool real_sync_;
};

}  // namespace

const char* OpName(FaultFs::Op op) {
  switch (op) {
    case FaultFs::Op::kCreate: return "create";
    case FaultFs::Op::kWrite: return "write";
    case FaultFs::Op::kSync: return "fsync";
    case FaultFs::Op::kDirSync: return "directory fsync";
    case FaultFs::Op::kRename: return "rename";
    case FaultFs::Op::kDelete: return "delete";
  }
  return "?";
}

FaultFs::FaultFs(bool real_sync) : FileSystemWrapper(rocksdb::FileSystem::Default()), real_sync_(real_sync) {}

void FaultFs::PowerOff() {
  std::lock_guard g(mu_);
  on_ = false;
}

void FaultFs::PowerOffAfter(int64_t n) {
  std::lock_guard g(mu_);
  off_countdown_ = n;
}

int64_t FaultFs::mutations() const {
  std::lock_guard g(mu_);
  return mutations_;
}

bool FaultFs::powered_on() const {
  std::lock_guard g(mu_);
  return on_;
}

std::string FaultFs::SimulateCrash(uint64_t seed, Tear tear) {
  std::lock_guard g(mu_);
  std::mt19937_64 rng(seed);
  std::string report;
  // Directory entries first, newest change first.
  for (auto& [dir, changes] : dir_changes_) {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
      if (it->kind == DirChange::kCreated) {
        if (::unlink(it->path.c_str()) == 0) report += " unlinked " + it->path;
        files_.erase(it->path);
      } else {
        if (::rename(it->path.c_str(), it->from.c_str()) == 0) report += " unrenamed " + it->path;
        if (auto f = files_.find(it->path); f != files_.end()) {
          files_[it->from] = f->second;
          files_.erase(it->path);
        }
        if (it->replaced) {
          WriteWhole(it->path, *it->replaced);
          files_[it->path] = it->replaced_state.value_or(
              FileState{it->replaced->size(), it->replaced->size()});
          report += " restored " + it->path;
        }
      }
    }
  }
  dir_changes_.clear();
  // Then the contents: cut every file back to what was synced, keeping a torn tail if asked.
  for (auto& [path, st] : files_) {
    if (::access(path.c_str(), F_OK) != 0) continue;
    const uint64_t real = RealSize(path);
    const uint64_t unsynced = real > st.synced ? real - st.synced : 0;
    if (unsynced == 0) continue;
    uint64_t keep = 0;
    if (tear != Tear::kNone) keep = std::uniform_int_distribution<uint64_t>(0, unsynced)(rng);
    const uint64_t len = st.synced + keep;
    if (::truncate(path.c_str(), static_cast<off_t>(len)) != 0) report += " (truncate failed: " + path + ")";
    if (tear == Tear::kGarbage && keep > 0) {
      const uint64_t n = std::min<uint64_t>(keep, 512);
      std::string junk(n, '\0');
      for (auto& c : junk) c = static_cast<char>(rng());
      const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        if (::pwrite(fd, junk.data(), n, static_cast<off_t>(len - n)) != static_cast<ssize_t>(n)) {
          report += " (tearing failed: " + path + ")";
        }
        ::close(fd);
      }
    }
    report += " cut " + path + " " + std::to_string(real) + "->" + std::to_string(len);
    st.synced = st.size = len;
  }
  for (auto& [path, st] : files_) st.size = st.synced;
  on_ = true;
  off_countdown_ = -1;
  return report;
}

void FaultFs::Inject(Op op, Error error, std::string name_contains, int skip, int times) {
  std::lock_guard g(mu_);
  faults_.push_back({op, error, std::move(name_contains), skip, times});
}

void FaultFs::ClearFaults() {
  std::lock_guard g(mu_);
  faults_.clear();
}

int FaultFs::faults_fired() const {
  std::lock_guard g(mu_);
  return fired_;
}

IOStatus FaultFs::Check(Op op, const std::string& name) {
  std::lock_guard g(mu_);
  return CheckLocked(op, name);
}

IOStatus FaultFs::CheckLocked(Op op, const std::string& name) {
  ++mutations_;
  if (off_countdown_ > 0 && --off_countdown_ == 0) {
    on_ = false;
    off_countdown_ = -1;
  }
  if (!on_) return IOStatus::IOError("simulated power loss: " + std::string(OpName(op)) + " of " + name);
  for (Fault& f : faults_) {
    if (f.op != op || name.find(f.name_contains) == std::string::npos || f.times == 0) continue;
    if (f.skip > 0) {
      --f.skip;
      continue;
    }
    if (f.times > 0) --f.times;
    ++fired_;
    const std::string what = std::string(OpName(op)) + " of " + name;
    if (f.error == Error::kNoSpace) return IOStatus::NoSpace("injected ENOSPC: " + what);
    return IOStatus::IOError("injected EIO: " + what);
  }
  return IOStatus::OK();
}

void FaultFs::Created(const std::string& name) {
  files_[name] = FileState{};
  dir_changes_[DirOf(name)].push_back({DirChange::kCreated, name, {}, std::nullopt, std::nullopt});
}

void FaultFs::Appended(const std::string& name, uint64_t new_size) {
  std::lock_guard g(mu_);
  FileState& st = files_[name];
  st.size = new_size;
  st.synced = std::min(st.synced, new_size);
}

void FaultFs::Synced(const std::string& name, uint64_t size) {
  std::lock_guard g(mu_);
  FileState& st = files_[name];
  st.size = std::max(st.size, size);
  st.synced = size;
}

void FaultFs::DirSynced(const std::string& dir) {
  std::lock_guard g(mu_);
  dir_changes_.erase(dir);
}

IOStatus FaultFs::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                  std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  std::lock_guard g(mu_);
  IOStatus s = CheckLocked(Op::kCreate, f);
  if (!s.ok()) return s;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  s = target()->NewWritableFile(f, o, &file, d);
  if (!s.ok()) return s;
  Created(f);
  *r = std::make_unique<File>(std::move(file), f, this, 0, real_sync_);
  return s;
}

IOStatus FaultFs::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                     std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  std::lock_guard g(mu_);
  IOStatus s = CheckLocked(Op::kCreate, f);
  if (!s.ok()) return s;
  const bool existed = ::access(f.c_str(), F_OK) == 0;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  s = target()->ReopenWritableFile(f, o, &file, d);
  if (!s.ok()) return s;
  const uint64_t size = RealSize(f);
  if (!existed) {
    Created(f);
  } else if (files_.find(f) == files_.end()) {
    files_[f] = FileState{size, size};  // written before this file system saw it: durable
  }
  *r = std::make_unique<File>(std::move(file), f, this, size, real_sync_);
  return s;
}

IOStatus FaultFs::ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  IOStatus s = RenameFile(old, f, IOOptions(), d);
  if (!s.ok()) return s;
  return NewWritableFile(f, o, r, d);
}

IOStatus FaultFs::NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                  std::unique_ptr<rocksdb::FSRandomRWFile>* r, IODebugContext* d) {
  // Not used by the engine's RocksDB configuration; refused when off, otherwise untracked.
  IOStatus s = Check(Op::kCreate, f);
  return s.ok() ? target()->NewRandomRWFile(f, o, r, d) : s;
}

IOStatus FaultFs::NewDirectory(const std::string& name, const IOOptions& o, std::unique_ptr<rocksdb::FSDirectory>* r,
                               IODebugContext* d) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  IOStatus s = target()->NewDirectory(name, o, &dir, d);
  if (!s.ok()) return s;
  std::string n = name;
  while (n.size() > 1 && n.back() == '/') n.pop_back();
  *r = std::make_unique<Dir>(std::move(dir), n, this, real_sync_);
  return s;
}

IOStatus FaultFs::RenameFile(const std::string& s, const std::string& t, const IOOptions& o, IODebugContext* d) {
  std::lock_guard g(mu_);
  IOStatus st = CheckLocked(Op::kRename, s);
  if (!st.ok()) return st;
  DirChange change{DirChange::kRenamed, t, s, std::nullopt, std::nullopt};
  std::string old;
  if (ReadWhole(t, &old)) {
    change.replaced = std::move(old);
    if (auto it = files_.find(t); it != files_.end()) change.replaced_state = it->second;
  }
  st = target()->RenameFile(s, t, o, d);
  if (!st.ok()) return st;
  if (auto it = files_.find(s); it != files_.end()) {
    files_[t] = it->second;
    files_.erase(s);
  } else {
    const uint64_t size = RealSize(t);
    files_[t] = FileState{size, size};
  }
  dir_changes_[DirOf(t)].push_back(std::move(change));
  return st;
}

IOStatus FaultFs::LinkFile(const std::string& s, const std::string& t, const IOOptions& o, IODebugContext* d) {
  IOStatus st = Check(Op::kRename, s);
  return st.ok() ? target()->LinkFile(s, t, o, d) : st;
}

IOStatus FaultFs::DeleteFile(const std::string& f, const IOOptions& o, IODebugContext* d) {
  std::lock_guard g(mu_);
  IOStatus s = CheckLocked(Op::kDelete, f);
  if (!s.ok()) return s;
  s = target()->DeleteFile(f, o, d);
  // A deletion is taken as durable at once (as RocksDB's FaultInjectionTestFS does).
  if (s.ok()) files_.erase(f);
  return s;
}

IOStatus FaultFs::Truncate(const std::string& f, size_t size, const IOOptions& o, IODebugContext* d) {
  std::lock_guard g(mu_);
  IOStatus s = CheckLocked(Op::kWrite, f);
  if (!s.ok()) return s;
  s = target()->Truncate(f, size, o, d);
  if (s.ok()) {
    FileState& st = files_[f];
    st.size = size;
    st.synced = std::min<uint64_t>(st.synced, size);
  }
  return s;
}

}  // namespace sextant::testing
