#include "collection/index_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

Status Errno(const std::string& what) { return Status::Unavailable(what + ": " + std::strerror(errno)); }

}  // namespace

std::string IndexFilePath(const std::string& index_dir, uint32_t collection_id) {
  return index_dir + "/" + std::to_string(collection_id) + ".sxi";
}

uint64_t VectorFingerprint(const float* v, size_t dim) {
  return internal::Hash64(v, dim * sizeof(float), 0x5e7a) | 1;
}

Status WriteIndexFile(const std::string& path, const IndexFile& file) {
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

  const std::filesystem::path target(path);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + tmp);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("writing " + tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("syncing " + tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("renaming " + tmp);
  int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::OK();
}

StatusOr<IndexFile> ReadIndexFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("no index file " + path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
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
