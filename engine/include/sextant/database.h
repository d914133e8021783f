// A Sextant database: one directory on disk holding any number of collections.
#ifndef SEXTANT_DATABASE_H_
#define SEXTANT_DATABASE_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/collection.h"
#include "sextant/options.h"
#include "sextant/snapshot.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

// Thread-safe. Only one Database may have a directory open at a time, in this process or any
// other: a second Open fails at once with FailedPrecondition (it does not wait).
//
// Destroying the Database flushes and closes it and releases the directory. Collection handles
// still held afterwards return FailedPrecondition on every call.
class Database {
 public:
  // Opens (or, with options.create_if_missing, creates) the database in directory `path`.
  // Errors: NotFound (no database and !create_if_missing), AlreadyExists (error_if_exists),
  // FailedPrecondition (already open, or written by a newer format version), DataLoss (corrupt),
  // or the I/O error.
  static StatusOr<std::unique_ptr<Database>> Open(const DatabaseOptions& options,
                                                  const std::string& path);

  virtual ~Database() = default;

  // Creates a collection. Names are 1..128 characters of [A-Za-z0-9_.-], starting with a letter
  // or digit. InvalidArgument for a bad name, dimension (1..65536) or metric; AlreadyExists when
  // the name is taken.
  virtual StatusOr<std::shared_ptr<Collection>> CreateCollection(
      std::string_view name, const CollectionOptions& options) = 0;

  // The collection of that name, or NotFound. Every call returns a handle to the same object.
  virtual StatusOr<std::shared_ptr<Collection>> GetCollection(std::string_view name) = 0;

  // Deletes the collection and all its points, payloads and index data; NotFound when absent.
  // Handles still held by other threads return NotFound from then on.
  virtual Status DropCollection(std::string_view name) = 0;

  // All collections, ordered by name, damaged ones included (CollectionInfo::damage).
  virtual StatusOr<std::vector<CollectionInfo>> ListCollections() const = 0;

  // Damaged collections. When a collection's stored records do not load as the database opens
  // (DataLoss: a point without a vector, a malformed key, an unreadable catalogue entry), the
  // database still opens: the other collections work, and GetCollection of the damaged one returns
  // DataLoss naming the damage. RepairCollection salvages it: it keeps every point whose id and
  // vector are intact, removes the records that are not, derives the payload index entries again
  // (one synced batch), and loads it, rebuilding its index. On a healthy collection it only
  // rebuilds the index (RebuildIndex). NotFound for an unknown name; FailedPrecondition when the
  // catalogue entry itself is unreadable (only DropCollection helps then). Existing handles of a
  // healthy collection stay valid.
  virtual StatusOr<RepairReport> RepairCollection(std::string_view name) = 0;
  // ---- aliases: a second name for a collection, resolved by GetCollection (so every call that
  // takes a collection name takes an alias too). Switching what an alias names is atomic: a
  // caller resolving it sees the old collection or the new one, never neither. Aliases are
  // durable. Alias names follow the rules of collection names and share their namespace.

  // AlreadyExists when `alias` is already an alias or a collection's name; NotFound when
  // `collection` is not a collection (an alias cannot name another alias).
  virtual Status CreateAlias(std::string_view alias, std::string_view collection) = 0;
  // NotFound when there is no such alias.
  virtual Status DeleteAlias(std::string_view alias) = 0;
  // Every alias, ordered by alias name.
  virtual StatusOr<std::vector<AliasInfo>> ListAliases() const = 0;
  // Applies the changes in order, all or none (the first failing change's error, naming it,
  // and nothing is applied): e.g. {delete "live", create "live" -> "docs_v2"} moves an alias in
  // one step. InvalidArgument for an empty list.
  virtual Status UpdateAliases(std::span<const AliasChange> changes) = 0;

  // The memory budget (DatabaseOptions::memory_limit_bytes) and what is charged to it now.
  // Implementations without a budget of their own (a cluster's view of its nodes) return zeros.
  virtual MemoryUsage Memory() const { return {}; }

  // The directory this database lives in.
  virtual const std::string& path() const = 0;

  // Takes a snapshot of options.collection (empty: every collection) into
  // options.directory/<name> while writes go on (sextant/snapshot.h, docs/snapshots.md). The
  // snapshot point is one instant: every write acknowledged before the call is in it, and of
  // writes running alongside, each batch is in it whole or not at all. Writes to the collections
  // concerned wait during the instant itself (index serialisation and a memtable flush); the copy
  // of the files after it does not block anything. InvalidArgument for a bad name or no
  // directory, NotFound for an unknown collection, AlreadyExists when the name is taken.
  virtual StatusOr<SnapshotInfo> CreateSnapshot(const SnapshotOptions& options) = 0;

  // Restores collection `source` of the snapshot at `snapshot_path` as a new collection `name`
  // of this database (source may be empty when the snapshot holds one collection). The snapshot
  // is verified first (DataLoss, and nothing written, when any file is damaged or missing); the
  // data is copied under a fresh collection id and the collection appears only once all of it is
  // in place. A failure (or a crash) part-way leaves nothing behind. The index loads from the
  // snapshot's checkpoint, without a rebuild. AlreadyExists when `name` is taken, NotFound when
  // the snapshot has no collection `source`, InvalidArgument when `source` is empty and the
  // snapshot holds several collections.
  virtual StatusOr<CollectionInfo> RestoreCollection(const std::string& snapshot_path, std::string_view source,
                                                     std::string_view name) = 0;
};

// The SIMD instruction set the distance kernels use in this process: "scalar", "sse4", "avx2" or
// "avx512". Chosen once from the CPU; the environment variable SEXTANT_SIMD caps it (for
// debugging and tests).
std::string_view SimdLevelName();

// The library's version, "MAJOR.MINOR.PATCH".
std::string_view Version();

}  // namespace sextant

#endif  // SEXTANT_DATABASE_H_
