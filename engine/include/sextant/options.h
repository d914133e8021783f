// Options for opening a database, creating a collection, writing and searching.
#ifndef SEXTANT_OPTIONS_H_
#define SEXTANT_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "sextant/types.h"

namespace sextant {

// Database-wide options, given to Database::Open.
struct DatabaseOptions {
  // Create the directory and an empty database when none exists. When false, opening a directory
  // without a database is NotFound.
  bool create_if_missing = true;
  // Fail with AlreadyExists when the directory already holds a database.
  bool error_if_exists = false;
  // Largest accepted payload (its JSON text), in bytes. A larger one is InvalidArgument and the
  // batch writes nothing. Default 64 KiB.
  size_t max_payload_bytes = 64 * 1024;
  // RocksDB block cache shared by all collections. Vectors are also held in memory by each
  // collection, so this mostly serves payload reads. Default 64 MiB.
  size_t block_cache_bytes = 64 << 20;
};

// Per-collection options, fixed when the collection is created.
struct CollectionOptions {
  // Number of float32 components of every vector, 1..kMaxDimension. Required.
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;

  static constexpr uint32_t kMaxDimension = 65536;
};

// Options for one write (Upsert, Delete).
struct WriteOptions {
  // Every acknowledged write is in RocksDB's write-ahead log before the call returns, so it
  // survives a crash of the process (kill -9). With sync = true the log is also fsync'ed, so it
  // survives a crash of the machine; that costs a disk flush per write.
  bool sync = false;
};

// Options for one search (or one batch of searches).
struct SearchOptions {
  // Number of nearest points to return, >= 1. Fewer come back only when fewer points match.
  uint32_t k = 10;
  // Optional payload filter as JSON text, e.g. {"genre": "drama", "year": {"$gte": 2000}}.
  // Empty means no filter. The language is described in docs/filters.md. A malformed filter is
  // InvalidArgument naming where it is wrong.
  std::string filter;
  // Fill Hit::payload.
  bool with_payload = false;
};

// Options for Collection::Scan.
struct ScanOptions {
  // Page size, 1..100000.
  uint32_t limit = 100;
  // The previous page's ScanPage::next_cursor; empty for the first page.
  std::string cursor;
  // Only points whose payload matches this filter (same language as SearchOptions::filter).
  std::string filter;
};

}  // namespace sextant

#endif  // SEXTANT_OPTIONS_H_
