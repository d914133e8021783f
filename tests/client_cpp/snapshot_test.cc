// Snapshots through the C++ client against a real sextantd with --snapshot-dir: create, list,
// restore (same answers), download/upload round trip, truncated uploads (DataLoss), errors.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "client_test_util.h"
#include "sextant/client.h"

namespace sextant {
namespace {

using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TestServer;

TEST(ClientSnapshotTest, CreateRestoreDownloadUpload) {
  TestServer server;
  ASSERT_TRUE(server.Start({"--snapshot-dir", server.dir.Sub("snaps")}));
  auto client = MustConnect(server.process.address());
  ASSERT_NE(client, nullptr);
  constexpr uint32_t kDim = 8;
  ASSERT_TRUE(client->CreateCollection("docs", Options(kDim, Metric::kL2, "HNSW8")).ok());
  auto docs = client->Collection("docs");
  const std::vector<float> vectors = RandomVectors(300, kDim, 5);
  ASSERT_OK(docs->Upsert({}, NumericIds(300), vectors));
  ASSERT_OK(docs->WaitForIndex(60000));
  auto answers = [&](RemoteCollection& c) {
    std::vector<std::vector<Hit>> out;
    for (size_t q = 0; q < 5; ++q) {
      SearchOptions so;
      so.k = 6;
      auto hits = c.Search(so, std::span<const float>(vectors.data() + q * 13 * kDim, kDim));
      EXPECT_TRUE(hits.ok()) << hits.status().ToString();
      out.push_back(hits.ok() ? *hits : std::vector<Hit>{});
    }
    return out;
  };
  const auto before = answers(*docs);

  auto info = client->CreateSnapshot("docs", "cpp-docs");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->name, "cpp-docs");
  EXPECT_EQ(info->scope, "collection");
  ASSERT_EQ(info->collections.size(), 1u);
  EXPECT_EQ(info->collections[0].count, 300u);
  EXPECT_TRUE(info->path.empty());  // clients never see server paths
  auto list = client->ListSnapshots();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u);

  auto restored = client->RestoreSnapshot("cpp-docs", "", "docs2");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->index_origin, "checkpoint");
  auto docs2 = client->Collection("docs2");
  const auto after = answers(*docs2);
  ASSERT_EQ(after.size(), before.size());
  for (size_t q = 0; q < before.size(); ++q) {
    ASSERT_EQ(after[q].size(), before[q].size());
    for (size_t r = 0; r < before[q].size(); ++r) {
      EXPECT_EQ(after[q][r].id, before[q][r].id);
      EXPECT_EQ(after[q][r].score, before[q][r].score);
    }
  }

  std::stringstream archive;
  auto n = client->DownloadSnapshot("cpp-docs", archive);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  const std::string bytes = archive.str();
  EXPECT_EQ(*n, bytes.size());
  std::istringstream in(bytes);
  auto up = client->UploadSnapshot(in, "cpp-copy");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->collections[0].count, 300u);
  std::istringstream half(bytes.substr(0, bytes.size() / 2));
  EXPECT_CODE(client->UploadSnapshot(half, "cpp-half").status(), StatusCode::kDataLoss);
  std::istringstream again(bytes);
  EXPECT_CODE(client->UploadSnapshot(again, "cpp-copy").status(), StatusCode::kAlreadyExists);

  EXPECT_CODE(client->RestoreSnapshot("cpp-docs", "", "docs").status(), StatusCode::kAlreadyExists);
  EXPECT_CODE(client->RestoreSnapshot("nope", "", "x").status(), StatusCode::kNotFound);
  EXPECT_CODE(client->CreateSnapshot("", "../x").status(), StatusCode::kInvalidArgument);
  std::stringstream sink;
  EXPECT_CODE(client->DownloadSnapshot("nope", sink).status(), StatusCode::kNotFound);
  ASSERT_OK(client->DeleteSnapshot("cpp-copy"));
  EXPECT_CODE(client->DeleteSnapshot("cpp-copy"), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sextant
