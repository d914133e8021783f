// OpenAI-compatible endpoints: the /embeddings embedder and the /chat/completions generator
// (llama.cpp's server, llama-cpp-python, Ollama, vLLM, OpenAI), over rag/http.h.
//
// Errors, for both:
//   Unavailable       the endpoint cannot be reached ("cannot reach <url>: Connection refused"), or
//                     answered 5xx on every try
//   DeadlineExceeded  no answer within timeout_ms (on every try)
//   ResourceExhausted 429 on every try
//   InvalidArgument / Unauthenticated / PermissionDenied / NotFound
//                     400 and 422 (and other 4xx) / 401 / 403 / 404, with the server's own message
//   InvalidArgument   vectors whose dimension differs from the one given or learned
//   Internal          an answer that is not the JSON the API defines ("malformed answer from <url>:
//                     ..."): the server is not OpenAI-compatible, or broken. Not retried.
// The embedder L2-normalises every vector it receives (OpenAI's are unit length already; llama.cpp's
// need not be), so that cosine and inner product agree; a zero vector is an Internal error. An
// embedding sent as one vector per token (llama-cpp-python's answer for a model without pooling,
// such as a chat LLaMA) is mean-pooled first, as llama.cpp's own mean pooling would.
// Connection errors, timeouts, 429 and 5xx are retried `retries` times, after 100 ms, 200 ms, 400 ms,
// ... (capped at 2 s). A stream that has already handed pieces to the caller is not retried.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/http.h"
#include "rag/sse.h"
#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

using json = nlohmann::json;

constexpr uint32_t kMaxBackoffMs = 2000;

std::string TrimSlash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Status CheckEndpoint(const OpenAIOptions& o) {
  if (o.base_url.rfind("http://", 0) != 0 && o.base_url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("OpenAI endpoint: base_url \"" + o.base_url +
                                   "\" must start with http:// or https://");
  }
  if (o.model.empty()) return Status::InvalidArgument("OpenAI endpoint: model is empty");
  if (o.timeout_ms == 0) return Status::InvalidArgument("OpenAI endpoint: timeout_ms must be > 0");
  return Status::OK();
}

std::vector<std::string> Headers(const OpenAIOptions& o, bool stream) {
  std::vector<std::string> h = {"Content-Type: application/json"};
  h.push_back(stream ? "Accept: text/event-stream" : "Accept: application/json");
  if (!o.api_key.empty()) h.push_back("Authorization: Bearer " + o.api_key);
  return h;
}

// The server's own words from an error body: {"error": {"message": ...}}, {"error": "..."},
// {"detail": ...} (FastAPI), {"message": ...}, else the start of the body.
std::string ServerMessage(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto text = [](const json& v) -> std::optional<std::string> {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_object() && v.contains("message") && v["message"].is_string()) {
        return v["message"].get<std::string>();
      }
      if (!v.is_null()) return v.dump();
      return std::nullopt;
    };
    for (const char* key : {"error", "detail", "message"}) {
      if (j.contains(key)) {
        if (auto t = text(j[key])) return *t;
      }
    }
  }
  std::string s = body.substr(0, 300);
  if (body.size() > 300) s += "...";
  return s.empty() ? "(empty body)" : s;
}

bool Retryable(long status) { return status == 429 || status >= 500; }

Status HttpError(const std::string& url, long status, const std::string& body) {
  const std::string msg =
      url + " answered HTTP " + std::to_string(status) + ": " + ServerMessage(body);
  switch (status) {
    case 401: return Status::Unauthenticated(msg);
    case 403: return Status::PermissionDenied(msg);
    case 404: return Status::NotFound(msg);
    case 429: return Status::ResourceExhausted(msg);
    default: break;
  }
  if (status >= 500) return Status::Unavailable(msg);
  if (status >= 400) return Status::InvalidArgument(msg);
  return Status::Internal(msg);  // 1xx or 3xx that libcurl did not resolve
}

Status Malformed(const std::string& url, std::string_view what) {
  return Status::Internal("malformed answer from " + url + ": " + std::string(what));
}

void Backoff(uint32_t attempt) {
  uint64_t ms = 100ull << std::min<uint32_t>(attempt, 16);
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min<uint64_t>(ms, kMaxBackoffMs)));
}

// POSTs with retries and turns non-2xx answers into errors; returns the 2xx body.
StatusOr<std::string> PostJson(const OpenAIOptions& o, const std::string& url, const std::string& body) {
  http::Request req;
  req.url = url;
  req.body = body;
  req.headers = Headers(o, false);
  req.timeout_ms = o.timeout_ms;
  req.connect_timeout_ms = o.timeout_ms;
  Status last;
  for (uint32_t attempt = 0;; ++attempt) {
    StatusOr<http::Response> r = http::Post(req);
    if (r.ok() && r->status >= 200 && r->status < 300) return std::move(r->body);
    bool retry;
    if (r.ok()) {
      last = HttpError(url, r->status, r->body);
      retry = Retryable(r->status);
    } else {
      last = r.status();
      retry = last.code() == StatusCode::kUnavailable || last.code() == StatusCode::kDeadlineExceeded;
    }
    if (!retry || attempt >= o.retries) {
      if (attempt > 0) return last.WithPrefix("after " + std::to_string(attempt + 1) + " tries");
      return last;
    }
    Backoff(attempt);
  }
}

// ---------------------------------------------------------------- embedder

class OpenAIEmbedder final : public Embedder {
 public:
  OpenAIEmbedder(const OpenAIOptions& o, uint32_t dimension)
      : options_(o), url_(TrimSlash(o.base_url) + "/embeddings"), dimension_(dimension) {
    options_.base_url = TrimSlash(o.base_url);
  }

  uint32_t dimension() const override { return dimension_.load(); }
  std::string spec() const override { return "openai:" + options_.model + "@" + options_.base_url; }

  StatusOr<std::vector<float>> Embed(std::span<const std::string> texts) override {
    std::vector<float> out;
    for (size_t begin = 0; begin < texts.size(); begin += options_.batch) {
      const size_t end = std::min(texts.size(), begin + options_.batch);
      SEXTANT_RETURN_IF_ERROR(EmbedBatch(texts.subspan(begin, end - begin), out));
    }
    return out;
  }

 private:
  Status EmbedBatch(std::span<const std::string> texts, std::vector<float>& out) {
    json req = {{"model", options_.model}, {"input", json::array()}};
    for (const std::string& t : texts) req["input"].push_back(t);
    std::string body;
    try {
      body = req.dump();
    } catch (const json::exception& e) {  // invalid UTF-8 in a text
      return Status::InvalidArgument(std::string("text to embed is not valid UTF-8: ") + e.what());
    }
    SEXTANT_ASSIGN_OR_RETURN(std::string answer, PostJson(options_, url_, body));
    json j = json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Malformed(url_, "not JSON: " + answer.substr(0, 200));
    if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
      return Malformed(url_, "no \"data\" array");
    }
    const json& data = j["data"];
    if (data.size() != texts.size()) {
      return Malformed(url_, std::to_string(data.size()) + " embeddings for " +
                                 std::to_string(texts.size()) + " inputs");
    }
    const size_t base = out.size();
    std::vector<bool> seen(texts.size(), false);
    for (size_t i = 0; i < data.size(); ++i) {
      const json& item = data[i];
      if (!item.is_object() || !item.contains("embedding") || !item["embedding"].is_array()) {
        return Malformed(url_, "data[" + std::to_string(i) + "] has no \"embedding\" array");
      }
      size_t index = i;  // servers that omit "index" answer in input order
      if (item.contains("index")) {
        if (!item["index"].is_number_unsigned() || item["index"].get<uint64_t>() >= texts.size()) {
          return Malformed(url_, "data[" + std::to_string(i) + "].index is not an input position");
        }
        index = item["index"].get<size_t>();
      }
      if (seen[index]) return Malformed(url_, "two embeddings for input " + std::to_string(index));
      seen[index] = true;
      SEXTANT_ASSIGN_OR_RETURN(std::vector<double> e, ReadEmbedding(item["embedding"]));
      uint32_t dim = dimension_.load();
      if (dim == 0) {  // the first answer sets the dimension
        uint32_t expected = 0;
        dimension_.compare_exchange_strong(expected, static_cast<uint32_t>(e.size()));
        dim = dimension_.load();
      }
      if (e.size() != dim) {
        return Status::InvalidArgument(url_ + " (model " + options_.model + ") returned vectors of dimension " +
                                       std::to_string(e.size()) + ", expected " + std::to_string(dim));
      }
      if (out.size() == base) out.resize(base + texts.size() * dim);
      float* v = out.data() + base + index * dim;
      double norm2 = 0;
      for (size_t k = 0; k < dim; ++k) norm2 += e[k] * e[k];
      if (!(norm2 > 0)) return Malformed(url_, "a zero embedding for input " + std::to_string(index));
      // Unit length, whatever the server sent (OpenAI's are already; llama.cpp's may not be).
      const double inv = 1.0 / std::sqrt(norm2);
      for (size_t k = 0; k < dim; ++k) v[k] = static_cast<float>(e[k] * inv);
    }
    return Status::OK();
  }

  // One embedding: an array of numbers, or (llama-cpp-python with a model that has no pooling, such
  // as a LLaMA) an array of one such array per token, which is mean-pooled here.
  StatusOr<std::vector<double>> ReadEmbedding(const json& e) const {
    auto numbers = [this](const json& a, std::vector<double>& sum) -> Status {
      if (a.empty()) return Malformed(url_, "an empty embedding");
      if (sum.empty()) sum.assign(a.size(), 0.0);
      if (a.size() != sum.size()) return Malformed(url_, "token embeddings of different lengths");
      for (size_t k = 0; k < a.size(); ++k) {
        if (!a[k].is_number()) return Malformed(url_, "an embedding holds a non-number");
        const double x = a[k].get<double>();
        if (!std::isfinite(x)) return Malformed(url_, "an embedding holds a non-finite number");
        sum[k] += x;
      }
      return Status::OK();
    };
    std::vector<double> v;
    if (e.empty()) return Malformed(url_, "an empty embedding");
    if (!e[0].is_array()) {
      SEXTANT_RETURN_IF_ERROR(numbers(e, v));
      return v;
    }
    for (const json& token : e) {
      if (!token.is_array()) return Malformed(url_, "an embedding mixes numbers and arrays");
      SEXTANT_RETURN_IF_ERROR(numbers(token, v));
    }
    for (double& x : v) x /= static_cast<double>(e.size());
    return v;
  }

  OpenAIOptions options_;
  std::string url_;
  std::atomic<uint32_t> dimension_;
};

// ---------------------------------------------------------------- generator

// The OpenAI "messages" array of a conversation.
json MessagesJson(std::span<const ChatMessage> messages) {
  json out = json::array();
  for (const ChatMessage& m : messages) {
    json j = {{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) {
      json calls = json::array();
      for (const ToolCall& c : m.tool_calls) {
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      }
      j["tool_calls"] = calls;
      if (m.content.empty()) j["content"] = nullptr;
    }
    if (m.role == "tool") j["tool_call_id"] = m.tool_call_id;
    out.push_back(std::move(j));
  }
  return out;
}

// Tool calls as they arrive in stream deltas: pieces of one call share its "index".
class ToolCallAssembler {
 public:
  // False with `error` set for a delta that is not the shape OpenAI defines.
  bool Add(const json& deltas, std::string& error) {
    if (!deltas.is_array()) {
      error = "tool_calls is not an array";
      return false;
    }
    for (const json& d : deltas) {
      if (!d.is_object()) {
        error = "a tool_calls item is not an object";
        return false;
      }
      size_t index = calls_.size();
      if (d.contains("index") && d["index"].is_number_unsigned()) {
        index = d["index"].get<size_t>();
      } else if (!calls_.empty() && !d.contains("id")) {
        index = calls_.size() - 1;
      }
      if (index > calls_.size() || index > 128) {
        error = "tool_calls index " + std::to_string(index) + " skips a call";
        return false;
      }
      if (index == calls_.size()) calls_.emplace_back();
      ToolCall& c = calls_[index];
      if (d.contains("id") && d["id"].is_string()) c.id += d["id"].get<std::string>();
      if (d.contains("function") && d["function"].is_object()) {
        const json& f = d["function"];
        if (f.contains("name") && f["name"].is_string()) c.name += f["name"].get<std::string>();
        if (f.contains("arguments") && f["arguments"].is_string()) {
          c.arguments += f["arguments"].get<std::string>();
        } else if (f.contains("arguments") && f["arguments"].is_object()) {
          c.arguments += f["arguments"].dump();  // some servers send an object
        }
      }
    }
    return true;
  }
  std::vector<ToolCall> Take() { return std::move(calls_); }

 private:
  std::vector<ToolCall> calls_;
};

// Gives calls without an id (some servers omit it) one of their own.
void NameCalls(std::vector<ToolCall>& calls) {
  for (size_t i = 0; i < calls.size(); ++i) {
    if (calls[i].id.empty()) calls[i].id = "call_" + std::to_string(i + 1);
  }
}

class OpenAIGenerator final : public Generator {
 public:
  explicit OpenAIGenerator(const OpenAIChatOptions& o)
      : options_(o), url_(TrimSlash(o.endpoint.base_url) + "/chat/completions") {}

  std::string name() const override { return "openai:" + options_.endpoint.model; }
  bool is_language_model() const override { return true; }

  StatusOr<Generation> Generate(std::string_view question, const Prompt& prompt,
                                const TokenCallback& on_token) override {
    ChatCompletionRequest r;
    if (!prompt.system.empty()) r.messages.push_back({"system", prompt.system, {}, {}});
    r.messages.push_back({"user", prompt.user, {}, {}});
    r.question = std::string(question);
    r.prompt = prompt;
    return Complete(r, on_token);
  }

  StatusOr<Generation> Complete(const ChatCompletionRequest& r, const TokenCallback& on_token) override {
    SEXTANT_RETURN_IF_ERROR(r.settings.Validate());
    const std::string model = r.settings.model.empty() ? options_.endpoint.model : r.settings.model;
    const uint32_t max_tokens = r.settings.max_tokens.value_or(options_.max_tokens);
    json req = {{"model", model},
                {"messages", MessagesJson(r.messages)},
                {"max_tokens", max_tokens},
                {"temperature", r.settings.temperature.value_or(options_.temperature)},
                {"stream", options_.stream}};
    if (!r.settings.stop.empty()) req["stop"] = r.settings.stop;
    if (r.settings.seed) req["seed"] = *r.settings.seed;
    if (!r.tools.empty()) {
      json tools = json::array();
      for (const FunctionDefinition& f : r.tools) {
        json params = json::parse(f.parameters, nullptr, /*allow_exceptions=*/false);
        if (!params.is_object()) {
          return Status::InvalidArgument("function " + f.name + ": parameters is not a JSON object");
        }
        tools.push_back({{"type", "function"},
                         {"function", {{"name", f.name}, {"description", f.description}, {"parameters", params}}}});
      }
      req["tools"] = tools;
      req["tool_choice"] = r.tools_none ? "none" : "auto";
    }
    std::string body;
    try {
      body = req.dump();
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("prompt is not valid UTF-8: ") + e.what());
    }
    Generation g;
    g.generator = "openai:" + model;
    if (options_.stream) {
      SEXTANT_RETURN_IF_ERROR(Stream(body, max_tokens, on_token, g));
    } else {
      SEXTANT_ASSIGN_OR_RETURN(std::string answer, PostJson(options_.endpoint, url_, body));
      SEXTANT_RETURN_IF_ERROR(ReadMessage(answer, g));
      if (on_token && !g.text.empty()) on_token(g.text);  // one piece: the whole answer
    }
    NameCalls(g.tool_calls);
    if (g.finish_reason.empty()) g.finish_reason = g.tool_calls.empty() ? "stop" : "tool_calls";
    g.cited = text::CitedContext(g.text, r.prompt.context.size());
    return g;
  }

 private:
  Status ReadMessage(const std::string& answer, Generation& g) {
    json j = json::parse(answer, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Malformed(url_, "not JSON: " + answer.substr(0, 200));
    try {
      const json& choice = j.at("choices").at(0);
      const json& message = choice.at("message");
      if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
        g.finish_reason = choice["finish_reason"].get<std::string>();
      }
      if (message.contains("content") && !message["content"].is_null()) {
        g.text = message.at("content").get<std::string>();
      } else if (!message.contains("content") && !message.contains("tool_calls")) {
        return Malformed(url_, "no string choices[0].message.content");
      }
      if (message.contains("tool_calls") && !message["tool_calls"].is_null()) {
        ToolCallAssembler calls;
        std::string error;
        if (!calls.Add(message["tool_calls"], error)) return Malformed(url_, error);
        g.tool_calls = calls.Take();
      }
    } catch (const json::exception&) {
      return Malformed(url_, "no string choices[0].message.content");
    }
    return Status::OK();
  }

  // Streams the answer into g, calling on_token per piece. Retries only while nothing has been
  // handed to the caller.
  Status Stream(const std::string& body, uint32_t max_tokens, const TokenCallback& on_token, Generation& g) {
    const OpenAIOptions& o = options_.endpoint;
    std::string& text = g.text;
    http::Request req;
    req.url = url_;
    req.body = body;
    req.headers = Headers(o, true);
    // timeout_ms bounds the wait for each byte; the whole answer may take max_tokens seconds more.
    req.idle_timeout_ms = o.timeout_ms;
    req.connect_timeout_ms = o.timeout_ms;
    req.timeout_ms = o.timeout_ms + max_tokens * 1000;
    Status last;
    for (uint32_t attempt = 0;; ++attempt) {
      bool delivered = false;
      bool done = false;
      Status parse_error;
      ToolCallAssembler calls;
      SseParser parser([&](const SseEvent& ev) {
        if (IsSseDone(ev.data)) {
          done = true;
          return false;
        }
        json j = json::parse(ev.data, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) {
          parse_error = Malformed(url_, "a stream event that is not a JSON object: " + ev.data.substr(0, 200));
          return false;
        }
        if (j.contains("error")) {
          parse_error = Status::Unavailable(url_ + " reported an error mid-stream: " + ServerMessage(ev.data));
          return false;
        }
        if (!j.contains("choices") || !j["choices"].is_array()) {
          parse_error = Malformed(url_, "a stream event without \"choices\"");
          return false;
        }
        if (j["choices"].empty()) return true;  // e.g. a final usage event
        const json& choice = j["choices"][0];
        if (!choice.is_object() || !choice.contains("delta") || !choice["delta"].is_object()) {
          parse_error = Malformed(url_, "a stream event without choices[0].delta");
          return false;
        }
        if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
          g.finish_reason = choice["finish_reason"].get<std::string>();
        }
        const json& delta = choice["delta"];
        if (delta.contains("tool_calls") && !delta["tool_calls"].is_null()) {
          std::string error;
          if (!calls.Add(delta["tool_calls"], error)) {
            parse_error = Malformed(url_, error);
            return false;
          }
        }
        if (!delta.contains("content") || delta["content"].is_null()) return true;  // role only
        if (!delta["content"].is_string()) {
          parse_error = Malformed(url_, "choices[0].delta.content is not a string");
          return false;
        }
        const std::string piece = delta["content"].get<std::string>();
        if (piece.empty()) return true;
        text += piece;
        delivered = true;
        if (on_token && !on_token(piece)) return false;  // the caller has enough
        return true;
      });
      StatusOr<http::Response> r =
          http::PostStreaming(req, [&](std::string_view bytes) { return parser.Feed(bytes); });
      bool retry;
      if (r.ok() && r->status >= 200 && r->status < 300) {
        if (!parse_error.ok()) return parse_error;
        g.tool_calls = calls.Take();
        if (r->stopped || done) return Status::OK();  // [DONE] or stopped by on_token
        if (!parser.Finish() && !parse_error.ok()) return parse_error;
        return Status::OK();  // the server closed the stream without [DONE]: take what came
      }
      if (r.ok()) {
        last = HttpError(url_, r->status, r->body);
        retry = Retryable(r->status);
      } else {
        last = r.status();
        retry = last.code() == StatusCode::kUnavailable ||
                last.code() == StatusCode::kDeadlineExceeded;
      }
      if (delivered || !retry || attempt >= o.retries) {
        if (delivered && !text.empty()) {
          return last.WithPrefix("the stream broke after " + std::to_string(text.size()) + " bytes");
        }
        if (attempt > 0) return last.WithPrefix("after " + std::to_string(attempt + 1) + " tries");
        return last;
      }
      text.clear();
      g.finish_reason.clear();
      Backoff(attempt);
    }
  }

  OpenAIChatOptions options_;
  std::string url_;
};

}  // namespace

StatusOr<std::unique_ptr<Embedder>> MakeOpenAIEmbedder(const OpenAIOptions& options, uint32_t dimension) {
  SEXTANT_RETURN_IF_ERROR(CheckEndpoint(options));
  if (options.batch == 0) return Status::InvalidArgument("OpenAI embedder: batch must be > 0");
  auto e = std::make_unique<OpenAIEmbedder>(options, dimension);
  if (dimension == 0) {
    // Learn the dimension now, so that dimension() is right before the first Embed (and an
    // endpoint that is down shows here).
    std::vector<std::string> probe = {"dimension probe"};
    SEXTANT_ASSIGN_OR_RETURN(std::vector<float> v, e->Embed(probe));
    (void)v;
  }
  return std::unique_ptr<Embedder>(std::move(e));
}

StatusOr<std::unique_ptr<Generator>> MakeOpenAIGenerator(const OpenAIChatOptions& options) {
  SEXTANT_RETURN_IF_ERROR(CheckEndpoint(options.endpoint));
  if (options.max_tokens == 0) return Status::InvalidArgument("OpenAI generator: max_tokens must be > 0");
  if (!(options.temperature >= 0 && options.temperature <= 2)) {
    return Status::InvalidArgument("OpenAI generator: temperature must be in [0, 2]");
  }
  return std::unique_ptr<Generator>(std::make_unique<OpenAIGenerator>(options));
}

}  // namespace sextant::rag
