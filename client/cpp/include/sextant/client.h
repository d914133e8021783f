// The C++ client of sextantd: the same collections, points and searches as the embedded engine
// (sextant/collection.h), over gRPC.
//
//   sextant::ClientOptions options;
//   options.address = "127.0.0.1:7070";
//   auto client = sextant::Client::Connect(options).value();
//   sextant::CollectionOptions spec;
//   spec.dimension = 3;
//   spec.metric = sextant::Metric::kL2;
//   auto info = client->CreateCollection("docs", spec);
//   auto docs = client->Collection("docs");
//   std::vector<sextant::PointId> ids = {1, 2};
//   std::vector<float> vectors = {0, 0, 1, 0, 1, 0};
//   sextant::Status s = docs->Upsert({}, ids, vectors);
//   auto hits = docs->Search({}, std::vector<float>{0, 0.1f, 0.9f});  // k = 10 by default
//
// The client reuses the engine's value types (Status, PointId, Point, Hit, SearchOptions,
// CollectionInfo, ...) and mirrors sextant::Collection call for call, so code written against the
// embedded library ports to the server by changing how the collection is obtained. It links
// neither the storage engine nor RocksDB; this header includes nothing from gRPC or protobuf.
//
// Errors. Every call returns a sextant::Status (or StatusOr) whose code is the gRPC status code
// the server answered with (the engine's codes carry gRPC's numbers): InvalidArgument,
// NotFound, AlreadyExists, ResourceExhausted, FailedPrecondition, ... as the embedded engine
// returns them, plus the remote-only kinds Unauthenticated (no or unknown API key),
// PermissionDenied (a read-only key on a write), DeadlineExceeded (ClientOptions::timeout_ms
// passed) and Unavailable (the server cannot be reached). The message is the server's, naming
// the bad field ("points[3].vector: ...").
//
// Threading. Client and RemoteCollection are safe for concurrent use from many threads; they
// share one gRPC channel (one HTTP/2 connection). An UpsertStream is used by one thread at a
// time.
#ifndef SEXTANT_CLIENT_H_
#define SEXTANT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/snapshot.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant {

namespace client_internal {
struct Connection;  // the channel, the stub and the per-call settings (client.cc)
struct StreamState;  // one open UpsertStream call (client.cc)
struct Session;      // a RemoteCollection's consistency token (client_internal.h)
}  // namespace client_internal

// How to reach a server.
struct ClientOptions {
  // "host:port" (e.g. "127.0.0.1:7070", "localhost:7070") or any gRPC target URI
  // ("dns:///vectors.example.com:7070", "unix:///run/sextantd.sock"). Required.
  std::string address;
  // Sent as "authorization: Bearer <api_key>" on every call when not empty. A server started with
  // --api-key / --read-only-key refuses calls without a valid key (Unauthenticated).
  std::string api_key;
  // Connect with TLS (the server runs with --tls-cert / --tls-key).
  bool tls = false;
  // With tls: PEM root certificates the server's certificate must chain to; empty = the
  // system's roots. Setting it without tls is InvalidArgument.
  std::string root_certificates;
  // Deadline of each unary call in milliseconds; 0 = none. A call that takes longer fails with
  // DeadlineExceeded (the server may still complete a write that was already under way).
  // UpsertStream calls have no overall deadline (an import may take long); WaitForIndex extends
  // the deadline to cover its own timeout.
  uint32_t timeout_ms = 0;
  // Largest response message accepted, in bytes (gRPC's default of 4 MiB is too small for big
  // scans and batch searches with vectors). Default 64 MiB, the server's default limit.
  uint32_t max_receive_message_bytes = 64u << 20;
};

// Limits the server enforces (sextantd --max-message-bytes, --max-batch-points,
// --max-dimension).
struct ServerLimits {
  uint64_t max_message_bytes = 0;
  uint32_t max_batch_points = 0;  // most points in one Upsert or one stream message
  uint32_t max_dimension = 0;
};

// What Client::Info reports.
struct ServerInfo {
  std::string version;     // "MAJOR.MINOR.PATCH"
  std::string build;       // compiler, build type and date
  std::string simd_level;  // "scalar", "sse4", "avx2" or "avx512": the server's distance kernels
  bool read_only = false;  // the key this client sends allows reads only
  ServerLimits limits;
};

class RemoteCollection;
class UpsertStream;

// A connection to one sextantd. Obtain with Connect; destroy to close.
class Client {
 public:
  // Creates the client. No network traffic happens here: gRPC connects lazily on the first call
  // (and reconnects by itself after a server restart), so an unreachable server shows up as
  // Unavailable from that call, not from Connect. Call Info() to check the address and key at
  // once. InvalidArgument for an empty address, or root_certificates without tls.
  static StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The server's version, build, SIMD level, whether this client's key is read-only, and its
  // limits. Needs any valid key (read-only is enough).
  StatusOr<ServerInfo> Info();

  // Creates a collection, as Database::CreateCollection: InvalidArgument for a bad name,
  // dimension, metric, index or payload index; AlreadyExists when the name is taken.
  // Against a cluster (sextantd --cluster, docs/cluster.md), `shards` and `replication` (0 = 1)
  // set how the collection is split and copied; a single-node server accepts only 0 or 1.
  StatusOr<CollectionInfo> CreateCollection(std::string_view name, const CollectionOptions& options,
                                            uint32_t shards = 0, uint32_t replication = 0);

  // Name, dimension, metric, live count and index state of a collection; NotFound when absent.
  StatusOr<CollectionInfo> Describe(std::string_view name);

  // All collections, ordered by name.
  StatusOr<std::vector<CollectionInfo>> ListCollections();

  // Deletes a collection and everything in it; NotFound when absent.
  Status DropCollection(std::string_view name);

  // Aliases, as Database::CreateAlias, DeleteAlias, ListAliases and UpdateAliases
  // (sextant/database.h). An alias works wherever a collection name does, Collection() included.
  Status CreateAlias(std::string_view alias, std::string_view collection);
  Status DeleteAlias(std::string_view alias);
  StatusOr<std::vector<AliasInfo>> ListAliases();
  Status UpdateAliases(std::span<const AliasChange> changes);

  // A handle for the collection `name`. Makes no call: when the collection does not exist, each
  // call on the handle returns NotFound (use Describe to check first). The handle shares this
  // client's connection and stays usable after the Client is destroyed.
  std::unique_ptr<RemoteCollection> Collection(std::string_view name);

  // ---- snapshots (docs/snapshots.md), kept by the server in its --snapshot-dir
  // (FailedPrecondition when it has none). SnapshotInfo::path is empty: clients name snapshots.

  // A consistent snapshot of `collection` ("" = the whole database) while writes go on, named
  // `name` ("" = generated). InvalidArgument for a bad name, NotFound for an unknown collection,
  // AlreadyExists when the name is taken.
  StatusOr<SnapshotInfo> CreateSnapshot(std::string_view collection = "", std::string_view name = "");
  // The server's snapshots, ordered by name.
  StatusOr<std::vector<SnapshotInfo>> ListSnapshots();
  // NotFound when there is no snapshot `name`.
  Status DeleteSnapshot(std::string_view name);
  // Restores collection `source` of snapshot `name` ("" when it holds one) as the new collection
  // `collection`. DataLoss (nothing restored) when the snapshot is damaged.
  StatusOr<CollectionInfo> RestoreSnapshot(std::string_view name, std::string_view source,
                                           std::string_view collection);
  // Streams snapshot `name`'s archive (a tar) into `out`; returns the bytes written.
  StatusOr<uint64_t> DownloadSnapshot(std::string_view name, std::ostream& out);
  // Sends an archive read from `in` (as DownloadSnapshot writes it); the server keeps it as
  // snapshot `name` ("" = the archive's own name) once complete and verified. DataLoss for a
  // truncated or damaged archive (nothing is kept).
  StatusOr<SnapshotInfo> UploadSnapshot(std::istream& in, std::string_view name = "");

 private:
  explicit Client(std::shared_ptr<const client_internal::Connection> connection);
  std::shared_ptr<const client_internal::Connection> connection_;
};

// One collection on the server; mirrors sextant::Collection (see sextant/collection.h for the
// full semantics, which the server applies unchanged).
class RemoteCollection {
 public:
  ~RemoteCollection();
  RemoteCollection(const RemoteCollection&) = delete;
  RemoteCollection& operator=(const RemoteCollection&) = delete;

  const std::string& name() const { return name_; }

  // Inserts or replaces ids.size() points in one atomic batch (one RPC). `vectors` holds
  // ids.size() * dimension floats, row-major; `payloads` is empty or holds one JSON object text
  // per id ("" = no payload). InvalidArgument, before anything is sent, for an empty batch,
  // a `vectors` size that is not a multiple of ids.size(), or a payload count other than
  // ids.size(); the server rejects the rest (wrong dimension, NaN, bad payload, more than
  // ServerLimits::max_batch_points points: use OpenUpsertStream for bulk loads).
  Status Upsert(const WriteOptions& options, std::span<const PointId> ids,
                std::span<const float> vectors, std::span<const std::string> payloads = {});

  // Deletes these ids in one atomic batch (absent ids are skipped); returns how many were
  // deleted.
  StatusOr<uint64_t> Delete(const WriteOptions& options, std::span<const PointId> ids);

  // Deletes every point whose payload matches `filter` (JSON, docs/filters.md); returns how many
  // were deleted. An empty filter is InvalidArgument ("{}" deletes every point).
  StatusOr<uint64_t> DeleteWhere(const WriteOptions& options, std::string_view filter);

  // The point with this id (vector and payload), or NotFound.
  StatusOr<Point> Get(const PointId& id);

  // Number of live points.
  StatusOr<uint64_t> Count();

  // ---- as the same calls of sextant::Collection (sextant/collection.h)
  // The points with these ids in one consistent read; result i is ids[i]'s point or nullopt.
  // With with_vector false the points' vectors are left empty (less to transfer).
  StatusOr<std::vector<std::optional<Point>>> GetMany(std::span<const PointId> ids, bool with_vector = true);
  // Points whose payload matches `filter` ("" counts all).
  StatusOr<uint64_t> CountWhere(std::string_view filter);
  StatusOr<uint64_t> SetPayload(const WriteOptions& options, const PointSelector& points, std::string_view payload);
  StatusOr<uint64_t> OverwritePayload(const WriteOptions& options, const PointSelector& points,
                                      std::string_view payload);
  StatusOr<uint64_t> DeletePayloadKeys(const WriteOptions& options, const PointSelector& points,
                                       std::span<const std::string> keys);
  Status UpdateVectors(const WriteOptions& options, std::span<const PointId> ids, std::span<const float> vectors);

  // A page of points in id order. Payloads always come back; vectors only with `with_vector`
  // (the embedded Scan always fills them; leave it true for the same result, pass false to
  // page through payloads cheaply).
  StatusOr<ScanPage> Scan(const ScanOptions& options, bool with_vector = true);

  // The options.k points nearest to `query`, nearest first, as Collection::Search. When `plan`
  // is given it receives how the server answered the search.
  StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                    SearchPlan* plan = nullptr);

  // queries.size() / dimension queries at once (row-major) in one RPC; result i belongs to
  // query i. `plans`, when given, receives one plan per query.
  StatusOr<std::vector<std::vector<Hit>>> SearchBatch(const SearchOptions& options,
                                                      std::span<const float> queries,
                                                      std::vector<SearchPlan>* plans = nullptr);

  // Session consistency in cluster mode (docs/cluster.md): every write through this object sends
  // its token and keeps the one the server returns (which covers this object's writes so far),
  // and every read sends it, so a read waits until the replicas it reads have applied them
  // (read-your-writes, whichever node answers). To carry a session to another RemoteCollection
  // (another node's client, another process), pass consistency_token() to its
  // set_consistency_token. Empty in single-node mode. The server answers InvalidArgument for a
  // malformed token, DeadlineExceeded when the replicas did not catch up within the call's deadline.
  std::string consistency_token() const;
  void set_consistency_token(std::string token);

  // Name, dimension, metric, live count and index state.
  StatusOr<CollectionInfo> Describe();

  // Replaces the index; the build runs on the server in the background (Describe reports
  // kBuilding) while the old index answers searches. Returns once the build has started.
  Status SetIndex(const IndexOptions& options);

  // Rebuilds the current index from the stored vectors (retrains IVF clusters and quantizers).
  Status RebuildIndex();

  // Waits until the index is ready, at most `timeout_ms` (0 = the server's default wait of the
  // call's deadline, or 60 s without one). An index still building then is DeadlineExceeded.
  Status WaitForIndex(uint64_t timeout_ms);

  // Opens a bulk import (the UpsertStream RPC): each UpsertStream::Write sends one batch, which
  // the server commits atomically and acknowledges. Makes no call until the first Write; errors
  // (NotFound for an unknown collection, ...) come from Write or Finish.
  std::unique_ptr<UpsertStream> OpenUpsertStream(const WriteOptions& options = {});

  // ---- text collections (docs/rag.md, "Chat")
  // A turn of a conversation with this text collection (the Chat RPC), as rag::TextCollection::
  // Chat: `messages` (roles system, user, assistant, tool; the last from the user or a tool) are
  // answered from the collection, a follow-up first rewritten into a standalone question, with
  // citations and timings; in tool mode (options.tools_auto) the model searches itself, and calls
  // to options.functions come back in Answer::pending_calls. `generator` is "extractive",
  // "openai" or "" (the server's default). With `on_token`, the answer streams: each piece is
  // passed as it is generated (returning false cancels the call: Cancelled); the returned Answer
  // is complete either way. options.deadline is not sent (ClientOptions::timeout_ms bounds the
  // call). InvalidArgument naming the message ("messages[1]: ...") for a bad conversation,
  // NotFound, FailedPrecondition for a plain vector collection or an unconfigured generator.
  StatusOr<rag::Answer> Chat(std::span<const rag::ChatMessage> messages, const rag::ChatOptions& options = {},
                             std::string_view generator = "",
                             const std::function<bool(std::string_view)>& on_token = nullptr);

  // ---- server-side conversations (docs/rag.md, "Server-side conversations")
  // Chat within the conversation `conversation_id` (1..128 of letters, digits, _ - . :), kept by
  // the server, as rag::ConversationStore::Chat: the stored turns come first, then `messages`
  // (only the new ones: the first turn's system and user message, later the next user message),
  // and this turn is stored; the first turn creates the conversation. A read-write key.
  // InvalidArgument for an empty or malformed id or a conversation of another collection;
  // ResourceExhausted past the server's --conversation-max-bytes (nothing stored).
  StatusOr<rag::Answer> Chat(std::string_view conversation_id, std::span<const rag::ChatMessage> messages,
                             const rag::ChatOptions& options = {}, std::string_view generator = "",
                             const std::function<bool(std::string_view)>& on_token = nullptr);
  // This collection's conversations, by id.
  StatusOr<std::vector<rag::ConversationInfo>> ListConversations();
  // A stored conversation, its messages oldest first. NotFound for an unknown id or a
  // conversation of another collection (ids are database-wide), InvalidArgument for a bad id.
  StatusOr<rag::Conversation> GetConversation(std::string_view conversation_id);
  // Deletes a stored conversation (a read-write key). NotFound for an unknown id or a
  // conversation of another collection (which is left alone), InvalidArgument for a bad id.
  Status DeleteConversation(std::string_view conversation_id);

 private:
  friend class Client;
  RemoteCollection(std::shared_ptr<const client_internal::Connection> connection, std::string name);
  std::shared_ptr<const client_internal::Connection> connection_;
  std::string name_;
  std::shared_ptr<client_internal::Session> session_;  // shared with its upsert streams
};

// A bulk import: one client-streaming call, one atomic batch per Write. Every batch the server
// has acknowledged is durable (as an Upsert that returned OK); when the import stops halfway
// (an error, the client dies, the stream is destroyed without Finish) the acknowledged batches
// stay and nothing of a later one is written. Not thread-safe: one writer at a time.
//
//   auto stream = collection->OpenUpsertStream();
//   for (each batch) SEXTANT_RETURN_IF_ERROR(stream->Write(ids, vectors, payloads));
//   SEXTANT_ASSIGN_OR_RETURN(uint64_t points, stream->Finish());
class UpsertStream {
 public:
  // Destroying an unfinished stream cancels the call; acknowledged batches stay.
  ~UpsertStream();
  UpsertStream(const UpsertStream&) = delete;
  UpsertStream& operator=(const UpsertStream&) = delete;

  // Sends one batch (same arguments and checks as RemoteCollection::Upsert, at most
  // ServerLimits::max_batch_points points) and waits until the server has committed it. A batch
  // the client's own checks refuse (InvalidArgument) is not sent and leaves the stream usable;
  // after any other error the stream is over: every later Write and Finish return that error.
  Status Write(std::span<const PointId> ids, std::span<const float> vectors,
               std::span<const std::string> payloads = {});

  // Closes the stream and returns the number of points committed through it. Calling it again
  // returns the same result.
  StatusOr<uint64_t> Finish();

  // Points and batches the server has acknowledged so far.
  uint64_t committed_points() const { return committed_points_; }
  uint64_t committed_batches() const { return committed_batches_; }

 private:
  friend class RemoteCollection;
  UpsertStream(std::shared_ptr<const client_internal::Connection> connection, std::string collection,
               const WriteOptions& options, std::shared_ptr<client_internal::Session> session);
  // Ends the call (after an error or on Finish) and records its final status.
  Status Close(Status error);

  std::shared_ptr<const client_internal::Connection> connection_;
  std::string collection_;
  WriteOptions options_;
  std::shared_ptr<client_internal::Session> session_;  // the collection's: each batch's token lands there
  std::unique_ptr<client_internal::StreamState> state_;  // null until the first Write
  bool finished_ = false;
  Status final_status_;
  uint64_t committed_points_ = 0;
  uint64_t committed_batches_ = 0;
};

}  // namespace sextant

#endif  // SEXTANT_CLIENT_H_
