// Tests for payload validation and stored-payload parsing (engine/payload/payload.cc).
#include "payload/payload.h"

#include <gtest/gtest.h>

#include <string>

#include "payload/json_util.h"

namespace sextant::payload {
namespace {

using json = nlohmann::json;

constexpr size_t kLimit = 65536;

// Validates `text`, which must be rejected, and returns the message.
std::string Reject(std::string_view text, size_t limit = kLimit) {
  std::string compact = "unchanged";
  Status s = ValidatePayload(text, limit, &compact);
  EXPECT_FALSE(s.ok()) << text;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(compact, "unchanged");  // untouched on error
  return std::string(s.message());
}

TEST(ValidatePayload, EmptyTextIsEmptyObject) {
  std::string compact = "junk";
  ASSERT_TRUE(ValidatePayload("", kLimit, &compact).ok());
  EXPECT_EQ(compact, "{}");
  ASSERT_TRUE(ValidatePayload("", 0, &compact).ok());  // even with a zero limit
  EXPECT_EQ(compact, "{}");
}

TEST(ValidatePayload, ReserializesCompactly) {
  std::string compact;
  ASSERT_TRUE(ValidatePayload("  {\n  \"b\" : [1, 2.5, \"x\"],\n  \"a\": {\"n\": null}\n}\n", kLimit,
                              &compact).ok());
  EXPECT_EQ(compact, R"({"a":{"n":null},"b":[1,2.5,"x"]})");  // keys sorted, no whitespace
  ASSERT_TRUE(ValidatePayload("{}", kLimit, &compact).ok());
  EXPECT_EQ(compact, "{}");
  ASSERT_TRUE(ValidatePayload(R"({"s": "caf\u00e9 \"q\""})", kLimit, &compact).ok());
  EXPECT_EQ(compact, "{\"s\":\"caf\xc3\xa9 \\\"q\\\"\"}");
  EXPECT_EQ(json::parse(compact), json::parse(R"({"s": "café \"q\""})"));
}

TEST(ValidatePayload, CompactMayBeNull) {
  EXPECT_TRUE(ValidatePayload(R"({"a": 1})", kLimit, nullptr).ok());
  EXPECT_TRUE(ValidatePayload("", kLimit, nullptr).ok());
}

TEST(ValidatePayload, LargeAndNegativeNumbersSurvive) {
  std::string compact;
  ASSERT_TRUE(ValidatePayload(R"({"u": 18446744073709551615, "i": -9223372036854775808, "f": 1e-7})",
                              kLimit, &compact).ok());
  json back = json::parse(compact);
  EXPECT_EQ(back["u"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(back["i"].get<int64_t>(), INT64_MIN);
  EXPECT_DOUBLE_EQ(back["f"].get<double>(), 1e-7);
}

TEST(ValidatePayload, NotAnObject) {
  EXPECT_EQ(Reject("[1, 2]"), "payload is not a JSON object (got an array)");
  EXPECT_EQ(Reject("[]"), "payload is not a JSON object (got an array)");
  EXPECT_EQ(Reject(R"("text")"), "payload is not a JSON object (got a string)");
  EXPECT_EQ(Reject("42"), "payload is not a JSON object (got a number)");
  EXPECT_EQ(Reject("-1.5"), "payload is not a JSON object (got a number)");
  EXPECT_EQ(Reject("true"), "payload is not a JSON object (got a bool)");
  EXPECT_EQ(Reject("null"), "payload is not a JSON object (got null)");
}

TEST(ValidatePayload, InvalidJson) {
  for (const char* text : {"{", "{\"a\": }", "{'a': 1}", "{\"a\": 1,}", "{\"a\": 1} x", "   ",
                           "{\"a\": NaN}", "{\"a\": Infinity}", "{\"a\": 1e400}", "{a: 1}",
                           "{\"a\": \"\xff\"}", "{\"a\": \"\\ud800\"}"}) {
    std::string message = Reject(text);
    EXPECT_EQ(message.rfind("payload is not valid JSON: ", 0), 0u) << text << " -> " << message;
    EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
  }
  // The offending bytes are escaped, so the message is always valid UTF-8 (and ASCII).
  std::string bad_utf8 = Reject("{\"a\": \"\xff\xfe\"}");
  EXPECT_NE(bad_utf8.find("\\xff"), std::string::npos) << bad_utf8;
  for (char ch : bad_utf8) EXPECT_LT(static_cast<unsigned char>(ch), 0x80) << bad_utf8;

  std::string message = Reject("{\"a\": 1,\n\"b\": ?}");
  EXPECT_NE(message.find("line 2, column 6"), std::string::npos) << message;
}

TEST(ValidatePayload, SizeLimitIsOnTheInputText) {
  std::string body = R"({"t": ")" + std::string(100, 'x') + R"("})";
  std::string compact;
  EXPECT_TRUE(ValidatePayload(body, body.size(), &compact).ok());  // exactly at the limit
  EXPECT_EQ(Reject(body, body.size() - 1),
            "payload is " + std::to_string(body.size()) + " bytes, over the limit of " +
                std::to_string(body.size() - 1));
  // Whitespace counts: the limit is on what the caller sent, not on the compact form.
  std::string padded = body + std::string(10, ' ');
  EXPECT_NE(Reject(padded, body.size()).find("over the limit"), std::string::npos);
  EXPECT_EQ(Reject(std::string(70000, ' '), 65536), "payload is 70000 bytes, over the limit of 65536");
  // The size check comes first: an oversized invalid text reports its size.
  EXPECT_NE(Reject("[[[[[", 3).find("over the limit of 3"), std::string::npos);
}

std::string Nested(int depth) {  // {"a":{"a":...{}...}} with `depth` objects
  std::string text = "{}";
  for (int k = 1; k < depth; ++k) text = R"({"a":)" + text + "}";
  return text;
}

TEST(ValidatePayload, NestingLimit) {
  const int limit = internal::kMaxPayloadDepth;
  std::string compact;
  EXPECT_TRUE(ValidatePayload(Nested(limit), 1 << 20, &compact).ok());
  EXPECT_EQ(compact, Nested(limit));
  EXPECT_EQ(Reject(Nested(limit + 1), 1 << 20), "payload nests deeper than 64 levels");
  // Arrays count as levels too.
  std::string arrays = std::string(limit, '[') + std::string(limit, ']');
  EXPECT_EQ(Reject(R"({"a": )" + arrays + "}", 1 << 20), "payload nests deeper than 64 levels");
  // Very deep input is rejected without exhausting the stack.
  std::string deep = R"({"a": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(Reject(deep, 1 << 20), "payload nests deeper than 64 levels");
}

TEST(ParseStored, RoundTrip) {
  json value = ParseStored(R"({"a":[1,2],"b":{"c":"d"}})");
  EXPECT_EQ(value, json::parse(R"({"a": [1, 2], "b": {"c": "d"}})"));
}

TEST(ParseStored, EmptyOrCorruptIsEmptyObject) {
  for (const char* text : {"", "{", "not json", "[1,2]", "\"s\"", "3", "null", "{\"a\":\xff}"}) {
    json value = ParseStored(text);
    EXPECT_TRUE(value.is_object()) << text;
    EXPECT_TRUE(value.empty()) << text;
  }
}

TEST(JsonUtil, TypeNames) {
  EXPECT_EQ(internal::JsonTypeName(json::object()), "an object");
  EXPECT_EQ(internal::JsonTypeName(json::array()), "an array");
  EXPECT_EQ(internal::JsonTypeName(json("s")), "a string");
  EXPECT_EQ(internal::JsonTypeName(json(1)), "a number");
  EXPECT_EQ(internal::JsonTypeName(json(1u)), "a number");
  EXPECT_EQ(internal::JsonTypeName(json(1.5)), "a number");
  EXPECT_EQ(internal::JsonTypeName(json(true)), "a bool");
  EXPECT_EQ(internal::JsonTypeName(json()), "null");
}

TEST(JsonUtil, DepthWithin) {
  EXPECT_TRUE(internal::DepthWithin(json(1), 0));
  EXPECT_FALSE(internal::DepthWithin(json::object(), 0));
  EXPECT_TRUE(internal::DepthWithin(json::object(), 1));
  EXPECT_TRUE(internal::DepthWithin(json::parse(R"({"a": [1, {"b": 2}]})"), 3));
  EXPECT_FALSE(internal::DepthWithin(json::parse(R"({"a": [1, {"b": 2}]})"), 2));
  EXPECT_TRUE(internal::DepthWithin(json::parse(R"({"a": [1, {"b": []}]})"), 4));
  EXPECT_FALSE(internal::DepthWithin(json::parse(R"({"a": [1, {"b": []}]})"), 3));
}

}  // namespace
}  // namespace sextant::payload
