// BERT's WordPiece tokenizer, as Hugging Face's BertTokenizer (fast) for uncased models:
//
//  1. Basic tokenizer: drop NUL, U+FFFD and control/format characters; white space becomes a
//     space; CJK ideographs become words of their own; accents are stripped (canonical
//     decomposition, then nonspacing marks removed); text is lower-cased; the result is split at
//     white space and every punctuation character (Unicode P* plus ASCII symbols) is its own word.
//  2. WordPiece: each word is split greedily into the longest vocabulary entries, left to right,
//     pieces after the first prefixed "##"; a word that cannot be covered (or is longer than
//     max_chars_per_word characters) becomes [UNK].
//
// [CLS] and [SEP] are not added here (the encoder adds them).
//
// Unicode coverage: decomposition, case and category tables were generated from Python's
// unicodedata (Unicode 14.0) over all planes, plus algorithmic Hangul decomposition. Limits: no
// unassigned-code-point removal (HF drops category Cn), special tokens written in the text
// ("[SEP]") are tokenized as ordinary text, and invalid UTF-8 bytes are dropped.
#ifndef SEXTANT_RAG_WORDPIECE_H_
#define SEXTANT_RAG_WORDPIECE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sextant/status.h"

namespace sextant::rag {

struct WordPieceOptions {
  bool lower_case = true;            // uncased models; also strips accents
  uint32_t max_chars_per_word = 100; // longer words become [UNK]
};

class WordPieceTokenizer {
 public:
  // vocab.txt: one token per line, the line number (from 0) being its id. NotFound when the file
  // is missing; InvalidArgument when it lacks [UNK], [CLS], [SEP] or [PAD] or repeats a token.
  static StatusOr<std::unique_ptr<WordPieceTokenizer>> Load(const std::string& vocab_path,
                                                            const WordPieceOptions& options = {});
  static StatusOr<std::unique_ptr<WordPieceTokenizer>> FromTokens(std::vector<std::string> tokens,
                                                                  const WordPieceOptions& options = {});

  // Step 1 alone: the normalised words and punctuation of `text`.
  std::vector<std::string> BasicTokenize(std::string_view text) const;
  // Steps 1 and 2: token ids, without [CLS] and [SEP].
  std::vector<int32_t> Encode(std::string_view text) const;
  // The same as token strings ("play", "##ing").
  std::vector<std::string> Tokenize(std::string_view text) const;
  // Encode(text).size(), without keeping the ids. Text cut at a white-space character the basic
  // tokenizer keeps as a separator (space, tab, newline, CR; not VT or FF, which it drops as control
  // characters) counts the same in pieces: CountTokens("a b") == CountTokens("a") + CountTokens("b").
  size_t CountTokens(std::string_view text) const;

  size_t size() const { return tokens_.size(); }
  int32_t Id(std::string_view token) const;  // -1 when absent
  const std::string& Token(int32_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  int32_t unk_id() const { return unk_; }
  int32_t cls_id() const { return cls_; }
  int32_t sep_id() const { return sep_; }
  int32_t pad_id() const { return pad_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  WordPieceTokenizer() = default;
  // Appends the pieces of one basic-tokenizer word to `out`.
  void SplitWord(std::string_view word, std::string& scratch, std::vector<int32_t>& out) const;

  WordPieceOptions options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
  int32_t unk_ = -1, cls_ = -1, sep_ = -1, pad_ = -1;
};

}  // namespace sextant::rag

#endif  // SEXTANT_RAG_WORDPIECE_H_
