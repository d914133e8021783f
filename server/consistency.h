// Session consistency in cluster mode (docs/cluster.md): around the engine calls of one request,
// a read waits for the request's consistency_token (within the call's deadline) and a write
// yields the token of what it wrote, merged with the session's token the request carried.
// In single-node mode nothing waits and write tokens stay empty.
#ifndef SEXTANT_SERVER_CONSISTENCY_H_
#define SEXTANT_SERVER_CONSISTENCY_H_

#include <memory>
#include <string>

#include <grpcpp/server_context.h>

#include "sextant/status.h"

namespace sextant::cluster {
class SessionScope;
}  // namespace sextant::cluster

namespace sextant {

class ConsistencyScope {
 public:
  enum class Kind { kRead, kWrite };
  // `token`: a read's token to wait for, or a write's session token so far ("" = none). `ctx`
  // gives the deadline (null: the node's read timeout).
  ConsistencyScope(Kind kind, const std::string& token, const grpc::ServerContext* ctx);
  ~ConsistencyScope();
  ConsistencyScope(const ConsistencyScope&) = delete;
  ConsistencyScope& operator=(const ConsistencyScope&) = delete;

  // InvalidArgument for a malformed token (OK without cluster support, where tokens are ignored).
  Status Check() const;
  // A write's token: the session's token merged with this request's writes ("" in single-node
  // mode, or the session's token when nothing was written).
  std::string written() const;

 private:
  std::string token_;
  Kind kind_;
  std::unique_ptr<cluster::SessionScope> scope_;
};

}  // namespace sextant

#endif  // SEXTANT_SERVER_CONSISTENCY_H_
