// What the C++ client's files share (client.cc, client_chat.cc): the connection every call uses.
#ifndef SEXTANT_CLIENT_CPP_CLIENT_INTERNAL_H_
#define SEXTANT_CLIENT_CPP_CLIENT_INTERNAL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "convert.h"
#include "sextant/status.h"
#include "sync/mutex.h"
#include "sextant/v1/sextant.grpc.pb.h"

namespace sextant::client_internal {

namespace v1 = ::sextant::v1;

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Sextant::Stub> stub;
  std::string authorization;  // "Bearer <key>", or empty for no key
  uint32_t timeout_ms = 0;

  // Sets the key and a deadline of `deadline_ms` from now (0 = none) on a fresh context.
  void Prepare(grpc::ClientContext* context, uint64_t deadline_ms) const {
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
    if (deadline_ms > 0) {
      context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    }
  }

  // One unary call: `rpc(context)` calls the stub; its status becomes a sextant::Status.
  template <typename Rpc>
  Status Call(Rpc&& rpc, uint64_t deadline_ms) const {
    grpc::ClientContext context;
    Prepare(&context, deadline_ms);
    return convert::FromGrpc(rpc(&context));
  }
  template <typename Rpc>
  Status Call(Rpc&& rpc) const {
    return Call(std::forward<Rpc>(rpc), timeout_ms);
  }
};

// A RemoteCollection's session token (cluster mode's session consistency).
struct Session {
  mutable internal::Mutex mu;
  std::string token SEXTANT_GUARDED_BY(mu);
  std::string Get() const {
    internal::MutexLock lock(mu);
    return token;
  }
  // A write's response token covers the token sent with it: the newest replaces it ("" from a
  // single node leaves it as it was).
  void Set(const std::string& t) {
    if (t.empty()) return;
    internal::MutexLock lock(mu);
    token = t;
  }
};

}  // namespace sextant::client_internal

#endif  // SEXTANT_CLIENT_CPP_CLIENT_INTERNAL_H_
