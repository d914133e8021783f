#include "tools/vector_file.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

namespace sextant::cli {
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
  reader->stream_buffer_ = std::make_unique<char[]>(kReadBufferBytes);
  reader->file_.rdbuf()->pubsetbuf(reader->stream_buffer_.get(), kReadBufferBytes);
  reader->file_.open(path, std::ios::binary);
  if (!reader->file_.is_open()) {
    return Status::Unavailable("cannot open " + path + ": " + std::strerror(errno));
  }
  uint64_t size = std::filesystem::file_size(path, ec);
  if (!ec && std::filesystem::is_regular_file(path, ec)) reader->file_bytes_ = size;
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
  const uint64_t row = records_;
  const std::string where = "row " + std::to_string(row);
  int32_t header = 0;
  in_->read(reinterpret_cast<char*>(&header), sizeof(header));
  std::streamsize got = in_->gcount();
  bytes_ += static_cast<uint64_t>(got);
  if (got == 0) {
    if (in_->bad()) return Status::Unavailable("reading " + path_ + " failed");
    return false;
  }
  if (got != sizeof(header)) {
    return Bad(where, "the file ends inside the dimension header (truncated file?)");
  }
  if (header <= 0) {
    return Bad(where, "the dimension header is " + std::to_string(header) +
                          ", not a positive count (is this really a ." +
                          std::string(FormatName(format_)) + " file?)");
  }
  if (static_cast<uint32_t>(header) != dimension_) {
    return Bad(where, "the vector has dimension " + std::to_string(header) + ", but collection '" +
                          collection_ + "' has dimension " + std::to_string(dimension_));
  }
  const size_t element = format_ == VectorFormat::kFvecs ? 4 : 1;
  const size_t bytes = element * dimension_;
  row_buffer_.resize(bytes);
  in_->read(row_buffer_.data(), static_cast<std::streamsize>(bytes));
  got = in_->gcount();
  bytes_ += static_cast<uint64_t>(got);
  if (static_cast<size_t>(got) != bytes) {
    return Bad(where, "the file ends inside the vector (truncated file?)");
  }
  record->vector.resize(dimension_);
  if (format_ == VectorFormat::kFvecs) {
    std::memcpy(record->vector.data(), row_buffer_.data(), bytes);
    for (uint32_t j = 0; j < dimension_; ++j) {
      if (!std::isfinite(record->vector[j])) {
        return Bad(where, "component " + std::to_string(j) + " is " +
                              (std::isnan(record->vector[j]) ? "NaN" : "infinite"));
      }
    }
  } else {
    for (uint32_t j = 0; j < dimension_; ++j) {
      record->vector[j] = static_cast<float>(static_cast<uint8_t>(row_buffer_[j]));
    }
  }
  record->id = PointId(row);
  record->payload.clear();
  record->where = where;
  ++records_;
  return true;
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

}  // namespace sextant::cli
