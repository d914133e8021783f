// HnswIndex (hnsw.h): graph construction, search, repair after deletes, and persistence.
//
// Hot paths are SearchLayer and GreedyDescend, templated on the distance (float vectors or SQ8
// codes) and on the acceptance test (everything, live nodes, or the caller's mask), so the inner
// loop has no virtual call and no per-distance dispatch: the kernel pointer is fetched once when
// the index is created (simd::Active() is constant for the process). Each expansion first
// gathers the unvisited neighbours and their row addresses, prefetches the first few rows, then
// scores them while prefetching a fixed distance ahead.
#include "index/hnsw.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "simd/distance.h"
#include "sync/mutex.h"

namespace sextant::index {
namespace {

constexpr char kMagic[8] = {'S', 'X', 'H', 'N', 'S', 'W', '\0', '\1'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kDefaultSeed = 0x5E47A471D5EEDull;
constexpr size_t kSq8MinTrainingPoints = 1000;
// Rows scored ahead of the one being scored (prefetch distance), and how many rows are
// prefetched before the first is scored.
constexpr size_t kPrefetchAhead = 2;

inline uint32_t LoadAcquire(const uint32_t* p) {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
}
inline void StoreRelease(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}

// Prefetches `lines` cache lines from p.
inline void PrefetchLines(const void* p, size_t lines) {
  const char* c = static_cast<const char*>(p);
  for (size_t i = 0; i < lines; ++i) __builtin_prefetch(c + 64 * i, 0, 3);
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool IsDot(Metric metric) { return metric != Metric::kL2; }

using KernelFn = float (*)(const float*, const float*, size_t);

// Distance from a float query to a stored float vector.
struct FloatDistance {
  const float* query;
  const VectorStore* store;
  KernelFn fn;
  size_t dim;
  float sign;  // +1 for squared L2, -1 for the negated dot product
  size_t lines;

  const void* Address(uint32_t id) const { return store->Row(id); }
  float At(uint32_t /*id*/, const void* row) const {
    return sign * fn(query, static_cast<const float*>(row), dim);
  }
  float operator()(uint32_t id) const { return At(id, Address(id)); }
};

// Approximate distance from a query to a stored SQ8 code, in integers: the query is scaled onto
// the codes' grid once (Sq8Quantizer::PrepareQuery), then each code costs one dot_u8_i16 plus,
// for L2, the code's own term kept in `terms` (see sq8.h for the expansion).
struct CodeDistance {
  const int16_t* query;
  const SegmentedRows<uint8_t>* codes;
  const SegmentedRows<float>* terms;  // nullptr for the dot-product metrics
  int32_t (*fn)(const int16_t*, const uint8_t*, size_t);
  size_t dim;
  float scale, base;
  size_t lines;

  const void* Address(uint32_t id) const {
    if (terms != nullptr) __builtin_prefetch(terms->Row(id), 0, 3);
    return codes->Row(id);
  }
  float At(uint32_t id, const void* row) const {
    const float d = base + scale * static_cast<float>(fn(query, static_cast<const uint8_t*>(row), dim));
    return terms != nullptr ? d + *terms->Row(id) : d;
  }
  float operator()(uint32_t id) const { return At(id, codes->Row(id)); }
};

struct CandidateGreater {
  template <class C>
  bool operator()(const C& a, const C& b) const {
    return a.distance > b.distance;
  }
};
struct CandidateLess {
  template <class C>
  bool operator()(const C& a, const C& b) const {
    return a.distance < b.distance;
  }
};

// Bounds-checked little-endian reader for Load.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  size_t remaining() const { return in_.size(); }
  bool Bytes(void* out, size_t n) {
    if (in_.size() < n) return false;
    if (n > 0) std::memcpy(out, in_.data(), n);  // out may be null for an empty array
    in_.remove_prefix(n);
    return true;
  }
  template <class T>
  bool Get(T* out) {
    return Bytes(out, sizeof(T));
  }
  std::string_view* view() { return &in_; }

 private:
  std::string_view in_;
};

template <class T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace

// Per-search working memory: the epoch-tagged visited array, the two heaps and buffers. Reused
// through ScratchPool, so a warm search allocates nothing.
struct HnswIndex::Scratch {
  std::vector<uint16_t> tags;
  uint16_t epoch = 0;
  std::vector<Candidate> candidates;  // min-heap on distance
  std::vector<Candidate> results;     // max-heap on distance
  std::vector<Candidate> work, selected, extra;
  std::vector<uint32_t> ids;
  std::vector<const void*> rows;
  std::vector<float> dists;
  Sq8Quantizer::IntQuery query;  // HNSW-SQ8: the query on the codes' grid

  // Starts a new visited set covering at least n slots.
  void NewEpoch(size_t n) {
    if (tags.size() < n) tags.resize(n, 0);
    if (++epoch == 0) {
      std::fill(tags.begin(), tags.end(), uint16_t{0});
      epoch = 1;
    }
  }
  void PrefetchTag(uint32_t id) const {
    if (id < tags.size()) __builtin_prefetch(tags.data() + id, 1, 3);
  }
  // Marks id visited; false when it already was.
  bool Visit(uint32_t id) {
    if (id >= tags.size()) tags.resize(std::max<size_t>(size_t{id} + 1, tags.size() * 2), 0);
    if (tags[id] == epoch) return false;
    tags[id] = epoch;
    return true;
  }
  size_t Bytes() const {
    return tags.capacity() * sizeof(uint16_t) +
           (candidates.capacity() + results.capacity() + work.capacity() + selected.capacity() +
            extra.capacity()) * sizeof(Candidate) +
           ids.capacity() * sizeof(uint32_t) + rows.capacity() * sizeof(void*) +
           dists.capacity() * sizeof(float) + query.q.capacity() * sizeof(int16_t) + sizeof(*this);
  }
};

class HnswIndex::ScratchPool {
 public:
  std::unique_ptr<Scratch> Take() {
    {
      internal::MutexLock lock(mu_);
      if (!free_.empty()) {
        std::unique_ptr<Scratch> s = std::move(free_.back());
        free_.pop_back();
        return s;
      }
    }
    return std::make_unique<Scratch>();
  }
  void Give(std::unique_ptr<Scratch> s) {
    internal::MutexLock lock(mu_);
    try {
      free_.push_back(std::move(s));
    } catch (const std::bad_alloc&) {
      // Dropping the scratch is fine: the next search makes a new one.
    }
  }
  size_t Bytes() const {
    internal::MutexLock lock(mu_);
    size_t bytes = free_.capacity() * sizeof(void*);
    for (const auto& s : free_) bytes += s->Bytes();
    return bytes;
  }
  void Clear() {
    internal::MutexLock lock(mu_);
    free_.clear();
  }

 private:
  mutable internal::Mutex mu_;
  std::vector<std::unique_ptr<Scratch>> free_ SEXTANT_GUARDED_BY(mu_);
};

namespace {
// Returns a scratch to its pool at scope exit.
template <class Pool, class S>
class Lease {
 public:
  explicit Lease(Pool* pool) : pool_(pool), s_(pool->Take()) {}
  ~Lease() { pool_->Give(std::move(s_)); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  S* get() const { return s_.get(); }

 private:
  Pool* pool_;
  std::unique_ptr<S> s_;
};
}  // namespace

HnswIndex::HnswIndex(const IndexOptions& options, Metric metric, const VectorStore* store)
    : options_(options),
      metric_(metric),
      store_(store),
      dim_(store->width()),
      m_(options.m),
      m0_(2 * size_t{options.m}),
      level_mult_(1.0 / std::log(static_cast<double>(options.m))),
      seed_(kDefaultSeed),
      sq8_(options.quantizer == QuantizerType::kSq8),
      kernel_(IsDot(metric) ? simd::Active().dot : simd::Active().l2sq),
      sign_(IsDot(metric) ? -1.0f : 1.0f),
      vector_lines_(std::min<size_t>((store->width() * sizeof(float) + 63) / 64, 8)),
      links0_(1 + 2 * size_t{options.m}),
      meta_(1),
      upper_(1 + size_t{options.m}),
      codes_(options.quantizer == QuantizerType::kSq8 ? store->width() : 1),
      code_terms_(1),
      quantizer_(store->width()),
      pool_(std::make_unique<ScratchPool>()) {}

HnswIndex::~HnswIndex() = default;

StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Create(const IndexOptions& options, Metric metric,
                                                       const VectorStore* store) {
  if (store == nullptr) return Status::InvalidArgument("hnsw: null vector store");
  if (options.type != IndexType::kHnsw) {
    return Status::InvalidArgument("hnsw: options are for index " + options.ToString());
  }
  if (store->width() == 0 || store->width() > CollectionOptions::kMaxDimension) {
    return Status::InvalidArgument("hnsw: bad dimension " + std::to_string(store->width()));
  }
  SEXTANT_RETURN_IF_ERROR(options.Validate(static_cast<uint32_t>(store->width())));
  try {
    return std::unique_ptr<HnswIndex>(new HnswIndex(options, metric, store));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("hnsw: out of memory creating the index");
  }
}

std::string HnswIndex::Spec() const { return options_.ToString(); }

bool HnswIndex::NeedsTraining() const { return sq8_ && !quantizer_.trained(); }

size_t HnswIndex::MinTrainingPoints() const { return sq8_ ? kSq8MinTrainingPoints : 0; }

Status HnswIndex::Train(const float* vectors, size_t n) {
  if (!sq8_) return Status::OK();
  if (vectors == nullptr || n == 0) return Status::InvalidArgument("hnsw: Train needs n >= 1 vectors");
  try {
    Sq8Quantizer trained(dim_);
    trained.Train(vectors, n);
    quantizer_ = std::move(trained);
    for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
      if (LoadMeta(slot) & kHeld) EncodeSlot(slot);
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("hnsw: out of memory training SQ8");
  }
  return Status::OK();
}

uint64_t HnswIndex::LoadMeta(uint32_t slot) const {
  if (slot >= meta_.capacity()) return 0;
  return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(meta_.Row(slot)))
      .load(std::memory_order_acquire);
}

void HnswIndex::StoreMeta(uint32_t slot, uint64_t meta) {
  std::atomic_ref<uint64_t>(*meta_.Row(slot)).store(meta, std::memory_order_release);
}

int HnswIndex::LevelOf(uint32_t slot) const {
  const uint64_t h = SplitMix64(seed_ ^ SplitMix64(slot));
  const double u = static_cast<double>((h >> 11) + 1) * 0x1.0p-53;  // (0, 1]
  const double level = -std::log(u) * level_mult_;
  return level >= kMaxLevel ? kMaxLevel : static_cast<int>(level);
}

const uint32_t* HnswIndex::List(uint32_t slot, int level) const {
  if (level == 0) return links0_.Row(slot);
  const uint64_t meta = LoadMeta(slot);
  if (!(meta & kHeld) || LevelOfMeta(meta) < level) return nullptr;
  return upper_.Row(FirstUpper(meta) + static_cast<uint32_t>(level) - 1);
}

uint32_t* HnswIndex::MutableList(uint32_t slot, int level) {
  return const_cast<uint32_t*>(List(slot, level));
}

void HnswIndex::WriteList(uint32_t* list, const uint32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) StoreRelease(list + 1 + i, ids[i]);
  StoreRelease(list, static_cast<uint32_t>(n));
}

float HnswIndex::StoredDistance(uint32_t a, uint32_t b) const {
  return sign_ * kernel_(store_->Row(a), store_->Row(b), dim_);
}

// ---------------------------------------------------------------------------------------------
// Search

template <class Dist>
uint32_t HnswIndex::GreedyDescend(const Dist& dist, uint32_t ep, float* ep_distance,
                                  int from_level, int to_level, uint64_t* count) const {
  uint32_t cur = ep;
  float cur_d = *ep_distance;
  uint64_t n_dist = 0;
  for (int level = from_level; level > to_level; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const uint32_t* list = List(cur, level);
      if (list == nullptr) break;
      const size_t n = std::min<size_t>(LoadAcquire(list), m_);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t id = LoadAcquire(list + 1 + i);
        const float d = dist(id);
        ++n_dist;
        if (d < cur_d) {
          cur_d = d;
          cur = id;
          changed = true;
        }
      }
    }
  }
  *ep_distance = cur_d;
  *count += n_dist;
  return cur;
}

template <class Dist, class Accept>
void HnswIndex::SearchLayer(const Dist& dist, uint32_t ep, float ep_distance, int level,
                            size_t ef, const Accept& accept, Scratch* s, uint64_t* count) const {
  auto& cand = s->candidates;
  auto& res = s->results;
  cand.clear();
  res.clear();
  s->NewEpoch(links0_.capacity());
  s->Visit(ep);
  const size_t max_links = MaxLinks(level);
  if (s->ids.size() < max_links) s->ids.resize(max_links);
  if (s->rows.size() < max_links) {
    s->rows.resize(max_links);
    s->dists.resize(max_links);
  }
  float* const dists = s->dists.data();
  // Cache lines of a layer-0 list worth prefetching: the count and the first ids.
  const size_t list_lines = std::min<size_t>((m0_ + 1) * 4 / 64 + 1, 3);
  uint32_t* const ids = s->ids.data();
  const void** const rows = s->rows.data();

  cand.push_back({ep_distance, ep});
  float bound = std::numeric_limits<float>::infinity();
  if (accept(ep)) {
    res.push_back({ep_distance, ep});
    bound = ep_distance;
  }
  uint64_t n_dist = 0;
  while (!cand.empty()) {
    const Candidate c = cand.front();
    if (c.distance > bound && res.size() >= ef) break;
    std::pop_heap(cand.begin(), cand.end(), CandidateGreater());
    cand.pop_back();
    // The next candidate's list is the next likely cache miss (hnswlib does the same).
    if (level == 0 && !cand.empty()) PrefetchLines(links0_.Row(cand.front().id), list_lines);

    const uint32_t* list = level == 0 ? links0_.Row(c.id) : List(c.id, level);
    if (list == nullptr) continue;
    const size_t n = std::min<size_t>(LoadAcquire(list), max_links);
    // The visited tags of the neighbours are scattered over tags (2 bytes a slot): ask for all
    // of them before testing the first, so their misses overlap (hnswlib prefetches them too).
    for (size_t i = 0; i < n; ++i) s->PrefetchTag(LoadAcquire(list + 1 + i));
    size_t nb = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t id = LoadAcquire(list + 1 + i);
      if (!s->Visit(id)) continue;
      ids[nb] = id;
      rows[nb] = dist.Address(id);
      if constexpr (requires { accept.Prefetch(id); }) accept.Prefetch(id);
      ++nb;
    }
    // Score the batch first (a tight loop of kernel calls, prefetching ahead), then update the
    // heaps: two simple loops keep more in registers than one that does both.
    const size_t lines = dist.lines;
    for (size_t j = 0; j < std::min(nb, kPrefetchAhead); ++j) PrefetchLines(rows[j], lines);
    for (size_t j = 0; j < nb; ++j) {
      if (j + kPrefetchAhead < nb) PrefetchLines(rows[j + kPrefetchAhead], lines);
      dists[j] = dist.At(ids[j], rows[j]);
    }
    n_dist += nb;
    for (size_t j = 0; j < nb; ++j) {
      const float d = dists[j];
      if (res.size() < ef || d < bound) {
        cand.push_back({d, ids[j]});
        std::push_heap(cand.begin(), cand.end(), CandidateGreater());
        if (level == 0 && cand.front().id == ids[j]) PrefetchLines(links0_.Row(ids[j]), list_lines);
        if (accept(ids[j])) {
          res.push_back({d, ids[j]});
          std::push_heap(res.begin(), res.end(), CandidateLess());
          if (res.size() > ef) {
            std::pop_heap(res.begin(), res.end(), CandidateLess());
            res.pop_back();
          }
          bound = res.front().distance;
        }
      }
    }
  }
  *count += n_dist;
}

template <class Dist>
Status HnswIndex::SearchWith(const Dist& dist, const float* query, const IndexSearchParams& params,
                             Scratch* s, std::vector<Neighbor>* out, IndexSearchStats* stats) const {
  out->clear();
  IndexSearchStats local;
  IndexSearchStats* st = stats != nullptr ? stats : &local;
  *st = IndexSearchStats();
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  if ((entry >> 32) == 0) return Status::OK();
  uint32_t ep = static_cast<uint32_t>(entry);
  const int top = static_cast<int>(entry >> 32) - 1;

  // The caller's mask (a byte a slot) is read for every candidate that enters the results: the
  // walk prefetches it when it gathers the candidate, long before it is read.
  struct MaskAccept {
    const HnswIndex* index;
    const uint8_t* mask;
    size_t mask_size;
    bool check_removed;
    bool operator()(uint32_t id) const {
      if (id >= mask_size || mask[id] == 0) return false;
      return !check_removed || !(index->LoadMeta(id) & kRemoved);
    }
    void Prefetch(uint32_t id) const {
      if (id < mask_size) __builtin_prefetch(mask + id, 0, 3);
    }
  };
  const MaskAccept accept{this, params.mask, params.mask_size, removed_.load(std::memory_order_relaxed) != 0};

  uint64_t count = 1;
  float ep_d = dist(ep);
  ep = GreedyDescend(dist, ep, &ep_d, top, 0, &count);

  size_t ef = std::max<size_t>(params.ef_search != 0 ? params.ef_search : options_.ef_search,
                               params.k);
  if (params.allowed != 0) {
    // The result list cannot hold more than `allowed`; once it holds them all, nothing is left.
    ef = std::min<size_t>(ef, params.allowed);
  }
  ef = std::max<size_t>(ef, 1);
  // One pass is enough: the walk does not stop while its (allowed-only) result list is short of
  // ef >= min(k, allowed), so it widens by itself, without restarting, until it has them or has
  // seen every node reachable from the entry point. In the latter case a restart with a larger
  // ef would see the same nodes again, so the caller's exact fallback is the only remedy.
  SearchLayer(dist, ep, ep_d, 0, ef, accept, s, &count);
  st->effort = static_cast<uint32_t>(std::min<size_t>(ef, UINT32_MAX));

  auto& res = s->results;
  if (sq8_) {
    // Re-rank the whole list with the float vectors, so returned distances are exact.
    constexpr size_t kAhead = 4;
    for (size_t i = 0; i < std::min(res.size(), kAhead); ++i) {
      PrefetchLines(store_->Row(res[i].id), vector_lines_);
    }
    for (size_t i = 0; i < res.size(); ++i) {
      if (i + kAhead < res.size()) PrefetchLines(store_->Row(res[i + kAhead].id), vector_lines_);
      res[i].distance = sign_ * kernel_(query, store_->Row(res[i].id), dim_);
    }
    count += res.size();
  }
  out->reserve(std::min(res.size(), params.k));
  for (const Candidate& c : res) out->push_back({c.distance, c.id});
  std::sort(out->begin(), out->end());
  if (out->size() > params.k) out->resize(params.k);
  st->distance_computations = count;
  return Status::OK();
}

Status HnswIndex::Search(const float* query, const IndexSearchParams& params,
                         std::vector<Neighbor>* out, IndexSearchStats* stats) const {
  if (query == nullptr || out == nullptr) return Status::InvalidArgument("hnsw: null query or output");
  if (params.k == 0) return Status::InvalidArgument("hnsw: k must be >= 1");
  if (params.mask == nullptr) return Status::InvalidArgument("hnsw: null mask");
  try {
    if (sq8_ && !quantizer_.trained()) {
      out->clear();
      if (stats != nullptr) *stats = IndexSearchStats();
      return Status::OK();  // nothing can have been added
    }
    Lease<ScratchPool, Scratch> lease(pool_.get());
    Scratch* s = lease.get();
    if (sq8_) {
      const bool l2 = metric_ == Metric::kL2;
      quantizer_.PrepareQuery(query, l2, &s->query);
      CodeDistance dist{s->query.q.data(), &codes_, l2 ? &code_terms_ : nullptr,
                        simd::Active().dot_u8_i16, dim_, s->query.scale, s->query.base,
                        std::min<size_t>((dim_ + 63) / 64, 8)};
      return SearchWith(dist, query, params, s, out, stats);
    }
    FloatDistance dist{query, store_, kernel_, dim_, sign_, vector_lines_};
    return SearchWith(dist, query, params, s, out, stats);
  } catch (const std::bad_alloc&) {
    out->clear();
    return Status::ResourceExhausted("hnsw: out of memory during search");
  }
}

// ---------------------------------------------------------------------------------------------
// Construction

void HnswIndex::SelectNeighbors(const std::vector<Candidate>& cands, size_t max,
                                std::vector<Candidate>* out) const {
  out->clear();
  if (cands.size() <= max) {
    // As hnswlib: with no more candidates than room, keep them all.
    out->assign(cands.begin(), cands.end());
    return;
  }
  for (const Candidate& c : cands) {
    if (out->size() >= max) break;
    bool good = true;
    for (const Candidate& r : *out) {
      if (StoredDistance(c.id, r.id) < c.distance) {
        good = false;
        break;
      }
    }
    if (good) out->push_back(c);
  }
}

void HnswIndex::SearchForInsert(const float* vec, uint32_t exclude, int level, size_t ef,
                                Scratch* s, std::vector<Candidate>* out) const {
  out->clear();
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  if ((entry >> 32) == 0) return;
  const int top = static_cast<int>(entry >> 32) - 1;
  if (top < level) return;
  FloatDistance dist{vec, store_, kernel_, dim_, sign_, vector_lines_};
  uint64_t count = 0;
  uint32_t ep = static_cast<uint32_t>(entry);
  float ep_d = dist(ep);
  ep = GreedyDescend(dist, ep, &ep_d, top, level, &count);
  auto live = [&](uint32_t id) { return id != exclude && !(LoadMeta(id) & kRemoved); };
  SearchLayer(dist, ep, ep_d, level, ef, live, s, &count);
  out->assign(s->results.begin(), s->results.end());
  std::sort(out->begin(), out->end(), CandidateLess());
}

void HnswIndex::Connect(uint32_t neighbor, uint32_t slot, float distance, int level, Scratch* s) {
  uint32_t* list = MutableList(neighbor, level);
  if (list == nullptr) return;
  const size_t cap = MaxLinks(level);
  const size_t n = std::min<size_t>(list[0], cap);
  const bool any_removed = removed_.load(std::memory_order_relaxed) != 0;
  for (size_t i = 0; i < n; ++i) {
    if (list[1 + i] == slot) return;  // already linked (repair re-links existing nodes)
  }
  if (n < cap) {
    StoreRelease(list + 1 + n, slot);
    StoreRelease(list, static_cast<uint32_t>(n + 1));
    return;
  }
  // Full: re-select among the current neighbours and the new node (dropping removed ones, which
  // Consolidate would drop anyway).
  auto& cands = s->extra;
  cands.clear();
  cands.push_back({distance, slot});
  for (size_t i = 0; i < n; ++i) {
    const uint32_t id = list[1 + i];
    if (any_removed && (LoadMeta(id) & kRemoved)) continue;
    cands.push_back({StoredDistance(neighbor, id), id});
  }
  std::sort(cands.begin(), cands.end(), CandidateLess());
  SelectNeighbors(cands, cap, &s->selected);
  auto& ids = s->ids;
  ids.resize(std::max(ids.size(), s->selected.size()));
  for (size_t i = 0; i < s->selected.size(); ++i) ids[i] = s->selected[i].id;
  WriteList(list, ids.data(), s->selected.size());
}

void HnswIndex::Insert(uint32_t slot, int level) {
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  if ((entry >> 32) == 0) {
    entry_.store(slot | (uint64_t(level + 1) << 32), std::memory_order_release);
    return;
  }
  const int top = static_cast<int>(entry >> 32) - 1;
  const float* vec = store_->Row(slot);
  FloatDistance dist{vec, store_, kernel_, dim_, sign_, vector_lines_};
  Lease<ScratchPool, Scratch> lease(pool_.get());
  Scratch* s = lease.get();
  uint64_t count = 0;
  uint32_t ep = static_cast<uint32_t>(entry);
  float ep_d = dist(ep);
  if (top > level) ep = GreedyDescend(dist, ep, &ep_d, top, level, &count);

  const bool any_removed = removed_.load(std::memory_order_relaxed) != 0;
  auto live = [&](uint32_t id) { return !any_removed || !(LoadMeta(id) & kRemoved); };
  // First choose the node's neighbours on every layer, and fill its own lists; only then link
  // it from its neighbours. A reader can reach the node only through those reverse links, so it
  // never finds the node with a layer still empty (which would strand its walk there).
  const int start = std::min(level, top);
  std::vector<std::vector<Candidate>> chosen(static_cast<size_t>(start) + 1);
  std::vector<uint32_t> ids;
  for (int l = start; l >= 0; --l) {
    SearchLayer(dist, ep, ep_d, l, options_.ef_construction, live, s, &count);
    if (s->results.empty() && any_removed) {
      // Nothing live in reach on this layer (say every node was removed and Consolidate has not
      // run yet): link to the removed nodes, which keep routing searches until Consolidate
      // repairs the lists. Without links nothing would lead to this node, before or after.
      SearchLayer(dist, ep, ep_d, l, options_.ef_construction, [](uint32_t) { return true; }, s, &count);
    }
    auto& work = s->work;
    work.assign(s->results.begin(), s->results.end());
    std::sort(work.begin(), work.end(), CandidateLess());
    if (work.empty()) continue;  // only this node on the layer
    SelectNeighbors(work, m_, &chosen[l]);
    ids.clear();
    for (const Candidate& c : chosen[l]) ids.push_back(c.id);
    WriteList(MutableList(slot, l), ids.data(), ids.size());
    ep = work.front().id;
    ep_d = work.front().distance;
  }
  for (int l = start; l >= 0; --l) {
    for (const Candidate& c : chosen[l]) Connect(c.id, slot, c.distance, l, s);
  }
  if (level > top) {
    entry_.store(slot | (uint64_t(level + 1) << 32), std::memory_order_release);
  }
}

void HnswIndex::ReserveSlot(uint32_t slot) {
  const uint64_t rows = uint64_t{slot} + 1;
  links0_.Reserve(rows);
  meta_.Reserve(rows);
  if (sq8_) {
    codes_.Reserve(rows);
    if (metric_ == Metric::kL2) code_terms_.Reserve(rows);
  }
}

void HnswIndex::EncodeSlot(uint32_t slot) {
  uint8_t* code = codes_.Row(slot);
  quantizer_.Encode(store_->Row(slot), code);
  if (metric_ == Metric::kL2) *code_terms_.Row(slot) = quantizer_.CodeTerm(code);
}

Status HnswIndex::AddImpl(uint32_t slot) {
  if (slot >= store_->capacity()) {
    return Status::InvalidArgument("hnsw: slot " + std::to_string(slot) +
                                   " is beyond the vector store's capacity " +
                                   std::to_string(store_->capacity()));
  }
  if (Holds(slot)) {
    return Status::FailedPrecondition("hnsw: slot " + std::to_string(slot) + " is already indexed");
  }
  if (NeedsTraining()) return Status::FailedPrecondition("hnsw: SQ8 quantizer is not trained");

  // Everything that can fail to allocate happens before the slot is published.
  ReserveSlot(slot);
  const int level = LevelOf(slot);
  const uint64_t old_meta = LoadMeta(slot);
  uint32_t first = 0;
  if (level > 0) {
    if (LevelOfMeta(old_meta) == level) {
      first = FirstUpper(old_meta);  // the block this slot owned before Consolidate released it
    } else {
      if (upper_rows_used_ + static_cast<uint64_t>(level) > UINT32_MAX) {
        return Status::ResourceExhausted("hnsw: upper layer table is full");
      }
      upper_.Reserve(upper_rows_used_ + static_cast<uint64_t>(level));
      first = static_cast<uint32_t>(upper_rows_used_);
      upper_rows_used_ += static_cast<uint64_t>(level);
    }
    for (int l = 0; l < level; ++l) StoreRelease(upper_.Row(first + l), 0);
  }
  StoreRelease(links0_.Row(slot), 0);
  if (sq8_) EncodeSlot(slot);

  StoreMeta(slot, first | (uint64_t(level) << 32) | kHeld);
  held_.fetch_add(1, std::memory_order_relaxed);
  slot_limit_ = std::max<uint64_t>(slot_limit_, uint64_t{slot} + 1);
  Insert(slot, level);
  return Status::OK();
}

Status HnswIndex::Add(uint32_t slot) {
  try {
    return AddImpl(slot);
  } catch (const std::bad_alloc&) {
    // If the slot got published, keep it consistent: held, removed, released by Consolidate.
    const uint64_t meta = LoadMeta(slot);
    if ((meta & kHeld) && !(meta & kRemoved)) Remove(slot);
    return Status::ResourceExhausted("hnsw: out of memory adding slot " + std::to_string(slot));
  }
}

void HnswIndex::Remove(uint32_t slot) {
  const uint64_t meta = LoadMeta(slot);
  if (!(meta & kHeld) || (meta & kRemoved)) return;
  StoreMeta(slot, meta | kRemoved);
  removed_.fetch_add(1, std::memory_order_relaxed);
}

size_t HnswIndex::PendingRemovals() const { return removed_.load(std::memory_order_relaxed); }

size_t HnswIndex::Size() const {
  return held_.load(std::memory_order_relaxed) - removed_.load(std::memory_order_relaxed);
}

bool HnswIndex::Holds(uint32_t slot) const { return (LoadMeta(slot) & kHeld) != 0; }

// ---------------------------------------------------------------------------------------------
// Deletes

void HnswIndex::Repair(uint32_t slot, int level, Scratch* s) {
  uint32_t* list = MutableList(slot, level);
  const size_t n = std::min<size_t>(list[0], MaxLinks(level));
  bool dirty = false;
  for (size_t i = 0; i < n && !dirty; ++i) dirty = (LoadMeta(list[1 + i]) & kRemoved) != 0;
  if (!dirty) return;

  // Candidates: live neighbours, and the live neighbours of removed neighbours.
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t v = list[1 + i];
    if (!(LoadMeta(v) & kRemoved)) {
      ids.push_back(v);
      continue;
    }
    const uint32_t* vl = List(v, level);
    if (vl == nullptr) continue;
    const size_t vn = std::min<size_t>(vl[0], MaxLinks(level));
    for (size_t j = 0; j < vn; ++j) {
      const uint32_t w = vl[1 + j];
      if (w != slot && !(LoadMeta(w) & kRemoved)) ids.push_back(w);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (level > 0 || ids.size() < m_) {
    // Upper layers are sparse, so two hops rarely offer the long links that route between
    // regions; and a neighbourhood removed wholesale leaves too few to choose from. Either way,
    // search for the node's own vector (cheap on the sparse upper layers).
    std::vector<Candidate> found;
    SearchForInsert(store_->Row(slot), slot, level, options_.ef_construction, s, &found);
    for (const Candidate& c : found) ids.push_back(c.id);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  auto& cands = s->work;
  cands.clear();
  for (uint32_t id : ids) cands.push_back({StoredDistance(slot, id), id});
  std::sort(cands.begin(), cands.end(), CandidateLess());
  // The heuristic looks at the nearest few; the rest would almost never be kept.
  const size_t keep = 3 * MaxLinks(level);
  if (cands.size() > keep) cands.resize(keep);
  SelectNeighbors(cands, MaxLinks(level), &s->selected);
  std::vector<uint32_t> old_ids(list + 1, list + 1 + n);
  std::sort(old_ids.begin(), old_ids.end());
  const std::vector<Candidate> selected = s->selected;
  ids.clear();
  for (const Candidate& c : selected) ids.push_back(c.id);
  WriteList(list, ids.data(), ids.size());
  // Link back from the new neighbours, as an insert would: without it, nodes whose in-links all
  // came from removed nodes keep only the few that happen to choose them, and regions of the
  // graph drift apart over rounds of deletes.
  for (const Candidate& c : selected) {
    if (!std::binary_search(old_ids.begin(), old_ids.end(), c.id)) Connect(c.id, slot, c.distance, level, s);
  }
}

std::vector<uint32_t> HnswIndex::Consolidate() {
  std::vector<uint32_t> released;
  if (removed_.load(std::memory_order_relaxed) == 0) return released;
  Lease<ScratchPool, Scratch> lease(pool_.get());
  Scratch* s = lease.get();
  for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
    const uint64_t meta = LoadMeta(slot);
    if (!(meta & kHeld) || (meta & kRemoved)) continue;
    for (int l = 0; l <= LevelOfMeta(meta); ++l) Repair(slot, l, s);
  }
  // Release the removed slots; a new entry point is the live node with the highest level.
  uint32_t best = kNone;
  int best_level = -1;
  for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
    const uint64_t meta = LoadMeta(slot);
    if (!(meta & kHeld)) continue;
    const int level = LevelOfMeta(meta);
    if (meta & kRemoved) {
      StoreRelease(links0_.Row(slot), 0);
      for (int l = 0; l < level; ++l) StoreRelease(upper_.Row(FirstUpper(meta) + l), 0);
      StoreMeta(slot, meta & ~(kHeld | kRemoved));  // keeps the upper block for reuse
      released.push_back(slot);
    } else if (level > best_level) {
      best = slot;
      best_level = level;
    }
  }
  const uint64_t entry = entry_.load(std::memory_order_relaxed);
  const bool entry_live = (entry >> 32) != 0 && (LoadMeta(static_cast<uint32_t>(entry)) & kHeld);
  if (!entry_live) {
    entry_.store(best == kNone ? 0 : (best | (uint64_t(best_level + 1) << 32)),
                 std::memory_order_release);
  }
  held_.fetch_sub(released.size(), std::memory_order_relaxed);
  removed_.store(0, std::memory_order_relaxed);
  return released;
}

// ---------------------------------------------------------------------------------------------
// Memory and persistence

size_t HnswIndex::MemoryBytes() const {
  return sizeof(*this) + links0_.MemoryBytes() + meta_.MemoryBytes() + upper_.MemoryBytes() +
         (sq8_ ? codes_.MemoryBytes() + code_terms_.MemoryBytes() + 2 * dim_ * sizeof(float) : 0) + pool_->Bytes();
}

void HnswIndex::SerializeTo(std::string* out) const {
  out->append(kMagic, sizeof(kMagic));
  Put<uint32_t>(out, kFormatVersion);
  Put<uint32_t>(out, static_cast<uint32_t>(dim_));
  Put<uint32_t>(out, static_cast<uint32_t>(m_));
  Put<uint8_t>(out, static_cast<uint8_t>(metric_));
  Put<uint8_t>(out, sq8_ ? 1 : 0);
  Put<uint16_t>(out, 0);
  const uint64_t entry = entry_.load(std::memory_order_acquire);
  Put<uint32_t>(out, (entry >> 32) == 0 ? kNone : static_cast<uint32_t>(entry));
  Put<uint32_t>(out, static_cast<uint32_t>(entry >> 32));  // top level + 1; 0 when empty
  Put<uint64_t>(out, seed_);
  Put<uint64_t>(out, slot_limit_);
  Put<uint64_t>(out, held_.load(std::memory_order_relaxed));
  for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
    const uint64_t meta = LoadMeta(slot);
    if (!(meta & kHeld)) continue;
    const int level = LevelOfMeta(meta);
    Put<uint32_t>(out, slot);
    Put<uint8_t>(out, static_cast<uint8_t>(level));
    Put<uint8_t>(out, (meta & kRemoved) ? 1 : 0);
    for (int l = 0; l <= level; ++l) {
      const uint32_t* list = List(slot, l);
      const uint32_t n = std::min<uint32_t>(LoadAcquire(list), static_cast<uint32_t>(MaxLinks(l)));
      Put<uint32_t>(out, n);
      for (uint32_t i = 0; i < n; ++i) Put<uint32_t>(out, LoadAcquire(list + 1 + i));
    }
  }
  if (sq8_) {
    quantizer_.Serialize(out);
    if (quantizer_.trained()) {
      for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
        if (LoadMeta(slot) & kHeld) {
          out->append(reinterpret_cast<const char*>(codes_.Row(slot)), dim_);
        }
      }
    }
  }
}

Status HnswIndex::Save(std::string* out) const {
  if (out == nullptr) return Status::InvalidArgument("hnsw: null output");
  try {
    out->clear();
    SerializeTo(out);
  } catch (const std::bad_alloc&) {
    out->clear();
    return Status::ResourceExhausted("hnsw: out of memory saving the index");
  }
  return Status::OK();
}

Status HnswIndex::ParseFrom(std::string_view bytes) {
  Reader r(bytes);
  auto bad = [](const std::string& why) { return Status::DataLoss("hnsw index blob: " + why); };
  char magic[sizeof(kMagic)];
  uint32_t version, dim, m, entry, top1;
  uint8_t metric, quant;
  uint16_t reserved;
  uint64_t seed, slot_limit, node_count;
  if (!r.Bytes(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return bad("not an HNSW index (bad magic)");
  }
  if (!r.Get(&version) || version != kFormatVersion) return bad("unsupported format version");
  if (!r.Get(&dim) || !r.Get(&m) || !r.Get(&metric) || !r.Get(&quant) || !r.Get(&reserved) ||
      !r.Get(&entry) || !r.Get(&top1) || !r.Get(&seed) || !r.Get(&slot_limit) ||
      !r.Get(&node_count)) {
    return bad("truncated header");
  }
  if (dim != dim_) return bad("dimension " + std::to_string(dim) + ", expected " + std::to_string(dim_));
  if (m != m_) return bad("m " + std::to_string(m) + ", expected " + std::to_string(m_));
  if (metric != static_cast<uint8_t>(metric_)) return bad("metric differs");
  if (quant != (sq8_ ? 1 : 0)) return bad("quantizer differs");
  if (reserved != 0) return bad("reserved bits set");
  if (slot_limit > store_->capacity() || slot_limit > uint64_t{UINT32_MAX}) {
    return bad("slot limit " + std::to_string(slot_limit) + " exceeds the vector store");
  }
  // Each node takes at least 10 bytes, so this bounds every allocation below by the input size.
  if (node_count > slot_limit || node_count > r.remaining() / 10) return bad("bad node count");
  if (top1 > kMaxLevel + 1) return bad("bad top level");
  seed_ = seed;

  if (slot_limit > 0) ReserveSlot(static_cast<uint32_t>(slot_limit - 1));
  std::vector<uint32_t> order;
  order.reserve(node_count);
  uint64_t removed = 0;
  int max_level = -1;
  for (uint64_t i = 0; i < node_count; ++i) {
    uint32_t slot;
    uint8_t level, flags;
    if (!r.Get(&slot) || !r.Get(&level) || !r.Get(&flags)) return bad("truncated node");
    if (slot >= slot_limit || (!order.empty() && slot <= order.back())) return bad("bad slot order");
    if (level > kMaxLevel || level != LevelOf(slot)) return bad("bad level for slot " + std::to_string(slot));
    if (flags > 1) return bad("bad node flags");
    uint32_t first = 0;
    if (level > 0) {
      if (r.remaining() < size_t{level} * 4) return bad("truncated node");
      upper_.Reserve(upper_rows_used_ + level);
      first = static_cast<uint32_t>(upper_rows_used_);
      upper_rows_used_ += level;
    }
    StoreMeta(slot, first | (uint64_t(level) << 32) | kHeld | (flags ? kRemoved : 0));
    for (int l = 0; l <= level; ++l) {
      uint32_t n;
      if (!r.Get(&n)) return bad("truncated list");
      if (n > MaxLinks(l)) return bad("list too long");
      uint32_t* list = l == 0 ? links0_.Row(slot) : upper_.Row(first + l - 1);
      if (!r.Bytes(list + 1, size_t{n} * 4)) return bad("truncated list");
      list[0] = n;
    }
    order.push_back(slot);
    removed += flags;
    max_level = std::max<int>(max_level, level);
  }
  // Every link must name a held node on that layer, and never the node itself.
  for (uint32_t slot : order) {
    const int level = LevelOfMeta(LoadMeta(slot));
    for (int l = 0; l <= level; ++l) {
      const uint32_t* list = List(slot, l);
      for (uint32_t i = 0; i < list[0]; ++i) {
        const uint32_t id = list[1 + i];
        const uint64_t meta = LoadMeta(id);
        if (id == slot || !(meta & kHeld) || LevelOfMeta(meta) < l) return bad("dangling link");
      }
    }
  }
  if (node_count == 0) {
    if (top1 != 0 || entry != kNone) return bad("entry point in an empty index");
  } else {
    if (top1 != static_cast<uint32_t>(max_level + 1) || entry >= slot_limit ||
        !(LoadMeta(entry) & kHeld) || LevelOfMeta(LoadMeta(entry)) != max_level) {
      return bad("bad entry point");
    }
    entry_.store(entry | (uint64_t{top1} << 32), std::memory_order_release);
  }
  if (sq8_) {
    Sq8Quantizer q(dim_);
    SEXTANT_RETURN_IF_ERROR(q.Deserialize(r.view()).WithPrefix("hnsw index blob"));
    if (node_count > 0 && !q.trained()) return bad("codes without a trained quantizer");
    quantizer_ = std::move(q);
    if (quantizer_.trained()) {
      if (r.remaining() / dim_ < node_count) return bad("truncated codes");
      for (uint32_t slot : order) {
        if (!r.Bytes(codes_.Row(slot), dim_)) return bad("truncated codes");
        if (metric_ == Metric::kL2) *code_terms_.Row(slot) = quantizer_.CodeTerm(codes_.Row(slot));
      }
    }
  }
  if (r.remaining() != 0) return bad("trailing bytes");
  held_.store(node_count, std::memory_order_relaxed);
  removed_.store(removed, std::memory_order_relaxed);
  slot_limit_ = order.empty() ? 0 : uint64_t{order.back()} + 1;
  return Status::OK();
}

StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Load(std::string_view bytes,
                                                     const IndexOptions& options, Metric metric,
                                                     const VectorStore* store) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<HnswIndex> index, Create(options, metric, store));
  try {
    SEXTANT_RETURN_IF_ERROR(index->ParseFrom(bytes));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("hnsw: out of memory loading the index");
  }
  return index;
}

Status HnswIndex::TEST_Validate(bool expect_consolidated) const {
  auto bad = [](const std::string& why) { return Status::Internal("hnsw invariant: " + why); };
  uint64_t held = 0, removed = 0;
  int max_level = -1;
  for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
    const uint64_t meta = LoadMeta(slot);
    if (!(meta & kHeld)) {
      if (meta & kRemoved) return bad("removed but not held: " + std::to_string(slot));
      if (links0_.Row(slot)[0] != 0) return bad("released slot has links: " + std::to_string(slot));
      continue;
    }
    ++held;
    if (meta & kRemoved) ++removed;
    const int level = LevelOfMeta(meta);
    if (level != LevelOf(slot)) return bad("level of " + std::to_string(slot));
    max_level = std::max(max_level, level);
    for (int l = 0; l <= level; ++l) {
      const uint32_t* list = List(slot, l);
      if (list[0] > MaxLinks(l)) return bad("overfull list at " + std::to_string(slot));
      for (uint32_t i = 0; i < list[0]; ++i) {
        const uint32_t id = list[1 + i];
        const uint64_t m = LoadMeta(id);
        if (id == slot) return bad("self link at " + std::to_string(slot));
        if (!(m & kHeld)) return bad("link to unheld " + std::to_string(id) + " from " + std::to_string(slot));
        if (LevelOfMeta(m) < l) return bad("link above a node's level");
        if (expect_consolidated && !(meta & kRemoved) && (m & kRemoved)) {
          return bad("live " + std::to_string(slot) + " links to removed " + std::to_string(id));
        }
      }
    }
  }
  if (held != held_.load() || removed != removed_.load()) return bad("counters");
  const uint64_t entry = entry_.load();
  if (held == 0) {
    if (entry != 0) return bad("entry in an empty graph");
  } else {
    if ((entry >> 32) == 0) return bad("no entry point");
    const uint32_t ep = static_cast<uint32_t>(entry);
    if (!(LoadMeta(ep) & kHeld)) return bad("entry not held");
    if (static_cast<int>(entry >> 32) - 1 != LevelOfMeta(LoadMeta(ep))) return bad("entry level");
    if (LevelOfMeta(LoadMeta(ep)) != max_level) return bad("entry is not on the top level");
    if (expect_consolidated && (LoadMeta(ep) & kRemoved)) return bad("entry removed");
  }
  return Status::OK();
}

size_t HnswIndex::TEST_Unreachable() const {
  const uint64_t entry = entry_.load();
  std::vector<uint8_t> seen(slot_limit_, 0);
  std::vector<uint32_t> stack;
  if ((entry >> 32) != 0) stack.push_back(static_cast<uint32_t>(entry));
  while (!stack.empty()) {
    const uint32_t id = stack.back();
    stack.pop_back();
    if (seen[id]) continue;
    seen[id] = 1;
    for (int l = 0; l <= LevelOfMeta(LoadMeta(id)); ++l) {
      const uint32_t* list = List(id, l);
      for (uint32_t i = 0; i < list[0]; ++i) stack.push_back(list[1 + i]);
    }
  }
  size_t unreachable = 0;
  for (uint32_t slot = 0; slot < slot_limit_; ++slot) {
    const uint64_t meta = LoadMeta(slot);
    if ((meta & kHeld) && !(meta & kRemoved) && !seen[slot]) ++unreachable;
  }
  return unreachable;
}

}  // namespace sextant::index
