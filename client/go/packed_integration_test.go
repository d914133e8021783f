package sextant_test

import (
	"math"
	"testing"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// The client sends vectors as packed float32: every bit survives Upsert, Import, UpdateVectors
// and the queries of Search and SearchBatch.
func TestPackedVectorsArriveBitExact(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "packed", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2})
	vecs := [][]float32{
		{1.0 / 3, float32(math.Copysign(0, -1)), 1e-40 /* subnormal */, 3e17},
		{0.1, 0.2, 0.3, 0.4},
		{-7.25, 1e-7, 123456.789, -1.0 / 7},
	}
	if _, err := col.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(0), Vector: vecs[0]}, {ID: sextant.NumID(1), Vector: vecs[1]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := col.Import(ctx, []sextant.Point{{ID: sextant.NumID(2), Vector: vecs[2]}}, 0, nil); err != nil {
		t.Fatal(err)
	}
	moved := []float32{-0.5, 2.0 / 3, 5e-39, 1.25}
	if _, err := col.UpdateVectors(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: moved}}); err != nil {
		t.Fatal(err)
	}
	vecs[1] = moved
	for i, want := range vecs {
		p, err := col.Get(ctx, sextant.NumID(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		for d := range want {
			if math.Float32bits(p.Vector[d]) != math.Float32bits(want[d]) {
				t.Errorf("point %d float %d: sent %08x, stored %08x", i, d, math.Float32bits(want[d]), math.Float32bits(p.Vector[d]))
			}
		}
	}
	res, err := col.Search(ctx, vecs[2], sextant.SearchOptions{K: 1})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != sextant.NumID(2) || res.Hits[0].Score != 0 {
		t.Fatalf("Search(point 2's vector) = %+v, %v: want point 2 at distance 0", res, err)
	}
	batch, err := col.SearchBatch(ctx, [][]float32{vecs[1], vecs[2]}, sextant.SearchOptions{K: 1})
	if err != nil || len(batch) != 2 || batch[0].Hits[0].ID != sextant.NumID(1) || batch[0].Hits[0].Score != 0 ||
		batch[1].Hits[0].ID != sextant.NumID(2) {
		t.Fatalf("SearchBatch = %+v, %v", batch, err)
	}
	if _, err := col.Search(ctx, vecs[2][:3], sextant.SearchOptions{K: 1}); err == nil {
		t.Fatal("Search with 3 floats on a 4-dimensional collection succeeded")
	}
}
