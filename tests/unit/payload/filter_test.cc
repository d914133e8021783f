// Tests for the filter language (engine/payload/filter.cc), one section per rule of
// docs/filters.md: operators, type rules, arrays, missing fields, dotted paths, logic, errors,
// then logical equivalences and a randomized comparison against a small reference evaluator.
#include "payload/filter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "payload/filter_internal.h"
#include "payload/json_util.h"

namespace sextant::payload {
namespace {

using json = nlohmann::json;

// Parses `filter` (which must be valid) and evaluates it on the JSON text `payload`.
bool M(std::string_view filter, std::string_view payload) {
  StatusOr<Filter> f = Filter::Parse(filter);
  EXPECT_TRUE(f.ok()) << filter << " -> " << f.status().ToString();
  if (!f.ok()) return false;
  return f->Matches(json::parse(payload));
}

// Parses `filter`, which must be invalid, and returns the error message.
std::string Err(std::string_view filter) {
  StatusOr<Filter> f = Filter::Parse(filter);
  EXPECT_FALSE(f.ok()) << filter << " parsed but should not have";
  if (f.ok()) return "";
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument) << f.status().ToString();
  return std::string(f.status().message());
}

// ---------------------------------------------------------------------------------------------
// Equality and the shorthand.

TEST(FilterEq, ShorthandString) {
  EXPECT_TRUE(M(R"({"genre": "drama"})", R"({"genre": "drama"})"));
  EXPECT_FALSE(M(R"({"genre": "drama"})", R"({"genre": "comedy"})"));
  EXPECT_FALSE(M(R"({"genre": "drama"})", R"({"genre": "Drama"})"));
  EXPECT_FALSE(M(R"({"genre": "drama"})", R"({})"));
}

TEST(FilterEq, ExplicitEqualsShorthand) {
  for (const char* payload : {R"({"x": 1})", R"({"x": 2})", R"({"x": "1"})", R"({})",
                              R"({"x": [1, 3]})", R"({"x": null})"}) {
    EXPECT_EQ(M(R"({"x": 1})", payload), M(R"({"x": {"$eq": 1}})", payload)) << payload;
  }
}

TEST(FilterEq, NumbersCompareAcrossIntegerAndFloat) {
  EXPECT_TRUE(M(R"({"x": 2})", R"({"x": 2.0})"));
  EXPECT_TRUE(M(R"({"x": 2.0})", R"({"x": 2})"));
  EXPECT_TRUE(M(R"({"x": -3})", R"({"x": -3.0})"));
  EXPECT_TRUE(M(R"({"x": 0})", R"({"x": -0.0})"));
  EXPECT_FALSE(M(R"({"x": 2})", R"({"x": 2.5})"));
  EXPECT_TRUE(M(R"({"x": 2.5})", R"({"x": 2.5})"));
}

TEST(FilterEq, LargeIntegersAreExact) {
  // 2^53 + 1 is not representable as a double; it must not equal 2^53.
  EXPECT_FALSE(M(R"({"x": 9007199254740993})", R"({"x": 9007199254740992})"));
  EXPECT_FALSE(M(R"({"x": 9007199254740993})", R"({"x": 9007199254740992.0})"));
  EXPECT_TRUE(M(R"({"x": 9007199254740993})", R"({"x": 9007199254740993})"));
  EXPECT_TRUE(M(R"({"x": 18446744073709551615})", R"({"x": 18446744073709551615})"));
  EXPECT_FALSE(M(R"({"x": 18446744073709551615})", R"({"x": 18446744073709551614})"));
  EXPECT_FALSE(M(R"({"x": -1})", R"({"x": 18446744073709551615})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": 9007199254740992}})", R"({"x": 9007199254740993})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": 9007199254740992.0}})", R"({"x": 9007199254740993})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": 1e19}})", R"({"x": 18446744073709551615})"));
  EXPECT_TRUE(M(R"({"x": {"$lt": 2e19}})", R"({"x": 18446744073709551615})"));
  EXPECT_TRUE(M(R"({"x": {"$lt": 18446744073709551616.0}})", R"({"x": 18446744073709551615})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": 1e300}})", R"({"x": 1e301})"));
  EXPECT_FALSE(M(R"({"x": {"$lt": -1e300}})", R"({"x": -9223372036854775808})"));
  EXPECT_TRUE(M(R"({"x": {"$lt": -9.2e18}})", R"({"x": -9223372036854775808})"));
  EXPECT_TRUE(M(R"({"x": {"$lte": -9223372036854775808.0}})", R"({"x": -9223372036854775808})"));
  EXPECT_FALSE(M(R"({"x": {"$lt": -9223372036854775808.0}})", R"({"x": -9223372036854775808})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": -1e300}})", R"({"x": -9223372036854775808})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": -0.5}})", R"({"x": 0})"));
  EXPECT_TRUE(M(R"({"x": {"$lt": 0.5}})", R"({"x": 0})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": -2.5}})", R"({"x": -2})"));
  EXPECT_FALSE(M(R"({"x": {"$gt": -1.5}})", R"({"x": -2})"));
  EXPECT_TRUE(M(R"({"x": {"$gt": 1.5}})", R"({"x": 18446744073709551615})"));
}

TEST(FilterEq, TypesNeverCross) {
  EXPECT_FALSE(M(R"({"x": 1})", R"({"x": "1"})"));
  EXPECT_FALSE(M(R"({"x": "1"})", R"({"x": 1})"));
  EXPECT_FALSE(M(R"({"x": true})", R"({"x": 1})"));
  EXPECT_FALSE(M(R"({"x": 1})", R"({"x": true})"));
  EXPECT_FALSE(M(R"({"x": false})", R"({"x": 0})"));
  EXPECT_FALSE(M(R"({"x": null})", R"({"x": 0})"));
  EXPECT_FALSE(M(R"({"x": null})", R"({"x": false})"));
  EXPECT_FALSE(M(R"({"x": null})", R"({"x": ""})"));
  EXPECT_FALSE(M(R"({"x": ""})", R"({"x": null})"));
}

TEST(FilterEq, BoolsAndNull) {
  EXPECT_TRUE(M(R"({"x": true})", R"({"x": true})"));
  EXPECT_FALSE(M(R"({"x": true})", R"({"x": false})"));
  EXPECT_TRUE(M(R"({"x": false})", R"({"x": false})"));
  EXPECT_TRUE(M(R"({"x": null})", R"({"x": null})"));
  // Null does not match a missing field (unlike MongoDB); $exists says that.
  EXPECT_FALSE(M(R"({"x": null})", R"({})"));
  EXPECT_FALSE(M(R"({"x": {"$eq": null}})", R"({"y": 1})"));
}

TEST(FilterEq, EmptyString) {
  EXPECT_TRUE(M(R"({"x": ""})", R"({"x": ""})"));
  EXPECT_FALSE(M(R"({"x": ""})", R"({"x": " "})"));
}

TEST(FilterEq, UnicodeStringsCompareByBytes) {
  EXPECT_TRUE(M(R"({"x": "café"})", R"({"x": "café"})"));
  EXPECT_TRUE(M(R"({"x": "caf\u00e9"})", R"({"x": "café"})"));
  EXPECT_FALSE(M(R"({"x": "cafe"})", R"({"x": "café"})"));
}

TEST(FilterEq, ObjectOperandIsWholeValueEquality) {
  const char* payload = R"({"author": {"name": "Austen", "born": 1775}})";
  EXPECT_TRUE(M(R"({"author": {"name": "Austen", "born": 1775}})", payload));
  EXPECT_TRUE(M(R"({"author": {"born": 1775.0, "name": "Austen"}})", payload));
  EXPECT_FALSE(M(R"({"author": {"name": "Austen"}})", payload));  // not a sub-document match
  EXPECT_TRUE(M(R"({"author": {"$eq": {"name": "Austen", "born": 1775}}})", payload));
  EXPECT_TRUE(M(R"({"author": {"$ne": {"name": "Austen"}}})", payload));
  EXPECT_TRUE(M(R"({"x": {"$eq": {}}})", R"({"x": {}})"));
  EXPECT_FALSE(M(R"({"x": {"$eq": {}}})", R"({"x": {"a": 1}})"));
  EXPECT_FALSE(M(R"({"x": {"$eq": {}}})", R"({"x": []})"));
}

// ---------------------------------------------------------------------------------------------
// $ne

TEST(FilterNe, Basics) {
  EXPECT_TRUE(M(R"({"x": {"$ne": 1}})", R"({"x": 2})"));
  EXPECT_FALSE(M(R"({"x": {"$ne": 1}})", R"({"x": 1})"));
  EXPECT_FALSE(M(R"({"x": {"$ne": 1}})", R"({"x": 1.0})"));
  EXPECT_TRUE(M(R"({"x": {"$ne": 1}})", R"({"x": "1"})"));  // different type: not equal
  EXPECT_TRUE(M(R"({"x": {"$ne": null}})", R"({"x": 0})"));
  EXPECT_FALSE(M(R"({"x": {"$ne": null}})", R"({"x": null})"));
  EXPECT_TRUE(M(R"({"x": {"$ne": true}})", R"({"x": false})"));
}

TEST(FilterNe, MatchesMissingField) {
  EXPECT_TRUE(M(R"({"x": {"$ne": 1}})", R"({})"));
  EXPECT_TRUE(M(R"({"x": {"$ne": null}})", R"({})"));
  EXPECT_TRUE(M(R"({"a.b": {"$ne": 1}})", R"({"a": 5})"));
}

TEST(FilterNe, ArrayFieldIsNegationOfAnyElement) {
  EXPECT_FALSE(M(R"({"tags": {"$ne": "a"}})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"tags": {"$ne": "c"}})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"tags": {"$ne": "c"}})", R"({"tags": []})"));
}

// ---------------------------------------------------------------------------------------------
// $gt $gte $lt $lte

TEST(FilterRange, NumberBoundaries) {
  const char* payload = R"({"year": 2000})";
  EXPECT_FALSE(M(R"({"year": {"$gt": 2000}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$gt": 1999}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$gt": 1999.5}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$gte": 2000}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$gte": 2000.0}})", payload));
  EXPECT_FALSE(M(R"({"year": {"$gte": 2000.1}})", payload));
  EXPECT_FALSE(M(R"({"year": {"$lt": 2000}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$lt": 2000.5}})", payload));
  EXPECT_TRUE(M(R"({"year": {"$lte": 2000}})", payload));
  EXPECT_FALSE(M(R"({"year": {"$lte": 1999.99}})", payload));
  EXPECT_TRUE(M(R"({"t": {"$lt": 0}})", R"({"t": -0.5})"));
  EXPECT_TRUE(M(R"({"t": {"$gte": -1}})", R"({"t": -1})"));
}

TEST(FilterRange, SeveralOperatorsOnOneFieldAllHold) {
  const char* f = R"({"year": {"$gte": 2000, "$lt": 2010}})";
  EXPECT_FALSE(M(f, R"({"year": 1999})"));
  EXPECT_TRUE(M(f, R"({"year": 2000})"));
  EXPECT_TRUE(M(f, R"({"year": 2009.9})"));
  EXPECT_FALSE(M(f, R"({"year": 2010})"));
  EXPECT_FALSE(M(f, R"({})"));
  EXPECT_FALSE(M(R"({"x": {"$gt": 5, "$lt": 3}})", R"({"x": 4})"));
}

TEST(FilterRange, StringsCompareByBytes) {
  EXPECT_TRUE(M(R"({"s": {"$gt": "apple"}})", R"({"s": "banana"})"));
  EXPECT_FALSE(M(R"({"s": {"$gt": "banana"}})", R"({"s": "apple"})"));
  EXPECT_TRUE(M(R"({"s": {"$lt": "abc"}})", R"({"s": "ab"})"));       // prefix sorts first
  EXPECT_TRUE(M(R"({"s": {"$gt": "Zebra"}})", R"({"s": "apple"})"));  // 'a' (0x61) > 'Z' (0x5a)
  EXPECT_TRUE(M(R"({"s": {"$gt": "z"}})", R"({"s": "é"})"));          // UTF-8 bytes >= 0xc3
  EXPECT_TRUE(M(R"({"s": {"$gte": ""}})", R"({"s": ""})"));
  EXPECT_TRUE(M(R"({"d": {"$gte": "2024-01-01", "$lt": "2024-02-01"}})",
                R"({"d": "2024-01-15"})"));
  EXPECT_TRUE(M(R"({"s": {"$lte": "b"}})", R"({"s": "b"})"));
  EXPECT_FALSE(M(R"({"s": {"$lt": "b"}})", R"({"s": "b"})"));
}

TEST(FilterRange, DifferentTypesNeverMatch) {
  EXPECT_FALSE(M(R"({"x": {"$gt": 1}})", R"({"x": "2"})"));
  EXPECT_FALSE(M(R"({"x": {"$lt": 1}})", R"({"x": "0"})"));
  EXPECT_FALSE(M(R"({"x": {"$gt": "1"}})", R"({"x": 2})"));
  EXPECT_FALSE(M(R"({"x": {"$gte": 0}})", R"({"x": false})"));
  EXPECT_FALSE(M(R"({"x": {"$gte": 0}})", R"({"x": true})"));
  EXPECT_FALSE(M(R"({"x": {"$lte": 0}})", R"({"x": null})"));
  EXPECT_FALSE(M(R"({"x": {"$gte": 0}})", R"({"x": {"a": 1}})"));
  EXPECT_FALSE(M(R"({"x": {"$gte": ""}})", R"({"x": {}})"));
  EXPECT_FALSE(M(R"({"x": {"$lt": 5}})", R"({"x": [[1]]})"));  // nested array: no
}

TEST(FilterRange, MissingFieldNeverMatches) {
  for (const char* op : {"$gt", "$gte", "$lt", "$lte"}) {
    std::string f = std::string(R"({"x": {")") + op + R"(": 0}})";
    EXPECT_FALSE(M(f, R"({})")) << f;
    EXPECT_FALSE(M(f, R"({"y": 0})")) << f;
  }
}

// ---------------------------------------------------------------------------------------------
// $in $nin

TEST(FilterIn, Basics) {
  const char* f = R"({"genre": {"$in": ["drama", "comedy"]}})";
  EXPECT_TRUE(M(f, R"({"genre": "drama"})"));
  EXPECT_TRUE(M(f, R"({"genre": "comedy"})"));
  EXPECT_FALSE(M(f, R"({"genre": "horror"})"));
  EXPECT_FALSE(M(f, R"({})"));
}

TEST(FilterIn, MixedScalarTypes) {
  const char* f = R"({"x": {"$in": [1, "two", true, null, 3.5]}})";
  EXPECT_TRUE(M(f, R"({"x": 1})"));
  EXPECT_TRUE(M(f, R"({"x": 1.0})"));
  EXPECT_TRUE(M(f, R"({"x": "two"})"));
  EXPECT_TRUE(M(f, R"({"x": true})"));
  EXPECT_TRUE(M(f, R"({"x": null})"));
  EXPECT_TRUE(M(f, R"({"x": 3.5})"));
  EXPECT_FALSE(M(f, R"({"x": false})"));
  EXPECT_FALSE(M(f, R"({"x": "1"})"));
  EXPECT_FALSE(M(f, R"({"x": 2})"));
  EXPECT_FALSE(M(f, R"({"x": {}})"));
  EXPECT_FALSE(M(f, R"({"x": "true"})"));
  EXPECT_TRUE(M(R"({"x": {"$in": [false]}})", R"({"x": false})"));
  EXPECT_FALSE(M(R"({"x": {"$in": [false]}})", R"({"x": true})"));
}

TEST(FilterIn, ManyNumbersAcrossKinds) {
  // Exercises the sorted lookup with every number kind in one list.
  const char* f = R"({"x": {"$in": [18446744073709551615, -5, 2.5, 7, -9223372036854775808, 0]}})";
  for (const char* hit : {"18446744073709551615", "-5", "-5.0", "2.5", "7", "7.0",
                          "-9223372036854775808", "0", "-0.0"}) {
    EXPECT_TRUE(M(f, std::string(R"({"x": )") + hit + "}")) << hit;
  }
  for (const char* miss : {"18446744073709551614", "-4", "2", "3", "7.5", "1e30", "-1e30"}) {
    EXPECT_FALSE(M(f, std::string(R"({"x": )") + miss + "}")) << miss;
  }
}

TEST(FilterIn, ManyStrings) {
  std::string list;
  for (int k = 0; k < 100; k += 2) list += (list.empty() ? "" : ",") + ("\"s" + std::to_string(k) + "\"");
  std::string f = R"({"x": {"$in": [)" + list + "]}}";
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(M(f, R"({"x": "s)" + std::to_string(k) + "\"}"), k % 2 == 0) << k;
  }
}

TEST(FilterIn, EmptyList) {
  EXPECT_FALSE(M(R"({"x": {"$in": []}})", R"({"x": 1})"));
  EXPECT_FALSE(M(R"({"x": {"$in": []}})", R"({})"));
  EXPECT_TRUE(M(R"({"x": {"$nin": []}})", R"({"x": 1})"));
  EXPECT_TRUE(M(R"({"x": {"$nin": []}})", R"({})"));
}

TEST(FilterNin, Basics) {
  const char* f = R"({"genre": {"$nin": ["drama", "comedy"]}})";
  EXPECT_FALSE(M(f, R"({"genre": "drama"})"));
  EXPECT_TRUE(M(f, R"({"genre": "horror"})"));
  EXPECT_TRUE(M(f, R"({"genre": 1})"));
  EXPECT_TRUE(M(f, R"({})"));  // missing field: $nin matches
  EXPECT_TRUE(M(f, R"({"genre": null})"));
}

TEST(FilterIn, ArrayFieldMatchesAnyElement) {
  EXPECT_TRUE(M(R"({"tags": {"$in": ["x", "b"]}})", R"({"tags": ["a", "b"]})"));
  EXPECT_FALSE(M(R"({"tags": {"$in": ["x", "y"]}})", R"({"tags": ["a", "b"]})"));
  EXPECT_FALSE(M(R"({"tags": {"$in": ["a"]}})", R"({"tags": []})"));
  EXPECT_FALSE(M(R"({"tags": {"$nin": ["x", "b"]}})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"tags": {"$nin": ["x", "y"]}})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"tags": {"$nin": ["a"]}})", R"({"tags": []})"));
  EXPECT_FALSE(M(R"({"tags": {"$in": ["a"]}})", R"({"tags": [["a"]]})"));  // one level only
}

// ---------------------------------------------------------------------------------------------
// $exists

TEST(FilterExists, TrueAndFalse) {
  EXPECT_TRUE(M(R"({"x": {"$exists": true}})", R"({"x": 0})"));
  EXPECT_TRUE(M(R"({"x": {"$exists": true}})", R"({"x": null})"));  // null is a value
  EXPECT_TRUE(M(R"({"x": {"$exists": true}})", R"({"x": []})"));
  EXPECT_TRUE(M(R"({"x": {"$exists": true}})", R"({"x": {}})"));
  EXPECT_FALSE(M(R"({"x": {"$exists": true}})", R"({})"));
  EXPECT_TRUE(M(R"({"x": {"$exists": false}})", R"({})"));
  EXPECT_FALSE(M(R"({"x": {"$exists": false}})", R"({"x": null})"));
  EXPECT_TRUE(M(R"({"a.b": {"$exists": true}})", R"({"a": {"b": false}})"));
  EXPECT_FALSE(M(R"({"a.b": {"$exists": true}})", R"({"a": {"c": false}})"));
  EXPECT_TRUE(M(R"({"a.b": {"$exists": false}})", R"({"a": 1})"));
}

TEST(FilterExists, CombinedWithComparison) {
  const char* f = R"({"x": {"$exists": true, "$ne": 3}})";
  EXPECT_TRUE(M(f, R"({"x": 4})"));
  EXPECT_FALSE(M(f, R"({"x": 3})"));
  EXPECT_FALSE(M(f, R"({})"));  // $ne alone would match this
}

// ---------------------------------------------------------------------------------------------
// Array-valued fields

TEST(FilterArray, EqMatchesAnyElement) {
  EXPECT_TRUE(M(R"({"tags": "a"})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"tags": "b"})", R"({"tags": ["a", "b"]})"));
  EXPECT_FALSE(M(R"({"tags": "c"})", R"({"tags": ["a", "b"]})"));
  EXPECT_TRUE(M(R"({"n": 2})", R"({"n": [1, 2.0, "x"]})"));
  EXPECT_TRUE(M(R"({"n": null})", R"({"n": [1, null]})"));
  EXPECT_FALSE(M(R"({"tags": "a"})", R"({"tags": []})"));
}

TEST(FilterArray, ArrayOperandIsWholeArrayEquality) {
  EXPECT_TRUE(M(R"({"tags": ["a", "b"]})", R"({"tags": ["a", "b"]})"));
  EXPECT_FALSE(M(R"({"tags": ["a", "b"]})", R"({"tags": ["b", "a"]})"));  // order matters
  EXPECT_FALSE(M(R"({"tags": ["a"]})", R"({"tags": ["a", "b"]})"));       // not a subset test
  EXPECT_FALSE(M(R"({"tags": ["a", "b"]})", R"({"tags": "a"})"));
  EXPECT_TRUE(M(R"({"tags": {"$eq": []}})", R"({"tags": []})"));
  EXPECT_TRUE(M(R"({"v": [1, 2]})", R"({"v": [1.0, 2.0]})"));
  EXPECT_TRUE(M(R"({"v": [1, [2, {"k": null}]]})", R"({"v": [1, [2, {"k": null}]]})"));
  EXPECT_FALSE(M(R"({"v": [1, [2, {"k": null}]]})", R"({"v": [1, [2, {"k": 0}]]})"));
  // ... or equality with an element that is itself an array (MongoDB does the same).
  EXPECT_TRUE(M(R"({"m": [1, 2]})", R"({"m": [[1, 2], [3]]})"));
  EXPECT_FALSE(M(R"({"m": [1, 2]})", R"({"m": [[1], [2]]})"));
  EXPECT_TRUE(M(R"({"m": {"$ne": [1, 2]}})", R"({"m": [[1], [2]]})"));
  EXPECT_FALSE(M(R"({"m": {"$ne": [1, 2]}})", R"({"m": [1, 2]})"));
  EXPECT_TRUE(M(R"({"o": {"k": 1}})", R"({"o": [{"k": 1}, {"k": 2}]})"));
}

TEST(FilterArray, RangeMatchesAnyElement) {
  EXPECT_TRUE(M(R"({"s": {"$gt": 8}})", R"({"s": [1, 9]})"));
  EXPECT_FALSE(M(R"({"s": {"$gt": 9}})", R"({"s": [1, 9]})"));
  EXPECT_TRUE(M(R"({"s": {"$lt": "b"}})", R"({"s": [1, "a"]})"));
  EXPECT_FALSE(M(R"({"s": {"$gt": 0}})", R"({"s": []})"));
  // Each operator may be satisfied by a different element (as in MongoDB without $elemMatch).
  EXPECT_TRUE(M(R"({"s": {"$gt": 1, "$lt": 3}})", R"({"s": [0, 5]})"));
  EXPECT_FALSE(M(R"({"s": {"$gt": 1, "$lt": 3}})", R"({"s": [0, 1]})"));
}

// ---------------------------------------------------------------------------------------------
// Dotted paths

TEST(FilterPath, WalksObjects) {
  const char* payload = R"({"author": {"name": "Austen", "life": {"born": 1775}}, "n": 1})";
  EXPECT_TRUE(M(R"({"author.name": "Austen"})", payload));
  EXPECT_TRUE(M(R"({"author.life.born": {"$lt": 1800}})", payload));
  EXPECT_FALSE(M(R"({"author.life.died": {"$exists": true}})", payload));
  EXPECT_FALSE(M(R"({"author.name.first": "Jane"})", payload));  // "Austen" is not an object
  EXPECT_FALSE(M(R"({"n.x": 1})", payload));
  EXPECT_FALSE(M(R"({"missing.x": 1})", payload));
  EXPECT_TRUE(M(R"({"missing.x": {"$ne": 1}})", payload));
}

TEST(FilterPath, DoesNotWalkArrays) {
  const char* payload = R"({"authors": [{"name": "A"}, {"name": "B"}], "v": [10, 20]})";
  EXPECT_FALSE(M(R"({"authors.name": "A"})", payload));
  EXPECT_FALSE(M(R"({"v.0": 10})", payload));
  EXPECT_FALSE(M(R"({"authors.name": {"$exists": true}})", payload));
}

TEST(FilterPath, LiteralDotInKeyIsOnlyReachableByNesting) {
  const char* payload = R"({"a.b": 1, "a": {"b": 2}})";
  EXPECT_TRUE(M(R"({"a.b": 2})", payload));
  EXPECT_FALSE(M(R"({"a.b": 1})", payload));
  EXPECT_FALSE(M(R"({"a.b": 1})", R"({"a.b": 1})"));
  // The key with a dot is still reachable as part of a whole-object equality.
  EXPECT_TRUE(M(R"({"x": {"$eq": {"a.b": 1}}})", R"({"x": {"a.b": 1}})"));
}

TEST(FilterPath, KeysWithSpacesAndUnicode) {
  EXPECT_TRUE(M(R"({"first name": "Jo"})", R"({"first name": "Jo"})"));
  EXPECT_TRUE(M(R"({"größe.wert": 3})", R"({"größe": {"wert": 3}})"));
  EXPECT_TRUE(M(R"({"a$b": 1})", R"({"a$b": 1})"));  // '$' only matters as the first character
}

TEST(FilterPath, DeepPath) {
  std::string path = "k0", payload = "1";
  for (int k = 1; k < 20; ++k) path += ".k" + std::to_string(k);
  for (int k = 19; k >= 0; --k) payload = R"({"k)" + std::to_string(k) + R"(": )" + payload + "}";
  EXPECT_TRUE(M(R"({")" + path + R"(": 1})", payload));
  EXPECT_FALSE(M(R"({")" + path + R"(": 2})", payload));
}

// ---------------------------------------------------------------------------------------------
// Logic: implicit AND, $and, $or, $not

TEST(FilterLogic, EmptyFilterMatchesEverything) {
  StatusOr<Filter> f = Filter::Parse("{}");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->MatchesAll());
  EXPECT_TRUE(f->Matches(json::object()));
  EXPECT_TRUE(f->Matches(json::parse(R"({"a": 1})")));
  EXPECT_TRUE(f->Matches(json::array()));
  EXPECT_TRUE(f->Matches(json()));
  EXPECT_TRUE(Filter::Parse("  { }  ")->MatchesAll());
}

TEST(FilterLogic, MatchesAllOnlyForEmptyFilter) {
  for (const char* text : {R"({"a": 1})", R"({"$and": [{}]})", R"({"$not": {}})",
                           R"({"a": {"$exists": true}})"}) {
    StatusOr<Filter> f = Filter::Parse(text);
    ASSERT_TRUE(f.ok()) << text;
    EXPECT_FALSE(f->MatchesAll()) << text;
  }
}

TEST(FilterLogic, ImplicitAnd) {
  const char* f = R"({"genre": "drama", "year": {"$gte": 2000}})";
  EXPECT_TRUE(M(f, R"({"genre": "drama", "year": 2001})"));
  EXPECT_FALSE(M(f, R"({"genre": "drama", "year": 1999})"));
  EXPECT_FALSE(M(f, R"({"genre": "comedy", "year": 2001})"));
  EXPECT_FALSE(M(f, R"({"genre": "drama"})"));
}

TEST(FilterLogic, And) {
  const char* f = R"({"$and": [{"genre": "drama"}, {"year": {"$gte": 2000}}]})";
  EXPECT_TRUE(M(f, R"({"genre": "drama", "year": 2001})"));
  EXPECT_FALSE(M(f, R"({"genre": "drama", "year": 1999})"));
  EXPECT_FALSE(M(f, R"({"genre": "comedy", "year": 2001})"));
  EXPECT_TRUE(M(R"({"$and": [{"a": 1}]})", R"({"a": 1})"));
  EXPECT_TRUE(M(R"({"$and": [{}]})", R"({"a": 1})"));
  // The same field twice needs $and (a JSON object keeps one value per key).
  const char* twice = R"({"$and": [{"tags": "a"}, {"tags": "b"}]})";
  EXPECT_TRUE(M(twice, R"({"tags": ["a", "b", "c"]})"));
  EXPECT_FALSE(M(twice, R"({"tags": ["a", "c"]})"));
}

TEST(FilterLogic, Or) {
  const char* f = R"({"$or": [{"genre": "drama"}, {"year": {"$gte": 2000}}]})";
  EXPECT_TRUE(M(f, R"({"genre": "drama", "year": 1990})"));
  EXPECT_TRUE(M(f, R"({"genre": "comedy", "year": 2001})"));
  EXPECT_FALSE(M(f, R"({"genre": "comedy", "year": 1990})"));
  EXPECT_FALSE(M(f, R"({})"));
  EXPECT_TRUE(M(R"({"$or": [{}, {"a": 1}]})", R"({})"));
}

TEST(FilterLogic, Not) {
  EXPECT_TRUE(M(R"({"$not": {"genre": "drama"}})", R"({"genre": "comedy"})"));
  EXPECT_FALSE(M(R"({"$not": {"genre": "drama"}})", R"({"genre": "drama"})"));
  EXPECT_TRUE(M(R"({"$not": {"genre": "drama"}})", R"({})"));  // negation of false
  EXPECT_FALSE(M(R"({"$not": {}})", R"({"a": 1})"));            // negation of "everything"
  EXPECT_TRUE(M(R"({"$not": {"$not": {"a": 1}}})", R"({"a": 1})"));
  // $not of a multi-key object negates the whole conjunction.
  const char* f = R"({"$not": {"a": 1, "b": 2}})";
  EXPECT_FALSE(M(f, R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(M(f, R"({"a": 1, "b": 3})"));
}

TEST(FilterLogic, LogicAndFieldsAtOneLevel) {
  const char* f = R"({"kind": "book", "$or": [{"year": {"$lt": 1900}}, {"award": true}],
                      "$not": {"lang": "fr"}})";
  EXPECT_TRUE(M(f, R"({"kind": "book", "year": 1850, "lang": "en"})"));
  EXPECT_TRUE(M(f, R"({"kind": "book", "year": 1950, "award": true})"));
  EXPECT_FALSE(M(f, R"({"kind": "book", "year": 1950, "award": false})"));
  EXPECT_FALSE(M(f, R"({"kind": "book", "year": 1850, "lang": "fr"})"));
  EXPECT_FALSE(M(f, R"({"kind": "film", "year": 1850})"));
}

TEST(FilterLogic, DeepNesting) {
  const char* f = R"({"$or": [{"$and": [{"a": 1}, {"$or": [{"b": 2}, {"c": {"$in": [3, 4]}}]}]},
                              {"$not": {"d": {"$exists": false}}}]})";
  EXPECT_TRUE(M(f, R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(M(f, R"({"a": 1, "c": 4})"));
  EXPECT_FALSE(M(f, R"({"a": 1, "c": 5})"));
  EXPECT_TRUE(M(f, R"({"d": null})"));
  EXPECT_FALSE(M(f, R"({"a": 2, "b": 2})"));
}

TEST(FilterLogic, NonObjectPayloads) {
  for (const char* payload : {"[]", "[1]", "null", "3", "\"s\"", "true"}) {
    EXPECT_FALSE(M(R"({"a": 1})", payload)) << payload;
    EXPECT_TRUE(M(R"({"a": {"$exists": false}})", payload)) << payload;
    EXPECT_TRUE(M(R"({"a": {"$ne": 1}})", payload)) << payload;
    EXPECT_TRUE(M(R"({})", payload)) << payload;
  }
}

// ---------------------------------------------------------------------------------------------
// Filter objects: parsing from text and from JSON, copying, sharing across threads

TEST(FilterApi, FromJsonEqualsParse) {
  json value = {{"year", {{"$gte", 2000}}}, {"tags", "a"}};
  StatusOr<Filter> from_json = Filter::FromJson(value);
  StatusOr<Filter> from_text = Filter::Parse(value.dump());
  ASSERT_TRUE(from_json.ok());
  ASSERT_TRUE(from_text.ok());
  for (const char* payload : {R"({"year": 2001, "tags": ["a"]})", R"({"year": 1999, "tags": "a"})",
                              R"({"year": 2001})"}) {
    json p = json::parse(payload);
    EXPECT_EQ(from_json->Matches(p), from_text->Matches(p)) << payload;
  }
}

TEST(FilterApi, CopiesShareTheTree) {
  StatusOr<Filter> f = Filter::Parse(R"({"a": {"$gt": 1}})");
  ASSERT_TRUE(f.ok());
  Filter copy = *f;
  Filter moved = std::move(copy);
  EXPECT_TRUE(moved.Matches(json::parse(R"({"a": 2})")));
  EXPECT_FALSE(f->Matches(json::parse(R"({"a": 1})")));
}

TEST(FilterApi, ConcurrentEvaluation) {
  StatusOr<Filter> f = Filter::Parse(
      R"({"$or": [{"a": {"$in": [1, 3, 5, 7, 9]}}, {"b.c": {"$gte": "m"}}]})");
  ASSERT_TRUE(f.ok());
  std::vector<json> payloads;
  std::vector<bool> expected;
  for (int k = 0; k < 200; ++k) {
    payloads.push_back({{"a", k % 10}, {"b", {{"c", std::string(1, static_cast<char>('a' + k % 26))}}}});
    expected.push_back(f->Matches(payloads.back()));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (size_t k = 0; k < payloads.size(); ++k) {
          if (f->Matches(payloads[k]) != expected[k]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0);
}

TEST(FilterApi, NonFiniteOperandsFromCodeAreRejected) {
  double nan = std::numeric_limits<double>::quiet_NaN();
  double inf = std::numeric_limits<double>::infinity();
  StatusOr<Filter> f = Filter::FromJson({{"x", {{"$gt", nan}}}});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("filter.x: $gt expects a finite number"), std::string::npos)
      << f.status().message();
  EXPECT_FALSE(Filter::FromJson({{"x", inf}}).ok());
  EXPECT_FALSE(Filter::FromJson({{"x", {{"$in", {1, nan}}}}}).ok());
  EXPECT_FALSE(Filter::FromJson({{"x", {{"$eq", {1, {{"y", inf}}}}}}}).ok());
}

// ---------------------------------------------------------------------------------------------
// Errors: each names the place, as a path from the root.

struct ErrorCase {
  const char* filter;
  const char* message;  // must appear in the error message
};

TEST(FilterErrors, MessagesSayWhere) {
  const ErrorCase cases[] = {
      // Not a filter object.
      {R"([])", "filter: expected a JSON object, got an array"},
      {R"("drama")", "filter: expected a JSON object, got a string"},
      {R"(3)", "filter: expected a JSON object, got a number"},
      {R"(null)", "filter: expected a JSON object, got null"},
      {R"(true)", "filter: expected a JSON object, got a bool"},
      // Operators at the top level.
      {R"({"$foo": 1})", "filter: unknown operator '$foo'"},
      {R"({"$gt": 1})", "filter: $gt must be applied to a field"},
      {R"({"$in": [1]})", "filter: $in must be applied to a field"},
      {R"({"$exists": true})", "filter: $exists must be applied to a field"},
      {R"({"$": 1})", "filter: unknown operator '$'"},
      {R"({"$AND": []})", "filter: unknown operator '$AND'"},
      // $and / $or / $not operands.
      {R"({"$and": []})", "filter.$and: expects a non-empty array of filter objects, got an empty array"},
      {R"({"$or": []})", "filter.$or: expects a non-empty array of filter objects, got an empty array"},
      {R"({"$and": {"a": 1}})", "filter.$and: expects a non-empty array of filter objects, got an object"},
      {R"({"$or": "x"})", "filter.$or: expects a non-empty array of filter objects, got a string"},
      {R"({"$and": [{"a": 1}, 2]})", "filter.$and[1]: expected a filter object, got a number"},
      {R"({"$or": [[]]})", "filter.$or[0]: expected a filter object, got an array"},
      {R"({"$not": [{"a": 1}]})", "filter.$not: expected a filter object, got an array"},
      {R"({"$not": null})", "filter.$not: expected a filter object, got null"},
      // Field names.
      {R"({"": 1})", "filter: a field name is empty"},
      {R"({"a..b": 1})", "filter: field path 'a..b' has an empty segment"},
      {R"({".a": 1})", "filter: field path '.a' has an empty segment"},
      {R"({"a.": 1})", "filter: field path 'a.' has an empty segment"},
      {R"({".": 1})", "filter: field path '.' has an empty segment"},
      {R"({"$or": [{"x": 1}, {"a..b": 1}]})", "filter.$or[1]: field path 'a..b' has an empty segment"},
      // Field objects.
      {R"({"year": {}})", "filter.year: empty operator object"},
      {R"({"year": {"$gt": 1, "x": 2}})", "filter.year: mixes operators ('$gt') and field names ('x')"},
      {R"({"year": {"$foo": 1}})", "filter.year: unknown operator '$foo'"},
      {R"({"year": {"$gte": 1, "$bar": 2}})", "filter.year: unknown operator '$bar'"},
      {R"({"year": {"$and": [{"a": 1}]}})", "filter.year: $and cannot be applied to a field"},
      {R"({"year": {"$not": {"$gt": 1}}})", "filter.year: $not cannot be applied to a field"},
      {R"({"year": {"$or": []}})", "filter.year: $or cannot be applied to a field"},
      // Operand types.
      {R"({"$and": [{"a": 1}, {"year": {"$gte": []}}]})",
       "filter.$and[1].year: $gte expects a number or a string, got an array"},
      {R"({"year": {"$gt": true}})", "filter.year: $gt expects a number or a string, got a bool"},
      {R"({"year": {"$lt": null}})", "filter.year: $lt expects a number or a string, got null"},
      {R"({"year": {"$lte": {}}})", "filter.year: $lte expects a number or a string, got an object"},
      {R"({"tags": {"$in": "a"}})", "filter.tags: $in expects an array of strings, numbers, bools or nulls, got a string"},
      {R"({"tags": {"$nin": 3}})", "filter.tags: $nin expects an array of strings, numbers, bools or nulls, got a number"},
      {R"({"tags": {"$in": {}}})", "filter.tags: $in expects an array"},
      {R"({"tags": {"$in": ["a", "b", {"c": 1}]}})",
       "filter.tags: $in[2] must be a string, number, bool or null, got an object"},
      {R"({"tags": {"$nin": [[1]]}})", "filter.tags: $nin[0] must be a string, number, bool or null, got an array"},
      {R"({"x": {"$exists": 1}})", "filter.x: $exists expects true or false, got a number"},
      {R"({"x": {"$exists": "true"}})", "filter.x: $exists expects true or false, got a string"},
      // $text (the field's text index is checked when a collection binds the filter).
      {R"({"$text": "a"})", "filter: $text must be applied to a field"},
      {R"({"body": {"$text": ""}})", "filter.body: $text: the query is empty"},
      {R"({"body": {"$text": "  \t "}})", "filter.body: $text: the query is empty"},
      {R"({"body": {"$text": 3}})", "filter.body: $text expects a query string"},
      {R"({"body": {"$text": {"match": "all"}}})", "filter.body: $text: the object needs a \"query\""},
      {R"({"body": {"$text": {"query": "a", "match": "most"}}})", "filter.body: $text: match must be \"any\", \"all\" or \"phrase\", got \"most\""},
      {R"({"body": {"$text": {"query": "a", "mode": "all"}}})", "filter.body: $text: unknown key 'mode'"},
      {R"({"x": {"$exists": null}})", "filter.x: $exists expects true or false, got null"},
      // Paths through nesting.
      {R"({"$not": {"$or": [{"a": 1}, {"b": {"$in": 1}}]}})",
       "filter.$not.$or[1].b: $in expects an array"},
      {R"({"author.name": {"$gt": [1]}})", "filter.author.name: $gt expects a number or a string, got an array"},
  };
  for (const ErrorCase& c : cases) {
    std::string message = Err(c.filter);
    EXPECT_NE(message.find(c.message), std::string::npos)
        << "filter: " << c.filter << "\n  got:  " << message << "\n  want: " << c.message;
  }
}

TEST(FilterErrors, InvalidJsonIncludesPosition) {
  std::string message = Err(R"({"a": })");
  EXPECT_EQ(message.rfind("filter: not valid JSON: ", 0), 0u) << message;
  EXPECT_NE(message.find("line 1, column 7"), std::string::npos) << message;
  EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;

  message = Err("{\"a\": 1,\n \"b\": }");
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  for (const char* text : {"", "   ", "{", "{\"a\" 1}", "{'a': 1}", "{\"a\": 1}}", "{\"a\": NaN}",
                           "{\"a\": 1e400}", "{\"a\": \"\xff\"}"}) {
    std::string m = Err(text);
    EXPECT_EQ(m.rfind("filter: not valid JSON: ", 0), 0u) << text << " -> " << m;
  }
}

// Builds {"$not": {"$not": ... {"a": 1} ...}} with `nots` $not levels: JSON depth nots + 1.
std::string NestedNots(int nots) {
  std::string f = R"({"a": 1})";
  for (int k = 0; k < nots; ++k) f = R"({"$not": )" + f + "}";
  return f;
}

TEST(FilterErrors, DepthLimit) {
  const int limit = internal::kMaxFilterDepth;
  // Exactly at the limit: accepted, and evaluates (an even number of $not is the identity).
  StatusOr<Filter> ok = Filter::Parse(NestedNots(limit - 1));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->Matches(json::parse(R"({"a": 1})")), (limit - 1) % 2 == 0);

  std::string message = Err(NestedNots(limit));
  EXPECT_NE(message.find("nests deeper than 32 levels"), std::string::npos) << message;
  EXPECT_EQ(message.rfind("filter.$not.$not.", 0), 0u) << message;

  // A deep literal operand counts too, and the path says where.
  std::string literal = "1";
  for (int k = 0; k < limit; ++k) literal = "[" + literal + "]";
  message = Err(R"({"x": {"$eq": )" + literal + "}}");
  EXPECT_EQ(message.rfind("filter.x.$eq[0]", 0), 0u) << message;
  EXPECT_NE(message.find("nests deeper than"), std::string::npos) << message;

  // Far deeper than any recursion could survive: rejected cleanly.
  std::string huge = R"({"a": )" + std::string(200000, '[') + std::string(200000, ']') + "}";
  message = Err(huge);
  EXPECT_EQ(message.rfind("filter.a[0][0]", 0), 0u) << message.substr(0, 80);
  EXPECT_NE(message.find("nests deeper than"), std::string::npos);
  EXPECT_EQ(Err(std::string(200000, '[') + std::string(200000, ']')),
            "filter: expected a JSON object, got an array");
  std::string deep_and;
  for (int k = 0; k < 10000; ++k) deep_and += R"({"$and": [)";
  deep_and += "{}";
  for (int k = 0; k < 10000; ++k) deep_and += "]}";
  message = Err(deep_and);
  EXPECT_EQ(message.rfind("filter.$and[0].$and[0]", 0), 0u) << message.substr(0, 80);
}

// ---------------------------------------------------------------------------------------------
// Logical equivalences, on seeded random payloads.

// A random JSON value from a small pool, so that collisions (equal values) are frequent.
json RandomScalar(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0: return static_cast<int>(rng() % 7) - 3;                       // int
    case 1: return (static_cast<int>(rng() % 13) - 6) * 0.5;              // half-integer float
    case 2: return static_cast<unsigned>(rng() % 4);                      // unsigned
    case 3: { const char* s[] = {"", "a", "b", "ab", "B", "é"}; return s[rng() % 6]; }
    case 4: return (rng() % 2) == 0;
    case 5: return nullptr;
    case 6: return static_cast<double>(static_cast<int>(rng() % 7) - 3);  // integral float
    default: { const char* s[] = {"a", "b"}; return s[rng() % 2]; }
  }
}

json RandomValue(std::mt19937& rng, int depth) {
  uint32_t pick = rng() % 10;
  if (depth > 0 && pick == 0) {
    json array = json::array();
    for (uint32_t k = rng() % 4; k > 0; --k) array.push_back(RandomValue(rng, depth - 1));
    return array;
  }
  if (depth > 0 && pick == 1) {
    json object = json::object();
    for (const char* key : {"a", "d"}) {
      if (rng() % 2) object[key] = RandomValue(rng, depth - 1);
    }
    return object;
  }
  return RandomScalar(rng);
}

json RandomPayload(std::mt19937& rng) {
  json payload = json::object();
  for (const char* key : {"a", "b", "c"}) {
    if (rng() % 5 != 0) payload[key] = RandomValue(rng, 2);
  }
  return payload;
}

bool Eval(const std::string& filter, const json& payload) {
  StatusOr<Filter> f = Filter::Parse(filter);
  EXPECT_TRUE(f.ok()) << filter << ": " << f.status().ToString();
  return f.ok() && f->Matches(payload);
}

TEST(FilterEquivalence, NotLtIsGteWhereFieldIsNumeric) {
  std::mt19937 rng(7);
  for (int k = 0; k < 500; ++k) {
    json payload = {{"a", (static_cast<int>(rng() % 21) - 10) * 0.5}};
    if (rng() % 2) payload["a"] = static_cast<int>(rng() % 21) - 10;
    for (const char* bound : {"-2", "0", "2.5", "3"}) {
      std::string b = bound;
      EXPECT_EQ(Eval(R"({"$not": {"a": {"$lt": )" + b + "}}}", payload),
                Eval(R"({"a": {"$gte": )" + b + "}}", payload)) << payload.dump();
      EXPECT_EQ(Eval(R"({"$not": {"a": {"$gte": )" + b + "}}}", payload),
                Eval(R"({"a": {"$lt": )" + b + "}}", payload)) << payload.dump();
      EXPECT_EQ(Eval(R"({"$not": {"a": {"$gt": )" + b + "}}}", payload),
                Eval(R"({"a": {"$lte": )" + b + "}}", payload)) << payload.dump();
    }
  }
  // Where `a` is missing or not a number the equivalence does not hold, by design.
  EXPECT_TRUE(Eval(R"({"$not": {"a": {"$lt": 5}}})", json::object()));
  EXPECT_FALSE(Eval(R"({"a": {"$gte": 5}})", json::object()));
}

TEST(FilterEquivalence, AlwaysHoldOnAnyPayload) {
  // Pairs of filters that must agree on every payload, whatever its types.
  const std::pair<const char*, const char*> pairs[] = {
      {R"({"a": {"$ne": 1}})", R"({"$not": {"a": 1}})"},
      {R"({"a": {"$ne": "a"}})", R"({"$not": {"a": {"$eq": "a"}}})"},
      {R"({"a": {"$ne": [1, "a"]}})", R"({"$not": {"a": [1, "a"]}})"},
      {R"({"a": {"$nin": [1, "a", null]}})", R"({"$not": {"a": {"$in": [1, "a", null]}}})"},
      {R"({"a": {"$in": [1, "a", true]}})", R"({"$or": [{"a": 1}, {"a": "a"}, {"a": true}]})"},
      {R"({"a": {"$nin": [0.5, "b"]}})", R"({"$and": [{"a": {"$ne": 0.5}}, {"a": {"$ne": "b"}}]})"},
      {R"({"a": {"$exists": false}})", R"({"$not": {"a": {"$exists": true}}})"},
      {R"({"$not": {"$not": {"a": {"$gt": 0}}}})", R"({"a": {"$gt": 0}})"},
      // De Morgan.
      {R"({"$not": {"$and": [{"a": {"$gt": 0}}, {"b": "a"}]}})",
       R"({"$or": [{"$not": {"a": {"$gt": 0}}}, {"$not": {"b": "a"}}]})"},
      {R"({"$not": {"$or": [{"a": {"$lte": "b"}}, {"c.a": null}]}})",
       R"({"$and": [{"$not": {"a": {"$lte": "b"}}}, {"$not": {"c.a": null}}]})"},
      {R"({"$not": {"a": 1, "b": {"$exists": true}}})",
       R"({"$or": [{"a": {"$ne": 1}}, {"b": {"$exists": false}}]})"},
      // Implicit AND == $and; several operators == $and of single ones.
      {R"({"a": {"$gte": 0, "$lt": 2}, "b": "a"})",
       R"({"$and": [{"a": {"$gte": 0}}, {"a": {"$lt": 2}}, {"b": "a"}]})"},
      // Distribution.
      {R"({"$and": [{"a": 1}, {"$or": [{"b": "a"}, {"c": true}]}]})",
       R"({"$or": [{"a": 1, "b": "a"}, {"a": 1, "c": true}]})"},
  };
  std::mt19937 rng(12345);
  for (int k = 0; k < 2000; ++k) {
    json payload = RandomPayload(rng);
    for (const auto& [left, right] : pairs) {
      ASSERT_EQ(Eval(left, payload), Eval(right, payload))
          << left << " vs " << right << " on " << payload.dump();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Randomized comparison with a reference evaluator: a direct reading of docs/filters.md that
// works on the filter JSON itself. Test values are small integers and halves, so comparing as
// double is exact here.

bool RefIsNum(const json& v) { return v.is_number(); }

bool RefEqual(const json& x, const json& y) {
  if (RefIsNum(x) || RefIsNum(y)) return RefIsNum(x) && RefIsNum(y) && x.get<double>() == y.get<double>();
  if (x.type() != y.type()) return false;
  if (x.is_array()) {
    if (x.size() != y.size()) return false;
    for (size_t k = 0; k < x.size(); ++k) if (!RefEqual(x[k], y[k])) return false;
    return true;
  }
  if (x.is_object()) {
    if (x.size() != y.size()) return false;
    for (auto it = x.begin(); it != x.end(); ++it) {
      if (!y.contains(it.key()) || !RefEqual(it.value(), y[it.key()])) return false;
    }
    return true;
  }
  return x == y;  // null, bool, string
}

// The value itself, plus its elements if it is an array.
std::vector<json> RefCandidates(const json& v) {
  std::vector<json> out{v};
  if (v.is_array()) for (const auto& e : v) out.push_back(e);
  return out;
}

bool RefOp(const std::string& op, const json& operand, const json* value) {
  if (op == "$exists") return (value != nullptr) == operand.get<bool>();
  if (op == "$ne") return !RefOp("$eq", operand, value);
  if (op == "$nin") return !RefOp("$in", operand, value);
  if (value == nullptr) return false;
  for (const json& c : RefCandidates(*value)) {
    if (op == "$eq" && RefEqual(c, operand)) return true;
    if (op == "$in") {
      for (const auto& e : operand) if (RefEqual(c, e)) return true;
    }
    bool both_num = RefIsNum(c) && RefIsNum(operand);
    bool both_str = c.is_string() && operand.is_string();
    if (!both_num && !both_str) continue;
    bool lt = both_num ? c.get<double>() < operand.get<double>()
                       : c.get<std::string>() < operand.get<std::string>();
    bool gt = both_num ? c.get<double>() > operand.get<double>()
                       : c.get<std::string>() > operand.get<std::string>();
    if ((op == "$gt" && gt) || (op == "$gte" && !lt) || (op == "$lt" && lt) || (op == "$lte" && !gt)) {
      return true;
    }
  }
  return false;
}

bool RefMatch(const json& filter, const json& payload) {
  for (auto it = filter.begin(); it != filter.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "$and") {
      for (const auto& f : v) if (!RefMatch(f, payload)) return false;
    } else if (key == "$or") {
      bool any = false;
      for (const auto& f : v) any = any || RefMatch(f, payload);
      if (!any) return false;
    } else if (key == "$not") {
      if (RefMatch(v, payload)) return false;
    } else {
      const json* value = &payload;
      size_t start = 0;
      while (value != nullptr) {
        size_t dot = key.find('.', start);
        std::string seg = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        value = (value->is_object() && value->contains(seg)) ? &(*value)[seg] : nullptr;
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
      bool has_op = v.is_object() && !v.empty() && v.begin().key()[0] == '$';
      if (!has_op) {
        if (!RefOp("$eq", v, value)) return false;
      } else {
        for (auto op = v.begin(); op != v.end(); ++op) {
          if (!RefOp(op.key(), op.value(), value)) return false;
        }
      }
    }
  }
  return true;
}

json RandomFilter(std::mt19937& rng, int depth) {
  const char* fields[] = {"a", "b", "c", "c.a", "c.d", "a.a", "z"};
  json filter = json::object();
  uint32_t keys = 1 + rng() % 2;
  for (uint32_t k = 0; k < keys; ++k) {
    uint32_t pick = rng() % 10;
    if (depth > 0 && pick == 0) {
      json list = json::array();
      for (uint32_t n = 1 + rng() % 3; n > 0; --n) list.push_back(RandomFilter(rng, depth - 1));
      filter[rng() % 2 ? "$and" : "$or"] = list;
    } else if (depth > 0 && pick == 1) {
      filter["$not"] = RandomFilter(rng, depth - 1);
    } else {
      std::string field = fields[rng() % 7];
      const char* ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", ""};
      std::string op = ops[rng() % 10];
      json operand;
      if (op == "$exists") {
        operand = (rng() % 2) == 0;
      } else if (op == "$in" || op == "$nin") {
        operand = json::array();
        for (uint32_t n = rng() % 4; n > 0; --n) operand.push_back(RandomScalar(rng));
      } else if (op.rfind("$g", 0) == 0 || op.rfind("$l", 0) == 0) {
        do operand = RandomScalar(rng); while (!operand.is_number() && !operand.is_string());
      } else {
        operand = RandomValue(rng, 1);
        if (operand.is_object()) op = "$eq";  // keep shorthand objects unambiguous
      }
      if (op.empty()) {
        filter[field] = operand;
      } else {
        filter[field] = json::object({{op, operand}});
      }
      if (rng() % 4 == 0 && filter[field].is_object() && !op.empty()) {
        filter[field]["$exists"] = true;  // a second operator on the same field
      }
    }
  }
  return filter;
}

TEST(FilterProperty, AgreesWithReferenceEvaluator) {
  std::mt19937 rng(20240601);
  int matched = 0, total = 0;
  for (int k = 0; k < 3000; ++k) {
    json filter = RandomFilter(rng, 3);
    StatusOr<Filter> f = Filter::FromJson(filter);
    ASSERT_TRUE(f.ok()) << filter.dump() << ": " << f.status().ToString();
    for (int p = 0; p < 10; ++p) {
      json payload = RandomPayload(rng);
      bool want = RefMatch(filter, payload);
      ASSERT_EQ(f->Matches(payload), want) << "filter " << filter.dump() << "\npayload " << payload.dump();
      matched += want;
      ++total;
    }
  }
  // The generator is useful only if both outcomes are common.
  EXPECT_GT(matched, total / 10);
  EXPECT_LT(matched, total * 9 / 10);
}

}  // namespace
}  // namespace sextant::payload

namespace sextant::payload {
namespace {

struct ContainsX final : internal::TextPredicate {
  bool Holds(const nlohmann::json* v) const override {
    return v != nullptr && v->is_string() && v->get<std::string>().find('x') != std::string::npos;
  }
};

// An unbound $text condition matches nothing (a collection binds it to its text index first).
TEST(FilterText, UnboundTextMatchesNothingAndBindingDecides) {
  auto f = Filter::Parse(R"({"kind": "a", "body": {"$text": {"query": "x", "match": "all"}}})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(internal::HasText(*f));
  const nlohmann::json doc = {{"kind", "a"}, {"body", "x y"}};
  EXPECT_FALSE(f->Matches(doc));
  std::string seen_field, seen_text;
  internal::TextMode seen_mode = internal::TextMode::kAny;
  auto bound = internal::BindText(*f, [&](const std::string& field, const std::string& text, internal::TextMode mode)
                                          -> StatusOr<std::shared_ptr<const internal::TextPredicate>> {
    seen_field = field;
    seen_text = text;
    seen_mode = mode;
    return std::shared_ptr<const internal::TextPredicate>(std::make_shared<ContainsX>());
  });
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(seen_field, "body");
  EXPECT_EQ(seen_text, "x");
  EXPECT_EQ(seen_mode, internal::TextMode::kAll);
  EXPECT_TRUE(bound->Matches(doc));
  EXPECT_FALSE(bound->Matches(nlohmann::json{{"kind", "b"}, {"body", "x"}}));
  EXPECT_EQ(internal::RequiredText(*bound).size(), 1u);
  EXPECT_FALSE(f->Matches(doc));  // the original stays unbound
  // Under $or a $text condition is not required of every match.
  auto any = Filter::Parse(R"({"$or": [{"kind": "a"}, {"body": {"$text": "x"}}]})");
  ASSERT_TRUE(any.ok());
  auto any_bound = internal::BindText(*any, [](const std::string&, const std::string&, internal::TextMode)
                                                -> StatusOr<std::shared_ptr<const internal::TextPredicate>> {
    return std::shared_ptr<const internal::TextPredicate>(std::make_shared<ContainsX>());
  });
  ASSERT_TRUE(any_bound.ok());
  EXPECT_TRUE(internal::RequiredText(*any_bound).empty());
  EXPECT_TRUE(any_bound->Matches(nlohmann::json{{"kind", "b"}, {"body", "x"}}));
  // A binder's error is the result.
  auto refused = internal::BindText(*f, [](const std::string& field, const std::string&, internal::TextMode)
                                            -> StatusOr<std::shared_ptr<const internal::TextPredicate>> {
    return Status::InvalidArgument("no text index on " + field);
  });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("body"), std::string::npos);
}

}  // namespace
}  // namespace sextant::payload
