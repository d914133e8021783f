// `sextant` commands on payloads, vectors and counts: count, set-payload, delete-payload-keys,
// update-vector.
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/status.h"
#include "tools/cli_args.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"

namespace sextant::cli {
namespace {

Status Count(const std::string& db_path, const std::string& name, const std::string& filter) {
  SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
  SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(name));
  SEXTANT_ASSIGN_OR_RETURN(uint64_t n, collection->CountWhere(filter));
  OutJson out = OutJson::object();
  out["count"] = n;
  std::cout << Dump(out) << '\n';
  return Status::OK();
}

// The points a payload command applies to: the ids after the command's first two arguments, or
// --filter (exactly one of the two). nullopt after reporting a usage error in *error.
std::optional<PointSelector> Selector(const Args& args, std::string* error) {
  const auto tokens = std::span(args.positional).subspan(2);
  const std::optional<std::string> filter = args.Get("filter");
  if (tokens.empty() == !filter.has_value()) {
    *error = "give either ids or --filter JSON, not both or neither";
    return std::nullopt;
  }
  if (filter) return PointSelector::Where(*filter);
  auto ids = ParseIds(tokens, args.Has("string-ids"), error);
  if (!ids) return std::nullopt;
  return PointSelector::Ids(std::move(*ids));
}

Status PrintUpdated(const StatusOr<uint64_t>& n) {
  SEXTANT_RETURN_IF_ERROR(n.status());
  OutJson out = OutJson::object();
  out["updated"] = *n;
  std::cout << Dump(out) << '\n';
  return Status::OK();
}

}  // namespace

int RunCount(const Args& args, const std::string& db_path) {
  return Finish(Count(db_path, args.positional[0], args.Get("filter").value_or("")));
}

int RunSetPayload(const Args& args, const std::string& db_path) {
  std::string error;
  auto which = Selector(args, &error);
  if (!which) return ReportUsage(error);
  auto run = [&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
    SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(args.positional[0]));
    const std::string& payload = args.positional[1];
    return PrintUpdated(args.Has("overwrite") ? collection->OverwritePayload(WriteOptions(), *which, payload)
                                              : collection->SetPayload(WriteOptions(), *which, payload));
  };
  return Finish(run());
}

int RunDeletePayloadKeys(const Args& args, const std::string& db_path) {
  std::string error;
  auto which = Selector(args, &error);
  if (!which) return ReportUsage(error);
  std::vector<std::string> keys;
  const std::string& list = args.positional[1];
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    keys.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  auto run = [&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
    SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(args.positional[0]));
    return PrintUpdated(collection->DeletePayloadKeys(WriteOptions(), *which, keys));
  };
  return Finish(run());
}

int RunUpdateVector(const Args& args, const std::string& db_path) {
  std::string error;
  const std::optional<std::string> text = args.Get("vector");
  if (!text) return ReportUsage("update-vector: --vector V is required");
  auto vector = ParseVectorText(*text, &error);
  if (!vector) return ReportUsage("--vector: " + error);
  auto ids = ParseIds(std::span(args.positional).subspan(1, 1), args.Has("string-ids"), &error);
  if (!ids) return ReportUsage(error);
  auto run = [&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
    SEXTANT_ASSIGN_OR_RETURN(auto collection, db->GetCollection(args.positional[0]));
    SEXTANT_RETURN_IF_ERROR(collection->UpdateVectors(WriteOptions(), *ids, *vector));
    OutJson out = OutJson::object();
    out["updated"] = 1;
    std::cout << Dump(out) << '\n';
    return Status::OK();
  };
  return Finish(run());
}

int RunAlias(const Args& args, const std::string& db_path) {
  const std::string& action = args.positional[0];
  const size_t n = args.positional.size();
  auto needs = [&](size_t want) {
    return n == want ? std::string() : "alias " + action + ": expected " + std::to_string(want - 1) + " argument(s)";
  };
  std::string usage;
  if (action == "list") {
    usage = needs(1);
  } else if (action == "create" || action == "swap") {
    usage = needs(3);
  } else if (action == "delete") {
    usage = needs(2);
  } else {
    usage = "alias: unknown action '" + action + "' (list, create, delete or swap)";
  }
  if (!usage.empty()) return ReportUsage(usage);
  auto run = [&]() -> Status {
    SEXTANT_ASSIGN_OR_RETURN(auto db, OpenDatabase(db_path, /*create=*/false));
    if (action == "list") {
      SEXTANT_ASSIGN_OR_RETURN(auto aliases, db->ListAliases());
      for (const AliasInfo& a : aliases) {
        OutJson out = OutJson::object();
        out["alias"] = a.alias;
        out["collection"] = a.collection;
        std::cout << Dump(out) << '\n';
      }
      return Status::OK();
    }
    if (action == "create") return db->CreateAlias(args.positional[1], args.positional[2]);
    if (action == "delete") return db->DeleteAlias(args.positional[1]);
    const std::vector<AliasChange> swap{AliasChange::Delete(args.positional[1]),
                                        AliasChange::Create(args.positional[1], args.positional[2])};
    return db->UpdateAliases(swap);
  };
  return Finish(run());
}

}  // namespace sextant::cli
