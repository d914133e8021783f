// `sextant`: the command-line tool. Creates, lists, fills and searches collections of a database
// directory through the public API only (sextant/database.h). Usage: `sextant --help`, and
// docs/cli.md for the long form.
//
// Output is meant for scripts: listings, points and search results are one JSON object per line
// on stdout; messages for people go to stderr. Exit status: 0 success, 1 an error from the engine
// or a file, 2 a usage error.

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_common.h"
#include "tools/demo.h"
#include "tools/vector_file.h"

namespace sextant::cli {
namespace {

constexpr char kUsage[] = R"(sextant - command-line tool for Sextant, the embedded vector database

Usage: sextant --db DIR COMMAND [ARGUMENTS] [OPTIONS]

The database directory comes from --db DIR, or else from the SEXTANT_DB environment
variable. Options may appear anywhere, as "--option value" or "--option=value".

Commands:
  create NAME --dim D [--metric l2|ip|cosine] [--index SPEC] [--ef-construction N]
         [--payload-index FIELD:TYPE]...
      Create a collection of D-dimensional vectors (metric default: cosine). Creates the
      database directory when it does not exist yet.
      --index SPEC    the index that answers searches (default Flat, exact search):
                        Flat            exact: score every point
                        HNSW16          HNSW graph, 16 links per node (HNSW<m>, m 2..128)
                        HNSW32,SQ8      HNSW walking 8-bit quantized vectors
                        IVF256          k-means inverted file with 256 lists (IVF<nlist>)
                        IVF256,SQ8      ... with 8-bit quantized vectors
                        IVF1024,PQ16    ... with product quantization, 16 bytes per vector
                                        (PQ<m>: m must divide D)
                      Scores are always exact; an approximate index may miss a few of the
                      true nearest points (see --ef-search, --nprobe, --exact).
      --ef-construction N   HNSW build effort (default 200; higher builds slower, better)
      --payload-index FIELD:TYPE   index a payload field for filters; TYPE is keyword,
                      integer, float or bool. Repeat for more fields. Points whose field has
                      another type are refused.
  index NAME SPEC [--ef-construction N] [--wait]
      Replace the collection's index (SPEC as for create; Flat goes back to exact search).
      The new index is built from the stored vectors in the background while searches use
      the old one. A build only runs while a process has the database open, so without
      --wait it stops when this command exits and resumes when the database is next opened.
      --wait          wait until the index is built (shows "building index..." on a terminal)
  reindex NAME [--wait]
      Rebuild the current index from the stored vectors (retrains IVF clusters and
      quantizers on the current data).
  list
      Print one JSON line per collection: {"name", "dimension", "metric", "count", "index",
      "index_state" (ready|building|training), "index_origin" (checkpoint|built|none),
      "index_bytes", "vector_bytes"}.
  info NAME
      Print the collection as one JSON object, like a line of `list`.
  drop NAME
      Delete the collection with all its points.
  import NAME FILE [--format fvecs|bvecs|jsonl] [--batch-size N] [--wait]
      Upsert the points in FILE ("-" reads standard input) into the collection:
        .fvecs, .bvecs  TEXMEX vectors (int32 d, then d float32 / uint8); the id of each
                        point is its row number, counting from 0
        .jsonl, .json   JSON lines: {"id": 7 or "text", "vector": [...], "payload": {...}}
      Points are written in batches of N (default 1000). A bad record stops the import with
      its line (or row) and the problem; the points before it stay imported.
      --wait          when the index is building or not trained yet afterwards, build it
                      before exiting (otherwise a note says so)
  get NAME ID... [--string-ids]
      Print one JSON line {"id", "vector", "payload"} per point. Unknown id: error.
  delete NAME ID... [--string-ids]
      Delete the points (absent ids are skipped); prints {"deleted": N}.
  search NAME (--vector V | --query FILE) [-k K] [--filter JSON] [--with-payload]
         [--with-vector] [--ef-search N] [--nprobe N] [--exact] [--plan]
      Print one JSON line per query, nearest hits first:
        {"query": 0, "hits": [{"id": 7, "score": 0.93}, ...]}
      V is numbers separated by commas and/or spaces ("0.1,0.2,0.3"), or a JSON array.
      FILE is .fvecs, .bvecs or .jsonl (each line {"vector": [...]} or a bare array).
      -k K        number of hits per query (default 10)
      --filter    payload filter, e.g. '{"genre": "drama", "year": {"$gte": 2000}}'
                  (the language is described in docs/filters.md)
      --with-payload  add each hit's "payload"
      --with-vector   add each hit's "vector"
      --ef-search N   HNSW: candidate list size (default 64, at least k); higher is slower
                      and finds more of the true nearest points
      --nprobe N      IVF: number of lists probed (default 8)
      --exact         score every (matching) point, bypassing the index
      --plan          add "plan": how the search was answered: {"kind": "index"|"exact",
                      "index", "matches", "filter_from_index", "distance_computations",
                      "effort"}
  demo
      Create a collection "demo" (an HNSW16 index, a payload index on "cluster") with
      20,000 generated points, search it with and without a filter and compare with exact
      search, timing each step. Uses --db DIR when given, else a new temporary directory.
  help
      Print this help (also --help, -h).

Options:
  --db DIR        the database directory (default: $SEXTANT_DB)
  --string-ids    get/delete: treat every ID as a string id
  --format F      import/search: file format, when the extension does not tell it
  --version       print the version and the SIMD level in use

Ids: on the command line, a token of only digits is a numeric id (42); anything else is a
string id (doc-42). With --string-ids every token is a string id, so "42" means the string.
The number 42 and the string "42" are different ids. Output prints numeric ids as JSON
numbers and string ids as JSON strings.

Scores: l2 is the squared Euclidean distance (lower is nearer); ip is the dot product and
cosine the cosine similarity (higher is nearer).

Exit status: 0 success; 1 an error from the database or a file (one line on stderr,
"sextant: error: ..."); 2 a usage error (unknown command or option, missing argument,
bad option value).
)";

// Options every command accepts.
constexpr std::string_view kGlobalFlags[] = {"db", "help", "version"};

struct CommandSpec {
  std::string_view name;
  std::string_view synopsis;  // for "missing argument" messages
  size_t min_args;
  size_t max_args;
  std::vector<std::string_view> flags;  // accepted besides kGlobalFlags
  int (*run)(const Args& args, const std::string& db_path);
};

constexpr size_t kMany = std::numeric_limits<size_t>::max();

// ---- shared helpers ----

StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool create) {
  DatabaseOptions options;
  options.create_if_missing = create;
  StatusOr<std::unique_ptr<Database>> db = Database::Open(options, path);
  if (!create && db.status().code() == StatusCode::kNotFound) {
    return Status::NotFound(std::string(db.status().message()) +
                            "; 'sextant --db DIR create NAME --dim D' creates one");
  }
  return db;
}

// Reads the ids of get/delete. A token of only digits is a number unless string_ids.
std::optional<std::vector<PointId>> ParseIds(std::span<const std::string> tokens, bool string_ids,
                                             std::string* error) {
  std::vector<PointId> ids;
  for (const std::string& token : tokens) {
    if (token.empty()) {
      *error = "an id is empty";
      return std::nullopt;
    }
    bool digits = token.find_first_not_of("0123456789") == std::string::npos;
    if (string_ids || !digits) {
      ids.emplace_back(token);
      continue;
    }
    std::optional<uint64_t> number = ParseUint(token, 0, std::numeric_limits<uint64_t>::max());
    if (!number) {
      *error = "id " + token +
               " is too large for a numeric id (at most 18446744073709551615); pass --string-ids "
               "to use it as a string id";
      return std::nullopt;
    }
    ids.emplace_back(*number);
  }
  return ids;
}

// The format of `path`: --format when given, else its extension. nullopt with *error set.
std::optional<VectorFormat> ResolveFormat(const Args& args, const std::string& path,
                                          std::string* error) {
  if (std::optional<std::string> name = args.Get("format")) {
    std::optional<VectorFormat> format = ParseFormatName(*name);
    if (!format) *error = "--format must be fvecs, bvecs or jsonl, got '" + *name + "'";
    return format;
  }
  if (path == "-") return VectorFormat::kJsonLines;
  std::optional<VectorFormat> format = FormatFromPath(path);
  if (!format) {
    *error = "cannot tell the format of '" + path +
             "' from its extension (.fvecs, .bvecs, .jsonl, .json); pass --format";
  }
  return format;
}

OutJson InfoToJson(const CollectionInfo& info) {
  OutJson out = OutJson::object();
  out["name"] = info.name;
  out["dimension"] = info.dimension;
  out["metric"] = std::string(MetricName(info.metric));
  out["count"] = info.count;
  out["index"] = info.index;
  out["index_state"] = std::string(IndexStateName(info.index_state));
  out["index_origin"] = info.index_origin;
  out["index_bytes"] = info.index_bytes;
  out["vector_bytes"] = info.vector_bytes;
  return out;
}

int Finish(const Status& status) {
  std::cout.flush();
  if (!status.ok()) return ReportError(status);
  if (!std::cout) return ReportError(Status::Unavailable("writing to standard output failed"));
  return kExitOk;
}

// ---- indexes ----

using Clock = std::chrono::steady_clock;

constexpr std::string_view kPayloadTypes = "keyword, integer, float or bool";

std::string_view PayloadTypeName(PayloadFieldType type) {
  switch (type) {
    case PayloadFieldType::kKeyword: return "keyword";
    case PayloadFieldType::kInteger: return "integer";
    case PayloadFieldType::kFloat: return "float";
    case PayloadFieldType::kBool: return "bool";
  }
  return "unknown";
}

// Parses a --payload-index value, FIELD:TYPE ("year:integer"). The field is everything before
// the last ':' (its syntax is the engine's to check). nullopt with *error set.
std::optional<PayloadIndexOptions> ParsePayloadIndex(std::string_view text, std::string* error) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    *error = "--payload-index must be FIELD:TYPE with TYPE " + std::string(kPayloadTypes) +
             ", got '" + std::string(text) + "'";
    return std::nullopt;
  }
  std::string type(text.substr(colon + 1));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  PayloadIndexOptions out;
  out.field = std::string(text.substr(0, colon));
  if (type == "keyword") {
    out.type = PayloadFieldType::kKeyword;
  } else if (type == "integer") {
    out.type = PayloadFieldType::kInteger;
  } else if (type == "float") {
    out.type = PayloadFieldType::kFloat;
  } else if (type == "bool") {
    out.type = PayloadFieldType::kBool;
  } else {
    *error = "--payload-index '" + std::string(text) + "': the type must be " +
             std::string(kPayloadTypes) + ", got '" + std::string(text.substr(colon + 1)) + "'";
    return std::nullopt;
  }
  return out;
}

// The index options of `spec` (an index spec such as "HNSW16,SQ8") with --ef-construction
// applied. nullopt with *error set when either is malformed.
std::optional<IndexOptions> ParseIndexArgs(const std::string& spec, const Args& args,
                                           std::string* error) {
  StatusOr<IndexOptions> parsed = IndexOptions::Parse(spec);
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return std::nullopt;
  }
  IndexOptions options = *parsed;
  if (std::optional<std::string> text = args.Get("ef-construction")) {
    if (options.type != IndexType::kHnsw) {
      *error = "--ef-construction applies to HNSW indexes, not " + options.ToString();
      return std::nullopt;
    }
    std::optional<uint64_t> n = ParseUint(*text, 1, 100000);
    if (!n) {
      *error = "--ef-construction must be an integer in 1..100000, got '" + *text + "'";
      return std::nullopt;
    }
    options.ef_construction = static_cast<uint32_t>(*n);
  }
  return options;
}

// Blocks until the collection's index is no longer building, showing "building index…" on a
// terminal. The engine finishes a build only while a process has the database open, so this is
// how the tool gets one done.
Status WaitForBuild(const Collection& collection, const std::string& spec) {
  constexpr auto kPoll = std::chrono::milliseconds(250);
  constexpr auto kLimit = std::chrono::hours(24);
  const auto start = Clock::now();
  ProgressBar progress("building index " + spec + " of " + collection.name() + "\u2026");
  progress.Show("");
  while (true) {
    Status status = collection.WaitForIndex(static_cast<uint64_t>(kPoll.count()));
    if (status.ok()) break;
    if (status.code() != StatusCode::kUnavailable) return status;
    const auto waited = Clock::now() - start;
    if (waited >= kLimit) {
      return Status::Unavailable("index " + spec + " of " + collection.name() +
                                 " is still building after " + FormatDuration(waited));
    }
    progress.Show(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(waited).count()) +
                  " s");
  }
  return Status::OK();
}

// "index 2.5 MiB, vectors 4.7 MiB".
std::string IndexMemory(const CollectionInfo& info) {
  return "index " + FormatBytes(info.index_bytes) + ", vectors " + FormatBytes(info.vector_bytes);
}

// After the index of `collection` changed (or may be building): with `wait`, waits for a build
// (and, for an index waiting for enough points to train, tries training it now); then prints
// where the index stands. Without `wait`, prints a note only when the index is not ready.
Status ReportIndexState(Collection& collection, bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection.Describe());
  if (info.index == "Flat") return Status::OK();
  const std::string& name = info.name;
  if (!wait) {
    switch (info.index_state) {
      case IndexState::kReady:
        if (info.index_origin != "none") {
          std::cout << "index " << info.index << " of " << name << " is ready ("
                    << IndexMemory(info) << ")\n";
        }
        break;
      case IndexState::kBuilding:
        std::cout << "note: index " << info.index << " of " << name
                  << " is still building and this command does not wait for it (pass --wait). "
                     "The build stops when the command exits and starts again whenever the "
                     "database is opened; until it is ready, searches are exact.\n";
        break;
      case IndexState::kTraining:
        std::cout << "note: index " << info.index << " of " << name
                  << " is not trained yet: it trains once the collection has enough points, "
                     "while a process has the database open; until then searches are exact "
                     "(pass --wait to train and build it now).\n";
        break;
    }
    return Status::OK();
  }
  const auto start = Clock::now();
  if (info.index_state == IndexState::kTraining) {
    // Training starts in the engine's maintenance pass; start it now instead. With too few
    // points the index goes back to waiting.
    SEXTANT_RETURN_IF_ERROR(collection.RebuildIndex());
  }
  SEXTANT_RETURN_IF_ERROR(WaitForBuild(collection, info.index));
  SEXTANT_ASSIGN_OR_RETURN(info, collection.Describe());
  switch (info.index_state) {
    case IndexState::kReady:
      if (info.index_origin == "none") {
        return Status::Internal("building index " + info.index + " of " + name +
                                " failed (the engine's message is above)");
      }
      std::cout << "index " << info.index << " of " << name << " is ready after "
                << FormatDuration(Clock::now() - start) << " (" << IndexMemory(info) << ")\n";
      break;
    case IndexState::kTraining:
      std::cout << "index " << info.index << " of " << name
                << " needs more points to train (it has " << info.count
                << "); until then searches are exact\n";
      break;
    case IndexState::kBuilding:  // WaitForBuild returned: not building any more
      break;
  }
  return Status::OK();
}

// ---- create / list / info / drop ----

Status Create(const std::string& db_path, const std::string& name,
              const CollectionOptions& options) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/true));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->CreateCollection(name, options));
  std::cout << "created collection " << collection->name() << " (dimension "
            << collection->dimension() << ", metric " << MetricName(collection->metric())
            << ", index " << options.index.ToString();
  if (!options.payload_indexes.empty()) {
    std::cout << ", payload index" << (options.payload_indexes.size() == 1 ? " " : "es ");
    for (size_t i = 0; i < options.payload_indexes.size(); ++i) {
      const PayloadIndexOptions& p = options.payload_indexes[i];
      std::cout << (i > 0 ? ", " : "") << p.field << ":" << PayloadTypeName(p.type);
    }
  }
  std::cout << ")\n";
  // The (empty) index is built at once; wait for it so that it is saved when the database
  // closes. An IVF index waits for points to train on, which counts as ready here.
  return collection->WaitForIndex(/*timeout_ms=*/60000);
}

int RunCreate(const Args& args, const std::string& db_path) {
  std::optional<std::string> dim_text = args.Get("dim");
  if (!dim_text) return ReportUsage("create needs --dim D, the dimension of the vectors");
  std::optional<uint64_t> dim = ParseUint(*dim_text, 1, CollectionOptions::kMaxDimension);
  if (!dim) {
    return ReportUsage("--dim must be an integer in 1.." +
                       std::to_string(CollectionOptions::kMaxDimension) + ", got '" + *dim_text +
                       "'");
  }
  CollectionOptions options;
  options.dimension = static_cast<uint32_t>(*dim);
  if (std::optional<std::string> metric_text = args.Get("metric")) {
    StatusOr<Metric> metric = ParseMetric(*metric_text);
    if (!metric.ok()) {
      return ReportUsage("--metric must be l2, ip or cosine, got '" + *metric_text + "'");
    }
    options.metric = *metric;
  }
  std::string error;
  if (std::optional<std::string> spec = args.Get("index")) {
    std::optional<IndexOptions> index = ParseIndexArgs(*spec, args, &error);
    if (!index) return ReportUsage(error);
    options.index = *index;
  } else if (args.Has("ef-construction")) {
    return ReportUsage("--ef-construction applies to HNSW indexes: give --index HNSW<m> too");
  }
  for (const std::string& text : args.GetAll("payload-index")) {
    std::optional<PayloadIndexOptions> field = ParsePayloadIndex(text, &error);
    if (!field) return ReportUsage(error);
    options.payload_indexes.push_back(std::move(*field));
  }
  return Finish(Create(db_path, args.positional[0], options));
}

Status List(const std::string& db_path) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, db->ListCollections());
  for (const CollectionInfo& info : infos) std::cout << Dump(InfoToJson(info)) << '\n';
  return Status::OK();
}

int RunList(const Args&, const std::string& db_path) { return Finish(List(db_path)); }

Status Info(const std::string& db_path, const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  std::cout << Dump(InfoToJson(info)) << '\n';
  return Status::OK();
}

int RunInfo(const Args& args, const std::string& db_path) {
  return Finish(Info(db_path, args.positional[0]));
}

Status Drop(const std::string& db_path, const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_RETURN_IF_ERROR(db->DropCollection(name));
  std::cout << "dropped collection " << name << "\n";
  return Status::OK();
}

int RunDrop(const Args& args, const std::string& db_path) {
  return Finish(Drop(db_path, args.positional[0]));
}

// ---- index / reindex ----

Status SetIndex(const std::string& db_path, const std::string& name, const IndexOptions& options,
                bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_RETURN_IF_ERROR(collection->SetIndex(options));
  if (options.type == IndexType::kFlat) {
    std::cout << "index of " << name << " set to Flat: searches are exact\n";
    return Status::OK();
  }
  SEXTANT_ASSIGN_OR_RETURN(uint64_t count, collection->Count());
  std::cout << "index of " << name << " set to " << options.ToString() << "; building it from "
            << count << " point" << (count == 1 ? "" : "s") << "\n";
  return ReportIndexState(*collection, wait);
}

int RunIndex(const Args& args, const std::string& db_path) {
  std::string error;
  std::optional<IndexOptions> options = ParseIndexArgs(args.positional[1], args, &error);
  if (!options) return ReportUsage(error);
  return Finish(SetIndex(db_path, args.positional[0], *options, args.Has("wait")));
}

Status Reindex(const std::string& db_path, const std::string& name, bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  if (info.index == "Flat") {
    std::cout << name << " has no index to rebuild (Flat: searches are exact)\n";
    return Status::OK();
  }
  SEXTANT_RETURN_IF_ERROR(collection->RebuildIndex());
  std::cout << "rebuilding index " << info.index << " of " << name << " from " << info.count
            << " point" << (info.count == 1 ? "" : "s") << "\n";
  return ReportIndexState(*collection, wait);
}

int RunReindex(const Args& args, const std::string& db_path) {
  return Finish(Reindex(db_path, args.positional[0], args.Has("wait")));
}

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

int RunGet(const Args& args, const std::string& db_path) {
  std::string error;
  auto ids = ParseIds(std::span(args.positional).subspan(1), args.Has("string-ids"), &error);
  if (!ids) return ReportUsage(error);
  return Finish(Get(db_path, args.positional[0], *ids));
}

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

int RunDelete(const Args& args, const std::string& db_path) {
  std::string error;
  auto ids = ParseIds(std::span(args.positional).subspan(1), args.Has("string-ids"), &error);
  if (!ids) return ReportUsage(error);
  return Finish(Delete(db_path, args.positional[0], *ids));
}

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
    if (source.vector->size() != dim) {
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

int RunSearch(const Args& args, const std::string& db_path) {
  QuerySource source;
  std::optional<std::string> vector_text = args.Get("vector");
  std::optional<std::string> query_file = args.Get("query");
  if (vector_text && query_file) return ReportUsage("give either --vector or --query, not both");
  if (!vector_text && !query_file) {
    return ReportUsage("search needs --vector V or --query FILE");
  }
  std::string error;
  if (vector_text) {
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
  return Finish(Search(db_path, args.positional[0], options, source, args.Has("plan")));
}

// ---- demo / help ----

int RunDemoCommand(const Args&, const std::string& db_path) { return RunDemo(db_path); }

int RunHelp(const Args&, const std::string&) {
  std::cout << kUsage;
  return kExitOk;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"create", "create NAME --dim D [--metric M] [--index SPEC]", 1, 1,
       {"dim", "metric", "index", "ef-construction", "payload-index"}, RunCreate},
      {"list", "list", 0, 0, {}, RunList},
      {"info", "info NAME", 1, 1, {}, RunInfo},
      {"drop", "drop NAME", 1, 1, {}, RunDrop},
      {"index", "index NAME SPEC [--wait]", 2, 2, {"ef-construction", "wait"}, RunIndex},
      {"reindex", "reindex NAME [--wait]", 1, 1, {"wait"}, RunReindex},
      {"import", "import NAME FILE", 2, 2, {"format", "batch-size", "wait"}, RunImport},
      {"get", "get NAME ID...", 2, kMany, {"string-ids"}, RunGet},
      {"delete", "delete NAME ID...", 2, kMany, {"string-ids"}, RunDelete},
      {"search", "search NAME (--vector V | --query FILE) [-k K]", 1, 1,
       {"vector", "query", "k", "filter", "with-payload", "with-vector", "format", "ef-search",
        "nprobe", "exact", "plan"},
       RunSearch},
      {"demo", "demo", 0, 0, {}, RunDemoCommand},
      {"help", "help", 0, kMany, {}, RunHelp},
  };
  return commands;
}

int RealMain(int argc, char** argv) {
  std::string error;
  std::optional<Args> args = ParseArgs(argc, argv, &error);
  if (!args) return ReportUsage(error);
  if (args->Has("help")) return RunHelp(*args, "");
  if (args->Has("version")) {
    std::cout << "sextant " << Version() << " (simd " << SimdLevelName() << ")\n";
    return kExitOk;
  }
  if (args->command.empty()) return ReportUsage("no command given");

  const CommandSpec* spec = nullptr;
  for (const CommandSpec& c : Commands()) {
    if (c.name == args->command) spec = &c;
  }
  if (spec == nullptr) return ReportUsage("unknown command '" + args->command + "'");

  for (const auto& [flag, value] : args->flags) {
    bool ok = false;
    for (std::string_view g : kGlobalFlags) ok = ok || g == flag;
    for (std::string_view f : spec->flags) ok = ok || f == flag;
    if (!ok) {
      return ReportUsage("option --" + flag + " does not apply to '" + args->command + "'");
    }
  }
  if (args->positional.size() < spec->min_args) {
    return ReportUsage("missing argument: usage: sextant " + std::string(spec->synopsis));
  }
  if (args->positional.size() > spec->max_args) {
    return ReportUsage("too many arguments: usage: sextant " + std::string(spec->synopsis));
  }

  std::string db_path;
  if (std::optional<std::string> db = args->Get("db")) {
    db_path = *db;
  } else if (const char* env = std::getenv("SEXTANT_DB"); env != nullptr) {
    db_path = env;
  }
  if (db_path.empty() && spec->name != "demo" && spec->name != "help") {
    return ReportUsage("no database directory: pass --db DIR or set SEXTANT_DB");
  }
  return spec->run(*args, db_path);
}

}  // namespace
}  // namespace sextant::cli

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  try {
    return sextant::cli::RealMain(argc, argv);
  } catch (const std::exception& e) {
    return sextant::cli::ReportError(sextant::Status::Internal(e.what()));
  } catch (...) {
    return sextant::cli::ReportError(sextant::Status::Internal("unknown exception"));
  }
}
