// Command quickstart shows the Go client against a running sextantd:
//
//	sextantd --data ./sextant-data --listen 127.0.0.1:7070 &
//	go run ./examples/quickstart -addr 127.0.0.1:7070
//
// It creates a small collection, upserts a few points with payloads, searches it with and
// without a filter, bulk-imports more points with progress, and drops the collection again.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"time"

	sextant "github.com/sextant-db/sextant/client/go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7070", "sextantd address (host:port)")
	apiKey := flag.String("api-key", "", "API key, when the server needs one")
	name := flag.String("collection", "quickstart", "collection to create (dropped at the end)")
	flag.Parse()
	if err := run(*addr, *apiKey, *name); err != nil {
		log.Fatal(err)
	}
}

func run(addr, apiKey, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var opts []sextant.Option
	if apiKey != "" {
		opts = append(opts, sextant.WithAPIKey(apiKey))
	}
	client, err := sextant.Dial(ctx, addr, opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	info, err := client.ServerInfo(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("connected to sextantd %s (%s kernels)\n", info.Version, info.SIMDLevel)

	// Start from scratch: drop a leftover collection of the same name, if any.
	if err := client.DropCollection(ctx, name); err != nil && !errors.Is(err, sextant.ErrNotFound) {
		return err
	}
	col, err := client.CreateCollection(ctx, name, sextant.CollectionConfig{
		Dimension:      4,
		Metric:         sextant.MetricCosine,
		Index:          sextant.IndexSpec{Spec: "HNSW16"},
		PayloadIndexes: []sextant.PayloadIndex{{Field: "genre", Type: sextant.FieldKeyword}},
	})
	if err != nil {
		return err
	}

	films := []sextant.Point{
		{ID: sextant.NumID(1), Vector: []float32{0.9, 0.1, 0.0, 0.2}, Payload: map[string]any{"title": "Alien", "genre": "scifi", "year": 1979}},
		{ID: sextant.NumID(2), Vector: []float32{0.8, 0.3, 0.1, 0.1}, Payload: map[string]any{"title": "Solaris", "genre": "scifi", "year": 1972}},
		{ID: sextant.NumID(3), Vector: []float32{0.1, 0.9, 0.3, 0.0}, Payload: map[string]any{"title": "Amélie", "genre": "comedy", "year": 2001}},
		{ID: sextant.StrID("tt0062622"), Vector: []float32{0.7, 0.0, 0.6, 0.3}, Payload: map[string]any{"title": "2001", "genre": "scifi", "year": 1968}},
	}
	if _, err := col.Upsert(ctx, films); err != nil {
		return err
	}

	query := []float32{0.85, 0.2, 0.05, 0.15}
	res, err := col.Search(ctx, query, sextant.SearchOptions{K: 3, WithPayload: true})
	if err != nil {
		return err
	}
	fmt.Println("nearest 3:")
	for _, h := range res.Hits {
		fmt.Printf("  %-12s %.4f  %v (%v)\n", h.ID, h.Score, h.Payload["title"], h.Payload["year"])
	}

	res, err = col.Search(ctx, query, sextant.SearchOptions{
		K:           3,
		Filter:      map[string]any{"genre": "scifi", "year": map[string]any{"$lt": 1975}},
		WithPayload: true,
	})
	if err != nil {
		return err
	}
	fmt.Printf("sci-fi before 1975 (plan: %s, %d matching):\n", res.Plan.Kind, res.Plan.Matches)
	for _, h := range res.Hits {
		fmt.Printf("  %-12s %.4f  %v\n", h.ID, h.Score, h.Payload["title"])
	}

	// Bulk import over the streaming upsert, 500 points a batch, with progress.
	r := rand.New(rand.NewSource(1))
	bulk := make([]sextant.Point, 2000)
	for i := range bulk {
		bulk[i] = sextant.Point{
			ID:      sextant.NumID(uint64(1000 + i)),
			Vector:  []float32{r.Float32(), r.Float32(), r.Float32(), r.Float32()},
			Payload: map[string]any{"genre": "generated"},
		}
	}
	n, err := col.Import(ctx, bulk, 500, func(done int) { fmt.Printf("\rimported %d/%d", done, len(bulk)) })
	fmt.Println()
	if err != nil {
		return err
	}
	count, err := col.Count(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("imported %d points; the collection holds %d\n", n, count)

	deleted, err := col.DeleteWhere(ctx, map[string]any{"genre": "generated"})
	if err != nil {
		return err
	}
	p, err := col.Get(ctx, sextant.StrID("tt0062622"))
	if err != nil {
		return err
	}
	fmt.Printf("deleted %d generated points; %s is still %v\n", deleted, p.ID, p.Payload["title"])

	// Errors keep their gRPC code and match the package's sentinels.
	if _, err := col.Get(ctx, sextant.NumID(424242)); errors.Is(err, sextant.ErrNotFound) {
		fmt.Println("as expected:", err)
	} else {
		return fmt.Errorf("Get of a missing point returned %v", err)
	}
	return client.DropCollection(ctx, name)
}
