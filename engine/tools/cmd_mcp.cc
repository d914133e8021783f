// `sextant mcp --db DIR`: the MCP server (mcp/mcp_server.h) on stdio, over the database opened
// here (embedded). stdout carries only MCP messages; problems go to stderr. See docs/mcp.md.
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "mcp/mcp_server.h"
#include "sextant/database.h"
#include "sextant/rag.h"
#include "sync/mutex.h"
#include "tools/cli_commands.h"

namespace sextant::cli {
namespace {

// The tools' view of a database opened by this process; text collections opened once.
class EmbeddedBackend final : public mcp::Backend {
 public:
  EmbeddedBackend(Database& db, std::unique_ptr<rag::Generator> generator)
      : db_(db), generator_(std::move(generator)) {}

  StatusOr<std::vector<CollectionInfo>> ListCollections() override { return db_.ListCollections(); }

  StatusOr<std::shared_ptr<rag::TextCollection>> OpenText(std::string_view name) override {
    internal::MutexLock lock(mu_);
    SEXTANT_ASSIGN_OR_RETURN(auto collection, db_.GetCollection(name));
    auto it = texts_.find(std::string(name));
    // A collection dropped and re-created since (by another process or tool) is opened anew.
    if (it != texts_.end() && &it->second->collection() == collection.get()) return it->second;
    SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<rag::TextCollection> text,
                             cli::OpenText(db_, std::string(name), embedders_));
    std::shared_ptr<rag::TextCollection> shared = std::move(text);
    texts_[std::string(name)] = shared;
    return shared;
  }

  StatusOr<rag::Generator*> AnswerGenerator() override { return generator_.get(); }

 private:
  Database& db_;
  std::unique_ptr<rag::Generator> generator_;
  internal::Mutex mu_;
  rag::EmbedderProvider embedders_ SEXTANT_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<rag::TextCollection>> texts_ SEXTANT_GUARDED_BY(mu_);
};

}  // namespace

int RunMcp(const Args& args, const std::string& db_path) {
  const std::string generator_name = args.Get("generator").value_or("extractive");
  if (generator_name != "extractive" && generator_name != "openai") {
    return ReportUsage("--generator must be extractive or openai, got '" + generator_name + "'");
  }
  std::unique_ptr<rag::Generator> generator;
  if (generator_name == "openai") {
    std::optional<std::string> model = args.Get("llm-model");
    if (!model || model->empty()) {
      return ReportUsage("--generator openai needs --llm-model M (and --llm-url URL unless the "
                         "server is at http://127.0.0.1:8080/v1)");
    }
    rag::OpenAIChatOptions chat;
    if (std::optional<std::string> url = args.Get("llm-url")) chat.endpoint.base_url = *url;
    chat.endpoint.model = *model;
    chat.endpoint.api_key = rag::EmbedderEnvironment::FromProcess().openai_api_key;
    auto made = rag::MakeOpenAIGenerator(chat);
    if (!made.ok()) return Finish(made.status());
    generator = std::move(made).value();
  } else {
    if (args.Has("llm-url") || args.Has("llm-model")) {
      return ReportUsage("--llm-url and --llm-model apply to --generator openai");
    }
    generator = rag::MakeExtractiveGenerator();
  }
  auto db = OpenDatabase(db_path, /*create=*/false);
  if (!db.ok()) return ReportError(db.status());
  EmbeddedBackend backend(**db, std::move(generator));
  mcp::ServerOptions options;
  options.version = std::string(Version());
  mcp::Server server(backend, options);
  std::cerr << "sextant mcp: serving " << db_path << " on stdio (MCP; end of input stops)\n";
  mcp::RunStdio(server, std::cin, std::cout, /*may_write=*/!args.Has("read-only"));
  return kExitOk;
}

}  // namespace sextant::cli
