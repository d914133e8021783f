// Snapshot archives: a POSIX (ustar) tar of a snapshot directory, written as a stream and read
// back incrementally (docs/format.md "Snapshot archives"). Sizes above 8 GiB use the GNU base-256
// size field. Only regular files and directories are written or accepted.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "db/snapshot_files.h"
#include "sextant/snapshot.h"

namespace sextant {
namespace fs = std::filesystem;
using namespace snapshot_internal;

namespace {

constexpr size_t kBlock = 512;

void PutOctal(char* field, size_t width, uint64_t v) {
  // width-1 octal digits and a NUL.
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  field[width - 1] = '\0';
}

std::string Header(const std::string& path, uint64_t size, bool directory) {
  std::string h(kBlock, '\0');
  std::memcpy(h.data(), path.data(), std::min<size_t>(path.size(), 100));
  PutOctal(&h[100], 8, directory ? 0755 : 0644);
  PutOctal(&h[108], 8, 0);
  PutOctal(&h[116], 8, 0);
  if (size < (uint64_t{1} << 33)) {
    PutOctal(&h[124], 12, size);
  } else {  // GNU base-256: high bit set, big-endian binary
    h[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  PutOctal(&h[136], 12, 0);
  h[156] = directory ? '5' : '0';
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  PutOctal(&h[148], 7, sum);
  h[155] = ' ';
  return h;
}

bool ParseSize(const char* field, uint64_t* out) {
  if (static_cast<unsigned char>(field[0]) == 0x80) {
    uint64_t v = 0;
    for (int i = 4; i < 12; ++i) v = (v << 8) | static_cast<unsigned char>(field[i]);
    *out = v;
    return true;
  }
  uint64_t v = 0;
  int i = 0;
  while (i < 12 && field[i] == ' ') ++i;
  bool any = false;
  for (; i < 12 && field[i] >= '0' && field[i] <= '7'; ++i) {
    v = (v << 3) | static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  *out = v;
  return any;
}

bool ChecksumOk(const char* h) {
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  uint64_t stored = 0;
  std::string field(h + 148, 8);
  for (char& c : field) if (c == '\0') c = ' ';
  if (!ParseSize((field + "    ").c_str(), &stored)) return false;
  return stored == sum;
}

std::string CString(const char* p, size_t max) { return std::string(p, strnlen(p, max)); }

class ArchiveReaderImpl final : public SnapshotArchiveReader {
 public:
  ArchiveReaderImpl(std::string directory, std::string staging, std::string rename_to)
      : directory_(std::move(directory)), staging_(std::move(staging)), rename_to_(std::move(rename_to)) {}
  ~ArchiveReaderImpl() override {
    CloseFile();
    if (!finished_) {
      std::error_code ec;
      fs::remove_all(staging_, ec);
    }
  }

  Status Write(std::string_view bytes) override {
    if (!failed_.ok()) return failed_;
    received_ += bytes.size();
    Status s = Consume(bytes);
    if (!s.ok()) failed_ = s;
    return s;
  }

  StatusOr<SnapshotInfo> Finish() override {
    if (!failed_.ok()) return failed_;
    if (!ended_) return Status::DataLoss("snapshot archive is truncated (it ends before its end marker)");
    CloseFile();
    auto info = VerifySnapshot(staging_);
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) return Status::DataLoss("snapshot archive holds no snapshot");
      return info.status();
    }
    std::string name = rename_to_.empty() ? info->name : rename_to_;
    SEXTANT_RETURN_IF_ERROR(ValidateSnapshotName(name).WithPrefix("snapshot archive"));
    SEXTANT_RETURN_IF_ERROR(SyncPath(staging_, true));
    const std::string final_path = directory_ + "/" + name;
    SEXTANT_RETURN_IF_ERROR(RenameNoReplace(staging_, final_path));
    finished_ = true;
    SEXTANT_ASSIGN_OR_RETURN(SnapshotInfo out, ReadSnapshotInfo(final_path));
    out.name = name;
    return out;
  }

  uint64_t received() const override { return received_; }

 private:
  Status Consume(std::string_view in) {
    while (!in.empty()) {
      if (ended_) {
        // After the end marker only zero padding may follow.
        for (char c : in) {
          if (c != '\0') return Status::DataLoss("snapshot archive has data after its end marker");
        }
        return Status::OK();
      }
      if (remaining_ > 0) {  // file data
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        SEXTANT_RETURN_IF_ERROR(WriteFile(in.substr(0, take)));
        in.remove_prefix(take);
        remaining_ -= take;
        if (remaining_ == 0) {
          SEXTANT_RETURN_IF_ERROR(CloseFileSynced());
        }
        continue;
      }
      if (padding_ > 0) {
        const size_t take = std::min(padding_, in.size());
        in.remove_prefix(take);
        padding_ -= take;
        continue;
      }
      const size_t take = std::min(kBlock - header_.size(), in.size());
      header_.append(in.substr(0, take));
      in.remove_prefix(take);
      if (header_.size() == kBlock) {
        SEXTANT_RETURN_IF_ERROR(OnHeader());
        header_.clear();
      }
    }
    return Status::OK();
  }

  Status OnHeader() {
    if (header_.find_first_not_of('\0') == std::string::npos) {
      if (++zero_blocks_ == 2) ended_ = true;
      return Status::OK();
    }
    if (zero_blocks_ > 0) return Status::DataLoss("snapshot archive: damaged (a zero block inside it)");
    if (!ChecksumOk(header_.data())) return Status::DataLoss("snapshot archive: damaged header (checksum mismatch)");
    std::string path = CString(&header_[0], 100);
    const std::string prefix = CString(&header_[345], 155);
    if (!prefix.empty()) path = prefix + "/" + path;
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (path.rfind("./", 0) == 0) path = path.substr(2);
    const char type = header_[156];
    uint64_t size = 0;
    if (!ParseSize(&header_[124], &size)) return Status::DataLoss("snapshot archive: bad size of " + path);
    if (path.empty() || path == ".") {
      if (type == '5') return Status::OK();
      return Status::DataLoss("snapshot archive: entry without a name");
    }
    if (!IsSafeRelativePath(path)) {
      return Status::InvalidArgument("snapshot archive: refusing entry '" + path.substr(0, 100) +
                                     "' (only plain relative paths are allowed)");
    }
    if (type == '5') {
      std::error_code ec;
      fs::create_directories(staging_ + "/" + path, ec);
      if (ec) return Status::Unavailable("creating " + path + ": " + ec.message());
      return Status::OK();
    }
    if (type != '0' && type != '\0') {
      return Status::InvalidArgument("snapshot archive: refusing entry '" + path +
                                     "' (only regular files and directories are allowed)");
    }
    const std::string target = staging_ + "/" + path;
    std::error_code ec;
    if (fs::exists(target, ec)) return Status::DataLoss("snapshot archive: file " + path + " appears twice");
    fs::create_directories(fs::path(target).parent_path(), ec);
    fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::Unavailable("creating " + target + ": " + std::strerror(errno));
    current_ = target;
    remaining_ = size;
    padding_ = (kBlock - size % kBlock) % kBlock;
    if (size == 0) return CloseFileSynced();
    return Status::OK();
  }

  Status WriteFile(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOSPC) return Status::ResourceExhausted("writing " + current_ + ": no space left on device");
        return Status::Unavailable("writing " + current_ + ": " + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  Status CloseFileSynced() {
    const int rc = ::fsync(fd_);
    CloseFile();
    if (rc != 0) return Status::Unavailable("syncing " + current_ + ": " + std::strerror(errno));
    return Status::OK();
  }

  void CloseFile() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const std::string directory_, staging_, rename_to_;
  std::string header_;
  std::string current_;
  int fd_ = -1;
  uint64_t remaining_ = 0;
  size_t padding_ = 0;
  int zero_blocks_ = 0;
  bool ended_ = false;
  bool finished_ = false;
  uint64_t received_ = 0;
  Status failed_;
};

}  // namespace

Status WriteSnapshotArchive(const std::string& snapshot_path, const std::function<Status(std::string_view)>& sink) {
  SEXTANT_ASSIGN_OR_RETURN(Manifest m, ReadManifest(snapshot_path));
  std::vector<std::string> paths = {std::string(kManifestName)};
  for (const ManifestFile& f : m.files) paths.push_back(f.path);
  std::vector<char> buf(1 << 20);
  std::string dirs_done;
  for (const std::string& rel : paths) {
    const std::string full = snapshot_path + "/" + rel;
    std::ifstream in(full, std::ios::binary);
    if (!in) return Status::DataLoss("snapshot " + snapshot_path + ": file " + rel + " is missing");
    std::error_code ec;
    const uint64_t size = fs::file_size(full, ec);
    if (ec) return Status::Unavailable("reading " + full + ": " + ec.message());
    SEXTANT_RETURN_IF_ERROR(sink(Header(rel, size, false)));
    uint64_t left = size;
    while (left > 0) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      in.read(buf.data(), static_cast<std::streamsize>(want));
      if (static_cast<size_t>(in.gcount()) != want) {
        return Status::DataLoss("snapshot " + snapshot_path + ": file " + rel + " shrank while being read");
      }
      SEXTANT_RETURN_IF_ERROR(sink(std::string_view(buf.data(), want)));
      left -= want;
    }
    const size_t pad = (kBlock - size % kBlock) % kBlock;
    if (pad > 0) SEXTANT_RETURN_IF_ERROR(sink(std::string(pad, '\0')));
  }
  return sink(std::string(2 * kBlock, '\0'));
}

StatusOr<std::unique_ptr<SnapshotArchiveReader>> SnapshotArchiveReader::Start(const std::string& directory,
                                                                              std::string rename_to) {
  if (directory.empty()) return Status::InvalidArgument("snapshot directory is empty");
  if (!rename_to.empty()) SEXTANT_RETURN_IF_ERROR(ValidateSnapshotName(rename_to));
  SEXTANT_ASSIGN_OR_RETURN(std::string staging, MakeStagingDir(directory, "upload"));
  return std::unique_ptr<SnapshotArchiveReader>(new ArchiveReaderImpl(directory, staging, std::move(rename_to)));
}

Status ExportSnapshotArchive(const std::string& snapshot_path, const std::string& archive_file) {
  const std::string tmp = archive_file + ".partial";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) return Status::Unavailable("cannot create " + tmp);
  Status s = WriteSnapshotArchive(snapshot_path, [&](std::string_view piece) {
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    return out ? Status::OK() : Status::Unavailable("writing " + tmp);
  });
  out.close();
  std::error_code ec;
  if (s.ok() && !out) s = Status::Unavailable("writing " + tmp);
  if (s.ok()) s = SyncPath(tmp, false);
  if (s.ok()) {
    fs::rename(tmp, archive_file, ec);
    if (ec) s = Status::Unavailable("renaming " + tmp + ": " + ec.message());
  }
  if (!s.ok()) fs::remove(tmp, ec);
  return s;
}

StatusOr<SnapshotInfo> ImportSnapshotArchive(const std::string& archive_file, const std::string& directory,
                                             std::string rename_to) {
  std::ifstream in(archive_file, std::ios::binary);
  if (!in) return Status::NotFound("cannot open archive " + archive_file);
  SEXTANT_ASSIGN_OR_RETURN(auto reader, SnapshotArchiveReader::Start(directory, std::move(rename_to)));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) SEXTANT_RETURN_IF_ERROR(reader->Write(std::string_view(buf.data(), static_cast<size_t>(in.gcount()))));
  }
  return reader->Finish();
}

}  // namespace sextant
