// The MCP protocol (JSON-RPC 2.0: initialize, ping, tools/list, tools/call) and Sextant's tools.
#include "mcp/mcp_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <istream>
#include <ostream>
#include <thread>
#include <utility>

#include "sync/mutex.h"

namespace sextant::mcp {
namespace {

using Json = nlohmann::json;

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

Json RpcError(const Json& id, int code, const std::string& message) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

Json RpcResult(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

// A tool's answer: the JSON as text (what every MCP host shows the model) and as structured content.
Json ToolResult(const Json& value) {
  return Json{{"content", Json::array({Json{{"type", "text"}, {"text", value.dump(2)}}})},
              {"structuredContent", value},
              {"isError", false}};
}

// A failed tool call is a result with isError, so that the model sees why (MCP specification,
// "Error Handling"): "NOT_FOUND: collection ...".
Json ToolError(const Status& status) {
  return Json{{"content", Json::array({Json{{"type", "text"}, {"text", status.ToString()}}})},
              {"isError", true}};
}

Json CollectionArg() {
  return Json{{"type", "string"}, {"description", "the name of a text collection (see list_collections)"}};
}

Json KArg(const char* what) {
  return Json{{"type", "integer"}, {"minimum", 1}, {"maximum", 100}, {"default", 5}, {"description", what}};
}

Json FilterArg() {
  return Json{{"type", "object"},
              {"description",
               "optional payload filter (Sextant's filter language), e.g. {\"metadata.lang\": \"en\"}; "
               "document metadata fields are metadata.<field>"}};
}

// The string argument `key`: InvalidArgument when it is missing, not a string or empty.
StatusOr<std::string> RequiredString(const Json& args, const char* key) {
  auto it = args.find(key);
  if (it == args.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Status::InvalidArgument(std::string("argument \"") + key + "\": required, a non-empty string");
  }
  return it->get<std::string>();
}

// k, filter -> RetrieveOptions.
StatusOr<rag::RetrieveOptions> RetrieveArgs(const Json& args, uint32_t max_k) {
  rag::RetrieveOptions options;
  if (auto it = args.find("k"); it != args.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > max_k) {
      return Status::InvalidArgument("argument \"k\": must be an integer in 1.." + std::to_string(max_k));
    }
    options.k = static_cast<uint32_t>(it->get<int64_t>());
  }
  if (auto it = args.find("filter"); it != args.end() && !it->is_null()) {
    if (it->is_object()) {
      if (!it->empty()) options.filter = it->dump();
    } else if (it->is_string()) {
      options.filter = it->get<std::string>();
    } else {
      return Status::InvalidArgument("argument \"filter\": must be a JSON object");
    }
  }
  return options;
}

// "generation.max_tokens: ..." (the engine's checks) -> "argument \"max_tokens\": ...".
Status AsArgumentError(const Status& s) {
  std::string_view m = s.message();
  constexpr std::string_view kPrefix = "generation.";
  if (m.substr(0, kPrefix.size()) != kPrefix) return s;
  m.remove_prefix(kPrefix.size());
  const size_t colon = m.find(':');
  if (colon == std::string_view::npos) return s;
  std::string field(m.substr(0, colon));
  std::string rest(m.substr(colon));
  if (size_t bracket = field.find('['); bracket != std::string::npos) {  // stop[1] -> "stop"[1]
    rest = field.substr(bracket) + rest;
    field.resize(bracket);
  }
  return Status(s.code(), "argument \"" + field + "\"" + rest);
}

// temperature, max_tokens, stop, seed, model -> GenerationSettings, checked against `limits`.
StatusOr<rag::GenerationSettings> GenerationArgs(const Json& args, const rag::GenerationLimits& limits) {
  rag::GenerationSettings g;
  auto given = [&](const char* key) -> const Json* {
    auto it = args.find(key);
    return it == args.end() || it->is_null() ? nullptr : &*it;
  };
  if (const Json* t = given("temperature")) {
    if (!t->is_number()) return Status::InvalidArgument("argument \"temperature\": must be a number in [0, 2]");
    g.temperature = t->get<float>();
  }
  if (const Json* n = given("max_tokens")) {
    if (!n->is_number_integer() || n->get<int64_t>() < 1 || n->get<int64_t>() > 1000000) {
      return Status::InvalidArgument("argument \"max_tokens\": must be an integer >= 1 (the server's limit is " +
                                     std::to_string(limits.max_tokens) + ")");
    }
    g.max_tokens = static_cast<uint32_t>(n->get<int64_t>());
  }
  if (const Json* stop = given("stop")) {
    if (stop->is_string()) {
      g.stop = {stop->get<std::string>()};
    } else if (stop->is_array()) {
      for (size_t i = 0; i < stop->size(); ++i) {
        if (!(*stop)[i].is_string()) {
          return Status::InvalidArgument("argument \"stop\"[" + std::to_string(i) + "]: must be a string");
        }
        g.stop.push_back((*stop)[i].get<std::string>());
      }
    } else {
      return Status::InvalidArgument("argument \"stop\": must be a string or an array of strings");
    }
  }
  if (const Json* seed = given("seed")) {
    if (!seed->is_number_integer()) return Status::InvalidArgument("argument \"seed\": must be an integer");
    g.seed = seed->get<int64_t>();
  }
  if (const Json* model = given("model")) {
    if (!model->is_string() || model->get<std::string>().empty()) {
      return Status::InvalidArgument("argument \"model\": must be a non-empty string");
    }
    g.model = model->get<std::string>();
  }
  if (Status s = limits.Check(g); !s.ok()) return AsArgumentError(s);
  return g;
}

Json CitationJson(const rag::Citation& c, bool with_cited) {
  Json j = {{"number", c.number}, {"document_id", c.document_id}, {"chunk", c.chunk},
            {"score", c.score},   {"text", c.text},               {"begin", c.begin},
            {"end", c.end}};
  if (with_cited) j["cited"] = c.cited;
  return j;
}

Json ObjectSchema(Json properties, Json required) {
  return Json{{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)},
              {"additionalProperties", false}};
}

}  // namespace

struct Server::Workers {
  internal::Mutex mu;
  std::condition_variable_any idle;
  int running SEXTANT_GUARDED_BY(mu) = 0;
};

Server::Server(Backend& backend, ServerOptions options)
    : backend_(backend), options_(std::move(options)), workers_(std::make_shared<Workers>()) {}

Server::~Server() {
  internal::MutexLock lock(workers_->mu);
  workers_->idle.wait(workers_->mu, [this]() SEXTANT_REQUIRES(workers_->mu) { return workers_->running == 0; });
}

Json Server::ToolDefinitions() {
  Json tools = Json::array();
  tools.push_back({{"name", "list_collections"},
                   {"title", "List collections"},
                   {"description",
                    "Lists the collections of the Sextant database: name, number of chunks (points), "
                    "dimension, and for text collections the embedder. search, ask and ingest work on "
                    "text collections."},
                   {"inputSchema", ObjectSchema(Json::object(), Json::array())},
                   {"annotations", {{"readOnlyHint", true}}}});
  tools.push_back({{"name", "search"},
                   {"title", "Search a text collection"},
                   {"description",
                    "Semantic search: the chunks of a text collection nearest to a query, best first, "
                    "each with its document id, chunk number, score and text."},
                   {"inputSchema", ObjectSchema({{"collection", CollectionArg()},
                                                 {"query", {{"type", "string"}, {"description", "what to look for"}}},
                                                 {"k", KArg("how many chunks (default 5)")},
                                                 {"filter", FilterArg()}},
                                                {"collection", "query"})},
                   {"annotations", {{"readOnlyHint", true}}}});
  tools.push_back({{"name", "ask"},
                   {"title", "Ask a text collection"},
                   {"description",
                    "Answers a question from a text collection (retrieval-augmented generation): "
                    "retrieves the k nearest chunks and answers from them, citing them as [n]. Returns "
                    "the answer and its citations."},
                   {"inputSchema", ObjectSchema({{"collection", CollectionArg()},
                                                 {"question", {{"type", "string"}, {"description", "the question"}}},
                                                 {"k", KArg("how many chunks to answer from (default 5)")},
                                                 {"filter", FilterArg()},
                                                 {"temperature",
                                                  {{"type", "number"},
                                                   {"minimum", 0},
                                                   {"maximum", 2},
                                                   {"description", "sampling temperature (default: the generator's)"}}},
                                                 {"max_tokens",
                                                  {{"type", "integer"},
                                                   {"minimum", 1},
                                                   {"description", "most tokens in the answer (at most the server's limit)"}}},
                                                 {"stop",
                                                  {{"type", "array"},
                                                   {"items", {{"type", "string"}}},
                                                   {"maxItems", 4},
                                                   {"description", "up to 4 stop sequences"}}},
                                                 {"seed", {{"type", "integer"}, {"description", "sampling seed"}}},
                                                 {"model",
                                                  {{"type", "string"},
                                                   {"description", "the language model to ask (default: the server's)"}}},
                                                 {"timeout_ms",
                                                  {{"type", "integer"},
                                                   {"minimum", 1},
                                                   {"description",
                                                    "give up (a DEADLINE_EXCEEDED error) when there is no answer "
                                                    "within this many milliseconds (default and most: the server's "
                                                    "limit, 300000 unless configured)"}}}},
                                                {"collection", "question"})},
                   {"annotations", {{"readOnlyHint", true}}}});
  tools.push_back(
      {{"name", "ingest"},
       {"title", "Ingest documents"},
       {"description",
        "Adds or replaces documents in a text collection: each is chunked, embedded and written "
        "atomically (a document with an existing id replaces it; an empty text deletes it). Needs a "
        "read-write API key on sextantd."},
       {"inputSchema",
        ObjectSchema({{"collection", CollectionArg()},
                      {"documents",
                       {{"type", "array"},
                        {"minItems", 1},
                        {"items",
                         ObjectSchema({{"id", {{"type", "string"}, {"description", "document id, 1..256 bytes"}}},
                                       {"text", {{"type", "string"}, {"description", "the document's text (UTF-8)"}}},
                                       {"metadata",
                                        {{"type", "object"},
                                         {"description", "optional fields stored with every chunk (filter on metadata.<field>)"}}}},
                                      {"id", "text"})}}}},
                     {"collection", "documents"})},
       {"annotations", {{"readOnlyHint", false}, {"destructiveHint", false}, {"idempotentHint", true}}}});
  return tools;
}

std::optional<Json> Server::HandleText(std::string_view text, bool may_write) {
  Json message = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return RpcError(nullptr, kParseError, "parse error: the message is not valid JSON");
  return Handle(message, may_write);
}

std::optional<Json> Server::Handle(const Json& message, bool may_write) {
  if (message.is_array()) {  // a batch (protocol 2025-03-26)
    if (message.empty()) return RpcError(nullptr, kInvalidRequest, "invalid request: an empty batch");
    Json out = Json::array();
    for (const Json& m : message) {
      bool respond = false;
      Json r = HandleOne(m, may_write, &respond);
      if (respond) out.push_back(std::move(r));
    }
    if (out.empty()) return std::nullopt;
    return out;
  }
  bool respond = false;
  Json r = HandleOne(message, may_write, &respond);
  if (!respond) return std::nullopt;
  return r;
}

Json Server::HandleOne(const Json& request, bool may_write, bool* respond) {
  *respond = true;
  if (!request.is_object() || request.value("jsonrpc", Json()) != "2.0") {
    return RpcError(nullptr, kInvalidRequest, "invalid request: not a JSON-RPC 2.0 object");
  }
  const bool has_id = request.contains("id");
  const Json id = has_id ? request["id"] : Json(nullptr);
  if (has_id && !id.is_string() && !id.is_number_integer()) {
    return RpcError(nullptr, kInvalidRequest, "invalid request: id must be a string or an integer");
  }
  if (!request.contains("method")) {
    *respond = false;  // a response (to a request this server never sends) or junk: nothing to answer
    return nullptr;
  }
  if (!request["method"].is_string()) return RpcError(id, kInvalidRequest, "invalid request: method must be a string");
  const std::string method = request["method"];
  if (!has_id) {  // a notification (notifications/initialized, notifications/cancelled, ...)
    *respond = false;
    return nullptr;
  }
  const Json params = request.value("params", Json::object());
  if (!params.is_object()) return RpcError(id, kInvalidParams, "invalid params: params must be an object");
  if (method == "initialize") {
    std::string version = kProtocolVersions[0];
    if (auto it = params.find("protocolVersion"); it != params.end() && it->is_string()) {
      for (const char* v : kProtocolVersions) {
        if (*it == v) version = v;
      }
    }
    return RpcResult(id, {{"protocolVersion", version},
                          {"capabilities", {{"tools", {{"listChanged", false}}}}},
                          {"serverInfo", {{"name", options_.name}, {"version", options_.version}}},
                          {"instructions",
                           "Sextant is a vector database. list_collections shows the text collections; "
                           "search finds passages, ask answers a question from them with citations, "
                           "ingest adds documents."}});
  }
  if (method == "ping") return RpcResult(id, Json::object());
  if (method == "tools/list") return RpcResult(id, {{"tools", ToolDefinitions()}});
  if (method == "tools/call") {
    if (!params.contains("name") || !params["name"].is_string()) {
      return RpcError(id, kInvalidParams, "invalid params: tools/call needs \"name\" (a string)");
    }
    const std::string name = params["name"];
    if (name != "list_collections" && name != "search" && name != "ask" && name != "ingest") {
      return RpcError(id, kInvalidParams,
                      "unknown tool \"" + name + "\" (the tools are list_collections, search, ask, ingest)");
    }
    const Json args = params.value("arguments", Json::object());
    if (!args.is_object()) return RpcError(id, kInvalidParams, "invalid params: arguments must be an object");
    return RpcResult(id, CallTool(params, may_write));
  }
  return RpcError(id, kMethodNotFound, "method not found: " + method);
}

Json Server::CallTool(const Json& params, bool may_write) {
  StatusOr<Json> out = Status::Internal("unreached");
  try {
    out = RunTool(params["name"], params.value("arguments", Json::object()), may_write);
  } catch (const Json::exception& e) {
    out = Status::InvalidArgument(std::string("an argument has the wrong type: ") + e.what());
  }
  return out.ok() ? ToolResult(*out) : ToolError(out.status());
}

StatusOr<Json> Server::RunTool(const std::string& name, const Json& args, bool may_write) {
  if (name == "list_collections") return ListCollections();
  if (name == "search") return Search(args);
  if (name == "ask") return Ask(args);
  return Ingest(args, may_write);
}

StatusOr<Json> Server::ListCollections() {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, backend_.ListCollections());
  Json list = Json::array();
  for (const CollectionInfo& info : all) {
    Json c = {{"name", info.name}, {"points", info.count}, {"dimension", info.dimension}, {"index", info.index}};
    auto config = rag::TextCollection::ConfigOf(info);
    const bool text = config.ok() && config->has_value();
    c["text"] = text;
    if (text) c["embedder"] = (*config)->embedder.kind;
    if (!info.damage.empty()) c["damage"] = info.damage;
    list.push_back(std::move(c));
  }
  return Json{{"collections", std::move(list)}};
}

StatusOr<Json> Server::Search(const Json& args) {
  SEXTANT_ASSIGN_OR_RETURN(std::string collection, RequiredString(args, "collection"));
  SEXTANT_ASSIGN_OR_RETURN(std::string query, RequiredString(args, "query"));
  SEXTANT_ASSIGN_OR_RETURN(rag::RetrieveOptions options, RetrieveArgs(args, options_.max_k));
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<rag::TextCollection> text, backend_.OpenText(collection));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<rag::Citation> found, text->Retrieve(query, options));
  Json hits = Json::array();
  for (const rag::Citation& c : found) {
    Json h = CitationJson(c, /*with_cited=*/false);
    h.erase("number");
    hits.push_back(std::move(h));
  }
  return Json{{"collection", collection}, {"query", query}, {"hits", std::move(hits)}};
}

StatusOr<Json> Server::Ask(const Json& args) {
  SEXTANT_ASSIGN_OR_RETURN(std::string collection, RequiredString(args, "collection"));
  SEXTANT_ASSIGN_OR_RETURN(std::string question, RequiredString(args, "question"));
  rag::AskOptions options;
  SEXTANT_ASSIGN_OR_RETURN(options.retrieve, RetrieveArgs(args, options_.max_k));
  SEXTANT_ASSIGN_OR_RETURN(options.generation, GenerationArgs(args, options_.generation_limits));
  uint32_t timeout_ms = options_.max_ask_ms;
  if (auto it = args.find("timeout_ms"); it != args.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > options_.max_ask_ms) {
      return Status::InvalidArgument("argument \"timeout_ms\": must be an integer in 1.." +
                                     std::to_string(options_.max_ask_ms));
    }
    timeout_ms = static_cast<uint32_t>(it->get<int64_t>());
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<rag::TextCollection> text, backend_.OpenText(collection));
  SEXTANT_ASSIGN_OR_RETURN(rag::Generator * generator, backend_.AnswerGenerator());

  // The answer is made on a thread of its own, so that a generator slower than the deadline ends
  // this call with a tool error instead of holding it. Past the deadline the thread is told to
  // stop (at the generator's next token) and the destructor waits for it.
  struct Job {
    internal::Mutex mu;
    std::condition_variable_any done_cv;
    bool done SEXTANT_GUARDED_BY(mu) = false;
    StatusOr<rag::Answer> answer SEXTANT_GUARDED_BY(mu) = Status::Internal("no answer");
    std::atomic<bool> abandoned{false};
  };
  auto job = std::make_shared<Job>();
  {
    internal::MutexLock lock(workers_->mu);
    ++workers_->running;
  }
  std::thread([job, workers = workers_, text, generator, question, options]() mutable {
    StatusOr<rag::Answer> answer =
        text->Ask(question, options, *generator, [&job](std::string_view) { return !job->abandoned.load(); });
    text.reset();  // before the count drops: nothing of the backend is held once it is zero
    {
      internal::MutexLock lock(job->mu);
      job->answer = std::move(answer);
      job->done = true;
    }
    job->done_cv.notify_all();
    {
      internal::MutexLock lock(workers->mu);
      --workers->running;
    }
    workers->idle.notify_all();
  }).detach();
  StatusOr<rag::Answer> result = Status::Internal("no answer");
  {
    internal::MutexLock lock(job->mu);
    if (!job->done_cv.wait_until(job->mu, deadline, [&job]() SEXTANT_REQUIRES(job->mu) { return job->done; })) {
      job->abandoned.store(true);
      return Status::DeadlineExceeded("ask: no answer within timeout_ms = " + std::to_string(timeout_ms) +
                                      " ms (generator " + generator->name() +
                                      " is slow or not answering); retry with a larger timeout_ms (at most " +
                                      std::to_string(options_.max_ask_ms) + ")");
    }
    result = std::move(job->answer);
  }
  SEXTANT_ASSIGN_OR_RETURN(rag::Answer answer, std::move(result));
  Json citations = Json::array();
  for (const rag::Citation& c : answer.citations) citations.push_back(CitationJson(c, /*with_cited=*/true));
  return Json{{"answer", answer.text},
              {"citations", std::move(citations)},
              {"generator", answer.generator},
              {"timings_ms",
               {{"embed", answer.timings.embed_ms},
                {"retrieve", answer.timings.retrieve_ms},
                {"generate", answer.timings.generate_ms},
                {"total", answer.timings.total_ms}}}};
}

StatusOr<Json> Server::Ingest(const Json& args, bool may_write) {
  if (!may_write) {
    return Status::PermissionDenied("ingest changes the database: it needs a read-write API key (this caller's key "
                                    "is read-only, or the server runs with --read-only)");
  }
  SEXTANT_ASSIGN_OR_RETURN(std::string collection, RequiredString(args, "collection"));
  auto it = args.find("documents");
  if (it == args.end() || !it->is_array() || it->empty()) {
    return Status::InvalidArgument("argument \"documents\": required, a non-empty array of {id, text, metadata}");
  }
  if (it->size() > options_.max_ingest_documents) {
    return Status::InvalidArgument("argument \"documents\": at most " + std::to_string(options_.max_ingest_documents) +
                                   " documents in one call, got " + std::to_string(it->size()));
  }
  std::vector<rag::Document> documents;
  documents.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& d = (*it)[i];
    const std::string where = "documents[" + std::to_string(i) + "]";
    if (!d.is_object()) return Status::InvalidArgument(where + ": not an object");
    if (!d.contains("id") || !d["id"].is_string()) return Status::InvalidArgument(where + ".id: required, a string");
    if (!d.contains("text") || !d["text"].is_string()) return Status::InvalidArgument(where + ".text: required, a string");
    rag::Document doc{d["id"], d["text"], ""};
    if (auto m = d.find("metadata"); m != d.end() && !m->is_null()) {
      if (!m->is_object()) return Status::InvalidArgument(where + ".metadata: must be an object");
      doc.metadata = m->dump();
    }
    documents.push_back(std::move(doc));
  }
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<rag::TextCollection> text, backend_.OpenText(collection));
  SEXTANT_ASSIGN_OR_RETURN(rag::IngestResult result, text->Ingest(documents));
  return Json{{"collection", collection},
              {"documents", result.documents},
              {"chunks", result.chunks},
              {"replaced_chunks", result.replaced_chunks}};
}

void RunStdio(Server& server, std::istream& in, std::ostream& out, bool may_write) {
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::optional<Json> answer = server.HandleText(line, may_write);
    if (!answer) continue;
    // Invalid UTF-8 in a stored text is replaced rather than thrown about.
    out << answer->dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
    out.flush();
  }
}

}  // namespace sextant::mcp
