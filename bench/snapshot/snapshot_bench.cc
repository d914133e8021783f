// sextant-snapshot-bench: how fast snapshots are taken and restored, through the public API.
//
//   sextant-snapshot-bench [--points N] [--dim D] [--index SPEC] [--dir DIR]
//
// Builds a collection of N random D-dimensional points (default 100,000 x 128, HNSW16) with a
// ~100-byte JSON payload each, then measures, printing one JSON line per step:
//   snapshot          Database::CreateSnapshot of the collection (same file system: hard links)
//   snapshot_db       the same, of the whole database
//   export / import   the tar archive written to a file and read back (verified)
//   restore_collection Database::RestoreCollection into the running database (copies the keys)
//   restore_database  RestoreDatabase into a new directory, plus opening it
// MB/s is the snapshot's size (its files) over the step's wall time. Also reports the longest
// write stall seen by a writer thread running during the snapshot.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sextant/sextant.h"

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void Check(const sextant::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

void Report(const char* step, double seconds, uint64_t bytes, const std::string& extra = "") {
  std::printf("{\"step\":\"%s\",\"seconds\":%.3f,\"mb\":%.1f,\"mb_per_s\":%.1f%s}\n", step, seconds, bytes / 1e6,
              bytes / 1e6 / seconds, extra.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 100000, dim = 128;
  std::string index = "HNSW16", dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--points") n = std::stoul(argv[i + 1]);
    else if (a == "--dim") dim = std::stoul(argv[i + 1]);
    else if (a == "--index") index = argv[i + 1];
    else if (a == "--dir") dir = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: sextant-snapshot-bench [--points N] [--dim D] [--index SPEC] [--dir DIR]\n");
      return 2;
    }
  }
  const bool own_dir = dir.empty();
  if (own_dir) dir = std::filesystem::temp_directory_path() / ("sextant-snapshot-bench-" + std::to_string(getpid()));
  // Never wipe a directory the user named: it must be new or empty.
  if (!own_dir && std::filesystem::exists(dir) && !std::filesystem::is_empty(dir)) {
    std::fprintf(stderr, "sextant-snapshot-bench: --dir %s is not empty\n", dir.c_str());
    return 2;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);

  auto db = sextant::Database::Open({}, dir + "/db");
  Check(db.status(), "open");
  sextant::CollectionOptions o;
  o.dimension = static_cast<uint32_t>(dim);
  o.metric = sextant::Metric::kL2;
  auto spec = sextant::IndexOptions::Parse(index);
  Check(spec.status(), "index");
  o.index = *spec;
  o.payload_indexes = {{"group", sextant::PayloadFieldType::kInteger}};
  auto c = (*db)->CreateCollection("bench", o);
  Check(c.status(), "create");

  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const auto t_load = Clock::now();
  constexpr size_t kBatch = 1000;
  for (size_t first = 0; first < n; first += kBatch) {
    const size_t m = std::min(kBatch, n - first);
    std::vector<sextant::PointId> ids;
    std::vector<float> vecs(m * dim);
    std::vector<std::string> payloads;
    for (float& x : vecs) x = nd(rng);
    for (size_t i = 0; i < m; ++i) {
      ids.emplace_back(uint64_t{first + i});
      payloads.push_back("{\"group\":" + std::to_string((first + i) % 100) + ",\"title\":\"document number " +
                         std::to_string(first + i) + "\",\"tags\":[\"alpha\",\"beta\",\"gamma\"],\"score\":0.5}");
    }
    Check((*c)->Upsert({}, ids, vecs, payloads), "upsert");
  }
  Check((*c)->WaitForIndex(3600 * 1000), "index");
  std::fprintf(stderr, "loaded %zu x %zu (%s) in %.1f s\n", n, dim, index.c_str(), Seconds(t_load));

  // A writer keeps upserting during the snapshot; its longest single write is the stall.
  std::atomic<bool> stop{false};
  std::atomic<double> worst_ms{0};
  std::thread writer([&] {
    std::mt19937 wrng(2);
    std::vector<float> v(dim);
    for (uint64_t i = 0; !stop; ++i) {
      for (float& x : v) x = nd(wrng);
      const auto t0 = Clock::now();
      Check((*c)->Upsert({}, std::vector<sextant::PointId>{sextant::PointId(uint64_t{n + i % 1000})}, v), "write");
      const double ms = Seconds(t0) * 1000;
      if (ms > worst_ms) worst_ms = ms;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  worst_ms = 0;
  sextant::SnapshotOptions so;
  so.directory = dir + "/snaps";
  so.collection = "bench";
  so.name = "one";
  auto t0 = Clock::now();
  auto snap = (*db)->CreateSnapshot(so);
  const double snap_s = Seconds(t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  writer.join();
  Check(snap.status(), "snapshot");
  char extra[96];
  std::snprintf(extra, sizeof extra, ",\"worst_write_ms_during\":%.1f", worst_ms.load());
  Report("snapshot", snap_s, snap->bytes, extra);

  so.collection = "";
  so.name = "whole";
  t0 = Clock::now();
  auto whole = (*db)->CreateSnapshot(so);
  Check(whole.status(), "snapshot db");
  Report("snapshot_db", Seconds(t0), whole->bytes);

  t0 = Clock::now();
  Check(sextant::ExportSnapshotArchive(snap->path, dir + "/one.tar"), "export");
  Report("export", Seconds(t0), snap->bytes);
  t0 = Clock::now();
  auto imported = sextant::ImportSnapshotArchive(dir + "/one.tar", dir + "/snaps", "imported");
  Check(imported.status(), "import");
  Report("import", Seconds(t0), snap->bytes);

  t0 = Clock::now();
  auto restored = (*db)->RestoreCollection(snap->path, "", "restored");
  Check(restored.status(), "restore collection");
  Report("restore_collection", Seconds(t0), snap->bytes,
         ",\"index_origin\":\"" + restored->index_origin + "\"");

  t0 = Clock::now();
  Check(sextant::RestoreDatabase(snap->path, dir + "/restored-db"), "restore database");
  {
    auto db2 = sextant::Database::Open({}, dir + "/restored-db");
    Check(db2.status(), "open restored");
    auto list = (*db2)->ListCollections();
    Check(list.status(), "list");
    Report("restore_database", Seconds(t0), snap->bytes, ",\"index_origin\":\"" + (*list)[0].index_origin + "\"");
  }
  db->reset();
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
