// Internals shared by the files of CollectionImpl (collection_impl.cc: load, open state, close;
// collection_write.cc: the write path; collection_search.cc: reads and the planner;
// collection_index.cc: the index lifecycle and checkpoints). Not part of the public API.
#ifndef SEXTANT_COLLECTION_COLLECTION_INTERNAL_H_
#define SEXTANT_COLLECTION_COLLECTION_INTERNAL_H_

#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "collection/collection_impl.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {
namespace collection_internal {

// Runs a public entry point's body, turning anything thrown by a dependency (std::bad_alloc
// above all) into a Status: the engine never throws at its callers.
template <typename F>
auto Guarded(std::string_view what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  }
}

// "point 57 (id \"abc\")" or "point 3 (id 7)": how errors name a point of a batch.
std::string PointLabel(size_t index, const PointId& id);

// InvalidArgument for an empty or oversize string id.
Status ValidateId(const PointId& id);

// Checks that every component is finite (names the first one that is not) and that the
// vector's norm is at most CollectionOptions::kMaxVectorNorm.
Status ValidateVector(const float* v, size_t dim, std::string_view field);

// The identity of an index's structure: its spec plus the build parameters the spec leaves out.
// A checkpoint is loaded only into a collection configured with the same identity.
std::string IndexIdentity(const IndexOptions& o);

// A hit's score from an index distance (see Metric: L2 reports the distance, the others the
// similarity).
inline float ScoreOf(Metric metric, float distance) { return metric == Metric::kL2 ? distance : -distance; }

}  // namespace collection_internal

// The planner's view of a filter.
struct CollectionImpl::Matches {
  const uint8_t* mask = nullptr;  // allowed slots (live_.size() entries)
  std::vector<uint8_t> owned;     // backs `mask` when it is not live_ itself
  uint64_t count = 0;             // allowed slots
  bool filtered = false;          // a (non-trivial) filter was given
  bool from_index = false;        // answered from payload indexes alone
};

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_COLLECTION_INTERNAL_H_
