// Fuzz target: the filter language (Filter::Parse, Filter::FromJson, Filter::Matches).
//
// Input: filter text, a NUL byte, then payload text. The payload goes through the write path's
// validation (as every stored payload does) before the filter is matched against it.
// Checked beyond "no crash, no sanitizer report":
//  - Parse(text) and FromJson(json::parse(text)) agree, on success and in what they match;
//  - {"$not": f} matches exactly when f does not.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "payload/filter.h"
#include "payload/payload.h"

using sextant::fuzz::Check;
using sextant::payload::Filter;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sextant::fuzz::Input in(data, size);
  const std::string_view filter_text = in.Until('\0');
  const std::string_view payload_text = in.Rest();

  auto parsed = Filter::Parse(filter_text);
  // The same text through the already-parsed entry point.
  nlohmann::json filter_json = nlohmann::json::parse(filter_text, nullptr, /*allow_exceptions=*/false);
  if (!filter_json.is_discarded()) {
    auto from_json = Filter::FromJson(filter_json);
    Check(from_json.ok() == parsed.ok(), "Parse and FromJson disagree",
          parsed.status().ToString() + " | " + from_json.status().ToString());
  }
  if (!parsed.ok()) {
    Check(!parsed.status().message().empty(), "a refused filter has no message");
    return 0;
  }
  const Filter& filter = *parsed;

  std::string compact;
  nlohmann::json payload = nlohmann::json::object();
  if (sextant::payload::ValidatePayload(payload_text, 1 << 20, &compact).ok()) {
    payload = sextant::payload::ParseStored(compact);
  }
  const bool matches = filter.Matches(payload);
  if (filter.MatchesAll()) Check(matches, "MatchesAll() but does not match");
  // Non-objects too (a corrupt stored payload reads back as {}, but Matches takes any value).
  (void)filter.Matches(nlohmann::json());
  (void)filter.Matches(nlohmann::json::array({1, "a"}));

  if (!filter_json.is_discarded()) {
    auto again = Filter::FromJson(filter_json);
    Check(again.ok() && again->Matches(payload) == matches, "FromJson matches differently");
    auto negated = Filter::FromJson(nlohmann::json{{"$not", filter_json}});
    // One level deeper may pass the depth limit; otherwise $not must be the negation.
    if (negated.ok()) {
      Check(negated->Matches(payload) == !matches, "$not is not the negation",
            filter_json.dump() + " on " + payload.dump());
    }
  }
  return 0;
}
