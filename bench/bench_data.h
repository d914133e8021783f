// Data sets and small helpers shared by the benchmark tools (bench/ann/sextant_bench.cc,
// bench/server/server_bench.cc): TEXMEX vector files (.fvecs, .bvecs, .ivecs) read a block at a
// time, the seeded synthetic gaussian mixture (bench/README.md, "The synthetic data set"), exact
// ground truth by brute force, and JSON lines, percentiles and scratch directories.
//
// Header-only so that each tool stays one .cc file; everything is in namespace sextant::bench.
#ifndef SEXTANT_BENCH_BENCH_DATA_H_
#define SEXTANT_BENCH_BENCH_DATA_H_

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "sextant/sextant.h"
#include "tools/vector_file.h"

namespace sextant::bench {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// Command-line numbers.

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "16,32,64" -> {16, 32, 64}; every value >= 1.
inline bool ParseList(std::string_view s, std::vector<uint32_t>* out) {
  out->clear();
  while (true) {
    size_t comma = s.find(',');
    uint32_t v = 0;
    if (!ParseNumber(s.substr(0, comma), &v) || v == 0) return false;
    out->push_back(v);
    if (comma == std::string_view::npos) return true;
    s.remove_prefix(comma + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// TEXMEX vector files (.fvecs, .bvecs, .ivecs): the one reader and writer, tools/vector_file.h.

using VecsFile = vecfile::TexmexFile;
using VecsWriter = vecfile::TexmexWriter;

// ---------------------------------------------------------------------------------------------
// The synthetic data set: a seeded gaussian mixture, generated row by row so that a million
// points never need to be held. Bit-for-bit the same on every platform: the random numbers come
// from std::mt19937_64 (whose output the standard fixes) through our own uniform and Box-Muller
// transforms, not the implementation-defined std distributions.
//
//   clusters      C = ceil(sqrt(N))
//   centre c      N(0, 1) in every dimension
//   spread c      uniform in [0.5, 1.5]  (the cluster's standard deviation, before scaling):
//                 clusters overlap, so neighbours often lie in another cluster, as in real data
//   scale j       1 / sqrt(1 + p(j)) for a random permutation p of 0..D-1: variance falls off
//                 across dimensions as in real embeddings (intrinsic dimension well below D),
//                 spread over the vector rather than sorted, so PQ sub-spaces are alike
//   point         c uniform in 0..C-1;  x_j = scale_j * (centre_c,j + spread_c * N(0, 1))
// Base points and queries draw from the same mixture with different streams.

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in 0..n-1.
  uint64_t Below(uint64_t n) { return std::min<uint64_t>(static_cast<uint64_t>(Uniform() * n), n - 1); }
  // Standard normal, Box-Muller; the second value of each pair serves the next call.
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0;
    while (u1 <= 0) u1 = Uniform();
    const double u2 = Uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2 * std::numbers::pi * u2);
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// A seed for stream `stream` of `seed` (splitmix64 finaliser), so base and queries differ.
inline uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class GaussianMixture {
 public:
  GaussianMixture(uint64_t n, uint32_t dim, uint64_t seed) : dim_(dim) {
    Rng rng(StreamSeed(seed, 0));
    clusters_ = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(std::sqrt(static_cast<double>(n)))));
    std::vector<uint32_t> perm(dim);
    for (uint32_t j = 0; j < dim; ++j) perm[j] = j;
    for (uint32_t j = dim; j > 1; --j) std::swap(perm[j - 1], perm[rng.Below(j)]);
    scale_.resize(dim);
    for (uint32_t j = 0; j < dim; ++j) scale_[j] = 1.0 / std::sqrt(1.0 + perm[j]);
    centres_.resize(clusters_ * dim);
    for (double& c : centres_) c = rng.Normal();
    spread_.resize(clusters_);
    for (double& s : spread_) s = 0.5 + rng.Uniform();
  }

  void Sample(Rng* rng, float* out) const {
    const uint64_t c = rng->Below(clusters_);
    const double* centre = centres_.data() + c * dim_;
    for (uint32_t j = 0; j < dim_; ++j) {
      out[j] = static_cast<float>(scale_[j] * (centre[j] + spread_[c] * rng->Normal()));
    }
  }

  uint64_t clusters() const { return clusters_; }

 private:
  uint32_t dim_;
  uint64_t clusters_ = 1;
  std::vector<double> scale_;
  std::vector<double> centres_;
  std::vector<double> spread_;
};

// ---------------------------------------------------------------------------------------------
// Where the base vectors come from: a file or the generator, read a block at a time, and
// restartable (the ground truth is a second pass).

class BaseSource {
 public:
  virtual ~BaseSource() = default;
  virtual uint64_t rows() const = 0;
  virtual uint32_t dim() const = 0;
  // Fills `out` with up to `max_rows` rows (resizing it); returns the number read, 0 at the end.
  virtual StatusOr<size_t> Next(size_t max_rows, std::vector<float>* out) = 0;
  virtual Status Rewind() = 0;
};

class FileSource : public BaseSource {
 public:
  FileSource(std::unique_ptr<VecsFile> file, uint64_t rows) : file_(std::move(file)), rows_(rows) {}
  uint64_t rows() const override { return rows_; }
  uint32_t dim() const override { return file_->dim(); }
  StatusOr<size_t> Next(size_t max_rows, std::vector<float>* out) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - done_));
    out->resize(n * dim());
    if (n == 0) return n;
    SEXTANT_ASSIGN_OR_RETURN(size_t got, file_->Read(n, out->data()));
    if (got != n) return Status::DataLoss(file_->path() + ": ended early");
    done_ += n;
    return n;
  }
  Status Rewind() override {
    done_ = 0;
    return file_->Rewind();
  }

 private:
  std::unique_ptr<VecsFile> file_;
  uint64_t rows_;
  uint64_t done_ = 0;
};

class SyntheticSource : public BaseSource {
 public:
  SyntheticSource(const GaussianMixture* mixture, uint64_t rows, uint32_t dim, uint64_t seed)
      : mixture_(mixture), rows_(rows), dim_(dim), seed_(seed), rng_(StreamSeed(seed, 1)) {}
  uint64_t rows() const override { return rows_; }
  uint32_t dim() const override { return dim_; }
  StatusOr<size_t> Next(size_t max_rows, std::vector<float>* out) override {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - done_));
    out->resize(n * dim_);
    for (size_t r = 0; r < n; ++r) mixture_->Sample(&rng_, out->data() + r * dim_);
    done_ += n;
    return n;
  }
  Status Rewind() override {
    rng_ = Rng(StreamSeed(seed_, 1));
    done_ = 0;
    return Status::OK();
  }

 private:
  const GaussianMixture* mixture_;
  uint64_t rows_;
  uint32_t dim_;
  uint64_t seed_;
  Rng rng_;
  uint64_t done_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Exact k-NN by brute force, streaming over the base set: the ground truth when no --gt is given.
// Independent of the engine, so it also checks the engine's exact path.

inline float L2Sq(const float* a, const float* b, uint32_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // eight lanes so the compiler can vectorise
  uint32_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int u = 0; u < 8; ++u) {
      const float t = a[j + u] - b[j + u];
      acc[u] += t * t;
    }
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

inline float Dot(const float* a, const float* b, uint32_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int u = 0; u < 8; ++u) acc[u] += a[j + u] * b[j + u];
  }
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; j < d; ++j) s += a[j] * b[j];
  return s;
}

inline void Normalize(float* v, uint32_t d) {
  double norm = 0;
  for (uint32_t j = 0; j < d; ++j) norm += double{v[j]} * v[j];
  if (norm > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (uint32_t j = 0; j < d; ++j) v[j] *= inv;
  }
}

// The k nearest base rows of each query, nearest first (ties: lower id first), as nq * k ids.
inline StatusOr<std::vector<uint64_t>> BruteForce(BaseSource* base, const std::vector<float>& queries,
                                                  Metric metric, uint32_t k) {
  const uint32_t dim = base->dim();
  const size_t nq = queries.size() / dim;
  std::vector<float> q = queries;
  if (metric == Metric::kCosine) {
    for (size_t i = 0; i < nq; ++i) Normalize(q.data() + i * dim, dim);
  }
  // Lower is nearer in every metric: squared L2, or minus the (cosine or inner) product.
  using Entry = std::pair<float, uint64_t>;
  std::vector<std::vector<Entry>> heaps(nq);  // max-heaps of the k best so far
  for (auto& h : heaps) h.reserve(k);
  const unsigned workers =
      static_cast<unsigned>(std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(nq, 1)));
  SEXTANT_RETURN_IF_ERROR(base->Rewind());
  std::vector<float> chunk;
  uint64_t first_id = 0;
  while (true) {
    SEXTANT_ASSIGN_OR_RETURN(size_t rows, base->Next(8192, &chunk));
    if (rows == 0) break;
    if (metric == Metric::kCosine) {
      for (size_t r = 0; r < rows; ++r) Normalize(chunk.data() + r * dim, dim);
    }
    auto work = [&](size_t q_begin, size_t q_end) {
      for (size_t i = q_begin; i < q_end; ++i) {
        const float* qi = q.data() + i * dim;
        std::vector<Entry>& heap = heaps[i];
        for (size_t r = 0; r < rows; ++r) {
          const float* x = chunk.data() + r * dim;
          const float dist = metric == Metric::kL2 ? L2Sq(qi, x, dim) : -Dot(qi, x, dim);
          const Entry e{dist, first_id + r};
          if (heap.size() < k) {
            heap.push_back(e);
            std::push_heap(heap.begin(), heap.end());
          } else if (e < heap.front()) {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = e;
            std::push_heap(heap.begin(), heap.end());
          }
        }
      }
    };
    std::vector<std::thread> pool;
    const size_t per = (nq + workers - 1) / workers;
    for (unsigned w = 1; w < workers; ++w) {
      const size_t b = std::min(nq, w * per), e = std::min(nq, (w + 1) * per);
      if (b < e) pool.emplace_back(work, b, e);
    }
    work(0, std::min(nq, per));
    for (auto& t : pool) t.join();
    first_id += rows;
  }
  std::vector<uint64_t> ids(nq * k, UINT64_MAX);
  for (size_t i = 0; i < nq; ++i) {
    std::sort_heap(heaps[i].begin(), heaps[i].end());
    for (size_t j = 0; j < heaps[i].size(); ++j) ids[i * k + j] = heaps[i][j].second;
  }
  return ids;
}

// Reads the first k ids of the first nq rows of an .ivecs ground-truth file.
inline StatusOr<std::vector<uint64_t>> ReadGroundTruth(const std::string& path, size_t nq, uint32_t k) {
  SEXTANT_ASSIGN_OR_RETURN(auto file, VecsFile::Open(path));
  if (*file->rows() < nq) {
    return Status::InvalidArgument(path + ": " + std::to_string(*file->rows()) + " rows of ground truth for " +
                                   std::to_string(nq) + " queries");
  }
  if (file->dim() < k) {
    return Status::InvalidArgument(path + ": " + std::to_string(file->dim()) + " neighbours per query, fewer than k = " +
                                   std::to_string(k));
  }
  std::vector<int32_t> rows(nq * file->dim());
  SEXTANT_ASSIGN_OR_RETURN(size_t got, file->Read(nq, rows.data()));
  if (got != nq) return Status::DataLoss(path + ": ended early");
  std::vector<uint64_t> ids(nq * k);
  for (size_t i = 0; i < nq; ++i) {
    for (uint32_t j = 0; j < k; ++j) {
      const int32_t id = rows[i * file->dim() + j];
      if (id < 0) return Status::InvalidArgument(path + ": negative id in row " + std::to_string(i));
      ids[i * k + j] = static_cast<uint64_t>(id);
    }
  }
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Small helpers: memory, time, directories, JSON.

// A field of /proc/self/status in MiB ("VmRSS", "VmHWM"); -1 when unavailable.
inline double ProcStatusMb(std::string_view field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  double mb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    std::string_view l(line);
    if (l.starts_with(field) && l.size() > field.size() && l[field.size()] == ':') {
      mb = std::strtod(line + field.size() + 1, nullptr) / 1024.0;  // the value is in kB
      break;
    }
  }
  std::fclose(f);
  return mb;
}

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A directory that is removed with its contents on destruction unless released.
class ScratchDir {
 public:
  ScratchDir() = default;
  ~ScratchDir() {
    if (!path_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  Status Create(std::string_view prefix = "sextant-bench") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return Status::Internal("mkdtemp " + tmpl + ": " + std::strerror(errno));
    path_ = tmpl;
    return Status::OK();
  }
  const std::string& path() const { return path_; }
  std::string Release() { return std::exchange(path_, std::string()); }

 private:
  std::string path_;
};

// One JSON object on one line, keys in insertion order.
class JsonLine {
 public:
  JsonLine& Str(std::string_view key, std::string_view value) {
    Key(key);
    Quote(value);
    return *this;
  }
  JsonLine& Int(std::string_view key, uint64_t value) {
    Key(key);
    out_ += std::to_string(value);
    return *this;
  }
  // `decimals` digits after the point; non-finite values become null.
  JsonLine& Num(std::string_view key, double value, int decimals) {
    Key(key);
    if (!std::isfinite(value)) {
      out_ += "null";
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
      out_ += buf;
    }
    return *this;
  }
  JsonLine& Raw(std::string_view key, std::string_view json) {
    Key(key);
    out_ += json;
    return *this;
  }
  std::string Done() const { return out_ + "}"; }

 private:
  void Key(std::string_view key) {
    out_ += out_.size() == 1 ? "" : ",";
    Quote(key);
    out_ += ':';
  }
  void Quote(std::string_view s) {
    out_ += '"';
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out_ += buf;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  std::string out_ = "{";
};

// The nearest-rank percentile p (0..1) of sorted values.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return NAN;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}
// ---------------------------------------------------------------------------------------------
// A data set: the base vectors (streamed), the queries, and where the ground truth comes from.

// Where the vectors come from: files (base_path and query_path, optionally gt_path) or the
// generator (synthetic). The fields are the flags of the same names (sextant-bench --help).
struct DataSpec {
  std::string base_path;
  std::string query_path;
  std::string gt_path;
  bool synthetic = false;
  uint64_t synthetic_n = 0;
  uint32_t synthetic_dim = 0;
  std::optional<uint64_t> queries;  // default: all the file's, or 1000 synthetic
  uint64_t seed = 42;
  uint64_t max_base = 0;  // 0: all
};

// "N,D" (both >= 1) into spec->synthetic_n and synthetic_dim, and sets spec->synthetic; false
// when malformed.
inline bool ParseSynthetic(std::string_view value, DataSpec* spec) {
  const size_t comma = value.find(',');
  if (comma == std::string_view::npos || !ParseNumber(value.substr(0, comma), &spec->synthetic_n) ||
      !ParseNumber(value.substr(comma + 1), &spec->synthetic_dim) || spec->synthetic_n == 0 ||
      spec->synthetic_dim == 0) {
    return false;
  }
  spec->synthetic = true;
  return true;
}

// Applies one of the data flags every benchmark tool takes (--base, --query, --gt, --synthetic,
// --queries, --seed, --max-base) to `spec`. Returns std::nullopt when `name` is not a data flag,
// "" when it was applied, or what is wrong with `value`.
inline std::optional<std::string> ApplyDataFlag(std::string_view name, std::string_view value, DataSpec* spec) {
  if (name == "--base") {
    spec->base_path = value;
  } else if (name == "--query") {
    spec->query_path = value;
  } else if (name == "--gt") {
    spec->gt_path = value;
  } else if (name == "--synthetic") {
    if (!ParseSynthetic(value, spec)) return "expected N,D with N, D >= 1, e.g. 100000,128";
  } else if (name == "--queries") {
    uint64_t q = 0;
    if (!ParseNumber(value, &q) || q == 0) return "expected a number >= 1";
    spec->queries = q;
  } else if (name == "--seed") {
    if (!ParseNumber(value, &spec->seed)) return "expected a number";
  } else if (name == "--max-base") {
    if (!ParseNumber(value, &spec->max_base) || spec->max_base == 0) return "expected a number >= 1";
  } else {
    return std::nullopt;
  }
  return std::string();
}

// What OpenDataset opens.
struct Dataset {
  std::string name;
  std::unique_ptr<GaussianMixture> mixture;  // synthetic only
  std::unique_ptr<BaseSource> base;
  std::vector<float> queries;  // nq * dim, as given (not normalised)
  size_t nq = 0;
  std::string gt_path;  // usable ground truth file, or empty: compute
};

// Opens the base and query vectors that `spec` names (files or the generator). `tool` prefixes
// the messages on stderr.
inline Status OpenDataset(const DataSpec& spec, std::string_view tool, Dataset* ds) {
  if (spec.synthetic) {
    const uint64_t n = spec.max_base ? std::min(spec.max_base, spec.synthetic_n) : spec.synthetic_n;
    const uint32_t dim = spec.synthetic_dim;
    if (dim > sextant::CollectionOptions::kMaxDimension) return Status::InvalidArgument("--synthetic: D too large");
    ds->name = "synthetic-" + std::to_string(spec.synthetic_n) + "x" + std::to_string(dim) + "-s" +
               std::to_string(spec.seed);
    // The mixture depends on the full N (its cluster count), so --max-base takes a prefix of the
    // same data.
    ds->mixture = std::make_unique<GaussianMixture>(spec.synthetic_n, dim, spec.seed);
    ds->base = std::make_unique<SyntheticSource>(ds->mixture.get(), n, dim, spec.seed);
    ds->nq = spec.queries.value_or(1000);
    ds->queries.resize(ds->nq * dim);
    Rng rng(StreamSeed(spec.seed, 2));
    for (size_t i = 0; i < ds->nq; ++i) ds->mixture->Sample(&rng, ds->queries.data() + i * dim);
    return Status::OK();
  }
  SEXTANT_ASSIGN_OR_RETURN(auto base_file, VecsFile::Open(spec.base_path));
  const uint64_t total = *base_file->rows();
  const uint64_t n = spec.max_base ? std::min(spec.max_base, total) : total;
  SEXTANT_ASSIGN_OR_RETURN(auto query_file, VecsFile::Open(spec.query_path));
  if (query_file->dim() != base_file->dim()) {
    return Status::InvalidArgument(spec.query_path + ": dimension " + std::to_string(query_file->dim()) +
                                   ", but the base vectors have " + std::to_string(base_file->dim()));
  }
  ds->nq = static_cast<size_t>(std::min<uint64_t>(spec.queries.value_or(*query_file->rows()), *query_file->rows()));
  ds->queries.resize(ds->nq * base_file->dim());
  SEXTANT_ASSIGN_OR_RETURN(size_t got, query_file->Read(ds->nq, ds->queries.data()));
  if (got != ds->nq) return Status::DataLoss(spec.query_path + ": ended early");
  std::string stem = std::filesystem::path(spec.base_path).stem().string();
  if (stem.ends_with("_base")) stem.resize(stem.size() - 5);
  ds->name = stem;
  if (!spec.gt_path.empty()) {
    if (n < total) {
      std::fprintf(stderr, "%.*s: --max-base %" PRIu64 " < %" PRIu64 " rows: ignoring --gt, computing the ground truth\n",
                   static_cast<int>(tool.size()), tool.data(), n, total);
    } else {
      ds->gt_path = spec.gt_path;
    }
  }
  ds->base = std::make_unique<FileSource>(std::move(base_file), n);
  return Status::OK();
}

// The first k true neighbours of each query (nq * k ids): from the ground-truth file, or by brute
// force over the base set for `metric`.
inline StatusOr<std::vector<uint64_t>> GroundTruth(Dataset* ds, Metric metric, uint32_t k, std::string_view tool) {
  if (!ds->gt_path.empty()) return ReadGroundTruth(ds->gt_path, ds->nq, k);
  std::fprintf(stderr, "%.*s: computing exact ground truth (%zu queries x %" PRIu64 " points)...\n",
               static_cast<int>(tool.size()), tool.data(), ds->nq, ds->base->rows());
  const auto t0 = Clock::now();
  auto ids = BruteForce(ds->base.get(), ds->queries, metric, k);
  std::fprintf(stderr, "%.*s: ground truth in %.1f s\n", static_cast<int>(tool.size()), tool.data(),
               Seconds(Clock::now() - t0));
  return ids;
}

}  // namespace sextant::bench

#endif  // SEXTANT_BENCH_BENCH_DATA_H_
