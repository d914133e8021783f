// Result shaping shared by the engine's collections and by layers that merge several
// collections' answers (cluster/): how many candidates a shaped search ranks, and maximal
// marginal relevance over them (docs/text_search.md#result-shaping).
#ifndef SEXTANT_SHAPING_H_
#define SEXTANT_SHAPING_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "sextant/options.h"

namespace sextant::shaping {

// The candidates a search ranks before it is shaped: SearchOptions::candidates when set (at
// least k), else for group_by max(100, 10 * k * group_size), for mmr max(100, 10 * k), else k.
size_t PoolSize(const SearchOptions& options);

// Maximal marginal relevance: min(k, n) picks from n candidates, each maximising
//   lambda * relevance - (1 - lambda) * (max cosine similarity to the picks so far).
// `relevance[i]` is higher-better. With `cosine_relevance` it is used as it is (a cosine score);
// otherwise it is min-max normalised over the candidates first. `row(i)` is candidate i's
// vector of `dim` floats. Returns the picked candidates' indices, in pick order; ties go to the
// lower index (the better-ranked candidate).
std::vector<size_t> SelectMmr(const std::vector<double>& relevance, bool cosine_relevance, size_t k, double lambda,
                              uint32_t dim, const std::function<const float*(size_t)>& row);

}  // namespace sextant::shaping

#endif  // SEXTANT_SHAPING_H_
