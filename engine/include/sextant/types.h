// Value types of the public API: metrics, point ids, points and search hits.
#ifndef SEXTANT_TYPES_H_
#define SEXTANT_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "sextant/status.h"

namespace sextant {

// How two vectors are compared. Every search returns the nearest first; the score's meaning
// depends on the metric:
//   kL2           score = squared Euclidean distance  sum((q_i - x_i)^2); lower is nearer.
//   kInnerProduct score = dot product  sum(q_i * x_i); higher is nearer.
//   kCosine       score = cosine similarity in [-1, 1]; higher is nearer. Stored vectors and
//                 queries are normalised to unit length (so a zero vector is rejected), and the
//                 score is their dot product.
enum class Metric { kL2, kInnerProduct, kCosine };

// "l2", "ip", "cosine".
std::string_view MetricName(Metric metric);
// Accepts "l2", "ip", "cosine" (also "euclidean", "dot", "inner_product", "cos"); InvalidArgument
// otherwise.
StatusOr<Metric> ParseMetric(std::string_view name);

// The external id of a point: an unsigned 64-bit number or a string (1..kMaxIdBytes bytes). The
// number 7 and the string "7" are different ids.
class PointId {
 public:
  static constexpr size_t kMaxIdBytes = 512;

  PointId() : value_(uint64_t{0}) {}
  // Any integer type (so that PointId(0) is the number 0, not a null string). Pass values >= 0.
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  PointId(T number) : value_(static_cast<uint64_t>(number)) {}  // NOLINT(runtime/explicit)
  PointId(std::string str) : value_(std::move(str)) {}          // NOLINT(runtime/explicit)
  PointId(const char* str) : value_(std::string(str)) {}        // NOLINT(runtime/explicit)

  bool is_number() const { return std::holds_alternative<uint64_t>(value_); }
  bool is_string() const { return !is_number(); }
  // Precondition: is_number() / is_string().
  uint64_t number() const { return std::get<uint64_t>(value_); }
  const std::string& str() const { return std::get<std::string>(value_); }
  // Decimal for a number, the string itself otherwise (for messages and the CLI).
  std::string ToString() const;

  bool operator==(const PointId& o) const { return value_ == o.value_; }
  bool operator!=(const PointId& o) const { return !(*this == o); }

 private:
  std::variant<uint64_t, std::string> value_;
};

// A stored point as Get and Scan return it.
struct Point {
  PointId id;
  // dimension floats; for a cosine collection, the normalised vector that was stored.
  std::vector<float> vector;
  // The payload as compact JSON text of an object; "{}" when the point has none.
  std::string payload;
};

// One search result.
struct Hit {
  PointId id;
  // Dense search: the vector score (see Metric). Text search: the BM25 score. Hybrid search: the
  // fused score (SearchOptions::fusion); higher is better for BM25 and fused scores.
  float score = 0;
  // The parts of the score, when the search had them: the vector score of the point against the
  // query vector, and its BM25 score for the query text (0 when it holds no query term). A
  // hybrid hit carries both, whichever list it came from.
  std::optional<float> dense_score;
  std::optional<float> text_score;
  std::string payload;        // compact JSON object, filled only with SearchOptions::with_payload
  std::vector<float> vector;  // filled only with SearchOptions::with_vector
  // With SearchOptions::group_by: the group's value, as JSON text ("\"doc-1\"", "42", "true").
  std::string group;
};

// How a search was answered.
struct SearchPlan {
  enum class Kind {
    kExact,  // every matching point was scored
    kIndex,  // the index was walked (with the filter applied during the walk)
  };
  Kind kind = Kind::kExact;
  // The index spec that answered ("Flat" for exact scoring).
  std::string index;
  // Points that may be returned: live points matching the filter (all live points without one).
  uint64_t matches = 0;
  // Whether the filter was answered from payload indexes alone (no payload was read).
  bool filter_from_index = false;
  // Vectors whose distance to the query was computed.
  uint64_t distance_computations = 0;
  // For kIndex: the candidate list size used last (after widening), or lists probed for IVF.
  uint32_t effort = 0;
};

// State of a collection's index.
enum class IndexState {
  kReady,     // the configured index answers searches
  kTraining,  // IVF / quantizers wait for enough points to train; searches are exact meanwhile
  kBuilding,  // a new index is being built in the background; the previous one answers
};
std::string_view IndexStateName(IndexState state);  // "ready", "training", "building"

// What a collection is and holds, as Describe/List report it.
// A database's memory budget and its use (Database::Memory).
struct MemoryUsage {
  uint64_t used_bytes = 0;   // estimated memory held by collections, plus the block cache
  uint64_t limit_bytes = 0;  // DatabaseOptions::memory_limit_bytes, or the default it resolved to
};

// Declares a full-text (BM25) index over a string payload field (docs/text_search.md). The field
// holds a string or an array of strings (analyzed one after the other); any other value is
// rejected at write time. Its text is split into words, lower-cased, stripped of stop words and
// stemmed, per `language`.
struct TextFieldOptions {
  std::string field;  // dotted path, as in filters
  // A Snowball stemmer language ("english", "french", "german", "spanish", "russian", ... the
  // error for an unknown one lists them all), or "none" for no stemming and no stop words.
  std::string language = "english";
  bool stemming = true;    // stem words with the language's Snowball stemmer
  bool stop_words = true;  // drop the language's stop words (only English has a list today)
};

struct CollectionInfo {
  std::string name;
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  uint64_t count = 0;  // live points
  std::string index;   // the configured index spec, e.g. "HNSW16"
  IndexState index_state = IndexState::kReady;
  uint64_t index_bytes = 0;   // memory the index holds beyond the float32 vectors
  uint64_t vector_bytes = 0;  // memory of the float32 vectors
  // Where the index in use came from: "checkpoint" (loaded from disk when the database opened),
  // "built" (built in this process), or "none" (Flat, or waiting to train).
  std::string index_origin = "none";
  std::string properties;  // CollectionOptions::properties, compact JSON ("" when none)
  std::vector<TextFieldOptions> text_fields;  // CollectionOptions::text_fields (full-text indexes)
  // Empty for a healthy collection. For one whose stored records did not load when the database
  // opened: why (every call on it returns DataLoss until Database::RepairCollection salvages it
  // or DropCollection deletes it); the other fields then come from its catalogue entry.
  std::string damage;
};

// What Database::RepairCollection did.
struct RepairReport {
  uint64_t points_kept = 0;      // points whose id and vector were intact
  uint64_t points_removed = 0;   // points lost: their vector was missing or damaged
  uint64_t records_removed = 0;  // other malformed or orphaned records, and payloads that fail their index types
};

// An alias and the collection it names (Database::ListAliases).
struct AliasInfo {
  std::string alias;
  std::string collection;
};

// One change of Database::UpdateAliases: create `alias` -> `collection`, or delete `alias`.
struct AliasChange {
  enum class Kind { kCreate, kDelete };
  Kind kind = Kind::kCreate;
  std::string alias;
  std::string collection;  // kCreate only

  static AliasChange Create(std::string alias, std::string collection) {
    return AliasChange{Kind::kCreate, std::move(alias), std::move(collection)};
  }
  static AliasChange Delete(std::string alias) { return AliasChange{Kind::kDelete, std::move(alias), {}}; }
};

// A page of Collection::Scan.
struct ScanPage {
  std::vector<Point> points;
  // Pass back as ScanOptions::cursor for the next page; empty when this was the last page.
  std::string next_cursor;
};

}  // namespace sextant

#endif  // SEXTANT_TYPES_H_
