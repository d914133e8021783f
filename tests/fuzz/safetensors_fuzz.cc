// Fuzz target: safetensors loading (rag::SafeTensorsFile), the weights of the local encoder.
//
// Input: the file's bytes, written to a file in /dev/shm (the reader maps a file) and opened.
// Checked beyond "no crash, no sanitizer report": every tensor an opened file lists lies inside
// the file's data section with a byte size of shape x dtype, and every F32 tensor reads back with
// exactly shape-product values.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_util.h"
#include "rag/safetensors.h"

using sextant::fuzz::Check;

namespace {

std::string FilePath() {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  return std::string(dir) + "/sextant_safetensors_fuzz_" + std::to_string(getpid()) + ".safetensors";
}

struct RemoveAtExit {
  std::string path;
  ~RemoveAtExit() { std::remove(path.c_str()); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static RemoveAtExit file{FilePath()};
  {
    const int fd = open(file.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    Check(fd >= 0, "cannot write the input file", file.path);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = write(fd, data + done, size - done);
      Check(n > 0, "short write of the input file");
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  auto opened = sextant::rag::SafeTensorsFile::Open(file.path);
  if (!opened.ok()) {
    Check(!opened.status().message().empty(), "refused without a message");
    return 0;
  }
  const sextant::rag::SafeTensorsFile& st = **opened;
  for (const auto& [name, info] : st.tensors()) {
    Check(info.begin <= info.end && info.end <= size, "tensor range outside the file", name);
    Check(st.Find(name) == &info, "Find does not find a listed tensor", name);
    if (info.dtype == "F32") {
      auto values = st.ReadF32(name, info.shape);
      Check(values.ok(), "a listed F32 tensor does not read", values.status().ToString());
      uint64_t n = 1;
      for (int64_t d : info.shape) n *= static_cast<uint64_t>(d);
      Check(values->size() == n, "F32 tensor has the wrong number of values", name);
      Check(n * 4 == info.end - info.begin, "F32 tensor byte size is not shape x 4", name);
    }
    // A wrong expected shape is refused, never read.
    std::vector<int64_t> wrong = info.shape;
    wrong.push_back(2);
    Check(!st.ReadF32(name, wrong).ok(), "ReadF32 accepted a wrong shape", name);
  }
  (void)st.Find("no such tensor");
  return 0;
}
