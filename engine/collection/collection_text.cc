// CollectionImpl's full-text and hybrid search (docs/text_search.md): Search with
// SearchOptions::text. BM25 alone when no query vector is given; otherwise the dense and the BM25
// candidate lists (each restricted to the filter's matches) are fused.
#include <algorithm>
#include <cmath>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "index/flat.h"
#include "payload/filter.h"
#include "simd/distance.h"
#include "text/fusion.h"

namespace sextant {

using collection_internal::Guarded;
using collection_internal::ScoreOf;
using collection_internal::ValidateVector;

StatusOr<std::vector<Hit>> CollectionImpl::TextSearch(const SearchOptions& options, std::span<const float> query,
                                                      SearchPlan* plan) const {
  return Guarded("search", [&]() -> StatusOr<std::vector<Hit>> {
    const size_t dim = desc_.dimension;
    if (options.k == 0) return Status::InvalidArgument("search: k must be at least 1");
    const bool hybrid = !query.empty();
    std::vector<float> q(query.begin(), query.end());
    if (hybrid) {
      if (query.size() != dim) {
        return Status::InvalidArgument("search: query has " + std::to_string(query.size()) +
                                       " floats, expected the dimension " + std::to_string(dim));
      }
      SEXTANT_RETURN_IF_ERROR(ValidateVector(q.data(), dim, "vector").WithPrefix("search: query"));
      if (desc_.metric == Metric::kCosine && simd::Normalize(q.data(), dim) == 0.0f) {
        return Status::InvalidArgument("search: query vector is all zeros, which has no direction for the cosine metric");
      }
      if (options.fusion == Fusion::kWeighted) {
        const float dw = options.dense_weight, tw = options.text_weight;
        if (!std::isfinite(dw) || !std::isfinite(tw) || dw < 0 || tw < 0 || (dw == 0 && tw == 0)) {
          return Status::InvalidArgument("search: weights must be finite and >= 0, not both 0 (got dense " +
                                         std::to_string(dw) + ", text " + std::to_string(tw) + ")");
        }
      }
      if (options.fusion == Fusion::kRrf && options.rrf_k == 0) {
        return Status::InvalidArgument("search: rrf_k must be at least 1");
      }
    }
    std::optional<payload::Filter> filter;
    if (!options.filter.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(payload::Filter parsed, payload::Filter::Parse(options.filter));
      if (!parsed.MatchesAll()) filter = std::move(parsed);
    }

    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    if (!text_index_) {
      return Status::InvalidArgument("search: collection " + desc_.name +
                                     " has no text fields (declare text_fields when creating it)");
    }
    SEXTANT_ASSIGN_OR_RETURN(text::TextIndex::Query tq, text_index_->Prepare(options.text, options.text_fields));
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    const size_t n = hybrid ? std::max<size_t>(options.candidates ? options.candidates : std::max<uint32_t>(options.k, 100),
                                               options.k)
                            : options.k;
    const text::RankedList text_list = text_index_->Search(tq, m.mask, live_.size(), n);

    SearchPlan p;
    p.matches = m.count;
    p.filter_from_index = m.from_index;
    std::vector<Hit> hits;
    if (!hybrid) {
      p.kind = SearchPlan::Kind::kExact;
      p.index = "BM25";
      for (const auto& [slot, score] : text_list) {
        SEXTANT_ASSIGN_OR_RETURN(Hit hit, MakeHit(slot, score, options));
        hit.text_score = score;
        hits.push_back(std::move(hit));
      }
    } else {
      std::vector<std::vector<index::Neighbor>> found;
      std::vector<SearchPlan> plans;
      SEXTANT_RETURN_IF_ERROR(DenseNeighbors(options, n, q.data(), 1, m, &found, &plans));
      p = plans[0];
      p.index += "+BM25";
      text::RankedList dense_list;
      dense_list.reserve(found[0].size());
      for (const index::Neighbor& nb : found[0]) dense_list.emplace_back(nb.slot, -nb.distance);  // higher is better
      const std::vector<text::Fused> fused =
          options.fusion == Fusion::kRrf ? text::FuseRrf(dense_list, text_list, options.rrf_k)
                                         : text::FuseWeighted(dense_list, text_list, options.dense_weight,
                                                              options.text_weight);
      const simd::Kernels& kernels = simd::Active();
      for (size_t i = 0; i < fused.size() && hits.size() < options.k; ++i) {
        const uint32_t slot = fused[i].slot;
        SEXTANT_ASSIGN_OR_RETURN(Hit hit, MakeHit(slot, fused[i].score, options));
        const float* row = store_.Row(slot);
        const float distance = desc_.metric == Metric::kL2 ? kernels.l2sq(q.data(), row, dim)
                                                           : -kernels.dot(q.data(), row, dim);
        hit.dense_score = ScoreOf(desc_.metric, distance);
        hit.text_score = text_index_->Score(tq, slot);
        hits.push_back(std::move(hit));
      }
    }
    if (plan) *plan = std::move(p);
    return hits;
  });
}

}  // namespace sextant
