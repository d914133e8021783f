// sextant/shaping.h: the candidate pool of a shaped search, and maximal marginal relevance.
#include "sextant/shaping.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "simd/distance.h"

namespace sextant::shaping {

size_t PoolSize(const SearchOptions& options) {
  if (options.candidates != 0) return std::max<size_t>(options.candidates, options.k);
  if (!options.group_by.empty()) {
    return std::max<size_t>(100, size_t{10} * options.k * std::max<uint32_t>(options.group_size, 1));
  }
  if (options.mmr) return std::max<size_t>(100, size_t{10} * options.k);
  return options.k;
}

std::vector<size_t> SelectMmr(const std::vector<double>& relevance, bool cosine_relevance, size_t k, double lambda,
                              uint32_t dim, const std::function<const float*(size_t)>& row) {
  const size_t n = relevance.size();
  std::vector<double> rel = relevance;
  if (!cosine_relevance) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (double r : rel) {
      lo = std::min(lo, r);
      hi = std::max(hi, r);
    }
    for (double& r : rel) r = hi > lo ? (r - lo) / (hi - lo) : 1.0;
  }
  const simd::Kernels& kernels = simd::Active();
  std::vector<float> norm(n);
  for (size_t i = 0; i < n; ++i) {
    const float* v = row(i);
    norm[i] = std::sqrt(std::max(kernels.dot(v, v, dim), 0.0f));
  }
  std::vector<double> max_sim(n, -1.0);  // to the picks so far; -1 before the first pick
  std::vector<uint8_t> picked(n, 0);
  std::vector<size_t> out;
  const size_t want = std::min(k, n);
  out.reserve(want);
  for (size_t round = 0; round < want; ++round) {
    size_t best = n;
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double value = lambda * rel[i] - (round == 0 ? 0.0 : (1 - lambda) * max_sim[i]);
      if (best == n || value > best_value) {
        best_value = value;
        best = i;
      }
    }
    picked[best] = 1;
    out.push_back(best);
    const float* chosen = row(best);
    for (size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const float denom = norm[i] * norm[best];
      const double sim = denom > 0 ? kernels.dot(chosen, row(i), dim) / denom : 0.0;
      max_sim[i] = std::max(max_sim[i], sim);
    }
  }
  return out;
}

}  // namespace sextant::shaping
