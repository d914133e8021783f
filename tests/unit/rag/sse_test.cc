// The server-sent events parser: fields, multi-line data, comments, line endings split across
// chunks, the [DONE] marker, stopping.
#include "rag/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sextant::rag {
namespace {

std::vector<SseEvent> ParseIn(const std::vector<std::string>& chunks, bool finish = true) {
  std::vector<SseEvent> events;
  SseParser p([&](const SseEvent& e) {
    events.push_back(e);
    return true;
  });
  for (const std::string& c : chunks) EXPECT_TRUE(p.Feed(c));
  if (finish) {
    EXPECT_TRUE(p.Finish());
  }
  return events;
}

// Every way of cutting `stream` into two chunks gives the same events as one chunk.
void ExpectSplitInvariant(const std::string& stream) {
  const std::vector<SseEvent> whole = ParseIn({stream});
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    std::vector<SseEvent> split = ParseIn({stream.substr(0, cut), stream.substr(cut)});
    ASSERT_EQ(split.size(), whole.size()) << "cut at " << cut;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(split[i].data, whole[i].data) << "cut at " << cut;
      EXPECT_EQ(split[i].event, whole[i].event) << "cut at " << cut;
    }
  }
  // And byte by byte.
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  std::vector<SseEvent> one = ParseIn(bytes);
  ASSERT_EQ(one.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) EXPECT_EQ(one[i].data, whole[i].data);
}

TEST(SseTest, DataLinesAndBlankLineEndEvents) {
  auto ev = ParseIn({"data: {\"a\":1}\n\ndata: two\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "{\"a\":1}");
  EXPECT_EQ(ev[1].data, "two");
  EXPECT_EQ(ev[0].event, "");
}

TEST(SseTest, MultiLineDataIsJoinedWithNewlines) {
  auto ev = ParseIn({"data: first\ndata: second\ndata:third\n\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "first\nsecond\nthird");
}

TEST(SseTest, OnlyOneLeadingSpaceIsRemoved) {
  auto ev = ParseIn({"data:  two spaces\n\ndata\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, " two spaces");
  EXPECT_EQ(ev[1].data, "");  // a field name alone is an empty value
}

TEST(SseTest, CommentsAndUnknownFieldsAreIgnored) {
  auto ev = ParseIn({": ping\n\n: keep-alive\ndata: x\nretry: 100\nfoo: bar\n\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "x");
}

TEST(SseTest, EventAndIdFields) {
  auto ev = ParseIn({"event: error\nid: 7\ndata: boom\n\ndata: next\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].event, "error");
  EXPECT_EQ(ev[0].id, "7");
  EXPECT_EQ(ev[1].event, "");  // the type does not carry over
  EXPECT_EQ(ev[1].id, "7");    // the last id does
}

TEST(SseTest, EventWithoutDataIsDropped) {
  auto ev = ParseIn({"event: nothing\n\ndata: y\n\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "y");
  EXPECT_EQ(ev[0].event, "");
}

TEST(SseTest, CrLfAndCrLineEndings) {
  auto crlf = ParseIn({"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"});
  ASSERT_EQ(crlf.size(), 2u);
  EXPECT_EQ(crlf[0].data, "a\nb");
  EXPECT_EQ(crlf[1].data, "c");
  auto cr = ParseIn({"data: a\rdata: b\r\rdata: c\r\r"});
  ASSERT_EQ(cr.size(), 2u);
  EXPECT_EQ(cr[0].data, "a\nb");
  EXPECT_EQ(cr[1].data, "c");
}

TEST(SseTest, SplitAnywhereGivesTheSameEvents) {
  ExpectSplitInvariant("data: {\"x\": \"h\\u00e9\"}\r\n\r\n: c\r\ndata: a\r\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n");
  ExpectSplitInvariant("data: one\n\nevent: e\ndata: two\rdata: three\r\r");
}

TEST(SseTest, CrLfSplitBetweenChunksIsOneLineEnd) {
  // "\r" ends a chunk and "\n" starts the next: one line end, not a blank line.
  auto ev = ParseIn({"data: a\r", "\ndata: b\r\n\r\n"});
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data, "a\nb");
}

TEST(SseTest, DoneMarker) {
  auto ev = ParseIn({"data: {\"a\":1}\n\ndata: [DONE]\n\n"});
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_FALSE(IsSseDone(ev[0].data));
  EXPECT_TRUE(IsSseDone(ev[1].data));
  EXPECT_FALSE(IsSseDone("[DONE] "));
}

TEST(SseTest, UnterminatedLastEventIsDeliveredByFinish) {
  auto without = ParseIn({"data: a\n\ndata: tail"}, /*finish=*/false);
  EXPECT_EQ(without.size(), 1u);
  auto with = ParseIn({"data: a\n\ndata: tail"});
  ASSERT_EQ(with.size(), 2u);
  EXPECT_EQ(with[1].data, "tail");
  auto blank_tail = ParseIn({"data: a\n\n: just a comment"});
  EXPECT_EQ(blank_tail.size(), 1u);
}

TEST(SseTest, CallbackStopsTheParser) {
  int calls = 0;
  SseParser p([&](const SseEvent&) { return ++calls < 2; });
  EXPECT_FALSE(p.Feed("data: 1\n\ndata: 2\n\ndata: 3\n\n"));
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(p.stopped());
  EXPECT_FALSE(p.Feed("data: 4\n\n"));
  EXPECT_FALSE(p.Finish());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace sextant::rag
