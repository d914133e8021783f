package sextant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

func TestIDKindsAndAccessors(t *testing.T) {
	n := NumID(7)
	s := StrID("7")
	if n == s {
		t.Fatal("NumID(7) == StrID(\"7\"): the two kinds must differ")
	}
	if v, ok := n.Num(); !ok || v != 7 {
		t.Fatalf("NumID(7).Num() = %d, %v", v, ok)
	}
	if _, ok := n.Str(); ok {
		t.Fatal("NumID(7).Str() reports a string id")
	}
	if v, ok := s.Str(); !ok || v != "7" {
		t.Fatalf("StrID(\"7\").Str() = %q, %v", v, ok)
	}
	if _, ok := s.Num(); ok {
		t.Fatal("StrID(\"7\").Num() reports a numeric id")
	}
	if n.String() != "7" || s.String() != `"7"` || (ID{}).String() != "<unset>" {
		t.Fatalf("String() = %s, %s, %s", n, s, ID{})
	}
	if (ID{}).IsSet() || !n.IsSet() || !StrID("").IsSet() {
		t.Fatal("IsSet is wrong")
	}
	m := map[ID]int{NumID(7): 1, StrID("7"): 2}
	if m[NumID(7)] != 1 || m[StrID("7")] != 2 {
		t.Fatal("IDs do not work as map keys")
	}
}

func TestIDProtoRoundTrip(t *testing.T) {
	for _, id := range []ID{NumID(0), NumID(math.MaxUint64), StrID("a"), StrID("ünïcode/ключ")} {
		p, err := id.toProto("op", "id")
		if err != nil {
			t.Fatalf("%s: toProto: %v", id, err)
		}
		back, err := idFromProto("op", p)
		if err != nil || back != id {
			t.Fatalf("%s: round trip gave %s, %v", id, back, err)
		}
	}
	if p, _ := NumID(9).toProto("op", "id"); p.GetNum() != 9 || p.GetKind() == nil {
		t.Fatalf("NumID(9) on the wire = %v", p)
	}
	if p, _ := StrID("x").toProto("op", "id"); p.GetStr() != "x" {
		t.Fatalf("StrID(x) on the wire = %v", p)
	}
	_, err := ID{}.toProto("Get", "points[2].id")
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "points[2].id") {
		t.Fatalf("unset id: err = %v", err)
	}
	if _, err := idFromProto("Get", &pb.PointId{}); status.Code(err) != codes.Internal {
		t.Fatalf("id without a kind from the server: err = %v", err)
	}
}

func TestIDJSON(t *testing.T) {
	b, err := json.Marshal([]ID{NumID(18446744073709551615), StrID("a\"b")})
	if err != nil || string(b) != `[18446744073709551615,"a\"b"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var ids []ID
	if err := json.Unmarshal(b, &ids); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != NumID(math.MaxUint64) || ids[1] != StrID("a\"b") {
		t.Fatalf("Unmarshal = %v", ids)
	}
	for _, bad := range []string{`-1`, `1.5`, `true`, `18446744073709551616`} {
		var id ID
		if err := json.Unmarshal([]byte(bad), &id); err == nil {
			t.Errorf("Unmarshal(%s) accepted: %v", bad, id)
		}
	}
	if _, err := json.Marshal(ID{}); err == nil {
		t.Error("Marshal(unset ID) succeeded")
	}
}

func TestPayloadConversion(t *testing.T) {
	if s, err := encodePayload("op", "p", nil); err != nil || s != "" {
		t.Fatalf("nil payload = %q, %v", s, err)
	}
	s, err := encodePayload("op", "p", map[string]any{"group": 3, "name": "p3", "big": uint64(math.MaxUint64)})
	if err != nil || s != `{"big":18446744073709551615,"group":3,"name":"p3"}` {
		t.Fatalf("encodePayload = %q, %v", s, err)
	}
	_, err = encodePayload("Upsert", "points[4].payload", map[string]any{"f": func() {}})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "points[4].payload") {
		t.Fatalf("unencodable payload: err = %v", err)
	}

	m, err := decodePayload("op", `{"big":18446744073709551615,"group":3,"x":1.5,"tags":["a"],"o":{"k":null}}`)
	if err != nil {
		t.Fatal(err)
	}
	if m["big"] != json.Number("18446744073709551615") || m["group"] != json.Number("3") || m["x"] != json.Number("1.5") {
		t.Fatalf("numbers decoded as %#v %#v %#v", m["big"], m["group"], m["x"])
	}
	if tags, ok := m["tags"].([]any); !ok || len(tags) != 1 || tags[0] != "a" {
		t.Fatalf("tags = %#v", m["tags"])
	}
	if m, err := decodePayload("op", ""); err != nil || m != nil {
		t.Fatalf(`decodePayload("") = %v, %v`, m, err)
	}
	if m, err := decodePayload("op", "{}"); err != nil || m == nil || len(m) != 0 {
		t.Fatalf(`decodePayload("{}") = %#v, %v`, m, err)
	}
	if _, err := decodePayload("Get", "[1]"); status.Code(err) != codes.Internal {
		t.Fatalf("non-object payload: err = %v", err)
	}
}

func TestFilterConversion(t *testing.T) {
	var nilMap map[string]any
	var nilPtr *struct{ A int }
	cases := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{nilMap, ""},
		{nilPtr, ""},
		{`{"group": 3}`, `{"group": 3}`},
		{[]byte(`{"a":1}`), `{"a":1}`},
		{json.RawMessage(`{"b":2}`), `{"b":2}`},
		{map[string]any{"group": 3}, `{"group":3}`},
		{map[string]any{"year": map[string]any{"$gte": 2000, "$lt": 2010}}, `{"year":{"$gte":2000,"$lt":2010}}`},
		{struct {
			Genre string `json:"genre"`
		}{"drama"}, `{"genre":"drama"}`},
		{map[string]any{}, `{}`},
	}
	for _, c := range cases {
		got, err := encodeFilter("op", c.in)
		if err != nil || got != c.want {
			t.Errorf("encodeFilter(%#v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := encodeFilter("Search", map[string]any{"c": make(chan int)}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unencodable filter: err = %v", err)
	}
}

func TestPointAndSearchConversion(t *testing.T) {
	p := Point{ID: StrID("doc"), Vector: []float32{1, 2}, Payload: map[string]any{"a": true}}
	wire, err := p.toProto("Upsert", "points[0]")
	if err != nil {
		t.Fatal(err)
	}
	// The vector goes packed: 1.0f = 0x3f800000 and 2.0f = 0x40000000, low byte first.
	want := &pb.Point{Id: &pb.PointId{Kind: &pb.PointId_Str{Str: "doc"}}, VectorF32: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}, Payload: `{"a":true}`}
	if !proto.Equal(wire, want) {
		t.Fatalf("toProto = %v, want %v", wire, want)
	}
	back, err := pointFromProto("Get", wire)
	if err != nil || back.ID != p.ID || back.Payload["a"] != true || !reflect.DeepEqual(back.Vector, []float32{1, 2}) {
		t.Fatalf("pointFromProto = %+v, %v", back, err)
	}
	wire.VectorF32 = wire.VectorF32[:7]
	if _, err := pointFromProto("Get", wire); err == nil || !strings.Contains(err.Error(), "vector_f32: 7 bytes, not a multiple of 4") {
		t.Fatalf("pointFromProto of 7 packed bytes: %v", err)
	}

	opts := SearchOptions{K: 5, Filter: map[string]any{"g": 1}, EfSearch: 128, Nprobe: 4, Exact: true, WithPayload: true, WithVector: true}
	params, err := opts.toProto("Search")
	if err != nil {
		t.Fatal(err)
	}
	wantParams := &pb.SearchParams{K: 5, Filter: `{"g":1}`, EfSearch: 128, Nprobe: 4, Exact: true, WithPayload: true, WithVector: true,
		Fusion: &pb.FusionParams{Method: "rrf"}}
	if !proto.Equal(params, wantParams) {
		t.Fatalf("SearchOptions.toProto = %v, want %v", params, wantParams)
	}
	threshold, lambda := float32(0.25), float32(0.7)
	hybrid := SearchOptions{K: 3, Text: "disk full", TextFields: []string{"body"}, Fusion: "weighted", Weights: &[2]float32{0.3, 0.7},
		RRFK: 10, Candidates: 50, GroupBy: "doc", GroupSize: 2, ScoreThreshold: &threshold, MMR: &lambda}
	params, err = hybrid.toProto("Search")
	if err != nil {
		t.Fatal(err)
	}
	wantParams = &pb.SearchParams{K: 3, Text: "disk full", TextFields: []string{"body"},
		Fusion:  &pb.FusionParams{Method: "weighted", RrfK: 10, DenseWeight: 0.3, TextWeight: 0.7, Candidates: 50},
		GroupBy: "doc", GroupSize: 2, ScoreThreshold: &threshold, Mmr: &pb.MmrParams{MmrLambda: 0.7}}
	if !proto.Equal(params, wantParams) {
		t.Fatalf("hybrid SearchOptions.toProto = %v, want %v", params, wantParams)
	}
	for _, bad := range []SearchOptions{{K: -1}, {EfSearch: -3}, {Nprobe: math.MaxUint32 + 1}, {Fusion: "borda"},
		{Weights: &[2]float32{1, 1}}, {Fusion: "weighted", Weights: &[2]float32{0, 0}}, {RRFK: -1}, {Candidates: -2}, {GroupBy: "g", GroupSize: -1}} {
		if _, err := bad.toProto("Search"); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: err = %v", bad, err)
		}
	}

	res, err := searchResultFromProto("Search", &pb.SearchResponse{
		Hits: []*pb.Hit{
			{Id: &pb.PointId{Kind: &pb.PointId_Num{Num: 3}}, Score: 0.5, Payload: `{"n":1}`},
			{Id: &pb.PointId{Kind: &pb.PointId_Str{Str: "z"}}, Score: 0.75, DenseScore: &threshold, TextScore: &lambda, Group: `"d1"`},
		},
		Plan: &pb.SearchPlan{Kind: pb.SearchPlan_KIND_INDEX, Index: "HNSW16", Matches: 10, FilterFromIndex: true, DistanceComputations: 99, Effort: 64},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.IDs()); got != `[3 "z"]` {
		t.Fatalf("IDs = %s", got)
	}
	if res.Hits[0].Payload["n"] != json.Number("1") || res.Hits[1].Payload != nil {
		t.Fatalf("payloads = %v, %v", res.Hits[0].Payload, res.Hits[1].Payload)
	}
	if h := res.Hits[0]; h.DenseScore != nil || h.TextScore != nil || h.Group != nil {
		t.Fatalf("hit without the hybrid fields = %+v", h)
	}
	if h := res.Hits[1]; h.DenseScore == nil || *h.DenseScore != 0.25 || h.TextScore == nil || *h.TextScore != 0.7 || h.Group != "d1" {
		t.Fatalf("hybrid hit = %+v", h)
	}
	wantPlan := SearchPlan{Kind: PlanIndex, Index: "HNSW16", Matches: 10, FilterFromIndex: true, DistanceComputations: 99, Effort: 64}
	if res.Plan != wantPlan || res.Plan.Kind.String() != "index" {
		t.Fatalf("plan = %+v", res.Plan)
	}
}

func TestEnumsMatchTheWire(t *testing.T) {
	if pb.Metric(MetricL2) != pb.Metric_METRIC_L2 || pb.Metric(MetricInnerProduct) != pb.Metric_METRIC_INNER_PRODUCT ||
		pb.Metric(MetricCosine) != pb.Metric_METRIC_COSINE {
		t.Fatal("Metric constants differ from the proto")
	}
	for s, want := range map[string]Metric{"l2": MetricL2, "IP": MetricInnerProduct, "cosine": MetricCosine, " dot ": MetricInnerProduct} {
		if m, err := ParseMetric(s); err != nil || m != want {
			t.Errorf("ParseMetric(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMetric("hamming"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ParseMetric(hamming): err = %v", err)
	}
	if MetricCosine.String() != "cosine" || Metric(0).String() != "unspecified" {
		t.Error("Metric.String is wrong")
	}
	if FieldInteger.String() != "integer" || IndexBuilding.String() != "building" || PlanExact.String() != "exact" {
		t.Error("enum String is wrong")
	}
	info := collectionInfoFromProto(&pb.CollectionInfo{Name: "c", Dimension: 3, Metric: pb.Metric_METRIC_COSINE, Count: 12,
		Index: "IVF256", IndexState: pb.IndexState_INDEX_STATE_TRAINING, IndexBytes: 1, VectorBytes: 2, IndexOrigin: "built"})
	want := CollectionInfo{Name: "c", Dimension: 3, Metric: MetricCosine, Count: 12, Index: "IVF256",
		IndexState: IndexTraining, IndexBytes: 1, VectorBytes: 2, IndexOrigin: "built"}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("collectionInfoFromProto = %+v", info)
	}

	text := collectionInfoFromProto(&pb.CollectionInfo{Name: "faq", Dimension: 384, Metric: pb.Metric_METRIC_COSINE,
		Properties: `{"owner":"me","n":7}`,
		Text: &pb.TextOptions{
			Embedder:     &pb.EmbedderConfig{Kind: "hash", Dimension: 384},
			Chunking:     &pb.ChunkingConfig{ChunkTokens: 256, OverlapTokens: 32, Markdown: true, Tokens: "whitespace"},
			EmbedderSpec: "hash:384:v1",
		}})
	wantText := &TextInfo{
		Embedder:     EmbedderConfig{Kind: "hash", Dimension: 384},
		Chunking:     ChunkingConfig{ChunkTokens: 256, OverlapTokens: 32, Markdown: true, Tokens: "whitespace"},
		EmbedderSpec: "hash:384:v1",
	}
	if !reflect.DeepEqual(text.Text, wantText) {
		t.Fatalf("Text = %+v, want %+v", text.Text, wantText)
	}
	if !reflect.DeepEqual(text.Properties, map[string]any{"owner": "me", "n": json.Number("7")}) {
		t.Fatalf("Properties = %#v", text.Properties)
	}
	if info.Text != nil || info.Properties != nil {
		t.Fatalf("a vector collection has Text %v, Properties %v", info.Text, info.Properties)
	}
}

func TestAnswerFromProto(t *testing.T) {
	a := answerFromProto(&pb.AskAnswer{
		Answer: "Use reversed() [1].",
		Citations: []*pb.Citation{
			{Number: 1, DocumentId: "lists", Chunk: 0, Score: 0.5, Text: "Use reversed().", Begin: 3, End: 18, Cited: true},
			{Number: 2, DocumentId: "dicts", Chunk: 4, Score: 0.25, Text: "Dicts.", Begin: 40, End: 46},
		},
		Timings:      &pb.AskTimings{EmbedMs: 1.5, RetrieveMs: 2, GenerateMs: 3, TotalMs: 6.5},
		Generator:    "extractive",
		EmbedderSpec: "hash:384:v1",
	})
	want := Answer{
		Text: "Use reversed() [1].",
		Citations: []Citation{
			{Number: 1, DocumentID: "lists", Chunk: 0, Score: 0.5, Text: "Use reversed().", Begin: 3, End: 18, Cited: true},
			{Number: 2, DocumentID: "dicts", Chunk: 4, Score: 0.25, Text: "Dicts.", Begin: 40, End: 46},
		},
		Timings: AskTimings{Embed: 1500 * time.Microsecond, Retrieve: 2 * time.Millisecond,
			Generate: 3 * time.Millisecond, Total: 6500 * time.Microsecond},
		Generator:    "extractive",
		EmbedderSpec: "hash:384:v1",
	}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("answerFromProto = %+v\nwant %+v", a, want)
	}
}

func TestErrorMapping(t *testing.T) {
	sentinels := map[codes.Code]error{
		codes.InvalidArgument:    ErrInvalidArgument,
		codes.NotFound:           ErrNotFound,
		codes.AlreadyExists:      ErrAlreadyExists,
		codes.Unauthenticated:    ErrUnauthenticated,
		codes.PermissionDenied:   ErrPermissionDenied,
		codes.ResourceExhausted:  ErrResourceExhausted,
		codes.FailedPrecondition: ErrFailedPrecondition,
		codes.DeadlineExceeded:   ErrDeadlineExceeded,
		codes.Canceled:           ErrCanceled,
		codes.Unavailable:        ErrUnavailable,
		codes.Internal:           ErrInternal,
	}
	for code, sentinel := range sentinels {
		grpcErr := status.Error(code, "collection \"x\": something")
		err := wrapError("Search", grpcErr)
		var serr *Error
		if !errors.As(err, &serr) {
			t.Fatalf("%v: not an *Error: %T", code, err)
		}
		if serr.Code() != code || serr.Op() != "Search" || serr.Message() != "collection \"x\": something" {
			t.Errorf("%v: Code/Op/Message = %v %q %q", code, serr.Code(), serr.Op(), serr.Message())
		}
		if !errors.Is(err, sentinel) {
			t.Errorf("%v: errors.Is(err, its sentinel) is false", code)
		}
		for other, s := range sentinels {
			if other != code && errors.Is(err, s) {
				t.Errorf("%v: errors.Is(err, sentinel of %v) is true", code, other)
			}
		}
		if errors.Unwrap(err) != grpcErr {
			t.Errorf("%v: Unwrap does not return the gRPC error", code)
		}
		if status.Code(err) != code {
			t.Errorf("%v: status.Code(err) = %v", code, status.Code(err))
		}
		if want := "sextant: Search: " + codeName(code) + ": collection \"x\": something"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
		// A wrapped *Error still matches.
		if !errors.Is(fmt.Errorf("loading: %w", err), sentinel) {
			t.Errorf("%v: a wrapped error does not match its sentinel", code)
		}
	}
	if codeName(codes.Unauthenticated) != "UNAUTHENTICATED" || codeName(codes.Code(99)) != "CODE(99)" {
		t.Error("codeName is wrong")
	}

	canceled := wrapError("Count", status.Error(codes.Canceled, "context canceled"))
	if !errors.Is(canceled, context.Canceled) || errors.Is(canceled, context.DeadlineExceeded) {
		t.Error("CANCELLED does not match context.Canceled alone")
	}
	late := wrapError("Count", status.Error(codes.DeadlineExceeded, "deadline"))
	if !errors.Is(late, context.DeadlineExceeded) || !errors.Is(late, ErrDeadlineExceeded) {
		t.Error("DEADLINE_EXCEEDED does not match context.DeadlineExceeded")
	}
	// Client-side context errors and foreign errors.
	if err := wrapError("Import", context.Canceled); !errors.Is(err, ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Errorf("context.Canceled wrapped = %v", err)
	}
	if err := wrapError("Import", errors.New("boom")); status.Code(err) != codes.Unknown {
		t.Errorf("a foreign error wrapped = %v", err)
	}
	if wrapError("x", nil) != nil {
		t.Error("wrapError(nil) is not nil")
	}
	inner := invalidArgument("Upsert", "points[1].id: unset")
	if wrapError("Import", inner) != inner {
		t.Error("an *Error is wrapped twice")
	}
	if errors.Unwrap(inner) != nil || inner.Error() != "sextant: Upsert: INVALID_ARGUMENT: points[1].id: unset" {
		t.Errorf("client-side error = %q", inner)
	}
	if ErrNotFound.Error() != "sextant: NOT_FOUND" {
		t.Errorf("sentinel text = %q", ErrNotFound)
	}
}

func TestPackedFloatsRoundTripBitExact(t *testing.T) {
	v := []float32{0, float32(math.Copysign(0, -1)), 1.0 / 3, math.SmallestNonzeroFloat32, math.MaxFloat32,
		float32(math.Inf(-1)), float32(math.NaN()), -7.25}
	b := packFloats(v)
	if len(b) != 4*len(v) {
		t.Fatalf("packFloats: %d bytes for %d floats", len(b), len(v))
	}
	back, err := unpackFloats(b, "v")
	if err != nil {
		t.Fatal(err)
	}
	for i := range v {
		if math.Float32bits(back[i]) != math.Float32bits(v[i]) {
			t.Fatalf("float %d: %08x came back as %08x", i, math.Float32bits(v[i]), math.Float32bits(back[i]))
		}
	}
	if packFloats(nil) != nil || len(appendPacked([]byte{9}, []float32{1})) != 5 {
		t.Fatal("packFloats(nil) must be nil and appendPacked must append")
	}
	if _, err := unpackFloats([]byte{1, 2, 3}, "points[0].vector_f32"); err == nil ||
		!strings.Contains(err.Error(), "points[0].vector_f32: 3 bytes") {
		t.Fatalf("unpackFloats of 3 bytes: %v", err)
	}
}
