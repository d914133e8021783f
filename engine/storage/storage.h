// The storage layer: the only code that includes RocksDB.
//
// One RocksDB instance per database directory, with one column family per kind of data
// (shared/DESIGN.md, docs/format.md). Collections share the families; every key of a collection
// starts with its 4-byte big-endian collection id, so a collection's data is one key range per
// family and dropping it is one DeleteRange per family.
//
// Thread safety: Storage is safe for concurrent use (RocksDB is). A Batch is not.
#ifndef SEXTANT_STORAGE_STORAGE_H_
#define SEXTANT_STORAGE_STORAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sextant/status.h"
#include "sextant/types.h"

namespace rocksdb {
class FileSystem;
class WriteBatch;
struct WriteOptions;
}

namespace sextant::storage {

// Column families (docs/format.md gives each one's keys and values).
enum class Cf : int {
  kMeta = 0,      // format version, catalogue of collections
  kIds,           // collection id, encoded point id -> slot
  kVectors,       // collection id, slot -> float32 vector
  kPayloads,      // collection id, slot -> payload JSON (absent when the point has none)
  kPayloadIndex,  // reserved for payload indexes (ANN issue)
  kIndex,         // reserved for persisted index blobs (ANN issue)
  kDocs,          // reserved for RAG source documents (RAG issue)
  kText,          // collection id, slot -> the point's analyzed text (full-text index)
};
inline constexpr int kNumCfs = 8;
std::string_view CfName(Cf cf);

struct StorageOptions {
  bool create_if_missing = true;
  bool error_if_exists = false;
  size_t block_cache_bytes = 64 << 20;
  // RocksDB's memtables, all column families together (DBOptions::db_write_buffer_size): past it
  // the largest is flushed; one memtable holds at most half of it. Without this bound each of the
  // kNumCfs families could keep up to two 64 MiB memtables, and a steady write load grew the
  // server's RSS by ~100 MB/min until they filled (docs/reliability.md, "Soak").
  size_t write_buffer_bytes = 32 << 20;
  // Opens without writing anything to the directory (a snapshot's copy is opened this way, so
  // its files and their checksums stay as they are). Write, CompactRange and CreateCheckpoint
  // fail.
  bool read_only = false;
  // Every file RocksDB touches goes through it; null: the real file system.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// A set of writes applied atomically by Storage::Write.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);
  // Deletes every key in [begin, end).
  void DeleteRange(Cf cf, std::string_view begin, std::string_view end);
  // Number of operations added.
  size_t Count() const;

 private:
  friend class Storage;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

class Storage {
 public:
  // Opens the RocksDB instance in `path` (which must exist). NotFound when there is none and
  // !create_if_missing; AlreadyExists when there is one and error_if_exists.
  static StatusOr<std::unique_ptr<Storage>> Open(const std::string& path,
                                                 const StorageOptions& options);
  ~Storage();  // closes RocksDB (the WAL already holds every acknowledged write)
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Applies the batch atomically, in the WAL before returning; with sync, fsync'ed too. After a
  // write failed with an I/O error (RocksDB then stops writes), the next write first tries to
  // resume, so writes work again once the fault clears (docs/reliability.md).
  Status Write(Batch& batch, bool sync);

  // Makes every write applied so far durable (fsyncs the write-ahead log), as a write with
  // sync=true does for itself and everything before it.
  Status SyncWal();

  // The value of `key`, or nullopt when absent.
  StatusOr<std::optional<std::string>> Get(Cf cf, std::string_view key) const;

  // Calls fn(key, value) for every key in [begin, end) in key order, until fn returns false.
  // Reads a consistent snapshot taken at the call.
  Status Scan(Cf cf, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  // Compacts [begin, end) so that deleted data is dropped from disk (after a collection drop).
  Status CompactRange(Cf cf, std::string_view begin, std::string_view end);

  // The sequence number of the last committed write (monotonic across the database's life).
  uint64_t LatestSequence() const;

  // Bytes in memtables, active and waiting to be flushed, over every column family
  // (bounded by StorageOptions::write_buffer_bytes, plus what a flush in progress holds).
  uint64_t MemtableBytes() const;

  // Writes a RocksDB checkpoint of every committed write into directory `dir` (which must not
  // exist): SST files are hard-linked when `dir` is on the same file system, copied otherwise;
  // the memtables are flushed first so the checkpoint needs no WAL replay.
  Status CreateCheckpoint(const std::string& dir);

 private:
  struct Rep;
  explicit Storage(std::unique_ptr<Rep> rep);
  Status WriteRaw(const rocksdb::WriteOptions& wo, rocksdb::WriteBatch* wb, std::string_view what);
  std::unique_ptr<Rep> rep_;
};

// ---- Key layout (docs/format.md) ----

// The 4-byte big-endian prefix of every key of collection `cid`.
std::string CollectionPrefix(uint32_t cid);
// An encoded point id: 0x01 + 8-byte big-endian number, or 0x02 + the string's bytes. Numbers
// sort before strings, numbers numerically, strings bytewise.
std::string EncodeId(const PointId& id);
// Inverse of EncodeId; DataLoss for bytes that are not an encoded id.
StatusOr<PointId> DecodeId(std::string_view encoded);
// prefix(cid) + encoded id                  (Cf::kIds)
std::string IdKey(uint32_t cid, std::string_view encoded_id);
// prefix(cid) + 4-byte big-endian slot      (Cf::kVectors, Cf::kPayloads)
std::string SlotKey(uint32_t cid, uint32_t slot);

}  // namespace sextant::storage

#endif  // SEXTANT_STORAGE_STORAGE_H_
