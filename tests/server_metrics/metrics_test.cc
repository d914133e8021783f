// Tests of the Prometheus registry and HTTP exporter of sextantd (server/metrics.h and
// server/metrics_http.h, built into sextant_server); no gRPC involved.
#include "server/metrics.h"
#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sextant::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Maps each sample line "name{labels} value" of a rendering to its value text, keyed by
// "name{labels}" exactly as rendered.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    if (sp == std::string::npos) continue;
    EXPECT_TRUE(out.emplace(line.substr(0, sp), line.substr(sp + 1)).second)
        << "duplicate series " << line;
  }
  return out;
}

// Every line of a rendering, for checks of order and HELP/TYPE pairs.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

TEST(MetricsTest, EmptyRegistryHasRequestFamiliesAndProcessMetrics) {
  Metrics m;
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# HELP sextant_requests_total "));
  EXPECT_THAT(text, HasSubstr("# TYPE sextant_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE sextant_request_errors_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE sextant_request_duration_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_resident_memory_bytes gauge\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE process_start_time_seconds gauge\n"));
  ASSERT_EQ(text.back(), '\n');

  auto samples = Samples(text);
  ASSERT_TRUE(samples.count("process_resident_memory_bytes"));
  EXPECT_GT(std::stod(samples["process_resident_memory_bytes"]), 0);
  EXPECT_GE(std::stod(samples["process_cpu_seconds_total"]), 0);
  EXPECT_GT(std::stod(samples["process_open_fds"]), 0);
  // The process started after 2020 and not after now.
  double start = std::stod(samples["process_start_time_seconds"]);
  EXPECT_GT(start, 1577836800.0);
  EXPECT_LE(start, static_cast<double>(std::time(nullptr)) + 1);
  // No request series yet.
  for (const auto& [key, value] : samples) EXPECT_THAT(key, Not(StartsWith("sextant_request")));
}

TEST(MetricsTest, EveryFamilyHasHelpThenTypeBeforeItsSamples) {
  Metrics m;
  m.ObserveRequest("/sextant.v1.Sextant/Search", 0, 0.01);
  m.ObserveRequest("/sextant.v1.Sextant/Search", 3, 0.01);
  m.SetGauge("sextant_collection_points", "Points per collection.", {{"collection", "a"}}, 5);
  std::vector<std::string> lines = Lines(m.Render());
  std::string current;  // the family whose HELP/TYPE came last
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      ASSERT_LT(i + 1, lines.size());
      EXPECT_THAT(lines[i + 1], StartsWith("# TYPE " + current + " ")) << line;
      continue;
    }
    if (line.starts_with("# TYPE ")) continue;
    ASSERT_FALSE(current.empty()) << "sample before any HELP: " << line;
    std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                name == current + "_count")
        << line << " under family " << current;
  }
}

TEST(MetricsTest, CountersPerMethodAndCode) {
  Metrics m;
  for (int i = 0; i < 3; ++i) m.ObserveRequest("/svc/Search", 0, 0.01);
  m.ObserveRequest("/svc/Search", 5, 0.2);
  m.ObserveRequest("/svc/Upsert", 3, 0.02);
  m.ObserveRequest("/svc/Upsert", 3, 0.02);
  m.ObserveRequest("/svc/Upsert", 16, 0.02);
  auto s = Samples(m.Render());
  EXPECT_EQ(s["sextant_requests_total{method=\"/svc/Search\",code=\"OK\"}"], "3");
  EXPECT_EQ(s["sextant_requests_total{method=\"/svc/Search\",code=\"NOT_FOUND\"}"], "1");
  EXPECT_EQ(s["sextant_requests_total{method=\"/svc/Upsert\",code=\"INVALID_ARGUMENT\"}"], "2");
  EXPECT_EQ(s["sextant_requests_total{method=\"/svc/Upsert\",code=\"UNAUTHENTICATED\"}"], "1");
  EXPECT_EQ(s["sextant_request_errors_total{method=\"/svc/Search\",code=\"NOT_FOUND\"}"], "1");
  EXPECT_EQ(s["sextant_request_errors_total{method=\"/svc/Upsert\",code=\"INVALID_ARGUMENT\"}"],
            "2");
  EXPECT_EQ(s["sextant_request_errors_total{method=\"/svc/Upsert\",code=\"UNAUTHENTICATED\"}"],
            "1");
  EXPECT_FALSE(s.count("sextant_request_errors_total{method=\"/svc/Search\",code=\"OK\"}"));
  EXPECT_FALSE(s.count("sextant_requests_total{method=\"/svc/Upsert\",code=\"OK\"}"));
  EXPECT_EQ(s["sextant_request_duration_seconds_count{method=\"/svc/Search\"}"], "4");
  EXPECT_EQ(s["sextant_request_duration_seconds_count{method=\"/svc/Upsert\"}"], "3");

  // Counting goes on from where it was.
  m.ObserveRequest("/svc/Search", 0, 0.01);
  s = Samples(m.Render());
  EXPECT_EQ(s["sextant_requests_total{method=\"/svc/Search\",code=\"OK\"}"], "4");
}

TEST(MetricsTest, UnknownCodesAndBadDurations) {
  Metrics m;
  m.ObserveRequest("/m", 99, 0.001);
  m.ObserveRequest("/m", -1, -5.0);
  m.ObserveRequest("/m", 2, std::nan(""));
  auto s = Samples(m.Render());
  EXPECT_EQ(s["sextant_requests_total{method=\"/m\",code=\"UNKNOWN\"}"], "3");
  EXPECT_EQ(s["sextant_request_errors_total{method=\"/m\",code=\"UNKNOWN\"}"], "3");
  // The negative and NaN durations count as 0: in the first bucket, adding nothing to the sum.
  EXPECT_EQ(s["sextant_request_duration_seconds_bucket{method=\"/m\",le=\"0.0005\"}"], "2");
  EXPECT_EQ(s["sextant_request_duration_seconds_bucket{method=\"/m\",le=\"0.001\"}"], "3");
  EXPECT_DOUBLE_EQ(std::stod(s["sextant_request_duration_seconds_sum{method=\"/m\"}"]), 0.001);
}

TEST(MetricsTest, GrpcCodeNames) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(GrpcCodeName(14), "UNAVAILABLE");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_EQ(GrpcCodeName(-3), "UNKNOWN");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndEndAtCount) {
  Metrics m;
  // 0.0005 sits exactly on a bound and belongs to it (le = "less or equal").
  for (double v : {0.0001, 0.0005, 0.003, 0.7, 2.5, 100.0}) m.ObserveRequest("/h", 0, v);
  std::string text = m.Render();
  auto s = Samples(text);
  const std::string prefix = "sextant_request_duration_seconds_bucket{method=\"/h\",le=\"";
  std::map<std::string, std::string> expected = {
      {"0.0005", "2"}, {"0.001", "2"}, {"0.0025", "2"}, {"0.005", "3"}, {"0.01", "3"},
      {"0.025", "3"},  {"0.05", "3"},  {"0.1", "3"},    {"0.25", "3"},  {"0.5", "3"},
      {"1", "4"},      {"2.5", "5"},   {"5", "5"},      {"10", "5"},    {"+Inf", "6"}};
  for (const auto& [le, count] : expected) {
    EXPECT_EQ(s[prefix + le + "\"}"], count) << "le=" << le;
  }
  EXPECT_EQ(s["sextant_request_duration_seconds_count{method=\"/h\"}"], "6");
  EXPECT_NEAR(std::stod(s["sextant_request_duration_seconds_sum{method=\"/h\"}"]), 103.2036,
              1e-9);

  // The bucket lines come in increasing order of le, one per bound plus +Inf.
  std::vector<std::string> order;
  for (const std::string& line : Lines(text)) {
    if (!line.starts_with(prefix)) continue;
    order.push_back(line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()));
  }
  ASSERT_EQ(order.size(), std::size(kRequestDurationBuckets) + 1);
  for (size_t i = 0; i + 1 < order.size(); ++i) {
    EXPECT_DOUBLE_EQ(std::stod(order[i]), kRequestDurationBuckets[i]);
  }
  EXPECT_EQ(order.back(), "+Inf");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Metrics m;
  m.ObserveRequest("a\"b\\c\nd", 0, 0.001);
  m.SetGauge("sextant_test_gauge", "Help with a \\ backslash\nand a newline.",
             {{"collection", "x\"y\\z\nw"}}, 1);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("sextant_requests_total{method=\"a\\\"b\\\\c\\nd\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sextant_request_duration_seconds_count{method=\"a\\\"b\\\\c\\nd\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sextant_test_gauge{collection=\"x\\\"y\\\\z\\nw\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# HELP sextant_test_gauge Help with a \\\\ backslash\\nand a newline.\n"));
  // No raw newline inside any line: every line starts with '#' or a metric name.
  for (const std::string& line : Lines(text)) {
    ASSERT_FALSE(line.empty());
    EXPECT_TRUE(line[0] == '#' || std::isalpha(static_cast<unsigned char>(line[0])) ||
                line[0] == '_')
        << line;
  }
}

TEST(MetricsTest, GaugesSetUpdateAndClear) {
  Metrics m;
  m.SetGauge("sextant_collection_points", "Points per collection.", {{"collection", "b"}}, 7);
  m.SetGauge("sextant_collection_points", "A different help, ignored.", {{"collection", "a"}}, 3);
  m.SetGauge("sextant_collection_points", "", {{"collection", "b"}}, 8);
  m.SetGauge("sextant_up", "Whether the server is up.", {}, 1);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# HELP sextant_collection_points Points per collection.\n"
                              "# TYPE sextant_collection_points gauge\n"
                              "sextant_collection_points{collection=\"a\"} 3\n"
                              "sextant_collection_points{collection=\"b\"} 8\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE sextant_up gauge\nsextant_up 1\n"));

  m.ClearGauge("sextant_collection_points");
  m.ClearGauge("sextant_no_such_gauge");  // a no-op
  text = m.Render();
  EXPECT_THAT(text, Not(HasSubstr("sextant_collection_points")));
  EXPECT_THAT(text, HasSubstr("sextant_up 1\n"));

  // After a clear, the next set creates the family afresh, with its own help.
  m.SetGauge("sextant_collection_points", "New help.", {{"collection", "c"}}, 1.5);
  text = m.Render();
  EXPECT_THAT(text, HasSubstr("# HELP sextant_collection_points New help.\n"));
  EXPECT_THAT(text, HasSubstr("sextant_collection_points{collection=\"c\"} 1.5\n"));
  EXPECT_THAT(text, Not(HasSubstr("collection=\"a\"")));
}

TEST(MetricsTest, ReplaceGaugeSwapsTheWholeFamily) {
  Metrics m;
  m.SetGauge("sextant_index_building", "Old help.", {{"collection", "old"}}, 1);
  m.ReplaceGauge("sextant_index_building", "Whether an index build is running.",
                 {{{{"collection", "x"}}, 0}, {{{"collection", "y"}}, 1}});
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("# HELP sextant_index_building Whether an index build is running.\n"));
  EXPECT_THAT(text, HasSubstr("sextant_index_building{collection=\"x\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sextant_index_building{collection=\"y\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("collection=\"old\"")));
  m.ReplaceGauge("sextant_index_building", "ignored", {});
  EXPECT_THAT(m.Render(), Not(HasSubstr("sextant_index_building")));
}

TEST(MetricsTest, GaugeNamesAreSanitizedAndReservedNamesIgnored) {
  Metrics m;
  m.SetGauge("bad-name.x", "h", {{"1st label", "v"}, {"ok_label", "w"}, {"ok_label", "dup"}}, 2);
  m.SetGauge("sextant_requests_total", "clash", {}, 42);
  m.SetGauge("process_resident_memory_bytes", "clash", {}, 42);
  m.SetGauge("sextant_request_duration_seconds_count", "clash", {}, 42);
  m.SetGauge("sextant_special", "h", {{"v", "nan"}}, std::nan(""));
  m.SetGauge("sextant_special", "h", {{"v", "inf"}}, HUGE_VAL);
  m.SetGauge("sextant_special", "h", {{"v", "-inf"}}, -HUGE_VAL);
  m.SetGauge("sextant_special", "h", {{"v", "big"}}, 1e300);
  std::string text = m.Render();
  EXPECT_THAT(text, HasSubstr("bad_name_x{_st_label=\"v\",ok_label=\"w\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("clash")));
  EXPECT_THAT(text, Not(HasSubstr(" 42\n")));
  EXPECT_THAT(text, HasSubstr("sextant_special{v=\"nan\"} NaN\n"));
  EXPECT_THAT(text, HasSubstr("sextant_special{v=\"inf\"} +Inf\n"));
  EXPECT_THAT(text, HasSubstr("sextant_special{v=\"-inf\"} -Inf\n"));
  EXPECT_THAT(text, HasSubstr("sextant_special{v=\"big\"} 1e+300\n"));
  // Each family's HELP appears once.
  auto lines = Lines(text);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "# TYPE sextant_requests_total counter"), 1);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "# TYPE process_resident_memory_bytes gauge"), 1);
}

TEST(MetricsTest, ConcurrentObserversCountExactly) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  const char* methods[] = {"/svc/A", "/svc/B", "/svc/C"};
  std::atomic<bool> done{false};
  // A scraper and a gauge writer run alongside, as in the server.
  std::thread scraper([&] {
    while (!done.load()) {
      auto s = Samples(m.Render());
      for (const char* method : methods) {
        std::string key = std::string("sextant_request_duration_seconds_bucket{method=\"") +
                          method + "\",le=\"+Inf\"}";
        std::string count =
            std::string("sextant_request_duration_seconds_count{method=\"") + method + "\"}";
        if (s.count(key)) {
          EXPECT_EQ(s[key], s[count]);
        }
      }
    }
  });
  std::thread gauger([&] {
    for (int i = 0; !done.load(); ++i) {
      m.SetGauge("sextant_g", "g", {{"i", std::to_string(i % 5)}}, i);
      if (i % 7 == 0) m.ClearGauge("sextant_g");
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // 0.25 and 0.5 are exact in binary, so the sum is exact too.
        m.ObserveRequest(methods[(t + i) % 3], i % 4 == 0 ? 14 : 0, i % 2 == 0 ? 0.25 : 0.5);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  gauger.join();

  auto s = Samples(m.Render());
  uint64_t total = 0, unavailable = 0, count = 0;
  double sum = 0;
  for (const char* method : methods) {
    std::string ml = std::string("{method=\"") + method + "\"";
    total += std::stoull(s["sextant_requests_total" + ml + ",code=\"OK\"}"]);
    unavailable += std::stoull(s["sextant_requests_total" + ml + ",code=\"UNAVAILABLE\"}"]);
    EXPECT_EQ(s["sextant_requests_total" + ml + ",code=\"UNAVAILABLE\"}"],
              s["sextant_request_errors_total" + ml + ",code=\"UNAVAILABLE\"}"]);
    count += std::stoull(s["sextant_request_duration_seconds_count" + ml + "}"]);
    EXPECT_EQ(s["sextant_request_duration_seconds_bucket" + ml + ",le=\"+Inf\"}"],
              s["sextant_request_duration_seconds_count" + ml + "}"]);
    sum += std::stod(s["sextant_request_duration_seconds_sum" + ml + "}"]);
  }
  total += unavailable;
  EXPECT_EQ(total, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(unavailable, uint64_t{kThreads} * kPerThread / 4);
  EXPECT_EQ(count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(sum, kThreads * (kPerThread / 2) * 0.75);
}

// ---- The HTTP exporter --------------------------------------------------------------------------

// A connected TCP socket to 127.0.0.1:port (reads time out after 60 s so a broken server fails the
// test instead of hanging it), or -1.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the server closes the connection (or the 60 s read timeout).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Reads one response: the head, then Content-Length bytes of body (none for HEAD), or until the
// server closes the connection when there is no Content-Length.
std::string ReadResponse(int fd, bool head_request) {
  std::string out;
  char buf[4096];
  size_t need = std::string::npos;
  for (;;) {
    if (need == std::string::npos) {
      const size_t end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::string lower = out.substr(0, end);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const size_t cl = lower.find("\r\ncontent-length: ");
        if (head_request) {
          need = end + 4;
        } else if (cl != std::string::npos) {
          need = end + 4 + std::stoul(lower.substr(cl + 18));
        }
      }
    }
    if (need != std::string::npos && out.size() >= need) return out;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;
};

HttpReply Parse(const std::string& raw) {
  HttpReply r;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || !raw.starts_with("HTTP/1.1 ")) return r;
  r.head = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  r.status = std::stoi(raw.substr(9, 3));
  return r;
}

HttpReply Exchange(int port, const std::string& request) {
  int fd = Connect(port);
  EXPECT_GE(fd, 0) << "connect: " << std::strerror(errno);
  if (fd < 0) return {};
  EXPECT_TRUE(SendAll(fd, request));
  std::string raw = ReadResponse(fd, request.starts_with("HEAD "));
  close(fd);
  return Parse(raw);
}

std::unique_ptr<MetricsHttpServer> StartOrDie(Metrics* m, MetricsHttpServerOptions options = {}) {
  auto server = MetricsHttpServer::Start("127.0.0.1:0", [m] { return m->Render(); }, options);
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return nullptr;
  EXPECT_GT((*server)->port(), 0);
  return std::move(server).value();
}

TEST(MetricsHttpServerTest, ServesMetrics) {
  Metrics m;
  m.ObserveRequest("/svc/Search", 0, 0.01);
  auto server = StartOrDie(&m);
  ASSERT_NE(server, nullptr);

  HttpReply r = Exchange(server->port(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_THAT(r.head, HasSubstr("\r\nContent-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(r.head, HasSubstr("\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n"));
  EXPECT_THAT(r.body, HasSubstr("sextant_requests_total{method=\"/svc/Search\",code=\"OK\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("process_resident_memory_bytes "));

  // Each scrape renders afresh; a query string and a bare HTTP/1.0 request line are fine.
  m.ObserveRequest("/svc/Search", 0, 0.01);
  r = Exchange(server->port(), "GET /metrics?name[]=x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.head;
  EXPECT_THAT(r.body, HasSubstr("sextant_requests_total{method=\"/svc/Search\",code=\"OK\"} 2\n"));

  // Many clients in a row.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Exchange(server->port(), "GET /metrics HTTP/1.1\r\n\r\n").status, 200);
  }
}

TEST(MetricsHttpServerTest, HeadIndexNotFoundAndBadRequests) {
  Metrics m;
  auto server = StartOrDie(&m);
  ASSERT_NE(server, nullptr);
  const int port = server->port();

  HttpReply head = Exchange(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_THAT(head.head, Not(HasSubstr("Content-Length: 0\r\n")));

  HttpReply index = Exchange(port, "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(index.status, 200);
  EXPECT_THAT(index.body, HasSubstr("/metrics"));

  HttpReply missing = Exchange(port, "GET /metricsx HTTP/1.1\r\n\r\n");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Exchange(port, "GET /favicon.ico HTTP/1.1\r\n\r\n").status, 404);

  HttpReply post = Exchange(
      port, "POST /metrics HTTP/1.1\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world");
  EXPECT_EQ(post.status, 405);
  EXPECT_THAT(post.head, HasSubstr("\r\nAllow: GET, HEAD"));
  EXPECT_EQ(Exchange(port, "DELETE / HTTP/1.1\r\n\r\n").status, 405);

  EXPECT_EQ(Exchange(port, "HELLO\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange(port, "GET /metrics\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange(port, "GET /metrics SPDY/3\r\n\r\n").status, 400);

  // A request line too long is 414; a header line too long is 400 (cpp-httplib answers a header
  // over its 8 KiB line limit with 400, not RFC 6585's 431). Neither is served.
  std::string huge_uri = "GET /metrics?" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n";
  EXPECT_EQ(Exchange(port, huge_uri).status, 414);
  std::string huge_header = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Exchange(port, huge_header).status, 400);

  // Still serving after all of that.
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n").status, 200);
}

TEST(MetricsHttpServerTest, IdleAndSilentClientsDoNotDelayAScrape) {
  Metrics m;
  MetricsHttpServerOptions options;
  options.io_timeout = std::chrono::seconds(30);  // long: a scrape must not wait for it
  auto server = StartOrDie(&m, options);
  ASSERT_NE(server, nullptr);

  int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  int partial = Connect(server->port());
  ASSERT_GE(partial, 0);
  ASSERT_TRUE(SendAll(partial, "GET /metr"));
  // A keep-alive connection left idle after its request.
  int idle = Connect(server->port());
  ASSERT_GE(idle, 0);
  ASSERT_TRUE(SendAll(idle, "GET /metrics HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(Parse(ReadResponse(idle, false)).status, 200);

  const auto start = std::chrono::steady_clock::now();
  HttpReply r = Exchange(server->port(), "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("# TYPE sextant_requests_total counter"));
  EXPECT_LT(took, std::chrono::seconds(10)) << "a scrape waited for stalled clients";
  close(silent);
  close(partial);
  close(idle);
}

TEST(MetricsHttpServerTest, SilentClientsAreDroppedAfterTheTimeout) {
  Metrics m;
  MetricsHttpServerOptions options;
  options.io_timeout = std::chrono::seconds(1);
  auto server = StartOrDie(&m, options);
  ASSERT_NE(server, nullptr);
  int silent = Connect(server->port());
  ASSERT_GE(silent, 0);
  const auto start = std::chrono::steady_clock::now();
  ReadAll(silent);  // returns when the server closes the connection
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  close(silent);
}

TEST(MetricsHttpServerTest, KeysAreCheckedWhenConfigured) {
  Metrics m;
  MetricsHttpServerOptions options;
  options.keys = {{"scrape-key", true}, {"admin-key", false}};
  auto server = StartOrDie(&m, options);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  HttpReply none = Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(none.status, 401);
  EXPECT_THAT(none.head, HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_THAT(none.body, Not(HasSubstr("sextant_requests_total")));
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n").status, 401);
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\nAuthorization: scrape-key\r\n\r\n").status, 401);
  for (const char* key : {"scrape-key", "admin-key"}) {
    HttpReply ok = Exchange(port, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer " + std::string(key) +
                                      "\r\n\r\n");
    EXPECT_EQ(ok.status, 200) << key;
    EXPECT_THAT(ok.body, HasSubstr("sextant_requests_total"));
  }
}

TEST(MetricsHttpServerTest, ConcurrentScrapes) {
  Metrics m;
  auto server = StartOrDie(&m);
  ASSERT_NE(server, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        ok += Exchange(server->port(), "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n").status == 200;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 80);
}

TEST(MetricsHttpServerTest, BadAddresses) {
  auto render = [] { return std::string(); };
  for (const char* address : {"", "127.0.0.1", "127.0.0.1:", ":9090", "127.0.0.1:99999",
                              "127.0.0.1:abc", "127.0.0.1:-1", "::1:9090", "[::1", "[::1]9090",
                              "[]:9090", "127.0.0.1:123456"}) {
    auto server = MetricsHttpServer::Start(address, render);
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument)
        << address << ": " << server.status().ToString();
    EXPECT_THAT(std::string(server.status().message()), HasSubstr("'" + std::string(address) + "'"));
  }
  auto no_render = MetricsHttpServer::Start("127.0.0.1:0", nullptr);
  ASSERT_FALSE(no_render.ok());
  EXPECT_EQ(no_render.status().code(), StatusCode::kInvalidArgument);
}

TEST(MetricsHttpServerTest, PortInUseIsUnavailable) {
  Metrics m;
  auto first = StartOrDie(&m);
  ASSERT_NE(first, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(first->port());
  auto second = MetricsHttpServer::Start(address, [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(address));
}

TEST(MetricsHttpServerTest, LocalhostAndIpv6) {
  Metrics m;
  auto by_name = MetricsHttpServer::Start("localhost:0", [&] { return m.Render(); });
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_GT((*by_name)->port(), 0);

  auto v6 = MetricsHttpServer::Start("[::1]:0", [&] { return m.Render(); });
  if (!v6.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << v6.status().ToString();
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(static_cast<uint16_t>((*v6)->port()));
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << std::strerror(errno);
  ASSERT_TRUE(SendAll(fd, "GET /metrics HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(Parse(ReadResponse(fd, false)).status, 200);
  close(fd);
}

TEST(MetricsHttpServerTest, StopIsIdempotentAndClosesTheListener) {
  Metrics m;
  auto server = StartOrDie(&m);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  EXPECT_EQ(Exchange(port, "GET /metrics HTTP/1.1\r\n\r\n").status, 200);
  server->Stop();
  server->Stop();
  int fd = Connect(port);
  EXPECT_LT(fd, 0) << "still accepting after Stop";
  if (fd >= 0) close(fd);
  server.reset();  // the destructor stops once more
}

TEST(MetricsHttpServerTest, StopWithAStalledClientReturnsWithinTheTimeout) {
  Metrics m;
  MetricsHttpServerOptions options;
  options.io_timeout = std::chrono::seconds(1);
  auto server = StartOrDie(&m, options);
  ASSERT_NE(server, nullptr);
  int stalled = Connect(server->port());
  ASSERT_GE(stalled, 0);
  ASSERT_TRUE(SendAll(stalled, "GET /metr"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = std::chrono::steady_clock::now();
  std::thread other([&] { server->Stop(); });
  server->Stop();
  other.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  close(stalled);
}

}  // namespace
}  // namespace sextant::server
