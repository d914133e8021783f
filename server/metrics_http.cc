// MetricsHttpServer on cpp-httplib (see metrics_http.h for the contract).
#include "server/metrics_http.h"


#include <algorithm>
#include <cctype>
#include <utility>

#include "server/auth.h"
#include "server/http_server.h"

namespace sextant::server {
namespace {

constexpr const char* kIndexPage =
    "<!DOCTYPE html>\n<html><head><title>sextantd</title></head><body>\n"
    "<h1>sextantd</h1>\n<p>Prometheus metrics are at <a href=\"/metrics\">/metrics</a>.</p>\n"
    "</body></html>\n";

}  // namespace

StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host_port, std::function<std::string()> render,
    const MetricsHttpServerOptions& options) {
  if (!render) return Status::InvalidArgument("metrics server: the render function is empty");
  if (options.io_timeout.count() <= 0) {
    return Status::InvalidArgument("metrics server: io_timeout must be at least 1 s");
  }
  if (options.threads == 0) return Status::InvalidArgument("metrics server: threads must be >= 1");
  HttpServerOptions http_options;
  http_options.threads = options.threads;
  http_options.read_timeout = options.io_timeout;
  http_options.write_timeout = options.io_timeout;
  http_options.keep_alive_timeout = options.io_timeout;
  http_options.max_body_bytes = 16 * 1024;  // no route reads a body
  auto server = std::make_unique<HttpServer>("metrics server", http_options);
  httplib::Server* http = &server->routes();

  auto keys = std::make_shared<const KeyStore>(options.keys);
  http->Get("/metrics", [render = std::move(render), keys](const httplib::Request& req,
                                                           httplib::Response& res) {
    if (keys->enabled() &&
        keys->Check(req.get_header_value("Authorization")) == Access::kDenied) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer realm=\"sextantd metrics\"");
      res.set_content(req.has_header("Authorization")
                          ? "the API key is not valid (send \"Authorization: Bearer KEY\")\n"
                          : "this endpoint needs an API key: send \"Authorization: Bearer KEY\"\n",
                      "text/plain; charset=utf-8");
      return;
    }
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kIndexPage, "text/html; charset=utf-8");
  });
  auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", "GET, HEAD");
    res.set_content("only GET and HEAD are supported\n", "text/plain; charset=utf-8");
  };
  http->Post(".*", not_allowed);
  http->Put(".*", not_allowed);
  http->Patch(".*", not_allowed);
  http->Delete(".*", not_allowed);
  http->Options(".*", not_allowed);
  http->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404 && res.body.empty()) {
      res.set_content("not found; metrics are at /metrics\n", "text/plain; charset=utf-8");
    }
  });

  SEXTANT_RETURN_IF_ERROR(server->Start(host_port));
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(std::move(server)));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<HttpServer> http) : http_(std::move(http)), port_(http_->port()) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() { http_->Stop(); }

}  // namespace sextant::server
