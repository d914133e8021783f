#include "index/hnsw.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "index/flat.h"
#include "simd/distance.h"
#include "test_util.h"

namespace sextant::index {
namespace {

using ::sextant::testing::ReadVecs;

// Seeded clustered data: gaussian blobs whose points vary mostly inside a random low-dimensional
// subspace of each blob (plus a little isotropic noise), the shape real embeddings have. Uniform
// noise in many dimensions would be an unrealistically hard (and uninformative) case for a graph.
std::vector<float> ClusteredVectors(size_t n, size_t dim, uint32_t seed, size_t clusters = 10,
                                    size_t intrinsic = 16) {
  std::mt19937 rng(1234);  // the blobs are the same for every seed: base and queries share them
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> centers(clusters * dim), bases(clusters * intrinsic * dim);
  for (float& x : centers) x = 2.0f * g(rng);
  for (float& x : bases) x = g(rng) / std::sqrt(static_cast<float>(intrinsic));
  std::mt19937 prng(seed);
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  std::vector<float> out(n * dim);
  std::vector<float> z(intrinsic);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = pick(prng);
    for (float& x : z) x = g(prng);
    for (size_t j = 0; j < dim; ++j) {
      float v = centers[c * dim + j] + 0.05f * g(prng);
      for (size_t t = 0; t < intrinsic; ++t) v += z[t] * bases[(c * intrinsic + t) * dim + j];
      out[i * dim + j] = v;
    }
  }
  return out;
}

void NormalizeAll(std::vector<float>* v, size_t dim) {
  for (size_t i = 0; i < v->size() / dim; ++i) simd::Normalize(v->data() + i * dim, dim);
}

// A store holding `data` (row-major) in slots 0..n-1.
std::unique_ptr<VectorStore> MakeStore(const std::vector<float>& data, size_t dim, size_t extra = 0) {
  auto store = std::make_unique<VectorStore>(dim);
  const size_t n = data.size() / dim;
  store->Reserve(n + extra);
  for (size_t i = 0; i < n; ++i) std::memcpy(store->Row(static_cast<uint32_t>(i)), data.data() + i * dim, dim * 4);
  return store;
}

IndexOptions Hnsw(uint32_t m = 16, uint32_t ef_construction = 200, uint32_t ef_search = 64,
                  bool sq8 = false) {
  IndexOptions o;
  o.type = IndexType::kHnsw;
  o.m = m;
  o.ef_construction = ef_construction;
  o.ef_search = ef_search;
  o.quantizer = sq8 ? QuantizerType::kSq8 : QuantizerType::kNone;
  return o;
}

std::unique_ptr<HnswIndex> Build(const IndexOptions& o, Metric metric, const VectorStore* store,
                                 size_t n, const std::vector<float>* train = nullptr) {
  auto made = HnswIndex::Create(o, metric, store);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  if (!made.ok()) return nullptr;
  std::unique_ptr<HnswIndex> index = std::move(made).value();
  if (index->NeedsTraining()) {
    EXPECT_TRUE(index->Train(train->data(), train->size() / store->width()).ok());
  }
  for (uint32_t i = 0; i < n; ++i) {
    Status s = index->Add(i);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return index;
}

// Exact answers for the queries over the slots whose mask byte is set (rows 0..mask.size()-1).
std::vector<std::vector<Neighbor>> Exact(const VectorStore& store, size_t slots, Metric metric,
                                         const std::vector<uint8_t>& mask,
                                         const std::vector<float>& queries, size_t k) {
  const size_t dim = store.width();
  std::vector<float> flat(slots * dim);
  for (size_t i = 0; i < slots; ++i) std::memcpy(flat.data() + i * dim, store.Row(static_cast<uint32_t>(i)), dim * 4);
  std::vector<std::vector<Neighbor>> out;
  ExactSearch(VectorView{flat.data(), dim, slots}, metric, mask.data(), queries.data(),
              queries.size() / dim, k, &out);
  return out;
}

struct RecallResult {
  double recall = 0;
  uint64_t distances = 0;
};

// Mean recall@k of the index against `truth`, checking every answer's shape on the way.
RecallResult Recall(const HnswIndex& index, const VectorStore& store, Metric metric,
                    const std::vector<uint8_t>& mask, uint64_t allowed, const std::vector<float>& queries,
                    const std::vector<std::vector<Neighbor>>& truth, size_t k, uint32_t ef = 0) {
  const size_t dim = store.width();
  const size_t nq = queries.size() / dim;
  RecallResult r;
  size_t hits = 0, wanted = 0;
  for (size_t q = 0; q < nq; ++q) {
    IndexSearchParams p;
    p.k = k;
    p.ef_search = ef;
    p.mask = mask.data();
    p.mask_size = mask.size();
    p.allowed = allowed;
    std::vector<Neighbor> got;
    IndexSearchStats stats;
    EXPECT_TRUE(index.Search(queries.data() + q * dim, p, &got, &stats).ok());
    r.distances += stats.distance_computations;
    EXPECT_LE(got.size(), k);
    std::set<uint32_t> seen;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_LT(got[i].slot, mask.size());
      EXPECT_TRUE(mask[got[i].slot]) << "returned a slot outside the mask: " << got[i].slot;
      EXPECT_TRUE(seen.insert(got[i].slot).second) << "duplicate slot " << got[i].slot;
      if (i > 0) {
        EXPECT_LE(got[i - 1].distance, got[i].distance);
      }
      const float exact = Distance(metric, queries.data() + q * dim, store.Row(got[i].slot), dim);
      EXPECT_NEAR(got[i].distance, exact, 1e-4f * (1 + std::fabs(exact)));
    }
    std::set<uint32_t> want;
    for (size_t i = 0; i < std::min(k, truth[q].size()); ++i) want.insert(truth[q][i].slot);
    for (const Neighbor& nb : got) hits += want.count(nb.slot);
    wanted += want.size();
  }
  r.recall = wanted == 0 ? 1.0 : static_cast<double>(hits) / static_cast<double>(wanted);
  r.distances /= std::max<size_t>(nq, 1);
  return r;
}

std::vector<uint8_t> AllOf(size_t n) { return std::vector<uint8_t>(n, 1); }

// --------------------------------------------------------------------------------------------
// Construction and errors

TEST(HnswTest, CreateRejectsBadOptions) {
  VectorStore store(8);
  EXPECT_EQ(HnswIndex::Create(Hnsw(), Metric::kL2, nullptr).status().code(), StatusCode::kInvalidArgument);
  IndexOptions flat;
  EXPECT_EQ(HnswIndex::Create(flat, Metric::kL2, &store).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HnswIndex::Create(Hnsw(1), Metric::kL2, &store).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HnswIndex::Create(Hnsw(16, 0), Metric::kL2, &store).status().code(), StatusCode::kInvalidArgument);
  auto ok = HnswIndex::Create(Hnsw(), Metric::kL2, &store);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)->Spec(), "HNSW16");
  auto sq8 = HnswIndex::Create(Hnsw(32, 200, 64, true), Metric::kL2, &store);
  ASSERT_TRUE(sq8.ok());
  EXPECT_EQ((*sq8)->Spec(), "HNSW32,SQ8");
}

TEST(HnswTest, AddAndSearchErrors) {
  const size_t dim = 8;
  auto data = ClusteredVectors(50, dim, 1);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(), Metric::kL2, store.get(), 50);
  EXPECT_EQ(index->Size(), 50u);
  EXPECT_EQ(index->Add(7).code(), StatusCode::kFailedPrecondition);  // already held
  EXPECT_EQ(index->Add(static_cast<uint32_t>(store->capacity())).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Add(0xFFFFFFFFu).code(), StatusCode::kInvalidArgument);
  index->Remove(3);
  EXPECT_EQ(index->Add(3).code(), StatusCode::kFailedPrecondition);  // removed, not yet released
  EXPECT_EQ(index->Size(), 49u);

  std::vector<uint8_t> mask = AllOf(50);
  std::vector<Neighbor> out;
  IndexSearchParams p;
  p.mask = mask.data();
  p.mask_size = mask.size();
  p.k = 0;
  EXPECT_EQ(index->Search(data.data(), p, &out, nullptr).code(), StatusCode::kInvalidArgument);
  p.k = 5;
  p.mask = nullptr;
  EXPECT_EQ(index->Search(data.data(), p, &out, nullptr).code(), StatusCode::kInvalidArgument);
  p.mask = mask.data();
  EXPECT_TRUE(index->Search(data.data(), p, &out, nullptr).ok());  // null stats is fine
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].slot, 0u);
}

TEST(HnswTest, EmptyAndTinyIndexes) {
  const size_t dim = 4;
  auto data = ClusteredVectors(3, dim, 2);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(), Metric::kL2, store.get(), 0);
  std::vector<uint8_t> mask = AllOf(3);
  IndexSearchParams p;
  p.mask = mask.data();
  p.mask_size = 3;
  std::vector<Neighbor> out{{1.0f, 1}};
  IndexSearchStats stats;
  ASSERT_TRUE(index->Search(data.data(), p, &out, &stats).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(index->Add(1).ok());
  ASSERT_TRUE(index->Search(data.data(), p, &out, &stats).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].slot, 1u);
  ASSERT_TRUE(index->Add(0).ok());
  ASSERT_TRUE(index->Add(2).ok());
  ASSERT_TRUE(index->Search(data.data(), p, &out, &stats).ok());
  EXPECT_EQ(out.size(), 3u);
  EXPECT_TRUE(index->TEST_Validate(false).ok());
}

TEST(HnswTest, Sq8NeedsTrainingBeforeAdd) {
  const size_t dim = 16;
  auto data = ClusteredVectors(100, dim, 3);
  auto store = MakeStore(data, dim);
  auto index = std::move(HnswIndex::Create(Hnsw(16, 100, 64, true), Metric::kL2, store.get())).value();
  EXPECT_TRUE(index->NeedsTraining());
  EXPECT_GE(index->MinTrainingPoints(), 1000u);
  EXPECT_EQ(index->Add(0).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(index->Train(data.data(), 0).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(index->Train(data.data(), 100).ok());
  EXPECT_FALSE(index->NeedsTraining());
  EXPECT_TRUE(index->Add(0).ok());

  auto plain = std::move(HnswIndex::Create(Hnsw(), Metric::kL2, store.get())).value();
  EXPECT_FALSE(plain->NeedsTraining());
  EXPECT_EQ(plain->MinTrainingPoints(), 0u);
  EXPECT_TRUE(plain->Train(data.data(), 100).ok());
}

TEST(HnswTest, SameInsertsGiveTheSameGraph) {
  const size_t dim = 16, n = 1500;
  auto data = ClusteredVectors(n, dim, 4);
  auto store = MakeStore(data, dim);
  auto a = Build(Hnsw(8, 64), Metric::kL2, store.get(), n);
  auto b = Build(Hnsw(8, 64), Metric::kL2, store.get(), n);
  std::string sa, sb;
  ASSERT_TRUE(a->Save(&sa).ok());
  ASSERT_TRUE(b->Save(&sb).ok());
  EXPECT_EQ(sa, sb);
  EXPECT_TRUE(a->TEST_Validate(false).ok());
}

// --------------------------------------------------------------------------------------------
// Recall on seeded clustered data, per metric. Documented setting: m=16, ef_construction=100,
// ef_search=64 (docs/index_params.md).

class HnswMetricTest : public ::testing::TestWithParam<Metric> {};

TEST_P(HnswMetricTest, RecallAt10OnClusteredData) {
  const Metric metric = GetParam();
  const size_t dim = 48, n = 6000, k = 10;
  auto data = ClusteredVectors(n, dim, 11);
  auto queries = ClusteredVectors(200, dim, 12);
  if (metric == Metric::kCosine) {
    NormalizeAll(&data, dim);
    NormalizeAll(&queries, dim);
  }
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100, 64), metric, store.get(), n);
  ASSERT_TRUE(index->TEST_Validate(false).ok());
  const auto mask = AllOf(n);
  const auto truth = Exact(*store, n, metric, mask, queries, k);
  const RecallResult r = Recall(*index, *store, metric, mask, n, queries, truth, k);
  EXPECT_GE(r.recall, 0.95) << MetricName(metric);
  // A graph search must be far cheaper than a scan.
  EXPECT_LT(r.distances, n / 2);
  std::cout << "[ metric " << MetricName(metric) << " ] recall@10 " << r.recall << ", "
            << r.distances << " distances/query, " << index->MemoryBytes() / n << " bytes/vector\n";
}

INSTANTIATE_TEST_SUITE_P(HnswMetrics, HnswMetricTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const auto& info) { return std::string(MetricName(info.param)); });

// --------------------------------------------------------------------------------------------
// Real data (skipped when ../shared/data is absent).

TEST(HnswDataTest, SiftSmallL2) {
  SEXTANT_REQUIRE_DATA(base_path, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t dim = 0, qdim = 0, gdim = 0;
  auto base = ReadVecs<float>(base_path, &dim);
  auto queries = ReadVecs<float>(query_path, &qdim);
  auto gt = ReadVecs<int32_t>(gt_path, &gdim);
  ASSERT_EQ(dim, 128u);
  ASSERT_EQ(qdim, dim);
  const size_t n = base.size() / dim, nq = queries.size() / dim;
  auto store = MakeStore(base, dim);
  auto index = Build(Hnsw(16, 200, 64), Metric::kL2, store.get(), n);
  std::vector<std::vector<Neighbor>> truth(nq);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < 10; ++i) truth[q].push_back({0, static_cast<uint32_t>(gt[q * gdim + i])});
  }
  const auto mask = AllOf(n);
  const RecallResult r = Recall(*index, *store, Metric::kL2, mask, n, queries, truth, 10);
  EXPECT_GE(r.recall, 0.95);
  std::cout << "[ siftsmall ] recall@10 " << r.recall << " at ef 64\n";
}

TEST(HnswDataTest, BgeM3InnerProduct) {
  SEXTANT_REQUIRE_DATA(base_path, "bge-m3-1k/bgem3_sentence_500.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "bge-m3-1k/bgem3_paragraph_500.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "bge-m3-1k/gt_ip_paragraph_vs_sentence_top100.ivecs");
  size_t dim = 0, qdim = 0, gdim = 0;
  auto base = ReadVecs<float>(base_path, &dim);
  auto queries = ReadVecs<float>(query_path, &qdim);
  auto gt = ReadVecs<int32_t>(gt_path, &gdim);
  ASSERT_EQ(dim, 1024u);
  ASSERT_EQ(qdim, dim);
  const size_t n = base.size() / dim, nq = queries.size() / dim;
  auto store = MakeStore(base, dim);
  auto index = Build(Hnsw(16, 200, 64), Metric::kInnerProduct, store.get(), n);
  std::vector<std::vector<Neighbor>> truth(nq);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < 10; ++i) truth[q].push_back({0, static_cast<uint32_t>(gt[q * gdim + i])});
  }
  const auto mask = AllOf(n);
  const RecallResult r = Recall(*index, *store, Metric::kInnerProduct, mask, n, queries, truth, 10);
  EXPECT_GE(r.recall, 0.95);
  std::cout << "[ bge-m3 ] recall@10 " << r.recall << " at ef 64\n";
}

TEST(HnswDataTest, Word2VecCosine) {
  SEXTANT_REQUIRE_DATA(path, "word2vec-1k/word2vec_1000x300.fvecs");
  size_t dim = 0;
  auto all = ReadVecs<float>(path, &dim);
  ASSERT_EQ(dim, 300u);
  NormalizeAll(&all, dim);  // unit norm already; the collection would normalise anyway
  // The first 100 words are the queries, the other 900 the base.
  std::vector<float> queries(all.begin(), all.begin() + 100 * dim);
  std::vector<float> base(all.begin() + 100 * dim, all.end());
  const size_t n = base.size() / dim;
  auto store = MakeStore(base, dim);
  auto index = Build(Hnsw(16, 200, 64), Metric::kCosine, store.get(), n);
  const auto mask = AllOf(n);
  const auto truth = Exact(*store, n, Metric::kCosine, mask, queries, 10);
  const RecallResult r = Recall(*index, *store, Metric::kCosine, mask, n, queries, truth, 10);
  EXPECT_GE(r.recall, 0.95);
  std::cout << "[ word2vec ] recall@10 " << r.recall << " at ef 64\n";
}

// --------------------------------------------------------------------------------------------
// Deletes

TEST(HnswTest, RemovedSlotsAreNeverReturned) {
  const size_t dim = 24, n = 3000, k = 10;
  auto data = ClusteredVectors(n, dim, 21);
  auto queries = ClusteredVectors(100, dim, 22);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  std::vector<uint8_t> live = AllOf(n);
  for (uint32_t s = 0; s < n; s += 3) {
    index->Remove(s);
    live[s] = 0;
  }
  index->Remove(0);  // twice: ignored
  index->Remove(static_cast<uint32_t>(n + 100));  // never held: ignored
  EXPECT_EQ(index->PendingRemovals(), n / 3);
  EXPECT_EQ(index->Size(), n - n / 3);
  EXPECT_TRUE(index->Holds(0));
  // Even a mask that still allows the removed slots never gets them back.
  const auto all = AllOf(n);
  const auto truth = Exact(*store, n, Metric::kL2, live, queries, k);
  RecallResult r = Recall(*index, *store, Metric::kL2, live, index->Size(), queries, truth, k);
  EXPECT_GE(r.recall, 0.95);
  for (size_t q = 0; q < 100; ++q) {
    IndexSearchParams p;
    p.k = k;
    p.mask = all.data();
    p.mask_size = n;
    std::vector<Neighbor> got;
    ASSERT_TRUE(index->Search(queries.data() + q * dim, p, &got, nullptr).ok());
    EXPECT_EQ(got.size(), k);
    for (const Neighbor& nb : got) EXPECT_NE(nb.slot % 3, 0u) << nb.slot;
  }
  // Consolidate releases exactly the removed slots, and nothing links to them afterwards.
  EXPECT_TRUE(index->TEST_Validate(false).ok());
  const std::vector<uint32_t> released = index->Consolidate();
  std::vector<uint32_t> want;
  for (uint32_t s = 0; s < n; s += 3) want.push_back(s);
  EXPECT_EQ(released, want);
  EXPECT_EQ(index->PendingRemovals(), 0u);
  EXPECT_EQ(index->Size(), n - n / 3);
  EXPECT_FALSE(index->Holds(0));
  EXPECT_TRUE(index->Holds(1));
  Status v = index->TEST_Validate(true);
  EXPECT_TRUE(v.ok()) << v.ToString();
  r = Recall(*index, *store, Metric::kL2, live, index->Size(), queries, truth, k);
  EXPECT_GE(r.recall, 0.95);
  EXPECT_TRUE(index->Consolidate().empty());
}

TEST(HnswTest, RemovingEverythingEmptiesTheGraph) {
  const size_t dim = 8, n = 500;
  auto data = ClusteredVectors(n, dim, 23);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(8, 50), Metric::kL2, store.get(), n);
  for (uint32_t s = 0; s < n; ++s) index->Remove(s);
  EXPECT_EQ(index->Size(), 0u);
  EXPECT_EQ(index->Consolidate().size(), n);
  EXPECT_TRUE(index->TEST_Validate(true).ok());
  std::vector<uint8_t> mask = AllOf(n);
  IndexSearchParams p;
  p.mask = mask.data();
  p.mask_size = n;
  std::vector<Neighbor> out;
  ASSERT_TRUE(index->Search(data.data(), p, &out, nullptr).ok());
  EXPECT_TRUE(out.empty());
  for (uint32_t s = 0; s < n; ++s) ASSERT_TRUE(index->Add(s).ok());
  ASSERT_TRUE(index->Search(data.data(), p, &out, nullptr).ok());
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(out[0].slot, 0u);
}

// Remove every node, then add new ones before any Consolidate (a collection consolidates only
// past max(1000, size/10) removals, so a small collection emptied and refilled stays like this).
// The removed nodes still route searches; a new node whose layer has no live node in reach must
// link to them, or nothing links to it and no search finds it.
TEST(HnswTest, NodesAddedAfterEverythingWasRemovedAreFound) {
  const size_t dim = 16, n = 200;
  auto data = ClusteredVectors(2 * n, dim, 27);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  for (uint32_t s = 0; s < n; ++s) index->Remove(s);
  for (uint32_t s = n; s < 2 * n; ++s) ASSERT_TRUE(index->Add(s).ok());
  EXPECT_EQ(index->Size(), n);
  EXPECT_EQ(index->TEST_Unreachable(), 0u);
  std::vector<uint8_t> mask(2 * n, 0);
  std::fill(mask.begin() + n, mask.end(), 1);
  auto self_hits = [&] {
    size_t hits = 0;
    for (uint32_t s = n; s < 2 * n; ++s) {
      IndexSearchParams p;
      p.k = 1;
      p.mask = mask.data();
      p.mask_size = mask.size();
      p.allowed = n;
      std::vector<Neighbor> out;
      EXPECT_TRUE(index->Search(store->Row(s), p, &out, nullptr).ok());
      hits += !out.empty() && out[0].slot == s;
    }
    return hits;
  };
  EXPECT_EQ(self_hits(), n);
  ASSERT_EQ(index->Consolidate().size(), n);
  Status v = index->TEST_Validate(true);
  ASSERT_TRUE(v.ok()) << v.ToString();
  EXPECT_EQ(index->TEST_Unreachable(), 0u);
  EXPECT_EQ(self_hits(), n);
}

TEST(HnswTest, EntryPointRemovalIsRepaired) {
  const size_t dim = 16, n = 2000;
  auto data = ClusteredVectors(n, dim, 25);
  auto queries = ClusteredVectors(50, dim, 26);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  // Remove every node on layer 1 and above (the entry point among them).
  std::vector<uint8_t> live = AllOf(n);
  size_t upper = 0;
  for (uint32_t s = 0; s < n; ++s) {
    if (index->TEST_LevelOf(s) > 0) {
      index->Remove(s);
      live[s] = 0;
      ++upper;
    }
  }
  ASSERT_GT(upper, 20u);
  index->Consolidate();
  Status v = index->TEST_Validate(true);
  ASSERT_TRUE(v.ok()) << v.ToString();
  const auto truth = Exact(*store, n, Metric::kL2, live, queries, 10);
  const RecallResult r = Recall(*index, *store, Metric::kL2, live, index->Size(), queries, truth, 10);
  EXPECT_GE(r.recall, 0.95);
}

// Insert N, then rounds of: remove half, consolidate, write new vectors into the released slots
// and add them. Recall holds and memory stays flat.
TEST(HnswTest, ChurnKeepsRecallAndMemory) {
  const size_t dim = 32, n = 4000, k = 10, rounds = 6;
  auto data = ClusteredVectors(n, dim, 31);
  auto fresh = ClusteredVectors(n * rounds / 2, dim, 32);
  auto queries = ClusteredVectors(100, dim, 33);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  std::mt19937 rng(34);
  std::vector<uint32_t> slots(n);
  for (uint32_t i = 0; i < n; ++i) slots[i] = i;
  size_t next_fresh = 0;
  size_t first_memory = 0;
  for (size_t round = 0; round < rounds; ++round) {
    std::shuffle(slots.begin(), slots.end(), rng);
    for (size_t i = 0; i < n / 2; ++i) index->Remove(slots[i]);
    std::vector<uint32_t> released = index->Consolidate();
    ASSERT_EQ(released.size(), n / 2);
    ASSERT_TRUE(index->TEST_Validate(true).ok());
    for (uint32_t s : released) {
      std::memcpy(store->Row(s), fresh.data() + (next_fresh++) * dim, dim * 4);
      ASSERT_TRUE(index->Add(s).ok());
    }
    ASSERT_EQ(index->Size(), n);
    Status v = index->TEST_Validate(false);
    ASSERT_TRUE(v.ok()) << v.ToString();
    const auto mask = AllOf(n);
    const auto truth = Exact(*store, n, Metric::kL2, mask, queries, k);
    const RecallResult r = Recall(*index, *store, Metric::kL2, mask, n, queries, truth, k);
    EXPECT_GE(r.recall, 0.95) << "round " << round;
    const size_t memory = index->MemoryBytes();
    if (round == 0) first_memory = memory;
    EXPECT_LE(memory, first_memory + first_memory / 100) << "round " << round;
    // Repair keeps the graph in one piece (a node or two may lose every in-link for a while).
    const size_t unreachable = index->TEST_Unreachable();
    EXPECT_LE(unreachable, 2u) << "round " << round;
    std::cout << "[ churn round " << round << " ] recall@10 " << r.recall << ", memory " << memory
              << ", unreachable " << unreachable << "\n";
    if (round + 1 == rounds) {
      // At a small ef, where a worn graph shows first, the churned graph stays close to a graph
      // built from scratch on the same vectors.
      auto rebuilt = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
      const RecallResult churned = Recall(*index, *store, Metric::kL2, mask, n, queries, truth, k, 16);
      const RecallResult fresh_r = Recall(*rebuilt, *store, Metric::kL2, mask, n, queries, truth, k, 16);
      EXPECT_GE(churned.recall, fresh_r.recall - 0.02);
      std::cout << "[ churn ] recall@10 at ef 16: churned " << churned.recall << ", rebuilt " << fresh_r.recall << "\n";
    }
  }
}

// --------------------------------------------------------------------------------------------
// Filtered search

class HnswFilterTest : public ::testing::TestWithParam<double> {};

TEST_P(HnswFilterTest, RecallAtSelectivity) {
  const double selectivity = GetParam();
  const size_t dim = 32, n = 10000, k = 10, nq = 60;
  static const auto data = ClusteredVectors(n, dim, 41);
  static const auto queries = ClusteredVectors(nq, dim, 42);
  static const auto store = MakeStore(data, dim);
  static const auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  std::mt19937 rng(43);
  std::bernoulli_distribution keep(selectivity);
  std::vector<uint8_t> mask(n);
  uint64_t allowed = 0;
  for (auto& b : mask) allowed += (b = keep(rng));
  ASSERT_GT(allowed, 0u);
  const auto truth = Exact(*store, n, Metric::kL2, mask, queries, k);
  const RecallResult r = Recall(*index, *store, Metric::kL2, mask, allowed, queries, truth, k);
  EXPECT_GE(r.recall, 0.95) << "selectivity " << selectivity;
  // Every query gets min(k, allowed) results.
  for (size_t q = 0; q < nq; ++q) {
    IndexSearchParams p;
    p.k = k;
    p.mask = mask.data();
    p.mask_size = n;
    p.allowed = allowed;
    std::vector<Neighbor> got;
    IndexSearchStats stats;
    ASSERT_TRUE(index->Search(queries.data() + q * dim, p, &got, &stats).ok());
    EXPECT_EQ(got.size(), std::min<size_t>(k, allowed));
    EXPECT_GE(stats.effort, std::min<size_t>(k, allowed));
    EXPECT_GT(stats.distance_computations, 0u);
  }
  std::cout << "[ filter " << selectivity << " ] allowed " << allowed << ", recall@10 " << r.recall
            << ", " << r.distances << " distances/query\n";
}

INSTANTIATE_TEST_SUITE_P(HnswSelectivities, HnswFilterTest, ::testing::Values(0.5, 0.1, 0.01, 0.001));

// A filter that excludes the query's own neighbourhood: the allowed points are far away, and the
// walk must cross the excluded region to find them.
TEST(HnswTest, FilterThatExcludesTheNeighbourhood) {
  const size_t dim = 16, n = 4000, k = 10;
  auto data = ClusteredVectors(n, dim, 45, 8);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  // The query is point 0; allow only the 5% of points farthest from it.
  std::vector<std::pair<float, uint32_t>> by_distance;
  for (uint32_t i = 0; i < n; ++i) by_distance.push_back({Distance(Metric::kL2, data.data(), store->Row(i), dim), i});
  std::sort(by_distance.begin(), by_distance.end());
  std::vector<uint8_t> mask(n, 0);
  for (size_t i = n - n / 20; i < n; ++i) mask[by_distance[i].second] = 1;
  std::vector<float> query(data.begin(), data.begin() + dim);
  const auto truth = Exact(*store, n, Metric::kL2, mask, query, k);
  const RecallResult r = Recall(*index, *store, Metric::kL2, mask, n / 20, query, truth, k);
  EXPECT_GE(r.recall, 0.9);
}

// An allowed count of 0 means "not counted": the search still finds what the mask allows.
TEST(HnswTest, UncountedMaskStillWorks) {
  const size_t dim = 16, n = 3000;
  auto data = ClusteredVectors(n, dim, 47);
  auto queries = ClusteredVectors(30, dim, 48);
  auto store = MakeStore(data, dim);
  auto index = Build(Hnsw(16, 100), Metric::kL2, store.get(), n);
  std::vector<uint8_t> mask(n, 0);
  for (size_t i = 0; i < n; i += 7) mask[i] = 1;
  const auto truth = Exact(*store, n, Metric::kL2, mask, queries, 10);
  const RecallResult r = Recall(*index, *store, Metric::kL2, mask, 0, queries, truth, 10);
  EXPECT_GE(r.recall, 0.95);
  // A mask shorter than the index simply excludes the slots past its end.
  std::vector<uint8_t> short_mask(10, 1);
  IndexSearchParams p;
  p.mask = short_mask.data();
  p.mask_size = short_mask.size();
  p.allowed = 10;
  std::vector<Neighbor> got;
  ASSERT_TRUE(index->Search(queries.data(), p, &got, nullptr).ok());
  EXPECT_EQ(got.size(), 10u);
  for (const Neighbor& nb : got) EXPECT_LT(nb.slot, 10u);
}

// --------------------------------------------------------------------------------------------
// Concurrency: searches while one writer adds.

TEST(HnswTest, SearchesRunConcurrentlyWithAdds) {
  const size_t dim = 24, n = 6000, initial = 1000, k = 10;
  auto data = ClusteredVectors(n, dim, 51);
  auto queries = ClusteredVectors(50, dim, 52);
  VectorStore store(dim);
  store.Reserve(initial);
  for (uint32_t i = 0; i < initial; ++i) std::memcpy(store.Row(i), data.data() + i * dim, dim * 4);
  auto index = std::move(HnswIndex::Create(Hnsw(16, 100), Metric::kL2, &store)).value();
  for (uint32_t i = 0; i < initial; ++i) ASSERT_TRUE(index->Add(i).ok());
  const std::vector<uint8_t> mask = AllOf(n);

  std::atomic<uint32_t> added{static_cast<uint32_t>(initial)};
  std::atomic<bool> done{false};
  std::atomic<uint64_t> searches{0}, failures{0}, short_results{0}, bad_slot{0}, duplicate{0},
      unsorted{0}, bad_distance{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      size_t q = static_cast<size_t>(t);
      while (!done.load()) {
        IndexSearchParams p;
        p.k = k;
        p.mask = mask.data();
        p.mask_size = mask.size();
        std::vector<Neighbor> got;
        const float* query = queries.data() + (q++ % 50) * dim;
        IndexSearchStats st;
        if (!index->Search(query, p, &got, &st).ok()) ++failures;
        if (got.size() != k) ++short_results;
        std::set<uint32_t> seen;
        for (size_t i = 0; i < got.size(); ++i) {
          // A slot may be one being added right now (it is in the store), never beyond the writer.
          if (got[i].slot >= added.load() + 1) ++bad_slot;
          if (!seen.insert(got[i].slot).second) ++duplicate;
          if (i > 0 && got[i - 1].distance > got[i].distance) ++unsorted;
          if (std::fabs(got[i].distance - Distance(Metric::kL2, query, store.Row(got[i].slot), dim)) >
              1e-4f * (1 + got[i].distance)) {
            ++bad_distance;
          }
        }
        ++searches;
      }
    });
  }
  std::thread writer([&] {
    for (uint32_t i = initial; i < n; ++i) {
      store.Reserve(i + 1);  // grows the store under the readers (rows never move)
      std::memcpy(store.Row(i), data.data() + i * dim, dim * 4);
      if (!index->Add(i).ok()) ++failures;
      added.store(i + 1);
    }
  });
  writer.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(short_results.load(), 0u);
  EXPECT_EQ(bad_slot.load(), 0u);
  EXPECT_EQ(duplicate.load(), 0u);
  EXPECT_EQ(unsorted.load(), 0u);
  EXPECT_EQ(bad_distance.load(), 0u);
  EXPECT_GT(searches.load(), 0u);
  ASSERT_TRUE(index->TEST_Validate(false).ok());
  const auto truth = Exact(store, n, Metric::kL2, mask, queries, k);
  const RecallResult r = Recall(*index, store, Metric::kL2, mask, n, queries, truth, k);
  EXPECT_GE(r.recall, 0.95);
  std::cout << "[ concurrency ] " << searches.load() << " searches during " << n - initial << " adds\n";
}

// --------------------------------------------------------------------------------------------
// Persistence

void ExpectSameAnswers(const HnswIndex& a, const HnswIndex& b, const std::vector<float>& queries,
                       size_t dim, const std::vector<uint8_t>& mask) {
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    IndexSearchParams p;
    p.k = 10;
    p.mask = mask.data();
    p.mask_size = mask.size();
    std::vector<Neighbor> ra, rb;
    ASSERT_TRUE(a.Search(queries.data() + q * dim, p, &ra, nullptr).ok());
    ASSERT_TRUE(b.Search(queries.data() + q * dim, p, &rb, nullptr).ok());
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t i = 0; i < ra.size(); ++i) {
      EXPECT_EQ(ra[i].slot, rb[i].slot);
      EXPECT_EQ(ra[i].distance, rb[i].distance);
    }
  }
}

// HNSW-SQ8 with L2 keeps a per-code term beside the codes (not saved): Load must rebuild it, or
// the walk would score codes differently. Same slots, same distances and the same walk (the
// number of distances computed) for every query.
TEST(HnswSq8PersistenceTest, L2CodeTermsAreRebuiltOnLoad) {
  const size_t dim = 24, n = 2000;
  auto data = ClusteredVectors(n, dim, 71);
  auto queries = ClusteredVectors(40, dim, 72);
  auto store = MakeStore(data, dim);
  const IndexOptions o = Hnsw(16, 100, 32, true);
  auto index = Build(o, Metric::kL2, store.get(), n, &data);
  std::string blob;
  ASSERT_TRUE(index->Save(&blob).ok());
  auto loaded = HnswIndex::Load(blob, o, Metric::kL2, store.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto mask = AllOf(n);
  ExpectSameAnswers(*index, **loaded, queries, dim, mask);
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    IndexSearchParams p;
    p.k = 10;
    p.mask = mask.data();
    p.mask_size = mask.size();
    std::vector<Neighbor> ra, rb;
    IndexSearchStats sa, sb;
    ASSERT_TRUE(index->Search(queries.data() + q * dim, p, &ra, &sa).ok());
    ASSERT_TRUE((*loaded)->Search(queries.data() + q * dim, p, &rb, &sb).ok());
    EXPECT_EQ(sa.distance_computations, sb.distance_computations) << "query " << q;
  }
}

class HnswSaveTest : public ::testing::TestWithParam<bool> {};  // SQ8 or not

TEST_P(HnswSaveTest, SaveLoadGivesIdenticalResults) {
  const bool sq8 = GetParam();
  const size_t dim = 32, n = 3000;
  auto data = ClusteredVectors(n, dim, 61);
  auto queries = ClusteredVectors(50, dim, 62);
  auto store = MakeStore(data, dim);
  const IndexOptions o = Hnsw(16, 100, 64, sq8);
  auto index = Build(o, Metric::kInnerProduct, store.get(), n, &data);
  for (uint32_t s = 5; s < n; s += 11) index->Remove(s);
  std::string blob;
  ASSERT_TRUE(index->Save(&blob).ok());
  auto loaded = HnswIndex::Load(blob, o, Metric::kInnerProduct, store.get());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Size(), index->Size());
  EXPECT_EQ((*loaded)->PendingRemovals(), index->PendingRemovals());
  EXPECT_TRUE((*loaded)->Holds(5));
  EXPECT_TRUE((*loaded)->TEST_Validate(false).ok());
  ExpectSameAnswers(*index, **loaded, queries, dim, AllOf(n));
  std::string again;
  ASSERT_TRUE((*loaded)->Save(&again).ok());
  EXPECT_EQ(blob, again);
  // Both continue identically: consolidate, re-add.
  auto ra = index->Consolidate();
  auto rb = (*loaded)->Consolidate();
  EXPECT_EQ(ra, rb);
  for (uint32_t s : ra) {
    ASSERT_TRUE(index->Add(s).ok());
    ASSERT_TRUE((*loaded)->Add(s).ok());
  }
  ExpectSameAnswers(*index, **loaded, queries, dim, AllOf(n));
  // A different configuration refuses the blob.
  EXPECT_EQ(HnswIndex::Load(blob, Hnsw(8, 100, 64, sq8), Metric::kInnerProduct, store.get()).status().code(),
            StatusCode::kDataLoss);
  EXPECT_EQ(HnswIndex::Load(blob, o, Metric::kL2, store.get()).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(HnswIndex::Load(blob, Hnsw(16, 100, 64, !sq8), Metric::kInnerProduct, store.get()).status().code(),
            StatusCode::kDataLoss);
  VectorStore other(dim + 1);
  other.Reserve(n);
  EXPECT_EQ(HnswIndex::Load(blob, o, Metric::kInnerProduct, &other).status().code(), StatusCode::kDataLoss);
  VectorStore small(dim);  // too few rows for the saved slots
  EXPECT_EQ(HnswIndex::Load(blob, o, Metric::kInnerProduct, &small).status().code(), StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(HnswQuantizers, HnswSaveTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Sq8" : "Float"; });

TEST(HnswTest, EmptyIndexRoundTrips) {
  VectorStore store(4);
  auto index = std::move(HnswIndex::Create(Hnsw(), Metric::kL2, &store)).value();
  std::string blob;
  ASSERT_TRUE(index->Save(&blob).ok());
  auto loaded = HnswIndex::Load(blob, Hnsw(), Metric::kL2, &store);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->Size(), 0u);
}

// Truncated and corrupted blobs load as DataLoss (or, for a flip that happens to leave a valid
// graph, as a valid index), never a crash; sanitizers check the rest.
TEST(HnswTest, CorruptBlobsAreDataLoss) {
  for (bool sq8 : {false, true}) {
    const size_t dim = 8, n = 300;
    auto data = ClusteredVectors(n, dim, 71);
    auto store = MakeStore(data, dim);
    const IndexOptions o = Hnsw(8, 50, 32, sq8);
    auto index = Build(o, Metric::kL2, store.get(), n, &data);
    index->Remove(10);
    std::string blob;
    ASSERT_TRUE(index->Save(&blob).ok());
    for (size_t cut = 0; cut < blob.size(); cut += (cut < 600 ? 1 : 7)) {
      auto r = HnswIndex::Load(std::string_view(blob.data(), cut), o, Metric::kL2, store.get());
      ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << "cut at " << cut << " of " << blob.size();
    }
    auto longer = HnswIndex::Load(blob + "x", o, Metric::kL2, store.get());
    EXPECT_EQ(longer.status().code(), StatusCode::kDataLoss);

    std::mt19937 rng(72);
    std::vector<uint8_t> mask = AllOf(n);
    size_t rejected = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      std::string bad = blob;
      const int flips = 1 + trial % 4;
      for (int f = 0; f < flips; ++f) {
        // Half the trials aim at the header and the first nodes, where a flip matters most.
        const size_t range = trial % 2 ? std::min<size_t>(bad.size(), 120) : bad.size();
        bad[rng() % range] ^= static_cast<char>(1 + rng() % 255);
      }
      auto r = HnswIndex::Load(bad, o, Metric::kL2, store.get());
      if (!r.ok()) {
        ASSERT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().ToString();
        ++rejected;
        continue;
      }
      // Accepted: it must be a usable index.
      ASSERT_TRUE((*r)->TEST_Validate(false).ok());
      IndexSearchParams p;
      p.mask = mask.data();
      p.mask_size = n;
      std::vector<Neighbor> got;
      ASSERT_TRUE((*r)->Search(data.data(), p, &got, nullptr).ok());
    }
    EXPECT_GT(rejected, 500u);
    // Claims of huge sizes are rejected before anything that large is allocated.
    std::string huge = blob;
    const uint64_t count = uint64_t{1} << 40;
    std::memcpy(huge.data() + 8 + 4 + 4 + 4 + 1 + 1 + 2 + 4 + 4 + 8 + 8, &count, 8);
    EXPECT_EQ(HnswIndex::Load(huge, o, Metric::kL2, store.get()).status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(HnswIndex::Load("", o, Metric::kL2, store.get()).status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(HnswIndex::Load(std::string(4096, '\0'), o, Metric::kL2, store.get()).status().code(),
              StatusCode::kDataLoss);
  }
}

// --------------------------------------------------------------------------------------------
// HNSW-SQ8

class HnswSq8Test : public ::testing::TestWithParam<Metric> {};

TEST_P(HnswSq8Test, RecallCloseToFloat) {
  const Metric metric = GetParam();
  const size_t dim = 48, n = 5000, k = 10;
  auto data = ClusteredVectors(n, dim, 81);
  auto queries = ClusteredVectors(200, dim, 82);
  if (metric == Metric::kCosine) {
    NormalizeAll(&data, dim);
    NormalizeAll(&queries, dim);
  }
  auto store = MakeStore(data, dim);
  // Train on a sample, as the collection does.
  std::vector<float> sample(data.begin(), data.begin() + 1000 * dim);
  auto sq8 = Build(Hnsw(16, 100, 64, true), metric, store.get(), n, &sample);
  auto plain = Build(Hnsw(16, 100, 64, false), metric, store.get(), n);
  const auto mask = AllOf(n);
  const auto truth = Exact(*store, n, metric, mask, queries, k);
  // Recall checks that returned distances are the exact float distances.
  const RecallResult rq = Recall(*sq8, *store, metric, mask, n, queries, truth, k);
  const RecallResult rf = Recall(*plain, *store, metric, mask, n, queries, truth, k);
  EXPECT_GE(rq.recall, 0.95);
  EXPECT_GE(rq.recall, rf.recall - 0.01);
  std::cout << "[ sq8 " << MetricName(metric) << " ] recall@10 " << rq.recall << " (float "
            << rf.recall << "), bytes/vector " << sq8->MemoryBytes() / n << " (float "
            << plain->MemoryBytes() / n << ")\n";
  // Retraining re-encodes what is held; results stay good.
  ASSERT_TRUE(sq8->Train(data.data(), n).ok());
  const RecallResult rq2 = Recall(*sq8, *store, metric, mask, n, queries, truth, k);
  EXPECT_GE(rq2.recall, 0.95);
}

// The walk scores 8-bit codes, but the re-rank uses the float vectors, so recall must not cap
// below the float graph's: at a high ef the SQ8 index finds (nearly) everything.
TEST_P(HnswSq8Test, HighEfRecallDoesNotCap) {
  const Metric metric = GetParam();
  const size_t dim = 40, n = 3000, k = 10;
  auto data = ClusteredVectors(n, dim, 91);
  auto queries = ClusteredVectors(100, dim, 92);
  if (metric == Metric::kCosine) {
    NormalizeAll(&data, dim);
    NormalizeAll(&queries, dim);
  }
  auto store = MakeStore(data, dim);
  auto sq8 = Build(Hnsw(16, 100, 64, true), metric, store.get(), n, &data);
  auto plain = Build(Hnsw(16, 100, 64, false), metric, store.get(), n);
  const auto mask = AllOf(n);
  const auto truth = Exact(*store, n, metric, mask, queries, k);
  const RecallResult r = Recall(*sq8, *store, metric, mask, n, queries, truth, k, 400);
  const RecallResult rf = Recall(*plain, *store, metric, mask, n, queries, truth, k, 400);
  // Inner product is not a metric: a few true neighbours are unreachable in either graph, so
  // there the bar is the float graph's own recall.
  EXPECT_GE(r.recall, metric == Metric::kInnerProduct ? rf.recall : 0.999) << MetricName(metric);
  std::cout << "[ sq8 " << MetricName(metric) << " ] recall@10 at ef 400: " << r.recall << " (float "
            << rf.recall << ")\n";
}

INSTANTIATE_TEST_SUITE_P(HnswMetrics, HnswSq8Test,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine),
                         [](const auto& info) { return std::string(MetricName(info.param)); });

}  // namespace
}  // namespace sextant::index
