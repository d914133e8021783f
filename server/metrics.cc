// The metrics registry (see metrics.h for the contract).
//
// Registry. Request metrics live in one MethodStats per RPC method: counters per gRPC code and
// histogram buckets as relaxed atomics, so ObserveRequest never blocks other observers once its
// method exists (a reader lock on the method map is all it takes). Buckets are stored
// non-cumulative and summed at render time, so the rendered +Inf bucket always equals _count even
// while observations race with the scrape. Gauges change rarely (the server refreshes them per
// scrape or per collection change) and sit behind one mutex; Render copies them out and formats
// after releasing it.
#include "metrics.h"

#include <dirent.h>
#include <fcntl.h>
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
    internal::ReaderLock lock(methods_mu_);
    auto it = methods_.find(method);
    if (it != methods_.end()) return it->second.get();
  }
  internal::WriterLock lock(methods_mu_);
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
  internal::MutexLock lock(gauges_mu_);
  auto [it, inserted] = gauges_.try_emplace(std::move(clean));
  if (inserted) it->second.help = std::string(help);
  it->second.series[std::move(clean_labels)] = value;
}

void Metrics::ClearGauge(std::string_view name) {
  std::string clean = SanitizeName(name, /*allow_colon=*/true);
  internal::MutexLock lock(gauges_mu_);
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
  internal::MutexLock lock(gauges_mu_);
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
    internal::ReaderLock lock(methods_mu_);
    methods.reserve(methods_.size());
    for (const auto& [name, stats] : methods_) methods.emplace_back(name, stats.get());
  }
  std::map<std::string, GaugeFamily, std::less<>> gauges;
  {
    internal::MutexLock lock(gauges_mu_);
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

}  // namespace sextant::server
