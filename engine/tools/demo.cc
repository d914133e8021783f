// `sextant demo`: creates a collection of seeded, clustered points, imports them, searches with
// and without a filter, and says what each step did and how long it took.

#include "tools/demo.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
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
  auto created = db->CreateCollection(kName, options);
  if (created.status().code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("collection demo already exists in " + db_path +
                                 "; drop it first (sextant --db " + db_path +
                                 " drop demo) or run the demo without --db");
  }
  SEXTANT_RETURN_IF_ERROR(created.status());
  std::shared_ptr<Collection> collection = std::move(created).value();
  std::printf("1. Created collection \"%s\": %u dimensions, metric l2 (squared Euclidean "
              "distance, lower is nearer).  %s\n",
              kName, kDim, Took(start).c_str());

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
  SEXTANT_ASSIGN_OR_RETURN(uint64_t count, collection->Count());
  std::printf("3. Imported them in batches of %s: the collection now holds %s points.  %s, "
              "%s points/s\n",
              Grouped(kBatch).c_str(), Grouped(count).c_str(), Took(start).c_str(),
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
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(std::vector<Hit> hits, collection->Search(search, query));
  std::printf("\n4. Searched the 5 points nearest to a query near the centre of cluster %u.  %s\n",
              target, Took(start).c_str());
  PrintHitTable(hits);
  std::printf("   %zu of %zu hits are in cluster %u.\n", CountMatching(hits, target, std::nullopt),
              hits.size(), target);

  // 5. The same query with a payload filter.
  const uint32_t other = 8;
  search.filter = "{\"cluster\": " + std::to_string(other) + ", \"even\": true}";
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(hits, collection->Search(search, query));
  std::printf("\n5. Same query, filtered by %s: the nearest even-numbered points of cluster %u, "
              "farther away.  %s\n",
              search.filter.c_str(), other, Took(start).c_str());
  PrintHitTable(hits);
  std::printf("   %zu of %zu hits match the filter.\n", CountMatching(hits, other, true),
              hits.size());

  // 6. A batch of queries: each stored point should find itself first, at distance 0.
  const uint32_t batch = 200;
  SearchOptions batch_options;
  batch_options.k = 10;
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(
      auto results, collection->SearchBatch(batch_options, std::span<const float>(data.vectors)
                                                               .subspan(0, size_t{batch} * kDim)));
  double batch_s = std::chrono::duration<double>(Clock::now() - start).count();
  size_t found_self = 0;
  for (uint32_t i = 0; i < results.size(); ++i) {
    if (!results[i].empty() && results[i][0].id == PointId(uint64_t{i}) &&
        results[i][0].score == 0.0f) {
      ++found_self;
    }
  }
  std::printf("\n6. Searched %u stored points as a batch (k=10, exact): %zu of %u found "
              "themselves first, at distance 0.  %s, %s queries/s\n",
              batch, found_self, batch, Took(start).c_str(),
              Grouped(static_cast<uint64_t>(batch / std::max(batch_s, 1e-9))).c_str());

  // 7. Point reads and deletes.
  start = Clock::now();
  SEXTANT_ASSIGN_OR_RETURN(Point point, collection->Get(PointId(uint64_t{42})));
  std::vector<PointId> doomed(data.ids.begin(), data.ids.begin() + 100);
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, collection->Delete(WriteOptions(), doomed));
  SEXTANT_ASSIGN_OR_RETURN(count, collection->Count());
  std::printf("\n7. Read point 42 back (payload %s), deleted points 0..99 (%s deleted): %s "
              "points remain.  %s\n",
              point.payload.c_str(), Grouped(deleted).c_str(), Grouped(count).c_str(),
              Took(start).c_str());

  std::printf("\nDone in %s. The database stays in %s; try:\n",
              FormatDuration(Clock::now() - demo_start).c_str(), db_path.c_str());
  std::printf("  sextant --db %s info demo\n", db_path.c_str());
  std::printf("  sextant --db %s get demo 142\n", db_path.c_str());
  std::printf("  sextant --db %s search demo -k 3 --with-payload --filter '{\"even\": false}' "
              "--vector \"$(sextant --db %s get demo 142 | jq -c .vector)\"\n",
              db_path.c_str(), db_path.c_str());
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
