// `sextant`: the command-line tool. Creates, lists, fills and searches collections of a database
// directory through the public API only (sextant/database.h). Usage: `sextant --help`, and
// docs/cli.md for the long form.
//
// Output is meant for scripts: listings, points and search results are one JSON object per line
// on stdout; messages for people go to stderr. Exit status: 0 success, 1 an error from the engine
// or a file, 2 a usage error.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
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
  ingest NAME PATH... [--embedder hash|local] [--chunk-tokens N] [--overlap N]
         [--index SPEC] [--wait]
      Cut text files into chunks, embed them and store them in text collection NAME (created
      when it does not exist). A PATH is a file (taken whatever its extension; its document id
      is its file name) or a folder, walked recursively for .txt, .text, .md, .markdown and .rst
      files (ids are the paths below the folder; names starting with '.' are skipped, other
      files are counted as skipped). Each file is one document, with metadata {"path",
      "bytes"}; ingesting a file again replaces its chunks. Files that are not UTF-8 text are
      skipped. Prints the documents, chunks written, old chunks replaced and chunks/s.
      These apply only when ingest creates NAME (they are recorded with it):
      --embedder E    hash (default: feature hashing, no model) or local (all-MiniLM-L6-v2
                      from $SEXTANT_MODEL_DIR or ~/.cache/sextant/models; see docs/rag.md)
      --chunk-tokens N  chunk size in tokens (default 256 whitespace tokens for hash, 200
                      WordPiece tokens for local)
      --overlap N     tokens repeated between consecutive chunks (default 32)
      --index SPEC    as for create (default HNSW16)
  ask NAME QUESTION [-k K] [--filter JSON] [--generator extractive|openai]
         [--llm-url URL --llm-model M] [--json]
      Answer QUESTION from the K (default 5) chunks of NAME nearest to it: prints the answer
      as it is generated, then the sources ([n] document #chunk, score, an excerpt) and the
      time spent embedding, retrieving and generating.
      --filter JSON   only chunks whose payload matches: "document_id", "chunk", or
                      "metadata.path" / "metadata.bytes" (docs/filters.md)
      --generator G   extractive (default: picks the best-matching sentences, no language
                      model) or openai (an OpenAI-compatible /v1/chat/completions server;
                      the key comes from $OPENAI_API_KEY)
      --llm-url URL   the server's base URL (default http://127.0.0.1:8080/v1)
      --llm-model M   the model name (required with --generator openai)
      --json          print one JSON object {"question", "answer", "generator", "embedder",
                      "citations": [{"number", "document_id", "chunk", "score", "cited",
                      "begin", "end", "text"}], "timings": {"embed_ms", "retrieve_ms",
                      "generate_ms", "total_ms"}} instead
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
  -k K            search/ask: number of hits or chunks
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
  // What an application recorded with the collection; for a text collection, its embedder and
  // chunking ({"sextant.text": {...}}).
  if (!info.properties.empty()) out["properties"] = PayloadToJson(info.properties);
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

// ---- ingest / ask: text collections ----

namespace fs = std::filesystem;

// Extensions `ingest` takes from folders: plain text, Markdown and reStructuredText.
bool IsTextFileName(const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".txt" || ext == ".text" || ext == ".md" || ext == ".markdown" || ext == ".rst";
}

// True when `text` is valid UTF-8 without NUL bytes (what a text file holds).
bool IsUtf8Text(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t j = 1; j < len; ++j) {
      const auto cc = static_cast<unsigned char>(text[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// A file to ingest: where it is and the document id it gets.
struct SourceFile {
  std::string path;  // as found: the argument, or the folder argument joined with the relative path
  std::string id;    // the path relative to the folder argument ('/'-separated), or the file name
};

struct FileScan {
  std::vector<SourceFile> files;
  uint64_t skipped_kind = 0;  // files in folders whose extension is not text or Markdown
};

// Collects the files of `paths`: a file argument is taken whatever its extension (its id is its
// file name); a folder is walked recursively for text and Markdown files (ids relative to it),
// skipping names that start with '.'. NotFound for a path that does not exist; InvalidArgument
// when two files would get one id. Nothing is read yet.
Status ScanPaths(std::span<const std::string> paths, FileScan* scan) {
  std::map<std::string, std::string> seen;  // id -> path
  auto add = [&](std::string path, std::string id) -> Status {
    auto [it, inserted] = seen.emplace(id, path);
    if (!inserted) {
      return Status::InvalidArgument("files " + it->second + " and " + path +
                                     " would both be document " + id +
                                     " (a document id is the path below the folder given, or the "
                                     "file name of a file given); ingest them separately");
    }
    scan->files.push_back({std::move(path), std::move(id)});
    return Status::OK();
  };
  for (const std::string& arg : paths) {
    if (arg.empty()) return Status::InvalidArgument("a path is empty");
    std::error_code ec;
    const fs::file_status status = fs::status(arg, ec);
    if (!fs::exists(status)) {
      return Status::NotFound("path " + arg + ": " +
                              (ec ? ec.message() : std::string("no such file or directory")));
    }
    if (fs::is_regular_file(status)) {
      SEXTANT_RETURN_IF_ERROR(add(arg, fs::path(arg).filename().string()));
      continue;
    }
    if (!fs::is_directory(status)) {
      return Status::InvalidArgument("path " + arg + " is neither a file nor a folder");
    }
    const fs::path root(arg);
    std::vector<SourceFile> found;
    fs::recursive_directory_iterator it(root, ec);
    if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
      const fs::path& path = it->path();
      if (path.filename().string().starts_with(".")) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      if (!IsTextFileName(path)) {
        ++scan->skipped_kind;
        continue;
      }
      found.push_back({path.lexically_normal().generic_string(),
                       path.lexically_relative(root).generic_string()});
    }
    if (ec) return Status::Unavailable("folder " + arg + ": " + ec.message());
    // Directory order is the file system's; sort for the same order on every run.
    std::sort(found.begin(), found.end(),
              [](const SourceFile& a, const SourceFile& b) { return a.id < b.id; });
    for (SourceFile& f : found) SEXTANT_RETURN_IF_ERROR(add(std::move(f.path), std::move(f.id)));
  }
  return Status::OK();
}

StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Unavailable("cannot read " + path);
  return text.str();
}

// The options of ingest that apply when it creates the collection.
struct TextCreateFlags {
  std::optional<std::string> embedder;  // "hash" | "local"
  std::optional<uint32_t> chunk_tokens;
  std::optional<uint32_t> overlap;
  std::optional<IndexOptions> index;
};

std::string_view TokenKindName(rag::TokenKind kind) {
  return kind == rag::TokenKind::kWordPiece ? "WordPiece" : "whitespace";
}

// "embedder hash:384:v1, dimension 384, chunks of 256 whitespace tokens with 32 of overlap,
// index HNSW16".
std::string DescribeText(const rag::TextCollection& text) {
  const rag::TextCollectionOptions& o = text.options();
  return "embedder " + text.embedder().spec() + ", dimension " +
         std::to_string(text.embedder().dimension()) + ", chunks of " +
         std::to_string(o.chunker.chunk_tokens) + " " + std::string(TokenKindName(o.chunker.tokens)) +
         " tokens with " + std::to_string(o.chunker.overlap_tokens) + " of overlap, index " +
         o.index.ToString();
}

// A one-line description of a collection that is not a text collection, for ingest and ask.
Status NotText(const std::string& name) {
  return Status::FailedPrecondition(
      "collection " + name +
      " is a plain vector collection, not a text collection; ingest and ask need one made by "
      "ingest (give a new NAME)");
}

// Opens text collection `name`: NotFound, or FailedPrecondition for a plain vector collection.
StatusOr<std::unique_ptr<rag::TextCollection>> OpenText(Database& db, const std::string& name,
                                                        rag::EmbedderProvider& embedders) {
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db.GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  SEXTANT_ASSIGN_OR_RETURN(std::optional<rag::TextCollectionOptions> config,
                           rag::TextCollection::ConfigOf(info));
  if (!config) return NotText(name);
  return rag::TextCollection::Open(db, name, embedders);
}

// For an existing collection: the creation options given must match what it records.
Status CheckCreateFlags(const rag::TextCollection& text, const TextCreateFlags& flags) {
  const rag::TextCollectionOptions& o = text.options();
  std::string differs;
  if (flags.embedder && *flags.embedder != o.embedder.kind) {
    differs = "--embedder " + *flags.embedder + " (it uses " + o.embedder.kind + ")";
  } else if (flags.chunk_tokens && *flags.chunk_tokens != o.chunker.chunk_tokens) {
    differs = "--chunk-tokens " + std::to_string(*flags.chunk_tokens) + " (it uses " +
              std::to_string(o.chunker.chunk_tokens) + ")";
  } else if (flags.overlap && *flags.overlap != o.chunker.overlap_tokens) {
    differs = "--overlap " + std::to_string(*flags.overlap) + " (it uses " +
              std::to_string(o.chunker.overlap_tokens) + ")";
  } else if (flags.index && flags.index->ToString() != o.index.ToString()) {
    differs = "--index " + flags.index->ToString() + " (it uses " + o.index.ToString() + ")";
  }
  if (differs.empty()) return Status::OK();
  return Status::FailedPrecondition(
      "text collection " + text.name() + " already exists and does not match " + differs +
      "; --embedder, --chunk-tokens, --overlap and --index apply only when ingest creates the "
      "collection (drop it first to change them)");
}

StatusOr<std::unique_ptr<rag::TextCollection>> CreateText(Database& db, const std::string& name,
                                                          const TextCreateFlags& flags,
                                                          rag::EmbedderProvider& embedders) {
  rag::TextCollectionOptions options;
  options.embedder.kind = flags.embedder.value_or("hash");
  if (flags.index) options.index = *flags.index;
  if (flags.chunk_tokens || flags.overlap) {
    // Start from the embedder's default chunking (rag.h) and change what was given.
    options.chunker_set = true;
    if (options.embedder.kind == "local") {
      options.chunker.tokens = rag::TokenKind::kWordPiece;
      options.chunker.chunk_tokens = 200;
    }
    if (flags.chunk_tokens) options.chunker.chunk_tokens = *flags.chunk_tokens;
    if (flags.overlap) options.chunker.overlap_tokens = *flags.overlap;
  }
  SEXTANT_ASSIGN_OR_RETURN(auto text, rag::TextCollection::Create(db, name, options, embedders));
  std::cout << "created text collection " << name << " (" << DescribeText(*text) << ")\n";
  // The (empty) index is built at once; wait for it so that it is saved when the database closes.
  SEXTANT_RETURN_IF_ERROR(text->collection().WaitForIndex(/*timeout_ms=*/60000));
  return text;
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

Status WithIngestedCount(const Status& error, uint64_t documents) {
  return Status(error.code(), std::string(error.message()) + "; " +
                                  (documents == 0 ? std::string("no documents were ingested")
                                                  : Plural(documents, "document", "documents") +
                                                        " ingested before the error"));
}

Status IngestFiles(const std::string& db_path, const std::string& name,
                   std::span<const std::string> paths, const TextCreateFlags& flags, bool wait) {
  FileScan scan;
  SEXTANT_RETURN_IF_ERROR(ScanPaths(paths, &scan));
  if (scan.files.empty()) {
    return Status::NotFound("nothing to ingest: no text or Markdown files (.txt, .text, .md, "
                            ".markdown, .rst) in the paths given" +
                            (scan.skipped_kind > 0
                                 ? " (" + Plural(scan.skipped_kind, "other file", "other files") + ")"
                                 : std::string()));
  }

  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/true));
  rag::EmbedderProvider embedders;
  std::unique_ptr<rag::TextCollection> text;
  StatusOr<std::shared_ptr<Collection>> existing = db->GetCollection(name);
  if (existing.ok()) {
    SEXTANT_ASSIGN_OR_RETURN(text, OpenText(*db, name, embedders));
    SEXTANT_RETURN_IF_ERROR(CheckCreateFlags(*text, flags));
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  // A new collection is created with the first batch, so that files which all turn out not to be
  // text leave nothing behind.

  // Timed from here: reading, chunking, embedding and writing (not opening or creating).
  auto start = Clock::now();
  ProgressBar progress("ingesting " + name);
  const uint64_t total = scan.files.size();
  uint64_t done = 0;        // documents ingested, as of the last committed batch
  uint64_t not_utf8 = 0;    // files skipped because they are not UTF-8 text
  rag::IngestResult sum;
  std::vector<rag::Document> batch;
  size_t batch_bytes = 0;
  constexpr size_t kBatchDocuments = 64;
  constexpr size_t kBatchBytes = size_t{8} << 20;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    if (text == nullptr) {
      progress.Clear();
      const auto create_start = Clock::now();
      SEXTANT_ASSIGN_OR_RETURN(text, CreateText(*db, name, flags, embedders));
      start += Clock::now() - create_start;
    }
    rag::IngestOptions options;
    const uint64_t before = done;
    options.progress = [&](const rag::IngestProgress& p) {
      progress.Update(before + not_utf8 + p.documents, total, -1);
    };
    StatusOr<rag::IngestResult> result = text->Ingest(batch, options);
    if (!result.ok()) return result.status();
    done += result->documents;
    sum.chunks += result->chunks;
    sum.replaced_chunks += result->replaced_chunks;
    batch.clear();
    batch_bytes = 0;
    progress.Update(done + not_utf8, total, -1);
    return Status::OK();
  };

  for (const SourceFile& file : scan.files) {
    StatusOr<std::string> content = ReadWholeFile(file.path);
    if (!content.ok()) {
      Status flushed = flush();
      progress.Clear();
      return WithIngestedCount(flushed.ok() ? content.status() : flushed, done);
    }
    if (!IsUtf8Text(*content)) {
      ++not_utf8;
      continue;
    }
    OutJson metadata = OutJson::object();
    metadata["path"] = file.path;
    metadata["bytes"] = content->size();
    batch_bytes += content->size();
    batch.push_back({file.id, std::move(*content), Dump(metadata)});
    if (batch.size() >= kBatchDocuments || batch_bytes >= kBatchBytes) {
      Status flushed = flush();
      if (!flushed.ok()) {
        progress.Clear();
        return WithIngestedCount(flushed, done);
      }
    }
  }
  Status flushed = flush();
  progress.Clear();
  if (!flushed.ok()) return WithIngestedCount(flushed, done);
  if (done == 0) {  // every file was skipped as it was read
    return Status::NotFound("nothing to ingest: " +
                            Plural(not_utf8, "file is", "files are") + " not UTF-8 text" +
                            (scan.skipped_kind > 0
                                 ? " and " + Plural(scan.skipped_kind, "file is", "files are") +
                                       " not text or Markdown"
                                 : std::string()) +
                            (text == nullptr ? "; collection " + name + " was not created"
                                             : std::string()));
  }

  const auto elapsed = Clock::now() - start;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  std::cout << "ingested " << Plural(done, "document", "documents") << " ("
            << Plural(sum.chunks, "chunk", "chunks") << ", " << sum.replaced_chunks
            << " replaced) into " << name << " in " << FormatDuration(elapsed);
  if (sum.chunks > 0 && seconds > 0) {
    std::cout << " (" << static_cast<uint64_t>(static_cast<double>(sum.chunks) / seconds)
              << " chunks/s)";
  }
  std::cout << "\n";
  if (scan.skipped_kind > 0 || not_utf8 > 0) {
    std::cout << "skipped ";
    if (scan.skipped_kind > 0) {
      std::cout << Plural(scan.skipped_kind, "file", "files") << " that "
                << (scan.skipped_kind == 1 ? "is" : "are") << " not text or Markdown (by extension)";
    }
    if (scan.skipped_kind > 0 && not_utf8 > 0) std::cout << " and ";
    if (not_utf8 > 0) {
      std::cout << Plural(not_utf8, "file", "files") << " that " << (not_utf8 == 1 ? "is" : "are")
                << " not UTF-8 text";
    }
    std::cout << "\n";
  }
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, text->collection().Describe());
  if (info.index_state != IndexState::kReady) {
    SEXTANT_RETURN_IF_ERROR(ReportIndexState(text->collection(), wait));
  }
  return Status::OK();
}

int RunIngest(const Args& args, const std::string& db_path) {
  TextCreateFlags flags;
  if (std::optional<std::string> kind = args.Get("embedder")) {
    if (*kind != "hash" && *kind != "local") {
      return ReportUsage("--embedder must be hash or local, got '" + *kind + "'");
    }
    flags.embedder = *kind;
  }
  if (std::optional<std::string> text = args.Get("chunk-tokens")) {
    std::optional<uint64_t> n = ParseUint(*text, 8, 8192);
    if (!n) return ReportUsage("--chunk-tokens must be an integer in 8..8192, got '" + *text + "'");
    flags.chunk_tokens = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> text = args.Get("overlap")) {
    std::optional<uint64_t> n = ParseUint(*text, 0, 4096);
    if (!n) return ReportUsage("--overlap must be an integer in 0..4095, got '" + *text + "'");
    flags.overlap = static_cast<uint32_t>(*n);
  }
  if (flags.overlap) {
    const uint32_t chunk = flags.chunk_tokens.value_or(flags.embedder == "local" ? 200 : 256);
    if (*flags.overlap >= chunk / 2) {
      return ReportUsage("--overlap must be less than half of the chunk size (" +
                         std::to_string(chunk) + " tokens), got " + std::to_string(*flags.overlap));
    }
  }
  std::string error;
  if (std::optional<std::string> spec = args.Get("index")) {
    std::optional<IndexOptions> index = ParseIndexArgs(*spec, args, &error);
    if (!index) return ReportUsage(error);
    flags.index = *index;
  } else if (args.Has("ef-construction")) {
    return ReportUsage("--ef-construction applies to HNSW indexes: give --index HNSW<m> too");
  }
  return Finish(IngestFiles(db_path, args.positional[0],
                            std::span<const std::string>(args.positional).subspan(1), flags,
                            args.Has("wait")));
}

// The first `max_bytes` of `text` with runs of white space as one space, cut at a character
// boundary, with "..." when cut.
std::string Excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
    if (out.size() > max_bytes + 4) break;
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out + "...";
}

struct AskFlags {
  rag::AskOptions options;
  std::string generator = "extractive";
  std::string llm_url;
  std::string llm_model;
  bool json = false;
};

// Rounds a millisecond figure to microseconds for output.
double Ms(double ms) { return std::round(ms * 1000.0) / 1000.0; }

OutJson AnswerToJson(std::string_view question, const rag::Answer& answer) {
  OutJson out = OutJson::object();
  out["question"] = std::string(question);
  out["answer"] = answer.text;
  out["generator"] = answer.generator;
  out["embedder"] = answer.embedder;
  OutJson citations = OutJson::array();
  for (const rag::Citation& c : answer.citations) {
    OutJson j = OutJson::object();
    j["number"] = c.number;
    j["document_id"] = c.document_id;
    j["chunk"] = c.chunk;
    j["score"] = ShortFloat(c.score);
    j["cited"] = c.cited;
    j["begin"] = c.begin;
    j["end"] = c.end;
    j["text"] = c.text;
    citations.push_back(std::move(j));
  }
  out["citations"] = std::move(citations);
  OutJson timings = OutJson::object();
  timings["embed_ms"] = Ms(answer.timings.embed_ms);
  timings["retrieve_ms"] = Ms(answer.timings.retrieve_ms);
  timings["generate_ms"] = Ms(answer.timings.generate_ms);
  timings["total_ms"] = Ms(answer.timings.total_ms);
  out["timings"] = std::move(timings);
  return out;
}

std::string FormatMs(double ms) {
  return FormatDuration(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(ms)));
}

// Prints the answer (streamed as it is generated unless --json), then its sources and timings.
// *mid_line is set while a streamed answer has printed text without a final newline.
Status AskQuestion(const std::string& db_path, const std::string& name, const std::string& question,
                   const AskFlags& flags, bool* mid_line) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  rag::EmbedderProvider embedders;
  SEXTANT_ASSIGN_OR_RETURN(auto text, OpenText(*db, name, embedders));
  std::unique_ptr<rag::Generator> generator;
  if (flags.generator == "openai") {
    rag::OpenAIChatOptions chat;
    if (!flags.llm_url.empty()) chat.endpoint.base_url = flags.llm_url;
    chat.endpoint.model = flags.llm_model;
    chat.endpoint.api_key = embedders.environment().openai_api_key;
    chat.stream = !flags.json;
    SEXTANT_ASSIGN_OR_RETURN(generator, rag::MakeOpenAIGenerator(chat));
  } else {
    generator = rag::MakeExtractiveGenerator();
  }

  bool streamed = false;
  rag::TokenCallback on_token = nullptr;
  if (!flags.json) {
    on_token = [&](std::string_view piece) {
      if (piece.empty()) return true;
      std::cout << piece << std::flush;
      streamed = true;
      *mid_line = piece.back() != '\n';
      return static_cast<bool>(std::cout);
    };
  }
  SEXTANT_ASSIGN_OR_RETURN(rag::Answer answer,
                           text->Ask(question, flags.options, *generator, on_token));
  if (flags.json) {
    std::cout << Dump(AnswerToJson(question, answer)) << '\n';
    return Status::OK();
  }
  if (!streamed) {
    std::cout << answer.text;
    *mid_line = !answer.text.empty() && answer.text.back() != '\n';
  }
  if (*mid_line) std::cout << '\n';
  *mid_line = false;
  std::cout << '\n';
  if (answer.citations.empty()) {
    std::cout << "no sources: nothing in " << name << " matched\n";
  } else {
    std::cout << "sources:\n";
  }
  for (const rag::Citation& c : answer.citations) {
    char score[32];
    std::snprintf(score, sizeof(score), "%.4f", static_cast<double>(c.score));
    std::cout << "[" << c.number << "] " << c.document_id << " #" << c.chunk << "  score "
              << score << (c.cited ? "  (cited)" : "") << "\n    " << Excerpt(c.text, 160)
              << "\n";
  }
  std::cout << "timings: embed " << FormatMs(answer.timings.embed_ms) << ", retrieve "
            << FormatMs(answer.timings.retrieve_ms) << ", generate "
            << FormatMs(answer.timings.generate_ms) << ", total "
            << FormatMs(answer.timings.total_ms) << " (embedder " << answer.embedder
            << ", generator " << answer.generator << ")\n";
  return Status::OK();
}

int RunAsk(const Args& args, const std::string& db_path) {
  const std::string& question = args.positional[1];
  if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
    return ReportUsage("the question is empty");
  }
  AskFlags flags;
  if (std::optional<std::string> k_text = args.Get("k")) {
    std::optional<uint64_t> k = ParseUint(*k_text, 1, 1000);
    if (!k) return ReportUsage("-k must be an integer in 1..1000, got '" + *k_text + "'");
    flags.options.retrieve.k = static_cast<uint32_t>(*k);
  }
  if (std::optional<std::string> filter = args.Get("filter")) flags.options.retrieve.filter = *filter;
  if (std::optional<std::string> text = args.Get("ef-search")) {
    std::optional<uint64_t> n = ParseUint(*text, 1, 100000);
    if (!n) return ReportUsage("--ef-search must be an integer in 1..100000, got '" + *text + "'");
    flags.options.retrieve.ef_search = static_cast<uint32_t>(*n);
  }
  if (std::optional<std::string> generator = args.Get("generator")) {
    if (*generator != "extractive" && *generator != "openai") {
      return ReportUsage("--generator must be extractive or openai, got '" + *generator + "'");
    }
    flags.generator = *generator;
  }
  if (flags.generator == "openai") {
    std::optional<std::string> model = args.Get("llm-model");
    if (!model || model->empty()) {
      return ReportUsage("--generator openai needs --llm-model M (and --llm-url URL unless the "
                         "server is at http://127.0.0.1:8080/v1)");
    }
    flags.llm_model = *model;
    flags.llm_url = args.Get("llm-url").value_or("");
  } else if (args.Has("llm-url") || args.Has("llm-model")) {
    return ReportUsage("--llm-url and --llm-model apply to --generator openai");
  }
  flags.json = args.Has("json");
  bool mid_line = false;
  Status status = AskQuestion(db_path, args.positional[0], question, flags, &mid_line);
  if (mid_line) std::cout << '\n';
  return Finish(status);
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
      {"ingest", "ingest NAME PATH...", 2, kMany,
       {"embedder", "chunk-tokens", "overlap", "index", "ef-construction", "wait"}, RunIngest},
      {"ask", "ask NAME QUESTION [-k K]", 2, 2,
       {"k", "filter", "ef-search", "generator", "llm-url", "llm-model", "json"}, RunAsk},
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
