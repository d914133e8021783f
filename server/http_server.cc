#include "server/http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <utility>

#include "server/config.h"

namespace sextant::server {

HttpServer::HttpServer(std::string name, const HttpServerOptions& options)
    : name_(std::move(name)), options_(options), server_(std::make_unique<httplib::Server>()) {
  const size_t threads = options_.threads == 0 ? 1 : options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_read_timeout(static_cast<time_t>(options_.read_timeout.count()), 0);
  server_->set_write_timeout(static_cast<time_t>(options_.write_timeout.count()), 0);
  server_->set_keep_alive_timeout(static_cast<time_t>(options_.keep_alive_timeout.count()));
  server_->set_keep_alive_max_count(100);
  server_->set_payload_max_length(options_.max_body_bytes);
  // httplib writes a response's head and body separately: with Nagle's algorithm on, the body
  // waits for the client's delayed ACK, about 40 ms per request (bench/rag/chat_latency.py).
  server_->set_tcp_nodelay(true);
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& listen) {
  if (options_.read_timeout.count() <= 0 || options_.write_timeout.count() <= 0 ||
      options_.keep_alive_timeout.count() <= 0) {
    return Status::InvalidArgument(name_ + ": the timeouts must be at least 1 s");
  }
  if (options_.threads == 0) return Status::InvalidArgument(name_ + ": threads must be >= 1");
  std::string host;
  int port = 0;
  if (!SplitHostPort(listen, &host, &port)) {
    return Status::InvalidArgument(name_ + ": address '" + listen +
                                   "' is not HOST:PORT (e.g. 127.0.0.1:9090 or [::1]:9090; the port 0..65535)");
  }
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else {
    port_ = server_->bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0) {
    port_ = 0;
    return Status::Unavailable(name_ + " cannot listen on " + listen +
                               " (the port is taken, or the host is not a local address)");
  }
  auto ended = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, ended] {
    server_->listen_after_bind();
    ended->store(true);
  });
  // httplib's stop() does nothing before the server runs: wait for it, so that Stop() always stops.
  while (!server_->is_running() && !ended->load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::OK();
}

void HttpServer::Stop() {
  internal::MutexLock lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace sextant::server
