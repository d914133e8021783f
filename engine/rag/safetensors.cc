#include "rag/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

namespace sextant::rag {
namespace {

// Bytes per element of each safetensors dtype.
int DtypeSize(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") {
    return 1;
  }
  return 0;
}

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // as the reference implementation

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

SafeTensorsFile::~SafeTensorsFile() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), map_size_);
}

StatusOr<std::unique_ptr<SafeTensorsFile>> SafeTensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile());
  file->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("safetensors file " + path + " does not exist");
    return Status::FailedPrecondition("cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FailedPrecondition("cannot stat " + path + ": " + std::strerror(err));
  }
  size_t size = static_cast<size_t>(st.st_size);
  auto corrupt = [&path](const std::string& what) {
    return Status::DataLoss("safetensors file " + path + ": " + what);
  };
  if (size < 8) {
    ::close(fd);
    return corrupt("is " + std::to_string(size) + " bytes, shorter than its 8-byte header length");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_err = errno;
  ::close(fd);
  if (map == MAP_FAILED) {
    return Status::FailedPrecondition("cannot map " + path + ": " + std::strerror(map_err));
  }
  file->map_ = static_cast<const uint8_t*>(map);
  file->map_size_ = size;

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | file->map_[i];
  if (header_len > kMaxHeaderBytes || header_len > size - 8) {
    return corrupt("header length " + std::to_string(header_len) + " exceeds the file size " +
                   std::to_string(size) + " (truncated file?)");
  }
  file->data_offset_ = 8 + static_cast<size_t>(header_len);
  const uint64_t data_size = size - file->data_offset_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(file->map_ + 8),
                                   reinterpret_cast<const char*>(file->map_ + file->data_offset_));
  } catch (const nlohmann::json::exception& e) {
    return corrupt(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) return corrupt("header is not a JSON object");

  for (const auto& item : header.items()) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const std::string& name = item.key();
    const nlohmann::json& entry = item.value();
    if (name == "__metadata__") continue;
    auto bad = [&](const std::string& what) { return corrupt("tensor \"" + name + "\": " + what); };
    if (!entry.is_object()) return bad("entry is not an object");
    auto dtype = entry.find("dtype");
    auto shape = entry.find("shape");
    auto offsets = entry.find("data_offsets");
    if (dtype == entry.end() || !dtype->is_string()) return bad("missing string \"dtype\"");
    if (shape == entry.end() || !shape->is_array()) return bad("missing array \"shape\"");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      return bad("\"data_offsets\" must be two non-negative integers");
    }
    TensorInfo info;
    info.dtype = dtype->get<std::string>();
    int elem = DtypeSize(info.dtype);
    if (elem == 0) return bad("unknown dtype \"" + info.dtype + "\"");
    uint64_t count = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) return bad("shape " + shape->dump() + " has a non-integer or negative size");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / v) return bad("shape is too large");
      count *= v;
      info.shape.push_back(static_cast<int64_t>(v));
    }
    info.begin = (*offsets)[0].get<uint64_t>();
    info.end = (*offsets)[1].get<uint64_t>();
    if (info.begin > info.end || info.end > data_size) {
      return bad("data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                 "] lie outside the " + std::to_string(data_size) + " data bytes (truncated file?)");
    }
    if (info.end - info.begin != count * static_cast<uint64_t>(elem)) {
      return bad(std::to_string(info.end - info.begin) + " bytes do not hold shape " +
                 ShapeString(info.shape) + " of " + info.dtype);
    }
    file->tensors_.emplace(name, std::move(info));
  }
  return file;
}

const TensorInfo* SafeTensorsFile::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

StatusOr<std::vector<float>> SafeTensorsFile::ReadF32(std::string_view name,
                                                      const std::vector<int64_t>& expected_shape) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) {
    return Status::NotFound("safetensors file " + path_ + " has no tensor \"" + std::string(name) + "\"");
  }
  if (info->dtype != "F32") {
    return Status::InvalidArgument("tensor \"" + std::string(name) + "\" in " + path_ + " is " +
                                   info->dtype + ", only F32 is supported");
  }
  if (info->shape != expected_shape) {
    return Status::InvalidArgument("tensor \"" + std::string(name) + "\" in " + path_ + " has shape " +
                                   ShapeString(info->shape) + ", expected " + ShapeString(expected_shape));
  }
  std::vector<float> out((info->end - info->begin) / sizeof(float));
  static_assert(std::numeric_limits<float>::is_iec559, "safetensors F32 is IEEE 754");
  // The data is little-endian, as is every target we build for (x86-64, AArch64).
  if (!out.empty()) std::memcpy(out.data(), map_ + data_offset_ + info->begin, out.size() * sizeof(float));
  return out;
}

}  // namespace sextant::rag
