// A small HTTP client on libcurl for the OpenAI-compatible embedder and generator: POST a body with
// headers, with a total timeout and a no-progress timeout, and either collect the answer or hand
// its bytes to a callback as they arrive (server-sent events).
//
// Thread-safe: every request uses its own easy handle; curl_global_init runs once, on first use.
// Transport failures are Status errors; an HTTP error status is not (the caller reads status).
#ifndef SEXTANT_RAG_HTTP_H_
#define SEXTANT_RAG_HTTP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::rag::http {

struct Request {
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  uint32_t timeout_ms = 30000;       // the whole request, connection included (0 = none)
  uint32_t connect_timeout_ms = 10000;
  // Gives up when no byte has arrived for this long (0 = only timeout_ms). libcurl checks about
  // once a second when nothing arrives, so the error comes up to a second late.
  uint32_t idle_timeout_ms = 0;
  // The most bytes of an answer's body taken in, streamed or collected (0 = no bound): past it
  // the transfer is cut and the call fails with ResourceExhausted, so an endpoint cannot make the
  // process hold an unbounded answer.
  uint64_t max_response_bytes = 64u << 20;
};

struct Response {
  long status = 0;          // the HTTP status code
  std::string body;         // the whole body (Post), or the body of a non-2xx answer (PostStreaming)
  bool stopped = false;     // PostStreaming: the callback asked to stop and the transfer was cut
};

// Called with the bytes of a 2xx answer's body as they arrive; return false to stop the transfer.
using DataCallback = std::function<bool(std::string_view bytes)>;

// POSTs request.body to request.url. Errors:
//   Unavailable      "cannot reach <url>: <reason>" (refused, unresolvable, reset, TLS failure), or
//                    "<url> broke off its answer (HTTP 200): <reason>" when it fails mid-answer
//   DeadlineExceeded "<url> did not answer within N ms" / "<url> sent nothing for N ms"
//   InvalidArgument  a malformed URL
//   ResourceExhausted "<url> answered more than N bytes" (Request::max_response_bytes)
StatusOr<Response> Post(const Request& request);

// As Post, but the body of a 2xx answer goes to on_data as it arrives instead of into
// Response::body. When on_data returns false the transfer is aborted and the Response is returned
// (OK) with stopped = true.
StatusOr<Response> PostStreaming(const Request& request, const DataCallback& on_data);

}  // namespace sextant::rag::http

#endif  // SEXTANT_RAG_HTTP_H_
