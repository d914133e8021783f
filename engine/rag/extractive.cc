// The extractive generator: answers with the context sentences that best match the question,
// cited as [n]. No model; it says so in every answer. See docs/rag.md ("Extractive generator").
#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

constexpr std::string_view kNoModelNote = "(Extractive answer: no language model was used.)";
constexpr std::string_view kNoAnswer = "The context does not contain an answer to this question.";

// Bonus for the best-ranked chunk (scaled down linearly to 0 for the last): breaks near-ties in
// favour of what retrieval ranked higher without outweighing one shared rare word.
constexpr double kRankBonus = 0.1;
// Sentences longer than this many content words are scored down by sqrt(length / this), so a long
// code block or run-on sentence does not win just by containing more words.
constexpr double kLongSentence = 25;

constexpr std::array<std::string_view, 127> kStopWords = {
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "if", "in", "into", "is", "it", "its", "itself", "just", "me",
    "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
    "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
    "your", "yours", "i", "get", "use", "way", "also", "one"};

bool IsStopWord(std::string_view w) {
  return std::find(kStopWords.begin(), kStopWords.end(), w) != kStopWords.end();
}

// A light suffix folding, enough to match "called" with "call" and "lists" with "list":
// "-ing" (words over 5 bytes), "-ed" (over 4), then a plural "-s" (over 3, not "-ss").
void FoldSuffix(std::string* w) {
  if (w->size() > 5 && w->ends_with("ing")) {
    w->resize(w->size() - 3);
  } else if (w->size() > 4 && w->ends_with("ed")) {
    w->resize(w->size() - 2);
  }
  if (w->size() > 3 && w->back() == 's' && (*w)[w->size() - 2] != 's') w->pop_back();
}

// The distinct content words of `s`: lower-cased words of two or more bytes that are not stop
// words, suffixes folded.
std::vector<std::string> ContentWords(std::string_view s) {
  const std::string lower = text::AsciiLower(s);
  std::vector<std::string> out;
  for (text::Span span : text::Words(lower)) {
    std::string w = lower.substr(span.begin, span.size());
    if (w.size() < 2 || IsStopWord(w)) continue;
    FoldSuffix(&w);
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct Sentence {
  uint32_t rank = 0;      // 0-based position of its chunk in the context ([rank + 1])
  uint32_t position = 0;  // order within the context
  std::string text;       // white space collapsed
  std::vector<std::string> words;
  double score = 0;
  bool matches = false;
};

// Every sentence of the context, in context order; a sentence repeated by an overlapping chunk is
// kept once, where it ranks best.
std::vector<Sentence> SplitContext(std::span<const ContextChunk> context) {
  std::vector<Sentence> out;
  std::unordered_set<std::string> seen;
  for (size_t r = 0; r < context.size(); ++r) {
    std::string_view chunk = context[r].text;
    for (text::Span span : text::Sentences(chunk)) {
      Sentence s;
      s.rank = static_cast<uint32_t>(r);
      s.position = static_cast<uint32_t>(out.size());
      s.text = text::CollapseSpace(chunk.substr(span.begin, span.size()));
      if (!seen.insert(s.text).second) continue;
      s.words = ContentWords(s.text);
      out.push_back(std::move(s));
    }
  }
  return out;
}

// Scores each sentence: the IDF (over the context's sentences) of the question's content words it
// contains, scaled down when long, plus the rank bonus.
void Score(const std::vector<std::string>& question, size_t chunks, std::vector<Sentence>* sentences) {
  std::unordered_map<std::string, size_t> df;
  for (const Sentence& s : *sentences) {
    for (const std::string& w : s.words) ++df[w];
  }
  const double n = static_cast<double>(sentences->size());
  for (Sentence& s : *sentences) {
    double sum = 0;
    for (const std::string& w : question) {
      if (std::binary_search(s.words.begin(), s.words.end(), w)) {
        sum += std::log(1.0 + n / static_cast<double>(df[w]));
        s.matches = true;
      }
    }
    if (!s.matches) continue;
    const double len = static_cast<double>(s.words.size());
    if (len > kLongSentence) sum /= std::sqrt(len / kLongSentence);
    sum += kRankBonus * static_cast<double>(chunks - s.rank) / static_cast<double>(chunks);
    s.score = sum;
  }
}

// The best `max` matching sentences, returned in context order.
std::vector<const Sentence*> Pick(const std::vector<Sentence>& sentences, size_t max) {
  std::vector<const Sentence*> picked;
  for (const Sentence& s : sentences) {
    if (s.matches) picked.push_back(&s);
  }
  std::stable_sort(picked.begin(), picked.end(), [](const Sentence* a, const Sentence* b) {
    if (a->score != b->score) return a->score > b->score;
    return a->rank != b->rank ? a->rank < b->rank : a->position < b->position;
  });
  if (picked.size() > max) picked.resize(max);
  std::sort(picked.begin(), picked.end(),
            [](const Sentence* a, const Sentence* b) { return a->position < b->position; });
  return picked;
}

// Appends pieces to a Generation and streams them, until the caller asks to stop.
class Emitter {
 public:
  Emitter(const TokenCallback& on_token, Generation* g) : on_token_(on_token), g_(g) {}
  // False once the callback has returned false (that piece is kept: it was produced).
  bool Emit(const std::string& piece) {
    if (stopped_) return false;
    g_->text += piece;
    if (on_token_ && !on_token_(piece)) stopped_ = true;
    return !stopped_;
  }

 private:
  const TokenCallback& on_token_;
  Generation* g_;
  bool stopped_ = false;
};

// Stateless after construction, so one instance may serve concurrent calls.
class ExtractiveGenerator : public Generator {
 public:
  explicit ExtractiveGenerator(uint32_t max_sentences)
      : max_sentences_(std::max<uint32_t>(max_sentences, 1)) {}

  std::string name() const override { return "extractive"; }

  StatusOr<Generation> Generate(std::string_view question, const Prompt& prompt,
                                const TokenCallback& on_token) override {
    std::vector<Sentence> sentences = SplitContext(prompt.context);
    Score(ContentWords(question), prompt.context.size(), &sentences);
    std::vector<const Sentence*> picked = Pick(sentences, max_sentences_);

    Generation g;
    g.generator = name();
    Emitter out(on_token, &g);
    if (picked.empty()) {
      out.Emit(std::string(kNoAnswer) + " " + std::string(kNoModelNote));
      return g;
    }
    std::set<uint32_t> cited;
    for (const Sentence* s : picked) {
      const uint32_t n = s->rank + 1;
      cited.insert(n);
      if (!out.Emit((g.text.empty() ? "" : " ") + s->text + " [" + std::to_string(n) + "]")) break;
    }
    g.cited.assign(cited.begin(), cited.end());
    out.Emit("\n" + std::string(kNoModelNote));
    return g;
  }

 private:
  const uint32_t max_sentences_;
};

}  // namespace

std::unique_ptr<Generator> MakeExtractiveGenerator(uint32_t max_sentences) {
  return std::make_unique<ExtractiveGenerator>(max_sentences);
}

}  // namespace sextant::rag
