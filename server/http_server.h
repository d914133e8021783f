// A small HTTP server for sextantd's HTTP front ends, on cpp-httplib (Debian libcpp-httplib-dev):
// binds "HOST:PORT" (port 0 = any free port), serves the routes registered on routes() from
// cpp-httplib's thread pool in a thread of its own, and stops on Stop() or destruction.
#ifndef SEXTANT_SERVER_HTTP_SERVER_H_
#define SEXTANT_SERVER_HTTP_SERVER_H_

#include <httplib.h>

#include <memory>
#include <string>
#include <thread>

#include "sextant/status.h"

namespace sextant::server {

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Register handlers here before Start.
  httplib::Server& routes() { return server_; }

  // Binds `listen` ("127.0.0.1:8080", "[::1]:0") and starts serving. InvalidArgument for an address
  // that is not HOST:PORT, Unavailable when it cannot be bound.
  Status Start(const std::string& listen);
  // The bound port (after Start).
  int port() const { return port_; }
  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_HTTP_SERVER_H_
