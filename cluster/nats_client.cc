#include "cluster/nats_client.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace sextant::cluster {

namespace {

std::string LastErrorText(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(s);
}

bool IsWrongLastSequence(natsStatus s, jsErrCode code) {
  if (code == JSStreamWrongLastSequenceErr) return true;
  if (s != NATS_ERR) return false;
  std::string text = LastErrorText(s);
  return text.find("wrong last sequence") != std::string::npos;
}

}  // namespace

Status NatsError(int nats_status, std::string_view what) {
  auto s = static_cast<natsStatus>(nats_status);
  std::string msg = std::string(what) + ": " + LastErrorText(s);
  switch (s) {
    case NATS_OK:
      return Status::OK();
    case NATS_NOT_FOUND:
      return Status::NotFound(msg);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return Status::InvalidArgument(msg);
    case NATS_MAX_PAYLOAD:
      return Status::ResourceExhausted(msg);
    case NATS_TIMEOUT:
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_NO_RESPONDERS:
    case NATS_IO_ERROR:
      return Status::Unavailable(msg);
    default:
      return Status::Unavailable(msg);
  }
}

std::string NatsToken(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  for (char c : name) {
    if (c == '_') {
      out += "__";
    } else if (c == '.') {
      out += "_d";
    } else {
      out += c;
    }
  }
  return out;
}

// ---- KvBucket

KvBucket::~KvBucket() { kvStore_Destroy(kv_); }

StatusOr<std::optional<KvEntry>> KvBucket::Get(const std::string& key) const {
  kvEntry* e = nullptr;
  natsStatus s = kvStore_Get(&e, kv_, key.c_str());
  if (s == NATS_NOT_FOUND) return std::optional<KvEntry>();
  if (s != NATS_OK) return NatsError(s, "reading key " + key + " of bucket " + name_);
  KvEntry entry;
  entry.value.assign(static_cast<const char*>(kvEntry_Value(e)), kvEntry_ValueLen(e));
  entry.revision = kvEntry_Revision(e);
  kvEntry_Destroy(e);
  return std::optional<KvEntry>(std::move(entry));
}

StatusOr<uint64_t> KvBucket::Create(const std::string& key, std::string_view value) {
  uint64_t rev = 0;
  natsStatus s = kvStore_Create(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_OK) return rev;
  if (IsWrongLastSequence(s, static_cast<jsErrCode>(0))) {
    return Status::AlreadyExists("key " + key + " of bucket " + name_ + " exists");
  }
  return NatsError(s, "creating key " + key + " of bucket " + name_);
}

StatusOr<uint64_t> KvBucket::Update(const std::string& key, std::string_view value, uint64_t revision) {
  uint64_t rev = 0;
  natsStatus s =
      kvStore_Update(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()), revision);
  if (s == NATS_OK) return rev;
  if (IsWrongLastSequence(s, static_cast<jsErrCode>(0))) {
    return Status::Aborted("key " + key + " of bucket " + name_ + " changed since revision " +
                           std::to_string(revision));
  }
  return NatsError(s, "updating key " + key + " of bucket " + name_);
}

StatusOr<uint64_t> KvBucket::Put(const std::string& key, std::string_view value) {
  uint64_t rev = 0;
  natsStatus s = kvStore_Put(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s != NATS_OK) return NatsError(s, "writing key " + key + " of bucket " + name_);
  return rev;
}

Status KvBucket::Delete(const std::string& key) {
  natsStatus s = kvStore_Delete(kv_, key.c_str());
  if (s != NATS_OK && s != NATS_NOT_FOUND) return NatsError(s, "deleting key " + key + " of bucket " + name_);
  return Status::OK();
}

StatusOr<std::vector<std::string>> KvBucket::Keys() const {
  kvKeysList list{};
  natsStatus s = kvStore_Keys(&list, kv_, nullptr);
  std::vector<std::string> keys;
  if (s == NATS_NOT_FOUND) return keys;  // an empty bucket
  if (s != NATS_OK) return NatsError(s, "listing the keys of bucket " + name_);
  keys.reserve(list.Count);
  for (int i = 0; i < list.Count; ++i) keys.emplace_back(list.Keys[i]);
  kvKeysList_Destroy(&list);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// ---- NatsClient

StatusOr<std::unique_ptr<NatsClient>> NatsClient::Connect(const NatsOptions& options) {
  if (options.urls.empty()) return Status::InvalidArgument("no NATS server URL given (--cluster nats://HOST:PORT)");
  std::vector<std::string> urls;
  size_t start = 0;
  while (start <= options.urls.size()) {
    size_t comma = options.urls.find(',', start);
    if (comma == std::string::npos) comma = options.urls.size();
    std::string url = options.urls.substr(start, comma - start);
    if (url.empty() || url.find("://") == std::string::npos) {
      return Status::InvalidArgument("bad NATS server URL '" + url + "' in '" + options.urls +
                                     "': expected nats://HOST:PORT[,nats://HOST:PORT...]");
    }
    urls.push_back(std::move(url));
    start = comma + 1;
  }
  if (options.timeout_ms <= 0) return Status::InvalidArgument("NATS timeout must be > 0 ms");
  if (options.replicas < 1 || options.replicas > 5) {
    return Status::InvalidArgument("JetStream replicas must be 1..5, got " + std::to_string(options.replicas));
  }
  std::vector<const char*> cu;
  for (const auto& u : urls) cu.push_back(u.c_str());

  std::unique_ptr<NatsClient> client(new NatsClient());
  client->options_ = options;
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, cu.data(), static_cast<int>(cu.size()));
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.timeout_ms);
  // After the first connection, reconnect forever: a node rides out a NATS restart.
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    return NatsError(s, "NATS options");
  }
  s = natsConnection_Connect(&client->nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    return Status::Unavailable("cannot connect to NATS at " + options.urls + ": " + LastErrorText(s) +
                               " (is nats-server running there with JetStream enabled?)");
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.timeout_ms;
  s = natsConnection_JetStream(&client->js_, client->nc_, &jo);
  if (s != NATS_OK) return NatsError(s, "JetStream context");
  // JetStream must be enabled on the server: ask for the account info once.
  jsAccountInfo* ai = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  s = js_GetAccountInfo(&ai, client->js_, nullptr, &code);
  if (s != NATS_OK) {
    return Status::Unavailable("NATS at " + options.urls + " has no JetStream: " + LastErrorText(s) +
                               " (start nats-server with -js)");
  }
  jsAccountInfo_Destroy(ai);
  return client;
}

NatsClient::~NatsClient() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
}

int64_t NatsClient::max_payload() const { return natsConnection_GetMaxPayload(nc_); }

Status NatsClient::EnsureStream(const std::string& name, const std::vector<std::string>& subjects,
                                int64_t dedupe_ms) {
  std::vector<const char*> subs;
  for (const auto& s : subjects) subs.push_back(s.c_str());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Subjects = subs.data();
  cfg.SubjectsLen = static_cast<int>(subs.size());
  cfg.Storage = js_FileStorage;
  cfg.Replicas = options_.replicas;
  cfg.Duplicates = dedupe_ms * 1000 * 1000;  // nanoseconds
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &code);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return Status::OK();
  }
  if (code == JSStreamNameExistErr) return Status::OK();
  // An identical stream that exists already is fine too; the server says "already in use" for a
  // different configuration.
  si = nullptr;
  if (js_GetStreamInfo(&si, js_, name.c_str(), nullptr, nullptr) == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return Status::OK();
  }
  return NatsError(s, "creating stream " + name);
}

Status NatsClient::DeleteStream(const std::string& name) {
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_DeleteStream(js_, name.c_str(), nullptr, &code);
  if (s == NATS_OK) return Status::OK();
  if (code == JSStreamNotFoundErr) return Status::NotFound("stream " + name + " not found");
  return NatsError(s, "deleting stream " + name);
}

StatusOr<uint64_t> NatsClient::LastSequence(const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, &code);
  if (s != NATS_OK) {
    if (code == JSStreamNotFoundErr) return Status::NotFound("stream " + stream + " not found");
    return NatsError(s, "reading stream " + stream);
  }
  uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return last;
}

StatusOr<uint64_t> NatsClient::LastSequenceOf(const std::string& stream, const std::string& subject) {
  natsMsg* msg = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&msg, js_, stream.c_str(), subject.c_str(), nullptr, &code);
  if (s == NATS_NOT_FOUND || code == JSNoMessageFoundErr) return uint64_t{0};
  if (s != NATS_OK) {
    if (code == JSStreamNotFoundErr) return Status::NotFound("stream " + stream + " not found");
    return NatsError(s, "reading the last message of " + subject);
  }
  uint64_t seq = natsMsg_GetSequence(msg);
  natsMsg_Destroy(msg);
  return seq;
}

StatusOr<PublishAck> NatsClient::Publish(const std::string& subject, std::string_view data,
                                         const std::string& msg_id) {
  if (static_cast<int64_t>(data.size()) > max_payload()) {
    return Status::ResourceExhausted("message of " + std::to_string(data.size()) + " bytes exceeds NATS max_payload " +
                                     std::to_string(max_payload()));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msg_id.c_str();
  po.MaxWait = options_.timeout_ms;
  // A publish that times out (a leader election, a server restarting) is retried with the same
  // message id: JetStream stores it once.
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_Publish(&ack, js_, subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &code);
    if (s == NATS_OK) {
      PublishAck out{ack->Sequence, ack->Duplicate};
      jsPubAck_Destroy(ack);
      return out;
    }
    last = NatsError(s, "publishing to " + subject);
    if (s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS) break;
  }
  return last;
}

StatusOr<std::unique_ptr<KvBucket>> NatsClient::OpenBucket(const std::string& name, bool create, int64_t ttl_ms) {
  kvStore* kv = nullptr;
  natsStatus s = js_KeyValue(&kv, js_, name.c_str());
  if (s == NATS_OK) return std::make_unique<KvBucket>(kv, name);
  if (!create) return NatsError(s, "opening bucket " + name);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = name.c_str();
  cfg.History = 1;
  cfg.StorageType = js_FileStorage;
  cfg.Replicas = options_.replicas;
  if (ttl_ms > 0) cfg.TTL = ttl_ms * 1000 * 1000;  // nanoseconds
  s = js_CreateKeyValue(&kv, js_, &cfg);
  if (s != NATS_OK) {
    // The error text now: opening again below overwrites it.
    Status failed = NatsError(s, "creating bucket " + name);
    // Another node may have created it in between.
    if (js_KeyValue(&kv, js_, name.c_str()) == NATS_OK) return std::make_unique<KvBucket>(kv, name);
    return failed;
  }
  return std::make_unique<KvBucket>(kv, name);
}

}  // namespace sextant::cluster
