#include "server/config.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "sextant/options.h"

namespace sextant::server {
namespace {

enum class Kind { kString, kBool, kNumber, kList };

struct Flag {
  std::string_view name;
  Kind kind;
};

// Every setting, by its flag name without dashes (also its key in a --config file).
constexpr Flag kFlags[] = {
    {"data", Kind::kString},
    {"snapshot-dir", Kind::kString},
    {"listen", Kind::kString},
    {"port-file", Kind::kString},
    {"api-key", Kind::kList},
    {"read-only-key", Kind::kList},
    {"api-key-file", Kind::kList},
    {"allow-remote", Kind::kBool},
    {"tls-cert", Kind::kString},
    {"tls-key", Kind::kString},
    {"metrics", Kind::kString},
    {"metrics-public", Kind::kBool},
    {"openai-listen", Kind::kString},
    {"mcp-listen", Kind::kString},
    {"max-message-bytes", Kind::kNumber},
    {"max-batch-points", Kind::kNumber},
    {"max-dimension", Kind::kNumber},
    {"max-k", Kind::kNumber},
    {"max-ef-search", Kind::kNumber},
    {"max-nprobe", Kind::kNumber},
    {"max-payload-bytes", Kind::kNumber},
    {"block-cache-bytes", Kind::kNumber},
    {"memory-limit", Kind::kString},
    {"slow-call-ms", Kind::kNumber},
    {"log-level", Kind::kString},
    {"model-dir", Kind::kString},
    {"openai-api-key", Kind::kString},
    {"allow-remote-embedders", Kind::kBool},
    {"generator", Kind::kString},
    {"llm-url", Kind::kString},
    {"llm-model", Kind::kString},
    {"llm-api-key", Kind::kString},
    {"llm-timeout-ms", Kind::kNumber},
    {"llm-max-tokens", Kind::kNumber},
    {"conversation-max-messages", Kind::kNumber},
    {"conversation-max-bytes", Kind::kNumber},
    {"llm-models", Kind::kString},
    {"config", Kind::kString},
    {"cluster", Kind::kString},
    {"node-id", Kind::kString},
    {"cluster-replicas", Kind::kNumber},
};

const Flag* FindFlag(std::string_view name) {
  for (const Flag& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Values of each setting, in the order given.
using Values = std::map<std::string, std::vector<std::string>, std::less<>>;

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::optional<bool> ParseBool(std::string_view v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return std::nullopt;
}

std::optional<uint64_t> ParseNumber(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

}  // namespace

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  uint64_t whole = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (whole > (uint64_t{1} << 62) / 10) return std::nullopt;
    whole = whole * 10 + static_cast<uint64_t>(text[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  double fraction = 0;  // digits after a '.', as a fraction of one unit
  if (i < text.size() && text[i] == '.') {
    ++i;
    double scale = 0.1;
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      fraction += scale * (text[i++] - '0');
      scale /= 10;
    }
    if (i == start) return std::nullopt;
  }
  std::string unit;
  for (; i < text.size(); ++i) {
    if (text[i] == ' ' && unit.empty()) continue;  // "4 GiB"
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1},           {"b", 1},
      {"k", 1ull << 10}, {"kib", 1ull << 10}, {"kb", 1000ull},
      {"m", 1ull << 20}, {"mib", 1ull << 20}, {"mb", 1000000ull},
      {"g", 1ull << 30}, {"gib", 1ull << 30}, {"gb", 1000000000ull},
      {"t", 1ull << 40}, {"tib", 1ull << 40}, {"tb", 1000000000000ull},
  };
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    if (whole > (uint64_t{1} << 62) / factor) return std::nullopt;
    if (factor == 1 && fraction != 0) return std::nullopt;  // no fractions of a byte
    return whole * factor + static_cast<uint64_t>(fraction * static_cast<double>(factor));
  }
  return std::nullopt;
}

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

// A key travels in an HTTP/2 header: printable ASCII without spaces.
bool ValidKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// Parses the command line into `values`; false with *error set on a malformed one.
bool ParseCommandLine(int argc, const char* const* argv, Values* values, bool* help, bool* version,
                      std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      continue;
    }
    if (arg == "--version") {
      *version = true;
      continue;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      *error = "unexpected argument \"" + std::string(arg) + "\" (settings are --name value)";
      return false;
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string_view::npos) {
      inline_value = std::string(name.substr(eq + 1));
      name = name.substr(0, eq);
    }
    const Flag* flag = FindFlag(name);
    if (flag == nullptr) {
      *error = "unknown flag --" + std::string(name);
      return false;
    }
    std::string value;
    if (flag->kind == Kind::kBool) {
      value = inline_value.value_or("true");
    } else if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = "--" + std::string(name) + " needs a value";
      return false;
    }
    (*values)[std::string(name)].push_back(std::move(value));
  }
  return true;
}

// Parses a --config file into `values`.
bool ParseConfigFile(const std::string& path, Values* values, std::string* error) {
  std::string text;
  if (!ReadFile(path, &text)) {
    *error = "cannot read config file " + path;
    return false;
  }
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    const std::string where = path + " line " + std::to_string(lineno);
    const size_t eq = trimmed.find('=');
    if (eq == std::string::npos) {
      *error = where + ": expected \"key = value\", got \"" + trimmed + "\"";
      return false;
    }
    std::string key = Trim(std::string_view(trimmed).substr(0, eq));
    std::string value = Trim(std::string_view(trimmed).substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (key.size() > 2 && key.substr(0, 2) == "--") key = key.substr(2);
    const Flag* flag = FindFlag(key);
    if (flag == nullptr || key == "config") {
      *error = where + ": unknown setting \"" + key + "\"";
      return false;
    }
    (*values)[key].push_back(std::move(value));
  }
  return true;
}

// Reads an --api-key-file: one key per line, "KEY" or "KEY read-only"; '#' starts a comment line.
bool ReadKeyFile(const std::string& path, std::vector<ApiKey>* keys, std::string* error) {
  std::string text;
  if (!ReadFile(path, &text)) {
    *error = "--api-key-file: cannot read " + path;
    return false;
  }
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    std::istringstream words(trimmed);
    std::string key, kind, extra;
    words >> key >> kind >> extra;
    const std::string where = "--api-key-file " + path + " line " + std::to_string(lineno);
    if (!extra.empty() || (!kind.empty() && kind != "read-only" && kind != "read-write")) {
      *error = where + ": expected \"KEY\" or \"KEY read-only\"";
      return false;
    }
    if (!ValidKey(key)) {
      *error = where + ": a key must be printable ASCII without spaces";
      return false;
    }
    keys->push_back({key, kind == "read-only"});
  }
  return true;
}

}  // namespace

bool SplitHostPort(std::string_view host_port, std::string* host, int* port) {
  size_t colon;
  if (!host_port.empty() && host_port[0] == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos || close + 1 >= host_port.size() ||
        host_port[close + 1] != ':') {
      return false;
    }
    *host = std::string(host_port.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return false;
    *host = std::string(host_port.substr(0, colon));
    if (host->find(':') != std::string::npos) return false;  // a bare IPv6 address needs [ ]
  }
  if (host->empty()) return false;
  const auto p = ParseNumber(host_port.substr(colon + 1));
  if (!p || *p > 65535) return false;
  *port = static_cast<int>(*p);
  return true;
}

bool IsUnixSocketAddress(std::string_view listen) { return listen.substr(0, 5) == "unix:"; }

bool IsLoopbackAddress(std::string_view host_port) {
  // A Unix-domain socket is reachable only through the file system, as local as loopback.
  if (IsUnixSocketAddress(host_port)) return true;
  std::string host;
  int port = 0;
  if (!SplitHostPort(host_port, &host, &port)) return false;
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

std::string_view UsageText() {
  return R"(sextantd - the Sextant vector database server (gRPC)

Usage: sextantd [--data DIR] [--listen HOST:PORT] [OPTIONS]

Serves the collections of one database directory over gRPC (service sextant.v1.Sextant, with
gRPC health checking and server reflection). Settings are "--name value" or "--name=value";
every one may also be given in a --config file as "name = value" (the command line wins).

  --data DIR               database directory, created when missing (default ./sextant-data)
  --listen HOST:PORT       address to serve on (default 127.0.0.1:7070; port 0 picks a free one),
                           or unix:PATH for a Unix-domain socket (a stale socket file is replaced)
  --snapshot-dir DIR       where snapshots are written, listed and restored from (created when
                           missing); without it the snapshot RPCs fail with FAILED_PRECONDITION
  --port-file PATH         once listening, write the port number and a newline to PATH
  --config FILE            read settings from FILE ("name = value" lines, '#' comments)

Security:
  --api-key KEY            accept "authorization: Bearer KEY" for every call (repeatable);
                           shows in the process list: prefer --api-key-file
  --read-only-key KEY      accept KEY for reads only; writes get PERMISSION_DENIED (repeatable)
  --api-key-file PATH      keys from a file: "KEY" or "KEY read-only" per line (repeatable)
  --allow-remote           serve without any key on a non-loopback address
  --tls-cert PEM           serve TLS with this certificate chain (needs --tls-key)
  --tls-key PEM            the certificate's private key

Limits:
  --max-message-bytes N    largest request or response message (default 67108864)
  --max-batch-points N     most points in one upsert or delete, queries in one batch (default 10000)
  --max-dimension N        largest collection dimension, 1..65536 (default 65536)
  --max-k N                most hits one query may ask for (default 10000)
  --max-ef-search N        largest per-search HNSW ef_search (default 10000)
  --max-nprobe N           largest per-search IVF nprobe (default 65536)
  --max-payload-bytes N    largest payload JSON of one point (default 65536)
  --block-cache-bytes N    storage block cache (default 67108864)
  --memory-limit SIZE      memory budget of the database: writes and index builds that would pass
                           it fail with RESOURCE_EXHAUSTED (512MiB, 4GiB, 8GB, 1.5G; KiB/MiB/GiB
                           and K/M/G are powers of 1024, KB/MB/GB of 1000). Default: 3/4 of the
                           machine's memory or of the cgroup limit

Text collections (RAG):
  --model-dir DIR          root of local embedding models (default $SEXTANT_MODEL_DIR, else
                           ~/.cache/sextant/models)
  --openai-api-key KEY     key sent to "openai" embedders (default $OPENAI_API_KEY)
  --allow-remote-embedders let clients create "openai" text collections, whose endpoint URL the
                           client chooses: the server then opens URLs named by clients
  --generator NAME         Ask's default generator: extractive (default) or openai
  --llm-url URL            OpenAI-compatible chat endpoint for the openai generator (".../v1")
  --llm-model NAME         the model the endpoint serves
  --llm-api-key KEY        its key (default $SEXTANT_LLM_API_KEY)
  --llm-timeout-ms N       per-request timeout of the endpoint (default 60000)
  --llm-max-tokens N       the most max_tokens a request may ask of the model (default 4096)
  --conversation-max-messages N  messages kept per stored conversation, oldest dropped (default 200)
  --conversation-max-bytes N     message text per stored conversation (default 1048576)
  --llm-models A,B         models a request may name in its generation settings (default: any)

Cluster mode (docs/cluster.md):
  --cluster URLS           join the cluster whose NATS JetStream servers are at URLS
                           (nats://HOST:PORT[,nats://HOST:PORT...]); needs --node-id. --data then
                           holds this node's shard replicas
  --node-id NAME           this node's name in the cluster, 1..64 of [A-Za-z0-9_-]
  --cluster-replicas N     JetStream replicas (R) of the streams and buckets this node creates,
                           1..5 (default 1; 3 with three nats-servers)

Observability:
  --metrics HOST:PORT      serve Prometheus metrics over HTTP at /metrics; with API keys
                           configured a scrape needs one ("Authorization: Bearer KEY")
  --metrics-public         serve /metrics without a key even when keys are configured
  --openai-listen HOST:PORT  serve the OpenAI-compatible API (/v1/chat/completions,
                           /v1/embeddings, /v1/models; docs/openai.md), same API keys
  --mcp-listen HOST:PORT   serve the Model Context Protocol over streamable HTTP at /mcp
                           (tools list_collections, search, ask, ingest; docs/mcp.md), same
                           API keys (ingest needs a read-write key)
  --log-level LEVEL        debug, info, warn or error (default info); debug logs every call
  --slow-call-ms N         calls slower than this are logged at info (default 1000)

  --help                   this text
  --version                the version

SIGTERM or SIGINT stops accepting calls, lets running ones finish (up to 10 s), flushes the
database and exits 0. Exit status 1: the server could not start (data, port); 2: bad settings.
)";
}

ParseResult ParseConfig(int argc, const char* const* argv) {
  ParseResult result;
  Values cli;
  bool help = false, version = false;
  if (!ParseCommandLine(argc, argv, &cli, &help, &version, &result.error)) return result;
  if (help) {
    result.action = ParseResult::Action::kHelp;
    return result;
  }
  if (version) {
    result.action = ParseResult::Action::kVersion;
    return result;
  }

  Values file;
  if (auto it = cli.find("config"); it != cli.end()) {
    if (it->second.size() > 1) {
      result.error = "--config given more than once";
      return result;
    }
    if (!ParseConfigFile(it->second.front(), &file, &result.error)) return result;
  }
  // The command line wins, per setting (a repeatable one given there replaces the file's list).
  Values merged = file;
  for (auto& [name, list] : cli) merged[name] = list;

  ServerConfig& c = result.config;
  std::string& error = result.error;
  auto last = [&](std::string_view name) -> const std::string* {
    auto it = merged.find(name);
    return it == merged.end() || it->second.empty() ? nullptr : &it->second.back();
  };
  auto number = [&](std::string_view name, uint64_t min, uint64_t max, auto* out) -> bool {
    const std::string* v = last(name);
    if (v == nullptr) return true;
    const auto n = ParseNumber(*v);
    if (!n || *n < min || *n > max) {
      error = "--" + std::string(name) + ": \"" + *v + "\" is not a whole number in " +
              std::to_string(min) + ".." + std::to_string(max);
      return false;
    }
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*n);
    return true;
  };

  if (const auto* v = last("data")) c.data_dir = *v;
  if (c.data_dir.empty()) {
    error = "--data: empty directory name";
    return result;
  }
  if (const auto* v = last("snapshot-dir")) {
    c.snapshot_dir = *v;
    if (c.snapshot_dir.empty()) {
      error = "--snapshot-dir: empty directory name";
      return result;
    }
  }
  if (const auto* v = last("listen")) c.listen = *v;
  if (IsUnixSocketAddress(c.listen)) {
    // "unix:PATH": a Unix-domain socket (sextant.connect() in Python serves one per database).
    constexpr size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;
    const size_t n = c.listen.size() - 5;
    if (n == 0 || n > kMaxSocketPath) {
      error = "--listen: \"" + c.listen + "\": a unix socket path is 1.." + std::to_string(kMaxSocketPath) +
              " bytes, got " + std::to_string(n);
      return result;
    }
  } else {
    std::string host;
    int port = 0;
    if (!SplitHostPort(c.listen, &host, &port)) {
      error = "--listen: \"" + c.listen +
              "\" is not HOST:PORT (port 0..65535; IPv6 as [ADDR]:PORT) or unix:PATH";
      return result;
    }
  }
  if (const auto* v = last("port-file")) c.port_file = *v;
  if (const auto* v = last("metrics")) {
    c.metrics_listen = *v;
    std::string host;
    int port = 0;
    if (!SplitHostPort(c.metrics_listen, &host, &port)) {
      error = "--metrics: \"" + c.metrics_listen + "\" is not HOST:PORT";
      return result;
    }
  }
  if (const auto* v = last("metrics-public")) {
    const auto b = ParseBool(*v);
    if (!b) {
      error = "--metrics-public: \"" + *v + "\" is not true or false";
      return result;
    }
    c.metrics_public = *b;
  }
  if (const auto* v = last("openai-listen")) {
    c.openai_listen = *v;
    std::string host;
    int port = 0;
    if (!SplitHostPort(c.openai_listen, &host, &port)) {
      error = "--openai-listen: \"" + c.openai_listen + "\" is not HOST:PORT";
      return result;
    }
  }
  if (const auto* v = last("mcp-listen")) {
    c.mcp_listen = *v;
    std::string host;
    int port = 0;
    if (!SplitHostPort(c.mcp_listen, &host, &port)) {
      error = "--mcp-listen: \"" + c.mcp_listen + "\" is not HOST:PORT";
      return result;
    }
  }
  if (const auto* v = last("allow-remote")) {
    const auto b = ParseBool(*v);
    if (!b) {
      error = "--allow-remote: \"" + *v + "\" is not true or false";
      return result;
    }
    c.allow_remote = *b;
  }
  if (const auto* v = last("log-level")) {
    const auto level = ParseLogLevel(*v);
    if (!level) {
      error = "--log-level: \"" + *v + "\" is not debug, info, warn or error";
      return result;
    }
    c.log_level = *level;
  }
  if (!number("max-message-bytes", 1024, 2147483647, &c.max_message_bytes) ||
      !number("max-batch-points", 1, 10000000, &c.max_batch_points) ||
      !number("max-dimension", 1, CollectionOptions::kMaxDimension, &c.max_dimension) ||
      !number("max-k", 1, 1000000, &c.max_k) ||
      !number("max-ef-search", 1, 1000000, &c.max_ef_search) ||
      !number("max-nprobe", 1, 1u << 20, &c.max_nprobe) ||
      !number("max-payload-bytes", 2, 1u << 30, &c.max_payload_bytes) ||
      !number("block-cache-bytes", 0, uint64_t{1} << 44, &c.block_cache_bytes) ||
      !number("slow-call-ms", 0, 3600000, &c.slow_call_ms)) {
    return result;
  }
  if (const auto* v = last("memory-limit")) {
    const auto bytes = ParseByteSize(*v);
    if (!bytes) {
      error = "--memory-limit: \"" + *v + "\" is not a size (a number and a unit: 512MiB, 4GiB, 8GB, 1.5G)";
      return result;
    }
    if (*bytes <= c.block_cache_bytes) {
      error = "--memory-limit: " + std::to_string(*bytes) + " bytes must exceed --block-cache-bytes (" +
              std::to_string(c.block_cache_bytes) + "), which the budget includes";
      return result;
    }
    c.memory_limit_bytes = *bytes;
  }

  if (const auto* v = last("cluster")) {
    c.cluster = *v;
    if (c.cluster.empty()) {
      error = "--cluster: empty URL list (nats://HOST:PORT[,...])";
      return result;
    }
  }
  if (const auto* v = last("node-id")) c.node_id = *v;
  if (!c.cluster.empty() && c.node_id.empty()) {
    error = "--cluster needs --node-id NAME";
    return result;
  }
  if (c.cluster.empty() && !c.node_id.empty()) {
    error = "--node-id is for cluster mode: give --cluster too";
    return result;
  }
  if (!c.node_id.empty()) {
    bool ok = c.node_id.size() <= 64;
    for (char ch : c.node_id) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
    if (!ok) {
      error = "--node-id: \"" + c.node_id + "\" is not 1..64 of [A-Za-z0-9_-]";
      return result;
    }
  }
  if (!number("cluster-replicas", 1, 5, &c.cluster_replicas)) return result;

  if (!number("llm-timeout-ms", 1, 3600000, &c.llm_timeout_ms)) return result;
  if (!number("llm-max-tokens", 1, 1000000, &c.llm_max_tokens)) return result;
  if (!number("conversation-max-messages", 2, 100000, &c.conversation_max_messages)) return result;
  if (!number("conversation-max-bytes", 1024, uint64_t{1} << 34, &c.conversation_max_bytes)) return result;
  if (const auto* v = last("llm-models")) {
    c.llm_models.clear();
    size_t begin = 0;
    while (begin <= v->size()) {
      size_t end = v->find(',', begin);
      if (end == std::string::npos) end = v->size();
      std::string name = v->substr(begin, end - begin);
      while (!name.empty() && name.front() == ' ') name.erase(name.begin());
      while (!name.empty() && name.back() == ' ') name.pop_back();
      if (name.empty()) {
        error = "--llm-models: an empty model name in \"" + *v + "\" (a comma-separated list)";
        return result;
      }
      c.llm_models.push_back(name);
      begin = end + 1;
    }
  }
  if (const auto* v = last("model-dir")) {
    if (v->empty()) {
      error = "--model-dir: empty directory name";
      return result;
    }
    c.model_dir = *v;
  }
  if (const auto* v = last("openai-api-key")) c.openai_api_key = *v;
  if (const auto* v = last("allow-remote-embedders")) {
    const auto b = ParseBool(*v);
    if (!b) {
      error = "--allow-remote-embedders: \"" + *v + "\" is not true or false";
      return result;
    }
    c.allow_remote_embedders = *b;
  }
  if (const auto* v = last("generator")) c.generator = *v;
  if (c.generator != "extractive" && c.generator != "openai") {
    error = "--generator: \"" + c.generator + "\" is not extractive or openai";
    return result;
  }
  if (const auto* v = last("llm-url")) c.llm_url = *v;
  if (const auto* v = last("llm-model")) c.llm_model = *v;
  if (const auto* v = last("llm-api-key")) {
    c.llm_api_key = *v;
  } else if (const char* env = std::getenv("SEXTANT_LLM_API_KEY")) {
    c.llm_api_key = env;
  }
  if (c.llm_url.empty() != c.llm_model.empty()) {
    error = c.llm_url.empty() ? "--llm-model given without --llm-url (the endpoint that serves it)"
                              : "--llm-url given without --llm-model (the model to ask for)";
    return result;
  }
  if (!c.llm_url.empty() && c.llm_url.rfind("http://", 0) != 0 && c.llm_url.rfind("https://", 0) != 0) {
    error = "--llm-url: \"" + c.llm_url + "\" is not an http:// or https:// URL";
    return result;
  }
  if (c.generator == "openai" && c.llm_url.empty()) {
    error = "--generator openai needs --llm-url and --llm-model";
    return result;
  }

  for (const char* name : {"api-key", "read-only-key"}) {
    auto it = merged.find(name);
    if (it == merged.end()) continue;
    for (const std::string& key : it->second) {
      if (!ValidKey(key)) {
        error = "--" + std::string(name) + ": a key must be printable ASCII without spaces";
        return result;
      }
      c.keys.push_back({key, std::string_view(name) == "read-only-key"});
    }
    if (cli.count(name) != 0) c.keys_on_command_line = true;
  }
  if (auto it = merged.find("api-key-file"); it != merged.end()) {
    for (const std::string& path : it->second) {
      if (!ReadKeyFile(path, &c.keys, &error)) return result;
    }
  }

  if (const auto* v = last("tls-cert")) c.tls_cert_file = *v;
  if (const auto* v = last("tls-key")) c.tls_key_file = *v;
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    error = c.tls_cert_file.empty() ? "--tls-key given without --tls-cert"
                                    : "--tls-cert given without --tls-key";
    return result;
  }
  if (!c.tls_cert_file.empty()) {
    if (!ReadFile(c.tls_cert_file, &c.tls_cert_pem) || c.tls_cert_pem.empty()) {
      error = "--tls-cert: cannot read " + c.tls_cert_file;
      return result;
    }
    if (!ReadFile(c.tls_key_file, &c.tls_key_pem) || c.tls_key_pem.empty()) {
      error = "--tls-key: cannot read " + c.tls_key_file;
      return result;
    }
  }

  if (c.keys.empty() && !c.allow_remote && !IsLoopbackAddress(c.listen)) {
    error = "--listen " + c.listen +
            " is not a loopback address and no API key is configured; add --api-key or "
            "--api-key-file, or --allow-remote to serve without authentication";
    return result;
  }
  if (!c.metrics_listen.empty() && !c.allow_remote && !IsLoopbackAddress(c.metrics_listen) &&
      (c.keys.empty() || c.metrics_public)) {
    error = "--metrics " + c.metrics_listen +
            " is not a loopback address and scrapes would need no key; configure API keys "
            "(without --metrics-public), or add --allow-remote to serve metrics to anyone";
    return result;
  }
  if (!c.openai_listen.empty() && c.keys.empty() && !c.allow_remote && !IsLoopbackAddress(c.openai_listen)) {
    error = "--openai-listen " + c.openai_listen +
            " is not a loopback address and no API key is configured; add --api-key or "
            "--api-key-file, or --allow-remote to serve without authentication";
    return result;
  }
  if (!c.mcp_listen.empty() && c.keys.empty() && !c.allow_remote && !IsLoopbackAddress(c.mcp_listen)) {
    error = "--mcp-listen " + c.mcp_listen +
            " is not a loopback address and no API key is configured; add --api-key or "
            "--api-key-file, or --allow-remote to serve without authentication";
    return result;
  }
  result.action = ParseResult::Action::kRun;
  return result;
}

}  // namespace sextant::server
