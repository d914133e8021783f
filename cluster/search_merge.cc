#include "cluster/search_merge.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

namespace sextant::cluster {

bool IdBefore(const PointId& a, const PointId& b) {
  if (a.is_number() != b.is_number()) return a.is_number();
  if (a.is_number()) return a.number() < b.number();
  return a.str() < b.str();
}

size_t ShapingPool(const SearchOptions& o) {
  if (o.candidates != 0) return std::max<size_t>(o.candidates, o.k);
  if (!o.group_by.empty()) return std::max<size_t>(100, size_t{10} * o.k * std::max<uint32_t>(o.group_size, 1));
  if (o.mmr) return std::max<size_t>(100, size_t{10} * o.k);
  return o.k;
}

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

std::vector<Hit> PickMmr(std::vector<Hit> pool, uint32_t k, float lambda, bool lower_better, bool cosine_scores) {
  const size_t n = pool.size();
  if (n <= 1) return pool;
  std::vector<double> rel(n);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (size_t i = 0; i < n; ++i) {
    rel[i] = lower_better ? -static_cast<double>(pool[i].score) : pool[i].score;
    lo = std::min(lo, rel[i]);
    hi = std::max(hi, rel[i]);
  }
  if (!cosine_scores) {
    for (double& r : rel) r = hi > lo ? (r - lo) / (hi - lo) : 1.0;
  }
  auto dot = [](const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
  };
  std::vector<double> norm(n);
  for (size_t i = 0; i < n; ++i) norm[i] = std::sqrt(std::max(dot(pool[i].vector, pool[i].vector), 0.0));
  std::vector<double> max_sim(n, -1.0);
  std::vector<uint8_t> picked(n, 0);
  std::vector<Hit> out;
  const size_t want = std::min<size_t>(k, n);
  for (size_t round = 0; round < want; ++round) {
    size_t best = n;
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double value = lambda * rel[i] - (round == 0 ? 0.0 : (1 - lambda) * max_sim[i]);
      if (value > best_value) {
        best_value = value;
        best = i;
      }
    }
    picked[best] = 1;
    for (size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double denom = norm[i] * norm[best];
      const double sim = denom > 0 ? dot(pool[best].vector, pool[i].vector) / denom : 0.0;
      max_sim[i] = std::max(max_sim[i], sim);
    }
    out.push_back(std::move(pool[best]));
  }
  return out;
}

}  // namespace sextant::cluster
