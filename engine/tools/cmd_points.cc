// `sextant` commands on points: import, get, delete, search.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/vector_file.h"

namespace sextant::cli {
namespace {

// ---- import ----

// Points read but not yet written.
class PendingBatch {
 public:
  explicit PendingBatch(uint32_t dimension) : dimension_(dimension) {}

  size_t size() const { return ids_.size(); }

  void Add(Record* record) {
    ids_.push_back(std::move(record->id));
    vectors_.insert(vectors_.end(), record->vector.begin(), record->vector.end());
    if (!record->payload.empty()) any_payload_ = true;
    payloads_.push_back(std::move(record->payload));
    wheres_.push_back(std::move(record->where));
  }

  // Upserts the batch and empties it, adding the points written to *imported. When the engine
  // rejects the batch as invalid, writes it again one point at a time to find the record at
  // fault: the points before it are then written, and the error names its line or row.
  Status Flush(Collection& collection, const std::string& file, uint64_t* imported) {
    if (ids_.empty()) return Status::OK();
    const WriteOptions write_options;
    Status status = collection.Upsert(write_options, ids_, vectors_, PayloadsFor(0, ids_.size()));
    if (status.ok()) {
      *imported += ids_.size();
      Clear();
      return status;
    }
    if (status.code() != StatusCode::kInvalidArgument) {
      return status.WithPrefix(file + " " + wheres_.front() + " to " + wheres_.back());
    }
    for (size_t i = 0; i < ids_.size(); ++i) {
      status = collection.Upsert(write_options, std::span<const PointId>(&ids_[i], 1),
                                 std::span<const float>(vectors_).subspan(i * dimension_, dimension_),
                                 PayloadsFor(i, 1));
      if (!status.ok()) return status.WithPrefix(file + " " + wheres_[i]);
      ++*imported;
    }
    Clear();
    return Status::OK();
  }

 private:
  std::span<const std::string> PayloadsFor(size_t first, size_t count) const {
    if (!any_payload_) return {};
    return std::span<const std::string>(payloads_).subspan(first, count);
  }

  void Clear() {
    ids_.clear();
    vectors_.clear();
    payloads_.clear();
    wheres_.clear();
    any_payload_ = false;
  }

  uint32_t dimension_;
  std::vector<PointId> ids_;
  std::vector<float> vectors_;
  std::vector<std::string> payloads_;
  std::vector<std::string> wheres_;
  bool any_payload_ = false;
};

Status WithImportedCount(const Status& error, uint64_t imported) {
  std::string note = imported == 0 ? "no points were imported"
                                   : std::to_string(imported) + " point" +
                                         (imported == 1 ? "" : "s") +
                                         " imported before the error";
  return Status(error.code(), std::string(error.message()) + "; " + note);
}

Status Import(const std::string& db_path, const std::string& name, const std::string& file,
              VectorFormat format, size_t batch_size, bool wait) {
  auto start = std::chrono::steady_clock::now();
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/true));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  const uint32_t dim = collection->dimension();
  SEXTANT_ASSIGN_OR_RETURN(
      auto reader, VectorFileReader::Open(file, format, RecordKind::kPoints, dim, name));
  const std::string shown_file = file == "-" ? "<stdin>" : file;

  ProgressBar progress("importing " + name);
  auto update_progress = [&](uint64_t imported) {
    double fraction = reader->file_bytes() > 0
                          ? static_cast<double>(reader->bytes_read()) / reader->file_bytes()
                          : -1.0;
    progress.Update(imported, reader->total_records(), fraction);
  };

  PendingBatch batch(dim);
  uint64_t imported = 0;
  Record record;
  while (true) {
    StatusOr<bool> more = reader->Next(&record);
    if (!more.ok()) {
      // Keep every good point before the bad record, then report it.
      Status flushed = batch.Flush(*collection, shown_file, &imported);
      progress.Clear();
      return WithImportedCount(flushed.ok() ? more.status() : flushed, imported);
    }
    if (!*more) break;
    batch.Add(&record);
    if (batch.size() >= batch_size) {
      Status flushed = batch.Flush(*collection, shown_file, &imported);
      if (!flushed.ok()) {
        progress.Clear();
        return WithImportedCount(flushed, imported);
      }
      update_progress(imported);
    }
  }
  Status flushed = batch.Flush(*collection, shown_file, &imported);
  progress.Clear();
  if (!flushed.ok()) return WithImportedCount(flushed, imported);

  auto elapsed = std::chrono::steady_clock::now() - start;
  double seconds = std::chrono::duration<double>(elapsed).count();
  std::cout << "imported " << imported << " point" << (imported == 1 ? "" : "s") << " into "
            << name << " in " << FormatDuration(elapsed);
  if (imported > 0 && seconds > 0) {
    std::cout << " (" << static_cast<uint64_t>(imported / seconds) << " points/s)";
  }
  std::cout << "\n";
  // An index that is ready took the points as they came. One that is building (the database
  // was opened without a usable index checkpoint) or waiting to train is worth a word.
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  if (info.index_state != IndexState::kReady) {
    SEXTANT_RETURN_IF_ERROR(ReportIndexState(*collection, wait));
  }
  return Status::OK();
}

}  // namespace

int RunImport(const Args& args, const std::string& db_path) {
  const std::string& file = args.positional[1];
  std::string error;
  std::optional<VectorFormat> format = ResolveFormat(args, file, &error);
  if (!format) return ReportUsage(error);
  size_t batch_size = 1000;
  if (std::optional<std::string> text = args.Get("batch-size")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, 1000000);
    if (!n) return ReportUsage("--batch-size must be an integer in 1..1000000, got '" + *text + "'");
    batch_size = static_cast<size_t>(*n);
  }
  return Finish(
      Import(db_path, args.positional[0], file, *format, batch_size, args.Has("wait")));
}

namespace {

// ---- get / delete ----

Status Get(const std::string& db_path, const std::string& name, const std::vector<PointId>& ids) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  // Fetch all first, so a missing id prints nothing but the error.
  std::vector<Point> points;
  for (const PointId& id : ids) {
    SEXTANT_ASSIGN_OR_RETURN(Point point, collection->Get(id));
    points.push_back(std::move(point));
  }
  for (const Point& point : points) {
    OutJson out = OutJson::object();
    out["id"] = IdToJson(point.id);
    out["vector"] = VectorToJson(point.vector);
    out["payload"] = PayloadToJson(point.payload);
    std::cout << Dump(out) << '\n';
  }
  return Status::OK();
}

}  // namespace

int RunGet(const Args& args, const std::string& db_path) {
  std::string error;
  auto ids = ParseIds(std::span(args.positional).subspan(1), args.Has("string-ids"), &error);
  if (!ids) return ReportUsage(error);
  return Finish(Get(db_path, args.positional[0], *ids));
}

namespace {

Status Delete(const std::string& db_path, const std::string& name,
              const std::vector<PointId>& ids) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, collection->Delete(WriteOptions(), ids));
  OutJson out = OutJson::object();
  out["deleted"] = deleted;
  std::cout << Dump(out) << '\n';
  return Status::OK();
}

}  // namespace

int RunDelete(const Args& args, const std::string& db_path) {
  std::string error;
  auto ids = ParseIds(std::span(args.positional).subspan(1), args.Has("string-ids"), &error);
  if (!ids) return ReportUsage(error);
  return Finish(Delete(db_path, args.positional[0], *ids));
}

namespace {

// ---- search ----

struct QuerySource {
  std::optional<std::vector<float>> vector;  // --vector
  std::string file;                          // --query
  VectorFormat format = VectorFormat::kFvecs;
};

OutJson PlanToJson(const SearchPlan& plan) {
  OutJson out = OutJson::object();
  out["kind"] = plan.kind == SearchPlan::Kind::kIndex ? "index" : "exact";
  out["index"] = plan.index;
  out["matches"] = plan.matches;
  out["filter_from_index"] = plan.filter_from_index;
  out["distance_computations"] = plan.distance_computations;
  out["effort"] = plan.effort;
  return out;
}

// Prints one result line; `plan` is null unless --plan was given.
void PrintHits(uint64_t query, const std::vector<Hit>& hits, const SearchOptions& options,
               const SearchPlan* plan) {
  OutJson out = OutJson::object();
  out["query"] = query;
  OutJson list = OutJson::array();
  for (const Hit& hit : hits) {
    OutJson h = OutJson::object();
    h["id"] = IdToJson(hit.id);
    h["score"] = ShortFloat(hit.score);
    if (options.with_payload) h["payload"] = PayloadToJson(hit.payload);
    if (options.with_vector) h["vector"] = VectorToJson(hit.vector);
    // The parts of a text or hybrid search's score (a dense search's is its score).
    if (!options.text.empty() && hit.dense_score) h["dense_score"] = ShortFloat(*hit.dense_score);
    if (!options.text.empty() && hit.text_score) h["text_score"] = ShortFloat(*hit.text_score);
    if (!hit.group.empty()) h["group"] = OutJson::parse(hit.group, nullptr, /*allow_exceptions=*/false);
    list.push_back(std::move(h));
  }
  out["hits"] = std::move(list);
  if (plan != nullptr) out["plan"] = PlanToJson(*plan);
  std::cout << Dump(out) << '\n';
}

Status Search(const std::string& db_path, const std::string& name, const SearchOptions& options,
              const QuerySource& source, bool with_plan) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  const uint32_t dim = collection->dimension();
  if (source.vector) {
    if (source.vector->size() != dim && !(source.vector->empty() && !options.text.empty())) {
      return Status::InvalidArgument("--vector has " + std::to_string(source.vector->size()) +
                                     " components, but collection '" + name +
                                     "' has dimension " + std::to_string(dim));
    }
    SearchPlan plan;
    SEXTANT_ASSIGN_OR_RETURN(
        std::vector<Hit> hits,
        collection->Search(options, *source.vector, with_plan ? &plan : nullptr));
    PrintHits(0, hits, options, with_plan ? &plan : nullptr);
    return Status::OK();
  }

  SEXTANT_ASSIGN_OR_RETURN(auto reader, VectorFileReader::Open(source.file, source.format,
                                                               RecordKind::kQueries, dim, name));
  // Queries go to the engine in chunks: batched scoring is faster, memory stays bounded.
  constexpr size_t kChunk = 256;
  std::vector<float> queries;
  uint64_t first = 0;  // number of the first query in `queries`
  Record record;
  while (true) {
    StatusOr<bool> more = reader->Next(&record);
    if (!more.ok()) return more.status();
    if (*more) queries.insert(queries.end(), record.vector.begin(), record.vector.end());
    size_t n = queries.size() / dim;
    if (n == kChunk || (!*more && n > 0)) {
      std::vector<SearchPlan> plans;
      SEXTANT_ASSIGN_OR_RETURN(auto results, collection->SearchBatch(options, queries,
                                                                     with_plan ? &plans : nullptr));
      for (size_t i = 0; i < results.size(); ++i) {
        PrintHits(first + i, results[i], options, with_plan ? &plans[i] : nullptr);
      }
      first += n;
      queries.clear();
    }
    if (!*more) break;
  }
  return Status::OK();
}

// One number from the command line (finite), for `flag`.
std::optional<float> ParseNumber(const std::string& flag, const std::string& text, std::string* error) {
  std::optional<std::vector<float>> v = ParseVectorText(text, error);
  if (!v || v->size() != 1) {
    *error = flag + " must be a number, got '" + text + "'";
    return std::nullopt;
  }
  return (*v)[0];
}

// The full-text, hybrid and result-shaping options of `search` (docs/cli.md). On a bad value
// returns false with *error set.
bool ParseTextAndShaping(const Args& args, SearchOptions* options, std::string* error) {
  if (std::optional<std::string> text = args.Get("text")) options->text = *text;
  options->text_fields = args.GetAll("text-field");
  if (!options->text_fields.empty() && options->text.empty()) {
    *error = "--text-field restricts --text: give --text WORDS too";
    return false;
  }
  const bool weighted_flags = args.Has("weights");
  if (std::optional<std::string> fusion = args.Get("fusion")) {
    if (*fusion == "rrf") {
      options->fusion = Fusion::kRrf;
    } else if (*fusion == "weighted") {
      options->fusion = Fusion::kWeighted;
    } else {
      *error = "--fusion must be rrf or weighted, got '" + *fusion + "'";
      return false;
    }
  }
  if ((args.Has("fusion") || args.Has("rrf-k") || args.Has("candidates") || weighted_flags) &&
      options->text.empty()) {
    *error = "--fusion, --weights, --rrf-k and --candidates apply to hybrid search: give --text WORDS too";
    return false;
  }
  if (std::optional<std::string> text = args.Get("weights")) {
    if (options->fusion != Fusion::kWeighted) {
      *error = "--weights applies to --fusion weighted";
      return false;
    }
    std::optional<std::vector<float>> w = ParseVectorText(*text, error);
    if (!w || w->size() != 2) {
      *error = "--weights must be two numbers DENSE,TEXT, got '" + *text + "'";
      return false;
    }
    options->dense_weight = (*w)[0];
    options->text_weight = (*w)[1];
  }
  if (std::optional<std::string> text = args.Get("rrf-k")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, std::numeric_limits<uint32_t>::max());
    if (!n) {
      *error = "--rrf-k must be a positive integer, got '" + *text + "'";
      return false;
    }
    options->rrf_k = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> text = args.Get("candidates")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, std::numeric_limits<uint32_t>::max());
    if (!n) {
      *error = "--candidates must be a positive integer, got '" + *text + "'";
      return false;
    }
    options->candidates = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> field = args.Get("group-by")) options->group_by = *field;
  if (std::optional<std::string> text = args.Get("group-size")) {
    if (options->group_by.empty()) {
      *error = "--group-size applies to --group-by FIELD";
      return false;
    }
    std::optional<uint64_t> n = ParseUint(*text, 1, SearchOptions::kMaxGroupSize);
    if (!n) {
      *error = "--group-size must be an integer in 1.." + std::to_string(SearchOptions::kMaxGroupSize) +
               ", got '" + *text + "'";
      return false;
    }
    options->group_size = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> text = args.Get("score-threshold")) {
    std::optional<float> t = ParseNumber("--score-threshold", *text, error);
    if (!t) return false;
    options->score_threshold = *t;
  }
  if (std::optional<std::string> text = args.Get("mmr")) {
    std::optional<float> lambda = ParseNumber("--mmr", *text, error);
    if (!lambda) return false;
    options->mmr = true;
    options->mmr_lambda = *lambda;  // the engine checks the range
  }
  return true;
}

}  // namespace

int RunSearch(const Args& args, const std::string& db_path) {
  QuerySource source;
  std::optional<std::string> vector_text = args.Get("vector");
  std::optional<std::string> query_file = args.Get("query");
  if (vector_text && query_file) return ReportUsage("give either --vector or --query, not both");
  if (!vector_text && !query_file && !args.Has("text")) {
    return ReportUsage("search needs --vector V, --query FILE or --text WORDS");
  }
  std::string error;
  if (!vector_text && !query_file) {
    source.vector = std::vector<float>();  // --text alone: BM25
    if (args.Has("format")) return ReportUsage("--format applies to --query FILE, not --text");
  } else if (vector_text) {
    source.vector = ParseVectorText(*vector_text, &error);
    if (!source.vector) return ReportUsage("--vector: " + error);
    if (args.Has("format")) return ReportUsage("--format applies to --query FILE, not --vector");
  } else {
    source.file = *query_file;
    std::optional<VectorFormat> format = ResolveFormat(args, source.file, &error);
    if (!format) return ReportUsage(error);
    source.format = *format;
  }
  SearchOptions options;
  if (std::optional<std::string> k_text = args.Get("k")) {
    std::optional<uint64_t> k = ParseUint(*k_text, 1, std::numeric_limits<uint32_t>::max());
    if (!k) return ReportUsage("-k must be a positive integer, got '" + *k_text + "'");
    options.k = static_cast<uint32_t>(*k);
  }
  if (std::optional<std::string> filter = args.Get("filter")) options.filter = *filter;
  options.with_payload = args.Has("with-payload");
  options.with_vector = args.Has("with-vector");
  options.exact = args.Has("exact");
  if (std::optional<std::string> text = args.Get("ef-search")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, 100000);
    if (!n) return ReportUsage("--ef-search must be an integer in 1..100000, got '" + *text + "'");
    options.ef_search = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> text = args.Get("nprobe")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, 1u << 20);
    if (!n) return ReportUsage("--nprobe must be an integer in 1..1048576, got '" + *text + "'");
    options.nprobe = static_cast<uint32_t>(*n);
  }
  if (!ParseTextAndShaping(args, &options, &error)) return ReportUsage(error);
  return Finish(Search(db_path, args.positional[0], options, source, args.Has("plan")));
}

}  // namespace sextant::cli
