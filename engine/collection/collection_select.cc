// CollectionImpl's result shaping (docs/text_search.md#result-shaping): score_threshold, group_by
// with group_size, and maximal marginal relevance, applied alike to the ranked candidates of a
// dense, a text or a hybrid search before the hits are made.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "payload/filter_internal.h"
#include "payload/payload.h"
#include "sextant/shaping.h"

namespace sextant {

bool CollectionImpl::Shaped(const SearchOptions& options) { return !options.group_by.empty() || options.mmr; }

size_t CollectionImpl::PoolSize(const SearchOptions& options) { return shaping::PoolSize(options); }

Status CollectionImpl::CheckShaping(const SearchOptions& options) {
  if (options.score_threshold && !std::isfinite(*options.score_threshold)) {
    return Status::InvalidArgument("search: score_threshold must be finite");
  }
  if (!options.group_by.empty()) {
    std::vector<std::string> path;
    if (!payload::internal::SplitPath(options.group_by, &path)) {
      return Status::InvalidArgument("search: group_by '" + options.group_by + "' is not a field path");
    }
    if (options.group_size == 0 || options.group_size > SearchOptions::kMaxGroupSize) {
      return Status::InvalidArgument("search: group_size must be 1.." + std::to_string(SearchOptions::kMaxGroupSize) +
                                     ", got " + std::to_string(options.group_size));
    }
    if (options.mmr) return Status::InvalidArgument("search: mmr and group_by cannot be combined; choose one");
  }
  if (options.mmr && !(options.mmr_lambda >= 0.0f && options.mmr_lambda <= 1.0f)) {
    return Status::InvalidArgument("search: mmr_lambda must be in [0, 1], got " + std::to_string(options.mmr_lambda));
  }
  return Status::OK();
}

StatusOr<std::vector<CollectionImpl::Selected>> CollectionImpl::Select(const SearchOptions& options,
                                                                      const std::vector<Candidate>& ranked,
                                                                      bool higher_better, bool cosine_scores) const {
  // Threshold first: it removes candidates, never reorders them.
  std::vector<Candidate> pool;
  pool.reserve(ranked.size());
  for (const Candidate& c : ranked) {
    if (options.score_threshold &&
        (higher_better ? c.score < *options.score_threshold : c.score > *options.score_threshold)) {
      continue;
    }
    pool.push_back(c);
  }
  std::vector<Selected> out;
  if (!options.group_by.empty()) {
    std::vector<std::string> path;
    payload::internal::SplitPath(options.group_by, &path);
    std::unordered_map<std::string, size_t> group_of;
    std::vector<std::vector<const Candidate*>> groups;
    std::vector<std::string> keys;
    size_t full = 0;
    for (const Candidate& c : pool) {
      if (groups.size() == options.k && full == groups.size()) break;
      SEXTANT_ASSIGN_OR_RETURN(std::string stored, ReadPayload(c.slot));
      const nlohmann::json value = payload::ParseStored(stored);
      const nlohmann::json* v = payload::internal::LookupPath(value, path);
      if (v == nullptr || !(v->is_string() || v->is_number_integer() || v->is_boolean())) continue;
      std::string key = v->dump();
      auto it = group_of.find(key);
      if (it == group_of.end()) {
        if (groups.size() == options.k) continue;
        it = group_of.emplace(key, groups.size()).first;
        groups.emplace_back();
        keys.push_back(std::move(key));
      }
      auto& members = groups[it->second];
      if (members.size() == options.group_size) continue;
      members.push_back(&c);
      if (members.size() == options.group_size) ++full;
    }
    for (size_t g = 0; g < groups.size(); ++g) {
      for (const Candidate* c : groups[g]) out.push_back({c->slot, c->score, keys[g]});
    }
    return out;
  }
  if (options.mmr && pool.size() > 1) {
    // Relevance: a cosine similarity as it is (the classic form); any other score, higher is
    // better, min-max normalised over the pool (sextant/shaping.h).
    std::vector<double> rel(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) rel[i] = higher_better ? pool[i].score : -static_cast<double>(pool[i].score);
    const auto picks = shaping::SelectMmr(rel, cosine_scores, options.k, options.mmr_lambda, desc_.dimension,
                                          [&](size_t i) { return store_.Row(pool[i].slot); });
    for (size_t i : picks) out.push_back({pool[i].slot, pool[i].score, {}});
    return out;
  }
  for (size_t i = 0; i < pool.size() && out.size() < options.k; ++i) out.push_back({pool[i].slot, pool[i].score, {}});
  return out;
}

}  // namespace sextant
