// Command rag shows the Go client's text collections (RAG) against a running sextantd:
//
//	sextantd --data ./sextant-data --listen 127.0.0.1:7070 &
//	go run ./examples/rag -addr 127.0.0.1:7070 -q "How do I reverse a list?" ../../docs
//
// It creates a text collection with the hash embedder (or -embedder local), ingests every .md
// and .txt file under the paths given (files or folders; each file is one document, its path the
// id) with a progress line, streams the answer to the question, and lists the citations. Without
// paths it ingests three short built-in documents. -keep leaves the collection in place.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	sextant "github.com/sextant-db/sextant/client/go"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7070", "sextantd address (host:port)")
	apiKey := flag.String("api-key", "", "API key, when the server needs one")
	name := flag.String("collection", "rag_example", "text collection to create (dropped at the end unless -keep)")
	embedder := flag.String("embedder", "hash", `embedder: "hash" (no model) or "local" (all-MiniLM-L6-v2 in the server)`)
	question := flag.String("q", "At what temperature does liquid nitrogen boil?", "the question to ask")
	k := flag.Int("k", 5, "chunks to retrieve")
	keep := flag.Bool("keep", false, "keep the collection")
	flag.Parse()
	if err := run(*addr, *apiKey, *name, *embedder, *question, *k, *keep, flag.Args()); err != nil {
		log.Fatal(err)
	}
}

var builtin = []sextant.Document{
	{ID: "nitrogen", Text: "Liquid nitrogen boils at minus 196 degrees Celsius. Laboratories use it to freeze samples.",
		Metadata: map[string]any{"topic": "chemistry"}},
	{ID: "lists", Text: "In Python a list is reversed in place with list.reverse(), or copied reversed with the slice [::-1].",
		Metadata: map[string]any{"topic": "programming"}},
	{ID: "etna", Text: "Mount Etna in Sicily is one of the most active volcanoes in Europe.",
		Metadata: map[string]any{"topic": "geology"}},
}

// readDocuments returns one document per .md or .txt file under paths.
func readDocuments(paths []string) ([]sextant.Document, error) {
	var docs []sextant.Document
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			ext := strings.ToLower(filepath.Ext(path))
			if d.IsDir() || (ext != ".md" && ext != ".txt") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			docs = append(docs, sextant.Document{ID: filepath.ToSlash(path), Text: string(b),
				Metadata: map[string]any{"ext": ext}})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no .md or .txt files under %s", strings.Join(paths, ", "))
	}
	return docs, nil
}

func run(addr, apiKey, name, embedder, question string, k int, keep bool, paths []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	docs := builtin
	if len(paths) > 0 {
		var err error
		if docs, err = readDocuments(paths); err != nil {
			return err
		}
	}

	var opts []sextant.Option
	if apiKey != "" {
		opts = append(opts, sextant.WithAPIKey(apiKey))
	}
	client, err := sextant.Dial(ctx, addr, opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	if err := client.DropCollection(ctx, name); err != nil && !errors.Is(err, sextant.ErrNotFound) {
		return err
	}
	col, err := client.CreateTextCollection(ctx, name, sextant.TextOptions{
		Embedder: sextant.EmbedderConfig{Kind: embedder},
		Chunking: sextant.ChunkingConfig{Markdown: true},
	})
	if err != nil {
		return err
	}
	if !keep {
		defer client.DropCollection(context.Background(), name)
	}
	info, err := col.Describe(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("collection %q: embedder %s, dimension %d\n", name, info.Text.EmbedderSpec, info.Dimension)

	start := time.Now()
	res, err := col.Ingest(ctx, docs, sextant.IngestOptions{BatchSize: 16, Progress: func(r sextant.IngestResult) {
		fmt.Fprintf(os.Stderr, "\ringested %d/%d documents, %d chunks", r.Documents, len(docs), r.Chunks)
	}})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("%d documents, %d chunks in %v\n\n", res.Documents, res.Chunks, time.Since(start).Round(time.Millisecond))

	fmt.Printf("Q: %s\nA: ", question)
	ans, err := col.AskStream(ctx, question, sextant.AskOptions{K: k}, func(piece string) error {
		fmt.Print(piece)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("\n\n%s; embed %v, retrieve %v, generate %v\n", ans.Generator,
		ans.Timings.Embed, ans.Timings.Retrieve, ans.Timings.Generate)
	for _, c := range ans.Citations {
		mark := " "
		if c.Cited {
			mark = "*"
		}
		fmt.Printf("%s[%d] %.3f %s#%d: %.70q\n", mark, c.Number, c.Score, c.DocumentID, c.Chunk, c.Text)
	}
	return nil
}
