// CollectionImpl's full-text and hybrid search (docs/text_search.md): Search and SearchBatch with
// SearchOptions::text. BM25 alone when no query vector is given; otherwise, for each query
// vector, the dense and the BM25 candidate lists (each restricted to the filter's matches) are
// fused.
#include <algorithm>
#include <cmath>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "index/flat.h"
#include "payload/filter.h"
#include "simd/distance.h"
#include "text/fusion.h"

namespace sextant {

using collection_internal::ScoreOf;

Status CollectionImpl::CheckTextOptions(const SearchOptions& options, bool hybrid) const {
  if (!hybrid) return Status::OK();
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
  return Status::OK();
}

StatusOr<std::vector<std::vector<Hit>>> CollectionImpl::TextSearchLocked(const SearchOptions& options,
                                                                         const float* q, size_t nq, const Matches& m,
                                                                         std::vector<SearchPlan>* plans) const {
  const size_t dim = desc_.dimension;
  if (!text_index_) {
    return Status::InvalidArgument("search: collection " + desc_.name +
                                   " has no text fields (declare text_fields when creating it)");
  }
  SEXTANT_ASSIGN_OR_RETURN(text::TextIndex::Query tq, text_index_->Prepare(options.text, options.text_fields));
  const bool hybrid = nq > 0;
  const size_t pool = PoolSize(options);
  const size_t n = hybrid && !Shaped(options) && options.candidates == 0 ? std::max<size_t>(pool, 100) : pool;
  const text::RankedList text_list = text_index_->Search(tq, m.mask, live_.size(), n);

  size_t result_bytes = 0;
  std::vector<std::vector<Hit>> results(hybrid ? nq : 1);
  std::vector<SearchPlan> p(results.size());
  if (!hybrid) {
    p[0].kind = SearchPlan::Kind::kExact;
    p[0].index = "BM25";
    p[0].matches = m.count;
    p[0].filter_from_index = m.from_index;
    std::vector<Candidate> ranked;
    ranked.reserve(text_list.size());
    for (const auto& [slot, score] : text_list) ranked.push_back({slot, score});
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Selected> selected, Select(options, ranked, true));
    for (Selected& sel : selected) {
      SEXTANT_ASSIGN_OR_RETURN(Hit hit, BudgetedHit(sel.slot, sel.score, options, &result_bytes));
      hit.text_score = sel.score;
      hit.group = std::move(sel.group);
      results[0].push_back(std::move(hit));
    }
  } else {
    std::vector<std::vector<index::Neighbor>> found;
    SEXTANT_RETURN_IF_ERROR(DenseNeighbors(options, n, q, nq, m, &found, &p));
    const simd::Kernels& kernels = simd::Active();
    for (size_t i = 0; i < nq; ++i) {
      p[i].index += "+BM25";
      const float* qi = q + i * dim;
      text::RankedList dense_list;
      dense_list.reserve(found[i].size());
      for (const index::Neighbor& nb : found[i]) dense_list.emplace_back(nb.slot, -nb.distance);  // higher is better
      const std::vector<text::Fused> fused =
          options.fusion == Fusion::kRrf ? text::FuseRrf(dense_list, text_list, options.rrf_k)
                                         : text::FuseWeighted(dense_list, text_list, options.dense_weight,
                                                              options.text_weight);
      std::vector<Candidate> ranked;
      ranked.reserve(fused.size());
      for (const text::Fused& f : fused) ranked.push_back({f.slot, f.score});
      SEXTANT_ASSIGN_OR_RETURN(std::vector<Selected> selected, Select(options, ranked, true));
      for (Selected& sel : selected) {
        const uint32_t slot = sel.slot;
        const float* row = store_.Row(slot);
        const float distance = desc_.metric == Metric::kL2 ? kernels.l2sq(qi, row, dim) : -kernels.dot(qi, row, dim);
        const float dense_score = ScoreOf(desc_.metric, distance);
        if (!std::isfinite(dense_score) || !std::isfinite(sel.score)) {
          // As in dense search: a vector stored before the norm limit may not score finitely.
          auto id = storage::DecodeId(slot_ids_[slot]);
          return Status::FailedPrecondition("search: point " + (id.ok() ? id->ToString() : std::string("?")) +
                                            " of collection " + desc_.name + " scores " + std::to_string(dense_score) +
                                            "; its vector's norm is above the limit of 1e18: upsert it again");
        }
        SEXTANT_ASSIGN_OR_RETURN(Hit hit, BudgetedHit(slot, sel.score, options, &result_bytes));
        hit.dense_score = dense_score;
        hit.text_score = text_index_->Score(tq, slot);
        hit.group = std::move(sel.group);
        results[i].push_back(std::move(hit));
      }
    }
  }
  if (plans) *plans = std::move(p);
  return results;
}

}  // namespace sextant
