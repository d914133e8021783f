// Package sextant is the Go client of sextantd, the Sextant vector database server.
//
// It speaks the gRPC API of proto/sextant/v1/sextant.proto (generated code in the sextantpb
// package) and gives it a Go shape: context.Context first, typed options, payloads as
// map[string]any, filters as any value that marshals to the JSON filter language
// (docs/filters.md), and errors as *Error values that keep the gRPC status code.
//
//	ctx := context.Background()
//	c, err := sextant.Dial(ctx, "127.0.0.1:7070")
//	if err != nil { ... }
//	defer c.Close()
//
//	col, err := c.CreateCollection(ctx, "docs", sextant.CollectionConfig{
//		Dimension: 4,
//		Metric:    sextant.MetricCosine,
//		Index:     sextant.IndexSpec{Spec: "HNSW16"},
//	})
//	_, err = col.Upsert(ctx, []sextant.Point{
//		{ID: sextant.NumID(1), Vector: []float32{1, 0, 0, 0}, Payload: map[string]any{"lang": "en"}},
//		{ID: sextant.StrID("b"), Vector: []float32{0, 1, 0, 0}},
//	})
//	res, err := col.Search(ctx, []float32{1, 0.1, 0, 0}, sextant.SearchOptions{
//		K: 5, Filter: map[string]any{"lang": "en"}, WithPayload: true})
//	for _, h := range res.Hits {
//		fmt.Println(h.ID, h.Score, h.Payload)
//	}
//
// Every method returns an *Error on failure; errors.Is(err, sextant.ErrNotFound) and the other
// sentinels test its kind.
package sextant
