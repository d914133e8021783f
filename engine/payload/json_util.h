// Internal helpers shared by filter.cc and payload.cc (defined in payload.cc). Not part of the
// engine's public API: only code under engine/payload and its tests include this.
#ifndef SEXTANT_PAYLOAD_JSON_UTIL_H_
#define SEXTANT_PAYLOAD_JSON_UTIL_H_

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sextant::payload::internal {

// How deep a filter document may nest, counting every JSON object and array on the way down
// (the filter object itself is level 1, so {"a": {"$in": [1]}} is 3 levels). Deeper filters are
// rejected with InvalidArgument before they are walked, which also bounds every recursion in
// parsing and evaluation.
inline constexpr int kMaxFilterDepth = 32;

// How deep a payload may nest, counted the same way ({} is 1 level, {"a": [1]} is 2).
inline constexpr int kMaxPayloadDepth = 64;

// "an object", "an array", "a string", "a number", "a bool", "null", ... for error messages.
std::string_view JsonTypeName(const nlohmann::json& value);

// Whether `value` nests at most `max_depth` levels (a scalar is 0 levels, [] and {} are 1).
// The recursion never goes deeper than max_depth, whatever the input.
bool DepthWithin(const nlohmann::json& value, int max_depth);

// Parses `text` into *out. On a syntax error returns false and sets *error to nlohmann's message
// without its "[json.exception.parse_error.101] " prefix, e.g.
// "parse error at line 1, column 9: syntax error while parsing value - ...". Never throws.
bool ParseJsonText(std::string_view text, nlohmann::json* out, std::string* error);

}  // namespace sextant::payload::internal

#endif  // SEXTANT_PAYLOAD_JSON_UTIL_H_
