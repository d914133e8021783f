#include "collection/collection_impl.h"

#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <unordered_set>

#include "index/flat.h"
#include "payload/filter.h"
#include "payload/payload.h"
#include "simd/distance.h"
#include "util/coding.h"

namespace sextant {
namespace {

using storage::Cf;

// Runs a public entry point's body, turning anything thrown by a dependency (std::bad_alloc
// above all) into a Status: the engine never throws at its callers.
template <typename F>
auto Guarded(std::string_view what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  }
}

// "point 57 (id \"abc\")" or "point 3 (id 7)": how errors name a point of a batch.
std::string PointLabel(size_t index, const PointId& id) {
  std::string out = "point " + std::to_string(index) + " (id ";
  if (id.is_number()) {
    out += std::to_string(id.number());
  } else {
    std::string s = id.str().size() > 64 ? id.str().substr(0, 64) + "..." : id.str();
    out += "\"" + s + "\"";
  }
  return out + ")";
}

Status ValidateId(const PointId& id) {
  if (id.is_string()) {
    if (id.str().empty()) return Status::InvalidArgument("id is an empty string");
    if (id.str().size() > PointId::kMaxIdBytes) {
      return Status::InvalidArgument("id is " + std::to_string(id.str().size()) +
                                     " bytes, over the limit of " +
                                     std::to_string(PointId::kMaxIdBytes));
    }
  }
  return Status::OK();
}

// Checks that every component is finite; names the first one that is not.
Status ValidateVector(const float* v, size_t dim, std::string_view field) {
  for (size_t j = 0; j < dim; ++j) {
    if (!std::isfinite(v[j])) {
      return Status::InvalidArgument(std::string(field) + "[" + std::to_string(j) + "] is " +
                                     (std::isnan(v[j]) ? "NaN" : "infinite"));
    }
  }
  return Status::OK();
}

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

float ScoreOf(Metric metric, float distance) { return metric == Metric::kL2 ? distance : -distance; }

}  // namespace

CollectionImpl::CollectionImpl(storage::Storage* storage, CollectionDescriptor descriptor,
                               CollectionLimits limits)
    : storage_(storage),
      desc_(std::move(descriptor)),
      limits_(limits),
      prefix_(storage::CollectionPrefix(desc_.id)) {}

StatusOr<std::shared_ptr<CollectionImpl>> CollectionImpl::Load(storage::Storage* storage,
                                                               CollectionDescriptor descriptor,
                                                               CollectionLimits limits) {
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(storage, std::move(descriptor), limits));
  const std::string end = storage::CollectionPrefix(c->desc_.id + 1);
  const size_t dim = c->desc_.dimension;
  Status bad;

  SEXTANT_RETURN_IF_ERROR(storage->Scan(Cf::kIds, c->prefix_, end, [&](std::string_view k, std::string_view v) {
    if (v.size() != 4 || k.size() <= c->prefix_.size()) {
      bad = Status::DataLoss("collection " + c->desc_.name + ": corrupt id entry");
      return false;
    }
    const uint32_t slot = internal::DecodeFixed32LE(v.data());
    if (slot >= c->slots_) {
      c->slots_ = slot + 1;
      c->slot_ids_.resize(c->slots_);
    }
    std::string encoded(k.substr(c->prefix_.size()));
    if (!c->slot_ids_[slot].empty()) {
      bad = Status::DataLoss("collection " + c->desc_.name + ": two ids share slot " + std::to_string(slot));
      return false;
    }
    c->slot_ids_[slot] = encoded;
    c->id_slot_.emplace(std::move(encoded), slot);
    return true;
  }));
  SEXTANT_RETURN_IF_ERROR(bad);

  c->vectors_.assign(size_t{c->slots_} * dim, 0.0f);
  c->live_.assign(c->slots_, 0);
  SEXTANT_RETURN_IF_ERROR(storage->Scan(Cf::kVectors, c->prefix_, end, [&](std::string_view k, std::string_view v) {
    if (k.size() != c->prefix_.size() + 4) {
      bad = Status::DataLoss("collection " + c->desc_.name + ": corrupt vector key");
      return false;
    }
    const uint32_t slot = internal::DecodeFixed32BE(k.data() + c->prefix_.size());
    if (slot >= c->slots_ || c->slot_ids_[slot].empty()) return true;  // no id: not a point
    if (v.size() != dim * sizeof(float)) {
      bad = Status::DataLoss("collection " + c->desc_.name + ": vector of slot " + std::to_string(slot) +
                             " has " + std::to_string(v.size()) + " bytes, expected " +
                             std::to_string(dim * sizeof(float)));
      return false;
    }
    std::memcpy(c->vectors_.data() + size_t{slot} * dim, v.data(), v.size());
    c->live_[slot] = 1;
    return true;
  }));
  SEXTANT_RETURN_IF_ERROR(bad);

  for (uint32_t slot = c->slots_; slot-- > 0;) {
    if (c->slot_ids_[slot].empty()) {
      c->free_slots_.push_back(slot);  // reused lowest first
    } else if (!c->live_[slot]) {
      return Status::DataLoss("collection " + c->desc_.name + ": point in slot " + std::to_string(slot) +
                              " has no vector");
    }
  }
  return c;
}

Status CollectionImpl::CheckOpen() const {
  switch (state_) {
    case State::kOpen: return Status::OK();
    case State::kDropped: return Status::NotFound("collection " + desc_.name + " was dropped");
    case State::kClosed:
      return Status::FailedPrecondition("collection " + desc_.name + ": its database is closed");
  }
  return Status::Internal("bad collection state");
}

void CollectionImpl::MarkDropped() {
  std::unique_lock lock(mu_);
  state_ = State::kDropped;
  vectors_ = {};
  live_ = {};
  slot_ids_ = {};
  id_slot_ = {};
  free_slots_ = {};
  slots_ = 0;
}

void CollectionImpl::MarkClosed() {
  std::unique_lock lock(mu_);
  if (state_ == State::kOpen) state_ = State::kClosed;
}

void CollectionImpl::EnsureCapacity(uint32_t slots) {
  if (live_.size() >= slots) return;
  size_t grown = std::max<size_t>(slots, live_.size() + live_.size() / 2);
  vectors_.resize(grown * desc_.dimension);
  live_.resize(grown, 0);
  slot_ids_.resize(grown);
}

Status CollectionImpl::Upsert(const WriteOptions& options, std::span<const PointId> ids,
                              std::span<const float> vectors, std::span<const std::string> payloads) {
  return Guarded("upsert", [&]() -> Status {
    const size_t n = ids.size();
    const size_t dim = desc_.dimension;
    if (n == 0) return Status::InvalidArgument("upsert: the batch is empty");
    if (vectors.size() != n * dim) {
      return Status::InvalidArgument("upsert: vectors holds " + std::to_string(vectors.size()) +
                                     " floats, expected " + std::to_string(n * dim) + " (" +
                                     std::to_string(n) + " ids x dimension " + std::to_string(dim) + ")");
    }
    if (!payloads.empty() && payloads.size() != n) {
      return Status::InvalidArgument("upsert: " + std::to_string(payloads.size()) + " payloads for " +
                                     std::to_string(n) + " ids");
    }

    // Validate everything before touching anything, so a bad point writes nothing.
    std::vector<float> normalized;
    const float* rows = vectors.data();
    if (desc_.metric == Metric::kCosine) {
      normalized.assign(vectors.begin(), vectors.end());
      rows = normalized.data();
    }
    std::vector<std::string> encoded(n), compact(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string label = "upsert: " + PointLabel(i, ids[i]);
      SEXTANT_RETURN_IF_ERROR(ValidateId(ids[i]).WithPrefix(label));
      SEXTANT_RETURN_IF_ERROR(ValidateVector(vectors.data() + i * dim, dim, "vector").WithPrefix(label));
      if (desc_.metric == Metric::kCosine &&
          simd::Normalize(normalized.data() + i * dim, dim) == 0.0f) {
        return Status::InvalidArgument(label + ": vector is all zeros, which has no direction for the cosine metric");
      }
      std::string_view text = payloads.empty() ? std::string_view() : std::string_view(payloads[i]);
      SEXTANT_RETURN_IF_ERROR(
          payload::ValidatePayload(text, limits_.max_payload_bytes, &compact[i]).WithPrefix(label + ": payload"));
      encoded[i] = storage::EncodeId(ids[i]);
    }

    std::unique_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());

    // Plan slots. When an id repeats within the batch, its last occurrence wins.
    struct Planned {
      size_t index;
      uint32_t slot;
      bool is_new;
    };
    std::vector<Planned> plan;
    plan.reserve(n);
    std::unordered_set<std::string_view> seen;
    size_t free_used = 0;
    uint64_t next_slot = slots_;
    for (size_t i = n; i-- > 0;) {
      if (!seen.insert(encoded[i]).second) continue;
      auto it = id_slot_.find(encoded[i]);
      if (it != id_slot_.end()) {
        plan.push_back({i, it->second, false});
      } else if (free_used < free_slots_.size()) {
        plan.push_back({i, free_slots_[free_slots_.size() - 1 - free_used++], true});
      } else {
        if (next_slot > UINT32_MAX) {
          return Status::ResourceExhausted("upsert: collection " + desc_.name + " is full (2^32 points)");
        }
        plan.push_back({i, static_cast<uint32_t>(next_slot++), true});
      }
    }

    storage::Batch batch;
    for (const Planned& p : plan) {
      const std::string slot_key = storage::SlotKey(desc_.id, p.slot);
      if (p.is_new) {
        std::string slot_value;
        internal::PutFixed32LE(&slot_value, p.slot);
        batch.Put(Cf::kIds, storage::IdKey(desc_.id, encoded[p.index]), slot_value);
      }
      batch.Put(Cf::kVectors, slot_key,
                std::string_view(reinterpret_cast<const char*>(rows + p.index * dim), dim * sizeof(float)));
      if (compact[p.index] == "{}") {
        if (!p.is_new) batch.Delete(Cf::kPayloads, slot_key);
      } else {
        batch.Put(Cf::kPayloads, slot_key, compact[p.index]);
      }
    }
    // Allocate before committing, so nothing can fail between the commit and the memory update.
    EnsureCapacity(static_cast<uint32_t>(next_slot));
    id_slot_.reserve(id_slot_.size() + plan.size());
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, options.sync).WithPrefix("upsert"));

    for (const Planned& p : plan) {
      std::memcpy(vectors_.data() + size_t{p.slot} * dim, rows + p.index * dim, dim * sizeof(float));
      if (p.is_new) {
        live_[p.slot] = 1;
        slot_ids_[p.slot] = encoded[p.index];
        id_slot_.emplace(encoded[p.index], p.slot);
      }
    }
    free_slots_.resize(free_slots_.size() - free_used);
    slots_ = static_cast<uint32_t>(next_slot);
    return Status::OK();
  });
}

StatusOr<uint64_t> CollectionImpl::Delete(const WriteOptions& options, std::span<const PointId> ids) {
  return Guarded("delete", [&]() -> StatusOr<uint64_t> {
    std::unique_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    std::vector<uint32_t> slots;
    std::unordered_set<uint32_t> seen;
    for (const PointId& id : ids) {
      auto it = id_slot_.find(storage::EncodeId(id));
      if (it != id_slot_.end() && seen.insert(it->second).second) slots.push_back(it->second);
    }
    if (slots.empty()) return uint64_t{0};
    storage::Batch batch;
    for (uint32_t slot : slots) {
      const std::string slot_key = storage::SlotKey(desc_.id, slot);
      batch.Delete(Cf::kIds, storage::IdKey(desc_.id, slot_ids_[slot]));
      batch.Delete(Cf::kVectors, slot_key);
      batch.Delete(Cf::kPayloads, slot_key);
    }
    free_slots_.reserve(free_slots_.size() + slots.size());
    SEXTANT_RETURN_IF_ERROR(storage_->Write(batch, options.sync).WithPrefix("delete"));
    for (uint32_t slot : slots) {
      id_slot_.erase(slot_ids_[slot]);
      slot_ids_[slot].clear();
      live_[slot] = 0;
      free_slots_.push_back(slot);
    }
    return uint64_t{slots.size()};
  });
}

StatusOr<std::string> CollectionImpl::ReadPayload(uint32_t slot) const {
  SEXTANT_ASSIGN_OR_RETURN(auto value, storage_->Get(Cf::kPayloads, storage::SlotKey(desc_.id, slot)));
  return value ? std::move(*value) : std::string("{}");
}

StatusOr<Point> CollectionImpl::Get(const PointId& id) const {
  return Guarded("get", [&]() -> StatusOr<Point> {
    SEXTANT_RETURN_IF_ERROR(ValidateId(id).WithPrefix("get"));
    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    auto it = id_slot_.find(storage::EncodeId(id));
    if (it == id_slot_.end()) {
      return Status::NotFound("point " + id.ToString() + " not found in collection " + desc_.name);
    }
    Point p;
    p.id = id;
    const float* v = vectors_.data() + size_t{it->second} * desc_.dimension;
    p.vector.assign(v, v + desc_.dimension);
    SEXTANT_ASSIGN_OR_RETURN(p.payload, ReadPayload(it->second));
    return p;
  });
}

StatusOr<uint64_t> CollectionImpl::Count() const {
  std::shared_lock lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  return uint64_t{id_slot_.size()};
}

StatusOr<CollectionInfo> CollectionImpl::Describe() const {
  std::shared_lock lock(mu_);
  SEXTANT_RETURN_IF_ERROR(CheckOpen());
  CollectionInfo info;
  info.name = desc_.name;
  info.dimension = desc_.dimension;
  info.metric = desc_.metric;
  info.count = id_slot_.size();
  info.index = "Flat";
  info.vector_bytes = vectors_.size() * sizeof(float);
  return info;
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

    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    ScanPage page;
    std::string begin = after.empty() ? prefix_ : storage::IdKey(desc_.id, after) + '\0';
    Status bad;
    SEXTANT_RETURN_IF_ERROR(storage_->Scan(
        Cf::kIds, begin, storage::CollectionPrefix(desc_.id + 1), [&](std::string_view k, std::string_view v) {
          const uint32_t slot = internal::DecodeFixed32LE(v.data());
          std::string_view encoded = k.substr(prefix_.size());
          std::string payload_text;
          if (filter) {
            auto text = ReadPayload(slot);
            if (!text.ok()) {
              bad = text.status();
              return false;
            }
            if (!filter->Matches(payload::ParseStored(*text))) return true;
            payload_text = std::move(*text);
          }
          if (page.points.size() == options.limit) {  // one more exists: this page is not the last
            page.next_cursor = HexEncode(storage::EncodeId(page.points.back().id));
            return false;
          }
          auto id = storage::DecodeId(encoded);
          if (!id.ok()) {
            bad = id.status();
            return false;
          }
          if (!filter) {
            auto text = ReadPayload(slot);
            if (!text.ok()) {
              bad = text.status();
              return false;
            }
            payload_text = std::move(*text);
          }
          const float* vec = vectors_.data() + size_t{slot} * desc_.dimension;
          page.points.push_back(Point{std::move(*id), std::vector<float>(vec, vec + desc_.dimension),
                                      std::move(payload_text)});
          return true;
        }));
    SEXTANT_RETURN_IF_ERROR(bad);
    return page;
  });
}

StatusOr<std::vector<uint8_t>> CollectionImpl::SearchMask(const std::string& filter_text) const {
  if (filter_text.empty()) return live_;
  SEXTANT_ASSIGN_OR_RETURN(payload::Filter filter, payload::Filter::Parse(filter_text));
  if (filter.MatchesAll()) return live_;
  // Points without a stored payload have {} as payload; most filters reject it, but $ne, $nin
  // and $exists: false accept it.
  const uint8_t empty_matches = filter.Matches(nlohmann::json::object()) ? 1 : 0;
  std::vector<uint8_t> mask(live_.size());
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = live_[i] & empty_matches;
  SEXTANT_RETURN_IF_ERROR(storage_->Scan(Cf::kPayloads, prefix_, storage::CollectionPrefix(desc_.id + 1),
                                         [&](std::string_view k, std::string_view v) {
    const uint32_t slot = internal::DecodeFixed32BE(k.data() + prefix_.size());
    if (slot < mask.size() && live_[slot]) mask[slot] = filter.Matches(payload::ParseStored(v)) ? 1 : 0;
    return true;
  }));
  return mask;
}

StatusOr<std::vector<std::vector<Hit>>> CollectionImpl::SearchBatch(const SearchOptions& options,
                                                                    std::span<const float> queries,
                                                                    std::vector<SearchPlan>* plans) const {
  return Guarded("search", [&]() -> StatusOr<std::vector<std::vector<Hit>>> {
    const size_t dim = desc_.dimension;
    if (options.k == 0) return Status::InvalidArgument("search: k must be at least 1");
    if (queries.empty() || queries.size() % dim != 0) {
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

    std::shared_lock lock(mu_);
    SEXTANT_RETURN_IF_ERROR(CheckOpen());
    SEXTANT_ASSIGN_OR_RETURN(std::vector<uint8_t> mask, SearchMask(options.filter));
    const size_t k = std::min<size_t>(options.k, id_slot_.size());
    std::vector<std::vector<index::Neighbor>> found;
    index::ExactSearch(index::VectorView{vectors_.data(), dim, slots_}, desc_.metric, mask.data(), q, nq, k,
                       &found);
    if (plans) {
      plans->assign(nq, SearchPlan{SearchPlan::Kind::kExact, "Flat", 0, false, 0, 0});
      uint64_t matches = 0;
      for (uint8_t m : mask) matches += m;
      for (auto& p : *plans) {
        p.matches = matches;
        p.distance_computations = slots_;
      }
    }
    std::vector<std::vector<Hit>> results(nq);
    for (size_t i = 0; i < nq; ++i) {
      results[i].reserve(found[i].size());
      for (const index::Neighbor& nb : found[i]) {
        SEXTANT_ASSIGN_OR_RETURN(PointId id, storage::DecodeId(slot_ids_[nb.slot]));
        Hit hit;
        hit.id = std::move(id);
        hit.score = ScoreOf(desc_.metric, nb.distance);
        if (options.with_vector) {
          const float* v = vectors_.data() + size_t{nb.slot} * dim;
          hit.vector.assign(v, v + dim);
        }
        if (options.with_payload) {
          SEXTANT_ASSIGN_OR_RETURN(hit.payload, ReadPayload(nb.slot));
        }
        results[i].push_back(std::move(hit));
      }
    }
    return results;
  });
}

StatusOr<std::vector<Hit>> CollectionImpl::Search(const SearchOptions& options, std::span<const float> query,
                                                  SearchPlan* plan) const {
  if (query.size() != desc_.dimension) {
    return Status::InvalidArgument("search: query has " + std::to_string(query.size()) +
                                   " floats, expected the dimension " + std::to_string(desc_.dimension));
  }
  std::vector<SearchPlan> plans;
  SEXTANT_ASSIGN_OR_RETURN(auto results, SearchBatch(options, query, plan ? &plans : nullptr));
  if (plan) *plan = std::move(plans[0]);
  return std::move(results[0]);
}

Status CollectionImpl::SetIndex(const IndexOptions&) { return Status::Unimplemented("SetIndex: in progress"); }
Status CollectionImpl::RebuildIndex() { return Status::Unimplemented("RebuildIndex: in progress"); }
Status CollectionImpl::WaitForIndex(uint64_t) const { return Status::OK(); }
Status CollectionImpl::Checkpoint() { return Status::Unimplemented("Checkpoint: in progress"); }

}  // namespace sextant
