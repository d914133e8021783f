// SextantService: Chat (conversations over a text collection, tool mode) and the generator choice
// shared with Ask.
#include <chrono>
#include <string>
#include <vector>

#include "server/service.h"
#include "server/service_internal.h"

namespace sextant::server {

using service_internal::Error;
using service_internal::ToGrpc;

namespace {

// Most messages in one ChatRequest.
constexpr int kMaxChatMessages = 1000;

StatusOr<rag::RewriteMode> RewriteFromProto(v1::RewriteMode mode) {
  switch (mode) {
    case v1::REWRITE_MODE_UNSPECIFIED:
    case v1::REWRITE_MODE_AUTO: return rag::RewriteMode::kAuto;
    case v1::REWRITE_MODE_MODEL: return rag::RewriteMode::kModel;
    case v1::REWRITE_MODE_HEURISTIC: return rag::RewriteMode::kHeuristic;
    case v1::REWRITE_MODE_OFF: return rag::RewriteMode::kOff;
    default: break;
  }
  return Status::InvalidArgument("rewrite: unknown mode " + std::to_string(static_cast<int>(mode)));
}

// The gRPC deadline of the call, if the client set one, on the steady clock.
std::optional<std::chrono::steady_clock::time_point> Deadline(const grpc::ServerContext* ctx) {
  const auto d = ctx->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return std::nullopt;
  const auto left = d - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) return std::nullopt;
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

}  // namespace

StatusOr<std::vector<std::string>> SextantService::TextCollectionNames() const {
  SEXTANT_ASSIGN_OR_RETURN(std::vector<CollectionInfo> all, db_->ListCollections());
  std::vector<std::string> out;
  for (const CollectionInfo& info : all) {
    auto config = rag::TextCollection::ConfigOf(info);
    if (config.ok() && config->has_value()) out.push_back(info.name);
  }
  return out;
}

StatusOr<rag::Generator*> SextantService::ChooseGenerator(const std::string& requested) const {
  const std::string& name = requested.empty() ? options_.default_generator : requested;
  if (name == "extractive") return extractive_.get();
  if (name == "openai") {
    if (!options_.llm) {
      return Status::FailedPrecondition(
          "generator: \"openai\" is not configured on this server (start sextantd with --llm-url and "
          "--llm-model), and \"extractive\" needs no model");
    }
    return options_.llm.get();
  }
  return Status::InvalidArgument("generator: \"" + requested +
                                 "\" is not \"extractive\" or \"openai\" (\"\" = the server's default)");
}

grpc::Status SextantService::RunChat(Call& call, const std::string& collection,
                                     const std::vector<rag::ChatMessage>& messages, const rag::ChatOptions& options,
                                     const std::string& generator_name, bool stream,
                                     grpc::ServerWriter<v1::AskResponse>* writer) {
  grpc::ServerContext* ctx = call.ctx;
  auto generator = ChooseGenerator(generator_name);
  if (!generator.ok()) return ToGrpc(generator.status());
  call.extra.emplace_back("generator", generator_name);
  auto text = OpenText(collection, "collection");
  if (!text.ok()) return ToGrpc(text.status());
  rag::ChatOptions run = options;
  run.deadline = Deadline(ctx);
  bool lost = false;
  uint64_t pieces = 0;
  auto on_token = [&](std::string_view piece) {
    if (lost || ctx->IsCancelled()) {
      lost = true;
      return false;
    }
    if (stream) {
      v1::AskResponse event;
      event.set_token(std::string(piece));
      if (!writer->Write(event)) {
        lost = true;
        return false;
      }
      ++pieces;
    }
    return true;
  };
  auto answer = (*text)->Chat(messages, run, **generator, on_token);
  if (lost || ctx->IsCancelled()) {
    return Error(grpc::StatusCode::CANCELLED, "the call was cancelled; the answer was stopped");
  }
  if (!answer.ok()) return ToGrpc(answer.status());
  if (stream) call.extra.emplace_back("pieces", std::to_string(pieces));
  call.extra.emplace_back("citations", std::to_string(answer->citations.size()));
  call.extra.emplace_back("tool_calls", std::to_string(answer->tool_calls.size()));
  v1::AskResponse last;
  convert::ToProto(*answer, last.mutable_answer());
  if (!writer->Write(last)) {
    return Error(grpc::StatusCode::CANCELLED, "the client went away before the answer was sent");
  }
  return grpc::Status::OK;
}

grpc::Status SextantService::Chat(grpc::ServerContext* ctx, const v1::ChatRequest* req,
                                  grpc::ServerWriter<v1::AskResponse>* writer) {
  return Run(ctx, "Chat", false, req->collection(), [&](Call& call) {
    call.extra.emplace_back("messages", std::to_string(req->messages_size()));
    if (req->messages_size() > kMaxChatMessages) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "messages: " + std::to_string(req->messages_size()) + " messages, at most " +
                       std::to_string(kMaxChatMessages));
    }
    if (req->k() > kMaxAskK) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT, "k: " + std::to_string(req->k()) + " exceeds the limit of " +
                                                           std::to_string(kMaxAskK) + " chunks per question");
    }
    if (req->tools() != v1::TOOL_MODE_UNSPECIFIED && req->tools() != v1::TOOL_MODE_NONE &&
        req->tools() != v1::TOOL_MODE_AUTO) {
      return Error(grpc::StatusCode::INVALID_ARGUMENT,
                   "tools: unknown mode " + std::to_string(static_cast<int>(req->tools())));
    }
    std::vector<rag::ChatMessage> messages;
    messages.reserve(static_cast<size_t>(req->messages_size()));
    for (const v1::ChatMessage& m : req->messages()) messages.push_back(convert::FromProto(m));
    if (Status s = rag::ValidateConversation(messages); !s.ok()) return ToGrpc(s);
    rag::ChatOptions options;
    if (req->k() != 0) options.retrieve.k = req->k();
    options.retrieve.filter = req->filter();
    options.retrieve.ef_search = req->ef_search();
    options.prompt.system_template = req->system_template();
    options.prompt.user_template = req->user_template();
    if (req->max_prompt_tokens() != 0) options.prompt.max_prompt_tokens = req->max_prompt_tokens();
    if (req->max_history_tokens() != 0) options.max_history_tokens = req->max_history_tokens();
    options.generation = convert::FromProto(req->generation());
    if (Status s = options_.generation_limits.Check(options.generation); !s.ok()) return ToGrpc(s);
    auto rewrite = RewriteFromProto(req->rewrite());
    if (!rewrite.ok()) return ToGrpc(rewrite.status());
    options.rewrite = *rewrite;
    options.tools_auto = req->tools() == v1::TOOL_MODE_AUTO;
    if (req->max_tool_rounds() != 0) options.max_tool_rounds = req->max_tool_rounds();
    for (const v1::FunctionDefinition& f : req->functions()) options.functions.push_back(convert::FromProto(f));
    const std::string name = req->generator().empty() ? options_.default_generator : req->generator();
    return RunChat(call, req->collection(), messages, options, name, req->stream(), writer);
  });
}

}  // namespace sextant::server
