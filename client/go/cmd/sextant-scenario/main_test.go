package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
	"github.com/sextant-db/sextant/client/go/internal/vecs"
)

// TestScenario runs the scenario against a real sextantd and checks the answers it can know
// without another client: the counts, exact search against brute force, the filters.
func TestScenario(t *testing.T) {
	dir := sextantdtest.SharedData(t, "siftsmall")
	srv := sextantdtest.Start(t)
	ctx := sextantdtest.Context(t)

	res, err := run(ctx, srv.Addr, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	// Twice: the second run drops and recreates the collection and must answer the same.
	again, err := run(ctx, srv.Addr, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, again) {
		t.Error("a second run answered differently")
	}

	if res.CountAfterUpsert != 10000 || res.DeletedIDs != 1429 || res.DeletedFilter != 857 || res.CountFinal != 7714 {
		t.Errorf("counts: after upsert %d, deleted by id %d, by filter %d, final %d; want 10000, 1429, 857, 7714",
			res.CountAfterUpsert, res.DeletedIDs, res.DeletedFilter, res.CountFinal)
	}
	base, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_base.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_query.fvecs"))
	if err != nil {
		t.Fatal(err)
	}
	all := func(int) bool { return true }
	group3 := func(i int) bool { return i%10 == 3 }
	alive := func(i int) bool { return i%7 != 0 && i%10 != 9 }
	for name, c := range map[string]struct {
		got  [][]sextant.ID
		keep func(int) bool
	}{"search": {res.Search, all}, "filtered": {res.Filtered, group3}, "search_after_delete": {res.SearchAfterDelete, alive}} {
		if len(c.got) != 10 {
			t.Fatalf("%s: %d result lists", name, len(c.got))
		}
		for qi, ids := range c.got {
			want := nearest(base, qs[qi], 10, c.keep)
			if len(ids) != 10 {
				t.Fatalf("%s query %d: %d hits", name, qi, len(ids))
			}
			for i, id := range ids {
				n, ok := id.Num()
				if !ok || !c.keep(int(n)) {
					t.Errorf("%s query %d: hit %s does not belong", name, qi, id)
				}
				// Exact search: the same distances as brute force (ids may swap on exact ties).
				if d, w := l2(base[n], qs[qi]), l2(base[want[i]], qs[qi]); d != w {
					t.Errorf("%s query %d rank %d: id %d at %g, brute force id %d at %g", name, qi, i, n, d, want[i], w)
				}
			}
		}
	}
	wantGet := got{ID: sextant.NumID(5), Payload: map[string]any{"group": json.Number("5"), "name": "p5"}}
	if !reflect.DeepEqual(res.Get5, wantGet) {
		t.Errorf("get_5 = %#v", res.Get5)
	}

	// The file: the keys the comparison reads, ids as JSON numbers.
	out := filepath.Join(t.TempDir(), "go.json")
	if err := writeJSON(out, res); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"count_after_upsert", "search", "filtered", "deleted_ids", "deleted_filter",
		"count_final", "search_after_delete", "get_5"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("output lacks %q", key)
		}
	}
	if first, ok := doc["search"].([]any)[0].([]any)[0].(float64); !ok || first < 0 {
		t.Errorf("search ids are not JSON numbers: %v", doc["search"])
	}
	if g := doc["get_5"].(map[string]any); g["id"] != 5.0 || g["payload"].(map[string]any)["name"] != "p5" {
		t.Errorf("get_5 in the file = %v", g)
	}
}

func l2(a, b []float32) float32 {
	var s float32
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// nearest returns the rows of the k vectors of base nearest to q among the rows keep accepts.
func nearest(base [][]float32, q []float32, k int, keep func(int) bool) []int {
	type cand struct {
		i int
		d float32
	}
	var best []cand
	for i, v := range base {
		if !keep(i) {
			continue
		}
		c := cand{i, l2(v, q)}
		pos := len(best)
		for pos > 0 && best[pos-1].d > c.d {
			pos--
		}
		if pos < k {
			best = append(best, cand{})
			copy(best[pos+1:], best[pos:])
			best[pos] = c
			if len(best) > k {
				best = best[:k]
			}
		}
	}
	out := make([]int, len(best))
	for i, c := range best {
		out[i] = c.i
	}
	return out
}
