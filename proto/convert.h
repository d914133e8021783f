// Conversions between the engine's public types (engine/include/sextant) and the wire messages
// (proto/sextant/v1/sextant.proto), and the one mapping between sextant::Status and grpc::Status.
// Used by sextantd and the C++ client; the engine itself never sees protobuf.
//
// FromProto functions that can fail take `field`, the path of the message in the request
// ("points[3].id", "params"), and name it in the InvalidArgument they return.
#ifndef SEXTANT_PROTO_CONVERT_H_
#define SEXTANT_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sextant/options.h"
#include "sextant/rag.h"
#include "sextant/snapshot.h"
#include "sextant/status.h"
#include "sextant/types.h"
#include "sextant/v1/sextant.pb.h"

namespace sextant::convert {

namespace v1 = ::sextant::v1;

// ---- vectors as packed little-endian float32 (Point.vector_f32, SearchRequest.vector_f32,
// SearchBatchRequest.vectors_f32): 4 bytes a float, far cheaper to encode and decode than
// `repeated float`. Clients send vectors packed; the server accepts either form.

// Replaces *out with `floats` packed.
void PackFloats(std::span<const float> floats, std::string* out);

// The floats of a vector field sent either as `repeated float` (`floats`) or packed (`packed`,
// the field `field` + "_f32"), appended to *out. InvalidArgument when both are set or the byte
// count is not a multiple of 4. Returns how many floats were appended.
StatusOr<size_t> AppendFloats(const google::protobuf::RepeatedField<float>& floats, const std::string& packed,
                              std::string_view field, std::vector<float>* out);

// ---- status: the engine's codes carry gRPC's numbers, so this is one cast each way.
grpc::Status ToGrpc(const Status& status);
Status FromGrpc(const grpc::Status& status);

// ---- point ids
void ToProto(const PointId& id, v1::PointId* out);
// InvalidArgument "<field>: unset" when neither kind is set, or for an empty/oversize string.
StatusOr<PointId> FromProto(const v1::PointId& id, std::string_view field);

// ---- metrics
v1::Metric ToProto(Metric metric);
StatusOr<Metric> FromProto(v1::Metric metric, std::string_view field);

// ---- index specs. FromProto parses spec.spec ("" = Flat) and applies the non-zero parameters,
// then validates nothing dimension-specific (the engine does that on create).
void ToProto(const IndexOptions& options, v1::IndexSpec* out);
StatusOr<IndexOptions> FromProto(const v1::IndexSpec& spec, std::string_view field);

// ---- payload index declarations
v1::PayloadFieldType ToProto(PayloadFieldType type);
StatusOr<PayloadFieldType> FromProto(v1::PayloadFieldType type, std::string_view field);

// ---- collections. CollectionInfo's `text` is filled by the caller (from
// rag::TextCollection::ConfigOf and ToProto(TextCollectionOptions) below).
void ToProto(std::string_view name, const CollectionOptions& options, v1::CreateCollectionRequest* out);
// The options of a create request (its name is request.name()).
StatusOr<CollectionOptions> FromProto(const v1::CreateCollectionRequest& request);
v1::IndexState ToProto(IndexState state);
IndexState FromProto(v1::IndexState state);
void ToProto(const CollectionInfo& info, v1::CollectionInfo* out);
CollectionInfo FromProto(const v1::CollectionInfo& info);

// ---- points and hits
void ToProto(const Point& point, v1::Point* out);
StatusOr<Point> FromProto(const v1::Point& point, std::string_view field);
void ToProto(const Hit& hit, v1::Hit* out);
StatusOr<Hit> FromProto(const v1::Hit& hit, std::string_view field);

// ---- search. SearchParams' zero k means the default (10); zero group_size, rrf_k and weights
// their defaults. InvalidArgument for an unknown fusion method.
void ToProto(const SearchOptions& options, v1::SearchParams* out);
StatusOr<SearchOptions> FromProto(const v1::SearchParams& params);
void ToProto(const SearchPlan& plan, v1::SearchPlan* out);
SearchPlan FromProto(const v1::SearchPlan& plan);

// ---- text collections (sextant::rag)

// These only move fields: they need no symbol of sextant_rag (which links the storage engine), so
// the C++ client can use them. The engine validates the values (EmbedderConfig::Validate,
// TextCollection::Create).
//
// EmbedderConfig: kind "" is "hash"; `dimension` is the hash embedder's dimension (0 = 384) or the
// openai one's (0 = learned). InvalidArgument naming the field for an unknown kind, a field of
// another kind, or a missing openai URL or model.
void ToProto(const rag::EmbedderConfig& config, v1::EmbedderConfig* out);
StatusOr<rag::EmbedderConfig> FromProto(const v1::EmbedderConfig& config, std::string_view field);

// TextOptions <-> the options of a text collection (embedder and chunking; the index comes from
// CreateCollectionRequest.index). An all-zero ChunkingConfig leaves chunker_set false (the
// embedder's default chunking); any field set fills the rest with the embedder's defaults.
// `embedder_spec` is the Embedder::spec() of the collection's embedder ("" when not known).
void ToProto(const rag::TextCollectionOptions& options, std::string_view embedder_spec,
             v1::TextOptions* out);
StatusOr<rag::TextCollectionOptions> FromProto(const v1::TextOptions& options, std::string_view field);
// The embedder spec a text collection recorded in its properties ("sextant.text".embedder_spec),
// or "" (a plain collection). The rest of the record is read by rag::TextCollection::ConfigOf.
std::string RecordedEmbedderSpec(std::string_view properties);

// Documents. FromProto does not validate (TextCollection::Ingest does, naming the document).
void ToProto(const rag::Document& document, v1::Document* out);
rag::Document FromProto(const v1::Document& document);

// Answers of Ask.
void ToProto(const rag::Citation& citation, v1::Citation* out);
rag::Citation FromProto(const v1::Citation& citation);
void ToProto(const rag::AskTimings& timings, v1::AskTimings* out);
rag::AskTimings FromProto(const v1::AskTimings& timings);
void ToProto(const rag::Answer& answer, v1::AskAnswer* out);
rag::Answer FromProto(const v1::AskAnswer& answer);

// Chat and tools.
void ToProto(const rag::ToolCall& call, v1::ToolCall* out);
rag::ToolCall FromProto(const v1::ToolCall& call);
void ToProto(const rag::ChatMessage& message, v1::ChatMessage* out);
rag::ChatMessage FromProto(const v1::ChatMessage& message);
void ToProto(const rag::ConversationInfo& info, v1::ConversationInfo* out);
rag::GenerationSettings FromProto(const v1::GenerationSettings& settings);
void ToProto(const rag::GenerationSettings& settings, v1::GenerationSettings* out);
// An empty parameters string becomes an object schema without properties.
rag::FunctionDefinition FromProto(const v1::FunctionDefinition& function);
// ---- snapshots (the wire form has no path: clients never see the server's directories)
void ToProto(const SnapshotInfo& info, v1::SnapshotInfo* out);
SnapshotInfo FromProto(const v1::SnapshotInfo& info);

}  // namespace sextant::convert

#endif  // SEXTANT_PROTO_CONVERT_H_
