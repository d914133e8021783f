// Fuzz target: loading index checkpoints, for every index type: HNSW, HNSW-SQ8, IVF-Flat, IVF-SQ8
// and IVF-PQ (index::LoadIndex, which opening a collection runs on its checkpoint), and the
// checkpoint file around them (ReadIndexFile).
//
// Input: a mode byte, then bytes.
//   mode bits 0-2  index type (HNSW4, HNSW4,SQ8, IVF4, IVF4,SQ8, IVF4,PQ4), modulo 5
//   mode bits 3-4  metric (l2, ip, cosine), modulo 3
//   mode bit  6    the bytes are an index file (ReadIndexFile) instead of an index
//   mode bit  7    append the checksum the format ends with (Hash64 of the bytes), so that mutations
//                  reach the parser behind it instead of all failing the checksum
// The store holds 300 rows of dimension 8 (capacity 1024), as a collection's would.
// Checked beyond "no crash, no sanitizer report": a loaded index answers searches with slots that
// are allowed and in the store, takes an Add and a Remove, consolidates, and what it saves loads
// again and saves to the same bytes.
//
// Seeds: real checkpoints of each type. SEXTANT_FUZZ_WRITE_SEEDS=<dir> makes the binary write
// them into <dir> and exit (scripts/fuzz.sh --seeds).
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "collection/index_file.h"
#include "fuzz_util.h"
#include "index/vector_index.h"
#include "storage/files.h"
#include "util/hash.h"

using sextant::Metric;
using sextant::fuzz::Check;
using sextant::index::VectorStore;

namespace {

constexpr size_t kDim = 8;
constexpr uint32_t kRows = 300;
constexpr const char* kSpecs[] = {"HNSW4", "HNSW4,SQ8", "IVF4", "IVF4,SQ8", "IVF4,PQ4"};
constexpr Metric kMetrics[] = {Metric::kL2, Metric::kInnerProduct, Metric::kCosine};

const VectorStore& Store() {
  static const VectorStore* store = [] {
    auto* s = new VectorStore(kDim);
    s->Reserve(kRows);
    uint64_t x = 88172645463325252ull;
    for (uint32_t r = 0; r < kRows; ++r) {
      float* row = s->Row(r);
      double norm = 0;
      for (size_t d = 0; d < kDim; ++d) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        row[d] = static_cast<float>(x % 2001) / 1000.0f - 1.0f;
        norm += double{row[d]} * row[d];
      }
      // Unit length, so the same rows serve cosine (whose vectors arrive normalised).
      for (size_t d = 0; d < kDim; ++d) row[d] = static_cast<float>(row[d] / std::sqrt(norm + 1e-12));
    }
    return s;
  }();
  return *store;
}

sextant::IndexOptions Options(int type) {
  auto o = sextant::IndexOptions::Parse(kSpecs[type]);
  Check(o.ok(), "bad spec", kSpecs[type]);
  o->ef_construction = 16;
  return *o;
}

// Builds, fills and saves an index of each type (the seeds).
std::string BuildAndSave(int type, Metric metric) {
  auto index = sextant::index::CreateIndex(Options(type), metric, &Store());
  Check(index.ok(), "create", index.status().ToString());
  if ((*index)->NeedsTraining()) {
    Check((*index)->Train(Store().Row(0), kRows).ok(), "train");
  }
  for (uint32_t s = 0; s < 200; ++s) Check((*index)->Add(s).ok(), "add");
  for (uint32_t s = 0; s < 200; s += 17) (*index)->Remove(s);
  std::string out;
  Check((*index)->Save(&out).ok(), "save");
  return out;
}

void WriteSeeds(const char* dir) {
  auto put = [&](const std::string& name, uint8_t mode, std::string_view bytes) {
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  for (int type = 0; type < 5; ++type) {
    for (int m = 0; m < 3; ++m) {
      if (m == 2 && type != 0 && type != 2) continue;  // cosine only for two types: fewer, smaller seeds
      const std::string saved = BuildAndSave(type, kMetrics[m]);
      const uint8_t mode = static_cast<uint8_t>(type | (m << 3));
      const bool ivf = type >= 2;
      // IVF ends with a checksum: store the bytes before it, with bit 7 set to append it.
      if (ivf) {
        put(std::string(kSpecs[type]) + "-" + std::to_string(m), mode | 0x80,
            std::string_view(saved).substr(0, saved.size() - 8));
      } else {
        put(std::string(kSpecs[type]) + "-" + std::to_string(m), mode, saved);
      }
      if (m == 0) {
        // The same index inside a checkpoint file (checksum appended by the harness).
        sextant::IndexFile f;
        f.collection_id = 7;
        f.dimension = kDim;
        f.metric = kMetrics[m];
        f.index_spec = kSpecs[type];
        f.sequence = 1234;
        for (uint32_t s = 0; s < 200; ++s) f.fingerprints.push_back(sextant::VectorFingerprint(Store().Row(s), kDim));
        f.index_bytes = saved;
        const std::string path = std::string(dir) + "/file.tmp.sxi";
        Check(sextant::WriteIndexFile(sextant::storage::Files(), path, f).ok(), "write index file");
        std::ifstream in(path, std::ios::binary);
        std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::remove(path.c_str());
        put(std::string("file-") + kSpecs[type], mode | 0x40 | 0x80, std::string_view(file).substr(0, file.size() - 8));
      }
    }
  }
}

std::string AppendChecksum(std::string_view bytes) {
  std::string out(bytes);
  const uint64_t sum = sextant::internal::Hash64(out.data(), out.size());
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(sum >> (8 * i)));
  return out;
}

void ExerciseLoaded(sextant::index::VectorIndex& index, const sextant::IndexOptions& options, Metric metric) {
  const VectorStore& store = Store();
  const size_t size = index.Size();
  Check(size <= store.capacity(), "more slots than the store holds");
  (void)index.MemoryBytes();
  (void)index.PendingRemovals();
  (void)index.Spec();

  std::vector<uint8_t> mask(kRows, 1);
  for (uint32_t s = 0; s < kRows; s += 3) mask[s] = 0;
  sextant::index::IndexSearchParams params;
  params.k = 5;
  params.mask = mask.data();
  params.mask_size = mask.size();
  params.allowed = kRows - (kRows + 2) / 3;
  std::vector<sextant::index::Neighbor> out;
  sextant::index::IndexSearchStats stats;
  sextant::Status s = index.Search(store.Row(1), params, &out, &stats);
  if (s.ok()) {
    Check(out.size() <= params.k, "search returned more than k");
    for (const auto& n : out) {
      Check(n.slot < mask.size() && mask[n.slot], "search returned a slot the mask excludes",
            std::to_string(n.slot));
    }
  }

  // Writes on top of the loaded structure.
  uint32_t fresh = kRows - 1;
  while (fresh > 0 && index.Holds(fresh)) --fresh;
  if (!index.Holds(fresh)) (void)index.Add(fresh);
  for (uint32_t slot = 0; slot < kRows; ++slot) {
    if (index.Holds(slot)) {
      index.Remove(slot);
      break;
    }
  }
  for (uint32_t slot : index.Consolidate()) Check(slot < store.capacity(), "consolidate released a bad slot");

  // What it saves loads again, and saves to the same bytes.
  std::string saved;
  if (!index.Save(&saved).ok()) return;
  auto again = sextant::index::LoadIndex(saved, options, metric, &store);
  Check(again.ok(), "a saved index does not load", again.status().ToString());
  std::string saved2;
  Check((*again)->Save(&saved2).ok() && saved2 == saved, "save -> load -> save changes the bytes");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("SEXTANT_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sextant::fuzz::Input in(data, size);
  const uint8_t mode = in.Byte();
  const int type = (mode & 7) % 5;
  const Metric metric = kMetrics[((mode >> 3) & 3) % 3];
  std::string bytes(in.Rest());
  if (mode & 0x80) bytes = AppendChecksum(bytes);

  if (mode & 0x40) {
    // A checkpoint file: read it from disk as the collection does, then load the index it holds.
    static const std::string path = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                                    "/sextant_index_fuzz_" + std::to_string(getpid()) + ".sxi";
    static struct Remove { ~Remove() { std::remove(path.c_str()); } } remove_at_exit;
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    static const sextant::storage::Files files;
    auto file = sextant::ReadIndexFile(files, path);
    if (!file.ok()) {
      Check(file.status().code() == sextant::StatusCode::kDataLoss, "a bad index file is not DataLoss",
            file.status().ToString());
      return 0;
    }
    if (file->dimension != kDim) return 0;
    auto options = sextant::IndexOptions::Parse(file->index_spec);
    if (!options.ok() || options->type == sextant::IndexType::kFlat) return 0;
    if (!options->Validate(kDim).ok() || options->m > 32 || options->nlist > 64) return 0;  // keep inputs small
    auto index = sextant::index::LoadIndex(file->index_bytes, *options, file->metric, &Store());
    if (index.ok()) ExerciseLoaded(**index, *options, file->metric);
    return 0;
  }

  auto index = sextant::index::LoadIndex(bytes, Options(type), metric, &Store());
  if (!index.ok()) {
    const auto code = index.status().code();
    Check(code == sextant::StatusCode::kDataLoss || code == sextant::StatusCode::kResourceExhausted,
          "a bad checkpoint is neither DataLoss nor ResourceExhausted", index.status().ToString());
    return 0;
  }
  ExerciseLoaded(**index, Options(type), metric);
  return 0;
}
