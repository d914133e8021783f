#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rag/text.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<Chunk> MustChunk(std::string_view text, const ChunkerOptions& options) {
  auto chunks = ChunkText(text, options);
  EXPECT_TRUE(chunks.ok()) << chunks.status().ToString();
  return chunks.ok() ? *chunks : std::vector<Chunk>{};
}

// The properties every chunking must have; `plain` adds the overlap bounds that hold when no
// markdown block forces a chunk to start without overlap.
void CheckInvariants(std::string_view source, const std::vector<Chunk>& chunks,
                     const ChunkerOptions& options, bool plain) {
  std::vector<bool> covered(source.size(), false);
  const uint32_t n = options.chunk_tokens;
  const uint32_t o = options.overlap_tokens;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    SCOPED_TRACE("chunk " + std::to_string(i));
    ASSERT_EQ(c.index, i);
    ASSERT_LT(c.begin, c.end);
    ASSERT_LE(c.end, source.size());
    ASSERT_EQ(c.text, source.substr(c.begin, c.end - c.begin));
    EXPECT_FALSE(text::IsSpace(c.text.front()));
    EXPECT_FALSE(text::IsSpace(c.text.back()));
    EXPECT_TRUE(text::IsUtf8Lead(source[c.begin]));
    if (c.end < source.size()) {
      EXPECT_TRUE(text::IsUtf8Lead(source[c.end]));
    }
    EXPECT_EQ(c.tokens, text::CountWhitespaceTokens(c.text));
    EXPECT_LE(c.tokens, n);
    if (i + 1 < chunks.size()) {
      EXPECT_GE(c.tokens, n / 4);
    }
    for (size_t b = c.begin; b < c.end; ++b) covered[b] = true;
    if (i == 0) continue;
    const Chunk& prev = chunks[i - 1];
    ASSERT_GT(c.begin, prev.begin);
    ASSERT_GT(c.end, prev.end);
    size_t shared = c.begin < prev.end ? text::CountWhitespaceTokens(source.substr(c.begin, prev.end - c.begin)) : 0;
    EXPECT_LE(shared, o + o / 2);
    if (plain && prev.tokens > 2 * o) {
      EXPECT_GE(shared, o - o / 2);
    }
  }
  for (size_t b = 0; b < source.size(); ++b) {
    if (!text::IsSpace(source[b])) {
      ASSERT_TRUE(covered[b]) << "byte " << b << " is in no chunk";
    }
  }
}

// Random prose: words (some non-ASCII), sentence ends, abbreviations, line breaks, blank lines.
std::string RandomText(std::mt19937& rng, size_t words) {
  static const std::vector<std::string> kWords = {
      "the", "vector", "index", "café", "naïve", "日本語", "graph", "search", "e.g.", "Mr.",
      "J.", "(see", "it)", "data,", "query;", "x=1", "--", "Ωmega", "😀", "recall", "#", "##",
      "```", "~~~c", "-", "1.", "*"};
  static const std::vector<std::string> kSeps = {" ", " ", " ", " ", "  ", "\n", ". ", "? ",
                                                 "!\n", ".\n\n", "\t", " \r\n"};
  std::string out = rng() % 3 == 0 ? "  \n" : "";
  for (size_t i = 0; i < words; ++i) {
    out += kWords[rng() % kWords.size()];
    out += kSeps[rng() % kSeps.size()];
  }
  return out;
}

TEST(TextTest, AsciiLowerKeepsUtf8) {
  EXPECT_EQ(text::AsciiLower("Hello WORLD Éclair ÀB"), "hello world Éclair Àb");
}

TEST(TextTest, WordsAndTokens) {
  std::string s = "  Hi, café-au-lait!\n x ";
  auto words = text::Words(s);
  ASSERT_EQ(words.size(), 5u);
  EXPECT_EQ(s.substr(words[1].begin, words[1].size()), "café");
  EXPECT_EQ(text::CountWhitespaceTokens(s), 3u);
  EXPECT_EQ(text::CollapseSpace(s), "Hi, café-au-lait! x");
}

TEST(TextTest, SentenceEnds) {
  EXPECT_TRUE(text::EndsSentence("end."));
  EXPECT_TRUE(text::EndsSentence("really?"));
  EXPECT_TRUE(text::EndsSentence("said.\""));
  EXPECT_TRUE(text::EndsSentence("(done.)"));
  EXPECT_TRUE(text::EndsSentence("aloud?\u201D"));
  EXPECT_TRUE(text::EndsSentence("fin.\u2019)"));
  EXPECT_FALSE(text::EndsSentence("e.g."));
  EXPECT_FALSE(text::EndsSentence("Mr."));
  EXPECT_FALSE(text::EndsSentence("(i.e."));
  EXPECT_FALSE(text::EndsSentence("J."));
  EXPECT_FALSE(text::EndsSentence("word"));
  EXPECT_FALSE(text::EndsSentence("a,"));
}

TEST(TextTest, Sentences) {
  std::string s = "Mr. Smith went e.g. home. Did he?  Yes!\n\nA new paragraph\n\nlast one";
  auto spans = text::Sentences(s);
  std::vector<std::string> got;
  for (auto sp : spans) got.push_back(s.substr(sp.begin, sp.size()));
  EXPECT_EQ(got, (std::vector<std::string>{"Mr. Smith went e.g. home.", "Did he?", "Yes!",
                                           "A new paragraph", "last one"}));
  EXPECT_TRUE(text::Sentences(" \n ").empty());
}

TEST(ChunkerTest, RejectsBadOptions) {
  ChunkerOptions o;
  o.chunk_tokens = 7;
  o.overlap_tokens = 0;
  auto r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("chunk_tokens"), std::string_view::npos);
  o.chunk_tokens = 64;
  o.overlap_tokens = 32;
  r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("overlap_tokens"), std::string_view::npos);
  o.overlap_tokens = 8;
  o.tokens = TokenKind::kWordPiece;  // without a vocabulary (see chunker_wordpiece_test.cc)
  r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("vocabulary_path"), std::string_view::npos);
}

TEST(ChunkerTest, EmptyAndBlankTextGiveNoChunks) {
  EXPECT_TRUE(MustChunk("", {}).empty());
  EXPECT_TRUE(MustChunk(" \n\t\r\n ", {}).empty());
}

TEST(ChunkerTest, ShortTextIsOneTrimmedChunk) {
  std::string s = "\n  Hello there, world.  \n";
  auto chunks = MustChunk(s, {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Hello there, world.");
  EXPECT_EQ(chunks[0].begin, 3u);
  EXPECT_EQ(chunks[0].tokens, 3u);
}

TEST(ChunkerTest, EndsAtParagraphs) {
  // Paragraphs of 10 tokens; windows of 32 end at the last blank line in their second half.
  std::string s;
  for (int p = 0; p < 12; ++p) {
    for (int w = 0; w < 9; ++w) s += "word" + std::to_string(p) + " ";
    s += "end.\n\n";
  }
  ChunkerOptions o;
  o.chunk_tokens = 32;
  o.overlap_tokens = 0;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, true);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].tokens, 30u);
    EXPECT_EQ(s.substr(chunks[i].end, 2), "\n\n");
  }
}

TEST(ChunkerTest, EndsAtSentencesNotAbbreviations) {
  // Sentences of 7 tokens ending in "e.g." decoys; real ends only every third sentence.
  std::string s;
  for (int i = 0; i < 30; ++i) s += i % 3 == 2 ? "one two three four five six end. " : "one two three four five six e.g. ";
  ChunkerOptions o;
  o.chunk_tokens = 40;
  o.overlap_tokens = 0;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, true);
  ASSERT_GT(chunks.size(), 2u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_TRUE(chunks[i].text.ends_with("end.")) << chunks[i].text;
  }
}

TEST(ChunkerTest, OverlapStartsAtSentence) {
  std::string s;
  for (int i = 0; i < 60; ++i) s += "Sentence number " + std::to_string(i) + " has six tokens. ";
  ChunkerOptions o;
  o.chunk_tokens = 48;
  o.overlap_tokens = 12;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, true);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 1; i < chunks.size(); ++i) {
    EXPECT_TRUE(chunks[i].text.starts_with("Sentence number")) << chunks[i].text;
    EXPECT_LT(chunks[i].begin, chunks[i - 1].end);
  }
}

TEST(ChunkerTest, RandomTextsKeepInvariants) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    std::string s = RandomText(rng, rng() % 600);
    ChunkerOptions o;
    o.chunk_tokens = 8 + rng() % 120;
    o.overlap_tokens = rng() % (o.chunk_tokens / 2);
    o.markdown = iter % 2 == 1;
    SCOPED_TRACE("iter " + std::to_string(iter));
    auto chunks = MustChunk(s, o);
    CheckInvariants(s, chunks, o, !o.markdown);
    EXPECT_EQ(chunks.size(), MustChunk(s, o).size());  // deterministic
    if (HasFatalFailure()) return;
  }
}

TEST(ChunkerTest, Deterministic) {
  std::mt19937 rng(11);
  std::string s = RandomText(rng, 2000);
  ChunkerOptions o;
  o.chunk_tokens = 64;
  o.overlap_tokens = 16;
  auto a = MustChunk(s, o);
  auto b = MustChunk(s, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].begin, b[i].begin);
    EXPECT_EQ(a[i].end, b[i].end);
  }
}

TEST(ChunkerTest, MarkdownHeadingStartsChunk) {
  std::string s = "# Title\n\n";
  for (int i = 0; i < 20; ++i) s += "intro words here. ";
  s += "\n\n## Second\n\nshort text under the second heading.\n";
  ChunkerOptions o;
  o.chunk_tokens = 128;
  o.overlap_tokens = 16;
  o.markdown = true;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_TRUE(chunks[1].text.starts_with("## Second"));
  EXPECT_TRUE(chunks[0].text.starts_with("# Title"));
  // Without markdown the same text fits in one chunk.
  o.markdown = false;
  EXPECT_EQ(MustChunk(s, o).size(), 1u);
}

TEST(ChunkerTest, MarkdownCodeFenceNotSplit) {
  std::string fence = "```python\n";
  for (int i = 0; i < 10; ++i) fence += "x" + std::to_string(i) + " = compute(a, b) + 1\n";
  fence += "```";
  std::string s;
  for (int i = 0; i < 30; ++i) s += "Some prose words. ";
  s += "\n\n" + fence + "\n\nAfter the code. More prose follows here.\n";
  ChunkerOptions o;
  o.chunk_tokens = 80;
  o.overlap_tokens = 8;
  o.markdown = true;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  bool whole = false;
  for (const Chunk& c : chunks) {
    size_t at = c.text.find("```");
    if (at == std::string::npos) continue;
    // Any chunk that touches the fence holds all of it.
    EXPECT_NE(c.text.find(fence), std::string::npos) << c.text;
    whole = true;
  }
  EXPECT_TRUE(whole);
}

TEST(ChunkerTest, MarkdownLongFenceCutAtLineEnds) {
  std::string s = "Intro.\n\n```\n";
  for (int i = 0; i < 60; ++i) s += "call(" + std::to_string(i) + ", arg, other)\n";
  s += "```\n";
  ChunkerOptions o;
  o.chunk_tokens = 32;
  o.overlap_tokens = 4;
  o.markdown = true;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  ASSERT_GT(chunks.size(), 4u);
  for (const Chunk& c : chunks) {
    if (c.end < s.size()) {
      EXPECT_EQ(s[c.end], '\n') << "cut mid-line: " << c.text;
    }
  }
}

TEST(ChunkerTest, MarkdownListItemsAreBoundaries) {
  std::string s;
  for (int i = 0; i < 20; ++i) s += "- item number " + std::to_string(i) + " has a few words\n";
  ChunkerOptions o;
  o.chunk_tokens = 24;
  o.overlap_tokens = 0;
  o.markdown = true;
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  for (const Chunk& c : chunks) EXPECT_TRUE(c.text.starts_with("- item")) << c.text;
}

TEST(ChunkerTest, RealTextsKeepInvariants) {
  auto dir = testing::DataDir();
  std::vector<std::string> files = {"text-gutenberg/alice.txt"};
  for (const char* f : {"design", "extending", "general", "gui", "installed", "library",
                        "programming", "windows"}) {
    files.push_back(std::string("python-faq/") + f + ".rst.txt");
  }
  int checked = 0;
  for (const std::string& f : files) {
    if (!dir || !std::filesystem::exists(*dir + "/" + f)) continue;
    std::string s = ReadFile(*dir + "/" + f);
    for (bool markdown : {false, true}) {
      ChunkerOptions o;
      o.chunk_tokens = 200;
      o.overlap_tokens = 30;
      o.markdown = markdown;
      SCOPED_TRACE(f + (markdown ? " (markdown)" : ""));
      auto chunks = MustChunk(s, o);
      CheckInvariants(s, chunks, o, !markdown);
      EXPECT_GT(chunks.size(), 2u);
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "shared data (alice.txt, python-faq) not found";
}

}  // namespace
}  // namespace sextant::rag
