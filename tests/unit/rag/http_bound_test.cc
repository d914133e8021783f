// The HTTP client of the remote embedder and generator bounds what it takes in.
#include <gtest/gtest.h>

#include <string>

#include "fake_http.h"
#include "rag/http.h"

namespace sextant::rag {
namespace {

TEST(HttpBoundTest, AnswersOverTheBoundAreCutAndRefused) {
  const std::string big(2 << 20, 'x');
  FakeServer server([&](const Received&, int, Conn& c) { c.Respond(200, big, "text/plain"); });
  http::Request req;
  req.url = server.base_url() + "/embeddings";
  req.body = "{}";
  req.max_response_bytes = 1 << 20;
  auto cut = http::Post(req);
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.status().code(), StatusCode::kResourceExhausted) << cut.status().ToString();
  EXPECT_NE(std::string(cut.status().message()).find("more than 1048576 bytes"), std::string::npos);

  size_t streamed = 0;
  auto cut_stream = http::PostStreaming(req, [&](std::string_view b) {
    streamed += b.size();
    return true;
  });
  ASSERT_FALSE(cut_stream.ok());
  EXPECT_EQ(cut_stream.status().code(), StatusCode::kResourceExhausted);
  EXPECT_LE(streamed, size_t{1} << 20);

  req.max_response_bytes = 3 << 20;
  auto whole = http::Post(req);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->body.size(), big.size());
}

}  // namespace
}  // namespace sextant::rag
