// The text analyzer: turns a string into the terms a full-text index stores and a query looks up.
//
//   text -> UTF-8 decoding -> word splitting -> lower-casing -> stop words -> Snowball stemming
//
// Words are maximal runs of Unicode letters and digits (as the C.UTF-8 locale classifies them;
// accents and scripts other than Latin count as letters). Lower-casing maps every code point with
// its Unicode simple lower-case mapping ("ÉCOLE" -> "école", "ΣΟΦΙΑ" -> "σοφια"). Invalid UTF-8
// bytes separate words and are never part of one. Words longer than kMaxTermBytes are dropped
// (they are never useful search terms and would bloat the index).
//
// Stop words are removed before stemming, from the language's list (stop_words.cc; only English
// has one today, so stop_words changes nothing for other languages). Stemming uses the Snowball
// stemmers of libstemmer (Debian's libstemmer-dev), one per language; "none" keeps words as they
// are. The same analyzer must be used for a field's documents and for queries on it.
//
// Thread safety: Analyze may be called from many threads at once (each stemmer is used under a
// lock; the lock is held only while stemming one text).
#ifndef SEXTANT_TEXT_ANALYZER_H_
#define SEXTANT_TEXT_ANALYZER_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/options.h"
#include "sextant/status.h"
#include "sync/mutex.h"

struct sb_stemmer;

namespace sextant::text {

inline constexpr size_t kMaxTermBytes = 64;

class Analyzer {
 public:
  // InvalidArgument for an unknown language, naming the supported ones.
  static StatusOr<std::unique_ptr<Analyzer>> Create(const TextFieldOptions& options);
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // The terms of `text`, in order (repeats kept). Never throws except std::bad_alloc.
  std::vector<std::string> Analyze(std::string_view text) const;

  const TextFieldOptions& options() const { return options_; }

 private:
  explicit Analyzer(TextFieldOptions options) : options_(std::move(options)) {}
  TextFieldOptions options_;
  const std::vector<std::string_view>* stop_words_ = nullptr;  // sorted; null = none
  mutable internal::Mutex stem_mu_;
  // Set once by Create (null = no stemming); the stemmer's state is what stem_mu_ guards.
  sb_stemmer* stemmer_ SEXTANT_PT_GUARDED_BY(stem_mu_) = nullptr;
};

// The languages a text field may name: "none" and every Snowball stemmer libstemmer offers
// ("english", "french", "german", "porter", ...), sorted.
std::vector<std::string> SupportedLanguages();

// Splits and lower-cases only (no stop words, no stemming): the words of `text`.
std::vector<std::string> SplitWords(std::string_view text);

// The stop-word list of a language, sorted; nullptr when it has none.
const std::vector<std::string_view>* StopWords(std::string_view language);

}  // namespace sextant::text

#endif  // SEXTANT_TEXT_ANALYZER_H_
