// The index factory: the one place that maps IndexOptions to an implementation.
#include "index/vector_index.h"

#include "index/hnsw.h"
#include "index/ivf.h"

namespace sextant::index {

StatusOr<std::unique_ptr<VectorIndex>> CreateIndex(const IndexOptions& options, Metric metric,
                                                   const VectorStore* store) {
  SEXTANT_RETURN_IF_ERROR(options.Validate(static_cast<uint32_t>(store->width())));
  switch (options.type) {
    case IndexType::kHnsw: {
      SEXTANT_ASSIGN_OR_RETURN(auto idx, HnswIndex::Create(options, metric, store));
      return std::unique_ptr<VectorIndex>(std::move(idx));
    }
    case IndexType::kIvf:
      return IvfIndex::Create(options, metric, store);
    case IndexType::kFlat:
      break;
  }
  return Status::InvalidArgument("index Flat is exact search over the vectors; it has no index structure");
}

StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(std::string_view bytes, const IndexOptions& options, Metric metric,
                                                 const VectorStore* store) {
  switch (options.type) {
    case IndexType::kHnsw: {
      SEXTANT_ASSIGN_OR_RETURN(auto idx, HnswIndex::Load(bytes, options, metric, store));
      return std::unique_ptr<VectorIndex>(std::move(idx));
    }
    case IndexType::kIvf:
      return IvfIndex::Load(bytes, options, metric, store);
    case IndexType::kFlat:
      break;
  }
  return Status::InvalidArgument("index Flat has nothing to load");
}

}  // namespace sextant::index
