// The one vector-file reader and writer (engine/tools/vector_file.h): TEXMEX round trips, the
// errors of damaged files, and reading from a pipe.
#include "tools/vector_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sextant::vecfile {
namespace {

using ::testing::HasSubstr;

class VectorFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sextant_vector_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void WriteBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::filesystem::path dir_;
};

TEST_F(VectorFileTest, FvecsAndIvecsRoundTrip) {
  const std::vector<float> rows = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(WriteTexmex(Path("a.fvecs"), rows.data(), 2, 3).ok());
  auto read = ReadTexmex<float>(Path("a.fvecs"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->rows, 2u);
  EXPECT_EQ(read->dim, 3u);
  EXPECT_EQ(read->values, rows);

  const std::vector<int32_t> ids = {7, 8, 9, 10};
  ASSERT_TRUE(WriteTexmex(Path("gt.ivecs"), ids.data(), 2, 2).ok());
  auto gt = ReadTexmex<int32_t>(Path("gt.ivecs"));
  ASSERT_TRUE(gt.ok()) << gt.status().ToString();
  EXPECT_EQ(gt->values, ids);
  // Vectors are not ids, and ids are not vectors.
  EXPECT_THAT(ReadTexmex<float>(Path("gt.ivecs")).status().ToString(), HasSubstr("holds ids"));
  EXPECT_THAT(ReadTexmex<int32_t>(Path("a.fvecs")).status().ToString(), HasSubstr("expected an .ivecs file"));
}

TEST_F(VectorFileTest, BvecsWidensBytes) {
  std::string bytes;
  const int32_t d = 2;
  bytes.append(reinterpret_cast<const char*>(&d), 4);
  bytes.push_back(static_cast<char>(200));
  bytes.push_back(static_cast<char>(3));
  WriteBytes(Path("b.bvecs"), bytes);
  auto read = ReadTexmex<float>(Path("b.bvecs"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->values, (std::vector<float>{200, 3}));
}

TEST_F(VectorFileTest, DamagedFilesNameTheRowAndTheProblem) {
  const std::vector<float> rows = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(WriteTexmex(Path("a.fvecs"), rows.data(), 2, 3).ok());
  // Cut inside the second vector.
  std::filesystem::resize_file(Path("a.fvecs"), 16 + 8);
  auto cut = ReadTexmex<float>(Path("a.fvecs"));
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(cut.status().ToString(), HasSubstr("row 1: the file ends inside the vector"));

  // A second row of another dimension.
  std::vector<float> one = {1, 2, 3};
  auto w = TexmexWriter::Create(Path("mixed.fvecs"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(one.data(), 1, 3).ok());
  ASSERT_TRUE((*w)->Write(one.data(), 1, 2).ok());
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_THAT(ReadTexmex<float>(Path("mixed.fvecs")).status().ToString(),
              HasSubstr("row 1: the vector has dimension 2, but the file's first row has dimension 3"));

  // A header that is no dimension, an empty file, a missing one, an unknown extension.
  const int32_t bad = -5;
  WriteBytes(Path("neg.fvecs"), std::string(reinterpret_cast<const char*>(&bad), 4));
  EXPECT_THAT(TexmexFile::Open(Path("neg.fvecs")).status().ToString(),
              HasSubstr("row 0: the dimension header is -5"));
  WriteBytes(Path("empty.fvecs"), "");
  EXPECT_THAT(TexmexFile::Open(Path("empty.fvecs")).status().ToString(), HasSubstr("is empty"));
  EXPECT_EQ(TexmexFile::Open(Path("missing.fvecs")).status().code(), StatusCode::kNotFound);
  EXPECT_THAT(TexmexFile::Open(Path("x.txt")).status().ToString(), HasSubstr("unknown extension"));
}

TEST_F(VectorFileTest, BlockReadsAndRewind) {
  std::vector<float> rows(10 * 4);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<float>(i);
  ASSERT_TRUE(WriteTexmex(Path("a.fvecs"), rows.data(), 10, 4).ok());
  auto file = TexmexFile::Open(Path("a.fvecs"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->rows(), 10u);
  std::vector<float> block(4 * 4);
  std::vector<float> all;
  while (true) {
    auto got = (*file)->Read(4, block.data());
    ASSERT_TRUE(got.ok());
    if (*got == 0) break;
    all.insert(all.end(), block.begin(), block.begin() + *got * 4);
  }
  EXPECT_EQ(all, rows);
  ASSERT_TRUE((*file)->Rewind().ok());
  auto again = (*file)->Read(1, block.data());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 1u);
  EXPECT_EQ(block[3], 3.0f);
}

TEST_F(VectorFileTest, ReadsFromAPipe) {
  const std::vector<float> rows = {1, 2, 3, 4};
  ASSERT_TRUE(WriteTexmex(Path("a.fvecs"), rows.data(), 2, 2).ok());
  std::FILE* pipe = ::popen(("cat " + Path("a.fvecs")).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  auto file = TexmexFile::FromStream(pipe, "<pipe>", TexmexType::kFloat);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->dim(), 2u);
  EXPECT_FALSE((*file)->rows().has_value());
  std::vector<float> out(4);
  auto got = (*file)->Read(5, out.data());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 2u);
  EXPECT_EQ(out, rows);
  EXPECT_EQ((*file)->Rewind().code(), StatusCode::kFailedPrecondition);
  ::pclose(pipe);
}

}  // namespace
}  // namespace sextant::vecfile
