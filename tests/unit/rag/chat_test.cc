// Chat (TextCollection::Chat): conversation validation, the follow-up rewrite (heuristic and by
// the model), the history budget, per-request generation settings, and tool mode against a scripted
// fake OpenAI-compatible server: two search rounds, an unknown function, malformed arguments, a
// model that never stops calling (bounded by max_tool_rounds and by the deadline), the caller's own
// functions returned to the caller, and tool calls streamed in pieces.
#include <gtest/gtest.h>

#include <chrono>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_http.h"
#include "sextant/database.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

using json = nlohmann::json;

std::vector<Document> Corpus() {
  return {
      {"rivers", "The Danube flows through ten countries before it reaches the Black Sea. Its delta is a wetland.", ""},
      {"bread", "Sourdough bread rises with wild yeast and lactic bacteria. The starter is fed with flour and water.",
       ""},
      {"stars", "A neutron star is the collapsed core of a massive star. Pulsars are rotating neutron stars.", ""},
      {"chess", "In chess the king castles with a rook. The queen is the strongest piece on the board.", ""},
  };
}

ChatMessage Msg(std::string role, std::string content) { return {std::move(role), std::move(content), {}, {}}; }

// A /chat/completions answer: content and optional tool calls ({name, arguments} pairs).
std::string Completion(const std::string& content,
                       const std::vector<std::pair<std::string, std::string>>& calls = {}) {
  json message = {{"role", "assistant"}, {"content", content.empty() && !calls.empty() ? json(nullptr) : json(content)}};
  if (!calls.empty()) {
    json tc = json::array();
    static int next = 0;
    for (const auto& [name, args] : calls) {
      tc.push_back({{"id", "call_" + std::to_string(++next)},
                    {"type", "function"},
                    {"function", {{"name", name}, {"arguments", args}}}});
    }
    message["tool_calls"] = tc;
  }
  return json{{"id", "x"},
              {"object", "chat.completion"},
              {"choices", {{{"index", 0}, {"message", message}, {"finish_reason", calls.empty() ? "stop" : "tool_calls"}}}}}
      .dump();
}

class ChatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, dir_.path());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto tc = TextCollection::Create(*db_, "docs", {}, provider_);
    ASSERT_TRUE(tc.ok()) << tc.status().ToString();
    tc_ = std::move(tc).value();
    ASSERT_TRUE(tc_->Ingest(Corpus()).ok());
  }

  std::unique_ptr<Generator> Llm(const FakeServer& server, bool stream = false) {
    OpenAIChatOptions o;
    o.endpoint.base_url = server.base_url();
    o.endpoint.model = "fake-model";
    o.endpoint.retries = 0;
    o.endpoint.timeout_ms = 5000;
    o.stream = stream;
    auto g = MakeOpenAIGenerator(o);
    EXPECT_TRUE(g.ok());
    return std::move(g).value();
  }

  testing::TempDir dir_;
  EmbedderProvider provider_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<TextCollection> tc_;
};

// ---------------------------------------------------------------- validation

TEST(ChatValidationTest, BadConversationsNameTheMessage) {
  auto check = [](std::vector<ChatMessage> m, const std::string& needle) {
    Status s = ValidateConversation(m);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  check({}, "messages: empty");
  check({Msg("user", "hi"), Msg("robot", "beep")}, "messages[1]: unknown role \"robot\"");
  check({Msg("user", "hi"), Msg("assistant", "hello")}, "messages[1]: the last message must be from the user or a tool");
  check({Msg("system", "be brief"), Msg("user", "  ")}, "messages[1]: a user message with no content");
  ChatMessage orphan = Msg("tool", "42");
  orphan.tool_call_id = "call_9";
  check({Msg("user", "hi"), orphan}, "messages[1]: tool message answers tool_call_id \"call_9\"");
  ChatMessage no_id = Msg("tool", "42");
  check({Msg("user", "hi"), no_id}, "messages[1]: a tool message needs tool_call_id");
  ChatMessage calls = Msg("assistant", "");
  calls.tool_calls = {{"c1", "f", "{}"}, {"c1", "f", "{}"}};
  check({Msg("user", "hi"), calls}, "messages[1].tool_calls[1]: id \"c1\" is used by an earlier call");
  calls.tool_calls = {{"c1", "f", "{}"}};
  ChatMessage answer = Msg("tool", "ok");
  answer.tool_call_id = "c1";
  EXPECT_TRUE(ValidateConversation(std::vector<ChatMessage>{Msg("user", "hi"), calls, answer}).ok());
  check({Msg("user", "hi"), calls, answer, answer}, "messages[3]: tool_call_id \"c1\" is answered twice");
  check({Msg("system", "s")}, "the last message must be from the user or a tool, not system");
}

TEST(ChatValidationTest, GenerationSettingsAndLimits) {
  GenerationSettings s;
  EXPECT_TRUE(s.Validate().ok());
  s.temperature = 2.5f;
  EXPECT_NE(s.Validate().message().find("generation.temperature"), std::string::npos);
  s.temperature = 0.7f;
  s.max_tokens = 0;
  EXPECT_NE(s.Validate().message().find("generation.max_tokens"), std::string::npos);
  s.max_tokens = 100;
  s.stop = {"a", "b", "c", "d", "e"};
  EXPECT_NE(s.Validate().message().find("generation.stop"), std::string::npos);
  s.stop = {""};
  EXPECT_NE(s.Validate().message().find("generation.stop[0]"), std::string::npos);
  s.stop = {"\n\n"};
  GenerationLimits limits;
  limits.max_tokens = 64;
  EXPECT_EQ(limits.Check(s).code(), StatusCode::kInvalidArgument);
  s.max_tokens = 64;
  EXPECT_TRUE(limits.Check(s).ok());
  limits.models = {"small", "large"};
  s.model = "huge";
  EXPECT_EQ(limits.Check(s).code(), StatusCode::kPermissionDenied);
  s.model = "large";
  EXPECT_TRUE(limits.Check(s).ok());
}

// ---------------------------------------------------------------- follow-ups and history

TEST(ChatValidationTest, FollowUpHeuristic) {
  std::vector<ChatMessage> h = {Msg("user", "How do I install sextant on Linux?"), Msg("assistant", "Use apt [1].")};
  EXPECT_EQ(RewriteFollowUpHeuristic(h, "and on Windows?"), "How do I install sextant on Linux? and on Windows?");
  EXPECT_EQ(RewriteFollowUpHeuristic(h, "Does it need root?"), "How do I install sextant on Linux? Does it need root?");
  EXPECT_EQ(RewriteFollowUpHeuristic(h, "What is the capital city of France?"),
            "What is the capital city of France?");
  // Chained follow-ups reach back to the question they lean on.
  h.push_back(Msg("user", "and on Windows?"));
  h.push_back(Msg("assistant", "Use the installer."));
  EXPECT_EQ(RewriteFollowUpHeuristic(h, "what about macOS?"),
            "How do I install sextant on Linux? and on Windows? what about macOS?");
  EXPECT_EQ(RewriteFollowUpHeuristic({}, "and this?"), "and this?");
}

TEST_F(ChatTest, ExtractiveFollowUpRetrievesForTheStandaloneQuestion) {
  auto gen = MakeExtractiveGenerator();
  std::vector<ChatMessage> m = {Msg("system", "Be brief."), Msg("user", "Tell me about the Danube river."),
                                Msg("assistant", "It flows through ten countries [1]."),
                                Msg("user", "Where does it end?")};
  ChatOptions o;
  o.retrieve.k = 2;
  std::string streamed;
  auto a = tc_->Chat(m, o, *gen, [&](std::string_view p) {
    streamed += p;
    return true;
  });
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->standalone_question, "Tell me about the Danube river. Where does it end?");
  ASSERT_FALSE(a->citations.empty());
  EXPECT_EQ(a->citations[0].document_id, "rivers");
  EXPECT_EQ(streamed, a->text);
  EXPECT_EQ(a->finish_reason, "stop");
  ASSERT_EQ(a->messages.size(), 1u);
  EXPECT_EQ(a->messages[0].role, "assistant");
  EXPECT_GT(a->timings.total_ms, 0.0);

  o.rewrite = RewriteMode::kOff;
  auto plain = tc_->Chat(m, o, *gen);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->standalone_question, "Where does it end?");
  o.rewrite = RewriteMode::kModel;
  EXPECT_EQ(tc_->Chat(m, o, *gen).status().code(), StatusCode::kFailedPrecondition);
  o.rewrite = RewriteMode::kAuto;
  o.tools_auto = true;
  auto tools = tc_->Chat(m, o, *gen);
  EXPECT_EQ(tools.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(tools.status().message().find("cannot call functions"), std::string::npos);
  EXPECT_EQ(tc_->Chat(std::vector<ChatMessage>{}, {}, *gen).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ChatTest, ModelRewriteHistoryBudgetAndSettingsReachTheModel) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    c.Respond(200, Completion(n == 0 ? "Where does the Danube end?" : "It reaches the Black Sea [1]."));
  });
  auto gen = Llm(server);
  std::vector<ChatMessage> m = {Msg("system", "Answer in English.")};
  for (int i = 0; i < 6; ++i) {
    m.push_back(Msg("user", "old question number " + std::to_string(i) + " with some words"));
    m.push_back(Msg("assistant", "old answer " + std::to_string(i)));
  }
  m.push_back(Msg("user", "Tell me about the Danube."));
  m.push_back(Msg("assistant", "It flows through ten countries."));
  m.push_back(Msg("user", "Where does it end?"));
  ChatOptions o;
  o.retrieve.k = 2;
  o.max_history_tokens = 20;  // the last turn (10 tokens) and one older (9): the rest is dropped
  o.generation.temperature = 0.3f;
  o.generation.max_tokens = 77;
  o.generation.stop = {"\n\nQ:"};
  o.generation.seed = 42;
  o.generation.model = "other-model";
  auto a = tc_->Chat(m, o, *gen);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->standalone_question, "Where does the Danube end?");
  EXPECT_EQ(a->text, "It reaches the Black Sea [1].");
  ASSERT_FALSE(a->citations.empty());
  EXPECT_EQ(a->citations[0].document_id, "rivers");
  EXPECT_TRUE(a->citations[0].cited);
  EXPECT_EQ(a->generator, "openai:other-model");
  EXPECT_GT(a->timings.rewrite_ms, 0.0);

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  json rewrite = requests[0].Json();
  EXPECT_NE(rewrite["messages"][1]["content"].get<std::string>().find("Last question: Where does it end?"),
            std::string::npos);
  json body = requests[1].Json();
  EXPECT_EQ(body["model"], "other-model");
  EXPECT_EQ(body["max_tokens"], 77);
  EXPECT_NEAR(body["temperature"].get<double>(), 0.3, 1e-6);
  EXPECT_EQ(body["stop"], json::array({"\n\nQ:"}));
  EXPECT_EQ(body["seed"], 42);
  const json& msgs = body["messages"];
  ASSERT_GE(msgs.size(), 3u);
  EXPECT_EQ(msgs[0]["role"], "system");
  EXPECT_NE(msgs[0]["content"].get<std::string>().find("Answer in English."), std::string::npos);
  // History within the budget: the Danube turn and the newest old turn only, oldest dropped first.
  ASSERT_EQ(msgs.size(), 6u) << msgs.dump();
  EXPECT_EQ(msgs[1]["content"], "old question number 5 with some words");
  EXPECT_EQ(msgs[3]["content"], "Tell me about the Danube.");
  EXPECT_EQ(msgs[5]["role"], "user");
  EXPECT_NE(msgs[5]["content"].get<std::string>().find("Black Sea"), std::string::npos);  // the context
}

// A rewrite with no word in it (a weak model answering '."') is not used: the heuristic is.
TEST_F(ChatTest, ModelRewriteWithoutAWordFallsBackToTheHeuristic) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    c.Respond(200, Completion(n == 0 ? " .\" ... " : "It reaches the Black Sea [1]."));
  });
  auto gen = Llm(server);
  std::vector<ChatMessage> m = {Msg("user", "Tell me about the Danube."), Msg("assistant", "It is long."),
                                Msg("user", "Where does it end?")};
  ChatOptions o;
  o.rewrite = RewriteMode::kModel;
  auto a = tc_->Chat(m, o, *gen);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const std::span<const ChatMessage> history(m.data(), 2);
  EXPECT_EQ(a->standalone_question, RewriteFollowUpHeuristic(history, "Where does it end?"));
  EXPECT_EQ(a->standalone_question, "Tell me about the Danube. Where does it end?");
}

// ---------------------------------------------------------------- tool mode

TEST_F(ChatTest, ToolModeTwoSearchRoundsCiteEveryChunkSeen) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    if (n == 0) return c.Respond(200, Completion("", {{"search", R"({"query":"Danube delta","k":1})"}}));
    if (n == 1) return c.Respond(200, Completion("", {{"search", R"({"query":"pulsar neutron star","k":1})"}}));
    c.Respond(200, Completion("The delta is a wetland [1]; pulsars spin [2]."));
  });
  auto gen = Llm(server);
  ChatOptions o;
  o.tools_auto = true;
  auto a = tc_->Chat(std::vector<ChatMessage>{Msg("user", "Tell me about the Danube delta and pulsars.")}, o, *gen);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->tool_rounds, 2u);
  ASSERT_EQ(a->tool_calls.size(), 2u);
  EXPECT_EQ(a->tool_calls[0].name, "search");
  ASSERT_EQ(a->citations.size(), 2u);
  EXPECT_EQ(a->citations[0].document_id, "rivers");
  EXPECT_EQ(a->citations[0].number, 1u);
  EXPECT_TRUE(a->citations[0].cited);
  EXPECT_EQ(a->citations[1].document_id, "stars");
  EXPECT_TRUE(a->citations[1].cited);
  EXPECT_EQ(a->finish_reason, "stop");
  // assistant(call), tool, assistant(call), tool, assistant(answer)
  ASSERT_EQ(a->messages.size(), 5u);
  EXPECT_EQ(a->messages[1].role, "tool");
  EXPECT_EQ(a->messages[1].tool_call_id, a->tool_calls[0].id);

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  json first = requests[0].Json();
  ASSERT_EQ(first["tools"].size(), 1u);
  EXPECT_EQ(first["tools"][0]["function"]["name"], "search");
  EXPECT_EQ(first["tool_choice"], "auto");
  json third = requests[2].Json();
  const json& msgs = third["messages"];
  EXPECT_EQ(msgs[2]["role"], "assistant");
  EXPECT_EQ(msgs[2]["tool_calls"][0]["function"]["name"], "search");
  EXPECT_EQ(msgs[3]["role"], "tool");
  EXPECT_NE(msgs[3]["content"].get<std::string>().find("[1] (rivers, chunk 0)"), std::string::npos);
  EXPECT_NE(msgs[5]["content"].get<std::string>().find("[2] (stars, chunk 0)"), std::string::npos);
}

TEST_F(ChatTest, ToolModeUnknownFunctionAndMalformedArgumentsAreFedBack) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    if (n == 0) return c.Respond(200, Completion("", {{"weather", R"({"city":"Oslo"})"}, {"search", "{not json"}}));
    if (n == 1) return c.Respond(200, Completion("", {{"search", R"({"k":3})"}, {"search", R"({"query":"x","k":500})"}}));
    c.Respond(200, Completion("I don't know."));
  });
  auto gen = Llm(server);
  ChatOptions o;
  o.tools_auto = true;
  auto a = tc_->Chat(std::vector<ChatMessage>{Msg("user", "What is the weather?")}, o, *gen);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->tool_calls.size(), 4u);
  EXPECT_TRUE(a->citations.empty());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  const json msgs = requests[2].Json()["messages"];
  ASSERT_EQ(msgs.size(), 8u) << msgs.dump();
  EXPECT_NE(msgs[3]["content"].get<std::string>().find("there is no function \"weather\""), std::string::npos);
  EXPECT_NE(msgs[4]["content"].get<std::string>().find("not a JSON object"), std::string::npos);
  EXPECT_NE(msgs[6]["content"].get<std::string>().find("\"query\" (a non-empty string) is required"),
            std::string::npos);
  EXPECT_NE(msgs[7]["content"].get<std::string>().find("\"k\" must be an integer"), std::string::npos);
}

TEST_F(ChatTest, ToolModeNeverEndingCallsAreBoundedByRoundsAndDeadline) {
  FakeServer server([](const Received& r, int, Conn& c) {
    (void)r;
    c.Respond(200, Completion("", {{"search", R"({"query":"stars"})"}}));
  });
  auto gen = Llm(server);
  ChatOptions o;
  o.tools_auto = true;
  o.max_tool_rounds = 2;
  auto a = tc_->Chat(std::vector<ChatMessage>{Msg("user", "Loop forever.")}, o, *gen);
  EXPECT_EQ(a.status().code(), StatusCode::kResourceExhausted) << a.status().ToString();
  EXPECT_NE(a.status().message().find("max_tool_rounds = 2"), std::string::npos);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);  // two rounds, then one that forbids calls
  EXPECT_EQ(requests[1].Json()["tool_choice"], "auto");
  EXPECT_EQ(requests[2].Json()["tool_choice"], "none");

  o.max_tool_rounds = 16;
  o.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  auto timed = tc_->Chat(std::vector<ChatMessage>{Msg("user", "Loop forever.")}, o, *gen);
  if (timed.status().code() != StatusCode::kDeadlineExceeded) {
    // 16 rounds finished within 300 ms: the round bound stopped it instead.
    EXPECT_EQ(timed.status().code(), StatusCode::kResourceExhausted) << timed.status().ToString();
  }
  o.deadline = std::chrono::steady_clock::now();
  EXPECT_EQ(tc_->Chat(std::vector<ChatMessage>{Msg("user", "x")}, o, *gen).status().code(),
            StatusCode::kDeadlineExceeded);
  o.max_tool_rounds = 0;
  o.deadline.reset();
  EXPECT_EQ(tc_->Chat(std::vector<ChatMessage>{Msg("user", "x")}, o, *gen).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(ChatTest, CallerFunctionsAreReturnedAndTheConversationContinues) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    if (n == 0) {
      return c.Respond(200, Completion("", {{"get_weather", R"({"city":"Oslo"})"}, {"search", R"({"query":"Danube"})"}}));
    }
    c.Respond(200, Completion("It is 3 degrees in Oslo, and the Danube ends in the Black Sea [1]."));
  });
  auto gen = Llm(server);
  ChatOptions o;
  o.tools_auto = true;
  o.retrieve.k = 1;
  o.functions.push_back({"get_weather", "The weather in a city",
                         R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"});
  std::vector<ChatMessage> m = {Msg("user", "Weather in Oslo, and where does the Danube end?")};
  auto a = tc_->Chat(m, o, *gen);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->finish_reason, "tool_calls");
  ASSERT_EQ(a->pending_calls.size(), 1u);
  EXPECT_EQ(a->pending_calls[0].name, "get_weather");
  ASSERT_EQ(a->messages.size(), 2u);  // the assistant's calls and the executed search's result
  EXPECT_EQ(server.requests()[0].Json()["tools"].size(), 2u);

  for (const ChatMessage& x : a->messages) m.push_back(x);
  ChatMessage result = Msg("tool", "3 degrees, cloudy");
  result.tool_call_id = a->pending_calls[0].id;
  m.push_back(result);
  auto b = tc_->Chat(m, o, *gen);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->finish_reason, "stop");
  EXPECT_NE(b->text.find("3 degrees"), std::string::npos);
  const json msgs = server.requests()[1].Json()["messages"];
  EXPECT_EQ(msgs.back()["role"], "tool");
  EXPECT_EQ(msgs.back()["content"], "3 degrees, cloudy");

  o.functions.push_back({"search", "", "{}"});
  EXPECT_EQ(tc_->Chat(m, o, *gen).status().code(), StatusCode::kInvalidArgument);
  o.functions.pop_back();
  o.functions.push_back({"bad name!", "", "{}"});
  EXPECT_EQ(tc_->Chat(m, o, *gen).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ChatTest, StreamedToolCallsAreAssembledFromPieces) {
  FakeServer server([](const Received& r, int n, Conn& c) {
    (void)r;
    c.StartChunked();
    auto event = [&](const json& delta, const char* finish = nullptr) {
      json choice = {{"index", 0}, {"delta", delta}};
      choice["finish_reason"] = finish ? json(finish) : json(nullptr);
      c.Chunk("data: " + json{{"choices", {choice}}}.dump() + "\n\n");
    };
    if (n == 0) {
      event({{"role", "assistant"}});
      event({{"tool_calls", {{{"index", 0}, {"id", "call_a"}, {"type", "function"},
                              {"function", {{"name", "search"}, {"arguments", "{\"que"}}}}}}});
      event({{"tool_calls", {{{"index", 0}, {"function", {{"arguments", "ry\": \"sourdough\"}"}}}}}}});
      event(json::object(), "tool_calls");
    } else {
      event({{"content", "Wild yeast "}});
      event({{"content", "[1]."}}, "stop");
    }
    c.Chunk("data: [DONE]\n\n");
    c.EndChunked();
  });
  auto gen = Llm(server, /*stream=*/true);
  ChatOptions o;
  o.tools_auto = true;
  std::string streamed;
  auto a = tc_->Chat(std::vector<ChatMessage>{Msg("user", "What makes sourdough rise?")}, o, *gen,
                     [&](std::string_view p) {
                       streamed += p;
                       return true;
                     });
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->tool_calls.size(), 1u);
  EXPECT_EQ(a->tool_calls[0].id, "call_a");
  EXPECT_EQ(a->tool_calls[0].arguments, R"({"query": "sourdough"})");
  EXPECT_EQ(streamed, "Wild yeast [1].");
  ASSERT_FALSE(a->citations.empty());
  EXPECT_EQ(a->citations[0].document_id, "bread");
  EXPECT_TRUE(a->citations[0].cited);
}

}  // namespace
}  // namespace sextant::rag
