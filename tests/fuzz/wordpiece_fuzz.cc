// Fuzz target: the WordPiece tokenizer (basic tokenizer: UTF-8 decoding, normalisation, accent
// stripping, CJK and punctuation splitting; then greedy longest-match pieces).
//
// Input: one option byte, then the text. Bit 7 of the option byte instead makes the text a
// vocabulary (one token per line) for FromTokens, tokenizing a fixed sentence with it.
// Checked beyond "no crash, no sanitizer report":
//  - Encode, Tokenize and CountTokens agree on the number of tokens, every id is in the vocabulary;
//  - CountTokens is additive across a space: count(a + " " + b) == count(a) + count(b), the
//    property the chunker relies on when it sizes chunks by pieces.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "rag/wordpiece.h"

using sextant::fuzz::Check;
using sextant::rag::WordPieceOptions;
using sextant::rag::WordPieceTokenizer;

namespace {

std::vector<std::string> BaseVocabulary() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "play", "##ing", "##ed", "##s",
          "un", "##aff", "##able", "cafe", "re", "##sume", ".", ",", "!", "?", "'", "-", "(", ")",
          "中", "国", "日", "本", "e", "##e", "x", "##x", "1", "##1", "2", "##2", "hello", "world",
          "naive", "uber", "##ber", "ü", "ß", "ss", "##ss", "σ", "ς", "i", "##i", "ı", "ǆ"};
}

const WordPieceTokenizer& Tokenizer(bool lower_case, uint32_t max_chars) {
  static std::unique_ptr<WordPieceTokenizer> cache[2][3];
  const int m = max_chars == 100 ? 0 : max_chars == 4 ? 1 : 2;
  auto& slot = cache[lower_case ? 1 : 0][m];
  if (!slot) {
    WordPieceOptions options;
    options.lower_case = lower_case;
    options.max_chars_per_word = max_chars;
    auto made = WordPieceTokenizer::FromTokens(BaseVocabulary(), options);
    Check(made.ok(), "base vocabulary refused", made.status().ToString());
    slot = std::move(made).value();
  }
  return *slot;
}

void Exercise(const WordPieceTokenizer& tok, std::string_view text) {
  const std::vector<int32_t> ids = tok.Encode(text);
  const std::vector<std::string> pieces = tok.Tokenize(text);
  Check(ids.size() == pieces.size(), "Encode and Tokenize disagree");
  Check(tok.CountTokens(text) == ids.size(), "CountTokens and Encode disagree");
  for (size_t i = 0; i < ids.size(); ++i) {
    Check(ids[i] >= 0 && static_cast<size_t>(ids[i]) < tok.size(), "id out of the vocabulary");
    Check(tok.Token(ids[i]) == pieces[i], "Tokenize does not spell the ids");
  }
  (void)tok.BasicTokenize(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sextant::fuzz::Input in(data, size);
  const uint8_t option = in.Byte();
  const std::string_view text = in.Rest();

  if (option & 0x80) {
    // The text is a vocabulary.
    std::vector<std::string> tokens;
    std::string_view rest = text;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      tokens.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
    auto made = WordPieceTokenizer::FromTokens(std::move(tokens));
    if (made.ok()) {
      Exercise(**made, "Hello, world! Playing unaffable CAFÉ résumé 中国 x1 2.");
      Exercise(**made, text);
    }
    return 0;
  }

  static constexpr uint32_t kMaxChars[] = {100, 4, 1};
  const WordPieceTokenizer& tok = Tokenizer((option & 1) == 0, kMaxChars[(option >> 1) % 3]);
  Exercise(tok, text);
  // Additivity across a space (a split point the basic tokenizer keeps as a separator).
  const size_t space = text.find(' ');
  if (space != std::string_view::npos) {
    const size_t whole = tok.CountTokens(text);
    const size_t parts = tok.CountTokens(text.substr(0, space)) + tok.CountTokens(text.substr(space + 1));
    Check(whole == parts, "CountTokens is not additive across a space",
          std::to_string(whole) + " != " + std::to_string(parts));
  }
  return 0;
}
