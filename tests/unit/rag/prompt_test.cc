#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rag/text.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

std::vector<ContextChunk> Chunks(int n, int words_each) {
  std::vector<ContextChunk> out;
  for (int i = 0; i < n; ++i) {
    ContextChunk c;
    c.document_id = "doc-" + std::to_string(i);
    c.chunk = static_cast<uint32_t>(i * 2);
    c.score = 1.0f - 0.1f * static_cast<float>(i);
    for (int w = 0; w < words_each; ++w) c.text += (w ? " w" : "w") + std::to_string(i);
    out.push_back(c);
  }
  return out;
}

size_t Tokens(const Prompt& p) {
  return text::CountWhitespaceTokens(p.system) + text::CountWhitespaceTokens(p.user);
}

TEST(PromptTest, DefaultTemplates) {
  std::vector<ContextChunk> chunks = {{"faq-1", 3, 0.9f, "Python uses indentation."},
                                      {"faq-2", 0, 0.5f, "Lists are mutable."}};
  Prompt p = BuildPrompt("Why indentation?", chunks);
  EXPECT_NE(p.system.find("only"), std::string::npos);
  EXPECT_NE(p.system.find("[n]"), std::string::npos);
  EXPECT_NE(p.system.find("don't know"), std::string::npos);
  EXPECT_EQ(p.user,
            "Context:\n[1] (faq-1, chunk 3) Python uses indentation.\n[2] (faq-2, chunk 0) Lists are "
            "mutable.\n\nQuestion: Why indentation?");
  ASSERT_EQ(p.context.size(), 2u);
  EXPECT_EQ(p.context[0].document_id, "faq-1");
  EXPECT_EQ(p.context[1].text, "Lists are mutable.");
}

TEST(PromptTest, NoChunks) {
  Prompt p = BuildPrompt("What?", {});
  EXPECT_EQ(p.user, "Context:\n(none)\n\nQuestion: What?");
  EXPECT_TRUE(p.context.empty());
}

TEST(PromptTest, CustomTemplatesSubstituteOnce) {
  PromptOptions o;
  o.system_template = "Sys {unknown} {context";
  o.user_template = "Q={question}; C={context}; again {question}";
  std::vector<ContextChunk> chunks = {{"d", 1, 1.0f, "text"}};
  Prompt p = BuildPrompt("what is {context}?", chunks, o);
  EXPECT_EQ(p.system, "Sys {unknown} {context");
  EXPECT_EQ(p.user, "Q=what is {context}?; C=[1] (d, chunk 1) text; again what is {context}?");
}

TEST(PromptTest, DropsLowestRankedFirst) {
  auto chunks = Chunks(10, 50);
  PromptOptions o;
  Prompt all = BuildPrompt("a question", chunks, o);
  ASSERT_EQ(all.context.size(), 10u);
  const size_t full = Tokens(all);
  // Each chunk line adds 50 words + "[n]" + "(doc-i," + "chunk" + "c)" = 54 tokens.
  o.max_prompt_tokens = static_cast<uint32_t>(full - 54 * 3);
  Prompt p = BuildPrompt("a question", chunks, o);
  ASSERT_EQ(p.context.size(), 7u);
  EXPECT_LE(Tokens(p), o.max_prompt_tokens);
  for (size_t i = 0; i < p.context.size(); ++i) EXPECT_EQ(p.context[i].document_id, chunks[i].document_id);
  EXPECT_EQ(p.user.find("doc-7"), std::string::npos);
  EXPECT_NE(p.user.find("[7] (doc-6, chunk 12)"), std::string::npos);
  // One token short of fitting 7 gives 6.
  o.max_prompt_tokens -= 1;
  EXPECT_EQ(BuildPrompt("a question", chunks, o).context.size(), 6u);
  // Exactly the full size keeps everything.
  o.max_prompt_tokens = static_cast<uint32_t>(full);
  EXPECT_EQ(BuildPrompt("a question", chunks, o).context.size(), 10u);
}

TEST(PromptTest, NeverTruncatesTheQuestion) {
  std::string question;
  for (int i = 0; i < 300; ++i) question += "word" + std::to_string(i) + " ";
  question += "end?";
  PromptOptions o;
  o.max_prompt_tokens = 100;
  Prompt p = BuildPrompt(question, Chunks(3, 10), o);
  EXPECT_TRUE(p.context.empty());
  EXPECT_NE(p.user.find(question), std::string::npos);
  EXPECT_GT(Tokens(p), 100u);
}

}  // namespace
}  // namespace sextant::rag
