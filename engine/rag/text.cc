#include "rag/text.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <set>

namespace sextant::rag::text {

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

namespace {

// Calls emit(begin, end) for each maximal run of bytes for which in_run(byte) holds.
template <typename Pred, typename Emit>
void ForEachRun(std::string_view s, Pred in_run, Emit emit) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !in_run(s[i])) ++i;
    if (i == s.size()) break;
    size_t begin = i;
    while (i < s.size() && in_run(s[i])) ++i;
    emit(begin, i);
  }
}

bool IsClosing(char c) { return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}'; }

// Abbreviations that end with a period but rarely end a sentence (lower-case, no leading punctuation).
constexpr std::array<std::string_view, 22> kAbbreviations = {
    "e.g.", "i.e.", "mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "vs.",
    "cf.", "fig.", "no.", "approx.", "dept.", "viz.", "al.", "inc.", "ltd.", "co.", "resp."};

}  // namespace

std::vector<Span> WhitespaceTokens(std::string_view s) {
  std::vector<Span> out;
  ForEachRun(s, [](char c) { return !IsSpace(c); }, [&](size_t b, size_t e) { out.push_back({b, e}); });
  return out;
}

size_t CountWhitespaceTokens(std::string_view s) {
  size_t n = 0;
  ForEachRun(s, [](char c) { return !IsSpace(c); }, [&](size_t, size_t) { ++n; });
  return n;
}

std::vector<Span> Words(std::string_view s) {
  std::vector<Span> out;
  ForEachRun(s, IsWordByte, [&](size_t b, size_t e) { out.push_back({b, e}); });
  return out;
}

bool IsParagraphGap(std::string_view gap) {
  // Two newlines with only white space between them make a blank line.
  return std::count(gap.begin(), gap.end(), '\n') >= 2;
}

namespace {

// The length of `s` without its trailing closing quotes and brackets (ASCII, and the UTF-8 right
// quotes ’ ” and »).
size_t StripClosing(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    std::string_view head = s.substr(0, end);
    if (IsClosing(head.back())) {
      --end;
    } else if (head.ends_with("\xE2\x80\x99") || head.ends_with("\xE2\x80\x9D")) {
      end -= 3;
    } else if (head.ends_with("\xC2\xBB")) {
      end -= 2;
    } else {
      break;
    }
  }
  return end;
}

}  // namespace

bool EndsSentence(std::string_view token) {
  size_t end = StripClosing(token);
  if (end == 0) return false;
  char last = token[end - 1];
  if (last == '!' || last == '?') return true;
  if (last != '.') return false;
  // Strip leading brackets and quotes before comparing with the abbreviations.
  size_t begin = 0;
  while (begin < end && (token[begin] == '(' || token[begin] == '"' || token[begin] == '\'' ||
                         token[begin] == '[')) {
    ++begin;
  }
  std::string word = AsciiLower(token.substr(begin, end - begin));
  if (word.size() == 2 && token[begin] >= 'A' && token[begin] <= 'Z') return false;  // "J."
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), word) == kAbbreviations.end();
}

std::vector<Span> Sentences(std::string_view s) {
  std::vector<Span> out;
  std::vector<Span> tokens = WhitespaceTokens(s);
  size_t first = 0;  // the first token of the current sentence
  for (size_t i = 0; i < tokens.size(); ++i) {
    bool last = i + 1 == tokens.size();
    bool ends = last || EndsSentence(s.substr(tokens[i].begin, tokens[i].size())) ||
                IsParagraphGap(s.substr(tokens[i].end, tokens[i + 1].begin - tokens[i].end));
    if (ends) {
      out.push_back({tokens[first].begin, tokens[i].end});
      first = i + 1;
    }
  }
  return out;
}

std::string CollapseSpace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  ForEachRun(s, [](char c) { return !IsSpace(c); }, [&](size_t b, size_t e) {
    if (!out.empty()) out.push_back(' ');
    out.append(s.substr(b, e - b));
  });
  return out;
}

// The context numbers cited in `text` as [n] (also [n, m] and [n][m]) that name an item of the
// context, ascending, each once.
std::vector<uint32_t> CitedContext(std::string_view text, size_t context_size) {
  std::set<uint32_t> cited;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '[') continue;
    std::vector<uint64_t> nums;
    size_t j = i + 1;
    bool ok = false;
    while (j < text.size()) {
      uint64_t n = 0;
      size_t digits = 0;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9' && digits < 9) {
        n = n * 10 + static_cast<uint64_t>(text[j] - '0');
        ++j;
        ++digits;
      }
      if (digits == 0) break;
      nums.push_back(n);
      if (j < text.size() && text[j] == ']') {
        ok = true;
        break;
      }
      if (j < text.size() && text[j] == ',') {
        ++j;
        while (j < text.size() && text[j] == ' ') ++j;
        continue;
      }
      break;
    }
    if (!ok) continue;
    for (uint64_t n : nums) {
      if (n >= 1 && n <= context_size) cited.insert(static_cast<uint32_t>(n));
    }
    i = j;
  }
  return {cited.begin(), cited.end()};
}

std::string NoPassageAnswer(float threshold) {
  char t[32];
  std::snprintf(t, sizeof t, "%g", static_cast<double>(threshold));
  return std::string("I don't know: no passage of the collection is relevant enough to answer this (none scores at "
                     "least the score threshold, ") + t + ").";
}

}  // namespace sextant::rag::text
