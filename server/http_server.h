// The one HTTP server wrapper of sextantd's HTTP front ends (/metrics, the OpenAI-compatible API,
// MCP), on cpp-httplib (Debian libcpp-httplib-dev): binds "HOST:PORT" (SplitHostPort; port 0 =
// any free port) with SO_REUSEADDR only (httplib's default SO_REUSEPORT would let a second server
// bind the same port and take half its requests), serves the routes registered on routes() from
// a thread pool in a thread of its own, returns from Start only once it is serving (so that Stop
// always stops it), and stops on Stop() or destruction.
#ifndef SEXTANT_SERVER_HTTP_SERVER_H_
#define SEXTANT_SERVER_HTTP_SERVER_H_

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "sextant/status.h"
#include "sync/mutex.h"

namespace sextant::server {

struct HttpServerOptions {
  // How long a connection may take to send a request or to take a response, and may stay idle
  // between requests (keep-alive). Whole seconds, at least 1.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{300};  // streamed answers take a while
  std::chrono::seconds keep_alive_timeout{5};
  size_t threads = 8;                      // connections served at once; others wait
  size_t max_body_bytes = size_t{64} << 20;  // larger bodies get 413
};

class HttpServer {
 public:
  // `name` prefixes error messages ("metrics server", "--openai-listen").
  explicit HttpServer(std::string name, const HttpServerOptions& options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register handlers here before Start.
  httplib::Server& routes() { return *server_; }

  // Binds `listen` ("127.0.0.1:8080", "localhost:0", "[::1]:0") and starts serving; returns once
  // the server runs. InvalidArgument for bad options or an address that is not HOST:PORT (the
  // message quotes it), Unavailable when it cannot be bound (in use, not local, no such host).
  Status Start(const std::string& listen);
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops accepting and waits for the serving thread (connections being served get up to the
  // read/write timeouts). Idempotent, thread-safe; the destructor calls it.
  void Stop();

 private:
  const std::string name_;
  const HttpServerOptions options_;
  const std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  internal::Mutex stop_mu_;
  bool stopped_ SEXTANT_GUARDED_BY(stop_mu_) = false;
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_HTTP_SERVER_H_
