// SextantService: Chat (conversations over a text collection, tool mode) and the generator choice
// shared with Ask.
#include <chrono>
#include <string>
#include <vector>

#include "server/service.h"
#include "server/service_internal.h"

namespace sextant::server {

using service_internal::AnswerWriter;
using service_internal::Error;
using service_internal::RetrieveAndPromptFromProto;
using service_internal::ToGrpc;
using service_internal::ToolsFromProto;

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
                                     grpc::ServerWriter<v1::AskResponse>* writer, const std::string& conversation_id) {
  grpc::ServerContext* ctx = call.ctx;
  auto generator = ChooseGenerator(generator_name);
  if (!generator.ok()) return ToGrpc(generator.status());
  call.extra.emplace_back("generator", generator_name);
  auto text = OpenText(collection, "collection");
  if (!text.ok()) return ToGrpc(text.status());
  rag::ChatOptions run = options;
  run.deadline = Deadline(ctx);
  AnswerWriter out(ctx, writer, stream);
  StatusOr<rag::Answer> answer = Status::Internal("no answer");
  if (conversation_id.empty()) {
    answer = (*text)->Chat(messages, run, **generator, out.OnToken());
  } else {
    auto store = Conversations();
    if (!store.ok()) return ToGrpc(store.status());
    call.extra.emplace_back("conversation", conversation_id);
    answer = (*store)->Chat(**text, conversation_id, messages, run, **generator, out.OnToken());
  }
  if (answer.ok()) call.extra.emplace_back("tool_calls", std::to_string(answer->tool_calls.size()));
  return out.Finish(answer, &call.extra, conversation_id);
}

grpc::Status SextantService::Chat(grpc::ServerContext* ctx, const v1::ChatRequest* req,
                                  grpc::ServerWriter<v1::AskResponse>* writer) {
  // Storing a conversation writes to the database: it takes a read-write key.
  return Run(ctx, "Chat", !req->conversation_id().empty(), req->collection(), [&](Call& call) {
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
    if (!req->conversation_id().empty()) {
      // The stored turns come first: the whole conversation is validated by the store.
      if (Status s = rag::ConversationStore::ValidateId(req->conversation_id()); !s.ok()) return ToGrpc(s);
      if (messages.empty()) {
        return Error(grpc::StatusCode::INVALID_ARGUMENT,
                     "messages: empty (send the new message of conversation \"" + req->conversation_id() + "\")");
      }
    } else if (Status s = rag::ValidateConversation(messages); !s.ok()) {
      return ToGrpc(s);
    }
    rag::ChatOptions options;
    if (Status s = RetrieveAndPromptFromProto(*req, &options); !s.ok()) return ToGrpc(s);
    if (req->max_history_tokens() != 0) options.max_history_tokens = req->max_history_tokens();
    options.generation = convert::FromProto(req->generation());
    if (Status s = options_.generation_limits.Check(options.generation); !s.ok()) return ToGrpc(s);
    auto rewrite = RewriteFromProto(req->rewrite());
    if (!rewrite.ok()) return ToGrpc(rewrite.status());
    options.rewrite = *rewrite;
    ToolsFromProto(*req, &options);
    const std::string name = req->generator().empty() ? options_.default_generator : req->generator();
    return RunChat(call, req->collection(), messages, options, name, req->stream(), writer, req->conversation_id());
  });
}

StatusOr<rag::ConversationStore*> SextantService::Conversations() const {
  if (!conversations_) return conversations_error_;
  return conversations_.get();
}

grpc::Status SextantService::ListConversations(grpc::ServerContext* ctx, const v1::ListConversationsRequest* req,
                                               v1::ListConversationsResponse* resp) {
  return Run(ctx, "ListConversations", false, req->collection(), [&](Call&) {
    auto store = Conversations();
    if (!store.ok()) return ToGrpc(store.status());
    auto list = (*store)->List(req->collection());
    if (!list.ok()) return ToGrpc(list.status());
    for (const rag::ConversationInfo& info : *list) convert::ToProto(info, resp->add_conversations());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::GetConversation(grpc::ServerContext* ctx, const v1::GetConversationRequest* req,
                                             v1::Conversation* resp) {
  return Run(ctx, "GetConversation", false, "", [&](Call& call) {
    call.extra.emplace_back("conversation", req->conversation_id());
    auto store = Conversations();
    if (!store.ok()) return ToGrpc(store.status());
    auto got = (*store)->Get(req->conversation_id());
    if (!got.ok()) return ToGrpc(got.status());
    convert::ToProto(got->info, resp->mutable_info());
    for (const rag::ChatMessage& m : got->messages) convert::ToProto(m, resp->add_messages());
    return grpc::Status::OK;
  });
}

grpc::Status SextantService::DeleteConversation(grpc::ServerContext* ctx, const v1::DeleteConversationRequest* req,
                                                v1::DeleteConversationResponse*) {
  return Run(ctx, "DeleteConversation", true, "", [&](Call& call) {
    call.extra.emplace_back("conversation", req->conversation_id());
    auto store = Conversations();
    if (!store.ok()) return ToGrpc(store.status());
    return ToGrpc((*store)->Delete(req->conversation_id()));
  });
}

}  // namespace sextant::server
