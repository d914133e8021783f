// Helpers shared by the `sextant` tool's commands: opening the database, reading ids and
// vector-file formats, collection info as JSON, and the exit status of a command.
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

// ---- shared helpers ----

}  // namespace

StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool create) {
  DatabaseOptions options;
  options.create_if_missing = create;
  StatusOr<std::unique_ptr<Database>> db = Database::Open(options, path);
  if (!create && db.status().code() == StatusCode::kNotFound) {
    return Status::NotFound(std::string(db.status().message()) +
                            "; 'sextant --db DIR create NAME --dim D' creates one");
  }
  return db;
}

// Reads the ids of get/delete. A token of only digits is a number unless string_ids.
std::optional<std::vector<PointId>> ParseIds(std::span<const std::string> tokens, bool string_ids,
                                             std::string* error) {
  std::vector<PointId> ids;
  for (const std::string& token : tokens) {
    if (token.empty()) {
      *error = "an id is empty";
      return std::nullopt;
    }
    bool digits = token.find_first_not_of("0123456789") == std::string::npos;
    if (string_ids || !digits) {
      ids.emplace_back(token);
      continue;
    }
    std::optional<uint64_t> number = ParseUint(token, 0, std::numeric_limits<uint64_t>::max());
    if (!number) {
      *error = "id " + token +
               " is too large for a numeric id (at most 18446744073709551615); pass --string-ids "
               "to use it as a string id";
      return std::nullopt;
    }
    ids.emplace_back(*number);
  }
  return ids;
}

// The format of `path`: --format when given, else its extension. nullopt with *error set.
std::optional<VectorFormat> ResolveFormat(const Args& args, const std::string& path,
                                          std::string* error) {
  if (std::optional<std::string> name = args.Get("format")) {
    std::optional<VectorFormat> format = ParseFormatName(*name);
    if (!format) *error = "--format must be fvecs, bvecs or jsonl, got '" + *name + "'";
    return format;
  }
  if (path == "-") return VectorFormat::kJsonLines;
  std::optional<VectorFormat> format = FormatFromPath(path);
  if (!format) {
    *error = "cannot tell the format of '" + path +
             "' from its extension (.fvecs, .bvecs, .jsonl, .json); pass --format";
  }
  return format;
}

OutJson InfoToJson(const CollectionInfo& info) {
  OutJson out = OutJson::object();
  out["name"] = info.name;
  out["dimension"] = info.dimension;
  out["metric"] = std::string(MetricName(info.metric));
  out["count"] = info.count;
  out["index"] = info.index;
  out["index_state"] = std::string(IndexStateName(info.index_state));
  out["index_origin"] = info.index_origin;
  out["index_bytes"] = info.index_bytes;
  out["vector_bytes"] = info.vector_bytes;
  // A collection the database could not load: why (`sextant repair NAME` salvages it).
  if (!info.damage.empty()) out["damage"] = info.damage;
  // What an application recorded with the collection; for a text collection, its embedder and
  // chunking ({"sextant.text": {...}}).
  if (!info.properties.empty()) out["properties"] = PayloadToJson(info.properties);
  // The full-text (BM25) indexes: {"body": {"language": "english", "stemming": true, ...}}.
  if (!info.text_fields.empty()) {
    OutJson fields = OutJson::object();
    for (const TextFieldOptions& t : info.text_fields) {
      fields[t.field] = {{"language", t.language}, {"stemming", t.stemming}, {"stop_words", t.stop_words}};
    }
    out["text_fields"] = std::move(fields);
  }
  return out;
}

int Finish(const Status& status) {
  std::cout.flush();
  if (!status.ok()) return ReportError(status);
  if (!std::cout) return ReportError(Status::Unavailable("writing to standard output failed"));
  return kExitOk;
}

}  // namespace sextant::cli
