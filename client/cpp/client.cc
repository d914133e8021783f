// The C++ client: each call builds its request from the engine's value types with
// proto/convert.h, makes one gRPC call on the shared stub, and converts the answer (or the
// grpc::Status, with convert::FromGrpc) back.
#include "sextant/client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <istream>
#include <ostream>
#include <string>
#include <utility>

#include "client_internal.h"
#include "convert.h"
#include "sextant/v1/sextant.grpc.pb.h"

namespace sextant {

namespace v1 = ::sextant::v1;

namespace client_internal {

struct StreamState {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::UpsertRequest, v1::UpsertProgress>> call;
};

}  // namespace client_internal

namespace {

using client_internal::Connection;
using client_internal::Session;

// A response the server should never send (a hit without an id, ...): the client's problem to
// report, not the caller's bad input.
Status BadResponse(const Status& status) {
  return Status::Internal("malformed response from the server: " + status.ToString());
}

// Checks a batch before it is sent and appends it to `request` as points.
Status AddPoints(std::span<const PointId> ids, std::span<const float> vectors,
                 std::span<const std::string> payloads, v1::UpsertRequest* request) {
  if (ids.empty()) return Status::InvalidArgument("ids: empty batch (give at least one point)");
  if (vectors.size() % ids.size() != 0 || vectors.empty()) {
    return Status::InvalidArgument("vectors: " + std::to_string(vectors.size()) +
                                   " floats is not a positive multiple of the " +
                                   std::to_string(ids.size()) + " ids (ids.size() * dimension)");
  }
  if (!payloads.empty() && payloads.size() != ids.size()) {
    return Status::InvalidArgument("payloads: " + std::to_string(payloads.size()) +
                                   " payloads for " + std::to_string(ids.size()) +
                                   " ids (give none or one per id)");
  }
  const size_t dimension = vectors.size() / ids.size();
  request->mutable_points()->Reserve(static_cast<int>(ids.size()));
  for (size_t i = 0; i < ids.size(); ++i) {
    v1::Point* point = request->add_points();
    convert::ToProto(ids[i], point->mutable_id());
    convert::PackFloats(vectors.subspan(i * dimension, dimension), point->mutable_vector_f32());
    if (!payloads.empty()) point->set_payload(payloads[i]);
  }
  return Status::OK();
}

StatusOr<std::vector<Hit>> HitsFromProto(const v1::SearchResponse& response) {
  std::vector<Hit> hits;
  hits.reserve(static_cast<size_t>(response.hits_size()));
  for (int i = 0; i < response.hits_size(); ++i) {
    auto hit = convert::FromProto(response.hits(i), "hits[" + std::to_string(i) + "]");
    if (!hit.ok()) return BadResponse(hit.status());
    hits.push_back(std::move(hit).value());
  }
  return hits;
}

// The engine rejects k == 0; on the wire 0 means "the default", so the client checks it.
// The checks whose values the wire cannot carry: 0 there means the default (group_size 1,
// weights 0.5 each), so these would otherwise pass where the embedded engine refuses them.
Status CheckSearchOptions(const SearchOptions& options) {
  if (options.k == 0) return Status::InvalidArgument("k: must be >= 1");
  if (!options.group_by.empty() && options.group_size == 0) {
    return Status::InvalidArgument("search: group_size must be 1.." + std::to_string(SearchOptions::kMaxGroupSize) +
                                   ", got 0");
  }
  if (!options.text.empty() && options.fusion == Fusion::kWeighted && options.dense_weight == 0 &&
      options.text_weight == 0) {
    return Status::InvalidArgument("search: weights must be finite and >= 0, not both 0");
  }
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------- Client

StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  if (options.address.empty()) {
    return Status::InvalidArgument("address: empty (give host:port, e.g. 127.0.0.1:7070)");
  }
  if (!options.tls && !options.root_certificates.empty()) {
    return Status::InvalidArgument("root_certificates: given without tls = true");
  }
  if (options.max_receive_message_bytes == 0) {
    return Status::InvalidArgument("max_receive_message_bytes: must be > 0");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certificates;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(
      static_cast<int>(std::min<uint32_t>(options.max_receive_message_bytes, INT32_MAX)));
  args.SetMaxSendMessageSize(-1);  // the server enforces its own limit and says so

  auto connection = std::make_shared<Connection>();
  connection->channel = grpc::CreateCustomChannel(options.address, credentials, args);
  if (connection->channel == nullptr) {
    return Status::InvalidArgument("address: cannot create a channel to '" + options.address + "'");
  }
  connection->stub = v1::Sextant::NewStub(connection->channel);
  if (!options.api_key.empty()) connection->authorization = "Bearer " + options.api_key;
  connection->timeout_ms = options.timeout_ms;
  return std::unique_ptr<Client>(new Client(std::move(connection)));
}

Client::Client(std::shared_ptr<const Connection> connection) : connection_(std::move(connection)) {}
Client::~Client() = default;

StatusOr<ServerInfo> Client::Info() {
  v1::ServerInfoRequest request;
  v1::ServerInfoResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->ServerInfo(c, request, &response); }));
  ServerInfo info;
  info.version = response.version();
  info.build = response.build();
  info.simd_level = response.simd_level();
  info.read_only = response.read_only();
  info.limits.max_message_bytes = response.max_message_bytes();
  info.limits.max_batch_points = response.max_batch_points();
  info.limits.max_dimension = response.max_dimension();
  return info;
}

StatusOr<CollectionInfo> Client::CreateCollection(std::string_view name, const CollectionOptions& options,
                                                  uint32_t shards, uint32_t replication) {
  v1::CreateCollectionRequest request;
  convert::ToProto(name, options, &request);
  request.set_shards(shards);
  request.set_replication(replication);
  v1::CollectionInfo response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->CreateCollection(c, request, &response);
  }));
  return convert::FromProto(response);
}

StatusOr<CollectionInfo> Client::Describe(std::string_view name) {
  v1::DescribeCollectionRequest request;
  request.set_name(std::string(name));
  v1::CollectionInfo response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->DescribeCollection(c, request, &response);
  }));
  return convert::FromProto(response);
}

StatusOr<std::vector<CollectionInfo>> Client::ListCollections() {
  v1::ListCollectionsRequest request;
  v1::ListCollectionsResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->ListCollections(c, request, &response);
  }));
  std::vector<CollectionInfo> out;
  out.reserve(static_cast<size_t>(response.collections_size()));
  for (const v1::CollectionInfo& info : response.collections()) out.push_back(convert::FromProto(info));
  return out;
}

Status Client::DropCollection(std::string_view name) {
  v1::DropCollectionRequest request;
  request.set_name(std::string(name));
  v1::DropCollectionResponse response;
  return connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->DropCollection(c, request, &response);
  });
}

Status Client::CreateAlias(std::string_view alias, std::string_view collection) {
  v1::CreateAliasRequest request;
  request.set_alias(std::string(alias));
  request.set_collection(std::string(collection));
  v1::UpdateAliasesResponse response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->CreateAlias(c, request, &response); });
}

Status Client::DeleteAlias(std::string_view alias) {
  v1::DeleteAliasRequest request;
  request.set_alias(std::string(alias));
  v1::UpdateAliasesResponse response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->DeleteAlias(c, request, &response); });
}

StatusOr<std::vector<AliasInfo>> Client::ListAliases() {
  v1::ListAliasesRequest request;
  v1::ListAliasesResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->ListAliases(c, request, &response); }));
  std::vector<AliasInfo> out;
  for (const v1::Alias& a : response.aliases()) out.push_back({a.alias(), a.collection()});
  return out;
}

Status Client::UpdateAliases(std::span<const AliasChange> changes) {
  v1::UpdateAliasesRequest request;
  for (const AliasChange& change : changes) {
    v1::AliasChange* out = request.add_changes();
    if (change.kind == AliasChange::Kind::kCreate) {
      out->mutable_create_alias()->set_alias(change.alias);
      out->mutable_create_alias()->set_collection(change.collection);
    } else {
      out->mutable_delete_alias()->set_alias(change.alias);
    }
  }
  v1::UpdateAliasesResponse response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->UpdateAliases(c, request, &response); });
}

StatusOr<SnapshotInfo> Client::CreateSnapshot(std::string_view collection, std::string_view name) {
  v1::CreateSnapshotRequest request;
  request.set_collection(std::string(collection));
  request.set_name(std::string(name));
  v1::SnapshotInfo response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->CreateSnapshot(c, request, &response);
  }));
  return convert::FromProto(response);
}

StatusOr<std::vector<SnapshotInfo>> Client::ListSnapshots() {
  v1::ListSnapshotsRequest request;
  v1::ListSnapshotsResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->ListSnapshots(c, request, &response);
  }));
  std::vector<SnapshotInfo> out;
  for (const v1::SnapshotInfo& info : response.snapshots()) out.push_back(convert::FromProto(info));
  return out;
}

Status Client::DeleteSnapshot(std::string_view name) {
  v1::DeleteSnapshotRequest request;
  request.set_name(std::string(name));
  v1::DeleteSnapshotResponse response;
  return connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->DeleteSnapshot(c, request, &response);
  });
}

StatusOr<CollectionInfo> Client::RestoreSnapshot(std::string_view name, std::string_view source,
                                                 std::string_view collection) {
  v1::RestoreSnapshotRequest request;
  request.set_name(std::string(name));
  request.set_source(std::string(source));
  request.set_collection(std::string(collection));
  v1::CollectionInfo response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->RestoreSnapshot(c, request, &response);
  }));
  return convert::FromProto(response);
}

StatusOr<uint64_t> Client::DownloadSnapshot(std::string_view name, std::ostream& out) {
  // Streams have no overall deadline (a snapshot may be large), as UpsertStream.
  grpc::ClientContext context;
  connection_->Prepare(&context, 0);
  v1::DownloadSnapshotRequest request;
  request.set_name(std::string(name));
  auto reader = connection_->stub->DownloadSnapshot(&context, request);
  v1::SnapshotChunk chunk;
  uint64_t written = 0;
  bool write_failed = false;
  while (reader->Read(&chunk)) {
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    if (!out) {
      write_failed = true;
      context.TryCancel();
      break;
    }
    written += chunk.data().size();
  }
  const grpc::Status status = reader->Finish();
  if (write_failed) return Status::Unavailable("download snapshot: writing the archive failed");
  SEXTANT_RETURN_IF_ERROR(convert::FromGrpc(status));
  return written;
}

StatusOr<SnapshotInfo> Client::UploadSnapshot(std::istream& in, std::string_view name) {
  grpc::ClientContext context;
  connection_->Prepare(&context, 0);
  v1::SnapshotInfo response;
  auto writer = connection_->stub->UploadSnapshot(&context, &response);
  std::string buffer(1 << 20, '\0');
  bool first = true;
  for (;;) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0 && !first) break;
    v1::UploadSnapshotRequest request;
    if (first) request.set_name(std::string(name));
    first = false;
    request.set_data(buffer.data(), n);
    if (!writer->Write(request)) break;  // the server ended the call; Finish says why
    if (n < buffer.size()) break;
  }
  const bool read_failed = in.bad();
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (read_failed) return Status::Unavailable("upload snapshot: reading the archive failed");
  SEXTANT_RETURN_IF_ERROR(convert::FromGrpc(status));
  return convert::FromProto(response);
}

std::unique_ptr<RemoteCollection> Client::Collection(std::string_view name) {
  return std::unique_ptr<RemoteCollection>(new RemoteCollection(connection_, std::string(name)));
}

// ---------------------------------------------------------------- RemoteCollection

RemoteCollection::RemoteCollection(std::shared_ptr<const Connection> connection, std::string name)
    : connection_(std::move(connection)), name_(std::move(name)), session_(std::make_shared<Session>()) {}
RemoteCollection::~RemoteCollection() = default;

Status RemoteCollection::Upsert(const WriteOptions& options, std::span<const PointId> ids,
                                std::span<const float> vectors,
                                std::span<const std::string> payloads) {
  v1::UpsertRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  SEXTANT_RETURN_IF_ERROR(AddPoints(ids, vectors, payloads, &request));
  v1::UpsertResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Upsert(c, request, &response); }));
  session_->Set(response.consistency_token());
  return Status::OK();
}

StatusOr<uint64_t> RemoteCollection::Delete(const WriteOptions& options,
                                            std::span<const PointId> ids) {
  v1::DeleteRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  v1::PointIds* out = request.mutable_ids();
  out->mutable_ids()->Reserve(static_cast<int>(ids.size()));
  for (const PointId& id : ids) convert::ToProto(id, out->add_ids());
  v1::DeleteResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Delete(c, request, &response); }));
  session_->Set(response.consistency_token());
  return response.deleted();
}

StatusOr<uint64_t> RemoteCollection::DeleteWhere(const WriteOptions& options,
                                                 std::string_view filter) {
  // An empty filter would read as "no selector" on the wire; the engine's message is clearer.
  if (filter.empty()) {
    return Status::InvalidArgument("filter: empty (use \"{}\" to delete every point)");
  }
  v1::DeleteRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  request.set_filter(std::string(filter));
  v1::DeleteResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Delete(c, request, &response); }));
  session_->Set(response.consistency_token());
  return response.deleted();
}

StatusOr<Point> RemoteCollection::Get(const PointId& id) {
  v1::GetRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  convert::ToProto(id, request.mutable_id());
  v1::Point response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Get(c, request, &response); }));
  auto point = convert::FromProto(response, "point");
  if (!point.ok()) return BadResponse(point.status());
  return point;
}

StatusOr<uint64_t> RemoteCollection::Count() {
  v1::CountRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  v1::CountResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Count(c, request, &response); }));
  return response.count();
}

StatusOr<std::vector<std::optional<Point>>> RemoteCollection::GetMany(std::span<const PointId> ids,
                                                                      bool with_vector) {
  v1::GetManyRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_with_vector(with_vector);
  for (const PointId& id : ids) convert::ToProto(id, request.add_ids());
  v1::GetManyResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->GetMany(c, request, &response); }));
  // The server lists found points in request order, skipping missing ids.
  std::vector<std::optional<Point>> out(ids.size());
  int next = 0;
  for (size_t i = 0; i < ids.size() && next < response.points_size(); ++i) {
    auto point = convert::FromProto(response.points(next), "points[" + std::to_string(next) + "]");
    if (!point.ok()) return BadResponse(point.status());
    if (point->id != ids[i]) continue;
    out[i] = std::move(point).value();
    ++next;
  }
  if (next != response.points_size()) return BadResponse(Status::Internal("GetMany: points out of order"));
  return out;
}

StatusOr<uint64_t> RemoteCollection::CountWhere(std::string_view filter) {
  v1::CountRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_filter(std::string(filter));
  v1::CountResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Count(c, request, &response); }));
  return response.count();
}

namespace {

template <typename Req>
Status SetSelector(const PointSelector& points, Req* request) {
  if (points.by_filter) {
    if (points.filter.empty()) return Status::InvalidArgument("filter: empty (use \"{}\" to select every point)");
    request->set_filter(points.filter);
  } else {
    if (points.ids.empty()) return Status::InvalidArgument("ids: empty (name at least one point)");
    v1::PointIds* out = request->mutable_ids();
    for (const PointId& id : points.ids) convert::ToProto(id, out->add_ids());
  }
  return Status::OK();
}

}  // namespace

StatusOr<uint64_t> RemoteCollection::SetPayload(const WriteOptions& options, const PointSelector& points,
                                                std::string_view payload) {
  v1::SetPayloadRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  request.set_payload(std::string(payload));
  SEXTANT_RETURN_IF_ERROR(SetSelector(points, &request));
  v1::UpdateResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->SetPayload(c, request, &response); }));
  session_->Set(response.consistency_token());
  return response.updated();
}

StatusOr<uint64_t> RemoteCollection::OverwritePayload(const WriteOptions& options, const PointSelector& points,
                                                      std::string_view payload) {
  v1::SetPayloadRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  request.set_payload(std::string(payload));
  request.set_overwrite(true);
  SEXTANT_RETURN_IF_ERROR(SetSelector(points, &request));
  v1::UpdateResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->SetPayload(c, request, &response); }));
  session_->Set(response.consistency_token());
  return response.updated();
}

StatusOr<uint64_t> RemoteCollection::DeletePayloadKeys(const WriteOptions& options, const PointSelector& points,
                                                       std::span<const std::string> keys) {
  v1::DeletePayloadKeysRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  for (const std::string& k : keys) request.add_keys(k);
  SEXTANT_RETURN_IF_ERROR(SetSelector(points, &request));
  v1::UpdateResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->DeletePayloadKeys(c, request, &response); }));
  session_->Set(response.consistency_token());
  return response.updated();
}

Status RemoteCollection::UpdateVectors(const WriteOptions& options, std::span<const PointId> ids,
                                       std::span<const float> vectors) {
  if (ids.empty()) return Status::InvalidArgument("ids: empty (name at least one point)");
  if (vectors.size() % ids.size() != 0) {
    return Status::InvalidArgument("vectors: " + std::to_string(vectors.size()) + " floats is not a multiple of " +
                                   std::to_string(ids.size()) + " ids");
  }
  const size_t dim = vectors.size() / ids.size();
  v1::UpdateVectorsRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_sync(options.sync);
  for (size_t i = 0; i < ids.size(); ++i) {
    v1::Point* p = request.add_points();
    convert::ToProto(ids[i], p->mutable_id());
    convert::PackFloats(vectors.subspan(i * dim, dim), p->mutable_vector_f32());
  }
  v1::UpdateResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->UpdateVectors(c, request, &response); }));
  session_->Set(response.consistency_token());
  return Status::OK();
}

StatusOr<ScanPage> RemoteCollection::Scan(const ScanOptions& options, bool with_vector) {
  // The engine rejects a zero page size; on the wire 0 means "the default".
  if (options.limit == 0) return Status::InvalidArgument("limit: must be 1..100000");
  v1::ScanRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  request.set_limit(options.limit);
  request.set_cursor(options.cursor);
  request.set_filter(options.filter);
  request.set_with_vector(with_vector);
  v1::ScanResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Scan(c, request, &response); }));
  ScanPage page;
  page.points.reserve(static_cast<size_t>(response.points_size()));
  for (int i = 0; i < response.points_size(); ++i) {
    auto point = convert::FromProto(response.points(i), "points[" + std::to_string(i) + "]");
    if (!point.ok()) return BadResponse(point.status());
    page.points.push_back(std::move(point).value());
  }
  page.next_cursor = response.next_cursor();
  return page;
}

StatusOr<std::vector<Hit>> RemoteCollection::Search(const SearchOptions& options,
                                                    std::span<const float> query,
                                                    SearchPlan* plan) {
  SEXTANT_RETURN_IF_ERROR(CheckSearchOptions(options));
  v1::SearchRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  convert::PackFloats(query, request.mutable_vector_f32());
  convert::ToProto(options, request.mutable_params());
  v1::SearchResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->Search(c, request, &response); }));
  if (plan != nullptr) *plan = convert::FromProto(response.plan());
  return HitsFromProto(response);
}

StatusOr<std::vector<std::vector<Hit>>> RemoteCollection::SearchBatch(
    const SearchOptions& options, std::span<const float> queries, std::vector<SearchPlan>* plans) {
  SEXTANT_RETURN_IF_ERROR(CheckSearchOptions(options));
  v1::SearchBatchRequest request;
  request.set_collection(name_);
  request.set_consistency_token(session_->Get());
  convert::PackFloats(queries, request.mutable_vectors_f32());
  convert::ToProto(options, request.mutable_params());
  v1::SearchBatchResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->SearchBatch(c, request, &response);
  }));
  std::vector<std::vector<Hit>> out;
  out.reserve(static_cast<size_t>(response.results_size()));
  if (plans != nullptr) plans->clear();
  for (const v1::SearchResponse& result : response.results()) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Hit> hits, HitsFromProto(result));
    out.push_back(std::move(hits));
    if (plans != nullptr) plans->push_back(convert::FromProto(result.plan()));
  }
  return out;
}

std::string RemoteCollection::consistency_token() const { return session_->Get(); }

void RemoteCollection::set_consistency_token(std::string token) {
  internal::MutexLock lock(session_->mu);
  session_->token = std::move(token);
}

StatusOr<CollectionInfo> RemoteCollection::Describe() {
  v1::DescribeCollectionRequest request;
  request.set_name(name_);
  v1::CollectionInfo response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call([&](grpc::ClientContext* c) {
    return connection_->stub->DescribeCollection(c, request, &response);
  }));
  return convert::FromProto(response);
}

Status RemoteCollection::SetIndex(const IndexOptions& options) {
  v1::SetIndexRequest request;
  request.set_collection(name_);
  convert::ToProto(options, request.mutable_index());
  v1::CollectionInfo response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->SetIndex(c, request, &response); });
}

Status RemoteCollection::RebuildIndex() {
  v1::SetIndexRequest request;
  request.set_collection(name_);
  request.set_rebuild(true);
  v1::CollectionInfo response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->SetIndex(c, request, &response); });
}

Status RemoteCollection::WaitForIndex(uint64_t timeout_ms) {
  v1::WaitForIndexRequest request;
  request.set_collection(name_);
  request.set_timeout_ms(timeout_ms);
  v1::CollectionInfo response;
  // The wait is the point of the call: give it its own time (plus a margin for the answer to come
  // back) when that is longer than the per-call deadline.
  uint64_t deadline_ms = connection_->timeout_ms;
  if (deadline_ms > 0 && timeout_ms > 0) deadline_ms = std::max<uint64_t>(deadline_ms, timeout_ms + 5000);
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->WaitForIndex(c, request, &response); },
      deadline_ms);
}

std::unique_ptr<UpsertStream> RemoteCollection::OpenUpsertStream(const WriteOptions& options) {
  return std::unique_ptr<UpsertStream>(new UpsertStream(connection_, name_, options, session_));
}

// ---------------------------------------------------------------- UpsertStream

UpsertStream::UpsertStream(std::shared_ptr<const Connection> connection, std::string collection,
                           const WriteOptions& options, std::shared_ptr<Session> session)
    : connection_(std::move(connection)),
      collection_(std::move(collection)),
      options_(options),
      session_(std::move(session)) {}

UpsertStream::~UpsertStream() {
  if (state_ != nullptr && !finished_) {
    // Abandoned mid-import: cancel, so the server drops whatever it has not acknowledged.
    state_->context.TryCancel();
    v1::UpsertProgress progress;
    while (state_->call->Read(&progress)) {
    }
    state_->call->Finish().error_code();
  }
}

Status UpsertStream::Write(std::span<const PointId> ids, std::span<const float> vectors,
                           std::span<const std::string> payloads) {
  if (finished_) {
    if (!final_status_.ok()) return final_status_;
    return Status::FailedPrecondition("upsert stream: Write after Finish");
  }
  v1::UpsertRequest request;
  request.set_collection(collection_);
  request.set_sync(options_.sync);
  if (state_ == nullptr) request.set_consistency_token(session_->Get());  // read by the server once
  // A bad batch is refused here, before anything is sent; the stream stays usable.
  SEXTANT_RETURN_IF_ERROR(AddPoints(ids, vectors, payloads, &request));

  if (state_ == nullptr) {
    state_ = std::make_unique<client_internal::StreamState>();
    connection_->Prepare(&state_->context, 0);  // no overall deadline: imports may take long
    state_->call = connection_->stub->UpsertStream(&state_->context);
  }
  if (!state_->call->Write(request)) {
    // The call is broken (the server ended it or the connection dropped); Close fetches why.
    return Close(Status::Unavailable("upsert stream: the stream closed before the batch was sent"));
  }
  v1::UpsertProgress progress;
  if (!state_->call->Read(&progress)) {
    return Close(Status::Internal("upsert stream: the server ended the stream without acknowledging a batch"));
  }
  committed_batches_ = progress.batches();
  committed_points_ = progress.points();
  session_->Set(progress.consistency_token());
  return Status::OK();
}

StatusOr<uint64_t> UpsertStream::Finish() {
  if (!finished_) Close(Status::OK()).IgnoreError();  // recorded in final_status_
  if (!final_status_.ok()) return final_status_;
  return committed_points_;
}

Status UpsertStream::Close(Status error) {
  if (state_ != nullptr) {
    state_->call->WritesDone();  // false when the call is already broken; Finish says why
    v1::UpsertProgress progress;
    while (state_->call->Read(&progress)) {
      committed_batches_ = progress.batches();
      committed_points_ = progress.points();
    }
    Status server = convert::FromGrpc(state_->call->Finish());
    // The server's reason, when it gave one, is the real one.
    if (!server.ok()) error = std::move(server);
  }
  finished_ = true;
  final_status_ = error;
  return error;
}

}  // namespace sextant
