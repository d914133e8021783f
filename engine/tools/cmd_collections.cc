// `sextant` commands on collections: create, list, info, drop, index, reindex.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/vector_file.h"

namespace sextant::cli {
namespace {

// ---- indexes ----

using Clock = std::chrono::steady_clock;

constexpr std::string_view kPayloadTypes = "keyword, integer, float or bool";

std::string_view PayloadTypeName(PayloadFieldType type) {
  switch (type) {
    case PayloadFieldType::kKeyword: return "keyword";
    case PayloadFieldType::kInteger: return "integer";
    case PayloadFieldType::kFloat: return "float";
    case PayloadFieldType::kBool: return "bool";
  }
  return "unknown";
}

// Parses a --payload-index value, FIELD:TYPE ("year:integer"). The field is everything before
// the last ':' (its syntax is the engine's to check). nullopt with *error set.
std::optional<PayloadIndexOptions> ParsePayloadIndex(std::string_view text, std::string* error) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    *error = "--payload-index must be FIELD:TYPE with TYPE " + std::string(kPayloadTypes) +
             ", got '" + std::string(text) + "'";
    return std::nullopt;
  }
  std::string type(text.substr(colon + 1));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  PayloadIndexOptions out;
  out.field = std::string(text.substr(0, colon));
  if (type == "keyword") {
    out.type = PayloadFieldType::kKeyword;
  } else if (type == "integer") {
    out.type = PayloadFieldType::kInteger;
  } else if (type == "float") {
    out.type = PayloadFieldType::kFloat;
  } else if (type == "bool") {
    out.type = PayloadFieldType::kBool;
  } else {
    *error = "--payload-index '" + std::string(text) + "': the type must be " +
             std::string(kPayloadTypes) + ", got '" + std::string(text.substr(colon + 1)) + "'";
    return std::nullopt;
  }
  return out;
}

}  // namespace

// The index options of `spec` (an index spec such as "HNSW16,SQ8") with --ef-construction
// applied. nullopt with *error set when either is malformed.
std::optional<IndexOptions> ParseIndexArgs(const std::string& spec, const Args& args,
                                           std::string* error) {
  StatusOr<IndexOptions> parsed = IndexOptions::Parse(spec);
  if (!parsed.ok()) {
    *error = std::string(parsed.status().message());
    return std::nullopt;
  }
  IndexOptions options = *parsed;
  if (std::optional<std::string> text = args.Get("ef-construction")) {
    if (options.type != IndexType::kHnsw) {
      *error = "--ef-construction applies to HNSW indexes, not " + options.ToString();
      return std::nullopt;
    }
    std::optional<uint64_t> n = ParseUint(*text, 1, 100000);
    if (!n) {
      *error = "--ef-construction must be an integer in 1..100000, got '" + *text + "'";
      return std::nullopt;
    }
    options.ef_construction = static_cast<uint32_t>(*n);
  }
  return options;
}

namespace {

// Blocks until the collection's index is no longer building, showing "building index…" on a
// terminal. The engine finishes a build only while a process has the database open, so this is
// how the tool gets one done.
Status WaitForBuild(const Collection& collection, const std::string& spec) {
  constexpr auto kPoll = std::chrono::milliseconds(250);
  constexpr auto kLimit = std::chrono::hours(24);
  const auto start = Clock::now();
  ProgressBar progress("building index " + spec + " of " + collection.name() + "\u2026");
  progress.Show("");
  while (true) {
    Status status = collection.WaitForIndex(static_cast<uint64_t>(kPoll.count()));
    if (status.ok()) break;
    if (status.code() != StatusCode::kUnavailable) return status;
    const auto waited = Clock::now() - start;
    if (waited >= kLimit) {
      return Status::Unavailable("index " + spec + " of " + collection.name() +
                                 " is still building after " + FormatDuration(waited));
    }
    progress.Show(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(waited).count()) +
                  " s");
  }
  return Status::OK();
}

// "index 2.5 MiB, vectors 4.7 MiB".
std::string IndexMemory(const CollectionInfo& info) {
  return "index " + FormatBytes(info.index_bytes) + ", vectors " + FormatBytes(info.vector_bytes);
}

}  // namespace

// After the index of `collection` changed (or may be building): with `wait`, waits for a build
// (and, for an index waiting for enough points to train, tries training it now); then prints
// where the index stands. Without `wait`, prints a note only when the index is not ready.
Status ReportIndexState(Collection& collection, bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection.Describe());
  if (info.index == "Flat") return Status::OK();
  const std::string& name = info.name;
  if (!wait) {
    switch (info.index_state) {
      case IndexState::kReady:
        if (info.index_origin != "none") {
          std::cout << "index " << info.index << " of " << name << " is ready ("
                    << IndexMemory(info) << ")\n";
        }
        break;
      case IndexState::kBuilding:
        std::cout << "note: index " << info.index << " of " << name
                  << " is still building and this command does not wait for it (pass --wait). "
                     "The build stops when the command exits and starts again whenever the "
                     "database is opened; until it is ready, searches are exact.\n";
        break;
      case IndexState::kTraining:
        std::cout << "note: index " << info.index << " of " << name
                  << " is not trained yet: it trains once the collection has enough points, "
                     "while a process has the database open; until then searches are exact "
                     "(pass --wait to train and build it now).\n";
        break;
    }
    return Status::OK();
  }
  const auto start = Clock::now();
  if (info.index_state == IndexState::kTraining) {
    // Training starts in the engine's maintenance pass; start it now instead. With too few
    // points the index goes back to waiting.
    SEXTANT_RETURN_IF_ERROR(collection.RebuildIndex());
  }
  SEXTANT_RETURN_IF_ERROR(WaitForBuild(collection, info.index));
  SEXTANT_ASSIGN_OR_RETURN(info, collection.Describe());
  switch (info.index_state) {
    case IndexState::kReady:
      if (info.index_origin == "none") {
        return Status::Internal("building index " + info.index + " of " + name +
                                " failed (the engine's message is above)");
      }
      std::cout << "index " << info.index << " of " << name << " is ready after "
                << FormatDuration(Clock::now() - start) << " (" << IndexMemory(info) << ")\n";
      break;
    case IndexState::kTraining:
      std::cout << "index " << info.index << " of " << name
                << " needs more points to train (it has " << info.count
                << "); until then searches are exact\n";
      break;
    case IndexState::kBuilding:  // WaitForBuild returned: not building any more
      break;
  }
  return Status::OK();
}

namespace {

// ---- create / list / info / drop ----

Status Create(const std::string& db_path, const std::string& name,
              const CollectionOptions& options) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/true));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->CreateCollection(name, options));
  std::cout << "created collection " << collection->name() << " (dimension "
            << collection->dimension() << ", metric " << MetricName(collection->metric())
            << ", index " << options.index.ToString();
  if (!options.payload_indexes.empty()) {
    std::cout << ", payload index" << (options.payload_indexes.size() == 1 ? " " : "es ");
    for (size_t i = 0; i < options.payload_indexes.size(); ++i) {
      const PayloadIndexOptions& p = options.payload_indexes[i];
      std::cout << (i > 0 ? ", " : "") << p.field << ":" << PayloadTypeName(p.type);
    }
  }
  std::cout << ")\n";
  // The (empty) index is built at once; wait for it so that it is saved when the database
  // closes. An IVF index waits for points to train on, which counts as ready here.
  return collection->WaitForIndex(/*timeout_ms=*/60000);
}

}  // namespace

int RunCreate(const Args& args, const std::string& db_path) {
  std::optional<std::string> dim_text = args.Get("dim");
  if (!dim_text) return ReportUsage("create needs --dim D, the dimension of the vectors");
  std::optional<uint64_t> dim = ParseUint(*dim_text, 1, CollectionOptions::kMaxDimension);
  if (!dim) {
    return ReportUsage("--dim must be an integer in 1.." +
                       std::to_string(CollectionOptions::kMaxDimension) + ", got '" + *dim_text +
                       "'");
  }
  CollectionOptions options;
  options.dimension = static_cast<uint32_t>(*dim);
  if (std::optional<std::string> metric_text = args.Get("metric")) {
    StatusOr<Metric> metric = ParseMetric(*metric_text);
    if (!metric.ok()) {
      return ReportUsage("--metric must be l2, ip or cosine, got '" + *metric_text + "'");
    }
    options.metric = *metric;
  }
  std::string error;
  if (std::optional<std::string> spec = args.Get("index")) {
    std::optional<IndexOptions> index = ParseIndexArgs(*spec, args, &error);
    if (!index) return ReportUsage(error);
    options.index = *index;
  } else if (args.Has("ef-construction")) {
    return ReportUsage("--ef-construction applies to HNSW indexes: give --index HNSW<m> too");
  }
  for (const std::string& text : args.GetAll("payload-index")) {
    std::optional<PayloadIndexOptions> field = ParsePayloadIndex(text, &error);
    if (!field) return ReportUsage(error);
    options.payload_indexes.push_back(std::move(*field));
  }
  // --text-field FIELD[:LANGUAGE]: a full-text (BM25) index; the engine checks the language.
  for (const std::string& text : args.GetAll("text-field")) {
    TextFieldOptions field;
    const size_t colon = text.rfind(':');
    field.field = text.substr(0, colon);
    if (colon != std::string::npos) field.language = text.substr(colon + 1);
    if (field.field.empty() || field.language.empty()) {
      return ReportUsage("--text-field must be FIELD or FIELD:LANGUAGE, got '" + text + "'");
    }
    options.text_fields.push_back(std::move(field));
  }
  return Finish(Create(db_path, args.positional[0], options));
}

namespace {

Status List(const std::string& db_path) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(std::vector<CollectionInfo> infos, db->ListCollections());
  for (const CollectionInfo& info : infos) std::cout << Dump(InfoToJson(info)) << '\n';
  return Status::OK();
}

}  // namespace

int RunList(const Args&, const std::string& db_path) { return Finish(List(db_path)); }

namespace {

Status Info(const std::string& db_path, const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  std::cout << Dump(InfoToJson(info)) << '\n';
  return Status::OK();
}

}  // namespace

int RunInfo(const Args& args, const std::string& db_path) {
  return Finish(Info(db_path, args.positional[0]));
}

namespace {

Status Drop(const std::string& db_path, const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_RETURN_IF_ERROR(db->DropCollection(name));
  std::cout << "dropped collection " << name << "\n";
  return Status::OK();
}

}  // namespace

int RunDrop(const Args& args, const std::string& db_path) {
  return Finish(Drop(db_path, args.positional[0]));
}

namespace {

// ---- repair ----

Status Repair(const std::string& db_path, const std::string& name) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(RepairReport report, db->RepairCollection(name));
  OutJson out = OutJson::object();
  out["name"] = name;
  out["points_kept"] = report.points_kept;
  out["points_removed"] = report.points_removed;
  out["records_removed"] = report.records_removed;
  std::cout << Dump(out) << '\n';
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  return ReportIndexState(*collection, /*wait=*/true);
}

}  // namespace

int RunRepair(const Args& args, const std::string& db_path) {
  if (args.Has("drop")) return Finish(Drop(db_path, args.positional[0]));
  return Finish(Repair(db_path, args.positional[0]));
}

namespace {

// ---- index / reindex ----

Status SetIndex(const std::string& db_path, const std::string& name, const IndexOptions& options,
                bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_RETURN_IF_ERROR(collection->SetIndex(options));
  if (options.type == IndexType::kFlat) {
    std::cout << "index of " << name << " set to Flat: searches are exact\n";
    return Status::OK();
  }
  SEXTANT_ASSIGN_OR_RETURN(uint64_t count, collection->Count());
  std::cout << "index of " << name << " set to " << options.ToString() << "; building it from "
            << count << " point" << (count == 1 ? "" : "s") << "\n";
  return ReportIndexState(*collection, wait);
}

}  // namespace

int RunIndex(const Args& args, const std::string& db_path) {
  std::string error;
  std::optional<IndexOptions> options = ParseIndexArgs(args.positional[1], args, &error);
  if (!options) return ReportUsage(error);
  return Finish(SetIndex(db_path, args.positional[0], *options, args.Has("wait")));
}

namespace {

Status Reindex(const std::string& db_path, const std::string& name, bool wait) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(CollectionInfo info, collection->Describe());
  if (info.index == "Flat") {
    std::cout << name << " has no index to rebuild (Flat: searches are exact)\n";
    return Status::OK();
  }
  SEXTANT_RETURN_IF_ERROR(collection->RebuildIndex());
  std::cout << "rebuilding index " << info.index << " of " << name << " from " << info.count
            << " point" << (info.count == 1 ? "" : "s") << "\n";
  return ReportIndexState(*collection, wait);
}

}  // namespace

int RunReindex(const Args& args, const std::string& db_path) {
  return Finish(Reindex(db_path, args.positional[0], args.Has("wait")));
}

}  // namespace sextant::cli
