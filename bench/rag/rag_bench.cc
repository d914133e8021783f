// sextant-rag-bench: retrieval quality and speed of text collections (sextant/rag.h) on the real
// collections in ../shared/data, one JSON line per (data set, embedder).
//
//   sextant-rag-bench                                   (both data sets, embedders hash and local)
//   sextant-rag-bench --datasets faq --embedders hash --max-docs 60 --max-queries 20
//
// bench/README.md ("RAG: retrieval quality and speed") documents every figure; --help lists the
// flags.
//
// What is measured, and how:
//  - python-faq (python_faq_qa.json, 176 {id, faq, question, answer}): each answer section is one
//    document (id = its "id", text = its "answer" alone, without the question); each question is
//    asked. A chunk stands for its document: the ranked chunks are reduced to ranked distinct
//    documents (first occurrence). recall@1 / recall@5 = share of questions whose own section is
//    the first / among the first five documents.
//  - Cranfield (cran.all.1400, cran.qry, cranqrel): document text = title (.T), a blank line, then
//    the abstract (.W); each of the 225 queries is asked. nDCG@10 over the first ten distinct
//    documents against the graded judgments. Cleverdon's codes (1 = complete answer ... 4 = minimum
//    interest) become gains 4, 3, 2, 1; the two -1 judgments and unjudged documents gain 0.
//    ndcg_at_10 uses linear gains (DCG = sum gain_i / log2(i + 1), as trec_eval's ndcg_cut);
//    ndcg_at_10_exp uses 2^gain - 1. The ideal DCG sorts all of the query's judged gains. Queries
//    are numbered by their position in cran.qry (1..225), as cranqrel numbers them.
//  - Retrieval for quality is TextCollection::Retrieve with --retrieve-k chunks (default 50), so
//    that ten distinct documents remain after merging chunks of one document.
//  - Ingest: one TextCollection::Ingest call over all documents (batches of 64 documents inside),
//    timed from the call to its return: docs/s and chunks/s, and the engine's own split into
//    chunk, embed and write milliseconds.
//  - Ask latency: TextCollection::Ask with the extractive generator and k = --ask-k (default 5)
//    for every question; p50 and p99 (nearest rank) of the embed, retrieve, generate and total
//    milliseconds Answer::timings reports.
//  - Each (data set, embedder) gets a new collection with the embedder's default chunking and the
//    text collection's default index (HNSW16), in a scratch database removed at exit.
//
// Exit status: 0, 1 on an error, 2 on a bad command line, 77 when the data folder is absent (the
// smoke test's "skipped"). An embedder that cannot be loaded (no local model) is skipped with a
// message on stderr, not an error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../bench_data.h"
#include "sextant/rag.h"
#include "sextant/sextant.h"

#ifndef SEXTANT_DEFAULT_DATA_DIR
#define SEXTANT_DEFAULT_DATA_DIR ""
#endif

namespace {

namespace rag = sextant::rag;
using sextant::Status;
using sextant::StatusOr;
using sextant::bench::Clock;
using sextant::bench::JsonLine;
using sextant::bench::Percentile;
using sextant::bench::Seconds;

constexpr int kExitSkipped = 77;

constexpr char kUsage[] = R"(sextant-rag-bench: retrieval quality and speed of text collections

Usage: sextant-rag-bench [flags]

  --data DIR          the data folder (default $SEXTANT_DATA_DIR, else the project's
                      ../shared/data); needs python-faq/ and ir-cranfield/
  --datasets LIST     faq, cranfield or both (default faq,cranfield)
  --embedders LIST    hash, local or both (default hash,local); local is skipped with a
                      message when its model is not installed (bash scripts/fetch-model.sh)
  --max-docs N        only the first N documents of each data set (default all); with it,
                      only the questions whose answer is among them are asked
  --max-queries N     at most N questions per data set (default all)
  --retrieve-k N      chunks retrieved per question for the quality figures (default 50)
  --ask-k N           chunks per Ask for the latency figures (default 5)
  --index SPEC        the collections' index (default HNSW16, the text collection default)
  --db DIR            database directory (default: a scratch directory, removed at exit)
  --help

Prints one JSON line per (data set, embedder) on stdout; progress on stderr.
Exit status: 0; 1 error; 2 bad flags; 77 data folder absent.
)";

struct Flags {
  std::string data_dir;
  std::vector<std::string> datasets = {"faq", "cranfield"};
  std::vector<std::string> embedders = {"hash", "local"};
  size_t max_docs = 0;     // 0: all
  size_t max_queries = 0;  // 0: all
  uint32_t retrieve_k = 50;
  uint32_t ask_k = 5;
  std::optional<sextant::IndexOptions> index;
  std::string db_dir;
  bool help = false;
};

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

Status ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      f->help = true;
      continue;
    }
    if (!arg.starts_with("--")) return Status::InvalidArgument("unexpected argument '" + std::string(arg) + "'");
    std::string name(arg.substr(2));
    std::string value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::InvalidArgument("--" + name + " needs a value");
    }
    auto number = [&](auto* out, uint64_t min) -> Status {
      uint64_t v = 0;
      if (!sextant::bench::ParseNumber(value, &v) || v < min) {
        return Status::InvalidArgument("--" + name + " must be an integer >= " + std::to_string(min) +
                                       ", got '" + value + "'");
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(v);
      return Status::OK();
    };
    if (name == "data") {
      f->data_dir = value;
    } else if (name == "datasets") {
      f->datasets = SplitList(value);
      for (const std::string& d : f->datasets) {
        if (d != "faq" && d != "cranfield") {
          return Status::InvalidArgument("--datasets: unknown data set '" + d + "' (faq, cranfield)");
        }
      }
    } else if (name == "embedders") {
      f->embedders = SplitList(value);
      for (const std::string& e : f->embedders) {
        if (e != "hash" && e != "local") {
          return Status::InvalidArgument("--embedders: unknown embedder '" + e + "' (hash, local)");
        }
      }
    } else if (name == "max-docs") {
      SEXTANT_RETURN_IF_ERROR(number(&f->max_docs, 1));
    } else if (name == "max-queries") {
      SEXTANT_RETURN_IF_ERROR(number(&f->max_queries, 1));
    } else if (name == "retrieve-k") {
      SEXTANT_RETURN_IF_ERROR(number(&f->retrieve_k, 10));
    } else if (name == "ask-k") {
      SEXTANT_RETURN_IF_ERROR(number(&f->ask_k, 1));
    } else if (name == "index") {
      StatusOr<sextant::IndexOptions> index = sextant::IndexOptions::Parse(value);
      if (!index.ok()) return index.status();
      f->index = *index;
    } else if (name == "db") {
      f->db_dir = value;
    } else {
      return Status::InvalidArgument("unknown flag --" + name);
    }
  }
  if (f->data_dir.empty()) {
    const char* env = std::getenv("SEXTANT_DATA_DIR");
    f->data_dir = env != nullptr && *env != '\0' ? env : SEXTANT_DEFAULT_DATA_DIR;
  }
  return Status::OK();
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---------------------------------------------------------------------------------------------
// Data sets.

struct Question {
  std::string text;
  // python-faq: the one right document. Cranfield: judged documents and their gains.
  std::unordered_map<std::string, int> gains;
};

struct Dataset {
  std::string name;  // "python-faq", "cranfield"
  std::vector<rag::Document> documents;
  std::vector<Question> questions;
  bool graded = false;  // Cranfield: nDCG; python-faq: recall of the one right document
};

StatusOr<Dataset> LoadFaq(const std::string& dir) {
  SEXTANT_ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/python_faq_qa.json"));
  nlohmann::json items = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!items.is_array()) return Status::InvalidArgument(dir + "/python_faq_qa.json: not a JSON array");
  Dataset ds;
  ds.name = "python-faq";
  for (const nlohmann::json& item : items) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string() ||
        !item.contains("question") || !item["question"].is_string() || !item.contains("answer") ||
        !item["answer"].is_string()) {
      return Status::InvalidArgument(dir + "/python_faq_qa.json: an item without string id, question "
                                           "and answer");
    }
    nlohmann::json metadata = {{"faq", item.value("faq", "")}};
    ds.documents.push_back({item["id"].get<std::string>(), item["answer"].get<std::string>(), metadata.dump()});
    Question q;
    q.text = item["question"].get<std::string>();
    q.gains[item["id"].get<std::string>()] = 1;
    ds.questions.push_back(std::move(q));
  }
  return ds;
}

// Splits a Cranfield file into records: ".I n" starts one; ".X" lines start fields.
// Returns per record its number and field -> text.
struct CranRecord {
  std::string number;
  std::map<char, std::string> fields;
};

std::vector<CranRecord> ParseCranfield(const std::string& text) {
  std::vector<CranRecord> out;
  std::istringstream in(text);
  std::string line;
  char field = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() >= 2 && line[0] == '.' && (line.size() == 2 || line[2] == ' ')) {
      if (line[1] == 'I') {
        out.push_back({});
        size_t start = line.find_first_not_of(' ', 2);
        out.back().number = start == std::string::npos ? "" : line.substr(start);
        field = 0;
      } else {
        field = line[1];
      }
      continue;
    }
    if (out.empty() || field == 0) continue;
    std::string& f = out.back().fields[field];
    if (!f.empty()) f += '\n';
    f += line;
  }
  return out;
}

StatusOr<Dataset> LoadCranfield(const std::string& dir) {
  SEXTANT_ASSIGN_OR_RETURN(std::string docs_text, ReadFile(dir + "/cran.all.1400"));
  SEXTANT_ASSIGN_OR_RETURN(std::string query_text, ReadFile(dir + "/cran.qry"));
  SEXTANT_ASSIGN_OR_RETURN(std::string qrels_text, ReadFile(dir + "/cranqrel"));
  Dataset ds;
  ds.name = "cranfield";
  ds.graded = true;
  for (CranRecord& r : ParseCranfield(docs_text)) {
    std::string text = r.fields['T'];
    if (!text.empty()) text += "\n\n";
    text += r.fields['W'];
    nlohmann::json metadata = {{"title", r.fields['T']}};
    ds.documents.push_back({r.number, std::move(text), metadata.dump()});
  }
  for (CranRecord& r : ParseCranfield(query_text)) {
    Question q;
    q.text = r.fields['W'];
    ds.questions.push_back(std::move(q));
  }
  std::istringstream in(qrels_text);
  std::string line;
  size_t judged = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    long query = 0, code = 0;
    std::string doc;
    if (!(fields >> query >> doc >> code)) continue;  // blank lines
    if (query < 1 || static_cast<size_t>(query) > ds.questions.size()) {
      return Status::InvalidArgument(dir + "/cranqrel: query " + std::to_string(query) + " out of range 1.." +
                                     std::to_string(ds.questions.size()));
    }
    const int gain = code >= 1 && code <= 4 ? static_cast<int>(5 - code) : 0;
    ds.questions[static_cast<size_t>(query) - 1].gains[doc] = gain;
    ++judged;
  }
  if (ds.documents.size() != 1400 || ds.questions.size() != 225 || judged == 0) {
    return Status::InvalidArgument(dir + ": expected 1400 documents and 225 queries with judgments, read " +
                                   std::to_string(ds.documents.size()) + " and " +
                                   std::to_string(ds.questions.size()));
  }
  return ds;
}

// The first max_docs documents, and the questions with a judged document among them (up to
// max_queries).
void Subset(Dataset* ds, size_t max_docs, size_t max_queries) {
  if (max_docs > 0 && ds->documents.size() > max_docs) {
    ds->documents.resize(max_docs);
    std::unordered_set<std::string> kept;
    for (const rag::Document& d : ds->documents) kept.insert(d.id);
    std::vector<Question> questions;
    for (Question& q : ds->questions) {
      bool any = false;
      for (const auto& [doc, gain] : q.gains) any = any || (gain > 0 && kept.count(doc) > 0);
      if (any) questions.push_back(std::move(q));
    }
    ds->questions = std::move(questions);
  }
  if (max_queries > 0 && ds->questions.size() > max_queries) ds->questions.resize(max_queries);
}

// ---------------------------------------------------------------------------------------------
// Metrics.

// Distinct documents of ranked chunks, first occurrence first.
std::vector<std::string> RankedDocuments(const std::vector<rag::Citation>& chunks) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const rag::Citation& c : chunks) {
    if (seen.insert(c.document_id).second) out.push_back(c.document_id);
  }
  return out;
}

// nDCG@k of `ranked` against `gains`; exponential = 2^g - 1 gains.
double Ndcg(const std::vector<std::string>& ranked, const std::unordered_map<std::string, int>& gains,
            size_t k, bool exponential) {
  auto value = [&](int g) { return exponential ? std::exp2(g) - 1.0 : static_cast<double>(g); };
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = gains.find(ranked[i]);
    if (it != gains.end()) dcg += value(it->second) / std::log2(static_cast<double>(i) + 2.0);
  }
  std::vector<int> ideal;
  for (const auto& [doc, g] : gains) ideal.push_back(g);
  std::sort(ideal.rbegin(), ideal.rend());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) {
    idcg += value(ideal[i]) / std::log2(static_cast<double>(i) + 2.0);
  }
  return idcg > 0 ? dcg / idcg : 0.0;
}

// ---------------------------------------------------------------------------------------------
// One (data set, embedder) run.

struct StageTimes {
  std::vector<double> embed, retrieve, generate, total;
  void Add(const rag::AskTimings& t) {
    embed.push_back(t.embed_ms);
    retrieve.push_back(t.retrieve_ms);
    generate.push_back(t.generate_ms);
    total.push_back(t.total_ms);
  }
};

void AddPercentiles(JsonLine* line, std::string_view stage, std::vector<double> values) {
  std::sort(values.begin(), values.end());
  line->Num(std::string(stage) + "_p50_ms", Percentile(values, 0.50), 3);
  line->Num(std::string(stage) + "_p99_ms", Percentile(values, 0.99), 3);
}

// Runs one data set with one embedder. Returns false (and prints why) when the embedder is not
// available; an error otherwise.
StatusOr<bool> RunOne(sextant::Database& db, rag::EmbedderProvider& embedders, const Dataset& ds,
                      const std::string& embedder, const Flags& flags) {
  rag::TextCollectionOptions options;
  options.embedder.kind = embedder;
  if (flags.index) options.index = *flags.index;
  const std::string name = "bench-" + ds.name + "-" + embedder;
  std::fprintf(stderr, "%s / %s: creating the collection\n", ds.name.c_str(), embedder.c_str());
  StatusOr<std::unique_ptr<rag::TextCollection>> created = rag::TextCollection::Create(db, name, options, embedders);
  if (!created.ok()) {
    if (created.status().code() == sextant::StatusCode::kNotFound) {
      std::fprintf(stderr, "skipping embedder %s: %s\n", embedder.c_str(), created.status().ToString().c_str());
      return false;
    }
    return created.status();
  }
  std::unique_ptr<rag::TextCollection> text = std::move(*created);

  // Ingest.
  std::fprintf(stderr, "%s / %s: ingesting %zu documents\n", ds.name.c_str(), embedder.c_str(),
               ds.documents.size());
  rag::IngestOptions ingest_options;
  const auto ingest_start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(rag::IngestResult ingested, text->Ingest(ds.documents, ingest_options));
  const double ingest_s = Seconds(Clock::now() - ingest_start);
  SEXTANT_RETURN_IF_ERROR(text->collection().WaitForIndex(/*timeout_ms=*/600000));

  // Quality.
  std::fprintf(stderr, "%s / %s: %zu questions\n", ds.name.c_str(), embedder.c_str(), ds.questions.size());
  rag::RetrieveOptions retrieve;
  retrieve.k = flags.retrieve_k;
  double hit1 = 0, hit5 = 0, ndcg = 0, ndcg_exp = 0;
  for (const Question& q : ds.questions) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<rag::Citation> chunks, text->Retrieve(q.text, retrieve));
    const std::vector<std::string> ranked = RankedDocuments(chunks);
    if (ds.graded) {
      ndcg += Ndcg(ranked, q.gains, 10, /*exponential=*/false);
      ndcg_exp += Ndcg(ranked, q.gains, 10, /*exponential=*/true);
    } else {
      const std::string& right = q.gains.begin()->first;
      for (size_t i = 0; i < std::min<size_t>(5, ranked.size()); ++i) {
        if (ranked[i] == right) {
          hit5 += 1;
          if (i == 0) hit1 += 1;
          break;
        }
      }
    }
  }

  // Ask latency, extractive generator.
  std::unique_ptr<rag::Generator> generator = rag::MakeExtractiveGenerator();
  rag::AskOptions ask;
  ask.retrieve.k = flags.ask_k;
  StageTimes times;
  for (const Question& q : ds.questions) {
    SEXTANT_ASSIGN_OR_RETURN(rag::Answer answer, text->Ask(q.text, ask, *generator));
    times.Add(answer.timings);
  }

  const double nq = static_cast<double>(ds.questions.size());
  JsonLine line;
  line.Str("dataset", ds.name)
      .Str("embedder", text->embedder().spec())
      .Str("index", text->options().index.ToString())
      .Int("chunk_tokens", text->options().chunker.chunk_tokens)
      .Int("documents", ingested.documents)
      .Int("chunks", ingested.chunks)
      .Num("ingest_s", ingest_s, 3)
      .Num("docs_per_s", static_cast<double>(ingested.documents) / ingest_s, 1)
      .Num("chunks_per_s", static_cast<double>(ingested.chunks) / ingest_s, 1)
      .Num("chunk_ms", ingested.chunk_ms, 1)
      .Num("embed_ms", ingested.embed_ms, 1)
      .Num("write_ms", ingested.write_ms, 1)
      .Int("questions", ds.questions.size());
  if (ds.graded) {
    line.Num("ndcg_at_10", nq > 0 ? ndcg / nq : NAN, 4).Num("ndcg_at_10_exp", nq > 0 ? ndcg_exp / nq : NAN, 4);
  } else {
    line.Num("recall_at_1", nq > 0 ? hit1 / nq : NAN, 4).Num("recall_at_5", nq > 0 ? hit5 / nq : NAN, 4);
  }
  line.Int("ask_k", flags.ask_k);
  AddPercentiles(&line, "embed", times.embed);
  AddPercentiles(&line, "retrieve", times.retrieve);
  AddPercentiles(&line, "generate", times.generate);
  AddPercentiles(&line, "total", times.total);
  std::printf("%s\n", line.Done().c_str());
  std::fflush(stdout);

  text.reset();
  SEXTANT_RETURN_IF_ERROR(db.DropCollection(name));
  return true;
}

int Run(const Flags& flags) {
  namespace fs = std::filesystem;
  if (flags.data_dir.empty() || !fs::is_directory(flags.data_dir)) {
    std::fprintf(stderr, "sextant-rag-bench: skipped: no data folder (%s); pass --data DIR or set SEXTANT_DATA_DIR\n",
                 flags.data_dir.empty() ? "none configured" : flags.data_dir.c_str());
    return kExitSkipped;
  }
  std::vector<Dataset> datasets;
  for (const std::string& which : flags.datasets) {
    const std::string dir = flags.data_dir + (which == "faq" ? "/python-faq" : "/ir-cranfield");
    if (!fs::is_directory(dir)) {
      std::fprintf(stderr, "sextant-rag-bench: skipped: %s is absent\n", dir.c_str());
      return kExitSkipped;
    }
    StatusOr<Dataset> ds = which == "faq" ? LoadFaq(dir) : LoadCranfield(dir);
    if (!ds.ok()) {
      std::fprintf(stderr, "sextant-rag-bench: error: %s\n", ds.status().ToString().c_str());
      return 1;
    }
    Subset(&*ds, flags.max_docs, flags.max_queries);
    datasets.push_back(std::move(*ds));
  }

  sextant::bench::ScratchDir scratch;
  std::string db_dir = flags.db_dir;
  if (db_dir.empty()) {
    if (Status s = scratch.Create("sextant-rag-bench"); !s.ok()) {
      std::fprintf(stderr, "sextant-rag-bench: error: %s\n", s.ToString().c_str());
      return 1;
    }
    db_dir = scratch.path();
  }
  sextant::DatabaseOptions db_options;
  db_options.create_if_missing = true;
  StatusOr<std::unique_ptr<sextant::Database>> db = sextant::Database::Open(db_options, db_dir);
  if (!db.ok()) {
    std::fprintf(stderr, "sextant-rag-bench: error: %s\n", db.status().ToString().c_str());
    return 1;
  }
  rag::EmbedderProvider embedders;
  for (const std::string& embedder : flags.embedders) {
    for (const Dataset& ds : datasets) {
      StatusOr<bool> ran = RunOne(**db, embedders, ds, embedder, flags);
      if (!ran.ok()) {
        std::fprintf(stderr, "sextant-rag-bench: error: %s / %s: %s\n", ds.name.c_str(), embedder.c_str(),
                     ran.status().ToString().c_str());
        return 1;
      }
      if (!*ran) break;  // the embedder is not available: skip its other data sets too
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    if (Status s = ParseFlags(argc, argv, &flags); !s.ok()) {
      std::fprintf(stderr, "sextant-rag-bench: %s\n(see sextant-rag-bench --help)\n", std::string(s.message()).c_str());
      return 2;
    }
    if (flags.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    return Run(flags);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sextant-rag-bench: error: %s\n", e.what());
    return 1;
  }
}
