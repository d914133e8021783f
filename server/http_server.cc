#include "server/http_server.h"

#include <cstdlib>

namespace sextant::server {

HttpServer::HttpServer() {
  // Bodies of the OpenAI and MCP endpoints are JSON of at most a few megabytes.
  server_.set_payload_max_length(64u << 20);
  server_.set_read_timeout(30, 0);
  server_.set_write_timeout(300, 0);
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return Status::InvalidArgument("\"" + listen + "\" is not HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = listen.substr(colon + 1);
  char* end = nullptr;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    return Status::InvalidArgument("\"" + listen + "\": the port is not 0..65535");
  }
  if (port == 0) {
    port_ = server_.bind_to_any_port(host);
  } else {
    port_ = server_.bind_to_port(host, static_cast<int>(port)) ? static_cast<int>(port) : -1;
  }
  if (port_ <= 0) return Status::Unavailable("cannot listen on " + listen + " (the port is taken or the address is not local)");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  return Status::OK();
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_.stop();
    thread_.join();
  }
}

}  // namespace sextant::server
