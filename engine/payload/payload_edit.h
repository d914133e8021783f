// Edits of stored payloads (merge, delete keys) and projections of them (include/exclude lists),
// for the payload-update calls and Search's payload selection. Paths are dotted, as in filters
// ("meta.author"); a path segment names a key of an object (arrays are not walked).
#ifndef SEXTANT_PAYLOAD_PAYLOAD_EDIT_H_
#define SEXTANT_PAYLOAD_PAYLOAD_EDIT_H_

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/status.h"

namespace sextant::payload {

// InvalidArgument unless every path is a non-empty dotted path of non-empty segments
// ("a.b", not "", "a..b" or ".a"). `what` names the list in the message ("keys", "include").
Status ValidatePaths(const std::vector<std::string>& paths, std::string_view what);

// Sets every top-level key of `update` (an object) in `target` (an object), replacing the
// values of keys both hold; keys only `target` holds are kept.
void MergeTopLevel(nlohmann::json* target, const nlohmann::json& update);

// Removes each dotted path from `target`; paths that are absent are skipped. Returns how many
// were removed.
size_t DeletePaths(nlohmann::json* target, const std::vector<std::string>& paths);

// The stored payload `stored` (compact JSON object text) with only the `include` paths kept
// (all of it when `include` is empty), then the `exclude` paths removed, as compact JSON text.
// Parents of an included path keep only what is included below them.
std::string Project(std::string_view stored, const std::vector<std::string>& include,
                    const std::vector<std::string>& exclude);

}  // namespace sextant::payload

#endif  // SEXTANT_PAYLOAD_PAYLOAD_EDIT_H_
