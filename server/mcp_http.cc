// The MCP endpoint (see mcp_http.h): HTTP around mcp::Server, with the service's keys,
// text collections and generator.
#include "server/mcp_http.h"

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mcp/mcp_server.h"
#include "sextant/database.h"

namespace sextant::server {
namespace {

using Json = nlohmann::json;

// The tools' view of the server: the same cached text collections and default generator the RPCs use.
class ServiceBackend final : public mcp::Backend {
 public:
  explicit ServiceBackend(SextantService& service) : service_(service) {}
  StatusOr<std::vector<CollectionInfo>> ListCollections() override { return service_.CollectionInfos(); }
  StatusOr<std::shared_ptr<rag::TextCollection>> OpenText(std::string_view name) override {
    return service_.OpenTextCollection(name);
  }
  StatusOr<rag::Generator*> AnswerGenerator() override { return service_.FindGenerator(""); }

 private:
  SextantService& service_;
};

struct Endpoint {
  explicit Endpoint(SextantService& s) : service(s), backend(s), server(backend, Options(s)) {}
  static mcp::ServerOptions Options(const SextantService& s) {
    mcp::ServerOptions o;
    o.name = "sextantd";
    o.version = std::string(Version());
    o.max_k = kMaxAskK;
    o.generation_limits = s.generation_limits();
    return o;
  }
  SextantService& service;
  ServiceBackend backend;
  mcp::Server server;
};

void SendJson(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

Json RpcError(int code, const std::string& message) {
  return Json{{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", message}}}};
}

// The host of "http://host:port" or of "host:port" ("[::1]:80" -> "::1").
std::string HostOf(std::string s) {
  if (size_t scheme = s.find("://"); scheme != std::string::npos) s = s.substr(scheme + 3);
  if (size_t slash = s.find('/'); slash != std::string::npos) s = s.substr(0, slash);
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    return close == std::string::npos ? s : s.substr(1, close - 1);
  }
  if (size_t colon = s.rfind(':'); colon != std::string::npos) s = s.substr(0, colon);
  return s;
}

bool IsLoopbackName(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// MCP's transport rule against DNS rebinding: a browser's Origin must be this server or loopback.
// Clients that are not browsers send no Origin.
bool OriginAllowed(const httplib::Request& req) {
  if (!req.has_header("Origin")) return true;
  const std::string origin = HostOf(req.get_header_value("Origin"));
  return IsLoopbackName(origin) || origin == HostOf(req.get_header_value("Host"));
}

}  // namespace

void RegisterMcpRoutes(HttpServer& http, SextantService& service) {
  auto endpoint = std::make_shared<Endpoint>(service);
  http.routes().Post("/mcp", [endpoint](const httplib::Request& req, httplib::Response& res) {
    // Counted for the shutdown drain; refused once the server is shutting down.
    auto tracked = endpoint->service.TrackHttpRequest();
    if (!tracked) {
      res.set_header("Connection", "close");
      return SendJson(res, 503, RpcError(-32000, "the server is shutting down"));
    }
    if (!OriginAllowed(req)) {
      return SendJson(res, 403, RpcError(-32600, "Origin " + req.get_header_value("Origin") + " is not allowed"));
    }
    const Access access = endpoint->service.CheckKey(req.get_header_value("Authorization"));
    if (access == Access::kDenied) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"sextantd mcp\"");
      return SendJson(res, 401,
                      RpcError(-32001, req.has_header("Authorization")
                                           ? "the API key is not valid"
                                           : "this server needs an API key: send \"Authorization: Bearer KEY\""));
    }
    std::optional<Json> answer = endpoint->server.HandleText(req.body, access == Access::kReadWrite);
    if (!answer) {  // notifications or responses only
      res.status = 202;
      return;
    }
    // A message that is not JSON-RPC at all (no id to answer to) is a bad request.
    const bool rejected = answer->is_object() && answer->contains("error") && (*answer)["id"].is_null();
    SendJson(res, rejected ? 400 : 200, *answer);
  });
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "POST");
    SendJson(res, 405, RpcError(-32000, "this server offers no event stream and no sessions: POST JSON-RPC to /mcp"));
  };
  http.routes().Get("/mcp", not_allowed);
  http.routes().Delete("/mcp", not_allowed);
}

}  // namespace sextant::server
