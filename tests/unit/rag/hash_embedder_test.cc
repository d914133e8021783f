#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "sextant/rag.h"

namespace sextant::rag {
namespace {

std::unique_ptr<Embedder> MustMake(const HashEmbedderOptions& o = {}) {
  auto e = MakeHashEmbedder(o);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(*e) : nullptr;
}

std::vector<float> MustEmbed(Embedder& e, std::vector<std::string> texts) {
  auto v = e.Embed(texts);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : std::vector<float>{};
}

double Cosine(const std::vector<float>& v, size_t a, size_t b, size_t dim) {
  double dot = 0;
  for (size_t d = 0; d < dim; ++d) dot += double{v[a * dim + d]} * v[b * dim + d];
  return dot;  // the vectors are unit length
}

TEST(HashEmbedderTest, ValidatesOptions) {
  HashEmbedderOptions o;
  o.dimension = 7;
  EXPECT_EQ(MakeHashEmbedder(o).status().code(), StatusCode::kInvalidArgument);
  o.dimension = 65537;
  EXPECT_EQ(MakeHashEmbedder(o).status().code(), StatusCode::kInvalidArgument);
  o.dimension = 8;
  o.char_ngram_min = 0;
  EXPECT_EQ(MakeHashEmbedder(o).status().code(), StatusCode::kInvalidArgument);
  o.char_ngram_min = 4;
  o.char_ngram_max = 3;
  auto bad = MakeHashEmbedder(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("char_ngram_min"), std::string_view::npos);
  o.char_ngram_min = 1;
  o.char_ngram_max = 9;
  EXPECT_EQ(MakeHashEmbedder(o).status().code(), StatusCode::kInvalidArgument);
  o.char_ngram_max = 8;
  EXPECT_TRUE(MakeHashEmbedder(o).ok());
}

TEST(HashEmbedderTest, Spec) {
  EXPECT_EQ(MustMake()->spec(), "hash:384:3-5:bigrams:v1");
  HashEmbedderOptions o;
  o.dimension = 64;
  o.char_ngram_min = 2;
  o.char_ngram_max = 4;
  o.word_bigrams = false;
  auto e = MustMake(o);
  EXPECT_EQ(e->spec(), "hash:64:2-4:nobigrams:v1");
  EXPECT_EQ(e->dimension(), 64u);
}

TEST(HashEmbedderTest, EmptyTextIsAnErrorNamingTheIndex) {
  auto e = MustMake();
  std::vector<std::string> texts = {"fine", "also fine", "x", " \n\t ", "more"};
  auto v = e->Embed(texts);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("texts[3]: empty text"), std::string_view::npos)
      << v.status().message();
  texts = {"", "a"};
  EXPECT_NE(e->Embed(texts).status().message().find("texts[0]"), std::string_view::npos);
  texts = {"a", "?!-- ..."};  // punctuation only: no words
  EXPECT_NE(e->Embed(texts).status().message().find("texts[1]"), std::string_view::npos);
  EXPECT_TRUE(MustEmbed(*e, {}).empty());
}

TEST(HashEmbedderTest, UnitNormAndShape) {
  auto e = MustMake();
  std::vector<std::string> texts = {"Hello", "The quick brown fox jumps over the lazy dog.",
                                    "café 日本語 naïve Ωmega", std::string(5000, 'a') + " b"};
  auto v = MustEmbed(*e, texts);
  ASSERT_EQ(v.size(), texts.size() * 384);
  for (size_t i = 0; i < texts.size(); ++i) {
    double norm = 0;
    for (size_t d = 0; d < 384; ++d) norm += double{v[i * 384 + d]} * v[i * 384 + d];
    EXPECT_NEAR(norm, 1.0, 1e-5) << texts[i];
  }
}

// Pins the hash, the features and the weights: these numbers must be the same on every machine,
// compiler and run; changing any of them is a new spec version ("v2"), since stored vectors would
// no longer match new queries.
TEST(HashEmbedderTest, GoldenValues) {
  HashEmbedderOptions o;
  o.dimension = 16;
  auto e = MustMake(o);
  auto v = MustEmbed(*e, {"The quick brown fox jumps over the lazy dog."});
  // Also reproduced by a 30-line Python re-implementation of docs/rag.md's description.
  const std::vector<float> golden = {-0.0693622f, 0.2080866f, 0.3468110f, 0.0000000f,
                                     0.0000000f,  0.6445932f, -0.0138724f, 0.1174404f,
                                     0.1248520f,  -0.0480782f, 0.0480782f, 0.1035680f,
                                     -0.2774488f, 0.3468110f, 0.0480782f, -0.4142719f};
  ASSERT_EQ(v.size(), golden.size());
  for (size_t d = 0; d < golden.size(); ++d) EXPECT_NEAR(v[d], golden[d], 1e-6) << "component " << d;
}

TEST(HashEmbedderTest, CaseInsensitiveAndDeterministic) {
  auto e = MustMake();
  auto v = MustEmbed(*e, {"Vector Databases store EMBEDDINGS", "vector databases store embeddings"});
  EXPECT_NEAR(Cosine(v, 0, 1, 384), 1.0, 1e-6);
  auto again = MustEmbed(*e, {"Vector Databases store EMBEDDINGS"});
  for (size_t d = 0; d < 384; ++d) ASSERT_EQ(v[d], again[d]);
}

TEST(HashEmbedderTest, SimilarTextsAreCloser) {
  auto e = MustMake();
  auto v = MustEmbed(*e, {"How do I install Python packages with pip?",
                          "Installing packages for Python using pip",
                          "The weather in Paris was rainy all week."});
  double similar = Cosine(v, 0, 1, 384);
  double unrelated = Cosine(v, 0, 2, 384);
  EXPECT_GT(similar, unrelated + 0.2) << similar << " vs " << unrelated;
  // Character n-grams relate inflected forms that share no whole word.
  auto w = MustEmbed(*e, {"installation", "installing", "weather"});
  EXPECT_GT(Cosine(w, 0, 1, 384), Cosine(w, 0, 2, 384));
}

TEST(HashEmbedderTest, WordOrderMattersOnlyWithBigrams) {
  auto with = MustMake();
  auto v = MustEmbed(*with, {"dog bites man", "man bites dog"});
  EXPECT_LT(Cosine(v, 0, 1, 384), 0.99);
  HashEmbedderOptions o;
  o.word_bigrams = false;
  auto without = MustMake(o);
  v = MustEmbed(*without, {"dog bites man", "man bites dog"});
  EXPECT_NEAR(Cosine(v, 0, 1, 384), 1.0, 1e-6);
}

TEST(HashEmbedderTest, RepeatedWordsWeighSublinearly) {
  HashEmbedderOptions o;
  o.word_bigrams = false;
  auto e = MustMake(o);
  auto v = MustEmbed(*e, {"apple banana", "apple apple apple apple banana", "apple", "banana"});
  // Four apples pull towards "apple"...
  EXPECT_GT(Cosine(v, 1, 2, 384), Cosine(v, 0, 2, 384));
  // ...by 1 + ln 4, not 4: "banana" keeps a cosine of 0.529 (0.404 with linear counts).
  EXPECT_NEAR(Cosine(v, 1, 3, 384), 0.529, 0.01);
}

TEST(HashEmbedderTest, ConcurrentEmbedMatchesSerial) {
  auto e = MustMake();
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back("document " + std::to_string(i) + " about topic " + std::to_string(i % 7));
  auto expected = MustEmbed(*e, texts);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        auto got = e->Embed(texts);
        if (!got.ok() || *got != expected) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace sextant::rag
