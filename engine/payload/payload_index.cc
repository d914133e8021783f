// Payload indexes: per declared field, an inverted index from typed value to the slots holding it,
// and the narrowing of a parsed filter to a candidate mask.
//
// Entry encoding (opaque outside this file; persisted as part of payload_index keys, so it is
// part of the on-disk format):
//
//   entry  := field tag body
//   field  := one byte, the field's position in the declared list (0..63)
//   tag/body:
//     's' bytes              keyword: the string's bytes
//     't' | 'f'              bool: true | false
//     'i' be64(i ^ 2^63)     integer, and float values that are whole and fit int64
//     'u' be64(u)            float: whole values in [2^63, 2^64)
//     'd' be64(ordered bits) float: every other value (fractions; whole values below -2^63 or
//                            from 2^64 up)
//     'n'                    the value is null, or an array holding null
//     'e'                    the value is the empty array []
//
// Numbers are stored in one canonical exact form per value (2 and 2.0 give one entry, as do -0.0
// and 0), so deduplication and lookups agree with filter.cc's exact numeric equality. The 'n' and
// 'e' markers, together with Check()'s guarantee that every other present value is a scalar of
// the declared type or an array of them, mean a present field always has at least one entry: that
// is what makes $exists, {"x": null} and {"x": []} answerable exactly.
//
// In memory, per field: an ordered map value -> Posting (std::map keyed by string or by exact
// Number, so range operators walk a contiguous key range), Postings for true/false/null/[] and a
// Posting of the slots where the field is present. A Posting is a sorted slot vector while sparse
// and a bitmap once dense (hysteresis between 1/32 and 1/128 density), so Set/Clear cost a
// binary search plus a small move, or one bit. Per slot, the sorted list of its entries
// (EntriesOf) lets a replace or delete undo exactly what was added without reading the payload.
//
// Narrow evaluates the filter tree bottom-up on 64-bit word bitsets restricted to `live`. Each
// node yields "unknown" (no information: every live slot is a candidate) or a candidate set with
// an `exact` flag. Anything the index cannot decide becomes unknown or inexact; it never removes a
// possible match. The rule "an empty candidate set is exact" holds throughout.
//
// Threading: see payload_index.h. Narrow and the other const methods only read.
#include "payload/payload_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "payload/filter_internal.h"
#include "payload/json_util.h"

namespace sextant::payload {

namespace {

using json = nlohmann::json;
using internal::Condition;
using internal::Number;
using internal::Op;

constexpr size_t kMaxFields = 64;

// Approximate heap cost of a std::map node beyond its key and value (libstdc++: three pointers
// and a colour).
constexpr size_t kMapNodeBytes = 32;

// Heap bytes a std::string owns (none while it fits the small-string buffer).
size_t StringHeapBytes(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}

// What a slot's entry list owns on the heap.
size_t ListBytes(const std::vector<std::string>& list) {
  size_t bytes = list.capacity() * sizeof(std::string);
  for (const auto& s : list) bytes += StringHeapBytes(s);
  return bytes;
}

constexpr char kTagString = 's';
constexpr char kTagTrue = 't';
constexpr char kTagFalse = 'f';
constexpr char kTagInt = 'i';
constexpr char kTagUint = 'u';
constexpr char kTagDouble = 'd';
constexpr char kTagNull = 'n';
constexpr char kTagEmptyArray = 'e';

std::string_view TypeName(PayloadFieldType type) {
  switch (type) {
    case PayloadFieldType::kKeyword: return "keyword";
    case PayloadFieldType::kInteger: return "integer";
    case PayloadFieldType::kFloat: return "float";
    case PayloadFieldType::kBool: return "bool";
  }
  return "unknown";
}

bool IsNumeric(PayloadFieldType type) {
  return type == PayloadFieldType::kInteger || type == PayloadFieldType::kFloat;
}

// The one exact form of a number's value: int64 when it is a whole number in int64's range,
// uint64 for whole numbers in [2^63, 2^64), double otherwise. -0.0 becomes 0.
Number Canonical(const Number& n) {
  switch (n.kind) {
    case Number::Kind::kInt:
      return n;
    case Number::Kind::kUint:
      if (n.u <= static_cast<uint64_t>(INT64_MAX)) return Number::Int(static_cast<int64_t>(n.u));
      return n;
    case Number::Kind::kDouble: {
      double d = n.d;
      if (std::isfinite(d) && std::trunc(d) == d) {
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
          return Number::Int(static_cast<int64_t>(d));
        }
        if (d >= 9223372036854775808.0 && d < 18446744073709551616.0) {
          return Number::Uint(static_cast<uint64_t>(d));
        }
      }
      return n;
    }
  }
  return n;
}

void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

uint64_t ReadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// A canonical number's tag and body.
void AppendNumber(const Number& n, std::string* out) {
  switch (n.kind) {
    case Number::Kind::kInt:
      out->push_back(kTagInt);
      AppendBigEndian(static_cast<uint64_t>(n.i) ^ (uint64_t{1} << 63), out);
      break;
    case Number::Kind::kUint:
      out->push_back(kTagUint);
      AppendBigEndian(n.u, out);
      break;
    case Number::Kind::kDouble: {
      // Order-preserving bits: flip all bits of negatives, the sign bit of the rest.
      uint64_t bits = std::bit_cast<uint64_t>(n.d);
      bits = (bits >> 63) ? ~bits : bits | (uint64_t{1} << 63);
      out->push_back(kTagDouble);
      AppendBigEndian(bits, out);
      break;
    }
  }
}

// A set of slots. Sparse: a sorted vector. Dense: a bitmap plus a count. Insert and Erase are
// idempotent.
class Posting {
 public:
  void Insert(uint32_t slot) {
    if (dense_) {
      size_t word = slot >> 6;
      if (word >= bits_.size()) bits_.resize(word + 1, 0);
      uint64_t bit = uint64_t{1} << (slot & 63);
      if (bits_[word] & bit) return;
      bits_[word] |= bit;
      ++count_;
      if (count_ * 2 < bits_.size()) ToSparse();  // grew far past the others: sparse again
      return;
    }
    if (sparse_.empty() || slot > sparse_.back()) {
      sparse_.push_back(slot);
    } else {
      auto it = std::lower_bound(sparse_.begin(), sparse_.end(), slot);
      if (it != sparse_.end() && *it == slot) return;
      sparse_.insert(it, slot);
    }
    ++count_;
    // A bitmap costs (max + 1) / 8 bytes, the vector 4 per slot: switch at density 1/32.
    if (count_ >= kMinDense && uint64_t{count_} * 32 >= uint64_t{sparse_.back()} + 1) ToDense();
  }

  void Erase(uint32_t slot) {
    if (dense_) {
      size_t word = slot >> 6;
      if (word >= bits_.size()) return;
      uint64_t bit = uint64_t{1} << (slot & 63);
      if (!(bits_[word] & bit)) return;
      bits_[word] &= ~bit;
      --count_;
      if (count_ * 2 < bits_.size()) ToSparse();  // density under 1/128
      return;
    }
    auto it = std::lower_bound(sparse_.begin(), sparse_.end(), slot);
    if (it == sparse_.end() || *it != slot) return;
    sparse_.erase(it);
    --count_;
    if (sparse_.empty()) std::vector<uint32_t>().swap(sparse_);
  }

  bool empty() const { return count_ == 0; }

  // ORs the slots below words->size() * 64 into the bitset.
  void OrInto(std::vector<uint64_t>* words) const {
    uint64_t* w = words->data();
    size_t n = words->size();
    if (dense_) {
      size_t m = std::min(n, bits_.size());
      for (size_t k = 0; k < m; ++k) w[k] |= bits_[k];
      return;
    }
    for (uint32_t slot : sparse_) {
      size_t word = slot >> 6;
      if (word >= n) break;
      w[word] |= uint64_t{1} << (slot & 63);
    }
  }

  size_t MemoryBytes() const {
    return sparse_.capacity() * sizeof(uint32_t) + bits_.capacity() * sizeof(uint64_t);
  }

 private:
  static constexpr size_t kMinDense = 64;

  void ToDense() {
    bits_.assign((size_t{sparse_.back()} >> 6) + 1, 0);
    for (uint32_t slot : sparse_) bits_[slot >> 6] |= uint64_t{1} << (slot & 63);
    std::vector<uint32_t>().swap(sparse_);
    dense_ = true;
  }

  void ToSparse() {
    std::vector<uint32_t> slots;
    slots.reserve(count_);
    for (size_t k = 0; k < bits_.size(); ++k) {
      for (uint64_t w = bits_[k]; w != 0; w &= w - 1) {
        slots.push_back(static_cast<uint32_t>(k * 64 + std::countr_zero(w)));
      }
    }
    sparse_ = std::move(slots);
    std::vector<uint64_t>().swap(bits_);
    dense_ = false;
  }

  std::vector<uint32_t> sparse_;  // sorted, unique (when !dense_)
  std::vector<uint64_t> bits_;    // bit s of word s/64 (when dense_)
  bool dense_ = false;
  size_t count_ = 0;
};

constexpr size_t kStringNodeBytes = kMapNodeBytes + sizeof(std::string) + sizeof(Posting);
constexpr size_t kNumberNodeBytes = kMapNodeBytes + sizeof(Number) + sizeof(Posting);

// One declared field's index.
struct FieldIndex {
  PayloadIndexOptions options;
  std::vector<std::string> path;
  std::map<std::string, Posting, std::less<>> strings;       // kKeyword
  std::map<Number, Posting, internal::NumberLess> numbers;   // kInteger, kFloat (canonical keys)
  Posting is_true;                                           // kBool
  Posting is_false;
  Posting null;         // the value is null, or an array holding null
  Posting empty_array;  // the value is []
  Posting present;      // the field is present: the slot has any entry of this field
};

// An entry taken apart. `text` points into the entry.
struct Decoded {
  size_t field = 0;
  char tag = 0;
  std::string_view text;  // kTagString
  Number number;          // kTagInt, kTagUint, kTagDouble
};

// A candidate set during Narrow: unknown (every live slot may match) or `bits` (a subset of live
// holding every match), `exact` when it is precisely the matches.
struct Result {
  bool known = false;
  bool exact = false;
  std::vector<uint64_t> bits;
};

}  // namespace

struct PayloadIndexSet::Rep {
  std::vector<PayloadIndexOptions> options;
  std::vector<FieldIndex> fields;
  // Per slot: its entries, sorted and unique.
  std::vector<std::vector<std::string>> by_slot;
  // Kept up to date by every change, so MemoryBytes() is O(fields).
  size_t posting_bytes = 0;  // Postings' heap, plus map nodes and their keys' heap
  size_t entry_bytes = 0;    // the slots' entry lists (ListBytes)

  // False for an entry this set did not produce (unknown field, wrong tag for the type, bad size,
  // a non-canonical number).
  bool Decode(std::string_view entry, Decoded* out) const;
  Posting* FindPosting(const Decoded& d);  // nullptr if the value has no posting
  Posting* GetPosting(const Decoded& d);   // creates the value's posting if needed
  void DropEmpty(const Decoded& d);        // removes the value's posting if it is empty
  // Add or remove one (slot, entry) pair in the postings (not in by_slot, not in `present`).
  void Insert(uint32_t slot, std::string_view entry);
  void Erase(uint32_t slot, std::string_view entry);
  // Bit f set when `entries` holds an entry of field f.
  uint64_t FieldMask(const std::vector<std::string>& entries) const;
  // Moves `slot` in and out of the fields' `present` postings.
  void UpdatePresence(uint32_t slot, uint64_t before, uint64_t after);
  Status CheckValue(const FieldIndex& field, const json& value, int64_t element) const;
  bool AppendValue(size_t field_number, const json& value, std::vector<std::string>* out) const;
};

bool PayloadIndexSet::Rep::Decode(std::string_view entry, Decoded* out) const {
  if (entry.size() < 2) return false;
  out->field = static_cast<unsigned char>(entry[0]);
  if (out->field >= fields.size()) return false;
  out->tag = entry[1];
  std::string_view body = entry.substr(2);
  PayloadFieldType type = fields[out->field].options.type;
  switch (out->tag) {
    case kTagNull:
    case kTagEmptyArray:
      return body.empty();
    case kTagString:
      out->text = body;
      return type == PayloadFieldType::kKeyword;
    case kTagTrue:
    case kTagFalse:
      return body.empty() && type == PayloadFieldType::kBool;
    case kTagInt:
      if (body.size() != 8 || !IsNumeric(type)) return false;
      out->number = Number::Int(static_cast<int64_t>(ReadBigEndian(body) ^ (uint64_t{1} << 63)));
      return true;
    case kTagUint:
      if (body.size() != 8 || type != PayloadFieldType::kFloat) return false;
      out->number = Number::Uint(ReadBigEndian(body));
      return out->number.u > static_cast<uint64_t>(INT64_MAX);
    case kTagDouble: {
      if (body.size() != 8 || type != PayloadFieldType::kFloat) return false;
      uint64_t bits = ReadBigEndian(body);
      bits = (bits >> 63) ? bits & ~(uint64_t{1} << 63) : ~bits;
      out->number = Number::Double(std::bit_cast<double>(bits));
      // Canonical and finite only, so equal values never sit under two keys.
      Number c = Canonical(out->number);
      return std::isfinite(out->number.d) && c.kind == Number::Kind::kDouble;
    }
    default:
      return false;
  }
}

Posting* PayloadIndexSet::Rep::FindPosting(const Decoded& d) {
  FieldIndex& f = fields[d.field];
  switch (d.tag) {
    case kTagNull: return &f.null;
    case kTagEmptyArray: return &f.empty_array;
    case kTagTrue: return &f.is_true;
    case kTagFalse: return &f.is_false;
    case kTagString: {
      auto it = f.strings.find(d.text);
      return it == f.strings.end() ? nullptr : &it->second;
    }
    default: {
      auto it = f.numbers.find(d.number);
      return it == f.numbers.end() ? nullptr : &it->second;
    }
  }
}

Posting* PayloadIndexSet::Rep::GetPosting(const Decoded& d) {
  FieldIndex& f = fields[d.field];
  if (d.tag == kTagString) {
    auto [it, added] = f.strings.try_emplace(std::string(d.text));
    if (added) posting_bytes += kStringNodeBytes + StringHeapBytes(it->first);
    return &it->second;
  }
  if (d.tag == kTagInt || d.tag == kTagUint || d.tag == kTagDouble) {
    auto [it, added] = f.numbers.try_emplace(d.number);
    if (added) posting_bytes += kNumberNodeBytes;
    return &it->second;
  }
  return FindPosting(d);
}

// Value postings leave the maps when they empty, so range scans never walk dead keys.
void PayloadIndexSet::Rep::DropEmpty(const Decoded& d) {
  FieldIndex& f = fields[d.field];
  if (d.tag == kTagString) {
    auto it = f.strings.find(d.text);
    if (it != f.strings.end() && it->second.empty()) {
      posting_bytes -= kStringNodeBytes + StringHeapBytes(it->first) + it->second.MemoryBytes();
      f.strings.erase(it);
    }
  } else if (d.tag == kTagInt || d.tag == kTagUint || d.tag == kTagDouble) {
    auto it = f.numbers.find(d.number);
    if (it != f.numbers.end() && it->second.empty()) {
      posting_bytes -= kNumberNodeBytes + it->second.MemoryBytes();
      f.numbers.erase(it);
    }
  }
}

void PayloadIndexSet::Rep::Insert(uint32_t slot, std::string_view entry) {
  Decoded d;
  if (!Decode(entry, &d)) return;  // not ours (corrupt): kept in by_slot only, so it is deleted
  Posting* p = GetPosting(d);
  size_t before = p->MemoryBytes();
  p->Insert(slot);
  posting_bytes += p->MemoryBytes() - before;
}

void PayloadIndexSet::Rep::Erase(uint32_t slot, std::string_view entry) {
  Decoded d;
  if (!Decode(entry, &d)) return;
  Posting* p = FindPosting(d);
  if (p == nullptr) return;
  size_t before = p->MemoryBytes();
  p->Erase(slot);
  posting_bytes = posting_bytes + p->MemoryBytes() - before;
  DropEmpty(d);
}

uint64_t PayloadIndexSet::Rep::FieldMask(const std::vector<std::string>& entries) const {
  uint64_t mask = 0;
  for (const auto& e : entries) {
    Decoded d;
    if (Decode(e, &d)) mask |= uint64_t{1} << d.field;
  }
  return mask;
}

void PayloadIndexSet::Rep::UpdatePresence(uint32_t slot, uint64_t before, uint64_t after) {
  for (uint64_t gone = before & ~after; gone != 0; gone &= gone - 1) {
    Posting& p = fields[std::countr_zero(gone)].present;
    size_t bytes = p.MemoryBytes();
    p.Erase(slot);
    posting_bytes = posting_bytes + p.MemoryBytes() - bytes;
  }
  for (uint64_t added = after & ~before; added != 0; added &= added - 1) {
    Posting& p = fields[std::countr_zero(added)].present;
    size_t bytes = p.MemoryBytes();
    p.Insert(slot);
    posting_bytes = posting_bytes + p.MemoryBytes() - bytes;
  }
}

// `element` is the array index of `value`, or -1 when `value` is the field's whole value.
Status PayloadIndexSet::Rep::CheckValue(const FieldIndex& field, const json& value,
                                        int64_t element) const {
  if (value.is_null()) return Status::OK();
  PayloadFieldType type = field.options.type;
  std::string got;     // what the value is, when its type name is not enough
  std::string reason;  // why a number does not fit
  Number n;
  bool is_number = internal::ToNumber(value, &n);
  if (is_number && n.kind == Number::Kind::kDouble && !std::isfinite(n.d)) {
    got = "a non-finite number";  // only from JSON built in code
  } else {
    switch (type) {
      case PayloadFieldType::kKeyword:
        if (value.is_string()) return Status::OK();
        break;
      case PayloadFieldType::kBool:
        if (value.is_boolean()) return Status::OK();
        break;
      case PayloadFieldType::kInteger:
        if (is_number) {
          if (Canonical(n).kind == Number::Kind::kInt) return Status::OK();
          got = value.dump();
          reason = ", not a whole number in the int64 range";
        }
        break;
      case PayloadFieldType::kFloat:
        if (is_number) return Status::OK();
        break;
    }
  }
  if (got.empty()) got = std::string(internal::JsonTypeName(value));
  std::string message = "field " + field.options.field + " is declared " +
                        std::string(TypeName(type)) + ", got " + got;
  if (element >= 0) message += " at element " + std::to_string(element) + " of its array";
  return Status::InvalidArgument(message + reason);
}

// Appends the entry of the scalar `value` of field `field_number`; false if it has none (a value
// of another type, which Check() rules out).
bool PayloadIndexSet::Rep::AppendValue(size_t field_number, const json& value,
                                       std::vector<std::string>* out) const {
  std::string entry(1, static_cast<char>(field_number));
  PayloadFieldType type = fields[field_number].options.type;
  Number n;
  if (value.is_null()) {
    entry.push_back(kTagNull);
  } else if (type == PayloadFieldType::kKeyword && value.is_string()) {
    entry.push_back(kTagString);
    entry += value.get_ref<const json::string_t&>();
  } else if (type == PayloadFieldType::kBool && value.is_boolean()) {
    entry.push_back(value.get<bool>() ? kTagTrue : kTagFalse);
  } else if (IsNumeric(type) && internal::ToNumber(value, &n)) {
    Number c = Canonical(n);
    if (c.kind == Number::Kind::kDouble && !std::isfinite(c.d)) return false;
    if (type == PayloadFieldType::kInteger && c.kind != Number::Kind::kInt) return false;
    AppendNumber(c, &entry);
  } else {
    return false;
  }
  out->push_back(std::move(entry));
  return true;
}

namespace {

// Evaluates a filter tree against the indexes (see the top of this file).
class Narrower {
 public:
  Narrower(const std::vector<FieldIndex>& fields, const uint8_t* live, size_t slots)
      : fields_(fields), nwords_((slots + 63) / 64), live_(nwords_, 0) {
    for (size_t s = 0; s < slots; ++s) {
      if (live[s]) live_[s >> 6] |= uint64_t{1} << (s & 63);
    }
  }

  Result Eval(const FilterNode& node) const {
    using Kind = FilterNode::Kind;
    switch (node.kind) {
      case Kind::kAnd: {
        if (node.children.empty()) return AllLive();  // {}
        Conjunction all(this);
        for (const auto& child : node.children) {
          if (all.Add(Eval(child))) break;
        }
        return all.Finish();
      }
      case Kind::kOr: {
        Result any = Empty();
        bool exact = true;
        for (const auto& child : node.children) {
          Result r = Eval(child);
          if (!r.known) return Unknown();  // a match may come from the unknown child
          for (size_t k = 0; k < nwords_; ++k) any.bits[k] |= r.bits[k];
          exact = exact && r.exact;
        }
        any.exact = exact || IsEmpty(any);
        return any;
      }
      case Kind::kNot: {
        // The complement of a superset is a subset: only an exact child can be negated.
        Result r = Eval(node.children.front());
        if (!r.known || !r.exact) return Unknown();
        return Complement(std::move(r));
      }
      case Kind::kField:
        return EvalField(node);
    }
    return Unknown();
  }

  size_t nwords() const { return nwords_; }

 private:

  // Intersects the parts of an AND (the children of $and, the operators on one field).
  class Conjunction {
   public:
    explicit Conjunction(const Narrower* n) : n_(n) {}
    // Returns true once the intersection is empty, so the caller may stop.
    bool Add(Result r) {
      if (!r.known) {
        exact_ = false;  // skipped: its matches are not removed, so the result is a superset
        return false;
      }
      if (!acc_.known) {
        acc_ = std::move(r);
      } else {
        for (size_t k = 0; k < n_->nwords_; ++k) acc_.bits[k] &= r.bits[k];
      }
      exact_ = exact_ && r.exact;
      return n_->IsEmpty(acc_);
    }
    Result Finish() {
      if (!acc_.known) return Result();
      acc_.exact = exact_ || n_->IsEmpty(acc_);
      return std::move(acc_);
    }

   private:
    const Narrower* n_;
    Result acc_;
    bool exact_ = true;
  };

  Result Unknown() const { return Result(); }

  Result Empty() const {
    Result r;
    r.known = true;
    r.exact = true;
    r.bits.assign(nwords_, 0);
    return r;
  }

  Result AllLive() const {
    Result r;
    r.known = true;
    r.exact = true;
    r.bits = live_;
    return r;
  }

  bool IsEmpty(const Result& r) const {
    for (uint64_t w : r.bits) {
      if (w != 0) return false;
    }
    return true;
  }

  // Live slots not in the exact set `r`.
  Result Complement(Result r) const {
    for (size_t k = 0; k < nwords_; ++k) r.bits[k] = live_[k] & ~r.bits[k];
    r.exact = true;
    return r;
  }

  void RestrictToLive(Result* r) const {
    for (size_t k = 0; k < nwords_; ++k) r->bits[k] &= live_[k];
  }

  Result FromPosting(const Posting& p) const {
    Result r = Empty();
    p.OrInto(&r.bits);
    RestrictToLive(&r);
    return r;
  }

  const FieldIndex* FindField(const std::vector<std::string>& path) const {
    for (const auto& f : fields_) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }

  // Whether a declared field is a proper prefix of `path`. Check() keeps objects out of declared
  // fields, so such a path never reaches a value: the field is always missing.
  bool BelowDeclaredField(const std::vector<std::string>& path) const {
    for (const auto& f : fields_) {
      if (f.path.size() < path.size() && std::equal(f.path.begin(), f.path.end(), path.begin())) {
        return true;
      }
    }
    return false;
  }

  Result EvalField(const FilterNode& node) const {
    if (const FieldIndex* f = FindField(node.path)) {
      Conjunction all(this);
      for (const auto& c : node.conditions) {
        if (all.Add(EvalCondition(*f, c))) break;
      }
      return all.Finish();
    }
    if (BelowDeclaredField(node.path)) {
      for (const auto& c : node.conditions) {
        if (!internal::ConditionHolds(c, nullptr)) return Empty();
      }
      return AllLive();
    }
    // Not indexed: only conditions whose result does not depend on the value are known.
    bool unknown = false;
    for (const auto& c : node.conditions) {
      std::optional<bool> constant = internal::ConstantResult(c);
      if (constant.has_value() && !*constant) return Empty();
      if (!constant.has_value()) unknown = true;
    }
    return unknown ? Unknown() : AllLive();
  }

  Result EvalCondition(const FieldIndex& f, const Condition& c) const {
    switch (c.op) {
      case Op::kExists: return FromPosting(f.present);
      case Op::kNotExists: return Complement(FromPosting(f.present));
      case Op::kIn: return InSet(f, c.set);
      case Op::kNin: return Complement(InSet(f, c.set));
      case Op::kEqValue: return EqualsLiteral(f, c.literal);
      case Op::kNeValue: {
        Result r = EqualsLiteral(f, c.literal);
        if (!r.exact) return Unknown();
        return Complement(std::move(r));
      }
      case Op::kGt:
      case Op::kGte:
      case Op::kLt:
      case Op::kLte: return Range(f, c);
      case Op::kText: return Unknown();  // a keyword index cannot tell; the text index can
    }
    return Unknown();
  }

  // The posting of the scalar `v` in field `f` (null has one in every field), or nullptr when no
  // value of the field can equal `v` (another type, a fraction in an integer field, a structure).
  const Posting* ScalarPosting(const FieldIndex& f, const json& v) const {
    if (v.is_null()) return &f.null;
    switch (f.options.type) {
      case PayloadFieldType::kKeyword: {
        if (!v.is_string()) return nullptr;
        auto it = f.strings.find(v.get_ref<const json::string_t&>());
        return it == f.strings.end() ? nullptr : &it->second;
      }
      case PayloadFieldType::kBool:
        if (!v.is_boolean()) return nullptr;
        return v.get<bool>() ? &f.is_true : &f.is_false;
      case PayloadFieldType::kInteger:
      case PayloadFieldType::kFloat: {
        Number n;
        if (!internal::ToNumber(v, &n)) return nullptr;
        auto it = f.numbers.find(n);  // exact numeric equality: 2.0 finds the key 2
        return it == f.numbers.end() ? nullptr : &it->second;
      }
    }
    return nullptr;
  }

  // $in / scalar $eq: the value or an element is in the set. Every value and element of an
  // indexed field is a scalar with an entry, so the union of the members' postings is exact.
  Result InSet(const FieldIndex& f, const internal::ScalarSet& set) const {
    Result r = Empty();
    if (set.has_null()) f.null.OrInto(&r.bits);
    switch (f.options.type) {
      case PayloadFieldType::kKeyword:
        for (const auto& s : set.strings()) {
          auto it = f.strings.find(s);
          if (it != f.strings.end()) it->second.OrInto(&r.bits);
        }
        break;
      case PayloadFieldType::kInteger:
      case PayloadFieldType::kFloat:
        for (const auto& n : set.numbers()) {
          auto it = f.numbers.find(n);
          if (it != f.numbers.end()) it->second.OrInto(&r.bits);
        }
        break;
      case PayloadFieldType::kBool:
        if (set.has_true()) f.is_true.OrInto(&r.bits);
        if (set.has_false()) f.is_false.OrInto(&r.bits);
        break;
    }
    RestrictToLive(&r);
    return r;
  }

  // $eq with an array or object: whole-value equality, or an element equal to it. Values of an
  // indexed field are never objects and their elements never structures, so only an array value
  // can equal, and only as a whole: [] exactly (its marker), a longer array only approximately
  // (slots holding every element, in any order or number).
  Result EqualsLiteral(const FieldIndex& f, const json& literal) const {
    if (!literal.is_array()) return Empty();
    if (literal.empty()) return FromPosting(f.empty_array);
    Conjunction all(this);
    for (const auto& element : literal) {
      const Posting* p = ScalarPosting(f, element);
      if (p == nullptr) return Empty();
      Result r = FromPosting(*p);
      r.exact = false;
      if (all.Add(std::move(r))) break;
    }
    return all.Finish();
  }

  template <typename Map, typename Key>
  static void OrRange(const Map& map, const Key& bound, Op op, std::vector<uint64_t>* bits) {
    auto lo = map.begin();
    auto hi = map.end();
    switch (op) {
      case Op::kGt: lo = map.upper_bound(bound); break;
      case Op::kGte: lo = map.lower_bound(bound); break;
      case Op::kLt: hi = map.lower_bound(bound); break;
      default: hi = map.upper_bound(bound); break;  // kLte
    }
    for (; lo != hi; ++lo) lo->second.OrInto(bits);
  }

  // $gt .. $lte: the value or an element compares to the bound; only values of the bound's type
  // compare (numbers exactly, strings by bytes), so other field types give nothing.
  Result Range(const FieldIndex& f, const Condition& c) const {
    Result r = Empty();
    if (c.bound_is_string) {
      if (f.options.type != PayloadFieldType::kKeyword) return r;
      OrRange(f.strings, c.bound_string, c.op, &r.bits);
    } else {
      if (!IsNumeric(f.options.type)) return r;
      OrRange(f.numbers, c.bound_number, c.op, &r.bits);
    }
    RestrictToLive(&r);
    return r;
  }

  const std::vector<FieldIndex>& fields_;
  size_t nwords_;
  std::vector<uint64_t> live_;
};

}  // namespace

PayloadIndexSet::PayloadIndexSet() : rep_(std::make_unique<Rep>()) {}
PayloadIndexSet::~PayloadIndexSet() = default;

StatusOr<std::unique_ptr<PayloadIndexSet>> PayloadIndexSet::Create(
    const std::vector<PayloadIndexOptions>& fields) {
  try {
    if (fields.size() > kMaxFields) {
      return Status::InvalidArgument("payload indexes: " + std::to_string(fields.size()) +
                                     " fields declared, at most " + std::to_string(kMaxFields));
    }
    std::unique_ptr<PayloadIndexSet> set(new PayloadIndexSet());
    Rep& rep = *set->rep_;
    rep.options = fields;
    rep.fields.resize(fields.size());
    for (size_t k = 0; k < fields.size(); ++k) {
      const std::string& name = fields[k].field;
      std::string label = "payload index field '" + name + "'";
      if (name.empty()) return Status::InvalidArgument("payload index field: the name is empty");
      if (internal::IsOperatorKey(name)) {
        return Status::InvalidArgument(label + ": starts with '$', which filters read as an operator");
      }
      FieldIndex& f = rep.fields[k];
      if (!internal::SplitPath(name, &f.path)) {
        return Status::InvalidArgument(label + ": the path has an empty segment");
      }
      switch (fields[k].type) {
        case PayloadFieldType::kKeyword:
        case PayloadFieldType::kInteger:
        case PayloadFieldType::kFloat:
        case PayloadFieldType::kBool:
          break;
        default:
          return Status::InvalidArgument(label + ": unknown field type " +
                                         std::to_string(static_cast<int>(fields[k].type)));
      }
      f.options = fields[k];
      for (size_t j = 0; j < k; ++j) {
        const std::vector<std::string>& other = rep.fields[j].path;
        if (other == f.path) return Status::InvalidArgument(label + ": declared twice");
        const auto& shorter = other.size() < f.path.size() ? other : f.path;
        const auto& longer = other.size() < f.path.size() ? f.path : other;
        if (std::equal(shorter.begin(), shorter.end(), longer.begin())) {
          // The outer field holds scalars only, so the inner one could never be present.
          return Status::InvalidArgument(label + ": nested inside or around the declared field '" +
                                         rep.fields[j].options.field +
                                         "'; an indexed field holds no objects");
        }
      }
    }
    return set;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("payload indexes: out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("payload indexes: ") + e.what());
  }
}

const std::vector<PayloadIndexOptions>& PayloadIndexSet::fields() const { return rep_->options; }

Status PayloadIndexSet::Check(const nlohmann::json& payload) const {
  try {
    for (const FieldIndex& f : rep_->fields) {
      const json* value = internal::LookupPath(payload, f.path);
      if (value == nullptr) continue;
      if (value->is_array()) {
        for (size_t k = 0; k < value->size(); ++k) {
          SEXTANT_RETURN_IF_ERROR(rep_->CheckValue(f, (*value)[k], static_cast<int64_t>(k)));
        }
      } else {
        SEXTANT_RETURN_IF_ERROR(rep_->CheckValue(f, *value, -1));
      }
    }
    return Status::OK();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("payload indexes: out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string("payload indexes: ") + e.what());
  }
}

std::vector<std::string> PayloadIndexSet::Entries(const nlohmann::json& payload) const {
  std::vector<std::string> out;
  for (size_t k = 0; k < rep_->fields.size(); ++k) {
    const json* value = internal::LookupPath(payload, rep_->fields[k].path);
    if (value == nullptr) continue;
    if (value->is_array()) {
      if (value->empty()) {
        out.push_back(std::string{static_cast<char>(k), kTagEmptyArray});
      }
      for (const auto& element : *value) rep_->AppendValue(k, element, &out);
    } else {
      rep_->AppendValue(k, *value, &out);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void PayloadIndexSet::Add(uint32_t slot, const std::string& entry) {
  if (entry.empty()) return;
  Rep& rep = *rep_;
  if (slot >= rep.by_slot.size()) rep.by_slot.resize(size_t{slot} + 1);
  std::vector<std::string>& list = rep.by_slot[slot];
  auto it = std::lower_bound(list.begin(), list.end(), entry);
  if (it != list.end() && *it == entry) return;
  uint64_t before = rep.FieldMask(list);
  rep.entry_bytes -= ListBytes(list);
  list.insert(it, entry);
  rep.entry_bytes += ListBytes(list);
  rep.Insert(slot, entry);
  Decoded d;
  if (rep.Decode(entry, &d)) rep.UpdatePresence(slot, before, before | (uint64_t{1} << d.field));
}

void PayloadIndexSet::Set(uint32_t slot, std::vector<std::string> entries) {
  Rep& rep = *rep_;
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  entries.erase(std::remove(entries.begin(), entries.end(), std::string()), entries.end());
  if (slot >= rep.by_slot.size()) {
    if (entries.empty()) return;
    rep.by_slot.resize(size_t{slot} + 1);
  }
  std::vector<std::string>& old = rep.by_slot[slot];
  uint64_t before = rep.FieldMask(old);
  uint64_t after = rep.FieldMask(entries);
  // Both lists are sorted: one merge finds what goes and what comes; shared entries stay put.
  size_t i = 0, j = 0;
  while (i < old.size() || j < entries.size()) {
    if (j == entries.size() || (i < old.size() && old[i] < entries[j])) {
      rep.Erase(slot, old[i++]);
    } else if (i == old.size() || entries[j] < old[i]) {
      rep.Insert(slot, entries[j++]);
    } else {
      ++i;
      ++j;
    }
  }
  rep.UpdatePresence(slot, before, after);
  rep.entry_bytes -= ListBytes(old);
  if (entries.empty()) {
    std::vector<std::string>().swap(old);
  } else {
    entries.shrink_to_fit();
    old = std::move(entries);
    rep.entry_bytes += ListBytes(old);
  }
}

void PayloadIndexSet::Clear(uint32_t slot) { Set(slot, {}); }

const std::vector<std::string>& PayloadIndexSet::EntriesOf(uint32_t slot) const {
  static const auto* const kNone = new std::vector<std::string>();
  return slot < rep_->by_slot.size() ? rep_->by_slot[slot] : *kNone;
}

std::optional<PayloadIndexSet::Narrowed> PayloadIndexSet::Narrow(const Filter& filter,
                                                                 const uint8_t* live,
                                                                 size_t slots) const {
  try {
    Narrower narrower(rep_->fields, live, slots);
    Result r = narrower.Eval(internal::FilterAccess::Root(filter));
    if (!r.known) return std::nullopt;
    Narrowed out;
    out.mask.assign(slots, 0);
    for (size_t k = 0; k < r.bits.size(); ++k) {
      for (uint64_t w = r.bits[k]; w != 0; w &= w - 1) {
        out.mask[k * 64 + std::countr_zero(w)] = 1;
        ++out.count;
      }
    }
    out.exact = r.exact || out.count == 0;
    return out;
  } catch (...) {
    return std::nullopt;  // out of memory: answer without the indexes
  }
}

size_t PayloadIndexSet::MemoryBytes() const {
  const Rep& rep = *rep_;
  size_t total = sizeof(PayloadIndexSet) + sizeof(Rep) + rep.posting_bytes + rep.entry_bytes;
  total += rep.fields.capacity() * sizeof(FieldIndex);
  total += rep.options.capacity() * sizeof(PayloadIndexOptions);
  total += rep.by_slot.capacity() * sizeof(std::vector<std::string>);
  return total;
}

}  // namespace sextant::payload
