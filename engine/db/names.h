// The rule for the names a database hands out: collections, aliases and snapshots.
#ifndef SEXTANT_DB_NAMES_H_
#define SEXTANT_DB_NAMES_H_

#include <string>
#include <string_view>

#include "sextant/status.h"

namespace sextant::db_internal {

// 1..max_length characters, letters, digits, '_', '-' and '.', starting with a letter or digit;
// errors name `what` ("collection name", "snapshot name", ...).
inline Status ValidateName(std::string_view name, std::string_view what, size_t max_length) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (name.size() > max_length) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(name.size()) +
                                   " characters, over the limit of " + std::to_string(max_length));
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) {
    return Status::InvalidArgument(std::string(what) + " '" + std::string(name) + "' must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '-' && c != '.') {
      return Status::InvalidArgument(std::string(what) + " '" + std::string(name) +
                                     "' may hold only letters, digits, '_', '-' and '.'");
    }
  }
  return Status::OK();
}

}  // namespace sextant::db_internal

#endif  // SEXTANT_DB_NAMES_H_
