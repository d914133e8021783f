// The filter language: parsing JSON into a tree of FilterNode, and evaluating it on payloads.
// The tree's types are declared in filter_internal.h, so the payload indexes can read a parsed
// filter; every rule of evaluation is defined here.
//
// Parsing does all the work that does not depend on the payload: dotted paths are split into
// segments, operands are converted to their compared form (exact numbers, sorted $in sets), and
// several operators on one field share one path lookup. Evaluation then only walks the payload.
//
// Semantics (docs/filters.md is the user-facing statement; keep the two in step):
//  - A field lookup walks objects only. A missing field, or an intermediate value that is not an
//    object, means "missing"; every comparison on a missing field is false, and $ne / $nin /
//    {"$exists": false} are exactly their negations, so they match it.
//  - Numbers compare exactly across int64, uint64 and double (2 == 2.0, and 2^53 + 1 != 2^53).
//    Strings compare by bytes. Values of different types are never equal and never ordered.
//  - An array-valued field matches a comparison if any element does (one level), and $eq also
//    compares the whole value, so {"tags": ["a", "b"]} matches {"tags": "a"} and
//    {"tags": ["a", "b"]} alike. Each operator on a field is tested on its own, so
//    {"x": {"$gt": 1, "$lt": 3}} matches x = [0, 5] (0 < 3 and 5 > 1), as in MongoDB.
//
// Thread safety: a parsed tree is immutable and shared (shared_ptr<const FilterNode>); Matches()
// only reads it, so any number of threads may evaluate one Filter at once.
//
// Recursion: FromJson() rejects documents deeper than kMaxFilterDepth before walking them, so the
// parser, the evaluator and the literal comparisons recurse at most that deep.
#include "payload/filter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "payload/filter_internal.h"
#include "payload/json_util.h"

namespace sextant::payload {

using json = nlohmann::json;

namespace internal {

namespace {

int Sign(bool less, bool greater) { return less ? -1 : (greater ? 1 : 0); }

// Three-way comparison of an integer with a finite double, exact for every int64.
int CompareIntDouble(int64_t i, double d) {
  if (d >= 9223372036854775808.0) return -1;  // 2^63: above every int64
  if (d < -9223372036854775808.0) return 1;
  double t = std::trunc(d);  // now in [-2^63, 2^63), so the cast is exact
  int64_t ti = static_cast<int64_t>(t);
  if (i != ti) return Sign(i < ti, i > ti);
  return Sign(t < d, t > d);  // equal integer parts: the fraction decides
}

int CompareUintDouble(uint64_t u, double d) {
  if (d < 0) return 1;
  if (d >= 18446744073709551616.0) return -1;  // 2^64
  double t = std::trunc(d);
  uint64_t tu = static_cast<uint64_t>(t);
  if (u != tu) return Sign(u < tu, u > tu);
  return Sign(t < d, t > d);
}

}  // namespace

int CompareNumbers(const Number& a, const Number& b) {
  using K = Number::Kind;
  switch (a.kind) {
    case K::kInt:
      switch (b.kind) {
        case K::kInt: return Sign(a.i < b.i, a.i > b.i);
        case K::kUint:
          if (a.i < 0) return -1;
          return Sign(static_cast<uint64_t>(a.i) < b.u, static_cast<uint64_t>(a.i) > b.u);
        case K::kDouble: return CompareIntDouble(a.i, b.d);
      }
      break;
    case K::kUint:
      switch (b.kind) {
        case K::kInt: return -CompareNumbers(b, a);
        case K::kUint: return Sign(a.u < b.u, a.u > b.u);
        case K::kDouble: return CompareUintDouble(a.u, b.d);
      }
      break;
    case K::kDouble:
      switch (b.kind) {
        case K::kInt:
        case K::kUint: return -CompareNumbers(b, a);
        case K::kDouble: return Sign(a.d < b.d, a.d > b.d);
      }
      break;
  }
  return 0;
}

bool ToNumber(const json& v, Number* out) {
  switch (v.type()) {
    case json::value_t::number_integer:
      *out = Number::Int(*v.get_ptr<const json::number_integer_t*>());
      return true;
    case json::value_t::number_unsigned:
      *out = Number::Uint(*v.get_ptr<const json::number_unsigned_t*>());
      return true;
    case json::value_t::number_float:
      *out = Number::Double(*v.get_ptr<const json::number_float_t*>());
      return true;
    default:
      return false;
  }
}

bool SplitPath(std::string_view key, std::vector<std::string>* out) {
  out->clear();
  size_t start = 0;
  while (true) {
    size_t dot = key.find('.', start);
    std::string_view segment =
        key.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (segment.empty()) return false;
    out->emplace_back(segment);
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

const json* LookupPath(const json& payload, const std::vector<std::string>& path) {
  const json* current = &payload;
  for (const auto& segment : path) {
    const auto* object = current->get_ptr<const json::object_t*>();
    if (object == nullptr) return nullptr;
    auto it = object->find(segment);
    if (it == object->end()) return nullptr;
    current = &it->second;
  }
  return current;
}

namespace {

// Whole-value equality with the numeric rule above (nlohmann's operator== would round integers
// through double). Recursion is bounded by the shallower of the two values, and the filter side
// is at most kMaxFilterDepth deep.
bool DeepEqual(const json& a, const json& b) {
  Number na, nb;
  if (ToNumber(a, &na)) return ToNumber(b, &nb) && CompareNumbers(na, nb) == 0;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::null: return true;
    case json::value_t::boolean:
      return *a.get_ptr<const json::boolean_t*>() == *b.get_ptr<const json::boolean_t*>();
    case json::value_t::string:
      return *a.get_ptr<const json::string_t*>() == *b.get_ptr<const json::string_t*>();
    case json::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t k = 0; k < a.size(); ++k) {
        if (!DeepEqual(a[k], b[k])) return false;
      }
      return true;
    }
    case json::value_t::object: {
      const auto& oa = *a.get_ptr<const json::object_t*>();
      const auto& ob = *b.get_ptr<const json::object_t*>();
      if (oa.size() != ob.size()) return false;
      for (const auto& [key, value] : oa) {
        auto it = ob.find(key);
        if (it == ob.end() || !DeepEqual(value, it->second)) return false;
      }
      return true;
    }
    default:
      return a == b;  // binary; never produced by the parser
  }
}

// Calls `pred` on `v`, and on each element if `v` is an array; true if any call is.
template <typename Pred>
bool AnyValueOrElement(const json& v, const Pred& pred) {
  if (pred(v)) return true;
  if (v.is_array()) {
    for (const auto& element : v) {
      if (pred(element)) return true;
    }
  }
  return false;
}

// Where `v` sits relative to the condition's bound: <0, 0, >0, or false if not comparable.
bool CompareToBound(const json& v, const Condition& c, int* result) {
  if (c.bound_is_string) {
    if (!v.is_string()) return false;
    *result = v.get_ptr<const json::string_t*>()->compare(c.bound_string);  // bytewise
    return true;
  }
  Number n;
  if (!ToNumber(v, &n)) return false;
  *result = CompareNumbers(n, c.bound_number);
  return true;
}

}  // namespace

void ScalarSet::Add(const json& value) {
  Number n;
  if (ToNumber(value, &n)) {
    numbers_.push_back(n);
  } else if (value.is_string()) {
    strings_.push_back(*value.get_ptr<const json::string_t*>());
  } else if (value.is_boolean()) {
    (*value.get_ptr<const json::boolean_t*>() ? has_true_ : has_false_) = true;
  } else if (value.is_null()) {
    has_null_ = true;
  }
}

void ScalarSet::Seal() {
  std::sort(numbers_.begin(), numbers_.end(), NumberLess());
  std::sort(strings_.begin(), strings_.end());
}

bool ScalarSet::Contains(const json& v) const {
  switch (v.type()) {
    case json::value_t::null: return has_null_;
    case json::value_t::boolean: return *v.get_ptr<const json::boolean_t*>() ? has_true_
                                                                            : has_false_;
    case json::value_t::string:
      return std::binary_search(strings_.begin(), strings_.end(),
                                *v.get_ptr<const json::string_t*>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      Number n;
      ToNumber(v, &n);
      return std::binary_search(numbers_.begin(), numbers_.end(), n, NumberLess());
    }
    default:
      return false;
  }
}

bool ConditionHolds(const Condition& c, const json* value) {
  switch (c.op) {
    case Op::kExists: return value != nullptr;
    case Op::kNotExists: return value == nullptr;
    case Op::kText: return c.text_predicate != nullptr && c.text_predicate->Holds(value);
    case Op::kIn:
    case Op::kNin: {
      bool in = value != nullptr &&
                AnyValueOrElement(*value, [&c](const json& v) { return c.set.Contains(v); });
      return (c.op == Op::kIn) == in;
    }
    case Op::kEqValue:
    case Op::kNeValue: {
      bool eq = value != nullptr && AnyValueOrElement(*value, [&c](const json& v) {
                  return DeepEqual(v, c.literal);
                });
      return (c.op == Op::kEqValue) == eq;
    }
    case Op::kGt:
    case Op::kGte:
    case Op::kLt:
    case Op::kLte: {
      if (value == nullptr) return false;
      return AnyValueOrElement(*value, [&c](const json& v) {
        int cmp;
        if (!CompareToBound(v, c, &cmp)) return false;
        switch (c.op) {
          case Op::kGt: return cmp > 0;
          case Op::kGte: return cmp >= 0;
          case Op::kLt: return cmp < 0;
          default: return cmp <= 0;
        }
      });
    }
  }
  return false;
}

namespace {

bool NodeHasText(const FilterNode& node) {
  for (const auto& c : node.conditions) {
    if (c.op == Op::kText) return true;
  }
  for (const auto& child : node.children) {
    if (NodeHasText(child)) return true;
  }
  return false;
}

Status BindNode(FilterNode* node, const TextBinder& bind) {
  for (auto& c : node->conditions) {
    if (c.op != Op::kText) continue;
    std::string field;
    for (const std::string& part : node->path) field += (field.empty() ? "" : ".") + part;
    SEXTANT_ASSIGN_OR_RETURN(c.text_predicate, bind(field, c.text, c.text_mode));
  }
  for (auto& child : node->children) SEXTANT_RETURN_IF_ERROR(BindNode(&child, bind));
  return Status::OK();
}

void CollectRequired(const FilterNode& node, std::vector<const TextPredicate*>* out) {
  if (node.kind == FilterNode::Kind::kAnd) {
    for (const auto& child : node.children) CollectRequired(child, out);
  } else if (node.kind == FilterNode::Kind::kField) {
    for (const auto& c : node.conditions) {
      if (c.op == Op::kText && c.text_predicate) out->push_back(c.text_predicate.get());
    }
  }
}

}  // namespace

bool HasText(const Filter& filter) { return NodeHasText(FilterAccess::Root(filter)); }

StatusOr<Filter> BindText(const Filter& filter, const TextBinder& bind) {
  if (!HasText(filter)) return filter;
  auto root = std::make_shared<FilterNode>(FilterAccess::Root(filter));
  SEXTANT_RETURN_IF_ERROR(BindNode(root.get(), bind));
  return FilterAccess::Make(std::move(root));
}

std::vector<const TextPredicate*> RequiredText(const Filter& filter) {
  std::vector<const TextPredicate*> out;
  CollectRequired(FilterAccess::Root(filter), &out);
  return out;
}

std::optional<bool> ConstantResult(const Condition& c) {
  // An empty set contains nothing, so no value and no element is ever in it.
  if (c.op == Op::kIn && c.set.empty()) return false;
  if (c.op == Op::kNin && c.set.empty()) return true;
  return std::nullopt;
}

}  // namespace internal

using internal::Condition;
using internal::Number;
using internal::Op;
using internal::TextMode;
using internal::ToNumber;

bool FilterNode::Matches(const json& payload) const {
  switch (kind) {
    case Kind::kAnd:
      for (const auto& child : children) {
        if (!child.Matches(payload)) return false;
      }
      return true;
    case Kind::kOr:
      for (const auto& child : children) {
        if (child.Matches(payload)) return true;
      }
      return false;
    case Kind::kNot:
      return !children.front().Matches(payload);
    case Kind::kField: {
      const json* value = Lookup(payload);
      for (const auto& condition : conditions) {
        if (!internal::ConditionHolds(condition, value)) return false;
      }
      return true;
    }
  }
  return false;
}

namespace {

bool IsComparisonOperator(std::string_view key) {
  return key == "$eq" || key == "$ne" || key == "$gt" || key == "$gte" || key == "$lt" ||
         key == "$lte" || key == "$in" || key == "$nin" || key == "$exists" || key == "$text";
}

bool IsLogicalOperator(std::string_view key) {
  return key == "$and" || key == "$or" || key == "$not";
}

std::string TypeOf(const json& v) { return std::string(internal::JsonTypeName(v)); }

Status Error(const std::string& path, const std::string& message) {
  return Status::InvalidArgument(path + ": " + message);
}

// Finds the first place where `v` (at `path`) nests deeper than `budget` more levels; appends the
// path of the container that goes too deep. Recursion is bounded by `budget`.
bool FindTooDeep(const json& v, int budget, std::string* path) {
  if (!v.is_structured()) return false;
  if (budget <= 0) return true;
  if (v.is_object()) {
    for (const auto& [key, child] : v.get_ref<const json::object_t&>()) {
      size_t mark = path->size();
      *path += '.';
      *path += key;
      if (FindTooDeep(child, budget - 1, path)) return true;
      path->resize(mark);
    }
  } else {
    size_t index = 0;
    for (const auto& child : v) {
      size_t mark = path->size();
      *path += "[" + std::to_string(index++) + "]";
      if (FindTooDeep(child, budget - 1, path)) return true;
      path->resize(mark);
    }
  }
  return false;
}

class Parser {
 public:
  // `v` is a filter object found at `path` ("filter", "filter.$and[1]", ...).
  Status ParseFilter(const json& v, const std::string& path, FilterNode* out) {
    if (!v.is_object()) return Error(path, "expected a filter object, got " + TypeOf(v));
    std::vector<FilterNode> parts;
    for (const auto& [key, value] : v.get_ref<const json::object_t&>()) {
      FilterNode part;
      if (key.empty()) return Error(path, "a field name is empty");
      if (internal::IsOperatorKey(key)) {
        SEXTANT_RETURN_IF_ERROR(ParseLogical(key, value, path, &part));
      } else {
        SEXTANT_RETURN_IF_ERROR(ParseField(key, value, path, &part));
      }
      parts.push_back(std::move(part));
    }
    if (parts.size() == 1) {
      *out = std::move(parts.front());
    } else {
      out->kind = FilterNode::Kind::kAnd;  // {} gives an empty kAnd: matches everything
      out->children = std::move(parts);
    }
    return Status::OK();
  }

 private:
  Status ParseLogical(const std::string& key, const json& value, const std::string& parent,
                      FilterNode* out) {
    if (IsComparisonOperator(key)) {
      return Error(parent, key + " must be applied to a field, as in {\"field\": {\"" + key +
                               "\": ...}}");
    }
    if (!IsLogicalOperator(key)) return Error(parent, "unknown operator '" + key + "'");
    std::string path = parent + "." + key;
    if (key == "$not") {
      out->kind = FilterNode::Kind::kNot;
      out->children.resize(1);
      return ParseFilter(value, path, &out->children.front());
    }
    out->kind = key == "$and" ? FilterNode::Kind::kAnd : FilterNode::Kind::kOr;
    if (!value.is_array()) {
      return Error(path, "expects a non-empty array of filter objects, got " + TypeOf(value));
    }
    if (value.empty()) {
      return Error(path, "expects a non-empty array of filter objects, got an empty array");
    }
    out->children.resize(value.size());
    for (size_t k = 0; k < value.size(); ++k) {
      SEXTANT_RETURN_IF_ERROR(
          ParseFilter(value[k], path + "[" + std::to_string(k) + "]", &out->children[k]));
    }
    return Status::OK();
  }

  Status ParseField(const std::string& key, const json& value, const std::string& parent,
                    FilterNode* out) {
    out->kind = FilterNode::Kind::kField;
    if (!internal::SplitPath(key, &out->path)) {
      return Error(parent, "field path '" + key + "' has an empty segment");
    }
    std::string path = parent + "." + key;

    if (!value.is_object()) {  // shorthand for {"$eq": value}
      Condition c;
      SEXTANT_RETURN_IF_ERROR(ParseOperator("$eq", value, path, &c));
      out->conditions.push_back(std::move(c));
      return Status::OK();
    }
    const auto& object = value.get_ref<const json::object_t&>();
    if (object.empty()) {
      return Error(path,
                   "empty operator object; to match an empty object write {\"$eq\": {}}");
    }
    const std::string* an_operator = nullptr;
    const std::string* a_name = nullptr;
    for (const auto& [k, v] : object) {
      (internal::IsOperatorKey(k) ? an_operator : a_name) = &k;
    }
    if (an_operator == nullptr) {  // a plain object: whole-value equality, as in MongoDB
      Condition c;
      SEXTANT_RETURN_IF_ERROR(ParseOperator("$eq", value, path, &c));
      out->conditions.push_back(std::move(c));
      return Status::OK();
    }
    if (a_name != nullptr) {
      return Error(path, "mixes operators ('" + *an_operator + "') and field names ('" +
                             *a_name + "') in one object; use a dotted path or $eq for the field");
    }
    for (const auto& [op, operand] : object) {
      Condition c;
      SEXTANT_RETURN_IF_ERROR(ParseOperator(op, operand, path, &c));
      out->conditions.push_back(std::move(c));
    }
    return Status::OK();
  }

  // `path` names the field; `op` is the operator, which error messages name too.
  Status ParseOperator(const std::string& op, const json& operand, const std::string& path,
                       Condition* c) {
    if (op == "$eq" || op == "$ne") {
      bool eq = op == "$eq";
      if (operand.is_structured()) {
        SEXTANT_RETURN_IF_ERROR(CheckFinite(op, operand, path));
        c->op = eq ? Op::kEqValue : Op::kNeValue;
        c->literal = operand;
        return Status::OK();
      }
      SEXTANT_RETURN_IF_ERROR(CheckScalar(op, operand, path, op + " expects a value, got "));
      c->op = eq ? Op::kIn : Op::kNin;
      c->set.Add(operand);
      c->set.Seal();
      return Status::OK();
    }
    if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") {
      c->op = op == "$gt" ? Op::kGt : op == "$gte" ? Op::kGte : op == "$lt" ? Op::kLt : Op::kLte;
      if (operand.is_string()) {
        c->bound_is_string = true;
        c->bound_string = operand.get_ref<const json::string_t&>();
        return Status::OK();
      }
      if (operand.is_number()) {
        SEXTANT_RETURN_IF_ERROR(CheckFinite(op, operand, path));
        ToNumber(operand, &c->bound_number);
        return Status::OK();
      }
      return Error(path, op + " expects a number or a string, got " + TypeOf(operand));
    }
    if (op == "$in" || op == "$nin") {
      c->op = op == "$in" ? Op::kIn : Op::kNin;
      if (!operand.is_array()) {
        return Error(path, op + " expects an array of strings, numbers, bools or nulls, got " +
                               TypeOf(operand));
      }
      for (size_t k = 0; k < operand.size(); ++k) {
        std::string what = op + "[" + std::to_string(k) + "]";
        SEXTANT_RETURN_IF_ERROR(CheckScalar(what, operand[k], path,
                                            what + " must be a string, number, bool or null, got "));
        c->set.Add(operand[k]);
      }
      c->set.Seal();
      return Status::OK();
    }
    if (op == "$exists") {
      if (!operand.is_boolean()) {
        return Error(path, "$exists expects true or false, got " + TypeOf(operand));
      }
      c->op = operand.get<bool>() ? Op::kExists : Op::kNotExists;
      return Status::OK();
    }
    if (op == "$text") {
      // "words" (any word), or {"query": "words", "match": "any" | "all" | "phrase"}.
      c->op = Op::kText;
      const json* query = &operand;
      if (operand.is_object()) {
        for (const auto& [k, v] : operand.get_ref<const json::object_t&>()) {
          if (k != "query" && k != "match") {
            return Error(path, "$text: unknown key '" + k + "' (expected \"query\" and \"match\")");
          }
        }
        auto q = operand.find("query");
        if (q == operand.end()) return Error(path, "$text: the object needs a \"query\"");
        query = &*q;
        auto m = operand.find("match");
        if (m != operand.end()) {
          const std::string mode = m->is_string() ? m->get<std::string>() : "";
          if (mode == "any") {
            c->text_mode = TextMode::kAny;
          } else if (mode == "all") {
            c->text_mode = TextMode::kAll;
          } else if (mode == "phrase") {
            c->text_mode = TextMode::kPhrase;
          } else {
            return Error(path, "$text: match must be \"any\", \"all\" or \"phrase\", got " +
                                   (m->is_string() ? "\"" + mode + "\"" : TypeOf(*m)));
          }
        }
      }
      if (!query->is_string()) {
        return Error(path, "$text expects a query string or {\"query\": ..., \"match\": ...}, got " +
                               TypeOf(*query));
      }
      c->text = query->get<std::string>();
      if (c->text.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Error(path, "$text: the query is empty");
      }
      return Status::OK();
    }
    if (IsLogicalOperator(op)) {
      return Error(path, op + " cannot be applied to a field; put the field inside it, as in {\"" +
                             op + "\": [{\"field\": ...}]}");
    }
    return Error(path, "unknown operator '" + op + "'");
  }

  // Scalars only; `prefix` starts the message for anything else.
  static Status CheckScalar(const std::string& what, const json& v, const std::string& path,
                            const std::string& prefix) {
    if (v.is_structured() || v.is_binary() || v.is_discarded()) {
      return Error(path, prefix + TypeOf(v));
    }
    return CheckFinite(what, v, path);
  }

  // JSON text cannot hold NaN or infinity, but a json value built in code can.
  static Status CheckFinite(const std::string& what, const json& v, const std::string& path) {
    if (v.is_number_float()) {
      if (!std::isfinite(v.get<double>())) return Error(path, what + " expects a finite number");
      return Status::OK();
    }
    if (v.is_structured()) {
      for (const auto& child : v) SEXTANT_RETURN_IF_ERROR(CheckFinite(what, child, path));
    }
    return Status::OK();
  }
};

}  // namespace

StatusOr<Filter> Filter::Parse(std::string_view json_text) {
  json value;
  std::string error;
  if (!internal::ParseJsonText(json_text, &value, &error)) {
    return Status::InvalidArgument("filter: not valid JSON: " + error);
  }
  return FromJson(value);
}

StatusOr<Filter> Filter::FromJson(const nlohmann::json& value) {
  try {
    if (!value.is_object()) {
      return Status::InvalidArgument("filter: expected a JSON object, got " + TypeOf(value));
    }
    std::string path = "filter";
    if (FindTooDeep(value, internal::kMaxFilterDepth, &path)) {
      return Status::InvalidArgument(path + ": the filter nests deeper than " +
                                     std::to_string(internal::kMaxFilterDepth) + " levels");
    }
    auto root = std::make_shared<FilterNode>();
    SEXTANT_RETURN_IF_ERROR(Parser().ParseFilter(value, "filter", root.get()));
    return Filter(std::move(root));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("filter: out of memory while parsing");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("filter: ") + e.what());
  }
}

bool Filter::Matches(const nlohmann::json& payload) const { return root_->Matches(payload); }

bool Filter::MatchesAll() const {
  return root_->kind == FilterNode::Kind::kAnd && root_->children.empty();
}

}  // namespace sextant::payload
