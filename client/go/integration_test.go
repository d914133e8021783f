package sextant_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// randomPoints makes n points of dimension dim with numeric ids 0..n-1 and the payload
// {"group": i % 10, "name": "p<i>"}, the same for a given seed.
func randomPoints(seed int64, n, dim int) []sextant.Point {
	r := rand.New(rand.NewSource(seed))
	pts := make([]sextant.Point, n)
	for i := range pts {
		v := make([]float32, dim)
		for j := range v {
			v[j] = r.Float32()
		}
		pts[i] = sextant.Point{ID: sextant.NumID(uint64(i)), Vector: v,
			Payload: map[string]any{"group": i % 10, "name": fmt.Sprintf("p%d", i)}}
	}
	return pts
}

func l2(a, b []float32) float32 {
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// bruteForce returns the ids of the k points nearest to q under L2 among those keep accepts.
func bruteForce(points []sextant.Point, q []float32, k int, keep func(sextant.Point) bool) []sextant.ID {
	type cand struct {
		id   sextant.ID
		dist float32
	}
	var cs []cand
	for _, p := range points {
		if keep == nil || keep(p) {
			cs = append(cs, cand{p.ID, l2(p.Vector, q)})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].dist < cs[j].dist })
	var ids []sextant.ID
	for i := 0; i < k && i < len(cs); i++ {
		ids = append(ids, cs[i].id)
	}
	return ids
}

func idsString(ids []sextant.ID) string { return fmt.Sprint(ids) }

func mustCreate(t *testing.T, ctx context.Context, c *sextant.Client, name string, cfg sextant.CollectionConfig) *sextant.Collection {
	t.Helper()
	col, err := c.CreateCollection(ctx, name, cfg)
	if err != nil {
		t.Fatalf("CreateCollection(%s): %v", name, err)
	}
	return col
}

func wantCode(t *testing.T, what string, err error, sentinel error, code codes.Code) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: err = %v, want %v", what, err, code)
		return
	}
	var serr *sextant.Error
	if !errors.As(err, &serr) || serr.Code() != code {
		t.Errorf("%s: err = %#v, want an *sextant.Error with code %v", what, err, code)
	}
}

func TestCollectionsLifecycle(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)

	info, err := c.ServerInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version == "" || info.SIMDLevel == "" || info.ReadOnly || info.MaxBatchPoints <= 0 || info.MaxDimension <= 0 {
		t.Errorf("ServerInfo = %+v", info)
	}

	col := mustCreate(t, ctx, c, "docs", sextant.CollectionConfig{
		Dimension:      8,
		Metric:         sextant.MetricCosine,
		Index:          sextant.IndexSpec{Spec: "HNSW16", EfConstruction: 100, EfSearch: 32},
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldInteger}, {Field: "lang", Type: sextant.FieldKeyword}},
	})
	if col.Name() != "docs" {
		t.Errorf("Name() = %q", col.Name())
	}
	mustCreate(t, ctx, c, "alpha", sextant.CollectionConfig{Dimension: 3, Metric: sextant.MetricL2})

	// A new HNSW collection may report "building" for a moment while its (empty) index is set up.
	if _, err := col.WaitForIndex(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	d, err := col.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "docs" || d.Dimension != 8 || d.Metric != sextant.MetricCosine || d.Count != 0 ||
		!strings.HasPrefix(d.Index, "HNSW16") || d.IndexState != sextant.IndexReady {
		t.Errorf("Describe = %+v", d)
	}
	flat, err := c.Collection("alpha").Describe(ctx)
	if err != nil || flat.Index != "Flat" || flat.Metric != sextant.MetricL2 {
		t.Errorf("Describe(alpha) = %+v, %v", flat, err)
	}

	list, err := c.ListCollections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "docs" || list[1].Dimension != 8 {
		t.Fatalf("ListCollections = %+v", list)
	}

	_, err = c.CreateCollection(ctx, "docs", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2})
	wantCode(t, "create a duplicate", err, sextant.ErrAlreadyExists, codes.AlreadyExists)
	_, err = c.CreateCollection(ctx, "bad name!", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2})
	wantCode(t, "create with a bad name", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = c.CreateCollection(ctx, "nometric", sextant.CollectionConfig{Dimension: 8})
	wantCode(t, "create without a metric", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = c.CreateCollection(ctx, "nodim", sextant.CollectionConfig{Metric: sextant.MetricL2})
	wantCode(t, "create with dimension 0", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = c.CreateCollection(ctx, "badindex", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2,
		Index: sextant.IndexSpec{Spec: "NoSuchIndex"}})
	wantCode(t, "create with a bad index spec", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	// Shards and replication above 1 need a cluster; negative ones never reach the server.
	_, err = c.CreateCollection(ctx, "sharded", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2, Shards: 3})
	wantCode(t, "create with 3 shards on a single node", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if err == nil || !strings.Contains(err.Error(), "cluster mode") {
		t.Fatalf("create with 3 shards on a single node: %v, want an error naming cluster mode", err)
	}
	_, err = c.CreateCollection(ctx, "replicated", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2,
		Replication: 2})
	wantCode(t, "create with replication 2 on a single node", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = c.CreateCollection(ctx, "negative", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2,
		Shards: -1})
	if !errors.Is(err, sextant.ErrInvalidArgument) {
		t.Fatalf("create with -1 shards: %v, want ErrInvalidArgument", err)
	}
	one, err := c.CreateCollection(ctx, "oneshard", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricL2,
		Shards: 1, Replication: 1})
	if err != nil {
		t.Fatalf("create with 1 shard and replication 1: %v", err)
	}
	if err := c.DropCollection(ctx, one.Name()); err != nil {
		t.Fatalf("drop oneshard: %v", err)
	}

	if err := c.DropCollection(ctx, "docs"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "drop twice", c.DropCollection(ctx, "docs"), sextant.ErrNotFound, codes.NotFound)
	_, err = col.Describe(ctx)
	wantCode(t, "describe a dropped collection", err, sextant.ErrNotFound, codes.NotFound)
	list, err = c.ListCollections(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "alpha" {
		t.Fatalf("ListCollections after the drop = %+v, %v", list, err)
	}
}

func TestPointsUpsertGetCountDelete(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "pts", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2,
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldInteger}}})

	big := uint64(1<<63 + 12345)
	points := []sextant.Point{
		{ID: sextant.NumID(1), Vector: []float32{1, 0, 0, 0}, Payload: map[string]any{"group": 1, "lang": "en"}},
		{ID: sextant.NumID(2), Vector: []float32{0, 1, 0, 0}, Payload: map[string]any{"group": 2, "lang": "fr"}},
		{ID: sextant.StrID("2"), Vector: []float32{0, 0, 1, 0}, Payload: map[string]any{"group": 2, "big": big}},
		{ID: sextant.StrID("no-payload"), Vector: []float32{0, 0, 0, 1}},
	}
	n, err := col.Upsert(ctx, points)
	if err != nil || n != 4 {
		t.Fatalf("Upsert = %d, %v", n, err)
	}
	if cnt, err := col.Count(ctx); err != nil || cnt != 4 {
		t.Fatalf("Count = %d, %v", cnt, err)
	}

	p, err := col.Get(ctx, sextant.StrID("2"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != sextant.StrID("2") || fmt.Sprint(p.Vector) != "[0 0 1 0]" {
		t.Errorf("Get(\"2\") = %+v", p)
	}
	if p.Payload["big"] != json.Number(fmt.Sprint(big)) || p.Payload["group"] != json.Number("2") {
		t.Errorf("Get(\"2\").Payload = %#v (64-bit integers must stay exact)", p.Payload)
	}
	p, err = col.Get(ctx, sextant.NumID(2))
	if err != nil || p.Payload["lang"] != "fr" {
		t.Errorf("Get(2) = %+v, %v (the number 2 and the string \"2\" are different ids)", p, err)
	}
	p, err = col.Get(ctx, sextant.StrID("no-payload"))
	if err != nil || len(p.Payload) != 0 {
		t.Errorf("Get(no-payload) = %+v, %v", p, err)
	}
	_, err = col.Get(ctx, sextant.NumID(99))
	wantCode(t, "Get a missing point", err, sextant.ErrNotFound, codes.NotFound)

	// Upsert replaces.
	if _, err := col.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 1, 0, 0},
		Payload: map[string]any{"group": 3}}}); err != nil {
		t.Fatal(err)
	}
	if cnt, _ := col.Count(ctx); cnt != 4 {
		t.Errorf("Count after replacing = %d, want 4", cnt)
	}
	if p, err := col.Get(ctx, sextant.NumID(1)); err != nil || p.Payload["group"] != json.Number("3") ||
		p.Payload["lang"] != nil || p.Vector[1] != 1 {
		t.Errorf("Get(1) after replacing = %+v, %v", p, err)
	}

	// A durable handle writes the same way (and fsyncs).
	if n, err := col.Durable().Upsert(ctx, []sextant.Point{{ID: sextant.NumID(5), Vector: []float32{5, 5, 5, 5}}}); err != nil || n != 1 {
		t.Fatalf("durable Upsert = %d, %v", n, err)
	}

	// Delete by ids: absent ids are skipped.
	n, err = col.Delete(ctx, sextant.NumID(5), sextant.NumID(77), sextant.StrID("no-payload"))
	if err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v; want 2", n, err)
	}
	if cnt, _ := col.Count(ctx); cnt != 3 {
		t.Errorf("Count after Delete = %d, want 3", cnt)
	}
	// Delete by filter, as a map and as raw JSON text.
	n, err = col.DeleteWhere(ctx, map[string]any{"group": 2, "lang": "fr"})
	if err != nil || n != 1 {
		t.Fatalf("DeleteWhere(map) = %d, %v; want 1", n, err)
	}
	n, err = col.DeleteWhere(ctx, `{"group": {"$lt": 3}}`)
	if err != nil || n != 1 {
		t.Fatalf("DeleteWhere(text) = %d, %v; want 1", n, err)
	}
	if cnt, _ := col.Count(ctx); cnt != 1 {
		t.Errorf("Count after DeleteWhere = %d, want 1", cnt)
	}
	_, err = col.DeleteWhere(ctx, nil)
	wantCode(t, "DeleteWhere(nil)", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.DeleteWhere(ctx, `{"group": {"$near": 1}}`)
	wantCode(t, "DeleteWhere with an unknown operator", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	n, err = col.DeleteWhere(ctx, map[string]any{})
	if err != nil || n != 1 {
		t.Errorf("DeleteWhere({}) = %d, %v; want every point (1)", n, err)
	}
	if cnt, _ := col.Count(ctx); cnt != 0 {
		t.Errorf("Count after deleting everything = %d", cnt)
	}
}

func TestScanPaging(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "scan", sextant.CollectionConfig{Dimension: 3, Metric: sextant.MetricL2})
	points := randomPoints(7, 250, 3)
	// Upsert in a scrambled order: the scan must still come back in id order.
	rand.New(rand.NewSource(3)).Shuffle(len(points), func(i, j int) { points[i], points[j] = points[j], points[i] })
	if _, err := col.Upsert(ctx, points); err != nil {
		t.Fatal(err)
	}

	var sizes []int
	var ids []uint64
	opts := sextant.ScanOptions{PageSize: 100}
	for {
		page, err := col.ScanPage(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Points))
		for _, p := range page.Points {
			n, _ := p.ID.Num()
			ids = append(ids, n)
			if len(p.Vector) != 0 {
				t.Fatalf("scan without WithVector returned a vector for %s", p.ID)
			}
			if p.Payload["name"] != fmt.Sprintf("p%d", n) {
				t.Fatalf("scan payload of %s = %v", p.ID, p.Payload)
			}
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
		if len(sizes) > 10 {
			t.Fatal("the scan does not end")
		}
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("page sizes = %v, want [100 100 50]", sizes)
	}
	for i, id := range ids {
		if id != uint64(i) {
			t.Fatalf("scan order: position %d holds id %d", i, id)
		}
	}

	// The iterator, with a filter and vectors.
	it := col.Scan(ctx, sextant.ScanOptions{PageSize: 7, Filter: map[string]any{"group": 4}, WithVector: true})
	var got []uint64
	for it.Next() {
		p := it.Point()
		n, _ := p.ID.Num()
		got = append(got, n)
		if len(p.Vector) != 3 {
			t.Fatalf("scan WithVector: %s has %d floats", p.ID, len(p.Vector))
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 25 || got[0] != 4 || got[24] != 244 {
		t.Errorf("filtered scan = %v", got)
	}

	it = c.Collection("missing").Scan(ctx, sextant.ScanOptions{})
	if it.Next() {
		t.Error("Next on a missing collection returned a point")
	}
	wantCode(t, "scan a missing collection", it.Err(), sextant.ErrNotFound, codes.NotFound)
}

func TestSearch(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	const dim = 16
	points := randomPoints(11, 2000, dim)
	queries := randomPoints(12, 20, dim)

	flat := mustCreate(t, ctx, c, "flat", sextant.CollectionConfig{Dimension: dim, Metric: sextant.MetricL2,
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldInteger}}})
	if _, err := flat.Import(ctx, points, 500, nil); err != nil {
		t.Fatal(err)
	}

	// Exact search equals brute force, with scores ascending and equal to the distance.
	for qi, q := range queries {
		res, err := flat.Search(ctx, q.Vector, sextant.SearchOptions{K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteForce(points, q.Vector, 10, nil); idsString(res.IDs()) != idsString(want) {
			t.Errorf("query %d: Search = %v, brute force = %v", qi, res.IDs(), want)
		}
		for i, h := range res.Hits {
			n, _ := h.ID.Num()
			d := l2(points[n].Vector, q.Vector)
			if diff := h.Score - d; diff > 1e-3 || diff < -1e-3 {
				t.Errorf("query %d hit %d: score %g, distance %g", qi, i, h.Score, d)
			}
			if i > 0 && h.Score < res.Hits[i-1].Score {
				t.Errorf("query %d: scores not ascending", qi)
			}
			if h.Payload != nil || h.Vector != nil {
				t.Errorf("query %d: payload or vector without asking", qi)
			}
		}
		if res.Plan.Kind != sextant.PlanExact {
			t.Errorf("query %d: Flat plan = %+v", qi, res.Plan)
		}
	}

	// Filtered search: every hit matches, and the answer equals brute force over the matches.
	inGroup3 := func(p sextant.Point) bool { return p.Payload["group"] == 3 }
	for qi, q := range queries[:5] {
		res, err := flat.Search(ctx, q.Vector, sextant.SearchOptions{K: 10, Filter: `{"group": 3}`,
			WithPayload: true, WithVector: true})
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteForce(points, q.Vector, 10, inGroup3); idsString(res.IDs()) != idsString(want) {
			t.Errorf("filtered query %d: Search = %v, brute force = %v", qi, res.IDs(), want)
		}
		for _, h := range res.Hits {
			if h.Payload["group"] != json.Number("3") || len(h.Vector) != dim {
				t.Errorf("filtered query %d: hit %s has payload %v and %d floats", qi, h.ID, h.Payload, len(h.Vector))
			}
		}
		if res.Plan.Matches != 200 {
			t.Errorf("filtered query %d: plan.Matches = %d, want 200", qi, res.Plan.Matches)
		}
	}

	// K larger than the matching points returns them all.
	res, err := flat.Search(ctx, queries[0].Vector, sextant.SearchOptions{K: 50,
		Filter: map[string]any{"name": map[string]any{"$in": []string{"p1", "p2", "p3"}}}})
	if err != nil || len(res.Hits) != 3 {
		t.Errorf("Search with 3 matches and k=50 = %v, %v", res.IDs(), err)
	}

	// SearchBatch answers like one Search per query.
	vectors := make([][]float32, len(queries))
	for i, q := range queries {
		vectors[i] = q.Vector
	}
	batch, err := flat.SearchBatch(ctx, vectors, sextant.SearchOptions{K: 5, Filter: map[string]any{"group": 7}})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != len(queries) {
		t.Fatalf("SearchBatch returned %d results for %d queries", len(batch), len(queries))
	}
	for i, q := range queries {
		one, err := flat.Search(ctx, q.Vector, sextant.SearchOptions{K: 5, Filter: map[string]any{"group": 7}})
		if err != nil {
			t.Fatal(err)
		}
		if idsString(one.IDs()) != idsString(batch[i].IDs()) {
			t.Errorf("query %d: SearchBatch %v, Search %v", i, batch[i].IDs(), one.IDs())
		}
	}
	_, err = flat.SearchBatch(ctx, [][]float32{vectors[0], vectors[1][:8]}, sextant.SearchOptions{})
	wantCode(t, "SearchBatch with rows of different lengths", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if empty, err := flat.SearchBatch(ctx, nil, sextant.SearchOptions{}); err != nil || len(empty) != 0 {
		t.Errorf("SearchBatch(no vectors) = %v, %v", empty, err)
	}

	// HNSW: ef_search reaches the plan; Exact bypasses the index; a high ef finds the exact answer.
	hnsw := mustCreate(t, ctx, c, "hnsw", sextant.CollectionConfig{Dimension: dim, Metric: sextant.MetricL2,
		Index: sextant.IndexSpec{Spec: "HNSW16"}})
	if _, err := hnsw.Import(ctx, points, 1000, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := hnsw.WaitForIndex(ctx, 0); err != nil {
		t.Fatal(err)
	}
	q := queries[0].Vector
	lo, err := hnsw.Search(ctx, q, sextant.SearchOptions{K: 10, EfSearch: 16})
	if err != nil {
		t.Fatal(err)
	}
	hi, err := hnsw.Search(ctx, q, sextant.SearchOptions{K: 10, EfSearch: 400})
	if err != nil {
		t.Fatal(err)
	}
	if lo.Plan.Kind != sextant.PlanIndex || hi.Plan.Kind != sextant.PlanIndex || !strings.HasPrefix(hi.Plan.Index, "HNSW16") {
		t.Errorf("HNSW plans = %+v, %+v", lo.Plan, hi.Plan)
	}
	if hi.Plan.Effort < 400 || lo.Plan.Effort >= hi.Plan.Effort {
		t.Errorf("ef_search 16 vs 400: plan efforts %d vs %d", lo.Plan.Effort, hi.Plan.Effort)
	}
	if hi.Plan.DistanceComputations <= lo.Plan.DistanceComputations {
		t.Errorf("ef_search 400 computed %d distances, ef_search 16 %d", hi.Plan.DistanceComputations, lo.Plan.DistanceComputations)
	}
	if want := bruteForce(points, q, 10, nil); idsString(hi.IDs()) != idsString(want) {
		t.Errorf("HNSW with ef_search 400 = %v, exact %v", hi.IDs(), want)
	}
	ex, err := hnsw.Search(ctx, q, sextant.SearchOptions{K: 10, Exact: true})
	if err != nil || ex.Plan.Kind != sextant.PlanExact || idsString(ex.IDs()) != idsString(bruteForce(points, q, 10, nil)) {
		t.Errorf("Exact search on HNSW = %v %+v, %v", ex.IDs(), ex.Plan, err)
	}
}

func TestSetIndexAndWait(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	const dim = 8
	points := randomPoints(21, 3000, dim)
	col := mustCreate(t, ctx, c, "reindex", sextant.CollectionConfig{Dimension: dim, Metric: sextant.MetricL2})
	if _, err := col.Import(ctx, points, 1000, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := col.SetIndex(ctx, sextant.IndexSpec{Spec: "HNSW16"}); err != nil {
		t.Fatal(err)
	}
	info, err := col.WaitForIndex(ctx, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.Index, "HNSW16") || info.IndexState != sextant.IndexReady || info.Count != 3000 {
		t.Errorf("after SetIndex + WaitForIndex: %+v", info)
	}
	res, err := col.Search(ctx, points[5].Vector, sextant.SearchOptions{K: 1})
	if err != nil || res.Plan.Kind != sextant.PlanIndex || len(res.Hits) != 1 || res.Hits[0].ID != sextant.NumID(5) {
		t.Errorf("search after SetIndex = %v %+v, %v", res.IDs(), res.Plan, err)
	}
	if _, err := col.RebuildIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := col.WaitForIndex(ctx, 2*time.Minute); err != nil || info.IndexState != sextant.IndexReady {
		t.Errorf("after RebuildIndex: %+v, %v", info, err)
	}
	_, err = col.SetIndex(ctx, sextant.IndexSpec{Spec: "HNSW0"})
	wantCode(t, "SetIndex with a bad spec", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.WaitForIndex(ctx, -time.Second)
	wantCode(t, "WaitForIndex with a negative timeout", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
}

func TestImportWithProgress(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "imp", sextant.CollectionConfig{Dimension: 8, Metric: sextant.MetricInnerProduct})
	points := randomPoints(5, 5000, 8)

	var progress []int
	n, err := col.Import(ctx, points, 700, func(done int) { progress = append(progress, done) })
	if err != nil || n != 5000 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	want := []int{700, 1400, 2100, 2800, 3500, 4200, 4900, 5000}
	if fmt.Sprint(progress) != fmt.Sprint(want) {
		t.Errorf("progress = %v, want %v", progress, want)
	}
	if cnt, _ := col.Count(ctx); cnt != 5000 {
		t.Errorf("Count = %d", cnt)
	}
	p, err := col.Get(ctx, sextant.NumID(4321))
	if err != nil || p.Payload["name"] != "p4321" || fmt.Sprint(p.Vector) != fmt.Sprint(points[4321].Vector) {
		t.Errorf("Get(4321) = %+v, %v", p, err)
	}
	if n, err := col.Import(ctx, nil, 10, nil); err != nil || n != 0 {
		t.Errorf("Import(nothing) = %d, %v", n, err)
	}

	// A bad point in the fourth batch: the client stops there, earlier batches stay whole.
	more := randomPoints(6, 1000, 8)
	for i := range more {
		more[i].ID = sextant.NumID(uint64(10000 + i))
	}
	more[350].ID = sextant.ID{}
	n, err = col.Import(ctx, more, 100, nil)
	wantCode(t, "Import with an unset id", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if err != nil && !strings.Contains(err.Error(), "points[350].id") {
		t.Errorf("the error does not name the point: %v", err)
	}
	cnt, _ := col.Count(ctx)
	added := cnt - 5000
	if n > added || added%100 != 0 || added > 300 {
		t.Errorf("after a failed import: %d acknowledged, %d added; want whole batches before the bad one", n, added)
	}

	// The server's batch limit is reported per batch.
	_, err = col.Import(ctx, randomPoints(8, 30, 8), 0, nil)
	if err != nil {
		t.Fatalf("Import with the default batch size: %v", err)
	}
	_, err = c.Collection("nope").Import(ctx, points[:10], 5, nil)
	wantCode(t, "Import into a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	wrong := []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 2, 3}}}
	_, err = col.Import(ctx, wrong, 0, nil)
	wantCode(t, "Import with the wrong dimension", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.Import(ctx, wrong, -1, nil)
	wantCode(t, "Import with a negative batch size", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
}

// TestImportCancelledKeepsWholeBatches cancels an import after some acknowledgements: what the
// collection holds afterwards is a prefix of whole batches, each point with its payload.
func TestImportCancelledKeepsWholeBatches(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	const dim, batch = 64, 500
	col := mustCreate(t, ctx, c, "cancel", sextant.CollectionConfig{Dimension: dim, Metric: sextant.MetricL2})
	points := randomPoints(9, 40000, dim)

	importCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	acked := 0
	n, err := col.Import(importCtx, points, batch, func(done int) {
		acked = done
		if done >= 3*batch {
			cancel()
		}
	})
	if err == nil {
		t.Fatalf("Import returned no error after its context was cancelled (%d points)", n)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, sextant.ErrCanceled) {
		t.Errorf("Import error = %v, want CANCELLED", err)
	}
	if n != acked || n < 3*batch || n%batch != 0 {
		t.Errorf("Import returned %d after %d were acknowledged", n, acked)
	}

	// The server may still be committing a batch it had received when the cancellation reached
	// it, so the count can grow a little after Import returns. Every read must still see whole
	// batches only: a count that is a multiple of the batch size, and a scan (one page, one read)
	// that is a prefix of whole batches with their payloads.
	counts := map[int]bool{}
	for round := 0; round < 5; round++ {
		page, err := col.ScanPage(ctx, sextant.ScanOptions{PageSize: len(points)})
		if err != nil {
			t.Fatal(err)
		}
		if page.NextCursor != "" {
			t.Fatalf("a scan of %d points with a page of %d has a next page", len(page.Points), len(points))
		}
		for i, p := range page.Points {
			if p.ID != sextant.NumID(uint64(i)) {
				t.Fatalf("the collection is not a prefix of the import: position %d holds id %s", i, p.ID)
			}
			if want := fmt.Sprintf("p%d", i); p.Payload["name"] != want {
				t.Fatalf("point %d has payload %v", i, p.Payload)
			}
		}
		scanned := len(page.Points)
		cnt, err := col.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counts[cnt] = true
		if scanned%batch != 0 || scanned < n || cnt%batch != 0 || cnt < scanned || cnt == len(points) {
			t.Errorf("round %d: scanned %d, count %d, after %d acknowledged of %d: want whole batches, "+
				"at least the acknowledged ones, and not everything", round, scanned, cnt, n, len(points))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("cancelled after %d acknowledged points; the collection held %v of %d", n, counts, len(points))
}

func TestErrorKinds(t *testing.T) {
	srv := sextantdtest.Start(t, "--max-batch-points", "50")
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col := mustCreate(t, ctx, c, "errs", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2})
	missing := c.Collection("missing")

	_, err := col.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 2, 3}}})
	wantCode(t, "Upsert with the wrong dimension", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if err != nil && !strings.Contains(err.Error(), "dimension") {
		t.Errorf("the wrong-dimension error does not say so: %v", err)
	}
	_, err = col.Search(ctx, []float32{1, 2, 3, 4, 5}, sextant.SearchOptions{})
	wantCode(t, "Search with the wrong dimension", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.Upsert(ctx, []sextant.Point{{Vector: []float32{1, 2, 3, 4}}})
	wantCode(t, "Upsert with an unset id", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.Upsert(ctx, []sextant.Point{{ID: sextant.StrID(strings.Repeat("x", 513)), Vector: []float32{1, 2, 3, 4}}})
	wantCode(t, "Upsert with a 513-byte string id", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	_, err = col.Search(ctx, []float32{1, 2, 3, 4}, sextant.SearchOptions{Filter: `{"a": `})
	wantCode(t, "Search with malformed filter JSON", err, sextant.ErrInvalidArgument, codes.InvalidArgument)

	_, err = missing.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 2, 3, 4}}})
	wantCode(t, "Upsert into a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	_, err = missing.Search(ctx, []float32{1, 2, 3, 4}, sextant.SearchOptions{})
	wantCode(t, "Search a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	_, err = missing.Count(ctx)
	wantCode(t, "Count a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	_, err = missing.Delete(ctx, sextant.NumID(1))
	wantCode(t, "Delete from a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	_, err = missing.Get(ctx, sextant.NumID(1))
	wantCode(t, "Get from a missing collection", err, sextant.ErrNotFound, codes.NotFound)

	_, err = c.CreateCollection(ctx, "errs", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2})
	wantCode(t, "a duplicate collection", err, sextant.ErrAlreadyExists, codes.AlreadyExists)

	// Over the server's --max-batch-points: refused whole, in one Upsert and in an Import batch.
	tooMany := randomPoints(1, 51, 4)
	_, err = col.Upsert(ctx, tooMany)
	wantCode(t, "Upsert over max_batch_points", err, sextant.ErrResourceExhausted, codes.ResourceExhausted)
	_, err = col.Import(ctx, tooMany, 51, nil)
	wantCode(t, "Import batch over max_batch_points", err, sextant.ErrResourceExhausted, codes.ResourceExhausted)
	if cnt, _ := col.Count(ctx); cnt != 0 {
		t.Errorf("refused batches wrote %d points", cnt)
	}
	if n, err := col.Import(ctx, tooMany, 50, nil); err != nil || n != 51 {
		t.Errorf("Import in batches of 50 = %d, %v", n, err)
	}

	// Deadlines: an expired context fails as DEADLINE_EXCEEDED and matches the context error.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err = col.Count(expired)
	wantCode(t, "Count with an expired deadline", err, sextant.ErrDeadlineExceeded, codes.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DEADLINE_EXCEEDED does not match context.DeadlineExceeded: %v", err)
	}
}

func TestAuth(t *testing.T) {
	srv := sextantdtest.Start(t, "--api-key", "secret", "--read-only-key", "ro")
	ctx := sextantdtest.Context(t)

	// The health check needs no key, so Dial succeeds; calls do not.
	anon := srv.Dial(t)
	_, err := anon.ListCollections(ctx)
	wantCode(t, "ListCollections without a key", err, sextant.ErrUnauthenticated, codes.Unauthenticated)
	wrong := srv.Dial(t, sextant.WithAPIKey("guess"))
	_, err = wrong.ServerInfo(ctx)
	wantCode(t, "ServerInfo with a wrong key", err, sextant.ErrUnauthenticated, codes.Unauthenticated)

	rw := srv.Dial(t, sextant.WithAPIKey("secret"), sextant.WithInsecure())
	info, err := rw.ServerInfo(ctx)
	if err != nil || info.ReadOnly {
		t.Fatalf("ServerInfo with the read-write key = %+v, %v", info, err)
	}
	col := mustCreate(t, ctx, rw, "auth", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2})
	if _, err := col.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(1), Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}

	ro := srv.Dial(t, sextant.WithAPIKey("ro"))
	info, err = ro.ServerInfo(ctx)
	if err != nil || !info.ReadOnly {
		t.Errorf("ServerInfo with the read-only key = %+v, %v", info, err)
	}
	roCol := ro.Collection("auth")
	if cnt, err := roCol.Count(ctx); err != nil || cnt != 1 {
		t.Errorf("Count with the read-only key = %d, %v", cnt, err)
	}
	if res, err := roCol.Search(ctx, []float32{1, 2}, sextant.SearchOptions{K: 1}); err != nil || len(res.Hits) != 1 {
		t.Errorf("Search with the read-only key = %v, %v", res.IDs(), err)
	}
	_, err = roCol.Upsert(ctx, []sextant.Point{{ID: sextant.NumID(2), Vector: []float32{1, 2}}})
	wantCode(t, "Upsert with the read-only key", err, sextant.ErrPermissionDenied, codes.PermissionDenied)
	_, err = roCol.Import(ctx, []sextant.Point{{ID: sextant.NumID(2), Vector: []float32{1, 2}}}, 1, nil)
	wantCode(t, "Import with the read-only key", err, sextant.ErrPermissionDenied, codes.PermissionDenied)
	_, err = roCol.Delete(ctx, sextant.NumID(1))
	wantCode(t, "Delete with the read-only key", err, sextant.ErrPermissionDenied, codes.PermissionDenied)
	_, err = ro.CreateCollection(ctx, "x", sextant.CollectionConfig{Dimension: 2, Metric: sextant.MetricL2})
	wantCode(t, "CreateCollection with the read-only key", err, sextant.ErrPermissionDenied, codes.PermissionDenied)
	wantCode(t, "DropCollection with the read-only key", ro.DropCollection(ctx, "auth"), sextant.ErrPermissionDenied, codes.PermissionDenied)
	if cnt, err := col.Count(ctx); err != nil || cnt != 1 {
		t.Errorf("Count after refused writes = %d, %v", cnt, err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := sextantdtest.Context(t)
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = sextant.Dial(ctx, addr)
	wantCode(t, "Dial a closed port", err, sextant.ErrUnavailable, codes.Unavailable)

	_, err = sextant.Dial(ctx, "127.0.0.1:1", sextant.WithTLS(nil), sextant.WithInsecure())
	wantCode(t, "Dial with TLS and insecure", err, sextant.ErrInvalidArgument, codes.InvalidArgument)

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	// A listener that accepts and never answers: Dial must give up with its context, not hang.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_, err = sextant.Dial(short, silent.Addr().String())
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, sextant.ErrUnavailable) {
		t.Errorf("Dial a server that never answers: err = %v, want DEADLINE_EXCEEDED or UNAVAILABLE", err)
	}
}
