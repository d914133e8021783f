// `sextant snapshot`, `sextant snapshots` and `sextant restore` (docs/cli.md, docs/snapshots.md).
#include <filesystem>
#include <iostream>
#include <random>

#include "sextant/snapshot.h"
#include "tools/cli_commands.h"

namespace sextant::cli {
namespace {

namespace fs = std::filesystem;

OutJson SnapshotToJson(const SnapshotInfo& info) {
  OutJson colls = OutJson::array();
  for (const SnapshotCollection& c : info.collections) {
    colls.push_back({{"name", c.name},
                     {"dimension", c.dimension},
                     {"metric", std::string(MetricName(c.metric))},
                     {"index", c.index},
                     {"count", c.count},
                     {"index_checkpoint", c.has_index_checkpoint}});
  }
  return {{"name", info.name},           {"path", info.path},   {"scope", info.scope},
          {"collections", colls},        {"sequence", info.sequence}, {"created_ms", info.created_ms},
          {"bytes", info.bytes},         {"files", info.files}, {"format_version", info.format_version}};
}

Status Snapshot(const Args& args, const std::string& db_path) {
  const std::optional<std::string> to = args.Get("to");
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SnapshotOptions so;
  so.directory = *to;
  so.collection = args.positional.empty() ? "" : args.positional[0];
  so.name = args.Get("name").value_or("");
  SEXTANT_ASSIGN_OR_RETURN(SnapshotInfo info, db->CreateSnapshot(so));
  if (std::optional<std::string> archive = args.Get("archive")) {
    SEXTANT_RETURN_IF_ERROR(ExportSnapshotArchive(info.path, *archive));
  }
  std::cout << Dump(SnapshotToJson(info)) << "\n";
  return Status::OK();
}

Status Snapshots(const Args& args) {
  const std::string& dir = args.positional[0];
  if (std::optional<std::string> name = args.Get("delete")) {
    SEXTANT_RETURN_IF_ERROR(DeleteSnapshot(dir, *name));
    std::cout << Dump(OutJson{{"deleted", *name}}) << "\n";
    return Status::OK();
  }
  SEXTANT_ASSIGN_OR_RETURN(auto list, ListSnapshots(dir));
  Status first_bad;
  for (const SnapshotInfo& info : list) {
    OutJson line = SnapshotToJson(info);
    if (args.Has("verify")) {
      auto verified = VerifySnapshot(info.path);
      line["verified"] = verified.ok();
      if (!verified.ok()) {
        line["error"] = verified.status().ToString();
        if (first_bad.ok()) first_bad = verified.status();
      }
    }
    std::cout << Dump(line) << "\n";
  }
  return first_bad;
}

// A snapshot directory, or an archive unpacked next to it for the time of the restore.
class SnapshotSource {
 public:
  ~SnapshotSource() {
    std::error_code ec;
    if (!unpacked_.empty()) fs::remove_all(unpacked_, ec);
  }
  Status Open(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      path_ = path;
      return Status::OK();
    }
    if (!fs::is_regular_file(path, ec)) return Status::NotFound("no snapshot or archive at " + path);
    std::random_device rd;
    const fs::path parent = fs::absolute(path, ec).parent_path();
    unpacked_ = (parent / (".sextant-restore-" + std::to_string(rd()))).string();
    SEXTANT_ASSIGN_OR_RETURN(SnapshotInfo info, ImportSnapshotArchive(path, unpacked_));
    path_ = info.path;
    return Status::OK();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string unpacked_;
};

Status Restore(const Args& args, const std::string& db_path) {
  SnapshotSource source;
  SEXTANT_RETURN_IF_ERROR(source.Open(args.positional[0]));
  if (std::optional<std::string> collection = args.Get("collection")) {
    SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
    SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info,
                             db->RestoreCollection(source.path(), args.Get("source").value_or(""), *collection));
    std::cout << Dump(InfoToJson(info)) << "\n";
    return Status::OK();
  }
  if (args.Has("source")) {
    return Status::InvalidArgument("restore: --source applies with --collection (restore into a running database)");
  }
  SEXTANT_RETURN_IF_ERROR(RestoreDatabase(source.path(), db_path));
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto list, db->ListCollections());
  for (const CollectionInfo& info : list) std::cout << Dump(InfoToJson(info)) << "\n";
  return Status::OK();
}

}  // namespace

int RunSnapshot(const Args& args, const std::string& db_path) {
  if (!args.Get("to") || args.Get("to")->empty()) {
    return ReportUsage("snapshot needs --to DIR (the directory that holds snapshots)");
  }
  return Finish(Snapshot(args, db_path));
}
int RunSnapshots(const Args& args, const std::string&) { return Finish(Snapshots(args)); }
int RunRestore(const Args& args, const std::string& db_path) { return Finish(Restore(args, db_path)); }

}  // namespace sextant::cli
