// sextantd's configuration: the command line, an optional `--config FILE` of `key = value` lines
// with the same names, and the checks that run before anything starts. docs/server.md lists every
// setting.
#ifndef SEXTANT_SERVER_CONFIG_H_
#define SEXTANT_SERVER_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/log.h"

namespace sextant::server {

// Exit codes of sextantd.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // could not open the data, bind the port, ...
inline constexpr int kExitUsage = 2;  // the command line or the configuration is wrong

// One configured API key.
struct ApiKey {
  std::string key;
  bool read_only = false;
};

struct ServerConfig {
  std::string data_dir = "./sextant-data";
  std::string snapshot_dir;  // empty: snapshots disabled (the snapshot RPCs fail)
  std::string listen = "127.0.0.1:7070";
  std::string port_file;  // empty: none
  std::vector<ApiKey> keys;
  bool allow_remote = false;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_cert_pem;  // read from the files by ParseConfig
  std::string tls_key_pem;
  std::string metrics_listen;  // empty: no metrics endpoint
  bool metrics_public = false;  // serve /metrics without a key even when keys are configured
  bool keys_on_command_line = false;  // --api-key/--read-only-key given as arguments (visible in ps)
  std::string openai_listen;   // empty: no OpenAI-compatible HTTP endpoint
  std::string mcp_listen;      // empty: no MCP endpoint (streamable HTTP, /mcp)
  uint64_t max_message_bytes = 64u << 20;
  uint32_t max_batch_points = 10000;
  uint32_t max_dimension = 65536;
  uint32_t max_k = 10000;           // most hits per query (SearchParams.k)
  uint32_t max_ef_search = 10000;   // largest SearchParams.ef_search
  uint32_t max_nprobe = 65536;      // largest SearchParams.nprobe
  uint64_t max_payload_bytes = 64u << 10;
  uint64_t block_cache_bytes = 64u << 20;
  uint64_t memory_limit_bytes = 0;  // --memory-limit; 0: the engine's default (3/4 of RAM or the cgroup limit)
  uint32_t slow_call_ms = 1000;  // calls at least this slow are logged at info
  LogLevel log_level = LogLevel::kInfo;

  // Text collections (RAG).
  std::string model_dir;       // root of "local" models; empty: $SEXTANT_MODEL_DIR, else ~/.cache/sextant/models
  std::string openai_api_key;  // for "openai" embedders; empty: $OPENAI_API_KEY
  bool allow_remote_embedders = false;  // let clients name "openai" embedder URLs
  std::string generator = "extractive";  // Ask's default generator: "extractive" or "openai"
  std::string llm_url;         // OpenAI-compatible chat endpoint (".../v1"); empty: none
  std::string llm_model;
  std::string llm_api_key;     // empty: $SEXTANT_LLM_API_KEY
  uint32_t llm_timeout_ms = 60000;
  uint32_t llm_max_tokens = 4096;       // cap on a request's generation.max_tokens
  uint32_t conversation_max_messages = 200;       // messages kept per stored conversation
  uint64_t conversation_max_bytes = 1 << 20;      // message text per stored conversation
  std::vector<std::string> llm_models;  // models a request may name; empty: any

  // Cluster mode (docs/cluster.md): empty cluster = a single node.
  std::string cluster;         // NATS URLs, nats://HOST:PORT[,...]
  std::string node_id;
  uint32_t cluster_replicas = 1;  // JetStream R of the streams and buckets this node creates

  bool tls() const { return !tls_cert_pem.empty(); }
};

// What the command line asked for.
struct ParseResult {
  enum class Action { kRun, kHelp, kVersion, kError };
  Action action = Action::kError;
  ServerConfig config;  // for kRun
  std::string error;    // for kError: one line, without the program name
};

// Parses argv[1..argc) and the --config file it names, then validates everything (numbers,
// addresses, TLS files, key files, the loopback rule).
ParseResult ParseConfig(int argc, const char* const* argv);

// The --help text.
std::string_view UsageText();

// "4GiB", "512 MiB", "8GB", "1.5G", "1048576": bytes. KiB/MiB/GiB/TiB and K/M/G/T are powers of
// 1024, KB/MB/GB/TB powers of 1000 (case-insensitive); nullopt when malformed or above 2^62.
std::optional<uint64_t> ParseByteSize(std::string_view text);

// Whether `host_port`'s host is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackAddress(std::string_view host_port);
// Whether a --listen address is "unix:PATH" (a Unix-domain socket, counted as loopback above).
bool IsUnixSocketAddress(std::string_view listen);

// Splits "HOST:PORT" / "[V6]:PORT"; false when malformed or the port is not 0..65535.
bool SplitHostPort(std::string_view host_port, std::string* host, int* port);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_CONFIG_H_
