// A connection to a NATS cluster with JetStream: the one place in Sextant that calls the NATS C
// client (libnats). Streams, publishing with acknowledgement, and key-value buckets, with every
// NATS error turned into a Status that names what was being done.
#ifndef SEXTANT_CLUSTER_NATS_CLIENT_H_
#define SEXTANT_CLUSTER_NATS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/status.h"

// libnats types, kept out of this header's users' way.
typedef struct __natsConnection natsConnection;
typedef struct __jsCtx jsCtx;
typedef struct __kvStore kvStore;

namespace sextant::cluster {

struct NatsOptions {
  // One or more server URLs, comma-separated: "nats://127.0.0.1:4222,nats://10.0.0.2:4222".
  std::string urls;
  // How long connecting, and each JetStream request (publish, key-value), may take.
  int64_t timeout_ms = 5000;
  // Replicas of every stream and bucket this client creates (JetStream R; 3 in production).
  int replicas = 1;
};

// A key-value entry: its value and its revision (for compare-and-set updates).
struct KvEntry {
  std::string value;
  uint64_t revision = 0;
};

// A JetStream key-value bucket. Thread-safe (libnats serialises requests per connection).
class KvBucket {
 public:
  explicit KvBucket(kvStore* kv, std::string name) : kv_(kv), name_(std::move(name)) {}
  ~KvBucket();
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  // The entry, or nullopt when the key is absent (or deleted, or expired).
  StatusOr<std::optional<KvEntry>> Get(const std::string& key) const;
  // Creates the key; AlreadyExists when it holds a value. Returns the revision.
  StatusOr<uint64_t> Create(const std::string& key, std::string_view value);
  // Compare-and-set: writes only when the key's revision is still `revision`; Aborted otherwise
  // (someone else updated it: read again and retry). Returns the new revision.
  StatusOr<uint64_t> Update(const std::string& key, std::string_view value, uint64_t revision);
  // Unconditional write. Returns the revision.
  StatusOr<uint64_t> Put(const std::string& key, std::string_view value);
  // Deletes the key (absent is fine).
  Status Delete(const std::string& key);
  // Every live key, sorted.
  StatusOr<std::vector<std::string>> Keys() const;

  const std::string& name() const { return name_; }

 private:
  kvStore* kv_;
  std::string name_;
};

struct PublishAck {
  uint64_t sequence = 0;   // the message's sequence in its stream
  bool duplicate = false;  // JetStream had this message id already (a retried publish)
};

class NatsClient {
 public:
  // Connects. Unavailable, naming the URLs, when no server answers within the timeout;
  // InvalidArgument for an empty or malformed URL list.
  static StatusOr<std::unique_ptr<NatsClient>> Connect(const NatsOptions& options);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  const NatsOptions& options() const { return options_; }
  // The largest message the servers accept (NATS max_payload), in bytes.
  int64_t max_payload() const;

  // Creates the stream (file storage, options().replicas, dedupe window `dedupe_ms`) capturing
  // `subjects`, or succeeds when it exists.
  Status EnsureStream(const std::string& name, const std::vector<std::string>& subjects, int64_t dedupe_ms);
  // Deletes the stream; NotFound when absent.
  Status DeleteStream(const std::string& name);
  // The stream's last sequence (0 when empty).
  StatusOr<uint64_t> LastSequence(const std::string& stream);
  // The stream sequence of the last message on `subject` (0 when it has none).
  StatusOr<uint64_t> LastSequenceOf(const std::string& stream, const std::string& subject);

  // Publishes and waits for JetStream's acknowledgement (stored on a quorum of the stream's
  // replicas). `msg_id` makes a retried publish a no-op within the dedupe window.
  // Unavailable when JetStream does not answer (no quorum, no server).
  StatusOr<PublishAck> Publish(const std::string& subject, std::string_view data, const std::string& msg_id);

  // Opens the bucket, creating it first when `create` (history 1, options().replicas, entries
  // expiring `ttl_ms` after their last write when ttl_ms > 0).
  StatusOr<std::unique_ptr<KvBucket>> OpenBucket(const std::string& name, bool create, int64_t ttl_ms = 0);

  natsConnection* connection() const { return nc_; }
  jsCtx* jetstream() const { return js_; }

 private:
  NatsClient() = default;
  NatsOptions options_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

// Escapes a collection name into a NATS token ([A-Za-z0-9-] and '_'): '_' -> "__", '.' -> "_d".
// Injective, so distinct collections never share a stream or subject.
std::string NatsToken(std::string_view name);

// The status for a failed libnats call: "<what>: <NATS error text>", with the code mapped
// (timeouts and no-server to Unavailable, not-found to NotFound, ...).
Status NatsError(int nats_status, std::string_view what);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_NATS_CLIENT_H_
