// The parsed form of a filter, for code under engine/payload that needs to look inside one (the
// payload indexes answer filters from their own structures, payload_index.cc). Not part of the
// engine's public API: only engine/payload and its tests include this.
//
// filter.cc owns the semantics: how a field is looked up, how numbers compare, what each operator
// means on a missing field. Code that answers a filter some other way must agree with
// FilterNode::Matches on every payload; the helpers below are exported so it can reuse the same
// rules (CompareNumbers, LookupPath, ConditionHolds) instead of restating them.
#ifndef SEXTANT_PAYLOAD_FILTER_INTERNAL_H_
#define SEXTANT_PAYLOAD_FILTER_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "payload/filter.h"

namespace sextant::payload {

namespace internal {

// A JSON number in its exact form: nlohmann keeps integers as int64 or uint64 and the rest as
// double, and so do we, so comparisons never round a large integer through a double. Only the
// member named by `kind` is meaningful.
struct Number {
  enum class Kind : uint8_t { kInt, kUint, kDouble };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;

  static Number Int(int64_t v) { Number n; n.kind = Kind::kInt; n.i = v; return n; }
  static Number Uint(uint64_t v) { Number n; n.kind = Kind::kUint; n.u = v; return n; }
  static Number Double(double v) { Number n; n.kind = Kind::kDouble; n.d = v; return n; }
};

// Three-way numeric comparison (<0, 0, >0), exact across int64, uint64 and finite doubles:
// 2 == 2.0, and 2^53 + 1 != 2^53. A total order on finite numbers.
int CompareNumbers(const Number& a, const Number& b);

// Strict weak ordering by CompareNumbers, for sorted containers of numbers. Numbers of different
// kinds with the same value (2 and 2.0) are equivalent keys.
struct NumberLess {
  bool operator()(const Number& a, const Number& b) const { return CompareNumbers(a, b) < 0; }
};

// Reads a JSON number without throwing; false for any other type.
bool ToNumber(const nlohmann::json& v, Number* out);

// Whether `key` (a key of a filter object) names an operator ($and, $gt, ...) rather than a field.
inline bool IsOperatorKey(std::string_view key) { return !key.empty() && key.front() == '$'; }

// Splits a dotted field path ("author.name") into its segments. False if a segment is empty
// ("", "a..b", ".a", "a."); *out is then unspecified.
bool SplitPath(std::string_view key, std::vector<std::string>* out);

// The value at `path` in `payload`, or nullptr if any step is not an object with that key
// ("missing"). Paths walk objects only, never into arrays.
const nlohmann::json* LookupPath(const nlohmann::json& payload,
                                 const std::vector<std::string>& path);

// The scalars of an $in list (and of $eq with a scalar, which is $in with one element), sorted
// per type so a lookup is a binary search.
class ScalarSet {
 public:
  // `value` must be a scalar (checked by the parser).
  void Add(const nlohmann::json& value);
  // Sorts; call once after the last Add.
  void Seal();
  // Whether the scalar `v` is in the set; false for arrays and objects.
  bool Contains(const nlohmann::json& v) const;

  // The members, by type (for code that looks each one up elsewhere).
  const std::vector<Number>& numbers() const { return numbers_; }  // sorted, may repeat values
  const std::vector<std::string>& strings() const { return strings_; }  // sorted
  bool has_null() const { return has_null_; }
  bool has_true() const { return has_true_; }
  bool has_false() const { return has_false_; }
  bool empty() const {
    return numbers_.empty() && strings_.empty() && !has_null_ && !has_true_ && !has_false_;
  }

 private:
  std::vector<Number> numbers_;
  std::vector<std::string> strings_;
  bool has_null_ = false;
  bool has_true_ = false;
  bool has_false_ = false;
};

enum class Op : uint8_t {
  kIn,       // $in, and $eq with a scalar: the value, or an element of it, is in `set`
  kNin,      // $nin, and $ne with a scalar: not kIn
  kEqValue,  // $eq with an array or an object: the value, or an element, DeepEquals `literal`
  kNeValue,  // not kEqValue
  kGt,       // the value, or an element, compares to the bound (same type only)
  kGte,
  kLt,
  kLte,
  kExists,     // the field is present (null and [] count)
  kNotExists,  // the field is missing
  kText,       // $text: the field's analyzed text holds the query's terms (see TextPredicate)
};

// How a $text condition matches: any query term, every query term, or the terms in sequence.
enum class TextMode : uint8_t { kAny, kAll, kPhrase };

// Decides a $text condition on a field's value. The parser cannot: matching needs the field's
// analyzer, which the collection's full-text index owns. A collection binds each $text condition
// to a predicate (BindText) before it evaluates the filter; an unbound one matches nothing.
class TextPredicate {
 public:
  virtual ~TextPredicate() = default;
  // Whether the condition holds on a field whose value is `*value` (nullptr: missing).
  virtual bool Holds(const nlohmann::json* value) const = 0;
};

// One operator applied to one field.
struct Condition {
  Op op = Op::kExists;
  ScalarSet set;                 // kIn, kNin
  nlohmann::json literal;        // kEqValue, kNeValue: an array or an object
  bool bound_is_string = false;  // kGt .. kLte: the bound is a string or a number
  std::string bound_string;
  Number bound_number;           // finite
  std::string text;              // kText: the query (not blank)
  TextMode text_mode = TextMode::kAny;
  std::shared_ptr<const TextPredicate> text_predicate;  // kText: set by BindText
};

// Whether the condition holds on a field whose value is `*value`, or which is missing when
// `value` is nullptr. This is the definition every other evaluation must agree with.
bool ConditionHolds(const Condition& c, const nlohmann::json* value);

// The condition's result when it is the same for every value and for a missing field ($in []
// is always false, $nin [] always true); nullopt when it depends on the value.
std::optional<bool> ConstantResult(const Condition& c);

class FilterAccess;

// Whether the filter holds a $text condition anywhere.
bool HasText(const Filter& filter);

// The filter with every $text condition bound to `bind(field path, query, mode)`'s predicate; the
// first error `bind` returns (a field without a text index, say) is returned instead.
using TextBinder = std::function<StatusOr<std::shared_ptr<const TextPredicate>>(
    const std::string& field, const std::string& text, TextMode mode)>;
StatusOr<Filter> BindText(const Filter& filter, const TextBinder& bind);

// The bound predicates of the $text conditions that every match must satisfy (those reached from
// the root through $and only), so a caller may narrow the candidates with them first.
std::vector<const TextPredicate*> RequiredText(const Filter& filter);

}  // namespace internal

// A node of the parsed filter. kAnd with no children is the empty filter {} (matches all).
class FilterNode {
 public:
  enum class Kind : uint8_t { kAnd, kOr, kNot, kField };

  bool Matches(const nlohmann::json& payload) const;

  // The value at `path` in `payload`, or nullptr if the field is missing.
  const nlohmann::json* Lookup(const nlohmann::json& payload) const {
    return internal::LookupPath(payload, path);
  }

  Kind kind = Kind::kAnd;
  std::vector<FilterNode> children;            // kAnd, kOr; exactly one for kNot
  std::vector<std::string> path;               // kField: the dotted path, split
  std::vector<internal::Condition> conditions; // kField: all must hold (each on its own)
};

namespace internal {

// Reaches the tree of a parsed Filter.
class FilterAccess {
 public:
  static const FilterNode& Root(const Filter& filter) { return *filter.root_; }
  static Filter Make(std::shared_ptr<const FilterNode> root) { return Filter(std::move(root)); }
};

}  // namespace internal

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_FILTER_INTERNAL_H_
