package sextant

import (
	"context"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// RetrieveOptions shape Retrieve (and the retrieval of Ask): docs/rag.md, "Retrieval modes".
type RetrieveOptions struct {
	// K is the number of chunks; 0 means 5, at most 1000.
	K int
	// Retrieval is "hybrid" ("" = the default: the dense and the BM25 lists fused by reciprocal
	// rank fusion), "dense" (the embedder's vectors) or "text" (BM25 over the chunk text).
	Retrieval string
	// Filter limits retrieval to chunks whose payload matches (see SearchOptions.Filter).
	Filter any
	// GroupBy keeps at most GroupSize (0 = 1) chunks per value of this field, e.g. "document_id".
	GroupBy   string
	GroupSize int
	// ScoreThreshold keeps only chunks at least this relevant: cosine similarity in [-1, 1] for
	// "dense" and "hybrid", BM25 >= 0 for "text". nil = no threshold.
	ScoreThreshold *float32
	// EfSearch is the HNSW effort; 0 means the index's default.
	EfSearch int
}

func citationFromProto(c *pb.Citation) Citation {
	return Citation{
		Number:     int(c.GetNumber()),
		DocumentID: c.GetDocumentId(),
		Chunk:      int(c.GetChunk()),
		Score:      c.GetScore(),
		DenseScore: c.DenseScore,
		TextScore:  c.TextScore,
		Text:       c.GetText(),
		Begin:      int(c.GetBegin()),
		End:        int(c.GetEnd()),
		Cited:      c.GetCited(),
	}
}

// Retrieve returns the chunks of the text collection that best match query, best first, without
// generating an answer (the retrieval of Ask).
//
//	chunks, err := col.Retrieve(ctx, "error XQ7731", sextant.RetrieveOptions{K: 5, Retrieval: "text"})
//	for _, c := range chunks {
//		fmt.Println(c.Number, c.DocumentID, c.Score, *c.TextScore)
//	}
//
// INVALID_ARGUMENT for an empty query, K out of range, an unknown mode or a threshold out of its
// mode's range; FAILED_PRECONDITION for "text" on a collection created before chunk text was
// indexed, or a plain vector collection; NOT_FOUND for an unknown collection.
func (c *Collection) Retrieve(ctx context.Context, query string, opts RetrieveOptions) ([]Citation, error) {
	const op = "Retrieve"
	k, err := toUint32(op, "k", opts.K)
	if err != nil {
		return nil, err
	}
	groupSize, err := toUint32(op, "group_size", opts.GroupSize)
	if err != nil {
		return nil, err
	}
	ef, err := toUint32(op, "ef_search", opts.EfSearch)
	if err != nil {
		return nil, err
	}
	filter, err := encodeFilter(op, opts.Filter)
	if err != nil {
		return nil, err
	}
	r, err := c.client.rpc.Retrieve(ctx, &pb.RetrieveRequest{
		Collection: c.name, Query: query, K: k, Retrieval: opts.Retrieval, Filter: filter,
		GroupBy: opts.GroupBy, GroupSize: groupSize, ScoreThreshold: opts.ScoreThreshold, EfSearch: ef,
	})
	if err != nil {
		return nil, wrapError(op, err)
	}
	out := make([]Citation, 0, len(r.GetChunks()))
	for _, ch := range r.GetChunks() {
		out = append(out, citationFromProto(ch))
	}
	return out, nil
}
