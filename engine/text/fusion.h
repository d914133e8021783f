// Fusing two ranked lists (dense and BM25) into one, for hybrid search (docs/text_search.md).
//
// Each list is best first, as (slot, score) with higher scores better (the collection negates L2
// distances before fusing). The fused list holds every slot of either list, best first; ties
// keep the slot order (lower first), so fusion is deterministic.
#ifndef SEXTANT_TEXT_FUSION_H_
#define SEXTANT_TEXT_FUSION_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace sextant::text {

using RankedList = std::vector<std::pair<uint32_t, float>>;

struct Fused {
  uint32_t slot = 0;
  float score = 0;
  bool in_dense = false;
  bool in_text = false;
};

// Reciprocal rank fusion: score = sum over the lists holding the slot of 1 / (k + rank), with
// ranks counted from 1.
std::vector<Fused> FuseRrf(const RankedList& dense, const RankedList& text, uint32_t k);

// Weighted sum of min-max normalised scores: each list's scores are mapped to [0, 1] (the best to
// 1, the worst to 0; a list whose scores are all equal maps them all to 1), and a slot missing
// from a list gets 0 for it.
std::vector<Fused> FuseWeighted(const RankedList& dense, const RankedList& text, float dense_weight,
                                float text_weight);

}  // namespace sextant::text

#endif  // SEXTANT_TEXT_FUSION_H_
