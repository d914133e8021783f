// Streaming readers for the vector files the tool imports and searches with:
//
//   .fvecs  TEXMEX: per vector an int32 d, then d float32 (little-endian)
//   .bvecs  TEXMEX: per vector an int32 d, then d uint8
//   .jsonl  one JSON value per line (.json and .ndjson too). Points: {"id": 7 | "str",
//           "vector": [...], "payload": {...}}. Queries: {"vector": [...]} or a bare [...].
//
// Records are read one at a time with a small buffer, so a file of any size streams in constant
// memory. Every error names the file and the place (the 0-based row of a TEXMEX file, which is
// also the point id it gets; the 1-based line of a JSON lines file) and what is wrong.
#ifndef SEXTANT_TOOLS_VECTOR_FILE_H_
#define SEXTANT_TOOLS_VECTOR_FILE_H_

#include <cstdint>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::cli {

enum class VectorFormat { kFvecs, kBvecs, kJsonLines };

// "fvecs", "bvecs", "jsonl".
std::string_view FormatName(VectorFormat format);
// From a --format value: fvecs, bvecs, jsonl (also json, ndjson).
std::optional<VectorFormat> ParseFormatName(std::string_view name);
// From the file name's extension; nullopt when it is none of the known ones.
std::optional<VectorFormat> FormatFromPath(std::string_view path);

// What the reader expects the file to hold.
enum class RecordKind {
  kPoints,   // JSON lines need "id" and "vector"; TEXMEX rows get their row number as id
  kQueries,  // JSON lines are {"vector": [...]} or a bare array; ids are not read
};

struct Record {
  PointId id;                 // kPoints only
  std::vector<float> vector;  // exactly `dimension` floats
  std::string payload;        // compact JSON object text, or empty for none
  std::string where;          // "row 17" or "line 18", for messages
};

class VectorFileReader {
 public:
  // Opens `path` ("-" is standard input). `dimension` is what every vector must have and
  // `collection` the name of the collection it belongs to (both for the messages). NotFound or
  // the I/O error when the file cannot be opened.
  static StatusOr<std::unique_ptr<VectorFileReader>> Open(const std::string& path,
                                                          VectorFormat format, RecordKind kind,
                                                          uint32_t dimension,
                                                          std::string collection);

  VectorFileReader(const VectorFileReader&) = delete;
  VectorFileReader& operator=(const VectorFileReader&) = delete;

  // Reads the next record into *record: true, or false at the end of the file. InvalidArgument
  // (naming the file, the row or line, and the problem) on a bad record; reading stops there.
  StatusOr<bool> Next(Record* record);

  // Records returned so far.
  uint64_t records_read() const { return records_; }
  // Bytes consumed so far, and the file's size (0 when unknown, as for a pipe).
  uint64_t bytes_read() const { return bytes_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // For TEXMEX files of known size, the number of rows (known once the first row is read).
  std::optional<uint64_t> total_records() const;

 private:
  VectorFileReader(std::string path, VectorFormat format, RecordKind kind, uint32_t dimension,
                   std::string collection)
      : path_(std::move(path)),
        format_(format),
        kind_(kind),
        dimension_(dimension),
        collection_(std::move(collection)) {}

  StatusOr<bool> NextTexmex(Record* record);
  StatusOr<bool> NextJsonLine(Record* record);
  Status Bad(const std::string& where, const std::string& what) const;

  std::string path_;
  VectorFormat format_;
  RecordKind kind_;
  uint32_t dimension_;
  std::string collection_;
  std::unique_ptr<char[]> stream_buffer_;  // the ifstream's buffer; declared before it
  std::ifstream file_;
  std::istream* in_ = nullptr;
  uint64_t file_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
  uint64_t line_ = 0;  // JSON lines: lines consumed
  std::vector<char> row_buffer_;
  std::string line_buffer_;
};

}  // namespace sextant::cli

#endif  // SEXTANT_TOOLS_VECTOR_FILE_H_
