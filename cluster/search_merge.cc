#include "cluster/search_merge.h"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "sextant/shaping.h"

namespace sextant::cluster {

bool IdBefore(const PointId& a, const PointId& b) {
  if (a.is_number() != b.is_number()) return a.is_number();
  if (a.is_number()) return a.number() < b.number();
  return a.str() < b.str();
}

size_t ShapingPool(const SearchOptions& o) { return shaping::PoolSize(o); }

bool LowerIsBetter(Metric metric, const SearchOptions& o) { return metric == Metric::kL2 && o.text.empty(); }

std::vector<Hit> MergeRanked(std::vector<std::vector<Hit>> per_shard, bool lower_better, size_t limit) {
  std::vector<Hit> all;
  for (auto& hits : per_shard) {
    for (auto& h : hits) all.push_back(std::move(h));
  }
  std::sort(all.begin(), all.end(), [&](const Hit& a, const Hit& b) {
    if (a.score != b.score) return lower_better ? a.score < b.score : a.score > b.score;
    return IdBefore(a.id, b.id);
  });
  if (all.size() > limit) all.resize(limit);
  return all;
}

std::vector<Hit> GroupRanked(const std::vector<Hit>& ranked, uint32_t k, uint32_t group_size) {
  std::unordered_map<std::string, size_t> group_of;
  std::vector<std::vector<const Hit*>> groups;
  size_t full = 0;
  for (const Hit& h : ranked) {
    if (groups.size() == k && full == groups.size()) break;
    auto it = group_of.find(h.group);
    if (it == group_of.end()) {
      if (groups.size() == k) continue;
      it = group_of.emplace(h.group, groups.size()).first;
      groups.emplace_back();
    }
    auto& members = groups[it->second];
    if (members.size() == group_size) continue;
    members.push_back(&h);
    if (members.size() == group_size) ++full;
  }
  std::vector<Hit> out;
  for (const auto& g : groups) {
    for (const Hit* h : g) out.push_back(*h);
  }
  return out;
}

StatusOr<std::vector<Hit>> PickMmr(std::vector<Hit> pool, uint32_t k, float lambda, bool lower_better,
                                   bool cosine_scores, uint32_t dim) {
  if (pool.size() <= 1) return pool;
  std::vector<double> rel(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) {
    if (pool[i].vector.size() != dim) {
      return Status::Internal("search: a shard returned a hit with " + std::to_string(pool[i].vector.size()) +
                              " vector components for mmr, expected " + std::to_string(dim));
    }
    rel[i] = lower_better ? -static_cast<double>(pool[i].score) : pool[i].score;
  }
  const auto picks =
      shaping::SelectMmr(rel, cosine_scores, k, lambda, dim, [&](size_t i) { return pool[i].vector.data(); });
  std::vector<Hit> out;
  out.reserve(picks.size());
  for (size_t i : picks) out.push_back(std::move(pool[i]));
  return out;
}

}  // namespace sextant::cluster
