// Index checkpoint files: a collection's vector index saved beside the database, so that opening
// a large collection loads its graph or lists instead of rebuilding them.
//
//   DIR/index/<collection id>.sxi
//
//   file     := magic "SXTIDX01" | u32le version (1) | u32le header_len | header (JSON text)
//               | u64le n_fingerprints | n_fingerprints x u64le | u64le index_len | index bytes
//               | u64le checksum            (Hash64 of every byte before it)
//   header   := {"collection_id", "dimension", "metric", "index" (spec), "sequence"}
//
// fingerprints[slot] is Hash64 of the slot's float32 vector as the index saw it, or 0 when the
// index did not hold the slot. On open the collection compares them with the stored vectors to
// find the writes the checkpoint does not cover and applies only those. `sequence` is the
// database's write sequence number when the checkpoint was taken.
//
// Files are written to "<name>.tmp", fsync'ed and renamed, so a crash leaves the old file or the
// new one, never a torn one; a torn or altered file fails its checksum and is rebuilt.
#ifndef SEXTANT_COLLECTION_INDEX_FILE_H_
#define SEXTANT_COLLECTION_INDEX_FILE_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"
#include "storage/files.h"

namespace sextant {

struct IndexFile {
  uint32_t collection_id = 0;
  uint32_t dimension = 0;
  Metric metric = Metric::kL2;
  std::string index_spec;
  uint64_t sequence = 0;
  std::vector<uint64_t> fingerprints;
  std::string index_bytes;
};

std::string IndexFilePath(const std::string& index_dir, uint32_t collection_id);

// Fingerprint of a vector for IndexFile::fingerprints (never 0).
uint64_t VectorFingerprint(const float* v, size_t dim);

// Writes through `files` (the database's file system), atomically (Files::WriteAtomically).
Status WriteIndexFile(const storage::Files& files, const std::string& path, const IndexFile& file);
// NotFound when there is no file; DataLoss when it is torn, altered or not an index file; the
// file system's error when it cannot be read.
StatusOr<IndexFile> ReadIndexFile(const storage::Files& files, const std::string& path);

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_INDEX_FILE_H_
