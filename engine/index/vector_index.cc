// The index factory: the one place that maps IndexOptions to an implementation.
#include "index/vector_index.h"

#include <algorithm>

#include "index/hnsw.h"
#include "index/ivf.h"

namespace sextant::index {

uint64_t EstimateIndexBytes(const IndexOptions& options, uint32_t dim, uint64_t points, uint64_t slots) {
  const uint64_t n = points;
  switch (options.type) {
    case IndexType::kHnsw: {
      // Per slot: links0_ (1 + 2m words), meta_ (8 bytes), SQ8 codes (one byte per component).
      // Per point: upper-layer rows of 1 + m words for 1 / (m - 1) levels on average.
      const uint64_t m = std::max<uint32_t>(options.m, 2);
      const uint64_t links0 = 1 + 2 * m;
      uint64_t bytes = SegmentedRows<uint32_t>::CapacityForRows(links0, slots) * links0 * 4 +
                       SegmentedRows<uint64_t>::CapacityForRows(1, slots) * 8 + n * (((1 + m) * 4 + m - 2) / (m - 1));
      if (options.quantizer == QuantizerType::kSq8) {
        bytes += SegmentedRows<uint8_t>::CapacityForRows(dim, slots) * dim + 2 * uint64_t{dim} * sizeof(float);
      }
      return bytes;
    }
    case IndexType::kIvf: {
      uint64_t code = uint64_t{dim} * sizeof(float);
      uint64_t fixed = uint64_t{options.nlist} * dim * sizeof(float);  // centroids
      if (options.quantizer == QuantizerType::kSq8) {
        code = dim;
        fixed += 2 * uint64_t{dim} * sizeof(float);
      } else if (options.quantizer == QuantizerType::kPq) {
        const uint64_t pq_m = options.pq_m == 0 ? std::min<uint32_t>(64, std::max<uint32_t>(dim / 2, 1)) : options.pq_m;
        code = pq_m;
        fixed += 256 * uint64_t{dim} * sizeof(float) + uint64_t{options.nlist} * pq_m * 256 * sizeof(float);
      }
      // Per point its code and slot id in a list; per slot a state byte.
      return fixed + n * (code + sizeof(uint32_t)) + SegmentedRows<uint8_t>::CapacityForRows(1, slots);
    }
    case IndexType::kFlat:
      break;
  }
  return 0;
}

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
