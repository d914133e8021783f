// Payload indexes: in-memory inverted indexes over declared payload fields, and the part of the
// search planner that answers filters from them.
//
// The collection persists every index entry in the payload_index column family, in the same
// batch as the point (key: collection prefix + entry + 4-byte big-endian slot, empty value), and
// rebuilds this in-memory structure from those keys on open (Add). Entries are opaque byte
// strings produced here (Entries); each encodes (field number, value) and must not be empty.
//
// Threading: const methods may run concurrently; mutating methods need exclusive access (the
// collection holds its write lock).
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
  // InvalidArgument for a bad field path (same syntax as filter paths), a field declared twice,
  // or more than 64 fields.
  static StatusOr<std::unique_ptr<PayloadIndexSet>> Create(const std::vector<PayloadIndexOptions>& fields);
  ~PayloadIndexSet();

  const std::vector<PayloadIndexOptions>& fields() const;

  // Checks the declared fields' types in a payload (a JSON object). A missing field or null is
  // fine; a value of another type, or an array holding one, is InvalidArgument:
  // "field year is declared integer, got a string". Integer fields take whole numbers that fit
  // int64 (2.0 counts as whole); float fields take any number.
  Status Check(const nlohmann::json& payload) const;

  // The index entries of a payload (one per field value; an array field gives one per element),
  // deduplicated. Precondition: Check(payload) is OK.
  std::vector<std::string> Entries(const nlohmann::json& payload) const;

  // In-memory maintenance, by slot.
  void Add(uint32_t slot, const std::string& entry);  // one entry (used while loading)
  void Set(uint32_t slot, std::vector<std::string> entries);  // replaces the slot's entries
  void Clear(uint32_t slot);
  // The slot's current entries (empty when none), to delete its keys on replace or delete.
  const std::vector<std::string>& EntriesOf(uint32_t slot) const;

  // Narrows a filter with the indexes. Returns nullopt when no part of the filter can be
  // answered from them. Otherwise `mask` (size `slots`) marks candidate slots: a subset of
  // `live` that contains every live slot matching the filter; `exact` says the mask IS the set
  // of matches (every predicate was answered by an index), so no payload needs to be read;
  // `count` is the number of marked slots.
  struct Narrowed {
    std::vector<uint8_t> mask;
    uint64_t count = 0;
    bool exact = false;
  };
  std::optional<Narrowed> Narrow(const Filter& filter, const uint8_t* live, size_t slots) const;

  // Memory held, in bytes (approximate).
  size_t MemoryBytes() const;

 private:
  PayloadIndexSet();
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_PAYLOAD_INDEX_H_
