#include "db/snapshot_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "util/hash.h"

namespace sextant::snapshot_internal {
namespace fs = std::filesystem;
namespace {

Status Errno(const std::string& what) {
  const int e = errno;
  if (e == ENOSPC || e == EDQUOT) return Status::ResourceExhausted(what + ": " + std::strerror(e));
  return Status::Unavailable(what + ": " + std::strerror(e));
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool ParseHex(const std::string& s, uint64_t* out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// The manifest's JSON without its "checksum" member, in the canonical form that is hashed.
nlohmann::json ToJson(const Manifest& m) {
  const SnapshotInfo& i = m.info;
  nlohmann::json colls = nlohmann::json::array();
  for (size_t k = 0; k < i.collections.size(); ++k) {
    const SnapshotCollection& c = i.collections[k];
    colls.push_back({{"name", c.name},
                     {"id", m.collection_ids[k]},
                     {"dimension", c.dimension},
                     {"metric", std::string(MetricName(c.metric))},
                     {"index", c.index},
                     {"count", c.count},
                     {"index_checkpoint", c.has_index_checkpoint}});
  }
  nlohmann::json files = nlohmann::json::array();
  for (const ManifestFile& f : m.files) files.push_back({{"path", f.path}, {"bytes", f.bytes}, {"checksum", Hex(f.checksum)}});
  return {{"format", "sextant-snapshot"},
          {"format_version", i.format_version},
          {"name", i.name},
          {"scope", i.scope},
          {"created_ms", i.created_ms},
          {"sequence", i.sequence},
          {"sextant_version", i.sextant_version},
          {"collections", std::move(colls)},
          {"files", std::move(files)}};
}

}  // namespace

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.size() > 200) return false;
  int depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || ++depth > 3) return false;
    for (char c : part) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-' || c == '.';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

StatusOr<std::string> MakeStagingDir(const std::string& parent, std::string_view tag) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Status::Unavailable("cannot create directory " + parent + ": " + ec.message());
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string dir = parent + "/" + std::string(kTmpPrefix) + std::string(tag) + "-" + Hex(rd() ^ (uint64_t{rd()} << 32)).substr(8);
    if (fs::create_directory(dir, ec)) return dir;
    if (ec) return Status::Unavailable("cannot create directory " + dir + ": " + ec.message());
  }
  return Status::Internal("cannot find a free staging directory name in " + parent);
}

StatusOr<ManifestFile> ChecksumFile(const std::string& root, const std::string& relative) {
  const std::string path = root + "/" + relative;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("missing file " + relative);
    return Errno("opening " + path);
  }
  internal::StreamHash64 h;
  std::vector<char> buf(internal::StreamHash64::kBlock);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("reading " + path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return ManifestFile{relative, total, h.Final()};
}

StatusOr<std::vector<std::string>> ListFiles(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root).generic_string();
    if (rel != kManifestName) out.push_back(std::move(rel));
  }
  if (ec) return Status::Unavailable("listing " + root + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return directory ? Status::OK() : Errno("opening " + path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && !directory) return Errno("syncing " + path);
  return Status::OK();
}

Status CopyFileSynced(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    if (ec == std::errc::no_space_on_device) return Status::ResourceExhausted("copying " + from + ": " + ec.message());
    return Status::Unavailable("copying " + from + " to " + to + ": " + ec.message());
  }
  return SyncPath(to, false);
}

Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) return Status::AlreadyExists(to + " already exists");
    if (errno != EINVAL && errno != ENOSYS) return Errno("renaming " + from + " to " + to);
    // The file system lacks RENAME_NOREPLACE: check, then rename (callers own the directory).
    std::error_code ec;
    if (fs::exists(to, ec)) return Status::AlreadyExists(to + " already exists");
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("renaming " + from + " to " + to);
  }
  return SyncPath(fs::path(to).parent_path().string(), true);
}

Status WriteManifest(const std::string& root, const Manifest& m) {
  nlohmann::json j = ToJson(m);
  const std::string body = j.dump();
  j["checksum"] = Hex(internal::Hash64(body.data(), body.size()));
  const std::string text = j.dump(1) + "\n";
  const std::string path = root + "/" + std::string(kManifestName);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + path);
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("writing " + path);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("syncing " + path);
  return Status::OK();
}

StatusOr<Manifest> ReadManifest(const std::string& root) {
  const std::string path = root + "/" + std::string(kManifestName);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return Status::NotFound("no snapshot at " + root);
  if (!fs::exists(path, ec)) return Status::DataLoss("snapshot " + root + " has no " + std::string(kManifestName));
  auto corrupt = [&](const std::string& why) {
    return Status::DataLoss("snapshot " + root + ": damaged manifest (" + why + ")");
  };
  const auto size = fs::file_size(path, ec);
  if (ec || size > (64u << 20)) return corrupt("unreadable or over 64 MiB");
  std::string text(size, '\0');
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("opening " + path);
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::read(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    if (done != text.size()) return corrupt("short read");
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return corrupt("not a JSON object");
  if (!j.contains("checksum") || !j["checksum"].is_string()) return corrupt("no checksum");
  uint64_t stored = 0;
  if (!ParseHex(j["checksum"].get<std::string>(), &stored)) return corrupt("bad checksum");
  j.erase("checksum");
  const std::string body = j.dump();
  if (internal::Hash64(body.data(), body.size()) != stored) return corrupt("checksum mismatch");
  try {
    if (j.at("format").get<std::string>() != "sextant-snapshot") return corrupt("not a Sextant snapshot");
    Manifest m;
    SnapshotInfo& i = m.info;
    i.format_version = j.at("format_version").get<uint32_t>();
    if (i.format_version > kSnapshotFormatVersion || i.format_version == 0) {
      return Status::FailedPrecondition("snapshot " + root + " has format version " + std::to_string(i.format_version) +
                                        "; this build of Sextant reads version " +
                                        std::to_string(kSnapshotFormatVersion));
    }
    i.name = j.at("name").get<std::string>();
    i.scope = j.at("scope").get<std::string>();
    if (i.scope != "database" && i.scope != "collection") return corrupt("unknown scope " + i.scope);
    i.created_ms = j.at("created_ms").get<int64_t>();
    i.sequence = j.at("sequence").get<uint64_t>();
    i.sextant_version = j.at("sextant_version").get<std::string>();
    i.path = root;
    for (const auto& c : j.at("collections")) {
      SnapshotCollection sc;
      sc.name = c.at("name").get<std::string>();
      sc.dimension = c.at("dimension").get<uint32_t>();
      auto metric = ParseMetric(c.at("metric").get<std::string>());
      if (!metric.ok()) return corrupt("bad metric");
      sc.metric = *metric;
      sc.index = c.at("index").get<std::string>();
      sc.count = c.at("count").get<uint64_t>();
      sc.has_index_checkpoint = c.at("index_checkpoint").get<bool>();
      i.collections.push_back(std::move(sc));
      m.collection_ids.push_back(c.at("id").get<uint32_t>());
    }
    for (const auto& f : j.at("files")) {
      ManifestFile mf;
      mf.path = f.at("path").get<std::string>();
      mf.bytes = f.at("bytes").get<uint64_t>();
      if (!IsSafeRelativePath(mf.path) || mf.path == kManifestName) return corrupt("bad file path " + mf.path);
      if (!ParseHex(f.at("checksum").get<std::string>(), &mf.checksum)) return corrupt("bad checksum of " + mf.path);
      i.bytes += mf.bytes;
      m.files.push_back(std::move(mf));
    }
    i.files = m.files.size();
    return m;
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
}

Status VerifyFiles(const std::string& root, const Manifest& m) {
  for (const ManifestFile& f : m.files) {
    auto got = ChecksumFile(root, f.path);
    if (!got.ok()) {
      if (got.status().code() == StatusCode::kNotFound) {
        return Status::DataLoss("snapshot " + root + ": file " + f.path + " is missing");
      }
      return got.status();
    }
    if (got->bytes != f.bytes) {
      return Status::DataLoss("snapshot " + root + ": file " + f.path + " has " + std::to_string(got->bytes) +
                              " bytes, the manifest says " + std::to_string(f.bytes) + " (truncated or altered)");
    }
    if (got->checksum != f.checksum) {
      return Status::DataLoss("snapshot " + root + ": file " + f.path + " fails its checksum (damaged)");
    }
  }
  return Status::OK();
}

}  // namespace sextant::snapshot_internal
