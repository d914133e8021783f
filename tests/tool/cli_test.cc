// End-to-end tests of the `sextant` command-line tool: each test runs the built binary
// (SEXTANT_CLI_PATH) on small seeded files in a temporary directory and checks its exit code,
// stdout and stderr.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_util.h"

extern char** environ;

namespace sextant {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

struct RunResult {
  int code = -1;  // the exit code, or -1 when the process did not exit normally
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Writes rows of `dim` values as TEXMEX .fvecs (T = float) or .bvecs (T = uint8_t).
template <typename T>
void WriteVecs(const std::string& path, const std::vector<T>& values, size_t dim) {
  std::ofstream out(path, std::ios::binary);
  int32_t d = static_cast<int32_t>(dim);
  for (size_t row = 0; row * dim < values.size(); ++row) {
    out.write(reinterpret_cast<const char*>(&d), 4);
    out.write(reinterpret_cast<const char*>(values.data() + row * dim),
              static_cast<std::streamsize>(dim * sizeof(T)));
  }
}

// One parsed JSON value per non-empty line.
std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
    EXPECT_FALSE(out.back().is_discarded()) << "not JSON: " << line;
  }
  return out;
}

// "[0.5,1,2]"-style text of a row, for --vector.
std::string VectorArg(const std::vector<float>& values, size_t row, size_t dim) {
  json arr = json::array();
  for (size_t j = 0; j < dim; ++j) arr.push_back(values[row * dim + j]);
  return arr.dump();
}

class CliTest : public ::testing::Test {
 protected:
  // Runs the tool with `args` (no implicit --db), stdin from `stdin_path`. SEXTANT_DB is removed
  // from the environment unless `env` sets it; `env` entries with nullopt are removed.
  RunResult RunRaw(const std::vector<std::string>& args,
                   std::map<std::string, std::optional<std::string>> env = {},
                   const std::string& stdin_path = "/dev/null") {
    if (env.count("SEXTANT_DB") == 0) env["SEXTANT_DB"] = std::nullopt;
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      std::string key = entry.substr(0, entry.find('='));
      if (env.count(key) == 0) env_strings.push_back(entry);
    }
    for (const auto& [key, value] : env) {
      if (value) env_strings.push_back(key + "=" + *value);
    }
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);

    std::vector<std::string> argv_strings = {SEXTANT_CLI_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    const std::string n = std::to_string(runs_++);
    const std::string out_path = tmp_.Sub("stdout." + n);
    const std::string err_path = tmp_.Sub("stderr." + n);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, stdin_path.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    RunResult result;
    if (rc != 0) {
      ADD_FAILURE() << "cannot run " << argv[0] << ": " << std::strerror(rc);
      return result;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) result.code = WEXITSTATUS(status);
    result.out = ReadFile(out_path);
    result.err = ReadFile(err_path);
    return result;
  }

  // Runs the tool on this test's database: `sextant --db <db> args...`.
  RunResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db_});
    return RunRaw(args);
  }

  // Runs a command that must succeed, and returns its stdout.
  std::string Ok(std::vector<std::string> args) {
    RunResult r = Run(args);
    EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
    return r.out;
  }

  // The collection's live count from `info`.
  uint64_t Count(const std::string& name) {
    std::vector<json> lines = JsonLines(Ok({"info", name}));
    if (lines.size() != 1) return ~uint64_t{0};
    return lines[0]["count"].get<uint64_t>();
  }

  TempDir tmp_;
  std::string db_ = tmp_.Sub("db");
  int runs_ = 0;
};

// Expects exit code 2 and a one-line usage message with a hint to --help, naming `what`.
#define EXPECT_USAGE_ERROR(result, what)                                 \
  do {                                                                   \
    RunResult _r = (result);                                             \
    EXPECT_EQ(_r.code, 2) << "stderr: " << _r.err;                       \
    EXPECT_THAT(_r.err, HasSubstr("sextant: usage error: "));            \
    EXPECT_THAT(_r.err, HasSubstr(what));                                \
    EXPECT_THAT(_r.err, HasSubstr("--help"));                            \
    EXPECT_EQ(std::count(_r.err.begin(), _r.err.end(), '\n'), 1) << _r.err; \
    EXPECT_EQ(_r.out, "");                                               \
  } while (0)

// Expects exit code 1 and "sextant: error: " with `what` on stderr.
#define EXPECT_ENGINE_ERROR(result, what)                         \
  do {                                                            \
    RunResult _r = (result);                                      \
    EXPECT_EQ(_r.code, 1) << "stderr: " << _r.err;                \
    EXPECT_THAT(_r.err, HasSubstr("sextant: error: "));           \
    EXPECT_THAT(_r.err, HasSubstr(what));                         \
    EXPECT_EQ(std::count(_r.err.begin(), _r.err.end(), '\n'), 1) << _r.err; \
  } while (0)

// ---- help and usage errors ----

TEST_F(CliTest, HelpPrintsUsageOnStdout) {
  for (const char* flag : {"--help", "help", "-h"}) {
    RunResult r = RunRaw({flag});
    EXPECT_EQ(r.code, 0) << flag;
    EXPECT_THAT(r.out, HasSubstr("Usage: sextant"));
    for (const char* command :
         {"create", "list", "info", "drop", "import", "get", "delete", "search", "demo", "index",
          "reindex", "repair NAME [--drop]", "--string-ids", "SEXTANT_DB", "--index SPEC", "HNSW16", "IVF1024,PQ16",
          "--ef-construction", "--payload-index FIELD:TYPE", "--wait", "--ef-search", "--nprobe",
          "--exact", "--with-vector", "--plan", "index_state", "ingest NAME PATH...",
          "ask NAME QUESTION", "--embedder", "--chunk-tokens", "--generator", "--llm-url",
          "--json"}) {
      EXPECT_THAT(r.out, HasSubstr(command)) << flag;
    }
    EXPECT_EQ(r.err, "");
  }
  // --help after a command prints the same help, without needing a database.
  RunResult r = RunRaw({"search", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Usage: sextant"));
}

TEST_F(CliTest, VersionPrintsVersion) {
  RunResult r = RunRaw({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("sextant 0."));
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_USAGE_ERROR(RunRaw({}), "no command");
  EXPECT_USAGE_ERROR(Run({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_USAGE_ERROR(Run({"list", "--bogus"}), "unknown option '--bogus'");
  EXPECT_USAGE_ERROR(Run({"list", "-z"}), "unknown option '-z'");
  EXPECT_USAGE_ERROR(Run({"list", "--dim", "3"}), "--dim does not apply to 'list'");
  EXPECT_USAGE_ERROR(Run({"create", "c"}), "--dim");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim"}), "--dim needs a value");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "abc"}), "--dim must be an integer");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "0"}), "--dim must be an integer");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "70000"}), "--dim must be an integer");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--metric", "manhattan"}),
                     "--metric must be l2, ip or cosine, got 'manhattan'");
  EXPECT_USAGE_ERROR(Run({"create", "--dim", "4"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"info"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"info", "a", "b"}), "too many arguments");
  EXPECT_USAGE_ERROR(Run({"get", "c"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"delete", "c"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"import", "c"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"import", "c", "points.csv"}), "--format");
  EXPECT_USAGE_ERROR(Run({"import", "c", "p.jsonl", "--batch-size", "0"}), "--batch-size");
  EXPECT_USAGE_ERROR(Run({"import", "c", "p.bin", "--format", "csv"}), "--format must be");
  EXPECT_USAGE_ERROR(Run({"search", "c"}), "--vector");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "--query", "q.fvecs"}),
                     "either --vector or --query");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,x"}), "'x' is not a number");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "[1, \"a\"]"}), "--vector");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", ""}), "empty");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "-k", "0"}), "-k must be");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "-k", "ten"}), "-k must be");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--with-payload=yes", "--vector", "1"}),
                     "--with-payload takes no value");
  EXPECT_USAGE_ERROR(Run({"get", "c", "99999999999999999999999"}), "too large");
  // Indexes: what the spec parser or the tool rejects is a usage error.
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "bogus"}),
                     "index spec 'bogus': expected Flat, HNSW<m>");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "HNSW16,PQ8"}),
                     "index spec 'HNSW16,PQ8'");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "IVF"}), "index spec 'IVF'");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "IVF16,PQx"}),
                     "index spec 'IVF16,PQx'");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index"}), "--index needs a value");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--ef-construction", "100"}),
                     "--ef-construction applies to HNSW");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "IVF16", "--ef-construction",
                          "100"}),
                     "--ef-construction applies to HNSW indexes, not IVF16");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--index", "HNSW16", "--ef-construction",
                          "0"}),
                     "--ef-construction must be an integer");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--payload-index", "year:string"}),
                     "the type must be keyword, integer, float or bool, got 'string'");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--payload-index", "year"}),
                     "--payload-index must be FIELD:TYPE");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--payload-index", ":integer"}),
                     "--payload-index must be FIELD:TYPE");
  EXPECT_USAGE_ERROR(Run({"create", "c", "--dim", "4", "--payload-index", "a:integer",
                          "--payload-index", "b:int"}),
                     "got 'int'");
  EXPECT_USAGE_ERROR(Run({"index", "c"}), "missing argument: usage: sextant index NAME SPEC");
  EXPECT_USAGE_ERROR(Run({"index", "c", "HNSW", "extra"}), "too many arguments");
  EXPECT_USAGE_ERROR(Run({"index", "c", "HNSWx"}), "index spec 'HNSWx'");
  EXPECT_USAGE_ERROR(Run({"index", "c", "Flat", "--ef-construction", "10"}),
                     "--ef-construction applies to HNSW indexes, not Flat");
  EXPECT_USAGE_ERROR(Run({"index", "c", "HNSW16", "--metric", "l2"}),
                     "--metric does not apply to 'index'");
  EXPECT_USAGE_ERROR(Run({"reindex"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"reindex", "c", "HNSW16"}), "too many arguments");
  EXPECT_USAGE_ERROR(Run({"list", "--wait"}), "--wait does not apply to 'list'");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "--ef-search", "0"}),
                     "--ef-search must be an integer");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "--ef-search", "many"}),
                     "--ef-search must be an integer");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "--nprobe", "-1"}),
                     "--nprobe must be an integer");
  EXPECT_USAGE_ERROR(Run({"search", "c", "--vector", "1,2", "--plan=yes"}),
                     "--plan takes no value");
  // No database given at all.
  EXPECT_USAGE_ERROR(RunRaw({"list"}), "--db");
  // Nothing was created by any of these.
  EXPECT_FALSE(std::filesystem::exists(db_));
}

// ---- collections ----

TEST_F(CliTest, CreateListInfoDrop) {
  EXPECT_THAT(Ok({"create", "alpha", "--dim", "4", "--metric", "l2"}),
              HasSubstr("created collection alpha (dimension 4, metric l2, index Flat)"));
  // Flags before the command and --flag=value work too; cosine is the default metric.
  RunResult r = RunRaw({"--db=" + db_, "--dim=8", "create", "beta"});
  EXPECT_EQ(r.code, 0) << r.err;
  Ok({"create", "gamma", "--dim", "2", "--metric", "ip"});

  std::vector<json> list = JsonLines(Ok({"list"}));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0], json::parse(R"({"name":"alpha","dimension":4,"metric":"l2","count":0,
                                      "index":"Flat","index_state":"ready","index_origin":"none",
                                      "index_bytes":0,"vector_bytes":0})"));
  EXPECT_EQ(list[1], json::parse(R"({"name":"beta","dimension":8,"metric":"cosine","count":0,
                                      "index":"Flat","index_state":"ready","index_origin":"none",
                                      "index_bytes":0,"vector_bytes":0})"));
  EXPECT_EQ(list[2]["metric"], "ip");

  std::vector<json> info = JsonLines(Ok({"info", "beta"}));
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0], list[1]);

  EXPECT_THAT(Ok({"drop", "alpha"}), HasSubstr("dropped collection alpha"));
  list = JsonLines(Ok({"list"}));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "beta");

  EXPECT_ENGINE_ERROR(Run({"info", "alpha"}), "NotFound: collection alpha not found");
  EXPECT_ENGINE_ERROR(Run({"drop", "alpha"}), "NotFound");
  EXPECT_ENGINE_ERROR(Run({"create", "beta", "--dim", "8"}), "AlreadyExists");
  EXPECT_ENGINE_ERROR(Run({"create", "bad name!", "--dim", "8"}), "InvalidArgument");
}

// `repair` on a healthy collection rebuilds its index and reports what it kept; --drop deletes it;
// its errors. (Damaged collections are exercised in tests/unit/db/damaged_test.cc.)
TEST_F(CliTest, RepairRebuildsOrDrops) {
  Ok({"create", "c", "--dim", "2", "--index", "HNSW8"});
  const std::string file = tmp_.Sub("p.jsonl");
  {
    std::ofstream f(file);
    for (int i = 0; i < 5; ++i) f << R"({"id":)" << i << R"(,"vector":[)" << i << ",1]}\n";
  }
  Ok({"import", "c", file});
  const std::string out = Ok({"repair", "c"});  // the report, then the index state
  std::vector<json> report = JsonLines(out.substr(0, out.find('\n') + 1));
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0]["name"], "c");
  EXPECT_EQ(report[0]["points_kept"], 5);
  EXPECT_EQ(report[0]["points_removed"], 0);
  EXPECT_EQ(report[0]["records_removed"], 0);
  EXPECT_EQ(Count("c"), 5u);

  EXPECT_USAGE_ERROR(Run({"repair"}), "missing argument");
  EXPECT_USAGE_ERROR(Run({"repair", "a", "b"}), "too many arguments");
  EXPECT_USAGE_ERROR(Run({"repair", "c", "--drop=yes"}), "--drop");
  EXPECT_ENGINE_ERROR(Run({"repair", "nosuch"}), "NotFound");
  EXPECT_ENGINE_ERROR(Run({"repair", "nosuch", "--drop"}), "NotFound");

  EXPECT_THAT(Ok({"repair", "c", "--drop"}), HasSubstr("dropped collection c"));
  EXPECT_ENGINE_ERROR(Run({"info", "c"}), "NotFound");
}

TEST_F(CliTest, MissingDatabaseIsAnErrorAndIsNotCreated) {
  const std::string missing = tmp_.Sub("nope");
  RunResult r = RunRaw({"--db", missing, "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("sextant: error: NotFound"));
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_FALSE(std::filesystem::exists(missing));
  for (const char* command : {"info", "drop"}) {
    EXPECT_EQ(RunRaw({"--db", missing, command, "c"}).code, 1) << command;
  }
  EXPECT_FALSE(std::filesystem::exists(missing));
}

TEST_F(CliTest, DatabaseFromEnvironment) {
  RunResult r = RunRaw({"create", "c", "--dim", "3"}, {{"SEXTANT_DB", db_}});
  EXPECT_EQ(r.code, 0) << r.err;
  r = RunRaw({"list"}, {{"SEXTANT_DB", db_}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"c\""));
  // --db wins over the environment.
  r = RunRaw({"--db", db_, "list"}, {{"SEXTANT_DB", tmp_.Sub("elsewhere")}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"name\":\"c\""));
}

// ---- import ----

TEST_F(CliTest, ImportFvecsUsesRowNumbersAsIds) {
  const size_t n = 300, dim = 8;
  std::vector<float> base = testing::RandomVectors(n, dim, 7);
  const std::string file = tmp_.Sub("base.fvecs");
  WriteVecs(file, base, dim);
  Ok({"create", "v", "--dim", "8", "--metric", "l2"});
  RunResult r = Run({"import", "v", file, "--batch-size", "64"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 300 points into v"));
  EXPECT_EQ(r.err, "");  // no progress bar when stderr is not a terminal
  EXPECT_EQ(Count("v"), n);

  std::vector<json> points = JsonLines(Ok({"get", "v", "0", "17", "299"}));
  ASSERT_EQ(points.size(), 3u);
  const size_t rows[] = {0, 17, 299};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(points[i]["id"], rows[i]);
    ASSERT_EQ(points[i]["vector"].size(), dim);
    for (size_t j = 0; j < dim; ++j) {
      // Printed floats read back as the very same float.
      EXPECT_EQ(points[i]["vector"][j].get<float>(), base[rows[i] * dim + j]);
    }
    EXPECT_EQ(points[i]["payload"], json::object());
  }

  // A stored vector is its own nearest neighbour at distance 0.
  std::vector<json> hits = JsonLines(Ok({"search", "v", "--vector", VectorArg(base, 123, dim),
                                         "-k", "3"}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["query"], 0);
  ASSERT_EQ(hits[0]["hits"].size(), 3u);
  EXPECT_EQ(hits[0]["hits"][0]["id"], 123);
  EXPECT_EQ(hits[0]["hits"][0]["score"], 0.0);
  EXPECT_FALSE(hits[0]["hits"][0].contains("payload"));

  // Importing again upserts: the count stays.
  Ok({"import", "v", file});
  EXPECT_EQ(Count("v"), n);
}

TEST_F(CliTest, ImportBvecs) {
  const size_t n = 20, dim = 4;
  std::vector<uint8_t> base(n * dim);
  for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<uint8_t>((i * 37) % 256);
  const std::string file = tmp_.Sub("base.bvecs");
  WriteVecs(file, base, dim);
  Ok({"create", "b", "--dim", "4", "--metric", "l2"});
  EXPECT_THAT(Ok({"import", "b", file}), HasSubstr("imported 20 points into b"));
  std::vector<json> points = JsonLines(Ok({"get", "b", "5"}));
  ASSERT_EQ(points.size(), 1u);
  for (size_t j = 0; j < dim; ++j) {
    EXPECT_EQ(points[0]["vector"][j].get<float>(), static_cast<float>(base[5 * dim + j]));
  }
}

TEST_F(CliTest, ImportJsonLinesWithPayloadsAndStringIds) {
  Ok({"create", "docs", "--dim", "3", "--metric", "l2"});
  const std::string file = tmp_.Sub("docs.jsonl");
  WriteText(file,
            R"({"id": 1, "vector": [1, 0, 0], "payload": {"color": "red", "n": 1}})"
            "\n"
            R"({"id": "doc-a", "vector": [0, 1, 0], "payload": {"color": "blue"}})"
            "\n\n"  // blank lines are skipped
            R"({"id": "7", "vector": [0, 0, 1]})"
            "\n"
            R"({"id": 7, "vector": [0.5, 0.5, 0], "payload": null})"
            "\n");
  EXPECT_THAT(Ok({"import", "docs", file}), HasSubstr("imported 4 points into docs"));
  EXPECT_EQ(Count("docs"), 4u);

  std::vector<json> points = JsonLines(Ok({"get", "docs", "1", "doc-a", "7"}));
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[0], json::parse(R"({"id":1,"vector":[1,0,0],"payload":{"color":"red","n":1}})"));
  EXPECT_EQ(points[1]["id"], "doc-a");  // a string id prints as a JSON string
  EXPECT_EQ(points[1]["payload"], json::parse(R"({"color":"blue"})"));
  EXPECT_EQ(points[2]["id"], 7);  // digits on the command line: the number 7
  EXPECT_EQ(points[2]["vector"], json::parse("[0.5,0.5,0]"));

  // --string-ids: "7" is the string id "7", a different point.
  points = JsonLines(Ok({"get", "docs", "7", "--string-ids"}));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0]["id"], "7");
  EXPECT_EQ(points[0]["vector"], json::parse("[0,0,1]"));
  EXPECT_ENGINE_ERROR(Run({"get", "docs", "1", "--string-ids"}), "NotFound: point 1 not found");

  // Search with payloads; string and number ids side by side.
  std::vector<json> hits =
      JsonLines(Ok({"search", "docs", "--vector", "0.9 0.1 0", "-k", "2", "--with-payload"}));
  ASSERT_EQ(hits.size(), 1u);
  ASSERT_EQ(hits[0]["hits"].size(), 2u);
  EXPECT_EQ(hits[0]["hits"][0]["id"], 1);
  EXPECT_EQ(hits[0]["hits"][0]["payload"], json::parse(R"({"color":"red","n":1})"));
  EXPECT_EQ(hits[0]["hits"][1]["id"], 7);
  EXPECT_EQ(hits[0]["hits"][1]["payload"], json::object());
}

TEST_F(CliTest, CountSetPayloadDeletePayloadKeys) {
  Ok({"create", "docs", "--dim", "2", "--metric", "l2", "--payload-index", "color:keyword"});
  const std::string file = tmp_.Sub("docs.jsonl");
  WriteText(file,
            R"({"id": 1, "vector": [1, 0], "payload": {"color": "red", "meta": {"a": 1, "b": 2}}})"
            "\n"
            R"({"id": 2, "vector": [0, 1], "payload": {"color": "blue"}})"
            "\n"
            R"({"id": "x", "vector": [1, 1], "payload": {"color": "red"}})"
            "\n");
  Ok({"import", "docs", file});
  EXPECT_EQ(JsonLines(Ok({"count", "docs"}))[0], json::parse(R"({"count":3})"));
  EXPECT_EQ(JsonLines(Ok({"count", "docs", "--filter", R"({"color":"red"})"}))[0], json::parse(R"({"count":2})"));

  EXPECT_EQ(JsonLines(Ok({"set-payload", "docs", R"({"color":"green","n":5})", "1", "x"}))[0],
            json::parse(R"({"updated":2})"));
  EXPECT_EQ(JsonLines(Ok({"get", "docs", "1"}))[0]["payload"],
            json::parse(R"({"color":"green","n":5,"meta":{"a":1,"b":2}})"));
  EXPECT_EQ(JsonLines(Ok({"count", "docs", "--filter", R"({"color":"green"})"}))[0], json::parse(R"({"count":2})"));
  EXPECT_EQ(JsonLines(Ok({"set-payload", "docs", R"({"only":true})", "2", "--overwrite"}))[0],
            json::parse(R"({"updated":1})"));
  EXPECT_EQ(JsonLines(Ok({"get", "docs", "2"}))[0]["payload"], json::parse(R"({"only":true})"));
  EXPECT_EQ(JsonLines(Ok({"delete-payload-keys", "docs", "meta.b,n", "--filter", "{}"}))[0],
            json::parse(R"({"updated":3})"));
  EXPECT_EQ(JsonLines(Ok({"get", "docs", "1"}))[0]["payload"], json::parse(R"({"color":"green","meta":{"a":1}})"));

  EXPECT_ENGINE_ERROR(Run({"set-payload", "docs", R"({"c":1})", "1", "99"}), "NotFound");
  EXPECT_ENGINE_ERROR(Run({"set-payload", "docs", R"({"color":1})", "1"}), "declared keyword");
  EXPECT_EQ(Run({"set-payload", "docs", R"({"c":1})"}).code, 2);  // neither ids nor --filter
  EXPECT_EQ(Run({"set-payload", "docs", R"({"c":1})", "1", "--filter", "{}"}).code, 2);
  EXPECT_ENGINE_ERROR(Run({"count", "docs", "--filter", "{bad"}), "filter");
}

TEST_F(CliTest, UpdateVectorKeepsThePayload) {
  Ok({"create", "docs", "--dim", "2", "--metric", "l2", "--index", "HNSW8"});
  const std::string file = tmp_.Sub("docs.jsonl");
  WriteText(file,
            R"({"id": 1, "vector": [1, 0], "payload": {"color": "red"}})"
            "\n"
            R"({"id": "x", "vector": [0, 1]})"
            "\n");
  Ok({"import", "docs", file, "--wait"});
  EXPECT_EQ(JsonLines(Ok({"update-vector", "docs", "1", "--vector", "5 5"}))[0], json::parse(R"({"updated":1})"));
  json p = JsonLines(Ok({"get", "docs", "1"}))[0];
  EXPECT_EQ(p["vector"], json::parse("[5.0, 5.0]"));
  EXPECT_EQ(p["payload"], json::parse(R"({"color":"red"})"));
  // The index follows: the nearest point to (5, 5) is now 1.
  EXPECT_EQ(JsonLines(Ok({"search", "docs", "--vector", "5 5", "-k", "1"}))[0]["hits"][0]["id"], 1);
  Ok({"update-vector", "docs", "x", "--vector", "[2, 2]", "--string-ids"});
  EXPECT_EQ(JsonLines(Ok({"get", "docs", "x", "--string-ids"}))[0]["vector"], json::parse("[2.0, 2.0]"));

  EXPECT_ENGINE_ERROR(Run({"update-vector", "docs", "99", "--vector", "1 1"}), "NotFound");
  EXPECT_ENGINE_ERROR(Run({"update-vector", "docs", "1", "--vector", "1 1 1"}), "dimension");
  EXPECT_USAGE_ERROR(Run({"update-vector", "docs", "1"}), "--vector V is required");
  EXPECT_USAGE_ERROR(Run({"update-vector", "docs", "1", "--vector", "1,x"}), "--vector");
  EXPECT_EQ(Run({"update-vector", "docs", "1", "2", "--vector", "1 1"}).code, 2);  // one id
  EXPECT_EQ(JsonLines(Ok({"get", "docs", "1"}))[0]["vector"], json::parse("[5.0, 5.0]"));  // refused: unchanged
}

TEST_F(CliTest, Aliases) {
  Ok({"create", "v1", "--dim", "2"});
  Ok({"create", "v2", "--dim", "2"});
  Ok({"alias", "create", "live", "v1"});
  EXPECT_EQ(JsonLines(Ok({"alias", "list"}))[0], json::parse(R"({"alias":"live","collection":"v1"})"));
  EXPECT_EQ(JsonLines(Ok({"info", "live"}))[0]["name"], "v1");
  Ok({"alias", "swap", "live", "v2"});
  EXPECT_EQ(JsonLines(Ok({"info", "live"}))[0]["name"], "v2");
  EXPECT_ENGINE_ERROR(Run({"alias", "create", "live", "v1"}), "already");
  EXPECT_ENGINE_ERROR(Run({"alias", "swap", "nope", "v1"}), "not found");
  EXPECT_EQ(Run({"alias", "rename", "x"}).code, 2);
  EXPECT_EQ(Run({"alias", "create", "x"}).code, 2);
  Ok({"alias", "delete", "live"});
  EXPECT_TRUE(JsonLines(Ok({"alias", "list"})).empty());
}

TEST_F(CliTest, ImportFromStandardInput) {
  Ok({"create", "s", "--dim", "2"});
  const std::string file = tmp_.Sub("in.jsonl");
  WriteText(file, "{\"id\": 1, \"vector\": [1, 2]}\n{\"id\": 2, \"vector\": [3, 4]}\n");
  RunResult r = RunRaw({"--db", db_, "import", "s", "-"}, {}, file);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 2 points into s"));
  EXPECT_EQ(Count("s"), 2u);
}

TEST_F(CliTest, ImportErrorNamesTheLineAndKeepsEarlierPoints) {
  Ok({"create", "j", "--dim", "3", "--metric", "l2"});
  std::string good;
  for (int i = 0; i < 5; ++i) {
    good += "{\"id\": " + std::to_string(i) + ", \"vector\": [1, 2, " + std::to_string(i) + "]}\n";
  }
  struct Case {
    std::string bad_line;
    std::string message;
  };
  const Case cases[] = {
      {R"({"id": 9, "vector": [1, 2]})", "the vector has 2 components, but collection 'j' has dimension 3"},
      {R"({"id": 9, "vector": [1, 2, )", "not valid JSON"},
      {R"({"vector": [1, 2, 3]})", "missing \"id\""},
      {R"({"id": -4, "vector": [1, 2, 3]})", "\"id\" must be a non-negative integer or a string"},
      {R"({"id": 1.5, "vector": [1, 2, 3]})", "\"id\" must be a non-negative integer or a string"},
      {R"({"id": 9})", "missing \"vector\""},
      {R"({"id": 9, "vector": [1, "x", 3]})", "vector component 1"},
      {R"({"id": 9, "vector": [1, 1e300, 3]})", "vector component 1 (1e+300) is outside the float range"},
      {R"({"id": 9, "vector": [1, 2, 3], "payload": [1]})", "\"payload\" must be a JSON object"},
      {R"([1, 2, 3])", "expected a JSON object"},
  };
  int round = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.bad_line);
    const std::string name = "j" + std::to_string(round++);
    Ok({"create", name, "--dim", "3", "--metric", "l2"});
    const std::string file = tmp_.Sub(name + ".jsonl");
    // Five good lines, a blank line (line 6), the bad one on line 7, one more good line.
    WriteText(file, good + "\n" + c.bad_line + "\n{\"id\": 100, \"vector\": [0, 0, 1]}\n");
    RunResult r = Run({"import", name, file, "--batch-size", "2"});
    std::string message = c.message;
    if (message.find("collection 'j'") != std::string::npos) {
      message.replace(message.find("'j'"), 3, "'" + name + "'");
    }
    EXPECT_ENGINE_ERROR(r, file + " line 7: " + message);
    EXPECT_THAT(r.err, HasSubstr("5 points imported before the error"));
    EXPECT_EQ(Count(name), 5u);  // everything before the bad line, nothing after it
  }
}

TEST_F(CliTest, ImportRecordTheEngineRejectsIsNamedByLine) {
  // A zero vector has no direction under cosine: the engine refuses the batch, and the tool
  // finds and names the record.
  Ok({"create", "cos", "--dim", "2", "--metric", "cosine"});
  const std::string file = tmp_.Sub("zero.jsonl");
  WriteText(file,
            "{\"id\": 1, \"vector\": [1, 0]}\n"
            "{\"id\": 2, \"vector\": [0, 1]}\n"
            "{\"id\": 3, \"vector\": [0, 0]}\n"
            "{\"id\": 4, \"vector\": [1, 1]}\n");
  RunResult r = Run({"import", "cos", file});
  EXPECT_ENGINE_ERROR(r, "InvalidArgument: " + file + " line 3: ");
  EXPECT_THAT(r.err, HasSubstr("zero"));
  EXPECT_THAT(r.err, HasSubstr("2 points imported before the error"));
  EXPECT_EQ(Count("cos"), 2u);
}

TEST_F(CliTest, ImportFvecsErrors) {
  Ok({"create", "four", "--dim", "4", "--metric", "l2"});
  // Wrong dimension.
  const std::string eight = tmp_.Sub("eight.fvecs");
  WriteVecs(eight, testing::RandomVectors(10, 8, 1), 8);
  RunResult r = Run({"import", "four", eight});
  EXPECT_ENGINE_ERROR(r, "row 0: the vector has dimension 8, but collection 'four' has dimension 4");
  EXPECT_THAT(r.err, HasSubstr("no points were imported"));
  EXPECT_EQ(Count("four"), 0u);

  // A truncated file: the rows before the cut are kept.
  const std::string cut = tmp_.Sub("cut.fvecs");
  WriteVecs(cut, testing::RandomVectors(10, 4, 2), 4);
  std::filesystem::resize_file(cut, 10 * (4 + 16) - 6);
  r = Run({"import", "four", cut});
  EXPECT_ENGINE_ERROR(r, "row 9: the file ends inside the vector");
  EXPECT_THAT(r.err, HasSubstr("9 points imported before the error"));
  EXPECT_EQ(Count("four"), 9u);

  // A NaN component.
  std::vector<float> nan_rows = testing::RandomVectors(3, 4, 3);
  nan_rows[2 * 4 + 1] = std::nanf("");
  const std::string nan = tmp_.Sub("nan.fvecs");
  WriteVecs(nan, nan_rows, 4);
  EXPECT_ENGINE_ERROR(Run({"import", "four", nan}), "row 2: component 1 is NaN");

  // A file that is not there, and a collection that is not there.
  EXPECT_ENGINE_ERROR(Run({"import", "four", tmp_.Sub("absent.fvecs")}), "absent.fvecs");
  EXPECT_ENGINE_ERROR(Run({"import", "nosuch", cut}), "collection nosuch not found");
}

// ---- search ----

class SearchTest : public CliTest {
 protected:
  static constexpr size_t kN = 200;
  static constexpr size_t kDim = 6;

  void SetUp() override {
    base_ = testing::RandomVectors(kN, kDim, 11);
    std::string lines;
    for (size_t i = 0; i < kN; ++i) {
      json row = {{"id", i},
                  {"vector", json::parse(VectorArg(base_, i, kDim))},
                  {"payload", {{"group", i % 3}, {"name", "p" + std::to_string(i)}}}};
      lines += row.dump() + "\n";
    }
    WriteText(tmp_.Sub("base.jsonl"), lines);
    Ok({"create", "s", "--dim", std::to_string(kDim), "--metric", "l2"});
    Ok({"import", "s", tmp_.Sub("base.jsonl")});
  }

  std::vector<float> base_;
};

TEST_F(SearchTest, HitsAreNearestFirst) {
  std::vector<json> out = JsonLines(Ok({"search", "s", "--vector", VectorArg(base_, 42, kDim),
                                        "-k", "20"}));
  ASSERT_EQ(out.size(), 1u);
  const json& hits = out[0]["hits"];
  ASSERT_EQ(hits.size(), 20u);
  EXPECT_EQ(hits[0]["id"], 42);
  for (size_t i = 1; i < hits.size(); ++i) {
    EXPECT_LE(hits[i - 1]["score"].get<double>(), hits[i]["score"].get<double>());
  }
  // The default k is 10; comma- and space-separated numbers work, negative ones too.
  std::string spaced;
  for (size_t j = 0; j < kDim; ++j) spaced += (j ? (j % 2 ? ", " : " ") : "") +
                                             std::to_string(base_[42 * kDim + j]);
  out = JsonLines(Ok({"search", "s", "--vector", spaced}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["hits"].size(), 10u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 42);
}

TEST_F(SearchTest, QueryFiles) {
  const size_t rows[] = {5, 77, 150};
  std::vector<float> queries;
  std::string jsonl;
  for (size_t i = 0; i < 3; ++i) {
    queries.insert(queries.end(), base_.begin() + rows[i] * kDim, base_.begin() + (rows[i] + 1) * kDim);
    // Bare arrays and {"vector": ...} objects may be mixed.
    jsonl += i % 2 ? "{\"vector\": " + VectorArg(base_, rows[i], kDim) + "}\n"
                   : VectorArg(base_, rows[i], kDim) + "\n";
  }
  WriteVecs(tmp_.Sub("q.fvecs"), queries, kDim);
  WriteText(tmp_.Sub("q.jsonl"), jsonl);
  for (const char* file : {"q.fvecs", "q.jsonl"}) {
    SCOPED_TRACE(file);
    std::vector<json> out = JsonLines(Ok({"search", "s", "--query", tmp_.Sub(file), "-k", "4"}));
    ASSERT_EQ(out.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(out[i]["query"], i);
      ASSERT_EQ(out[i]["hits"].size(), 4u);
      EXPECT_EQ(out[i]["hits"][0]["id"], rows[i]);
      EXPECT_EQ(out[i]["hits"][0]["score"], 0.0);
    }
  }
  // Many queries (several engine batches) keep their order.
  std::vector<float> many;
  for (size_t i = 0; i < 600; ++i) {
    size_t row = (i * 7) % kN;
    many.insert(many.end(), base_.begin() + row * kDim, base_.begin() + (row + 1) * kDim);
  }
  WriteVecs(tmp_.Sub("many.fvecs"), many, kDim);
  std::vector<json> out = JsonLines(Ok({"search", "s", "--query", tmp_.Sub("many.fvecs"), "-k", "1"}));
  ASSERT_EQ(out.size(), 600u);
  for (size_t i = 0; i < 600; ++i) {
    EXPECT_EQ(out[i]["query"], i);
    EXPECT_EQ(out[i]["hits"][0]["id"], (i * 7) % kN);
  }
  // A query file of the wrong dimension.
  WriteVecs(tmp_.Sub("wide.fvecs"), testing::RandomVectors(2, kDim + 1, 5), kDim + 1);
  EXPECT_ENGINE_ERROR(Run({"search", "s", "--query", tmp_.Sub("wide.fvecs")}),
                      "has dimension 7, but collection 's' has dimension 6");
  EXPECT_ENGINE_ERROR(Run({"search", "s", "--query", tmp_.Sub("absent.fvecs")}), "absent.fvecs");
}

TEST_F(SearchTest, QueryFileBvecs) {
  Ok({"create", "bytes", "--dim", "2", "--metric", "l2"});
  WriteText(tmp_.Sub("b.jsonl"),
            "{\"id\": 0, \"vector\": [0, 0]}\n{\"id\": 1, \"vector\": [10, 10]}\n"
            "{\"id\": 2, \"vector\": [200, 200]}\n");
  Ok({"import", "bytes", tmp_.Sub("b.jsonl")});
  WriteVecs(tmp_.Sub("q.bvecs"), std::vector<uint8_t>{9, 9, 190, 210}, 2);
  std::vector<json> out = JsonLines(Ok({"search", "bytes", "--query", tmp_.Sub("q.bvecs"), "-k", "1"}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 1);
  EXPECT_EQ(out[0]["hits"][0]["score"], 2.0);
  EXPECT_EQ(out[1]["hits"][0]["id"], 2);
}

TEST_F(SearchTest, FilterAndPayloads) {
  std::vector<json> out = JsonLines(Ok({"search", "s", "--vector", VectorArg(base_, 10, kDim),
                                        "-k", "15", "--filter", R"({"group": 1})",
                                        "--with-payload"}));
  ASSERT_EQ(out.size(), 1u);
  const json& hits = out[0]["hits"];
  ASSERT_EQ(hits.size(), 15u);
  EXPECT_EQ(hits[0]["id"], 10);  // 10 % 3 == 1
  for (const json& hit : hits) {
    EXPECT_EQ(hit["id"].get<size_t>() % 3, 1u);
    EXPECT_EQ(hit["payload"]["group"], 1);
    EXPECT_EQ(hit["payload"]["name"], "p" + std::to_string(hit["id"].get<size_t>()));
  }
  // Fewer matches than k: all of them.
  out = JsonLines(Ok({"search", "s", "--vector", VectorArg(base_, 10, kDim), "-k", "50",
                      "--filter", R"({"name": {"$in": ["p3", "p4"]}})"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["hits"].size(), 2u);

  EXPECT_ENGINE_ERROR(Run({"search", "s", "--vector", VectorArg(base_, 10, kDim), "--filter",
                           R"({"group": )"}),
                      "InvalidArgument: filter");
  EXPECT_ENGINE_ERROR(Run({"search", "s", "--vector", VectorArg(base_, 10, kDim), "--filter",
                           R"({"group": {"$between": 1}})"}),
                      "$between");
}

TEST_F(SearchTest, EngineErrors) {
  EXPECT_ENGINE_ERROR(Run({"search", "s", "--vector", "1,2,3"}),
                      "--vector has 3 components, but collection 's' has dimension 6");
  EXPECT_ENGINE_ERROR(Run({"search", "nosuch", "--vector", "1,2,3"}),
                      "NotFound: collection nosuch not found");
}

TEST_F(CliTest, CosineAndInnerProductScoresAreHighestFirst) {
  Ok({"create", "c", "--dim", "2", "--metric", "cosine"});
  Ok({"create", "i", "--dim", "2", "--metric", "ip"});
  const std::string file = tmp_.Sub("p.jsonl");
  WriteText(file,
            "{\"id\": 1, \"vector\": [1, 0]}\n{\"id\": 2, \"vector\": [1, 1]}\n"
            "{\"id\": 3, \"vector\": [0, 3]}\n{\"id\": 4, \"vector\": [-1, 0]}\n");
  Ok({"import", "c", file});
  Ok({"import", "i", file});
  std::vector<json> out = JsonLines(Ok({"search", "c", "--vector", "1,0.1", "-k", "4"}));
  ASSERT_EQ(out.size(), 1u);
  std::vector<int> ids;
  for (const json& hit : out[0]["hits"]) ids.push_back(hit["id"]);
  EXPECT_EQ(ids, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_NEAR(out[0]["hits"][3]["score"].get<double>(), -0.995, 1e-3);

  out = JsonLines(Ok({"search", "i", "--vector", "[0, 1]", "-k", "2"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 3);
  EXPECT_EQ(out[0]["hits"][0]["score"], 3.0);
  EXPECT_EQ(out[0]["hits"][1]["id"], 2);

  // A vector starting with a minus sign is still the value of --vector.
  out = JsonLines(Ok({"search", "c", "--vector", "-1,0.1", "-k", "1"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 4);
  out = JsonLines(Ok({"search", "c", "--vector=-1 -0.1", "-k=1"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 4);
}

// ---- approximate indexes and payload indexes ----

class AnnTest : public CliTest {
 protected:
  static constexpr size_t kN = 300;
  static constexpr size_t kDim = 8;

  void SetUp() override {
    base_ = testing::RandomVectors(kN, kDim, 21);
    std::string lines;
    for (size_t i = 0; i < kN; ++i) {
      json row = {{"id", i},
                  {"vector", json::parse(VectorArg(base_, i, kDim))},
                  {"payload", {{"group", i % 3}, {"name", "p" + std::to_string(i)}}}};
      lines += row.dump() + "\n";
    }
    WriteText(tmp_.Sub("base.jsonl"), lines);
  }

  // The one JSON line of `info name`.
  json Info(const std::string& name) {
    std::vector<json> lines = JsonLines(Ok({"info", name}));
    EXPECT_EQ(lines.size(), 1u);
    return lines.empty() ? json() : lines[0];
  }

  // The one result line of a search for stored point `row` with `extra` arguments.
  json SearchRow(const std::string& name, size_t row, std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", name, "--vector", VectorArg(base_, row, kDim)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<json> lines = JsonLines(Ok(args));
    EXPECT_EQ(lines.size(), 1u);
    return lines.empty() ? json() : lines[0];
  }

  std::vector<float> base_;
};

TEST_F(AnnTest, CreateWithHnswAndPayloadIndexes) {
  RunResult r = Run({"create", "h", "--dim", "8", "--metric", "l2", "--index", "hnsw16",
                     "--ef-construction", "64", "--payload-index", "group:integer",
                     "--payload-index", "name:keyword"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created collection h (dimension 8, metric l2, index HNSW16, "
                               "payload indexes group:integer, name:keyword)"));
  json info = Info("h");
  EXPECT_EQ(info["index"], "HNSW16");
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["count"], 0);

  r = Run({"import", "h", tmp_.Sub("base.jsonl"), "--batch-size", "64"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 300 points into h"));
  EXPECT_THAT(r.out, Not(HasSubstr("note:")));  // the index took the points as they came
  info = Info("h");
  EXPECT_EQ(info["count"], kN);
  EXPECT_EQ(info["index"], "HNSW16");
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["index_origin"], "checkpoint");  // saved on close, loaded by `info`
  EXPECT_GT(info["index_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(info["vector_bytes"].get<uint64_t>(), kN * kDim * sizeof(float));
  // list prints the same fields.
  std::vector<json> list = JsonLines(Ok({"list"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["index"], "HNSW16");
  EXPECT_EQ(list[0]["index_state"], "ready");
  for (const char* key : {"index_origin", "index_bytes", "vector_bytes"}) {
    EXPECT_TRUE(list[0].contains(key)) << key;
  }
  // An IVF collection, with one payload index of each type.
  r = Run({"create", "v", "--dim", "8", "--index", "IVF16,SQ8", "--payload-index", "a:float",
           "--payload-index", "b.c:bool"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("index IVF16,SQ8, payload indexes a:float, b.c:bool)"));
  EXPECT_EQ(Info("v")["index"], "IVF16,SQ8");
}

TEST_F(AnnTest, SearchPlanAndOptions) {
  Ok({"create", "h", "--dim", "8", "--metric", "l2", "--index", "HNSW16", "--payload-index",
      "group:integer"});
  Ok({"import", "h", tmp_.Sub("base.jsonl")});

  // Unfiltered: the HNSW index answers.
  json out = SearchRow("h", 42, {"-k", "5", "--plan"});
  ASSERT_EQ(out["hits"].size(), 5u);
  EXPECT_EQ(out["hits"][0]["id"], 42);
  const json& plan = out["plan"];
  EXPECT_EQ(plan["kind"], "index");
  EXPECT_EQ(plan["index"], "HNSW16");
  EXPECT_EQ(plan["matches"], kN);
  EXPECT_EQ(plan["filter_from_index"], false);
  EXPECT_GT(plan["distance_computations"].get<uint64_t>(), 0u);
  EXPECT_GE(plan["effort"].get<uint64_t>(), 5u);
  for (const char* key : {"kind", "index", "matches", "filter_from_index", "distance_computations",
                          "effort"}) {
    EXPECT_TRUE(plan.contains(key)) << key;
  }
  // No plan unless asked.
  EXPECT_FALSE(SearchRow("h", 42, {"-k", "5"}).contains("plan"));

  // --exact scores every point.
  json exact = SearchRow("h", 42, {"-k", "5", "--plan", "--exact"});
  EXPECT_EQ(exact["plan"]["kind"], "exact");
  EXPECT_EQ(exact["plan"]["index"], "Flat");
  EXPECT_EQ(exact["plan"]["distance_computations"], kN);
  EXPECT_EQ(exact["plan"]["effort"], 0);
  ASSERT_EQ(exact["hits"].size(), 5u);
  EXPECT_EQ(exact["hits"][0]["id"], 42);
  EXPECT_EQ(exact["hits"][0]["score"], 0.0);

  // --ef-search widens the walk; --nprobe is accepted (and ignored by HNSW).
  json wide = SearchRow("h", 42, {"-k", "5", "--plan", "--ef-search", "150", "--nprobe", "3"});
  EXPECT_EQ(wide["plan"]["kind"], "index");
  EXPECT_GE(wide["plan"]["effort"].get<uint64_t>(), 150u);
  EXPECT_EQ(wide["hits"][0]["id"], 42);
  // With a large ef on 300 points the walk finds the exact top 5.
  std::vector<json> exact_ids, wide_ids;
  for (const json& hit : exact["hits"]) exact_ids.push_back(hit["id"]);
  for (const json& hit : wide["hits"]) wide_ids.push_back(hit["id"]);
  EXPECT_EQ(wide_ids, exact_ids);

  // A filter on an indexed field is answered from the payload index.
  json filtered = SearchRow("h", 42, {"-k", "5", "--plan", "--filter", R"({"group": 0})"});
  EXPECT_EQ(filtered["plan"]["matches"], kN / 3);
  EXPECT_EQ(filtered["plan"]["filter_from_index"], true);
  for (const json& hit : filtered["hits"]) EXPECT_EQ(hit["id"].get<size_t>() % 3, 0u);
  // One on a field without an index reads the payloads.
  filtered = SearchRow("h", 42, {"-k", "5", "--plan", "--filter", R"({"name": "p7"})"});
  EXPECT_EQ(filtered["plan"]["matches"], 1);
  EXPECT_EQ(filtered["plan"]["filter_from_index"], false);
  EXPECT_EQ(filtered["plan"]["kind"], "exact");
  ASSERT_EQ(filtered["hits"].size(), 1u);
  EXPECT_EQ(filtered["hits"][0]["id"], 7);

  // --with-vector adds each hit's vector, next to the payload.
  json with = SearchRow("h", 42, {"-k", "2", "--with-vector", "--with-payload"});
  ASSERT_EQ(with["hits"].size(), 2u);
  ASSERT_EQ(with["hits"][0]["vector"].size(), kDim);
  for (size_t j = 0; j < kDim; ++j) {
    EXPECT_EQ(with["hits"][0]["vector"][j].get<float>(), base_[42 * kDim + j]);
  }
  EXPECT_EQ(with["hits"][0]["payload"]["name"], "p42");

  // A query file: one plan per line.
  std::vector<float> queries(base_.begin(), base_.begin() + 3 * kDim);
  WriteVecs(tmp_.Sub("q.fvecs"), queries, kDim);
  std::vector<json> lines =
      JsonLines(Ok({"search", "h", "--query", tmp_.Sub("q.fvecs"), "-k", "3", "--plan"}));
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i]["hits"][0]["id"], i);
    EXPECT_EQ(lines[i]["plan"]["kind"], "index");
  }
  lines = JsonLines(
      Ok({"search", "h", "--query", tmp_.Sub("q.fvecs"), "-k", "3", "--plan", "--exact"}));
  ASSERT_EQ(lines.size(), 3u);
  for (const json& line : lines) EXPECT_EQ(line["plan"]["kind"], "exact");

  // On a Flat collection every search is exact, and the ANN options are accepted.
  Ok({"create", "f", "--dim", "8", "--metric", "l2"});
  Ok({"import", "f", tmp_.Sub("base.jsonl")});
  json flat = SearchRow("f", 42, {"-k", "5", "--plan", "--ef-search", "10", "--nprobe", "2"});
  EXPECT_EQ(flat["plan"]["kind"], "exact");
  EXPECT_EQ(flat["plan"]["index"], "Flat");
  EXPECT_EQ(flat["hits"][0]["id"], 42);
}

TEST_F(AnnTest, IndexCommandSwitchesFlatToHnswAndBack) {
  Ok({"create", "s", "--dim", "8", "--metric", "l2"});
  Ok({"import", "s", tmp_.Sub("base.jsonl")});
  EXPECT_EQ(SearchRow("s", 9, {"--plan"})["plan"]["kind"], "exact");

  RunResult r = Run({"index", "s", "HNSW16", "--ef-construction", "80", "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("index of s set to HNSW16; building it from 300 points"));
  EXPECT_THAT(r.out, HasSubstr("index HNSW16 of s is ready"));
  EXPECT_EQ(r.err, "");  // no "building index..." line when stderr is not a terminal
  json info = Info("s");
  EXPECT_EQ(info["index"], "HNSW16");
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["index_origin"], "checkpoint");
  EXPECT_GT(info["index_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(info["count"], kN);
  json out = SearchRow("s", 9, {"--plan"});
  EXPECT_EQ(out["plan"]["kind"], "index");
  EXPECT_EQ(out["plan"]["index"], "HNSW16");
  EXPECT_EQ(out["hits"][0]["id"], 9);

  // Rebuild in place.
  r = Run({"reindex", "s", "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("rebuilding index HNSW16 of s from 300 points"));
  EXPECT_THAT(r.out, HasSubstr("index HNSW16 of s is ready"));
  EXPECT_EQ(Info("s")["index_state"], "ready");

  // Back to exact search.
  r = Run({"index", "s", "flat", "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("index of s set to Flat"));
  info = Info("s");
  EXPECT_EQ(info["index"], "Flat");
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["index_origin"], "none");
  EXPECT_EQ(info["index_bytes"], 0);
  out = SearchRow("s", 9, {"--plan"});
  EXPECT_EQ(out["plan"]["kind"], "exact");
  EXPECT_EQ(out["hits"][0]["id"], 9);
  EXPECT_THAT(Ok({"reindex", "s"}), HasSubstr("s has no index to rebuild"));

  // Without --wait the command returns at once; the configured index changes either way.
  r = Run({"index", "s", "HNSW8"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("index of s set to HNSW8"));
  EXPECT_EQ(Info("s")["index"], "HNSW8");
  // reindex --wait finishes whatever build the previous commands left.
  r = Run({"reindex", "s", "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  info = Info("s");
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["index_origin"], "checkpoint");
  EXPECT_EQ(SearchRow("s", 9, {"--plan"})["plan"]["index"], "HNSW8");

  EXPECT_ENGINE_ERROR(Run({"index", "nosuch", "HNSW16"}), "collection nosuch not found");
  EXPECT_ENGINE_ERROR(Run({"reindex", "nosuch"}), "collection nosuch not found");
  // An engine rejection leaves the index as it was.
  EXPECT_ENGINE_ERROR(Run({"index", "s", "HNSW1"}), "m must be 2..128");
  EXPECT_EQ(Info("s")["index"], "HNSW8");
}

TEST_F(AnnTest, PqThatDoesNotDivideTheDimensionIsAnEngineError) {
  RunResult r = Run({"create", "p", "--dim", "10", "--index", "IVF16,PQ3"});
  EXPECT_ENGINE_ERROR(r, "InvalidArgument");
  EXPECT_THAT(r.err, HasSubstr("pq_m 3 must divide the dimension 10"));
  EXPECT_EQ(r.out, "");
  // Nothing was created.
  EXPECT_EQ(JsonLines(Ok({"list"})).size(), 0u);
  // The same through `index`.
  Ok({"create", "s", "--dim", "8"});
  r = Run({"index", "s", "IVF16,PQ3", "--wait"});
  EXPECT_ENGINE_ERROR(r, "pq_m 3 must divide the dimension 8");
  EXPECT_EQ(Info("s")["index"], "Flat");
  // A divisor is fine.
  EXPECT_THAT(Ok({"create", "p", "--dim", "10", "--index", "IVF16,PQ5"}), HasSubstr("IVF16,PQ5"));
}

TEST_F(AnnTest, PayloadIndexTypeViolationOnImportNamesTheLine) {
  Ok({"create", "y", "--dim", "2", "--metric", "l2", "--payload-index", "year:integer",
      "--payload-index", "tags:keyword"});
  const std::string file = tmp_.Sub("years.jsonl");
  WriteText(file,
            "{\"id\": 1, \"vector\": [1, 0], \"payload\": {\"year\": 2001, \"tags\": [\"a\"]}}\n"
            "{\"id\": 2, \"vector\": [0, 1], \"payload\": {\"tags\": \"b\"}}\n"
            "{\"id\": 3, \"vector\": [1, 1], \"payload\": {\"year\": \"two thousand\"}}\n"
            "{\"id\": 4, \"vector\": [2, 1], \"payload\": {\"year\": 2004}}\n");
  RunResult r = Run({"import", "y", file});
  EXPECT_ENGINE_ERROR(r, "InvalidArgument: " + file + " line 3: ");
  EXPECT_THAT(r.err, HasSubstr("year is declared integer"));
  EXPECT_THAT(r.err, HasSubstr("2 points imported before the error"));
  EXPECT_EQ(Count("y"), 2u);

  // Array elements must have the declared type too, and an integer field takes whole numbers.
  WriteText(file, "{\"id\": 5, \"vector\": [1, 0], \"payload\": {\"tags\": [\"a\", 7]}}\n");
  r = Run({"import", "y", file});
  EXPECT_ENGINE_ERROR(r, file + " line 1: ");
  EXPECT_THAT(r.err, HasSubstr("tags is declared keyword"));
  WriteText(file, "{\"id\": 6, \"vector\": [1, 0], \"payload\": {\"year\": 2000.5}}\n");
  EXPECT_ENGINE_ERROR(Run({"import", "y", file}), "year is declared integer");
  EXPECT_EQ(Count("y"), 2u);

  // The indexed field filters, answered from the index.
  std::vector<json> out = JsonLines(Ok({"search", "y", "--vector", "0,0", "--plan", "--filter",
                                        R"({"year": {"$gte": 2000}})"}));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0]["hits"].size(), 1u);
  EXPECT_EQ(out[0]["hits"][0]["id"], 1);
  EXPECT_EQ(out[0]["plan"]["filter_from_index"], true);
}

TEST_F(AnnTest, ImportNotesAnIndexThatIsNotReadyAndWaitBuildsIt) {
  // IVF trains on the stored points once there are enough (1,000 for IVF4).
  Ok({"create", "v", "--dim", "8", "--metric", "l2", "--index", "IVF4"});
  RunResult r = Run({"import", "v", tmp_.Sub("base.jsonl")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 300 points into v"));
  EXPECT_THAT(r.out, HasSubstr("note: index IVF4 of v is"));
  EXPECT_THAT(r.out, HasSubstr("--wait"));
  // --wait tries to train now: too few points.
  r = Run({"import", "v", tmp_.Sub("base.jsonl"), "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("index IVF4 of v needs more points to train (it has 300)"));
  EXPECT_EQ(SearchRow("v", 5, {"--plan"})["plan"]["kind"], "exact");

  const size_t n = 1500;
  std::vector<float> more = testing::RandomVectors(n, kDim, 22);
  WriteVecs(tmp_.Sub("more.fvecs"), more, kDim);
  r = Run({"import", "v", tmp_.Sub("more.fvecs"), "--wait"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 1500 points into v"));
  EXPECT_THAT(r.out, Not(HasSubstr("note:")));
  json info = Info("v");
  EXPECT_EQ(info["count"], n);  // the fvecs row ids 0..1499 replaced the 300 points
  EXPECT_EQ(info["index_state"], "ready");
  EXPECT_EQ(info["index_origin"], "checkpoint");
  std::vector<json> out = JsonLines(Ok({"search", "v", "--vector", VectorArg(more, 77, kDim),
                                        "--plan", "--nprobe", "2", "-k", "3"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["plan"]["kind"], "index");
  EXPECT_EQ(out[0]["plan"]["index"], "IVF4");
  EXPECT_EQ(out[0]["plan"]["effort"], 2);
  EXPECT_EQ(out[0]["hits"][0]["id"], 77);
}

TEST_F(AnnTest, BuildingIndexShownOnATerminal) {
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "needs util-linux script(1)";
  Ok({"create", "t", "--dim", "8", "--metric", "l2"});
  Ok({"import", "t", tmp_.Sub("base.jsonl")});
  const std::string command =
      std::string(SEXTANT_CLI_PATH) + " --db " + db_ + " index t HNSW16 --wait";
  const std::string log = tmp_.Sub("script.out");
  std::string shell = "/usr/bin/script -qec '" + command + "' /dev/null > " + log + " 2>&1";
  ASSERT_EQ(std::system(shell.c_str()), 0);
  std::string text = ReadFile(log);
  EXPECT_THAT(text, HasSubstr("building index HNSW16 of t"));
  EXPECT_THAT(text, HasSubstr("index HNSW16 of t is ready"));
}

// ---- get / delete ----

TEST_F(CliTest, GetAndDelete) {
  Ok({"create", "g", "--dim", "2", "--metric", "l2"});
  const std::string file = tmp_.Sub("p.jsonl");
  WriteText(file,
            "{\"id\": 1, \"vector\": [1, 0]}\n{\"id\": 2, \"vector\": [0, 1]}\n"
            "{\"id\": \"x\", \"vector\": [1, 1]}\n{\"id\": \"3\", \"vector\": [2, 2]}\n");
  Ok({"import", "g", file});

  RunResult r = Run({"get", "g", "1", "5"});
  EXPECT_ENGINE_ERROR(r, "NotFound: point 5 not found");
  EXPECT_EQ(r.out, "");  // nothing printed for the ids that were found either

  // Absent ids are skipped: 1 and "x" are deleted, 999 and the number 3 do not exist.
  std::vector<json> out = JsonLines(Ok({"delete", "g", "1", "x", "999", "3"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], json::parse(R"({"deleted":2})"));
  EXPECT_EQ(Count("g"), 2u);
  EXPECT_ENGINE_ERROR(Run({"get", "g", "1"}), "NotFound");

  out = JsonLines(Ok({"delete", "g", "3", "--string-ids"}));
  EXPECT_EQ(out[0]["deleted"], 1);
  out = JsonLines(Ok({"get", "g", "2"}));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["id"], 2);
  EXPECT_ENGINE_ERROR(Run({"delete", "nosuch", "1"}), "collection nosuch not found");
}

// ---- demo ----

TEST_F(CliTest, DemoRunsInTheGivenDatabase) {
  RunResult r = Run({"demo"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Created collection \"demo\""));
  EXPECT_THAT(r.out, HasSubstr("20,000 points"));
  EXPECT_THAT(r.out, HasSubstr("5 of 5 hits are in cluster 3"));
  EXPECT_THAT(r.out, HasSubstr("5 of 5 hits match the filter"));
  EXPECT_THAT(r.out, HasSubstr("an HNSW16 index"));
  EXPECT_THAT(r.out, HasSubstr("a payload index on \"cluster\" (integer)"));
  // The plans of the plain and the filtered searches.
  EXPECT_THAT(r.out, HasSubstr("plan: walked the HNSW16 index"));
  EXPECT_THAT(r.out, HasSubstr("plan: exact: scored the "));
  EXPECT_THAT(r.out, HasSubstr("the filter was answered from the payload index alone"));
  // The exact batch finds every stored point first; the index's recall is printed.
  EXPECT_THAT(r.out, HasSubstr("exact: 200 of 200 found themselves first"));
  const size_t at = r.out.find("recall@10 ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const double recall = std::strtod(r.out.c_str() + at + 10, nullptr);
  EXPECT_GE(recall, 0.9) << r.out;
  EXPECT_LE(recall, 1.0);
  EXPECT_EQ(r.err, "");
  std::vector<json> list = JsonLines(Ok({"list"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "demo");
  EXPECT_EQ(list[0]["count"], 19900);
  EXPECT_EQ(list[0]["index"], "HNSW16");
  EXPECT_EQ(list[0]["index_state"], "ready");
  EXPECT_EQ(list[0]["index_origin"], "checkpoint");

  // A second run does not touch the existing collection.
  EXPECT_ENGINE_ERROR(Run({"demo"}), "AlreadyExists: collection demo already exists");
  EXPECT_EQ(Count("demo"), 19900u);
  EXPECT_USAGE_ERROR(Run({"demo", "extra"}), "too many arguments");
}

TEST_F(CliTest, DemoWithoutDatabaseUsesATemporaryDirectory) {
  const std::string tmpdir = tmp_.Sub("t");
  std::filesystem::create_directories(tmpdir);
  RunResult r = RunRaw({"demo"}, {{"TMPDIR", tmpdir}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("a new temporary directory"));
  EXPECT_THAT(r.out, HasSubstr(tmpdir + "/sextant-demo-"));
  EXPECT_FALSE(std::filesystem::is_empty(tmpdir));
}

// ---- progress bar on a terminal ----

TEST_F(CliTest, ProgressBarOnlyOnATerminal) {
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "needs util-linux script(1)";
  Ok({"create", "p", "--dim", "4", "--metric", "l2"});
  WriteVecs(tmp_.Sub("p.fvecs"), testing::RandomVectors(3000, 4, 9), 4);
  // script(1) runs the command on a pseudo-terminal and copies what it prints.
  const std::string command = std::string(SEXTANT_CLI_PATH) + " --db " + db_ + " import p " +
                              tmp_.Sub("p.fvecs") + " --batch-size 500";
  const std::string log = tmp_.Sub("script.out");
  std::string shell = "/usr/bin/script -qec '" + command + "' /dev/null > " + log + " 2>&1";
  ASSERT_EQ(std::system(shell.c_str()), 0);
  std::string text = ReadFile(log);
  EXPECT_THAT(text, HasSubstr("importing p: 500/3000 (16%)"));
  EXPECT_THAT(text, HasSubstr("imported 3000 points into p"));
}

// ---- the real data set ----

TEST_F(CliTest, SiftSmallExactRecall) {
  SEXTANT_REQUIRE_DATA(base, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(groundtruth, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t gt_dim = 0;
  std::vector<int32_t> gt = testing::ReadVecs<int32_t>(groundtruth, &gt_dim);
  ASSERT_EQ(gt_dim, 100u);
  const size_t num_queries = gt.size() / gt_dim;
  ASSERT_EQ(num_queries, 100u);

  Ok({"create", "sift", "--dim", "128", "--metric", "l2"});
  RunResult r = Run({"import", "sift", base});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("imported 10000 points into sift"));

  r = Run({"search", "sift", "--query", query, "-k", "100"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<json> out = JsonLines(r.out);
  ASSERT_EQ(out.size(), num_queries);
  size_t found = 0;
  for (size_t q = 0; q < num_queries; ++q) {
    ASSERT_EQ(out[q]["query"], q);
    const json& hits = out[q]["hits"];
    ASSERT_EQ(hits.size(), 100u);
    std::set<int64_t> ids;
    double last = -1;
    for (const json& hit : hits) {
      ids.insert(hit["id"].get<int64_t>());
      EXPECT_GE(hit["score"].get<double>(), last);
      last = hit["score"].get<double>();
    }
    for (size_t j = 0; j < gt_dim; ++j) found += ids.count(gt[q * gt_dim + j]);
  }
  double recall = static_cast<double>(found) / (num_queries * gt_dim);
  // Exact search; the ground truth orders some equal distances differently (~0.2% of ids).
  EXPECT_GE(recall, 0.998) << "recall@100 = " << recall;
}


TEST_F(CliTest, SiftSmallHnswRecall) {
  SEXTANT_REQUIRE_DATA(base, "siftsmall/siftsmall_base.fvecs");
  SEXTANT_REQUIRE_DATA(query, "siftsmall/siftsmall_query.fvecs");
  SEXTANT_REQUIRE_DATA(groundtruth, "siftsmall/siftsmall_groundtruth.ivecs");
  size_t gt_dim = 0;
  std::vector<int32_t> gt = testing::ReadVecs<int32_t>(groundtruth, &gt_dim);
  const size_t num_queries = gt.size() / gt_dim;
  ASSERT_EQ(num_queries, 100u);

  Ok({"create", "sift", "--dim", "128", "--metric", "l2", "--index", "HNSW16"});
  RunResult r = Run({"import", "sift", base});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Count("sift"), 10000u);

  // recall@10 against the ground truth's top 10, at the default ef and a wider one.
  auto recall = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"search", "sift", "--query", query, "-k", "10", "--plan"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult s = Run(args);
    EXPECT_EQ(s.code, 0) << s.err;
    std::vector<json> out = JsonLines(s.out);
    EXPECT_EQ(out.size(), num_queries);
    size_t found = 0;
    for (size_t q = 0; q < out.size() && q < num_queries; ++q) {
      EXPECT_EQ(out[q]["plan"]["kind"], extra.empty() || extra[0] != "--exact" ? "index" : "exact");
      std::set<int64_t> truth(gt.begin() + q * gt_dim, gt.begin() + q * gt_dim + 10);
      for (const json& hit : out[q]["hits"]) found += truth.count(hit["id"].get<int64_t>());
    }
    return static_cast<double>(found) / (num_queries * 10);
  };
  const double at_default = recall({});
  const double at_128 = recall({"--ef-search", "128"});
  const double exact = recall({"--exact"});
  EXPECT_GE(at_default, 0.9) << "recall@10 at the default ef_search";
  EXPECT_GE(at_128, 0.97) << "recall@10 at ef_search 128";
  EXPECT_GE(exact, 0.99) << "recall@10 of exact search";
}

// ---- ingest / ask: text collections ----

class RagCliTest : public CliTest {
 protected:
  void SetUp() override {
    docs_ = tmp_.Sub("docs");
    std::filesystem::create_directories(docs_ + "/cooking");
    std::filesystem::create_directories(docs_ + "/.git");
    WriteText(docs_ + "/volcanoes.md",
              "# Volcanoes\n\nKrakatoa is a volcano in Indonesia. Krakatoa erupted violently in "
              "August 1883, and the explosion was heard nearly 4,800 kilometres away.\n\n"
              "Mount Vesuvius buried the Roman town of Pompeii in the year 79.\n");
    WriteText(docs_ + "/cooking/bread.txt",
              "Sourdough bread rises with a starter of wild yeast and lactic acid bacteria. Knead "
              "the dough, let it proof overnight in the fridge, and bake it in a hot Dutch oven.\n");
    WriteText(docs_ + "/cooking/tea.md",
              "Green tea should be brewed with water at about 80 degrees Celsius for two "
              "minutes; boiling water makes it bitter.\n");
    WriteText(docs_ + "/astronomy.rst",
              "Jupiter is the largest planet in the solar system. Its Great Red Spot is a storm "
              "larger than the Earth.\n");
    WriteText(docs_ + "/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    WriteText(docs_ + "/latin1.txt", "caf\xe9 cr\xe8me\n");  // not UTF-8
    WriteText(docs_ + "/.git/config", "[core]\n");            // hidden: not even counted
  }

  // The answer of `ask NAME QUESTION --json [extra...]`, parsed.
  json AskJson(const std::string& name, const std::string& question,
               std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"ask", name, question, "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<json> lines = JsonLines(Ok(args));
    EXPECT_EQ(lines.size(), 1u);
    return lines.empty() ? json() : lines[0];
  }

  // The number of chunks of document `id` (a filtered ask with a large k).
  size_t ChunksOf(const std::string& name, const std::string& id) {
    json filter = {{"document_id", id}};
    json answer = AskJson(name, "anything at all", {"-k", "1000", "--filter", filter.dump()});
    return answer["citations"].size();
  }

  std::string docs_;
};

TEST_F(RagCliTest, IngestFolderThenAskCitesTheFileThatHoldsTheAnswer) {
  RunResult r = Run({"ingest", "kb", docs_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created text collection kb (embedder hash:"));
  EXPECT_THAT(r.out, HasSubstr("ingested 4 documents (4 chunks, 0 replaced) into kb in "));
  EXPECT_THAT(r.out, HasSubstr("chunks/s)"));
  EXPECT_THAT(r.out, HasSubstr("skipped 1 file that is not text or Markdown (by extension) and 1 "
                               "file that is not UTF-8 text"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Count("kb"), 4u);
  // info shows the recorded embedder and chunking.
  std::vector<json> info = JsonLines(Ok({"info", "kb"}));
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0]["properties"]["sextant.text"]["embedder"]["kind"], "hash");
  EXPECT_EQ(info[0]["properties"]["sextant.text"]["chunker"]["chunk_tokens"], 256);
  EXPECT_EQ(info[0]["index"], "HNSW16");

  // Each chunk is a point "<document>#<chunk>" with the document id relative to the folder and
  // the file's path and size as metadata.
  std::vector<json> got = JsonLines(Ok({"get", "kb", "cooking/tea.md#0"}));
  ASSERT_EQ(got.size(), 1u);
  const json& payload = got[0]["payload"];
  EXPECT_EQ(payload["document_id"], "cooking/tea.md");
  EXPECT_EQ(payload["chunk"], 0);
  EXPECT_EQ(payload["metadata"]["path"], docs_ + "/cooking/tea.md");
  EXPECT_EQ(payload["metadata"]["bytes"], std::filesystem::file_size(docs_ + "/cooking/tea.md"));
  EXPECT_THAT(payload["text"].get<std::string>(), HasSubstr("Green tea"));

  json answer = AskJson("kb", "When did Krakatoa erupt?");
  ASSERT_TRUE(answer.is_object());
  EXPECT_EQ(answer["question"], "When did Krakatoa erupt?");
  EXPECT_THAT(answer["answer"].get<std::string>(), HasSubstr("1883"));
  EXPECT_EQ(answer["generator"], "extractive");
  EXPECT_THAT(answer["embedder"].get<std::string>(), HasSubstr("hash:"));
  ASSERT_EQ(answer["citations"].size(), 4u);  // k = 5, but there are 4 chunks
  EXPECT_EQ(answer["citations"][0]["number"], 1);
  EXPECT_EQ(answer["citations"][0]["document_id"], "volcanoes.md");
  EXPECT_EQ(answer["citations"][0]["chunk"], 0);
  EXPECT_EQ(answer["citations"][0]["cited"], true);
  EXPECT_THAT(answer["citations"][0]["text"].get<std::string>(), HasSubstr("Krakatoa erupted"));
  for (size_t i = 1; i < answer["citations"].size(); ++i) {
    EXPECT_LE(answer["citations"][i]["score"].get<double>(),
              answer["citations"][i - 1]["score"].get<double>());
  }
  for (const char* stage : {"embed_ms", "retrieve_ms", "generate_ms", "total_ms"}) {
    ASSERT_TRUE(answer["timings"][stage].is_number()) << stage;
    EXPECT_GE(answer["timings"][stage].get<double>(), 0.0) << stage;
  }

  // The same for people: the answer, then the sources, then the timings.
  r = Run({"ask", "kb", "When did Krakatoa erupt?", "-k", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const size_t answer_at = r.out.find("1883");
  const size_t sources_at = r.out.find("\nsources:\n[1] volcanoes.md #0  score ");
  const size_t timings_at = r.out.find("timings: embed ");
  ASSERT_NE(answer_at, std::string::npos) << r.out;
  ASSERT_NE(sources_at, std::string::npos) << r.out;
  ASSERT_NE(timings_at, std::string::npos) << r.out;
  EXPECT_LT(answer_at, sources_at);
  EXPECT_LT(sources_at, timings_at);
  EXPECT_THAT(r.out, HasSubstr("    # Volcanoes Krakatoa is a volcano in Indonesia."));
  EXPECT_THAT(r.out, HasSubstr("\n[2] "));
  EXPECT_THAT(r.out, Not(HasSubstr("\n[3] ")));  // -k 2
  EXPECT_THAT(r.out, HasSubstr(", retrieve "));
  EXPECT_THAT(r.out, HasSubstr(", generate "));

  // A filter on the document id (or any metadata field) keeps the other files out.
  json filtered = AskJson("kb", "When did Krakatoa erupt?",
                          {"--filter", R"({"document_id": "cooking/tea.md"})"});
  ASSERT_EQ(filtered["citations"].size(), 1u);
  EXPECT_EQ(filtered["citations"][0]["document_id"], "cooking/tea.md");
  filtered = AskJson("kb", "What makes bread rise?",
                     {"--filter", json({{"metadata.path", docs_ + "/cooking/bread.txt"}}).dump()});
  ASSERT_EQ(filtered["citations"].size(), 1u);
  EXPECT_EQ(filtered["citations"][0]["document_id"], "cooking/bread.txt");

  // Other questions find their own files.
  EXPECT_EQ(AskJson("kb", "What is the largest planet?")["citations"][0]["document_id"],
            "astronomy.rst");
  EXPECT_EQ(AskJson("kb", "How hot should the water be for green tea?")["citations"][0]["document_id"],
            "cooking/tea.md");
}

TEST_F(RagCliTest, ReingestReplacesTheChunksOfChangedFiles) {
  // Small chunks so that a document has several.
  Ok({"ingest", "kb", docs_, "--chunk-tokens", "12", "--overlap", "2"});
  const uint64_t before = Count("kb");
  const size_t volcano_chunks = ChunksOf("kb", "volcanoes.md");
  ASSERT_GE(volcano_chunks, 3u);
  ASSERT_GT(before, 4u);

  // The same files again: every chunk is replaced by an identical one.
  RunResult r = Run({"ingest", "kb", docs_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("created")));
  EXPECT_THAT(r.out, HasSubstr("ingested 4 documents (" + std::to_string(before) + " chunks, " +
                               std::to_string(before) + " replaced)"));
  EXPECT_EQ(Count("kb"), before);

  // Change one file and ingest just that file (its id is its file name, as in the folder).
  WriteText(docs_ + "/volcanoes.md", "Mount Etna in Sicily erupts often.\n");
  r = Run({"ingest", "kb", docs_ + "/volcanoes.md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ingested 1 document (1 chunk, " + std::to_string(volcano_chunks) +
                               " replaced)"));
  EXPECT_EQ(Count("kb"), before - volcano_chunks + 1);
  EXPECT_EQ(ChunksOf("kb", "volcanoes.md"), 1u);
  EXPECT_ENGINE_ERROR(Run({"get", "kb", "volcanoes.md#1"}), "NotFound");

  json answer = AskJson("kb", "When did Krakatoa erupt?", {"-k", "100"});
  for (const json& c : answer["citations"]) {
    EXPECT_THAT(c["text"].get<std::string>(), Not(HasSubstr("Krakatoa")));
  }
  answer = AskJson("kb", "Which volcano in Sicily erupts often?");
  EXPECT_EQ(answer["citations"][0]["document_id"], "volcanoes.md");
  EXPECT_THAT(answer["citations"][0]["text"].get<std::string>(), HasSubstr("Etna"));

  // An emptied file removes the document's chunks.
  WriteText(docs_ + "/volcanoes.md", "");
  r = Run({"ingest", "kb", docs_ + "/volcanoes.md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(0 chunks, 1 replaced)"));
  EXPECT_EQ(Count("kb"), before - volcano_chunks);
}

TEST_F(RagCliTest, ChatAnswersEachLineWithTheEarlierTurnsAsHistory) {
  ASSERT_EQ(Run({"ingest", "kb", docs_}).code, 0);
  const std::string input = tmp_.Sub("turns.txt");
  WriteText(input, "When did Krakatoa erupt?\n\n  and how far away was it heard?  \n/reset\nWhat about it?\n/exit\nnever read\n");
  RunResult r = RunRaw({"--db", db_, "chat", "kb", "-k", "2", "--system", "Be brief."}, {}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("1883"));
  EXPECT_THAT(r.out, HasSubstr("[1] volcanoes.md #0"));
  // The follow-up was searched for together with the question it leans on.
  EXPECT_THAT(r.out, HasSubstr("(searched for: When did Krakatoa erupt? and how far away was it heard?)"));
  EXPECT_THAT(r.out, HasSubstr("(history cleared)"));
  // After /reset the follow-up has nothing to lean on.
  EXPECT_THAT(r.out, Not(HasSubstr("(searched for: how far away was it heard? What about it?)")));
  EXPECT_THAT(r.out, Not(HasSubstr("never read")));

  EXPECT_USAGE_ERROR(Run({"chat", "kb", "--json"}), "option --json does not apply to 'chat'");
  EXPECT_USAGE_ERROR(Run({"chat", "kb", "-k", "0"}), "-k must be an integer");
  EXPECT_USAGE_ERROR(Run({"chat"}), "missing argument");
  RunResult missing = RunRaw({"--db", db_, "chat", "nope"}, {}, input);
  EXPECT_NE(missing.code, 0);
  EXPECT_THAT(missing.err, HasSubstr("nope"));
}

TEST_F(RagCliTest, ChatKeepsAConversationInTheDatabase) {
  ASSERT_EQ(Run({"ingest", "kb", docs_}).code, 0);
  const std::string first = tmp_.Sub("first.txt");
  WriteText(first, "When did Krakatoa erupt?\n");
  RunResult r = RunRaw({"--db", db_, "chat", "kb", "-k", "2", "--system", "Be brief.", "--conversation", "c:1"}, {},
                       first);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1883"));
  // Another run continues it: the follow-up leans on the stored turn.
  const std::string next = tmp_.Sub("next.txt");
  WriteText(next, "and how far away was it heard?\n");
  r = RunRaw({"--db", db_, "chat", "kb", "-k", "2", "--conversation", "c:1"}, {}, next);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(continuing conversation c:1: 3 messages)"));
  EXPECT_THAT(r.out, HasSubstr("(searched for: When did Krakatoa erupt? and how far away was it heard?)"));
  // --system only starts one; another collection cannot continue it; a bad id is a usage error.
  r = RunRaw({"--db", db_, "chat", "kb", "--system", "Be long.", "--conversation", "c:1"}, {}, next);
  EXPECT_ENGINE_ERROR(r, "--system starts a conversation, and c:1 exists (5 messages)");
  ASSERT_EQ(Run({"ingest", "kb2", docs_ + "/cooking"}).code, 0);
  EXPECT_ENGINE_ERROR(RunRaw({"--db", db_, "chat", "kb2", "--conversation", "c:1"}, {}, next),
                      "conversation c:1 belongs to collection kb, not kb2");
  EXPECT_USAGE_ERROR(Run({"chat", "kb", "--conversation", "a b"}), "--conversation: ");
  EXPECT_USAGE_ERROR(Run({"chat", "kb", "--conversation", ""}), "--conversation: ");
  // /reset deletes it: the next question starts afresh.
  const std::string reset = tmp_.Sub("reset.txt");
  WriteText(reset, "/reset\nand how far away was it heard?\n");
  r = RunRaw({"--db", db_, "chat", "kb", "--conversation", "c:1"}, {}, reset);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(conversation c:1 deleted)"));
  EXPECT_THAT(r.out, Not(HasSubstr("Krakatoa erupt? and how far")));
  r = RunRaw({"--db", db_, "chat", "kb", "--conversation", "c:1"}, {}, next);
  EXPECT_THAT(r.out, HasSubstr("(continuing conversation c:1: 2 messages)"));
}

// A one-request OpenAI-compatible /v1/chat/completions (not streamed): records the request's
// body and answers `content`.
class OneShotLlm {
 public:
  explicit OneShotLlm(std::string content) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 1);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, content = std::move(content)] {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t need = std::string::npos;
      while (need == std::string::npos || in.size() < need) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        const size_t end = in.find("\r\n\r\n");
        const size_t at = in.find("Content-Length: ");
        if (need == std::string::npos && end != std::string::npos && at != std::string::npos && at < end) {
          need = end + 4 + std::stoul(in.substr(at + 16));
        }
      }
      const size_t end = in.find("\r\n\r\n");
      body_ = end == std::string::npos ? "" : in.substr(end + 4);
      const std::string reply = json{{"choices", {{{"index", 0}, {"finish_reason", "stop"},
                                                    {"message", {{"role", "assistant"}, {"content", content}}}}}}}.dump();
      const std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(reply.size()) + "\r\nConnection: close\r\n\r\n" + reply;
      (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      close(c);
    });
  }
  ~OneShotLlm() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  json request() {  // after the tool has exited
    shutdown(fd_, SHUT_RDWR);  // no request came: accept returns
    thread_.join();
    thread_ = std::thread([] {});
    return json::parse(body_, nullptr, false);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::string body_;
  std::thread thread_;
};

TEST_F(RagCliTest, GenerationSettingsReachTheModel) {
  ASSERT_EQ(Run({"ingest", "kb", docs_}).code, 0);
  OneShotLlm llm("In 1883 [1].");
  json answer = AskJson("kb", "When did Krakatoa erupt?",
                        {"--generator", "openai", "--llm-url", llm.url(), "--llm-model", "base", "--temperature",
                         "0.25", "--max-tokens", "7", "--stop", "END", "--stop", "##", "--seed", "-3", "--model",
                         "other"});
  EXPECT_EQ(answer["answer"], "In 1883 [1].");
  EXPECT_EQ(answer["generator"], "openai:other");
  json sent = llm.request();
  ASSERT_TRUE(sent.is_object()) << sent;
  EXPECT_EQ(sent["model"], "other");
  EXPECT_EQ(sent["temperature"], 0.25);
  EXPECT_EQ(sent["max_tokens"], 7);
  EXPECT_EQ(sent["stop"], json({"END", "##"}));
  EXPECT_EQ(sent["seed"], -3);

  const std::vector<std::string> openai = {"--generator", "openai", "--llm-model", "m"};
  auto usage = [&](std::vector<std::string> args, const std::string& command = "ask") {
    std::vector<std::string> all = {command, "kb"};
    if (command == "ask") all.push_back("why?");
    all.insert(all.end(), openai.begin(), openai.end());
    all.insert(all.end(), args.begin(), args.end());
    return Run(all);
  };
  EXPECT_USAGE_ERROR(usage({"--temperature", "2.5"}), "--temperature must be a number in [0, 2], got '2.5'");
  EXPECT_USAGE_ERROR(usage({"--temperature", "-0.1"}), "--temperature must be a number in [0, 2]");
  EXPECT_USAGE_ERROR(usage({"--temperature", "warm"}, "chat"), "--temperature must be a number in [0, 2]");
  EXPECT_USAGE_ERROR(usage({"--temperature", "nan"}), "--temperature must be a number in [0, 2]");
  EXPECT_USAGE_ERROR(usage({"--max-tokens", "0"}), "--max-tokens must be an integer in 1..4294967295, got '0'");
  EXPECT_USAGE_ERROR(usage({"--max-tokens", "4294967296"}, "chat"), "--max-tokens must be an integer");
  EXPECT_USAGE_ERROR(usage({"--stop", "a", "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e"}),
                     "--stop may be given at most 4 times, got 5");
  EXPECT_USAGE_ERROR(usage({"--stop", ""}), "--stop must be 1..64 bytes");
  EXPECT_USAGE_ERROR(usage({"--stop", std::string(65, 's')}, "chat"), "--stop must be 1..64 bytes");
  EXPECT_USAGE_ERROR(usage({"--seed", "1.5"}), "--seed must be a 64-bit integer, got '1.5'");
  EXPECT_USAGE_ERROR(usage({"--seed", "99999999999999999999"}), "--seed must be a 64-bit integer");
  EXPECT_USAGE_ERROR(usage({"--model", ""}), "--model must be 1..256 bytes");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--temperature", "0.5"}),
                     "--temperature, --max-tokens, --stop, --seed and --model apply to --generator openai");
  EXPECT_USAGE_ERROR(Run({"chat", "kb", "--seed", "1"}), "apply to --generator openai");
}

TEST_F(RagCliTest, UsageErrors) {
  EXPECT_USAGE_ERROR(Run({"ingest", "kb"}), "missing argument: usage: sextant ingest NAME PATH");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--embedder", "word2vec"}),
                     "--embedder must be hash or local, got 'word2vec'");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--chunk-tokens", "4"}), "--chunk-tokens must be");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--chunk-tokens", "many"}),
                     "--chunk-tokens must be");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--chunk-tokens", "64", "--overlap", "32"}),
                     "--overlap must be less than half of the chunk size (64 tokens), got 32");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--overlap", "-1"}), "--overlap must be");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "--index", "HNSWx"}), "index spec 'HNSWx'");
  EXPECT_USAGE_ERROR(Run({"ingest", "kb", docs_, "-k", "3"}), "-k does not apply to 'ingest'");
  EXPECT_USAGE_ERROR(Run({"ask", "kb"}), "missing argument: usage: sextant ask NAME QUESTION");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "a", "b"}), "too many arguments");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", ""}), "the question is empty");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "  \n "}), "the question is empty");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "-k", "0"}), "-k must be an integer in 1..1000");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--generator", "gpt"}),
                     "--generator must be extractive or openai, got 'gpt'");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--generator", "openai"}),
                     "--generator openai needs --llm-model");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--llm-url", "http://127.0.0.1:1/v1"}),
                     "--llm-url and --llm-model apply to --generator openai");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--embedder", "hash"}),
                     "--embedder does not apply to 'ask'");
  EXPECT_USAGE_ERROR(Run({"ask", "kb", "why?", "--json=yes"}), "--json takes no value");
  EXPECT_FALSE(std::filesystem::exists(db_));
}

TEST_F(RagCliTest, ErrorsAreOneLineAndLoseNothing) {
  // A path that does not exist: nothing is created, not even the database.
  RunResult r = Run({"ingest", "kb", docs_, tmp_.Sub("nosuch")});
  EXPECT_ENGINE_ERROR(r, "NotFound: path " + tmp_.Sub("nosuch") + ": ");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(std::filesystem::exists(db_));
  // A folder without text files.
  const std::string empty = tmp_.Sub("empty");
  std::filesystem::create_directories(empty);
  WriteText(empty + "/a.png", "png");
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", empty}),
                      "nothing to ingest: no text or Markdown files (.txt, .text, .md, "
                      ".markdown, .rst) in the paths given (1 other file)");
  EXPECT_FALSE(std::filesystem::exists(db_));
  // Two files that would be one document.
  std::filesystem::create_directories(tmp_.Sub("other"));
  WriteText(tmp_.Sub("other/volcanoes.md"), "Etna.\n");
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", docs_ + "/volcanoes.md", tmp_.Sub("other/volcanoes.md")}),
                      "would both be document volcanoes.md");
  EXPECT_FALSE(std::filesystem::exists(db_));
  // Files that all turn out not to be text: nothing is created.
  const std::string binary = tmp_.Sub("binary");
  std::filesystem::create_directories(binary);
  WriteText(binary + "/a.txt", std::string("\x00\x01\x02", 3));
  WriteText(binary + "/b.md", "caf\xe9\n");
  WriteText(binary + "/c.png", "png");
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", binary}),
                      "NotFound: nothing to ingest: 2 files are not UTF-8 text and 1 file is not "
                      "text or Markdown; collection kb was not created");
  EXPECT_EQ(Ok({"list"}), "");

  Ok({"ingest", "kb", docs_});
  const uint64_t count = Count("kb");
  // The same into an existing collection: an error, and the collection is untouched.
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", binary + "/b.md"}),
                      "NotFound: nothing to ingest: 1 file is not UTF-8 text");
  EXPECT_EQ(Count("kb"), count);

  EXPECT_ENGINE_ERROR(Run({"ask", "nosuch", "When did Krakatoa erupt?"}),
                      "NotFound: collection nosuch not found");
  // A plain vector collection is neither asked nor ingested into.
  Ok({"create", "vectors", "--dim", "4"});
  EXPECT_ENGINE_ERROR(Run({"ask", "vectors", "When did Krakatoa erupt?"}),
                      "FailedPrecondition: collection vectors is a plain vector collection, not a "
                      "text collection");
  EXPECT_ENGINE_ERROR(Run({"ingest", "vectors", docs_}), "is a plain vector collection");
  EXPECT_EQ(Count("vectors"), 0u);
  // A filter the engine cannot parse.
  r = Run({"ask", "kb", "When did Krakatoa erupt?", "--filter", "{\"document_id\": "});
  EXPECT_ENGINE_ERROR(r, "InvalidArgument");
  EXPECT_EQ(r.out, "");
  // Creation options that do not match the existing text collection.
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", docs_, "--chunk-tokens", "100"}),
                      "text collection kb already exists and does not match --chunk-tokens 100 "
                      "(it uses 256)");
  EXPECT_ENGINE_ERROR(Run({"ingest", "kb", docs_, "--embedder", "local"}),
                      "does not match --embedder local (it uses hash)");
  // An OpenAI-compatible server that is not there.
  r = Run({"ask", "kb", "When did Krakatoa erupt?", "--generator", "openai", "--llm-url",
           "http://127.0.0.1:1/v1", "--llm-model", "m"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("sextant: error: Unavailable"));
  EXPECT_EQ(Count("kb"), count);
}

TEST_F(RagCliTest, IngestProgressOnlyOnATerminal) {
  if (!std::filesystem::exists("/usr/bin/script")) GTEST_SKIP() << "needs util-linux script(1)";
  const std::string command = std::string(SEXTANT_CLI_PATH) + " --db " + db_ + " ingest kb " + docs_;
  const std::string log = tmp_.Sub("script.out");
  std::string shell = "/usr/bin/script -qec '" + command + "' /dev/null > " + log + " 2>&1";
  ASSERT_EQ(std::system(shell.c_str()), 0);
  std::string text = ReadFile(log);
  EXPECT_THAT(text, HasSubstr("ingesting kb: "));
  EXPECT_THAT(text, HasSubstr("/5 ("));  // 5 files to read: 4 ingested, 1 not UTF-8 (not the png)
  EXPECT_THAT(text, HasSubstr("ingested 4 documents"));
  // Not on a file.
  RunResult r = Run({"ingest", "kb", docs_});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "");
}

TEST_F(RagCliTest, LocalEmbedder) {
  const char* dir_env = std::getenv("SEXTANT_MODEL_DIR");
  const char* home = std::getenv("HOME");
  const std::string root = dir_env != nullptr && *dir_env != '\0'
                               ? dir_env
                               : std::string(home != nullptr ? home : "") + "/.cache/sextant/models";
  if (!std::filesystem::exists(root + "/all-MiniLM-L6-v2/model.safetensors")) {
    GTEST_SKIP() << "no all-MiniLM-L6-v2 in " << root << " (bash scripts/fetch-model.sh)";
  }
  RunResult r = Run({"ingest", "kb", docs_, "--embedder", "local"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("created text collection kb (embedder local:all-MiniLM-L6-v2, "
                               "dimension 384, chunks of 200 WordPiece tokens"));
  EXPECT_THAT(r.out, HasSubstr("ingested 4 documents"));
  json answer = AskJson("kb", "Which volcano exploded in the nineteenth century?");
  EXPECT_EQ(answer["embedder"], "local:all-MiniLM-L6-v2");
  EXPECT_EQ(answer["citations"][0]["document_id"], "volcanoes.md");
  answer = AskJson("kb", "How do I bake a loaf?");
  EXPECT_EQ(answer["citations"][0]["document_id"], "cooking/bread.txt");
}


// ---- snapshot / snapshots / restore ----

TEST_F(CliTest, SnapshotListRestoreAndDamagedArchives) {
  Ok({"create", "docs", "--dim", "3", "--metric", "l2", "--index", "HNSW8"});
  std::string lines;
  for (int i = 0; i < 200; ++i) {
    lines += "{\"id\": " + std::to_string(i) + ", \"vector\": [" + std::to_string(i % 7) + ", " +
             std::to_string(i % 11) + ", " + std::to_string(i % 13) + "], \"payload\": {\"g\": " +
             std::to_string(i % 3) + "}}\n";
  }
  WriteText(tmp_.Sub("points.jsonl"), lines);
  Ok({"import", "docs", tmp_.Sub("points.jsonl"), "--wait"});
  const std::vector<std::string> search = {"search", "docs", "--vector", "3,4,5", "-k", "5", "--with-payload"};
  const std::string before = Ok(search);

  const std::string snaps = tmp_.Sub("snaps");
  std::vector<json> made = JsonLines(Ok({"snapshot", "docs", "--to", snaps, "--name", "s1", "--archive",
                                         tmp_.Sub("s1.tar")}));
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0]["name"], "s1");
  EXPECT_EQ(made[0]["scope"], "collection");
  EXPECT_EQ(made[0]["collections"][0]["count"], 200);
  EXPECT_TRUE(std::filesystem::exists(tmp_.Sub("s1.tar")));
  Ok({"snapshot", "--to", snaps, "--name", "whole"});

  RunResult listed = RunRaw({"snapshots", snaps, "--verify"});  // no --db needed
  ASSERT_EQ(listed.code, 0) << listed.err;
  std::vector<json> list = JsonLines(listed.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["name"], "s1");
  EXPECT_EQ(list[0]["verified"], true);
  EXPECT_EQ(list[1]["scope"], "database");

  // As a new database, from the directory and from the archive.
  for (const std::string& from : {snaps + "/s1", tmp_.Sub("s1.tar")}) {
    const std::string target = tmp_.Sub("restored" + std::to_string(runs_));
    RunResult r = RunRaw({"--db", target, "restore", from});
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<json> colls = JsonLines(r.out);
    ASSERT_EQ(colls.size(), 1u);
    EXPECT_EQ(colls[0]["index_origin"], "checkpoint");
    std::vector<std::string> s = search;
    s.insert(s.begin(), {"--db", target});
    RunResult again = RunRaw(s);
    EXPECT_EQ(again.out, before);
  }
  // As a new collection of this database.
  std::vector<json> restored = JsonLines(Ok({"restore", snaps + "/whole", "--collection", "copy", "--source", "docs"}));
  ASSERT_EQ(restored.size(), 1u);
  EXPECT_EQ(restored[0]["count"], 200);
  EXPECT_EQ(Ok({"search", "copy", "--vector", "3,4,5", "-k", "5", "--with-payload"}), before);

  // Damaged or truncated archives: DataLoss, nothing restored.
  std::string archive = ReadFile(tmp_.Sub("s1.tar"));
  WriteText(tmp_.Sub("half.tar"), archive.substr(0, archive.size() / 2));
  EXPECT_ENGINE_ERROR(RunRaw({"--db", tmp_.Sub("nodb"), "restore", tmp_.Sub("half.tar")}), "DataLoss");
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("nodb")));
  archive[archive.size() / 2] ^= 0x10;
  WriteText(tmp_.Sub("bad.tar"), archive);
  EXPECT_ENGINE_ERROR(Run({"restore", tmp_.Sub("bad.tar"), "--collection", "bad"}), "DataLoss");
  EXPECT_ENGINE_ERROR(Run({"info", "bad"}), "NotFound");

  // Errors.
  EXPECT_USAGE_ERROR(Run({"snapshot", "docs"}), "--to DIR");
  EXPECT_ENGINE_ERROR(Run({"snapshot", "nope", "--to", snaps}), "NotFound");
  EXPECT_ENGINE_ERROR(Run({"snapshot", "docs", "--to", snaps, "--name", "s1"}), "AlreadyExists");
  EXPECT_ENGINE_ERROR(Run({"restore", snaps + "/s1"}), "AlreadyExists");  // the database exists
  EXPECT_ENGINE_ERROR(Run({"restore", snaps + "/s1", "--collection", "docs"}), "AlreadyExists");
  EXPECT_ENGINE_ERROR(Run({"restore", tmp_.Sub("absent")}), "NotFound");
  EXPECT_USAGE_ERROR(Run({"restore"}), "missing argument");

  RunResult deleted = RunRaw({"snapshots", snaps, "--delete", "s1"});
  EXPECT_EQ(deleted.code, 0) << deleted.err;
  EXPECT_EQ(JsonLines(RunRaw({"snapshots", snaps}).out).size(), 1u);
  EXPECT_ENGINE_ERROR(RunRaw({"snapshots", snaps, "--delete", "s1"}), "NotFound");
}

// create --text-field, search --text/--fusion/--weights/--group-by/--group-size/--score-threshold/
// --mmr (docs/cli.md, docs/text_search.md), and their usage and engine errors.
TEST_F(CliTest, TextHybridAndShapedSearch) {
  Ok({"create", "docs", "--dim", "2", "--metric", "l2", "--text-field", "body:english"});
  EXPECT_EQ(JsonLines(Ok({"info", "docs"}))[0]["text_fields"],
            json::parse(R"({"body": {"language": "english", "stemming": true, "stop_words": true}})"));
  Ok({"create", "two", "--dim", "2", "--text-field", "title:none", "--text-field", "meta.body"});
  EXPECT_EQ(JsonLines(Ok({"info", "two"}))[0]["text_fields"].size(), 2u);
  Ok({"create", "plain_info", "--dim", "2"});
  EXPECT_FALSE(JsonLines(Ok({"info", "plain_info"}))[0].contains("text_fields"));
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    const char* body = i == 13 ? "error E1234 disk full" : "common words";
    lines += "{\"id\": " + std::to_string(i) + ", \"vector\": [" + std::to_string(i) + ", 1], \"payload\": {\"doc\": \"d" +
             std::to_string(i / 4) + "\", \"body\": \"" + body + "\"}}\n";
  }
  const std::string file = tmp_.Sub("docs.jsonl");
  WriteText(file, lines);
  Ok({"import", "docs", file});

  auto ids = [](const json& line) {
    std::vector<int> out;
    for (const json& h : line["hits"]) out.push_back(h["id"].get<int>());
    return out;
  };
  // --text alone: BM25, the hit carries its text score.
  json bm25 = JsonLines(Ok({"search", "docs", "--text", "E1234"}))[0];
  EXPECT_EQ(ids(bm25), std::vector<int>({13}));
  EXPECT_GT(bm25["hits"][0]["text_score"].get<double>(), 0);
  EXPECT_EQ(bm25["hits"][0]["text_score"], bm25["hits"][0]["score"]);
  EXPECT_FALSE(bm25["hits"][0].contains("dense_score"));
  // --vector and --text: hybrid (RRF); both parts reported.
  json hybrid = JsonLines(Ok({"search", "docs", "--vector", "0 1", "--text", "E1234", "-k", "2"}))[0];
  std::vector<int> got = ids(hybrid);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, std::vector<int>({0, 13}));
  for (const json& h : hybrid["hits"]) EXPECT_TRUE(h.contains("dense_score") && h.contains("text_score")) << h;
  // Weighted fusion, all on the text, then all on the vector.
  EXPECT_EQ(ids(JsonLines(Ok({"search", "docs", "--vector", "0 1", "--text", "E1234", "--fusion", "weighted",
                              "--weights", "0,1", "-k", "1"}))[0]),
            std::vector<int>({13}));
  EXPECT_EQ(ids(JsonLines(Ok({"search", "docs", "--vector", "0 1", "--text", "E1234", "--fusion", "weighted",
                              "--weights", "1,0", "-k", "1"}))[0]),
            std::vector<int>({0}));
  EXPECT_EQ(ids(JsonLines(Ok({"search", "docs", "--text", "disk", "--text-field", "body", "--rrf-k", "10",
                              "--candidates", "50"}))[0]),
            std::vector<int>({13}));
  // A dense search prints no score parts (unchanged output).
  EXPECT_FALSE(JsonLines(Ok({"search", "docs", "--vector", "0 1", "-k", "1"}))[0]["hits"][0].contains("dense_score"));

  // Group-by: k distinct groups, the best of each, "group" the value.
  json grouped = JsonLines(Ok({"search", "docs", "--vector", "0 1", "-k", "3", "--group-by", "doc"}))[0];
  EXPECT_EQ(ids(grouped), std::vector<int>({0, 4, 8}));
  EXPECT_EQ(grouped["hits"][1]["group"], "d1");
  EXPECT_EQ(JsonLines(Ok({"search", "docs", "--vector", "0 1", "-k", "3", "--group-by", "doc", "--group-size", "2"}))[0]
                ["hits"].size(),
            6u);
  // Threshold (L2: distance <=) and MMR with a $text filter.
  EXPECT_EQ(ids(JsonLines(Ok({"search", "docs", "--vector", "0 1", "--score-threshold", "4"}))[0]),
            std::vector<int>({0, 1, 2}));
  std::vector<int> diverse = ids(JsonLines(Ok({"search", "docs", "--vector", "0 1", "-k", "3", "--mmr", "0.5",
                                               "--filter", R"({"body": {"$text": "common"}})"}))[0]);
  EXPECT_EQ(diverse.size(), 3u);
  EXPECT_EQ(std::count(diverse.begin(), diverse.end(), 13), 0);

  // Usage errors (exit 2), nothing printed.
  EXPECT_USAGE_ERROR(Run({"search", "docs"}), "--text WORDS");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--fusion", "borda", "--text", "x"}), "--fusion");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--fusion", "rrf"}), "give --text");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--text", "x", "--weights", "1,1"}), "--weights");
  EXPECT_USAGE_ERROR(
      Run({"search", "docs", "--vector", "0 1", "--text", "x", "--fusion", "weighted", "--weights", "1"}), "--weights");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--text", "x", "--rrf-k", "0"}), "--rrf-k");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--text", "x", "--candidates", "-1"}), "--candidates");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--text-field", "body"}), "--text-field");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--group-size", "2"}), "--group-by");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--group-by", "doc", "--group-size", "0"}),
                     "--group-size");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--score-threshold", "high"}), "--score-threshold");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--vector", "0 1", "--mmr", "x"}), "--mmr");
  EXPECT_USAGE_ERROR(Run({"search", "docs", "--text", "x", "--format", "fvecs"}), "--format");
  EXPECT_USAGE_ERROR(Run({"create", "t", "--dim", "2", "--text-field", "body:"}), "--text-field");
  // Engine errors (exit 1) name what is wrong.
  EXPECT_ENGINE_ERROR(Run({"search", "docs", "--text", "   "}), "empty");
  EXPECT_ENGINE_ERROR(Run({"search", "docs", "--text", "x", "--text-field", "title"}), "title");
  EXPECT_ENGINE_ERROR(Run({"search", "docs", "--vector", "0 1", "--mmr", "2"}), "mmr_lambda");
  EXPECT_ENGINE_ERROR(Run({"search", "docs", "--vector", "0 1", "--filter", R"({"doc": {"$text": "d1"}})"}), "doc");
  EXPECT_ENGINE_ERROR(Run({"create", "t", "--dim", "2", "--text-field", "body:klingon"}), "english");
  Ok({"create", "plain", "--dim", "2"});
  EXPECT_ENGINE_ERROR(Run({"search", "plain", "--text", "x"}), "text fields");
}

}  // namespace
}  // namespace sextant
