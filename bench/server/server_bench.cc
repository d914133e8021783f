// sextant-server-bench: what serving over gRPC costs. It builds one collection through the
// embedded engine, measures search throughput and latency in-process with 1, 8, 32 concurrent
// threads, then serves the very same database directory with sextantd and measures the same
// searches from as many concurrent sextant::Client connections over loopback. One JSON line per
// (mode, clients), then one summary line per client count with the overhead ratio.
//
//   sextant-server-bench --base B.fvecs --query Q.fvecs [--gt G.ivecs] --index HNSW16 --ef-search 64
//   sextant-server-bench --synthetic 100000,128 --clients 1,8,32 --duration-s 10
//   sextant-server-bench --synthetic 100000,128 --index Flat --ingest-only   (in-process ingest rate)
//
// bench/README.md ("Server: gRPC against in-process") documents every flag and field.
//
// How it measures:
//  - Load: Database::Open on a fresh directory, CreateCollection, Upsert in batches of --batch
//    (ids = row numbers, no payload), then WaitForIndex (an index that must be trained is asked
//    to RebuildIndex first, as sextant-bench does). The Upsert calls alone are timed and printed
//    as an ingest line ({"client":"inprocess",...}), the baseline of the streaming imports of
//    ingest_python.py and sextant-ingest-bench (Go).
//  - A setting (mode, N clients): N threads; thread w starts at query w * nq / N and loops over
//    the queries in order, one search call per query, with no pause between calls (a closed
//    loop). The first --warmup-s seconds are not counted; then for --duration-s seconds every call
//    is timed with steady_clock. qps = calls counted / (last counted call's end - start of the
//    timed window); p50/p99 are nearest-rank percentiles over every counted call.
//  - inprocess: the threads share one sextant::Collection (Collection::Search).
//  - grpc: the bench closes the database, starts sextantd on the same directory (--listen
//    127.0.0.1:0 --port-file), and each thread gets its own sextant::Client and RemoteCollection
//    (RemoteCollection::Search, one unary RPC per query). gRPC shares one TCP connection among
//    channels that have identical arguments; the bench gives each client a distinct target URI
//    ("ipv4:127.0.0.1:PORT?client=W") so that each client has its own connection, and reports the
//    established connections it counted (/proc/net/tcp) as "connections". --connection shared
//    gives every thread the same Client (one connection) instead.
//  - recall: the returned ids that are among the first k true neighbours (--gt, or exact brute
//    force in this process), over every counted call.
//  - cpu_us_per_query: CPU time (user + system) of this process, plus sextantd's in grpc mode, per
//    counted query; server_cpu_us_per_query is sextantd's share. On a machine with C cores, qps
//    can reach at most C * 1e6 / cpu_us_per_query: the ratio of the two modes' CPU per query is
//    the serving overhead, whatever else runs on the machine.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../bench_data.h"
#include "sextant/client.h"
#include "sextant/sextant.h"
#include "tests/integration/sextantd_process.h"

namespace {

using sextant::IndexOptions;
using sextant::IndexType;
using sextant::Metric;
using sextant::Status;
using sextant::StatusOr;
using sextant::bench::Clock;
using sextant::bench::DataSpec;
using sextant::bench::Dataset;
using sextant::bench::JsonLine;
using sextant::bench::ParseList;
using sextant::bench::ParseNumber;
using sextant::bench::Percentile;
using sextant::bench::ScratchDir;
using sextant::bench::Seconds;

constexpr char kTool[] = "sextant-server-bench";
constexpr char kCollection[] = "bench";

constexpr char kUsage[] = R"(usage: sextant-server-bench DATA [options]

DATA (one of):
  --base FILE            base vectors (.fvecs or .bvecs); ids are row numbers
  --query FILE           query vectors (.fvecs or .bvecs)
  --gt FILE              ground truth (.ivecs, >= k ids per query); computed exactly when absent
  --synthetic N,D        sextant-bench's seeded gaussian mixture (bench/README.md)
  --queries Q            number of queries (synthetic: default 1000; files: default all)
  --seed S               synthetic seed (default 42)
  --max-base N           use only the first N base vectors

Collection and search:
  --metric l2|ip|cosine  (default l2)
  --index SPEC           Flat, HNSW16, IVF256, ... (default HNSW16)
  --ef-search N          HNSW candidate list size per search (default 64)
  --nprobe N             IVF lists per search (default: the index's)
  -k K                   neighbours per query (default 10)
  --batch N              points per Upsert while loading (default 1000)

Runs:
  --clients LIST         concurrent clients (threads), e.g. 1,8,32 (default 1,8,32)
  --duration-s S         timed seconds per setting (default 10)
  --warmup-s S           untimed seconds before each setting (default 1)
  --modes LIST           inprocess, grpc or both (default inprocess,grpc)
  --connection KIND      per-client (default: one gRPC connection per client) or shared (one
                         Client, one connection, for every thread)
  --ingest-only          load the collection, print the ingest line, and stop

Server and database:
  --sextantd PATH        the server binary (default: $SEXTANTD, else the one built with this tool)
  --data DIR             build the database in DIR (must not hold one yet) and keep it; default: a
                         temporary directory, removed at the end
  --help

Output: JSON lines on stdout: one ingest line, one line per (mode, clients), one summary line per
clients value; progress on stderr. Exit status: 0 ok, 1 error, 2 usage error.
)";

// ---------------------------------------------------------------------------------------------
// Flags

struct Flags : DataSpec {
  Metric metric = Metric::kL2;
  IndexOptions index;
  uint32_t ef_search = 64;
  uint32_t nprobe = 0;
  uint32_t k = 10;
  uint32_t batch = 1000;
  std::vector<uint32_t> clients = {1, 8, 32};
  double duration_s = 10;
  double warmup_s = 1;
  bool inprocess = true;
  bool grpc = true;
  bool shared_connection = false;
  bool ingest_only = false;
  std::string sextantd;
  std::string data_dir;
  bool help = false;
};

bool ParseSeconds(std::string_view s, double* out) {
  const std::string text(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v) || v < 0 || v > 86400) {
    return false;
  }
  *out = v;
  return true;
}

Status ParseFlags(int argc, char** argv, Flags* flags) {
  std::string index_spec = "HNSW16";
  std::string metric_name = "l2";
  bool have_ef_search = false, have_nprobe = false;
  static constexpr std::string_view kValueFlags[] = {
      "--base",   "--query",      "--gt",        "--synthetic", "--queries", "--seed",       "--max-base",
      "--metric", "--index",      "--ef-search", "--nprobe",    "-k",        "--k",          "--batch",
      "--clients", "--duration-s", "--warmup-s", "--modes",     "--connection", "--sextantd", "--data"};
  for (int i = 1; i < argc; ++i) {
    std::string_view name = argv[i];
    std::optional<std::string_view> inline_value;
    if (name.starts_with("--")) {
      if (size_t eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    }
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(std::string(name) + ": " + std::string(why));
    };
    if (name == "--help" || name == "-h") {
      flags->help = true;
      return Status::OK();
    }
    if (name == "--ingest-only") {
      if (inline_value) return bad("takes no value");
      flags->ingest_only = true;
      continue;
    }
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), name) == std::end(kValueFlags)) {
      return Status::InvalidArgument(name.starts_with("-") ? "unknown flag " + std::string(argv[i])
                                                           : "unexpected argument '" + std::string(name) + "'");
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return bad("needs a value");
    }
    if (auto data = sextant::bench::ApplyDataFlag(name, value, flags)) {
      if (!data->empty()) return bad(*data);
    } else if (name == "--metric") {
      metric_name = value;
    } else if (name == "--index") {
      index_spec = value;
    } else if (name == "--ef-search") {
      if (!ParseNumber(value, &flags->ef_search) || flags->ef_search == 0) return bad("expected a number >= 1");
      have_ef_search = true;
    } else if (name == "--nprobe") {
      if (!ParseNumber(value, &flags->nprobe) || flags->nprobe == 0) return bad("expected a number >= 1");
      have_nprobe = true;
    } else if (name == "-k" || name == "--k") {
      if (!ParseNumber(value, &flags->k) || flags->k == 0) return bad("expected a number >= 1");
    } else if (name == "--batch") {
      if (!ParseNumber(value, &flags->batch) || flags->batch == 0) return bad("expected a number >= 1");
    } else if (name == "--clients") {
      if (!ParseList(value, &flags->clients)) return bad("expected a list of numbers >= 1, e.g. 1,8,32");
      for (uint32_t c : flags->clients) {
        if (c > 1024) return bad("at most 1024 clients");
      }
    } else if (name == "--duration-s") {
      if (!ParseSeconds(value, &flags->duration_s) || flags->duration_s <= 0) return bad("expected seconds > 0, e.g. 10 or 0.5");
    } else if (name == "--warmup-s") {
      if (!ParseSeconds(value, &flags->warmup_s)) return bad("expected seconds >= 0");
    } else if (name == "--modes") {
      flags->inprocess = flags->grpc = false;
      std::string_view rest = value;
      while (true) {
        const size_t comma = rest.find(',');
        const std::string_view mode = rest.substr(0, comma);
        if (mode == "inprocess") {
          flags->inprocess = true;
        } else if (mode == "grpc") {
          flags->grpc = true;
        } else {
          return bad("expected inprocess, grpc or inprocess,grpc; got '" + std::string(mode) + "'");
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (name == "--connection") {
      if (value == "per-client") {
        flags->shared_connection = false;
      } else if (value == "shared") {
        flags->shared_connection = true;
      } else {
        return bad("expected per-client or shared");
      }
    } else if (name == "--sextantd") {
      flags->sextantd = value;
    } else if (name == "--data") {
      flags->data_dir = value;
    }
  }

  const bool files = !flags->base_path.empty() || !flags->query_path.empty() || !flags->gt_path.empty();
  if (flags->synthetic == files) {
    return Status::InvalidArgument("give either --base and --query (and optionally --gt) or --synthetic N,D");
  }
  if (files && (flags->base_path.empty() || flags->query_path.empty())) {
    return Status::InvalidArgument("--base and --query are both required with data files");
  }
  auto metric = sextant::ParseMetric(metric_name);
  if (!metric.ok()) return Status::InvalidArgument("--metric: " + std::string(metric.status().message()));
  flags->metric = *metric;
  auto index = IndexOptions::Parse(index_spec);
  if (!index.ok()) return Status::InvalidArgument("--index: " + std::string(index.status().message()));
  flags->index = *index;
  if (have_ef_search && flags->index.type != IndexType::kHnsw) {
    return Status::InvalidArgument("--ef-search applies to HNSW only (use --nprobe for IVF)");
  }
  if (have_nprobe && flags->index.type != IndexType::kIvf) {
    return Status::InvalidArgument("--nprobe applies to IVF only (use --ef-search for HNSW)");
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// CPU time and connections

// User + system CPU seconds of this process (every thread).
double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

// User + system CPU seconds of process `pid` from /proc/PID/stat (fields 14 and 15, in clock
// ticks); NAN when unreadable.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return NAN;
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return NAN;
  std::istringstream fields(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Established TCP connections whose remote end is 127.0.0.1:port: the client side of each
// connection to the server. gRPC opens dual-stack sockets, so these show up in /proc/net/tcp6
// with an IPv4-mapped address; plain IPv4 sockets in /proc/net/tcp.
int CountConnections(int port) {
  char v4[32], v6[64];
  std::snprintf(v4, sizeof v4, "0100007F:%04X", port);
  std::snprintf(v6, sizeof v6, "0000000000000000FFFF00000100007F:%04X", port);
  int count = 0;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (fields >> slot >> local >> remote >> state && (remote == v4 || remote == v6) && state == "01") ++count;
    }
  }
  return count;
}

double LoadAverage() {
  double load[1] = {NAN};
  return getloadavg(load, 1) == 1 ? load[0] : NAN;
}

// ---------------------------------------------------------------------------------------------
// One setting: N threads in a closed loop for a fixed time.

// One search of query `qi`; fills `ids` (the returned ids, nearest first).
using SearchFn = std::function<Status(size_t qi, std::vector<uint64_t>* ids)>;

struct RunResult {
  uint64_t queries = 0;            // counted calls
  double seconds = 0;              // the timed window
  std::vector<double> latency_us;  // sorted
  uint64_t hits = 0;               // for recall
  double cpu_s = 0;                // this process over the timed window
  double server_cpu_s = NAN;       // sextantd over the timed window (grpc)
};

// Runs searches[w] on thread w. `truth` is nq rows of k ids, each row sorted.
StatusOr<RunResult> RunSetting(const std::vector<SearchFn>& searches, size_t nq, uint32_t k,
                               const std::vector<uint64_t>& sorted_truth, double warmup_s, double duration_s,
                               pid_t server_pid) {
  const size_t n = searches.size();
  struct Worker {
    std::vector<double> latency_us;
    uint64_t hits = 0;
    Clock::time_point last_end{};
    Status status;
  };
  std::vector<Worker> workers(n);
  const auto launch = Clock::now();
  const auto start = launch + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  auto work = [&](size_t w) {
    Worker& me = workers[w];
    std::vector<uint64_t> ids;
    size_t qi = w * nq / n;
    while (true) {
      const auto t0 = Clock::now();
      if (t0 >= end) break;
      Status s = searches[w](qi, &ids);
      const auto t1 = Clock::now();
      if (!s.ok()) {
        me.status = s.WithPrefix("client " + std::to_string(w) + ", query " + std::to_string(qi));
        return;
      }
      if (t0 >= start) {
        me.latency_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        me.last_end = t1;
        const auto row = sorted_truth.begin() + static_cast<std::ptrdiff_t>(qi * k);
        for (size_t j = 0; j < std::min<size_t>(ids.size(), k); ++j) {
          if (std::binary_search(row, row + k, ids[j])) ++me.hits;
        }
      }
      qi = qi + 1 == nq ? 0 : qi + 1;
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t w = 0; w < n; ++w) threads.emplace_back(work, w);
  std::this_thread::sleep_until(start);
  const double cpu0 = SelfCpuSeconds();
  const double server_cpu0 = server_pid > 0 ? ProcessCpuSeconds(server_pid) : NAN;
  for (auto& t : threads) t.join();
  RunResult result;
  result.cpu_s = SelfCpuSeconds() - cpu0;
  if (server_pid > 0) result.server_cpu_s = ProcessCpuSeconds(server_pid) - server_cpu0;
  Clock::time_point last_end = start;
  for (Worker& w : workers) {
    SEXTANT_RETURN_IF_ERROR(w.status);
    result.queries += w.latency_us.size();
    result.hits += w.hits;
    result.latency_us.insert(result.latency_us.end(), w.latency_us.begin(), w.latency_us.end());
    last_end = std::max(last_end, w.last_end);
  }
  if (result.queries == 0) return Status::Internal("no query completed in the timed window; raise --duration-s");
  result.seconds = Seconds(last_end - start);
  std::sort(result.latency_us.begin(), result.latency_us.end());
  return result;
}

// ---------------------------------------------------------------------------------------------
// The benchmark.

struct Context {
  const Flags* flags = nullptr;
  Dataset ds;
  uint32_t dim = 0;
  uint64_t n = 0;
  std::vector<uint64_t> sorted_truth;  // nq rows of k ids, each row sorted
  sextant::SearchOptions options;
};

struct Measured {
  double qps = 0, p50 = 0, p99 = 0;
};

Status WaitReady(const sextant::Collection& collection) {
  while (true) {
    Status s = collection.WaitForIndex(3600 * 1000);
    if (s.code() != sextant::StatusCode::kUnavailable) return s.WithPrefix("WaitForIndex");
    std::fprintf(stderr, "%s: still waiting for the index...\n", kTool);
  }
}

// Creates the collection and loads the base set; prints the ingest line.
Status Load(Context* ctx, sextant::Database* db) {
  const Flags& flags = *ctx->flags;
  sextant::CollectionOptions coll_options;
  coll_options.dimension = ctx->dim;
  coll_options.metric = flags.metric;
  coll_options.index = flags.index;
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<sextant::Collection> collection,
                           db->CreateCollection(kCollection, coll_options));
  std::fprintf(stderr, "%s: loading %" PRIu64 " x %u (%s), index %s\n", kTool, ctx->n, ctx->dim, ctx->ds.name.c_str(),
               flags.index.ToString().c_str());
  SEXTANT_RETURN_IF_ERROR(ctx->ds.base->Rewind());
  std::vector<float> chunk;
  std::vector<sextant::PointId> ids;
  uint64_t loaded = 0;
  double upsert_s = 0;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(size_t rows, ctx->ds.base->Next(flags.batch, &chunk));
    if (rows == 0) break;
    ids.clear();
    for (size_t r = 0; r < rows; ++r) ids.emplace_back(loaded + r);
    const auto t0 = Clock::now();
    SEXTANT_RETURN_IF_ERROR(collection->Upsert(sextant::WriteOptions{}, ids, chunk).WithPrefix("upsert"));
    upsert_s += Seconds(Clock::now() - t0);
    loaded += rows;
  }
  JsonLine line;
  line.Str("client", "inprocess")
      .Int("points", loaded)
      .Num("seconds", upsert_s, 3)
      .Num("points_per_s", static_cast<double>(loaded) / upsert_s, 0)
      .Int("batch", flags.batch)
      .Str("index", flags.index.ToString())
      .Int("dim", ctx->dim)
      .Str("dataset", ctx->ds.name);
  std::printf("%s\n", line.Done().c_str());
  std::fflush(stdout);
  if (flags.ingest_only) return Status::OK();

  SEXTANT_ASSIGN_OR_RETURN(sextant::CollectionInfo info, collection->Describe());
  if (info.index_state == sextant::IndexState::kTraining) {
    SEXTANT_RETURN_IF_ERROR(collection->RebuildIndex().WithPrefix("RebuildIndex"));
  }
  const auto t0 = Clock::now();
  SEXTANT_RETURN_IF_ERROR(WaitReady(*collection));
  std::fprintf(stderr, "%s: index ready %.1f s after the last upsert\n", kTool, Seconds(Clock::now() - t0));
  SEXTANT_ASSIGN_OR_RETURN(info, collection->Describe());
  if (info.count != ctx->n) {
    return Status::Internal("the collection holds " + std::to_string(info.count) + " points, expected " +
                            std::to_string(ctx->n));
  }
  return Status::OK();
}

// Prints one setting's line and returns its figures.
Measured Report(const Context& ctx, std::string_view mode, size_t clients, const RunResult& r, double load,
                int connections) {
  const Flags& flags = *ctx.flags;
  Measured m{static_cast<double>(r.queries) / r.seconds, Percentile(r.latency_us, 0.50), Percentile(r.latency_us, 0.99)};
  const double recall = static_cast<double>(r.hits) / (static_cast<double>(r.queries) * flags.k);
  const double server_cpu = std::isnan(r.server_cpu_s) ? 0.0 : r.server_cpu_s;
  JsonLine line;
  line.Str("mode", mode)
      .Int("clients", clients)
      .Num("qps", m.qps, 1)
      .Num("p50_us", m.p50, 1)
      .Num("p99_us", m.p99, 1)
      .Num("recall", recall, 4)
      .Int("n", ctx.n)
      .Int("dim", ctx.dim)
      .Str("index", flags.index.ToString())
      .Int("k", flags.k);
  if (flags.index.type == IndexType::kHnsw) line.Int("ef_search", flags.ef_search);
  if (flags.index.type == IndexType::kIvf) line.Int("nprobe", ctx.options.nprobe);
  line.Int("queries_run", r.queries)
      .Num("seconds", r.seconds, 2)
      .Num("cpu_us_per_query", (r.cpu_s + server_cpu) * 1e6 / static_cast<double>(r.queries), 1);
  if (!std::isnan(r.server_cpu_s)) {
    line.Num("server_cpu_us_per_query", r.server_cpu_s * 1e6 / static_cast<double>(r.queries), 1);
  }
  if (connections >= 0) line.Int("connections", static_cast<uint64_t>(connections));
  line.Num("loadavg_1m", load, 2).Int("cores", std::thread::hardware_concurrency()).Str("dataset", ctx.ds.name);
  std::printf("%s\n", line.Done().c_str());
  std::fflush(stdout);
  return m;
}

Status InProcess(Context* ctx, sextant::Database* db, std::map<uint32_t, Measured>* out) {
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<sextant::Collection> collection, db->GetCollection(kCollection));
  const uint32_t dim = ctx->dim;
  for (uint32_t clients : ctx->flags->clients) {
    std::vector<SearchFn> searches;
    for (uint32_t w = 0; w < clients; ++w) {
      searches.push_back([&, dim](size_t qi, std::vector<uint64_t>* ids) -> Status {
        SEXTANT_ASSIGN_OR_RETURN(auto hits, collection->Search(ctx->options, std::span<const float>(
                                                                                 ctx->ds.queries.data() + qi * dim, dim)));
        ids->clear();
        for (const auto& h : hits) ids->push_back(h.id.is_number() ? h.id.number() : UINT64_MAX);
        return Status::OK();
      });
    }
    const double load = LoadAverage();
    std::fprintf(stderr, "%s: inprocess, %u clients, %.1f s...\n", kTool, clients, ctx->flags->duration_s);
    SEXTANT_ASSIGN_OR_RETURN(RunResult r, RunSetting(searches, ctx->ds.nq, ctx->flags->k, ctx->sorted_truth,
                                                     ctx->flags->warmup_s, ctx->flags->duration_s, -1));
    (*out)[clients] = Report(*ctx, "inprocess", clients, r, load, -1);
  }
  return Status::OK();
}

Status OverGrpc(Context* ctx, const std::string& db_path, std::map<uint32_t, Measured>* out) {
  const Flags& flags = *ctx->flags;
  if (!flags.sextantd.empty()) setenv("SEXTANTD", flags.sextantd.c_str(), 1);
  const std::string binary = sextant::testing::SextantdPath();
  if (access(binary.c_str(), X_OK) != 0) {
    return Status::NotFound("sextantd: " + binary + ": " + std::strerror(errno) + " (give --sextantd PATH)");
  }
  sextant::testing::SextantdProcess server;
  std::fprintf(stderr, "%s: starting %s on %s\n", kTool, sextant::testing::SextantdPath().c_str(), db_path.c_str());
  if (!server.Start(db_path)) {
    return Status::Unavailable("sextantd (" + sextant::testing::SextantdPath() + ") did not start: " + server.log());
  }
  const int port = server.port();
  auto connect = [&](uint32_t w) -> StatusOr<std::unique_ptr<sextant::Client>> {
    sextant::ClientOptions options;
    // A distinct target per client: channels with identical targets and arguments share one
    // connection in gRPC's global subchannel pool.
    options.address = "ipv4:127.0.0.1:" + std::to_string(port) + "?client=" + std::to_string(w);
    SEXTANT_ASSIGN_OR_RETURN(auto client, sextant::Client::Connect(options));
    SEXTANT_RETURN_IF_ERROR(client->Info().status().WithPrefix("Info"));
    return client;
  };
  {
    SEXTANT_ASSIGN_OR_RETURN(auto client, connect(0));
    const auto t0 = Clock::now();
    SEXTANT_RETURN_IF_ERROR(client->Collection(kCollection)->WaitForIndex(3600 * 1000).WithPrefix("WaitForIndex"));
    std::fprintf(stderr, "%s: the server's index was ready after %.1f s\n", kTool, Seconds(Clock::now() - t0));
  }
  const uint32_t dim = ctx->dim;
  for (uint32_t clients : flags.clients) {
    std::vector<std::unique_ptr<sextant::Client>> conns;
    std::vector<std::unique_ptr<sextant::RemoteCollection>> collections;
    for (uint32_t w = 0; w < clients; ++w) {
      if (w == 0 || !flags.shared_connection) {
        SEXTANT_ASSIGN_OR_RETURN(auto client, connect(w));
        conns.push_back(std::move(client));
      }
      collections.push_back(conns.back()->Collection(kCollection));
    }
    const int connections = CountConnections(port);
    std::vector<SearchFn> searches;
    for (uint32_t w = 0; w < clients; ++w) {
      sextant::RemoteCollection* collection = collections[w].get();
      searches.push_back([ctx, collection, dim](size_t qi, std::vector<uint64_t>* ids) -> Status {
        SEXTANT_ASSIGN_OR_RETURN(auto hits, collection->Search(ctx->options, std::span<const float>(
                                                                                 ctx->ds.queries.data() + qi * dim, dim)));
        ids->clear();
        for (const auto& h : hits) ids->push_back(h.id.is_number() ? h.id.number() : UINT64_MAX);
        return Status::OK();
      });
    }
    const double load = LoadAverage();
    std::fprintf(stderr, "%s: grpc, %u clients (%d connections), %.1f s...\n", kTool, clients, connections,
                 flags.duration_s);
    SEXTANT_ASSIGN_OR_RETURN(RunResult r, RunSetting(searches, ctx->ds.nq, flags.k, ctx->sorted_truth, flags.warmup_s,
                                                     flags.duration_s, server.pid()));
    (*out)[clients] = Report(*ctx, "grpc", clients, r, load, connections);
  }
  const int code = server.Stop();
  if (code != 0) return Status::Internal("sextantd exited with status " + std::to_string(code) + ": " + server.log());
  return Status::OK();
}

Status RunBench(const Flags& flags) {
  Context ctx;
  ctx.flags = &flags;
  SEXTANT_RETURN_IF_ERROR(sextant::bench::OpenDataset(flags, kTool, &ctx.ds));
  ctx.dim = ctx.ds.base->dim();
  ctx.n = ctx.ds.base->rows();
  if (flags.k > ctx.n) {
    return Status::InvalidArgument("-k " + std::to_string(flags.k) + " exceeds the " + std::to_string(ctx.n) +
                                   " base points");
  }
  SEXTANT_RETURN_IF_ERROR(flags.index.Validate(ctx.dim).WithPrefix("--index"));
  ctx.options.k = flags.k;
  if (flags.index.type == IndexType::kHnsw) ctx.options.ef_search = flags.ef_search;
  if (flags.index.type == IndexType::kIvf) ctx.options.nprobe = flags.nprobe;
  if (!flags.ingest_only) {
    SEXTANT_ASSIGN_OR_RETURN(ctx.sorted_truth, sextant::bench::GroundTruth(&ctx.ds, flags.metric, flags.k, kTool));
    for (size_t i = 0; i < ctx.ds.nq; ++i) {
      std::sort(ctx.sorted_truth.begin() + static_cast<std::ptrdiff_t>(i * flags.k),
                ctx.sorted_truth.begin() + static_cast<std::ptrdiff_t>((i + 1) * flags.k));
    }
  }

  // The database: --data, or <scratch>/db (sextantd's port file and log go beside it).
  ScratchDir scratch;
  std::string db_path = flags.data_dir;
  if (db_path.empty()) {
    SEXTANT_RETURN_IF_ERROR(scratch.Create(kTool));
    db_path = scratch.path() + "/db";
  }
  std::map<uint32_t, Measured> inprocess, grpc;
  {
    sextant::DatabaseOptions db_options;
    db_options.create_if_missing = true;
    db_options.error_if_exists = true;
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<sextant::Database> db, sextant::Database::Open(db_options, db_path));
    SEXTANT_RETURN_IF_ERROR(Load(&ctx, db.get()));
    if (flags.ingest_only) return Status::OK();
    if (flags.inprocess) SEXTANT_RETURN_IF_ERROR(InProcess(&ctx, db.get(), &inprocess));
  }  // closes the database: sextantd opens the same directory
  if (flags.grpc) SEXTANT_RETURN_IF_ERROR(OverGrpc(&ctx, db_path, &grpc));

  for (uint32_t clients : flags.clients) {
    auto a = inprocess.find(clients), b = grpc.find(clients);
    if (a == inprocess.end() || b == grpc.end()) continue;
    JsonLine line;
    line.Str("mode", "summary")
        .Int("clients", clients)
        .Num("inprocess_qps", a->second.qps, 1)
        .Num("grpc_qps", b->second.qps, 1)
        .Num("overhead_ratio", a->second.qps / b->second.qps, 2)
        .Num("inprocess_p50_us", a->second.p50, 1)
        .Num("grpc_p50_us", b->second.p50, 1)
        .Num("p50_diff_us", b->second.p50 - a->second.p50, 1)
        .Num("p99_diff_us", b->second.p99 - a->second.p99, 1)
        .Str("index", flags.index.ToString())
        .Str("dataset", ctx.ds.name);
    std::printf("%s\n", line.Done().c_str());
  }
  std::fflush(stdout);
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    if (Status s = ParseFlags(argc, argv, &flags); !s.ok()) {
      std::fprintf(stderr, "%s: %s\n(see %s --help)\n", kTool, std::string(s.message()).c_str(), kTool);
      return 2;
    }
    if (flags.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (Status s = RunBench(flags); !s.ok()) {
      std::fprintf(stderr, "%s: error: %s\n", kTool, s.ToString().c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", kTool, e.what());
    return 1;
  }
}
