// ChunkText: windows of white-space tokens that end at paragraph, sentence, then word boundaries,
// with overlap. Sizes count either the tokens themselves or their WordPiece tokens. See docs/rag.md
// ("Chunking rules") for the rules this file implements.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/text.h"
#include "rag/wordpiece.h"
#include "sextant/rag.h"
#include "sync/mutex.h"

namespace sextant::rag {
namespace {

using text::Span;

constexpr size_t kNone = static_cast<size_t>(-1);

// How good a place between two tokens is to end a chunk; higher is better.
enum Level : int {
  kMidFenceLine = -2,    // inside a line of a code fence: only when nothing else is possible
  kInFittingFence = -1,  // a line end inside a code fence that fits in one chunk
  kWord = 1,
  kSentence = 2,  // after a sentence end, or before a markdown list item
  kParagraph = 3,  // at a blank line, or before a markdown heading or code fence
};

// Positions p (0..n) are the places before token p. Sizes are measured with Weight(p), the number
// of size units in tokens [0, p): p itself for white-space tokens, else the prefix sum of the
// tokens' WordPiece counts (weights_).
class Chunker {
 public:
  // `wordpiece`: null to count white-space tokens.
  Chunker(std::string_view text, const ChunkerOptions& options, const WordPieceTokenizer* wordpiece)
      : text_(text), options_(options), tokens_(text::WhitespaceTokens(text)) {
    if (wordpiece != nullptr) Weigh(*wordpiece);
    size_t n = tokens_.size();
    level_.assign(n + 1, kWord);
    block_start_.assign(n + 1, false);
    heading_.assign(n + 1, false);
    MarkPlainBoundaries();
    if (options_.markdown) MarkMarkdown();
  }

  std::vector<Chunk> Run() const {
    std::vector<Chunk> chunks;
    size_t start = 0;
    size_t prev_end = 0;
    while (start < tokens_.size()) {
      size_t end = ChooseEnd(start, prev_end + 1);
      prev_end = end;
      Chunk c;
      c.index = static_cast<uint32_t>(chunks.size());
      c.begin = tokens_[start].begin;
      c.end = tokens_[end - 1].end;
      c.tokens = static_cast<uint32_t>(Weight(end) - Weight(start));
      c.text = std::string(text_.substr(c.begin, c.end - c.begin));
      chunks.push_back(std::move(c));
      if (end == tokens_.size()) break;
      start = ChooseNextStart(start, end);
    }
    return chunks;
  }

 private:
  // WordPiece sizes. The basic tokenizer drops VT and FF (control characters), so a word around
  // one is a single word to it: such tokens are joined first. Then every token's WordPiece count
  // is the count of its text, and a chunk's count is the sum over its tokens.
  void Weigh(const WordPieceTokenizer& wordpiece) {
    size_t kept = 0;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (kept > 0 && GapBefore(i).find_first_of(" \t\n\r") == std::string_view::npos) {
        tokens_[kept - 1].end = tokens_[i].end;
      } else {
        tokens_[kept++] = tokens_[i];
      }
    }
    tokens_.resize(kept);
    weights_.resize(tokens_.size() + 1);
    weights_[0] = 0;
    std::unordered_map<std::string_view, size_t> counts;  // words repeat: count each once
    for (size_t i = 0; i < tokens_.size(); ++i) {
      auto [it, added] = counts.try_emplace(Token(i), 0);
      if (added) it->second = wordpiece.CountTokens(it->first);
      weights_[i + 1] = weights_[i] + it->second;
    }
  }

  size_t Weight(size_t p) const { return weights_.empty() ? p : weights_[p]; }
  // The first position p >= from with Weight(p) >= w; tokens_.size() + 1 when there is none (for
  // white-space tokens, possibly more: callers only compare it with valid positions).
  size_t FirstReaching(size_t from, size_t w) const {
    if (weights_.empty()) return std::max(from, w);
    return static_cast<size_t>(std::lower_bound(weights_.begin() + static_cast<ptrdiff_t>(from), weights_.end(), w) -
                               weights_.begin());
  }
  // The last position p with Weight(p) <= w (w >= Weight(0)).
  size_t LastWithin(size_t w) const {
    if (weights_.empty()) return std::min(w, tokens_.size());
    return static_cast<size_t>(std::upper_bound(weights_.begin(), weights_.end(), w) - weights_.begin()) - 1;
  }

  std::string_view Token(size_t i) const { return text_.substr(tokens_[i].begin, tokens_[i].size()); }
  // The white space between token i - 1 and token i (i >= 1).
  std::string_view GapBefore(size_t i) const {
    return text_.substr(tokens_[i - 1].end, tokens_[i].begin - tokens_[i - 1].end);
  }
  // True when token i is the first on its line.
  bool StartsLine(size_t i) const {
    if (i == 0) return true;
    return GapBefore(i).find('\n') != std::string_view::npos;
  }

  void MarkPlainBoundaries() {
    for (size_t i = 1; i < tokens_.size(); ++i) {
      if (text::IsParagraphGap(GapBefore(i))) {
        level_[i] = kParagraph;
      } else if (text::EndsSentence(Token(i - 1))) {
        level_[i] = kSentence;
      }
    }
  }

  static bool IsFenceMarker(std::string_view token) {
    return token.starts_with("```") || token.starts_with("~~~");
  }
  static bool IsHeadingMarker(std::string_view token) {
    return !token.empty() && token.size() <= 6 && token.find_first_not_of('#') == std::string_view::npos;
  }
  static bool IsListMarker(std::string_view token) {
    if (token == "-" || token == "*" || token == "+") return true;
    size_t digits = token.find_first_not_of("0123456789");
    return digits != std::string_view::npos && digits > 0 && digits + 1 == token.size() &&
           (token.back() == '.' || token.back() == ')');
  }

  // Code fences first (their content is code, not markdown), then headings and list items.
  void MarkMarkdown() {
    std::vector<bool> in_fence(tokens_.size(), false);
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (!StartsLine(i) || !IsFenceMarker(Token(i))) continue;
      size_t end = FenceEnd(i);
      MarkFence(i, end);
      std::fill(in_fence.begin() + static_cast<ptrdiff_t>(i), in_fence.begin() + static_cast<ptrdiff_t>(end), true);
      i = end - 1;
    }
    for (size_t i = 1; i < tokens_.size(); ++i) {
      if (in_fence[i] || !StartsLine(i)) continue;
      if (IsHeadingMarker(Token(i))) {
        level_[i] = kParagraph;
        heading_[i] = block_start_[i] = true;
      } else if (IsListMarker(Token(i))) {
        level_[i] = std::max<int>(level_[i], kSentence);
      }
    }
  }

  // The token after the fence opened at token `open`: past the last token of the closing fence's
  // line, or the end of the text when the fence is never closed.
  size_t FenceEnd(size_t open) const {
    std::string_view marker = Token(open).substr(0, 3);
    for (size_t i = open + 1; i < tokens_.size(); ++i) {
      if (!StartsLine(i) || !Token(i).starts_with(marker)) continue;
      size_t j = i + 1;
      while (j < tokens_.size() && !StartsLine(j)) ++j;
      return j;
    }
    return tokens_.size();
  }

  // A fence that fits in one chunk is cut inside only as a last resort; a longer one is cut at line
  // ends; none is cut inside a line unless a single line is longer than a chunk.
  void MarkFence(size_t open, size_t end) {
    bool fits = Weight(end) - Weight(open) <= options_.chunk_tokens;
    level_[open] = kParagraph;
    block_start_[open] = true;
    level_[end] = kParagraph;
    for (size_t i = open + 1; i < end; ++i) {
      level_[i] = !StartsLine(i) ? kMidFenceLine : fits ? kInFittingFence : kWord;
    }
  }

  // The latest cut in [lo, hi] (lo >= 1) of at least `min_level`, or kNone.
  size_t Latest(size_t lo, size_t hi, int min_level) const {
    for (size_t p = hi; p >= lo; --p) {
      if (level_[p] >= min_level) return p;
    }
    return kNone;
  }

  // The token after the last one of the chunk that starts at token `start`; at least `min_end`
  // (past the previous chunk's end, so every chunk adds text). Tokens [start, min_end) fit in
  // chunk_tokens (ChooseNextStart sees to it), unless min_end == start + 1.
  size_t ChooseEnd(size_t start, size_t min_end) const {
    const size_t n = options_.chunk_tokens;
    const size_t w = Weight(start);
    // The window: as many tokens as fit, and at least one (a word is never split).
    const size_t hi = std::max(LastWithin(w + n), start + 1);
    const size_t quarter = std::max(FirstReaching(start, w + n / 4), min_end);
    const size_t half = std::max(FirstReaching(start, w + n / 2 + 1), min_end);
    // A heading starts a new chunk once the current one is more than a quarter full.
    for (size_t p = std::max(FirstReaching(start, w + n / 4 + 1), min_end); p < hi; ++p) {
      if (heading_[p]) return p;
    }
    if (hi == tokens_.size()) return hi;
    // Paragraph, then sentence, then word boundaries in the second half of the window.
    for (int level : {kParagraph, kSentence, kWord}) {
      if (size_t p = Latest(half, hi, level); p != kNone) return p;
    }
    // Only a code fence is left in the second half: end before it, else cut at one of its line ends.
    for (int level : {kWord, kInFittingFence}) {
      if (size_t p = Latest(quarter, hi, level); p != kNone) return p;
    }
    return hi;
  }

  // Where the chunk after [start, end) begins (end < tokens_.size()): about overlap_tokens before
  // `end`, at a sentence start if one is near, else at a word; at `end` itself before a heading or a
  // code fence, or when no start near enough leaves room for the token at `end`.
  size_t ChooseNextStart(size_t start, size_t end) const {
    const size_t overlap = options_.overlap_tokens;
    if (overlap == 0 || block_start_[end]) return end;
    // Weights from here on: the target start and the positions within overlap / 2 of it.
    const size_t target = Weight(end) - Weight(start) > overlap ? Weight(end) - overlap : Weight(start + 1);
    const size_t lo = FirstReaching(start + 1, target > overlap / 2 ? target - overlap / 2 : 0);
    // A start must leave room for token `end` in the next window (only long words make it bind).
    const size_t limit = Weight(end + 1) > options_.chunk_tokens ? Weight(end + 1) - options_.chunk_tokens : 0;
    for (int level : {kSentence, kWord}) {
      size_t best = kNone;
      for (size_t p = lo; p < end && Weight(p) <= target + overlap / 2; ++p) {
        if (level_[p] < level || Weight(p) < limit) continue;
        size_t dist = Weight(p) > target ? Weight(p) - target : target - Weight(p);
        size_t best_dist =
            best == kNone ? kNone : (Weight(best) > target ? Weight(best) - target : target - Weight(best));
        if (dist < best_dist) best = p;
      }
      if (best != kNone) return best;
    }
    return end;
  }

  std::string_view text_;
  const ChunkerOptions& options_;
  std::vector<Span> tokens_;
  std::vector<size_t> weights_;    // WordPiece sizes: weights_[p] = Weight(p); empty for white space
  std::vector<int> level_;         // level_[p]: ending a chunk before token p (p in 1..n-1)
  std::vector<bool> block_start_;  // token p opens a heading or a code fence
  std::vector<bool> heading_;      // token p opens a markdown heading
};

Status ValidateOptions(const ChunkerOptions& options) {
  if (options.chunk_tokens < 8) {
    return Status::InvalidArgument("chunk_tokens: must be at least 8, got " +
                                   std::to_string(options.chunk_tokens));
  }
  if (options.overlap_tokens >= options.chunk_tokens / 2) {
    return Status::InvalidArgument("overlap_tokens: must be less than chunk_tokens / 2 (" +
                                   std::to_string(options.chunk_tokens / 2) + "), got " +
                                   std::to_string(options.overlap_tokens));
  }
  if (options.tokens == TokenKind::kWordPiece) {
    if (options.vocabulary_path.empty()) {
      return Status::InvalidArgument("vocabulary_path: required with TokenKind::kWordPiece (a BERT vocab.txt)");
    }
  } else if (options.tokens != TokenKind::kWhitespace) {
    return Status::InvalidArgument("tokens: unknown kind");
  }
  return Status::OK();
}

// A loaded vocabulary and the files it came from, to notice when they change.
struct CachedVocabulary {
  std::shared_ptr<const WordPieceTokenizer> tokenizer;
  uintmax_t size = 0;
  std::filesystem::file_time_type modified;
  std::filesystem::file_time_type config_modified;  // tokenizer_config.json; min() when absent
};

internal::Mutex g_vocabulary_mu;
// By path; never destroyed (tokenizers may be in use at exit).
std::map<std::string, CachedVocabulary>* const g_vocabulary_cache SEXTANT_PT_GUARDED_BY(g_vocabulary_mu) =
    new std::map<std::string, CachedVocabulary>();

// The tokenizer of vocab.txt at `path`, loaded once per path (and again when the file changes).
// Lower-casing follows do_lower_case in tokenizer_config.json beside it, when there is one, as the
// local encoder does. Thread-safe.
StatusOr<std::shared_ptr<const WordPieceTokenizer>> LoadVocabulary(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) return Status::NotFound("vocabulary_path: " + path + " does not exist");
  if (!fs::is_regular_file(st)) return Status::InvalidArgument("vocabulary_path: " + path + " is not a file");
  const uintmax_t size = fs::file_size(path, ec);
  const fs::file_time_type modified = ec ? fs::file_time_type() : fs::last_write_time(path, ec);
  if (ec) return Status::InvalidArgument("vocabulary_path: " + path + ": " + ec.message());

  const fs::path config = fs::path(path).parent_path() / "tokenizer_config.json";
  fs::file_time_type config_modified = fs::last_write_time(config, ec);
  if (ec) config_modified = fs::file_time_type::min();

  internal::MutexLock lock(g_vocabulary_mu);
  if (auto it = g_vocabulary_cache->find(path); it != g_vocabulary_cache->end() && it->second.size == size &&
                                                it->second.modified == modified &&
                                                it->second.config_modified == config_modified) {
    return it->second.tokenizer;
  }
  WordPieceOptions wp;
  if (std::ifstream in(config); in) {
    try {
      wp.lower_case = nlohmann::json::parse(in).value("do_lower_case", true);
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument("vocabulary_path: " + config.string() + ": " + e.what());
    }
  }
  auto loaded = WordPieceTokenizer::Load(path, wp);
  if (!loaded.ok()) return loaded.status().WithPrefix("vocabulary_path");
  std::shared_ptr<const WordPieceTokenizer> tokenizer = std::move(*loaded);
  // A bound, not an LRU.
  if (g_vocabulary_cache->size() >= 8 && g_vocabulary_cache->find(path) == g_vocabulary_cache->end()) {
    g_vocabulary_cache->clear();
  }
  (*g_vocabulary_cache)[path] = CachedVocabulary{tokenizer, size, modified, config_modified};
  return tokenizer;
}

}  // namespace

StatusOr<std::vector<Chunk>> ChunkText(std::string_view text, const ChunkerOptions& options) {
  SEXTANT_RETURN_IF_ERROR(ValidateOptions(options));
  if (options.tokens == TokenKind::kWordPiece) {
    SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<const WordPieceTokenizer> wordpiece,
                             LoadVocabulary(options.vocabulary_path));
    return Chunker(text, options, wordpiece.get()).Run();
  }
  return Chunker(text, options, nullptr).Run();
}

}  // namespace sextant::rag
