// Fuzz target: payload validation on the write path (ValidatePayload) and the read path's
// ParseStored.
//
// Input: one byte choosing the size limit, then the payload text.
// Checked beyond "no crash, no sanitizer report":
//  - an accepted payload's compact form is a JSON object that validates again
//    to itself (normalisation is idempotent), and ParseStored reads it back to the same value;
//  - a refused payload has a message that is valid UTF-8 (it travels in protobuf strings);
//  - ParseStored of any bytes returns an object (corrupt bytes read as {}).
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "payload/payload.h"

using sextant::fuzz::Check;

namespace {

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sextant::fuzz::Input in(data, size);
  static constexpr size_t kLimits[] = {65536, 16, 1, 1 << 20};
  const size_t limit = kLimits[in.Byte() % 4];
  const std::string_view text = in.Rest();

  std::string compact;
  sextant::Status s = sextant::payload::ValidatePayload(text, limit, &compact);
  if (s.ok()) {
    // The limit applies to the text received; the compact form may be a little longer ("1e5"
    // becomes "100000.0"), so it is validated again without that limit.
    std::string again;
    sextant::Status s2 = sextant::payload::ValidatePayload(compact, compact.size(), &again);
    Check(s2.ok(), "compact form does not validate", s2.ToString());
    Check(again == compact, "normalisation is not idempotent", compact + " -> " + again);
    nlohmann::json stored = sextant::payload::ParseStored(compact);
    Check(stored.is_object(), "stored payload is not an object");
    Check(stored.dump() == compact, "ParseStored changes the payload");
  } else {
    Check(ValidUtf8(s.message()), "error message is not UTF-8", std::string(s.message()));
  }
  nlohmann::json any = sextant::payload::ParseStored(text);
  Check(any.is_object(), "ParseStored returned a non-object");
  return 0;
}
