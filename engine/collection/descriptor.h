// What the catalogue records about a collection, and its encoding in the meta column family.
#ifndef SEXTANT_COLLECTION_DESCRIPTOR_H_
#define SEXTANT_COLLECTION_DESCRIPTOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

struct CollectionDescriptor {
  uint32_t id = 0;  // key prefix in every column family; never reused
  std::string name;
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  IndexOptions index;
  std::vector<PayloadIndexOptions> payload_indexes;
  std::vector<TextFieldOptions> text_fields;  // full-text indexes (CollectionOptions::text_fields)
  std::string properties;  // compact JSON object text, or "" (CollectionOptions::properties)
};

// Key of a collection's descriptor in the meta family: "collection/" + name.
std::string DescriptorKey(std::string_view name);
inline constexpr std::string_view kDescriptorKeyPrefix = "collection/";

// JSON text (docs/format.md). Decode returns DataLoss for anything that is not a valid one.
std::string EncodeDescriptor(const CollectionDescriptor& d);
StatusOr<CollectionDescriptor> DecodeDescriptor(std::string_view text);

std::string_view PayloadFieldTypeName(PayloadFieldType type);  // "keyword", "integer", "float", "bool"
StatusOr<PayloadFieldType> ParsePayloadFieldType(std::string_view name);

}  // namespace sextant

#endif  // SEXTANT_COLLECTION_DESCRIPTOR_H_
