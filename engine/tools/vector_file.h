// The one reader (and writer) of vector files, for the `sextant` tool, the tests and the
// benchmarks:
//
//   .fvecs  TEXMEX: per vector an int32 d, then d float32 (little-endian)
//   .bvecs  TEXMEX: per vector an int32 d, then d uint8
//   .ivecs  TEXMEX: per row an int32 d, then d int32 (ground-truth neighbour ids)
//   .jsonl  one JSON value per line (.json and .ndjson too). Points: {"id": 7 | "str",
//           "vector": [...], "payload": {...}}. Queries: {"vector": [...]} or a bare [...].
//
// TexmexFile reads TEXMEX rows a block at a time (from a file or a pipe); ReadTexmex reads a whole
// file; TexmexWriter writes one. VectorFileReader streams records (points or queries) of any of
// the formats in constant memory, for import and search. Every error names the file and the
// place (the 0-based row of a TEXMEX file, which is also the point id it gets; the 1-based line
// of a JSON lines file) and what is wrong.
#ifndef SEXTANT_TOOLS_VECTOR_FILE_H_
#define SEXTANT_TOOLS_VECTOR_FILE_H_

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::vecfile {

// ---- TEXMEX rows ----

enum class TexmexType { kFloat, kByte, kInt };  // .fvecs, .bvecs, .ivecs

// The type of a TEXMEX file from its extension (.fvecs, .bvecs, .ivecs); nullopt otherwise.
std::optional<TexmexType> TexmexTypeFromPath(std::string_view path);

// Reads rows of one TEXMEX file a block at a time. Every row must have the dimension of the
// first. Not thread-safe.
class TexmexFile {
 public:
  // Opens a file; its type comes from the extension unless given. NotFound when it does not
  // exist; InvalidArgument when it is empty, its first dimension is not 1..65536, or its size is
  // not a whole number of rows (truncated, or rows of different dimensions).
  static StatusOr<std::unique_ptr<TexmexFile>> Open(const std::string& path,
                                                    std::optional<TexmexType> type = std::nullopt);
  // Reads from an open stream (the row count is unknown), named `name` in messages; closes it
  // at the end only with take_ownership. An empty stream has dim() 0 and no rows.
  static StatusOr<std::unique_ptr<TexmexFile>> FromStream(std::FILE* stream, std::string name,
                                                          TexmexType type, bool take_ownership = false);
  ~TexmexFile();
  TexmexFile(const TexmexFile&) = delete;
  TexmexFile& operator=(const TexmexFile&) = delete;

  TexmexType type() const { return type_; }
  uint32_t dim() const { return dim_; }
  // Rows in the file; nullopt for a stream.
  std::optional<uint64_t> rows() const { return rows_; }
  // Rows read so far (the 0-based number of the next row).
  uint64_t next_row() const { return next_row_; }
  // Bytes consumed so far.
  uint64_t bytes_read() const { return bytes_read_; }
  const std::string& path() const { return path_; }

  // Back to the first row (FailedPrecondition on a pipe).
  Status Rewind();

  // Reads up to `max_rows` rows into `out` (rows * dim() values) and returns how many were read
  // (0 at the end). T is float for .fvecs and .bvecs (bytes widen to floats) and int32_t for
  // .ivecs. InvalidArgument "<path> row N: ..." for a row of another dimension or a file that
  // ends inside a row; the rows before it are returned by earlier calls.
  template <typename T>
  StatusOr<size_t> Read(size_t max_rows, T* out);

 private:
  TexmexFile(std::string path, TexmexType type, std::FILE* f, bool owned)
      : path_(std::move(path)), type_(type), file_(f), owned_(owned) {}
  Status ReadFirstHeader();
  Status Bad(uint64_t row, const std::string& what) const;
  size_t ElementBytes() const { return type_ == TexmexType::kByte ? 1 : 4; }

  std::string path_;
  TexmexType type_;
  std::FILE* file_;
  bool owned_;
  uint32_t dim_ = 0;
  uint64_t row_bytes_ = 0;
  std::optional<uint64_t> rows_;
  uint64_t next_row_ = 0;
  uint64_t bytes_read_ = 0;
  bool header_pending_ = false;  // a stream's first header is read but its row is not
  std::vector<char> buffer_;
};

extern template StatusOr<size_t> TexmexFile::Read<float>(size_t, float*);
extern template StatusOr<size_t> TexmexFile::Read<int32_t>(size_t, int32_t*);

// A whole TEXMEX file in memory, row-major.
template <typename T>
struct TexmexRows {
  std::vector<T> values;  // rows * dim
  uint64_t rows = 0;
  uint32_t dim = 0;
};

// Reads all of `path` (float for .fvecs/.bvecs, int32_t for .ivecs).
template <typename T>
StatusOr<TexmexRows<T>> ReadTexmex(const std::string& path);

extern template StatusOr<TexmexRows<float>> ReadTexmex<float>(const std::string&);
extern template StatusOr<TexmexRows<int32_t>> ReadTexmex<int32_t>(const std::string&);

// ReadTexmex for tests and benchmarks that check sizes themselves: the values, or empty (and
// *dim 0) on any error.
template <typename T>
std::vector<T> ReadTexmexValues(const std::string& path, size_t* dim) {
  StatusOr<TexmexRows<T>> rows = ReadTexmex<T>(path);
  *dim = rows.ok() ? rows->dim : 0;
  return rows.ok() ? std::move(rows->values) : std::vector<T>();
}

// Writes rows in TEXMEX layout (.fvecs from floats, .ivecs from int32).
class TexmexWriter {
 public:
  static StatusOr<std::unique_ptr<TexmexWriter>> Create(const std::string& path);
  ~TexmexWriter();
  TexmexWriter(const TexmexWriter&) = delete;
  TexmexWriter& operator=(const TexmexWriter&) = delete;

  // Appends n rows of dim values of 4 bytes each (float or int32_t).
  template <typename T>
  Status Write(const T* rows, size_t n, uint32_t dim) {
    static_assert(sizeof(T) == 4);
    return WriteRows(rows, n, dim);
  }
  // Flushes and closes; the error of a failed write or flush.
  Status Close();

 private:
  TexmexWriter(std::string path, std::FILE* f) : path_(std::move(path)), file_(f) {}
  Status WriteRows(const void* rows, size_t n, uint32_t dim);

  std::string path_;
  std::FILE* file_;
};

// Writes `rows` rows of `dim` 4-byte values (float or int32_t) to a new file at `path`.
template <typename T>
Status WriteTexmex(const std::string& path, const T* data, size_t rows, uint32_t dim) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<TexmexWriter> w, TexmexWriter::Create(path));
  SEXTANT_RETURN_IF_ERROR(w->Write(data, rows, dim));
  return w->Close();
}

// ---- Records for import and search ----

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

  ~VectorFileReader();
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
  std::FILE* texmex_file_ = nullptr;       // TEXMEX formats: the file, until texmex_ takes it
  std::unique_ptr<TexmexFile> texmex_;     // TEXMEX formats, once the first record is asked for
  std::unique_ptr<char[]> stream_buffer_;  // the ifstream's buffer; declared before it
  std::ifstream file_;                     // JSON lines
  std::istream* in_ = nullptr;
  uint64_t file_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t records_ = 0;
  uint64_t line_ = 0;  // JSON lines: lines consumed
  std::string line_buffer_;
};

}  // namespace sextant::vecfile

#endif  // SEXTANT_TOOLS_VECTOR_FILE_H_
