// Server-side conversations (ConversationStore): continuing by id with only the new message, the
// turns surviving a reopen, list/get/delete, bad and unknown ids, a conversation of another
// collection, the byte and message limits (nothing stored on error), and concurrent turns on one
// conversation serialised (stress).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "sextant/database.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

ChatMessage Msg(std::string role, std::string content) { return {std::move(role), std::move(content), {}, {}}; }

std::vector<Document> Corpus() {
  return {
      {"rivers", "The Danube flows through ten countries before it reaches the Black Sea. Its delta is a wetland.", ""},
      {"bread", "Sourdough bread rises with wild yeast and lactic bacteria. The starter is fed with flour and water.",
       ""},
  };
}

class ConversationTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(ConversationLimits limits = {}) {
    store_.reset();
    tc_.reset();
    other_.reset();
    db_.reset();
    auto db = Database::Open({}, dir_.path());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    auto tc = TextCollection::Open(*db_, "docs", provider_);
    if (!tc.ok()) {
      tc = TextCollection::Create(*db_, "docs", {}, provider_);
      ASSERT_TRUE(tc.ok()) << tc.status().ToString();
      ASSERT_TRUE((*tc)->Ingest(Corpus()).ok());
      auto other = TextCollection::Create(*db_, "other", {}, provider_);
      ASSERT_TRUE(other.ok());
    }
    tc_ = std::move(tc).value();
    auto other = TextCollection::Open(*db_, "other", provider_);
    ASSERT_TRUE(other.ok());
    other_ = std::move(other).value();
    auto store = ConversationStore::Open(*db_, limits);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  StatusOr<Answer> Turn(std::string_view id, std::vector<ChatMessage> messages, const TextCollection* tc = nullptr) {
    ChatOptions options;
    options.rewrite = RewriteMode::kHeuristic;
    return store_->Chat(tc ? *tc : *tc_, id, messages, options, *extractive_);
  }

  testing::TempDir dir_;
  EmbedderProvider provider_;
  std::unique_ptr<Generator> extractive_ = MakeExtractiveGenerator();
  std::unique_ptr<Database> db_;
  std::unique_ptr<TextCollection> tc_, other_;
  std::unique_ptr<ConversationStore> store_;
};

TEST_F(ConversationTest, ContinuesByIdAndSurvivesReopen) {
  // No conversation yet: no reserved collection either.
  EXPECT_EQ(db_->GetCollection(ConversationStore::kConversationCollection).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->List()->empty());
  EXPECT_EQ(store_->Get("c1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("c1").code(), StatusCode::kNotFound);
  auto first = Turn("c1", {Msg("system", "Be brief."), Msg("user", "Which sea does the Danube reach?")});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(first->text.find("Black Sea"), std::string::npos) << first->text;

  // Only the new question: the stored history makes it a follow-up of the first one.
  auto second = Turn("c1", {Msg("user", "and its delta?")});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(second->standalone_question.find("Danube"), std::string::npos) << second->standalone_question;

  Open();
  auto got = store_->Get("c1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->messages.size(), 5u);  // system, user, assistant, user, assistant
  EXPECT_EQ(got->messages[0].role, "system");
  EXPECT_EQ(got->messages[1].content, "Which sea does the Danube reach?");
  EXPECT_EQ(got->messages[2].role, "assistant");
  EXPECT_EQ(got->messages[2].content, first->text);
  EXPECT_EQ(got->messages[3].content, "and its delta?");
  EXPECT_EQ(got->messages[4].content, second->text);
  EXPECT_EQ(got->info.collection, "docs");
  EXPECT_EQ(got->info.messages, 5u);
  EXPECT_GT(got->info.bytes, 0u);
  EXPECT_GT(got->info.created_ms, 0);
  EXPECT_GE(got->info.updated_ms, got->info.created_ms);

  // Continues after the reopen.
  ASSERT_TRUE(Turn("c1", {Msg("user", "What does sourdough rise with?")}).ok());
  EXPECT_EQ(store_->Get("c1")->messages.size(), 7u);
}

TEST_F(ConversationTest, ListGetDeleteAndBadIds) {
  ASSERT_TRUE(Turn("a", {Msg("user", "Which sea?")}).ok());
  ASSERT_TRUE(Turn("b", {Msg("user", "What is a starter fed with?")}).ok());
  ASSERT_TRUE(Turn("x", {Msg("user", "Anything?")}, other_.get()).ok());

  auto all = store_->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, "a");
  EXPECT_EQ((*all)[0].messages, 2u);
  auto docs = store_->List("docs");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1].id, "b");
  EXPECT_TRUE(store_->List("nothing")->empty());

  EXPECT_TRUE(store_->Delete("a").ok());
  EXPECT_EQ(store_->Get("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("a").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->List("docs")->size(), 1u);

  for (std::string bad : {std::string(), std::string("has space"), std::string("slash/no"), std::string(129, 'a')}) {
    EXPECT_EQ(store_->Get(bad).status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(store_->Delete(bad).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(Turn(bad, {Msg("user", "hi")}).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ConversationStore::ValidateId(std::string(128, 'a')).ok());
  EXPECT_TRUE(ConversationStore::ValidateId("user-7:chat.2_x").ok());

  // A conversation stays with its collection.
  auto wrong = Turn("b", {Msg("user", "Which sea?")}, other_.get());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("belongs to collection \"docs\""), std::string::npos)
      << wrong.status().ToString();
  EXPECT_EQ(store_->Get("b")->messages.size(), 2u);

  // A bad conversation (an assistant last) is the engine's InvalidArgument, and nothing is stored.
  EXPECT_EQ(Turn("b", {Msg("assistant", "hm")}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Get("b")->messages.size(), 2u);
}

TEST_F(ConversationTest, LimitsAreClearErrorsOrARollingWindow) {
  Open({.max_messages = 5, .max_bytes = 4000, .max_message_bytes = 1000});
  auto big = Turn("c", {Msg("user", std::string(1001, 'q'))});
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("messages[0]: 1001 bytes"), std::string::npos) << big.status().ToString();
  EXPECT_EQ(store_->Get("c").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(Turn("c", {Msg("system", "Be brief."), Msg("user", "Which sea does the Danube reach?")}).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Turn("c", {Msg("user", "Question " + std::to_string(i) + " about bread?")}).ok());
  auto got = store_->Get("c");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->messages.size(), 5u);  // the window
  EXPECT_EQ(got->messages[0].role, "system");          // kept
  EXPECT_EQ(got->messages[3].content, "Question 2 about bread?");

  // max_bytes: the turn is refused before generating, the conversation unchanged.
  Open({.max_messages = 100, .max_bytes = 4000, .max_message_bytes = 1000});
  auto full = Turn("d", {Msg("user", std::string(999, 'z') + "?")});
  for (int i = 0; i < 5 && full.ok(); ++i) full = Turn("d", {Msg("user", std::string(999, 'z') + "?")});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("over the limit of 4000"), std::string::npos) << full.status().ToString();
  auto d = store_->Get("d");
  ASSERT_TRUE(d.ok());
  EXPECT_LE(d->info.bytes, 4000u);
  EXPECT_EQ(d->messages.back().role, "assistant");  // the refused turn left nothing behind

  ConversationLimits bad;
  bad.max_messages = 1;
  EXPECT_EQ(ConversationStore::Open(*db_, bad).status().code(), StatusCode::kInvalidArgument);
}

// Turns of one conversation from several threads: each turn's user message and answer are stored
// next to each other and none is lost (unserialised turns would reuse sequence numbers and
// overwrite each other, or interleave).
TEST_F(ConversationTest, ConcurrentTurnsOnOneConversationAreSerialised) {
  constexpr int kThreads = 6, kTurns = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTurns; ++i) {
        auto a = Turn("shared", {Msg("user", "t" + std::to_string(t) + " q" + std::to_string(i) + " Danube?")});
        if (!a.ok()) failures.fetch_add(1);
        // Other conversations at the same time take their own locks.
        if (!Turn("own" + std::to_string(t), {Msg("user", "Bread?")}).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = store_->Get("shared");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->messages.size(), static_cast<size_t>(2 * kThreads * kTurns));
  for (size_t i = 0; i < got->messages.size(); i += 2) {
    EXPECT_EQ(got->messages[i].role, "user") << i;
    EXPECT_EQ(got->messages[i + 1].role, "assistant") << i;
  }
  EXPECT_EQ(store_->List()->size(), static_cast<size_t>(kThreads + 1));
}

}  // namespace
}  // namespace sextant::rag
