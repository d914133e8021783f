// What the files of the `sextant` tool share: the commands (one Run* per command, dispatched by
// sextant_cli.cc) and the helpers several commands use. Each Run* returns the exit status.
#ifndef SEXTANT_TOOLS_CLI_COMMANDS_H_
#define SEXTANT_TOOLS_CLI_COMMANDS_H_

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sextant/collection.h"
#include "sextant/database.h"
#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "tools/cli_args.h"
#include "tools/cli_common.h"
#include "tools/vector_file.h"

namespace sextant::cli {

// The vector files the commands read (tools/vector_file.h).
using vecfile::FormatFromPath;
using vecfile::ParseFormatName;
using vecfile::Record;
using vecfile::RecordKind;
using vecfile::VectorFileReader;
using vecfile::VectorFormat;

// cli_shared.cc
// Opens the database in `path`; `create` makes it when absent, else NotFound says how to create one.
StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool create);
// Reads the ids of get/delete. A token of only digits is a number unless string_ids.
std::optional<std::vector<PointId>> ParseIds(std::span<const std::string> tokens, bool string_ids,
                                             std::string* error);
// The format of `path`: --format when given, else its extension. nullopt with *error set.
std::optional<VectorFormat> ResolveFormat(const Args& args, const std::string& path,
                                          std::string* error);
// A collection as one JSON object (a line of `list`).
OutJson InfoToJson(const CollectionInfo& info);
// The exit status of a command that printed to stdout: its error, or a failed write to stdout.
int Finish(const Status& status);

// cmd_collections.cc
// The index options of `spec` (an index spec such as "HNSW16,SQ8") with --ef-construction
// applied. nullopt with *error set when either is malformed.
std::optional<IndexOptions> ParseIndexArgs(const std::string& spec, const Args& args,
                                           std::string* error);
// After the index of `collection` changed (or may be building): with `wait`, waits for a build
// (and, for an index waiting for enough points to train, tries training it now); then prints
// where the index stands. Without `wait`, prints a note only when the index is not ready.
Status ReportIndexState(Collection& collection, bool wait);
int RunCreate(const Args& args, const std::string& db_path);
int RunList(const Args&, const std::string& db_path);
int RunInfo(const Args& args, const std::string& db_path);
int RunDrop(const Args& args, const std::string& db_path);
int RunRepair(const Args& args, const std::string& db_path);
int RunIndex(const Args& args, const std::string& db_path);
int RunReindex(const Args& args, const std::string& db_path);

// cmd_snapshots.cc
int RunSnapshot(const Args& args, const std::string& db_path);
int RunSnapshots(const Args& args, const std::string& db_path);
int RunRestore(const Args& args, const std::string& db_path);

// cmd_points.cc
int RunImport(const Args& args, const std::string& db_path);
int RunGet(const Args& args, const std::string& db_path);
int RunDelete(const Args& args, const std::string& db_path);
int RunSearch(const Args& args, const std::string& db_path);

// cmd_data.cc: count, set-payload, delete-payload-keys, update-vector.
int RunCount(const Args& args, const std::string& db_path);
int RunSetPayload(const Args& args, const std::string& db_path);
int RunDeletePayloadKeys(const Args& args, const std::string& db_path);
int RunUpdateVector(const Args& args, const std::string& db_path);
// alias: create / delete / list / swap.
int RunAlias(const Args& args, const std::string& db_path);

// cmd_text.cc
// Opens text collection `name`: NotFound, or FailedPrecondition for a plain vector collection.
StatusOr<std::unique_ptr<rag::TextCollection>> OpenText(Database& db, const std::string& name,
                                                        rag::EmbedderProvider& embedders);
int RunIngest(const Args& args, const std::string& db_path);
int RunAsk(const Args& args, const std::string& db_path);
int RunChat(const Args& args, const std::string& db_path);
int RunRetrieve(const Args& args, const std::string& db_path);

// cmd_mcp.cc: the MCP server on stdio (mcp/mcp_server.h).
int RunMcp(const Args& args, const std::string& db_path);

}  // namespace sextant::cli

#endif  // SEXTANT_TOOLS_CLI_COMMANDS_H_
