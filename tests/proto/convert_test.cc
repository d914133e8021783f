// The engine <-> wire conversions (proto/convert.h): round trips, and the errors that name the
// bad field.
#include "convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sextant::convert {
namespace {

TEST(ConvertTest, PackedFloatsAreLittleEndianAndExact) {
  std::string packed;
  PackFloats(std::vector<float>{1.0f}, &packed);
  EXPECT_EQ(packed, std::string("\x00\x00\x80\x3f", 4));  // 1.0f = 0x3f800000, low byte first

  const std::vector<float> floats = {0.0f, -0.0f, 1.0f / 3.0f, -2.5e-39f /* subnormal */, 3.4e38f,
                                     std::numeric_limits<float>::infinity(), 7.0f};
  PackFloats(floats, &packed);
  ASSERT_EQ(packed.size(), floats.size() * 4);
  std::vector<float> back = {42.0f};  // AppendFloats appends
  google::protobuf::RepeatedField<float> none;
  auto n = AppendFloats(none, packed, "vector", &back);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, floats.size());
  ASSERT_EQ(back.size(), floats.size() + 1);
  EXPECT_EQ(back[0], 42.0f);
  for (size_t i = 0; i < floats.size(); ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(back[i + 1]), std::bit_cast<uint32_t>(floats[i])) << i;
  }
  PackFloats({}, &packed);  // replaces: empty in, empty out
  EXPECT_TRUE(packed.empty());
}

TEST(ConvertTest, AppendFloatsTakesEitherFormAndRefusesBothOrTornBytes) {
  google::protobuf::RepeatedField<float> repeated;
  repeated.Add(1.5f);
  repeated.Add(2.5f);
  std::vector<float> out;
  auto n = AppendFloats(repeated, "", "points[0].vector", &out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(out, (std::vector<float>{1.5f, 2.5f}));

  std::string packed;
  PackFloats(std::vector<float>{1.0f}, &packed);
  auto both = AppendFloats(repeated, packed, "points[0].vector", &out);
  EXPECT_EQ(both.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(both.status().message().find("points[0].vector and points[0].vector_f32 are both set"),
            std::string::npos) << both.status().ToString();
  auto torn = AppendFloats({}, std::string(7, '\0'), "vector", &out);
  EXPECT_EQ(torn.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(torn.status().message().find("vector_f32: 7 bytes, not a multiple of 4"), std::string::npos)
      << torn.status().ToString();
  EXPECT_EQ(out.size(), 2u);  // a refused field appends nothing
}

TEST(ConvertTest, StatusCodesMapOneToOneBothWays) {
  for (int code = 1; code <= 16; ++code) {
    Status s(static_cast<StatusCode>(code), "why " + std::to_string(code));
    grpc::Status g = ToGrpc(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), "why " + std::to_string(code));
    Status back = FromGrpc(g);
    EXPECT_EQ(back.code(), s.code());
    EXPECT_EQ(back.message(), s.message());
    EXPECT_NE(StatusCodeName(back.code()), "") << code;
  }
  EXPECT_TRUE(ToGrpc(Status::OK()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
  EXPECT_EQ(ToGrpc(Status::NotFound("x")).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "k")).code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "k")).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(FromGrpc(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "k")).code(), StatusCode::kDeadlineExceeded);
}

TEST(ConvertTest, PointIdsKeepTheirKind) {
  for (const PointId& id : {PointId(uint64_t{0}), PointId(uint64_t{7}), PointId(~uint64_t{0}), PointId("7"),
                            PointId("doc-1")}) {
    v1::PointId p;
    ToProto(id, &p);
    auto back = FromProto(p, "id");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, id) << id.ToString();
  }
  v1::PointId unset;
  auto bad = FromProto(unset, "points[3].id");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("points[3].id"), std::string_view::npos) << bad.status().ToString();
}

TEST(ConvertTest, CreateRequestRoundTrip) {
  CollectionOptions o;
  o.dimension = 384;
  o.metric = Metric::kInnerProduct;
  o.index = *IndexOptions::Parse("IVF64,PQ16");
  o.index.nprobe = 12;
  o.payload_indexes = {{"tag", PayloadFieldType::kKeyword}, {"year", PayloadFieldType::kInteger},
                       {"price", PayloadFieldType::kFloat}, {"ok", PayloadFieldType::kBool}};
  v1::CreateCollectionRequest req;
  ToProto("docs", o, &req);
  EXPECT_EQ(req.name(), "docs");
  auto back = FromProto(req);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->dimension, 384u);
  EXPECT_EQ(back->metric, Metric::kInnerProduct);
  EXPECT_EQ(back->index.ToString(), "IVF64,PQ16");
  EXPECT_EQ(back->index.nprobe, 12u);
  ASSERT_EQ(back->payload_indexes.size(), 4u);
  EXPECT_EQ(back->payload_indexes[1].field, "year");
  EXPECT_EQ(back->payload_indexes[3].type, PayloadFieldType::kBool);

  // No index given is Flat; unknown enums and bad specs name the field.
  v1::CreateCollectionRequest bare;
  bare.set_dimension(3);
  bare.set_metric(v1::METRIC_L2);
  auto flat = FromProto(bare);
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat->index.type, IndexType::kFlat);
  bare.set_metric(v1::METRIC_UNSPECIFIED);
  auto no_metric = FromProto(bare);
  ASSERT_FALSE(no_metric.ok());
  EXPECT_NE(no_metric.status().message().find("metric"), std::string_view::npos);
  bare.set_metric(v1::METRIC_COSINE);
  bare.mutable_index()->set_spec("HNSWx");
  auto bad_spec = FromProto(bare);
  ASSERT_FALSE(bad_spec.ok());
  EXPECT_EQ(bad_spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_spec.status().message().find("index.spec"), std::string_view::npos) << bad_spec.status().ToString();
  bare.mutable_index()->set_spec("Flat");
  bare.add_payload_indexes()->set_field("x");
  auto bad_type = FromProto(bare);
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("payload_indexes[0].type"), std::string_view::npos);
}

TEST(ConvertTest, SearchOptionsHitsAndPlans) {
  SearchOptions o;
  o.k = 5;
  o.filter = R"({"a":1})";
  o.with_payload = true;
  o.ef_search = 99;
  o.nprobe = 3;
  o.exact = true;
  o.text = "disk full";
  o.text_fields = {"body"};
  o.fusion = Fusion::kWeighted;
  o.dense_weight = 0.25f;
  o.text_weight = 0.75f;
  o.candidates = 40;
  o.group_by = "doc";
  o.group_size = 3;
  o.score_threshold = 0.5f;
  o.mmr = true;
  o.mmr_lambda = 0.7f;
  v1::SearchParams p;
  ToProto(o, &p);
  auto parsed = FromProto(p);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  SearchOptions back = *parsed;
  EXPECT_EQ(back.k, 5u);
  EXPECT_EQ(back.text, o.text);
  EXPECT_EQ(back.text_fields, o.text_fields);
  EXPECT_EQ(back.fusion, Fusion::kWeighted);
  EXPECT_EQ(back.dense_weight, 0.25f);
  EXPECT_EQ(back.text_weight, 0.75f);
  EXPECT_EQ(back.candidates, 40u);
  EXPECT_EQ(back.group_by, "doc");
  EXPECT_EQ(back.group_size, 3u);
  ASSERT_TRUE(back.score_threshold.has_value());
  EXPECT_EQ(*back.score_threshold, 0.5f);
  EXPECT_TRUE(back.mmr);
  EXPECT_EQ(back.mmr_lambda, 0.7f);
  p.mutable_fusion()->set_method("borda");
  EXPECT_FALSE(FromProto(p).ok());
  v1::SearchParams defaults;
  auto d = FromProto(defaults);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->k, 10u);  // zero k is the default
  EXPECT_EQ(d->group_size, 1u);
  EXPECT_EQ(d->rrf_k, 60u);
  EXPECT_FALSE(d->score_threshold.has_value());
  EXPECT_FALSE(d->mmr);
  EXPECT_EQ(back.filter, o.filter);
  EXPECT_TRUE(back.with_payload);
  EXPECT_FALSE(back.with_vector);
  EXPECT_EQ(back.ef_search, 99u);
  EXPECT_EQ(back.nprobe, 3u);
  EXPECT_TRUE(back.exact);

  Hit h;
  h.id = PointId("a");
  h.score = 0.25f;
  h.payload = R"({"x":2})";
  h.vector = {1, 2, 3};
  h.text_score = 1.5f;
  h.group = "\"d1\"";
  v1::Hit ph;
  ToProto(h, &ph);
  auto hb = FromProto(ph, "hits[0]");
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(hb->id, h.id);
  EXPECT_EQ(hb->score, h.score);
  EXPECT_EQ(hb->payload, h.payload);
  EXPECT_EQ(hb->vector, h.vector);
  EXPECT_FALSE(hb->dense_score.has_value());
  EXPECT_EQ(hb->text_score, h.text_score);
  EXPECT_EQ(hb->group, h.group);

  SearchPlan plan{SearchPlan::Kind::kIndex, "HNSW16", 42, true, 1234, 80};
  v1::SearchPlan pp;
  ToProto(plan, &pp);
  SearchPlan pb = FromProto(pp);
  EXPECT_EQ(pb.kind, SearchPlan::Kind::kIndex);
  EXPECT_EQ(pb.index, "HNSW16");
  EXPECT_EQ(pb.matches, 42u);
  EXPECT_TRUE(pb.filter_from_index);
  EXPECT_EQ(pb.distance_computations, 1234u);
  EXPECT_EQ(pb.effort, 80u);
}

TEST(ConvertTest, CollectionInfoAndPoints) {
  CollectionInfo info;
  info.name = "c";
  info.dimension = 4;
  info.metric = Metric::kL2;
  info.count = 9;
  info.index = "HNSW16,SQ8";
  info.index_state = IndexState::kBuilding;
  info.index_bytes = 100;
  info.vector_bytes = 200;
  info.index_origin = "built";
  info.text_fields.push_back(TextFieldOptions{.field = "body"});
  info.text_fields.push_back(TextFieldOptions{.field = "meta.title", .language = "french", .stemming = false, .stop_words = false});
  v1::CollectionInfo pi;
  ToProto(info, &pi);
  CollectionInfo back = FromProto(pi);
  ASSERT_EQ(back.text_fields.size(), 2u);
  EXPECT_EQ(back.text_fields[0].field, "body");
  EXPECT_EQ(back.text_fields[0].language, "english");
  EXPECT_TRUE(back.text_fields[0].stemming && back.text_fields[0].stop_words);
  EXPECT_EQ(back.text_fields[1].field, "meta.title");
  EXPECT_EQ(back.text_fields[1].language, "french");
  EXPECT_FALSE(back.text_fields[1].stemming || back.text_fields[1].stop_words);
  EXPECT_EQ(back.name, "c");
  EXPECT_EQ(back.metric, Metric::kL2);
  EXPECT_EQ(back.count, 9u);
  EXPECT_EQ(back.index, "HNSW16,SQ8");
  EXPECT_EQ(back.index_state, IndexState::kBuilding);
  EXPECT_EQ(back.index_bytes, 100u);
  EXPECT_EQ(back.vector_bytes, 200u);
  EXPECT_EQ(back.index_origin, "built");

  Point pt{PointId(uint64_t{3}), {0.5f, 1.5f}, ""};
  v1::Point pp;
  ToProto(pt, &pp);
  auto pb = FromProto(pp, "points[0]");
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->id, pt.id);
  EXPECT_EQ(pb->vector, pt.vector);
  EXPECT_EQ(pb->payload, "{}");
}

}  // namespace
}  // namespace sextant::convert
