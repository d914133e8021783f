package sextant_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	sextant "github.com/sextant-db/sextant/client/go"
	"github.com/sextant-db/sextant/client/go/internal/sextantdtest"
)

// Snapshots through the Go client: create, list, restore (answers equal to the original's),
// download/upload round trip, damaged and truncated archives (DATA_LOSS, nothing kept), errors.
func TestSnapshots(t *testing.T) {
	srv := sextantdtest.Start(t, "--snapshot-dir", filepath.Join(t.TempDir(), "snaps"))
	c := srv.Dial(t)
	ctx := sextantdtest.Context(t)

	points := randomPoints(3, 300, 8)
	col := mustCreate(t, ctx, c, "docs", sextant.CollectionConfig{
		Dimension: 8, Metric: sextant.MetricL2, Index: sextant.IndexSpec{Spec: "HNSW8"},
		PayloadIndexes: []sextant.PayloadIndex{{Field: "group", Type: sextant.FieldInteger}},
	})
	if _, err := col.Upsert(ctx, points); err != nil {
		t.Fatal(err)
	}
	if _, err := col.WaitForIndex(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	answers := func(col *sextant.Collection) string {
		var b strings.Builder
		for q := 0; q < 5; q++ {
			for _, f := range []any{nil, map[string]any{"group": 3}} {
				r, err := col.Search(ctx, points[q*7].Vector, sextant.SearchOptions{K: 6, Filter: f, WithPayload: true})
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range r.Hits {
					fmt.Fprintf(&b, "%v:%v:%v;", h.ID, h.Score, h.Payload)
				}
				b.WriteString("\n")
			}
		}
		return b.String()
	}
	before := answers(col)

	info, err := c.CreateSnapshot(ctx, sextant.SnapshotOptions{Collection: "docs", Name: "go-docs"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "go-docs" || info.Scope != "collection" || len(info.Collections) != 1 ||
		info.Collections[0].Count != 300 || !info.Collections[0].IndexCheckpoint {
		t.Fatalf("CreateSnapshot = %+v", info)
	}
	whole, err := c.CreateSnapshot(ctx, sextant.SnapshotOptions{})
	if err != nil || whole.Scope != "database" || !strings.HasPrefix(whole.Name, "db-") {
		t.Fatalf("CreateSnapshot(whole) = %+v, %v", whole, err)
	}
	list, err := c.ListSnapshots(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListSnapshots = %+v, %v", list, err)
	}

	restored, err := c.RestoreSnapshot(ctx, "go-docs", "", "docs_restored")
	if err != nil {
		t.Fatal(err)
	}
	ri, err := restored.Describe(ctx)
	if err != nil || ri.Count != 300 || ri.IndexOrigin != "checkpoint" {
		t.Fatalf("Describe(restored) = %+v, %v", ri, err)
	}
	if got := answers(restored); got != before {
		t.Errorf("restored answers differ:\n%s\nwant\n%s", got, before)
	}

	var archive bytes.Buffer
	n, err := c.DownloadSnapshot(ctx, "go-docs", &archive)
	if err != nil || n != int64(archive.Len()) || uint64(n) <= info.Bytes {
		t.Fatalf("DownloadSnapshot = %d, %v (snapshot %d bytes)", n, err, info.Bytes)
	}
	up, err := c.UploadSnapshot(ctx, "go-copy", bytes.NewReader(archive.Bytes()))
	if err != nil || up.Name != "go-copy" || up.Collections[0].Count != 300 {
		t.Fatalf("UploadSnapshot = %+v, %v", up, err)
	}
	copied, err := c.RestoreSnapshot(ctx, "go-copy", "docs", "docs_copied")
	if err != nil {
		t.Fatal(err)
	}
	if got := answers(copied); got != before {
		t.Errorf("answers after upload differ")
	}

	data := archive.Bytes()
	_, err = c.UploadSnapshot(ctx, "go-half", bytes.NewReader(data[:len(data)/2]))
	wantCode(t, "truncated upload", err, sextant.ErrDataLoss, codes.DataLoss)
	damaged := append([]byte(nil), data...)
	damaged[len(damaged)/2+5] ^= 0x08
	_, err = c.UploadSnapshot(ctx, "go-bad", bytes.NewReader(damaged))
	wantCode(t, "damaged upload", err, sextant.ErrDataLoss, codes.DataLoss)
	_, err = c.UploadSnapshot(ctx, "go-copy", bytes.NewReader(data))
	wantCode(t, "upload over a name", err, sextant.ErrAlreadyExists, codes.AlreadyExists)
	if list, _ = c.ListSnapshots(ctx); len(list) != 3 {
		t.Errorf("after failed uploads: %d snapshots, want 3", len(list))
	}

	_, err = c.RestoreSnapshot(ctx, "go-docs", "", "docs")
	wantCode(t, "restore over a collection", err, sextant.ErrAlreadyExists, codes.AlreadyExists)
	_, err = c.RestoreSnapshot(ctx, "nope", "", "x")
	wantCode(t, "restore unknown", err, sextant.ErrNotFound, codes.NotFound)
	_, err = c.CreateSnapshot(ctx, sextant.SnapshotOptions{Name: "../x"})
	wantCode(t, "bad name", err, sextant.ErrInvalidArgument, codes.InvalidArgument)
	if err := c.DeleteSnapshot(ctx, "go-copy"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "delete twice", c.DeleteSnapshot(ctx, "go-copy"), sextant.ErrNotFound, codes.NotFound)

	plain := sextantdtest.Start(t).Dial(t)
	_, err = plain.CreateSnapshot(ctx, sextant.SnapshotOptions{})
	wantCode(t, "no --snapshot-dir", err, sextant.ErrFailedPrecondition, codes.FailedPrecondition)
}
