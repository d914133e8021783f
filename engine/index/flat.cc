#include "index/flat.h"

#include <algorithm>
#include <queue>

#include <Eigen/Core>

#include "simd/distance.h"

namespace sextant::index {
namespace {

// Rows of the base scored per step: a block of 2048 x 128 floats is 1 MiB, which stays in L2
// while the scores of every query in the batch are taken against it.
constexpr size_t kBlockRows = 2048;

// Keeps the k smallest Neighbors seen; a max-heap on (distance, slot).
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k + 1); }
  // Worst kept distance, or +inf while not full: a candidate must beat it.
  float Bound() const {
    return heap_.size() < k_ ? std::numeric_limits<float>::infinity() : heap_.front().distance;
  }
  void Push(float distance, uint32_t slot) {
    Neighbor n{distance, slot};
    if (heap_.size() < k_) {
      heap_.push_back(n);
      std::push_heap(heap_.begin(), heap_.end());
    } else if (n < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = n;
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  std::vector<Neighbor> Sorted() && {
    std::sort_heap(heap_.begin(), heap_.end());
    return std::move(heap_);
  }

 private:
  size_t k_;
  std::vector<Neighbor> heap_;
};

bool IsDot(Metric metric) { return metric != Metric::kL2; }

void ScanOne(std::span<const VectorRun> runs, size_t dim, Metric metric, const uint8_t* mask, const float* q,
             size_t k, std::vector<Neighbor>* out) {
  const simd::Kernels& kern = simd::Active();
  TopK top(k);
  std::vector<float> dist(kBlockRows);
  const float sign = IsDot(metric) ? -1.0f : 1.0f;
  for (const VectorRun& run : runs) {
    for (size_t start = 0; start < run.rows; start += kBlockRows) {
      const size_t rows = std::min(kBlockRows, run.rows - start);
      const float* block = run.data + start * dim;
      if (IsDot(metric)) {
        kern.dot_batch(q, block, rows, dim, dist.data());
      } else {
        kern.l2sq_batch(q, block, rows, dim, dist.data());
      }
      const uint32_t base = run.first_slot + static_cast<uint32_t>(start);
      for (size_t i = 0; i < rows; ++i) {
        const float d = sign * dist[i];
        if (mask[base + i] && d <= top.Bound()) top.Push(d, base + static_cast<uint32_t>(i));
      }
    }
  }
  *out = std::move(top).Sorted();
}

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Many queries: S = Q * B^T per block of the base (one GEMM), approximate distances from it
// (|q|^2 - 2 q.b + |b|^2 for L2), a candidate list of a few more than k per query, then an exact
// re-score of the candidates with the SIMD kernel. The expansion of L2 loses precision when
// vectors are close, hence the margin and the re-score.
void ScanBatch(std::span<const VectorRun> runs, size_t dim, Metric metric, const uint8_t* mask,
               const float* queries, size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out) {
  const size_t candidates = k + std::max<size_t>(k, 16);
  Eigen::Map<const RowMatrix> q(queries, static_cast<Eigen::Index>(nq), static_cast<Eigen::Index>(dim));
  Eigen::VectorXf q_norms = q.rowwise().squaredNorm();
  std::vector<TopK> tops;
  tops.reserve(nq);
  for (size_t i = 0; i < nq; ++i) tops.emplace_back(candidates);

  Eigen::MatrixXf scores;  // column-major: scores(qi, row)
  for (const VectorRun& run : runs) {
    for (size_t start = 0; start < run.rows; start += kBlockRows) {
      const size_t rows = std::min(kBlockRows, run.rows - start);
      const uint32_t base = run.first_slot + static_cast<uint32_t>(start);
      Eigen::Map<const RowMatrix> b(run.data + start * dim, static_cast<Eigen::Index>(rows),
                                    static_cast<Eigen::Index>(dim));
      scores.noalias() = q * b.transpose();
      if (IsDot(metric)) {
        for (size_t r = 0; r < rows; ++r) {
          if (!mask[base + r]) continue;
          const float* col = scores.data() + r * nq;
          for (size_t qi = 0; qi < nq; ++qi) {
            const float d = -col[qi];
            if (d <= tops[qi].Bound()) tops[qi].Push(d, base + static_cast<uint32_t>(r));
          }
        }
      } else {
        Eigen::VectorXf b_norms = b.rowwise().squaredNorm();
        for (size_t r = 0; r < rows; ++r) {
          if (!mask[base + r]) continue;
          const float* col = scores.data() + r * nq;
          const float bn = b_norms[static_cast<Eigen::Index>(r)];
          for (size_t qi = 0; qi < nq; ++qi) {
            const float d = q_norms[static_cast<Eigen::Index>(qi)] + bn - 2.0f * col[qi];
            if (d <= tops[qi].Bound()) tops[qi].Push(d, base + static_cast<uint32_t>(r));
          }
        }
      }
    }
  }

  // Row pointers for the exact re-score.
  auto row_of = [&](uint32_t slot) -> const float* {
    for (const VectorRun& run : runs) {
      if (slot >= run.first_slot && slot - run.first_slot < run.rows) {
        return run.data + size_t{slot - run.first_slot} * dim;
      }
    }
    return nullptr;
  };
  out->resize(nq);
  for (size_t qi = 0; qi < nq; ++qi) {
    const float* qv = queries + qi * dim;
    TopK exact(k);
    for (const Neighbor& n : std::move(tops[qi]).Sorted()) {
      exact.Push(Distance(metric, qv, row_of(n.slot), dim), n.slot);
    }
    (*out)[qi] = std::move(exact).Sorted();
  }
}

}  // namespace

float Distance(Metric metric, const float* query, const float* vector, size_t dim) {
  const simd::Kernels& kern = simd::Active();
  // Computed through the batch kernels with n = 1 so that a single score is bit-identical to the
  // one the scan produced for the same pair.
  float d;
  if (IsDot(metric)) {
    kern.dot_batch(query, vector, 1, dim, &d);
    return -d;
  }
  kern.l2sq_batch(query, vector, 1, dim, &d);
  return d;
}

void ExactSearch(std::span<const VectorRun> runs, size_t dim, Metric metric, const uint8_t* mask,
                 const float* queries, size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out) {
  out->assign(nq, {});
  size_t total = 0;
  for (const VectorRun& run : runs) total += run.rows;
  if (nq == 0 || k == 0 || total == 0) return;
  if (nq >= kBatchedScoringMinQueries) {
    ScanBatch(runs, dim, metric, mask, queries, nq, k, out);
    return;
  }
  for (size_t i = 0; i < nq; ++i) ScanOne(runs, dim, metric, mask, queries + i * dim, k, &(*out)[i]);
}

void ExactSearch(const VectorView& view, Metric metric, const uint8_t* mask, const float* queries,
                 size_t nq, size_t k, std::vector<std::vector<Neighbor>>* out) {
  const VectorRun run{0, view.slots, view.data};
  ExactSearch(std::span<const VectorRun>(&run, 1), view.dim, metric, mask, queries, nq, k, out);
}

}  // namespace sextant::index
