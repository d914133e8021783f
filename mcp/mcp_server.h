// The Model Context Protocol (MCP) server of Sextant: JSON-RPC 2.0 messages in, answers out, with
// the tools list_collections, search, ask and ingest over a database's text collections. The
// transports are elsewhere: `sextant mcp --db DIR` reads and writes newline-delimited messages on
// stdio (RunStdio below), sextantd --mcp-listen serves them over streamable HTTP
// (server/mcp_http.cc). See docs/mcp.md.
#ifndef SEXTANT_MCP_MCP_SERVER_H_
#define SEXTANT_MCP_MCP_SERVER_H_

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::mcp {

// What the tools reach. sextantd passes its cached text collections and configured generator;
// the CLI its own. Called from several threads at once (the HTTP transport serves requests
// concurrently): implementations must be thread-safe.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual StatusOr<std::vector<CollectionInfo>> ListCollections() = 0;
  // NotFound, or FailedPrecondition for a plain vector collection.
  virtual StatusOr<std::shared_ptr<rag::TextCollection>> OpenText(std::string_view name) = 0;
  // The generator `ask` answers with.
  virtual StatusOr<rag::Generator*> AnswerGenerator() = 0;
};

struct ServerOptions {
  std::string name = "sextant";
  std::string version;              // serverInfo.version
  uint32_t max_k = 100;             // search and ask: k is 1..max_k
  uint32_t max_ingest_documents = 1000;  // documents in one ingest call
  // What ask's generation settings (temperature, max_tokens, stop, seed, model) may ask: the
  // same limits as the gRPC Ask (sextantd --llm-max-tokens, --llm-models).
  rag::GenerationLimits generation_limits;
  // ask: no answer within this many milliseconds (or the call's timeout_ms, 1..max_ask_ms) is a
  // DEADLINE_EXCEEDED tool error; the generator is stopped at its next token.
  uint32_t max_ask_ms = 300000;
};

// The protocol revisions answered; a client asking for another gets the newest (the client then
// decides whether it can go on, as the MCP specification says).
inline constexpr const char* kProtocolVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

class Server {
 public:
  Server(Backend& backend, ServerOptions options);
  // Waits for asks that ended at their deadline while their generator still ran (each ends at the
  // generator's next token or its own timeout), so that nothing outlives the backend.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // One JSON-RPC message (a request, a notification, or a batch of them). Returns the response,
  // or nullopt when there is none (notifications, responses). `may_write` is false for a caller
  // with a read-only key: then `ingest` answers a tool error (PERMISSION_DENIED). Thread-safe.
  std::optional<nlohmann::json> Handle(const nlohmann::json& message, bool may_write);
  // The same from text: invalid JSON gets the JSON-RPC parse error (-32700).
  std::optional<nlohmann::json> HandleText(std::string_view text, bool may_write);

  // The tool definitions (tools/list's "tools").
  static nlohmann::json ToolDefinitions();

 private:
  nlohmann::json HandleOne(const nlohmann::json& request, bool may_write, bool* respond);
  nlohmann::json CallTool(const nlohmann::json& params, bool may_write);
  StatusOr<nlohmann::json> RunTool(const std::string& name, const nlohmann::json& args, bool may_write);
  StatusOr<nlohmann::json> ListCollections();
  StatusOr<nlohmann::json> Search(const nlohmann::json& args);
  StatusOr<nlohmann::json> Ask(const nlohmann::json& args);
  StatusOr<nlohmann::json> Ingest(const nlohmann::json& args, bool may_write);

  Backend& backend_;
  const ServerOptions options_;
  // The threads answering asks (each ask runs on one, so that its deadline holds).
  struct Workers;
  const std::shared_ptr<Workers> workers_;
};

// Serves newline-delimited JSON-RPC messages from `in` to `out` (the MCP stdio transport) until
// `in` ends. Every message is answered in order; `out` is flushed after each answer.
void RunStdio(Server& server, std::istream& in, std::ostream& out, bool may_write = true);

}  // namespace sextant::mcp

#endif  // SEXTANT_MCP_MCP_SERVER_H_
