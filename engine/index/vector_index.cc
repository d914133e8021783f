// The index factory: the one place that maps IndexOptions to an implementation.
#include "index/vector_index.h"

namespace sextant::index {

StatusOr<std::unique_ptr<VectorIndex>> CreateIndex(const IndexOptions& options, Metric, const VectorStore* store) {
  SEXTANT_RETURN_IF_ERROR(options.Validate(static_cast<uint32_t>(store->width())));
  return Status::Unimplemented("index " + options.ToString() + " is not built into this library yet");
}

StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(std::string_view, const IndexOptions& options, Metric,
                                                 const VectorStore*) {
  return Status::Unimplemented("index " + options.ToString() + " is not built into this library yet");
}

}  // namespace sextant::index
