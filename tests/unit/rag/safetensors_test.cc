#include "rag/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace sextant::rag {
namespace {

// Writes a safetensors file: the 8-byte little-endian length of `header`, `header`, `data`.
void WriteFile(const std::string& path, const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += header;
  out += data;
  std::ofstream(path, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
}

std::string Floats(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

// Two F32 tensors ([2,3] and [3]) and one I64 tensor, as the model files have.
std::string GoodHeader() {
  return R"({"__metadata__":{"format":"pt"},)"
         R"("w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},)"
         R"("b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]},)"
         R"("ids":{"dtype":"I64","shape":[1,2],"data_offsets":[36,52]}})";
}
std::string GoodData() {
  std::string d = Floats({1, 2, 3, 4, 5, 6}) + Floats({-1.5f, 0.25f, 7});
  d += std::string(16, '\0');
  return d;
}

TEST(SafeTensorsTest, ReadsF32Tensors) {
  testing::TempDir dir;
  std::string path = dir.Sub("m.safetensors");
  WriteFile(path, GoodHeader(), GoodData());
  auto file = SafeTensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->tensors().size(), 3u);
  ASSERT_NE((*file)->Find("ids"), nullptr);
  EXPECT_EQ((*file)->Find("ids")->dtype, "I64");
  EXPECT_EQ((*file)->Find("nope"), nullptr);

  auto w = (*file)->ReadF32("w", {2, 3});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  auto b = (*file)->ReadF32("b", {3});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<float>{-1.5f, 0.25f, 7}));
}

TEST(SafeTensorsTest, WrongShapeDtypeOrNameIsAClearError) {
  testing::TempDir dir;
  std::string path = dir.Sub("m.safetensors");
  WriteFile(path, GoodHeader(), GoodData());
  auto file = SafeTensorsFile::Open(path);
  ASSERT_TRUE(file.ok());
  auto shape = (*file)->ReadF32("w", {3, 2});
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(shape.status().message().find("has shape [2, 3], expected [3, 2]"), std::string::npos)
      << shape.status().ToString();
  auto dtype = (*file)->ReadF32("ids", {1, 2});
  ASSERT_FALSE(dtype.ok());
  EXPECT_NE(dtype.status().message().find("is I64"), std::string::npos) << dtype.status().ToString();
  auto missing = (*file)->ReadF32("encoder.layer.0", {1});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("encoder.layer.0"), std::string::npos);
}

TEST(SafeTensorsTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  auto file = SafeTensorsFile::Open(dir.Sub("absent.safetensors"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
}

// Opens `path` and expects DataLoss whose message contains `needle`.
void ExpectCorrupt(const std::string& path, const std::string& needle) {
  auto file = SafeTensorsFile::Open(path);
  ASSERT_FALSE(file.ok()) << "opened a corrupt file expecting \"" << needle << "\"";
  EXPECT_EQ(file.status().code(), StatusCode::kDataLoss) << file.status().ToString();
  EXPECT_NE(file.status().message().find(needle), std::string::npos) << file.status().ToString();
}

TEST(SafeTensorsTest, TruncatedFilesAreRefused) {
  testing::TempDir dir;
  std::string path = dir.Sub("t.safetensors");
  std::ofstream(path, std::ios::binary).write("\x10\x00\x00", 3);
  ExpectCorrupt(path, "shorter than its 8-byte header length");

  // The header claims more bytes than the file has.
  std::string header = GoodHeader();
  std::string whole(8, '\0');
  whole[0] = static_cast<char>(header.size() & 0xff);
  whole[1] = static_cast<char>(header.size() >> 8);
  whole += header.substr(0, header.size() / 2);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(whole.data(),
                                                               static_cast<std::streamsize>(whole.size()));
  ExpectCorrupt(path, "exceeds the file size");

  // Whole header, but the data stops early.
  std::string data = GoodData();
  WriteFile(path, header, data.substr(0, 30));
  ExpectCorrupt(path, "outside the 30 data bytes");
}

TEST(SafeTensorsTest, MalformedHeadersAreRefused) {
  testing::TempDir dir;
  std::string path = dir.Sub("h.safetensors");
  WriteFile(path, R"({"w":{"dtype":"F32","shape":[2,3],)", GoodData());
  ExpectCorrupt(path, "not valid JSON");
  WriteFile(path, "[1,2]", GoodData());
  ExpectCorrupt(path, "not a JSON object");
  WriteFile(path, R"({"w":{"dtype":"Q4","shape":[2,3],"data_offsets":[0,24]}})", GoodData());
  ExpectCorrupt(path, "unknown dtype \"Q4\"");
  WriteFile(path, R"({"w":{"dtype":"F32","shape":[2,4],"data_offsets":[0,24]}})", GoodData());
  ExpectCorrupt(path, "24 bytes do not hold shape [2, 4] of F32");
  WriteFile(path, R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,24]}})", GoodData());
  ExpectCorrupt(path, "negative");
  WriteFile(path, R"({"w":{"dtype":"F32","shape":[6],"data_offsets":[24,0]}})", GoodData());
  ExpectCorrupt(path, "data_offsets [24, 0]");
  WriteFile(path, R"({"w":{"dtype":"F32","shape":[6]}})", GoodData());
  ExpectCorrupt(path, "\"data_offsets\" must be");
  WriteFile(path, R"({"w":{"shape":[6],"data_offsets":[0,24]}})", GoodData());
  ExpectCorrupt(path, "missing string \"dtype\"");
}

}  // namespace
}  // namespace sextant::rag
