#include "cluster/session.h"

#include <algorithm>
#include <charconv>

namespace sextant::cluster {

namespace {

thread_local SessionScope* current_scope = nullptr;

constexpr size_t kMaxTokenBytes = 64 * 1024;

}  // namespace

std::string FormatToken(const SessionToken& token) {
  std::string out = "v1." + std::to_string(token.created_us);
  for (uint64_t s : token.sequences) out += "." + std::to_string(s);
  return out;
}

StatusOr<SessionToken> ParseToken(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("malformed consistency token (" + std::string(why) +
                                   "); pass the consistency_token of a write's result unchanged");
  };
  if (text.size() > kMaxTokenBytes) return bad("too long");
  if (text.substr(0, 3) != "v1.") return bad("not a v1 token");
  std::vector<uint64_t> fields;
  std::string_view rest = text.substr(3);
  while (true) {
    size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size()) return bad("not a number");
    fields.push_back(v);
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (fields.size() < 2) return bad("no shard sequences");
  SessionToken t;
  t.created_us = fields[0];
  t.sequences.assign(fields.begin() + 1, fields.end());
  return t;
}

StatusOr<std::string> MergeTokens(std::string_view a, std::string_view b) {
  if (a.empty()) {
    if (!b.empty()) SEXTANT_RETURN_IF_ERROR(ParseToken(b).status());
    return std::string(b);
  }
  SEXTANT_ASSIGN_OR_RETURN(SessionToken ta, ParseToken(a));
  if (b.empty()) return std::string(a);
  SEXTANT_ASSIGN_OR_RETURN(SessionToken tb, ParseToken(b));
  if (ta.created_us != tb.created_us || ta.sequences.size() != tb.sequences.size()) return std::string(b);
  for (size_t i = 0; i < ta.sequences.size(); ++i) ta.sequences[i] = std::max(ta.sequences[i], tb.sequences[i]);
  return FormatToken(ta);
}

SessionScope::SessionScope(std::string after, std::chrono::steady_clock::time_point deadline)
    : after_(std::move(after)), deadline_(deadline), outer_(current_scope) {
  current_scope = this;
}

SessionScope::~SessionScope() { current_scope = outer_; }

SessionScope* SessionScope::Current() { return current_scope; }

int64_t SessionScope::RemainingMs(int64_t fallback) const {
  if (deadline_ == std::chrono::steady_clock::time_point::max()) return fallback;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
  return std::max<int64_t>(left.count(), 0);
}

StatusOr<std::vector<uint64_t>> SessionScope::After(const CollectionSpec& spec) const {
  if (after_.empty()) return std::vector<uint64_t>(spec.shards, 0);
  SEXTANT_ASSIGN_OR_RETURN(SessionToken t, ParseToken(after_));
  if (t.created_us != spec.created_us) {
    return Status::InvalidArgument("consistency token is not from collection " + spec.name +
                                   " (another collection, or one dropped since)");
  }
  if (t.sequences.size() != spec.shards) {
    return Status::InvalidArgument("consistency token has " + std::to_string(t.sequences.size()) +
                                   " shards, collection " + spec.name + " has " + std::to_string(spec.shards));
  }
  return std::move(t.sequences);
}

void SessionScope::NoteWritten(const CollectionSpec& spec, const std::vector<uint64_t>& sequences) {
  if (!wrote_ || written_.created_us != spec.created_us || written_.sequences.size() != spec.shards) {
    written_.created_us = spec.created_us;
    written_.sequences.assign(spec.shards, 0);
  }
  wrote_ = true;
  for (size_t s = 0; s < spec.shards && s < sequences.size(); ++s) {
    written_.sequences[s] = std::max(written_.sequences[s], sequences[s]);
  }
}

std::string SessionScope::written() const { return wrote_ ? FormatToken(written_) : std::string(); }

}  // namespace sextant::cluster
