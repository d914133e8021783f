// ProductQuantizer (pq.h). Codebooks come from kmeans.h, one k-means per subspace on the same
// sampled rows; encoding and tables run over the transposed layout, 256 centroids wide, with
// SSE2 (the x86-64 baseline) intrinsics, since GCC -O2 does not vectorise those loops itself.
#include "index/pq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "index/kmeans.h"

namespace sextant::index {
namespace {

constexpr size_t kK = ProductQuantizer::kCentroids;

// out[c] = sum_t (v[t] - col_t[c])^2 (kL2) or sum_t v[t] * col_t[c], for the 256 centroids c of
// one subspace, where col_t = cols + t * 256 (the transposed layout). Sixteen centroids per step
// in four SSE2 registers, accumulated over t before one store.
template <bool kL2>
void SubspaceTable(const float* v, const float* cols, size_t dsub, float* out) {
#if defined(__SSE2__)
  for (size_t c = 0; c < kK; c += 16) {
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps(), acc2 = _mm_setzero_ps(), acc3 = _mm_setzero_ps();
    for (size_t t = 0; t < dsub; ++t) {
      const __m128 vt = _mm_set1_ps(v[t]);
      const float* col = cols + t * kK + c;
      __m128 x0 = _mm_loadu_ps(col), x1 = _mm_loadu_ps(col + 4), x2 = _mm_loadu_ps(col + 8), x3 = _mm_loadu_ps(col + 12);
      if constexpr (kL2) {
        x0 = _mm_sub_ps(vt, x0);
        x1 = _mm_sub_ps(vt, x1);
        x2 = _mm_sub_ps(vt, x2);
        x3 = _mm_sub_ps(vt, x3);
        acc0 = _mm_add_ps(acc0, _mm_mul_ps(x0, x0));
        acc1 = _mm_add_ps(acc1, _mm_mul_ps(x1, x1));
        acc2 = _mm_add_ps(acc2, _mm_mul_ps(x2, x2));
        acc3 = _mm_add_ps(acc3, _mm_mul_ps(x3, x3));
      } else {
        acc0 = _mm_add_ps(acc0, _mm_mul_ps(vt, x0));
        acc1 = _mm_add_ps(acc1, _mm_mul_ps(vt, x1));
        acc2 = _mm_add_ps(acc2, _mm_mul_ps(vt, x2));
        acc3 = _mm_add_ps(acc3, _mm_mul_ps(vt, x3));
      }
    }
    _mm_storeu_ps(out + c, acc0);
    _mm_storeu_ps(out + c + 4, acc1);
    _mm_storeu_ps(out + c + 8, acc2);
    _mm_storeu_ps(out + c + 12, acc3);
  }
#else
  std::fill(out, out + kK, 0.0f);
  for (size_t t = 0; t < dsub; ++t) {
    const float* col = cols + t * kK;
    for (size_t c = 0; c < kK; ++c) {
      if constexpr (kL2) {
        const float d = v[t] - col[c];
        out[c] += d * d;
      } else {
        out[c] += v[t] * col[c];
      }
    }
  }
#endif
}

void PutU32(std::string* out, uint32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);
  out->append(buf, 4);
}

uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

size_t ProductQuantizer::AutoM(size_t dim) {
  for (size_t m = std::min<size_t>(64, dim / 2); m >= 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

Status ProductQuantizer::Train(const float* vectors, size_t n, uint64_t seed, const std::atomic<bool>* stop) {
  if (m_ == 0 || dim_ == 0 || dim_ % m_ != 0) {
    return Status::InvalidArgument("pq: m " + std::to_string(m_) + " must divide the dimension " +
                                   std::to_string(dim_));
  }
  if (n < kK) {
    return Status::InvalidArgument("pq: " + std::to_string(n) + " training vectors, need at least " +
                                   std::to_string(kK));
  }
  try {
    std::vector<float> centroids(m_ * kK * dsub_);
    std::vector<float> sub(n * dsub_);
    KMeansOptions opt;
    opt.k = kK;
    opt.max_iterations = 25;
    opt.seed = seed;  // the same seed in every subspace: k-means samples the same rows
    opt.max_points_per_centroid = kMaxTrainingRows / kK;
    // Random initial centroids, as FAISS's ProductQuantizer: with 25 Lloyd iterations k-means++
    // buys little here, and its 256 passes cost as much as the iterations on small subspaces.
    opt.init = KMeansOptions::Init::kRandom;
    opt.stop = stop;
    for (size_t j = 0; j < m_; ++j) {
      for (size_t i = 0; i < n; ++i) {
        std::memcpy(&sub[i * dsub_], vectors + i * dim_ + j * dsub_, dsub_ * sizeof(float));
      }
      StatusOr<KMeansResult> km = KMeans(sub.data(), n, dsub_, opt);
      if (!km.ok()) return km.status().WithPrefix("pq subspace " + std::to_string(j));
      std::memcpy(&centroids[j * kK * dsub_], km->centroids.data(), kK * dsub_ * sizeof(float));
    }
    centroids_ = std::move(centroids);
    BuildTransposed();
    return Status::OK();
  } catch (const std::bad_alloc&) {
    centroids_.clear();
    transposed_.clear();
    return Status::ResourceExhausted("pq: out of memory while training");
  }
}

void ProductQuantizer::BuildTransposed() {
  if (centroids_.empty()) {
    transposed_.clear();
    return;
  }
  transposed_.assign(m_ * dsub_ * kK, 0.0f);
  for (size_t j = 0; j < m_; ++j) {
    for (size_t c = 0; c < kK; ++c) {
      for (size_t t = 0; t < dsub_; ++t) {
        transposed_[(j * dsub_ + t) * kK + c] = centroids_[(j * kK + c) * dsub_ + t];
      }
    }
  }
}

void ProductQuantizer::Encode(const float* x, uint8_t* code) const {
  alignas(16) float dist[kK];
  for (size_t j = 0; j < m_; ++j) {
    SubspaceTable<true>(x + j * dsub_, &transposed_[j * dsub_ * kK], dsub_, dist);
    code[j] = static_cast<uint8_t>(ArgMin(dist, kK));
  }
}

void ProductQuantizer::Decode(const uint8_t* code, float* x) const {
  for (size_t j = 0; j < m_; ++j) {
    std::memcpy(x + j * dsub_, &centroids_[(j * kK + code[j]) * dsub_], dsub_ * sizeof(float));
  }
}

void ProductQuantizer::L2Table(const float* query, float* table) const {
  for (size_t j = 0; j < m_; ++j) {
    SubspaceTable<true>(query + j * dsub_, &transposed_[j * dsub_ * kK], dsub_, table + j * kK);
  }
}

void ProductQuantizer::DotTable(const float* query, float* table) const {
  for (size_t j = 0; j < m_; ++j) {
    SubspaceTable<false>(query + j * dsub_, &transposed_[j * dsub_ * kK], dsub_, table + j * kK);
  }
}

void ProductQuantizer::NormTable(float* table) const {
  for (size_t j = 0; j < m_; ++j) {
    float* row = table + j * kK;
    std::fill(row, row + kK, 0.0f);
    for (size_t t = 0; t < dsub_; ++t) {
      const float* col = &transposed_[(j * dsub_ + t) * kK];
#if defined(__clang__)
#pragma clang loop vectorize(assume_safety)
#else
#pragma GCC ivdep
#endif
      for (size_t c = 0; c < kK; ++c) row[c] += col[c] * col[c];
    }
  }
}

void ProductQuantizer::Serialize(std::string* out) const {
  PutU32(out, static_cast<uint32_t>(dim_));
  PutU32(out, static_cast<uint32_t>(m_));
  PutU32(out, static_cast<uint32_t>(kK));
  out->push_back(trained() ? 1 : 0);
  if (trained()) {
    out->append(reinterpret_cast<const char*>(centroids_.data()), centroids_.size() * sizeof(float));
  }
}

Status ProductQuantizer::Deserialize(std::string_view* in) {
  if (in->size() < 13) return Status::DataLoss("pq: truncated header");
  const uint32_t dim = GetU32(in->data());
  const uint32_t m = GetU32(in->data() + 4);
  const uint32_t k = GetU32(in->data() + 8);
  const auto trained = static_cast<uint8_t>((*in)[12]);
  if (dim == 0 || m == 0 || dim % m != 0 || k != kK || trained > 1) {
    return Status::DataLoss("pq: bad header (dim " + std::to_string(dim) + ", m " + std::to_string(m) +
                            ", k " + std::to_string(k) + ")");
  }
  if (dim_ != 0 && (dim != dim_ || (m_ != 0 && m != m_))) {
    return Status::DataLoss("pq: saved for dim " + std::to_string(dim) + " m " + std::to_string(m) +
                            ", expected dim " + std::to_string(dim_) + " m " + std::to_string(m_));
  }
  std::string_view rest = in->substr(13);
  std::vector<float> centroids;
  if (trained == 1) {
    // dim <= 2^32 so this product cannot overflow 64 bits; compare before allocating.
    const uint64_t bytes = uint64_t{dim} * kK * sizeof(float);
    if (rest.size() < bytes) return Status::DataLoss("pq: truncated codebooks");
    try {
      centroids.resize(static_cast<size_t>(bytes / sizeof(float)));
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("pq: out of memory for the codebooks");
    }
    std::memcpy(centroids.data(), rest.data(), bytes);
    for (float v : centroids) {
      if (!std::isfinite(v)) return Status::DataLoss("pq: non-finite centroid");
    }
    rest.remove_prefix(bytes);
  }
  dim_ = dim;
  m_ = m;
  dsub_ = dim / m;
  centroids_ = std::move(centroids);
  try {
    BuildTransposed();
  } catch (const std::bad_alloc&) {
    centroids_.clear();
    transposed_.clear();
    return Status::ResourceExhausted("pq: out of memory for the codebooks");
  }
  *in = rest;
  return Status::OK();
}

}  // namespace sextant::index
