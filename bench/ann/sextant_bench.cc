// sextant-bench: the ANN benchmark tool (in the manner of leveldb's db_bench). It loads a data set
// into a fresh database through the public engine API, waits for the index, then sweeps a search
// parameter and prints one JSON line per setting: recall@k against exact ground truth, queries per
// second, per-query latency percentiles, build time, memory.
//
//   sextant-bench --base B.fvecs --query Q.fvecs [--gt G.ivecs] --index HNSW16 --ef-search 16,32,64
//   sextant-bench --synthetic 100000,128 --index IVF1024 --nprobe 1,4,16 --threads 2
//   sextant-bench --synthetic 1000000,128 --write-synthetic DIR   (write the data set, then exit)
//
// bench/README.md documents every flag and every figure; `sextant-bench --help` lists the flags.
//
// What is measured, and how:
//  - Everything goes through sextant/sextant.h: Database::Open, CreateCollection, Upsert in
//    batches (ids = row numbers), WaitForIndex, Describe, Search. Nothing reaches into the engine.
//  - build_s runs from the first Upsert until WaitForIndex returns (ingest + index build).
//  - Each query is one Collection::Search call timed with steady_clock; qps is queries over the
//    wall time of the whole pass (aggregate over --threads workers, each taking a contiguous
//    slice of the queries). A few warm-up queries run before each timed pass.
//  - recall = |returned ids ∩ first k true neighbours| / (queries * k). The true neighbours come
//    from --gt, or else from an exact brute force over the data in this process, independent of
//    the engine (so a Flat index must score 1.0).
//
// Memory: the base set is streamed (from the file or the generator) in batches and never held
// whole by this tool; only the queries and the k-NN lists are kept. So the RSS figures are the
// engine's own plus a small constant.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../bench_data.h"
#include "sextant/sextant.h"

namespace {

using sextant::IndexOptions;
using sextant::IndexType;
using sextant::Metric;
using sextant::QuantizerType;
using sextant::Status;
using sextant::StatusOr;
using sextant::bench::Clock;
using sextant::bench::DataSpec;
using sextant::bench::Dataset;
using sextant::bench::GroundTruth;
using sextant::bench::JsonLine;
using sextant::bench::OpenDataset;
using sextant::bench::ParseList;
using sextant::bench::ParseNumber;
using sextant::bench::Percentile;
using sextant::bench::ProcStatusMb;
using sextant::bench::ScratchDir;
using sextant::bench::Seconds;
using sextant::bench::VecsWriter;

constexpr char kTool[] = "sextant-bench";

constexpr char kUsage[] = R"(usage: sextant-bench DATA [options]

DATA (one of):
  --base FILE            base vectors (.fvecs or .bvecs); ids are row numbers
  --query FILE           query vectors (.fvecs or .bvecs)
  --gt FILE              ground truth (.ivecs, >= k ids per query); computed exactly when absent
  --synthetic N,D        seeded gaussian mixture: N base points of dimension D (ceil(sqrt N)
                         overlapping clusters, each with its own spread); queries from the same
                         mixture
  --queries Q            number of queries (synthetic: default 1000; files: default all)
  --seed S               synthetic seed (default 42)
  --max-base N           use only the first N base vectors (ground truth is then recomputed)

Index and search:
  --metric l2|ip|cosine  (default l2)
  --index SPEC           Flat, HNSW16, HNSW16,SQ8, IVF1024, IVF1024,SQ8, IVF1024,PQ16 (default Flat)
  --ef-construction N    HNSW build candidate list size (default: the engine's, 200)
  --ef-search LIST       HNSW sweep, e.g. 16,32,64 (default 16,32,64,128,256)
  --nprobe LIST          IVF sweep, e.g. 1,4,16 (default 1,2,4,8,16,32,64, capped at nlist)
  -k K                   neighbours per query (default 10)
  --threads N            search threads; queries are split across them (default 1)
  --batch N              points per Upsert (default 1000)
  --warmup N             untimed queries before each timed pass (default 10)
  --runs N               timed passes per setting; the fastest is reported (default 1)

Database:
  --db DIR               build in DIR, which must not hold a database yet; kept afterwards.
                         Default: a fresh directory under $TMPDIR (or /tmp), removed at the end
  --open DIR             skip the build: open the database an earlier run built with --db DIR (same
                         data and --index), and sweep on it; reports reopen_s, and build_s as null
  --keep                 keep the temporary database directory (its path goes to stderr)
  --reopen               after the build, close the database, reopen it, and report reopen_s
                         (Open + GetCollection + WaitForIndex); the sweep then runs on the reopened one

Other:
  --write-synthetic DIR  with --synthetic: write DIR/<name>_base.fvecs, _query.fvecs and
                         _groundtruth.ivecs (100 exact neighbours per query for --metric; the file
                         name carries the metric unless it is l2), then exit. peers.py reads these.
  --help

Output: one JSON line per sweep setting on stdout; progress and warnings on stderr.
Exit status: 0 ok, 1 error, 2 usage error.
)";

// ---------------------------------------------------------------------------------------------
// Flags

// The data flags (--base, --query, --gt, --synthetic, --queries, --seed, --max-base) are DataSpec's
// (bench_data.h).
struct Flags : DataSpec {
  Metric metric = Metric::kL2;
  IndexOptions index;
  std::optional<uint32_t> ef_construction;
  std::vector<uint32_t> ef_search;
  std::vector<uint32_t> nprobe;
  uint32_t k = 10;
  uint32_t threads = 1;
  uint32_t batch = 1000;
  uint32_t warmup = 10;
  uint32_t runs = 1;
  std::string db_dir;
  std::string open_dir;
  bool keep = false;
  bool reopen = false;
  std::string write_synthetic_dir;
  bool help = false;
};

// Parses argv into `flags`; InvalidArgument (a usage error) naming the bad flag.
Status ParseFlags(int argc, char** argv, Flags* flags) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  std::string index_spec = "Flat";
  std::string metric_name = "l2";
  bool have_ef_search = false, have_nprobe = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string_view> inline_value;
    if (name.starts_with("--")) {
      if (size_t eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else if (name.starts_with("-k") && name.size() > 2) {  // -k10
      inline_value = name.substr(2);
      name = "-k";
    }
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(std::string(name) + ": " + std::string(why));
    };
    // The flag's value: inline (--flag=v) or the next argument.
    std::string_view value;
    auto take = [&]() -> bool {
      if (inline_value) {
        value = *inline_value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      value = args[++i];
      return true;
    };
    auto boolean = [&](bool* out) -> Status {
      if (inline_value) return bad("takes no value");
      *out = true;
      return Status::OK();
    };
    if (name == "--help" || name == "-h") {
      flags->help = true;
      return Status::OK();
    }
    if (name == "--keep") {
      SEXTANT_RETURN_IF_ERROR(boolean(&flags->keep));
      continue;
    }
    if (name == "--reopen") {
      SEXTANT_RETURN_IF_ERROR(boolean(&flags->reopen));
      continue;
    }
    static constexpr std::string_view kValueFlags[] = {
        "--base", "--query", "--gt", "--synthetic", "--queries", "--seed", "--max-base", "--metric", "--index",
        "--ef-construction", "--ef-search", "--nprobe", "-k", "--k", "--threads", "--batch", "--warmup", "--runs", "--db",
        "--open", "--write-synthetic"};
    if (std::find(std::begin(kValueFlags), std::end(kValueFlags), name) == std::end(kValueFlags)) {
      return Status::InvalidArgument(name.starts_with("-") ? "unknown flag " + std::string(args[i])
                                                           : "unexpected argument '" + std::string(name) + "'");
    }
    if (!take()) return bad("needs a value");
    if (auto data = sextant::bench::ApplyDataFlag(name, value, flags)) {
      if (!data->empty()) return bad(*data);
    } else if (name == "--metric") {
      metric_name = value;
    } else if (name == "--index") {
      index_spec = value;
    } else if (name == "--ef-construction") {
      uint32_t v = 0;
      if (!ParseNumber(value, &v) || v == 0) return bad("expected a number >= 1");
      flags->ef_construction = v;
    } else if (name == "--ef-search") {
      if (!ParseList(value, &flags->ef_search)) return bad("expected a list of numbers >= 1, e.g. 16,32,64");
      have_ef_search = true;
    } else if (name == "--nprobe") {
      if (!ParseList(value, &flags->nprobe)) return bad("expected a list of numbers >= 1, e.g. 1,4,16");
      have_nprobe = true;
    } else if (name == "-k" || name == "--k") {
      if (!ParseNumber(value, &flags->k) || flags->k == 0) return bad("expected a number >= 1");
    } else if (name == "--threads") {
      if (!ParseNumber(value, &flags->threads) || flags->threads == 0 || flags->threads > 1024) {
        return bad("expected 1..1024");
      }
    } else if (name == "--batch") {
      if (!ParseNumber(value, &flags->batch) || flags->batch == 0) return bad("expected a number >= 1");
    } else if (name == "--warmup") {
      if (!ParseNumber(value, &flags->warmup)) return bad("expected a number");
    } else if (name == "--runs") {
      if (!ParseNumber(value, &flags->runs) || flags->runs == 0) return bad("expected a number >= 1");
    } else if (name == "--db") {
      flags->db_dir = value;
    } else if (name == "--open") {
      flags->open_dir = value;
    } else if (name == "--write-synthetic") {
      flags->write_synthetic_dir = value;
    }
  }

  // Cross-checks.
  const bool files = !flags->base_path.empty() || !flags->query_path.empty() || !flags->gt_path.empty();
  if (flags->synthetic == files) {
    return Status::InvalidArgument("give either --base and --query (and optionally --gt) or --synthetic N,D");
  }
  if (files && (flags->base_path.empty() || flags->query_path.empty())) {
    return Status::InvalidArgument("--base and --query are both required with data files");
  }
  if (!flags->write_synthetic_dir.empty() && !flags->synthetic) {
    return Status::InvalidArgument("--write-synthetic needs --synthetic N,D");
  }
  auto metric = sextant::ParseMetric(metric_name);
  if (!metric.ok()) return Status::InvalidArgument("--metric: " + std::string(metric.status().message()));
  flags->metric = *metric;
  auto index = IndexOptions::Parse(index_spec);
  if (!index.ok()) return Status::InvalidArgument("--index: " + std::string(index.status().message()));
  flags->index = *index;
  if (flags->ef_construction) {
    if (flags->index.type != IndexType::kHnsw) return Status::InvalidArgument("--ef-construction applies to HNSW only");
    flags->index.ef_construction = *flags->ef_construction;
  }
  if (have_ef_search && flags->index.type != IndexType::kHnsw) {
    return Status::InvalidArgument("--ef-search applies to HNSW only (use --nprobe for IVF)");
  }
  if (have_nprobe && flags->index.type != IndexType::kIvf) {
    return Status::InvalidArgument("--nprobe applies to IVF only (use --ef-search for HNSW)");
  }
  if (flags->index.type == IndexType::kHnsw && !have_ef_search) flags->ef_search = {16, 32, 64, 128, 256};
  if (flags->index.type == IndexType::kIvf && !have_nprobe) {
    for (uint32_t p : {1u, 2u, 4u, 8u, 16u, 32u, 64u}) {
      if (p <= flags->index.nlist) flags->nprobe.push_back(p);
    }
  }
  return Status::OK();
}


// The pq_m the engine picks for "PQ" without a number (options.h): the largest divisor of the
// dimension that is <= dimension / 2 and <= 64.
uint32_t DefaultPqM(uint32_t dim) {
  for (uint32_t m = std::min<uint32_t>(64, std::max<uint32_t>(1, dim / 2)); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------
// The benchmark.


// --write-synthetic: the base, query and ground-truth files for peers.py.
Status WriteSynthetic(const Flags& flags, Dataset* ds) {
  const std::filesystem::path dir(flags.write_synthetic_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Internal(dir.string() + ": " + ec.message());
  const uint32_t dim = ds->base->dim();
  const std::string prefix = (dir / ds->name).string();
  const std::string base_path = prefix + "_base.fvecs";
  const std::string query_path = prefix + "_query.fvecs";
  const std::string metric = flags.metric == Metric::kL2 ? "" : "-" + std::string(sextant::MetricName(flags.metric));
  const std::string gt_path = prefix + "_groundtruth" + metric + ".ivecs";
  {
    SEXTANT_ASSIGN_OR_RETURN(auto w, VecsWriter::Create(base_path));
    SEXTANT_RETURN_IF_ERROR(ds->base->Rewind());
    std::vector<float> chunk;
    while (true) {
      SEXTANT_ASSIGN_OR_RETURN(size_t rows, ds->base->Next(8192, &chunk));
      if (rows == 0) break;
      SEXTANT_RETURN_IF_ERROR(w->Write(chunk.data(), rows, dim));
    }
    SEXTANT_RETURN_IF_ERROR(w->Close());
  }
  {
    SEXTANT_ASSIGN_OR_RETURN(auto w, VecsWriter::Create(query_path));
    SEXTANT_RETURN_IF_ERROR(w->Write(ds->queries.data(), ds->nq, dim));
    SEXTANT_RETURN_IF_ERROR(w->Close());
  }
  const uint32_t gt_k = static_cast<uint32_t>(std::min<uint64_t>(std::max<uint32_t>(100, flags.k), ds->base->rows()));
  SEXTANT_ASSIGN_OR_RETURN(auto gt, GroundTruth(ds, flags.metric, gt_k, kTool));
  std::vector<int32_t> gt32(gt.begin(), gt.end());
  SEXTANT_ASSIGN_OR_RETURN(auto w, VecsWriter::Create(gt_path));
  SEXTANT_RETURN_IF_ERROR(w->Write(gt32.data(), ds->nq, gt_k));
  SEXTANT_RETURN_IF_ERROR(w->Close());
  std::fprintf(stderr, "sextant-bench: wrote %s, %s, %s\n", base_path.c_str(), query_path.c_str(), gt_path.c_str());
  return Status::OK();
}

// One timed pass over all queries.
struct PassResult {
  double wall_s = 0;
  std::vector<double> latency_us;  // sorted
  std::vector<uint64_t> ids;       // nq * k, UINT64_MAX where fewer came back
  uint64_t index_plans = 0;        // queries the index answered (SearchPlan::Kind::kIndex)
  uint64_t distance_computations = 0;
};

StatusOr<PassResult> RunPass(const sextant::Collection& collection, const sextant::SearchOptions& options,
                             const Dataset& ds, uint32_t dim, uint32_t threads, uint32_t warmup) {
  const uint32_t k = options.k;
  for (uint32_t i = 0; i < warmup && ds.nq > 0; ++i) {
    const size_t qi = i % ds.nq;
    auto hits = collection.Search(options, std::span<const float>(ds.queries.data() + qi * dim, dim));
    if (!hits.ok()) return hits.status().WithPrefix("search (warm-up)");
  }
  PassResult result;
  result.latency_us.resize(ds.nq);
  result.ids.assign(ds.nq * k, UINT64_MAX);
  std::vector<Status> errors(threads);
  std::atomic<uint64_t> index_plans{0}, distance_computations{0};
  auto work = [&](uint32_t w, size_t begin, size_t end) {
    uint64_t my_index_plans = 0, my_distances = 0;
    for (size_t i = begin; i < end; ++i) {
      sextant::SearchPlan plan;
      const auto t0 = Clock::now();
      auto hits = collection.Search(options, std::span<const float>(ds.queries.data() + i * dim, dim), &plan);
      const auto t1 = Clock::now();
      my_index_plans += plan.kind == sextant::SearchPlan::Kind::kIndex ? 1 : 0;
      my_distances += plan.distance_computations;
      if (!hits.ok()) {
        errors[w] = hits.status().WithPrefix("search (query " + std::to_string(i) + ")");
        return;
      }
      result.latency_us[i] = std::chrono::duration<double, std::micro>(t1 - t0).count();
      const size_t got = std::min<size_t>(hits->size(), k);
      for (size_t j = 0; j < got; ++j) {
        const sextant::PointId& id = (*hits)[j].id;
        result.ids[i * k + j] = id.is_number() ? id.number() : UINT64_MAX;
      }
    }
    index_plans += my_index_plans;
    distance_computations += my_distances;
  };
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  const size_t per = (ds.nq + threads - 1) / threads;
  for (uint32_t w = 1; w < threads; ++w) {
    const size_t b = std::min(ds.nq, w * per), e = std::min(ds.nq, (w + 1) * per);
    if (b < e) pool.emplace_back(work, w, b, e);
  }
  work(0, 0, std::min(ds.nq, per));
  for (auto& t : pool) t.join();
  result.wall_s = Seconds(Clock::now() - start);
  result.index_plans = index_plans;
  result.distance_computations = distance_computations;
  for (const Status& s : errors) SEXTANT_RETURN_IF_ERROR(s);
  std::sort(result.latency_us.begin(), result.latency_us.end());
  return result;
}

// |result ∩ truth| / (nq * k), with both as nq rows of k ids.
double Recall(const std::vector<uint64_t>& result, const std::vector<uint64_t>& truth, size_t nq, uint32_t k,
              uint64_t* hits_out) {
  uint64_t hits = 0;
  std::vector<uint64_t> row;
  for (size_t i = 0; i < nq; ++i) {
    row.assign(truth.begin() + i * k, truth.begin() + (i + 1) * k);
    std::sort(row.begin(), row.end());
    for (uint32_t j = 0; j < k; ++j) {
      const uint64_t id = result[i * k + j];
      if (id != UINT64_MAX && std::binary_search(row.begin(), row.end(), id)) ++hits;
    }
  }
  *hits_out = hits;
  return nq == 0 ? 0.0 : static_cast<double>(hits) / (static_cast<double>(nq) * k);
}

std::string ParamsJson(const IndexOptions& index, uint32_t dim, uint32_t sweep_value) {
  switch (index.type) {
    case IndexType::kFlat:
      return "{}";
    case IndexType::kHnsw:
      return "{\"m\":" + std::to_string(index.m) + ",\"ef_construction\":" + std::to_string(index.ef_construction) +
             ",\"ef_search\":" + std::to_string(sweep_value) + "}";
    case IndexType::kIvf: {
      std::string out = "{\"nlist\":" + std::to_string(index.nlist) + ",\"nprobe\":" + std::to_string(sweep_value);
      if (index.quantizer == QuantizerType::kPq) {
        out += ",\"pq_m\":" + std::to_string(index.pq_m ? index.pq_m : DefaultPqM(dim));
      }
      return out + "}";
    }
  }
  return "{}";
}

Status WaitReady(const sextant::Collection& collection) {
  while (true) {
    Status s = collection.WaitForIndex(3600 * 1000);
    if (s.code() != sextant::StatusCode::kUnavailable) return s.WithPrefix("WaitForIndex");
    std::fprintf(stderr, "sextant-bench: still waiting for the index...\n");
  }
}

Status RunBench(const Flags& flags) {
  Dataset ds;
  SEXTANT_RETURN_IF_ERROR(OpenDataset(flags, kTool, &ds));
  if (!flags.write_synthetic_dir.empty()) return WriteSynthetic(flags, &ds);

  const uint32_t dim = ds.base->dim();
  const uint64_t n = ds.base->rows();
  const uint32_t k = flags.k;
  if (k > n) return Status::InvalidArgument("-k " + std::to_string(k) + " exceeds the " + std::to_string(n) + " base points");
  SEXTANT_RETURN_IF_ERROR(flags.index.Validate(dim).WithPrefix("--index"));
  SEXTANT_ASSIGN_OR_RETURN(const std::vector<uint64_t> truth, GroundTruth(&ds, flags.metric, k, kTool));

  const std::string kName = "bench";
  std::unique_ptr<sextant::Database> db;
  std::shared_ptr<sextant::Collection> collection;
  double build_s = NAN, ingest_s = NAN, reopen_s = NAN, close_s = NAN;
  ScratchDir scratch;
  if (!flags.open_dir.empty()) {
    // --open: the database of an earlier --db run; only the sweep is measured.
    if (!flags.db_dir.empty() || flags.reopen) return Status::InvalidArgument("--open excludes --db and --reopen");
    sextant::DatabaseOptions db_options;
    db_options.create_if_missing = false;
    const auto t1 = Clock::now();
    SEXTANT_ASSIGN_OR_RETURN(db, sextant::Database::Open(db_options, flags.open_dir));
    SEXTANT_ASSIGN_OR_RETURN(collection, db->GetCollection(kName));
    SEXTANT_RETURN_IF_ERROR(WaitReady(*collection));
    reopen_s = Seconds(Clock::now() - t1);
    std::fprintf(stderr, "sextant-bench: opened %s in %.2f s\n", flags.open_dir.c_str(), reopen_s);
  } else {
  // The database: --db, or a scratch directory that outlives the database objects below.
  std::string db_path = flags.db_dir;
  if (db_path.empty()) {
    SEXTANT_RETURN_IF_ERROR(scratch.Create());
    db_path = scratch.path();
    if (flags.keep) std::fprintf(stderr, "sextant-bench: database kept in %s\n", scratch.Release().c_str());
  }
  sextant::DatabaseOptions db_options;
  db_options.create_if_missing = true;
  db_options.error_if_exists = true;
  SEXTANT_ASSIGN_OR_RETURN(db, sextant::Database::Open(db_options, db_path));
  sextant::CollectionOptions coll_options;
  coll_options.dimension = dim;
  coll_options.metric = flags.metric;
  coll_options.index = flags.index;
  SEXTANT_ASSIGN_OR_RETURN(collection, db->CreateCollection(kName, coll_options));

  // Build: upsert everything in batches, then wait for the index.
  std::fprintf(stderr, "sextant-bench: loading %" PRIu64 " x %u (%s) into %s, index %s\n", n, dim, ds.name.c_str(),
               db_path.c_str(), flags.index.ToString().c_str());
  SEXTANT_RETURN_IF_ERROR(ds.base->Rewind());
  std::vector<float> chunk;
  std::vector<sextant::PointId> ids;
  uint64_t loaded = 0, next_report = n / 10;
  const auto build_start = Clock::now();
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(size_t rows, ds.base->Next(flags.batch, &chunk));
    if (rows == 0) break;
    ids.clear();
    for (size_t r = 0; r < rows; ++r) ids.emplace_back(loaded + r);
    SEXTANT_RETURN_IF_ERROR(collection->Upsert(sextant::WriteOptions{}, ids, chunk).WithPrefix("upsert"));
    loaded += rows;
    if (n >= 100000 && loaded >= next_report) {
      std::fprintf(stderr, "sextant-bench:   %" PRIu64 " / %" PRIu64 " points, %.1f s\n", loaded, n,
                   Seconds(Clock::now() - build_start));
      next_report += n / 10;
    }
  }
  ingest_s = Seconds(Clock::now() - build_start);
  // An index that must be trained (IVF, SQ8, PQ) starts out waiting for points (kTraining, which
  // WaitForIndex counts as ready), and the engine's maintenance thread trains it about a second
  // after enough have arrived. Ask for the build now instead, so that the sweep never races it
  // and build_s includes the training.
  SEXTANT_ASSIGN_OR_RETURN(sextant::CollectionInfo loaded_info, collection->Describe());
  if (loaded_info.index_state == sextant::IndexState::kTraining) {
    std::fprintf(stderr, "sextant-bench: index waits to train after the load: RebuildIndex() to train it now\n");
    SEXTANT_RETURN_IF_ERROR(collection->RebuildIndex().WithPrefix("RebuildIndex"));
  }
  SEXTANT_RETURN_IF_ERROR(WaitReady(*collection));
  build_s = Seconds(Clock::now() - build_start);
  std::fprintf(stderr, "sextant-bench: built in %.2f s (upserts %.2f s)\n", build_s, ingest_s);
  std::vector<float>().swap(chunk);

  if (flags.reopen) {
    collection.reset();
    const auto t0 = Clock::now();
    db.reset();
    close_s = Seconds(Clock::now() - t0);
    const auto t1 = Clock::now();
    db_options.error_if_exists = false;
    db_options.create_if_missing = false;
    SEXTANT_ASSIGN_OR_RETURN(db, sextant::Database::Open(db_options, db_path));
    SEXTANT_ASSIGN_OR_RETURN(collection, db->GetCollection(kName));
    SEXTANT_RETURN_IF_ERROR(WaitReady(*collection));
    reopen_s = Seconds(Clock::now() - t1);
    std::fprintf(stderr, "sextant-bench: closed in %.2f s, reopened in %.2f s\n", close_s, reopen_s);
  }

  }

  SEXTANT_ASSIGN_OR_RETURN(sextant::CollectionInfo info, collection->Describe());
  if (info.count != n) {
    return Status::Internal("the collection holds " + std::to_string(info.count) + " points, expected " +
                            std::to_string(n));
  }
  const std::string requested = flags.index.ToString();
  if (info.index != requested) {
    std::fprintf(stderr, "sextant-bench: warning: asked for index %s, the collection reports %s\n", requested.c_str(),
                 info.index.c_str());
  }
  if (info.index_state != sextant::IndexState::kReady) {
    std::fprintf(stderr, "sextant-bench: warning: index state is '%s' (searches may be exact)\n",
                 std::string(sextant::IndexStateName(info.index_state)).c_str());
  }

  // The sweep: one JSON line per setting.
  std::vector<uint32_t> sweep;
  if (flags.index.type == IndexType::kHnsw) sweep = flags.ef_search;
  if (flags.index.type == IndexType::kIvf) sweep = flags.nprobe;
  if (sweep.empty()) sweep = {0};
  for (uint32_t value : sweep) {
    sextant::SearchOptions options;
    options.k = k;
    if (flags.index.type == IndexType::kHnsw) options.ef_search = value;
    if (flags.index.type == IndexType::kIvf) options.nprobe = value;
    SEXTANT_ASSIGN_OR_RETURN(PassResult pass, RunPass(*collection, options, ds, dim, flags.threads, flags.warmup));
    for (uint32_t run = 1; run < flags.runs; ++run) {
      SEXTANT_ASSIGN_OR_RETURN(PassResult again, RunPass(*collection, options, ds, dim, flags.threads, flags.warmup));
      if (again.wall_s < pass.wall_s) pass = std::move(again);
    }
    uint64_t hits = 0;
    const double recall = Recall(pass.ids, truth, ds.nq, k, &hits);
    JsonLine line;
    line.Str("system", "sextant")
        .Str("index", requested)
        .Raw("params", ParamsJson(flags.index, dim, value));
    // Exactly 1.0 only when every neighbour was found; never rounded up to it.
    if (hits == uint64_t{ds.nq} * k) {
      line.Raw("recall", "1.0");
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6f", std::min(recall, 0.999999));
      std::string text = buf;
      while (text.back() == '0') text.pop_back();  // 0.963000 -> 0.963
      if (text.back() == '.') text += '0';
      line.Raw("recall", text);
    }
    line.Num("qps", static_cast<double>(ds.nq) / pass.wall_s, 1)
        .Num("p50_us", Percentile(pass.latency_us, 0.50), 1)
        .Num("p99_us", Percentile(pass.latency_us, 0.99), 1)
        .Num("build_s", build_s, 3)
        .Num("ingest_s", ingest_s, 3)
        .Num("rss_mb", ProcStatusMb("VmRSS"), 1)
        .Num("peak_rss_mb", ProcStatusMb("VmHWM"), 1)
        .Int("index_bytes", info.index_bytes)
        .Int("vector_bytes", info.vector_bytes)
        .Num("bytes_per_vector", static_cast<double>(info.index_bytes) / static_cast<double>(n), 1)
        .Int("n", n)
        .Int("dim", dim)
        .Int("k", k)
        .Int("queries", ds.nq)
        .Int("threads", flags.threads)
        .Int("runs", flags.runs)
        .Str("metric", sextant::MetricName(flags.metric))
        .Str("dataset", ds.name)
        .Str("engine_index", info.index)
        .Str("plan", pass.index_plans == ds.nq ? "index" : pass.index_plans == 0 ? "exact" : "mixed")
        .Num("distances_per_query", static_cast<double>(pass.distance_computations) / static_cast<double>(ds.nq), 0)
        .Str("simd", sextant::SimdLevelName());
    if (flags.reopen || !flags.open_dir.empty()) line.Num("reopen_s", reopen_s, 3).Num("close_s", close_s, 3);
    std::printf("%s\n", line.Done().c_str());
    std::fflush(stdout);
  }
  collection.reset();
  db.reset();  // before `scratch` removes the directory
  return Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags flags;
    if (Status s = ParseFlags(argc, argv, &flags); !s.ok()) {
      std::fprintf(stderr, "sextant-bench: %s\n(see sextant-bench --help)\n", std::string(s.message()).c_str());
      return 2;
    }
    if (flags.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (Status s = RunBench(flags); !s.ok()) {
      std::fprintf(stderr, "sextant-bench: error: %s\n", s.ToString().c_str());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {  // e.g. std::bad_alloc from a data set too large for memory
    std::fprintf(stderr, "sextant-bench: error: %s\n", e.what());
    return 1;
  }
}
