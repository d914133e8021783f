// Payload indexes: in-memory inverted indexes over declared payload fields, and the part of the
// search planner that answers filters from them.
//
// The collection persists every index entry in the payload_index column family, in the same
// batch as the point (key: collection prefix + entry + 4-byte big-endian slot, empty value), and
// rebuilds this in-memory structure from those keys on open (Add). Entries are opaque byte
// strings produced here (Entries); each encodes (field number, value) and must not be empty.
// The field number is the field's position in the declared list, so the list's order is part of
// the on-disk format (payload_index.cc documents the encoding).
//
// What is indexed. A declared field holds, after Check: nothing (missing), null, a scalar of the
// declared type, or an array of such scalars and nulls (possibly empty). Each scalar gives one
// entry; an array gives one per distinct element; null (or a null element) gives a "null" marker
// and [] an "empty array" marker. So every present field has at least one entry, which lets
// $exists and {"x": null} be answered exactly. Numbers are kept in exact form (2 == 2.0, and
// 2^53 + 1 != 2^53, as filters compare them).
//
// Exactness contract. Narrow's answers are derived from the entries alone, so they are right only
// if every live slot's payload passed Check() and its current Entries() were Set (or Added); a
// live slot without entries is a point without indexed fields. Given that, an `exact` mask is
// precisely the set of live slots whose payload Filter::Matches, and an inexact one contains it.
//
// Threading: const methods may run concurrently; mutating methods need exclusive access (the
// collection holds its write lock). Errors: Create, Check and Narrow never throw; Entries, Add,
// Set and Clear may throw std::bad_alloc only (the collection's entry points turn it into a
// Status).
#ifndef SEXTANT_PAYLOAD_PAYLOAD_INDEX_H_
#define SEXTANT_PAYLOAD_PAYLOAD_INDEX_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "payload/filter.h"
#include "sextant/options.h"
#include "sextant/status.h"

namespace sextant::payload {

class PayloadIndexSet {
 public:
  // InvalidArgument for a bad field path (same syntax as filter paths: non-empty dotted segments,
  // not starting with '$'), a field declared twice, a field nested inside another declared field
  // ("a" and "a.b": an indexed field never holds an object), an unknown type, or more than 64
  // fields.
  static StatusOr<std::unique_ptr<PayloadIndexSet>> Create(const std::vector<PayloadIndexOptions>& fields);
  ~PayloadIndexSet();

  const std::vector<PayloadIndexOptions>& fields() const;

  // Checks the declared fields' types in a payload (a JSON object). A missing field or null is
  // fine; a value of another type, or an array holding one, is InvalidArgument:
  // "field year is declared integer, got a string",
  // "field tags is declared keyword, got a number at element 1 of its array",
  // "field year is declared integer, got 2000.5, not a whole number in the int64 range".
  // Integer fields take whole numbers that fit int64 (2.0 counts as whole); float fields take any
  // finite number; objects and nested arrays are never accepted. The caller prefixes the point.
  Status Check(const nlohmann::json& payload) const;

  // The index entries of a payload (one per field value; an array field gives one per element),
  // deduplicated. Precondition: Check(payload) is OK.
  std::vector<std::string> Entries(const nlohmann::json& payload) const;

  // In-memory maintenance, by slot. Each costs O(log n) per changed entry (plus a vector move while
  // a value's slot list is sparse), never a scan; Set only touches entries that change.
  void Add(uint32_t slot, const std::string& entry);  // one entry (used while loading)
  void Set(uint32_t slot, std::vector<std::string> entries);  // replaces the slot's entries
  void Clear(uint32_t slot);
  // The slot's current entries (empty when none), to delete its keys on replace or delete. Sorted;
  // valid until the next mutating call. Entries Add could not decode are kept here (so their
  // keys get deleted) but never answer a filter.
  const std::vector<std::string>& EntriesOf(uint32_t slot) const;

  // Narrows a filter with the indexes. Returns nullopt when no part of the filter can be
  // answered from them. Otherwise `mask` (size `slots`) marks candidate slots: a subset of
  // `live` that contains every live slot matching the filter; `exact` says the mask IS the set
  // of matches (every predicate was answered by an index), so no payload needs to be read;
  // `count` is the number of marked slots. `live` has `slots` bytes, nonzero = live; index
  // entries of slots >= `slots` are ignored.
  //
  // Answered exactly, on a declared field, with any operand: $eq/$in with scalars (including
  // null and values of another type, which match nothing), $ne/$nin, $gt/$gte/$lt/$lte (numbers
  // on integer and float fields, strings on keyword fields; other combinations match nothing),
  // $exists, and $eq/$ne with [] or an object. $eq with a non-empty array (whole-array equality)
  // gives an inexact superset: the slots holding every element. On a path below a declared field
  // ("genre.x"), which is always missing, every operator is exact; on other undeclared fields
  // only $in [] (nothing) and $nin [] (everything) are. Then: $and intersects its known parts
  // (an unknown part makes it inexact), $or needs every part known, $not needs an exact part.
  // An empty mask is always exact. The empty filter {} gives every live slot, exact.
  struct Narrowed {
    std::vector<uint8_t> mask;
    uint64_t count = 0;
    bool exact = false;
  };
  std::optional<Narrowed> Narrow(const Filter& filter, const uint8_t* live, size_t slots) const;

  // Memory held, in bytes (approximate; O(1) to compute).
  size_t MemoryBytes() const;

 private:
  PayloadIndexSet();
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_PAYLOAD_INDEX_H_
