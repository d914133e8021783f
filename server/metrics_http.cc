// MetricsHttpServer on cpp-httplib (see metrics_http.h for the contract).
#include "server/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <utility>

#include "server/auth.h"

namespace sextant::server {
namespace {

// Splits "host:port" or "[v6]:port" into its parts.
Status ParseHostPort(const std::string& address, std::string* host, int* port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("metrics address '" + address + "': " + std::string(why) +
                                   " (expected HOST:PORT, e.g. 127.0.0.1:9090 or [::1]:9090)");
  };
  if (address.empty()) return bad("empty");
  size_t colon;
  if (address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos) return bad("missing ']'");
    *host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') return bad("missing ':PORT'");
    colon = close + 1;
  } else {
    colon = address.rfind(':');
    if (colon == std::string::npos) return bad("missing ':PORT'");
    *host = address.substr(0, colon);
    if (host->find(':') != std::string::npos) return bad("an IPv6 host must be in brackets");
  }
  if (host->empty()) return bad("missing host");
  const std::string digits = address.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("the port must be a number from 0 to 65535");
  }
  *port = std::stoi(digits);
  if (*port > 65535) return bad("the port must be a number from 0 to 65535");
  return Status::OK();
}

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
  std::string host;
  int port = 0;
  SEXTANT_RETURN_IF_ERROR(ParseHostPort(host_port, &host, &port));

  auto http = std::make_unique<httplib::Server>();
  const size_t threads = options.threads;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  const time_t timeout = static_cast<time_t>(options.io_timeout.count());
  http->set_read_timeout(timeout, 0);
  http->set_write_timeout(timeout, 0);
  http->set_keep_alive_timeout(timeout);
  http->set_keep_alive_max_count(100);
  http->set_payload_max_length(16 * 1024);  // no route reads a body
  // httplib's default adds SO_REUSEPORT, which would let a second server bind the same port and
  // take half the scrapes: SO_REUSEADDR only.
  http->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

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

  int bound = port;
  if (port == 0) {
    bound = http->bind_to_any_port(host);
    if (bound <= 0) bound = -1;
  } else if (!http->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    return Status::Unavailable("metrics server cannot listen on " + host_port +
                               " (the port is taken, or the host is not a local address)");
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(std::move(http), bound));
  server->thread_ = std::thread([s = server.get()] { s->http_->listen_after_bind(); });
  // httplib's stop() does nothing before the server runs: wait for it, so Stop() always stops.
  while (!server->http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<httplib::Server> http, int port)
    : http_(std::move(http)), port_(port) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  internal::MutexLock lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sextant::server
