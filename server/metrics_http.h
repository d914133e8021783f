// The HTTP endpoint of sextantd's Prometheus metrics, on cpp-httplib:
//   GET|HEAD /metrics  200, Content-Type: text/plain; version=0.0.4; charset=utf-8, body = render();
//                      401 (WWW-Authenticate: Bearer) without a valid "Authorization: Bearer KEY"
//                      when keys are configured
//   GET|HEAD /         200, a short HTML page pointing at /metrics
//   GET|HEAD other     404
//   other methods      405 (Allow: GET, HEAD)
// Clients are served concurrently by a small thread pool, so a slow or idle client (an idle
// keep-alive connection, a scraper that stalls) does not hold up a scrape; each connection is
// dropped after io_timeout without a complete request, or idle that long between requests.
#ifndef SEXTANT_SERVER_METRICS_HTTP_H_
#define SEXTANT_SERVER_METRICS_HTTP_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/config.h"
#include "sextant/status.h"

namespace sextant::server {

class HttpServer;

struct MetricsHttpServerOptions {
  // How long a connection may take to send a request, to take a response, and may stay idle
  // between requests; whole seconds, at least 1. Stop() waits at most about this long for
  // connections being served.
  std::chrono::seconds io_timeout{2};
  // Threads serving connections: this many clients are served at once, the others wait.
  size_t threads = 4;
  // When not empty, /metrics needs "Authorization: Bearer KEY" with one of these (read-only keys
  // too: scraping changes nothing).
  std::vector<ApiKey> keys;
};

class MetricsHttpServer {
 public:
  // Listens on `host_port` ("127.0.0.1:9090", "localhost:9090", "[::1]:9090"; port 0 picks a free
  // port, see port()) and starts serving. `render` is called on the serving threads for each GET
  // /metrics, possibly concurrently, and must be thread-safe (Metrics::Render is). Errors:
  // InvalidArgument for a malformed address or bad options; Unavailable when the address cannot
  // be bound (in use, not local, does not resolve).
  static StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host_port,
                                                            std::function<std::string()> render,
                                                            const MetricsHttpServerOptions& options = {});

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  ~MetricsHttpServer();

  // The port actually bound (the chosen one when started with port 0).
  int port() const { return port_; }

  // Stops listening and waits for the serving threads (at most about io_timeout for a connection
  // being served). Safe to call more than once and from several threads; the destructor calls it.
  void Stop();

 private:
  explicit MetricsHttpServer(std::unique_ptr<HttpServer> http);

  const std::unique_ptr<HttpServer> http_;  // server/http_server.h
  int port_ = 0;
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_METRICS_HTTP_H_
