// Bulk import of the real siftsmall set (10,000 x 128) through UpsertStream into an HNSW16
// collection, then recall@10 of the server's searches against the data set's ground truth.
// Skips when ../shared/data is absent.
#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::ReadVecs;
using ::sextant::testing::Recall;
using ::sextant::testing::TestServer;

TEST(ClientSiftsmallTest, StreamImportAndRecall) {
  SEXTANT_REQUIRE_DATA(base_path, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query_path, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(gt_path, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t dim = 0, qdim = 0, gdim = 0;
  const std::vector<float> base = ReadVecs<float>(base_path, &dim);
  const std::vector<float> queries = ReadVecs<float>(query_path, &qdim);
  const std::vector<int32_t> truth = ReadVecs<int32_t>(gt_path, &gdim);
  ASSERT_EQ(dim, 128u);
  ASSERT_EQ(qdim, 128u);
  ASSERT_GE(gdim, 10u);
  const size_t n = base.size() / dim;
  const size_t nq = queries.size() / dim;
  ASSERT_EQ(n, 10000u);

  TestServer server;
  ASSERT_TRUE(server.Start());
  auto client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->CreateCollection("sift", Options(128, Metric::kL2, "HNSW16")).ok());
  auto c = client->Collection("sift");
  auto stream = c->OpenUpsertStream();
  for (size_t start = 0; start < n; start += 1000) {
    ASSERT_OK(stream->Write(NumericIds(1000, start), std::span<const float>(base).subspan(start * dim, 1000 * dim)));
  }
  EXPECT_EQ(stream->committed_batches(), 10u);
  auto total = stream->Finish();
  ASSERT_TRUE(total.ok()) << total.status().ToString();
  EXPECT_EQ(*total, n);
  ASSERT_OK(c->WaitForIndex(120000));
  EXPECT_EQ(*c->Count(), n);

  SearchOptions options;
  options.k = 10;
  auto results = c->SearchBatch(options, queries);
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), nq);
  double recall = 0;
  for (size_t q = 0; q < nq; ++q) {
    std::vector<uint64_t> want(truth.begin() + static_cast<ptrdiff_t>(q * gdim),
                               truth.begin() + static_cast<ptrdiff_t>(q * gdim + 10));
    recall += Recall(testing::HitIds((*results)[q]), want, 10);
  }
  recall /= static_cast<double>(nq);
  EXPECT_GE(recall, 0.95) << "recall@10 of HNSW16 over sextantd";
  EXPECT_EQ(server.process.Stop(), 0) << server.process.log();
}

}  // namespace
}  // namespace sextant
