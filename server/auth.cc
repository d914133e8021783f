#include "server/auth.h"

#include <cctype>
#include <utility>

namespace sextant::server {

bool ConstantTimeEquals(std::string_view secret, std::string_view guess) {
  // Every byte of the guess is compared (against the secret, cycled), so the time says nothing
  // about how much of the secret the guess got right.
  unsigned diff = secret.size() == guess.size() ? 0u : 1u;
  if (secret.empty()) return guess.empty();
  for (size_t i = 0; i < guess.size(); ++i) {
    diff |= static_cast<unsigned char>(secret[i % secret.size()]) ^
            static_cast<unsigned char>(guess[i]);
  }
  return diff == 0;
}

KeyStore::KeyStore(std::vector<ApiKey> keys) : keys_(std::move(keys)) {}

Access KeyStore::Check(std::string_view authorization) const {
  if (keys_.empty()) return Access::kReadWrite;
  // "Bearer KEY"; the scheme is case-insensitive (RFC 7235).
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return Access::kDenied;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return Access::kDenied;
    }
  }
  std::string_view guess = authorization.substr(kScheme.size());
  while (!guess.empty() && guess.front() == ' ') guess.remove_prefix(1);
  // No early exit: every key is compared, whichever matches.
  bool read_write = false, read_only = false;
  for (const ApiKey& k : keys_) {
    const bool match = ConstantTimeEquals(k.key, guess);
    read_write |= match && !k.read_only;
    read_only |= match && k.read_only;
  }
  if (read_write) return Access::kReadWrite;
  if (read_only) return Access::kReadOnly;
  return Access::kDenied;
}

}  // namespace sextant::server
