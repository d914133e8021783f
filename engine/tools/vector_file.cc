#include "tools/vector_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

namespace sextant::vecfile {
namespace {

using nlohmann::json;

constexpr size_t kReadBufferBytes = 1 << 20;

// "an array", "a string", ... for messages about a JSON value of the wrong type.
std::string Described(const json& value) {
  std::string type = value.type_name();
  bool vowel = !type.empty() && std::strchr("aeiou", type[0]) != nullptr;
  return (vowel ? "an " : "a ") + type;
}

// Drops nlohmann's "[json.exception.parse_error.101] " prefix.
std::string ParseMessage(const char* what) {
  std::string text = what;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find("] ");
    if (close != std::string::npos) text = text.substr(close + 2);
  }
  return text;
}

}  // namespace

// ---- TEXMEX ----

std::optional<TexmexType> TexmexTypeFromPath(std::string_view path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".fvecs") return TexmexType::kFloat;
  if (ext == ".bvecs") return TexmexType::kByte;
  if (ext == ".ivecs") return TexmexType::kInt;
  return std::nullopt;
}

StatusOr<std::unique_ptr<TexmexFile>> TexmexFile::Open(const std::string& path, std::optional<TexmexType> type) {
  if (!type) type = TexmexTypeFromPath(path);
  if (!type) {
    return Status::InvalidArgument(path + ": unknown extension '" + std::filesystem::path(path).extension().string() +
                                   "' (expected .fvecs, .bvecs or .ivecs)");
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such file: " + path);
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(path + " is a directory, not a file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::Unavailable("cannot read the size of " + path + ": " + ec.message());
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  std::unique_ptr<TexmexFile> file(new TexmexFile(path, *type, f, /*owned=*/true));
  if (size == 0) return Status::InvalidArgument(path + " is empty");
  SEXTANT_RETURN_IF_ERROR(file->ReadFirstHeader());
  file->rows_ = size / file->row_bytes_;  // a partial last row is reported when it is read
  SEXTANT_RETURN_IF_ERROR(file->Rewind());
  return file;
}

StatusOr<std::unique_ptr<TexmexFile>> TexmexFile::FromStream(std::FILE* stream, std::string name, TexmexType type,
                                                             bool take_ownership) {
  std::unique_ptr<TexmexFile> file(new TexmexFile(std::move(name), type, stream, take_ownership));
  int c = std::fgetc(stream);
  if (c == EOF) return file;  // empty: no rows
  std::ungetc(c, stream);
  SEXTANT_RETURN_IF_ERROR(file->ReadFirstHeader());
  file->header_pending_ = true;
  file->bytes_read_ = 4;
  return file;
}

TexmexFile::~TexmexFile() {
  if (owned_) std::fclose(file_);
}

Status TexmexFile::Bad(uint64_t row, const std::string& what) const {
  return Status::InvalidArgument(path_ + " row " + std::to_string(row) + ": " + what);
}

Status TexmexFile::ReadFirstHeader() {
  int32_t d = 0;
  const size_t got = std::fread(&d, 1, 4, file_);
  if (got != 4) return Bad(0, "the file ends inside the dimension header (truncated file?)");
  if (d <= 0 || d > 65536) {
    const char* ext = type_ == TexmexType::kFloat ? ".fvecs" : type_ == TexmexType::kByte ? ".bvecs" : ".ivecs";
    return Bad(0, "the dimension header is " + std::to_string(d) + ", not a count in 1..65536 (is this really a " +
                      ext + " file?)");
  }
  dim_ = static_cast<uint32_t>(d);
  row_bytes_ = 4 + uint64_t{dim_} * ElementBytes();
  return Status::OK();
}

Status TexmexFile::Rewind() {
  if (std::fseek(file_, 0, SEEK_SET) != 0) return Status::FailedPrecondition(path_ + ": cannot seek (a pipe?)");
  next_row_ = 0;
  bytes_read_ = 0;
  header_pending_ = false;
  return Status::OK();
}

template <typename T>
StatusOr<size_t> TexmexFile::Read(size_t max_rows, T* out) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t>);
  if constexpr (std::is_same_v<T, float>) {
    if (type_ == TexmexType::kInt) return Status::InvalidArgument(path_ + ": holds ids (.ivecs), not vectors");
  } else {
    if (type_ != TexmexType::kInt) return Status::InvalidArgument(path_ + ": expected an .ivecs file");
  }
  if (dim_ == 0) return size_t{0};
  const size_t n = max_rows;
  const size_t element = ElementBytes();
  const size_t data_bytes = size_t{dim_} * element;
  size_t done = 0;
  // Row by row through stdio's buffer, so that a short or partial row is reported exactly.
  buffer_.resize(std::max<size_t>(row_bytes_, 1));
  for (; done < n; ++done) {
    const uint64_t row = next_row_;
    int32_t d = 0;
    if (header_pending_) {
      d = static_cast<int32_t>(dim_);
      header_pending_ = false;
    } else {
      const size_t got = std::fread(&d, 1, 4, file_);
      bytes_read_ += got;
      if (got == 0) {
        if (std::ferror(file_)) return Status::Unavailable("reading " + path_ + " failed");
        break;  // the end
      }
      if (got != 4) return Bad(row, "the file ends inside the dimension header (truncated file?)");
    }
    if (d != static_cast<int32_t>(dim_)) {
      return Bad(row, std::string(type_ == TexmexType::kInt ? "the row" : "the vector") + " has dimension " +
                          std::to_string(d) + ", but the file's first row has dimension " + std::to_string(dim_));
    }
    const size_t got = std::fread(buffer_.data(), 1, data_bytes, file_);
    bytes_read_ += got;
    if (got != data_bytes) {
      if (std::ferror(file_)) return Status::Unavailable("reading " + path_ + " failed");
      return Bad(row, type_ == TexmexType::kInt ? "the file ends inside the row (truncated file?)"
                                                : "the file ends inside the vector (truncated file?)");
    }
    T* dst = out + done * dim_;
    if (type_ == TexmexType::kByte) {
      for (uint32_t j = 0; j < dim_; ++j) dst[j] = static_cast<T>(static_cast<uint8_t>(buffer_[j]));
    } else {
      std::memcpy(dst, buffer_.data(), data_bytes);
    }
    ++next_row_;
  }
  return done;
}

template StatusOr<size_t> TexmexFile::Read<float>(size_t, float*);
template StatusOr<size_t> TexmexFile::Read<int32_t>(size_t, int32_t*);

template <typename T>
StatusOr<TexmexRows<T>> ReadTexmex(const std::string& path) {
  SEXTANT_ASSIGN_OR_RETURN(auto file, TexmexFile::Open(path));
  TexmexRows<T> out;
  out.dim = file->dim();
  const size_t rows = static_cast<size_t>(*file->rows());
  out.values.resize(rows * out.dim);
  SEXTANT_ASSIGN_OR_RETURN(size_t got, file->Read(rows, out.values.data()));
  out.rows = got;
  out.values.resize(got * out.dim);
  // A partial last row is an error, not silently dropped.
  std::vector<T> probe(out.dim);
  SEXTANT_ASSIGN_OR_RETURN(size_t more, file->Read(1, probe.data()));
  if (more != 0) return Status::Internal(path + ": grew while it was read");
  return out;
}

template StatusOr<TexmexRows<float>> ReadTexmex<float>(const std::string&);
template StatusOr<TexmexRows<int32_t>> ReadTexmex<int32_t>(const std::string&);

StatusOr<std::unique_ptr<TexmexWriter>> TexmexWriter::Create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::Unavailable("cannot create " + path + ": " + std::strerror(errno));
  return std::unique_ptr<TexmexWriter>(new TexmexWriter(path, f));
}

TexmexWriter::~TexmexWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

Status TexmexWriter::WriteRows(const void* rows, size_t n, uint32_t dim) {
  const int32_t d = static_cast<int32_t>(dim);
  const char* p = static_cast<const char*>(rows);
  for (size_t r = 0; r < n; ++r) {
    if (std::fwrite(&d, 4, 1, file_) != 1 || std::fwrite(p + r * size_t{dim} * 4, 4, dim, file_) != dim) {
      return Status::ResourceExhausted(path_ + ": write failed: " + std::strerror(errno));
    }
  }
  return Status::OK();
}

Status TexmexWriter::Close() {
  const int rc = std::fclose(file_);
  file_ = nullptr;
  return rc == 0 ? Status::OK() : Status::ResourceExhausted(path_ + ": close failed: " + std::strerror(errno));
}

// ---- Records ----

std::string_view FormatName(VectorFormat format) {
  switch (format) {
    case VectorFormat::kFvecs: return "fvecs";
    case VectorFormat::kBvecs: return "bvecs";
    case VectorFormat::kJsonLines: return "jsonl";
  }
  return "unknown";
}

std::optional<VectorFormat> ParseFormatName(std::string_view name) {
  if (name == "fvecs") return VectorFormat::kFvecs;
  if (name == "bvecs") return VectorFormat::kBvecs;
  if (name == "jsonl" || name == "json" || name == "ndjson") return VectorFormat::kJsonLines;
  return std::nullopt;
}

std::optional<VectorFormat> FormatFromPath(std::string_view path) {
  size_t dot = path.rfind('.');
  size_t slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return std::nullopt;
  }
  return ParseFormatName(path.substr(dot + 1));
}

StatusOr<std::unique_ptr<VectorFileReader>> VectorFileReader::Open(const std::string& path,
                                                                   VectorFormat format,
                                                                   RecordKind kind,
                                                                   uint32_t dimension,
                                                                   std::string collection) {
  std::unique_ptr<VectorFileReader> reader(new VectorFileReader(
      path == "-" ? "<stdin>" : path, format, kind, dimension, std::move(collection)));
  if (path == "-") {
    reader->in_ = &std::cin;
    return reader;
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound("no such file: " + path);
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + " is a directory, not a file");
  }
  uint64_t size = std::filesystem::file_size(path, ec);
  if (!ec && std::filesystem::is_regular_file(path, ec)) reader->file_bytes_ = size;
  if (format != VectorFormat::kJsonLines) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
    reader->texmex_file_ = f;
    return reader;
  }
  reader->stream_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
  reader->file_.rdbuf()->pubsetbuf(reader->stream_buffer_.get(), kReadBufferBytes);
  reader->file_.open(path, std::ios::binary);
  if (!reader->file_.is_open()) {
    return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  }
  reader->in_ = &reader->file_;
  return reader;
}

std::optional<uint64_t> VectorFileReader::total_records() const {
  if (format_ == VectorFormat::kJsonLines || file_bytes_ == 0) return std::nullopt;
  uint64_t element = format_ == VectorFormat::kFvecs ? 4 : 1;
  return file_bytes_ / (4 + element * dimension_);
}

Status VectorFileReader::Bad(const std::string& where, const std::string& what) const {
  return Status::InvalidArgument(path_ + " " + where + ": " + what);
}

StatusOr<bool> VectorFileReader::Next(Record* record) {
  return format_ == VectorFormat::kJsonLines ? NextJsonLine(record) : NextTexmex(record);
}

StatusOr<bool> VectorFileReader::NextTexmex(Record* record) {
  if (!texmex_) {
    // The first header is read here, so that its errors come with the first record.
    const TexmexType type = format_ == VectorFormat::kFvecs ? TexmexType::kFloat : TexmexType::kByte;
    std::FILE* f = texmex_file_ != nullptr ? texmex_file_ : stdin;
    texmex_file_ = nullptr;  // owned by texmex_ from here (stdin never is)
    SEXTANT_ASSIGN_OR_RETURN(texmex_, TexmexFile::FromStream(f, path_, type, /*take_ownership=*/f != stdin));
    if (texmex_->dim() != 0 && texmex_->dim() != dimension_) {
      return Bad("row 0", "the vector has dimension " + std::to_string(texmex_->dim()) + ", but collection '" +
                              collection_ + "' has dimension " + std::to_string(dimension_));
    }
  }
  const uint64_t row = texmex_->next_row();
  record->vector.resize(dimension_);
  SEXTANT_ASSIGN_OR_RETURN(size_t got, texmex_->Read(1, record->vector.data()));
  bytes_ = texmex_->bytes_read();
  if (got == 0) return false;
  const std::string where = "row " + std::to_string(row);
  if (format_ == VectorFormat::kFvecs) {
    for (uint32_t j = 0; j < dimension_; ++j) {
      if (!std::isfinite(record->vector[j])) {
        return Bad(where, "component " + std::to_string(j) + " is " +
                              (std::isnan(record->vector[j]) ? "NaN" : "infinite"));
      }
    }
  }
  record->id = PointId(row);
  record->payload.clear();
  record->where = where;
  ++records_;
  return true;
}

VectorFileReader::~VectorFileReader() {
  if (texmex_file_ != nullptr) std::fclose(texmex_file_);
}

StatusOr<bool> VectorFileReader::NextJsonLine(Record* record) {
  json doc;
  std::string where;
  while (true) {
    if (!std::getline(*in_, line_buffer_)) {
      if (in_->bad()) return Status::Unavailable("reading " + path_ + " failed");
      return false;
    }
    bytes_ += line_buffer_.size() + 1;
    ++line_;
    if (!line_buffer_.empty() && line_buffer_.back() == '\r') line_buffer_.pop_back();
    if (line_buffer_.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    where = "line " + std::to_string(line_);
    try {
      doc = json::parse(line_buffer_);
    } catch (const json::parse_error& e) {
      return Bad(where, "not valid JSON: " + ParseMessage(e.what()));
    }
    break;
  }

  const json* vector = nullptr;
  if (kind_ == RecordKind::kQueries && doc.is_array()) {
    vector = &doc;
  } else if (!doc.is_object()) {
    return Bad(where, kind_ == RecordKind::kPoints
                          ? "expected a JSON object {\"id\": ..., \"vector\": [...]}, got " +
                                Described(doc)
                          : "expected a JSON array of numbers or an object with \"vector\", got " +
                                Described(doc));
  } else {
    auto it = doc.find("vector");
    if (it == doc.end()) return Bad(where, "missing \"vector\"");
    vector = &*it;
  }

  if (kind_ == RecordKind::kPoints) {
    auto id = doc.find("id");
    if (id == doc.end()) return Bad(where, "missing \"id\"");
    if (id->is_number_unsigned()) {
      record->id = PointId(id->get<uint64_t>());
    } else if (id->is_string()) {
      std::string text = id->get<std::string>();
      if (text.empty()) return Bad(where, "\"id\" is an empty string");
      if (text.size() > PointId::kMaxIdBytes) {
        return Bad(where, "\"id\" is " + std::to_string(text.size()) + " bytes, over the limit of " +
                              std::to_string(PointId::kMaxIdBytes));
      }
      record->id = PointId(std::move(text));
    } else {
      return Bad(where, "\"id\" must be a non-negative integer or a string, got " +
                            (id->is_number() ? id->dump() : Described(*id)));
    }
    auto payload = doc.find("payload");
    if (payload == doc.end() || payload->is_null()) {
      record->payload.clear();
    } else if (payload->is_object()) {
      record->payload = payload->dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      return Bad(where, "\"payload\" must be a JSON object, got " + Described(*payload));
    }
  }

  if (!vector->is_array()) {
    return Bad(where, "\"vector\" must be an array of numbers, got " + Described(*vector));
  }
  if (vector->size() != dimension_) {
    return Bad(where, "the vector has " + std::to_string(vector->size()) +
                          " components, but collection '" + collection_ + "' has dimension " +
                          std::to_string(dimension_));
  }
  record->vector.resize(dimension_);
  for (uint32_t j = 0; j < dimension_; ++j) {
    const json& v = (*vector)[j];
    if (!v.is_number()) {
      return Bad(where, "vector component " + std::to_string(j) + " is " + Described(v) +
                            ", not a number");
    }
    float f = static_cast<float>(v.get<double>());
    if (!std::isfinite(f)) {
      return Bad(where, "vector component " + std::to_string(j) + " (" + v.dump() +
                            ") is outside the float range");
    }
    record->vector[j] = f;
  }
  record->where = std::move(where);
  ++records_;
  return true;
}

}  // namespace sextant::vecfile
