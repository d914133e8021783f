// A collection: points of one dimension and metric, with their payloads, searchable by vector.
#ifndef SEXTANT_COLLECTION_H_
#define SEXTANT_COLLECTION_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

// Obtained from Database::CreateCollection or Database::GetCollection. Safe for concurrent use
// from many threads without external locking: searches run concurrently with each other; a write
// is applied atomically, and a search sees either all of a batch or none of it.
//
// Every call on a collection that has since been dropped returns NotFound.
class Collection {
 public:
  virtual ~Collection() = default;

  virtual const std::string& name() const = 0;
  virtual uint32_t dimension() const = 0;
  virtual Metric metric() const = 0;

  // Inserts or replaces ids.size() points in one atomic batch. `vectors` holds
  // ids.size() * dimension() floats, row-major. `payloads` is empty (no payloads) or holds one
  // JSON object text per id; an empty string means no payload. Upserting an existing id replaces
  // its vector and payload. When an id appears twice in one batch, the last occurrence wins.
  //
  // Either every point is written or none is. InvalidArgument, naming the point (index and id)
  // and the field, for: an empty batch, a size mismatch, a NaN or infinite component, a norm
  // above CollectionOptions::kMaxVectorNorm, a zero vector in a cosine collection, an empty or oversize id, a payload that is not a JSON object
  // or exceeds DatabaseOptions::max_payload_bytes. Once this returns OK the points are durable
  // (see WriteOptions::sync) and visible to every later search.
  virtual Status Upsert(const WriteOptions& options, std::span<const PointId> ids,
                        std::span<const float> vectors,
                        std::span<const std::string> payloads = {}) = 0;

  // Deletes the points with these ids in one atomic batch; ids that are absent are skipped (not
  // an error). Returns how many points were deleted.
  virtual StatusOr<uint64_t> Delete(const WriteOptions& options, std::span<const PointId> ids) = 0;

  // Deletes every point whose payload matches `filter` (JSON, docs/filters.md) in one atomic
  // batch, and returns how many were deleted. The filter is required: an empty string is
  // InvalidArgument (use "{}" to delete every point), and so is a malformed one.
  virtual StatusOr<uint64_t> DeleteWhere(const WriteOptions& options, std::string_view filter) = 0;

  // Deletes every point matching `delete_filter` and upserts the given points, in one atomic
  // batch: a search sees all of the old points or all of the new ones. Upserted ids that match
  // the filter are replaced, not deleted. Validation is Upsert's; the filter must be non-empty.
  // Returns how many points matched the filter before the write (removed or replaced).
  virtual StatusOr<uint64_t> Replace(const WriteOptions& options, std::string_view delete_filter,
                                     std::span<const PointId> ids, std::span<const float> vectors,
                                     std::span<const std::string> payloads = {}) = 0;

  // The point with this id, or NotFound.
  virtual StatusOr<Point> Get(const PointId& id) const = 0;

  // The points with these ids, read under one lock (a consistent view): result i is ids[i]'s
  // point, or nullopt when there is none (a missing id is reported this way, not as an error).
  // InvalidArgument for an empty or oversize id.
  virtual StatusOr<std::vector<std::optional<Point>>> GetMany(std::span<const PointId> ids) const = 0;

  // Number of live points.
  virtual StatusOr<uint64_t> Count() const = 0;

  // Number of live points whose payload matches `filter` (JSON, docs/filters.md; empty or {}
  // counts every point). Answered from payload indexes alone when they cover the filter.
  virtual StatusOr<uint64_t> CountWhere(std::string_view filter) const = 0;

  // ---- updates that keep vectors (payload updates) or payloads (UpdateVectors)
  //
  // Each call is one atomic batch: every selected point is updated or none is. A selector names
  // points by ids (every id must exist: NotFound naming the first missing one, and nothing is
  // written) or by a filter (every point matching it; none is fine). Payload indexes follow the
  // new payloads; the vector index is not touched. The new payloads are validated as Upsert's
  // are (InvalidArgument naming the point). Each returns how many points were updated.

  // Sets the top-level keys of `payload` (a JSON object) in each selected point's payload,
  // keeping its other keys.
  virtual StatusOr<uint64_t> SetPayload(const WriteOptions& options, const PointSelector& points,
                                        std::string_view payload) = 0;
  // Replaces each selected point's payload with `payload` ("" or "{}" clears it).
  virtual StatusOr<uint64_t> OverwritePayload(const WriteOptions& options, const PointSelector& points,
                                              std::string_view payload) = 0;
  // Removes these keys (dotted paths, "meta.author") from each selected point's payload; keys a
  // payload does not hold are skipped. InvalidArgument for an empty list or a malformed path.
  virtual StatusOr<uint64_t> DeletePayloadKeys(const WriteOptions& options, const PointSelector& points,
                                               std::span<const std::string> keys) = 0;

  // Replaces the vectors of existing points (ids.size() * dimension() floats, row-major),
  // keeping their payloads; the index is updated. Every id must exist (NotFound naming the first
  // missing one); validation is Upsert's. One atomic batch.
  virtual Status UpdateVectors(const WriteOptions& options, std::span<const PointId> ids,
                               std::span<const float> vectors) = 0;

  // Points in id order (numbers ascending, then strings in byte order), a page at a time. Paging
  // with the returned cursor visits every point that exists throughout the scan exactly once.
  virtual StatusOr<ScanPage> Scan(const ScanOptions& options) const = 0;

  // The options.k points nearest to `query` (dimension() floats), nearest first, restricted to
  // points matching options.filter when given. With a Flat index (or options.exact) the search
  // is exact; with HNSW or IVF it is approximate (see docs/index_params.md), but always returns
  // min(k, matching points) hits with exact scores. Equal scores are ordered in a fixed internal
  // order. When `plan` is given it receives how the search was answered.
  // InvalidArgument for a wrong query size, a non-finite query, k == 0, or a malformed filter.
  // With options.text, `query` may be empty: the search is then BM25 alone; with a query vector
  // it is hybrid (docs/text_search.md).
  virtual StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                            SearchPlan* plan = nullptr) const = 0;

  // Search for queries.size() / dimension() queries at once (row-major); result i belongs to
  // query i. Faster than separate calls for many exact queries (batched scoring). With
  // options.text every query is a hybrid search with that text (queries empty: one BM25 result).
  virtual StatusOr<std::vector<std::vector<Hit>>> SearchBatch(
      const SearchOptions& options, std::span<const float> queries,
      std::vector<SearchPlan>* plans = nullptr) const = 0;

  // Name, dimension, metric, live count and index state.
  virtual StatusOr<CollectionInfo> Describe() const = 0;

  // Replaces the collection's index. The new index is built in the background from the stored
  // vectors while searches keep using the old one; writes go to both. Returns once the build has
  // started (Describe() reports kBuilding until it is swapped in). InvalidArgument for bad
  // options. The choice is durable.
  virtual Status SetIndex(const IndexOptions& options) = 0;

  // Rebuilds the current index from the stored vectors in the background, retraining IVF
  // clusters and quantizers on the current data (worth doing after the data has drifted).
  virtual Status RebuildIndex() = 0;

  // Blocks until the index is kReady or `timeout_ms` passes (Unavailable then). An index waiting
  // for enough points to train (kTraining) counts as ready: searches are exact until then.
  virtual Status WaitForIndex(uint64_t timeout_ms) const = 0;

  // Writes the index to disk now (normally done in the background and on close), so that the
  // next open loads it instead of rebuilding it.
  virtual Status Checkpoint() = 0;
};

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_H_
