// Command sextant-ingest-bench measures the bulk ingest rate of the Go client over the streaming
// upsert (UpsertStream) against a running sextantd:
//
//	sextant-ingest-bench -address 127.0.0.1:7070 -base siftsmall_base.fvecs [-batch 1000]
//	sextant-ingest-bench -address 127.0.0.1:7070 -synthetic 100000,128
//
// It drops the collection -collection if it exists, creates it (the data's dimension, -metric,
// -index), then times Collection.Import over every vector (ids = row numbers, no payload,
// batches of -batch points, each committed and acknowledged by the server), and prints one JSON
// line:
//
//	{"client":"go","points":N,"seconds":S,"points_per_s":R,"batch":B,...}
//
// The time runs from the call to Import until the server has acknowledged the last batch, so it
// includes building the []Point slice's protobuf messages; reading the file or generating the
// data is not timed. The collection is dropped afterwards unless -keep is given. -synthetic draws
// seeded standard-normal vectors (the ingest rate does not depend on the values). The companion
// programs are bench/server/ingest_python.py and sextant-server-bench -ingest-only (in-process);
// bench/README.md compares the three.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/vecs"
)

type result struct {
	Client     string  `json:"client"`
	Points     int     `json:"points"`
	Seconds    float64 `json:"seconds"`
	PointsPerS int64   `json:"points_per_s"`
	Batch      int     `json:"batch"`
	Index      string  `json:"index"`
	Dim        int     `json:"dim"`
	Dataset    string  `json:"dataset"`
}

func main() {
	address := flag.String("address", "", "sextantd address (host:port), required")
	base := flag.String("base", "", "vectors to load (.fvecs or .bvecs)")
	synthetic := flag.String("synthetic", "", "N,D: N seeded random vectors of dimension D")
	batch := flag.Int("batch", 1000, "points per stream message")
	collection := flag.String("collection", "ingest_go", "collection to (re)create")
	metric := flag.String("metric", "l2", "l2, ip or cosine")
	index := flag.String("index", "Flat", "index spec")
	seed := flag.Uint64("seed", 42, "seed of -synthetic")
	apiKey := flag.String("api-key", "", "API key, when the server needs one")
	keep := flag.Bool("keep", false, "keep the collection afterwards")
	timeout := flag.Duration("timeout", time.Hour, "give up after this long")
	flag.Parse()
	usage := func(msg string) {
		fmt.Fprintf(os.Stderr, "sextant-ingest-bench: %s\nusage: sextant-ingest-bench -address HOST:PORT (-base FILE | -synthetic N,D) [-batch N]\n", msg)
		os.Exit(2)
	}
	if *address == "" {
		usage("-address is required")
	}
	if (*base == "") == (*synthetic == "") {
		usage("give exactly one of -base and -synthetic")
	}
	if *batch < 1 {
		usage("-batch must be >= 1")
	}
	if flag.NArg() != 0 {
		usage("unexpected argument " + flag.Arg(0))
	}
	m, err := sextant.ParseMetric(*metric)
	if err != nil {
		usage(err.Error())
	}

	var data [][]float32
	var dataset string
	if *base != "" {
		data, err = readVectors(*base)
		dataset = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(*base), filepath.Ext(*base)), "_base")
	} else {
		var n, d int
		n, d, err = parseSynthetic(*synthetic)
		if err != nil {
			usage("-synthetic: " + err.Error())
		}
		data = randomVectors(n, d, *seed)
		dataset = fmt.Sprintf("random-%dx%d-s%d", n, d, *seed)
	}
	if err == nil && len(data) == 0 {
		err = fmt.Errorf("%s: no vectors", *base)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sextant-ingest-bench:", err)
		os.Exit(1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	res, err := run(ctx, *address, *apiKey, *collection, m, *index, *batch, *keep, data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sextant-ingest-bench:", err)
		os.Exit(1)
	}
	res.Dataset = dataset
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func run(ctx context.Context, address, apiKey, name string, metric sextant.Metric, index string, batch int,
	keep bool, data [][]float32) (*result, error) {
	var opts []sextant.Option
	if apiKey != "" {
		opts = append(opts, sextant.WithAPIKey(apiKey))
	}
	client, err := sextant.Dial(ctx, address, opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.DropCollection(ctx, name); err != nil && !errors.Is(err, sextant.ErrNotFound) {
		return nil, err
	}
	dim := len(data[0])
	col, err := client.CreateCollection(ctx, name, sextant.CollectionConfig{
		Dimension: dim,
		Metric:    metric,
		Index:     sextant.IndexSpec{Spec: index},
	})
	if err != nil {
		return nil, err
	}
	points := make([]sextant.Point, len(data))
	for i, v := range data {
		points[i] = sextant.Point{ID: sextant.NumID(uint64(i)), Vector: v}
	}

	start := time.Now()
	written, err := col.Import(ctx, points, batch, nil)
	seconds := time.Since(start).Seconds()
	if err != nil {
		return nil, err
	}
	count, err := col.Count(ctx)
	if err != nil {
		return nil, err
	}
	if written != len(points) || count != len(points) {
		return nil, fmt.Errorf("imported %d and the collection counts %d, expected %d", written, count, len(points))
	}
	if !keep {
		if err := client.DropCollection(ctx, name); err != nil {
			return nil, err
		}
	}
	return &result{
		Client:     "go",
		Points:     len(points),
		Seconds:    math.Round(seconds*1000) / 1000,
		PointsPerS: int64(math.Round(float64(len(points)) / seconds)),
		Batch:      batch,
		Index:      index,
		Dim:        dim,
	}, nil
}

func parseSynthetic(s string) (n, d int, err error) {
	ns, ds, ok := strings.Cut(s, ",")
	if ok {
		n, err = strconv.Atoi(ns)
		if err == nil {
			d, err = strconv.Atoi(ds)
		}
	}
	if !ok || err != nil || n < 1 || d < 1 {
		return 0, 0, fmt.Errorf("expected N,D with N, D >= 1, e.g. 100000,128; got %q", s)
	}
	return n, d, nil
}

// randomVectors draws n seeded standard-normal vectors of dimension d.
func randomVectors(n, d int, seed uint64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 0x5e7a47))
	flat := make([]float32, n*d)
	for i := range flat {
		flat[i] = float32(rng.NormFloat64())
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out
}

// readVectors reads an .fvecs file (with the client's reader) or a .bvecs file (uint8 values,
// widened to float32).
func readVectors(path string) ([][]float32, error) {
	switch filepath.Ext(path) {
	case ".fvecs":
		return vecs.ReadFvecs(path)
	case ".bvecs":
		return readBvecs(path)
	}
	return nil, fmt.Errorf("%s: expected a .fvecs or .bvecs file", path)
}

func readBvecs(path string) ([][]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var out [][]float32
	var head [4]byte
	var row []byte
	for {
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: row %d: truncated", path, len(out))
		}
		d := int(int32(binary.LittleEndian.Uint32(head[:])))
		if d <= 0 || (len(out) > 0 && d != len(out[0])) {
			return nil, fmt.Errorf("%s: row %d has dimension %d", path, len(out), d)
		}
		if cap(row) < d {
			row = make([]byte, d)
		}
		row = row[:d]
		if _, err := io.ReadFull(r, row); err != nil {
			return nil, fmt.Errorf("%s: row %d: truncated", path, len(out))
		}
		v := make([]float32, d)
		for j, b := range row {
			v[j] = float32(b)
		}
		out = append(out, v)
	}
}
