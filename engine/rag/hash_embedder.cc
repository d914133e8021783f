// The hash embedder: feature hashing of words, word bigrams and character n-grams into a dense,
// L2-normalised vector. No model and no state: the same text gives the same vector on every run,
// machine and compiler (the hash is spelled out here, never std::hash). See docs/rag.md.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

// Feature weights: whole words say most about a text, bigrams add word order, character n-grams
// add robustness to inflection and typos (and there are many of them per word).
constexpr double kWordWeight = 1.0;
constexpr double kBigramWeight = 0.7;
constexpr double kCharNgramWeight = 0.25;

// The feature kinds, hashed in as a first byte so that the word "ab" and the n-gram "ab" differ.
constexpr char kWordKind = 'w';
constexpr char kBigramKind = 'b';
constexpr char kCharNgramKind = 'c';

// 64-bit FNV-1a over the bytes, then the SplitMix64 finaliser so that every output bit depends
// on every input bit (FNV alone leaves the low bits weak, and they pick the index).
class FeatureHasher {
 public:
  explicit FeatureHasher(char kind) { Add(std::string_view(&kind, 1)); }
  FeatureHasher& Add(std::string_view bytes) {
    for (char c : bytes) {
      h_ ^= static_cast<unsigned char>(c);
      h_ *= 0x100000001b3ull;
    }
    return *this;
  }
  uint64_t Finish() const {
    uint64_t x = h_;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
  }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

struct Feature {
  uint64_t hash;
  double weight;  // of one occurrence
};

class HashEmbedder : public Embedder {
 public:
  explicit HashEmbedder(const HashEmbedderOptions& o) : o_(o) {}

  uint32_t dimension() const override { return o_.dimension; }

  std::string spec() const override {
    return "hash:" + std::to_string(o_.dimension) + ":" + std::to_string(o_.char_ngram_min) + "-" +
           std::to_string(o_.char_ngram_max) + ":" + (o_.word_bigrams ? "bigrams" : "nobigrams") + ":v1";
  }

  StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) override {
    std::vector<float> out(texts.size() * o_.dimension);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<Feature> features = Features(texts[i]);
      if (features.empty()) {
        return Status::InvalidArgument("texts[" + std::to_string(i) +
                                       "]: empty text (no letters or digits to embed)");
      }
      if (!Project(std::move(features), std::span<float>(out).subspan(i * o_.dimension, o_.dimension))) {
        return Status::InvalidArgument("texts[" + std::to_string(i) + "]: its features cancel out in " +
                                       std::to_string(o_.dimension) + " dimensions (use more)");
      }
    }
    return out;
  }

 private:
  std::vector<Feature> Features(std::string_view raw) const {
    const std::string lower = text::AsciiLower(raw);
    const std::string_view s = lower;
    std::vector<Feature> features;
    std::string_view prev;
    for (text::Span w : text::Words(s)) {
      std::string_view word = s.substr(w.begin, w.size());
      features.push_back({FeatureHasher(kWordKind).Add(word).Finish(), kWordWeight});
      if (o_.word_bigrams && !prev.empty()) {
        // A unit separator between the words keeps ("ab", "c") apart from ("a", "bc").
        uint64_t h = FeatureHasher(kBigramKind).Add(prev).Add("\x1f").Add(word).Finish();
        features.push_back({h, kBigramWeight});
      }
      AddCharNgrams(word, &features);
      prev = word;
    }
    return features;
  }

  // The n-grams of "<word>" for n in [min, max], counted in UTF-8 characters, not bytes.
  void AddCharNgrams(std::string_view word, std::vector<Feature>* features) const {
    const std::string marked = "<" + std::string(word) + ">";
    std::vector<size_t> starts;  // byte offset of each character, then the end
    for (size_t i = 0; i < marked.size(); ++i) {
      if (text::IsUtf8Lead(marked[i])) starts.push_back(i);
    }
    const size_t chars = starts.size();
    starts.push_back(marked.size());
    for (size_t n = o_.char_ngram_min; n <= o_.char_ngram_max && n <= chars; ++n) {
      for (size_t c = 0; c + n <= chars; ++c) {
        std::string_view gram(marked.data() + starts[c], starts[c + n] - starts[c]);
        features->push_back({FeatureHasher(kCharNgramKind).Add(gram).Finish(), kCharNgramWeight});
      }
    }
  }

  // Adds each distinct feature, weighted (1 + ln tf) times its kind's weight, at index hash mod
  // dimension with the sign of the hash's top bit, then L2-normalises. Features are summed in hash
  // order so the floating-point result does not depend on any container's iteration order. False
  // when colliding features cancel exactly and leave no direction to normalise.
  bool Project(std::vector<Feature> features, std::span<float> out) const {
    std::sort(features.begin(), features.end(),
              [](const Feature& a, const Feature& b) { return a.hash < b.hash; });
    std::vector<double> acc(o_.dimension, 0.0);
    for (size_t i = 0; i < features.size();) {
      size_t j = i;
      while (j < features.size() && features[j].hash == features[i].hash) ++j;
      const double tf = static_cast<double>(j - i);
      const double weight = features[i].weight * (1.0 + std::log(tf));
      const uint64_t h = features[i].hash;
      acc[h % o_.dimension] += (h >> 63) ? -weight : weight;
      i = j;
    }
    double norm = 0;
    for (double v : acc) norm += v * v;
    norm = std::sqrt(norm);
    if (norm == 0) return false;
    for (size_t d = 0; d < acc.size(); ++d) out[d] = static_cast<float>(acc[d] / norm);
    return true;
  }

  const HashEmbedderOptions o_;
};

Status Validate(const HashEmbedderOptions& o) {
  if (o.dimension < 8 || o.dimension > 65536) {
    return Status::InvalidArgument("dimension: must be in [8, 65536], got " + std::to_string(o.dimension));
  }
  if (o.char_ngram_min < 1 || o.char_ngram_min > o.char_ngram_max || o.char_ngram_max > 8) {
    return Status::InvalidArgument("char_ngram_min, char_ngram_max: need 1 <= min <= max <= 8, got " +
                                   std::to_string(o.char_ngram_min) + " and " +
                                   std::to_string(o.char_ngram_max));
  }
  return Status::OK();
}

}  // namespace

StatusOr<std::unique_ptr<Embedder>> MakeHashEmbedder(const HashEmbedderOptions& options) {
  SEXTANT_RETURN_IF_ERROR(Validate(options));
  return std::unique_ptr<Embedder>(std::make_unique<HashEmbedder>(options));
}

}  // namespace sextant::rag
