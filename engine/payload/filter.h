// The payload filter language: a JSON document, as Chroma, Pinecone and MongoDB users know it.
//
//   {"genre": "drama"}                         equality (shorthand for {"genre": {"$eq": "drama"}})
//   {"year": {"$gte": 2000, "$lt": 2010}}      several operators on one field: all must hold
//   {"genre": "drama", "year": 2001}           several fields: all must hold
//   {"$and": [f, ...]}  {"$or": [f, ...]}  {"$not": f}
//   {"author.name": "Austen"}                  dotted path into nested objects
//   operators: $eq $ne $gt $gte $lt $lte $in $nin $exists, and $text on a field with a full-text
//   index: {"body": {"$text": "words"}} or {"$text": {"query": "words", "match": "all"}}
//
// docs/filters.md holds the exact semantics (type rules, arrays, missing fields).
#ifndef SEXTANT_PAYLOAD_FILTER_H_
#define SEXTANT_PAYLOAD_FILTER_H_

#include <memory>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sextant/status.h"

namespace sextant::payload {

class FilterNode;  // the parsed tree (filter_internal.h, for engine/payload only)
namespace internal {
class FilterAccess;  // lets engine/payload walk the tree (payload indexes)
}  // namespace internal

// An immutable, parsed filter. Cheap to copy; safe to use from many threads.
class Filter {
 public:
  // Parses filter JSON text. InvalidArgument with a message that says where it is wrong, as a
  // path from the root, e.g. "filter.$and[1].year: $gte expects a number or a string, got an
  // array". An empty object {} is valid and matches everything.
  static StatusOr<Filter> Parse(std::string_view json_text);
  // Same, from an already parsed JSON value.
  static StatusOr<Filter> FromJson(const nlohmann::json& value);

  // Whether `payload` (a JSON object; anything else matches only filters that need no field)
  // satisfies the filter.
  bool Matches(const nlohmann::json& payload) const;

  // True for the empty filter {}, which matches every point.
  bool MatchesAll() const;

 private:
  friend class internal::FilterAccess;
  explicit Filter(std::shared_ptr<const FilterNode> root) : root_(std::move(root)) {}
  std::shared_ptr<const FilterNode> root_;
};

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_FILTER_H_
