// Every error path of the collection API (collection.h): the code, a message that names the
// point (index and id) and the field, and the atomicity of a failing batch (nothing written,
// not even after reopening).
#include <array>
#include <functional>
#include <limits>

#include "engine_test_helpers.h"

namespace sextant {
namespace {

using ::sextant::testing::MentionsNumber;
using ::sextant::testing::MustCreate;
using ::sextant::testing::MustOpen;
using ::sextant::testing::NumericIds;
using ::sextant::testing::TempDir;

constexpr size_t kDim = 4;
constexpr size_t kMaxPayload = 200;
constexpr size_t kBatch = 100;
constexpr size_t kBad = 57;
constexpr size_t kPreexisting = 10;  // the batch's first ids exist before it

// The id of point i of the test batch: distinct digits from i itself, so that a message naming
// index 57 cannot pass by naming the id and vice versa.
std::string BatchId(size_t i) { return "pt" + std::to_string(1000 + 7 * i); }

// One way to spoil a point of a batch.
struct Defect {
  std::string name;
  bool cosine_only = false;
  // Spoils point `i` of (ids, vectors, payloads).
  std::function<void(size_t i, std::vector<PointId>&, std::vector<float>&, std::vector<std::string>&)> apply;
  // Words the message must contain (besides the index); the id is checked when names_id.
  std::vector<std::string> words;
  bool names_id = true;
};

void PrintTo(const Defect& d, std::ostream* os) { *os << d.name; }

std::vector<Defect> Defects() {
  auto set_component = [](float value) {
    return [value](size_t i, std::vector<PointId>&, std::vector<float>& v, std::vector<std::string>&) {
      v[i * kDim + 2] = value;
    };
  };
  auto set_payload = [](std::string text) {
    return [text](size_t i, std::vector<PointId>&, std::vector<float>&, std::vector<std::string>& p) {
      p[i] = text;
    };
  };
  auto set_id = [](PointId id) {
    return [id](size_t i, std::vector<PointId>& ids, std::vector<float>&, std::vector<std::string>&) {
      ids[i] = id;
    };
  };
  const float inf = std::numeric_limits<float>::infinity();
  return {
      {"NaN", false, set_component(std::numeric_limits<float>::quiet_NaN()), {"vector"}},
      {"SignalingNaN", false, set_component(std::numeric_limits<float>::signaling_NaN()), {"vector"}},
      {"PlusInf", false, set_component(inf), {"vector"}},
      {"MinusInf", false, set_component(-inf), {"vector"}},
      {"ZeroVectorInCosine", true,
       [](size_t i, std::vector<PointId>&, std::vector<float>& v, std::vector<std::string>&) {
         std::fill(v.begin() + i * kDim, v.begin() + (i + 1) * kDim, 0.0f);
       },
       {"vector"}},
      {"EmptyStringId", false, set_id(PointId("")), {"id"}, /*names_id=*/false},
      {"IdOf513Bytes", false, set_id(PointId("long-" + std::string(508, 'z'))), {"id", "long-zzzz"}, false},
      {"PayloadArray", false, set_payload("[1,2]"), {"payload"}},
      {"PayloadString", false, set_payload(R"("text")"), {"payload"}},
      {"PayloadNumber", false, set_payload("5"), {"payload"}},
      {"PayloadNull", false, set_payload("null"), {"payload"}},
      {"PayloadBool", false, set_payload("true"), {"payload"}},
      {"PayloadInvalidJson", false, set_payload(R"({"a":)"), {"payload"}},
      {"PayloadTrailingGarbage", false, set_payload(R"({"a":1} x)"), {"payload"}},
      {"PayloadTwoObjects", false, set_payload(R"({"a":1}{"b":2})"), {"payload"}},
      {"PayloadOverLimit", false, set_payload(R"({"k":")" + std::string(kMaxPayload, 'x') + R"("})"),
       {"payload"}},
  };
}

// The metric a defect is tried in: cosine when it needs it, else the metrics in turn.
Metric MetricFor(const Defect& d) {
  if (d.cosine_only) return Metric::kCosine;
  const auto all = Defects();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == d.name) return std::array{Metric::kL2, Metric::kInnerProduct, Metric::kCosine}[i % 3];
  }
  return Metric::kL2;
}

class BadPointTest : public ::testing::TestWithParam<Defect> {
 protected:
  static void SetUpTestSuite() {
    DatabaseOptions o;
    o.max_payload_bytes = kMaxPayload;
    testing::SharedDatabase::Open(o);
  }
  static void TearDownTestSuite() { testing::SharedDatabase::Close(); }
  void SetUp() override {
    const Metric metric = MetricFor(GetParam());
    ASSERT_NE(testing::SharedDatabase::db(), nullptr);
    c_ = MustCreate(testing::SharedDatabase::db(), testing::TestCollectionName(), kDim, metric);
    ASSERT_NE(c_, nullptr);
    // Points that exist before the batch: the batch would replace the first kPreexisting.
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (size_t i = 0; i < kPreexisting; ++i) {
      ids.emplace_back(BatchId(i));
      payloads.push_back(R"({"old":)" + std::to_string(i) + "}");
    }
    ids.emplace_back(uint64_t{424242});
    payloads.emplace_back();
    old_vectors_ = testing::RandomVectors(ids.size(), kDim, 1);
    ASSERT_OK(c_->Upsert({}, ids, old_vectors_, payloads));
    ASSERT_OK_AND_ASSIGN(before_, c_->Get(PointId(BatchId(3))));
  }

  // Checks the collection holds exactly what SetUp wrote.
  void ExpectUnchanged(Collection& c) {
    ASSERT_OK_AND_ASSIGN(uint64_t n, c.Count());
    EXPECT_EQ(n, kPreexisting + 1);
    for (size_t i = kPreexisting; i < kBatch; ++i) {
      EXPECT_STATUS(c.Get(PointId(BatchId(i))), StatusCode::kNotFound);
    }
    for (size_t i = 0; i < kPreexisting; ++i) {
      ASSERT_OK_AND_ASSIGN(Point p, c.Get(PointId(BatchId(i))));
      EXPECT_EQ(p.payload, R"({"old":)" + std::to_string(i) + "}");
    }
    ASSERT_OK_AND_ASSIGN(Point p3, c.Get(PointId(BatchId(3))));
    EXPECT_EQ(p3.vector, before_.vector);
    EXPECT_EQ(testing::ScanAll(c).size(), kPreexisting + 1);
    SearchOptions so;
    so.k = 1000;
    ASSERT_OK_AND_ASSIGN(auto hits, c.Search(so, std::vector<float>(kDim, 0.5f)));
    EXPECT_EQ(hits.size(), kPreexisting + 1);
  }

  std::shared_ptr<Collection> c_;
  std::vector<float> old_vectors_;
  Point before_;
};

TEST_P(BadPointTest, FailsNamingThePointAndFieldAndWritesNothing) {
  const Defect& defect = GetParam();
  for (size_t bad : {kBad, size_t{0}, kBatch - 1}) {
    SCOPED_TRACE("bad point at index " + std::to_string(bad));
    std::vector<PointId> ids;
    std::vector<std::string> payloads;
    for (size_t i = 0; i < kBatch; ++i) {
      ids.emplace_back(BatchId(i));
      payloads.push_back(R"({"new":)" + std::to_string(i) + "}");
    }
    std::vector<float> vectors = testing::RandomVectors(kBatch, kDim, 2);
    defect.apply(bad, ids, vectors, payloads);

    const Status s = c_->Upsert({}, ids, vectors, payloads);
    EXPECT_STATUS(s, StatusCode::kInvalidArgument, defect.words);
    EXPECT_TRUE(MentionsNumber(s.message(), bad)) << "message does not name index " << bad << ": " << s.message();
    if (defect.names_id) {
      EXPECT_NE(s.message().find(BatchId(bad)), std::string::npos)
          << "message does not name id " << BatchId(bad) << ": " << s.message();
    }
    ExpectUnchanged(*c_);
  }

  // Nothing reappears after reopening (no partial batch reached the log).
  const std::string name = c_->name();
  c_.reset();
  testing::SharedDatabase::Reopen();
  ASSERT_NE(testing::SharedDatabase::db(), nullptr);
  ASSERT_OK_AND_ASSIGN(auto c, testing::SharedDatabase::db()->GetCollection(name));
  ExpectUnchanged(*c);

  // The collection still takes good writes.
  std::vector<float> good = testing::RandomVectors(kBatch, kDim, 3);
  std::vector<PointId> ids;
  for (size_t i = 0; i < kBatch; ++i) ids.emplace_back(BatchId(i));
  ASSERT_OK(c->Upsert({}, ids, good));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, kBatch + 1);
}

INSTANTIATE_TEST_SUITE_P(Defects, BadPointTest, ::testing::ValuesIn(Defects()),
                         [](const ::testing::TestParamInfo<Defect>& info) {
                           return info.param.name + "_" + std::string(MetricName(MetricFor(info.param)));
                         });

// The vector defects in every metric (BadPointTest tries each defect in one metric).
TEST(BadVectorTest, NonFiniteComponentsFailInEveryMetric) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    auto c = MustCreate(db.get(), std::string(MetricName(m)), kDim, m);
    ASSERT_NE(c, nullptr);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 5), testing::RandomVectors(5, kDim, 1)));
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::signaling_NaN()}) {
      for (size_t at : {size_t{0}, size_t{6}, size_t{11}}) {
        SCOPED_TRACE(std::string(MetricName(m)) + " index " + std::to_string(at) + " value " + std::to_string(bad));
        std::vector<PointId> ids;
        for (size_t i = 0; i < 12; ++i) ids.emplace_back(BatchId(i));
        auto v = testing::RandomVectors(12, kDim, 2);
        v[at * kDim + (at % kDim)] = bad;
        const Status s = c->Upsert({}, ids, v);
        EXPECT_STATUS(s, StatusCode::kInvalidArgument, "vector", BatchId(at));
        EXPECT_TRUE(MentionsNumber(s.message(), at)) << s.message();
        ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
        EXPECT_EQ(n, 5u);
      }
    }
    // A vector so large its squared norm overflows float is still finite: accepted, or refused
    // as InvalidArgument, but never stored as garbage (in a cosine collection: a unit vector).
    std::vector<float> huge(kDim, 3e38f);
    const Status hs = c->Upsert({}, NumericIds(100, 1), huge);
    if (hs.ok()) {
      ASSERT_OK_AND_ASSIGN(Point p, c->Get(PointId(uint64_t{100})));
      for (float x : p.vector) EXPECT_TRUE(std::isfinite(x)) << MetricName(m);
      if (m == Metric::kCosine) {
        EXPECT_NEAR(testing::Dot(p.vector.data(), p.vector.data(), kDim), 1.0, 1e-4)
            << "a huge vector was stored in a cosine collection without being normalised";
      }
    } else {
      EXPECT_EQ(hs.code(), StatusCode::kInvalidArgument) << hs.ToString();
    }
  }
}

// Finite but huge components (3e38) used to score +inf under inner product (and NaN or +inf
// under L2) and so rank first for every query. Vectors above CollectionOptions::kMaxVectorNorm
// are refused on the way in, stored or queried; up to it, every score is finite.
TEST(BadVectorTest, HugeFiniteVectorsNeverScoreInfinite) {
  TempDir tmp;
  auto db = MustOpen(tmp.path());
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    SCOPED_TRACE(std::string(MetricName(m)));
    auto c = MustCreate(db.get(), std::string(MetricName(m)), kDim, m);
    ASSERT_NE(c, nullptr);
    ASSERT_OK(c->Upsert({}, NumericIds(0, 20), testing::RandomVectors(20, kDim, 1)));
    for (float big : {3e38f, -3e38f, 1e19f}) {
      std::vector<float> v(kDim, 0.5f);
      v[3] = big;
      EXPECT_STATUS(c->Upsert({}, NumericIds(100, 1), v), StatusCode::kInvalidArgument, "norm");
      EXPECT_STATUS(c->Search({}, v), StatusCode::kInvalidArgument, "norm");
    }
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_EQ(n, 20u);
    // At the limit (norm 0.99e18, with components of both signs), accepted, and every score of
    // every query, including the opposite vector, is finite.
    std::vector<float> edge(kDim), opposite(kDim);
    for (size_t j = 0; j < kDim; ++j) {
      edge[j] = static_cast<float>((j % 2 ? -0.99e18 : 0.99e18) / std::sqrt(double{kDim}));
      opposite[j] = -edge[j];
    }
    ASSERT_OK(c->Upsert({}, NumericIds(200, 2), [&] {
      std::vector<float> both = edge;
      both.insert(both.end(), opposite.begin(), opposite.end());
      return both;
    }()));
    for (const auto& q : {edge, opposite, testing::RandomVectors(1, kDim, 9)}) {
      SearchOptions so;
      so.k = 22;
      ASSERT_OK_AND_ASSIGN(auto hits, c->Search(so, q));
      ASSERT_EQ(hits.size(), 22u);
      for (const Hit& h : hits) EXPECT_TRUE(std::isfinite(h.score)) << h.id.ToString() << " " << h.score;
    }
  }
}

// ---- Batch-level and search errors ----

class ErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { testing::SharedDatabase::Open(); }
  static void TearDownTestSuite() { testing::SharedDatabase::Close(); }
  void SetUp() override {
    db_ = testing::SharedDatabase::db();
    ASSERT_NE(db_, nullptr);
    c_ = MustCreate(db_, testing::TestCollectionName(), kDim, Metric::kL2);
    cos_ = MustCreate(db_, testing::TestCollectionName("-cos"), kDim, Metric::kCosine);
    ASSERT_NE(c_, nullptr);
    ASSERT_NE(cos_, nullptr);
    std::vector<std::string> pl(20, R"({"g":1})");
    ASSERT_OK(c_->Upsert({}, NumericIds(0, 20), testing::RandomVectors(20, kDim, 4), pl));
    ASSERT_OK(cos_->Upsert({}, NumericIds(0, 20), testing::RandomVectors(20, kDim, 5), pl));
  }
  void ExpectCount(Collection& c, uint64_t want) {
    ASSERT_OK_AND_ASSIGN(uint64_t n, c.Count());
    EXPECT_EQ(n, want);
  }
  Database* db_ = nullptr;
  std::shared_ptr<Collection> c_, cos_;
};

TEST_F(ErrorsTest, EmptyBatch) {
  std::vector<PointId> none;
  std::vector<float> no_vectors;
  EXPECT_STATUS(c_->Upsert({}, none, no_vectors), StatusCode::kInvalidArgument, "empty");
  EXPECT_STATUS(c_->Upsert({}, none, std::vector<float>(kDim, 1.0f)), StatusCode::kInvalidArgument);
  ExpectCount(*c_, 20);
}

TEST_F(ErrorsTest, VectorsSizeMismatch) {
  auto ids = NumericIds(100, 3);
  for (size_t floats : {size_t{0}, 3 * kDim - 1, 3 * kDim + 1, 2 * kDim, 4 * kDim}) {
    SCOPED_TRACE(floats);
    EXPECT_STATUS(c_->Upsert({}, ids, std::vector<float>(floats, 1.0f)), StatusCode::kInvalidArgument,
                  "vector");
  }
  ExpectCount(*c_, 20);
  for (uint64_t i = 100; i < 103; ++i) EXPECT_STATUS(c_->Get(PointId(i)), StatusCode::kNotFound);
}

TEST_F(ErrorsTest, PayloadsSpanSizeMismatch) {
  auto ids = NumericIds(100, 3);
  std::vector<float> v(3 * kDim, 1.0f);
  EXPECT_STATUS(c_->Upsert({}, ids, v, std::vector<std::string>(2, "{}")), StatusCode::kInvalidArgument,
                "payload");
  EXPECT_STATUS(c_->Upsert({}, ids, v, std::vector<std::string>(4, "{}")), StatusCode::kInvalidArgument,
                "payload");
  ExpectCount(*c_, 20);
}

TEST_F(ErrorsTest, BadEarlierOccurrenceOfARepeatedIdStillFailsTheBatch) {
  // Last occurrence wins, but every point of the batch is validated.
  std::vector<PointId> ids = {PointId(uint64_t{500}), PointId(uint64_t{500})};
  std::vector<float> v(2 * kDim, 1.0f);
  v[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_STATUS(c_->Upsert({}, ids, v), StatusCode::kInvalidArgument, "vector");
  EXPECT_STATUS(c_->Get(PointId(uint64_t{500})), StatusCode::kNotFound);
  std::vector<float> ok(2 * kDim, 1.0f);
  EXPECT_STATUS(c_->Upsert({}, ids, ok, std::vector<std::string>{"[]", "{}"}), StatusCode::kInvalidArgument,
                "payload");
  EXPECT_STATUS(c_->Get(PointId(uint64_t{500})), StatusCode::kNotFound);
  ExpectCount(*c_, 20);
}

TEST_F(ErrorsTest, NumericIdsAreNeverTooLongOrEmpty) {
  // Only strings have a length; 0 and the largest number are ordinary ids.
  std::vector<PointId> ids = {PointId(uint64_t{0}), PointId(UINT64_MAX)};
  EXPECT_OK(c_->Upsert({}, ids, std::vector<float>(2 * kDim, 2.0f)));
  std::vector<PointId> longest = {PointId(std::string(PointId::kMaxIdBytes, 'L'))};
  EXPECT_OK(c_->Upsert({}, longest, std::vector<float>(kDim, 2.0f)));
  EXPECT_OK(c_->Get(longest[0]));
}

TEST_F(ErrorsTest, KZero) {
  SearchOptions so;
  so.k = 0;
  EXPECT_STATUS(c_->Search(so, std::vector<float>(kDim, 1.0f)), StatusCode::kInvalidArgument);
  EXPECT_STATUS(c_->SearchBatch(so, std::vector<float>(3 * kDim, 1.0f)), StatusCode::kInvalidArgument);
}

TEST_F(ErrorsTest, QueryOfWrongSize) {
  for (size_t floats : {size_t{0}, size_t{1}, kDim - 1, kDim + 1, 2 * kDim}) {
    SCOPED_TRACE(floats);
    EXPECT_STATUS(c_->Search({}, std::vector<float>(floats, 1.0f)), StatusCode::kInvalidArgument, "query");
  }
  for (size_t floats : {size_t{1}, kDim - 1, kDim + 1, 3 * kDim + 2}) {
    SCOPED_TRACE(floats);
    EXPECT_STATUS(c_->SearchBatch({}, std::vector<float>(floats, 1.0f)), StatusCode::kInvalidArgument,
                  "query");
  }
}

TEST_F(ErrorsTest, NonFiniteQuery) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> q(kDim, 1.0f);
    q[kDim - 1] = bad;
    EXPECT_STATUS(c_->Search({}, q), StatusCode::kInvalidArgument, "query");
    EXPECT_STATUS(cos_->Search({}, q), StatusCode::kInvalidArgument, "query");
    // In a batch, the message names which query.
    std::vector<float> batch(5 * kDim, 1.0f);
    batch[3 * kDim + 1] = bad;
    const Status s = c_->SearchBatch({}, batch).status();
    EXPECT_STATUS(s, StatusCode::kInvalidArgument, "query");
    EXPECT_TRUE(MentionsNumber(s.message(), 3)) << s.message();
  }
}

TEST_F(ErrorsTest, ZeroQueryInCosineCollection) {
  EXPECT_STATUS(cos_->Search({}, std::vector<float>(kDim, 0.0f)), StatusCode::kInvalidArgument);
  std::vector<float> batch(3 * kDim, 1.0f);
  std::fill(batch.begin() + kDim, batch.begin() + 2 * kDim, 0.0f);
  EXPECT_STATUS(cos_->SearchBatch({}, batch), StatusCode::kInvalidArgument);
  // Zero is a fine query for l2 and ip.
  EXPECT_OK(c_->Search({}, std::vector<float>(kDim, 0.0f)));
}

TEST_F(ErrorsTest, MalformedFilter) {
  const std::vector<std::string> bad = {
      "{",                                  // not JSON
      R"({"g": )",                          // truncated
      "[1,2]",                              // not an object
      R"("g")",                             // a string
      "42",                                 // a number
      R"({"g": {"$bogus": 1}})",            // unknown operator
      R"({"$and": 5})",                     // $and needs an array
      R"({"$or": {"g": 1}})",               // $or needs an array
      R"({"g": {"$gte": [1, 2]}})",         // $gte of an array
      R"({"g": {"$in": 5}})",               // $in needs an array
      R"({"$nope": [{"g": 1}]})",           // unknown logical operator
  };
  for (const std::string& f : bad) {
    SCOPED_TRACE(f);
    SearchOptions so;
    so.filter = f;
    EXPECT_STATUS(c_->Search(so, std::vector<float>(kDim, 1.0f)), StatusCode::kInvalidArgument, "filter");
    EXPECT_STATUS(c_->SearchBatch(so, std::vector<float>(2 * kDim, 1.0f)), StatusCode::kInvalidArgument,
                  "filter");
    ScanOptions sc;
    sc.filter = f;
    EXPECT_STATUS(c_->Scan(sc), StatusCode::kInvalidArgument, "filter");
  }
}

TEST_F(ErrorsTest, ScanLimitOutOfRange) {
  ScanOptions o;
  o.limit = 0;
  EXPECT_STATUS(c_->Scan(o), StatusCode::kInvalidArgument, "limit");
  o.limit = 100001;
  EXPECT_STATUS(c_->Scan(o), StatusCode::kInvalidArgument, "limit");
  o.limit = 100000;
  EXPECT_OK(c_->Scan(o));
}

TEST_F(ErrorsTest, UnknownPointAndCollection) {
  EXPECT_STATUS(c_->Get(PointId(uint64_t{12345})), StatusCode::kNotFound, "12345");
  EXPECT_STATUS(c_->Get(PointId("missing-id")), StatusCode::kNotFound, "missing-id");
  EXPECT_STATUS(db_->GetCollection("no-such-collection"), StatusCode::kNotFound, "no-such-collection");
  EXPECT_STATUS(db_->DropCollection("no-such-collection"), StatusCode::kNotFound);
}

TEST_F(ErrorsTest, ErrorsLeaveTheCollectionUsable) {
  std::vector<float> nan(kDim, std::numeric_limits<float>::quiet_NaN());
  EXPECT_FALSE(c_->Upsert({}, NumericIds(50, 1), nan).ok());
  SearchOptions so;
  so.k = 0;
  EXPECT_FALSE(c_->Search(so, std::vector<float>(kDim, 1.0f)).ok());
  so.k = 5;
  so.filter = "{";
  EXPECT_FALSE(c_->Search(so, std::vector<float>(kDim, 1.0f)).ok());
  so.filter = "";
  ASSERT_OK(c_->Upsert({}, NumericIds(50, 1), std::vector<float>(kDim, 1.0f)));
  ASSERT_OK_AND_ASSIGN(auto hits, c_->Search(so, std::vector<float>(kDim, 1.0f)));
  ASSERT_EQ(hits.size(), 5u);
  EXPECT_EQ(hits[0].id, PointId(uint64_t{50}));
  ExpectCount(*c_, 21);
}

}  // namespace
}  // namespace sextant
