// API keys: who may call what. Clients send `authorization: Bearer KEY`; a read-write key may call
// every RPC, a read-only key only those that change nothing. Without any configured key every
// caller may do everything (sextantd then listens on loopback only, unless --allow-remote).
#ifndef SEXTANT_SERVER_AUTH_H_
#define SEXTANT_SERVER_AUTH_H_

#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"

namespace sextant::server {

enum class Access {
  kDenied,     // no key, or an unknown one
  kReadOnly,   // a read-only key
  kReadWrite,  // a read-write key, or no keys configured
};

class KeyStore {
 public:
  explicit KeyStore(std::vector<ApiKey> keys);

  bool enabled() const { return !keys_.empty(); }

  // The access `authorization` (the metadata value, "Bearer KEY") grants. Every configured key is
  // compared in time independent of where the first difference lies.
  Access Check(std::string_view authorization) const;

 private:
  std::vector<ApiKey> keys_;
};

// Compares a and b in time that depends only on b's length (b is the caller's guess).
bool ConstantTimeEquals(std::string_view secret, std::string_view guess);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_AUTH_H_
