// Payload validation on the write path, and the JSON helpers the filter parser shares.
//
// A payload is stored as compact JSON text (nlohmann's dump()): the write path validates once and
// the read path (ParseStored) trusts what it finds, falling back to {} if the bytes are corrupt.
// nlohmann throws on bad input; nothing here lets an exception escape.
#include "payload/payload.h"

#include <exception>
#include <new>
#include <string>

#include "payload/json_util.h"

namespace sextant::payload {

namespace internal {

std::string_view JsonTypeName(const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null: return "null";
    case Type::object: return "an object";
    case Type::array: return "an array";
    case Type::string: return "a string";
    case Type::boolean: return "a bool";
    case Type::number_integer:
    case Type::number_unsigned:
    case Type::number_float: return "a number";
    case Type::binary: return "binary data";
    case Type::discarded: return "a discarded value";
  }
  return "an unknown value";
}

bool DepthWithin(const nlohmann::json& value, int max_depth) {
  if (!value.is_structured()) return true;
  if (max_depth <= 0) return false;
  for (const auto& child : value) {
    if (!DepthWithin(child, max_depth - 1)) return false;
  }
  return true;
}

bool ParseJsonText(std::string_view text, nlohmann::json* out, std::string* error) {
  try {
    *out = nlohmann::json::parse(text.begin(), text.end());
    return true;
  } catch (const nlohmann::json::exception& e) {
    // parse_error (syntax, with its position) or out_of_range ("number overflow parsing '1e400'").
    // Drop the "[json.exception.parse_error.101] " prefix; keep the position and the reason.
    std::string_view what = e.what();
    if (!what.empty() && what.front() == '[') {
      size_t close = what.find("] ");
      if (close != std::string_view::npos) what.remove_prefix(close + 2);
    }
    // The "last read" excerpt may hold the very bytes that were not UTF-8; escape everything
    // outside printable ASCII so the message itself is always valid UTF-8 (it may travel in a
    // protobuf string).
    error->clear();
    for (char ch : what) {
      auto byte = static_cast<unsigned char>(ch);
      if (byte >= 0x20 && byte < 0x7f) {
        *error += ch;
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        *error += "\\x";
        *error += kHex[byte >> 4];
        *error += kHex[byte & 0xf];
      }
    }
    return false;
  } catch (const std::exception& e) {
    // bad_alloc, or anything else nlohmann may throw: report it as a parse failure.
    *error = e.what();
    return false;
  }
}

}  // namespace internal

Status ValidatePayload(std::string_view text, size_t max_bytes, std::string* compact) {
  try {
    if (text.size() > max_bytes) {
      return Status::InvalidArgument("payload is " + std::to_string(text.size()) +
                                     " bytes, over the limit of " + std::to_string(max_bytes));
    }
    if (text.empty()) {
      if (compact != nullptr) *compact = "{}";
      return Status::OK();
    }
    nlohmann::json value;
    std::string error;
    if (!internal::ParseJsonText(text, &value, &error)) {
      return Status::InvalidArgument("payload is not valid JSON: " + error);
    }
    if (!value.is_object()) {
      return Status::InvalidArgument("payload is not a JSON object (got " +
                                     std::string(internal::JsonTypeName(value)) + ")");
    }
    if (!internal::DepthWithin(value, internal::kMaxPayloadDepth)) {
      return Status::InvalidArgument("payload nests deeper than " +
                                     std::to_string(internal::kMaxPayloadDepth) + " levels");
    }
    // The parser already rejected ill-formed UTF-8 and non-finite numbers, so dump() cannot fail
    // on this value; the catch below is the backstop.
    if (compact != nullptr) *compact = value.dump();
    return Status::OK();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("payload: out of memory while validating");
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("payload is not valid JSON: ") + e.what());
  }
}

nlohmann::json ParseStored(std::string_view text) {
  try {
    if (text.empty()) return nlohmann::json::object();
    nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                 /*allow_exceptions=*/false);
    if (!value.is_object()) return nlohmann::json::object();
    return value;
  } catch (const std::exception&) {
    return nlohmann::json::object();
  }
}

}  // namespace sextant::payload
