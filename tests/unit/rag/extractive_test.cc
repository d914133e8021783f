#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

constexpr std::string_view kNote = "(Extractive answer: no language model was used.)";

Prompt PromptOf(std::vector<std::string> texts) {
  Prompt p;
  for (size_t i = 0; i < texts.size(); ++i) {
    p.context.push_back({"doc-" + std::to_string(i), 0, 1.0f, texts[i]});
  }
  return p;
}

Generation MustGenerate(Generator& g, std::string_view q, const Prompt& p, const TokenCallback& cb = nullptr) {
  auto r = g.Generate(q, p, cb);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Generation{};
}

TEST(ExtractiveTest, PicksMatchingSentencesAndCites) {
  auto g = MakeExtractiveGenerator(2);
  EXPECT_EQ(g->name(), "extractive");
  Prompt p = PromptOf({
      "The Eiffel Tower is in Paris. It was finished in 1889.",
      "Bananas are yellow fruit. Monkeys like bananas.",
      "HNSW is a graph index for approximate nearest neighbour search. It has layers.",
  });
  Generation a = MustGenerate(*g, "What kind of index is HNSW?", p);
  EXPECT_EQ(a.generator, "extractive");
  EXPECT_EQ(a.text, "HNSW is a graph index for approximate nearest neighbour search. [3]\n" + std::string(kNote));
  EXPECT_EQ(a.cited, std::vector<uint32_t>{3});
}

TEST(ExtractiveTest, OutputsInContextOrder) {
  auto g = MakeExtractiveGenerator(3);
  Prompt p = PromptOf({"Rust has a borrow checker. Cats sleep a lot.",
                       "The borrow checker in Rust prevents data races at compile time."});
  Generation a = MustGenerate(*g, "What does the Rust borrow checker prevent?", p);
  EXPECT_EQ(a.text, "Rust has a borrow checker. [1] The borrow checker in Rust prevents data races at "
                    "compile time. [2]\n" + std::string(kNote));
  EXPECT_EQ(a.cited, (std::vector<uint32_t>{1, 2}));
}

TEST(ExtractiveTest, NoMatchSaysSo) {
  auto g = MakeExtractiveGenerator();
  const std::string no_answer =
      "The context does not contain an answer to this question. " + std::string(kNote);
  Generation a = MustGenerate(*g, "Who wrote Hamlet?", PromptOf({"Bananas are yellow.", "HNSW is a graph."}));
  EXPECT_EQ(a.text, no_answer);
  EXPECT_TRUE(a.cited.empty());
  // Stop words alone do not count as a match.
  a = MustGenerate(*g, "What is it and why?", PromptOf({"It is what it is, and that is why."}));
  EXPECT_EQ(a.text, no_answer);
  a = MustGenerate(*g, "Anything?", Prompt{});
  EXPECT_EQ(a.text, no_answer);
  EXPECT_TRUE(a.cited.empty());
}

TEST(ExtractiveTest, StreamsOnePiecePerSentenceAndStops) {
  auto g = MakeExtractiveGenerator(3);
  Prompt p = PromptOf({"Alpha beta gamma. Unrelated words here.", "Gamma rays are strong.", "Beta test alpha."});
  std::vector<std::string> pieces;
  Generation all = MustGenerate(*g, "alpha beta gamma", p, [&](std::string_view s) {
    pieces.emplace_back(s);
    return true;
  });
  ASSERT_EQ(pieces.size(), 4u);  // three sentences and the note
  std::string joined;
  for (const auto& s : pieces) joined += s;
  EXPECT_EQ(joined, all.text);
  EXPECT_EQ(pieces.back(), "\n" + std::string(kNote));
  EXPECT_EQ(all.cited, (std::vector<uint32_t>{1, 2, 3}));

  pieces.clear();
  Generation part = MustGenerate(*g, "alpha beta gamma", p, [&](std::string_view s) {
    pieces.emplace_back(s);
    return pieces.size() < 2;
  });
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_EQ(part.text, pieces[0] + pieces[1]);
  EXPECT_EQ(part.cited, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(part.text.find("Extractive answer"), std::string::npos);
}

TEST(ExtractiveTest, RareWordsOutweighCommonOnes) {
  auto g = MakeExtractiveGenerator(1);
  Prompt p = PromptOf({"Python code is readable. Python code runs everywhere. Python code is fun.",
                       "A metaclass is the class of a class in Python."});
  Generation a = MustGenerate(*g, "What is a metaclass in Python code?", p);
  EXPECT_EQ(a.cited, std::vector<uint32_t>{2});
}

TEST(ExtractiveTest, OverlappingChunksRepeatNoSentence) {
  auto g = MakeExtractiveGenerator(3);
  Prompt p = PromptOf({"Indexes speed up search. Graphs are one kind.", "Graphs are one kind. Indexes speed up search."});
  Generation a = MustGenerate(*g, "Do indexes and graphs speed up search?", p);
  EXPECT_EQ(a.text, "Indexes speed up search. [1] Graphs are one kind. [1]\n" + std::string(kNote));
}

TEST(ExtractiveTest, ConcurrentCallsAgree) {
  auto g = MakeExtractiveGenerator(2);
  Prompt p = PromptOf({"Alpha beta gamma. Delta epsilon.", "Gamma delta rays."});
  Generation expected = MustGenerate(*g, "gamma delta", p);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = g->Generate("gamma delta", p, nullptr);
        if (!r.ok() || r->text != expected.text) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

// Every question of the Python FAQ, with its answer section among four other sections (placed at
// a rank that varies); the answer should cite the right section.
TEST(ExtractiveTest, PythonFaqPicksTheAnswerSection) {
  SEXTANT_REQUIRE_DATA(path, "python-faq/python_faq_qa.json");
  std::ifstream in(path);
  nlohmann::json qa = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(qa.is_array());
  ASSERT_GT(qa.size(), 20u);
  auto g = MakeExtractiveGenerator(3);
  size_t right_alone = 0, right_cited = 0;
  const size_t n = qa.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t slot = i % 5;
    std::vector<std::string> texts;
    for (size_t k = 1; k <= 4; ++k) texts.push_back(qa[(i + k * 37) % n]["answer"].get<std::string>());
    texts.insert(texts.begin() + static_cast<ptrdiff_t>(slot), qa[i]["answer"].get<std::string>());
    Generation a = MustGenerate(*g, qa[i]["question"].get<std::string>(), PromptOf(texts));
    const uint32_t want = static_cast<uint32_t>(slot + 1);
    if (std::find(a.cited.begin(), a.cited.end(), want) != a.cited.end()) ++right_cited;
    if (a.cited == std::vector<uint32_t>{want}) ++right_alone;
  }
  double cited = static_cast<double>(right_cited) / static_cast<double>(n);
  RecordProperty("right_section_cited", std::to_string(cited));
  std::printf("python-faq: right section cited in %zu of %zu answers (%zu cite it alone)\n", right_cited, n,
              right_alone);
  EXPECT_GE(cited, 0.85);
}

TEST(ExtractiveTest, PythonFaqExample) {
  SEXTANT_REQUIRE_DATA(path, "python-faq/python_faq_qa.json");
  std::ifstream in(path);
  nlohmann::json qa = nlohmann::json::parse(in, nullptr, false);
  ASSERT_TRUE(qa.is_array());
  std::string answer, distractor1, distractor2;
  for (const auto& item : qa) {
    if (item["question"] == "Why is it called Python?") answer = item["answer"];
    if (item["question"] == "What is Python?") distractor1 = item["answer"];
    if (item["question"] == "What is self?") distractor2 = item["answer"];
  }
  ASSERT_FALSE(answer.empty());
  auto g = MakeExtractiveGenerator(2);
  Generation a = MustGenerate(*g, "Why is it called Python?", PromptOf({distractor1, distractor2, answer}));
  std::printf("%s\n", a.text.c_str());
  ASSERT_FALSE(a.cited.empty());
  EXPECT_NE(std::find(a.cited.begin(), a.cited.end(), 3u), a.cited.end()) << a.text;
}

}  // namespace
}  // namespace sextant::rag
