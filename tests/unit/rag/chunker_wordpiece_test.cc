// ChunkText with TokenKind::kWordPiece: sizes and overlaps in the WordPiece tokens of the
// all-MiniLM-L6-v2 vocabulary (tests/fixtures/minilm/vocab.txt), counted back with the tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "minilm_fixture.h"
#include "rag/text.h"
#include "rag/wordpiece.h"
#include "sextant/rag.h"
#include "test_util.h"

namespace sextant::rag {
namespace {

std::string VocabPath() {
  std::string dir = testing::MiniLmFixtureDir();
  return dir.empty() ? "" : dir + "/vocab.txt";
}

class WordPieceChunkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (VocabPath().empty()) return;
    auto t = WordPieceTokenizer::Load(VocabPath());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tokenizer_ = std::move(*t).release();
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }
  void SetUp() override {
    if (tokenizer_ == nullptr) GTEST_SKIP() << "tests/fixtures/minilm/vocab.txt not found";
  }

  static ChunkerOptions Options(uint32_t chunk_tokens, uint32_t overlap_tokens, bool markdown = false) {
    ChunkerOptions o;
    o.chunk_tokens = chunk_tokens;
    o.overlap_tokens = overlap_tokens;
    o.tokens = TokenKind::kWordPiece;
    o.vocabulary_path = VocabPath();
    o.markdown = markdown;
    return o;
  }

  static std::vector<Chunk> MustChunk(std::string_view text, const ChunkerOptions& options) {
    auto chunks = ChunkText(text, options);
    EXPECT_TRUE(chunks.ok()) << chunks.status().ToString();
    return chunks.ok() ? *chunks : std::vector<Chunk>{};
  }

  static size_t Count(std::string_view s) { return tokenizer_->Encode(s).size(); }

  // The largest WordPiece count of one word of `s` to the chunker: a white-space token, or
  // several joined by VT or FF alone (which the tokenizer drops).
  static size_t LongestWord(std::string_view s) {
    size_t most = 0;
    for (size_t b = 0; b < s.size();) {
      size_t e = std::min(s.find_first_of(" \t\n\r", b), s.size());
      most = std::max(most, Count(s.substr(b, e - b)));
      b = e + 1;
    }
    return most;
  }

  // True when `s` is one word to the chunker: no white space the tokenizer separates at.
  static bool OneWord(std::string_view s) { return s.find_first_of(" \t\n\r") == std::string_view::npos; }

  // The properties every WordPiece chunking has. `plain`: no markdown, so every chunk but the last
  // holds more than half a window when no word is longer than that, and neighbours share at least
  // overlap - overlap/2 tokens when no word is longer than overlap/2 (so one always starts near).
  static void CheckInvariants(std::string_view source, const std::vector<Chunk>& chunks,
                              const ChunkerOptions& options, bool plain) {
    const uint32_t n = options.chunk_tokens;
    const uint32_t o = options.overlap_tokens;
    const size_t longest = LongestWord(source);
    std::vector<bool> covered(source.size(), false);
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
        EXPECT_TRUE(text::IsSpace(source[c.end]));  // never inside a word
      }
      if (c.begin > 0) {
        EXPECT_TRUE(text::IsSpace(source[c.begin - 1]));
      }
      EXPECT_EQ(c.tokens, Count(c.text)) << c.text;
      if (!OneWord(c.text)) {
        EXPECT_LE(c.tokens, n) << c.text;
      }
      if (plain && i + 1 < chunks.size() && longest < n / 2) {
        EXPECT_GT(c.tokens, n / 2) << c.text;
      }
      for (size_t b = c.begin; b < c.end; ++b) covered[b] = true;
      if (i == 0) continue;
      const Chunk& prev = chunks[i - 1];
      ASSERT_GT(c.begin, prev.begin);
      ASSERT_GT(c.end, prev.end);
      size_t shared = c.begin < prev.end ? Count(source.substr(c.begin, prev.end - c.begin)) : 0;
      EXPECT_LE(shared, o + o / 2);
      if (plain && prev.tokens > 2 * o && longest <= o / 2 && longest + o + o / 2 <= n / 2) {
        EXPECT_GE(shared, o - o / 2);
      }
    }
    for (size_t b = 0; b < source.size(); ++b) {
      if (!text::IsSpace(source[b])) {
        ASSERT_TRUE(covered[b]) << "byte " << b << " is in no chunk";
      }
    }
  }

  static WordPieceTokenizer* tokenizer_;
};

WordPieceTokenizer* WordPieceChunkerTest::tokenizer_ = nullptr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Random prose with words of one to many WordPiece tokens, punctuation, accents, CJK, emoji,
// control characters, markdown markers, sentence ends and blank lines.
std::string RandomText(std::mt19937& rng, size_t words) {
  static const std::vector<std::string> kWords = {
      "the", "vector", "index", "café", "naïve", "日本語", "graph", "search", "e.g.", "Mr.", "J.",
      "(see", "it)", "data,", "query;", "x=1", "--", "Ωmega", "😀", "recall", "#", "##", "```",
      "~~~c", "-", "1.", "*", "unbelievably", "tokenization", "hyperparameterisation",
      "Schrödinger's", "https://example.com/a/b?c=d&e=f", "a,b,c,d,e,f,g,h,i,j", "\xC3", "x\x01y",
      "supercalifragilisticexpialidocious", "Ünïcödé", "ß", "Ｆｕｌｌｗｉｄｔｈ", "ﬁne"};
  static const std::vector<std::string> kSeps = {" ", " ", " ", " ", "  ", "\n", ". ", "? ",
                                                 "!\n", ".\n\n", "\t", " \r\n", "\v", "\f", " \f\n"};
  std::string out = rng() % 3 == 0 ? "  \n" : "";
  for (size_t i = 0; i < words; ++i) {
    out += kWords[rng() % kWords.size()];
    out += kSeps[rng() % kSeps.size()];
  }
  return out;
}

TEST(WordPieceChunkerOptionsTest, NeedsAVocabulary) {
  ChunkerOptions o;
  o.chunk_tokens = 64;
  o.overlap_tokens = 8;
  o.tokens = TokenKind::kWordPiece;
  auto r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("vocabulary_path"), std::string_view::npos) << r.status().ToString();
  // Checked even for an empty text, so a bad configuration shows at once.
  EXPECT_FALSE(ChunkText("", o).ok());
  // Bad sizes are reported before the vocabulary is looked at.
  o.vocabulary_path = "/nonexistent/vocab.txt";
  o.overlap_tokens = 32;
  r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("overlap_tokens"), std::string_view::npos);
}

TEST(WordPieceChunkerOptionsTest, BadVocabularyFilesNameThePath) {
  testing::TempDir dir;
  ChunkerOptions o;
  o.chunk_tokens = 64;
  o.overlap_tokens = 8;
  o.tokens = TokenKind::kWordPiece;

  o.vocabulary_path = dir.Sub("missing/vocab.txt");
  auto r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(o.vocabulary_path), std::string_view::npos) << r.status().ToString();

  o.vocabulary_path = dir.path();  // a directory
  r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(dir.path()), std::string_view::npos) << r.status().ToString();

  for (const char* contents : {"", "hello\nworld\n", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nx\nx\n"}) {
    o.vocabulary_path = dir.Sub("vocab.txt");
    std::ofstream(o.vocabulary_path, std::ios::trunc) << contents;
    r = ChunkText("a b c", o);
    ASSERT_FALSE(r.ok()) << contents;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(o.vocabulary_path), std::string_view::npos) << r.status().ToString();
  }

  // tokenizer_config.json beside the vocabulary is read for do_lower_case; a broken one is an error.
  o.vocabulary_path = dir.Sub("vocab.txt");
  std::ofstream(o.vocabulary_path, std::ios::trunc) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\nb\nc\n";
  std::ofstream(dir.Sub("tokenizer_config.json")) << "{not json";
  r = ChunkText("a b c", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("tokenizer_config.json"), std::string_view::npos) << r.status().ToString();
}

TEST(WordPieceChunkerOptionsTest, ReloadsAChangedVocabularyAndHonoursCase) {
  testing::TempDir dir;
  ChunkerOptions o;
  o.chunk_tokens = 8;
  o.overlap_tokens = 0;
  o.tokens = TokenKind::kWordPiece;
  o.vocabulary_path = dir.Sub("vocab.txt");
  const std::string text = "abc abc Abc";
  // Every word is one piece.
  std::ofstream(o.vocabulary_path, std::ios::trunc) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\nabc\n";
  auto r = ChunkText(text, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].tokens, 3u);
  // Rewritten: now "abc" is a, ##b, ##c (the chunker must not keep the old vocabulary).
  std::ofstream(o.vocabulary_path, std::ios::trunc) << "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##b\n##c\n";
  r = ChunkText(text, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].text, "abc abc");
  EXPECT_EQ((*r)[0].tokens, 6u);
  EXPECT_EQ((*r)[1].tokens, 3u);
  // tokenizer_config.json says the vocabulary is cased: "Abc" is unknown, one [UNK].
  std::ofstream(dir.Sub("tokenizer_config.json")) << R"({"do_lower_case": false})";
  r = ChunkText(text, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].tokens, 7u);
}

TEST_F(WordPieceChunkerTest, CountsWordPieceTokens) {
  // "tokenization" is two pieces (token, ##ization), "the" one: the whitespace count differs.
  ASSERT_EQ(Count("tokenization"), 2u);
  ASSERT_EQ(Count("the"), 1u);
  std::string s;
  for (int i = 0; i < 40; ++i) s += "tokenization the ";
  auto chunks = MustChunk(s, Options(30, 0));
  CheckInvariants(s, chunks, Options(30, 0), true);
  ASSERT_EQ(chunks.size(), 4u);  // 120 tokens, 30 per chunk (10 pairs)
  for (const Chunk& c : chunks) {
    EXPECT_EQ(c.tokens, 30u);
    EXPECT_EQ(text::CountWhitespaceTokens(c.text), 20u);
  }
}

TEST_F(WordPieceChunkerTest, EndsAtSentencesAndOverlapsInWordPieces) {
  // Sentences of 12 WordPiece tokens ("tokenization" is two, the period its own).
  std::string s;
  for (int i = 0; i < 40; ++i) s += "The tokenization of sentence number " + std::to_string(i) + " is fine here. ";
  ASSERT_EQ(Count("The tokenization of sentence number 12 is fine here."), 11u);
  const ChunkerOptions o = Options(64, 12);
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, true);
  ASSERT_GT(chunks.size(), 5u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_TRUE(chunks[i].text.starts_with("The tokenization")) << chunks[i].text;
    EXPECT_TRUE(chunks[i].text.ends_with("here.")) << chunks[i].text;
    if (i > 0) {
      // One sentence (11 tokens) of overlap, the nearest sentence start to 12 tokens back.
      EXPECT_EQ(Count(s.substr(chunks[i].begin, chunks[i - 1].end - chunks[i].begin)), 11u);
    }
  }
}

TEST_F(WordPieceChunkerTest, LongWordIsNeverSplit) {
  // One white-space token of 41 WordPiece tokens (punctuation splits it) in a 16-token window.
  std::string word = "a";
  for (int i = 0; i < 20; ++i) word += ",a";
  ASSERT_EQ(Count(word), 41u);
  std::string s = "one two three four five six seven eight nine ten " + word + " eleven twelve thirteen.";
  const ChunkerOptions o = Options(16, 4);
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  bool alone = false;
  for (const Chunk& c : chunks) {
    if (c.text.find(",a") == std::string::npos) continue;
    EXPECT_EQ(c.text, word);  // whole, and alone: nothing else fits beside it
    EXPECT_EQ(c.tokens, 41u);
    alone = true;
  }
  EXPECT_TRUE(alone);
}

TEST_F(WordPieceChunkerTest, OverlapLeavesRoomForTheNextWord) {
  // Words of 7 tokens after short ones: an overlap that would push the next word past the window
  // is shrunk (or dropped), never letting a chunk exceed chunk_tokens.
  std::string heavy = "x,x,x,x";  // 7 tokens
  ASSERT_EQ(Count(heavy), 7u);
  std::mt19937 rng(3);
  for (int iter = 0; iter < 200; ++iter) {
    std::string s;
    for (int i = 0; i < 80; ++i) s += (rng() % 4 == 0 ? heavy : std::string("w")) + (rng() % 9 == 0 ? ". " : " ");
    const ChunkerOptions o = Options(8 + rng() % 24, 0);
    ChunkerOptions with_overlap = o;
    with_overlap.overlap_tokens = static_cast<uint32_t>(rng() % (o.chunk_tokens / 2));
    SCOPED_TRACE("iter " + std::to_string(iter));
    CheckInvariants(s, MustChunk(s, with_overlap), with_overlap, false);
    if (HasFatalFailure()) return;
  }
}

TEST_F(WordPieceChunkerTest, ControlCharactersBetweenWordsDoNotSeparateThem) {
  // The tokenizer drops VT and FF, so "alpha\vbeta" is the one word "alphabeta" to it; the chunker
  // keeps it whole, and its count is that of the whole.
  std::string s;
  for (int i = 0; i < 30; ++i) s += "alpha\vbeta gamma\fdelta ";
  const ChunkerOptions o = Options(10, 2);
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  for (const Chunk& c : chunks) {
    EXPECT_TRUE(c.text.starts_with("alpha\vbeta") || c.text.starts_with("gamma\fdelta")) << c.text;
  }
}

TEST_F(WordPieceChunkerTest, EmptyAndBlankTextGiveNoChunks) {
  EXPECT_TRUE(MustChunk("", Options(64, 8)).empty());
  EXPECT_TRUE(MustChunk(" \n\t\r\n ", Options(64, 8)).empty());
}

TEST_F(WordPieceChunkerTest, TextOfDroppedCharactersIsOneChunkOfNoTokens) {
  // Control characters only: a non-white-space byte, so it is covered, but no WordPiece token.
  auto chunks = MustChunk("\x01\x02 \x7f", Options(64, 8));
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "\x01\x02 \x7f");
  EXPECT_EQ(chunks[0].tokens, 0u);
}

TEST_F(WordPieceChunkerTest, RandomTextsKeepInvariants) {
  std::mt19937 rng(17);
  for (int iter = 0; iter < 300; ++iter) {
    std::string s = RandomText(rng, rng() % 500);
    ChunkerOptions o = Options(8 + rng() % 120, 0, iter % 2 == 1);
    o.overlap_tokens = static_cast<uint32_t>(rng() % (o.chunk_tokens / 2));
    SCOPED_TRACE("iter " + std::to_string(iter) + " chunk " + std::to_string(o.chunk_tokens) + " overlap " +
                 std::to_string(o.overlap_tokens));
    auto chunks = MustChunk(s, o);
    CheckInvariants(s, chunks, o, !o.markdown);
    auto again = MustChunk(s, o);  // deterministic
    ASSERT_EQ(chunks.size(), again.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_EQ(chunks[i].begin, again[i].begin);
      EXPECT_EQ(chunks[i].end, again[i].end);
      EXPECT_EQ(chunks[i].tokens, again[i].tokens);
    }
    if (HasFatalFailure()) return;
  }
}

TEST_F(WordPieceChunkerTest, SameResultFromManyThreads) {
  std::mt19937 rng(5);
  const std::string s = RandomText(rng, 3000);
  const ChunkerOptions o = Options(128, 16);
  const std::vector<Chunk> expected = MustChunk(s, o);
  ASSERT_GT(expected.size(), 5u);
  std::vector<std::vector<Chunk>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&s, &o, &g] {
      for (int k = 0; k < 3; ++k) {
        auto r = ChunkText(s, o);
        if (r.ok()) g = *r;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), expected.size());
    for (size_t i = 0; i < g.size(); ++i) {
      EXPECT_EQ(g[i].begin, expected[i].begin);
      EXPECT_EQ(g[i].end, expected[i].end);
    }
  }
}

TEST_F(WordPieceChunkerTest, MarkdownFenceKeptWholeWhenItFits) {
  std::string fence = "```python\n";
  for (int i = 0; i < 6; ++i) fence += "x" + std::to_string(i) + " = compute(a, b) + 1\n";
  fence += "```";
  ASSERT_LT(Count(fence), 100u);
  std::string s;
  for (int i = 0; i < 30; ++i) s += "Some prose words. ";
  s += "\n\n" + fence + "\n\nAfter the code. More prose follows here.\n";
  const ChunkerOptions o = Options(100, 8, true);
  auto chunks = MustChunk(s, o);
  CheckInvariants(s, chunks, o, false);
  bool whole = false;
  for (const Chunk& c : chunks) {
    if (c.text.find("```") == std::string::npos) continue;
    EXPECT_NE(c.text.find(fence), std::string::npos) << c.text;
    whole = true;
  }
  EXPECT_TRUE(whole);
}

TEST_F(WordPieceChunkerTest, RealTextsFitTheEncoderWindow) {
  // The local encoder reads at most 256 WordPiece tokens: chunks of 256 fit it exactly.
  auto dir = testing::DataDir();
  std::vector<std::string> files = {"text-gutenberg/alice.txt", "python-faq/programming.rst.txt",
                                    "python-faq/library.rst.txt"};
  int checked = 0;
  for (const std::string& f : files) {
    if (!dir || !std::filesystem::exists(*dir + "/" + f)) continue;
    const std::string s = ReadFile(*dir + "/" + f);
    for (bool markdown : {false, true}) {
      const ChunkerOptions o = Options(256, 32, markdown);
      SCOPED_TRACE(f + (markdown ? " (markdown)" : ""));
      auto chunks = MustChunk(s, o);
      CheckInvariants(s, chunks, o, !markdown);
      ASSERT_GT(chunks.size(), 10u);
      size_t total = 0;
      for (const Chunk& c : chunks) total += c.tokens;
      EXPECT_GT(total / chunks.size(), 256u / 2) << "mean chunk size";
      // WordPiece windows hold fewer words than white-space windows of the same size.
      ChunkerOptions ws = o;
      ws.tokens = TokenKind::kWhitespace;
      auto ws_chunks = ChunkText(s, ws);
      ASSERT_TRUE(ws_chunks.ok());
      EXPECT_GT(chunks.size(), ws_chunks->size());
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "shared data (alice.txt, python-faq) not found";
}

}  // namespace
}  // namespace sextant::rag
