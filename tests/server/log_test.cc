// What sextantd logs of a request: values cut and escaped, and nothing a client without a valid
// key sent beyond its size.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "server/log.h"
#include "server_test_util.h"

namespace sextant::testing {
namespace {

using server::kMaxLogValueBytes;
using server::LogQuote;

TEST(LogQuoteTest, CutsLongValuesAndEscapesWhatIsNotText) {
  EXPECT_EQ(LogQuote("plain"), "plain");
  EXPECT_EQ(LogQuote(""), "\"\"");
  EXPECT_EQ(LogQuote("a b"), "\"a b\"");
  EXPECT_EQ(LogQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
  // Valid UTF-8 is kept; a stray continuation byte, an overlong form and 0xff are escaped.
  EXPECT_EQ(LogQuote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(LogQuote("a\x80z"), "\"a\\x80z\"");
  EXPECT_EQ(LogQuote("\xc0\xaf"), "\"\\xc0\\xaf\"");
  EXPECT_EQ(LogQuote("\xff"), "\"\\xff\"");
  EXPECT_EQ(LogQuote("\x7f"), "\"\\x7f\"");

  const std::string big(4 << 20, 'x');
  const std::string quoted = LogQuote(big);
  EXPECT_EQ(quoted, "\"" + std::string(kMaxLogValueBytes, 'x') + "...(4194304 bytes)\"");
  // A cut through a UTF-8 sequence leaves escaped bytes, never half a character.
  std::string accents;
  while (accents.size() < 2 * kMaxLogValueBytes) accents += "x\xc3\xa9";
  const std::string cut = LogQuote(accents);
  EXPECT_LT(cut.size(), kMaxLogValueBytes + 64);
  EXPECT_NE(cut.find("bytes)\""), std::string::npos);
}

std::string BigName() { return std::string(4 << 20, 'n'); }

TEST(LogTest, RefusedCallsLogOnlySizes) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--api-key", "secret-key-1"}));
  const size_t before = server.process().log().size();
  for (int i = 0; i < 5; ++i) {
    v1::CountRequest req;
    req.set_collection(BigName());
    v1::CountResponse resp;
    auto ctx = Ctx();  // no key
    ctx->AddMetadata("x-request-id", "client-chosen-id-" + std::to_string(i));
    grpc::Status s = server.stub().Count(ctx.get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
  }
  {
    v1::DescribeCollectionRequest req;
    req.set_name(BigName());
    v1::CollectionInfo resp;
    grpc::Status s = server.stub().DescribeCollection(Ctx("wrong-key").get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << Describe(s);
  }
  const std::string log = server.process().log().substr(before);
  EXPECT_LT(log.size(), 6u * 512) << log.substr(0, 2000);
  EXPECT_EQ(log.find("nnnn"), std::string::npos) << log.substr(0, 2000);
  EXPECT_EQ(log.find("client-chosen-id"), std::string::npos) << log;
  EXPECT_NE(log.find("collection_bytes=4194304"), std::string::npos) << log;
  EXPECT_NE(log.find("code=UNAUTHENTICATED"), std::string::npos) << log;
}

TEST(LogTest, AcceptedCallsLogCutValues) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--api-key", "secret-key-1"}));
  const size_t before = server.process().log().size();
  v1::CountRequest req;
  req.set_collection(BigName());
  v1::CountResponse resp;
  grpc::Status s = server.stub().Count(Ctx("secret-key-1").get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << Describe(s).substr(0, 200);
  // The message quoting the name is cut too (whole, it would not even fit in gRPC's metadata).
  EXPECT_LT(s.error_message().size(), 1100u);
  EXPECT_NE(s.error_message().find("bytes)"), std::string::npos) << s.error_message().substr(0, 200);
  req.set_collection("no\nsuch\x01" + std::string(300, 'q'));
  s = server.stub().Count(Ctx("secret-key-1").get(), req, &resp);
  EXPECT_NE(s.error_code(), grpc::StatusCode::OK);
  const std::string log = server.process().log().substr(before);
  // Two lines, each with a cut collection and a cut error message.
  EXPECT_LT(log.size(), 4096u) << log.substr(0, 2000);
  EXPECT_NE(log.find("...(4194304 bytes)"), std::string::npos) << log;
  EXPECT_NE(log.find("no\\nsuch\\x01q"), std::string::npos) << log;
  size_t lines = 0;
  for (char c : log) lines += c == '\n';
  EXPECT_EQ(lines, 2u) << log;
}

}  // namespace
}  // namespace sextant::testing
