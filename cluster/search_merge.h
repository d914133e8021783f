// Merging the shards' answers to one search into the collection's answer, as the single node
// would give it (docs/cluster.md, "Reads"). Every shard ranks its own points; the collection's
// best n points are the best n of the shards' best n, so the shaping that looks at the best
// `pool` candidates (group_by, mmr: SearchOptions in sextant/options.h) is done here, over the
// merged candidates, with the same rules as the engine:
//   group_by  groups formed greedily in rank order: up to k groups, each with its first
//             group_size members; output group after group
//   mmr       k picks, each maximising lambda * relevance - (1 - lambda) * max cosine similarity
//             to the picks so far (relevance: a dense cosine score as it is, any other score
//             min-max normalised over the pool, higher better)
#ifndef SEXTANT_CLUSTER_SEARCH_MERGE_H_
#define SEXTANT_CLUSTER_SEARCH_MERGE_H_

#include <cstddef>
#include <vector>

#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::cluster {

// Ids in the order ties are broken: numbers ascending, then strings in byte order.
bool IdBefore(const PointId& a, const PointId& b);

// The candidate pool the engine shapes from (SearchOptions::candidates, group_by, mmr).
size_t ShapingPool(const SearchOptions& options);

// Whether lower scores are better: a dense search under L2 (a distance).
bool LowerIsBetter(Metric metric, const SearchOptions& options);

// Every shard's hits, ranked by score (ties by id), at most `limit`.
std::vector<Hit> MergeRanked(std::vector<std::vector<Hit>> per_shard, bool lower_better, size_t limit);

// `ranked` (every hit with its Hit::group) grouped as the engine does: up to k groups in the
// order they first appear, each with its first group_size hits, output group after group.
std::vector<Hit> GroupRanked(const std::vector<Hit>& ranked, uint32_t k, uint32_t group_size);

// Maximal marginal relevance over `pool` (ranked, every hit with its vector of `dim` floats) with
// the engine's rule (sextant/shaping.h): the picks in order. Internal if a hit lacks its vector.
StatusOr<std::vector<Hit>> PickMmr(std::vector<Hit> pool, uint32_t k, float lambda, bool lower_better,
                                   bool cosine_scores, uint32_t dim);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_SEARCH_MERGE_H_
