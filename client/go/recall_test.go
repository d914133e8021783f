package sextant_test

import (
	"path/filepath"
	"testing"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
	"github.com/sextant-db/sextant/client/go/internal/vecs"
)

// TestSiftsmallRecall loads siftsmall (10,000 x 128) into an HNSW16 collection over the
// streaming import and checks recall@10 of its 100 queries against the published ground truth.
func TestSiftsmallRecall(t *testing.T) {
	dir := sextantdtest.SharedData(t, "siftsmall")
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)

	base, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_base.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	queries, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_query.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	truth, err := vecs.ReadIvecs(filepath.Join(dir, "siftsmall_groundtruth.ivecs"))
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 10000 || len(queries) != 100 || len(truth) != 100 {
		t.Fatalf("siftsmall has %d base, %d query, %d truth rows", len(base), len(queries), len(truth))
	}

	col, err := c.CreateCollection(ctx, "sift", sextant.CollectionConfig{Dimension: 128, Metric: sextant.MetricL2,
		Index: sextant.IndexSpec{Spec: "HNSW16"}})
	if err != nil {
		t.Fatal(err)
	}
	points := make([]sextant.Point, len(base))
	for i, v := range base {
		points[i] = sextant.Point{ID: sextant.NumID(uint64(i)), Vector: v}
	}
	if n, err := col.Import(ctx, points, 1000, nil); err != nil || n != len(points) {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if _, err := col.WaitForIndex(ctx, 0); err != nil {
		t.Fatal(err)
	}

	results, err := col.SearchBatch(ctx, queries, sextant.SearchOptions{K: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for qi, res := range results {
		want := map[sextant.ID]bool{}
		for _, id := range truth[qi][:10] {
			want[sextant.NumID(uint64(id))] = true
		}
		if res.Plan.Kind != sextant.PlanIndex {
			t.Fatalf("query %d was not answered by the index: %+v", qi, res.Plan)
		}
		for _, h := range res.Hits {
			if want[h.ID] {
				found++
			}
		}
	}
	recall := float64(found) / float64(10*len(queries))
	t.Logf("siftsmall HNSW16 recall@10 = %.4f", recall)
	if recall < 0.95 {
		t.Errorf("recall@10 = %.4f, want >= 0.95", recall)
	}
}
