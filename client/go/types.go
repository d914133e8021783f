package sextant

import (
	"encoding/json"
	"math"
	"strings"

	"google.golang.org/grpc/codes"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// Metric is how a collection scores a query against a point.
type Metric int32

// The metrics. The zero Metric is unset, which CreateCollection rejects.
const (
	// MetricL2: squared Euclidean distance; lower is nearer.
	MetricL2 Metric = Metric(pb.Metric_METRIC_L2)
	// MetricInnerProduct: dot product; higher is nearer.
	MetricInnerProduct Metric = Metric(pb.Metric_METRIC_INNER_PRODUCT)
	// MetricCosine: cosine similarity; higher is nearer. Vectors are stored normalised.
	MetricCosine Metric = Metric(pb.Metric_METRIC_COSINE)
)

// String is "l2", "ip", "cosine" or "unspecified".
func (m Metric) String() string {
	switch m {
	case MetricL2:
		return "l2"
	case MetricInnerProduct:
		return "ip"
	case MetricCosine:
		return "cosine"
	}
	return "unspecified"
}

// ParseMetric reads "l2", "ip" (or "inner_product", "dot") and "cosine", in any case.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "l2", "euclidean":
		return MetricL2, nil
	case "ip", "inner_product", "innerproduct", "dot":
		return MetricInnerProduct, nil
	case "cosine":
		return MetricCosine, nil
	}
	return 0, invalidArgument("ParseMetric", "metric: %q is not one of l2, ip, cosine", s)
}

// IndexSpec names the index that answers a collection's searches (docs/index_params.md) and its
// build and search defaults. A zero number means the server's default.
type IndexSpec struct {
	// Spec is "Flat", "HNSW16", "HNSW32,SQ8", "IVF256", "IVF1024,PQ16", ...; "" means "Flat".
	Spec string
	// EfConstruction is the HNSW build effort (default 200).
	EfConstruction uint32
	// EfSearch is the HNSW default candidate list size of a search (default 64).
	EfSearch uint32
	// Nprobe is the IVF default number of lists probed (default 8).
	Nprobe uint32
}

func (s IndexSpec) toProto() *pb.IndexSpec {
	return &pb.IndexSpec{Spec: s.Spec, EfConstruction: s.EfConstruction, EfSearch: s.EfSearch, Nprobe: s.Nprobe}
}

// FieldType is the type of a declared payload index.
type FieldType int32

// The payload index types.
const (
	// FieldKeyword indexes string values (equality and $in).
	FieldKeyword FieldType = FieldType(pb.PayloadFieldType_PAYLOAD_FIELD_TYPE_KEYWORD)
	// FieldInteger indexes integer values (equality and ranges).
	FieldInteger FieldType = FieldType(pb.PayloadFieldType_PAYLOAD_FIELD_TYPE_INTEGER)
	// FieldFloat indexes numbers (ranges).
	FieldFloat FieldType = FieldType(pb.PayloadFieldType_PAYLOAD_FIELD_TYPE_FLOAT)
	// FieldBool indexes booleans.
	FieldBool FieldType = FieldType(pb.PayloadFieldType_PAYLOAD_FIELD_TYPE_BOOL)
)

// String is "keyword", "integer", "float", "bool" or "unspecified".
func (t FieldType) String() string {
	switch t {
	case FieldKeyword:
		return "keyword"
	case FieldInteger:
		return "integer"
	case FieldFloat:
		return "float"
	case FieldBool:
		return "bool"
	}
	return "unspecified"
}

// PayloadIndex declares an in-memory index over one payload field (a dotted path), so filters
// on it are answered without reading payloads (docs/filters.md, "Payload indexes").
type PayloadIndex struct {
	Field string
	Type  FieldType
}

// CollectionConfig describes a collection to create.
type CollectionConfig struct {
	// Dimension is the number of floats in every vector, 1..the server's max_dimension.
	Dimension int
	// Metric is required.
	Metric Metric
	// Index is the index that answers searches; the zero IndexSpec is Flat (exact).
	Index IndexSpec
	// PayloadIndexes are the payload fields to index.
	PayloadIndexes []PayloadIndex
	// Properties is a JSON object recorded with the collection (CollectionInfo.Properties).
	Properties map[string]any
	// TextFields are the string payload fields with a full-text (BM25) index, for
	// SearchOptions.Text and the $text filter (docs/text_search.md).
	TextFields []TextField
	// Shards and Replication apply in cluster mode (sextantd --cluster, docs/cluster.md): the
	// number of shards the points are hashed over, and the copies of each shard (at most the
	// number of live nodes). 0 means the server's default, 1. A single node accepts only 0 or 1
	// (INVALID_ARGUMENT naming cluster mode otherwise); negative values are INVALID_ARGUMENT.
	Shards      int
	Replication int
}

// TextField declares a full-text (BM25) index over a string payload field.
type TextField struct {
	// Field is the dotted path of the field.
	Field string
	// Language is a Snowball stemmer language or "none"; "" means "english". An unknown one is
	// INVALID_ARGUMENT naming the supported ones.
	Language string
	// NoStemming and NoStopWords turn off stemming and stop-word removal.
	NoStemming  bool
	NoStopWords bool
}

// IndexState tells whether a collection's configured index answers its searches.
type IndexState int32

// The index states.
const (
	// IndexReady: the configured index answers searches.
	IndexReady IndexState = IndexState(pb.IndexState_INDEX_STATE_READY)
	// IndexTraining: an IVF/PQ index waits for enough points; searches are exact meanwhile.
	IndexTraining IndexState = IndexState(pb.IndexState_INDEX_STATE_TRAINING)
	// IndexBuilding: a new index is being built; the previous one answers.
	IndexBuilding IndexState = IndexState(pb.IndexState_INDEX_STATE_BUILDING)
)

// String is "ready", "training", "building" or "unspecified".
func (s IndexState) String() string {
	switch s {
	case IndexReady:
		return "ready"
	case IndexTraining:
		return "training"
	case IndexBuilding:
		return "building"
	}
	return "unspecified"
}

// CollectionInfo describes a collection as the server sees it now.
type CollectionInfo struct {
	Name      string
	Dimension int
	Metric    Metric
	// Count is the number of live points.
	Count int
	// Index is the configured index spec, e.g. "HNSW16".
	Index      string
	IndexState IndexState
	// IndexBytes is the memory the index holds beyond the float32 vectors.
	IndexBytes uint64
	// VectorBytes is the memory of the float32 vectors.
	VectorBytes uint64
	// IndexOrigin is "checkpoint" (loaded), "built" or "none".
	IndexOrigin string
	// Properties are the application properties recorded with the collection (nil for none);
	// numbers are json.Number.
	Properties map[string]any
	// Text is the embedder and chunking of a text collection, nil for a vector collection.
	Text *TextInfo
}

func collectionInfoFromProto(p *pb.CollectionInfo) CollectionInfo {
	// The server sends properties as JSON object text; anything else is dropped rather than
	// failing the whole description.
	props, err := decodePayload("", p.GetProperties())
	if err != nil || len(props) == 0 {
		props = nil
	}
	return CollectionInfo{
		Properties:  props,
		Text:        textInfoFromProto(p.GetText()),
		Name:        p.GetName(),
		Dimension:   int(p.GetDimension()),
		Metric:      Metric(p.GetMetric()),
		Count:       int(p.GetCount()),
		Index:       p.GetIndex(),
		IndexState:  IndexState(p.GetIndexState()),
		IndexBytes:  p.GetIndexBytes(),
		VectorBytes: p.GetVectorBytes(),
		IndexOrigin: p.GetIndexOrigin(),
	}
}

// ServerInfo describes the server and what the caller's key allows.
type ServerInfo struct {
	// Version is "MAJOR.MINOR.PATCH" of the engine and server.
	Version string
	// Build names the compiler, build type and date.
	Build string
	// SIMDLevel is the level of the server's distance kernels: "scalar", "sse4", "avx2", "avx512".
	SIMDLevel string
	// ReadOnly is true when the caller's key allows reads only.
	ReadOnly bool
	// MaxMessageBytes is the largest request message the server accepts.
	MaxMessageBytes uint64
	// MaxBatchPoints is the most points one Upsert (or one Import batch) may carry.
	MaxBatchPoints int
	// MaxDimension is the largest vector dimension a collection may have.
	MaxDimension int
}

// Point is a vector with its id and optional payload.
type Point struct {
	ID     ID
	Vector []float32
	// Payload is a JSON object. On the way in nil means no payload; values are marshalled with
	// encoding/json. On the way out numbers are json.Number (64-bit integers stay exact) and a
	// point without a payload has an empty map.
	Payload map[string]any
}

// toProto converts p; field names it in errors ("points[3]").
func (p *Point) toProto(op, field string) (*pb.Point, error) {
	id, err := p.ID.toProto(op, field+".id")
	if err != nil {
		return nil, err
	}
	payload, err := encodePayload(op, field+".payload", p.Payload)
	if err != nil {
		return nil, err
	}
	return &pb.Point{Id: id, VectorF32: packFloats(p.Vector), Payload: payload}, nil
}

func pointFromProto(op string, p *pb.Point) (Point, error) {
	id, err := idFromProto(op, p.GetId())
	if err != nil {
		return Point{}, err
	}
	payload, err := decodePayload(op, p.GetPayload())
	if err != nil {
		return Point{}, err
	}
	vector := p.GetVector()
	if packed := p.GetVectorF32(); len(packed) > 0 { // servers answer with `vector`; accept both
		if vector, err = unpackFloats(packed, "vector_f32"); err != nil {
			return Point{}, &Error{code: codes.Internal, op: op, message: "the server returned a malformed point: " + err.Error()}
		}
	}
	return Point{ID: id, Vector: vector, Payload: payload}, nil
}

// SearchOptions are the parameters of a search. The zero value asks for the 10 nearest points
// with ids and scores only.
type SearchOptions struct {
	// K is the number of hits; 0 means 10.
	K int
	// Filter limits the search to points whose payload matches (docs/filters.md): nil for none,
	// a string / []byte / json.RawMessage of JSON text, or any value encoding/json marshals to a
	// JSON object, e.g. map[string]any{"group": 3}.
	Filter any
	// EfSearch is the HNSW candidate list size of this search; 0 means the index's default.
	EfSearch int
	// Nprobe is the number of IVF lists this search probes; 0 means the index's default.
	Nprobe int
	// Exact scores every matching point, bypassing the index.
	Exact bool
	// WithPayload returns the hits' payloads.
	WithPayload bool
	// WithVector returns the hits' vectors.
	WithVector bool
	// PayloadInclude keeps only these dotted paths of each hit's payload (all of it when empty);
	// PayloadExclude then drops these. Either implies WithPayload.
	PayloadInclude []string
	PayloadExclude []string

	// Full-text and hybrid search (docs/text_search.md). Text is a BM25 query over the
	// collection's text fields (TextFields restricts it): with no query vector the search is BM25
	// alone, with one it is hybrid, fused by Fusion: "rrf" (the default when "", with RRFK, 0 =
	// 60) or "weighted" (a weighted sum of normalised scores, Weights = {dense, text}; nil = 0.5
	// each). Candidates is the pool each list contributes; 0 = max(k, 100).
	Text       string
	TextFields []string
	Fusion     string
	Weights    *[2]float32
	RRFK       int
	Candidates int
	// GroupBy groups the hits by this payload field (string, integer or bool): K groups of at
	// most GroupSize hits each (0 = 1), Hit.Group set.
	GroupBy   string
	GroupSize int
	// ScoreThreshold keeps the hits at least this good (L2 dense: distance <=); nil = all.
	ScoreThreshold *float32
	// MMR is the lambda in [0, 1] of maximal marginal relevance over the stored vectors (1 =
	// relevance alone); nil = no MMR.
	MMR *float32
}

func (o *SearchOptions) toProto(op string) (*pb.SearchParams, error) {
	k, err := toUint32(op, "k", o.K)
	if err != nil {
		return nil, err
	}
	ef, err := toUint32(op, "ef_search", o.EfSearch)
	if err != nil {
		return nil, err
	}
	nprobe, err := toUint32(op, "nprobe", o.Nprobe)
	if err != nil {
		return nil, err
	}
	filter, err := encodeFilter(op, o.Filter)
	if err != nil {
		return nil, err
	}
	params := &pb.SearchParams{
		K:              k,
		Filter:         filter,
		WithPayload:    o.WithPayload || len(o.PayloadInclude) > 0 || len(o.PayloadExclude) > 0,
		WithVector:     o.WithVector,
		EfSearch:       ef,
		Nprobe:         nprobe,
		Exact:          o.Exact,
		PayloadInclude: o.PayloadInclude,
		PayloadExclude: o.PayloadExclude,
		Text:           o.Text,
		TextFields:     o.TextFields,
		GroupBy:        o.GroupBy,
		ScoreThreshold: o.ScoreThreshold,
	}
	if err := o.shapingToProto(op, params); err != nil {
		return nil, err
	}
	return params, nil
}

// shapingToProto checks and sets the fusion, grouping and MMR options (same names and checks
// as the Python client's search()).
func (o *SearchOptions) shapingToProto(op string, params *pb.SearchParams) error {
	fusion := o.Fusion
	if fusion == "" {
		fusion = "rrf"
	}
	if fusion != "rrf" && fusion != "weighted" {
		return invalidArgument(op, `fusion: expected "rrf" or "weighted", not %q`, o.Fusion)
	}
	rrfK, err := toUint32(op, "rrf_k", o.RRFK)
	if err != nil {
		return err
	}
	candidates, err := toUint32(op, "candidates", o.Candidates)
	if err != nil {
		return err
	}
	params.Fusion = &pb.FusionParams{Method: fusion, RrfK: rrfK, Candidates: candidates}
	if o.Weights != nil {
		if fusion != "weighted" {
			return invalidArgument(op, `weights: only with fusion "weighted"`)
		}
		if o.Weights[0] == 0 && o.Weights[1] == 0 { // on the wire both 0 means the default
			return invalidArgument(op, "weights: not both 0")
		}
		params.Fusion.DenseWeight, params.Fusion.TextWeight = o.Weights[0], o.Weights[1]
	}
	groupSize, err := toUint32(op, "group_size", o.GroupSize)
	if err != nil {
		return err
	}
	params.GroupSize = groupSize
	if o.MMR != nil {
		params.Mmr = &pb.MmrParams{MmrLambda: *o.MMR}
	}
	return nil
}

// Hit is one search result.
type Hit struct {
	ID ID
	// Score is the metric's value: a squared distance for L2 (lower is nearer), a dot product or
	// cosine similarity otherwise (higher is nearer).
	Score float32
	// Payload is set when SearchOptions.WithPayload was (see Point.Payload).
	Payload map[string]any
	// Vector is set when SearchOptions.WithVector was.
	Vector []float32
	// DenseScore is the vector score of a search with a query vector, TextScore the BM25 score
	// of one with a Text (both set in a hybrid search, where Score is the fused score).
	DenseScore *float32
	TextScore  *float32
	// Group is the hit's value of SearchOptions.GroupBy (a string, float64 or bool), nil without.
	Group any
}

// PlanKind tells how a search was answered.
type PlanKind int32

// The plan kinds.
const (
	// PlanExact: every matching point was scored.
	PlanExact PlanKind = PlanKind(pb.SearchPlan_KIND_EXACT)
	// PlanIndex: the index was walked, the filter applied during the walk.
	PlanIndex PlanKind = PlanKind(pb.SearchPlan_KIND_INDEX)
)

// String is "exact", "index" or "unspecified".
func (k PlanKind) String() string {
	switch k {
	case PlanExact:
		return "exact"
	case PlanIndex:
		return "index"
	}
	return "unspecified"
}

// SearchPlan is how the server answered a search.
type SearchPlan struct {
	Kind PlanKind
	// Index is the spec that answered ("Flat" for exact).
	Index string
	// Matches is the number of live points matching the filter.
	Matches uint64
	// FilterFromIndex is true when payload indexes alone answered the filter.
	FilterFromIndex bool
	// DistanceComputations is the number of vectors scored.
	DistanceComputations uint64
	// Effort is the final ef (HNSW) or the lists probed (IVF).
	Effort int
}

// SearchResult is the answer to one query: hits nearest first, and the plan taken.
type SearchResult struct {
	Hits []Hit
	Plan SearchPlan
}

func searchResultFromProto(op string, r *pb.SearchResponse) (SearchResult, error) {
	hits := make([]Hit, 0, len(r.GetHits()))
	for _, h := range r.GetHits() {
		id, err := idFromProto(op, h.GetId())
		if err != nil {
			return SearchResult{}, err
		}
		payload, err := decodePayload(op, h.GetPayload())
		if err != nil {
			return SearchResult{}, err
		}
		hit := Hit{ID: id, Score: h.GetScore(), Payload: payload, Vector: h.GetVector(),
			DenseScore: h.DenseScore, TextScore: h.TextScore}
		if g := h.GetGroup(); g != "" {
			if err := json.Unmarshal([]byte(g), &hit.Group); err != nil {
				return SearchResult{}, &Error{code: codes.Internal, op: op, message: "the server returned a malformed group: " + err.Error()}
			}
		}
		hits = append(hits, hit)
	}
	p := r.GetPlan()
	return SearchResult{Hits: hits, Plan: SearchPlan{
		Kind:                 PlanKind(p.GetKind()),
		Index:                p.GetIndex(),
		Matches:              p.GetMatches(),
		FilterFromIndex:      p.GetFilterFromIndex(),
		DistanceComputations: p.GetDistanceComputations(),
		Effort:               int(p.GetEffort()),
	}}, nil
}

// IDs returns the ids of the hits, nearest first.
func (r SearchResult) IDs() []ID {
	ids := make([]ID, len(r.Hits))
	for i, h := range r.Hits {
		ids[i] = h.ID
	}
	return ids
}

// ScanOptions are the parameters of a scan.
type ScanOptions struct {
	// PageSize is the number of points per page, 1..100000; 0 means 100.
	PageSize int
	// Filter limits the scan to points whose payload matches; see SearchOptions.Filter.
	Filter any
	// WithVector includes the vectors (payloads are always included).
	WithVector bool
	// Cursor resumes a scan after the page that returned it (Page.NextCursor); "" starts at the
	// lowest id.
	Cursor string
}

// Page is one page of a scan, in id order.
type Page struct {
	Points []Point
	// NextCursor continues the scan; "" when this was the last page.
	NextCursor string
}

// toUint32 converts a non-negative int option to the wire's uint32, naming field when it does
// not fit.
func toUint32(op, field string, v int) (uint32, error) {
	if v < 0 || uint64(v) > math.MaxUint32 {
		return 0, invalidArgument(op, "%s: %d is out of range", field, v)
	}
	return uint32(v), nil
}
