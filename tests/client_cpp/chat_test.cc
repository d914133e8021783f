// RemoteCollection::Chat against a real sextantd: a text collection made with the engine in the
// server's directory, then a conversation, a streamed answer, a follow-up, and the bad inputs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client_test_util.h"
#include "sextant/database.h"
#include "sextant/rag.h"

namespace sextant::testing {
namespace {

class ClientChatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      DatabaseOptions db_options;
      db_options.create_if_missing = true;
      auto db = Database::Open(db_options, server_.data_dir());
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      rag::EmbedderProvider embedders;
      auto text = rag::TextCollection::Create(**db, "faq", {}, embedders);
      ASSERT_TRUE(text.ok()) << text.status().ToString();
      std::vector<rag::Document> docs = {
          {"nitrogen", "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use liquid nitrogen "
                       "to freeze biological samples quickly.", ""},
          {"etna", "Mount Etna in Sicily is one of the most active volcanoes in Europe.", ""},
          {"bread", "Bread rises because yeast produces carbon dioxide while the dough proofs.", ""}};
      ASSERT_TRUE((*text)->Ingest(docs).ok());
      ASSERT_OK((*text)->collection().WaitForIndex(60000));
      ASSERT_TRUE(rag::TextCollection::Create(**db, "other", {}, embedders).ok());  // empty
    }
    ASSERT_TRUE(server_.Start());
    client_ = MustConnect(server_.process.address());
    ASSERT_NE(client_, nullptr);
  }

  TestServer server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClientChatTest, AnswersStreamsAndFollowsUp) {
  auto faq = client_->Collection("faq");
  std::vector<rag::ChatMessage> messages = {{"system", "Be brief.", {}, {}},
                                            {"user", "At what temperature does liquid nitrogen boil?", {}, {}}};
  rag::ChatOptions options;
  options.retrieve.k = 2;
  auto answer = faq->Chat(messages, options);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_NE(answer->text.find("196"), std::string::npos) << answer->text;
  ASSERT_FALSE(answer->citations.empty());
  EXPECT_EQ(answer->citations[0].document_id, "nitrogen");
  EXPECT_TRUE(answer->citations[0].cited);
  EXPECT_LE(answer->citations.size(), 2u);
  EXPECT_EQ(answer->generator, "extractive");
  EXPECT_EQ(answer->finish_reason, "stop");
  ASSERT_FALSE(answer->messages.empty());
  EXPECT_EQ(answer->messages.back().role, "assistant");

  // Streamed: the pieces make the answer's text.
  std::string streamed;
  int pieces = 0;
  auto again = faq->Chat(messages, options, "extractive", [&](std::string_view piece) {
    streamed += piece;
    ++pieces;
    return true;
  });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_GT(pieces, 0);
  EXPECT_EQ(streamed, again->text);

  // A follow-up is rewritten (the heuristic: no language model here) into a standalone question.
  for (const rag::ChatMessage& m : answer->messages) messages.push_back(m);
  messages.push_back({"user", "and what do laboratories use it for?", {}, {}});
  options.rewrite = rag::RewriteMode::kHeuristic;
  auto follow = faq->Chat(messages, options);
  ASSERT_TRUE(follow.ok()) << follow.status().ToString();
  EXPECT_NE(follow->standalone_question.find("nitrogen"), std::string::npos) << follow->standalone_question;
  EXPECT_EQ(follow->citations[0].document_id, "nitrogen");

  // A callback that says stop cancels the call.
  auto stopped = faq->Chat(messages, options, "", [](std::string_view) { return false; });
  EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled) << stopped.status().ToString();
}

TEST_F(ClientChatTest, ServerSideConversations) {
  auto faq = client_->Collection("faq");
  rag::ChatOptions options;
  options.retrieve.k = 2;
  options.rewrite = rag::RewriteMode::kHeuristic;
  const std::string id = "faq:cpp-1";
  std::vector<rag::ChatMessage> first = {{"system", "Be brief.", {}, {}},
                                         {"user", "At what temperature does liquid nitrogen boil?", {}, {}}};
  auto a1 = faq->Chat(id, first, options);
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  // Continuing by id sends only the new message: the stored turns make it a follow-up.
  std::vector<rag::ChatMessage> next = {{"user", "and what do laboratories use it for?", {}, {}}};
  std::string streamed;
  auto a2 = faq->Chat(id, next, options, "", [&](std::string_view piece) {
    streamed += piece;
    return true;
  });
  ASSERT_TRUE(a2.ok()) << a2.status().ToString();
  EXPECT_EQ(streamed, a2->text);
  EXPECT_EQ(a2->standalone_question.rfind("At what temperature does liquid nitrogen boil?", 0), 0u)
      << a2->standalone_question;

  auto conv = faq->GetConversation(id);
  ASSERT_TRUE(conv.ok()) << conv.status().ToString();
  std::vector<std::string> roles;
  for (const rag::ChatMessage& m : conv->messages) roles.push_back(m.role);
  EXPECT_EQ(roles, (std::vector<std::string>{"system", "user", "assistant", "user", "assistant"}));
  ASSERT_EQ(conv->messages.size(), 5u);
  EXPECT_EQ(conv->messages[3].content, next[0].content);
  EXPECT_EQ(conv->messages[4].content, a2->text);
  EXPECT_EQ(conv->info.id, id);
  EXPECT_EQ(conv->info.collection, "faq");
  EXPECT_EQ(conv->info.messages, 5u);
  EXPECT_GT(conv->info.bytes, 0u);
  EXPECT_GT(conv->info.created_ms, 0);
  EXPECT_LE(conv->info.created_ms, conv->info.updated_ms);
  auto list = faq->ListConversations();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, id);
  EXPECT_EQ((*list)[0].messages, 5u);

  // Another collection neither sees nor deletes it, nor continues it.
  auto other = client_->Collection("other");
  auto other_list = other->ListConversations();
  ASSERT_TRUE(other_list.ok()) << other_list.status().ToString();
  EXPECT_TRUE(other_list->empty());
  EXPECT_EQ(other->GetConversation(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(other->DeleteConversation(id).code(), StatusCode::kNotFound);
  EXPECT_EQ(other->Chat(id, next).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(faq->GetConversation(id).ok());

  EXPECT_EQ(faq->GetConversation("no-such-conversation").status().code(), StatusCode::kNotFound);
  for (const std::string& bad : {std::string(), std::string("has space"), std::string(129, 'x')}) {
    auto got = faq->GetConversation(bad);
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(got.status().message().find("conversation"), std::string::npos) << got.status().ToString();
    EXPECT_EQ(faq->DeleteConversation(bad).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(faq->Chat(bad, next).status().code(), StatusCode::kInvalidArgument) << bad;
  }

  ASSERT_OK(faq->DeleteConversation(id));
  EXPECT_EQ(faq->GetConversation(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(faq->DeleteConversation(id).code(), StatusCode::kNotFound);
  auto after = faq->ListConversations();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->empty());
}

TEST_F(ClientChatTest, BadInput) {
  auto faq = client_->Collection("faq");
  std::vector<rag::ChatMessage> none;
  auto empty = faq->Chat(none);
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("messages"), std::string::npos) << empty.status().ToString();

  std::vector<rag::ChatMessage> ends_with_assistant = {{"user", "hi", {}, {}}, {"assistant", "hello", {}, {}}};
  auto last = faq->Chat(ends_with_assistant);
  EXPECT_EQ(last.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(last.status().message().find("messages[1]"), std::string::npos) << last.status().ToString();

  std::vector<rag::ChatMessage> odd_role = {{"wizard", "hi", {}, {}}};
  EXPECT_EQ(faq->Chat(odd_role).status().code(), StatusCode::kInvalidArgument);

  std::vector<rag::ChatMessage> orphan_tool = {{"user", "hi", {}, {}}, {"tool", "42", {}, "call-9"}};
  auto orphan = faq->Chat(orphan_tool);
  EXPECT_EQ(orphan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(orphan.status().message().find("messages[1]"), std::string::npos) << orphan.status().ToString();

  std::vector<rag::ChatMessage> hi = {{"user", "hi", {}, {}}};
  rag::ChatOptions zero_k;
  zero_k.retrieve.k = 0;
  EXPECT_EQ(faq->Chat(hi, zero_k).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(faq->Chat(hi, {}, "no-such-generator").status().code(), StatusCode::kInvalidArgument);
  // "openai" is not configured on this server.
  EXPECT_EQ(faq->Chat(hi, {}, "openai").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(client_->Collection("nope")->Chat(hi).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sextant::testing
