#include "text/analyzer.h"

#include <libstemmer.h>
#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cstdint>

namespace sextant::text {
namespace {

// The C.UTF-8 locale, for Unicode character classes and case mapping independent of the
// process's locale. glibc >= 2.35 ships it built in.
locale_t Utf8Locale() {
  static const locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (l == static_cast<locale_t>(0)) l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

// Decodes one UTF-8 code point at s[*i], advancing *i; returns -1 (and advances one byte) for an
// invalid or overlong sequence or a surrogate.
int32_t DecodeUtf8(std::string_view s, size_t* i) {
  const auto b0 = static_cast<uint8_t>(s[*i]);
  size_t len;
  int32_t cp;
  if (b0 < 0x80) {
    ++*i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++*i;
    return -1;
  }
  if (*i + len > s.size()) {
    ++*i;
    return -1;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr int32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return -1;
  }
  *i += len;
  return cp;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool IsWordChar(int32_t cp, locale_t loc) {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (loc == static_cast<locale_t>(0)) return true;  // no Unicode tables: treat non-ASCII as letters
  // Combining marks (accents written separately) stay inside a word.
  if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x20D0 && cp <= 0x20FF)) return true;
  return iswalnum_l(static_cast<wint_t>(cp), loc) != 0;
}

uint32_t ToLower(int32_t cp, locale_t loc) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? static_cast<uint32_t>(cp + 32) : static_cast<uint32_t>(cp);
  if (loc == static_cast<locale_t>(0)) return static_cast<uint32_t>(cp);
  return static_cast<uint32_t>(towlower_l(static_cast<wint_t>(cp), loc));
}

}  // namespace

std::vector<std::string> SplitWords(std::string_view text) {
  const locale_t loc = Utf8Locale();
  std::vector<std::string> words;
  std::string word;
  size_t i = 0;
  auto flush = [&] {
    if (!word.empty() && word.size() <= kMaxTermBytes) words.push_back(std::move(word));
    word.clear();
  };
  while (i < text.size()) {
    const int32_t cp = DecodeUtf8(text, &i);
    if (IsWordChar(cp, loc)) {
      AppendUtf8(&word, ToLower(cp, loc));
    } else {
      flush();
    }
  }
  flush();
  return words;
}

std::vector<std::string> SupportedLanguages() {
  std::vector<std::string> out = {"none"};
  for (const char** p = sb_stemmer_list(); *p != nullptr; ++p) out.emplace_back(*p);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

StatusOr<std::unique_ptr<Analyzer>> Analyzer::Create(const TextFieldOptions& options) {
  std::unique_ptr<Analyzer> a(new Analyzer(options));
  std::string lang = options.language;
  std::transform(lang.begin(), lang.end(), lang.begin(), [](unsigned char c) { return std::tolower(c); });
  a->options_.language = lang;
  if (lang != "none") {
    const std::vector<std::string> supported = SupportedLanguages();
    if (!std::binary_search(supported.begin(), supported.end(), lang)) {
      std::string names;
      for (const auto& s : supported) names += (names.empty() ? "" : ", ") + s;
      return Status::InvalidArgument("text field " + options.field + ": unknown language '" + options.language +
                                     "'; supported: " + names);
    }
    if (options.stemming) {
      a->stemmer_ = sb_stemmer_new(lang.c_str(), "UTF_8");
      if (a->stemmer_ == nullptr) {
        return Status::ResourceExhausted("text field " + options.field + ": cannot create the " + lang + " stemmer");
      }
    }
    if (options.stop_words) a->stop_words_ = StopWords(lang);
  }
  return a;
}

Analyzer::~Analyzer() {
  if (stemmer_ != nullptr) sb_stemmer_delete(stemmer_);
}

std::vector<std::string> Analyzer::Analyze(std::string_view text) const {
  std::vector<std::string> words = SplitWords(text);
  if (stop_words_ != nullptr) {
    std::erase_if(words, [&](const std::string& w) {
      return std::binary_search(stop_words_->begin(), stop_words_->end(), std::string_view(w));
    });
  }
  if (stemmer_ != nullptr && !words.empty()) {
    internal::MutexLock lock(stem_mu_);
    for (std::string& w : words) {
      const sb_symbol* s = sb_stemmer_stem(stemmer_, reinterpret_cast<const sb_symbol*>(w.data()),
                                           static_cast<int>(w.size()));
      if (s == nullptr) throw std::bad_alloc();  // libstemmer's only failure
      w.assign(reinterpret_cast<const char*>(s), static_cast<size_t>(sb_stemmer_length(stemmer_)));
    }
    std::erase_if(words, [](const std::string& w) { return w.empty(); });
  }
  return words;
}

}  // namespace sextant::text
