// CollectionImpl's reads: Get, Scan, and Search/SearchBatch with the planner that chooses between
// a (filtered) index walk and exact scoring of the matching points.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "collection/collection_impl.h"
#include "collection/collection_internal.h"
#include "index/flat.h"
#include "payload/filter.h"
#include "payload/filter_internal.h"
#include "payload/payload.h"
#include "payload/payload_edit.h"
#include "simd/distance.h"
#include "util/coding.h"

namespace sextant {

using storage::Cf;
using collection_internal::Guarded;
using collection_internal::ScoreOf;
using collection_internal::ValidateId;
using collection_internal::ValidateVector;

namespace {

std::string HexEncode(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}


// What one hit or scanned point counts against SearchOptions::max_result_bytes and
// ScanOptions::max_page_bytes: about what it takes on the wire.
size_t ResultBytes(size_t encoded_id_bytes, size_t payload_bytes, size_t floats) {
  return 24 + encoded_id_bytes + payload_bytes + floats * sizeof(float);
}

Status ResultsTooLarge(const SearchOptions& options) {
  return Status::ResourceExhausted("search: the results would exceed " + std::to_string(options.max_result_bytes) +
                                   " bytes; ask for fewer hits (k, or fewer queries per batch)" +
                                   (options.with_vector || options.with_payload
                                        ? std::string(" or leave out vectors and payloads")
                                        : std::string()));
}


// Exact search is cheaper than a filtered index walk when few points match. A filtered HNSW walk
// computes about kWalkDistancesPerEf * ef / selectivity distances (measured on siftsmall and
// synthetic sets: 4 to 8 x ef / selectivity, bench/README.md); scoring the matches costs
// `matches` distances. They are equal near matches^2 = kWalkDistancesPerEf * ef * live.
constexpr double kWalkDistancesPerEf = 8.0;

bool ExactIsCheaper(const IndexOptions& o, uint32_t ef, uint32_t nprobe, uint64_t matches, uint64_t live) {
  if (o.type == IndexType::kHnsw) {
    const double ef_used = ef ? ef : o.ef_search;
    return static_cast<double>(matches) * static_cast<double>(matches) <=
           kWalkDistancesPerEf * ef_used * static_cast<double>(live);
  }
  if (o.type == IndexType::kIvf) {
    // An IVF probe scans about nprobe / nlist of the points whatever the filter.
    const double probed = static_cast<double>(nprobe ? nprobe : o.nprobe) / std::max<uint32_t>(o.nlist, 1);
    return static_cast<double>(matches) <= probed * static_cast<double>(live);
  }
  return true;
}

}  // namespace

StatusOr<std::string> CollectionImpl::ReadPayload(uint32_t slot) const {
  SEXTANT_ASSIGN_OR_RETURN(auto value, env_.storage->Get(Cf::kPayloads, storage::SlotKey(desc_.id, slot)));
  return value ? std::move(*value) : std::string("{}");
}

StatusOr<Point> CollectionImpl::Get(const PointId& id) const {
  return Guarded("get", [&]() -> StatusOr<Point> {
    SEXTANT_RETURN_IF_ERROR(ValidateId(id).WithPrefix("get"));
    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    auto it = id_slot_.find(storage::EncodeId(id));
    if (it == id_slot_.end()) return Status::NotFound("point " + id.ToString() + " not found in collection " + desc_.name);
    Point p;
    p.id = id;
    const float* v = store_.Row(it->second);
    p.vector.assign(v, v + desc_.dimension);
    SEXTANT_ASSIGN_OR_RETURN(p.payload, ReadPayload(it->second));
    return p;
  });
}

StatusOr<ScanPage> CollectionImpl::Scan(const ScanOptions& options) const {
  return Guarded("scan", [&]() -> StatusOr<ScanPage> {
    if (options.limit == 0 || options.limit > 100000) {
      return Status::InvalidArgument("scan: limit must be 1..100000, got " + std::to_string(options.limit));
    }
    std::string after;
    if (!options.cursor.empty() && (!HexDecode(options.cursor, &after) || after.empty())) {
      return Status::InvalidArgument("scan: cursor is not one this collection returned");
    }
    std::optional<payload::Filter> filter;
    if (!options.filter.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(filter, payload::Filter::Parse(options.filter));
      if (filter->MatchesAll()) filter.reset();
    }

    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    if (filter) {
      SEXTANT_ASSIGN_OR_RETURN(filter, BindFilter(*filter));
    }
    ScanPage page;
    size_t page_bytes = 0;
    std::string begin = after.empty() ? prefix_ : storage::IdKey(desc_.id, after) + '\0';
    Status bad;
    SEXTANT_RETURN_IF_ERROR(env_.storage->Scan(
        Cf::kIds, begin, storage::CollectionPrefix(desc_.id + 1), [&](std::string_view k, std::string_view v) {
          const uint32_t slot = internal::DecodeFixed32LE(v.data());
          std::string_view encoded = k.substr(prefix_.size());
          auto text = ReadPayload(slot);
          if (!text.ok()) {
            bad = text.status();
            return false;
          }
          if (filter && !filter->Matches(payload::ParseStored(*text))) return true;
          const size_t point_bytes =
              ResultBytes(encoded.size(), text->size(), options.with_vector ? desc_.dimension : 0);
          if (page.points.size() == options.limit ||
              (options.max_page_bytes != 0 && !page.points.empty() &&
               page_bytes + point_bytes > options.max_page_bytes)) {  // one more exists: not the last page
            page.next_cursor = HexEncode(storage::EncodeId(page.points.back().id));
            return false;
          }
          auto id = storage::DecodeId(encoded);
          if (!id.ok()) {
            bad = id.status();
            return false;
          }
          page_bytes += point_bytes;
          std::vector<float> vector;
          if (options.with_vector) {
            const float* vec = store_.Row(slot);
            vector.assign(vec, vec + desc_.dimension);
          }
          page.points.push_back(Point{std::move(*id), std::move(vector), std::move(*text)});
          return true;
        }));
    SEXTANT_RETURN_IF_ERROR(bad);
    return page;
  });
}

std::vector<index::VectorRun> CollectionImpl::Runs() const {
  std::vector<index::VectorRun> runs;
  store_.ForEachRun(slots_, [&](uint32_t first, size_t rows, const float* data) { runs.push_back({first, rows, data}); });
  return runs;
}

StatusOr<payload::Filter> CollectionImpl::BindFilter(const payload::Filter& filter) const {
  if (!payload::internal::HasText(filter)) return filter;
  return payload::internal::BindText(
      filter, [&](const std::string& field, const std::string& text,
                  payload::internal::TextMode mode) SEXTANT_REQUIRES_SHARED(mu_)
          -> StatusOr<std::shared_ptr<const payload::internal::TextPredicate>> {
        if (!text_index_) {
          return Status::InvalidArgument("filter: $text on field " + field + ", which has no text index (collection " +
                                         desc_.name + " has no text fields)");
        }
        SEXTANT_ASSIGN_OR_RETURN(auto match, text_index_->Bind(field, text, mode, live_.size()));
        return std::shared_ptr<const payload::internal::TextPredicate>(std::move(match));
      });
}

StatusOr<CollectionImpl::Matches> CollectionImpl::FilterMatches(const std::optional<payload::Filter>& unbound) const {
  Matches m;
  if (!unbound) {
    m.mask = live_.data();
    m.count = id_slot_.size();
    return m;
  }
  m.filtered = true;
  SEXTANT_ASSIGN_OR_RETURN(const payload::Filter bound, BindFilter(*unbound));
  const payload::Filter* filter = &bound;
  // Payload indexes first: they may answer the filter alone, or narrow it to a few candidates.
  std::optional<payload::PayloadIndexSet::Narrowed> narrowed;
  if (payload_index_) narrowed = payload_index_->Narrow(*filter, live_.data(), live_.size());
  // The text index narrows by the $text conditions every match needs (a superset of their
  // matches: each payload is still checked).
  for (const payload::internal::TextPredicate* p : payload::internal::RequiredText(*filter)) {
    const auto* match = dynamic_cast<const text::TextMatch*>(p);
    if (match == nullptr) continue;
    if (!narrowed) {
      narrowed.emplace();
      narrowed->mask.assign(live_.begin(), live_.end());
    }
    narrowed->exact = false;
    const std::vector<uint8_t>& c = match->candidates();
    narrowed->count = 0;
    for (size_t s = 0; s < narrowed->mask.size(); ++s) {
      narrowed->mask[s] = (narrowed->mask[s] && s < c.size() && c[s]) ? 1 : 0;
      narrowed->count += narrowed->mask[s];
    }
  }
  if (narrowed && narrowed->exact) {
    m.owned = std::move(narrowed->mask);
    m.count = narrowed->count;
    m.from_index = true;
  } else if (narrowed && narrowed->count <= slots_ / 8) {
    // Few candidates: read each one's payload.
    m.owned = std::move(narrowed->mask);
    for (uint32_t s = 0; s < slots_; ++s) {
      if (!m.owned[s]) continue;
      SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadPayload(s));
      m.owned[s] = filter->Matches(payload::ParseStored(text)) ? 1 : 0;
      m.count += m.owned[s];
    }
  } else {
    // Read every payload. Points without one have {} as payload; most filters reject it, but
    // $ne, $nin and $exists: false accept it.
    const uint8_t* candidates = narrowed ? narrowed->mask.data() : live_.data();
    const uint8_t empty_matches = filter->Matches(nlohmann::json::object()) ? 1 : 0;
    m.owned.assign(live_.size(), 0);
    for (size_t i = 0; i < m.owned.size(); ++i) m.owned[i] = candidates[i] & empty_matches;
    SEXTANT_RETURN_IF_ERROR(env_.storage->Scan(Cf::kPayloads, prefix_, storage::CollectionPrefix(desc_.id + 1),
                                               [&](std::string_view k, std::string_view v) {
      const uint32_t slot = internal::DecodeFixed32BE(k.data() + prefix_.size());
      if (slot < m.owned.size() && candidates[slot]) m.owned[slot] = filter->Matches(payload::ParseStored(v)) ? 1 : 0;
      return true;
    }));
    for (uint8_t b : m.owned) m.count += b;
  }
  m.mask = m.owned.data();
  return m;
}

Status CollectionImpl::DenseNeighbors(const SearchOptions& options, size_t k, const float* q, size_t nq,
                                      const Matches& m, std::vector<std::vector<index::Neighbor>>* found_out,
                                      std::vector<SearchPlan>* plan_out) const {
  const size_t dim = desc_.dimension;
  auto& found = *found_out;
  auto& plan = *plan_out;
  found.assign(nq, {});
  plan.assign(nq, SearchPlan());
  const size_t want = std::min<uint64_t>(k, m.count);

  // Plan: the index for unfiltered searches and for filters that match many points; exact
  // scoring when asked, when there is no (trained) index, or when few points match.
  const bool use_index = index_ && !options.exact && want > 0 &&
                         (!m.filtered || !ExactIsCheaper(desc_.index, options.ef_search, options.nprobe, m.count,
                                                         id_slot_.size()));
  std::vector<size_t> exact_queries;
  if (use_index) {
    index::IndexSearchParams params;
    params.k = want;
    params.ef_search = options.ef_search;
    params.nprobe = options.nprobe;
    params.mask = m.mask;
    params.mask_size = live_.size();
    params.allowed = m.count;
    for (size_t i = 0; i < nq; ++i) {
      index::IndexSearchStats stats;
      SEXTANT_RETURN_IF_ERROR(index_->Search(q + i * dim, params, &found[i], &stats).WithPrefix("search"));
      plan[i].kind = SearchPlan::Kind::kIndex;
      plan[i].index = index_spec_;
      plan[i].distance_computations = stats.distance_computations;
      plan[i].effort = stats.effort;
      if (found[i].size() < want) exact_queries.push_back(i);  // the walk came up short
    }
  } else {
    for (size_t i = 0; i < nq; ++i) exact_queries.push_back(i);
  }
  if (!exact_queries.empty() && want > 0) {
    // Few matches: gather them; otherwise scan everything under the mask.
    std::vector<uint32_t> list;
    if (m.count <= slots_ / 8) {
      list.reserve(m.count);
      for (uint32_t s = 0; s < slots_; ++s) {
        if (m.mask[s]) list.push_back(s);
      }
    }
    const auto runs = Runs();
    std::vector<float> gathered;
    if (list.empty() && exact_queries.size() >= index::kBatchedScoringMinQueries) {
      gathered.reserve(exact_queries.size() * dim);
      for (size_t i : exact_queries) gathered.insert(gathered.end(), q + i * dim, q + (i + 1) * dim);
      std::vector<std::vector<index::Neighbor>> batch;
      index::ExactSearch(runs, dim, desc_.metric, m.mask, gathered.data(), exact_queries.size(), want, &batch);
      for (size_t j = 0; j < exact_queries.size(); ++j) found[exact_queries[j]] = std::move(batch[j]);
    } else {
      for (size_t i : exact_queries) {
        if (!list.empty()) {
          index::ExactSearchSlots(list, [&](uint32_t s) { return store_.Row(s); }, dim, desc_.metric, q + i * dim, want,
                                  &found[i]);
        } else {
          std::vector<std::vector<index::Neighbor>> one;
          index::ExactSearch(runs, dim, desc_.metric, m.mask, q + i * dim, 1, want, &one);
          found[i] = std::move(one[0]);
        }
      }
    }
    for (size_t i : exact_queries) {
      plan[i].distance_computations += list.empty() ? slots_ : list.size();
      plan[i].kind = SearchPlan::Kind::kExact;
      plan[i].index = "Flat";
      plan[i].effort = 0;
    }
  }
  for (size_t i = 0; i < nq; ++i) {
    plan[i].matches = m.count;
    plan[i].filter_from_index = m.from_index;
  }
  return Status::OK();
}

StatusOr<Hit> CollectionImpl::MakeHit(uint32_t slot, float score, const SearchOptions& options) const {
  Hit hit;
  SEXTANT_ASSIGN_OR_RETURN(hit.id, storage::DecodeId(slot_ids_[slot]));
  hit.score = score;
  if (options.with_vector) {
    const float* v = store_.Row(slot);
    hit.vector.assign(v, v + desc_.dimension);
  }
  if (options.with_payload) {
    SEXTANT_ASSIGN_OR_RETURN(hit.payload, ReadPayload(slot));
    if (!options.payload_include.empty() || !options.payload_exclude.empty()) {
      hit.payload = payload::Project(hit.payload, options.payload_include, options.payload_exclude);
    }
  }
  return hit;
}
StatusOr<Hit> CollectionImpl::BudgetedHit(uint32_t slot, float score, const SearchOptions& options,
                                          size_t* result_bytes) const {
  if (options.max_result_bytes != 0) {
    // The payload's size is known only once read: check the fixed part first, then again.
    *result_bytes += ResultBytes(slot_ids_[slot].size(), 0, options.with_vector ? desc_.dimension : 0);
    if (*result_bytes > options.max_result_bytes) return ResultsTooLarge(options);
  }
  SEXTANT_ASSIGN_OR_RETURN(Hit hit, MakeHit(slot, score, options));
  *result_bytes += hit.payload.size();
  if (options.max_result_bytes != 0 && *result_bytes > options.max_result_bytes) return ResultsTooLarge(options);
  return hit;
}

StatusOr<std::vector<std::vector<Hit>>> CollectionImpl::SearchBatch(const SearchOptions& options,
                                                                    std::span<const float> queries,
                                                                    std::vector<SearchPlan>* plans) const {
  return Guarded("search", [&]() -> StatusOr<std::vector<std::vector<Hit>>> {
    const size_t dim = desc_.dimension;
    const bool with_text = !options.text.empty();
    if (options.k == 0) return Status::InvalidArgument("search: k must be at least 1");
    if ((queries.empty() && !with_text) || queries.size() % dim != 0) {
      return Status::InvalidArgument("search: query has " + std::to_string(queries.size()) +
                                     " floats, expected a multiple of the dimension " + std::to_string(dim));
    }
    const size_t nq = queries.size() / dim;
    std::vector<float> normalized;
    const float* q = queries.data();
    if (desc_.metric == Metric::kCosine) {
      normalized.assign(queries.begin(), queries.end());
      q = normalized.data();
    }
    for (size_t i = 0; i < nq; ++i) {
      const std::string label = nq == 1 ? "search: query" : "search: query " + std::to_string(i);
      SEXTANT_RETURN_IF_ERROR(ValidateVector(queries.data() + i * dim, dim, "vector").WithPrefix(label));
      if (desc_.metric == Metric::kCosine && simd::Normalize(normalized.data() + i * dim, dim) == 0.0f) {
        return Status::InvalidArgument(label + ": vector is all zeros, which has no direction for the cosine metric");
      }
    }
    SEXTANT_RETURN_IF_ERROR(payload::ValidatePaths(options.payload_include, "payload_include").WithPrefix("search"));
    SEXTANT_RETURN_IF_ERROR(payload::ValidatePaths(options.payload_exclude, "payload_exclude").WithPrefix("search"));
    if (with_text) SEXTANT_RETURN_IF_ERROR(CheckTextOptions(options, nq > 0));
    SEXTANT_RETURN_IF_ERROR(CheckShaping(options));
    std::optional<payload::Filter> filter;
    if (!options.filter.empty()) {
      auto parsed = payload::Filter::Parse(options.filter);
      if (!parsed.ok()) return parsed.status();
      if (!parsed->MatchesAll()) filter = std::move(*parsed);
    }

    internal::ReaderLock<internal::RwMutex> lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    if (with_text && !text_index_) {
      return Status::InvalidArgument("search: collection " + desc_.name +
                                     " has no text fields (declare text_fields when creating it)");
    }
    SEXTANT_ASSIGN_OR_RETURN(Matches m, FilterMatches(filter));
    if (with_text) return TextSearchLocked(options, q, nq, m, plans);
    std::vector<std::vector<index::Neighbor>> found;
    std::vector<SearchPlan> plan;
    SEXTANT_RETURN_IF_ERROR(DenseNeighbors(options, PoolSize(options), q, nq, m, &found, &plan));

    std::vector<std::vector<Hit>> results(nq);
    size_t result_bytes = 0;
    for (size_t i = 0; i < nq; ++i) {
      std::vector<Candidate> ranked;
      ranked.reserve(found[i].size());
      for (const index::Neighbor& nb : found[i]) {
        const float score = ScoreOf(desc_.metric, nb.distance);
        if (!std::isfinite(score)) {
          // Validated vectors always score finitely (CollectionOptions::kMaxVectorNorm); a stored
          // vector written before that limit may not. Never rank such a score.
          auto id = storage::DecodeId(slot_ids_[nb.slot]);
          return Status::FailedPrecondition("search: point " + (id.ok() ? id->ToString() : std::string("?")) +
                                            " of collection " + desc_.name + " scores " + std::to_string(score) +
                                            "; its vector's norm is above the limit of 1e18: upsert it again");
        }
        ranked.push_back({nb.slot, score});
      }
      SEXTANT_ASSIGN_OR_RETURN(std::vector<Selected> selected, Select(options, ranked, desc_.metric != Metric::kL2,
                                                                               desc_.metric == Metric::kCosine));
      results[i].reserve(selected.size());
      for (Selected& sel : selected) {
        SEXTANT_ASSIGN_OR_RETURN(Hit hit, BudgetedHit(sel.slot, sel.score, options, &result_bytes));
        hit.dense_score = hit.score;
        hit.group = std::move(sel.group);
        results[i].push_back(std::move(hit));
      }
    }
    if (plans) *plans = std::move(plan);
    return results;
  });
}

StatusOr<std::vector<Hit>> CollectionImpl::Search(const SearchOptions& options, std::span<const float> query,
                                                  SearchPlan* plan) const {
  if (query.size() != desc_.dimension && !(query.empty() && !options.text.empty())) {
    return Status::InvalidArgument("search: query has " + std::to_string(query.size()) +
                                   " floats, expected the dimension " + std::to_string(desc_.dimension));
  }
  std::vector<SearchPlan> plans;
  SEXTANT_ASSIGN_OR_RETURN(auto results, SearchBatch(options, query, plan ? &plans : nullptr));
  if (plan) *plan = std::move(plans[0]);
  return std::move(results[0]);
}

}  // namespace sextant
