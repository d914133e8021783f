// libcurl behind rag/http.h. One easy handle per request; no handle or state is shared between
// threads except the one-time global initialisation.
#include "rag/http.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <string>

namespace sextant::rag::http {
namespace {

using Clock = std::chrono::steady_clock;

// curl_global_init is not thread-safe itself; call_once makes it so. It is never cleaned up
// (other parts of the process may use libcurl until exit).
Status GlobalInit() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init failed: ") + curl_easy_strerror(code));
  }
  return Status::OK();
}

struct Transfer {
  const DataCallback* on_data = nullptr;  // null: collect the body
  CURL* curl = nullptr;
  Response response;
  bool stopped_by_callback = false;
  bool idle_timed_out = false;
  bool too_large = false;
  uint64_t max_bytes = 0;  // 0: no bound
  uint64_t received = 0;
  uint32_t idle_timeout_ms = 0;
  Clock::time_point last_data = Clock::now();
  curl_off_t last_dlnow = 0;
};

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->last_data = Clock::now();
  t->received += n;
  if (t->max_bytes != 0 && t->received > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  if (t->on_data == nullptr) {
    t->response.body.append(data, n);
    return n;
  }
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {  // an error answer: keep it for the caller to read
    t->response.body.append(data, n);
    return n;
  }
  if (!(*t->on_data)(std::string_view(data, n))) {
    t->stopped_by_callback = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  return n;
}

int ProgressCallback(void* user, curl_off_t /*dltotal*/, curl_off_t dlnow, curl_off_t /*ultotal*/,
                     curl_off_t /*ulnow*/) {
  auto* t = static_cast<Transfer*>(user);
  const auto now = Clock::now();
  if (dlnow != t->last_dlnow) {
    t->last_dlnow = dlnow;
    t->last_data = now;
  }
  if (t->idle_timeout_ms > 0 &&
      now - t->last_data > std::chrono::milliseconds(t->idle_timeout_ms)) {
    t->idle_timed_out = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

StatusOr<Response> Perform(const Request& request, const DataCallback* on_data) {
  SEXTANT_RETURN_IF_ERROR(GlobalInit());
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Status::Internal("curl_easy_init failed");
  struct curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  // No "Expect: 100-continue" round trip for large bodies.
  headers = curl_slist_append(headers, "Expect:");

  Transfer t;
  t.on_data = on_data;
  t.curl = curl;
  t.idle_timeout_ms = request.idle_timeout_ms;
  t.max_bytes = request.max_response_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, ProgressCallback);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a multi-threaded process
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // whatever this libcurl can decode

  const CURLcode code = curl_easy_perform(curl);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.response.status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);

  if (t.too_large) {
    return Status::ResourceExhausted(request.url + " answered more than " +
                                     std::to_string(request.max_response_bytes) + " bytes");
  }
  if (code == CURLE_OK) return std::move(t.response);
  if (t.stopped_by_callback) {
    t.response.stopped = true;
    return std::move(t.response);
  }
  if (t.idle_timed_out) {
    return Status::DeadlineExceeded(request.url + " sent nothing for " +
                                    std::to_string(request.idle_timeout_ms) + " ms");
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return Status::DeadlineExceeded(request.url + " did not answer within " +
                                    std::to_string(request.timeout_ms) + " ms");
  }
  if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
    return Status::InvalidArgument("bad URL \"" + request.url + "\": " + curl_easy_strerror(code));
  }
  // The operating system's reason reads best ("Connection refused"); else libcurl's message.
  std::string reason;
  if (os_errno != 0 && (code == CURLE_COULDNT_CONNECT || code == CURLE_RECV_ERROR ||
                        code == CURLE_SEND_ERROR)) {
    reason = std::strerror(static_cast<int>(os_errno));
  } else if (errbuf[0] != '\0') {
    reason = errbuf;
  } else {
    reason = curl_easy_strerror(code);
  }
  if (t.response.status != 0) {  // it answered, then the connection failed
    return Status::Unavailable(request.url + " broke off its answer (HTTP " +
                               std::to_string(t.response.status) + "): " + reason);
  }
  return Status::Unavailable("cannot reach " + request.url + ": " + reason);
}

}  // namespace

StatusOr<Response> Post(const Request& request) { return Perform(request, nullptr); }

StatusOr<Response> PostStreaming(const Request& request, const DataCallback& on_data) {
  return Perform(request, &on_data);
}

}  // namespace sextant::rag::http
