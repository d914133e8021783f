#include "collection/index_file.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "util/hash.h"

namespace sextant {
namespace {

constexpr std::string_view kMagic = "SXTIDX01";
constexpr uint32_t kVersion = 1;

void PutU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void PutU64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U32(uint32_t* v) { return Bytes(4, v); }
  bool U64(uint64_t* v) { return Bytes(8, v); }
  bool Take(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  size_t left() const { return in_.size(); }

 private:
  bool Bytes(size_t n, void* out) {
    if (in_.size() < n) return false;
    std::memcpy(out, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace

std::string IndexFilePath(const std::string& index_dir, uint32_t collection_id) {
  return index_dir + "/" + std::to_string(collection_id) + ".sxi";
}

uint64_t VectorFingerprint(const float* v, size_t dim) {
  return internal::Hash64(v, dim * sizeof(float), 0x5e7a) | 1;
}

Status WriteIndexFile(const storage::Files& files, const std::string& path, const IndexFile& file) {
  std::string out;
  out.reserve(64 + file.fingerprints.size() * 8 + file.index_bytes.size());
  out += kMagic;
  PutU32(&out, kVersion);
  const std::string header = nlohmann::json{{"collection_id", file.collection_id},
                                            {"dimension", file.dimension},
                                            {"metric", std::string(MetricName(file.metric))},
                                            {"index", file.index_spec},
                                            {"sequence", file.sequence}}
                                 .dump();
  PutU32(&out, static_cast<uint32_t>(header.size()));
  out += header;
  PutU64(&out, file.fingerprints.size());
  if (!file.fingerprints.empty()) {
    out.append(reinterpret_cast<const char*>(file.fingerprints.data()), file.fingerprints.size() * 8);
  }
  PutU64(&out, file.index_bytes.size());
  out += file.index_bytes;
  PutU64(&out, internal::Hash64(out.data(), out.size()));

  return files.WriteAtomically(path, out);
}

StatusOr<IndexFile> ReadIndexFile(const storage::Files& files, const std::string& path) {
  StatusOr<std::string> read = files.Read(path);
  if (!read.ok()) {
    if (read.status().code() == StatusCode::kNotFound) return Status::NotFound("no index file " + path);
    return read.status();
  }
  const std::string data = std::move(read).value();
  auto corrupt = [&](std::string_view why) { return Status::DataLoss("index file " + path + ": " + std::string(why)); };
  if (data.size() < kMagic.size() + 4 + 4 + 8 + 8 + 8) return corrupt("too short");
  uint64_t stored;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (internal::Hash64(data.data(), data.size() - 8) != stored) return corrupt("checksum mismatch");
  Reader r(std::string_view(data).substr(0, data.size() - 8));
  std::string_view magic, header_text, fps, bytes;
  uint32_t version = 0, header_len = 0;
  uint64_t n_fps = 0, index_len = 0;
  if (!r.Take(kMagic.size(), &magic) || magic != kMagic) return corrupt("not an index file");
  if (!r.U32(&version) || version != kVersion) return corrupt("unknown version");
  if (!r.U32(&header_len) || !r.Take(header_len, &header_text)) return corrupt("bad header");
  if (!r.U64(&n_fps) || n_fps > r.left() / 8 || !r.Take(n_fps * 8, &fps)) return corrupt("bad fingerprints");
  if (!r.U64(&index_len) || index_len != r.left() || !r.Take(index_len, &bytes)) return corrupt("bad index length");
  nlohmann::json h = nlohmann::json::parse(header_text, nullptr, false);
  if (!h.is_object() || !h["collection_id"].is_number_unsigned() || !h["dimension"].is_number_unsigned() ||
      !h["metric"].is_string() || !h["index"].is_string() || !h["sequence"].is_number_unsigned()) {
    return corrupt("bad header fields");
  }
  auto metric = ParseMetric(h["metric"].get<std::string>());
  if (!metric.ok()) return corrupt("bad metric");
  IndexFile f;
  f.collection_id = h["collection_id"].get<uint32_t>();
  f.dimension = h["dimension"].get<uint32_t>();
  f.metric = *metric;
  f.index_spec = h["index"].get<std::string>();
  f.sequence = h["sequence"].get<uint64_t>();
  f.fingerprints.resize(n_fps);
  if (n_fps > 0) std::memcpy(f.fingerprints.data(), fps.data(), fps.size());  // data() may be null when empty
  f.index_bytes.assign(bytes);
  return f;
}

}  // namespace sextant
