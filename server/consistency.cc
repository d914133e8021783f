#include "server/consistency.h"

#include <chrono>

#ifdef SEXTANT_WITH_CLUSTER
#include "cluster/session.h"
#endif

namespace sextant {

#ifdef SEXTANT_WITH_CLUSTER

namespace {

std::chrono::steady_clock::time_point SteadyDeadline(const grpc::ServerContext* ctx) {
  if (ctx == nullptr) return std::chrono::steady_clock::time_point::max();
  const auto now = std::chrono::system_clock::now();
  const auto deadline = ctx->deadline();
  // gRPC reports "no deadline" as a time far in the future.
  if (deadline > now + std::chrono::hours(24 * 365)) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now);
}

}  // namespace

ConsistencyScope::ConsistencyScope(Kind kind, const std::string& token, const grpc::ServerContext* ctx)
    : token_(token),
      kind_(kind),
      scope_(std::make_unique<cluster::SessionScope>(kind == Kind::kRead ? token : std::string(),
                                                     SteadyDeadline(ctx))) {}

ConsistencyScope::~ConsistencyScope() = default;

Status ConsistencyScope::Check() const {
  if (token_.empty()) return Status::OK();
  return cluster::ParseToken(token_).status().WithPrefix("consistency_token");
}

std::string ConsistencyScope::written() const {
  auto merged = cluster::MergeTokens(kind_ == Kind::kWrite ? token_ : std::string(), scope_->written());
  return merged.ok() ? *merged : scope_->written();
}

#else

}  // namespace sextant

namespace sextant::cluster {
class SessionScope {};  // never made without cluster support
}  // namespace sextant::cluster

namespace sextant {

ConsistencyScope::ConsistencyScope(Kind kind, const std::string&, const grpc::ServerContext*) : kind_(kind) {}
ConsistencyScope::~ConsistencyScope() = default;
Status ConsistencyScope::Check() const { return Status::OK(); }
std::string ConsistencyScope::written() const { return std::string(); }

#endif

}  // namespace sextant
