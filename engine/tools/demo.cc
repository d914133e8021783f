// `sextant demo`: creates a collection of seeded, clustered points with an HNSW index and a
// payload index, imports them, searches with and without filters (showing how the planner
// answered each search), measures the index's recall against exact search, and says what each
// step did and how long it took.

#include "tools/demo.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_common.h"

namespace sextant::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kDim = 64;
constexpr uint32_t kPoints = 20000;
constexpr uint32_t kClusters = 20;
constexpr uint32_t kBatch = 1000;
constexpr uint32_t kSeed = 42;
constexpr char kName[] = "demo";
constexpr char kIndexSpec[] = "HNSW16";
// Lower than the default 200, so that building the graph takes a moment, not seconds; the
// recall it reaches on this data is shown in step 6.
constexpr uint32_t kEfConstruction = 100;

// 20000 -> "20,000".
std::string Grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Took(Clock::time_point start) { return "[" + FormatDuration(Clock::now() - start) + "]"; }

// The generated data: kClusters Gaussian blobs around random centres.
struct DemoData {
  std::vector<float> centres;  // kClusters * kDim
  std::vector<PointId> ids;
  std::vector<float> vectors;  // kPoints * kDim
  std::vector<uint32_t> cluster;
  std::vector<std::string> payloads;
};

DemoData Generate() {
  DemoData data;
  std::mt19937 rng(kSeed);
  std::uniform_real_distribution<float> spread(-10.0f, 10.0f);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  data.centres.resize(size_t{kClusters} * kDim);
  for (float& x : data.centres) x = spread(rng);
  data.vectors.resize(size_t{kPoints} * kDim);
  for (uint32_t i = 0; i < kPoints; ++i) {
    uint32_t c = static_cast<uint32_t>(rng() % kClusters);
    for (uint32_t j = 0; j < kDim; ++j) {
      data.vectors[size_t{i} * kDim + j] = data.centres[size_t{c} * kDim + j] + noise(rng);
    }
    data.ids.emplace_back(uint64_t{i});
    data.cluster.push_back(c);
    data.payloads.push_back("{\"cluster\":" + std::to_string(c) +
                            ",\"even\":" + (i % 2 == 0 ? "true" : "false") + "}");
  }
  return data;
}

void PrintHitTable(const std::vector<Hit>& hits) {
  std::printf("     %-5s %-7s %-12s %s\n", "rank", "id", "score (l2)", "payload");
  for (size_t r = 0; r < hits.size(); ++r) {
    std::printf("     %-5zu %-7s %-12.3f %s\n", r + 1, hits[r].id.ToString().c_str(),
                static_cast<double>(hits[r].score), hits[r].payload.c_str());
  }
}

// One line on how a search was answered.
std::string PlanText(const SearchPlan& plan) {
  std::string out;
  if (plan.kind == SearchPlan::Kind::kIndex) {
    out = "walked the " + plan.index + " index (candidate list " + std::to_string(plan.effort) +
          ") among " + Grouped(plan.matches) + " matching points";
  } else {
    out = "exact: scored the " + Grouped(plan.matches) + " matching points";
  }
  return out + ", " + Grouped(plan.distance_computations) + " distance computations";
}

// Where a filter's matches came from.
std::string FilterText(const SearchPlan& plan) {
  return plan.filter_from_index ? "the filter was answered from the payload index alone"
                                : "the filter needed the payloads read";
}

// How many hits have payload field "cluster" == c (and "even" == even, when given).
size_t CountMatching(const std::vector<Hit>& hits, uint32_t c, std::optional<bool> even) {
  size_t n = 0;
  for (const Hit& hit : hits) {
    OutJson p = PayloadToJson(hit.payload);
    bool ok = p.value("cluster", -1) == static_cast<int>(c);
    if (even) ok = ok && p.value("even", !*even) == *even;
    n += ok ? 1 : 0;
  }
  return n;
}

Status Demo(const std::string& db_path, bool temporary) {
  const auto demo_start = Clock::now();
  std::printf("Sextant %s demo (distance kernels: %s)\n", std::string(Version()).c_str(),
              std::string(SimdLevelName()).c_str());
  std::printf("database: %s%s\n\n", db_path.c_str(), temporary ? " (a new temporary directory)" : "");

  // 1. Database and collection.
  auto start = Clock::now();
  DatabaseOptions db_options;
  db_options.create_if_missing = true;
  SEXTANT_ASSIGN_OR_RETURN(auto db, Database::Open(db_options, db_path));
  CollectionOptions options;
  options.dimension = kDim;
  options.metric = Metric::kL2;
  SEXTANT_ASSIGN_OR_RETURN(options.index, IndexOptions::Parse(kIndexSpec));
  options.index.ef_construction = kEfConstruction;
  options.payload_indexes.push_back({"cluster", PayloadFieldType::kInteger});
  auto created = db->CreateCollection(kName, options);
  if (created.status().code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("collection demo already exists in " + db_path +
                                 "; drop it first (sextant --db " + db_path +
                                 " drop demo) or run the demo without --db");
  }
  SEXTANT_RETURN_IF_ERROR(created.status());
  std::shared_ptr<Collection> collection = std::move(created).value();
  // The index of an empty collection is ready at once.
  SEXTANT_RETURN_IF_ERROR(collection->WaitForIndex(/*timeout_ms=*/60000));
  std::printf("1. Created collection \"%s\": %u dimensions, metric l2 (squared Euclidean "
              "distance, lower is nearer), an %s index (a navigable graph: approximate search, "
              "exact scores) and a payload index on \"cluster\" (integer).  %s\n",
              kName, kDim, kIndexSpec, Took(start).c_str());

  // 2. Data.
  start = Clock::now();
  DemoData data = Generate();
  std::printf("2. Generated %s points in %u Gaussian clusters (seed %u), each with a payload "
              "like %s.  %s\n",
              Grouped(kPoints).c_str(), kClusters, kSeed, data.payloads[0].c_str(),
              Took(start).c_str());

  // 3. Import.
  start = Clock::now();
  {
    ProgressBar progress("importing demo");
    for (uint32_t first = 0; first < kPoints; first += kBatch) {
      uint32_t n = std::min(kBatch, kPoints - first);
      SEXTANT_RETURN_IF_ERROR(collection->Upsert(
          WriteOptions(), std::span<const PointId>(data.ids).subspan(first, n),
          std::span<const float>(data.vectors).subspan(size_t{first} * kDim, size_t{n} * kDim),
          std::span<const std::string>(data.payloads).subspan(first, n)));
      progress.Update(first + n, kPoints, -1);
    }
  }
  double import_s = std::chrono::duration<double>(Clock::now() - start).count();
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  std::printf("3. Imported them in batches of %s, each point linked into the graph as it is "
              "written: the collection now holds %s points (vectors %s, index %s).  %s, "
              "%s points/s\n",
              Grouped(kBatch).c_str(), Grouped(info.count).c_str(),
              FormatBytes(info.vector_bytes).c_str(), FormatBytes(info.index_bytes).c_str(),
              Took(start).c_str(),
              Grouped(static_cast<uint64_t>(kPoints / std::max(import_s, 1e-9))).c_str());

  // 4. Plain search near one cluster's centre.
  const uint32_t target = 3;
  std::vector<float> query(data.centres.begin() + size_t{target} * kDim,
                           data.centres.begin() + size_t{target + 1} * kDim);
  std::mt19937 rng(kSeed + 1);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  for (float& x : query) x += noise(rng);
  SearchOptions search;
  search.k = 5;
  search.with_payload = true;
  SearchPlan plan;
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Hit> hits, collection->Search(search, query, &plan));
  std::printf("\n4. Searched the 5 points nearest to a query near the centre of cluster %u.  %s\n",
              target, Took(start).c_str());
  PrintHitTable(hits);
  std::printf("   %zu of %zu hits are in cluster %u.\n", CountMatching(hits, target, std::nullopt),
              hits.size(), target);
  std::printf("   plan: %s.\n", PlanText(plan).c_str());

  // 5. The same query with a payload filter.
  const uint32_t other = 8;
  search.filter = "{\"cluster\": " + std::to_string(other) + ", \"even\": true}";
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(hits, collection->Search(search, query, &plan));
  std::printf("\n5. Same query, filtered by %s: the nearest even-numbered points of cluster %u, "
              "farther away.  %s\n",
              search.filter.c_str(), other, Took(start).c_str());
  PrintHitTable(hits);
  std::printf("   %zu of %zu hits match the filter.\n", CountMatching(hits, other, true),
              hits.size());
  std::printf("   plan: %s. The payload index on \"cluster\" picked the candidates, whose "
              "payloads were read for \"even\"%s.\n",
              PlanText(plan).c_str(),
              plan.kind == SearchPlan::Kind::kExact
                  ? "; with so few matches, scoring them all is cheaper than a filtered walk of "
                    "the graph"
                  : "");
  // A broad filter on the indexed field alone: answered from the payload index, and the graph
  // walk skips the points it excludes.
  SearchOptions broad = search;
  broad.filter = "{\"cluster\": {\"$lt\": 10}}";
  broad.with_payload = true;
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(hits, collection->Search(broad, query, &plan));
  size_t broad_matching = 0;
  for (const Hit& hit : hits) {
    if (PayloadToJson(hit.payload).value("cluster", 99) < 10) ++broad_matching;
  }
  std::printf("   Filtered by %s instead (about half the points): %zu of %zu hits match.  %s\n",
              broad.filter.c_str(), broad_matching, hits.size(), Took(start).c_str());
  std::printf("   plan: %s; %s%s.\n", PlanText(plan).c_str(), FilterText(plan).c_str(),
              plan.kind == SearchPlan::Kind::kIndex ? ", and the walk skipped the other points"
                                                    : "");

  // 6. A batch of queries through the index and exactly: each stored point should find itself
  // first, at distance 0, and the index should find most of the exact top 10.
  const uint32_t batch = 200;
  const std::span<const float> batch_queries =
      std::span<const float>(data.vectors).subspan(0, size_t{batch} * kDim);
  SearchOptions batch_options;
  batch_options.k = 10;
  std::vector<SearchPlan> plans;
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(auto approx,
                           collection->SearchBatch(batch_options, batch_queries, &plans));
  const std::string approx_took = Took(start);
  const double approx_s = std::chrono::duration<double>(Clock::now() - start).count();
  batch_options.exact = true;
  start = Clock::now();
  std::vector<SearchPlan> exact_plans;
  SEXTANT_ASSIGN_OR_RETURN(auto exact,
                           collection->SearchBatch(batch_options, batch_queries, &exact_plans));
  const std::string exact_took = Took(start);
  const double exact_s = std::chrono::duration<double>(Clock::now() - start).count();
  auto found_self = [](const std::vector<std::vector<Hit>>& results) {
    size_t n = 0;
    for (uint32_t i = 0; i < results.size(); ++i) {
      if (!results[i].empty() && results[i][0].id == PointId(uint64_t{i}) &&
          results[i][0].score == 0.0f) {
        ++n;
      }
    }
    return n;
  };
  size_t recalled = 0, wanted = 0;
  uint64_t approx_distances = 0, exact_distances = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    std::set<uint64_t> truth;
    for (const Hit& hit : exact[i]) truth.insert(hit.id.number());
    for (const Hit& hit : approx[i]) recalled += truth.count(hit.id.number());
    wanted += truth.size();
    approx_distances += plans[i].distance_computations;
    exact_distances += exact_plans[i].distance_computations;
  }
  std::printf("\n6. Searched %u stored points as a batch (k=10) through the %s index, then "
              "exactly (--exact), and compared the top 10s:\n",
              batch, kIndexSpec);
  // Rounded down, so that 1,999 of 2,000 does not print as 1.000.
  const double recall =
      wanted ? std::floor(1000.0 * static_cast<double>(recalled) / wanted) / 1000.0 : 1.0;
  std::printf("     index: %zu of %u found themselves first, at distance 0; recall@10 %.3f (%s of "
              "the %s exact hits), %s distance computations a query.  %s, %s queries/s\n",
              found_self(approx), batch, recall,
              Grouped(recalled).c_str(), Grouped(wanted).c_str(),
              Grouped(approx_distances / std::max<size_t>(plans.size(), 1)).c_str(),
              approx_took.c_str(),
              Grouped(static_cast<uint64_t>(batch / std::max(approx_s, 1e-9))).c_str());
  std::printf("     exact: %zu of %u found themselves first, at distance 0; %s distance "
              "computations a query.  %s, %s queries/s\n",
              found_self(exact), batch,
              Grouped(exact_distances / std::max<size_t>(exact_plans.size(), 1)).c_str(),
              exact_took.c_str(),
              Grouped(static_cast<uint64_t>(batch / std::max(exact_s, 1e-9))).c_str());

  // 7. Point reads and deletes.
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(Point point, collection->Get(PointId(uint64_t{42})));
  std::vector<PointId> doomed(data.ids.begin(), data.ids.begin() + 100);
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, collection->Delete(WriteOptions(), doomed));
  SEXTANT_ASSIGN_OR_RETURN(uint64_t count, collection->Count());
  std::printf("\n7. Read point 42 back (payload %s), deleted points 0..99 (%s deleted): %s "
              "points remain.  %s\n",
              point.payload.c_str(), Grouped(deleted).c_str(), Grouped(count).c_str(),
              Took(start).c_str());

  std::printf("\nDone in %s. The database stays in %s; try:\n",
              FormatDuration(Clock::now() - demo_start).c_str(), db_path.c_str());
  std::printf("  sextant --db %s info demo\n", db_path.c_str());
  std::printf("  sextant --db %s get demo 142\n", db_path.c_str());
  std::printf("  sextant --db %s search demo -k 3 --with-payload --plan --filter "
              "'{\"even\": false}' --vector \"$(sextant --db %s get demo 142 | jq -c .vector)\"\n",
              db_path.c_str(), db_path.c_str());
  std::printf("  (add --exact to bypass the index, --ef-search 200 to widen the graph walk)\n");
  if (temporary) std::printf("Remove it with: rm -rf %s\n", db_path.c_str());
  return Status::OK();
}

}  // namespace

int RunDemo(const std::string& db_path) {
  std::string path = db_path;
  bool temporary = path.empty();
  if (temporary) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") +
                          "/sextant-demo-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return ReportError(Status::Unavailable("cannot create a temporary directory " + pattern));
    }
    path = pattern;
  }
  Status status = Demo(path, temporary);
  std::fflush(stdout);
  if (!status.ok()) return ReportError(status);
  return kExitOk;
}

}  // namespace sextant::cli
