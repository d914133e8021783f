// Tests for the payload indexes (engine/payload/payload_index.cc): declaration checks, write-time
// type checks, entries, incremental maintenance, and Narrow. The oracle for Narrow is always
// Filter::Matches on the same payloads: an `exact` mask must equal the matching live slots, an
// inexact one must contain them. The randomized tests at the end compare the two on seeded
// payloads and filters, including after sets, replaces and clears.
#include "payload/payload_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "payload/filter.h"

namespace sextant::payload {
namespace {

using json = nlohmann::json;

PayloadIndexOptions F(std::string field, PayloadFieldType type) {
  PayloadIndexOptions o;
  o.field = std::move(field);
  o.type = type;
  return o;
}

constexpr PayloadFieldType kKeyword = PayloadFieldType::kKeyword;
constexpr PayloadFieldType kInteger = PayloadFieldType::kInteger;
constexpr PayloadFieldType kFloat = PayloadFieldType::kFloat;
constexpr PayloadFieldType kBool = PayloadFieldType::kBool;

std::unique_ptr<PayloadIndexSet> MustCreate(const std::vector<PayloadIndexOptions>& fields) {
  auto set = PayloadIndexSet::Create(fields);
  EXPECT_TRUE(set.ok()) << set.status().ToString();
  if (!set.ok()) return nullptr;
  return std::move(set).value();
}

std::string CreateError(const std::vector<PayloadIndexOptions>& fields) {
  auto set = PayloadIndexSet::Create(fields);
  EXPECT_FALSE(set.ok());
  if (set.ok()) return "";
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  return std::string(set.status().message());
}

Filter MustParse(const std::string& text) {
  auto f = Filter::Parse(text);
  EXPECT_TRUE(f.ok()) << text << ": " << f.status().ToString();
  if (!f.ok()) return *Filter::Parse("{}");
  return *f;
}

// What a Narrow call did, for assertions.
enum class Outcome { kNone, kExact, kInexact };

// An index plus the payloads it was built from, so Narrow can be checked against Matches.
class Harness {
 public:
  explicit Harness(std::vector<PayloadIndexOptions> fields) : index_(MustCreate(fields)) {}

  PayloadIndexSet& index() { return *index_; }

  // Stores `payload` at `slot` (replacing what was there) and marks it live.
  void Put(uint32_t slot, const json& payload) {
    Status s = index_->Check(payload);
    ASSERT_TRUE(s.ok()) << payload.dump() << ": " << s.ToString();
    Grow(slot);
    index_->Set(slot, index_->Entries(payload));
    payloads_[slot] = payload;
    live_[slot] = 1;
  }
  void Put(uint32_t slot, const char* text) { Put(slot, json::parse(text)); }

  // A live point without a payload (evaluated as {}); the index holds nothing for it.
  void PutEmpty(uint32_t slot) {
    Grow(slot);
    index_->Clear(slot);
    payloads_[slot] = json::object();
    live_[slot] = 1;
  }

  void Delete(uint32_t slot) {
    Grow(slot);
    index_->Clear(slot);
    payloads_[slot] = json::object();
    live_[slot] = 0;
  }

  size_t slots() const { return live_.size(); }
  const std::vector<uint8_t>& live() const { return live_; }
  const json& payload(uint32_t slot) const { return payloads_[slot]; }

  // The live slots that match, by Filter::Matches.
  std::vector<uint8_t> Expected(const Filter& filter) const {
    std::vector<uint8_t> out(live_.size(), 0);
    for (size_t s = 0; s < live_.size(); ++s) out[s] = live_[s] && filter.Matches(payloads_[s]);
    return out;
  }

  // Narrows `filter` and checks the contract against Matches; returns what happened.
  Outcome Check(const Filter& filter, const std::string& label) const {
    auto narrowed = index_->Narrow(filter, live_.data(), live_.size());
    if (!narrowed.has_value()) return Outcome::kNone;
    std::vector<uint8_t> expected = Expected(filter);
    EXPECT_EQ(narrowed->mask.size(), live_.size()) << label;
    if (narrowed->mask.size() != live_.size()) return Outcome::kNone;
    uint64_t count = 0;
    for (size_t s = 0; s < live_.size(); ++s) {
      bool marked = narrowed->mask[s] != 0;
      count += marked;
      EXPECT_FALSE(marked && !live_[s]) << label << ": dead slot " << s << " marked";
      EXPECT_FALSE(expected[s] && !marked)
          << label << ": slot " << s << " matches but is not a candidate; payload "
          << payloads_[s].dump();
      if (narrowed->exact) {
        EXPECT_EQ(marked, expected[s] != 0)
            << label << ": exact mask differs at slot " << s << "; payload " << payloads_[s].dump();
      }
    }
    EXPECT_EQ(narrowed->count, count) << label;
    return narrowed->exact ? Outcome::kExact : Outcome::kInexact;
  }

  Outcome Check(const std::string& filter_text) const {
    return Check(MustParse(filter_text), filter_text);
  }

  // The candidate slots, or nullopt.
  std::optional<std::vector<uint32_t>> Candidates(const std::string& filter_text) const {
    auto narrowed = index_->Narrow(MustParse(filter_text), live_.data(), live_.size());
    if (!narrowed.has_value()) return std::nullopt;
    std::vector<uint32_t> out;
    for (size_t s = 0; s < narrowed->mask.size(); ++s) {
      if (narrowed->mask[s]) out.push_back(static_cast<uint32_t>(s));
    }
    return out;
  }

 private:
  void Grow(uint32_t slot) {
    if (slot >= live_.size()) {
      live_.resize(slot + 1, 0);
      payloads_.resize(slot + 1, json::object());
    }
  }

  std::unique_ptr<PayloadIndexSet> index_;
  std::vector<uint8_t> live_;
  std::vector<json> payloads_;
};

#define EXPECT_EXACT(h, filter) EXPECT_EQ((h).Check(filter), Outcome::kExact) << (filter)
#define EXPECT_INEXACT(h, filter) EXPECT_EQ((h).Check(filter), Outcome::kInexact) << (filter)
#define EXPECT_NOT_NARROWED(h, filter) EXPECT_EQ((h).Check(filter), Outcome::kNone) << (filter)

// ---------------------------------------------------------------------------------------------
// Create

TEST(PayloadIndexCreate, AcceptsValidDeclarations) {
  auto set = MustCreate({F("genre", kKeyword), F("year", kInteger), F("rating", kFloat),
                         F("flags.new", kBool), F("a$b", kKeyword), F("x.$y", kKeyword)});
  ASSERT_NE(set, nullptr);
  ASSERT_EQ(set->fields().size(), 6u);
  EXPECT_EQ(set->fields()[1].field, "year");
  EXPECT_EQ(set->fields()[1].type, kInteger);
  EXPECT_NE(MustCreate({}), nullptr);
}

TEST(PayloadIndexCreate, RejectsBadPaths) {
  EXPECT_EQ(CreateError({F("", kKeyword)}), "payload index field: the name is empty");
  EXPECT_EQ(CreateError({F("a..b", kKeyword)}),
            "payload index field 'a..b': the path has an empty segment");
  EXPECT_EQ(CreateError({F(".a", kKeyword)}),
            "payload index field '.a': the path has an empty segment");
  EXPECT_EQ(CreateError({F("a.", kKeyword)}),
            "payload index field 'a.': the path has an empty segment");
  EXPECT_EQ(CreateError({F("$a", kKeyword)}),
            "payload index field '$a': starts with '$', which filters read as an operator");
  EXPECT_EQ(CreateError({F("a", static_cast<PayloadFieldType>(17))}),
            "payload index field 'a': unknown field type 17");
}

TEST(PayloadIndexCreate, RejectsDuplicatesAndNesting) {
  EXPECT_EQ(CreateError({F("a", kKeyword), F("b", kInteger), F("a", kKeyword)}),
            "payload index field 'a': declared twice");
  EXPECT_EQ(CreateError({F("a", kKeyword), F("a", kInteger)}),
            "payload index field 'a': declared twice");
  EXPECT_EQ(CreateError({F("a", kKeyword), F("a.b", kInteger)}),
            "payload index field 'a.b': nested inside or around the declared field 'a'; an "
            "indexed field holds no objects");
  EXPECT_EQ(CreateError({F("a.b.c", kKeyword), F("a", kInteger)}),
            "payload index field 'a': nested inside or around the declared field 'a.b.c'; an "
            "indexed field holds no objects");
  // Siblings and shared prefixes of names (not of paths) are fine.
  EXPECT_NE(MustCreate({F("a.b", kKeyword), F("a.c", kKeyword), F("ab", kKeyword)}), nullptr);
}

TEST(PayloadIndexCreate, AtMost64Fields) {
  std::vector<PayloadIndexOptions> fields;
  for (int k = 0; k < 64; ++k) fields.push_back(F("f" + std::to_string(k), kInteger));
  auto set = MustCreate(fields);
  ASSERT_NE(set, nullptr);
  // The last field works like the first.
  Harness h(fields);
  h.Put(0, R"({"f63": 5, "f0": 1})");
  h.Put(1, R"({"f63": 6})");
  EXPECT_EQ(h.Candidates(R"({"f63": 5})"), std::vector<uint32_t>{0});
  EXPECT_EXACT(h, R"({"f63": {"$gte": 5}, "f0": {"$exists": false}})");
  fields.push_back(F("f64", kInteger));
  EXPECT_EQ(CreateError(fields), "payload indexes: 65 fields declared, at most 64");
}

// ---------------------------------------------------------------------------------------------
// Check

std::string CheckError(const PayloadIndexSet& set, std::string_view payload) {
  Status s = set.Check(json::parse(payload));
  EXPECT_FALSE(s.ok()) << payload;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST(PayloadIndexCheck, TypeErrorsNameFieldAndType) {
  auto set = MustCreate({F("genre", kKeyword), F("year", kInteger), F("rating", kFloat),
                         F("flags.new", kBool)});
  EXPECT_EQ(CheckError(*set, R"({"year": "2001"})"),
            "field year is declared integer, got a string");
  EXPECT_EQ(CheckError(*set, R"({"genre": 5})"), "field genre is declared keyword, got a number");
  EXPECT_EQ(CheckError(*set, R"({"genre": true})"), "field genre is declared keyword, got a bool");
  EXPECT_EQ(CheckError(*set, R"({"rating": "high"})"),
            "field rating is declared float, got a string");
  EXPECT_EQ(CheckError(*set, R"({"rating": true})"), "field rating is declared float, got a bool");
  EXPECT_EQ(CheckError(*set, R"({"flags": {"new": 1}})"),
            "field flags.new is declared bool, got a number");
  EXPECT_EQ(CheckError(*set, R"({"year": {"value": 2001}})"),
            "field year is declared integer, got an object");
  EXPECT_EQ(CheckError(*set, R"({"year": 2000.5})"),
            "field year is declared integer, got 2000.5, not a whole number in the int64 range");
  EXPECT_EQ(CheckError(*set, R"({"year": 9223372036854775808})"),
            "field year is declared integer, got 9223372036854775808, not a whole number in the "
            "int64 range");
  EXPECT_EQ(CheckError(*set, R"({"year": 1e19})"),
            "field year is declared integer, got 1e+19, not a whole number in the int64 range");
}

TEST(PayloadIndexCheck, ArrayElements) {
  auto set = MustCreate({F("tags", kKeyword), F("years", kInteger)});
  EXPECT_TRUE(set->Check(json::parse(R"({"tags": ["a", "b", null], "years": [1, 2.0, null]})")).ok());
  EXPECT_TRUE(set->Check(json::parse(R"({"tags": [], "years": [null]})")).ok());
  EXPECT_EQ(CheckError(*set, R"({"tags": ["a", 1]})"),
            "field tags is declared keyword, got a number at element 1 of its array");
  EXPECT_EQ(CheckError(*set, R"({"tags": [["a"]]})"),
            "field tags is declared keyword, got an array at element 0 of its array");
  EXPECT_EQ(CheckError(*set, R"({"tags": [{"a": 1}]})"),
            "field tags is declared keyword, got an object at element 0 of its array");
  EXPECT_EQ(CheckError(*set, R"({"years": [1, 2, 3.5]})"),
            "field years is declared integer, got 3.5 at element 2 of its array, not a whole "
            "number in the int64 range");
}

TEST(PayloadIndexCheck, AcceptedValues) {
  auto set = MustCreate({F("i", kInteger), F("f", kFloat), F("b", kBool), F("k", kKeyword),
                         F("n.k", kKeyword)});
  for (const char* ok : {
           R"({})", R"({"i": null, "f": null, "b": null, "k": null})",
           R"({"i": 2.0, "f": 2})", R"({"i": -0.0})",
           R"({"i": 9223372036854775807, "f": 18446744073709551615})",
           R"({"i": -9223372036854775808, "f": -1e300})", R"({"i": 9.2e18})",
           R"({"f": 1.5, "b": false, "k": ""})", R"({"n": 5})", R"({"n": [{"k": 1}]})",
           R"({"n": {"k": "x", "other": {"deep": [1]}}})", R"({"unindexed": {"any": [1, "x"]}})"}) {
    Status s = set->Check(json::parse(ok));
    EXPECT_TRUE(s.ok()) << ok << ": " << s.ToString();
  }
  EXPECT_TRUE(set->Check(json::array({1, 2})).ok());  // not an object: no field is present
  EXPECT_TRUE(set->Check(json("text")).ok());
}

TEST(PayloadIndexCheck, NonFiniteNumbersBuiltInCode) {
  auto set = MustCreate({F("f", kFloat), F("i", kInteger)});
  json p = {{"f", std::numeric_limits<double>::quiet_NaN()}};
  Status s = set->Check(p);
  EXPECT_EQ(s.message(), "field f is declared float, got a non-finite number");
  p = {{"f", json::array({1.0, std::numeric_limits<double>::infinity()})}};
  EXPECT_EQ(set->Check(p).message(),
            "field f is declared float, got a non-finite number at element 1 of its array");
  p = {{"i", std::numeric_limits<double>::infinity()}};
  EXPECT_EQ(set->Check(p).message(), "field i is declared integer, got a non-finite number");
}

// ---------------------------------------------------------------------------------------------
// Entries

TEST(PayloadIndexEntries, OnePerValueDeduplicated) {
  auto set = MustCreate({F("tags", kKeyword), F("i", kInteger), F("f", kFloat), F("b", kBool)});
  EXPECT_TRUE(set->Entries(json::parse("{}")).empty());
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": "a"})")).size(), 1u);
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": ["a", "b", "a"]})")).size(), 2u);
  EXPECT_EQ(set->Entries(json::parse(R"({"i": [2, 2.0, 3]})")).size(), 2u);
  EXPECT_EQ(set->Entries(json::parse(R"({"f": [0, -0.0, 0.0, 1e0, 1]})")).size(), 2u);
  EXPECT_EQ(set->Entries(json::parse(R"({"f": [9007199254740992, 9007199254740993]})")).size(),
            2u);
  EXPECT_EQ(set->Entries(json::parse(R"({"b": [true, false, true]})")).size(), 2u);
  // null and [] have one marker entry each, so a present field always has an entry.
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": null})")).size(), 1u);
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": []})")).size(), 1u);
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": [null, null]})")).size(), 1u);
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": ["a", null]})")).size(), 2u);
  EXPECT_EQ(set->Entries(json::parse(R"({"tags": null})")),
            set->Entries(json::parse(R"({"tags": [null]})")));
  EXPECT_NE(set->Entries(json::parse(R"({"tags": null})")),
            set->Entries(json::parse(R"({"tags": []})")));
  // Unindexed fields give nothing.
  EXPECT_TRUE(set->Entries(json::parse(R"({"other": [1, 2], "x": "y"})")).empty());
}

TEST(PayloadIndexEntries, SortedUniqueNonEmptyAndPerField) {
  auto set = MustCreate({F("a", kKeyword), F("b", kKeyword), F("i", kInteger), F("f", kFloat)});
  auto entries = set->Entries(json::parse(
      R"({"a": ["x", "y", "x", ""], "b": "x", "i": [5, -5], "f": [5, 5.5, -1e300]})"));
  EXPECT_TRUE(std::is_sorted(entries.begin(), entries.end()));
  EXPECT_EQ(std::adjacent_find(entries.begin(), entries.end()), entries.end());
  EXPECT_EQ(entries.size(), 3u + 1u + 2u + 3u);
  for (const auto& e : entries) EXPECT_FALSE(e.empty());
  // The same value in two fields gives two entries; same for 5 in an integer and a float field.
  auto ab = set->Entries(json::parse(R"({"a": "x", "b": "x"})"));
  EXPECT_EQ(ab.size(), 2u);
  EXPECT_NE(ab[0], ab[1]);
  // Whole floats and integers share a canonical form within a field: 2 and 2.0 are one key.
  EXPECT_EQ(set->Entries(json::parse(R"({"f": 2})")), set->Entries(json::parse(R"({"f": 2.0})")));
  EXPECT_EQ(set->Entries(json::parse(R"({"f": 18446744073709551615})")).size(), 1u);
  EXPECT_EQ(set->Entries(json::parse(R"({"f": 1e19})")),
            set->Entries(json::parse(R"({"f": 10000000000000000000})")));
}

// ---------------------------------------------------------------------------------------------
// Set / Clear / EntriesOf / Add

TEST(PayloadIndexMaintenance, SetReplaceClear) {
  auto set = MustCreate({F("k", kKeyword), F("i", kInteger)});
  EXPECT_TRUE(set->EntriesOf(0).empty());
  EXPECT_TRUE(set->EntriesOf(1000000).empty());
  auto e1 = set->Entries(json::parse(R"({"k": ["a", "b"], "i": 1})"));
  set->Set(3, e1);
  EXPECT_EQ(set->EntriesOf(3), e1);
  EXPECT_TRUE(set->EntriesOf(2).empty());
  auto e2 = set->Entries(json::parse(R"({"k": "b", "i": 2})"));
  set->Set(3, e2);
  EXPECT_EQ(set->EntriesOf(3), e2);
  // Unsorted input with duplicates is normalised.
  std::vector<std::string> messy = {e1[2], e1[0], e1[2], e1[1]};
  set->Set(4, messy);
  EXPECT_EQ(set->EntriesOf(4), e1);
  set->Clear(3);
  EXPECT_TRUE(set->EntriesOf(3).empty());
  set->Clear(99);  // never set: fine
  EXPECT_EQ(set->EntriesOf(4), e1);

  std::vector<uint8_t> live(5, 1);
  auto n = set->Narrow(MustParse(R"({"k": "b"})"), live.data(), live.size());
  ASSERT_TRUE(n.has_value());
  EXPECT_TRUE(n->exact);
  EXPECT_EQ(n->count, 1u);
  EXPECT_EQ(n->mask, (std::vector<uint8_t>{0, 0, 0, 0, 1}));
}

TEST(PayloadIndexMaintenance, AddLoadsTheSameIndexAsSet) {
  std::vector<PayloadIndexOptions> fields = {F("k", kKeyword), F("i", kInteger), F("f", kFloat),
                                             F("b", kBool)};
  auto by_set = MustCreate(fields);
  auto by_add = MustCreate(fields);
  std::vector<json> payloads = {
      json::parse(R"({"k": ["a", "b"], "i": 1, "f": 1.5, "b": true})"),
      json::parse(R"({"k": null, "i": [1, 2], "f": [], "b": [false, null]})"),
      json::parse(R"({"k": "c", "f": 9007199254740993})"), json::parse(R"({})"),
      json::parse(R"({"i": -4, "b": false})")};
  for (uint32_t s = 0; s < payloads.size(); ++s) {
    auto entries = by_set->Entries(payloads[s]);
    by_set->Set(s, entries);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) by_add->Add(s, *it);
    by_add->Add(s, entries.empty() ? std::string("\x01\x69") : entries.front());  // duplicate
  }
  for (uint32_t s = 0; s < payloads.size(); ++s) {
    if (s == 3) continue;
    EXPECT_EQ(by_set->EntriesOf(s), by_add->EntriesOf(s)) << s;
  }
  std::vector<uint8_t> live(payloads.size(), 1);
  for (const char* f :
       {R"({"k": "a"})", R"({"i": {"$gte": 1}})", R"({"f": {"$exists": true}})", R"({"b": null})",
        R"({"f": []})", R"({"k": {"$exists": false}})", R"({"b": {"$ne": false}})"}) {
    auto a = by_set->Narrow(MustParse(f), live.data(), live.size());
    auto b = by_add->Narrow(MustParse(f), live.data(), live.size());
    ASSERT_TRUE(a.has_value() && b.has_value()) << f;
    EXPECT_EQ(a->mask, b->mask) << f;
    EXPECT_EQ(a->exact, b->exact) << f;
  }
}

TEST(PayloadIndexMaintenance, UndecodableEntriesAreKeptButIgnored) {
  auto set = MustCreate({F("k", kKeyword)});
  const std::string bogus[] = {std::string("\x07s", 2),      // field 7 is not declared
                               std::string("\x00i1", 3),     // wrong tag for a keyword field
                               std::string("\x00", 1),       // too short
                               std::string("\x00n!", 3)};    // marker with a body
  for (const auto& e : bogus) set->Add(0, e);
  set->Add(0, "");  // empty: ignored entirely
  EXPECT_EQ(set->EntriesOf(0).size(), 4u);  // so a delete removes their keys too
  std::vector<uint8_t> live = {1};
  auto n = set->Narrow(MustParse(R"({"k": {"$exists": true}})"), live.data(), 1);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->count, 0u);
  set->Clear(0);
  EXPECT_TRUE(set->EntriesOf(0).empty());
}

TEST(PayloadIndexMaintenance, MemoryGrowsAndShrinks) {
  auto set = MustCreate({F("k", kKeyword), F("i", kInteger)});
  size_t empty = set->MemoryBytes();
  EXPECT_GT(empty, 0u);
  for (uint32_t s = 0; s < 2000; ++s) {
    set->Set(s, set->Entries(json{{"k", "value-number-" + std::to_string(s % 50)},
                                  {"i", static_cast<int64_t>(s)}}));
  }
  size_t full = set->MemoryBytes();
  EXPECT_GT(full, empty + 2000 * 2 * sizeof(std::string));
  for (uint32_t s = 0; s < 2000; ++s) set->Clear(s);
  size_t cleared = set->MemoryBytes();
  EXPECT_LT(cleared, full / 2);
}

// ---------------------------------------------------------------------------------------------
// Narrow, operator by operator, on a fixed data set with every shape a declared field can take.

class NarrowTest : public ::testing::Test {
 protected:
  NarrowTest()
      : h_({F("genre", kKeyword), F("year", kInteger), F("rating", kFloat), F("new", kBool),
            F("tags", kKeyword), F("meta.lang", kKeyword)}) {}

  void SetUp() override {
    const char* payloads[] = {
        R"({"genre": "drama", "year": 2001, "rating": 4.5, "new": true, "tags": ["a", "b"]})",
        R"({"genre": "comedy", "year": 1999, "rating": 3, "new": false, "tags": ["b"]})",
        R"({"genre": "drama", "year": 2010.0, "rating": 9007199254740993, "tags": []})",
        R"({"genre": null, "year": null, "rating": null, "new": null, "tags": null})",
        R"({"genre": ["drama", "noir"], "year": [1950, 2020], "tags": ["a", null]})",
        R"({"other": 1})",
        R"({"genre": "Drama", "year": -5, "rating": -0.0, "new": [true, false], "tags": "a"})",
        R"({"genre": "", "rating": 18446744073709551615, "tags": [null], "meta": {"lang": "en"}})",
        R"({"rating": 2.5, "meta": {"lang": ["en", "fr"]}, "year": 9223372036854775807})",
        R"({"meta": "en", "tags": ["c", "a", "c"], "rating": [1, 1.0, 1e300]})",
        R"({"meta": {"lang": null}, "rating": 9007199254740992})",
        R"({"meta": {"lang": []}, "genre": "zzz", "year": -9223372036854775808})",
    };
    uint32_t slot = 0;
    for (const char* p : payloads) h_.Put(slot++, p);
    h_.PutEmpty(slot++);                            // live, no payload
    h_.Put(slot, R"({"genre": "drama", "year": 2001})");
    h_.Delete(slot++);                              // deleted: never a candidate
    h_.Put(slot++, R"({"genre": "drama", "year": 2001, "tags": ["b", "a"]})");
  }

  Harness h_;
};

TEST_F(NarrowTest, Equality) {
  for (const char* f : {
           R"({"genre": "drama"})", R"({"genre": {"$eq": "drama"}})", R"({"genre": "noir"})",
           R"({"genre": "nothing"})", R"({"genre": ""})", R"({"genre": null})",
           R"({"year": 2010})", R"({"year": 2010.0})", R"({"year": 2001})", R"({"year": -5.0})",
           R"({"year": 9223372036854775807})", R"({"year": -9223372036854775808})",
           R"({"rating": 0})", R"({"rating": -0.0})", R"({"rating": 3.0})", R"({"rating": 1})",
           R"({"rating": 9007199254740993})", R"({"rating": 9007199254740992})",
           R"({"rating": 9007199254740992.0})", R"({"rating": 18446744073709551615})",
           R"({"rating": 1e300})", R"({"new": true})", R"({"new": false})", R"({"new": null})",
           R"({"tags": "a"})", R"({"tags": null})", R"({"tags": "c"})",
           R"({"meta.lang": "en"})", R"({"meta.lang": null})"}) {
    EXPECT_EXACT(h_, f);
  }
  EXPECT_EQ(h_.Candidates(R"({"genre": "drama"})"), (std::vector<uint32_t>{0, 2, 4, 14}));
  EXPECT_EQ(h_.Candidates(R"({"year": 2010})"), (std::vector<uint32_t>{2}));
  EXPECT_EQ(h_.Candidates(R"({"rating": 0})"), (std::vector<uint32_t>{6}));
  EXPECT_EQ(h_.Candidates(R"({"tags": null})"), (std::vector<uint32_t>{3, 4, 7}));
}

TEST_F(NarrowTest, In) {
  for (const char* f : {
           R"({"genre": {"$in": ["drama", "comedy"]}})", R"({"genre": {"$in": []}})",
           R"({"genre": {"$in": [null, "noir"]}})", R"({"genre": {"$in": [1, true, null]}})",
           R"({"year": {"$in": [1999, 2010.0, 2000.5, "2001", 1950]}})",
           R"({"year": {"$in": [18446744073709551615, 9223372036854775807]}})",
           R"({"rating": {"$in": [4.5, 3, 0]}})", R"({"new": {"$in": [false, null]}})",
           R"({"new": {"$in": [true, false]}})", R"({"tags": {"$in": ["c", "x"]}})"}) {
    EXPECT_EXACT(h_, f);
  }
}

TEST_F(NarrowTest, NeAndNinIncludeMissingFields) {
  for (const char* f : {
           R"({"genre": {"$ne": "drama"}})", R"({"genre": {"$ne": null}})",
           R"({"tags": {"$ne": "a"}})", R"({"tags": {"$nin": ["a", "b"]}})",
           R"({"tags": {"$nin": []}})", R"({"year": {"$ne": 2010}})",
           R"({"year": {"$ne": "2010"}})", R"({"rating": {"$nin": [0, 9007199254740993]}})",
           R"({"new": {"$ne": true}})", R"({"meta.lang": {"$ne": "en"}})"}) {
    EXPECT_EXACT(h_, f);
  }
  // {"tags": {"$ne": "a"}} is "no element is a": it keeps points without tags and with [].
  EXPECT_EQ(h_.Candidates(R"({"tags": {"$ne": "a"}})"),
            (std::vector<uint32_t>{1, 2, 3, 5, 7, 8, 10, 11, 12}));
}

TEST_F(NarrowTest, Ranges) {
  for (const char* f : {
           R"({"year": {"$gt": 2000}})", R"({"year": {"$gte": 2001}})",
           R"({"year": {"$lt": 2000.5}})", R"({"year": {"$lte": 2010.0}})",
           R"({"year": {"$gt": 2000.5, "$lt": 2001.5}})", R"({"year": {"$gt": 1e300}})",
           R"({"year": {"$lt": -1e300}})", R"({"year": {"$gte": 18446744073709551615}})",
           R"({"year": {"$gt": 9223372036854775806}})", R"({"year": {"$gt": "2000"}})",
           R"({"rating": {"$gt": 9007199254740992}})", R"({"rating": {"$gte": 9007199254740992.0}})",
           R"({"rating": {"$lt": 0}})", R"({"rating": {"$lte": 0}})", R"({"rating": {"$gt": -0.5}})",
           R"({"rating": {"$gt": 1e19}})", R"({"rating": {"$lt": 18446744073709551616.0}})",
           R"({"genre": {"$gt": "drama"}})", R"({"genre": {"$gte": "Drama"}})",
           R"({"genre": {"$lt": "d"}})", R"({"genre": {"$lte": ""}})", R"({"genre": {"$gt": 5}})",
           R"({"tags": {"$gt": "a"}})", R"({"new": {"$gt": 0}})", R"({"new": {"$lt": "z"}})",
           R"({"meta.lang": {"$gte": "en"}})"}) {
    EXPECT_EXACT(h_, f);
  }
  // Each operator on a field is tested on its own: [1950, 2020] is in "> 2000 and < 2000".
  EXPECT_EQ(h_.Candidates(R"({"year": {"$gt": 2000, "$lt": 2000}})"),
            (std::vector<uint32_t>{4}));
}

TEST_F(NarrowTest, Exists) {
  for (const char* f : {
           R"({"genre": {"$exists": true}})", R"({"genre": {"$exists": false}})",
           R"({"tags": {"$exists": true}})", R"({"tags": {"$exists": false}})",
           R"({"meta.lang": {"$exists": true}})", R"({"meta.lang": {"$exists": false}})",
           R"({"new": {"$exists": true, "$ne": null}})"}) {
    EXPECT_EXACT(h_, f);
  }
  // null, [] and [null] are present.
  EXPECT_EQ(h_.Candidates(R"({"meta.lang": {"$exists": true}})"),
            (std::vector<uint32_t>{7, 8, 10, 11}));
}

TEST_F(NarrowTest, TypeMismatchesAreExact) {
  for (const char* f : {
           R"({"year": "2001"})", R"({"year": 2001.5})", R"({"genre": 1})", R"({"new": 1})",
           R"({"new": "true"})", R"({"rating": "4.5"})", R"({"year": {"$ne": "2001"}})",
           R"({"genre": {"$nin": [1, 2]}})", R"({"genre": {"$gt": 0}})", R"({"year": {"$lt": "z"}})",
           R"({"genre": {"$eq": {"a": 1}}})", R"({"genre": {"$ne": {"a": 1}}})",
           R"({"genre": {"$eq": ["drama", 1]}})", R"({"genre": {"$ne": ["drama", 1]}})",
           R"({"genre": {"$eq": [["drama"]]}})", R"({"year": {"$eq": [2000.5]}})"}) {
    EXPECT_EXACT(h_, f);
  }
}

TEST_F(NarrowTest, WholeArrayEquality) {
  // [] is answered by its marker.
  EXPECT_EXACT(h_, R"({"tags": []})");
  EXPECT_EXACT(h_, R"({"tags": {"$ne": []}})");
  EXPECT_EXACT(h_, R"({"meta.lang": {"$eq": []}})");
  EXPECT_EQ(h_.Candidates(R"({"tags": []})"), (std::vector<uint32_t>{2}));
  // A longer array: the slots holding all its elements, to be checked against the payload.
  EXPECT_INEXACT(h_, R"({"tags": ["a", "b"]})");
  EXPECT_EQ(h_.Candidates(R"({"tags": ["a", "b"]})"), (std::vector<uint32_t>{0, 14}));
  EXPECT_INEXACT(h_, R"({"tags": ["a", null]})");
  EXPECT_INEXACT(h_, R"({"year": [1950, 2020.0]})");
  // The negation of an inexact set cannot be narrowed.
  EXPECT_NOT_NARROWED(h_, R"({"tags": {"$ne": ["a", "b"]}})");
  // Elements no slot holds: exact empty.
  EXPECT_EXACT(h_, R"({"tags": ["a", "zz"]})");
  EXPECT_EQ(h_.Candidates(R"({"tags": ["a", "zz"]})"), std::vector<uint32_t>{});
}

TEST_F(NarrowTest, Logic) {
  for (const char* f : {
           R"({})", R"({"$not": {}})", R"({"genre": "drama", "year": {"$gte": 2001}})",
           R"({"$or": [{"genre": "comedy"}, {"year": {"$lt": 0}}]})",
           R"({"$not": {"genre": "drama"}})", R"({"$not": {"$not": {"genre": "drama"}}})",
           R"({"$not": {"$or": [{"tags": "a"}, {"new": true}]}})",
           R"({"$and": [{"tags": "a"}, {"tags": "b"}]})",
           R"({"$or": [{"genre": {"$exists": false}}, {"genre": null}]})",
           R"({"$not": {"genre": "drama", "year": 2001}})",
           R"({"$and": [{"$or": [{"genre": "drama"}, {"new": false}]}, {"$not": {"tags": "b"}}]})"}) {
    EXPECT_EXACT(h_, f);
  }
  EXPECT_EQ(h_.Candidates(R"({})").value().size(), 14u);  // every live slot
  EXPECT_EQ(h_.Candidates(R"({"$not": {}})").value().size(), 0u);
}

TEST_F(NarrowTest, UnindexedFields) {
  // Nothing indexed: no narrowing at all.
  EXPECT_NOT_NARROWED(h_, R"({"other": 1})");
  EXPECT_NOT_NARROWED(h_, R"({"meta": {"$exists": true}})");  // "meta" itself is not declared
  EXPECT_NOT_NARROWED(h_, R"({"$or": [{"genre": "drama"}, {"other": 1}]})");
  EXPECT_NOT_NARROWED(h_, R"({"$not": {"genre": "drama", "other": 1}})");
  EXPECT_NOT_NARROWED(h_, R"({"other": {"$in": [1], "$nin": []}})");
  // AND with an unindexed part: a superset.
  EXPECT_INEXACT(h_, R"({"genre": "drama", "other": 1})");
  EXPECT_INEXACT(h_, R"({"$and": [{"year": {"$gt": 0}}, {"$not": {"other": 1}}]})");
  EXPECT_INEXACT(h_, R"({"$or": [{"genre": "drama", "other": 1}, {"year": 1999}]})");
  // Conditions that hold or fail whatever the value are known without an index.
  EXPECT_EXACT(h_, R"({"other": {"$in": []}})");
  EXPECT_EXACT(h_, R"({"other": {"$nin": []}})");
  EXPECT_EXACT(h_, R"({"other": {"$in": []}, "foo": 1})");
  EXPECT_EXACT(h_, R"({"$or": [{"genre": "drama"}, {"other": {"$in": []}}]})");
  // An empty AND result is exact whatever was skipped.
  EXPECT_EXACT(h_, R"({"genre": "nothing", "other": 1})");
  // Paths below a declared field never reach a value: always missing.
  for (const char* f : {R"({"genre.x": "drama"})", R"({"genre.x": {"$exists": false}})",
                        R"({"genre.x": {"$ne": 1}})", R"({"meta.lang.y.z": {"$exists": true}})",
                        R"({"year.a": {"$nin": [1]}, "genre": "drama"})"}) {
    EXPECT_EXACT(h_, f);
  }
}

TEST_F(NarrowTest, SlotsBeyondTheLiveArrayAreIgnored) {
  std::vector<uint8_t> live(h_.live().begin(), h_.live().begin() + 3);
  auto n = h_.index().Narrow(MustParse(R"({"genre": "drama"})"), live.data(), live.size());
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->mask, (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(n->count, 2u);
  auto none = h_.index().Narrow(MustParse(R"({"genre": {"$exists": false}})"), live.data(), 0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->mask.empty());
  EXPECT_EQ(none->count, 0u);
}

TEST_F(NarrowTest, ConcurrentNarrow) {
  Filter f = MustParse(R"({"$or": [{"genre": "drama"}, {"year": {"$lt": 0}}]})");
  auto expected = h_.index().Narrow(f, h_.live().data(), h_.slots());
  ASSERT_TRUE(expected.has_value());
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      bool all = true;
      for (int k = 0; k < 200; ++k) {
        auto n = h_.index().Narrow(f, h_.live().data(), h_.slots());
        all = all && n.has_value() && n->mask == expected->mask;
      }
      ok[t] = all;
    });
  }
  for (auto& t : threads) t.join();
  for (int v : ok) EXPECT_TRUE(v);
}

// ---------------------------------------------------------------------------------------------
// Randomized equivalence with Filter::Matches.

// Seeded generators of payload values and filters over a small vocabulary, so that equalities
// and ranges hit often. Fields:
//   kw (keyword), i (integer), f (float), b (bool), tags (keyword, mostly arrays),
//   o.k (keyword, nested)                                   -- indexed
//   u, o.u                                                  -- not indexed
class Random {
 public:
  explicit Random(uint32_t seed) : rng_(seed) {}

  int Int(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Int(static_cast<int>(v.size()))]; }

  json String() {
    static const std::vector<std::string> kStrings = {"a", "b", "c", "", "ab", "B", "é", "zz"};
    return Pick(kStrings);
  }
  json Integer() {
    switch (Int(6)) {
      case 0: return static_cast<int64_t>(Int(7) - 3);
      case 1: return static_cast<double>(Int(7) - 3);  // whole double: 2.0
      case 2: return static_cast<uint64_t>(Int(4));    // as nlohmann's unsigned
      case 3: return std::numeric_limits<int64_t>::max();
      case 4: return std::numeric_limits<int64_t>::min();
      default: return int64_t{9007199254740993};
    }
  }
  json Float() {
    switch (Int(10)) {
      case 0: return Integer();
      case 1: return -0.0;
      case 2: return 0.5 * (Int(9) - 4);
      case 3: return int64_t{9007199254740992};
      case 4: return 9007199254740992.0;
      case 5: return std::numeric_limits<uint64_t>::max();
      case 6: return 1e19;
      case 7: return Chance(0.5) ? 1e300 : -1e300;
      case 8: return 18446744073709551616.0;  // 2^64
      default: return static_cast<int64_t>(Int(5));
    }
  }
  json Bool() { return Chance(0.5); }
  json Scalar() {
    switch (Int(5)) {
      case 0: return String();
      case 1: return Integer();
      case 2: return Float();
      case 3: return Bool();
      default: return nullptr;
    }
  }
  // Anything, for unindexed fields and $eq operands.
  json Any(int depth = 0) {
    int kind = Int(depth >= 2 ? 5 : 7);
    if (kind < 5) return Scalar();
    if (kind == 5) {
      json a = json::array();
      for (int n = Int(4); n > 0; --n) a.push_back(Any(depth + 1));
      return a;
    }
    json o = json::object();
    for (int n = Int(3); n > 0; --n) o[Pick(std::vector<std::string>{"a", "k", "u"})] = Any(depth + 1);
    return o;
  }

  // A value of `type`, or sometimes null.
  json Typed(PayloadFieldType type) {
    if (Chance(0.08)) return nullptr;
    switch (type) {
      case PayloadFieldType::kKeyword: return String();
      case PayloadFieldType::kInteger: return Integer();
      case PayloadFieldType::kFloat: return Float();
      case PayloadFieldType::kBool: return Bool();
    }
    return nullptr;
  }
  // A declared field's value: scalar, null, or an array of them (possibly empty, with nulls).
  json FieldValue(PayloadFieldType type, double array_chance) {
    if (Chance(array_chance)) {
      json a = json::array();
      for (int n = Int(4); n > 0; --n) a.push_back(Typed(type));
      return a;
    }
    return Typed(type);
  }

  json Payload() {
    json p = json::object();
    if (Chance(0.7)) p["kw"] = FieldValue(kKeyword, 0.2);
    if (Chance(0.7)) p["i"] = FieldValue(kInteger, 0.2);
    if (Chance(0.7)) p["f"] = FieldValue(kFloat, 0.2);
    if (Chance(0.6)) p["b"] = FieldValue(kBool, 0.2);
    if (Chance(0.7)) p["tags"] = FieldValue(kKeyword, 0.8);
    if (Chance(0.5)) p["u"] = Any();
    switch (Int(5)) {
      case 0: break;
      case 1: p["o"] = Scalar(); break;  // "o.k" missing through a scalar
      case 2: p["o"] = json::array({json::object({{"k", "a"}})}); break;  // paths skip arrays
      default: {
        json o = json::object();
        if (Chance(0.7)) o["k"] = FieldValue(kKeyword, 0.3);
        if (Chance(0.5)) o["u"] = Any();
        p["o"] = o;
      }
    }
    return p;
  }

  // An operand for $eq/$ne/$in: mostly scalars near the data, sometimes structures.
  json EqOperand() {
    int kind = Int(10);
    if (kind < 7) return Scalar();
    if (kind == 7) return json::array();
    if (kind == 8) {
      json a = json::array();
      for (int n = 1 + Int(2); n > 0; --n) a.push_back(Chance(0.85) ? Scalar() : Any(1));
      return a;
    }
    return Chance(0.5) ? json::object() : json::object({{"a", Scalar()}});
  }
  json RangeOperand() {
    switch (Int(3)) {
      case 0: return String();
      case 1: return Integer();
      default: {
        json f = Float();
        return f;
      }
    }
  }

  std::string Path() {
    static const std::vector<std::string> kPaths = {"kw", "i", "f", "b", "tags", "o.k",
                                                    "u", "o.u", "o", "kw.x", "i.y.z"};
    // Mostly indexed fields, so most filters can be narrowed.
    if (Chance(0.75)) return kPaths[Int(6)];
    return Pick(kPaths);
  }

  json Operators() {
    json ops = json::object();
    for (int n = 1 + (Chance(0.25) ? Int(2) + 1 : 0); n > 0; --n) {
      switch (Int(11)) {
        case 0: ops["$eq"] = EqOperand(); break;
        case 1: ops["$ne"] = EqOperand(); break;
        case 2: ops["$gt"] = RangeOperand(); break;
        case 3: ops["$gte"] = RangeOperand(); break;
        case 4: ops["$lt"] = RangeOperand(); break;
        case 5: ops["$lte"] = RangeOperand(); break;
        case 6:
        case 7: {
          json list = json::array();
          for (int k = Int(4); k > 0; --k) list.push_back(Scalar());
          ops[Chance(0.5) ? "$in" : "$nin"] = list;
          break;
        }
        case 8: ops["$exists"] = Chance(0.5); break;
        default: ops["$eq"] = Scalar(); break;
      }
    }
    return ops;
  }

  json Filter(int depth = 0) {
    int kind = Int(depth >= 3 ? 3 : 7);
    if (kind < 3) {
      json f = json::object();
      for (int n = 1 + (Chance(0.3) ? 1 : 0); n > 0; --n) {
        json ops = Operators();
        // The shorthand for scalars and arrays ({"x": 1}); objects need $eq.
        if (ops.size() == 1 && ops.contains("$eq") && !ops["$eq"].is_object() && Chance(0.5)) {
          f[Path()] = ops["$eq"];
        } else {
          f[Path()] = ops;
        }
      }
      return f;
    }
    if (kind == 3) return json::object({{"$not", Filter(depth + 1)}});
    json children = json::array();
    for (int n = 1 + Int(3); n > 0; --n) children.push_back(Filter(depth + 1));
    if (kind == 6 && Chance(0.3)) return json::object();  // {}
    return json::object({{kind == 4 ? "$or" : "$and", children}});
  }

 private:
  std::mt19937 rng_;
};

const std::vector<PayloadIndexOptions> kRandomFields = {
    F("kw", kKeyword), F("i", kInteger), F("f", kFloat),
    F("b", kBool),     F("tags", kKeyword), F("o.k", kKeyword)};

struct Tally {
  int exact = 0;
  int inexact = 0;
  int none = 0;
  void Count(Outcome o) {
    (o == Outcome::kExact ? exact : o == Outcome::kInexact ? inexact : none) += 1;
  }
};

// Checks `filters` random filters against the harness; returns how they were answered.
Tally CheckRandomFilters(const Harness& h, Random* rnd, int filters) {
  Tally tally;
  for (int n = 0; n < filters; ++n) {
    json fj = rnd->Filter();
    auto filter = Filter::FromJson(fj);
    if (!filter.ok()) {
      ADD_FAILURE() << "generated an invalid filter " << fj.dump() << ": "
                    << filter.status().ToString();
      continue;
    }
    tally.Count(h.Check(*filter, fj.dump()));
    if (::testing::Test::HasFailure()) break;  // one clear report beats thousands
  }
  return tally;
}

TEST(PayloadIndexRandom, NarrowAgreesWithMatches) {
  Tally total;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Random rnd(seed);
    Harness h(kRandomFields);
    int slots = 50 + rnd.Int(250);
    for (int s = 0; s < slots; ++s) {
      if (rnd.Chance(0.1)) {
        h.Delete(s);
      } else if (rnd.Chance(0.05)) {
        h.PutEmpty(s);
      } else {
        h.Put(s, rnd.Payload());
      }
    }
    Tally t = CheckRandomFilters(h, &rnd, 400);
    total.exact += t.exact;
    total.inexact += t.inexact;
    total.none += t.none;
    ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed;
  }
  // The generator must exercise every outcome, mostly exact ones.
  EXPECT_GT(total.exact, 8000);
  EXPECT_GT(total.inexact, 300);
  EXPECT_GT(total.none, 300);
  std::printf("random filters: %d exact, %d inexact, %d not narrowed\n", total.exact,
              total.inexact, total.none);
}

TEST(PayloadIndexRandom, IncrementalUpdatesStayEquivalent) {
  for (uint32_t seed = 100; seed < 112; ++seed) {
    Random rnd(seed);
    Harness h(kRandomFields);
    const int slots = 300;
    for (int round = 0; round < 25; ++round) {
      for (int op = 0; op < 60; ++op) {
        uint32_t s = rnd.Int(slots);
        int what = rnd.Int(10);
        if (what < 6) {
          h.Put(s, rnd.Payload());  // insert or replace
        } else if (what < 8) {
          h.Delete(s);
        } else if (what < 9) {
          h.PutEmpty(s);
        } else {
          // Replace with a near copy: most entries stay, some change.
          json p = s < h.slots() ? h.payload(s) : json::object();
          p["kw"] = rnd.FieldValue(kKeyword, 0.2);
          h.Put(s, p);
        }
      }
      CheckRandomFilters(h, &rnd, 60);
      ASSERT_FALSE(::testing::Test::HasFailure()) << "seed " << seed << " round " << round;
    }
    // A fresh index loaded entry by entry (as on open) answers the same.
    auto loaded = MustCreate(kRandomFields);
    for (uint32_t s = 0; s < h.slots(); ++s) {
      for (const auto& e : h.index().EntriesOf(s)) loaded->Add(s, e);
      EXPECT_EQ(loaded->EntriesOf(s), h.index().EntriesOf(s));
    }
    for (int n = 0; n < 100; ++n) {
      Filter f = *Filter::FromJson(rnd.Filter());
      auto a = h.index().Narrow(f, h.live().data(), h.slots());
      auto b = loaded->Narrow(f, h.live().data(), h.slots());
      ASSERT_EQ(a.has_value(), b.has_value());
      if (a.has_value()) {
        EXPECT_EQ(a->mask, b->mask);
        EXPECT_EQ(a->exact, b->exact);
      }
    }
  }
}

// Many slots and few values: postings turn into bitmaps and back as slots come and go.
TEST(PayloadIndexRandom, DenseAndSparsePostings) {
  Random rnd(7);
  Harness h({F("k", kKeyword), F("n", kInteger), F("b", kBool)});
  const int slots = 6000;
  auto payload = [&](int variety) {
    json p = json::object();
    p["k"] = std::string(1, static_cast<char>('a' + rnd.Int(variety)));
    p["n"] = rnd.Int(variety * 3);
    if (rnd.Chance(0.5)) p["b"] = rnd.Chance(0.5);
    return p;
  };
  const char* filters[] = {
      R"({"k": "a"})", R"({"k": {"$ne": "b"}})", R"({"n": {"$gte": 2, "$lt": 5}})",
      R"({"b": true})", R"({"b": {"$exists": false}})",
      R"({"$or": [{"k": "c"}, {"b": false}]})", R"({"$not": {"n": {"$in": [0, 1, 2]}}})"};
  for (int s = 0; s < slots; ++s) h.Put(s, payload(3));  // dense values
  for (const char* f : filters) EXPECT_EXACT(h, f);
  for (int s = 0; s < slots - 1; ++s) {  // thin out: bitmaps turn back into slot lists
    if (rnd.Chance(0.995)) h.Delete(s);
  }
  for (const char* f : filters) EXPECT_EXACT(h, f);
  for (int s = 0; s < slots; s += 2) h.Put(s, payload(20));  // many values, then dense again
  for (const char* f : filters) EXPECT_EXACT(h, f);
  for (int s = slots - 1; s >= 0; --s) h.Put(s, payload(2));  // descending inserts
  for (const char* f : filters) EXPECT_EXACT(h, f);
  for (int s = 0; s < slots; ++s) h.Delete(s);
  for (const char* f : filters) EXPECT_EXACT(h, f);
  EXPECT_EQ(h.Candidates(R"({"k": {"$exists": false}})")->size(), 0u);  // nothing live
}

// A dense posting that suddenly gets a far slot goes back to a slot list without losing any.
TEST(PayloadIndexRandom, DensePostingGetsAFarSlot) {
  Harness h({F("k", kKeyword)});
  for (uint32_t s = 0; s < 200; ++s) h.Put(s, s % 7 == 0 ? R"({"k": "b"})" : R"({"k": "a"})");
  h.Put(200000, R"({"k": "a"})");
  h.Put(200001, R"({"k": "b"})");
  EXPECT_EXACT(h, R"({"k": "a"})");
  EXPECT_EXACT(h, R"({"k": {"$ne": "b"}})");
  auto a = h.Candidates(R"({"k": "a"})");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->size(), 200u - 29u + 1u);
  EXPECT_EQ(a->front(), 1u);
  EXPECT_EQ(a->back(), 200000u);
}

}  // namespace
}  // namespace sextant::payload
