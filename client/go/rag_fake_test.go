package sextant

import (
	"context"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// fakeRAG is an in-process Sextant service that records the text-collection requests it gets
// and answers as scripted, so these tests pin down what the client sends and how it reads the
// streams, without a sextantd.
type fakeRAG struct {
	pb.UnimplementedSextantServer
	mu         sync.Mutex
	creates    []*pb.CreateCollectionRequest
	batches    []*pb.IngestDocumentsRequest
	asks       []*pb.AskRequest
	failAt     int // abort IngestDocuments at this batch (1-based); 0 = never
	askReplies []*pb.AskResponse
	askHold    chan struct{} // when set, Ask waits for the client to go away after the replies
	askEnded   chan struct{}
}

func (f *fakeRAG) CreateCollection(_ context.Context, r *pb.CreateCollectionRequest) (*pb.CollectionInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates = append(f.creates, r)
	return &pb.CollectionInfo{Name: r.GetName()}, nil
}

func (f *fakeRAG) IngestDocuments(s grpc.BidiStreamingServer[pb.IngestDocumentsRequest, pb.IngestProgress]) error {
	var n, docs, chunks uint64
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if int(n) == f.failAt {
			return status.Error(codes.InvalidArgument, "documents[0].metadata: not a JSON object")
		}
		f.mu.Lock()
		f.batches = append(f.batches, r)
		f.mu.Unlock()
		docs += uint64(len(r.GetDocuments()))
		for _, d := range r.GetDocuments() {
			chunks += uint64(len(strings.Fields(d.GetText())))
		}
		if err := s.Send(&pb.IngestProgress{Documents: docs, Chunks: chunks, ReplacedChunks: n}); err != nil {
			return err
		}
	}
}

func (f *fakeRAG) DeleteDocuments(_ context.Context, r *pb.DeleteDocumentsRequest) (*pb.DeleteDocumentsResponse, error) {
	return &pb.DeleteDocumentsResponse{DeletedChunks: uint64(3 * len(r.GetDocumentIds()))}, nil
}

func (f *fakeRAG) Embed(_ context.Context, r *pb.EmbedRequest) (*pb.EmbedResponse, error) {
	var v []float32
	for i := range r.GetTexts() {
		v = append(v, float32(10*i), float32(10*i+1))
	}
	return &pb.EmbedResponse{Dimension: 2, Vectors: v, EmbedderSpec: "hash:2:v1"}, nil
}

func (f *fakeRAG) Ask(r *pb.AskRequest, s grpc.ServerStreamingServer[pb.AskResponse]) error {
	f.mu.Lock()
	f.asks = append(f.asks, r)
	replies, hold, ended := f.askReplies, f.askHold, f.askEnded
	f.mu.Unlock()
	for _, rep := range replies {
		if _, ok := rep.GetEvent().(*pb.AskResponse_Token); ok && !r.GetStream() {
			continue
		}
		if err := s.Send(rep); err != nil {
			return err
		}
	}
	if hold != nil {
		select {
		case <-s.Context().Done():
			close(ended)
		case <-hold:
		}
	}
	return nil
}

func startFake(t *testing.T, f *fakeRAG) *Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterSextantServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCreateTextCollectionRequest(t *testing.T) {
	f := &fakeRAG{}
	c := startFake(t, f)
	ctx := context.Background()
	if _, err := c.CreateTextCollection(ctx, "faq", TextOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateTextCollection(ctx, "faq2", TextOptions{
		Embedder: EmbedderConfig{Kind: "OpenAI", OpenAIBaseURL: "http://h/v1", OpenAIModel: "m", Dimension: 8},
		Chunking: ChunkingConfig{ChunkTokens: 64, OverlapTokens: 8, Markdown: true},
		Index:    IndexSpec{Spec: "Flat"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTextCollection(ctx, "faq4", TextOptions{Index: IndexSpec{EfSearch: 99}}); err != nil {
		t.Fatal(err)
	}
	if ix := f.creates[2].GetIndex(); ix.GetSpec() != "HNSW16" || ix.GetEfSearch() != 99 {
		t.Errorf("index options without a spec tune the default HNSW16: got %v", ix)
	}
	_, err = c.CreateTextCollection(ctx, "faq3", TextOptions{Chunking: ChunkingConfig{ChunkTokens: -1}})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "chunk_tokens") {
		t.Fatalf("negative chunk_tokens: err = %v", err)
	}
	if len(f.creates) != 3 {
		t.Fatalf("%d CreateCollection calls, want 3 (the bad one is refused before sending)", len(f.creates))
	}
	first, second := f.creates[0], f.creates[1]
	if first.GetText().GetEmbedder().GetKind() != "hash" || first.GetMetric() != pb.Metric_METRIC_COSINE ||
		first.GetDimension() != 0 || first.GetIndex() != nil {
		t.Errorf("default text collection request = %v", first)
	}
	e, ch := second.GetText().GetEmbedder(), second.GetText().GetChunking()
	if e.GetKind() != "openai" || e.GetOpenaiBaseUrl() != "http://h/v1" || e.GetOpenaiModel() != "m" || e.GetDimension() != 8 ||
		ch.GetChunkTokens() != 64 || ch.GetOverlapTokens() != 8 || !ch.GetMarkdown() ||
		second.GetIndex().GetSpec() != "Flat" {
		t.Errorf("request = %v", second)
	}
}

func TestIngestStreamsBatches(t *testing.T) {
	f := &fakeRAG{}
	c := startFake(t, f)
	docs := []Document{
		{ID: "a", Text: "one two", Metadata: map[string]any{"lang": "en"}},
		{ID: "b", Text: "three"},
		{ID: "c", Text: "four five six"},
		{ID: "d", Text: ""},
		{ID: "e", Text: "seven"},
	}
	var seen []IngestResult
	res, err := c.Collection("faq").Durable().Ingest(context.Background(), docs,
		IngestOptions{BatchSize: 2, Progress: func(r IngestResult) { seen = append(seen, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := (IngestResult{Documents: 5, Chunks: 7, ReplacedChunks: 3}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	if len(seen) != 3 || seen[0].Documents != 2 || seen[1].Documents != 4 || seen[2] != res {
		t.Errorf("progress = %+v", seen)
	}
	var sizes []int
	for _, b := range f.batches {
		sizes = append(sizes, len(b.GetDocuments()))
		if b.GetCollection() != "faq" || !b.GetSync() {
			t.Errorf("batch collection %q sync %v", b.GetCollection(), b.GetSync())
		}
	}
	if !reflect.DeepEqual(sizes, []int{2, 2, 1}) {
		t.Errorf("batch sizes = %v", sizes)
	}
	if d := f.batches[0].GetDocuments()[0]; d.GetId() != "a" || d.GetMetadata() != `{"lang":"en"}` {
		t.Errorf("first document = %v", d)
	}
	if d := f.batches[0].GetDocuments()[1]; d.GetMetadata() != "" {
		t.Errorf("a document without metadata sent %q", d.GetMetadata())
	}

	// No documents, no call.
	before := len(f.batches)
	if res, err := c.Collection("faq").Ingest(context.Background(), nil, IngestOptions{}); err != nil || res != (IngestResult{}) {
		t.Errorf("Ingest(nil) = %+v, %v", res, err)
	}
	if len(f.batches) != before {
		t.Error("Ingest(nil) sent a batch")
	}
	if _, err := c.Collection("faq").Ingest(context.Background(), docs, IngestOptions{BatchSize: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative batch size: err = %v", err)
	}
}

func TestIngestBadMetadataLaterKeepsEarlierBatches(t *testing.T) {
	f := &fakeRAG{}
	c := startFake(t, f)
	docs := make([]Document, 5)
	for i := range docs {
		docs[i] = Document{ID: string(rune('a' + i)), Text: "x"}
	}
	docs[3].Metadata = map[string]any{"bad": func() {}} // cannot be encoded as JSON
	res, err := c.Collection("faq").Ingest(context.Background(), docs, IngestOptions{BatchSize: 2})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "documents[3].metadata") {
		t.Fatalf("err = %v, want INVALID_ARGUMENT naming documents[3].metadata", err)
	}
	if res.Documents > 2 {
		t.Errorf("acknowledged %d documents; the batch with the bad one must not be sent", res.Documents)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		for _, d := range b.GetDocuments() {
			if d.GetId() == "c" || d.GetId() == "d" || d.GetId() == "e" {
				t.Errorf("document %q of the bad batch or later was sent", d.GetId())
			}
		}
	}
}

func TestIngestServerErrorMidway(t *testing.T) {
	f := &fakeRAG{failAt: 2}
	c := startFake(t, f)
	docs := []Document{{ID: "a", Text: "x"}, {ID: "b", Text: "x"}, {ID: "c", Text: "x"}, {ID: "d", Text: "x"}}
	res, err := c.Collection("faq").Ingest(context.Background(), docs, IngestOptions{BatchSize: 2})
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("err = %v", err)
	}
	if res.Documents != 2 {
		t.Errorf("result = %+v, want the first batch acknowledged", res)
	}
}

func TestDeleteDocumentsAndEmbed(t *testing.T) {
	c := startFake(t, &fakeRAG{})
	ctx := context.Background()
	col := c.Collection("faq")
	if n, err := col.DeleteDocuments(ctx, "a", "b"); err != nil || n != 6 {
		t.Errorf("DeleteDocuments = %d, %v", n, err)
	}
	v, err := col.Embed(ctx, "x", "y", "z")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v, [][]float32{{0, 1}, {10, 11}, {20, 21}}) {
		t.Errorf("Embed = %v", v)
	}
	v[0] = append(v[0], 99) // rows are capped: appending to one does not overwrite the next
	if v[1][0] != 10 {
		t.Error("appending to a row overwrote the next one")
	}
}

func askReplies() []*pb.AskResponse {
	return []*pb.AskResponse{
		{Event: &pb.AskResponse_Token{Token: "Use "}},
		{Event: &pb.AskResponse_Token{Token: "reversed() [1]."}},
		{Event: &pb.AskResponse_Answer{Answer: &pb.AskAnswer{
			Answer:    "Use reversed() [1].",
			Citations: []*pb.Citation{{Number: 1, DocumentId: "lists", Score: 0.9, Cited: true}},
			Timings:   &pb.AskTimings{TotalMs: 2},
			Generator: "extractive",
		}}},
	}
}

func TestAskAndAskStream(t *testing.T) {
	f := &fakeRAG{askReplies: askReplies()}
	c := startFake(t, f)
	ctx := context.Background()
	col := c.Collection("faq")

	ans, err := col.Ask(ctx, "how?", AskOptions{K: 3, Filter: map[string]any{"metadata.lang": "en"},
		Generator: "extractive", MaxPromptTokens: 500, EfSearch: 40, UserTemplate: "{question}"})
	if err != nil {
		t.Fatal(err)
	}
	if ans.Text != "Use reversed() [1]." || len(ans.Citations) != 1 || ans.Citations[0].DocumentID != "lists" ||
		ans.Timings.Total != 2*time.Millisecond || ans.Generator != "extractive" {
		t.Errorf("Ask = %+v", ans)
	}
	r := f.asks[0]
	if r.GetCollection() != "faq" || r.GetQuestion() != "how?" || r.GetK() != 3 || r.GetFilter() != `{"metadata.lang":"en"}` ||
		r.GetStream() || r.GetGenerator() != "extractive" || r.GetMaxPromptTokens() != 500 || r.GetEfSearch() != 40 ||
		r.GetUserTemplate() != "{question}" {
		t.Errorf("Ask request = %v", r)
	}

	var pieces []string
	streamed, err := col.AskStream(ctx, "how?", AskOptions{}, func(p string) error {
		pieces = append(pieces, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !f.asks[1].GetStream() || !reflect.DeepEqual(pieces, []string{"Use ", "reversed() [1]."}) ||
		strings.Join(pieces, "") != streamed.Text {
		t.Errorf("AskStream pieces %q, answer %q", pieces, streamed.Text)
	}

	if _, err := col.AskStream(ctx, "how?", AskOptions{}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil callback: err = %v", err)
	}
	if _, err := col.Ask(ctx, "how?", AskOptions{K: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative k: err = %v", err)
	}

	// A stream that ends without the final answer is an error, not a short answer.
	f.mu.Lock()
	f.askReplies = askReplies()[:2]
	f.mu.Unlock()
	if _, err := col.AskStream(ctx, "how?", AskOptions{}, func(string) error { return nil }); !errors.Is(err, ErrInternal) ||
		!strings.Contains(err.Error(), "without an answer") {
		t.Errorf("stream without an answer: err = %v", err)
	}
}

func TestAskStreamCallbackErrorCancels(t *testing.T) {
	f := &fakeRAG{askReplies: askReplies()[:1], askHold: make(chan struct{}), askEnded: make(chan struct{})}
	defer close(f.askHold)
	c := startFake(t, f)
	stop := errors.New("enough")
	_, err := c.Collection("faq").AskStream(context.Background(), "how?", AskOptions{}, func(string) error { return stop })
	if err != stop {
		t.Fatalf("err = %v, want the callback's error as it is", err)
	}
	select {
	case <-f.askEnded: // the server saw the call cancelled
	case <-time.After(30 * time.Second):
		t.Fatal("the server's Ask was not cancelled when the callback failed")
	}
}
