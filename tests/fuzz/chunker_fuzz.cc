// Fuzz target: the chunker (rag::ChunkText), by white-space tokens and by WordPiece tokens, plain
// and markdown.
//
// Input: four option bytes (chunk size, overlap, token kind, markdown), then the document text.
// Checked beyond "no crash, no sanitizer report":
//  - every chunk is a verbatim slice: text == source.substr(begin, end - begin), begin < end <= size;
//  - chunks are numbered 0, 1, ... and move forward (begin and end strictly increase);
//  - together they cover every byte that is not white space (nothing of the document is lost).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "sextant/rag.h"

using sextant::fuzz::Check;

namespace {

// A small vocabulary file, written once per process.
const std::string& VocabularyPath() {
  static const std::string path = [] {
    std::string p = "/tmp/sextant_chunker_fuzz_vocab_" + std::to_string(getpid()) + ".txt";
    std::ofstream out(p);
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "play", "##ing", "##s", "un",
                          "##aff", "##able", "#", "##", "-", "*", "`", ".", ",", "!", "?", "x", "##x", "中", "e", "##e"}) {
      out << t << "\n";
    }
    return p;
  }();
  return path;
}

struct RemoveVocabularyAtExit {
  ~RemoveVocabularyAtExit() { std::remove(VocabularyPath().c_str()); }
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RemoveVocabularyAtExit cleanup;
  sextant::fuzz::Input in(data, size);
  sextant::rag::ChunkerOptions options;
  options.chunk_tokens = 4 + in.Byte() % 64;    // 4..67: below 8 is refused
  options.overlap_tokens = in.Byte() % 40;      // sometimes >= chunk_tokens / 2: refused
  const uint8_t kind = in.Byte();
  options.tokens = (kind & 1) ? sextant::rag::TokenKind::kWordPiece : sextant::rag::TokenKind::kWhitespace;
  if (options.tokens == sextant::rag::TokenKind::kWordPiece && (kind & 2) == 0) {
    options.vocabulary_path = VocabularyPath();
  }
  options.markdown = in.Byte() & 1;
  const std::string_view text = in.Rest();

  auto chunks = sextant::rag::ChunkText(text, options);
  const bool options_ok = options.chunk_tokens >= 8 && options.overlap_tokens < options.chunk_tokens / 2 &&
                          !(options.tokens == sextant::rag::TokenKind::kWordPiece && options.vocabulary_path.empty());
  Check(chunks.ok() == options_ok, "options accepted or refused wrongly", chunks.status().ToString());
  if (!chunks.ok()) return 0;

  std::vector<bool> covered(text.size(), false);
  size_t prev_begin = 0, prev_end = 0;
  for (size_t i = 0; i < chunks->size(); ++i) {
    const sextant::rag::Chunk& c = (*chunks)[i];
    Check(c.index == i, "chunks are not numbered in order");
    Check(c.begin < c.end && c.end <= text.size(), "chunk offsets out of range");
    Check(c.text == text.substr(c.begin, c.end - c.begin), "chunk text is not the source slice");
    if (i > 0) Check(c.begin > prev_begin && c.end > prev_end, "chunks do not move forward");
    for (size_t b = c.begin; b < c.end; ++b) covered[b] = true;
    prev_begin = c.begin;
    prev_end = c.end;
  }
  for (size_t b = 0; b < text.size(); ++b) {
    Check(covered[b] || IsSpace(text[b]), "a byte of the document is in no chunk", "offset " + std::to_string(b));
  }
  return 0;
}
