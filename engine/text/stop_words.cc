// Stop-word lists of the analyzer (analyzer.h). English: the list of Lucene's EnglishAnalyzer
// extended with the common pronouns, auxiliaries and determiners of the Snowball English list.
#include <algorithm>
#include <string_view>
#include <vector>

#include "text/analyzer.h"

namespace sextant::text {

const std::vector<std::string_view>* StopWords(std::string_view language) {
  static const std::vector<std::string_view> english = [] {
    std::vector<std::string_view> w = {
        "a",     "about",  "above", "after", "again",   "against", "all",   "am",    "an",     "and",
        "any",   "are",    "as",    "at",    "be",      "because", "been",  "before", "being", "below",
        "between", "both", "but",   "by",    "can",     "did",     "do",    "does",  "doing",  "down",
        "during", "each",  "few",   "for",   "from",    "further", "had",   "has",   "have",   "having",
        "he",    "her",    "here",  "hers",  "herself", "him",     "himself", "his", "how",    "i",
        "if",    "in",     "into",  "is",    "it",      "its",     "itself", "just", "me",     "more",
        "most",  "my",     "myself", "no",   "nor",     "not",     "now",   "of",    "off",    "on",
        "once",  "only",   "or",    "other", "our",     "ours",    "ourselves", "out", "over", "own",
        "same",  "she",    "should", "so",   "some",    "such",    "than",  "that",  "the",    "their",
        "theirs", "them",  "themselves", "then", "there", "these", "they",  "this",  "those",  "through",
        "to",    "too",    "under", "until", "up",      "very",    "was",   "we",    "were",   "what",
        "when",  "where",  "which", "while", "who",     "whom",    "why",   "will",  "with",   "would",
        "you",   "your",   "yours", "yourself", "yourselves"};
    std::sort(w.begin(), w.end());
    return w;
  }();
  if (language == "english" || language == "porter") return &english;
  return nullptr;
}

}  // namespace sextant::text
