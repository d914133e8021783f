#include "text/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace sextant::text {
namespace {

template <typename Part>
std::vector<Fused> Combine(const RankedList& dense, const RankedList& text, Part part) {
  std::unordered_map<uint32_t, size_t> at;
  std::vector<Fused> out;
  out.reserve(dense.size() + text.size());
  auto add = [&](const RankedList& list, bool is_dense) {
    for (size_t i = 0; i < list.size(); ++i) {
      auto [it, inserted] = at.emplace(list[i].first, out.size());
      if (inserted) out.push_back(Fused{list[i].first, 0, false, false});
      Fused& f = out[it->second];
      f.score += part(list, i, is_dense);
      (is_dense ? f.in_dense : f.in_text) = true;
    }
  };
  add(dense, true);
  add(text, false);
  std::sort(out.begin(), out.end(), [](const Fused& a, const Fused& b) {
    return a.score != b.score ? a.score > b.score : a.slot < b.slot;
  });
  return out;
}

}  // namespace

std::vector<Fused> FuseRrf(const RankedList& dense, const RankedList& text, uint32_t k) {
  return Combine(dense, text, [k](const RankedList&, size_t i, bool) {
    return static_cast<float>(1.0 / (static_cast<double>(k) + static_cast<double>(i) + 1.0));
  });
}

std::vector<Fused> FuseWeighted(const RankedList& dense, const RankedList& text, float dense_weight,
                                float text_weight) {
  auto range = [](const RankedList& list) {
    float lo = 0, hi = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      lo = i == 0 ? list[i].second : std::min(lo, list[i].second);
      hi = i == 0 ? list[i].second : std::max(hi, list[i].second);
    }
    return std::pair<float, float>(lo, hi);
  };
  const auto dr = range(dense), tr = range(text);
  return Combine(dense, text, [&](const RankedList& list, size_t i, bool is_dense) {
    const auto [lo, hi] = is_dense ? dr : tr;
    const float norm = hi > lo ? (list[i].second - lo) / (hi - lo) : 1.0f;
    return (is_dense ? dense_weight : text_weight) * norm;
  });
}

}  // namespace sextant::text
