// Internals shared by the files of SextantService: service.cc (the call wrapper, server info,
// collections), service_points.cc (writes, reads, search), service_rag.cc (text collections) and
// service_chat.cc (Chat).
#ifndef SEXTANT_SERVER_SERVICE_INTERNAL_H_
#define SEXTANT_SERVER_SERVICE_INTERNAL_H_

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "convert.h"
#include "server/log.h"
#include "server/service.h"
#include "sextant/rag.h"

namespace sextant::server::service_internal {

using Clock = std::chrono::steady_clock;

// The longest error message a call returns; a longer one is cut and says its full size.
inline constexpr size_t kMaxErrorMessageBytes = 1024;

inline grpc::Status Error(grpc::StatusCode code, std::string message) {
  return grpc::Status(code, std::move(message));
}

inline grpc::Status ToGrpc(const Status& s) { return convert::ToGrpc(s); }

// "INVALID_ARGUMENT" for the log line.
std::string_view CodeName(grpc::StatusCode code);

// The value of metadata `key` sent by the client, or "".
std::string_view Metadata(const grpc::ServerContext* ctx, std::string_view key);

// The client's x-request-id when it is sane (1..128 printable characters), else (or when `ctx`
// is null) a fresh one.
std::string RequestId(const grpc::ServerContext* ctx);

// "<field>: N floats, collection "c" has dimension D".
std::string DimensionMismatch(std::string_view field, size_t got, const Collection& c);

// A vector field sent as `repeated float` or as packed float32 bytes (proto/convert.h).
using convert::AppendFloats;

// RESOURCE_EXHAUSTED naming the server's max-batch-points limit.
grpc::Status TooManyPoints(std::string_view field, size_t n, uint32_t limit, std::string_view what);

// CollectionInfo, with `text` for a text collection.
void ToProto(const CollectionInfo& info, v1::CollectionInfo* out);

// Describes `c` into `out`.
grpc::Status Describe(Collection& c, v1::CollectionInfo* out);

// Sends the answer of an Ask or a Chat: its pieces as `token` events while it is generated (when
// `stream`), stopping the generator as soon as the client is gone or a piece cannot be sent, then
// the whole answer as the last event.
class AnswerWriter {
 public:
  AnswerWriter(grpc::ServerContext* ctx, grpc::ServerWriter<v1::AskResponse>* writer, bool stream)
      : ctx_(ctx), writer_(writer), stream_(stream) {}

  // The generator's token callback; false stops it.
  rag::TokenCallback OnToken() {
    return [this](std::string_view piece) {
      if (lost_ || ctx_->IsCancelled()) {
        lost_ = true;
        return false;
      }
      if (stream_) {
        v1::AskResponse event;
        event.set_token(std::string(piece));
        if (!writer_->Write(event)) {
          lost_ = true;
          return false;
        }
        ++pieces_;
      }
      return true;
    };
  }

  // CANCELLED when the client went away, the answer's error, or the answer written as the last
  // event (with "pieces" and "citations" added to the call's log fields).
  // `conversation_id`: the stored conversation the turn went to ("" = none).
  grpc::Status Finish(const StatusOr<rag::Answer>& answer, std::vector<std::pair<std::string, std::string>>* extra,
                      const std::string& conversation_id = {}) {
    if (lost_ || ctx_->IsCancelled()) {
      return Error(grpc::StatusCode::CANCELLED, "the call was cancelled; the answer was stopped");
    }
    if (!answer.ok()) return ToGrpc(answer.status());
    if (stream_) extra->emplace_back("pieces", std::to_string(pieces_));
    extra->emplace_back("citations", std::to_string(answer->citations.size()));
    v1::AskResponse last;
    convert::ToProto(*answer, last.mutable_answer());
    if (!conversation_id.empty()) last.mutable_answer()->set_conversation_id(conversation_id);
    if (!writer_->Write(last)) {
      return Error(grpc::StatusCode::CANCELLED, "the client went away before the answer was sent");
    }
    return grpc::Status::OK;
  }

 private:
  grpc::ServerContext* ctx_;
  grpc::ServerWriter<v1::AskResponse>* writer_;
  bool stream_;
  bool lost_ = false;
  uint64_t pieces_ = 0;
};

// The retrieval and prompt settings an AskRequest and a ChatRequest share, into AskOptions or
// ChatOptions (0 and "" keep the defaults where the field says so).
template <typename Request, typename Options>
[[nodiscard]] Status RetrieveAndPromptFromProto(const Request& req, Options* options) {
  if (req.k() != 0) options->retrieve.k = req.k();
  options->retrieve.filter = req.filter();
  options->retrieve.ef_search = req.ef_search();
  SEXTANT_ASSIGN_OR_RETURN(options->retrieve.retrieval, rag::ParseRetrievalMode(req.retrieval()));
  options->retrieve.group_by = req.group_by();
  if (req.group_size() != 0) options->retrieve.group_size = req.group_size();
  if (req.has_score_threshold()) options->retrieve.score_threshold = req.score_threshold();
  options->prompt.system_template = req.system_template();
  options->prompt.user_template = req.user_template();
  if (req.max_prompt_tokens() != 0) options->prompt.max_prompt_tokens = req.max_prompt_tokens();
  return Status::OK();
}

// Tool mode of an AskRequest or a ChatRequest, into ChatOptions.
template <typename Request>
void ToolsFromProto(const Request& req, rag::ChatOptions* options) {
  options->tools_auto = req.tools() == v1::TOOL_MODE_AUTO;
  if (req.max_tool_rounds() != 0) options->max_tool_rounds = req.max_tool_rounds();
  for (const v1::FunctionDefinition& f : req.functions()) options->functions.push_back(convert::FromProto(f));
}

}  // namespace sextant::server::service_internal

namespace sextant::server {

// Every RPC runs its body through Run: request id, key check, shutdown refusal, the running-call
// count, metrics and the log line.
template <typename Fn>
grpc::Status SextantService::Run(grpc::ServerContext* ctx, std::string_view method, bool write,
                                 std::string_view collection, Fn&& fn) {
  using service_internal::CodeName;
  using service_internal::kMaxErrorMessageBytes;
  using service_internal::Error;
  using service_internal::Metadata;
  using service_internal::RequestId;
  const auto start = service_internal::Clock::now();
  const Access access = keys_.Check(Metadata(ctx, "authorization"));
  // A call refused for its key gets a fresh request id: nothing it sent is logged (below).
  Call call{ctx, access, RequestId(access == Access::kDenied ? nullptr : ctx),
            std::string(collection), {}};
  ctx->AddInitialMetadata("x-request-id", call.request_id);

  bool refused = false;
  {
    internal::MutexLock lock(mu_);
    refused = shutting_down_;
    if (!refused) ++running_;
  }
  grpc::Status status;
  if (refused) {
    status = Error(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
  } else if (call.access == Access::kDenied) {
    status = Error(grpc::StatusCode::UNAUTHENTICATED,
                   Metadata(ctx, "authorization").empty()
                       ? "this server needs an API key: send metadata \"authorization: Bearer KEY\""
                       : "the API key is not valid (expected \"authorization: Bearer KEY\")");
  } else if (write && call.access == Access::kReadOnly) {
    status = Error(grpc::StatusCode::PERMISSION_DENIED,
                   std::string(method) + " writes, and this API key is read-only");
  } else if (Status reserved = write && method != "CreateSnapshot" ? CheckNotReserved(collection, "collection")
                                                                    : Status::OK();
             !reserved.ok()) {
    status = service_internal::ToGrpc(reserved);
  } else {
    status = fn(call);
  }
  if (!refused) {
    internal::MutexLock lock(mu_);
    if (--running_ == 0) idle_.notify_all();
  }
  // Messages may quote what the client sent (a 4 MiB collection name): keep them short enough
  // for the trailing metadata and the log.
  if (status.error_message().size() > kMaxErrorMessageBytes) {
    std::string message = status.error_message().substr(0, kMaxErrorMessageBytes);
    message += "...(" + std::to_string(status.error_message().size()) + " bytes)";
    status = grpc::Status(status.error_code(), std::move(message));
  }

  const double seconds = std::chrono::duration<double>(service_internal::Clock::now() - start).count();
  if (options_.observe) options_.observe(method, static_cast<int>(status.error_code()), seconds);
  const bool slow = seconds * 1000 >= options_.slow_call_ms;
  const LogLevel level = !status.ok() || slow ? LogLevel::kInfo : LogLevel::kDebug;
  if (LogEnabled(level)) {
    char duration[32];
    std::snprintf(duration, sizeof(duration), "%.3f", seconds * 1000);
    // A call refused for its key (or its absence) logs nothing the client chose but sizes.
    const bool anonymous = call.access == Access::kDenied;
    const std::string collection_bytes = std::to_string(call.collection.size());
    std::vector<LogField> fields = {{"rid", call.request_id},
                                    {"method", method},
                                    {anonymous ? "collection_bytes" : "collection",
                                     anonymous ? std::string_view(collection_bytes) : call.collection},
                                    {"code", CodeName(status.error_code())},
                                    {"duration_ms", duration}};
    if (call.collection.empty()) fields.erase(fields.begin() + 2);
    for (const auto& [k, v] : call.extra) fields.emplace_back(k, v);
    if (slow) fields.emplace_back("slow", "true");
    // grpc::Status::error_message() returns a copy: keep it alive while the fields view it.
    const std::string error = status.error_message();
    if (!status.ok()) fields.emplace_back("error", error);
    Log(level, "call", fields);
  }
  return status;
}

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_SERVICE_INTERNAL_H_
