// The metrics registry and its HTTP exporter (see metrics.h for the contract).
//
// Registry. Request metrics live in one MethodStats per RPC method: counters per gRPC code and
// histogram buckets as relaxed atomics, so ObserveRequest never blocks other observers once its
// method exists (a reader lock on the method map is all it takes). Buckets are stored
// non-cumulative and summed at render time, so the rendered +Inf bucket always equals _count even
// while observations race with the scrape. Gauges change rarely (the server refreshes them per
// scrape or per collection change) and sit behind one mutex; Render copies them out and formats
// after releasing it.
//
// Exporter. One thread polls the listening socket and a self-pipe that Stop() writes to. Clients
// are served one at a time, each under a single deadline for reading its request and another for
// writing the response, and every wait also watches the self-pipe, so neither a silent client nor
// a client that stops reading can hold the thread past io_timeout, and Stop() never waits for one.
#include "metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace sextant::server {
namespace {

constexpr int kNumGrpcCodes = 17;  // OK (0) .. UNAUTHENTICATED (16)
constexpr int kGrpcUnknown = 2;
constexpr size_t kNumBuckets = std::size(kRequestDurationBuckets);

constexpr const char* kRequestsTotal = "sextant_requests_total";
constexpr const char* kRequestErrorsTotal = "sextant_request_errors_total";
constexpr const char* kRequestDuration = "sextant_request_duration_seconds";

// Gauge names that would collide with a built-in family or one of its series.
constexpr std::string_view kReservedNames[] = {
    "sextant_requests_total",
    "sextant_request_errors_total",
    "sextant_request_duration_seconds",
    "sextant_request_duration_seconds_bucket",
    "sextant_request_duration_seconds_sum",
    "sextant_request_duration_seconds_count",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
};

bool IsReserved(std::string_view name) {
  return std::find(std::begin(kReservedNames), std::end(kReservedNames), name) !=
         std::end(kReservedNames);
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*.
std::string SanitizeName(std::string_view name, bool allow_colon) {
  std::string out(name.empty() ? "_" : name);
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    bool ok = IsAsciiLetter(c) || c == '_' || (allow_colon && c == ':') || (i > 0 && IsAsciiDigit(c));
    if (!ok) out[i] = '_';
  }
  return out;
}

MetricLabels SanitizeLabels(const MetricLabels& labels) {
  MetricLabels out;
  out.reserve(labels.size());
  for (const auto& [name, value] : labels) {
    std::string clean = SanitizeName(name, /*allow_colon=*/false);
    bool seen = std::any_of(out.begin(), out.end(), [&](const auto& l) { return l.first == clean; });
    if (!seen) out.emplace_back(std::move(clean), value);
  }
  return out;
}

void AppendEscapedLabelValue(std::string* out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

void AppendEscapedHelp(std::string* out, std::string_view help) {
  for (char c : help) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

// Formats like the Go client library (strconv.FormatFloat(v, 'g', -1, 64)), so bucket bounds read
// le="0.0005" as everywhere else: "NaN", "+Inf", "-Inf", otherwise the shortest decimal that reads
// back as the same double, in exponent form when the exponent is below -4 or at least 6.
void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[400];  // the longest shortest fixed form (about 1e-4) is far shorter
  std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  if (r.ec != std::errc()) return;
  // The shortest scientific form is "d[.ddd]e{+|-}XX".
  char* e = std::find(buf, r.ptr, 'e');
  int exp = 0;
  if (e + 2 < r.ptr) std::from_chars(e + 2, r.ptr, exp);
  if (e + 1 < r.ptr && e[1] == '-') exp = -exp;
  if (exp >= -4 && exp < 6) {
    r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
    if (r.ec != std::errc()) return;
  }
  out->append(buf, r.ptr);
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, ec == std::errc() ? end : buf);
}

void AppendHeader(std::string* out, std::string_view name, std::string_view help,
                  std::string_view type) {
  out->append("# HELP ").append(name).push_back(' ');
  AppendEscapedHelp(out, help);
  out->append("\n# TYPE ").append(name).push_back(' ');
  out->append(type).push_back('\n');
}

// Appends `{a="x",b="y"}` (nothing for no labels); `extra` is appended last (used for `le`).
void AppendLabels(std::string* out, const MetricLabels& labels,
                  const std::pair<std::string_view, std::string_view>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return;
  out->push_back('{');
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    if (!first) out->push_back(',');
    first = false;
    out->append(name).append("=\"");
    AppendEscapedLabelValue(out, value);
    out->push_back('"');
  };
  for (const auto& [name, value] : labels) one(name, value);
  if (extra != nullptr) one(extra->first, extra->second);
  out->push_back('}');
}

// ---- Process metrics from /proc -----------------------------------------------------------------

std::optional<std::string> ReadSmallFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;
};

std::optional<ProcessStats> ReadProcessStats() {
  std::optional<std::string> stat = ReadSmallFile("/proc/self/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted from
  // the last ')'. After it, index 0 is field 3 (state) of proc(5).
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(stat->substr(paren + 1));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields),
                             std::istream_iterator<std::string>()};
  // utime (14), stime (15), starttime (22), vsize (23), rss (24).
  if (f.size() < 22) return std::nullopt;
  auto field = [&](int n) { return std::strtod(f[n - 3].c_str(), nullptr); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (ticks <= 0 || page <= 0) return std::nullopt;
  ProcessStats s;
  s.cpu_seconds = (field(14) + field(15)) / ticks;
  s.virtual_bytes = field(23);
  s.resident_bytes = field(24) * page;
  // starttime counts clock ticks since boot; /proc/stat's btime is the boot time (Unix seconds).
  std::optional<std::string> proc_stat = ReadSmallFile("/proc/stat");
  if (!proc_stat) return std::nullopt;
  size_t pos = proc_stat->find("\nbtime ");
  if (pos == std::string::npos) return std::nullopt;
  double btime = std::strtod(proc_stat->c_str() + pos + 7, nullptr);
  s.start_time_seconds = btime + field(22) / ticks;
  return s;
}

// The number of open file descriptors (entries of /proc/self/fd, less the one reading it), or -1.
int64_t CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int64_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n > 0 ? n - 1 : 0;
}

}  // namespace

std::string_view GrpcCodeName(int code) {
  static constexpr std::string_view kNames[kNumGrpcCodes] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code < 0 || code >= kNumGrpcCodes) return "UNKNOWN";
  return kNames[code];
}

// ---- Metrics ------------------------------------------------------------------------------------

struct Metrics::MethodStats {
  std::array<std::atomic<uint64_t>, kNumGrpcCodes> by_code{};
  // buckets[i] counts observations in (bound[i-1], bound[i]]; buckets[kNumBuckets] those above
  // the last bound.
  std::array<std::atomic<uint64_t>, kNumBuckets + 1> buckets{};
  std::atomic<double> sum{0};
};

struct Metrics::GaugeFamily {
  std::string help;
  std::map<MetricLabels, double> series;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::MethodStats* Metrics::FindOrAddMethod(std::string_view method) {
  {
    std::shared_lock lock(methods_mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return it->second.get();
  }
  std::unique_lock lock(methods_mu_);
  auto [it, inserted] = methods_.try_emplace(std::string(method));
  if (inserted) it->second = std::make_unique<MethodStats>();
  return it->second.get();
}

void Metrics::ObserveRequest(std::string_view method, int grpc_code, double seconds) {
  MethodStats* stats = FindOrAddMethod(method);
  if (grpc_code < 0 || grpc_code >= kNumGrpcCodes) grpc_code = kGrpcUnknown;
  if (!(seconds > 0)) seconds = 0;  // also catches NaN
  stats->by_code[grpc_code].fetch_add(1, std::memory_order_relaxed);
  size_t bucket = std::lower_bound(std::begin(kRequestDurationBuckets),
                                   std::end(kRequestDurationBuckets), seconds) -
                  std::begin(kRequestDurationBuckets);
  stats->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  stats->sum.fetch_add(seconds, std::memory_order_relaxed);
}

void Metrics::SetGauge(std::string_view name, std::string_view help, const MetricLabels& labels,
                       double value) {
  std::string clean = SanitizeName(name, /*allow_colon=*/true);
  if (IsReserved(clean)) return;
  MetricLabels clean_labels = SanitizeLabels(labels);
  std::lock_guard lock(gauges_mu_);
  auto [it, inserted] = gauges_.try_emplace(std::move(clean));
  if (inserted) it->second.help = std::string(help);
  it->second.series[std::move(clean_labels)] = value;
}

void Metrics::ClearGauge(std::string_view name) {
  std::string clean = SanitizeName(name, /*allow_colon=*/true);
  std::lock_guard lock(gauges_mu_);
  auto it = gauges_.find(clean);
  if (it != gauges_.end()) gauges_.erase(it);
}

void Metrics::ReplaceGauge(std::string_view name, std::string_view help,
                           const std::vector<std::pair<MetricLabels, double>>& series) {
  std::string clean = SanitizeName(name, /*allow_colon=*/true);
  if (IsReserved(clean)) return;
  GaugeFamily family;
  family.help = std::string(help);
  for (const auto& [labels, value] : series) family.series[SanitizeLabels(labels)] = value;
  std::lock_guard lock(gauges_mu_);
  if (family.series.empty()) {
    auto it = gauges_.find(clean);
    if (it != gauges_.end()) gauges_.erase(it);
  } else {
    gauges_.insert_or_assign(std::move(clean), std::move(family));
  }
}

std::string Metrics::Render() const {
  // Snapshot under the locks, format after them. MethodStats are never freed while the registry
  // lives, so the pointers stay valid.
  std::vector<std::pair<std::string, const MethodStats*>> methods;
  {
    std::shared_lock lock(methods_mu_);
    methods.reserve(methods_.size());
    for (const auto& [name, stats] : methods_) methods.emplace_back(name, stats.get());
  }
  std::map<std::string, GaugeFamily, std::less<>> gauges;
  {
    std::lock_guard lock(gauges_mu_);
    gauges = gauges_;
  }

  struct Snapshot {
    std::array<uint64_t, kNumGrpcCodes> by_code;
    std::array<uint64_t, kNumBuckets + 1> buckets;
    double sum;
  };
  std::vector<Snapshot> snaps(methods.size());
  for (size_t m = 0; m < methods.size(); ++m) {
    const MethodStats& s = *methods[m].second;
    for (int c = 0; c < kNumGrpcCodes; ++c) {
      snaps[m].by_code[c] = s.by_code[c].load(std::memory_order_relaxed);
    }
    for (size_t b = 0; b <= kNumBuckets; ++b) {
      snaps[m].buckets[b] = s.buckets[b].load(std::memory_order_relaxed);
    }
    snaps[m].sum = s.sum.load(std::memory_order_relaxed);
  }

  std::string out;
  out.reserve(1024 + methods.size() * 2048);

  auto render_codes = [&](const char* family, bool errors_only) {
    for (size_t m = 0; m < methods.size(); ++m) {
      for (int c = errors_only ? 1 : 0; c < kNumGrpcCodes; ++c) {
        if (snaps[m].by_code[c] == 0) continue;
        out.append(family);
        AppendLabels(&out, {{"method", methods[m].first}, {"code", std::string(GrpcCodeName(c))}});
        out.push_back(' ');
        AppendUint(&out, snaps[m].by_code[c]);
        out.push_back('\n');
      }
    }
  };
  AppendHeader(&out, kRequestsTotal, "Finished RPCs, by method and gRPC status code.", "counter");
  render_codes(kRequestsTotal, /*errors_only=*/false);
  AppendHeader(&out, kRequestErrorsTotal,
               "Finished RPCs that returned a status other than OK, by method and gRPC status code.",
               "counter");
  render_codes(kRequestErrorsTotal, /*errors_only=*/true);

  AppendHeader(&out, kRequestDuration, "Time to finish an RPC, in seconds, by method.",
               "histogram");
  const std::string bucket_name = std::string(kRequestDuration) + "_bucket";
  const std::string sum_name = std::string(kRequestDuration) + "_sum";
  const std::string count_name = std::string(kRequestDuration) + "_count";
  for (size_t m = 0; m < methods.size(); ++m) {
    const MetricLabels labels = {{"method", methods[m].first}};
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kNumBuckets; ++b) {
      cumulative += snaps[m].buckets[b];
      std::string le;
      if (b < kNumBuckets) {
        AppendDouble(&le, kRequestDurationBuckets[b]);
      } else {
        le = "+Inf";
      }
      const std::pair<std::string_view, std::string_view> le_label{"le", le};
      out.append(bucket_name);
      AppendLabels(&out, labels, &le_label);
      out.push_back(' ');
      AppendUint(&out, cumulative);
      out.push_back('\n');
    }
    out.append(sum_name);
    AppendLabels(&out, labels);
    out.push_back(' ');
    AppendDouble(&out, snaps[m].sum);
    out.append("\n").append(count_name);
    AppendLabels(&out, labels);
    out.push_back(' ');
    AppendUint(&out, cumulative);
    out.push_back('\n');
  }

  for (const auto& [name, family] : gauges) {
    AppendHeader(&out, name, family.help, "gauge");
    for (const auto& [labels, value] : family.series) {
      out.append(name);
      AppendLabels(&out, labels);
      out.push_back(' ');
      AppendDouble(&out, value);
      out.push_back('\n');
    }
  }

  if (std::optional<ProcessStats> p = ReadProcessStats()) {
    auto one = [&](const char* name, const char* help, const char* type, double value) {
      AppendHeader(&out, name, help, type);
      out.append(name).push_back(' ');
      AppendDouble(&out, value);
      out.push_back('\n');
    };
    one("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter",
        p->cpu_seconds);
    one("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
        p->resident_bytes);
    one("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
        p->virtual_bytes);
    one("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        "gauge", p->start_time_seconds);
  }
  if (int64_t fds = CountOpenFds(); fds >= 0) {
    AppendHeader(&out, "process_open_fds", "Number of open file descriptors.", "gauge");
    out.append("process_open_fds ");
    AppendUint(&out, static_cast<uint64_t>(fds));
    out.push_back('\n');
  }
  return out;
}

// ---- MetricsHttpServer --------------------------------------------------------------------------

namespace {

constexpr size_t kMaxRequestHead = 16 * 1024;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message (maybe not in buf).
  return strerror_r(err, buf, sizeof(buf));
}

// Splits "host:port" or "[v6]:port" into its parts.
Status ParseHostPort(const std::string& address, std::string* host, std::string* port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("metrics address '" + address + "': " + std::string(why) +
                                   " (expected HOST:PORT, e.g. 127.0.0.1:9090 or [::1]:9090)");
  };
  if (address.empty()) return bad("empty");
  size_t colon;
  if (address[0] == '[') {
    size_t close = address.find(']');
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
  *port = address.substr(colon + 1);
  if (port->empty() || port->size() > 5 ||
      !std::all_of(port->begin(), port->end(), IsAsciiDigit)) {
    return bad("the port must be a number from 0 to 65535");
  }
  if (std::stoi(*port) > 65535) return bad("the port must be a number from 0 to 65535");
  return Status::OK();
}

enum class Wait { kReady, kTimeout, kStopped, kError };

// Waits until `fd` has `events` or `deadline` passes, returning early when `wake_fd` becomes
// readable (Stop was called).
Wait WaitFor(int fd, short events, int wake_fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline -
                                                             std::chrono::steady_clock::now());
    if (left.count() <= 0) return Wait::kTimeout;
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int r = poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Wait::kError;
    }
    if (fds[1].revents != 0) return Wait::kStopped;
    if (fds[0].revents != 0) return Wait::kReady;  // including POLLHUP/POLLERR: the I/O call reports it
  }
}

// Sends all of `data`; false when the client is gone, too slow, or the server is stopping.
bool SendAll(int fd, std::string_view data, int wake_fd,
             std::chrono::steady_clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (WaitFor(fd, POLLOUT, wake_fd, deadline) != Wait::kReady) return false;
      continue;
    }
    return false;
  }
  return true;
}

struct Response {
  int code;
  std::string_view reason;
  std::string_view content_type;
  std::string body;
};

std::string FormatResponse(const Response& r, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(r.code) + " " + std::string(r.reason) + "\r\n";
  out += "Content-Type: " + std::string(r.content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  if (r.code == 405) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += r.body;
  return out;
}

Response PlainError(int code, std::string_view reason, std::string body) {
  return {code, reason, "text/plain; charset=utf-8", std::move(body)};
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Whether the request head announces a body (which we never read).
bool HasBody(std::string_view head) {
  size_t pos = 0;
  while ((pos = head.find('\n', pos)) != std::string_view::npos) {
    ++pos;
    size_t colon = head.find(':', pos);
    size_t eol = head.find('\n', pos);
    if (colon == std::string_view::npos || colon > eol) continue;
    std::string_view name = head.substr(pos, colon - pos);
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) {
      return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host_port, std::function<std::string()> render) {
  return Start(host_port, std::move(render), MetricsHttpServerOptions());
}

StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host_port, std::function<std::string()> render,
    const MetricsHttpServerOptions& options) {
  if (!render) return Status::InvalidArgument("metrics server: the render function is empty");
  if (options.io_timeout.count() <= 0) {
    return Status::InvalidArgument("metrics server: io_timeout must be positive");
  }
  std::string host, port;
  SEXTANT_RETURN_IF_ERROR(ParseHostPort(host_port, &host, &port));

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::InvalidArgument("metrics address '" + host_port + "': cannot resolve host '" +
                                   host + "': " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> results(found, &freeaddrinfo);

  UniqueFd listener;
  int last_errno = 0;
  const char* last_step = "bind";
  for (addrinfo* ai = results.get(); ai != nullptr && listener.get() < 0; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       ai->ai_protocol));
    if (fd.get() < 0) {
      last_errno = errno;
      last_step = "socket";
      continue;
    }
    int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last_errno = errno;
      last_step = "bind";
      continue;
    }
    if (listen(fd.get(), 16) != 0) {
      last_errno = errno;
      last_step = "listen";
      continue;
    }
    listener.reset(fd.release());
  }
  if (listener.get() < 0) {
    return Status::Unavailable("metrics server cannot listen on " + host_port + ": " + last_step +
                               ": " + ErrnoText(last_errno));
  }

  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return Status::Unavailable("metrics server on " + host_port +
                               ": getsockname: " + ErrnoText(errno));
  }
  int bound_port = bound.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::Unavailable("metrics server on " + host_port + ": pipe: " + ErrnoText(errno));
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(
      listener.release(), pipe_fds[0], pipe_fds[1], bound_port, std::move(render), options));
  server->thread_ = std::thread(&MetricsHttpServer::Run, server.get());
  return server;
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int wake_read_fd, int wake_write_fd, int port,
                                     std::function<std::string()> render,
                                     MetricsHttpServerOptions options)
    : listen_fd_(listen_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      port_(port),
      render_(std::move(render)),
      options_(options) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  // The byte is never read, so the pipe stays readable and every later wait sees it.
  ssize_t n;
  do {
    n = write(wake_write_fd_, "x", 1);
  } while (n < 0 && errno == EINTR);
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_read_fd_);
  close(wake_write_fd_);
}

void MetricsHttpServer::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
    int r = poll(fds, 2, -1);
    if (r < 0) {
      if (errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors: back off instead of spinning on a listener that stays readable.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    ServeClient(fd);
    close(fd);
  }
}

void MetricsHttpServer::ServeClient(int fd) {
  using Clock = std::chrono::steady_clock;
  const auto read_deadline = Clock::now() + options_.io_timeout;

  // Read the request head (we never need a body).
  std::string request;
  size_t head_end = std::string::npos;
  std::optional<Response> early;  // a response decided before the head is complete
  while (head_end == std::string::npos) {
    size_t crlf = request.find("\r\n\r\n");
    size_t lf = request.find("\n\n");
    if (crlf != std::string::npos) head_end = crlf + 4;
    if (lf != std::string::npos && (head_end == std::string::npos || lf + 2 < head_end)) {
      head_end = lf + 2;
    }
    if (head_end != std::string::npos) {
      if (head_end > kMaxRequestHead) {
        early = PlainError(431, "Request Header Fields Too Large", "request head too large\n");
      }
      break;
    }
    if (request.size() > kMaxRequestHead) {
      early = PlainError(431, "Request Header Fields Too Large", "request head too large\n");
      break;
    }
    Wait w = WaitFor(fd, POLLIN, wake_read_fd_, read_deadline);
    if (w == Wait::kStopped || w == Wait::kError) return;
    if (w == Wait::kTimeout) {
      early = PlainError(408, "Request Timeout", "request not received in time\n");
      break;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return;  // the client went away
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return;
    }
    request.append(buf, static_cast<size_t>(n));
  }

  bool head_only = false;
  Response response;
  if (early) {
    response = std::move(*early);
  } else {
    std::string_view head(request.data(), head_end);
    std::string_view line = head.substr(0, head.find('\n'));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t sp1 = line.find(' ');
    size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
        !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
      response = PlainError(400, "Bad Request", "malformed request line\n");
    } else {
      std::string_view method = line.substr(0, sp1);
      std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      target = target.substr(0, target.find_first_of("?#"));
      head_only = method == "HEAD";
      if (method != "GET" && method != "HEAD") {
        response = PlainError(405, "Method Not Allowed", "only GET and HEAD are supported\n");
      } else if (target == "/metrics") {
        response = {200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_()};
      } else if (target == "/") {
        response = {200, "OK", "text/html; charset=utf-8",
                    "<!DOCTYPE html>\n<html><head><title>sextantd</title></head><body>\n"
                    "<h1>sextantd</h1>\n<p>Prometheus metrics are at <a href=\"/metrics\">"
                    "/metrics</a>.</p>\n</body></html>\n"};
      } else {
        response = PlainError(404, "Not Found", "not found; metrics are at /metrics\n");
      }
    }
  }

  const auto write_deadline = Clock::now() + options_.io_timeout;
  if (!SendAll(fd, FormatResponse(response, head_only), wake_read_fd_, write_deadline)) return;

  // Closing a socket with unread input makes the kernel send a reset, which can destroy the
  // response before the client reads it. When input is left (a body, or more bytes than the
  // head), half-close and drain until the client closes or a short grace period ends.
  int pending = 0;
  bool unread = (ioctl(fd, FIONREAD, &pending) == 0 && pending > 0) || response.code == 431 ||
                (!early && (request.size() > head_end || HasBody({request.data(), head_end})));
  if (!unread) return;
  shutdown(fd, SHUT_WR);
  const auto drain_deadline =
      Clock::now() + std::min<std::chrono::milliseconds>(options_.io_timeout, std::chrono::seconds(1));
  for (;;) {
    if (WaitFor(fd, POLLIN, wake_read_fd_, drain_deadline) != Wait::kReady) return;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return;
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return;
  }
}

}  // namespace sextant::server
