// Prometheus metrics for sextantd: a small registry (request counters, latency histograms, gauges
// and process metrics); server/metrics_http.h serves it over HTTP at /metrics.
//
// The registry renders the Prometheus text exposition format, version 0.0.4:
//   https://prometheus.io/docs/instrumenting/exposition_formats/
// It has no dependency on gRPC: the server passes the method name and the numeric gRPC status code.
//
// Families rendered (always in this order, series sorted by their labels):
//   sextant_requests_total{method,code}          counter: finished RPCs; `code` is the canonical
//                                                gRPC code name ("OK", "INVALID_ARGUMENT", ...).
//   sextant_request_errors_total{method,code}    counter: the same, only for codes other than OK.
//   sextant_request_duration_seconds{method}     histogram: latency, buckets 0.0005 s .. 10 s.
//   <gauges set with SetGauge/ReplaceGauge>      gauge families, sorted by name.
//   process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
//   process_start_time_seconds, process_open_fds  read from /proc at render time (left out when
//                                                /proc cannot be read).
#ifndef SEXTANT_SERVER_METRICS_H_
#define SEXTANT_SERVER_METRICS_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sextant/status.h"
#include "sync/mutex.h"

namespace sextant::server {

// A series' labels as (name, value) pairs, in the order they are rendered.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// The upper bounds (seconds) of sextant_request_duration_seconds' buckets, before +Inf.
inline constexpr double kRequestDurationBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,  0.1,    0.25,  0.5,
                                                     1,      2.5,   5,      10};

// Returns the canonical gRPC name of `code` ("OK", "CANCELLED", ..., "UNAUTHENTICATED"), or
// "UNKNOWN" for a number outside 0..16.
std::string_view GrpcCodeName(int code);

// The registry. All methods are thread-safe.
//
// ObserveRequest is on the hot path of every RPC: after the first call for a method it takes only
// a shared (reader) lock to find the method's counters, which are atomics. Render snapshots the
// list of methods and the gauges under their locks and formats outside them, so a slow scrape
// never holds up requests.
class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one finished RPC: sextant_requests_total{method,code}, also
  // sextant_request_errors_total{method,code} when grpc_code != 0, and observes `seconds` in
  // sextant_request_duration_seconds{method}. A code outside 0..16 is counted as UNKNOWN (2); a
  // negative or NaN duration is counted as 0.
  void ObserveRequest(std::string_view method, int grpc_code, double seconds);

  // Sets the gauge series `name{labels}` to `value`, creating the family on first use; `help` is
  // taken from the call that creates the family and ignored afterwards. Characters that are not
  // valid in a metric name ([a-zA-Z0-9_:], not starting with a digit) or a label name
  // ([a-zA-Z0-9_], not starting with a digit) are replaced with '_'. Label values may hold any
  // text; they are escaped when rendered. Within one series a repeated label name keeps its first
  // value. The names of the built-in families above (and of the histogram's _bucket, _sum and
  // _count series) are reserved: such calls are ignored.
  void SetGauge(std::string_view name, std::string_view help, const MetricLabels& labels,
                double value);

  // Removes every series of gauge `name` (and its HELP text); a no-op if it does not exist.
  void ClearGauge(std::string_view name);

  // Atomically replaces every series of gauge `name` with `series` (a render sees either the old
  // set or the new one, never a half-updated family). An empty `series` removes the family. Same
  // naming rules as SetGauge; `help` replaces the previous HELP text.
  void ReplaceGauge(std::string_view name, std::string_view help,
                    const std::vector<std::pair<MetricLabels, double>>& series);

  // Everything above in the text exposition format 0.0.4: "# HELP" and "# TYPE" lines per family,
  // label values escaped (\\, \", \n), histogram buckets cumulative ending with le="+Inf" (equal to
  // _count), then _sum and _count.
  std::string Render() const;

 private:
  struct MethodStats;
  struct GaugeFamily;

  MethodStats* FindOrAddMethod(std::string_view method);

  mutable internal::SharedMutex methods_mu_;
  std::map<std::string, std::unique_ptr<MethodStats>, std::less<>> methods_ SEXTANT_GUARDED_BY(methods_mu_);

  mutable internal::Mutex gauges_mu_;
  std::map<std::string, GaugeFamily, std::less<>> gauges_ SEXTANT_GUARDED_BY(gauges_mu_);
};

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_METRICS_H_
