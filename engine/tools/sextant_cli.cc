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

#include <unistd.h>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_commands.h"
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
         [--payload-index FIELD:TYPE]... [--text-field FIELD[:LANGUAGE]]...
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
      --text-field FIELD[:LANGUAGE]   a full-text (BM25) index over a string payload field,
                      for search --text and the $text filter; LANGUAGE is a Snowball
                      language (default english) or none (docs/text_search.md)
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
  repair NAME [--drop]
      Salvage a collection the database found damaged when it opened (its calls fail with
      DataLoss; `list` shows it with a "damage" field): keeps every point whose id and
      vector are intact, removes the records that are not, derives the payload index
      entries again, rebuilds the index, and prints what it kept and removed as JSON.
      On a healthy collection it only rebuilds the index (as reindex --wait).
      --drop          delete the collection instead, as `drop` does
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
  alias list | alias create ALIAS COLLECTION | alias delete ALIAS | alias swap ALIAS COLLECTION
      Aliases: second names of collections, accepted wherever a collection name is. list
      prints one JSON line {"alias", "collection"} per alias; swap points an existing alias
      at another collection in one atomic step.
  count NAME [--filter JSON]
      Print {"count": N}: the points, or those whose payload matches the filter.
  set-payload NAME JSON (ID... | --filter JSON) [--overwrite] [--string-ids]
      Set the top-level keys of the JSON object in the payloads of the points with these ids
      (every id must exist) or of every point matching --filter ('{}' = all), keeping their
      other keys and their vectors; with --overwrite, replace the whole payload. One atomic
      update; prints {"updated": N}.
  delete-payload-keys NAME KEY[,KEY...] (ID... | --filter JSON) [--string-ids]
      Remove the keys (dotted paths such as meta.author) from the payloads of the points;
      prints {"updated": N}.
  update-vector NAME ID --vector V [--string-ids]
      Replace the vector of the existing point ID (V as for search), keeping its payload; the
      index is updated. Prints {"updated": 1}; an unknown id is an error (exit 1).
  search NAME (--vector V | --query FILE | --text WORDS) [-k K] [--filter JSON]
         [--with-payload] [--with-vector] [--ef-search N] [--nprobe N] [--exact] [--plan]
         [--text WORDS [--text-field F]... [--fusion rrf|weighted] [--weights D,T]
          [--rrf-k N] [--candidates N]] [--group-by FIELD [--group-size N]]
         [--score-threshold S] [--mmr LAMBDA]
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
      --text WORDS    a BM25 query over the collection's text fields (--text-field F
                      restricts it): alone, BM25 search; with a vector, hybrid search, the two
                      lists fused by --fusion rrf (default; --rrf-k, default 60) or weighted
                      (--weights DENSE,TEXT of min-max normalised scores, default 0.5,0.5);
                      --candidates N per list (default max(k, 100)). Hits add "dense_score"
                      and/or "text_score" (docs/text_search.md)
      --group-by FIELD    k groups by this payload field, --group-size N hits each (default
                      1); hits add "group"
      --score-threshold S keep hits scoring at least S (L2 vector search: distance <= S)
      --mmr LAMBDA    maximal marginal relevance in [0, 1] (1 = relevance alone)
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
         [--llm-url URL --llm-model M] [--temperature T] [--max-tokens N] [--stop S]...
         [--seed N] [--model M] [--json]
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
      --temperature T, --max-tokens N (>= 1), --stop S (up to 4 times, 1..64 bytes each),
      --seed N, --model M (another model of the endpoint, for this request)
                      generation settings, passed to --generator openai (the extractive
                      generator has none: they are refused with it); T in [0, 2]
      --json          print one JSON object {"question", "answer", "generator", "embedder",
                      "citations": [{"number", "document_id", "chunk", "score", "cited",
                      "begin", "end", "text"}], "timings": {"embed_ms", "retrieve_ms",
                      "generate_ms", "total_ms"}} instead
  snapshot [COLLECTION] --to DIR [--name NAME] [--archive FILE]
      Take a consistent snapshot of COLLECTION (default: the whole database) into DIR/NAME
      (NAME default: "<collection or db>-<UTC time>-<hex>"), ready to restore without
      rebuilding any index; prints it as one JSON line {"name", "path", "scope",
      "collections", "sequence", "created_ms", "bytes", "files", "format_version"}.
      --archive FILE  also write it as one tar archive (to copy it off the machine)
  snapshots DIR [--verify] [--delete NAME]
      Print one JSON line per snapshot in DIR (no --db needed). --verify checks every file's
      checksum and adds "verified" (exit status 1 when one fails); --delete NAME deletes one.
  restore SNAPSHOT [--collection NEW [--source NAME]]
      SNAPSHOT is a snapshot directory or an archive made by --archive. Without --collection:
      restore it as a new database in --db DIR (which must not exist or be empty) and list its
      collections. With --collection: restore its collection NAME (--source; needed when it
      holds several) as the new collection NEW of the existing database --db DIR. A damaged or
      truncated snapshot is refused (nothing is restored). See docs/snapshots.md.
  cluster status --nats URL[,URL...] [--json] [--timeout-ms N]
      A cluster's live nodes, collections, shards and replicas with how far each has applied
      its shard's log (applied, last, lag), read through NATS (no --db needed; runs the
      sextant-cluster tool). See docs/cluster.md.
  chat NAME [-k K] [--filter JSON] [--system TEXT] [--generator extractive|openai]
         [--llm-url URL --llm-model M] [generation settings as ask] [--conversation ID]
      A conversation with NAME: each line read from stdin is a question, answered as ask does
      but with the earlier turns as history (a follow-up such as "and on Windows?" is first
      rewritten into a standalone question; docs/rag.md, "Chat"). Prints each answer as it is
      generated and the sources it cites. /reset forgets the history; /exit, /quit or the
      end of input ends the conversation.
      --system TEXT   a system message for the whole conversation (a new one)
      --conversation ID  keep the conversation in the database (1..128 of letters, digits,
                      _ - . :): an existing one is continued with its stored turns, each turn
                      is stored, and /reset deletes it (docs/rag.md, "Server-side
                      conversations")
  mcp [--read-only] [--generator extractive|openai] [--llm-url URL --llm-model M]
      Serve the database to an MCP host (Claude Desktop, an IDE, an agent framework) on
      stdin/stdout: the Model Context Protocol's stdio transport, one JSON-RPC message a line.
      Tools: list_collections, search, ask, ingest (docs/mcp.md). The end of input stops it.
      --read-only     refuse the ingest tool
  demo
      Create a collection "demo" (an HNSW16 index, a payload index on "cluster") with
      20,000 generated points, search it with and without a filter and compare with exact
      search, timing each step. Uses --db DIR when given, else a new temporary directory.
  help
      Print this help (also --help, -h).

Options:
  --db DIR        the database directory (default: $SEXTANT_DB)
  --string-ids    get/delete/set-payload/delete-payload-keys/update-vector: treat every ID as a
                  string id
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

// ---- demo / help ----

int RunDemoCommand(const Args&, const std::string& db_path) { return RunDemo(db_path); }

int RunHelp(const Args&, const std::string&) {
  std::cout << kUsage;
  return kExitOk;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"create", "create NAME --dim D [--metric M] [--index SPEC]", 1, 1,
       {"dim", "metric", "index", "ef-construction", "payload-index", "text-field"}, RunCreate},
      {"list", "list", 0, 0, {}, RunList},
      {"info", "info NAME", 1, 1, {}, RunInfo},
      {"drop", "drop NAME", 1, 1, {}, RunDrop},
      {"repair", "repair NAME [--drop]", 1, 1, {"drop"}, RunRepair},
      {"index", "index NAME SPEC [--wait]", 2, 2, {"ef-construction", "wait"}, RunIndex},
      {"reindex", "reindex NAME [--wait]", 1, 1, {"wait"}, RunReindex},
      {"import", "import NAME FILE", 2, 2, {"format", "batch-size", "wait"}, RunImport},
      {"get", "get NAME ID...", 2, kMany, {"string-ids"}, RunGet},
      {"delete", "delete NAME ID...", 2, kMany, {"string-ids"}, RunDelete},
      {"count", "count NAME [--filter JSON]", 1, 1, {"filter"}, RunCount},
      {"alias", "alias (list | create ALIAS COLLECTION | delete ALIAS | swap ALIAS COLLECTION)", 1, 3, {},
       RunAlias},
      {"set-payload", "set-payload NAME JSON (ID... | --filter JSON)", 2, kMany,
       {"filter", "overwrite", "string-ids"}, RunSetPayload},
      {"delete-payload-keys", "delete-payload-keys NAME KEY[,KEY...] (ID... | --filter JSON)", 2, kMany,
       {"filter", "string-ids"}, RunDeletePayloadKeys},
      {"update-vector", "update-vector NAME ID --vector V", 2, 2, {"vector", "string-ids"}, RunUpdateVector},
      {"search", "search NAME (--vector V | --query FILE | --text WORDS) [-k K]", 1, 1,
       {"vector", "query", "k", "filter", "with-payload", "with-vector", "format", "ef-search",
        "nprobe", "exact", "plan", "text", "text-field", "fusion", "weights", "rrf-k", "candidates",
        "group-by", "group-size", "score-threshold", "mmr"},
       RunSearch},
      {"ingest", "ingest NAME PATH...", 2, kMany,
       {"embedder", "chunk-tokens", "overlap", "index", "ef-construction", "wait"}, RunIngest},
      {"ask", "ask NAME QUESTION [-k K]", 2, 2,
       {"k", "filter", "ef-search", "generator", "llm-url", "llm-model", "json", "temperature", "max-tokens", "stop",
        "seed", "model"},
       RunAsk},
      {"snapshot", "snapshot [COLLECTION] --to DIR [--name NAME] [--archive FILE]", 0, 1,
       {"to", "name", "archive"}, RunSnapshot},
      {"snapshots", "snapshots DIR [--verify] [--delete NAME]", 1, 1, {"verify", "delete"}, RunSnapshots},
      {"restore", "restore SNAPSHOT [--collection NEW [--source NAME]]", 1, 1, {"collection", "source"},
       RunRestore},
      {"chat", "chat NAME [-k K] [--system TEXT] [--conversation ID]", 1, 1,
       {"k", "filter", "ef-search", "generator", "llm-url", "llm-model", "system", "temperature", "max-tokens", "stop",
        "seed", "model", "conversation"},
       RunChat},
      {"mcp", "mcp [--read-only]", 0, 0, {"read-only", "generator", "llm-url", "llm-model"}, RunMcp},
      {"demo", "demo", 0, 0, {}, RunDemoCommand},
      {"help", "help", 0, kMany, {}, RunHelp},
  };
  return commands;
}

// `sextant cluster ...` runs sextant-cluster (cluster/tools/, above the engine: it speaks NATS)
// from this binary's directory, else from PATH, with the remaining arguments.
int RunClusterTool(int argc, char** argv) {
  std::vector<char*> args;
  std::string self = "sextant-cluster";
  args.push_back(self.data());
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::string beside = (exe.parent_path() / "sextant-cluster").string();
    execv(beside.c_str(), args.data());
  }
  execvp("sextant-cluster", args.data());
  return ReportError(Status::NotFound(
      "sextant cluster: sextant-cluster was not found beside sextant or on PATH (build the cluster tools: "
      "libnats-dev, target sextant_cluster_cli)"));
}

int RealMain(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "cluster") return RunClusterTool(argc, argv);
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
  if (db_path.empty() && spec->name != "demo" && spec->name != "help" && spec->name != "snapshots") {
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
