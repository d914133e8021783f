// The $text operator of the filter language (payload/filter.h): parsing, errors, and evaluation
// given the text index's answers (the collection supplies them; the payload alone never does).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "payload/filter.h"

namespace sextant::payload {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

TEST(TextFilterTest, ParsesStringAndObjectForms) {
  auto f = Filter::Parse(R"({"body": {"$text": "disk full"}, "kind": "log"})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->TextConditions().size(), 1u);
  EXPECT_EQ(f->TextConditions()[0].field, "body");
  EXPECT_EQ(f->TextConditions()[0].query, "disk full");
  EXPECT_FALSE(f->TextConditions()[0].all);
  auto g = Filter::Parse(R"({"$or": [{"a.b": {"$text": {"query": "x y", "match": "all"}}}, {"c": {"$text": "z"}}]})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->TextConditions().size(), 2u);
  EXPECT_EQ(g->TextConditions()[0].field, "a.b");
  EXPECT_TRUE(g->TextConditions()[0].all);
  EXPECT_EQ(g->TextConditions()[1].field, "c");
  EXPECT_FALSE(Filter::Parse(R"({"kind": "log"})")->HasText());
}

TEST(TextFilterTest, EvaluatesWithTheIndexAnswers) {
  auto f = Filter::Parse(R"({"body": {"$text": "disk"}, "kind": "log"})");
  ASSERT_TRUE(f.ok());
  const json log = json::parse(R"({"kind": "log", "body": "disk full"})");
  const uint8_t yes[] = {1}, no[] = {0};
  EXPECT_TRUE(f->Matches(log, yes));
  EXPECT_FALSE(f->Matches(log, no));
  EXPECT_FALSE(f->Matches(json::parse(R"({"kind": "x"})"), yes));
  // Without the index's answers, $text never holds (the payload alone cannot answer it).
  EXPECT_FALSE(f->Matches(log));
  auto n = Filter::Parse(R"({"$not": {"body": {"$text": "disk"}}})");
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->Matches(log, yes));
  EXPECT_TRUE(n->Matches(log, no));
  auto o = Filter::Parse(R"({"$or": [{"a": {"$text": "x"}}, {"b": {"$text": "y"}}]})");
  ASSERT_TRUE(o.ok());
  const uint8_t first[] = {1, 0}, second[] = {0, 1}, neither[] = {0, 0};
  EXPECT_TRUE(o->Matches(json::object(), first));
  EXPECT_TRUE(o->Matches(json::object(), second));
  EXPECT_FALSE(o->Matches(json::object(), neither));
}

TEST(TextFilterTest, BadOperandsAreRejected) {
  auto err = [](std::string_view text) {
    auto f = Filter::Parse(text);
    EXPECT_FALSE(f.ok()) << text;
    return f.ok() ? std::string() : std::string(f.status().message());
  };
  EXPECT_THAT(err(R"({"body": {"$text": ""}})"), HasSubstr("empty"));
  EXPECT_THAT(err(R"({"body": {"$text": "   "}})"), HasSubstr("empty"));
  EXPECT_THAT(err(R"({"body": {"$text": 3}})"), HasSubstr("$text expects a string"));
  EXPECT_THAT(err(R"({"body": {"$text": {"query": 3}}})"), HasSubstr("query must be a string"));
  EXPECT_THAT(err(R"({"body": {"$text": {"query": "x", "match": "some"}}})"), HasSubstr("\"any\" or \"all\""));
  EXPECT_THAT(err(R"({"body": {"$text": {"query": "x", "fuzzy": 1}}})"), HasSubstr("fuzzy"));
  EXPECT_THAT(err(R"({"body": {"$text": {"match": "all"}}})"), HasSubstr("empty"));
  EXPECT_THAT(err(R"({"$text": "x"})"), HasSubstr("must be applied to a field"));
  EXPECT_THAT(err(R"({"body": {"$text": "x"}, "b": {"$text": []}})"), HasSubstr("filter.b"));
}

}  // namespace
}  // namespace sextant::payload
