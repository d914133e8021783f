#include "storage/storage.h"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "storage/rocks_status.h"
#include "util/coding.h"
#include "util/logging.h"
#include "sync/mutex.h"

namespace sextant::storage {
namespace {

constexpr std::string_view kCfNames[kNumCfs] = {"meta",    "ids",   "vectors", "payloads",
                                                "payload_index", "index", "docs", "text"};

// RocksDB's diagnostics go to the engine's log (stderr), not to a LOG file in the database
// directory: on a full disk a failed write to that file makes the next log line abort the process
// in RocksDB builds with assertions (Debian's), found by tests/fault/io_fault_test.cc. Errors
// only (its warnings include routine notes, e.g. on every checkpoint; the status carries I/O errors).
class EngineLogger final : public rocksdb::Logger {
 public:
  EngineLogger() : Logger(rocksdb::InfoLogLevel::ERROR_LEVEL) {}
  using Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::ERROR_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    internal::Log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? internal::LogLevel::kError : internal::LogLevel::kWarning,
                  "rocksdb: " + std::string(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1)));
  }
};

rocksdb::Slice ToSlice(std::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

// Discards RocksDB's diagnostics (a read-only open must not write an info log into a snapshot).
class NullLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

}  // namespace

std::string_view CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

struct Batch::Rep {
  // Column family handles are bound at Write time, so a Batch records (cf, op) pairs.
  enum class Op { kPut, kDelete, kDeleteRange };
  struct Entry {
    Op op;
    Cf cf;
    std::string a, b;
  };
  std::vector<Entry> entries;
};

Batch::Batch() : rep_(std::make_unique<Rep>()) {}
Batch::~Batch() = default;
void Batch::Put(Cf cf, std::string_view key, std::string_view value) {
  rep_->entries.push_back({Rep::Op::kPut, cf, std::string(key), std::string(value)});
}
void Batch::Delete(Cf cf, std::string_view key) {
  rep_->entries.push_back({Rep::Op::kDelete, cf, std::string(key), {}});
}
void Batch::DeleteRange(Cf cf, std::string_view begin, std::string_view end) {
  rep_->entries.push_back({Rep::Op::kDeleteRange, cf, std::string(begin), std::string(end)});
}
size_t Batch::Count() const { return rep_->entries.size(); }

struct Storage::Rep {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // indexed by Cf; owned, destroyed in ~Rep
  std::string path;
  std::unique_ptr<rocksdb::Env> env;
  internal::Mutex resume_mu;  // one DB::Resume() at a time  // wraps StorageOptions::file_system; ~Rep closes db first

  rocksdb::ColumnFamilyHandle* H(Cf cf) const { return handles[static_cast<int>(cf)]; }

  ~Rep() {
    if (!db) return;
    for (auto* h : handles) {
      if (h != nullptr && h != db->DefaultColumnFamily()) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    db->Close().PermitUncheckedError();
    db.reset();  // before env, which it uses
  }
};

Storage::Storage(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Storage::~Storage() = default;

StatusOr<std::unique_ptr<Storage>> Storage::Open(const std::string& path,
                                                 const StorageOptions& options) {
  std::shared_ptr<rocksdb::FileSystem> fs =
      options.file_system != nullptr ? options.file_system : rocksdb::FileSystem::Default();
  const rocksdb::IOStatus current = fs->FileExists(path + "/CURRENT", rocksdb::IOOptions(), nullptr);
  if (!current.ok() && !current.IsNotFound() && !current.IsPathNotFound()) {
    return FromRocks(current, "opening " + path);
  }
  const bool exists = current.ok();
  if (!exists && !options.create_if_missing) {
    return Status::NotFound("no database in " + path + " (create_if_missing is false)");
  }
  if (exists && options.error_if_exists) {
    return Status::AlreadyExists("a database already exists in " + path);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.max_open_files = 512;
  db_options.db_write_buffer_size = options.write_buffer_bytes;
  db_options.info_log = std::make_shared<EngineLogger>();

  if (options.read_only) db_options.info_log = std::make_shared<NullLogger>();

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kNumCfs; ++i) {
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf_options.write_buffer_size = std::max<size_t>(options.write_buffer_bytes / 2, 1 << 20);
    // Float vectors do not compress; spend no CPU trying.
    if (static_cast<Cf>(i) == Cf::kVectors) cf_options.compression = rocksdb::kNoCompression;
    descriptors.emplace_back(std::string(kCfNames[i]), cf_options);
  }
  // RocksDB requires the default family to be opened too; we keep nothing in it.
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());

  auto rep = std::make_unique<Rep>();
  rep->path = path;
  if (options.file_system != nullptr) {
    rep->env = rocksdb::NewCompositeEnv(options.file_system);
    db_options.env = rep->env.get();
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      options.read_only ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw)
                        : rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening " + path);
  rep->db.reset(raw);
  rep->handles = std::move(handles);
  return std::unique_ptr<Storage>(new Storage(std::move(rep)));
}

Status Storage::Write(Batch& batch, bool sync) {
  rocksdb::WriteBatch wb;
  for (const auto& e : batch.rep_->entries) {
    rocksdb::Status s;
    switch (e.op) {
      case Batch::Rep::Op::kPut: s = wb.Put(rep_->H(e.cf), e.a, e.b); break;
      case Batch::Rep::Op::kDelete: s = wb.Delete(rep_->H(e.cf), e.a); break;
      case Batch::Rep::Op::kDeleteRange: s = wb.DeleteRange(rep_->H(e.cf), e.a, e.b); break;
    }
    if (!s.ok()) return FromRocks(s, "building write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return WriteRaw(wo, &wb, "writing batch");
}

Status Storage::WriteRaw(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* wb, std::string_view what) {
  // After an I/O error RocksDB stops all writes (a "background error") until DB::Resume(). A
  // write refused that way tries to resume (which retries the failed flush or compaction) and,
  // when that works, is retried once: writes work again as soon as the fault has cleared (the
  // disk has room again), without a reopen. RocksDB does not resume after a failed write or
  // fsync of the write-ahead log itself (the log may end in a partial record); then writes are
  // refused until the database is reopened (docs/reliability.md).
  rocksdb::Status st = rep_->db->Write(wo, wb);
  if (!st.IsIOError() && !st.IsNoSpace()) return FromRocks(st, what);
  internal::MutexLock g(rep_->resume_mu);
  rocksdb::Status r = rep_->db->Resume();
  for (int i = 0; i < 40 && r.IsBusy(); ++i) {  // an automatic recovery is under way: wait for it
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    r = rep_->db->Resume();
  }
  if (!r.ok()) {
    Status refused = FromRocks(st, what);
    return Status(refused.code(), std::string(refused.message()) + "; writes stay stopped (" +
                                      (r == st      ? std::string("reopen the database once the fault is fixed")
                                       : r.IsBusy() ? std::string("RocksDB is still recovering; retry, or reopen")
                                                    : "resuming failed: " + r.ToString()) +
                                      ")");
  }
  return FromRocks(rep_->db->Write(wo, wb), what);
}

Status Storage::SyncWal() {
  // An empty synced write rather than DB::SyncWAL: the write path refuses at once when an earlier
  // I/O error stopped writes, where SyncWAL would reach the failed log writer (an assertion in
  // RocksDB builds with assertions, as Debian's is).
  rocksdb::WriteBatch empty;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return WriteRaw(wo, &empty, "syncing the write-ahead log");
}

StatusOr<std::optional<std::string>> Storage::Get(Cf cf, std::string_view key) const {
  std::string value;
  rocksdb::Status s = rep_->db->Get(rocksdb::ReadOptions(), rep_->H(cf), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading " + std::string(CfName(cf)));
  return std::optional<std::string>(std::move(value));
}

Status Storage::Scan(Cf cf, std::string_view begin, std::string_view end,
                     const std::function<bool(std::string_view, std::string_view)>& fn) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper = ToSlice(end);
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;  // bulk scans should not evict the payload working set
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, rep_->H(cf)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key(), v = it->value();
    if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
  }
  return FromRocks(it->status(), "scanning " + std::string(CfName(cf)));
}

Status Storage::CompactRange(Cf cf, std::string_view begin, std::string_view end) {
  rocksdb::Slice b = ToSlice(begin), e = ToSlice(end);
  return FromRocks(rep_->db->CompactRange(rocksdb::CompactRangeOptions(), rep_->H(cf), &b, &e),
                   "compacting " + std::string(CfName(cf)));
}

uint64_t Storage::LatestSequence() const { return rep_->db->GetLatestSequenceNumber(); }

uint64_t Storage::MemtableBytes() const {
  uint64_t bytes = 0;
  if (!rep_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &bytes)) return 0;
  return bytes;
}

Status Storage::CreateCheckpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  SEXTANT_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(rep_->db.get(), &raw), "checkpoint of " + rep_->path));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: always flush, so the checkpoint holds SST files and an empty WAL.
  return FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0), "checkpoint of " + rep_->path + " into " + dir);
}

// ---- Key layout ----

std::string CollectionPrefix(uint32_t cid) {
  std::string out;
  internal::PutFixed32BE(&out, cid);
  return out;
}

std::string EncodeId(const PointId& id) {
  std::string out;
  if (id.is_number()) {
    out.push_back('\x01');
    internal::PutFixed64BE(&out, id.number());
  } else {
    out.push_back('\x02');
    out += id.str();
  }
  return out;
}

StatusOr<PointId> DecodeId(std::string_view encoded) {
  if (encoded.size() == 9 && encoded[0] == '\x01') {
    return PointId(internal::DecodeFixed64BE(encoded.data() + 1));
  }
  if (encoded.size() >= 2 && encoded[0] == '\x02') return PointId(std::string(encoded.substr(1)));
  return Status::DataLoss("corrupt point id key of " + std::to_string(encoded.size()) + " bytes");
}

std::string IdKey(uint32_t cid, std::string_view encoded_id) {
  std::string out = CollectionPrefix(cid);
  out += encoded_id;
  return out;
}

std::string SlotKey(uint32_t cid, uint32_t slot) {
  std::string out = CollectionPrefix(cid);
  internal::PutFixed32BE(&out, slot);
  return out;
}

}  // namespace sextant::storage
