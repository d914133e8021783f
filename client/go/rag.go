package sextant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// Text collections (RAG): a collection created with an embedder takes documents, chunks and
// embeds them in the server, and answers questions from them (docs/rag.md).

// EmbedderConfig names the embedder of a text collection; it is recorded with the collection,
// so every later ingest and question uses the same one.
type EmbedderConfig struct {
	// Kind is "hash" (feature hashing, no model; the default when empty), "local" (a
	// sentence-transformers model run in the server) or "openai" (an OpenAI-compatible
	// /v1/embeddings endpoint; the key is the server's).
	Kind string
	// Dimension of the vectors: hash 384 by default; openai 0 = learned from the endpoint.
	Dimension int
	// LocalModel is the model directory under the server's model root (default
	// "all-MiniLM-L6-v2").
	LocalModel string
	// OpenAIBaseURL (".../v1") and OpenAIModel name the endpoint of kind "openai".
	OpenAIBaseURL string
	OpenAIModel   string
}

// ChunkingConfig is how documents are cut into chunks. The zero value takes the embedder's
// defaults (local: 200 WordPiece tokens, else 256 words; 32 tokens of overlap).
type ChunkingConfig struct {
	// ChunkTokens is the target size of a chunk in tokens; 0 = the default.
	ChunkTokens int
	// OverlapTokens is the number of tokens repeated from the previous chunk; 0 = the default.
	OverlapTokens int
	// Markdown treats headings and code fences as boundaries.
	Markdown bool
	// Tokens is "whitespace" or "wordpiece" (local only); "" = the default.
	Tokens string
}

// TextOptions describes a text collection to create. Its dimension follows from the embedder
// and its metric is cosine.
type TextOptions struct {
	Embedder EmbedderConfig
	Chunking ChunkingConfig
	// Index is the index that answers retrievals; the zero IndexSpec is HNSW16. (A text
	// collection indexes "document_id" itself and records its embedder and chunking in its
	// properties, so it takes no payload indexes or properties of its own.)
	Index IndexSpec
}

// TextInfo is how a text collection embeds and chunks, as the server reports it
// (CollectionInfo.Text).
type TextInfo struct {
	Embedder EmbedderConfig
	Chunking ChunkingConfig
	// EmbedderSpec names what produced the vectors, e.g. "hash:384:v1".
	EmbedderSpec string
}

func (e EmbedderConfig) toProto(op string) (*pb.EmbedderConfig, error) {
	dim, err := toUint32(op, "embedder.dimension", e.Dimension)
	if err != nil {
		return nil, err
	}
	return &pb.EmbedderConfig{
		Kind:          strings.ToLower(strings.TrimSpace(e.Kind)),
		Dimension:     dim,
		LocalModel:    e.LocalModel,
		OpenaiBaseUrl: e.OpenAIBaseURL,
		OpenaiModel:   e.OpenAIModel,
	}, nil
}

func (c ChunkingConfig) toProto(op string) (*pb.ChunkingConfig, error) {
	size, err := toUint32(op, "chunking.chunk_tokens", c.ChunkTokens)
	if err != nil {
		return nil, err
	}
	overlap, err := toUint32(op, "chunking.overlap_tokens", c.OverlapTokens)
	if err != nil {
		return nil, err
	}
	return &pb.ChunkingConfig{ChunkTokens: size, OverlapTokens: overlap, Markdown: c.Markdown,
		Tokens: strings.ToLower(strings.TrimSpace(c.Tokens))}, nil
}

func textInfoFromProto(p *pb.TextOptions) *TextInfo {
	if p == nil {
		return nil
	}
	e, ch := p.GetEmbedder(), p.GetChunking()
	return &TextInfo{
		Embedder: EmbedderConfig{
			Kind:          e.GetKind(),
			Dimension:     int(e.GetDimension()),
			LocalModel:    e.GetLocalModel(),
			OpenAIBaseURL: e.GetOpenaiBaseUrl(),
			OpenAIModel:   e.GetOpenaiModel(),
		},
		Chunking: ChunkingConfig{
			ChunkTokens:   int(ch.GetChunkTokens()),
			OverlapTokens: int(ch.GetOverlapTokens()),
			Markdown:      ch.GetMarkdown(),
			Tokens:        ch.GetTokens(),
		},
		EmbedderSpec: p.GetEmbedderSpec(),
	}
}

// CreateTextCollection creates a text collection: one that Ingest fills with documents and Ask
// answers from.
//
//	col, err := c.CreateTextCollection(ctx, "faq", sextant.TextOptions{
//		Embedder: sextant.EmbedderConfig{Kind: "hash"},
//	})
//
// ALREADY_EXISTS when the name is taken; INVALID_ARGUMENT for a bad name or option; the
// embedder's error otherwise (a missing local model is NOT_FOUND, an unreachable OpenAI
// endpoint UNAVAILABLE).
func (c *Client) CreateTextCollection(ctx context.Context, name string, opts TextOptions) (*Collection, error) {
	const op = "CreateTextCollection"
	embedder, err := opts.Embedder.toProto(op)
	if err != nil {
		return nil, err
	}
	if embedder.Kind == "" {
		embedder.Kind = "hash"
	}
	chunking, err := opts.Chunking.toProto(op)
	if err != nil {
		return nil, err
	}
	req := &pb.CreateCollectionRequest{
		Name:   name,
		Metric: pb.Metric_METRIC_COSINE,
		Text:   &pb.TextOptions{Embedder: embedder, Chunking: chunking},
	}
	if opts.Index != (IndexSpec{}) {
		// Unset, the server picks a text collection's default (HNSW16); options without a spec
		// tune that default.
		index := opts.Index
		if index.Spec == "" {
			index.Spec = "HNSW16"
		}
		req.Index = index.toProto()
	}
	if _, err := c.rpc.CreateCollection(ctx, req); err != nil {
		return nil, wrapError(op, err)
	}
	return c.Collection(name), nil
}

// Document is a text to ingest into a text collection.
type Document struct {
	// ID names the document (1..256 bytes); its chunks get the ids "<ID>#<n>".
	ID string
	// Text is the document's UTF-8 text; "" deletes the document's chunks.
	Text string
	// Metadata is stored with every chunk under "metadata", so a filter such as
	// {"metadata.lang": "en"} retrieves from matching documents only. nil = none.
	Metadata map[string]any
}

// IngestResult is what an ingest wrote (or, passed to IngestOptions.Progress, has written so
// far).
type IngestResult struct {
	// Documents ingested.
	Documents int
	// Chunks written.
	Chunks int
	// ReplacedChunks is the number of older chunks of re-ingested documents that were removed.
	ReplacedChunks int
}

// IngestOptions are the parameters of Ingest. The zero value sends DefaultIngestBatch
// documents per message and reports no progress.
type IngestOptions struct {
	// BatchSize is the number of documents per message, each committed on its own; 0 means
	// DefaultIngestBatch.
	BatchSize int
	// Progress, when not nil, is called after each acknowledged batch with the running totals,
	// from the goroutine that called Ingest.
	Progress func(IngestResult)
}

// DefaultIngestBatch is the batch size Ingest uses when given 0.
const DefaultIngestBatch = 64

func documentsToProto(op string, docs []Document, offset int) ([]*pb.Document, error) {
	out := make([]*pb.Document, len(docs))
	for i, d := range docs {
		meta, err := encodePayload(op, fmt.Sprintf("documents[%d].metadata", offset+i), d.Metadata)
		if err != nil {
			return nil, err
		}
		out[i] = &pb.Document{Id: d.ID, Text: d.Text, Metadata: meta}
	}
	return out, nil
}

// Ingest chunks, embeds and stores documents in a text collection over one streaming call.
// Re-ingesting a document ID replaces all its chunks atomically (a search sees the old version
// or the new one). The documents go in batches of opts.BatchSize, each committed on its own and
// acknowledged by the server; when Ingest fails, or ctx is cancelled halfway, the acknowledged
// batches stay and nothing of a later batch is written.
//
// INVALID_ARGUMENT names a bad document (id, metadata, a duplicate id in one batch);
// NOT_FOUND for an unknown collection; FAILED_PRECONDITION for a collection that is not a
// text collection. The result holds the totals acknowledged so far, also on failure. No
// documents, no call.
func (c *Collection) Ingest(ctx context.Context, docs []Document, opts IngestOptions) (IngestResult, error) {
	const op = "Ingest"
	batchSize := opts.BatchSize
	if batchSize < 0 {
		return IngestResult{}, invalidArgument(op, "batch size: %d is negative", batchSize)
	}
	if batchSize == 0 {
		batchSize = DefaultIngestBatch
	}
	if len(docs) == 0 {
		return IngestResult{}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.rpc.IngestDocuments(ctx)
	if err != nil {
		return IngestResult{}, wrapError(op, err)
	}

	// One goroutine sends, this one receives (as in Import).
	sent := make(chan error, 1)
	go func() {
		for start := 0; start < len(docs); start += batchSize {
			end := min(start+batchSize, len(docs))
			batch, err := documentsToProto(op, docs[start:end], start)
			if err != nil {
				sent <- err
				cancel()
				return
			}
			req := &pb.IngestDocumentsRequest{Collection: c.name, Documents: batch, Sync: c.sync}
			if err := stream.Send(req); err != nil {
				sent <- nil // the stream ended (io.EOF) or broke; Recv reports why
				return
			}
		}
		sent <- stream.CloseSend()
	}()

	var done IngestResult
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
		done = IngestResult{Documents: int(p.GetDocuments()), Chunks: int(p.GetChunks()),
			ReplacedChunks: int(p.GetReplacedChunks())}
		if opts.Progress != nil {
			opts.Progress(done)
		}
	}
	if serr := <-sent; serr != nil {
		return done, wrapError(op, serr)
	}
	if done.Documents != len(docs) {
		return done, &Error{code: codes.Internal, op: op, message: fmt.Sprintf(
			"the server ended the stream after acknowledging %d of %d documents", done.Documents, len(docs))}
	}
	return done, nil
}

// DeleteDocuments deletes every chunk of the given documents atomically and returns the number
// of chunks deleted (ids that are not there count nothing).
func (c *Collection) DeleteDocuments(ctx context.Context, ids ...string) (int, error) {
	r, err := c.client.rpc.DeleteDocuments(ctx, &pb.DeleteDocumentsRequest{Collection: c.name, DocumentIds: ids})
	if err != nil {
		return 0, wrapError("DeleteDocuments", err)
	}
	return int(r.GetDeletedChunks()), nil
}

// Embed embeds texts with the text collection's embedder, as Ingest and Ask do, and returns
// one unit-length vector per text, in order.
func (c *Collection) Embed(ctx context.Context, texts ...string) ([][]float32, error) {
	const op = "Embed"
	r, err := c.client.rpc.Embed(ctx, &pb.EmbedRequest{Collection: c.name, Texts: texts})
	if err != nil {
		return nil, wrapError(op, err)
	}
	dim, flat := int(r.GetDimension()), r.GetVectors()
	if len(flat) != dim*len(texts) {
		return nil, &Error{code: codes.Internal, op: op, message: fmt.Sprintf(
			"the server sent %d floats for %d texts of dimension %d", len(flat), len(texts), dim)}
	}
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// AskOptions are the parameters of Ask. The zero value retrieves 5 chunks and uses the
// server's default generator and prompt.
type AskOptions struct {
	// K is the number of chunks retrieved; 0 means 5.
	K int
	// Filter limits retrieval to chunks whose payload matches (see SearchOptions.Filter);
	// document metadata is under "metadata.", e.g. map[string]any{"metadata.lang": "en"}.
	Filter any
	// Generator is "" for the server's default, "extractive" for no language model.
	Generator string
	// SystemTemplate and UserTemplate replace the built-in prompt ({context} and {question}
	// are substituted); "" keeps the built-in one.
	SystemTemplate string
	UserTemplate   string
	// MaxPromptTokens is the prompt's budget (the lowest-ranked chunks are dropped first);
	// 0 means 2048.
	MaxPromptTokens int
	// EfSearch is the HNSW effort of the retrieval; 0 means the index's default.
	EfSearch int
}

// Citation is a chunk handed to the generator as [Number].
type Citation struct {
	// Number is [n] in the prompt, 1-based, in rank order.
	Number     int
	DocumentID string
	// Chunk is the chunk's position in its document, from 0.
	Chunk int
	// Score is the cosine similarity of the chunk to the question.
	Score float32
	Text  string
	// Begin and End are the byte span of Text in the document.
	Begin, End int
	// Cited is true when the answer refers to [Number].
	Cited bool
}

// AskTimings is the time the server spent on each stage of an Ask.
type AskTimings struct {
	Embed, Retrieve, Generate, Total time.Duration
	// Rewrite is Chat's follow-up rewrite; Tools the searches run for the model in tool mode.
	Rewrite, Tools time.Duration
}

// Answer is the result of Ask.
type Answer struct {
	// Text is the answer.
	Text string
	// Citations are every chunk in the prompt, [1] first.
	Citations []Citation
	Timings   AskTimings
	// Generator wrote the answer: "extractive", "openai:<model>".
	Generator string
	// EmbedderSpec is the collection's embedder, e.g. "hash:384:v1".
	EmbedderSpec string

	// Chat and tool mode (docs/rag.md, "Chat").
	// StandaloneQuestion is what was retrieved with, after the follow-up rewrite.
	StandaloneQuestion string
	// ToolCalls are every call the model made, in order.
	ToolCalls []ToolCall
	// PendingCalls are, with FinishReason "tool_calls", the caller's functions to run.
	PendingCalls []ToolCall
	// Messages are what this turn added to the conversation: append them to continue.
	Messages []ChatMessage
	// FinishReason is "stop", "length" or "tool_calls".
	FinishReason string
	ToolRounds   int
	// ConversationID is ChatOptions.ConversationID when the turn was stored.
	ConversationID string
}

func (o *AskOptions) toProto(op, collection, question string, stream bool) (*pb.AskRequest, error) {
	k, err := toUint32(op, "k", o.K)
	if err != nil {
		return nil, err
	}
	maxTokens, err := toUint32(op, "max_prompt_tokens", o.MaxPromptTokens)
	if err != nil {
		return nil, err
	}
	ef, err := toUint32(op, "ef_search", o.EfSearch)
	if err != nil {
		return nil, err
	}
	filter, err := encodeFilter(op, o.Filter)
	if err != nil {
		return nil, err
	}
	return &pb.AskRequest{
		Collection:      collection,
		Question:        question,
		K:               k,
		Filter:          filter,
		Stream:          stream,
		Generator:       o.Generator,
		SystemTemplate:  o.SystemTemplate,
		UserTemplate:    o.UserTemplate,
		MaxPromptTokens: maxTokens,
		EfSearch:        ef,
	}, nil
}

func millis(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

func answerFromProto(a *pb.AskAnswer) Answer {
	out := Answer{
		Text:         a.GetAnswer(),
		Citations:    make([]Citation, 0, len(a.GetCitations())),
		Generator:    a.GetGenerator(),
		EmbedderSpec: a.GetEmbedderSpec(),
	}
	for _, c := range a.GetCitations() {
		out.Citations = append(out.Citations, Citation{
			Number:     int(c.GetNumber()),
			DocumentID: c.GetDocumentId(),
			Chunk:      int(c.GetChunk()),
			Score:      c.GetScore(),
			Text:       c.GetText(),
			Begin:      int(c.GetBegin()),
			End:        int(c.GetEnd()),
			Cited:      c.GetCited(),
		})
	}
	t := a.GetTimings()
	out.Timings = AskTimings{Embed: millis(t.GetEmbedMs()), Retrieve: millis(t.GetRetrieveMs()),
		Generate: millis(t.GetGenerateMs()), Total: millis(t.GetTotalMs()),
		Rewrite: millis(t.GetRewriteMs()), Tools: millis(t.GetToolsMs())}
	out.StandaloneQuestion = a.GetStandaloneQuestion()
	out.ToolCalls = toolCallsFromProto(a.GetToolCalls())
	out.PendingCalls = toolCallsFromProto(a.GetPendingCalls())
	for _, m := range a.GetMessages() {
		out.Messages = append(out.Messages, chatMessageFromProto(m))
	}
	out.FinishReason = a.GetFinishReason()
	out.ToolRounds = int(a.GetToolRounds())
	out.ConversationID = a.GetConversationId()
	return out
}

// Ask answers question from the text collection: embed -> retrieve -> prompt -> generate
// (docs/rag.md).
//
//	ans, err := col.Ask(ctx, "How do I reverse a list?", sextant.AskOptions{K: 5})
//	fmt.Println(ans.Text)
//	for _, c := range ans.Citations {
//		fmt.Println(c.Number, c.DocumentID, c.Score, c.Cited)
//	}
//
// INVALID_ARGUMENT for an empty question or a bad filter; NOT_FOUND for an unknown collection;
// FAILED_PRECONDITION for a collection that is not a text collection; UNAVAILABLE when the
// generator's endpoint is down.
func (c *Collection) Ask(ctx context.Context, question string, opts AskOptions) (Answer, error) {
	return c.ask(ctx, "Ask", question, opts, nil)
}

// AskStream is Ask with the answer streamed: onPiece is called with each piece of the answer as
// the generator produces it (from the calling goroutine, in order; the pieces concatenate to
// Answer.Text), and the whole Answer is returned at the end.
//
//	ans, err := col.AskStream(ctx, question, sextant.AskOptions{}, func(piece string) error {
//		fmt.Print(piece)
//		return nil
//	})
//
// When onPiece returns an error, the call is cancelled (the server stops generating) and
// AskStream returns that error as it is.
func (c *Collection) AskStream(ctx context.Context, question string, opts AskOptions, onPiece func(piece string) error) (Answer, error) {
	if onPiece == nil {
		return Answer{}, invalidArgument("AskStream", "onPiece: is nil (use Ask for the answer alone)")
	}
	return c.ask(ctx, "AskStream", question, opts, onPiece)
}

func (c *Collection) ask(ctx context.Context, op, question string, opts AskOptions, onPiece func(string) error) (Answer, error) {
	req, err := opts.toProto(op, c.name, question, onPiece != nil)
	if err != nil {
		return Answer{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.rpc.Ask(ctx, req)
	if err != nil {
		return Answer{}, wrapError(op, err)
	}
	return receiveAnswer(op, stream, cancel, onPiece)
}

// answerStream is the receiving side of an Ask or a Chat call.
type answerStream interface {
	Recv() (*pb.AskResponse, error)
}

// receiveAnswer reads an Ask or Chat stream: the pieces to onPiece (when not nil), then the answer.
func receiveAnswer(op string, stream answerStream, cancel context.CancelFunc,
	onPiece func(string) error) (Answer, error) {
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return Answer{}, &Error{code: codes.Internal, op: op,
				message: "the server ended the stream without an answer"}
		}
		if err != nil {
			return Answer{}, wrapError(op, err)
		}
		switch ev := r.GetEvent().(type) {
		case *pb.AskResponse_Token:
			if onPiece != nil {
				if err := onPiece(ev.Token); err != nil {
					cancel()
					return Answer{}, err
				}
			}
		case *pb.AskResponse_Answer:
			return answerFromProto(ev.Answer), nil
		default:
			return Answer{}, &Error{code: codes.Internal, op: op,
				message: "the server sent a message without a token or an answer"}
		}
	}
}
