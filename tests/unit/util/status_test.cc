#include "sextant/status.h"

#include <gtest/gtest.h>

#include "sextant/types.h"
#include "util/coding.h"

namespace sextant {
namespace {

TEST(StatusTest, OkIsDefaultAndCheap) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::InvalidArgument("vector[3] is NaN");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(static_cast<int>(s.code()), 3);  // gRPC's number
  EXPECT_EQ(s.ToString(), "InvalidArgument: vector[3] is NaN");
  Status copy = s;
  EXPECT_EQ(copy, s);
  EXPECT_EQ(s.WithPrefix("upsert").ToString(), "InvalidArgument: upsert: vector[3] is NaN");
  EXPECT_TRUE(Status().WithPrefix("x").ok());
}

TEST(StatusTest, CodesKeepGrpcNumbers) {
  EXPECT_EQ(static_cast<int>(StatusCode::kNotFound), 5);
  EXPECT_EQ(static_cast<int>(StatusCode::kAlreadyExists), 6);
  EXPECT_EQ(static_cast<int>(StatusCode::kResourceExhausted), 8);
  EXPECT_EQ(static_cast<int>(StatusCode::kFailedPrecondition), 9);
  EXPECT_EQ(static_cast<int>(StatusCode::kInternal), 13);
  EXPECT_EQ(static_cast<int>(StatusCode::kDataLoss), 15);
  EXPECT_EQ(StatusCodeName(StatusCode::kDataLoss), "DataLoss");
}

StatusOr<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Status UseMacros(int x, int* out) {
  SEXTANT_ASSIGN_OR_RETURN(int h, Half(x));
  SEXTANT_RETURN_IF_ERROR(h > 10 ? Status::Aborted("too big") : Status::OK());
  *out = h;
  return Status::OK();
}

TEST(StatusOrTest, ValueOrError) {
  StatusOr<int> v = Half(8);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 4);
  StatusOr<int> e = Half(3);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  // An OK status is not a value: it becomes an Internal error rather than an empty value.
  StatusOr<int> bogus{Status::OK()};
  EXPECT_EQ(bogus.status().code(), StatusCode::kInternal);
}

TEST(StatusOrTest, Macros) {
  int out = 0;
  EXPECT_TRUE(UseMacros(8, &out).ok());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(UseMacros(3, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(UseMacros(40, &out).code(), StatusCode::kAborted);
}

TEST(StatusOrDeathTest, ValueOfErrorAborts) {
  StatusOr<int> e = Half(3);
  EXPECT_DEATH((void)e.value(), "StatusOr holding an error");
}

TEST(TypesTest, MetricNamesRoundTrip) {
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    auto parsed = ParseMetric(MetricName(m));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(*ParseMetric("dot"), Metric::kInnerProduct);
  auto bad = ParseMetric("manhattan");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("manhattan"), std::string_view::npos);
}

TEST(TypesTest, PointIdsOfDifferentKindsDiffer) {
  EXPECT_NE(PointId(7), PointId("7"));
  EXPECT_EQ(PointId(7), PointId(uint64_t{7}));
  EXPECT_EQ(PointId("7").ToString(), "7");
  EXPECT_TRUE(PointId(7).is_number());
  EXPECT_TRUE(PointId("a").is_string());
}

TEST(CodingTest, BigEndianSortsNumerically) {
  std::string a, b;
  internal::PutFixed32BE(&a, 255);
  internal::PutFixed32BE(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(internal::DecodeFixed32BE(b.data()), 256u);
  std::string c;
  internal::PutFixed64BE(&c, 0x0102030405060708ull);
  EXPECT_EQ(internal::DecodeFixed64BE(c.data()), 0x0102030405060708ull);
  std::string d;
  internal::PutFixed32LE(&d, 0xdeadbeef);
  EXPECT_EQ(internal::DecodeFixed32LE(d.data()), 0xdeadbeefu);
}

}  // namespace
}  // namespace sextant
