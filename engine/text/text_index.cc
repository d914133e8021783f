#include "text/text_index.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "payload/filter_internal.h"
#include "payload/json_util.h"
#include "util/coding.h"

namespace sextant::text {

using payload::internal::JsonTypeName;
using payload::internal::LookupPath;
using payload::internal::SplitPath;

namespace {

struct Posting {
  uint32_t slot;
  uint32_t tf;
};

struct SlotTerm {
  uint32_t field;
  uint32_t term;
  uint32_t tf;
};

}  // namespace

std::string EncodeDocTerms(const DocTerms& doc) {
  std::string out;
  internal::PutVarint32(&out, static_cast<uint32_t>(doc.size()));
  for (const FieldTerms& f : doc) {
    internal::PutVarint32(&out, f.field);
    internal::PutVarint32(&out, f.length);
    internal::PutVarint32(&out, static_cast<uint32_t>(f.terms.size()));
    for (const auto& [term, tf] : f.terms) {
      internal::PutLengthPrefixed(&out, term);
      internal::PutVarint32(&out, tf);
    }
  }
  return out;
}

StatusOr<DocTerms> DecodeDocTerms(std::string_view in, size_t num_fields) {
  auto corrupt = [] { return Status::DataLoss("corrupt text index record"); };
  uint32_t nfields;
  if (!internal::GetVarint32(&in, &nfields) || nfields > num_fields) return corrupt();
  DocTerms doc(nfields);
  for (FieldTerms& f : doc) {
    uint32_t nterms;
    if (!internal::GetVarint32(&in, &f.field) || f.field >= num_fields || !internal::GetVarint32(&in, &f.length) ||
        !internal::GetVarint32(&in, &nterms) || nterms > in.size()) {
      return corrupt();
    }
    f.terms.resize(nterms);
    for (auto& [term, tf] : f.terms) {
      std::string_view t;
      if (!internal::GetLengthPrefixed(&in, &t) || !internal::GetVarint32(&in, &tf)) return corrupt();
      term.assign(t);
    }
  }
  if (!in.empty()) return corrupt();
  return doc;
}

struct TextIndex::Rep {
  std::vector<TextFieldOptions> options;
  std::vector<std::shared_ptr<const Analyzer>> analyzers;
  std::vector<std::vector<std::string>> paths;

  struct Field {
    std::unordered_map<std::string, uint32_t> term_ids;
    std::vector<std::vector<Posting>> postings;  // by term id, sorted by slot
    std::vector<uint32_t> length;                // by slot (0: no text)
    uint64_t doc_count = 0;
    uint64_t total_length = 0;
  };
  std::vector<Field> fields;
  std::vector<std::vector<SlotTerm>> forward;  // by slot
  size_t posting_count = 0;

  uint32_t TermId(Field& f, const std::string& term) {
    auto [it, inserted] = f.term_ids.emplace(term, static_cast<uint32_t>(f.postings.size()));
    if (inserted) f.postings.emplace_back();
    return it->second;
  }

  float Idf(const Field& f, uint32_t term) const {
    const double n = static_cast<double>(f.doc_count);
    const double df = static_cast<double>(f.postings[term].size());
    return static_cast<float>(std::log(1.0 + (n - df + 0.5) / (df + 0.5)));
  }
};

TextIndex::TextIndex() : rep_(std::make_unique<Rep>()) {}
TextIndex::~TextIndex() = default;

StatusOr<std::unique_ptr<TextIndex>> TextIndex::Create(const std::vector<TextFieldOptions>& fields) {
  if (fields.size() > kMaxTextFields) {
    return Status::InvalidArgument("text_fields: at most " + std::to_string(kMaxTextFields) + " fields, got " +
                                   std::to_string(fields.size()));
  }
  std::unique_ptr<TextIndex> index(new TextIndex());
  Rep& r = *index->rep_;
  for (const TextFieldOptions& f : fields) {
    std::vector<std::string> path;
    if (f.field.empty() || !SplitPath(f.field, &path) || path.front().front() == '$') {
      return Status::InvalidArgument("text_fields: '" + f.field + "' is not a field path");
    }
    for (const TextFieldOptions& o : r.options) {
      if (o.field == f.field) return Status::InvalidArgument("text_fields: field " + f.field + " is declared twice");
    }
    SEXTANT_ASSIGN_OR_RETURN(auto analyzer, Analyzer::Create(f));
    r.options.push_back(analyzer->options());
    r.analyzers.push_back(std::move(analyzer));
    r.paths.push_back(std::move(path));
  }
  r.fields.resize(fields.size());
  return index;
}

const std::vector<TextFieldOptions>& TextIndex::fields() const { return rep_->options; }

int TextIndex::FieldNumber(std::string_view field) const {
  for (size_t i = 0; i < rep_->options.size(); ++i) {
    if (rep_->options[i].field == field) return static_cast<int>(i);
  }
  return -1;
}

Status TextIndex::Check(const nlohmann::json& payload) const {
  for (size_t i = 0; i < rep_->paths.size(); ++i) {
    const nlohmann::json* v = LookupPath(payload, rep_->paths[i]);
    if (v == nullptr || v->is_null() || v->is_string()) continue;
    const std::string what = "field " + rep_->options[i].field + " has a text index and must hold text";
    if (!v->is_array()) return Status::InvalidArgument(what + ", got " + std::string(JsonTypeName(*v)));
    for (size_t e = 0; e < v->size(); ++e) {
      const nlohmann::json& el = (*v)[e];
      if (!el.is_string() && !el.is_null()) {
        return Status::InvalidArgument(what + ", got " + std::string(JsonTypeName(el)) + " at element " +
                                       std::to_string(e) + " of its array");
      }
    }
  }
  return Status::OK();
}

DocTerms TextIndex::Analyze(const nlohmann::json& payload) const {
  DocTerms doc;
  for (size_t i = 0; i < rep_->paths.size(); ++i) {
    const nlohmann::json* v = LookupPath(payload, rep_->paths[i]);
    if (v == nullptr) continue;
    std::vector<std::string> words;
    auto add = [&](const nlohmann::json& s) {
      if (!s.is_string()) return;
      std::vector<std::string> w = rep_->analyzers[i]->Analyze(s.get_ref<const std::string&>());
      words.insert(words.end(), std::make_move_iterator(w.begin()), std::make_move_iterator(w.end()));
    };
    if (v->is_array()) {
      for (const auto& el : *v) add(el);
    } else {
      add(*v);
    }
    if (words.empty()) continue;
    std::sort(words.begin(), words.end());
    FieldTerms f;
    f.field = static_cast<uint32_t>(i);
    f.length = static_cast<uint32_t>(words.size());
    for (size_t a = 0; a < words.size();) {
      size_t b = a;
      while (b < words.size() && words[b] == words[a]) ++b;
      f.terms.emplace_back(std::move(words[a]), static_cast<uint32_t>(b - a));
      a = b;
    }
    doc.push_back(std::move(f));
  }
  return doc;
}

void TextIndex::Clear(uint32_t slot) {
  Rep& r = *rep_;
  if (slot >= r.forward.size()) return;
  for (const SlotTerm& st : r.forward[slot]) {
    auto& list = r.fields[st.field].postings[st.term];
    auto it = std::lower_bound(list.begin(), list.end(), slot,
                               [](const Posting& p, uint32_t s) { return p.slot < s; });
    if (it != list.end() && it->slot == slot) {
      list.erase(it);
      --r.posting_count;
    }
  }
  r.forward[slot].clear();
  r.forward[slot].shrink_to_fit();
  for (Rep::Field& f : r.fields) {
    if (slot < f.length.size() && f.length[slot] != 0) {
      --f.doc_count;
      f.total_length -= f.length[slot];
      f.length[slot] = 0;
    }
  }
}

void TextIndex::Set(uint32_t slot, const DocTerms& doc) {
  Rep& r = *rep_;
  Clear(slot);
  if (doc.empty()) return;
  if (slot >= r.forward.size()) r.forward.resize(std::max<size_t>(slot + 1, r.forward.size() * 3 / 2));
  std::vector<SlotTerm>& fwd = r.forward[slot];
  for (const FieldTerms& ft : doc) {
    if (ft.field >= r.fields.size() || ft.length == 0) continue;
    Rep::Field& f = r.fields[ft.field];
    if (slot >= f.length.size()) f.length.resize(std::max<size_t>(slot + 1, f.length.size() * 3 / 2));
    f.length[slot] = ft.length;
    ++f.doc_count;
    f.total_length += ft.length;
    for (const auto& [term, tf] : ft.terms) {
      const uint32_t id = r.TermId(f, term);
      auto& list = f.postings[id];
      auto it = std::lower_bound(list.begin(), list.end(), slot,
                                 [](const Posting& p, uint32_t s) { return p.slot < s; });
      list.insert(it, Posting{slot, tf});
      ++r.posting_count;
      fwd.push_back({ft.field, id, tf});
    }
  }
}

StatusOr<TextIndex::Query> TextIndex::Prepare(std::string_view text, const std::vector<std::string>& fields) const {
  const Rep& r = *rep_;
  if (r.options.empty()) return Status::InvalidArgument("text search: the collection has no text fields");
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("text search: the query text is empty");
  }
  std::vector<uint32_t> numbers;
  for (const std::string& name : fields) {
    const int n = FieldNumber(name);
    if (n < 0) return Status::InvalidArgument("text search: field " + name + " has no text index");
    numbers.push_back(static_cast<uint32_t>(n));
  }
  if (numbers.empty()) {
    for (uint32_t i = 0; i < r.options.size(); ++i) numbers.push_back(i);
  }
  Query q;
  for (uint32_t field : numbers) {
    std::vector<std::string> words = r.analyzers[field]->Analyze(text);
    std::sort(words.begin(), words.end());
    const Rep::Field& f = r.fields[field];
    for (size_t a = 0; a < words.size();) {
      size_t b = a;
      while (b < words.size() && words[b] == words[a]) ++b;
      auto it = f.term_ids.find(words[a]);
      q.terms.push_back({field, it == f.term_ids.end() ? UINT32_MAX : it->second, static_cast<uint32_t>(b - a)});
      a = b;
    }
  }
  return q;
}

std::vector<std::pair<uint32_t, float>> TextIndex::Search(const Query& query, const uint8_t* mask, size_t mask_size,
                                                          size_t k) const {
  const Rep& r = *rep_;
  std::vector<float> acc;
  std::vector<uint32_t> touched;
  for (const Query::Term& t : query.terms) {
    if (t.term_id == UINT32_MAX) continue;
    const Rep::Field& f = r.fields[t.field];
    const auto& list = f.postings[t.term_id];
    if (list.empty()) continue;
    const float w = static_cast<float>(t.qtf) * r.Idf(f, t.term_id);
    const float avg = static_cast<float>(static_cast<double>(f.total_length) / static_cast<double>(f.doc_count));
    const float k1b = kBm25K1 * kBm25B / avg, k1a = kBm25K1 * (1 - kBm25B);
    if (acc.size() < r.forward.size()) acc.resize(r.forward.size(), 0.0f);
    for (const Posting& p : list) {
      if (mask != nullptr && (p.slot >= mask_size || !mask[p.slot])) continue;
      const float tf = static_cast<float>(p.tf);
      const float s = w * tf * (kBm25K1 + 1) / (tf + k1a + k1b * static_cast<float>(f.length[p.slot]));
      if (acc[p.slot] == 0.0f) touched.push_back(p.slot);
      acc[p.slot] += s;
    }
  }
  // Top k by score, then lower slot.
  auto better = [](const std::pair<uint32_t, float>& a, const std::pair<uint32_t, float>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  std::priority_queue<std::pair<uint32_t, float>, std::vector<std::pair<uint32_t, float>>, decltype(better)> heap(
      better);
  for (uint32_t s : touched) {
    if (acc[s] <= 0.0f) continue;  // every term had idf 0 (cannot happen with Lucene's idf)
    std::pair<uint32_t, float> e{s, acc[s]};
    if (heap.size() < k) {
      heap.push(e);
    } else if (better(e, heap.top())) {
      heap.pop();
      heap.push(e);
    }
  }
  std::vector<std::pair<uint32_t, float>> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = heap.top();
    heap.pop();
  }
  return out;
}

float TextIndex::Score(const Query& query, uint32_t slot) const {
  const Rep& r = *rep_;
  if (slot >= r.forward.size()) return 0;
  float score = 0;
  for (const Query::Term& t : query.terms) {
    if (t.term_id == UINT32_MAX) continue;
    for (const SlotTerm& st : r.forward[slot]) {
      if (st.field != t.field || st.term != t.term_id) continue;
      const Rep::Field& f = r.fields[t.field];
      const float avg = static_cast<float>(static_cast<double>(f.total_length) / static_cast<double>(f.doc_count));
      const float tf = static_cast<float>(st.tf);
      score += static_cast<float>(t.qtf) * r.Idf(f, t.term_id) * tf * (kBm25K1 + 1) /
               (tf + kBm25K1 * (1 - kBm25B) + kBm25K1 * kBm25B / avg * static_cast<float>(f.length[slot]));
    }
  }
  return score;
}

std::vector<uint8_t> TextIndex::Match(uint32_t field, std::string_view text, bool all, size_t size) const {
  const Rep& r = *rep_;
  std::vector<uint8_t> mask(size, 0);
  std::vector<std::string> words = r.analyzers[field]->Analyze(text);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  if (words.empty()) return mask;
  const Rep::Field& f = r.fields[field];
  std::vector<uint32_t> counts;
  if (all) counts.assign(size, 0);
  for (const std::string& w : words) {
    auto it = f.term_ids.find(w);
    if (it == f.term_ids.end()) {
      if (all) return mask;  // a term no point holds: nothing matches all
      continue;
    }
    for (const Posting& p : f.postings[it->second]) {
      if (p.slot >= size) continue;
      if (all) {
        ++counts[p.slot];
      } else {
        mask[p.slot] = 1;
      }
    }
  }
  if (all) {
    for (size_t s = 0; s < size; ++s) mask[s] = counts[s] == words.size() ? 1 : 0;
  }
  return mask;
}

TextMatch::TextMatch(std::shared_ptr<const Analyzer> analyzer, std::vector<std::string> terms,
                     payload::internal::TextMode mode, std::vector<uint8_t> candidates)
    : analyzer_(std::move(analyzer)), terms_(std::move(terms)), mode_(mode), candidates_(std::move(candidates)) {
  unique_ = terms_;
  std::sort(unique_.begin(), unique_.end());
  unique_.erase(std::unique(unique_.begin(), unique_.end()), unique_.end());
}

bool TextMatch::HoldsIn(const std::vector<std::string>& words) const {
  using payload::internal::TextMode;
  if (mode_ == TextMode::kPhrase) {
    return std::search(words.begin(), words.end(), terms_.begin(), terms_.end()) != words.end();
  }
  size_t found = 0;
  for (const std::string& t : unique_) {
    if (std::find(words.begin(), words.end(), t) != words.end()) {
      if (mode_ == TextMode::kAny) return true;
      ++found;
    }
  }
  return mode_ == TextMode::kAll && found == unique_.size();
}

bool TextMatch::Holds(const nlohmann::json* value) const {
  using payload::internal::TextMode;
  if (value == nullptr || terms_.empty()) return false;
  std::vector<std::string> all;  // any, all: the terms of every string of the value
  auto visit = [&](const nlohmann::json& v) {
    if (!v.is_string()) return false;
    std::vector<std::string> words = analyzer_->Analyze(v.get_ref<const std::string&>());
    if (mode_ == TextMode::kPhrase) return HoldsIn(words);
    all.insert(all.end(), std::make_move_iterator(words.begin()), std::make_move_iterator(words.end()));
    return false;
  };
  if (value->is_array()) {
    for (const auto& el : *value) {
      if (visit(el)) return true;
    }
  } else if (visit(*value)) {
    return true;
  }
  return mode_ != TextMode::kPhrase && HoldsIn(all);
}

StatusOr<std::shared_ptr<const TextMatch>> TextIndex::Bind(const std::string& field, std::string_view text,
                                                           payload::internal::TextMode mode, size_t size) const {
  const int n = FieldNumber(field);
  if (n < 0) {
    std::string known;
    for (const TextFieldOptions& o : rep_->options) known += (known.empty() ? "" : ", ") + o.field;
    return Status::InvalidArgument("filter: $text on field " + field + ", which has no text index" +
                                   (known.empty() ? std::string(" (the collection has no text fields)")
                                                  : " (text fields: " + known + ")"));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("filter: $text on field " + field + ": the query is empty");
  }
  const auto field_number = static_cast<uint32_t>(n);
  std::vector<std::string> terms = rep_->analyzers[field_number]->Analyze(text);
  std::vector<uint8_t> candidates = Match(field_number, text, mode != payload::internal::TextMode::kAny, size);
  return std::make_shared<const TextMatch>(rep_->analyzers[field_number], std::move(terms), mode,
                                           std::move(candidates));
}

uint64_t TextIndex::DocCount(uint32_t field) const { return rep_->fields.at(field).doc_count; }
uint64_t TextIndex::TotalLength(uint32_t field) const { return rep_->fields.at(field).total_length; }
uint64_t TextIndex::DocFreq(uint32_t field, std::string_view term) const {
  const Rep::Field& f = rep_->fields.at(field);
  auto it = f.term_ids.find(std::string(term));
  return it == f.term_ids.end() ? 0 : f.postings[it->second].size();
}

size_t TextIndex::MemoryBytes() const {
  const Rep& r = *rep_;
  size_t bytes = r.posting_count * (sizeof(Posting) + sizeof(SlotTerm)) + r.forward.size() * sizeof(r.forward[0]);
  for (const Rep::Field& f : r.fields) {
    bytes += f.length.size() * sizeof(uint32_t) + f.postings.size() * sizeof(f.postings[0]) +
             f.term_ids.size() * (sizeof(std::string) + 24);
  }
  return bytes;
}

}  // namespace sextant::text
