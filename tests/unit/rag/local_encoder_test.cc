#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "sextant/rag.h"
#include "test_util.h"
#include "unit/rag/minilm_fixture.h"

namespace sextant::rag {
namespace {

namespace fs = std::filesystem;

double Cosine(const float* a, const float* b, size_t n) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// ---------------------------------------------------------------- a tiny random BERT

// Writes a 1-layer BERT (hidden 8, 2 heads) with random weights to `dir`: enough to exercise
// loading, batching and threads without the real model. `skip` drops one tensor and `bad_shape`
// gives one a wrong shape.
void WriteTinyModel(const std::string& dir, const std::string& skip = "", const std::string& bad_shape = "") {
  fs::create_directories(dir);
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat",
                                    "a", "dog", "##s", ".", ",", "run", "##ning", "fast", "slow"};
  {
    std::ofstream v(dir + "/vocab.txt");
    for (const auto& t : vocab) v << t << "\n";
  }
  const int h = 8, inter = 16, positions = 32;
  nlohmann::json config = {{"hidden_size", h}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                           {"intermediate_size", inter}, {"vocab_size", vocab.size()},
                           {"max_position_embeddings", positions}, {"type_vocab_size", 2},
                           {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
  std::ofstream(dir + "/config.json") << config.dump();

  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"embeddings.word_embeddings.weight", {int64_t(vocab.size()), h}},
      {"embeddings.position_embeddings.weight", {positions, h}},
      {"embeddings.token_type_embeddings.weight", {2, h}},
      {"embeddings.LayerNorm.weight", {h}}, {"embeddings.LayerNorm.bias", {h}}};
  const std::string p = "encoder.layer.0.";
  for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
    shapes.push_back({p + n + ".weight", {h, h}});
    shapes.push_back({p + n + ".bias", {h}});
  }
  shapes.push_back({p + "attention.output.LayerNorm.weight", {h}});
  shapes.push_back({p + "attention.output.LayerNorm.bias", {h}});
  shapes.push_back({p + "intermediate.dense.weight", {inter, h}});
  shapes.push_back({p + "intermediate.dense.bias", {inter}});
  shapes.push_back({p + "output.dense.weight", {h, inter}});
  shapes.push_back({p + "output.dense.bias", {h}});
  shapes.push_back({p + "output.LayerNorm.weight", {h}});
  shapes.push_back({p + "output.LayerNorm.bias", {h}});

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 0.5f);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (auto [name, shape] : shapes) {
    if (name == skip) continue;
    if (name == bad_shape) shape.back() += 1;
    size_t count = 1;
    for (int64_t d : shape) count *= size_t(d);
    std::vector<float> v(count);
    for (float& x : v) x = normal(rng);
    if (name.find("LayerNorm.weight") != std::string::npos) {
      for (float& x : v) x = 1 + 0.1f * x;
    }
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {data.size(), data.size() + count * 4}}};
    data.append(reinterpret_cast<const char*>(v.data()), count * 4);
  }
  std::string h_text = header.dump();
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((uint64_t(h_text.size()) >> (8 * i)) & 0xff);
  file += h_text + data;
  std::ofstream(dir + "/model.safetensors", std::ios::binary).write(file.data(), std::streamsize(file.size()));
}

std::vector<std::string> MixedTexts() {
  return {"the cat sat on the mat.", "a dog", "", "running dogs run fast , the slow cat sat",
          "cats", "the the the the the the the the the the the the the the the the the the the the the the "
          "the the the the the the the the the the the the the the", "mat", "unknownword on a mat"};
}

TEST(LocalEncoderTest, MissingModelSaysHowToFetchIt) {
  testing::TempDir dir;
  auto absent = MakeLocalEmbedder({.model_dir = dir.Sub("no-such-model")});
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find("no-such-model"), std::string::npos);
  EXPECT_NE(absent.status().message().find("scripts/fetch-model.sh"), std::string::npos);

  WriteTinyModel(dir.Sub("m"));
  fs::remove(dir.Sub("m/model.safetensors"));
  auto no_weights = MakeLocalEmbedder({.model_dir = dir.Sub("m")});
  ASSERT_FALSE(no_weights.ok());
  EXPECT_EQ(no_weights.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_weights.status().message().find("model.safetensors"), std::string::npos);
  EXPECT_NE(no_weights.status().message().find("scripts/fetch-model.sh"), std::string::npos);
}

TEST(LocalEncoderTest, BadWeightsAreClearErrors) {
  testing::TempDir dir;
  WriteTinyModel(dir.Sub("skip"), "encoder.layer.0.attention.self.key.bias");
  auto skipped = MakeLocalEmbedder({.model_dir = dir.Sub("skip")});
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(skipped.status().code(), StatusCode::kNotFound);
  EXPECT_NE(skipped.status().message().find("encoder.layer.0.attention.self.key.bias"), std::string::npos);

  WriteTinyModel(dir.Sub("shape"), "", "encoder.layer.0.intermediate.dense.weight");
  auto shaped = MakeLocalEmbedder({.model_dir = dir.Sub("shape")});
  ASSERT_FALSE(shaped.ok());
  EXPECT_EQ(shaped.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(shaped.status().message().find("has shape [16, 9], expected [16, 8]"), std::string::npos)
      << shaped.status().ToString();

  WriteTinyModel(dir.Sub("trunc"));
  fs::resize_file(dir.Sub("trunc/model.safetensors"), fs::file_size(dir.Sub("trunc/model.safetensors")) - 10);
  auto truncated = MakeLocalEmbedder({.model_dir = dir.Sub("trunc")});
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kDataLoss) << truncated.status().ToString();

  WriteTinyModel(dir.Sub("json"));
  std::ofstream(dir.Sub("json/config.json")) << "{\"hidden_size\": 8,";
  auto json = MakeLocalEmbedder({.model_dir = dir.Sub("json")});
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.status().message().find("config.json"), std::string::npos);

  WriteTinyModel(dir.Sub("tok"));
  auto too_short = MakeLocalEmbedder({.model_dir = dir.Sub("tok"), .max_tokens = 1});
  ASSERT_FALSE(too_short.ok());
  EXPECT_EQ(too_short.status().code(), StatusCode::kInvalidArgument);
  auto no_batch = MakeLocalEmbedder({.model_dir = dir.Sub("tok"), .batch = 0});
  ASSERT_FALSE(no_batch.ok());
  EXPECT_EQ(no_batch.status().code(), StatusCode::kInvalidArgument);
}

// Batches pack texts without padding; the vectors must not depend on the company a text keeps,
// the batch size or the number of threads.
void ExpectBatchAndThreadInvariance(const std::string& model_dir, const std::vector<std::string>& texts,
                                    double min_cos) {
  auto single = MakeLocalEmbedder({.model_dir = model_dir, .threads = 1, .batch = 1});
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  const size_t d = (*single)->dimension();
  std::vector<float> one_by_one;
  for (const auto& t : texts) {
    auto v = (*single)->Embed(std::span(&t, 1));
    ASSERT_TRUE(v.ok());
    ASSERT_EQ(v->size(), d);
    one_by_one.insert(one_by_one.end(), v->begin(), v->end());
  }
  for (uint32_t threads : {1u, 2u, 3u}) {
    for (uint32_t batch : {3u, 32u}) {
      auto e = MakeLocalEmbedder({.model_dir = model_dir, .threads = threads, .batch = batch});
      ASSERT_TRUE(e.ok());
      auto all = (*e)->Embed(texts);
      ASSERT_TRUE(all.ok());
      ASSERT_EQ(all->size(), texts.size() * d);
      for (size_t i = 0; i < texts.size(); ++i) {
        const float* v = all->data() + i * d;
        EXPECT_GE(Cosine(v, one_by_one.data() + i * d, d), min_cos)
            << "text " << i << " threads " << threads << " batch " << batch;
        double norm = 0;
        for (size_t j = 0; j < d; ++j) norm += double(v[j]) * v[j];
        EXPECT_NEAR(norm, 1.0, 1e-4);
      }
    }
  }
}

TEST(LocalEncoderTest, TinyModelBatchesAndThreadsAgree) {
  testing::TempDir dir;
  WriteTinyModel(dir.Sub("tiny-bert"));
  // max_tokens above the model's 32 positions is lowered to 32 (MixedTexts has a longer text).
  auto e = MakeLocalEmbedder({.model_dir = dir.Sub("tiny-bert") + "/", .max_tokens = 512});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dimension(), 8u);
  EXPECT_EQ((*e)->spec(), "local:tiny-bert");
  auto none = (*e)->Embed({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // Different texts give different vectors.
  std::vector<std::string> two = {"the cat sat", "a dog run fast"};
  auto v = (*e)->Embed(two);
  ASSERT_TRUE(v.ok());
  EXPECT_LT(Cosine(v->data(), v->data() + 8, 8), 0.999);
  ExpectBatchAndThreadInvariance(dir.Sub("tiny-bert"), MixedTexts(), 0.99999);
}

// ---------------------------------------------------------------- the real model

struct Reference {
  std::vector<std::string> texts;
  std::vector<std::vector<float>> vectors;
};

Reference LoadReference() {
  Reference ref;
  std::ifstream in(testing::MiniLmFixtureDir() + "/reference.json");
  auto j = nlohmann::json::parse(in);
  for (const auto& item : j["items"]) {
    ref.texts.push_back(item["text"].get<std::string>());
    ref.vectors.push_back(item["embedding"].get<std::vector<float>>());
  }
  return ref;
}

#define SEXTANT_REQUIRE_MINILM(var)                                                                \
  std::string var = testing::MiniLmModelDir();                                                     \
  if (var.empty()) {                                                                               \
    GTEST_SKIP() << "all-MiniLM-L6-v2 not installed: run scripts/fetch-model.sh (or set "          \
                    "SEXTANT_MODEL_DIR)";                                                          \
  }                                                                                                \
  ASSERT_FALSE(testing::MiniLmFixtureDir().empty())

TEST(LocalEncoderTest, MatchesSentenceTransformers) {
  SEXTANT_REQUIRE_MINILM(dir);
  Reference ref = LoadReference();
  ASSERT_GE(ref.texts.size(), 20u);
  auto e = MakeLocalEmbedder({.model_dir = dir, .threads = 2});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ((*e)->dimension(), 384u);
  if (fs::path(dir).filename() == "all-MiniLM-L6-v2") {
    EXPECT_EQ((*e)->spec(), "local:all-MiniLM-L6-v2");
  }
  auto got = (*e)->Embed(ref.texts);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  double worst = 1;
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    ASSERT_EQ(ref.vectors[i].size(), 384u);
    double cos = Cosine(got->data() + i * 384, ref.vectors[i].data(), 384);
    worst = std::min(worst, cos);
    EXPECT_GE(cos, 0.999) << "text " << i << ": " << ref.texts[i].substr(0, 60);
  }
  std::cout << "[   INFO   ] lowest cosine to sentence-transformers: 1 - " << std::scientific
            << std::setprecision(2) << 1 - worst << "\n";
}

TEST(LocalEncoderTest, RealModelBatchesAndThreadsAgree) {
  SEXTANT_REQUIRE_MINILM(dir);
  Reference ref = LoadReference();
  ExpectBatchAndThreadInvariance(dir, ref.texts, 0.99999);
}

}  // namespace
}  // namespace sextant::rag
