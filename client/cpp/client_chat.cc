// RemoteCollection::Chat: rag::ChatOptions into a ChatRequest, the AskResponse stream back into
// a rag::Answer (proto/convert.h does the messages, settings and answers); and the server-side
// conversations (ListConversations / GetConversation / DeleteConversation).
#include <optional>
#include <string>

#include "client_internal.h"
#include "sextant/client.h"

namespace sextant {

namespace {

v1::RewriteMode RewriteToProto(rag::RewriteMode mode) {
  switch (mode) {
    case rag::RewriteMode::kAuto: return v1::REWRITE_MODE_AUTO;
    case rag::RewriteMode::kModel: return v1::REWRITE_MODE_MODEL;
    case rag::RewriteMode::kHeuristic: return v1::REWRITE_MODE_HEURISTIC;
    case rag::RewriteMode::kOff: return v1::REWRITE_MODE_OFF;
  }
  return v1::REWRITE_MODE_UNSPECIFIED;
}

StatusOr<rag::Answer> RunChat(const client_internal::Connection& connection, const std::string& collection,
                              std::string_view conversation_id, std::span<const rag::ChatMessage> messages,
                              const rag::ChatOptions& options, std::string_view generator,
                              const std::function<bool(std::string_view)>& on_token) {
  // On the wire 0 means "the default": the client refuses what the engine would.
  if (options.retrieve.k == 0) return Status::InvalidArgument("retrieve.k: must be >= 1");
  v1::ChatRequest request;
  request.set_collection(collection);
  request.set_conversation_id(std::string(conversation_id));
  for (const rag::ChatMessage& m : messages) convert::ToProto(m, request.add_messages());
  request.set_k(options.retrieve.k);
  request.set_filter(options.retrieve.filter);
  request.set_ef_search(options.retrieve.ef_search);
  request.set_system_template(options.prompt.system_template);
  request.set_user_template(options.prompt.user_template);
  request.set_max_prompt_tokens(options.prompt.max_prompt_tokens);
  request.set_max_history_tokens(options.max_history_tokens);
  convert::ToProto(options.generation, request.mutable_generation());
  request.set_rewrite(RewriteToProto(options.rewrite));
  request.set_tools(options.tools_auto ? v1::TOOL_MODE_AUTO : v1::TOOL_MODE_NONE);
  request.set_max_tool_rounds(options.max_tool_rounds);
  for (const rag::FunctionDefinition& f : options.functions) {
    v1::FunctionDefinition* out = request.add_functions();
    out->set_name(f.name);
    out->set_description(f.description);
    out->set_parameters(f.parameters);
  }
  request.set_generator(std::string(generator));
  request.set_stream(on_token != nullptr);

  grpc::ClientContext context;
  connection.Prepare(&context, connection.timeout_ms);
  auto reader = connection.stub->Chat(&context, request);
  v1::AskResponse response;
  std::optional<rag::Answer> answer;
  bool cancelled = false;
  while (reader->Read(&response)) {
    if (response.has_answer()) {
      answer = convert::FromProto(response.answer());
    } else if (on_token && !cancelled && !on_token(response.token())) {
      cancelled = true;
      context.TryCancel();
    }
  }
  const Status status = convert::FromGrpc(reader->Finish());
  if (cancelled) return Status(StatusCode::kCancelled, "chat: the token callback stopped the answer");
  if (!status.ok()) return status;
  if (!answer) return Status::Internal("malformed response from the server: the Chat stream ended without an answer");
  return std::move(answer).value();
}

rag::ConversationInfo InfoFromProto(const v1::ConversationInfo& info) {
  return {info.id(), info.collection(), info.messages(), info.bytes(), info.created_ms(), info.updated_ms()};
}

Status CheckConversationId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("conversation_id: empty");
  return Status::OK();  // the server checks the syntax (one message for every client)
}

}  // namespace

StatusOr<rag::Answer> RemoteCollection::Chat(std::span<const rag::ChatMessage> messages,
                                             const rag::ChatOptions& options, std::string_view generator,
                                             const std::function<bool(std::string_view)>& on_token) {
  return RunChat(*connection_, name_, "", messages, options, generator, on_token);
}

StatusOr<rag::Answer> RemoteCollection::Chat(std::string_view conversation_id,
                                             std::span<const rag::ChatMessage> messages,
                                             const rag::ChatOptions& options, std::string_view generator,
                                             const std::function<bool(std::string_view)>& on_token) {
  SEXTANT_RETURN_IF_ERROR(CheckConversationId(conversation_id));
  return RunChat(*connection_, name_, conversation_id, messages, options, generator, on_token);
}

StatusOr<std::vector<rag::ConversationInfo>> RemoteCollection::ListConversations() {
  v1::ListConversationsRequest request;
  request.set_collection(name_);
  v1::ListConversationsResponse response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->ListConversations(c, request, &response); }));
  std::vector<rag::ConversationInfo> out;
  out.reserve(response.conversations_size());
  for (const v1::ConversationInfo& info : response.conversations()) out.push_back(InfoFromProto(info));
  return out;
}

StatusOr<rag::Conversation> RemoteCollection::GetConversation(std::string_view conversation_id) {
  SEXTANT_RETURN_IF_ERROR(CheckConversationId(conversation_id));
  v1::GetConversationRequest request;
  request.set_conversation_id(std::string(conversation_id));
  v1::Conversation response;
  SEXTANT_RETURN_IF_ERROR(connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->GetConversation(c, request, &response); }));
  if (response.info().collection() != name_) {
    return Status::NotFound("conversation \"" + std::string(conversation_id) + "\" belongs to collection \"" +
                            response.info().collection() + "\", not \"" + name_ + "\"");
  }
  rag::Conversation out;
  out.info = InfoFromProto(response.info());
  for (const v1::ChatMessage& m : response.messages()) out.messages.push_back(convert::FromProto(m));
  return out;
}

Status RemoteCollection::DeleteConversation(std::string_view conversation_id) {
  SEXTANT_RETURN_IF_ERROR(GetConversation(conversation_id).status());  // of this collection
  v1::DeleteConversationRequest request;
  request.set_conversation_id(std::string(conversation_id));
  v1::DeleteConversationResponse response;
  return connection_->Call(
      [&](grpc::ClientContext* c) { return connection_->stub->DeleteConversation(c, request, &response); });
}

}  // namespace sextant
