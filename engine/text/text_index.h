// The full-text index of a collection: BM25 over the declared text fields (docs/text_search.md).
//
// Persistence. The collection stores each point's analyzed text (DocTerms: per field, the number
// of terms and each distinct term with its count) in the `text` column family under the point's
// slot, in the same batch as the point, and rebuilds this in-memory inverted index from those
// records on open (Set). Storing analyzed terms, not the text, makes open independent of the
// analyzer's speed and of later analyzer changes.
//
// In memory, per field: a term dictionary, one posting list per term (slot, term count) sorted by
// slot, every slot's length, and the statistics BM25 needs (documents with the field, total
// length). They are updated exactly on every Set/Clear, so scores after deletes and re-ingests
// equal those of a fresh index holding the same documents.
//
// Scoring (Okapi BM25 with Lucene's idf, the form of Lucene, Elasticsearch and bm25s):
//   score(d, q) = sum over fields f, query terms t:
//       qtf(t) * idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * len_f(d) / avglen_f))
//   idf(t) = ln(1 + (N_f - df_f(t) + 0.5) / (df_f(t) + 0.5))
// with N_f the live points whose field f has at least one term, df_f(t) those holding t, and
// qtf(t) how often t occurs in the analyzed query. k1 = 1.2, b = 0.75 (Lucene's defaults).
//
// Threading: const methods may run concurrently; Set and Clear need exclusive access (the
// collection's write lock). Mutating methods may throw std::bad_alloc only.
#ifndef SEXTANT_TEXT_TEXT_INDEX_H_
#define SEXTANT_TEXT_TEXT_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "payload/filter_internal.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "text/analyzer.h"

namespace sextant::text {

inline constexpr float kBm25K1 = 1.2f;
inline constexpr float kBm25B = 0.75f;
inline constexpr size_t kMaxTextFields = 32;

// A point's analyzed text in one field.
struct FieldTerms {
  uint32_t field = 0;   // position in the declared list
  uint32_t length = 0;  // number of terms (repeats counted)
  std::vector<std::pair<std::string, uint32_t>> terms;  // distinct terms, sorted, with counts
};
// A point's analyzed text: the fields with at least one term, by field number.
using DocTerms = std::vector<FieldTerms>;

// The value stored in the text column family (docs/format.md).
std::string EncodeDocTerms(const DocTerms& doc);
// DataLoss for bytes that are not an encoded DocTerms of `num_fields` fields.
StatusOr<DocTerms> DecodeDocTerms(std::string_view bytes, size_t num_fields);

// A bound $text filter condition on one text field (TextIndex::Bind): decides a payload value by
// analyzing it with the field's analyzer (so it agrees with the index on every payload), and
// carries the index's candidate slots, a superset of the matches, to narrow a filter first.
//   any:    the value holds at least one of the query's terms
//   all:    it holds every one of them
//   phrase: it holds them in sequence within one string (stop words, removed by the analyzer
//           from both sides, are skipped)
// A query whose words are all stop words has no terms and matches nothing.
class TextMatch final : public payload::internal::TextPredicate {
 public:
  TextMatch(std::shared_ptr<const Analyzer> analyzer, std::vector<std::string> terms, payload::internal::TextMode mode,
            std::vector<uint8_t> candidates);
  bool Holds(const nlohmann::json* value) const override;
  // By slot: 1 where the index says the slot may match (mask of the index's size at binding).
  const std::vector<uint8_t>& candidates() const { return candidates_; }

 private:
  bool HoldsIn(const std::vector<std::string>& words) const;
  std::shared_ptr<const Analyzer> analyzer_;
  std::vector<std::string> terms_;   // the analyzed query, in order (phrase) 
  std::vector<std::string> unique_;  // sorted, distinct (any, all)
  payload::internal::TextMode mode_;
  std::vector<uint8_t> candidates_;
};

class TextIndex {
 public:
  // InvalidArgument for an empty or malformed field path, a field declared twice, more than
  // kMaxTextFields fields, or an unknown language (naming the supported ones).
  static StatusOr<std::unique_ptr<TextIndex>> Create(const std::vector<TextFieldOptions>& fields);
  ~TextIndex();

  const std::vector<TextFieldOptions>& fields() const;
  // The field's number, or -1 when it has no text index.
  int FieldNumber(std::string_view field) const;

  // Checks a payload's text fields: each is missing, null, a string, or an array of strings (and
  // nulls). InvalidArgument otherwise: "field body has a text index and must hold text, got a number".
  Status Check(const nlohmann::json& payload) const;
  // The analyzed text of a payload. Precondition: Check(payload) is OK.
  DocTerms Analyze(const nlohmann::json& payload) const;

  // Replaces the slot's text (an empty doc clears it).
  void Set(uint32_t slot, const DocTerms& doc);
  void Clear(uint32_t slot);

  // A prepared query: the analyzed query terms per field.
  struct Query {
    struct Term {
      uint32_t field;
      uint32_t term_id;  // UINT32_MAX: not in the index (scores nothing)
      uint32_t qtf;      // occurrences in the query
    };
    std::vector<Term> terms;
  };
  // Analyzes `text` for `fields` (names; empty = every text field). InvalidArgument for an empty
  // (or all-blank) text, a field without a text index (naming it), or a collection with none.
  // A text whose words are all stop words gives a query with no terms (it matches nothing).
  StatusOr<Query> Prepare(std::string_view text, const std::vector<std::string>& fields) const;

  // The k best slots by BM25 among those with a nonzero `mask` entry (mask == nullptr: all),
  // best first; slots with no query term are never returned. Ties: lower slot first.
  std::vector<std::pair<uint32_t, float>> Search(const Query& query, const uint8_t* mask, size_t mask_size,
                                                 size_t k) const;
  // The BM25 score of one slot (0 when it holds no query term).
  float Score(const Query& query, uint32_t slot) const;

  // The $text filter: marks (in a mask of `size` entries) the slots whose field holds any (or
  // with `all`, every) term of the analyzed `text`. A text with no terms marks nothing.
  // Slots at or past `size` are left out.
  std::vector<uint8_t> Match(uint32_t field, std::string_view text, bool all, size_t size) const;

  // The $text condition `text` (not blank) with `mode` on `field` (a path as declared), with the
  // candidates of a mask of `size` slots. InvalidArgument naming the field when it has no text
  // index.
  StatusOr<std::shared_ptr<const TextMatch>> Bind(const std::string& field, std::string_view text,
                                                  payload::internal::TextMode mode, size_t size) const;

  // Statistics, for tests and Describe.
  uint64_t DocCount(uint32_t field) const;     // slots with at least one term in the field
  uint64_t TotalLength(uint32_t field) const;  // sum of their lengths
  uint64_t DocFreq(uint32_t field, std::string_view term) const;  // of an analyzed term
  size_t MemoryBytes() const;                  // approximate

 private:
  TextIndex();
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sextant::text

#endif  // SEXTANT_TEXT_TEXT_INDEX_H_
