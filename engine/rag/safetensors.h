// Reads .safetensors files (the weight format of Hugging Face models): an 8-byte little-endian
// header length, a JSON header mapping tensor names to {dtype, shape, data_offsets}, then the raw
// little-endian tensor bytes. The file is memory-mapped; tensors are copied out on request.
//
// Every offset, shape and dtype in the header is checked when the file is opened, so a truncated
// or corrupt file is refused with DataLoss naming the file and the bad entry, never read past.
#ifndef SEXTANT_RAG_SAFETENSORS_H_
#define SEXTANT_RAG_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

namespace sextant::rag {

struct TensorInfo {
  std::string dtype;            // "F32", "F16", "I64", ...
  std::vector<int64_t> shape;   // empty for a scalar
  uint64_t begin = 0;           // byte range in the data section (after the header)
  uint64_t end = 0;
};

class SafeTensorsFile {
 public:
  // NotFound when the file does not exist; DataLoss when it is truncated or its header is
  // malformed (bad JSON, unknown dtype, offsets out of the file, byte size != shape x dtype).
  static StatusOr<std::unique_ptr<SafeTensorsFile>> Open(const std::string& path);

  ~SafeTensorsFile();
  SafeTensorsFile(const SafeTensorsFile&) = delete;
  SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }
  // nullptr when there is no tensor of that name.
  const TensorInfo* Find(std::string_view name) const;

  // A copy of an F32 tensor's values (row-major). NotFound for an unknown name; InvalidArgument
  // when its dtype is not F32 or its shape differs from `expected_shape`.
  StatusOr<std::vector<float>> ReadF32(std::string_view name,
                                       const std::vector<int64_t>& expected_shape) const;

 private:
  SafeTensorsFile() = default;

  std::string path_;
  const uint8_t* map_ = nullptr;  // the whole file
  size_t map_size_ = 0;
  size_t data_offset_ = 0;        // 8 + header length
  std::map<std::string, TensorInfo, std::less<>> tensors_;
};

// "[30522, 384]".
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace sextant::rag

#endif  // SEXTANT_RAG_SAFETENSORS_H_
