// IVF index (index/ivf.h): recall against exact search for IVF-Flat / IVF-SQ8 / IVF-PQ in every
// metric on seeded clustered data and on siftsmall, incremental adds, removal and consolidation,
// filtered search, concurrent search and add, save/load, and corrupted bytes.
//
// The recall floors are asserted at the nprobe that docs/index_params.md recommends
// (nprobe = nlist / 8), never timings.
#include "index/ivf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iostream>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "index/flat.h"
#include "simd/distance.h"
#include "test_util.h"
#include "util/hash.h"

namespace sextant::index {
namespace {

// Seeded clustered data: `blobs` centres with N(0, 1) components; each point is a random centre
// plus N(0, sigma^2) per component. Queries come from the same centres. Normalised for cosine.
struct Dataset {
  size_t dim = 0;
  size_t n = 0;
  size_t nq = 0;
  std::vector<float> base;
  std::vector<float> queries;
};

Dataset Clustered(size_t n, size_t nq, size_t dim, size_t blobs, float sigma, uint32_t seed, bool normalize) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centres(blobs * dim);
  for (float& c : centres) c = g(rng);
  Dataset d;
  d.dim = dim;
  d.n = n;
  d.nq = nq;
  auto fill = [&](std::vector<float>* out, size_t rows) {
    out->resize(rows * dim);
    for (size_t i = 0; i < rows; ++i) {
      const size_t b = rng() % blobs;
      float* v = out->data() + i * dim;
      for (size_t j = 0; j < dim; ++j) v[j] = centres[b * dim + j] + sigma * g(rng);
      if (normalize) simd::Normalize(v, dim);
    }
  };
  fill(&d.base, n);
  fill(&d.queries, nq);
  return d;
}

std::unique_ptr<VectorStore> MakeStore(const std::vector<float>& rows, size_t dim) {
  auto store = std::make_unique<VectorStore>(dim);
  const size_t n = rows.size() / dim;
  store->Reserve(n);
  for (size_t i = 0; i < n; ++i) std::memcpy(store->Row(static_cast<uint32_t>(i)), &rows[i * dim], dim * 4);
  return store;
}

IndexOptions IvfOptions(uint32_t nlist, QuantizerType q, uint32_t nprobe, uint32_t pq_m = 0) {
  IndexOptions o;
  o.type = IndexType::kIvf;
  o.nlist = nlist;
  o.nprobe = nprobe;
  o.quantizer = q;
  o.pq_m = pq_m;
  return o;
}

std::unique_ptr<IvfIndex> MakeIndex(const IndexOptions& o, Metric metric, const VectorStore* store) {
  StatusOr<std::unique_ptr<VectorIndex>> r = IvfIndex::Create(o, metric, store);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return nullptr;
  return std::unique_ptr<IvfIndex>(static_cast<IvfIndex*>(r->release()));
}

// Trains on rows [0, train) and adds slots [0, add).
std::unique_ptr<IvfIndex> Build(const IndexOptions& o, Metric metric, const VectorStore* store,
                                const std::vector<float>& rows, size_t train, size_t add) {
  auto idx = MakeIndex(o, metric, store);
  if (!idx) return nullptr;
  Status st = idx->Train(rows.data(), train);
  EXPECT_TRUE(st.ok()) << st.ToString();
  for (uint32_t s = 0; s < add; ++s) {
    st = idx->Add(s);
    EXPECT_TRUE(st.ok()) << st.ToString();
    if (!st.ok()) return nullptr;
  }
  return idx;
}

std::vector<Neighbor> SearchOne(const IvfIndex& idx, const float* q, size_t k, const std::vector<uint8_t>& mask,
                                uint64_t allowed, uint32_t nprobe = 0, IndexSearchStats* stats = nullptr) {
  IndexSearchParams p;
  p.k = k;
  p.nprobe = nprobe;
  p.mask = mask.data();
  p.mask_size = mask.size();
  p.allowed = allowed;
  std::vector<Neighbor> out;
  IndexSearchStats local;
  Status st = idx.Search(q, p, &out, stats ? stats : &local);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<std::vector<Neighbor>> Truth(const Dataset& d, Metric metric, const std::vector<uint8_t>& mask, size_t k) {
  std::vector<std::vector<Neighbor>> out;
  ExactSearch(VectorView{d.base.data(), d.dim, d.n}, metric, mask.data(), d.queries.data(), d.nq, k, &out);
  return out;
}

double Recall(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want) {
  if (want.empty()) return 1.0;
  std::set<uint32_t> truth;
  for (const Neighbor& n : want) truth.insert(n.slot);
  size_t hit = 0;
  for (const Neighbor& n : got) hit += truth.count(n.slot);
  return static_cast<double>(hit) / static_cast<double>(want.size());
}

// Results are sorted, unique, allowed, and carry exact distances.
void CheckWellFormed(const std::vector<Neighbor>& got, const Dataset& d, Metric metric, const float* q,
                     const std::vector<uint8_t>& mask) {
  std::set<uint32_t> seen;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LT(got[i].slot, mask.size());
    EXPECT_TRUE(mask[got[i].slot]) << "slot " << got[i].slot << " is not allowed";
    EXPECT_TRUE(seen.insert(got[i].slot).second) << "slot " << got[i].slot << " twice";
    if (i > 0) {
      EXPECT_FALSE(got[i] < got[i - 1]) << "not sorted at " << i;
    }
    EXPECT_EQ(got[i].distance, Distance(metric, q, &d.base[size_t{got[i].slot} * d.dim], d.dim));
  }
}

std::string Name(QuantizerType q) {
  return q == QuantizerType::kNone ? "Flat" : q == QuantizerType::kSq8 ? "SQ8" : "PQ";
}

// ---------------------------------------------------------------------------------------------
// Recall on clustered data, every quantizer x metric.

class IvfRecallTest : public ::testing::TestWithParam<std::tuple<QuantizerType, Metric>> {};

TEST_P(IvfRecallTest, RecallAtTenOnClusteredData) {
  const auto [quantizer, metric] = GetParam();
  const size_t k = 10;
  const uint32_t nlist = 64, nprobe = nlist / 8;
  const Dataset d = Clustered(10000, 200, 32, 10, 1.0f, 17, metric == Metric::kCosine);
  auto store = MakeStore(d.base, d.dim);
  // PQ with 8 bytes per 32-dimensional vector (4 components per byte).
  const uint32_t pq_m = quantizer == QuantizerType::kPq ? 8 : 0;
  auto idx = Build(IvfOptions(nlist, quantizer, nprobe, pq_m), metric, store.get(), d.base, d.n, d.n);
  ASSERT_NE(idx, nullptr);
  EXPECT_EQ(idx->Size(), d.n);
  EXPECT_FALSE(idx->NeedsTraining());
  std::vector<uint8_t> mask(d.n, 1);
  const auto truth = Truth(d, metric, mask, k);
  double recall = 0;
  for (size_t qi = 0; qi < d.nq; ++qi) {
    const float* q = &d.queries[qi * d.dim];
    IndexSearchStats stats;
    auto got = SearchOne(*idx, q, k, mask, d.n, 0, &stats);
    ASSERT_EQ(got.size(), k);
    CheckWellFormed(got, d, metric, q, mask);
    EXPECT_EQ(stats.effort, nprobe);
    EXPECT_GT(stats.distance_computations, nlist);
    recall += Recall(got, truth[qi]);
  }
  recall /= static_cast<double>(d.nq);
  std::cout << "[ recall ] " << idx->Spec() << " " << MetricName(metric)
            << " nprobe " << nprobe << ": " << recall << "\n";
  EXPECT_GE(recall, 0.95);
}

INSTANTIATE_TEST_SUITE_P(
    Ivf, IvfRecallTest,
    ::testing::Combine(::testing::Values(QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq),
                       ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine)),
    [](const auto& info) {
      return Name(std::get<0>(info.param)) + "_" + std::string(MetricName(std::get<1>(info.param)));
    });

// ---------------------------------------------------------------------------------------------
// siftsmall (10k x 128, L2) with its original ground truth.

TEST(IvfSiftTest, RecallAtTenOnSiftsmall) {
  SEXTANT_REQUIRE_DATA(base_path, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t dim = 0, qdim = 0, gdim = 0;
  std::vector<float> base = ::sextant::testing::ReadVecs<float>(base_path, &dim);
  std::vector<float> queries = ::sextant::testing::ReadVecs<float>(query_path, &qdim);
  std::vector<int32_t> gt = ::sextant::testing::ReadVecs<int32_t>(gt_path, &gdim);
  ASSERT_EQ(dim, 128u);
  ASSERT_EQ(qdim, 128u);
  const size_t n = base.size() / dim, nq = queries.size() / dim, k = 10;
  auto store = MakeStore(base, dim);
  std::vector<uint8_t> mask(n, 1);
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    // nlist 64 (39 training points per centroid fit in 10k); PQ with 16 bytes per code (the
    // default m would be 64).
    {
      const uint32_t pq_m = q == QuantizerType::kPq ? 16 : 0;
      const uint32_t nlist = 64, nprobe = 8;
      auto idx = Build(IvfOptions(nlist, q, nprobe, pq_m), Metric::kL2, store.get(), base, n, n);
      ASSERT_NE(idx, nullptr);
      EXPECT_LE(idx->MinTrainingPoints(), n);
      double recall = 0;
      for (size_t qi = 0; qi < nq; ++qi) {
        auto got = SearchOne(*idx, &queries[qi * dim], k, mask, n);
        std::set<uint32_t> truth(gt.begin() + static_cast<std::ptrdiff_t>(qi * gdim),
                                 gt.begin() + static_cast<std::ptrdiff_t>(qi * gdim + k));
        for (const Neighbor& nb : got) recall += truth.count(nb.slot);
      }
      recall /= static_cast<double>(nq * k);
      std::cout << "[ recall ] siftsmall " << idx->Spec() << " nprobe " << nprobe << ": " << recall << "\n";
      EXPECT_GE(recall, 0.95) << idx->Spec();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Real embeddings: bge-m3 (inner product, paragraph queries against sentence vectors, with its
// ground truth) and word2vec (cosine, every 10th word as a query, ground truth by exact search).

// Recall@10 of `idx` over queries against the true top-10 lists `truth` (slot ids).
double RecallAt10(const IvfIndex& idx, const std::vector<float>& queries, size_t dim,
                  const std::vector<std::vector<uint32_t>>& truth, size_t n, uint32_t nprobe) {
  std::vector<uint8_t> mask(n, 1);
  double hits = 0;
  for (size_t qi = 0; qi < truth.size(); ++qi) {
    std::set<uint32_t> want(truth[qi].begin(), truth[qi].end());
    for (const Neighbor& nb : SearchOne(idx, &queries[qi * dim], 10, mask, n, nprobe)) hits += want.count(nb.slot);
  }
  return hits / static_cast<double>(truth.size() * 10);
}

TEST(IvfRealDataTest, BgeM3InnerProduct) {
  SEXTANT_REQUIRE_DATA(base_path, "bge-m3-1k/bgem3_sentence_500.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "bge-m3-1k/bgem3_paragraph_500.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "bge-m3-1k/gt_ip_paragraph_vs_sentence_top100.ivecs");
  size_t dim = 0, qdim = 0, gdim = 0;
  std::vector<float> base = ::sextant::testing::ReadVecs<float>(base_path, &dim);
  std::vector<float> queries = ::sextant::testing::ReadVecs<float>(query_path, &qdim);
  std::vector<int32_t> gt = ::sextant::testing::ReadVecs<int32_t>(gt_path, &gdim);
  ASSERT_EQ(dim, 1024u);
  ASSERT_EQ(qdim, 1024u);
  const size_t n = base.size() / dim, nq = queries.size() / dim;
  std::vector<std::vector<uint32_t>> truth(nq);
  for (size_t qi = 0; qi < nq; ++qi) truth[qi].assign(gt.begin() + qi * gdim, gt.begin() + qi * gdim + 10);
  auto store = MakeStore(base, dim);
  // 500 sentences: nlist 16, probing half the lists (real embeddings cluster weakly).
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    auto idx = Build(IvfOptions(16, q, 8, q == QuantizerType::kPq ? 64 : 0), Metric::kInnerProduct, store.get(),
                     base, n, n);
    ASSERT_NE(idx, nullptr);
    const double recall = RecallAt10(*idx, queries, dim, truth, n, 8);
    std::cout << "[ recall ] bge-m3 " << idx->Spec() << " nprobe 8: " << recall << "\n";
    EXPECT_GE(recall, 0.95) << idx->Spec();
  }
}

TEST(IvfRealDataTest, Word2VecCosine) {
  SEXTANT_REQUIRE_DATA(path, "word2vec-1k/word2vec_1000x300.fvecs");
  size_t dim = 0;
  std::vector<float> base = ::sextant::testing::ReadVecs<float>(path, &dim);
  ASSERT_EQ(dim, 300u);
  const size_t n = base.size() / dim;
  std::vector<float> queries;
  for (size_t i = 0; i < n; i += 10) queries.insert(queries.end(), base.begin() + i * dim, base.begin() + (i + 1) * dim);
  const size_t nq = queries.size() / dim;
  std::vector<uint8_t> all(n, 1);
  std::vector<std::vector<Neighbor>> exact;
  ExactSearch(VectorView{base.data(), dim, n}, Metric::kCosine, all.data(), queries.data(), nq, 10, &exact);
  std::vector<std::vector<uint32_t>> truth(nq);
  for (size_t qi = 0; qi < nq; ++qi) {
    for (const Neighbor& nb : exact[qi]) truth[qi].push_back(nb.slot);
  }
  auto store = MakeStore(base, dim);  // the vectors are unit-norm: cosine is their dot product
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    auto idx = Build(IvfOptions(16, q, 8, q == QuantizerType::kPq ? 50 : 0), Metric::kCosine, store.get(), base, n, n);
    ASSERT_NE(idx, nullptr);
    const double recall = RecallAt10(*idx, queries, dim, truth, n, 8);
    std::cout << "[ recall ] word2vec " << idx->Spec() << " nprobe 8: " << recall << "\n";
    EXPECT_GE(recall, 0.95) << idx->Spec();
  }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and errors.

// A set stop flag makes Train give up (the collection sets it when the collection is dropped or
// its build is replaced); the index stays untrained and trains once the flag is clear.
TEST(IvfIndexTest, TrainingStopsWhenAskedAndCanRunAgain) {
  const Dataset d = Clustered(4000, 1, 16, 20, 0.3f, 1, false);
  auto store = MakeStore(d.base, d.dim);
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kPq}) {
    auto ivf = MakeIndex(IvfOptions(32, q, 4), Metric::kL2, store.get());
    ASSERT_TRUE(ivf);
    std::atomic<bool> stop{true};
    ivf->SetTrainingStop(&stop);
    EXPECT_EQ(ivf->Train(d.base.data(), d.n).code(), StatusCode::kAborted);
    EXPECT_TRUE(ivf->NeedsTraining());
    EXPECT_EQ(ivf->Add(0).code(), StatusCode::kFailedPrecondition);
    stop = false;
    ASSERT_TRUE(ivf->Train(d.base.data(), d.n).ok());
    EXPECT_FALSE(ivf->NeedsTraining());
    EXPECT_TRUE(ivf->Add(0).ok());
  }
}

TEST(IvfIndexTest, SpecTrainingThresholdAndErrors) {
  const Dataset d = Clustered(2000, 1, 16, 20, 0.3f, 1, false);
  auto store = MakeStore(d.base, d.dim);
  auto flat = MakeIndex(IvfOptions(32, QuantizerType::kNone, 4), Metric::kL2, store.get());
  auto pq = MakeIndex(IvfOptions(32, QuantizerType::kPq, 4), Metric::kL2, store.get());
  auto sq8 = MakeIndex(IvfOptions(100, QuantizerType::kSq8, 4), Metric::kL2, store.get());
  ASSERT_TRUE(flat && pq && sq8);
  EXPECT_EQ(flat->Spec(), "IVF32");
  EXPECT_EQ(pq->Spec(), "IVF32,PQ8");  // auto m for dim 16
  EXPECT_EQ(sq8->Spec(), "IVF100,SQ8");
  EXPECT_EQ(flat->MinTrainingPoints(), 1248u);  // 39 * 32
  EXPECT_EQ(pq->MinTrainingPoints(), 9984u);    // 39 * 256
  EXPECT_EQ(sq8->MinTrainingPoints(), 3900u);

  EXPECT_TRUE(flat->NeedsTraining());
  EXPECT_EQ(flat->Add(0).code(), StatusCode::kFailedPrecondition);
  std::vector<uint8_t> mask(d.n, 1);
  IndexSearchParams p;
  p.mask = mask.data();
  p.mask_size = mask.size();
  std::vector<Neighbor> out;
  EXPECT_EQ(flat->Search(d.base.data(), p, &out, nullptr).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(flat->Train(d.base.data(), 31).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pq->Train(d.base.data(), 255).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(flat->NeedsTraining());

  ASSERT_TRUE(flat->Train(d.base.data(), d.n).ok());
  EXPECT_EQ(flat->Train(d.base.data(), d.n).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(flat->Add(5).ok());
  EXPECT_EQ(flat->Add(5).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(flat->Add(static_cast<uint32_t>(store->capacity())).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(flat->Holds(5));
  EXPECT_FALSE(flat->Holds(6));
  EXPECT_FALSE(flat->Holds(4000000000u));
  p.mask = nullptr;
  EXPECT_EQ(flat->Search(d.base.data(), p, &out, nullptr).code(), StatusCode::kInvalidArgument);
  p.mask = mask.data();
  p.k = 0;
  EXPECT_TRUE(flat->Search(d.base.data(), p, &out, nullptr).ok());
  EXPECT_TRUE(out.empty());

  IndexOptions hnsw;
  hnsw.type = IndexType::kHnsw;
  EXPECT_EQ(IvfIndex::Create(hnsw, Metric::kL2, store.get()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IvfIndex::Create(IvfOptions(32, QuantizerType::kPq, 4, 5), Metric::kL2, store.get()).status().code(),
            StatusCode::kInvalidArgument);  // 5 does not divide 16
}

TEST(IvfIndexTest, MemoryBytesFollowsTheCodes) {
  const Dataset d = Clustered(4000, 1, 32, 50, 0.3f, 2, false);
  auto store = MakeStore(d.base, d.dim);
  // Bytes per added vector: the entry (slot + code) and the slot's state byte, with up to 2x for
  // the lists' geometric growth. IVF-Flat's entry is a float32 copy of the vector.
  const struct {
    QuantizerType q;
    uint32_t pq_m;
    size_t entry;
  } cases[] = {{QuantizerType::kNone, 0, 4 + 4 * 32}, {QuantizerType::kSq8, 0, 4 + 32}, {QuantizerType::kPq, 8, 4 + 8}};
  for (const auto& c : cases) {
    auto idx = Build(IvfOptions(32, c.q, 4, c.pq_m), Metric::kL2, store.get(), d.base, d.n, 0);
    ASSERT_NE(idx, nullptr);
    const size_t empty = idx->MemoryBytes();
    EXPECT_GE(empty, 32 * 32 * 4u);  // the centroids
    for (uint32_t s = 0; s < d.n; ++s) ASSERT_TRUE(idx->Add(s).ok());
    const double per_vector = static_cast<double>(idx->MemoryBytes() - empty) / static_cast<double>(d.n);
    EXPECT_GE(per_vector, c.entry) << Name(c.q);
    EXPECT_LE(per_vector, 2.0 * (c.entry + 1)) << Name(c.q);
  }
}

TEST(IvfIndexTest, IncrementalAddsAfterTrainingAreFound) {
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    const Dataset d = Clustered(6000, 50, 16, 40, 0.3f, 3, false);
    auto store = MakeStore(d.base, d.dim);
    // Train on the first 3000 rows, add them, then add the rest one by one.
    auto idx = Build(IvfOptions(32, q, 4), Metric::kL2, store.get(), d.base, 3000, 3000);
    ASSERT_NE(idx, nullptr);
    for (uint32_t s = 3000; s < d.n; ++s) ASSERT_TRUE(idx->Add(s).ok());
    EXPECT_EQ(idx->Size(), d.n);
    std::vector<uint8_t> mask(d.n, 1);
    // Each late vector finds itself first.
    for (uint32_t s = 3000; s < d.n; s += 97) {
      auto got = SearchOne(*idx, &d.base[size_t{s} * d.dim], 1, mask, d.n);
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].slot, s) << Name(q);
      EXPECT_EQ(got[0].distance, 0.0f);
    }
    const auto truth = Truth(d, Metric::kL2, mask, 10);
    double recall = 0;
    for (size_t qi = 0; qi < d.nq; ++qi) recall += Recall(SearchOne(*idx, &d.queries[qi * d.dim], 10, mask, d.n), truth[qi]);
    EXPECT_GE(recall / static_cast<double>(d.nq), 0.95) << Name(q);
  }
}

TEST(IvfIndexTest, RemovedSlotsAreNeverReturnedAndConsolidateReleasesThem) {
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    Dataset d = Clustered(4000, 40, 16, 30, 0.3f, 4, false);
    auto store = MakeStore(d.base, d.dim);
    auto idx = Build(IvfOptions(16, q, 4, q == QuantizerType::kPq ? 8 : 0), Metric::kL2, store.get(), d.base, d.n, d.n);
    ASSERT_NE(idx, nullptr);
    std::vector<uint32_t> removed;
    for (uint32_t s = 0; s < d.n; s += 3) {
      idx->Remove(s);
      removed.push_back(s);
    }
    idx->Remove(0);              // twice: no effect
    idx->Remove(3999999999u);    // never held: no effect
    EXPECT_EQ(idx->Size(), d.n - removed.size());
    EXPECT_EQ(idx->PendingRemovals(), removed.size());
    EXPECT_TRUE(idx->Holds(0));  // held until Consolidate
    // The mask still allows every slot: the index itself must drop removed ones.
    std::vector<uint8_t> all(d.n, 1);
    for (uint32_t s : removed) {
      if (s % 30 != 0) continue;
      for (const Neighbor& nb : SearchOne(*idx, &d.base[size_t{s} * d.dim], 10, all, d.n)) {
        EXPECT_NE(nb.slot % 3, 0u) << "removed slot " << nb.slot << " returned (" << Name(q) << ")";
      }
    }
    EXPECT_EQ(idx->Add(0).code(), StatusCode::kFailedPrecondition);  // still held

    std::vector<uint32_t> released = idx->Consolidate();
    EXPECT_EQ(released, removed);
    EXPECT_EQ(idx->PendingRemovals(), 0u);
    EXPECT_EQ(idx->Size(), d.n - removed.size());
    EXPECT_FALSE(idx->Holds(0));
    EXPECT_TRUE(idx->Holds(1));
    size_t entries = 0;
    for (size_t sz : idx->ListSizes()) entries += sz;
    EXPECT_EQ(entries, idx->Size());
    EXPECT_TRUE(idx->Consolidate().empty());

    // Reuse the released slots for new vectors (the collection rewrites the rows first).
    const Dataset fresh = Clustered(released.size(), 0, 16, 30, 0.3f, 4, false);  // same centres
    std::mt19937 rng(8);
    std::normal_distribution<float> g(0.0f, 0.05f);
    for (size_t i = 0; i < released.size(); ++i) {
      float* row = store->Row(released[i]);
      for (size_t j = 0; j < d.dim; ++j) row[j] = fresh.base[i * d.dim + j] + g(rng);
      std::memcpy(&d.base[size_t{released[i]} * d.dim], row, d.dim * 4);
      ASSERT_TRUE(idx->Add(released[i]).ok());
    }
    EXPECT_EQ(idx->Size(), d.n);
    for (size_t i = 0; i < released.size(); i += 50) {
      auto got = SearchOne(*idx, &d.base[size_t{released[i]} * d.dim], 1, all, d.n);
      ASSERT_EQ(got.size(), 1u);
      EXPECT_EQ(got[0].slot, released[i]) << Name(q);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Filtered search.

TEST(IvfIndexTest, FilteredSearchReturnsMinOfKAndAllowedWithRecall) {
  const Dataset d = Clustered(10000, 100, 32, 10, 1.0f, 5, false);
  auto store = MakeStore(d.base, d.dim);
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    auto idx = Build(IvfOptions(64, q, 8, q == QuantizerType::kPq ? 8 : 0), Metric::kL2, store.get(), d.base, d.n, d.n);
    ASSERT_NE(idx, nullptr);
    for (double selectivity : {0.5, 0.1, 0.01, 0.0005}) {
      std::mt19937 rng(static_cast<uint32_t>(selectivity * 1e6));
      std::uniform_real_distribution<double> u(0.0, 1.0);
      std::vector<uint8_t> mask(d.n, 0);
      uint64_t allowed = 0;
      for (size_t i = 0; i < d.n; ++i) {
        mask[i] = u(rng) < selectivity;
        allowed += mask[i];
      }
      const auto truth = Truth(d, Metric::kL2, mask, 10);
      double recall = 0;
      uint64_t effort = 0;
      for (size_t qi = 0; qi < d.nq; ++qi) {
        const float* qv = &d.queries[qi * d.dim];
        IndexSearchStats stats;
        auto got = SearchOne(*idx, qv, 10, mask, allowed, 0, &stats);
        ASSERT_EQ(got.size(), std::min<uint64_t>(10, allowed)) << Name(q) << " selectivity " << selectivity;
        CheckWellFormed(got, d, Metric::kL2, qv, mask);
        recall += Recall(got, truth[qi]);
        effort += stats.effort;
      }
      recall /= static_cast<double>(d.nq);
      std::cout << "[ recall ] filtered " << idx->Spec() << " selectivity " << selectivity << ": " << recall
                << " (lists probed " << static_cast<double>(effort) / d.nq << ")\n";
      EXPECT_GE(recall, 0.95) << Name(q) << " selectivity " << selectivity;
    }
    // Only the points of one region are allowed and the planner gave no count (allowed = 0):
    // the first nprobe lists hold no candidate, so the search widens until it finds k.
    {
      std::vector<uint8_t> mask(d.n, 0);
      const float* anchor = &d.base[0];
      for (size_t i = 0; i < d.n; ++i) {
        mask[i] = Distance(Metric::kL2, anchor, &d.base[i * d.dim], d.dim) < 40.0f;
      }
      const auto truth = Truth(d, Metric::kL2, mask, 10);
      double recall = 0;
      uint64_t widened = 0;
      for (size_t qi = 0; qi < d.nq; ++qi) {
        const float* qv = &d.queries[qi * d.dim];
        IndexSearchStats stats;
        auto got = SearchOne(*idx, qv, 10, mask, 0, 0, &stats);
        ASSERT_EQ(got.size(), 10u);
        CheckWellFormed(got, d, Metric::kL2, qv, mask);
        recall += Recall(got, truth[qi]);
        widened += stats.effort > 8;
      }
      std::cout << "[ recall ] widened " << idx->Spec() << ": " << recall / static_cast<double>(d.nq)
                << " (" << widened << " of " << d.nq << " searches widened)\n";
      EXPECT_GT(widened, d.nq / 2) << Name(q);
      EXPECT_GE(recall / static_cast<double>(d.nq), 0.95) << Name(q);
    }
    // A mask that allows nothing the index holds: every list is probed, nothing comes back.
    std::vector<uint8_t> none(d.n, 0);
    IndexSearchStats stats;
    EXPECT_TRUE(SearchOne(*idx, d.queries.data(), 10, none, 1, 0, &stats).empty());
    EXPECT_EQ(stats.effort, 64u);
  }
}

// ---------------------------------------------------------------------------------------------
// Concurrency: searches run while the writer adds and removes.

TEST(IvfIndexTest, SearchesRunConcurrentlyWithAddsAndRemoves) {
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kPq}) {
    const Dataset d = Clustered(8000, 64, 16, 40, 0.3f, 6, false);
    auto store = MakeStore(d.base, d.dim);
    auto idx = Build(IvfOptions(32, q, 4, q == QuantizerType::kPq ? 8 : 0), Metric::kL2, store.get(), d.base, 4000, 4000);
    ASSERT_NE(idx, nullptr);
    std::vector<uint8_t> mask(d.n, 1);
    std::atomic<bool> done{false};
    std::atomic<size_t> searches{0}, bad{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
      readers.emplace_back([&, t] {
        size_t i = static_cast<size_t>(t);
        while (!done.load()) {
          const float* qv = &d.queries[(i++ % d.nq) * d.dim];
          IndexSearchParams p;
          p.k = 10;
          p.mask = mask.data();
          p.mask_size = mask.size();
          p.allowed = d.n;
          std::vector<Neighbor> out;
          IndexSearchStats stats;
          if (!idx->Search(qv, p, &out, &stats).ok() || out.size() != 10) ++bad;
          for (size_t r = 1; r < out.size(); ++r) {
            if (out[r] < out[r - 1]) ++bad;
          }
          for (const Neighbor& nb : out) {
            if (nb.slot >= d.n || nb.distance != Distance(Metric::kL2, qv, &d.base[size_t{nb.slot} * d.dim], d.dim)) ++bad;
          }
          ++searches;
        }
      });
    }
    for (uint32_t s = 4000; s < d.n; ++s) {
      ASSERT_TRUE(idx->Add(s).ok());
      if (s % 10 == 0) idx->Remove(s - 2000);
    }
    while (searches.load() < 50) std::this_thread::yield();
    done = true;
    for (auto& th : readers) th.join();
    EXPECT_EQ(bad.load(), 0u) << Name(q);
    EXPECT_EQ(idx->Size(), d.n - 400);
  }
}

// ---------------------------------------------------------------------------------------------
// Save / Load.

TEST(IvfIndexTest, SaveLoadGivesIdenticalResults) {
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      const Dataset d = Clustered(3000, 30, 16, 20, 0.3f, 7, false);
      auto store = MakeStore(d.base, d.dim);
      const IndexOptions o = IvfOptions(16, q, 4, q == QuantizerType::kPq ? 4 : 0);
      auto idx = Build(o, metric, store.get(), d.base, d.n, d.n - 10);
      ASSERT_NE(idx, nullptr);
      for (uint32_t s = 0; s < 300; s += 7) idx->Remove(s);
      std::string bytes;
      ASSERT_TRUE(idx->Save(&bytes).ok());
      StatusOr<std::unique_ptr<VectorIndex>> loaded = IvfIndex::Load(bytes, o, metric, store.get());
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      const VectorIndex& back = **loaded;
      EXPECT_EQ(back.Spec(), idx->Spec());
      EXPECT_EQ(back.Size(), idx->Size());
      EXPECT_EQ(back.PendingRemovals(), idx->PendingRemovals());
      EXPECT_FALSE(back.NeedsTraining());
      for (uint32_t s = 0; s < d.n; ++s) ASSERT_EQ(back.Holds(s), idx->Holds(s)) << s;
      std::vector<uint8_t> mask(d.n, 1);
      for (size_t qi = 0; qi < d.nq; ++qi) {
        IndexSearchParams p;
        p.k = 10;
        p.mask = mask.data();
        p.mask_size = mask.size();
        p.allowed = d.n;
        std::vector<Neighbor> a, b;
        IndexSearchStats sa, sb;
        ASSERT_TRUE(idx->Search(&d.queries[qi * d.dim], p, &a, &sa).ok());
        ASSERT_TRUE(back.Search(&d.queries[qi * d.dim], p, &b, &sb).ok());
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_EQ(a[i].slot, b[i].slot);
          EXPECT_EQ(a[i].distance, b[i].distance);
        }
        EXPECT_EQ(sa.distance_computations, sb.distance_computations);
      }
      std::string again;
      ASSERT_TRUE(back.Save(&again).ok());
      EXPECT_EQ(again, bytes);
      // The loaded index keeps working: consolidate, add.
      auto* loaded_ivf = static_cast<IvfIndex*>(loaded->get());
      EXPECT_EQ(loaded_ivf->Consolidate().size(), 43u);
      EXPECT_TRUE(loaded_ivf->Add(static_cast<uint32_t>(d.n - 1)).ok());
    }
  }
}

TEST(IvfIndexTest, UntrainedIndexRoundTrips) {
  const Dataset d = Clustered(100, 0, 8, 5, 0.3f, 8, false);
  auto store = MakeStore(d.base, d.dim);
  const IndexOptions o = IvfOptions(8, QuantizerType::kSq8, 2);
  auto idx = MakeIndex(o, Metric::kL2, store.get());
  std::string bytes;
  ASSERT_TRUE(idx->Save(&bytes).ok());
  StatusOr<std::unique_ptr<VectorIndex>> back = IvfIndex::Load(bytes, o, Metric::kL2, store.get());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE((*back)->NeedsTraining());
  ASSERT_TRUE((*back)->Train(d.base.data(), d.n).ok());
  EXPECT_TRUE((*back)->Add(0).ok());
}

TEST(IvfIndexTest, CorruptedBytesAreDataLoss) {
  for (QuantizerType q : {QuantizerType::kNone, QuantizerType::kSq8, QuantizerType::kPq}) {
    const Dataset d = Clustered(2000, 0, 8, 10, 0.3f, 9, false);
    auto store = MakeStore(d.base, d.dim);
    const IndexOptions o = IvfOptions(8, q, 2, q == QuantizerType::kPq ? 4 : 0);
    auto idx = Build(o, Metric::kL2, store.get(), d.base, d.n, d.n);
    ASSERT_NE(idx, nullptr);
    idx->Remove(3);
    std::string bytes;
    ASSERT_TRUE(idx->Save(&bytes).ok());

    // Every truncation.
    const size_t step = std::max<size_t>(1, bytes.size() / 997);
    for (size_t len = 0; len < bytes.size(); len += step) {
      auto r = IvfIndex::Load(std::string_view(bytes.data(), len), o, Metric::kL2, store.get());
      ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << Name(q) << " length " << len;
    }
    // Random bit flips anywhere.
    std::mt19937 rng(10);
    for (int i = 0; i < 300; ++i) {
      std::string bad = bytes;
      bad[rng() % bad.size()] ^= static_cast<char>(1u << (rng() % 8));
      ASSERT_EQ(IvfIndex::Load(bad, o, Metric::kL2, store.get()).status().code(), StatusCode::kDataLoss);
    }
    // Garbage of every small size and a long one.
    for (size_t len : {1u, 8u, 39u, 40u, 41u, 1000u}) {
      std::string junk(len, '\0');
      for (char& c : junk) c = static_cast<char>(rng());
      ASSERT_EQ(IvfIndex::Load(junk, o, Metric::kL2, store.get()).status().code(), StatusCode::kDataLoss);
    }
    // Another configuration.
    EXPECT_EQ(IvfIndex::Load(bytes, IvfOptions(16, q, 2, q == QuantizerType::kPq ? 4 : 0), Metric::kL2, store.get())
                  .status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(IvfIndex::Load(bytes, o, Metric::kInnerProduct, store.get()).status().code(), StatusCode::kDataLoss);

    // Consistent checksum over inconsistent content: the bounds checks alone must catch it
    // (no huge allocation, no crash). Field offsets from the saved form in ivf.h.
    auto reseal = [](std::string s) {
      s.resize(s.size() - 8);
      const uint64_t sum = internal::Hash64(s.data(), s.size());
      s.append(reinterpret_cast<const char*>(&sum), 8);
      return s;
    };
    auto expect_data_loss = [&](const std::string& s, const char* what) {
      auto r = IvfIndex::Load(reseal(s), o, Metric::kL2, store.get());
      EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << Name(q) << ": " << what;
    };
    size_t first_list = 24 + 8 * 8 * 4;  // header, centroids
    if (q == QuantizerType::kSq8) first_list += 5 + 2 * 8 * 4;
    if (q == QuantizerType::kPq) first_list += 13 + 8 * 256 * 4;
    std::string s = bytes;
    const uint32_t huge = 0xfffffff0u;
    std::memcpy(&s[first_list], &huge, 4);  // list count
    expect_data_loss(s, "huge list count");
    s = bytes;
    std::memcpy(&s[first_list + 4], &huge, 4);  // first slot beyond the store
    expect_data_loss(s, "slot beyond the store");
    s = bytes;
    uint32_t first_slot;
    std::memcpy(&first_slot, &s[first_list + 4], 4);
    std::memcpy(&s[first_list + 8], &first_slot, 4);  // duplicate slot
    expect_data_loss(s, "duplicate slot");
    s = bytes;
    const uint64_t huge64 = uint64_t{1} << 60;
    std::memcpy(&s[s.size() - 8 - 4 - 8], &huge64, 8);  // removed count
    expect_data_loss(s, "huge removed count");
    s = bytes;
    const float nan = std::nanf("");
    std::memcpy(&s[24], &nan, 4);  // a centroid
    expect_data_loss(s, "NaN centroid");
    s = bytes;
    s[4] = 2;  // version
    expect_data_loss(s, "version");
    s = bytes;
    s.insert(s.size() - 8, "x");
    expect_data_loss(s, "trailing byte");
  }
}

}  // namespace
}  // namespace sextant::index
