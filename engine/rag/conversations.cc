// Server-side conversations (ConversationStore): the turns of a conversation stored in the
// reserved collection "sextant.conversations", one point per message, through the public
// Collection API; a per-conversation lock serialises the turns of one conversation. See docs/rag.md
// ("Server-side conversations").
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/rag.h"
#include "sync/mutex.h"

namespace sextant::rag {
namespace {

using Json = nlohmann::json;
using internal::Mutex;
using internal::MutexLock;

constexpr size_t kMaxIdBytes = 128;
constexpr uint32_t kScanPage = 1000;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The text a message holds, as counted against the limits.
uint64_t MessageBytes(const ChatMessage& m) {
  uint64_t n = m.content.size() + m.tool_call_id.size();
  for (const ToolCall& c : m.tool_calls) n += c.id.size() + c.name.size() + c.arguments.size();
  return n;
}

// "<id>#<seq>", the seq zero-padded so that ids sort like the messages.
PointId MessagePointId(std::string_view id, uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "#%012llu", static_cast<unsigned long long>(seq));
  return PointId(std::string(id) + buf);
}

std::string MessagePayload(std::string_view id, std::string_view collection, uint64_t seq, int64_t time_ms,
                           const ChatMessage& m) {
  Json calls = Json::array();
  for (const ToolCall& c : m.tool_calls) calls.push_back({{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  Json j = {{"conversation", id}, {"collection", collection}, {"seq", seq},      {"time_ms", time_ms},
            {"role", m.role},     {"content", m.content},     {"tool_calls", calls}, {"tool_call_id", m.tool_call_id}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct StoredMessage {
  uint64_t seq = 0;
  int64_t time_ms = 0;
  std::string collection;
  ChatMessage message;
};

StatusOr<StoredMessage> ParseStored(const Point& p) {
  Json j = Json::parse(p.payload, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) {
    return Status::DataLoss("conversation message " + p.id.ToString() + " has a malformed payload");
  }
  StoredMessage out;
  out.seq = j["seq"].get<uint64_t>();
  out.time_ms = j.value("time_ms", int64_t{0});
  out.collection = j.value("collection", std::string());
  out.message.role = j.value("role", std::string());
  out.message.content = j.value("content", std::string());
  out.message.tool_call_id = j.value("tool_call_id", std::string());
  if (j.contains("tool_calls") && j["tool_calls"].is_array()) {
    for (const Json& c : j["tool_calls"]) {
      if (!c.is_object()) continue;
      out.message.tool_calls.push_back(
          {c.value("id", std::string()), c.value("name", std::string()), c.value("arguments", std::string())});
    }
  }
  return out;
}

std::string EqualsFilter(std::string_view field, std::string_view value) {
  return Json{{std::string(field), std::string(value)}}.dump();
}

}  // namespace

struct ConversationStore::Rep {
  Database* db = nullptr;
  ConversationLimits limits;

  // The reserved collection; created on the first turn (create) so that a database without
  // conversations does not show it. nullptr when it does not exist and !create.
  StatusOr<std::shared_ptr<Collection>> Points(bool create) const {
    auto existing = db->GetCollection(kConversationCollection);
    if (!existing.ok() && existing.status().code() == StatusCode::kNotFound) {
      if (!create) return std::shared_ptr<Collection>();
      CollectionOptions options;
      options.dimension = 1;
      options.metric = Metric::kL2;
      options.payload_indexes = {{"conversation", PayloadFieldType::kKeyword},
                                 {"collection", PayloadFieldType::kKeyword}};
      options.properties = R"({"sextant.reserved":"conversations"})";
      existing = db->CreateCollection(kConversationCollection, options);
      if (!existing.ok() && existing.status().code() == StatusCode::kAlreadyExists) {
        existing = db->GetCollection(kConversationCollection);  // created meanwhile
      }
    }
    if (!existing.ok()) return existing.status().WithPrefix("conversations");
    if ((*existing)->dimension() != 1) {
      return Status::FailedPrecondition("collection \"" + std::string(kConversationCollection) +
                                        "\" is reserved for conversations, and this one is not");
    }
    return existing;
  }

  // One lock per conversation in use, dropped when its last user leaves.
  struct Lock {
    Mutex mu;
    int users = 0;  // guarded by Rep::locks_mu (the analysis cannot name an outer member)
  };
  Mutex locks_mu;
  std::map<std::string, std::unique_ptr<Lock>, std::less<>> locks SEXTANT_GUARDED_BY(locks_mu);

  // The conversation's lock is taken here and released in Release (the analysis cannot follow a
  // lock handed between functions).
  Lock* Acquire(std::string_view id) SEXTANT_NO_THREAD_SAFETY_ANALYSIS {
    Lock* lock;
    {
      MutexLock l(locks_mu);
      auto it = locks.find(id);
      if (it == locks.end()) it = locks.emplace(std::string(id), std::make_unique<Lock>()).first;
      lock = it->second.get();
      ++lock->users;
    }
    lock->mu.lock();
    return lock;
  }

  void Release(std::string_view id, Lock* lock) SEXTANT_NO_THREAD_SAFETY_ANALYSIS {
    lock->mu.unlock();
    MutexLock l(locks_mu);
    if (--lock->users == 0) locks.erase(locks.find(id));
  }

  // Every stored message of `id`, by seq; empty when it has none.
  StatusOr<std::vector<StoredMessage>> Load(const Collection* points, std::string_view id) const {
    std::vector<StoredMessage> out;
    if (points == nullptr) return out;
    ScanOptions scan;
    scan.limit = kScanPage;
    scan.filter = EqualsFilter("conversation", id);
    scan.with_vector = false;
    do {
      SEXTANT_ASSIGN_OR_RETURN(ScanPage page, points->Scan(scan));
      for (const Point& p : page.points) {
        SEXTANT_ASSIGN_OR_RETURN(StoredMessage m, ParseStored(p));
        out.push_back(std::move(m));
      }
      scan.cursor = std::move(page.next_cursor);
    } while (!scan.cursor.empty());
    std::sort(out.begin(), out.end(), [](const StoredMessage& a, const StoredMessage& b) { return a.seq < b.seq; });
    return out;
  }
};

ConversationStore::ConversationStore(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ConversationStore::~ConversationStore() = default;

const ConversationLimits& ConversationStore::limits() const { return rep_->limits; }

StatusOr<std::unique_ptr<ConversationStore>> ConversationStore::Open(Database& db, ConversationLimits limits) {
  if (limits.max_messages < 2) return Status::InvalidArgument("conversation limits: max_messages must be at least 2");
  if (limits.max_bytes == 0 || limits.max_message_bytes == 0) {
    return Status::InvalidArgument("conversation limits: max_bytes and max_message_bytes must be positive");
  }
  auto rep = std::make_unique<Rep>();
  rep->db = &db;
  rep->limits = limits;
  SEXTANT_RETURN_IF_ERROR(rep->Points(false).status());
  return std::unique_ptr<ConversationStore>(new ConversationStore(std::move(rep)));
}

Status ConversationStore::ValidateId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("conversation_id is empty");
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument("conversation_id is " + std::to_string(id.size()) + " bytes, at most " +
                                   std::to_string(kMaxIdBytes));
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == ':';
    if (!ok) {
      return Status::InvalidArgument("conversation_id \"" + std::string(id) +
                                     "\" may hold only letters, digits, '_', '-', '.' and ':'");
    }
  }
  return Status::OK();
}

StatusOr<Answer> ConversationStore::Chat(const TextCollection& collection, std::string_view id,
                                         std::span<const ChatMessage> messages, const ChatOptions& options,
                                         Generator& generator, const TokenCallback& on_token) {
  SEXTANT_RETURN_IF_ERROR(ValidateId(id));
  const ConversationLimits& limits = rep_->limits;
  uint64_t new_bytes = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const uint64_t n = MessageBytes(messages[i]);
    if (n > limits.max_message_bytes) {
      return Status::InvalidArgument("messages[" + std::to_string(i) + "]: " + std::to_string(n) +
                                     " bytes, over the limit of " + std::to_string(limits.max_message_bytes) +
                                     " bytes per stored message");
    }
    new_bytes += n;
  }

  Rep::Lock* lock = rep_->Acquire(id);
  struct Unlock {
    Rep* rep;
    std::string_view id;
    Rep::Lock* lock;
    ~Unlock() { rep->Release(id, lock); }
  } unlock{rep_.get(), id, lock};

  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> points, rep_->Points(true));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<StoredMessage> stored, rep_->Load(points.get(), id));
  if (!stored.empty() && stored.front().collection != collection.name()) {
    return Status::InvalidArgument("conversation \"" + std::string(id) + "\" belongs to collection \"" +
                                   stored.front().collection + "\", not \"" + collection.name() + "\"");
  }
  uint64_t bytes = new_bytes;
  for (const StoredMessage& m : stored) bytes += MessageBytes(m.message);
  if (bytes > limits.max_bytes) {
    return Status::ResourceExhausted("conversation \"" + std::string(id) + "\" would hold " + std::to_string(bytes) +
                                     " bytes, over the limit of " + std::to_string(limits.max_bytes) +
                                     "; delete it or start a new one");
  }

  std::vector<ChatMessage> history;
  history.reserve(stored.size() + messages.size());
  for (const StoredMessage& m : stored) history.push_back(m.message);
  history.insert(history.end(), messages.begin(), messages.end());
  SEXTANT_ASSIGN_OR_RETURN(Answer answer, collection.Chat(history, options, generator, on_token));

  // Append the new messages and the answer's in one atomic batch.
  std::vector<const ChatMessage*> append;
  for (const ChatMessage& m : messages) append.push_back(&m);
  for (const ChatMessage& m : answer.messages) append.push_back(&m);
  uint64_t seq = stored.empty() ? 0 : stored.back().seq + 1;
  const int64_t now = NowMs();
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  for (const ChatMessage* m : append) {
    const uint64_t n = MessageBytes(*m);
    if (n > limits.max_message_bytes) {
      return Status::ResourceExhausted("the answer's " + m->role + " message is " + std::to_string(n) +
                                       " bytes, over the limit of " + std::to_string(limits.max_message_bytes) +
                                       " bytes per stored message; the turn was not stored");
    }
    ids.push_back(MessagePointId(id, seq));
    payloads.push_back(MessagePayload(id, collection.name(), seq, now, *m));
    ++seq;
  }
  const std::vector<float> vectors(ids.size(), 1.0f);
  SEXTANT_RETURN_IF_ERROR(points->Upsert({}, ids, vectors, payloads).WithPrefix("conversation store"));

  // The rolling window: drop the oldest beyond max_messages, keeping a leading system message.
  const size_t total = stored.size() + append.size();
  if (total > limits.max_messages) {
    size_t drop = total - limits.max_messages;
    const size_t first = (!stored.empty() && stored.front().message.role == "system") ? 1 : 0;
    std::vector<PointId> old;
    for (size_t i = first; i < stored.size() && old.size() < drop; ++i) old.push_back(MessagePointId(id, stored[i].seq));
    if (!old.empty()) {
      SEXTANT_RETURN_IF_ERROR(points->Delete({}, old).status().WithPrefix("conversation store"));
    }
  }
  return answer;
}

StatusOr<Conversation> ConversationStore::Get(std::string_view id) const {
  SEXTANT_RETURN_IF_ERROR(ValidateId(id));
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> points, rep_->Points(false));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<StoredMessage> stored, rep_->Load(points.get(), id));
  if (stored.empty()) return Status::NotFound("conversation \"" + std::string(id) + "\" does not exist");
  Conversation out;
  out.info.id = std::string(id);
  out.info.collection = stored.front().collection;
  out.info.created_ms = stored.front().time_ms;
  out.info.updated_ms = stored.back().time_ms;
  out.info.messages = static_cast<uint32_t>(stored.size());
  for (StoredMessage& m : stored) {
    out.info.bytes += MessageBytes(m.message);
    out.info.created_ms = std::min(out.info.created_ms, m.time_ms);
    out.messages.push_back(std::move(m.message));
  }
  return out;
}

StatusOr<std::vector<ConversationInfo>> ConversationStore::List(std::string_view collection) const {
  std::map<std::string, ConversationInfo> by_id;
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> points, rep_->Points(false));
  if (points == nullptr) return std::vector<ConversationInfo>();
  ScanOptions scan;
  scan.limit = kScanPage;
  if (!collection.empty()) scan.filter = EqualsFilter("collection", collection);
  scan.with_vector = false;
  do {
    SEXTANT_ASSIGN_OR_RETURN(ScanPage page, points->Scan(scan));
    for (const Point& p : page.points) {
      SEXTANT_ASSIGN_OR_RETURN(StoredMessage m, ParseStored(p));
      const std::string& pid = p.id.str();
      const std::string id = pid.substr(0, pid.rfind('#'));
      auto [it, fresh] = by_id.try_emplace(id);
      ConversationInfo& info = it->second;
      if (fresh) {
        info.id = id;
        info.collection = m.collection;
        info.created_ms = m.time_ms;
      }
      ++info.messages;
      info.bytes += MessageBytes(m.message);
      info.created_ms = std::min(info.created_ms, m.time_ms);
      info.updated_ms = std::max(info.updated_ms, m.time_ms);
    }
    scan.cursor = std::move(page.next_cursor);
  } while (!scan.cursor.empty());
  std::vector<ConversationInfo> out;
  out.reserve(by_id.size());
  for (auto& [id, info] : by_id) out.push_back(std::move(info));
  return out;
}

Status ConversationStore::Delete(std::string_view id) {
  SEXTANT_RETURN_IF_ERROR(ValidateId(id));
  Rep::Lock* lock = rep_->Acquire(id);
  struct Unlock {
    Rep* rep;
    std::string_view id;
    Rep::Lock* lock;
    ~Unlock() { rep->Release(id, lock); }
  } unlock{rep_.get(), id, lock};
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> points, rep_->Points(false));
  if (points == nullptr) return Status::NotFound("conversation \"" + std::string(id) + "\" does not exist");
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted, points->DeleteWhere({}, EqualsFilter("conversation", id)));
  if (deleted == 0) return Status::NotFound("conversation \"" + std::string(id) + "\" does not exist");
  return Status::OK();
}

}  // namespace sextant::rag
