// Payload validation and normalisation on the write path.
#ifndef SEXTANT_PAYLOAD_PAYLOAD_H_
#define SEXTANT_PAYLOAD_PAYLOAD_H_

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sextant/status.h"

namespace sextant::payload {

// Checks that `text` is a JSON object (empty text counts as {}) of at most max_bytes bytes and
// returns it re-serialised compactly in *compact ("{}" for empty text). InvalidArgument otherwise,
// with a message naming the problem ("payload is 70000 bytes, over the limit of 65536",
// "payload is not a JSON object (got an array)", "payload is not valid JSON: <parser message>").
// The caller prefixes the point it belongs to.
Status ValidatePayload(std::string_view text, size_t max_bytes, std::string* compact);

// Parses a stored (already validated) payload; a corrupt one yields an empty object.
nlohmann::json ParseStored(std::string_view text);

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_PAYLOAD_H_
