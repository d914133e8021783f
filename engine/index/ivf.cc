// IvfIndex (ivf.h): training, list maintenance, the probe-scan-re-rank search, and the saved form.
//
// Why some things are the way they are:
//  - The coarse step and IVF-Flat's list scans use the dispatched SIMD batch kernels (one query
//    against contiguous rows); k-means uses Eigen products at the baseline ISA (kmeans.h).
//  - IVF-Flat scans runs of consecutive allowed entries with one batch call each, so an
//    unfiltered search makes one call per list and a selective filter computes only the
//    distances it needs. Its distances equal flat.h's Distance() bit for bit (same kernels), so
//    it needs no re-ranking.
//  - A slot's state byte is read with an atomic_ref: Remove may flip it while a search reads it.
#include "index/ivf.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <numeric>

#include "index/flat.h"
#include "index/kmeans.h"
#include "simd/distance.h"
#include "util/hash.h"

namespace sextant::index {
namespace {

constexpr size_t kK = ProductQuantizer::kCentroids;
constexpr size_t kHeaderBytes = 24;

// Keeps the `cap` smallest Neighbors seen. Candidates are appended to a buffer of 2 * cap; when
// it fills, nth_element keeps the best cap and their worst distance becomes the bound a new
// candidate must not exceed. Amortised O(1) per candidate, cheaper than a heap when most list
// entries are candidates (a re-ranked search keeps 64+ of a few hundred).
class TopK {
 public:
  explicit TopK(size_t cap) : cap_(std::max<size_t>(cap, 1)) { items_.reserve(2 * cap_); }
  // Candidates held (at least min(cap, candidates pushed)).
  size_t size() const { return items_.size(); }
  float Bound() const { return bound_; }
  void Push(float distance, uint32_t slot) {
    if (!(distance <= bound_)) return;  // also drops NaN
    items_.push_back(Neighbor{distance, slot});
    if (items_.size() == 2 * cap_) Shrink();
  }
  std::vector<Neighbor> Sorted() && {
    if (items_.size() > cap_) Shrink();
    std::sort(items_.begin(), items_.end());
    return std::move(items_);
  }
  // The same set in no particular order (re-ranking needs no order).
  std::vector<Neighbor> Unsorted() && {
    if (items_.size() > cap_) Shrink();
    return std::move(items_);
  }

 private:
  void Shrink() {
    std::nth_element(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(cap_ - 1), items_.end());
    items_.resize(cap_);
    bound_ = items_[cap_ - 1].distance;
  }

  size_t cap_;
  float bound_ = std::numeric_limits<float>::infinity();
  std::vector<Neighbor> items_;
};

uint8_t MetricCode(Metric metric) {
  switch (metric) {
    case Metric::kL2: return 0;
    case Metric::kInnerProduct: return 1;
    case Metric::kCosine: return 2;
  }
  return 255;
}

uint8_t QuantizerCode(QuantizerType q) {
  switch (q) {
    case QuantizerType::kNone: return 0;
    case QuantizerType::kSq8: return 1;
    case QuantizerType::kPq: return 2;
  }
  return 255;
}

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

// Bounds-checked little-endian reads from the front of a byte string.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::string_view& rest() { return in_; }
  size_t left() const { return in_.size(); }
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) { return Raw(v, 4); }
  bool U64(uint64_t* v) { return Raw(v, 8); }
  // n bytes into dst (n already checked against left() by the caller, or here).
  bool Raw(void* dst, uint64_t n) {
    if (n > in_.size()) return false;
    if (n > 0) std::memcpy(dst, in_.data(), static_cast<size_t>(n));
    in_.remove_prefix(static_cast<size_t>(n));
    return true;
  }

 private:
  std::string_view in_;
};

// Grows v's capacity by half so that `extra` more elements fit (a list's unused tail averages a
// sixth of it, against a quarter when doubling); may throw bad_alloc.
template <typename T>
void MakeRoom(std::vector<T>* v, size_t extra) {
  if (v->size() + extra <= v->capacity()) return;
  v->reserve(std::max({v->size() + extra, v->capacity() + v->capacity() / 2, 8 * extra}));
}

}  // namespace

// Per-search state shared by the list scans of one query.
struct IvfIndex::ScanScratch {
  explicit ScanScratch(size_t keep) : top(keep) {}
  const simd::Kernels* kern = nullptr;
  TopK top;
  std::vector<float> dist;         // IVF-Flat: batch kernel output
  std::vector<float> residual;     // query - centroid
  std::vector<float> table;        // IVF-PQ: the current list's table
  std::vector<float> query_table;  // IVF-PQ: per-query table (-2 <q_j, C> for L2, <q_j, C> for IP)
  float query_norm = 0.0f;         // IVF-Flat L2: |q|^2
  uint64_t computations = 0;
};

IvfIndex::IvfIndex(const IndexOptions& options, Metric metric, const VectorStore* store)
    : options_(options),
      metric_(metric),
      store_(store),
      dim_(store->width()),
      nlist_(options.nlist),
      code_size_(options.quantizer == QuantizerType::kNone  ? store->width() * sizeof(float)
                 : options.quantizer == QuantizerType::kSq8 ? store->width()
                                                            : options.pq_m) {
  if (options.quantizer == QuantizerType::kSq8) sq8_ = Sq8Quantizer(dim_);
  if (options.quantizer == QuantizerType::kPq) pq_ = ProductQuantizer(dim_, options.pq_m);
}

IvfIndex::~IvfIndex() = default;

StatusOr<std::unique_ptr<VectorIndex>> IvfIndex::Create(const IndexOptions& options, Metric metric,
                                                        const VectorStore* store) {
  if (store == nullptr) return Status::InvalidArgument("ivf: no vector store");
  if (options.type != IndexType::kIvf) return Status::InvalidArgument("ivf: options are not of an IVF index");
  const size_t dim = store->width();
  if (dim == 0 || dim > CollectionOptions::kMaxDimension) {
    return Status::InvalidArgument("ivf: dimension " + std::to_string(dim) + " out of range");
  }
  SEXTANT_RETURN_IF_ERROR(options.Validate(static_cast<uint32_t>(dim)));
  IndexOptions resolved = options;
  if (resolved.quantizer == QuantizerType::kPq && resolved.pq_m == 0) {
    resolved.pq_m = static_cast<uint32_t>(ProductQuantizer::AutoM(dim));
  }
  if (resolved.quantizer != QuantizerType::kPq) resolved.pq_m = 0;
  try {
    return std::unique_ptr<VectorIndex>(new IvfIndex(resolved, metric, store));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("ivf: out of memory");
  }
}

std::string IvfIndex::Spec() const { return options_.ToString(); }

size_t IvfIndex::MinTrainingPoints() const {
  size_t n = std::max<size_t>(39 * size_t{nlist_}, 1000);
  if (options_.quantizer == QuantizerType::kPq) n = std::max<size_t>(n, 39 * kK);
  return n;
}

size_t IvfIndex::RerankCandidates(size_t k) const {
  if (options_.quantizer == QuantizerType::kNone) return k;
  return std::max(kRerankFactor * k, kRerankMin);
}

uint8_t IvfIndex::StateOf(uint32_t slot) const {
  auto* p = const_cast<uint8_t*>(slot_state_.Row(slot));
  return std::atomic_ref<uint8_t>(*p).load(std::memory_order_acquire);
}

void IvfIndex::SetState(uint32_t slot, uint8_t state) {
  std::atomic_ref<uint8_t>(*slot_state_.Row(slot)).store(state, std::memory_order_release);
}

bool IvfIndex::Holds(uint32_t slot) const {
  return slot < slot_state_.capacity() && StateOf(slot) != kAbsent;
}

uint32_t IvfIndex::NearestList(const float* x) const {
  const simd::Kernels& kern = simd::Active();
  std::vector<float> d(nlist_);
  if (IsDot()) {
    kern.dot_batch(x, centroids_.data(), nlist_, dim_, d.data());
    for (float& v : d) v = -v;
  } else {
    kern.l2sq_batch(x, centroids_.data(), nlist_, dim_, d.data());
  }
  return static_cast<uint32_t>(ArgMin(d.data(), nlist_));
}

void IvfIndex::CoarseDistances(const simd::Kernels& kern, const float* q, float q_norm, float* out) const {
  kern.dot_rows(q, centroids_.data(), nlist_, dim_, out);
  if (IsDot()) {
    for (uint32_t l = 0; l < nlist_; ++l) out[l] = -out[l];
  } else {
    const float* cn = centroid_norms_.data();
    for (uint32_t l = 0; l < nlist_; ++l) out[l] = q_norm + cn[l] - 2.0f * out[l];
  }
}

void IvfIndex::BuildDerived() {
  lists_ = std::make_unique<List[]>(nlist_);
  pq_tables_.clear();
  centroid_norms_.assign(nlist_, 0.0f);
  if (!IsDot()) {
    const simd::Kernels& kern = simd::Active();
    for (uint32_t l = 0; l < nlist_; ++l) {
      const float* c = &centroids_[size_t{l} * dim_];
      centroid_norms_[l] = kern.dot(c, c, dim_);
    }
  }
  if (options_.quantizer != QuantizerType::kPq || IsDot()) return;
  const size_t per_list = pq_.m() * kK;
  if (uint64_t{nlist_} * per_list * sizeof(float) > kMaxPrecomputedTableBytes) return;
  std::vector<float> norms(per_list);
  pq_.NormTable(norms.data());
  std::vector<float> tables(nlist_ * per_list);
  for (uint32_t l = 0; l < nlist_; ++l) {
    float* t = &tables[l * per_list];
    pq_.DotTable(&centroids_[size_t{l} * dim_], t);
    for (size_t i = 0; i < per_list; ++i) t[i] = norms[i] + 2.0f * t[i];
  }
  pq_tables_ = std::move(tables);
}

Status IvfIndex::Train(const float* vectors, size_t n) {
  if (!NeedsTraining()) return Status::FailedPrecondition("ivf: already trained");
  const size_t hard_min = options_.quantizer == QuantizerType::kPq ? std::max<size_t>(nlist_, kK) : nlist_;
  if (vectors == nullptr || n < hard_min) {
    return Status::InvalidArgument("ivf: " + std::to_string(n) + " training vectors for " + Spec() +
                                   ", need at least " + std::to_string(hard_min) + " (recommended " +
                                   std::to_string(MinTrainingPoints()) + ")");
  }
  try {
    KMeansOptions km;
    km.k = nlist_;
    km.max_iterations = kTrainIterations;
    km.seed = kTrainSeed;
    km.inner_product = IsDot();
    km.spherical = IsDot();
    km.stop = training_stop_;
    SEXTANT_ASSIGN_OR_RETURN(KMeansResult clusters, KMeans(vectors, n, dim_, km));
    centroids_ = std::move(clusters.centroids);

    if (options_.quantizer != QuantizerType::kNone) {
      // The quantizer learns the residuals of the training rows to their own cells.
      std::vector<uint32_t> labels(n);
      AssignToCentroids(centroids_.data(), nlist_, dim_, vectors, n, IsDot(), labels.data(), nullptr);
      std::vector<float> residuals(n * dim_);
      for (size_t i = 0; i < n; ++i) {
        const float* x = vectors + i * dim_;
        const float* c = &centroids_[size_t{labels[i]} * dim_];
        float* r = &residuals[i * dim_];
        for (size_t j = 0; j < dim_; ++j) r[j] = x[j] - c[j];
      }
      if (options_.quantizer == QuantizerType::kSq8) {
        sq8_.Train(residuals.data(), n);
      } else {
        SEXTANT_RETURN_IF_ERROR(pq_.Train(residuals.data(), n, kTrainSeed, training_stop_));
      }
    }
    BuildDerived();
    trained_.store(true, std::memory_order_release);
    return Status::OK();
  } catch (const std::bad_alloc&) {
    centroids_.clear();
    pq_tables_.clear();
    lists_.reset();
    return Status::ResourceExhausted("ivf: out of memory while training " + Spec());
  } catch (...) {
    centroids_.clear();
    pq_tables_.clear();
    lists_.reset();
    return Status::Internal("ivf: unexpected exception while training");
  }
}

Status IvfIndex::Add(uint32_t slot) {
  if (NeedsTraining()) return Status::FailedPrecondition("ivf: Add before Train");
  if (slot >= store_->capacity()) {
    return Status::InvalidArgument("ivf: slot " + std::to_string(slot) + " has no row in the store");
  }
  if (Holds(slot)) return Status::FailedPrecondition("ivf: slot " + std::to_string(slot) + " is already held");
  try {
    const float* x = store_->Row(slot);
    const uint32_t l = NearestList(x);
    std::vector<uint8_t> code;
    if (options_.quantizer != QuantizerType::kNone) {
      std::vector<float> residual(dim_);
      const float* c = &centroids_[size_t{l} * dim_];
      for (size_t j = 0; j < dim_; ++j) residual[j] = x[j] - c[j];
      code.resize(code_size_);
      if (options_.quantizer == QuantizerType::kSq8) {
        sq8_.Encode(residual.data(), code.data());
      } else {
        pq_.Encode(residual.data(), code.data());
      }
    }
    slot_state_.Reserve(uint64_t{slot} + 1);
    List& list = lists_[l];
    internal::WriterLock lock(list.mu);
    // Allocate first, so that nothing below can throw and the list stays consistent.
    MakeRoom(&list.slots, 1);
    if (options_.quantizer == QuantizerType::kNone) {
      MakeRoom(&list.vectors, dim_);
      if (KeepsNorms()) MakeRoom(&list.norms, 1);
    } else {
      MakeRoom(&list.codes, code_size_);
    }
    SetState(slot, kLive);
    list.slots.push_back(slot);
    if (options_.quantizer == QuantizerType::kNone) {
      list.vectors.insert(list.vectors.end(), x, x + dim_);
      if (KeepsNorms()) list.norms.push_back(simd::Active().dot(x, x, dim_));
    } else {
      list.codes.insert(list.codes.end(), code.begin(), code.end());
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("ivf: out of memory adding slot " + std::to_string(slot));
  }
  live_.fetch_add(1, std::memory_order_relaxed);
  return Status::OK();
}

void IvfIndex::Remove(uint32_t slot) {
  if (slot >= slot_state_.capacity() || StateOf(slot) != kLive) return;
  SetState(slot, kRemoved);
  live_.fetch_sub(1, std::memory_order_relaxed);
  pending_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint32_t> IvfIndex::Consolidate() {
  std::vector<uint32_t> released;
  if (!lists_ || pending_.load(std::memory_order_relaxed) == 0) return released;
  try {
    released.reserve(pending_.load(std::memory_order_relaxed));
  } catch (const std::bad_alloc&) {
    return released;  // try again next time; nothing changed
  }
  const size_t entry_floats = options_.quantizer == QuantizerType::kNone ? dim_ : 0;
  const size_t entry_bytes = options_.quantizer == QuantizerType::kNone ? 0 : code_size_;
  for (uint32_t l = 0; l < nlist_; ++l) {
    List& list = lists_[l];
    internal::WriterLock lock(list.mu);
    size_t w = 0;
    for (size_t r = 0; r < list.slots.size(); ++r) {
      const uint32_t slot = list.slots[r];
      if (StateOf(slot) == kRemoved && released.size() < released.capacity()) {
        released.push_back(slot);
        SetState(slot, kAbsent);
        continue;
      }
      if (w != r) {
        list.slots[w] = slot;
        if (entry_floats) std::memmove(&list.vectors[w * entry_floats], &list.vectors[r * entry_floats], entry_floats * 4);
        if (!list.norms.empty()) list.norms[w] = list.norms[r];
        if (entry_bytes) std::memmove(&list.codes[w * entry_bytes], &list.codes[r * entry_bytes], entry_bytes);
      }
      ++w;
    }
    list.slots.resize(w);
    list.vectors.resize(w * entry_floats);
    if (!list.norms.empty()) list.norms.resize(w);
    list.codes.resize(w * entry_bytes);
    if (list.slots.capacity() > 2 * w + 16) {
      try {
        list.slots.shrink_to_fit();
        list.vectors.shrink_to_fit();
        list.norms.shrink_to_fit();
        list.codes.shrink_to_fit();
      } catch (const std::bad_alloc&) {
        // Keeping the larger buffers is fine.
      }
    }
  }
  pending_.fetch_sub(released.size(), std::memory_order_relaxed);
  std::sort(released.begin(), released.end());
  return released;
}

void IvfIndex::ScanList(uint32_t l, float coarse, const float* q, const IndexSearchParams& p,
                        ScanScratch* s) const {
  const List& list = lists_[l];
  internal::ReaderLock lock(list.mu);
  const size_t n = list.slots.size();
  if (n == 0) return;
  const uint32_t* slots = list.slots.data();
  auto allowed = [&](uint32_t slot) {
    return slot < p.mask_size && p.mask[slot] != 0 && StateOf(slot) == kLive;
  };
  TopK& top = s->top;

  if (options_.quantizer == QuantizerType::kNone) {
    if (s->dist.size() < n) s->dist.resize(n);
    float* dist = s->dist.data();
    size_t i = 0;
    while (i < n) {
      if (!allowed(slots[i])) {
        ++i;
        continue;
      }
      size_t j = i + 1;
      while (j < n && allowed(slots[j])) ++j;
      const float* rows = list.vectors.data() + i * dim_;
      s->kern->dot_rows(q, rows, j - i, dim_, dist);
      if (IsDot()) {
        for (size_t t = 0; t < j - i; ++t) dist[t] = -dist[t];
      } else {
        // |q - x|^2 = |q|^2 + |x|^2 - 2 q.x; Search re-scores the k it returns exactly.
        const float* norms = list.norms.data() + i;
        for (size_t t = 0; t < j - i; ++t) dist[t] = s->query_norm + norms[t] - 2.0f * dist[t];
      }
      for (size_t t = 0; t < j - i; ++t) {
        if (dist[t] <= top.Bound()) top.Push(dist[t], slots[i + t]);
      }
      s->computations += j - i;
      i = j + 1;  // slots[j] (if any) was not allowed
    }
    return;
  }

  const uint8_t* codes = list.codes.data();
  const float* centroid = &centroids_[size_t{l} * dim_];
  auto residual_query = [&]() -> const float* {
    s->residual.resize(dim_);
    for (size_t j = 0; j < dim_; ++j) s->residual[j] = q[j] - centroid[j];
    return s->residual.data();
  };

  if (options_.quantizer == QuantizerType::kSq8) {
    const float* qr = nullptr;
    for (size_t i = 0; i < n; ++i) {
      if (!allowed(slots[i])) continue;
      const uint8_t* code = codes + i * code_size_;
      float d;
      if (IsDot()) {
        d = coarse - sq8_.Dot(q, code);  // coarse = -q.c
      } else {
        if (qr == nullptr) qr = residual_query();
        d = sq8_.L2Sqr(qr, code);
      }
      ++s->computations;
      if (d <= top.Bound()) top.Push(d, slots[i]);
    }
    return;
  }

  // IVF-PQ. distance = base + sign * sum of table entries.
  const size_t m = pq_.m();
  const float* table = nullptr;
  float base = coarse;
  float sign = 1.0f;
  for (size_t i = 0; i < n; ++i) {
    if (!allowed(slots[i])) continue;
    if (table == nullptr) {  // built on the first allowed entry: a filtered-out list costs nothing
      if (IsDot()) {
        table = s->query_table.data();  // coarse = -q.c, distance = -(q.c + q.r)
        sign = -1.0f;
      } else if (!pq_tables_.empty()) {
        s->table.resize(m * kK);
        const float* pre = &pq_tables_[size_t{l} * m * kK];
        const float* qt = s->query_table.data();
        float* dst = s->table.data();
        for (size_t j = 0; j < m * kK; j += kK) {
#if defined(__clang__)
#pragma clang loop vectorize(assume_safety)
#else
#pragma GCC ivdep
#endif
          for (size_t c = 0; c < kK; ++c) dst[j + c] = pre[j + c] + qt[j + c];
        }
        table = s->table.data();  // coarse = |q - c|^2
      } else {
        s->table.resize(m * kK);
        pq_.L2Table(residual_query(), s->table.data());
        table = s->table.data();
        base = 0.0f;
      }
    }
    const float d = base + sign * ProductQuantizer::TableSum(table, codes + i * m, m);
    ++s->computations;
    if (d <= top.Bound()) top.Push(d, slots[i]);
  }
}

Status IvfIndex::Search(const float* query, const IndexSearchParams& params, std::vector<Neighbor>* out,
                        IndexSearchStats* stats) const {
  out->clear();
  if (NeedsTraining()) return Status::FailedPrecondition("ivf: Search before Train");
  if (params.mask == nullptr) return Status::InvalidArgument("ivf: search without a mask");
  if (params.k == 0) return Status::OK();
  try {
    ScanScratch scratch(RerankCandidates(params.k));
    scratch.kern = &simd::Active();
    const simd::Kernels& kern = *scratch.kern;

    // Coarse step: distance to every centroid (NaN sorts last).
    std::vector<float> coarse(nlist_);
    scratch.query_norm = IsDot() ? 0.0f : kern.dot(query, query, dim_);
    CoarseDistances(kern, query, scratch.query_norm, coarse.data());
    for (float& v : coarse) {
      if (std::isnan(v)) v = std::numeric_limits<float>::infinity();
    }
    scratch.computations += nlist_;

    if (options_.quantizer == QuantizerType::kPq && (IsDot() || !pq_tables_.empty())) {
      scratch.query_table.resize(pq_.m() * kK);
      if (IsDot()) {
        pq_.DotTable(query, scratch.query_table.data());
      } else {
        // -2 <q_j, C> as <-2 q_j, C>: scaling by -2 is exact, so the table is the same.
        scratch.residual.resize(dim_);
        for (size_t j = 0; j < dim_; ++j) scratch.residual[j] = -2.0f * query[j];
        pq_.DotTable(scratch.residual.data(), scratch.query_table.data());
      }
    }

    std::vector<uint32_t> order(nlist_);
    std::iota(order.begin(), order.end(), 0u);
    auto closer = [&](uint32_t a, uint32_t b) { return coarse[a] < coarse[b] || (coarse[a] == coarse[b] && a < b); };
    const size_t want = params.allowed == 0 ? params.k : std::min<uint64_t>(params.k, params.allowed);
    size_t nprobe = params.nprobe != 0 ? params.nprobe : options_.nprobe;
    // A filter that allows a fraction s of the indexed points leaves ~s of each list's entries
    // as candidates: probe nprobe / s lists, so that as many candidates are scored as without a
    // filter (a masked-out entry costs a byte test, not a distance).
    const size_t indexed = Size();
    if (params.allowed != 0 && params.allowed < indexed) {
      const double scaled = std::ceil(static_cast<double>(nprobe) * static_cast<double>(indexed) /
                                      static_cast<double>(params.allowed));
      nprobe = scaled >= nlist_ ? nlist_ : static_cast<size_t>(scaled);
    }
    nprobe = std::clamp<size_t>(nprobe, 1, nlist_);
    // Probe; while fewer than `want` candidates were found, double nprobe. After widening, the
    // first candidates found are those of the nearest lists that hold any, seldom the nearest
    // ones, so one more doubling is scanned once enough are found.
    size_t probed = 0;
    bool widened = false, margin = false;
    for (;;) {
      std::partial_sort(order.begin() + static_cast<std::ptrdiff_t>(probed),
                        order.begin() + static_cast<std::ptrdiff_t>(nprobe), order.end(), closer);
      for (; probed < nprobe; ++probed) ScanList(order[probed], coarse[order[probed]], query, params, &scratch);
      if (probed == nlist_) break;
      if (scratch.top.size() >= want) {
        if (!widened || margin) break;
        margin = true;
      } else {
        widened = true;
      }
      nprobe = std::min<size_t>(2 * nprobe, nlist_);
    }

    if (options_.quantizer == QuantizerType::kNone) {
      *out = std::move(scratch.top).Sorted();
      if (!IsDot()) {
        // The scan's |q|^2 + |x|^2 - 2 q.x loses low bits to cancellation near the query: the k
        // returned get their exact distances (from the store's rows, as IVF-PQ's re-rank), re-sorted.
        for (Neighbor& nb : *out) {
          if (nb.slot < store_->capacity()) nb.distance = kern.l2sq(query, store_->Row(nb.slot), dim_);
        }
        std::sort(out->begin(), out->end());
      }
    } else {
      // Re-rank the approximate candidates with the float32 rows.
      // The rows are scattered over the store: prefetch a few candidates ahead, whole rows.
      TopK exact(params.k);
      const uint64_t rows = store_->capacity();
      std::vector<Neighbor> candidates = std::move(scratch.top).Unsorted();
      const size_t row_bytes = dim_ * sizeof(float);
      auto prefetch = [&](size_t i) {
        if (i >= candidates.size() || candidates[i].slot >= rows) return;
        const char* row = reinterpret_cast<const char*>(store_->Row(candidates[i].slot));
        for (size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(row + b);
      };
      constexpr size_t kAhead = 4;
      for (size_t i = 0; i < kAhead; ++i) prefetch(i);
      for (size_t i = 0; i < candidates.size(); ++i) {
        prefetch(i + kAhead);
        const Neighbor& c = candidates[i];
        if (c.slot >= rows) continue;  // cannot happen for a slot given to Add; Load checks it too
        exact.Push(Distance(metric_, query, store_->Row(c.slot), dim_), c.slot);
        ++scratch.computations;
      }
      *out = std::move(exact).Sorted();
    }
    if (stats != nullptr) {
      stats->distance_computations += scratch.computations;
      stats->effort = static_cast<uint32_t>(probed);
    }
    return Status::OK();
  } catch (const std::bad_alloc&) {
    out->clear();
    return Status::ResourceExhausted("ivf: out of memory while searching");
  }
}

std::vector<size_t> IvfIndex::ListSizes() const {
  std::vector<size_t> sizes;
  if (!lists_) return sizes;
  sizes.reserve(nlist_);
  for (uint32_t l = 0; l < nlist_; ++l) {
    internal::ReaderLock lock(lists_[l].mu);
    sizes.push_back(lists_[l].slots.size());
  }
  return sizes;
}

size_t IvfIndex::MemoryBytes() const {
  size_t bytes = sizeof(*this) + centroids_.capacity() * sizeof(float) + pq_tables_.capacity() * sizeof(float) +
                 pq_.MemoryBytes() + slot_state_.MemoryBytes();
  if (sq8_.trained()) bytes += 2 * dim_ * sizeof(float);
  if (lists_) {
    bytes += size_t{nlist_} * sizeof(List);
    for (uint32_t l = 0; l < nlist_; ++l) {
      const List& list = lists_[l];
      internal::ReaderLock lock(list.mu);
      bytes += list.slots.capacity() * sizeof(uint32_t) + list.vectors.capacity() * sizeof(float) +
               list.norms.capacity() * sizeof(float) + list.codes.capacity();
    }
  }
  return bytes;
}

Status IvfIndex::Save(std::string* out) const {
  try {
    out->clear();
    const bool trained = !NeedsTraining();
    PutU32(out, kMagic);
    PutU32(out, kFormatVersion);
    PutU32(out, static_cast<uint32_t>(dim_));
    out->push_back(static_cast<char>(MetricCode(metric_)));
    out->push_back(static_cast<char>(QuantizerCode(options_.quantizer)));
    out->push_back(trained ? 1 : 0);
    out->push_back(0);
    PutU32(out, nlist_);
    PutU32(out, static_cast<uint32_t>(pq_.m()));
    std::vector<uint32_t> removed;
    if (trained) {
      out->append(reinterpret_cast<const char*>(centroids_.data()), centroids_.size() * sizeof(float));
      if (options_.quantizer == QuantizerType::kSq8) sq8_.Serialize(out);
      if (options_.quantizer == QuantizerType::kPq) pq_.Serialize(out);
      for (uint32_t l = 0; l < nlist_; ++l) {
        const List& list = lists_[l];
        internal::ReaderLock lock(list.mu);
        PutU32(out, static_cast<uint32_t>(list.slots.size()));
        out->append(reinterpret_cast<const char*>(list.slots.data()), list.slots.size() * sizeof(uint32_t));
        if (options_.quantizer == QuantizerType::kNone) {
          out->append(reinterpret_cast<const char*>(list.vectors.data()), list.vectors.size() * sizeof(float));
        } else {
          out->append(reinterpret_cast<const char*>(list.codes.data()), list.codes.size());
        }
        for (uint32_t slot : list.slots) {
          if (StateOf(slot) == kRemoved) removed.push_back(slot);
        }
      }
    }
    PutU64(out, removed.size());
    out->append(reinterpret_cast<const char*>(removed.data()), removed.size() * sizeof(uint32_t));
    PutU64(out, internal::Hash64(out->data(), out->size()));
    return Status::OK();
  } catch (const std::bad_alloc&) {
    out->clear();
    return Status::ResourceExhausted("ivf: out of memory while saving");
  }
}

StatusOr<std::unique_ptr<VectorIndex>> IvfIndex::Load(std::string_view bytes, const IndexOptions& options,
                                                      Metric metric, const VectorStore* store) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> created, Create(options, metric, store));
  auto* index = static_cast<IvfIndex*>(created.get());
  try {
    SEXTANT_RETURN_IF_ERROR(index->Deserialize(bytes));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("ivf: out of memory while loading");
  }
  return created;
}

Status IvfIndex::Deserialize(std::string_view bytes) {
  auto bad = [](const std::string& why) { return Status::DataLoss("ivf index: " + why); };
  if (bytes.size() < kHeaderBytes + 16) return bad("truncated (" + std::to_string(bytes.size()) + " bytes)");
  uint64_t stored_sum;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  bytes.remove_suffix(8);
  if (internal::Hash64(bytes.data(), bytes.size()) != stored_sum) return bad("checksum mismatch");

  Reader in(bytes);
  uint32_t magic, version, dim, nlist, pq_m;
  uint8_t metric, quantizer, trained, pad;
  if (!in.U32(&magic) || !in.U32(&version) || !in.U32(&dim) || !in.U8(&metric) || !in.U8(&quantizer) ||
      !in.U8(&trained) || !in.U8(&pad) || !in.U32(&nlist) || !in.U32(&pq_m)) {
    return bad("truncated header");
  }
  if (magic != kMagic) return bad("not an IVF index (bad magic)");
  if (version != kFormatVersion) return bad("unsupported version " + std::to_string(version));
  if (dim != dim_ || metric != MetricCode(metric_) || quantizer != QuantizerCode(options_.quantizer) ||
      nlist != nlist_ || pq_m != pq_.m() || trained > 1 || pad != 0) {
    return bad("saved for another configuration (dim " + std::to_string(dim) + ", nlist " +
               std::to_string(nlist) + ", pq_m " + std::to_string(pq_m) + "); expected " + Spec() +
               " of dim " + std::to_string(dim_));
  }
  const uint64_t capacity = store_->capacity();
  if (trained == 1) {
    const uint64_t centroid_bytes = uint64_t{nlist_} * dim_ * sizeof(float);
    if (centroid_bytes > in.left()) return bad("truncated centroids");
    std::vector<float> centroids(static_cast<size_t>(centroid_bytes / sizeof(float)));
    in.Raw(centroids.data(), centroid_bytes);
    for (float v : centroids) {
      if (!std::isfinite(v)) return bad("non-finite centroid");
    }
    centroids_ = std::move(centroids);
    if (options_.quantizer == QuantizerType::kSq8) {
      SEXTANT_RETURN_IF_ERROR(sq8_.Deserialize(&in.rest()).WithPrefix("ivf index"));
      if (!sq8_.trained()) return bad("untrained SQ8 quantizer");
    } else if (options_.quantizer == QuantizerType::kPq) {
      SEXTANT_RETURN_IF_ERROR(pq_.Deserialize(&in.rest()).WithPrefix("ivf index"));
      if (!pq_.trained()) return bad("untrained product quantizer");
    }
    BuildDerived();
    slot_state_.Reserve(capacity);
    const uint64_t entry_bytes = sizeof(uint32_t) + code_size_;
    for (uint32_t l = 0; l < nlist_; ++l) {
      uint32_t count;
      if (!in.U32(&count)) return bad("truncated list " + std::to_string(l));
      if (uint64_t{count} * entry_bytes > in.left()) return bad("truncated list " + std::to_string(l));
      List& list = lists_[l];
      internal::WriterLock lock(list.mu);  // not shared yet; taken for the analysis
      list.slots.resize(count);
      in.Raw(list.slots.data(), uint64_t{count} * sizeof(uint32_t));
      if (options_.quantizer == QuantizerType::kNone) {
        list.vectors.resize(size_t{count} * dim_);
        in.Raw(list.vectors.data(), uint64_t{count} * code_size_);
        if (KeepsNorms()) {
          const simd::Kernels& kern = simd::Active();
          list.norms.resize(count);
          for (size_t i = 0; i < count; ++i) list.norms[i] = kern.dot(&list.vectors[i * dim_], &list.vectors[i * dim_], dim_);
        }
      } else {
        list.codes.resize(size_t{count} * code_size_);
        in.Raw(list.codes.data(), uint64_t{count} * code_size_);
      }
      for (uint32_t slot : list.slots) {
        if (slot >= capacity) {
          return bad("slot " + std::to_string(slot) + " beyond the store's " + std::to_string(capacity) + " rows");
        }
        if (StateOf(slot) != kAbsent) return bad("slot " + std::to_string(slot) + " listed twice");
        SetState(slot, kLive);
      }
      live_.fetch_add(count, std::memory_order_relaxed);
    }
  }
  uint64_t removed;
  if (!in.U64(&removed) || removed > in.left() / sizeof(uint32_t)) return bad("truncated removed slots");
  for (uint64_t i = 0; i < removed; ++i) {
    uint32_t slot = 0;
    in.U32(&slot);
    if (slot >= capacity || slot >= slot_state_.capacity() || StateOf(slot) != kLive) {
      return bad("removed slot " + std::to_string(slot) + " is not held");
    }
    SetState(slot, kRemoved);
    live_.fetch_sub(1, std::memory_order_relaxed);
    pending_.fetch_add(1, std::memory_order_relaxed);
  }
  if (in.left() != 0) return bad(std::to_string(in.left()) + " trailing bytes");
  trained_.store(trained == 1, std::memory_order_release);
  return Status::OK();
}

}  // namespace sextant::index
