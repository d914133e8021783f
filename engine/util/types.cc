#include <bit>

#include "sextant/options.h"
#include "sextant/types.h"

static_assert(std::endian::native == std::endian::little,
              "Sextant's on-disk format stores floats and values little-endian");

namespace sextant {

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2: return "l2";
    case Metric::kInnerProduct: return "ip";
    case Metric::kCosine: return "cosine";
  }
  return "unknown";
}

StatusOr<Metric> ParseMetric(std::string_view name) {
  if (name == "l2" || name == "euclidean" || name == "L2") return Metric::kL2;
  if (name == "ip" || name == "dot" || name == "inner_product" || name == "IP") {
    return Metric::kInnerProduct;
  }
  if (name == "cosine" || name == "cos") return Metric::kCosine;
  return Status::InvalidArgument("metric: unknown metric '" + std::string(name) +
                                 "' (expected l2, ip or cosine)");
}

std::string PointId::ToString() const {
  return is_number() ? std::to_string(number()) : str();
}

std::string_view FusionName(Fusion fusion) { return fusion == Fusion::kWeighted ? "weighted" : "rrf"; }

StatusOr<Fusion> ParseFusion(std::string_view name) {
  if (name == "rrf") return Fusion::kRrf;
  if (name == "weighted") return Fusion::kWeighted;
  return Status::InvalidArgument("fusion '" + std::string(name) + "' is not one of rrf, weighted");
}

}  // namespace sextant
