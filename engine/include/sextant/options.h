// Options for opening a database, creating a collection, writing and searching.
#ifndef SEXTANT_OPTIONS_H_
#define SEXTANT_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace rocksdb {
class FileSystem;  // <rocksdb/file_system.h>
}

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
  // The memory budget of the database (docs/embedding.md, "Memory budget"): what its collections
  // hold in memory (vectors, ids, vector indexes, payload and text indexes, estimated from their
  // sizes) plus the block cache. A write or index build that would pass it fails with
  // ResourceExhausted, naming the limit, the use and the need, before it allocates anything;
  // deletes, searches and opening a database (which loads everything stored) are never refused.
  // 0, the default: three quarters of the memory the process may use (the smaller of the
  // physical memory and the cgroup limit). Otherwise it must exceed block_cache_bytes.
  uint64_t memory_limit_bytes = 0;
  // The file system every file of the database is read and written through: RocksDB's files,
  // the index checkpoint files and the directory itself (not the lock file, which is a flock on
  // the real directory). Null, the default: the real file system. Tests pass a wrapper that
  // injects I/O errors or simulates power loss (docs/reliability.md).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Which structure answers searches. docs/index_params.md explains every parameter.
enum class IndexType {
  kFlat,  // exact search over every vector; no parameters
  kHnsw,  // hierarchical navigable small-world graph (Malkov & Yashunin)
  kIvf,   // inverted file: k-means clusters, probe the nearest nprobe lists
};

// How an index stores vectors for its own walk. Results are always re-ranked with the full
// float32 vectors, so scores are exact; a quantizer trades a little recall for memory and speed.
enum class QuantizerType {
  kNone,  // float32 (IVF: "IVF-Flat")
  kSq8,   // one byte per component (per-dimension min/max scalar quantization)
  kPq,    // product quantization: pq_m one-byte codes per vector (IVF only)
};

struct IndexOptions {
  IndexType type = IndexType::kFlat;
  QuantizerType quantizer = QuantizerType::kNone;

  // HNSW. m: links per node on upper layers (2m on the base layer), 2..128.
  uint32_t m = 16;
  // HNSW. Candidate list size while inserting, >= 1; higher builds slower and better.
  uint32_t ef_construction = 200;
  // HNSW. Default candidate list size of a search (>= k is used); SearchOptions::ef_search
  // overrides it per query.
  uint32_t ef_search = 64;

  // IVF. Number of k-means clusters (inverted lists), >= 1.
  uint32_t nlist = 256;
  // IVF. Default number of lists probed per search; SearchOptions::nprobe overrides it.
  uint32_t nprobe = 8;
  // IVF-PQ. Number of sub-quantizers (bytes per code); must divide the dimension. 0 picks the
  // largest divisor of the dimension that is <= dimension / 2 and <= 64.
  uint32_t pq_m = 0;

  // Parses an index spec, the short form used by the CLI and the benchmarks:
  //   "Flat", "HNSW<m>" ("HNSW16"), "HNSW<m>,SQ8", "IVF<nlist>" (= "IVF<nlist>,Flat"),
  //   "IVF<nlist>,SQ8", "IVF<nlist>,PQ<pq_m>" ("IVF1024,PQ16"). Case-insensitive.
  // Parameters not in the spec keep their defaults. InvalidArgument naming the bad part.
  static StatusOr<IndexOptions> Parse(std::string_view spec);
  // The canonical spec of these options ("HNSW16,SQ8").
  std::string ToString() const;
  // InvalidArgument when a parameter is out of range (for `dimension` where it matters).
  Status Validate(uint32_t dimension) const;
};

// The type of a declared payload index. A point whose payload holds the field with a value of
// another type (or, for arrays, an element of another type) is rejected at write time.
enum class PayloadFieldType {
  kKeyword,  // strings
  kInteger,  // whole numbers (int64)
  kFloat,    // any number
  kBool,
};

// Declares that `field` (a dotted path, as in filters) is indexed, so filters on it are answered
// from the index instead of reading every payload, and the planner can count matches.
struct PayloadIndexOptions {
  std::string field;
  PayloadFieldType type = PayloadFieldType::kKeyword;
};

// Per-collection options, fixed when the collection is created (the index can be changed later
// with Collection::SetIndex).
struct CollectionOptions {
  // Number of float32 components of every vector, 1..kMaxDimension. Required.
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  // The index that answers searches. Default: exact (Flat).
  IndexOptions index;
  // Payload fields to index, at most 64, each field at most once.
  std::vector<PayloadIndexOptions> payload_indexes;
  // Payload fields with a full-text index (BM25 search, the $text filter, hybrid search), at
  // most 32, each field at most once. Declared here, fixed for the collection's life.
  std::vector<TextFieldOptions> text_fields;
  // Application properties recorded with the collection: a JSON object (or empty), at most
  // 64 KiB, returned by Describe() and never interpreted by the engine. sextant::rag records a
  // text collection's embedder here, under the key "sextant.text".
  std::string properties;

  static constexpr uint32_t kMaxDimension = 65536;
  // The largest Euclidean norm a stored or query vector may have. Below it every score is a
  // finite float32 (a squared L2 distance is at most (2e18)^2 = 4e36, a dot product at most
  // 1e36); above it a vector of finite but huge components (say 3e38) would score +inf or NaN
  // and rank first whatever the query. Upsert and Search reject such vectors (InvalidArgument).
  static constexpr double kMaxVectorNorm = 1e18;
};

// Options for one write (Upsert, Delete).
struct WriteOptions {
  // Every acknowledged write is in RocksDB's write-ahead log before the call returns, so it
  // survives a crash of the process (kill -9). With sync = true the log is also fsync'ed, so it
  // survives a crash of the machine; that costs a disk flush per write.
  bool sync = false;
};

// How a hybrid search combines its dense and BM25 candidate lists.
enum class Fusion {
  kRrf,       // reciprocal rank fusion (Cormack et al., 2009): uses ranks only, robust default
  kWeighted,  // weighted sum of min-max normalised scores
};
std::string_view FusionName(Fusion fusion);  // "rrf", "weighted"
// "rrf" or "weighted"; InvalidArgument otherwise.
StatusOr<Fusion> ParseFusion(std::string_view name);

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
  // Fill Hit::vector.
  bool with_vector = false;
  // HNSW candidate list size for this search; 0 = the index's default.
  uint32_t ef_search = 0;
  // IVF lists to probe for this search; 0 = the index's default.
  uint32_t nprobe = 0;
  // Score every (matching) point exactly, bypassing the index.
  bool exact = false;

  // ---- Full-text and hybrid search (docs/text_search.md) ----
  // A full-text query, scored with BM25 over the collection's text fields. Given with an empty
  // query vector, the search is BM25 alone; given with a vector, it is hybrid: the dense and the
  // BM25 candidate lists are fused. Empty = dense search alone.
  std::string text;
  // The text fields the query searches (names as declared); empty = all of them.
  std::vector<std::string> text_fields;
  // How a hybrid search fuses its two lists.
  Fusion fusion = Fusion::kRrf;
  // kRrf: score = sum over the lists holding the point of 1 / (rrf_k + rank), rank from 1.
  uint32_t rrf_k = 60;
  // kWeighted: score = dense_weight * dense' + text_weight * text', each part min-max normalised
  // to [0, 1] over its list's candidates (a point missing from a list gets 0 for it). Weights
  // must be finite and >= 0, not both 0.
  float dense_weight = 0.5f;
  float text_weight = 0.5f;
  // Candidates each list contributes to a hybrid search, and the pool group_by and mmr choose
  // from; 0 = max(k, 100) (with group_by or mmr, the larger pool described there). More
  // candidates can only promote points found by one list alone.
  uint32_t candidates = 0;
  // ---- Result shaping (docs/text_search.md#result-shaping); dense, text and hybrid alike ----
  // Keep only hits at least this good: score >= threshold, except for a dense search under the
  // L2 metric, whose score is a distance (kept when <= threshold). For hybrid search it applies to
  // the fused score. Must be finite.
  std::optional<float> score_threshold;
  // Group the hits by this payload field (a dotted path to a string, integer or bool; points
  // without such a value are left out): the search returns up to `k` groups, best group first,
  // each with its best `group_size` hits in order (Hit::group holds the value). Groups are formed
  // from the best `candidates` points (0 = max(100, 10 * k * group_size)).
  std::string group_by;
  uint32_t group_size = 1;  // 1..kMaxGroupSize
  // Maximal marginal relevance (Carbonell and Goldstein, 1998): pick the k hits one at a time
  // among the best `candidates` (0 = max(100, 10 * k)), each maximising
  //   mmr_lambda * relevance - (1 - mmr_lambda) * max cosine similarity to the hits already picked
  // (relevance: a dense cosine search's score as it is, any other score min-max normalised over
  // the candidates; similarity: of the stored vectors). Hits keep their scores; their order is the picking order. mmr_lambda in [0, 1]
  // (1 = plain ranking). Not combined with group_by.
  bool mmr = false;
  float mmr_lambda = 0.5f;
  static constexpr uint32_t kMaxGroupSize = 1000;

  // Bound on what the results may hold: when their ids, payloads and vectors (about 24 bytes per
  // hit plus the id, the payload text and 4 bytes per float) would pass this many bytes over all
  // queries, the search fails with ResourceExhausted before reading more. 0 = no bound.
  size_t max_result_bytes = 0;
  // With with_payload: keep only these dotted paths of each payload (all of it when empty), then
  // drop the `payload_exclude` paths. Parents of an included path keep only what is included.
  std::vector<std::string> payload_include;
  std::vector<std::string> payload_exclude;
};

// Which points a payload update applies to: the points with these ids, or every point whose
// payload matches a filter (JSON, docs/filters.md; "{}" selects every point).
struct PointSelector {
  static PointSelector Ids(std::vector<PointId> ids) {
    PointSelector s;
    s.ids = std::move(ids);
    return s;
  }
  static PointSelector Where(std::string filter) {
    PointSelector s;
    s.by_filter = true;
    s.filter = std::move(filter);
    return s;
  }
  std::vector<PointId> ids;
  bool by_filter = false;
  std::string filter;  // required (non-empty) when by_filter
};

// Options for Collection::Scan.
struct ScanOptions {
  // Page size, 1..100000.
  uint32_t limit = 100;
  // The previous page's ScanPage::next_cursor; empty for the first page.
  std::string cursor;
  // Only points whose payload matches this filter (same language as SearchOptions::filter).
  std::string filter;
  // Ends the page early, with next_cursor set, once its points (about 24 bytes each plus the id,
  // the payload text and, with with_vector, 4 bytes per float) would pass this many bytes. A page
  // holds at least one point. 0 = no bound.
  size_t max_page_bytes = 0;
  // Fill Point::vector. Without it the vectors are left empty.
  bool with_vector = true;
};

}  // namespace sextant

#endif  // SEXTANT_OPTIONS_H_
