// Session consistency (docs/cluster.md): a write returns a consistency token, the per-shard
// stream sequences of the records it produced; a read given a token waits, bounded, until the
// replica it reads has applied at least that far on every shard.
//
// Token text: "v1.<collection created_us>.<seq of shard 0>.<seq of shard 1>..." (decimal; 0 = no
// record on that shard). Tokens of one collection combine by the per-shard maximum (MergeTokens).
//
// The engine's Collection interface has no place for a token, so sextantd opens a SessionScope
// on the handler's thread around the engine calls of one request: the cluster collection's reads
// wait for the scope's token, its writes add their sequences to the scope's written token.
#ifndef SEXTANT_CLUSTER_SESSION_H_
#define SEXTANT_CLUSTER_SESSION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/metadata.h"
#include "sextant/status.h"

namespace sextant::cluster {

struct SessionToken {
  uint64_t created_us = 0;
  std::vector<uint64_t> sequences;  // one per shard
};

std::string FormatToken(const SessionToken& token);
// InvalidArgument with a clear message when `text` is not a token.
StatusOr<SessionToken> ParseToken(std::string_view text);
// The per-shard maximum of two tokens of one collection; `b` alone when `a` is empty or of
// another collection (created_us differs), `a` alone when `b` is empty. InvalidArgument when
// either does not parse.
StatusOr<std::string> MergeTokens(std::string_view a, std::string_view b);

class SessionScope {
 public:
  // `after`: the token reads in this scope wait for ("" = none). `deadline`: a read waits for it
  // until then at most (time_point::max(): the node's read timeout, NodeOptions::read_timeout_ms).
  SessionScope(std::string after, std::chrono::steady_clock::time_point deadline);
  ~SessionScope();
  SessionScope(const SessionScope&) = delete;
  SessionScope& operator=(const SessionScope&) = delete;

  // The innermost scope on this thread, or null.
  static SessionScope* Current();

  // The per-shard sequences a read of `spec` must wait for (all 0 without a token).
  // InvalidArgument when the token does not parse, is from another collection (or an earlier
  // one of the same name) or has another number of shards.
  StatusOr<std::vector<uint64_t>> After(const CollectionSpec& spec) const;
  // How long a read may still wait: the time left to the deadline (at least 0), or `fallback`
  // (the node's read timeout) when the request has no deadline.
  int64_t RemainingMs(int64_t fallback) const;

  // Adds a write's per-shard sequences to the scope's written token (replacing a token of
  // another collection).
  void NoteWritten(const CollectionSpec& spec, const std::vector<uint64_t>& sequences);
  // The token of the writes made in this scope ("" when none).
  std::string written() const;

 private:
  std::string after_;
  std::chrono::steady_clock::time_point deadline_;
  SessionToken written_;
  bool wrote_ = false;
  SessionScope* outer_;
};

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_SESSION_H_
