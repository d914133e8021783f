// Salvaging a damaged collection: what `sextant repair NAME` (Database::RepairCollection) does
// when CollectionImpl::Load refused the collection's stored data with DataLoss.
//
// The vectors family is the source of truth and every other record is checked against it:
//  - an id entry that is not a 4-byte slot, or whose slot another id already holds: removed;
//  - a vector key of the wrong length, or a vector no id points at: removed;
//  - a point (id -> slot) whose vector is missing or of the wrong size: removed with its payload
//    (the point is lost: its vector is gone);
//  - a payload no surviving point owns: removed; a payload that is not a JSON object, or that
//    fails the declared payload index types or text fields: removed (the point keeps its vector,
//    with no payload);
//  - the payload index entries and the full-text records (analyzed text): all deleted and
//    derived again from the surviving payloads.
// All in one atomic RocksDB batch, synced. The index checkpoint file is derived state and is
// removed by the caller, so the index is rebuilt when the collection loads again.
#ifndef SEXTANT_COLLECTION_REPAIR_H_
#define SEXTANT_COLLECTION_REPAIR_H_

#include "collection/descriptor.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "storage/storage.h"

namespace sextant {

// Rewrites the collection's records in `storage` as described above. The collection must not be
// loaded (nothing else may write its keys meanwhile).
StatusOr<RepairReport> SalvageCollection(storage::Storage* storage, const CollectionDescriptor& descriptor);

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_REPAIR_H_
