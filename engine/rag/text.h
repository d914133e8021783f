// Text helpers shared by the RAG building blocks: ASCII lower-casing that leaves UTF-8 intact,
// white-space tokens, words, and sentence and paragraph boundaries. All offsets are bytes into the
// text handed in. Only ASCII bytes are ever classified as white space or punctuation, so no
// boundary found here falls inside a multi-byte UTF-8 sequence.
#ifndef SEXTANT_RAG_TEXT_H_
#define SEXTANT_RAG_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::rag::text {

// A byte range [begin, end) of a text.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
};

// ASCII white space: space, \t, \n, \v, \f, \r.
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// A byte that belongs to a word: an ASCII letter or digit, or any byte of a multi-byte UTF-8
// sequence (so accented and non-Latin words stay whole).
inline bool IsWordByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

// True for the first byte of a UTF-8 character (anything but a 10xxxxxx continuation byte).
inline bool IsUtf8Lead(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }

// Lower-cases ASCII letters; every other byte (UTF-8 sequences included) is copied as is.
std::string AsciiLower(std::string_view s);

// The maximal runs of non-white-space bytes ("words and punctuation runs"), in order.
std::vector<Span> WhitespaceTokens(std::string_view s);

// The number of white-space tokens in `s`.
size_t CountWhitespaceTokens(std::string_view s);

// The maximal runs of word bytes (IsWordByte), in order.
std::vector<Span> Words(std::string_view s);

// True when the white space `gap` (the bytes between two tokens) holds a blank line.
bool IsParagraphGap(std::string_view gap);

// True when `token` (a white-space token) ends a sentence: it ends with '.', '!' or '?' (possibly
// followed by closing quotes or brackets) and is not a common abbreviation ("e.g.", "i.e.", "Mr.",
// "Dr.", "vs.", ...) nor a single capital letter ("J."), which are taken as mid-sentence.
bool EndsSentence(std::string_view token);

// The sentences of `s`, trimmed of surrounding white space: a sentence ends at a token that
// EndsSentence or before a blank line. Empty for a text of white space only.
std::vector<Span> Sentences(std::string_view s);

// The context numbers cited in `text` as [n] (also [n, m] and [n][m]) that name an item of a
// context of `context_size` items, ascending, each once.
std::vector<uint32_t> CitedContext(std::string_view text, size_t context_size);

// `s` with every run of white space replaced by one space and the ends trimmed.
std::string CollapseSpace(std::string_view s);

// What Ask and Chat answer, without calling the generator, when no chunk passes the score
// threshold (RetrieveOptions::score_threshold).
std::string NoPassageAnswer(float threshold);

}  // namespace sextant::rag::text

#endif  // SEXTANT_RAG_TEXT_H_
