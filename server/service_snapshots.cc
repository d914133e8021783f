// SextantService: snapshots (docs/snapshots.md). Snapshots live in ServiceOptions::snapshot_dir
// (sextantd --snapshot-dir) and are named, never addressed by path, on the wire.
#include <filesystem>

#include "server/service_internal.h"
#include "sextant/snapshot.h"

namespace sextant::server {

using service_internal::Error;
using service_internal::ToGrpc;

namespace {

// Download messages carry up to this many bytes of the archive.
constexpr size_t kChunkBytes = 1 << 20;

}  // namespace

StatusOr<std::string> SextantService::SnapshotDir() const {
  if (options_.snapshot_dir.empty()) {
    return Status::FailedPrecondition("this server keeps no snapshots: start sextantd with --snapshot-dir DIR");
  }
  return options_.snapshot_dir;
}

StatusOr<std::string> SextantService::SnapshotPath(std::string_view name, std::string_view field) const {
  SEXTANT_ASSIGN_OR_RETURN(std::string dir, SnapshotDir());
  if (name.empty()) return Status::InvalidArgument(std::string(field) + ": empty (name the snapshot)");
  SEXTANT_RETURN_IF_ERROR(ValidateSnapshotName(name).WithPrefix(field));
  const std::string path = dir + "/" + std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return Status::NotFound("snapshot " + std::string(name) + " not found");
  return path;
}

grpc::Status SextantService::CreateSnapshot(grpc::ServerContext* ctx, const v1::CreateSnapshotRequest* req,
                                            v1::SnapshotInfo* resp) {
  return Run(ctx, "CreateSnapshot", true, req->collection(), [&](Call& call) {
    auto dir = SnapshotDir();
    if (!dir.ok()) return ToGrpc(dir.status());
    if (!req->name().empty()) {
      if (Status s = ValidateSnapshotName(req->name()).WithPrefix("name"); !s.ok()) return ToGrpc(s);
    }
    SnapshotOptions so;
    so.directory = *dir;
    so.collection = req->collection();
    so.name = req->name();
    auto info = db_->CreateSnapshot(so);
    if (!info.ok()) return ToGrpc(info.status());
    call.extra.emplace_back("snapshot", info->name);
    call.extra.emplace_back("bytes", std::to_string(info->bytes));
    convert::ToProto(*info, resp);
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::ListSnapshots(grpc::ServerContext* ctx, const v1::ListSnapshotsRequest*,
                                           v1::ListSnapshotsResponse* resp) {
  return Run(ctx, "ListSnapshots", false, "", [&](Call&) {
    auto dir = SnapshotDir();
    if (!dir.ok()) return ToGrpc(dir.status());
    auto list = sextant::ListSnapshots(*dir);
    if (!list.ok()) return ToGrpc(list.status());
    for (const SnapshotInfo& info : *list) convert::ToProto(info, resp->add_snapshots());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DeleteSnapshot(grpc::ServerContext* ctx, const v1::DeleteSnapshotRequest* req,
                                            v1::DeleteSnapshotResponse*) {
  return Run(ctx, "DeleteSnapshot", true, "", [&](Call& call) {
    call.extra.emplace_back("snapshot", req->name());
    auto path = SnapshotPath(req->name(), "name");
    if (!path.ok()) return ToGrpc(path.status());
    return ToGrpc(sextant::DeleteSnapshot(*SnapshotDir(), req->name()));
  });
}

grpc::Status SextantService::RestoreSnapshot(grpc::ServerContext* ctx, const v1::RestoreSnapshotRequest* req,
                                             v1::CollectionInfo* resp) {
  return Run(ctx, "RestoreSnapshot", true, req->collection(), [&](Call& call) {
    call.extra.emplace_back("snapshot", req->name());
    auto path = SnapshotPath(req->name(), "name");
    if (!path.ok()) return ToGrpc(path.status());
    if (req->collection().empty()) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "collection: empty (name the new collection)");
    }
    auto info = db_->RestoreCollection(*path, req->source(), req->collection());
    if (!info.ok()) return ToGrpc(info.status());
    ForgetText(req->collection());
    auto c = db_->GetCollection(req->collection());
    if (!c.ok()) return ToGrpc(c.status());
    return service_internal::Describe(**c, resp);
  });
}

grpc::Status SextantService::DownloadSnapshot(grpc::ServerContext* ctx, const v1::DownloadSnapshotRequest* req,
                                              grpc::ServerWriter<v1::SnapshotChunk>* writer) {
  return Run(ctx, "DownloadSnapshot", false, "", [&](Call& call) {
    call.extra.emplace_back("snapshot", req->name());
    auto path = SnapshotPath(req->name(), "name");
    if (!path.ok()) return ToGrpc(path.status());
    // The whole snapshot is checked before the first byte goes out, so a client never receives a
    // damaged copy (each file is checked again as it is read into the archive: see below).
    if (auto verified = VerifySnapshot(*path); !verified.ok()) return ToGrpc(verified.status());
    v1::SnapshotChunk chunk;
    uint64_t sent = 0;
    auto flush = [&]() -> Status {
      if (chunk.data().empty()) return Status::OK();
      if (ctx->IsCancelled() || !writer->Write(chunk)) return Status::Aborted("the client went away");
      sent += chunk.data().size();
      chunk.mutable_data()->clear();
      return Status::OK();
    };
    Status s = WriteSnapshotArchive(*path, [&](std::string_view piece) -> Status {
      while (!piece.empty()) {
        const size_t take = std::min(piece.size(), kChunkBytes - chunk.data().size());
        chunk.mutable_data()->append(piece.data(), take);
        piece.remove_prefix(take);
        if (chunk.data().size() == kChunkBytes) SEXTANT_RETURN_IF_ERROR(flush());
      }
      return Status::OK();
    });
    if (s.ok()) s = flush();
    call.extra.emplace_back("bytes", std::to_string(sent));
    if (s.code() == StatusCode::kAborted && ctx->IsCancelled()) {
      return Error(grpc::StatusCode::CANCELLED, "download cancelled by the client");
    }
    return ToGrpc(s);
  });
}

grpc::Status SextantService::UploadSnapshot(grpc::ServerContext* ctx,
                                            grpc::ServerReader<v1::UploadSnapshotRequest>* reader,
                                            v1::SnapshotInfo* resp) {
  return Run(ctx, "UploadSnapshot", true, "", [&](Call& call) {
    auto dir = SnapshotDir();
    if (!dir.ok()) return ToGrpc(dir.status());
    v1::UploadSnapshotRequest msg;
    std::unique_ptr<SnapshotArchiveReader> archive;
    bool first = true;
    while (reader->Read(&msg)) {
      if (first) {
        first = false;
        if (!msg.name().empty()) {
          if (Status s = ValidateSnapshotName(msg.name()).WithPrefix("name"); !s.ok()) return ToGrpc(s);
        }
        auto started = SnapshotArchiveReader::Start(*dir, msg.name());
        if (!started.ok()) return ToGrpc(started.status());
        archive = std::move(started).value();
      } else if (!msg.name().empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT, "name: only the first upload message may carry it");
      }
      if (Status s = archive->Write(msg.data()); !s.ok()) return ToGrpc(s);
    }
    if (ctx->IsCancelled()) return Error(grpc::StatusCode::CANCELLED, "upload cancelled by the client; nothing stored");
    if (archive == nullptr) return Error(grpc::StatusCode::DATA_LOSS, "upload: the archive is empty");
    call.extra.emplace_back("bytes", std::to_string(archive->received()));
    auto info = archive->Finish();
    if (!info.ok()) return ToGrpc(info.status());
    call.extra.emplace_back("snapshot", info->name);
    convert::ToProto(*info, resp);
    return grpc::Status::OK;
  });
}

}  // namespace sextant::server
