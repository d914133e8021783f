package sextant_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// Text collections (RAG) against a real sextantd, with the hash embedder (no model needed).

var ragDocs = []sextant.Document{
	{ID: "nitrogen", Metadata: map[string]any{"topic": "chemistry", "lang": "en"},
		Text: "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use liquid nitrogen " +
			"to freeze biological samples quickly."},
	{ID: "volcano", Metadata: map[string]any{"topic": "geology", "lang": "en"},
		Text: "Mount Etna in Sicily is one of the most active volcanoes in Europe. Its eruptions " +
			"send lava flows down the mountain."},
	{ID: "python", Metadata: map[string]any{"topic": "programming", "lang": "en"},
		Text: "In Python a list is reversed in place with its reverse method, or copied in reverse " +
			"order with the slice [::-1]."},
	{ID: "bread", Metadata: map[string]any{"topic": "cooking", "lang": "en"},
		Text: "Sourdough bread rises thanks to wild yeast and lactic acid bacteria living in the " +
			"starter, which is fed with flour and water."},
	{ID: "orbit", Metadata: map[string]any{"topic": "space", "lang": "en"},
		Text: "The International Space Station orbits the Earth about every ninety minutes, at an " +
			"altitude of roughly four hundred kilometres."},
	{ID: "schach", Metadata: map[string]any{"topic": "games", "lang": "de"},
		Text: "Beim Schach zieht der Springer in Form eines L: zwei Felder geradeaus und eines zur Seite."},
}

const nitrogenQuestion = "At what temperature does liquid nitrogen boil?"

func makeFAQ(t *testing.T, ctx context.Context, c *sextant.Client, name string) *sextant.Collection {
	t.Helper()
	col, err := c.CreateTextCollection(ctx, name, sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "hash"}})
	if err != nil {
		t.Fatalf("CreateTextCollection(%s): %v", name, err)
	}
	if _, err := col.Ingest(ctx, ragDocs, sextant.IngestOptions{}); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	return col
}

// chunkTexts returns the stored chunk texts of one document.
func chunkTexts(t *testing.T, ctx context.Context, col *sextant.Collection, docID string) []string {
	t.Helper()
	var out []string
	it := col.Scan(ctx, sextant.ScanOptions{Filter: map[string]any{"document_id": docID}})
	for it.Next() {
		text, _ := it.Point().Payload["text"].(string)
		out = append(out, text)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func citedDocs(a sextant.Answer) []string {
	var ids []string
	for _, c := range a.Citations {
		ids = append(ids, c.DocumentID)
	}
	return ids
}

func TestRAG(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)

	t.Run("CreateDescribeIngest", func(t *testing.T) {
		col, err := c.CreateTextCollection(ctx, "create", sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "hash"}})
		if err != nil {
			t.Fatal(err)
		}
		info, err := col.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Text == nil || info.Text.Embedder.Kind != "hash" || !strings.HasPrefix(info.Text.EmbedderSpec, "hash:") ||
			info.Dimension != 384 || info.Metric != sextant.MetricCosine || info.Count != 0 || !strings.HasPrefix(info.Index, "HNSW16") {
			t.Fatalf("Describe = %+v (text %+v)", info, info.Text)
		}
		if _, ok := info.Properties["sextant.text"]; !ok {
			t.Errorf("Properties = %v, want the recorded embedder under \"sextant.text\"", info.Properties)
		}

		var seen []sextant.IngestResult
		res, err := col.Ingest(ctx, ragDocs, sextant.IngestOptions{BatchSize: 2,
			Progress: func(r sextant.IngestResult) { seen = append(seen, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Documents != len(ragDocs) || res.Chunks < len(ragDocs) || res.ReplacedChunks != 0 {
			t.Errorf("Ingest = %+v", res)
		}
		if len(seen) != 3 || seen[0].Documents != 2 || seen[1].Documents != 4 || seen[2] != res {
			t.Errorf("progress = %+v", seen)
		}
		if n, err := col.Count(ctx); err != nil || n != res.Chunks {
			t.Errorf("Count = %d, %v; want %d chunks", n, err, res.Chunks)
		}
		p, err := col.Get(ctx, sextant.StrID("nitrogen#0"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Payload["document_id"] != "nitrogen" || !reflect.DeepEqual(p.Payload["metadata"], map[string]any{"topic": "chemistry", "lang": "en"}) {
			t.Errorf("chunk payload = %v", p.Payload)
		}

		plain := mustCreate(t, ctx, c, "create_vec", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2,
			Properties: map[string]any{"owner": "tests"}})
		if info, err := plain.Describe(ctx); err != nil || info.Text != nil || !reflect.DeepEqual(info.Properties, map[string]any{"owner": "tests"}) {
			t.Errorf("a vector collection: Text = %+v, Properties = %v, %v", info.Text, info.Properties, err)
		}
	})

	t.Run("Ask", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "ask")
		ans, err := col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{K: 3, Generator: "extractive"})
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(ans.Text) == "" || len(ans.Citations) == 0 || len(ans.Citations) > 3 {
			t.Fatalf("Ask = %+v", ans)
		}
		top := ans.Citations[0]
		if top.DocumentID != "nitrogen" || top.Number != 1 || !strings.Contains(ragDocs[0].Text, top.Text) ||
			top.Begin > top.End || top.End > len(ragDocs[0].Text) || ragDocs[0].Text[top.Begin:top.End] != top.Text {
			t.Errorf("top citation = %+v", top)
		}
		cited := false
		for i, ci := range ans.Citations {
			cited = cited || ci.Cited
			if ci.Number != i+1 || ci.Score > top.Score {
				t.Errorf("citation %d = %+v", i, ci)
			}
		}
		if !cited || !strings.Contains(ans.Text, "196") || !strings.HasPrefix(ans.Generator, "extractive") ||
			!strings.HasPrefix(ans.EmbedderSpec, "hash:") || ans.Timings.Total < ans.Timings.Generate || ans.Timings.Embed < 0 {
			t.Errorf("Ask = %+v", ans)
		}

		ans, err = col.Ask(ctx, "How do I reverse a list in Python?", sextant.AskOptions{})
		if err != nil || len(ans.Citations) == 0 || ans.Citations[0].DocumentID != "python" {
			t.Errorf("Ask(python) = %v, %v", citedDocs(ans), err)
		}
	})

	t.Run("AskStream", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "stream")
		whole, err := col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{Generator: "extractive"})
		if err != nil {
			t.Fatal(err)
		}
		var pieces []string
		streamed, err := col.AskStream(ctx, nitrogenQuestion, sextant.AskOptions{Generator: "extractive"},
			func(p string) error { pieces = append(pieces, p); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(pieces) == 0 || strings.Join(pieces, "") != streamed.Text || streamed.Text != whole.Text {
			t.Errorf("pieces %q, streamed %q, whole %q", pieces, streamed.Text, whole.Text)
		}
		if !reflect.DeepEqual(citedDocs(streamed), citedDocs(whole)) || streamed.Citations[0].DocumentID != "nitrogen" {
			t.Errorf("citations %v vs %v", citedDocs(streamed), citedDocs(whole))
		}
		stop := errors.New("stop")
		if _, err := col.AskStream(ctx, nitrogenQuestion, sextant.AskOptions{}, func(string) error { return stop }); err != stop {
			t.Errorf("a failing callback: err = %v", err)
		}
	})

	t.Run("ReingestReplaces", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "reingest")
		before, _ := col.Count(ctx)
		old := chunkTexts(t, ctx, col, "nitrogen")
		newText := "Liquid nitrogen is now described differently: it is a cryogenic fluid kept in insulated dewars."
		res, err := col.Ingest(ctx, []sextant.Document{{ID: "nitrogen", Text: newText}}, sextant.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Documents != 1 || res.ReplacedChunks != len(old) {
			t.Errorf("re-ingest = %+v, old chunks %d", res, len(old))
		}
		texts := chunkTexts(t, ctx, col, "nitrogen")
		for _, s := range texts {
			if !strings.Contains(newText, s) {
				t.Errorf("stored chunk %q is not from the new text", s)
			}
		}
		if n, _ := col.Count(ctx); n != before-len(old)+res.Chunks {
			t.Errorf("Count = %d, want %d", n, before-len(old)+res.Chunks)
		}
		ans, err := col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{K: 6})
		if err != nil {
			t.Fatal(err)
		}
		for _, ci := range ans.Citations {
			if strings.Contains(ci.Text, "196") {
				t.Errorf("the old text is still retrieved: %+v", ci)
			}
		}
	})

	t.Run("DeleteDocuments", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "delete")
		chunks := len(chunkTexts(t, ctx, col, "volcano"))
		n, err := col.DeleteDocuments(ctx, "volcano")
		if err != nil || n != chunks || n == 0 {
			t.Fatalf("DeleteDocuments = %d, %v; want %d", n, err, chunks)
		}
		ans, err := col.Ask(ctx, "Which volcano in Sicily erupts lava?", sextant.AskOptions{K: 6})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range citedDocs(ans) {
			if id == "volcano" {
				t.Error("a deleted document is still retrieved")
			}
		}
		if n, err := col.DeleteDocuments(ctx, "volcano"); err != nil || n != 0 {
			t.Errorf("deleting again = %d, %v", n, err)
		}
	})

	t.Run("Embed", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "embed")
		v, err := col.Embed(ctx, "liquid nitrogen", "sourdough bread", "liquid nitrogen")
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 3 {
			t.Fatalf("%d vectors", len(v))
		}
		for i, row := range v {
			var norm float64
			for _, x := range row {
				norm += float64(x) * float64(x)
			}
			if len(row) != 384 || math.Abs(math.Sqrt(norm)-1) > 1e-4 {
				t.Errorf("vector %d: dimension %d, norm %v", i, len(row), math.Sqrt(norm))
			}
		}
		if !reflect.DeepEqual(v[0], v[2]) || reflect.DeepEqual(v[0], v[1]) {
			t.Error("embeddings are not deterministic, or two texts got the same vector")
		}
		q, err := col.Embed(ctx, ragDocs[3].Text)
		if err != nil {
			t.Fatal(err)
		}
		res, err := col.Search(ctx, q[0], sextant.SearchOptions{K: 1})
		if err != nil || len(res.Hits) != 1 || res.Hits[0].ID != sextant.StrID("bread#0") {
			t.Errorf("search with an embedded chunk = %+v, %v", res.Hits, err)
		}
	})

	t.Run("FilterOnMetadata", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "filter")
		ans, err := col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{K: 5, Filter: map[string]any{"metadata.topic": "cooking"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ans.Citations) == 0 {
			t.Error("filtered on cooking: no citations")
		}
		for _, id := range citedDocs(ans) {
			if id != "bread" {
				t.Errorf("filtered on cooking, got %q", id)
			}
		}
		ans, err = col.Ask(ctx, "Wie zieht der Springer?", sextant.AskOptions{Filter: `{"metadata.lang": "de"}`})
		if err != nil || !reflect.DeepEqual(citedDocs(ans), []string{"schach"}) {
			t.Errorf("filtered on lang de: %v, %v", citedDocs(ans), err)
		}
		_, err = col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{Filter: `{"metadata.topic": `})
		wantCode(t, "a malformed filter", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	})

	t.Run("RetrieveModesGroupAndThreshold", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "retrieve")
		chunks, err := col.Retrieve(ctx, "liquid nitrogen", sextant.RetrieveOptions{K: 3})
		if err != nil || len(chunks) != 3 || chunks[0].DocumentID != "nitrogen" || chunks[0].DenseScore == nil ||
			chunks[0].TextScore == nil || chunks[0].Number != 1 {
			t.Fatalf("hybrid Retrieve = %+v, %v", chunks, err)
		}
		chunks, err = col.Retrieve(ctx, "sourdough", sextant.RetrieveOptions{Retrieval: "text"})
		if err != nil || len(chunks) != 1 || chunks[0].DocumentID != "bread" || chunks[0].DenseScore != nil ||
			chunks[0].TextScore == nil || *chunks[0].TextScore != chunks[0].Score {
			t.Fatalf("text Retrieve = %+v, %v", chunks, err)
		}
		chunks, err = col.Retrieve(ctx, "sourdough", sextant.RetrieveOptions{Retrieval: "dense", K: 2, GroupBy: "document_id"})
		if err != nil || len(chunks) != 2 || chunks[0].DocumentID == chunks[1].DocumentID || chunks[0].TextScore != nil {
			t.Fatalf("dense grouped Retrieve = %+v, %v", chunks, err)
		}
		high := float32(0.999)
		chunks, err = col.Retrieve(ctx, "the capital of Peru", sextant.RetrieveOptions{ScoreThreshold: &high})
		if err != nil || len(chunks) != 0 {
			t.Fatalf("Retrieve above every chunk = %+v, %v", chunks, err)
		}
		ans, err := col.Ask(ctx, "What is the capital of Peru?", sextant.AskOptions{Retrieval: "dense", ScoreThreshold: &high})
		if err != nil || !strings.Contains(ans.Text, "I don't know") || len(ans.Citations) != 0 || ans.Retrieval != "dense" {
			t.Fatalf("Ask above every chunk = %+v, %v", ans, err)
		}
		ans, err = col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{})
		if err != nil || ans.Retrieval != "hybrid" {
			t.Fatalf("Ask = %+v, %v", ans, err)
		}

		_, err = col.Retrieve(ctx, "x", sextant.RetrieveOptions{Retrieval: "sparse"})
		wantCode(t, "an unknown retrieval mode", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = col.Ask(ctx, "x", sextant.AskOptions{Retrieval: "sparse"})
		wantCode(t, "Ask with an unknown retrieval mode", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		over := float32(1.5)
		_, err = col.Retrieve(ctx, "x", sextant.RetrieveOptions{ScoreThreshold: &over})
		wantCode(t, "a cosine threshold above 1", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = col.Retrieve(ctx, " ", sextant.RetrieveOptions{})
		wantCode(t, "an empty query", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = col.Retrieve(ctx, "x", sextant.RetrieveOptions{K: -1})
		wantCode(t, "a negative k", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = c.Collection("no_such_collection").Retrieve(ctx, "x", sextant.RetrieveOptions{})
		wantCode(t, "Retrieve on a missing collection", err, sextant.ErrNotFound, codes.NotFound)
	})

	t.Run("Errors", func(t *testing.T) {
		col := makeFAQ(t, ctx, c, "errors")
		count, _ := col.Count(ctx)
		missing := c.Collection("no_such_collection")
		_, err := missing.Ask(ctx, "anything", sextant.AskOptions{})
		wantCode(t, "Ask on a missing collection", err, sextant.ErrNotFound, codes.NotFound)
		_, err = missing.Ingest(ctx, []sextant.Document{{ID: "a", Text: "x"}}, sextant.IngestOptions{})
		wantCode(t, "Ingest into a missing collection", err, sextant.ErrNotFound, codes.NotFound)
		_, err = missing.Embed(ctx, "x")
		wantCode(t, "Embed on a missing collection", err, sextant.ErrNotFound, codes.NotFound)
		_, err = missing.DeleteDocuments(ctx, "a")
		wantCode(t, "DeleteDocuments on a missing collection", err, sextant.ErrNotFound, codes.NotFound)
		_, err = col.Embed(ctx)
		wantCode(t, "Embed of no texts", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = col.Ask(ctx, nitrogenQuestion, sextant.AskOptions{Generator: "gpt-9"})
		wantCode(t, "an unknown generator", err, sextant.ErrInvalidArgument, codes.InvalidArgument)

		plain := mustCreate(t, ctx, c, "errors_vec", sextant.CollectionConfig{Dimension: 4, Metric: sextant.MetricL2})
		_, err = plain.Ask(ctx, "anything", sextant.AskOptions{})
		wantCode(t, "Ask on a vector collection", err, sextant.ErrFailedPrecondition, codes.FailedPrecondition)
		_, err = plain.AskStream(ctx, "anything", sextant.AskOptions{}, func(string) error { return nil })
		wantCode(t, "AskStream on a vector collection", err, sextant.ErrFailedPrecondition, codes.FailedPrecondition)
		_, err = plain.Ingest(ctx, []sextant.Document{{ID: "a", Text: "x"}}, sextant.IngestOptions{})
		wantCode(t, "Ingest into a vector collection", err, sextant.ErrFailedPrecondition, codes.FailedPrecondition)
		_, err = plain.Embed(ctx, "x")
		wantCode(t, "Embed on a vector collection", err, sextant.ErrFailedPrecondition, codes.FailedPrecondition)

		_, err = col.Ask(ctx, "", sextant.AskOptions{})
		wantCode(t, "an empty question", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = col.Ingest(ctx, []sextant.Document{{ID: "", Text: "no id"}}, sextant.IngestOptions{})
		wantCode(t, "an empty document id", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		// Metadata the client cannot encode is refused before anything is sent.
		_, err = col.Ingest(ctx, []sextant.Document{{ID: "fresh", Text: "x", Metadata: map[string]any{"f": math.Inf(1)}}}, sextant.IngestOptions{})
		wantCode(t, "unencodable metadata", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		if n, _ := col.Count(ctx); n != count {
			t.Errorf("Count = %d after refused ingests, want %d", n, count)
		}
		if len(chunkTexts(t, ctx, col, "fresh")) != 0 {
			t.Error("a refused document was written")
		}
		_, err = col.Ingest(ctx, []sextant.Document{{ID: "dup", Text: "one"}, {ID: "dup", Text: "two"}}, sextant.IngestOptions{})
		wantCode(t, "a duplicate document id", err, sextant.ErrInvalidArgument, codes.InvalidArgument)

		_, err = c.CreateTextCollection(ctx, "errors_tiny", sextant.TextOptions{Chunking: sextant.ChunkingConfig{ChunkTokens: 2}})
		wantCode(t, "chunk_tokens 2", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = c.CreateTextCollection(ctx, "errors_bad", sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "bert"}})
		wantCode(t, "an unknown embedder", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
		_, err = c.CreateTextCollection(ctx, "errors", sextant.TextOptions{})
		wantCode(t, "a duplicate name", err, sextant.ErrAlreadyExists, codes.AlreadyExists)
	})
}

// TestRAGLocalEmbedder runs the local sentence encoder (all-MiniLM-L6-v2) in the server; it is
// skipped when the server has no model.
func TestRAGLocalEmbedder(t *testing.T) {
	srv := sextantdtest.Start(t)
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	col, err := c.CreateTextCollection(ctx, "local", sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "local"}})
	if errors.Is(err, sextant.ErrNotFound) {
		t.Skipf("the server has no local model (run scripts/fetch-model.sh): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := col.Describe(ctx)
	if err != nil || info.Text == nil || info.Text.Embedder.Kind != "local" || info.Dimension != 384 ||
		!strings.HasPrefix(info.Text.EmbedderSpec, "local:") {
		t.Fatalf("Describe = %+v, %v", info, err)
	}
	if _, err := col.Ingest(ctx, ragDocs, sextant.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	for question, want := range map[string]string{
		"How cold is boiling liquid nitrogen?":           "nitrogen",
		"Which mountain in Italy spits out molten rock?": "volcano",
	} {
		ans, err := col.Ask(ctx, question, sextant.AskOptions{K: 3})
		if err != nil || len(ans.Citations) == 0 || ans.Citations[0].DocumentID != want {
			t.Errorf("Ask(%q) = %v, %v; want %q first", question, citedDocs(ans), err, want)
		}
	}
}

// TestRAGLocalModelMissing: a server without the model refuses a local text collection with
// NOT_FOUND and creates nothing.
func TestRAGLocalModelMissing(t *testing.T) {
	srv := sextantdtest.Start(t, "--model-dir", t.TempDir()+"/no-models")
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)
	_, err := c.CreateTextCollection(ctx, "faq", sextant.TextOptions{Embedder: sextant.EmbedderConfig{Kind: "local"}})
	wantCode(t, "a local embedder without its model", err, sextant.ErrNotFound, codes.NotFound)
	if err != nil && !strings.Contains(err.Error(), "all-MiniLM-L6-v2") {
		t.Errorf("the error does not name the model: %v", err)
	}
	list, err := c.ListCollections(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("ListCollections = %+v, %v; want none", list, err)
	}
}
