package sextant

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// Collection is a handle to one collection of a Client. It is cheap (a name and the client) and
// safe for concurrent use; Client.Collection makes one without a call to the server.
type Collection struct {
	client *Client
	name   string
	sync   bool
}

// Name is the collection's name.
func (c *Collection) Name() string { return c.name }

// Durable returns a handle to the same collection whose writes (Upsert, Import, Delete,
// DeleteWhere) make the server fsync its write-ahead log before acknowledging, so that they
// survive a machine crash and not only a process crash. Slower; the default handle does not.
func (c *Collection) Durable() *Collection {
	d := *c
	d.sync = true
	return &d
}

// Describe returns the collection's dimension, metric, count and index state.
func (c *Collection) Describe(ctx context.Context) (CollectionInfo, error) {
	r, err := c.client.rpc.DescribeCollection(ctx, &pb.DescribeCollectionRequest{Name: c.name})
	if err != nil {
		return CollectionInfo{}, wrapError("Describe", err)
	}
	return collectionInfoFromProto(r), nil
}

// SetIndex replaces the collection's index with spec. The new index is built in the background
// while searches keep using the old one; WaitForIndex waits for it.
func (c *Collection) SetIndex(ctx context.Context, spec IndexSpec) (CollectionInfo, error) {
	r, err := c.client.rpc.SetIndex(ctx, &pb.SetIndexRequest{Collection: c.name, Index: spec.toProto()})
	if err != nil {
		return CollectionInfo{}, wrapError("SetIndex", err)
	}
	return collectionInfoFromProto(r), nil
}

// RebuildIndex rebuilds the current index from the stored vectors (retraining IVF clusters and
// quantizers), in the background like SetIndex.
func (c *Collection) RebuildIndex(ctx context.Context) (CollectionInfo, error) {
	r, err := c.client.rpc.SetIndex(ctx, &pb.SetIndexRequest{Collection: c.name, Rebuild: true})
	if err != nil {
		return CollectionInfo{}, wrapError("RebuildIndex", err)
	}
	return collectionInfoFromProto(r), nil
}

// WaitForIndex waits until the collection's index is ready and returns the collection's state.
// timeout 0 waits until ctx's deadline (or the server's 60 s); DEADLINE_EXCEEDED when the index
// is still building then.
func (c *Collection) WaitForIndex(ctx context.Context, timeout time.Duration) (CollectionInfo, error) {
	if timeout < 0 {
		return CollectionInfo{}, invalidArgument("WaitForIndex", "timeout: %v is negative", timeout)
	}
	r, err := c.client.rpc.WaitForIndex(ctx, &pb.WaitForIndexRequest{
		Collection: c.name, TimeoutMs: uint64(timeout / time.Millisecond)})
	if err != nil {
		return CollectionInfo{}, wrapError("WaitForIndex", err)
	}
	return collectionInfoFromProto(r), nil
}

func pointsToProto(op string, points []Point, offset int) ([]*pb.Point, error) {
	out := make([]*pb.Point, len(points))
	for i := range points {
		p, err := points[i].toProto(op, fmt.Sprintf("points[%d]", offset+i))
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Upsert inserts the points, replacing those whose ids exist, atomically: all of them or none.
// It returns the number upserted. A batch may hold up to the server's MaxBatchPoints points
// (RESOURCE_EXHAUSTED beyond); Import sends more in batches.
func (c *Collection) Upsert(ctx context.Context, points []Point) (int, error) {
	const op = "Upsert"
	pts, err := pointsToProto(op, points, 0)
	if err != nil {
		return 0, err
	}
	r, err := c.client.rpc.Upsert(ctx, &pb.UpsertRequest{Collection: c.name, Points: pts, Sync: c.sync,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetUpserted()), nil
}

// DefaultImportBatch is the batch size Import uses when given 0.
const DefaultImportBatch = 1000

// Import bulk-loads points over one streaming call, batchSize points per message (0 means
// DefaultImportBatch). The server commits each batch atomically on its own and acknowledges it;
// progress, when not nil, is called after each acknowledgement with the number of points
// committed so far (from the goroutine that called Import).
//
// Import returns the number of points committed. When it fails, or ctx is cancelled halfway,
// the batches committed before stay and nothing of a later batch is written; the count returned
// is the points acknowledged, and a batch in flight may have been committed without an
// acknowledgement, so read Count to know exactly. No points, no call: it returns 0.
func (c *Collection) Import(ctx context.Context, points []Point, batchSize int, progress func(done int)) (int, error) {
	const op = "Import"
	if batchSize < 0 {
		return 0, invalidArgument(op, "batch size: %d is negative", batchSize)
	}
	if batchSize == 0 {
		batchSize = DefaultImportBatch
	}
	if len(points) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.rpc.UpsertStream(ctx)
	if err != nil {
		return 0, wrapError(op, err)
	}

	// One goroutine sends, this one receives: the server answers every batch, and reading the
	// answers while sending keeps either side from waiting on a full window.
	sent := make(chan error, 1)
	go func() {
		for start := 0; start < len(points); start += batchSize {
			end := min(start+batchSize, len(points))
			pts, err := pointsToProto(op, points[start:end], start)
			if err != nil {
				sent <- err
				cancel()
				return
			}
			req := &pb.UpsertRequest{Points: pts, Sync: c.sync}
			if start == 0 {
				req.Collection = c.name
				req.ConsistencyToken = c.client.sessions.get(c.name) // read from the first message
			}
			if err := stream.Send(req); err != nil {
				// The stream ended (io.EOF) or broke; Recv reports why.
				sent <- nil
				return
			}
		}
		sent <- stream.CloseSend()
	}()

	done := 0
	for {
		p, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			cancel()
			if serr := <-sent; serr != nil {
				return done, wrapError(op, serr) // the client rejected a batch
			}
			return done, wrapError(op, err)
		}
		done = int(p.GetPoints())
		c.client.sessions.note(c.name, p.GetConsistencyToken())
		if progress != nil {
			progress(done)
		}
	}
	if serr := <-sent; serr != nil {
		return done, wrapError(op, serr)
	}
	if done != len(points) {
		return done, &Error{code: codes.Internal, op: op, message: fmt.Sprintf(
			"the server ended the stream after acknowledging %d of %d points", done, len(points))}
	}
	return done, nil
}

// Get returns the point id with its vector and payload. NOT_FOUND when there is no such point.
func (c *Collection) Get(ctx context.Context, id ID) (Point, error) {
	const op = "Get"
	pid, err := id.toProto(op, "id")
	if err != nil {
		return Point{}, err
	}
	r, err := c.client.rpc.Get(ctx, &pb.GetRequest{Collection: c.name, Id: pid, ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return Point{}, wrapError(op, err)
	}
	return pointFromProto(op, r)
}

// Delete deletes the points with the given ids (absent ids are skipped) and returns how many
// were deleted.
func (c *Collection) Delete(ctx context.Context, ids ...ID) (int, error) {
	const op = "Delete"
	pids, err := idsToProto(op, ids)
	if err != nil {
		return 0, err
	}
	r, err := c.client.rpc.Delete(ctx, &pb.DeleteRequest{
		Collection:       c.name,
		Selector:         &pb.DeleteRequest_Ids{Ids: &pb.PointIds{Ids: pids}},
		Sync:             c.sync,
		ConsistencyToken: c.client.sessions.get(c.name),
	})
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetDeleted()), nil
}

// DeleteWhere deletes every point whose payload matches filter (see SearchOptions.Filter for
// the forms a filter takes) and returns how many were deleted. A nil filter is
// INVALID_ARGUMENT; {} (an empty JSON object) deletes every point.
func (c *Collection) DeleteWhere(ctx context.Context, filter any) (int, error) {
	const op = "DeleteWhere"
	f, err := encodeFilter(op, filter)
	if err != nil {
		return 0, err
	}
	if f == "" {
		return 0, invalidArgument(op, "filter: is empty (pass {} to delete every point)")
	}
	r, err := c.client.rpc.Delete(ctx, &pb.DeleteRequest{
		Collection:       c.name,
		Selector:         &pb.DeleteRequest_Filter{Filter: f},
		Sync:             c.sync,
		ConsistencyToken: c.client.sessions.get(c.name),
	})
	if err != nil {
		return 0, wrapError(op, err)
	}
	c.client.sessions.note(c.name, r.GetConsistencyToken())
	return int(r.GetDeleted()), nil
}

// Count returns the number of live points.
func (c *Collection) Count(ctx context.Context) (int, error) {
	r, err := c.client.rpc.Count(ctx, &pb.CountRequest{Collection: c.name, ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return 0, wrapError("Count", err)
	}
	return int(r.GetCount()), nil
}

// ScanPage returns one page of points in id order, starting after opts.Cursor. Pass the page's
// NextCursor as the next call's Cursor until it is "".
func (c *Collection) ScanPage(ctx context.Context, opts ScanOptions) (Page, error) {
	const op = "Scan"
	limit, err := toUint32(op, "limit", opts.PageSize)
	if err != nil {
		return Page{}, err
	}
	filter, err := encodeFilter(op, opts.Filter)
	if err != nil {
		return Page{}, err
	}
	r, err := c.client.rpc.Scan(ctx, &pb.ScanRequest{
		Collection: c.name, Limit: limit, Cursor: opts.Cursor, Filter: filter, WithVector: opts.WithVector,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return Page{}, wrapError(op, err)
	}
	page := Page{Points: make([]Point, 0, len(r.GetPoints())), NextCursor: r.GetNextCursor()}
	for _, p := range r.GetPoints() {
		pt, err := pointFromProto(op, p)
		if err != nil {
			return Page{}, err
		}
		page.Points = append(page.Points, pt)
	}
	return page, nil
}

// Scan returns an iterator over the collection's points in id order, fetched a page at a time:
//
//	it := col.Scan(ctx, sextant.ScanOptions{PageSize: 1000})
//	for it.Next() {
//		p := it.Point()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
func (c *Collection) Scan(ctx context.Context, opts ScanOptions) *Scanner {
	return &Scanner{col: c, ctx: ctx, opts: opts}
}

// Scanner iterates over a scan; see Collection.Scan. Not safe for concurrent use.
type Scanner struct {
	col     *Collection
	ctx     context.Context
	opts    ScanOptions
	page    []Point
	next    int
	cur     Point
	fetched bool
	err     error
}

// Next advances to the next point, fetching the next page when needed. It returns false at the
// end of the scan or on an error (see Err).
func (s *Scanner) Next() bool {
	for s.next >= len(s.page) {
		if s.err != nil || (s.fetched && s.opts.Cursor == "") {
			return false
		}
		page, err := s.col.ScanPage(s.ctx, s.opts)
		if err != nil {
			s.err = err
			return false
		}
		s.page, s.next, s.fetched = page.Points, 0, true
		s.opts.Cursor = page.NextCursor
	}
	s.cur = s.page[s.next]
	s.next++
	return true
}

// Point is the point Next advanced to.
func (s *Scanner) Point() Point { return s.cur }

// Err is the error that ended the scan, or nil.
func (s *Scanner) Err() error { return s.err }

// Search returns the points nearest to vector, nearest first, with the plan the server took.
func (c *Collection) Search(ctx context.Context, vector []float32, opts SearchOptions) (SearchResult, error) {
	const op = "Search"
	params, err := opts.toProto(op)
	if err != nil {
		return SearchResult{}, err
	}
	r, err := c.client.rpc.Search(ctx, &pb.SearchRequest{Collection: c.name, VectorF32: packFloats(vector), Params: params,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return SearchResult{}, wrapError(op, err)
	}
	return searchResultFromProto(op, r)
}

// SearchBatch runs one search per vector with the same options in one call and returns the
// results in the order of vectors. Every vector must have the same length. No vectors, no call:
// it returns an empty slice.
func (c *Collection) SearchBatch(ctx context.Context, vectors [][]float32, opts SearchOptions) ([]SearchResult, error) {
	const op = "SearchBatch"
	if len(vectors) == 0 {
		return []SearchResult{}, nil
	}
	params, err := opts.toProto(op)
	if err != nil {
		return nil, err
	}
	dim := len(vectors[0])
	packed := make([]byte, 0, 4*dim*len(vectors))
	for i, v := range vectors {
		if len(v) != dim {
			return nil, invalidArgument(op, "vectors[%d]: has %d floats, vectors[0] has %d", i, len(v), dim)
		}
		packed = appendPacked(packed, v)
	}
	r, err := c.client.rpc.SearchBatch(ctx, &pb.SearchBatchRequest{Collection: c.name, VectorsF32: packed, Params: params,
		ConsistencyToken: c.client.sessions.get(c.name)})
	if err != nil {
		return nil, wrapError(op, err)
	}
	if len(r.GetResults()) != len(vectors) {
		return nil, &Error{code: codes.Internal, op: op, message: fmt.Sprintf(
			"the server answered %d queries with %d results", len(vectors), len(r.GetResults()))}
	}
	out := make([]SearchResult, len(r.GetResults()))
	for i, res := range r.GetResults() {
		if out[i], err = searchResultFromProto(op, res); err != nil {
			return nil, err
		}
	}
	return out, nil
}
