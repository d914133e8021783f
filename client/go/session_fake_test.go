package sextant

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// fakeSession answers writes with a scripted consistency token and records the tokens reads and
// writes carry (cluster mode's session consistency, docs/cluster.md).
type fakeSession struct {
	pb.UnimplementedSextantServer
	mu         sync.Mutex
	writeToken string
	seen       map[string][]string // method -> tokens received, in order
}

func (f *fakeSession) record(method, token string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string][]string{}
	}
	f.seen[method] = append(f.seen[method], token)
	return f.writeToken
}

func (f *fakeSession) last(method string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.seen[method]
	if len(s) == 0 {
		return "<none>"
	}
	return s[len(s)-1]
}

func (f *fakeSession) Upsert(_ context.Context, r *pb.UpsertRequest) (*pb.UpsertResponse, error) {
	t := f.record("Upsert", r.GetConsistencyToken())
	return &pb.UpsertResponse{Upserted: uint64(len(r.GetPoints())), ConsistencyToken: t}, nil
}

func (f *fakeSession) UpsertStream(s grpc.BidiStreamingServer[pb.UpsertRequest, pb.UpsertProgress]) error {
	var batches, points uint64
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		t := f.record("UpsertStream", r.GetConsistencyToken())
		batches++
		points += uint64(len(r.GetPoints()))
		if err := s.Send(&pb.UpsertProgress{Batches: batches, Points: points, ConsistencyToken: t}); err != nil {
			return err
		}
	}
}

func (f *fakeSession) Delete(_ context.Context, r *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	return &pb.DeleteResponse{Deleted: 1, ConsistencyToken: f.record("Delete", r.GetConsistencyToken())}, nil
}

func (f *fakeSession) Count(_ context.Context, r *pb.CountRequest) (*pb.CountResponse, error) {
	f.record("Count", r.GetConsistencyToken())
	return &pb.CountResponse{Count: 3}, nil
}

func (f *fakeSession) Search(_ context.Context, r *pb.SearchRequest) (*pb.SearchResponse, error) {
	f.record("Search", r.GetConsistencyToken())
	return &pb.SearchResponse{}, nil
}

func dialFake(t *testing.T, srv pb.SextantServer) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterSextantServer(s, srv)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestConsistencyTokensTravelWithTheSession(t *testing.T) {
	f := &fakeSession{}
	c := dialFake(t, f)
	ctx := context.Background()
	docs := c.Collection("docs")
	other := c.Collection("other")
	check := func(method, want string) {
		t.Helper()
		if got := f.last(method); got != want {
			t.Fatalf("%s carried token %q, want %q", method, got, want)
		}
	}
	if _, err := docs.Count(ctx); err != nil {
		t.Fatal(err)
	}
	check("Count", "")
	f.writeToken = "v1.7.3.0"
	if _, err := docs.Upsert(ctx, []Point{{ID: NumID(1), Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	check("Upsert", "")
	if got := c.ConsistencyToken("docs"); got != "v1.7.3.0" {
		t.Fatalf("ConsistencyToken = %q", got)
	}
	// Reads and writes of that collection carry it; other collections do not.
	if _, err := docs.Search(ctx, []float32{0, 1}, SearchOptions{}); err != nil {
		t.Fatal(err)
	}
	check("Search", "v1.7.3.0")
	if _, err := other.Count(ctx); err != nil {
		t.Fatal(err)
	}
	check("Count", "")
	f.writeToken = "v1.7.3.5"
	if _, err := docs.Delete(ctx, NumID(1)); err != nil {
		t.Fatal(err)
	}
	check("Delete", "v1.7.3.0")
	// An import sends it on its first message and keeps the last answer's.
	f.writeToken = "v1.7.9.5"
	pts := []Point{{ID: NumID(1), Vector: []float32{1, 2}}, {ID: NumID(2), Vector: []float32{1, 2}}, {ID: NumID(3), Vector: []float32{1, 2}}}
	if _, err := docs.Import(ctx, pts, 2, nil); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	stream := append([]string(nil), f.seen["UpsertStream"]...)
	f.mu.Unlock()
	if len(stream) != 2 || stream[0] != "v1.7.3.5" || stream[1] != "" {
		t.Fatalf("stream tokens %q", stream)
	}
	if got := c.ConsistencyToken("docs"); got != "v1.7.9.5" {
		t.Fatalf("ConsistencyToken after import = %q", got)
	}
	// A single node answers "": the session stays as it was.
	f.writeToken = ""
	if _, err := docs.Upsert(ctx, []Point{{ID: NumID(4), Vector: []float32{1, 2}}}); err != nil {
		t.Fatal(err)
	}
	if got := c.ConsistencyToken("docs"); got != "v1.7.9.5" {
		t.Fatalf("ConsistencyToken after a single node's write = %q", got)
	}
	// Carried to another client by hand, and forgotten with "".
	c2 := dialFake(t, f)
	c2.SetConsistencyToken("docs", c.ConsistencyToken("docs"))
	if _, err := c2.Collection("docs").Count(ctx); err != nil {
		t.Fatal(err)
	}
	check("Count", "v1.7.9.5")
	c2.SetConsistencyToken("docs", "")
	if _, err := c2.Collection("docs").Count(ctx); err != nil {
		t.Fatal(err)
	}
	check("Count", "")
}
