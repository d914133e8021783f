// sextant-soak: a bounded loopback soak of sextantd. Many concurrent clients run a mixed workload
// (search, batch search, upsert, delete, get, scan, document ingest and Ask) for a set time
// against one server, while the driver samples the server's RSS. It fails (exit 1) when:
//  - any call ends with an error that is not designed (the workload sends a few bad requests on
//    purpose and expects exactly their INVALID_ARGUMENT / NOT_FOUND);
//  - a response breaks its contract (more than k hits, an answer without text);
//  - the server's RSS grows after the warm-up by more than --max-rss-growth-mb (the data set is
//    bounded: upserts overwrite a fixed id space, ingest re-ingests a fixed set of documents);
//  - the p99 latency of an operation after the warm-up exceeds --max-p99-ms;
//  - the server dies, or does not stop cleanly at the end.
// docs/reliability.md ("Soak") has the long-run command and its figures.
//
//   sextant-soak --seconds 75                     starts sextantd (next to this binary or $SEXTANTD)
//   sextant-soak --address 127.0.0.1:50051 --pid 1234 --seconds 7200    an already running server
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "sextant/v1/sextant.grpc.pb.h"
#include "tests/integration/sextantd_process.h"

namespace v1 = sextant::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  double seconds = 60;
  double warmup = -1;  // -1: a quarter of the run, at least 10 s
  int clients = 8;
  uint32_t dim = 32;
  uint32_t points = 5000;   // the id space of upserts and deletes
  uint32_t documents = 100; // the document ids ingest cycles through
  double max_p99_ms = 2000;
  double max_rss_growth_mb = 64;
  std::string address;      // empty: start sextantd
  pid_t pid = 0;            // the server's pid with --address (0: no RSS checks)
  std::string dir;          // data directory of the started server
  std::string sextantd = sextant::testing::SextantdPath();
  uint64_t seed = 1;
};

const char* kUsage = R"(usage: sextant-soak [options]
  --seconds S             how long the workload runs (60)
  --warmup S              seconds before RSS and latency are judged (a quarter of the run, >= 10)
  --clients N             concurrent clients, each with its own channel (8)
  --dim D                 vector dimension (32)
  --points N              id space of upserts and deletes (5000)
  --documents N           document ids ingest cycles through (100)
  --max-p99-ms MS         fail when an operation's p99 after warm-up is above (2000)
  --max-rss-growth-mb MB  fail when the server's RSS grows more after warm-up (64)
  --address HOST:PORT     use a running server instead of starting one (with --pid for RSS)
  --pid PID               the running server's pid
  --dir DIR               data directory of the server it starts (a fresh temporary one)
  --sextantd PATH         the server binary to start
  --seed N                workload seed (1)
)";

bool ParseArgs(int argc, char** argv, Config* c) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "sextant-soak: %s needs a value\n%s", a.c_str(), kUsage);
      return false;
    }
    std::string v = argv[++i];
    char* end = nullptr;
    const double num = std::strtod(v.c_str(), &end);
    const bool is_num = end != v.c_str() && *end == '\0' && std::isfinite(num) && num >= 0;
    auto need_num = [&]() {
      if (!is_num) std::fprintf(stderr, "sextant-soak: %s: \"%s\" is not a non-negative number\n", a.c_str(), v.c_str());
      return is_num;
    };
    if (a == "--seconds") { if (!need_num() || num <= 0) return false; c->seconds = num; }
    else if (a == "--warmup") { if (!need_num()) return false; c->warmup = num; }
    else if (a == "--clients") { if (!need_num() || num < 1 || num > 256) return false; c->clients = static_cast<int>(num); }
    else if (a == "--dim") { if (!need_num() || num < 1 || num > 4096) return false; c->dim = static_cast<uint32_t>(num); }
    else if (a == "--points") { if (!need_num() || num < 100) return false; c->points = static_cast<uint32_t>(num); }
    else if (a == "--documents") { if (!need_num() || num < 1) return false; c->documents = static_cast<uint32_t>(num); }
    else if (a == "--max-p99-ms") { if (!need_num()) return false; c->max_p99_ms = num; }
    else if (a == "--max-rss-growth-mb") { if (!need_num()) return false; c->max_rss_growth_mb = num; }
    else if (a == "--address") c->address = v;
    else if (a == "--pid") { if (!need_num()) return false; c->pid = static_cast<pid_t>(num); }
    else if (a == "--dir") c->dir = v;
    else if (a == "--sextantd") c->sextantd = v;
    else if (a == "--seed") { if (!need_num()) return false; c->seed = static_cast<uint64_t>(num); }
    else {
      std::fprintf(stderr, "sextant-soak: unknown option %s\n%s", a.c_str(), kUsage);
      return false;
    }
  }
  if (c->warmup < 0) c->warmup = std::max(10.0, c->seconds / 4);
  if (c->warmup >= c->seconds) {
    std::fprintf(stderr, "sextant-soak: --warmup (%g s) must be shorter than --seconds (%g s)\n", c->warmup, c->seconds);
    return false;
  }
  return true;
}

// Resident set size of `pid` in MB, from /proc; -1 when unreadable.
double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      double kb = 0;
      in >> kb;
      return kb / 1024.0;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return -1;
}

enum Op { kSearch, kSearchBatch, kUpsert, kDelete, kGet, kScan, kIngest, kAsk, kBad, kOps };
const char* kOpNames[kOps] = {"search", "search_batch", "upsert", "delete", "get", "scan", "ingest", "ask", "bad_request"};
// Per 100 operations.
const int kMix[kOps] = {42, 5, 15, 6, 6, 3, 10, 10, 3};

const char* kWords[] = {"vector", "database", "search", "index", "graph", "cluster", "payload", "filter",
                        "embedding", "chunk", "document", "query", "answer", "server", "client", "memory",
                        "latency", "storage", "checkpoint", "recall", "neighbor", "distance", "token", "model"};

struct Stats {
  std::mutex mu;
  std::vector<float> latency_ms[kOps];  // after warm-up
  uint64_t count[kOps] = {};
  uint64_t designed_errors = 0;
  uint64_t unexpected = 0;
  std::vector<std::string> first_errors;  // a few, for the report
};

class Worker {
 public:
  Worker(const Config& config, std::shared_ptr<grpc::Channel> channel, Stats* stats, Clock::time_point judged_from,
         uint64_t seed)
      : c_(config), stub_(v1::Sextant::NewStub(channel)), stats_(stats), judged_from_(judged_from), rng_(seed) {}

  void Run(const std::atomic<bool>& stop) {
    std::uniform_int_distribution<int> pick(0, 99);
    while (!stop.load(std::memory_order_relaxed)) {
      int r = pick(rng_), op = 0;
      while (r >= kMix[op]) r -= kMix[op++];
      const auto start = Clock::now();
      const bool ok = RunOp(static_cast<Op>(op));
      const auto end = Clock::now();
      std::lock_guard lock(stats_->mu);
      ++stats_->count[op];
      if (ok && start >= judged_from_) {
        stats_->latency_ms[op].push_back(std::chrono::duration<float, std::milli>(end - start).count());
      }
    }
  }

  // Fills the id space and ingests every document once, so the data set is at its steady size.
  bool Prefill(uint32_t first, uint32_t last, uint32_t first_doc, uint32_t last_doc) {
    for (uint32_t id = first; id < last; id += 64) {
      if (!Upsert(id, std::min<uint32_t>(64, last - id))) return false;
    }
    for (uint32_t d = first_doc; d < last_doc; ++d) {
      if (!Ingest(d)) return false;
    }
    return true;
  }

 private:
  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ctx;
  }

  void Vector(google::protobuf::RepeatedField<float>* out) {
    std::normal_distribution<float> g;
    for (uint32_t d = 0; d < c_.dim; ++d) out->Add(g(rng_));
  }

  std::string Words(int n) {
    std::uniform_int_distribution<size_t> w(0, std::size(kWords) - 1);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += (i % 12 == 0) ? ". " : " ";
      s += kWords[w(rng_)];
    }
    return s + ".";
  }

  uint32_t Id() { return std::uniform_int_distribution<uint32_t>(0, c_.points - 1)(rng_); }

  // Records an error: designed (expected code) or not.
  bool Expect(const grpc::Status& s, const char* what, grpc::StatusCode designed = grpc::StatusCode::OK) {
    if (s.ok() && designed == grpc::StatusCode::OK) return true;
    std::lock_guard lock(stats_->mu);
    if (!s.ok() && s.error_code() == designed) {
      ++stats_->designed_errors;
      return true;
    }
    return Unexpected(std::string(what) + ": " + (s.ok() ? "OK, expected an error" : std::to_string(s.error_code()) + " " + s.error_message()));
  }
  // Caller holds stats_->mu.
  bool Unexpected(const std::string& what) {
    ++stats_->unexpected;
    if (stats_->first_errors.size() < 10) stats_->first_errors.push_back(what);
    return false;
  }
  bool Broken(const std::string& what) {
    std::lock_guard lock(stats_->mu);
    return Unexpected(what);
  }

  bool Upsert(uint32_t first, uint32_t n) {
    v1::UpsertRequest req;
    req.set_collection("soak_vec");
    for (uint32_t i = 0; i < n; ++i) {
      v1::Point* p = req.add_points();
      const uint32_t id = (first + i) % c_.points;
      p->mutable_id()->set_num(id);
      Vector(p->mutable_vector());
      p->set_payload("{\"g\":\"g" + std::to_string(id % 8) + "\",\"n\":" + std::to_string(id) + "}");
    }
    v1::UpsertResponse resp;
    auto ctx = Ctx();
    return Expect(stub_->Upsert(ctx.get(), req, &resp), "Upsert");
  }

  bool Ingest(uint32_t doc) {
    v1::IngestDocumentsRequest req;
    req.set_collection("soak_txt");
    v1::Document* d = req.add_documents();
    d->set_id("doc-" + std::to_string(doc % c_.documents));
    d->set_text(Words(std::uniform_int_distribution<int>(40, 400)(rng_)));
    d->set_metadata("{\"topic\":\"t" + std::to_string(doc % 5) + "\"}");
    auto ctx = Ctx();
    auto stream = stub_->IngestDocuments(ctx.get());
    stream->Write(req);
    stream->WritesDone();
    v1::IngestProgress progress, last;
    while (stream->Read(&progress)) last = progress;
    if (!Expect(stream->Finish(), "IngestDocuments")) return false;
    if (last.documents() != 1) return Broken("IngestDocuments: progress reports " + std::to_string(last.documents()) + " documents, sent 1");
    return true;
  }

  bool RunOp(Op op) {
    switch (op) {
      case kSearch: {
        v1::SearchRequest req;
        req.set_collection("soak_vec");
        Vector(req.mutable_vector());
        const uint32_t k = std::uniform_int_distribution<uint32_t>(1, 20)(rng_);
        req.mutable_params()->set_k(k);
        req.mutable_params()->set_with_payload(true);
        if (rng_() % 4 == 0) req.mutable_params()->set_filter("{\"g\":\"g" + std::to_string(rng_() % 8) + "\"}");
        v1::SearchResponse resp;
        auto ctx = Ctx();
        if (!Expect(stub_->Search(ctx.get(), req, &resp), "Search")) return false;
        if (resp.hits_size() > static_cast<int>(k)) return Broken("Search: more than k hits");
        return true;
      }
      case kSearchBatch: {
        v1::SearchBatchRequest req;
        req.set_collection("soak_vec");
        for (int q = 0; q < 8; ++q) Vector(req.mutable_vectors());
        req.mutable_params()->set_k(10);
        v1::SearchBatchResponse resp;
        auto ctx = Ctx();
        if (!Expect(stub_->SearchBatch(ctx.get(), req, &resp), "SearchBatch")) return false;
        if (resp.results_size() != 8) return Broken("SearchBatch: not one result per query");
        return true;
      }
      case kUpsert:
        return Upsert(Id(), std::uniform_int_distribution<uint32_t>(1, 64)(rng_));
      case kDelete: {
        v1::DeleteRequest req;
        req.set_collection("soak_vec");
        if (rng_() % 5 == 0) {
          const uint32_t a = Id();
          req.set_filter("{\"n\":{\"$gte\":" + std::to_string(a) + ",\"$lt\":" + std::to_string(a + 5) + "}}");
        } else {
          for (int i = 0; i < 8; ++i) req.mutable_ids()->add_ids()->set_num(Id());
        }
        v1::DeleteResponse resp;
        auto ctx = Ctx();
        return Expect(stub_->Delete(ctx.get(), req, &resp), "Delete");
      }
      case kGet: {
        v1::GetRequest req;
        req.set_collection("soak_vec");
        req.mutable_id()->set_num(Id());
        v1::Point resp;
        auto ctx = Ctx();
        grpc::Status s = stub_->Get(ctx.get(), req, &resp);
        // A deleted (not yet re-upserted) id is NOT_FOUND, as designed.
        return Expect(s, "Get", s.ok() ? grpc::StatusCode::OK : grpc::StatusCode::NOT_FOUND);
      }
      case kScan: {
        v1::ScanRequest req;
        req.set_collection("soak_vec");
        req.set_limit(50);
        req.set_filter("{\"g\":\"g" + std::to_string(rng_() % 8) + "\"}");
        v1::ScanResponse resp;
        auto ctx = Ctx();
        return Expect(stub_->Scan(ctx.get(), req, &resp), "Scan");
      }
      case kIngest:
        return Ingest(static_cast<uint32_t>(rng_() % c_.documents));
      case kAsk: {
        v1::AskRequest req;
        req.set_collection("soak_txt");
        req.set_question(Words(6) + "?");
        req.set_k(5);
        req.set_stream(rng_() % 2 == 0);
        if (rng_() % 4 == 0) req.set_filter("{\"metadata.topic\":\"t" + std::to_string(rng_() % 5) + "\"}");
        auto ctx = Ctx();
        auto reader = stub_->Ask(ctx.get(), req);
        v1::AskResponse resp;
        int messages = 0;
        while (reader->Read(&resp)) ++messages;
        if (!Expect(reader->Finish(), "Ask")) return false;
        if (messages == 0) return Broken("Ask: no answer");
        return true;
      }
      case kBad: {
        // Designed errors: a vector of the wrong dimension, and a collection that does not exist.
        if (rng_() % 2 == 0) {
          v1::UpsertRequest req;
          req.set_collection("soak_vec");
          v1::Point* p = req.add_points();
          p->mutable_id()->set_num(Id());
          p->mutable_vector()->Add(1.0f);
          v1::UpsertResponse resp;
          auto ctx = Ctx();
          return Expect(stub_->Upsert(ctx.get(), req, &resp), "Upsert (wrong dimension)", grpc::StatusCode::INVALID_ARGUMENT);
        }
        v1::SearchRequest req;
        req.set_collection("soak_missing");
        Vector(req.mutable_vector());
        v1::SearchResponse resp;
        auto ctx = Ctx();
        return Expect(stub_->Search(ctx.get(), req, &resp), "Search (no such collection)", grpc::StatusCode::NOT_FOUND);
      }
      case kOps: break;
    }
    return false;
  }

  const Config& c_;
  std::unique_ptr<v1::Sextant::Stub> stub_;
  Stats* stats_;
  Clock::time_point judged_from_;
  std::mt19937_64 rng_;
};

double Percentile(std::vector<float>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(i), v.end());
  return v[i];
}

bool CreateCollections(v1::Sextant::Stub& stub, const Config& c) {
  v1::CreateCollectionRequest vec;
  vec.set_name("soak_vec");
  vec.set_dimension(c.dim);
  vec.set_metric(v1::METRIC_COSINE);
  vec.mutable_index()->set_spec("HNSW16");
  v1::PayloadIndex* pi = vec.add_payload_indexes();
  pi->set_field("g");
  pi->set_type(v1::PAYLOAD_FIELD_TYPE_KEYWORD);
  v1::CreateCollectionRequest txt;
  txt.set_name("soak_txt");
  txt.mutable_text()->mutable_embedder()->set_kind("hash");
  txt.mutable_text()->mutable_embedder()->set_dimension(64);
  txt.mutable_text()->mutable_chunking()->set_chunk_tokens(64);
  for (const auto* req : {&vec, &txt}) {
    grpc::ClientContext ctx;
    v1::CollectionInfo info;
    grpc::Status s = stub.CreateCollection(&ctx, *req, &info);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      std::fprintf(stderr, "sextant-soak: creating %s: %s\n", req->name().c_str(), s.error_message().c_str());
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  if (!ParseArgs(argc, argv, &c)) return 2;
  signal(SIGPIPE, SIG_IGN);

  sextant::testing::SextantdProcess server;
  std::string address = c.address;
  pid_t pid = c.pid;
  bool own_dir = false;
  if (address.empty()) {
    if (c.dir.empty()) {
      c.dir = (std::filesystem::temp_directory_path() / ("sextant-soak-" + std::to_string(getpid()))).string();
      own_dir = true;
    } else if (std::filesystem::exists(c.dir) && !std::filesystem::is_empty(c.dir)) {
      // Never wipe a directory the user named: it must be new or empty.
      std::fprintf(stderr, "sextant-soak: --dir %s is not empty\n", c.dir.c_str());
      return 2;
    }
    std::filesystem::remove_all(c.dir);
    setenv("SEXTANTD", c.sextantd.c_str(), 1);  // what SextantdProcess starts
    std::vector<std::string> flags = {"--log-level", "warn"};
    if (!server.Start(c.dir, flags)) {
      std::fprintf(stderr, "sextant-soak: %s did not start:\n%s\n", c.sextantd.c_str(), server.log().c_str());
      return 1;
    }
    address = server.address();
    pid = server.pid();
  }
  std::printf("sextant-soak: %s (pid %d), %d clients, %g s (warm-up %g s), dim %u, %u ids, %u documents\n",
              address.c_str(), static_cast<int>(pid), c.clients, c.seconds, c.warmup, c.dim, c.points, c.documents);
  std::fflush(stdout);

  auto make_channel = [&](int i) {
    grpc::ChannelArguments args;
    args.SetInt("soak.client", i);  // a distinct argument: one connection per client
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  };
  {
    auto stub = v1::Sextant::NewStub(make_channel(-1));
    if (!CreateCollections(*stub, c)) return 1;
  }

  Stats stats;
  const auto prefill_start = Clock::now();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < c.clients; ++i) {
    workers.push_back(std::make_unique<Worker>(c, make_channel(i), &stats, Clock::time_point::max(), c.seed * 1000 + i));
  }
  {
    std::vector<std::thread> fill;
    for (int i = 0; i < c.clients; ++i) {
      fill.emplace_back([&, i] {
        const uint32_t a = c.points * i / c.clients, b = c.points * (i + 1) / c.clients;
        const uint32_t da = c.documents * i / c.clients, db = c.documents * (i + 1) / c.clients;
        workers[i]->Prefill(a, b, da, db);
      });
    }
    for (auto& t : fill) t.join();
  }
  if (stats.unexpected > 0) {
    std::fprintf(stderr, "sextant-soak: the prefill failed: %s\n", stats.first_errors[0].c_str());
    return 1;
  }
  std::printf("prefill: %u points, %u documents in %.1f s\n", c.points, c.documents,
              std::chrono::duration<double>(Clock::now() - prefill_start).count());

  const auto start = Clock::now();
  const auto judged_from = start + std::chrono::milliseconds(static_cast<int64_t>(c.warmup * 1000));
  workers.clear();
  for (int i = 0; i < c.clients; ++i) {
    workers.push_back(std::make_unique<Worker>(c, make_channel(i), &stats, judged_from, c.seed * 1000 + 500 + i));
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&, wp = w.get()] { wp->Run(stop); });

  // RSS samples, one a second: (seconds since start, MB).
  std::vector<std::pair<double, double>> rss;
  bool died = false;
  const auto end = start + std::chrono::milliseconds(static_cast<int64_t>(c.seconds * 1000));
  auto next_report = start + std::chrono::seconds(10);
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    if (pid > 0) {
      const double mb = RssMb(pid);
      if (mb < 0) {
        died = true;
        break;
      }
      rss.emplace_back(t, mb);
    }
    if (Clock::now() >= next_report) {
      uint64_t total = 0;
      {
        std::lock_guard lock(stats.mu);
        for (uint64_t n : stats.count) total += n;
      }
      std::printf("  %5.0f s: %llu calls, RSS %.0f MB\n", t, static_cast<unsigned long long>(total),
                  rss.empty() ? 0.0 : rss.back().second);
      std::fflush(stdout);
      next_report += std::chrono::seconds(c.seconds > 600 ? 300 : 10);
    }
  }
  stop = true;
  for (auto& t : threads) t.join();

  bool failed = false;
  auto fail = [&](const std::string& why) {
    std::printf("FAIL: %s\n", why.c_str());
    failed = true;
  };
  if (died) fail("the server died (its /proc entry is gone)");

  // Latency after warm-up.
  std::string json = "{\"seconds\":" + std::to_string(c.seconds) + ",\"clients\":" + std::to_string(c.clients);
  uint64_t total = 0;
  std::printf("%-13s %10s %9s %9s %9s\n", "operation", "calls", "p50 ms", "p99 ms", "max ms");
  for (int op = 0; op < kOps; ++op) {
    auto& v = stats.latency_ms[op];
    total += stats.count[op];
    const double p50 = Percentile(v, 0.5), p99 = Percentile(v, 0.99);
    const double mx = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
    std::printf("%-13s %10llu %9.2f %9.2f %9.2f\n", kOpNames[op], static_cast<unsigned long long>(stats.count[op]), p50,
                p99, mx);
    json += std::string(",\"") + kOpNames[op] + "\":{\"calls\":" + std::to_string(stats.count[op]) +
            ",\"p50_ms\":" + std::to_string(p50) + ",\"p99_ms\":" + std::to_string(p99) + "}";
    if (stats.count[op] == 0) fail(std::string("no ") + kOpNames[op] + " call ran");
    if (p99 > c.max_p99_ms) fail(std::string(kOpNames[op]) + " p99 " + std::to_string(p99) + " ms > " + std::to_string(c.max_p99_ms));
  }
  std::printf("calls: %llu (%.0f/s), designed errors: %llu, unexpected errors: %llu\n",
              static_cast<unsigned long long>(total), static_cast<double>(total) / c.seconds,
              static_cast<unsigned long long>(stats.designed_errors), static_cast<unsigned long long>(stats.unexpected));
  for (const std::string& e : stats.first_errors) std::printf("  error: %s\n", e.c_str());
  if (stats.unexpected > 0) fail(std::to_string(stats.unexpected) + " unexpected errors");

  // RSS after warm-up: the peak of the first fifth of the judged samples against the peak of the last fifth.
  if (pid > 0 && !died) {
    std::vector<std::pair<double, double>> judged;
    for (const auto& s : rss) {
      if (s.first >= c.warmup) judged.push_back(s);
    }
    if (judged.size() < 5) {
      fail("too few RSS samples after the warm-up (" + std::to_string(judged.size()) + ")");
    } else {
      const size_t w = judged.size() / 5;
      double first = 0, last = 0;
      for (size_t i = 0; i < w; ++i) first = std::max(first, judged[i].second);
      for (size_t i = judged.size() - w; i < judged.size(); ++i) last = std::max(last, judged[i].second);
      // Least-squares slope over the judged samples, MB per minute (reported; the growth is judged).
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (const auto& [x, y] : judged) sx += x, sy += y, sxx += x * x, sxy += x * y;
      const double n = static_cast<double>(judged.size());
      const double slope = (n * sxy - sx * sy) / std::max(1e-9, n * sxx - sx * sx) * 60;
      std::printf("RSS: %.0f MB at the end of warm-up, %.0f MB at the end (peaks of the first and last fifth), "
                  "growth %+.1f MB, slope %+.2f MB/min, overall peak %.0f MB\n",
                  first, last, last - first, slope,
                  std::max_element(rss.begin(), rss.end(), [](auto& a, auto& b) { return a.second < b.second; })->second);
      json += ",\"rss_start_mb\":" + std::to_string(first) + ",\"rss_end_mb\":" + std::to_string(last) +
              ",\"rss_slope_mb_per_min\":" + std::to_string(slope);
      if (last - first > c.max_rss_growth_mb) {
        fail("RSS grew " + std::to_string(last - first) + " MB after warm-up (limit " + std::to_string(c.max_rss_growth_mb) + ")");
      }
    }
  }

  if (server.running()) {
    const int code = server.Stop();
    if (code != 0) {
      fail("sextantd exited with " + std::to_string(code) + " at SIGTERM");
      std::printf("%s\n", server.log().c_str());
    }
  }
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(c.dir, ec);
    std::filesystem::remove(c.dir + ".port", ec);
    if (!failed) std::filesystem::remove(c.dir + ".log", ec);
  }
  json += ",\"unexpected_errors\":" + std::to_string(stats.unexpected) + ",\"ok\":" + (failed ? "false" : "true") + "}";
  std::printf("%s\n", json.c_str());
  std::printf(failed ? "sextant-soak: FAILED\n" : "sextant-soak: OK\n");
  return failed ? 1 : 0;
}
