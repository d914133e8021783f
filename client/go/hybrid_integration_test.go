package sextant_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// hybridCollection is the Python client's test_hybrid.py fixture: 20 points (i, 1) under L2,
// payload {"doc": "d<i/4>", "body": ...} where only point 13's body says "error E1234 disk full".
func hybridCollection(t *testing.T, ctx context.Context, c *sextant.Client) *sextant.Collection {
	t.Helper()
	col := mustCreate(t, ctx, c, "hybrid", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2,
		TextFields: []sextant.TextField{{Field: "body", Language: "english"}}})
	pts := make([]sextant.Point, 20)
	for i := range pts {
		body := "common words"
		if i == 13 {
			body = "error E1234 disk full"
		}
		pts[i] = sextant.Point{ID: sextant.NumID(uint64(i)), Vector: []float32{float32(i), 1},
			Payload: map[string]any{"doc": fmt.Sprintf("d%d", i/4), "body": body}}
	}
	if _, err := col.Upsert(ctx, pts); err != nil {
		t.Fatal(err)
	}
	return col
}

func f32(v float32) *float32 { return &v }

func TestHybridSearch(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := hybridCollection(t, ctx, c)
	origin := []float32{0, 1}

	// Text alone: BM25.
	res, err := col.Search(ctx, nil, sextant.SearchOptions{Text: "E1234"})
	if err != nil {
		t.Fatal(err)
	}
	if idsString(res.IDs()) != idsString([]sextant.ID{sextant.NumID(13)}) {
		t.Fatalf("text search = %v, want [13]", res.IDs())
	}
	if h := res.Hits[0]; h.TextScore == nil || h.DenseScore != nil || *h.TextScore != h.Score || h.Score <= 0 {
		t.Errorf("text hit = %+v, want a text score equal to the score and no dense score", h)
	}

	// Both: hybrid, RRF by default; each hit has both scores.
	res, err = col.Search(ctx, origin, sextant.SearchOptions{K: 2, Text: "E1234"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, h := range res.Hits {
		got[h.ID.String()] = true
		if h.DenseScore == nil || h.TextScore == nil {
			t.Errorf("hybrid hit %v: dense %v text %v, want both", h.ID, h.DenseScore, h.TextScore)
		}
	}
	if len(got) != 2 || !got[sextant.NumID(0).String()] || !got[sextant.NumID(13).String()] {
		t.Errorf("hybrid RRF = %v, want {0, 13}", res.IDs())
	}
	// RRF with k = 60: the dense-best and the text-best tie at 1/61 each.
	if res.Hits[0].Score < 1.0/61-1e-6 || res.Hits[0].Score > 1.0/61+1.0/62+1e-6 {
		t.Errorf("fused RRF score %v out of range", res.Hits[0].Score)
	}
	// Weighted, all the weight on the text: the keyword hit wins; all on the vector: the nearest.
	for _, tc := range []struct {
		weights [2]float32
		want    uint64
	}{{[2]float32{0, 1}, 13}, {[2]float32{1, 0}, 0}} {
		w := tc.weights
		res, err = col.Search(ctx, origin, sextant.SearchOptions{K: 1, Text: "E1234", Fusion: "weighted", Weights: &w})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) != 1 || res.Hits[0].ID != sextant.NumID(tc.want) {
			t.Errorf("weighted %v = %v, want [%d]", w, res.IDs(), tc.want)
		}
	}
	// TextFields naming the indexed field is the same as all fields.
	res, err = col.Search(ctx, nil, sextant.SearchOptions{Text: "disk", TextFields: []string{"body"}})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != sextant.NumID(13) {
		t.Errorf("text_fields [body] = %v, %v", res.IDs(), err)
	}

	// Group-by: k distinct groups, the best hit of each, Hit.Group the field's value.
	res, err = col.Search(ctx, origin, sextant.SearchOptions{K: 3, GroupBy: "doc"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []sextant.ID{sextant.NumID(0), sextant.NumID(4), sextant.NumID(8)}; idsString(res.IDs()) != idsString(want) {
		t.Errorf("group_by = %v, want %v", res.IDs(), want)
	}
	for i, h := range res.Hits {
		if h.Group != fmt.Sprintf("d%d", i) {
			t.Errorf("hit %d group = %#v, want d%d", i, h.Group, i)
		}
	}
	res, err = col.Search(ctx, origin, sextant.SearchOptions{K: 3, GroupBy: "doc", GroupSize: 2})
	if err != nil || len(res.Hits) != 6 {
		t.Errorf("group_size 2 = %v hits, %v; want 6", len(res.Hits), err)
	}

	// Threshold (L2: distance <=), and MMR with a $text filter.
	res, err = col.Search(ctx, origin, sextant.SearchOptions{ScoreThreshold: f32(4)})
	if want := []sextant.ID{sextant.NumID(0), sextant.NumID(1), sextant.NumID(2)}; err != nil || idsString(res.IDs()) != idsString(want) {
		t.Errorf("score_threshold 4 = %v, %v; want %v", res.IDs(), err, want)
	}
	res, err = col.Search(ctx, origin, sextant.SearchOptions{K: 3, MMR: f32(0.5), Filter: map[string]any{"body": map[string]any{"$text": "common"}}})
	if err != nil || len(res.Hits) != 3 {
		t.Fatalf("mmr = %v, %v", res.IDs(), err)
	}
	for _, h := range res.Hits {
		if h.ID == sextant.NumID(13) {
			t.Errorf("mmr with $text common returned 13")
		}
	}
}

func TestHybridSearchErrors(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := hybridCollection(t, ctx, c)
	origin := []float32{0, 1}
	for _, tc := range []struct {
		what string
		vec  []float32
		opts sextant.SearchOptions
		want string
	}{
		{"empty text", nil, sextant.SearchOptions{Text: "   "}, "empty"},
		{"unknown fusion", origin, sextant.SearchOptions{Text: "x", Fusion: "borda"}, "fusion"},
		{"weights without weighted", origin, sextant.SearchOptions{Text: "x", Weights: &[2]float32{1, 1}}, "weights"},
		{"text field not indexed", nil, sextant.SearchOptions{Text: "x", TextFields: []string{"title"}}, "title"},
		{"negative group size", origin, sextant.SearchOptions{GroupBy: "doc", GroupSize: -1}, "group_size"},
		{"mmr out of range", origin, sextant.SearchOptions{MMR: f32(2)}, "mmr_lambda"},
		{"$text on a field without a text index", origin, sextant.SearchOptions{Filter: `{"doc": {"$text": "d1"}}`}, "doc"},
		{"negative rrf_k", origin, sextant.SearchOptions{Text: "x", RRFK: -1}, "rrf_k"},
		{"no vector and no text", nil, sextant.SearchOptions{}, ""},
	} {
		_, err := col.Search(ctx, tc.vec, tc.opts)
		wantCode(t, tc.what, err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		if err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v does not name %q", tc.what, err, tc.want)
		}
	}
	_, err := c.CreateCollection(ctx, "bad", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2,
		TextFields: []sextant.TextField{{Field: "body", Language: "klingon"}}})
	wantCode(t, "unknown language", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if err != nil && !strings.Contains(err.Error(), "english") {
		t.Errorf("unknown language: %v does not list the supported ones", err)
	}
}
