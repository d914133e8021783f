// The OpenAI-compatible HTTP endpoint: OpenAI's request and answer shapes translated to
// TextCollection::Chat and Embed. See docs/openai.md.
#include "server/openai_http.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/log.h"

namespace sextant::server {
namespace {

using Json = nlohmann::json;

std::atomic<uint64_t> next_id{1};

// What the gRPC Chat allows (server/service_chat.cc): at most this many messages in a request.
constexpr size_t kMaxMessages = 1000;
// No model round of a chat starts later than this after the request arrived (an HTTP client sets
// no deadline the server can see); `sextant.timeout_ms` shortens it. As long as the write timeout.
constexpr uint32_t kMaxChatMs = 300000;

int HttpStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

Json ErrorBody(const std::string& message, const std::string& type, const std::string& code) {
  return Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code.empty() ? Json(nullptr) : Json(code)}}}};
}

void SendError(httplib::Response& res, int status, const std::string& message, const std::string& code = "") {
  const std::string type = status == 401   ? "authentication_error"
                           : status == 403 ? "permission_error"
                           : status == 404 ? "not_found_error"
                           : status == 429 ? "rate_limit_error"
                           : status >= 500 ? "server_error"
                                           : "invalid_request_error";
  res.status = status;
  res.set_content(ErrorBody(message, type, code).dump(), "application/json");
}

void SendStatus(httplib::Response& res, const Status& s, const std::string& code = "") {
  SendError(res, HttpStatus(s.code()), std::string(s.message()), code);
}

// The request counted for the shutdown drain, or null after a 503 answer (the server is
// shutting down: it finishes the requests in flight and takes no new ones).
std::shared_ptr<SextantService::HttpRequest> Track(SextantService& service, httplib::Response& res) {
  auto request = service.TrackHttpRequest();
  if (!request) {
    res.set_header("Connection", "close");
    SendError(res, 503, "the server is shutting down", "server_shutting_down");
  }
  return request;
}

// 401 unless the request carries a valid key (when the server has keys).
bool Authorized(SextantService& service, const httplib::Request& req, httplib::Response& res) {
  const std::string auth = req.get_header_value("Authorization");
  if (service.CheckKey(auth) != Access::kDenied) return true;
  SendError(res, 401,
            auth.empty() ? "this server needs an API key: send \"Authorization: Bearer KEY\""
                         : "the API key is not valid",
            "invalid_api_key");
  return false;
}

std::string Base64(const void* data, size_t size) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kChars[v >> 18];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
    out += kChars[v & 63];
  }
  if (i < size) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (i + 1 < size) v |= uint32_t{p[i + 1]} << 8;
    out += kChars[v >> 18];
    out += kChars[(v >> 12) & 63];
    out += i + 1 < size ? kChars[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

size_t Words(const std::string& s) {
  size_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in) ++n;
    in = !space;
  }
  return n;
}

Json CallJson(const rag::ToolCall& c) {
  return Json{{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}};
}

Json CitationsJson(const rag::Answer& a) {
  Json out = Json::array();
  for (const rag::Citation& c : a.citations) {
    out.push_back({{"number", c.number},
                   {"document_id", c.document_id},
                   {"chunk", c.chunk},
                   {"score", c.score},
                   {"text", c.text},
                   {"begin", c.begin},
                   {"end", c.end},
                   {"cited", c.cited}});
  }
  return out;
}

Json SextantJson(const rag::Answer& a) {
  Json calls = Json::array();
  for (const rag::ToolCall& c : a.tool_calls) calls.push_back(CallJson(c));
  return Json{{"standalone_question", a.standalone_question},
              {"tool_calls", calls},
              {"tool_rounds", a.tool_rounds},
              {"generator", a.generator},
              {"embedder", a.embedder},
              {"timings",
               {{"embed_ms", a.timings.embed_ms},
                {"retrieve_ms", a.timings.retrieve_ms},
                {"rewrite_ms", a.timings.rewrite_ms},
                {"tools_ms", a.timings.tools_ms},
                {"generate_ms", a.timings.generate_ms},
                {"total_ms", a.timings.total_ms}}}};
}

// Everything of a chat request that is checked before answering.
struct ChatCall {
  std::string model;  // as the client sent it
  std::string collection;
  std::string generator;
  std::vector<rag::ChatMessage> messages;
  rag::ChatOptions options;
  bool stream = false;
  std::shared_ptr<rag::TextCollection> text;
  rag::Generator* gen = nullptr;
  // A server-side conversation ("conversation_id"; "store": true starts one): `messages` are
  // its new messages.
  std::string conversation_id;
  rag::ConversationStore* store = nullptr;
};

// An id for a conversation the server starts ("store": true without "conversation_id").
std::string NewConversationId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "conv-";
  for (int i = 0; i < 2; ++i) {
    uint64_t v = rng();
    for (int j = 0; j < 16; ++j, v >>= 4) id += kHex[v & 15];
  }
  return id;
}

// Parses and checks the request. On failure the error answer is in `res` and false returned.
bool ParseChat(SextantService& service, const httplib::Request& req, httplib::Response& res, ChatCall& call) {
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return SendError(res, 400, "the body is not a JSON object"), false;
  if (!body.contains("model") || !body["model"].is_string() || body["model"].get<std::string>().empty()) {
    return SendError(res, 400, "model: required (the name of a text collection, or \"collection@model\")"), false;
  }
  call.model = body["model"].get<std::string>();
  call.collection = call.model;
  if (size_t at = call.model.find('@'); at != std::string::npos) {
    call.collection = call.model.substr(0, at);
    call.options.generation.model = call.model.substr(at + 1);
    call.generator = "openai";
  }
  try {
    if (!body.contains("messages") || !body["messages"].is_array()) {
      return SendError(res, 400, "messages: required (an array of messages)"), false;
    }
    if (body["messages"].size() > kMaxMessages) {
      return SendError(res, 400, "messages: " + std::to_string(body["messages"].size()) + " messages; at most " +
                                     std::to_string(kMaxMessages)),
             false;
    }
    for (size_t i = 0; i < body["messages"].size(); ++i) {
      const Json& m = body["messages"][i];
      const std::string where = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) return SendError(res, 400, where + ": not an object"), false;
      rag::ChatMessage msg;
      msg.role = m.value("role", std::string());
      if (m.contains("content") && m["content"].is_string()) {
        msg.content = m["content"].get<std::string>();
      } else if (m.contains("content") && m["content"].is_array()) {  // content parts: the text ones
        for (const Json& part : m["content"]) {
          if (part.is_object() && part.value("type", "") == "text") msg.content += part.value("text", "");
        }
      }
      if (m.contains("tool_calls") && m["tool_calls"].is_array()) {
        for (const Json& c : m["tool_calls"]) {
          const Json f = c.value("function", Json::object());
          msg.tool_calls.push_back({c.value("id", std::string()), f.value("name", std::string()),
                                    f.contains("arguments") && f["arguments"].is_string() ? f["arguments"].get<std::string>()
                                                                                          : f.value("arguments", Json::object()).dump()});
        }
      }
      if (m.contains("tool_call_id") && m["tool_call_id"].is_string()) msg.tool_call_id = m["tool_call_id"];
      call.messages.push_back(std::move(msg));
    }
    // Server-side conversations (docs/openai.md): "conversation_id" continues a stored one with the
    // new messages only; "store": true starts one (under a new id when none is given).
    if (body.contains("store") && !body["store"].is_null() && !body["store"].is_boolean()) {
      return SendError(res, 400, "store: must be true or false"), false;
    }
    const bool store = body.contains("store") && body["store"].is_boolean() && body["store"].get<bool>();
    if (body.contains("conversation_id") && !body["conversation_id"].is_null()) {
      if (!body["conversation_id"].is_string()) {
        return SendError(res, 400, "conversation_id: must be a string", "invalid_conversation_id"), false;
      }
      call.conversation_id = body["conversation_id"].get<std::string>();
      if (Status s = rag::ConversationStore::ValidateId(call.conversation_id); !s.ok()) {
        return SendError(res, 400, "conversation_id: " + std::string(s.message()), "invalid_conversation_id"), false;
      }
    } else if (store) {
      call.conversation_id = NewConversationId();
    }
    if (!call.conversation_id.empty()) {
      if (service.CheckKey(req.get_header_value("Authorization")) != Access::kReadWrite) {
        return SendError(res, 403,
                         "conversation_id: a stored conversation writes to the database, and this API key is "
                         "read-only"),
               false;
      }
      if (call.messages.empty()) {
        return SendError(res, 400, "messages: empty (send the new message of conversation \"" +
                                       call.conversation_id + "\")"),
               false;
      }
      auto conversations = service.Conversations();
      if (!conversations.ok()) return SendStatus(res, conversations.status()), false;
      call.store = *conversations;
      if (!store) {
        auto existing = call.store->Get(call.conversation_id);
        if (!existing.ok()) {
          if (existing.status().code() == StatusCode::kNotFound) {
            return SendError(res, 404,
                             "conversation_id: there is no conversation \"" + call.conversation_id +
                                 "\" (start one with \"store\": true)",
                             "conversation_not_found"),
                   false;
          }
          return SendStatus(res, existing.status()), false;
        }
      }
      // The stored turns come first: the store validates the whole conversation.
    } else if (Status s = rag::ValidateConversation(call.messages); !s.ok()) {
      return SendStatus(res, s), false;
    }
    call.stream = body.value("stream", false);
    rag::GenerationSettings& g = call.options.generation;
    if (body.contains("temperature") && !body["temperature"].is_null()) g.temperature = body["temperature"].get<float>();
    for (const char* key : {"max_tokens", "max_completion_tokens"}) {
      if (body.contains(key) && !body[key].is_null()) {
        const int64_t n = body[key].get<int64_t>();
        if (n <= 0 || n > 1000000) return SendError(res, 400, std::string(key) + ": must be 1..1000000"), false;
        g.max_tokens = static_cast<uint32_t>(n);
      }
    }
    if (body.contains("stop") && body["stop"].is_string()) g.stop = {body["stop"].get<std::string>()};
    if (body.contains("stop") && body["stop"].is_array()) g.stop = body["stop"].get<std::vector<std::string>>();
    if (body.contains("seed") && !body["seed"].is_null()) g.seed = body["seed"].get<int64_t>();
    if (body.contains("n") && !body["n"].is_null() && body["n"].get<int64_t>() != 1) {
      return SendError(res, 400, "n: only 1 choice is supported"), false;
    }
    if (body.contains("tools") && body["tools"].is_array()) {
      for (const Json& t : body["tools"]) {
        const Json f = t.value("function", Json::object());
        rag::FunctionDefinition def;
        def.name = f.value("name", std::string());
        def.description = f.value("description", std::string());
        if (f.contains("parameters")) def.parameters = f["parameters"].dump();
        call.options.functions.push_back(std::move(def));
      }
    }
    if (body.contains("tool_choice") && body["tool_choice"] == "none") call.options.functions.clear();
    // Sextant's own settings, in the extra object "sextant".
    const Json ext = body.value("sextant", Json::object());
    if (!ext.is_object()) return SendError(res, 400, "sextant: must be an object"), false;
    if (ext.contains("k")) call.options.retrieve.k = ext["k"].get<uint32_t>();
    if (call.options.retrieve.k == 0 || call.options.retrieve.k > kMaxAskK) {
      return SendError(res, 400, "sextant.k: must be 1.." + std::to_string(kMaxAskK)), false;
    }
    if (ext.contains("filter")) {
      call.options.retrieve.filter = ext["filter"].is_string() ? ext["filter"].get<std::string>() : ext["filter"].dump();
    }
    if (ext.contains("generator")) call.generator = ext["generator"].get<std::string>();
    call.options.tools_auto = ext.value("tools", std::string()) == "auto";
    if (ext.contains("max_tool_rounds")) call.options.max_tool_rounds = ext["max_tool_rounds"].get<uint32_t>();
    uint32_t timeout_ms = kMaxChatMs;
    if (ext.contains("timeout_ms")) {
      const Json& value = ext["timeout_ms"];
      const int64_t t = value.is_number_integer() ? value.get<int64_t>() : 0;
      if (t < 1 || t > kMaxChatMs) {
        return SendError(res, 400, "sextant.timeout_ms: must be 1.." + std::to_string(kMaxChatMs)), false;
      }
      timeout_ms = static_cast<uint32_t>(t);
    }
    call.options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    if (ext.contains("max_history_tokens")) call.options.max_history_tokens = ext["max_history_tokens"].get<uint32_t>();
    if (ext.contains("rewrite")) {
      const std::string r = ext["rewrite"].get<std::string>();
      if (r == "auto") call.options.rewrite = rag::RewriteMode::kAuto;
      else if (r == "model") call.options.rewrite = rag::RewriteMode::kModel;
      else if (r == "heuristic") call.options.rewrite = rag::RewriteMode::kHeuristic;
      else if (r == "off") call.options.rewrite = rag::RewriteMode::kOff;
      else return SendError(res, 400, "sextant.rewrite: \"" + r + "\" is not auto, model, heuristic or off"), false;
    }
  } catch (const Json::exception& e) {
    return SendError(res, 400, std::string("a field has the wrong type: ") + e.what()), false;
  }
  if (Status s = service.generation_limits().Check(call.options.generation); !s.ok()) return SendStatus(res, s), false;
  auto gen = service.FindGenerator(call.generator);
  if (!gen.ok()) return SendStatus(res, gen.status()), false;
  call.gen = *gen;
  auto text = service.OpenTextCollection(call.collection);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return SendError(res, 404, "The model `" + call.model + "` does not exist: there is no text collection \"" +
                                     call.collection + "\"",
                       "model_not_found"),
             false;
    }
    return SendStatus(res, text.status()), false;
  }
  call.text = std::move(text).value();
  return true;
}

// The chat of a checked request: a turn of its stored conversation, or of the messages sent.
StatusOr<rag::Answer> RunChat(const ChatCall& call, const rag::TokenCallback& on_token) {
  if (call.store) {
    return call.store->Chat(*call.text, call.conversation_id, call.messages, call.options, *call.gen, on_token);
  }
  return call.text->Chat(call.messages, call.options, *call.gen, on_token);
}

std::string FinishReason(const rag::Answer& a) { return a.finish_reason.empty() ? "stop" : a.finish_reason; }

void ChatCompletions(SextantService& service, const httplib::Request& req, httplib::Response& res) {
  auto tracked = Track(service, res);
  if (!tracked) return;
  if (!Authorized(service, req, res)) return;
  auto call = std::make_shared<ChatCall>();
  if (!ParseChat(service, req, res, *call)) return;
  const std::string id = "chatcmpl-" + std::to_string(next_id++);
  const int64_t created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!call->stream) {
    auto answer = RunChat(*call, [&service](std::string_view) { return !service.http_cancelled(); });
    if (service.http_cancelled()) {
      return SendError(res, 503, "the server shut down before the answer was complete", "server_shutting_down");
    }
    if (!answer.ok()) return SendStatus(res, answer.status());
    Json message = {{"role", "assistant"}, {"content", answer->text}};
    if (!answer->pending_calls.empty()) {
      message["tool_calls"] = Json::array();
      for (const rag::ToolCall& c : answer->pending_calls) message["tool_calls"].push_back(CallJson(c));
    }
    size_t prompt = 0;
    for (const rag::ChatMessage& m : call->messages) prompt += Words(m.content);
    const size_t completion = Words(answer->text);
    Json out = {{"id", id},
                {"object", "chat.completion"},
                {"created", created},
                {"model", call->model},
                {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", FinishReason(*answer)}}}},
                {"usage", {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}}},
                {"citations", CitationsJson(*answer)},
                {"sextant", SextantJson(*answer)}};
    if (!call->conversation_id.empty()) out["conversation_id"] = call->conversation_id;
    res.set_content(out.dump(), "application/json");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  // The stream is written after this handler returns: it holds the request's count until it ends.
  res.set_chunked_content_provider("text/event-stream", [&service, call, id, created, tracked](size_t, httplib::DataSink& sink) {
    auto chunk = [&](const Json& delta, const Json& finish, Json extra = Json::object()) {
      Json event = {{"id", id},
                    {"object", "chat.completion.chunk"},
                    {"created", created},
                    {"model", call->model},
                    {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}};
      for (auto& [k, v] : extra.items()) event[k] = v;
      const std::string line = "data: " + event.dump() + "\n\n";
      return sink.write(line.data(), line.size());
    };
    bool open = chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
    auto answer = RunChat(*call, [&](std::string_view piece) {
      open = open && !service.http_cancelled() && chunk({{"content", std::string(piece)}}, nullptr);
      return open;
    });
    if (!open) return false;  // the client went away
    if (!answer.ok()) {
      const std::string line =
          "data: " + ErrorBody(std::string(answer.status().message()), "server_error", "").dump() + "\n\n";
      sink.write(line.data(), line.size());
    } else {
      Json delta = Json::object();
      if (!answer->pending_calls.empty()) {
        delta["tool_calls"] = Json::array();
        for (size_t i = 0; i < answer->pending_calls.size(); ++i) {
          Json c = CallJson(answer->pending_calls[i]);
          c["index"] = i;
          delta["tool_calls"].push_back(c);
        }
      }
      Json extra = {{"citations", CitationsJson(*answer)}, {"sextant", SextantJson(*answer)}};
      if (!call->conversation_id.empty()) extra["conversation_id"] = call->conversation_id;
      chunk(delta, FinishReason(*answer), std::move(extra));
    }
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  });
}

void Embeddings(SextantService& service, const httplib::Request& req, httplib::Response& res) {
  auto tracked = Track(service, res);
  if (!tracked) return;
  if (!Authorized(service, req, res)) return;
  Json body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return SendError(res, 400, "the body is not a JSON object");
  if (!body.contains("model") || !body["model"].is_string()) {
    return SendError(res, 400, "model: required (the name of a text collection: its embedder is used)");
  }
  const std::string model = body["model"];
  std::vector<std::string> texts;
  if (body.contains("input") && body["input"].is_string()) {
    texts.push_back(body["input"]);
  } else if (body.contains("input") && body["input"].is_array()) {
    for (size_t i = 0; i < body["input"].size(); ++i) {
      if (!body["input"][i].is_string()) {
        return SendError(res, 400, "input[" + std::to_string(i) + "]: not a string (token arrays are not supported)");
      }
      texts.push_back(body["input"][i]);
    }
  } else {
    return SendError(res, 400, "input: required (a string or an array of strings)");
  }
  if (texts.empty()) return SendError(res, 400, "input: empty");
  if (texts.size() > 2048) return SendError(res, 400, "input: at most 2048 texts");
  const std::string format = body.value("encoding_format", std::string("float"));
  if (format != "float" && format != "base64") {
    return SendError(res, 400, "encoding_format: \"" + format + "\" is not float or base64");
  }
  auto text = service.OpenTextCollection(model);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return SendError(res, 404, "The model `" + model + "` does not exist: there is no text collection \"" + model + "\"",
                       "model_not_found");
    }
    return SendStatus(res, text.status());
  }
  auto vectors = (*text)->Embed(texts);
  if (!vectors.ok()) return SendStatus(res, vectors.status());
  const size_t dim = (*text)->embedder().dimension();
  Json data = Json::array();
  size_t tokens = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const float* v = vectors->data() + i * dim;
    Json e = format == "base64" ? Json(Base64(v, dim * sizeof(float))) : Json(std::vector<float>(v, v + dim));
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(e)}});
    tokens += Words(texts[i]);
  }
  res.set_content(Json{{"object", "list"},
                       {"data", std::move(data)},
                       {"model", model},
                       {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}
                      .dump(),
                  "application/json");
}

void Models(SextantService& service, const httplib::Request& req, httplib::Response& res) {
  auto tracked = Track(service, res);
  if (!tracked) return;
  if (!Authorized(service, req, res)) return;
  auto names = service.TextCollectionNames();
  if (!names.ok()) return SendStatus(res, names.status());
  Json data = Json::array();
  for (const std::string& n : *names) {
    data.push_back({{"id", n}, {"object", "model"}, {"created", 0}, {"owned_by", "sextant"}});
  }
  res.set_content(Json{{"object", "list"}, {"data", std::move(data)}}.dump(), "application/json");
}

}  // namespace

void RegisterOpenAIRoutes(HttpServer& http, SextantService& service) {
  httplib::Server& s = http.routes();
  s.Post("/v1/chat/completions",
         [&service](const httplib::Request& req, httplib::Response& res) { ChatCompletions(service, req, res); });
  s.Post("/v1/embeddings",
         [&service](const httplib::Request& req, httplib::Response& res) { Embeddings(service, req, res); });
  s.Get("/v1/models", [&service](const httplib::Request& req, httplib::Response& res) { Models(service, req, res); });
  s.Get(R"(/v1/models/([^/]+))", [&service](const httplib::Request& req, httplib::Response& res) {
    auto tracked = Track(service, res);
    if (!tracked) return;
    if (!Authorized(service, req, res)) return;
    const std::string name = req.matches[1];
    auto names = service.TextCollectionNames();
    if (!names.ok()) return SendStatus(res, names.status());
    if (std::find(names->begin(), names->end(), name) == names->end()) {
      return SendError(res, 404, "The model `" + name + "` does not exist", "model_not_found");
    }
    res.set_content(Json{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "sextant"}}.dump(),
                    "application/json");
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.body.empty() && res.status == 404) {
      SendError(res, 404, "no route " + req.method + " " + req.path + " (see docs/openai.md)", "unknown_url");
    }
  });
}

}  // namespace sextant::server
