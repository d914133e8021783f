// Chat over gRPC against a real sextantd: a follow-up answered from the collection (extractive and
// with a scripted fake OpenAI-compatible model), streaming, tool mode for Chat and Ask, the server's
// generation limits, and every bad request as INVALID_ARGUMENT naming the message or field.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server_test_util.h"
#include "unit/rag/fake_http.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;
using json = nlohmann::json;

v1::ChatMessage Msg(const std::string& role, const std::string& content) {
  v1::ChatMessage m;
  m.set_role(role);
  m.set_content(content);
  return m;
}

// One server-sent-events answer of a scripted model: content pieces, or a tool call.
void Sse(rag::Conn& c, const std::vector<std::string>& pieces, const std::string& call_name = "",
         const std::string& call_args = "") {
  c.StartChunked();
  auto event = [&](const json& delta) {
    c.Chunk("data: " + json{{"choices", {{{"index", 0}, {"delta", delta}}}}}.dump() + "\n\n");
  };
  if (!call_name.empty()) {
    event({{"tool_calls", {{{"index", 0}, {"id", "call_x"}, {"function", {{"name", call_name}, {"arguments", call_args}}}}}}});
  }
  for (const std::string& p : pieces) event({{"content", p}});
  c.Chunk("data: [DONE]\n\n");
  c.EndChunked();
}

class ChatServerTest : public ::testing::Test {
 protected:
  bool StartWith(const std::vector<std::string>& flags) {
    if (!server_.Start(flags)) return false;
    v1::CreateCollectionRequest req;
    req.set_name("kb");
    req.mutable_text()->mutable_embedder()->set_kind("hash");
    req.mutable_text()->mutable_embedder()->set_dimension(64);
    v1::CollectionInfo info;
    if (!server_.stub().CreateCollection(Ctx().get(), req, &info).ok()) return false;
    auto ctx = Ctx();
    auto stream = server_.stub().IngestDocuments(ctx.get());
    v1::IngestDocumentsRequest ingest;
    ingest.set_collection("kb");
    auto add = [&](const std::string& id, const std::string& text) {
      v1::Document* d = ingest.add_documents();
      d->set_id(id);
      d->set_text(text);
    };
    add("otters", "Sea otters use rocks as tools to crack open shellfish. A group of resting otters is a raft.");
    add("volcanoes", "Volcanoes form where magma reaches the surface. Basalt lava flows are runny and travel far.");
    add("comets", "Comets are icy bodies that grow a tail near the sun. Halley's comet returns every 76 years.");
    stream->Write(ingest);
    stream->WritesDone();
    v1::IngestProgress p;
    while (stream->Read(&p)) {
    }
    return stream->Finish().ok();
  }

  grpc::Status RunChat(const v1::ChatRequest& req, v1::AskAnswer* answer, std::string* streamed = nullptr) {
    auto ctx = Ctx();
    auto reader = server_.stub().Chat(ctx.get(), req);
    v1::AskResponse event;
    while (reader->Read(&event)) {
      if (event.has_answer()) {
        *answer = event.answer();
      } else if (streamed) {
        *streamed += event.token();
      }
    }
    return reader->Finish();
  }

  v1::ChatRequest FollowUp() {
    v1::ChatRequest req;
    req.set_collection("kb");
    *req.add_messages() = Msg("system", "Be brief.");
    *req.add_messages() = Msg("user", "How do sea otters open shellfish?");
    *req.add_messages() = Msg("assistant", "With rocks [1].");
    *req.add_messages() = Msg("user", "and where do they rest?");
    req.set_k(2);
    return req;
  }

  ServerFixture server_;
};

TEST_F(ChatServerTest, FollowUpIsAnsweredFromTheCollectionAndStreams) {
  ASSERT_TRUE(StartWith({}));
  v1::ChatRequest req = FollowUp();
  req.set_stream(true);
  v1::AskAnswer answer;
  std::string streamed;
  auto s = RunChat(req, &answer, &streamed);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(answer.standalone_question(), "How do sea otters open shellfish? and where do they rest?");
  ASSERT_FALSE(answer.citations().empty());
  EXPECT_EQ(answer.citations(0).document_id(), "otters");
  EXPECT_EQ(streamed, answer.answer());
  EXPECT_EQ(answer.finish_reason(), "stop");
  EXPECT_EQ(answer.generator(), "extractive");
  ASSERT_EQ(answer.messages_size(), 1);
  EXPECT_EQ(answer.messages(0).role(), "assistant");
  EXPECT_GE(answer.timings().total_ms(), answer.timings().rewrite_ms());
}

TEST_F(ChatServerTest, BadRequestsNameTheMessageOrField) {
  ASSERT_TRUE(StartWith({"--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "m", "--llm-max-tokens", "100",
                         "--llm-models", "m,m2"}));
  auto expect = [&](v1::ChatRequest req, StatusCode code, const std::string& needle) {
    v1::AskAnswer a;
    auto s = RunChat(req, &a);
    EXPECT_EQ(s.error_code(), code) << needle << ": " << Describe(s);
    EXPECT_NE(s.error_message().find(needle), std::string::npos) << s.error_message();
  };
  v1::ChatRequest req;
  req.set_collection("kb");
  expect(req, StatusCode::INVALID_ARGUMENT, "messages: empty");
  *req.add_messages() = Msg("user", "hi");
  *req.add_messages() = Msg("assistant", "hello");
  expect(req, StatusCode::INVALID_ARGUMENT, "messages[1]: the last message must be from the user or a tool");
  req.mutable_messages(1)->set_role("wizard");
  expect(req, StatusCode::INVALID_ARGUMENT, "messages[1]: unknown role \"wizard\"");
  *req.mutable_messages(1) = Msg("tool", "42");
  req.mutable_messages(1)->set_tool_call_id("call_1");
  expect(req, StatusCode::INVALID_ARGUMENT, "messages[1]: tool message answers tool_call_id \"call_1\"");
  req.mutable_messages()->RemoveLast();

  v1::ChatRequest tools = req;
  tools.set_tools(v1::TOOL_MODE_AUTO);
  tools.set_generator("extractive");
  expect(tools, StatusCode::FAILED_PRECONDITION, "cannot call functions");
  tools.set_max_tool_rounds(99);
  tools.set_generator("openai");
  expect(tools, StatusCode::INVALID_ARGUMENT, "max_tool_rounds");

  v1::ChatRequest gen = req;
  gen.mutable_generation()->set_max_tokens(500);
  expect(gen, StatusCode::INVALID_ARGUMENT, "generation.max_tokens: 500 exceeds the server's limit of 100");
  gen.mutable_generation()->set_max_tokens(50);
  gen.mutable_generation()->set_model("gpt-huge");
  expect(gen, StatusCode::PERMISSION_DENIED, "generation.model: \"gpt-huge\"");
  gen.mutable_generation()->set_model("m2");
  gen.mutable_generation()->set_temperature(3);
  expect(gen, StatusCode::INVALID_ARGUMENT, "generation.temperature");

  v1::ChatRequest missing = req;
  missing.set_collection("nope");
  expect(missing, StatusCode::NOT_FOUND, "nope");
  v1::ChatRequest bad_generator = req;
  bad_generator.set_generator("gpt");
  expect(bad_generator, StatusCode::INVALID_ARGUMENT, "generator: \"gpt\"");

  v1::AskRequest ask;
  ask.set_collection("kb");
  ask.set_question("otters?");
  ask.mutable_generation()->set_max_tokens(101);
  auto ctx = Ctx();
  auto reader = server_.stub().Ask(ctx.get(), ask);
  v1::AskResponse event;
  while (reader->Read(&event)) {
  }
  auto s = reader->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << Describe(s);
}

TEST_F(ChatServerTest, ToolModeThroughTheServerForChatAndAsk) {
  rag::FakeServer llm([](const rag::Received& r, int, rag::Conn& c) {
    const json body = r.Json();
    // The model searches first, and answers once it has seen a tool result.
    const bool searched = body["messages"].back()["role"] == "tool";
    if (!searched) return Sse(c, {}, "search", R"({"query":"otters shellfish rocks"})");
    Sse(c, {"Otters use ", "rocks [1]."});
  });
  ASSERT_TRUE(StartWith({"--generator", "openai", "--llm-url", llm.base_url(), "--llm-model", "tiny"}));
  v1::ChatRequest req;
  req.set_collection("kb");
  *req.add_messages() = Msg("user", "How do otters open shellfish?");
  req.set_tools(v1::TOOL_MODE_AUTO);
  req.set_stream(true);
  req.mutable_generation()->set_seed(7);
  v1::AskAnswer answer;
  std::string streamed;
  auto s = RunChat(req, &answer, &streamed);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(streamed, "Otters use rocks [1].");
  EXPECT_EQ(answer.answer(), streamed);
  ASSERT_EQ(answer.tool_calls_size(), 1);
  EXPECT_EQ(answer.tool_calls(0).name(), "search");
  EXPECT_EQ(answer.tool_rounds(), 1u);
  ASSERT_FALSE(answer.citations().empty());
  EXPECT_EQ(answer.citations(0).document_id(), "otters");
  EXPECT_TRUE(answer.citations(0).cited());
  EXPECT_EQ(answer.messages_size(), 3);  // the call, its result, the answer
  EXPECT_EQ(llm.requests()[0].Json()["seed"], 7);

  v1::AskRequest ask;
  ask.set_collection("kb");
  ask.set_question("How do otters open shellfish?");
  ask.set_tools(v1::TOOL_MODE_AUTO);
  auto ctx = Ctx();
  auto reader = server_.stub().Ask(ctx.get(), ask);
  v1::AskResponse event;
  v1::AskAnswer ask_answer;
  while (reader->Read(&event)) {
    if (event.has_answer()) ask_answer = event.answer();
  }
  s = reader->Finish();
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(ask_answer.answer(), "Otters use rocks [1].");
  EXPECT_EQ(ask_answer.tool_calls_size(), 1);
  EXPECT_EQ(llm.requests().size(), 4u);
}

// Server-side conversations: the second turn sends only its new question, the stored turns are
// listed, read and deleted; bad and unknown ids, an empty turn and another collection are errors.
TEST_F(ChatServerTest, ConversationsAreStoredListedAndDeleted) {
  ASSERT_TRUE(StartWith({}));
  v1::ChatRequest req;
  req.set_collection("kb");
  req.set_conversation_id("conv-1");
  *req.add_messages() = Msg("user", "How do sea otters open shellfish?");
  v1::AskAnswer answer;
  auto s = RunChat(req, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(answer.conversation_id(), "conv-1");
  req.clear_messages();
  *req.add_messages() = Msg("user", "and where do they rest?");
  s = RunChat(req, &answer);
  ASSERT_TRUE(s.ok()) << Describe(s);
  EXPECT_EQ(answer.standalone_question(), "How do sea otters open shellfish? and where do they rest?");

  v1::GetConversationRequest get;
  get.set_conversation_id("conv-1");
  v1::Conversation conv;
  s = server_.stub().GetConversation(Ctx().get(), get, &conv);
  ASSERT_TRUE(s.ok()) << Describe(s);
  ASSERT_EQ(conv.messages_size(), 4);
  EXPECT_EQ(conv.messages(2).content(), "and where do they rest?");
  EXPECT_EQ(conv.messages(3).content(), answer.answer());
  EXPECT_EQ(conv.info().collection(), "kb");
  EXPECT_EQ(conv.info().messages(), 4u);

  v1::ListConversationsRequest list;
  v1::ListConversationsResponse listed;
  ASSERT_TRUE(server_.stub().ListConversations(Ctx().get(), list, &listed).ok());
  ASSERT_EQ(listed.conversations_size(), 1);
  EXPECT_EQ(listed.conversations(0).id(), "conv-1");
  list.set_collection("elsewhere");
  ASSERT_TRUE(server_.stub().ListConversations(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.conversations_size(), 0);

  // Errors.
  v1::ChatRequest bad = req;
  bad.set_conversation_id("no spaces");
  EXPECT_EQ(RunChat(bad, &answer).error_code(), StatusCode::INVALID_ARGUMENT);
  bad = req;
  bad.clear_messages();
  EXPECT_EQ(RunChat(bad, &answer).error_code(), StatusCode::INVALID_ARGUMENT);
  bad = req;
  bad.clear_messages();
  *bad.add_messages() = Msg("assistant", "not a question");
  EXPECT_EQ(RunChat(bad, &answer).error_code(), StatusCode::INVALID_ARGUMENT);
  get.set_conversation_id("unknown");
  EXPECT_EQ(server_.stub().GetConversation(Ctx().get(), get, &conv).error_code(), StatusCode::NOT_FOUND);
  get.set_conversation_id("");
  EXPECT_EQ(server_.stub().GetConversation(Ctx().get(), get, &conv).error_code(), StatusCode::INVALID_ARGUMENT);

  v1::DeleteConversationRequest del;
  v1::DeleteConversationResponse deleted;
  del.set_conversation_id("conv-1");
  ASSERT_TRUE(server_.stub().DeleteConversation(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(server_.stub().DeleteConversation(Ctx().get(), del, &deleted).error_code(), StatusCode::NOT_FOUND);
  del.set_conversation_id("bad/id");
  EXPECT_EQ(server_.stub().DeleteConversation(Ctx().get(), del, &deleted).error_code(), StatusCode::INVALID_ARGUMENT);
  get.set_conversation_id("conv-1");
  EXPECT_EQ(server_.stub().GetConversation(Ctx().get(), get, &conv).error_code(), StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace sextant::testing
