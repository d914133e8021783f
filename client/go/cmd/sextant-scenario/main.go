// Command sextant-scenario runs the cross-client scenario against a running sextantd with the Go
// client and writes its answers as JSON, for comparison with the C++ and Python clients and
// the embedded engine:
//
//	sextant-scenario -address 127.0.0.1:7070 -siftsmall /work/shared/data/siftsmall -out go.json [-api-key K]
//
// The scenario: (re)create collection "scenario" (dimension 128, L2, Flat, integer payload index
// "group"); stream siftsmall_base.fvecs in batches of 1000 with id = row i and payload
// {"group": i % 10, "name": "p<i>"}; count; search the first 10 queries (k=10) without and with
// the filter {"group": 3}; delete every id i with i % 7 == 0, then by the filter {"group": 9};
// count; search again; get id 5. Any error exits with status 1 and a message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/vecs"
)

const (
	collection = "scenario"
	queries    = 10
	k          = 10
	batchSize  = 1000
)

// result is the scenario's output, in the order the steps run.
type result struct {
	CountAfterUpsert  int            `json:"count_after_upsert"`
	Search            [][]sextant.ID `json:"search"`
	Filtered          [][]sextant.ID `json:"filtered"`
	DeletedIDs        int            `json:"deleted_ids"`
	DeletedFilter     int            `json:"deleted_filter"`
	CountFinal        int            `json:"count_final"`
	SearchAfterDelete [][]sextant.ID `json:"search_after_delete"`
	Get5              got            `json:"get_5"`
}

type got struct {
	ID      sextant.ID     `json:"id"`
	Payload map[string]any `json:"payload"`
}

func main() {
	address := flag.String("address", "127.0.0.1:7070", "sextantd address (host:port)")
	siftsmall := flag.String("siftsmall", "", "folder with siftsmall_base.fvecs and siftsmall_query.fvecs")
	out := flag.String("out", "", "file to write the JSON result to")
	apiKey := flag.String("api-key", "", "API key, when the server needs one")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *siftsmall == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: sextant-scenario -address HOST:PORT -siftsmall DIR -out FILE [-api-key KEY]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := run(ctx, *address, *siftsmall, *apiKey)
	if err == nil {
		err = writeJSON(*out, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sextant-scenario:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, address, dir, apiKey string) (*result, error) {
	base, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_base.fvecs"))
	if err != nil {
		return nil, err
	}
	qs, err := vecs.ReadFvecs(filepath.Join(dir, "siftsmall_query.fvecs"))
	if err != nil {
		return nil, err
	}
	if len(base) != 10000 || len(base[0]) != 128 || len(qs) < queries || len(qs[0]) != 128 {
		return nil, fmt.Errorf("%s: expected 10000 base and at least %d query vectors of dimension 128, got %d and %d",
			dir, queries, len(base), len(qs))
	}
	qs = qs[:queries]

	var opts []sextant.Option
	if apiKey != "" {
		opts = append(opts, sextant.WithAPIKey(apiKey))
	}
	client, err := sextant.Dial(ctx, address, opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()

	// 1. A fresh collection.
	if err := client.DropCollection(ctx, collection); err != nil && !errors.Is(err, sextant.ErrNotFound) {
		return nil, err
	}
	col, err := client.CreateCollection(ctx, collection, sextant.CollectionConfig{
		Dimension:      128,
		Metric:         sextant.MetricL2,
		Index:          sextant.IndexSpec{Spec: "Flat"},
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldInteger}},
	})
	if err != nil {
		return nil, err
	}

	// 2. Streaming bulk upsert.
	points := make([]sextant.Point, len(base))
	for i, v := range base {
		points[i] = sextant.Point{ID: sextant.NumID(uint64(i)), Vector: v,
			Payload: map[string]any{"group": i % 10, "name": fmt.Sprintf("p%d", i)}}
	}
	if _, err := col.Import(ctx, points, batchSize, nil); err != nil {
		return nil, err
	}

	var res result
	// 3.
	if res.CountAfterUpsert, err = col.Count(ctx); err != nil {
		return nil, err
	}
	// 4. and 5.
	if res.Search, err = searchAll(ctx, col, qs, nil); err != nil {
		return nil, err
	}
	if res.Filtered, err = searchAll(ctx, col, qs, map[string]any{"group": 3}); err != nil {
		return nil, err
	}
	// 6. Delete by ids.
	var ids []sextant.ID
	for i := 0; i < len(base); i += 7 {
		ids = append(ids, sextant.NumID(uint64(i)))
	}
	if res.DeletedIDs, err = col.Delete(ctx, ids...); err != nil {
		return nil, err
	}
	// 7. Delete by filter.
	if res.DeletedFilter, err = col.DeleteWhere(ctx, map[string]any{"group": 9}); err != nil {
		return nil, err
	}
	// 8. and 9.
	if res.CountFinal, err = col.Count(ctx); err != nil {
		return nil, err
	}
	if res.SearchAfterDelete, err = searchAll(ctx, col, qs, nil); err != nil {
		return nil, err
	}
	// 10.
	p, err := col.Get(ctx, sextant.NumID(5))
	if err != nil {
		return nil, err
	}
	res.Get5 = got{ID: p.ID, Payload: p.Payload}
	return &res, nil
}

// searchAll returns the hit ids of each query, nearest first.
func searchAll(ctx context.Context, col *sextant.Collection, qs [][]float32, filter any) ([][]sextant.ID, error) {
	out := make([][]sextant.ID, len(qs))
	for i, q := range qs {
		r, err := col.Search(ctx, q, sextant.SearchOptions{K: k, Filter: filter})
		if err != nil {
			return nil, fmt.Errorf("query %d: %w", i, err)
		}
		out[i] = r.IDs()
	}
	return out, nil
}

func writeJSON(path string, res *result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
