package sextant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

// SnapshotCollection is one collection held by a snapshot.
type SnapshotCollection struct {
	Name      string
	Dimension int
	Metric    Metric
	Index     string
	// Count is the number of live points at the snapshot point.
	Count int
	// IndexCheckpoint is true when the snapshot holds the index structure (a restore needs no
	// rebuild); false for Flat.
	IndexCheckpoint bool
}

// SnapshotInfo describes a snapshot kept by the server (docs/snapshots.md).
type SnapshotInfo struct {
	// Name is how the snapshot is referred to (restore, download, delete).
	Name string
	// Scope is "database" or "collection".
	Scope       string
	Collections []SnapshotCollection
	// Sequence is the database's write sequence at the snapshot point.
	Sequence uint64
	// CreatedMs is the Unix time of the snapshot in milliseconds.
	CreatedMs int64
	// Bytes and Files are its size on the server.
	Bytes          uint64
	Files          uint64
	FormatVersion  uint32
	SextantVersion string
}

func snapshotInfoFromProto(p *pb.SnapshotInfo) SnapshotInfo {
	out := SnapshotInfo{
		Name:           p.GetName(),
		Scope:          p.GetScope(),
		Sequence:       p.GetSequence(),
		CreatedMs:      p.GetCreatedMs(),
		Bytes:          p.GetBytes(),
		Files:          p.GetFiles(),
		FormatVersion:  p.GetFormatVersion(),
		SextantVersion: p.GetSextantVersion(),
	}
	for _, c := range p.GetCollections() {
		out.Collections = append(out.Collections, SnapshotCollection{
			Name:            c.GetName(),
			Dimension:       int(c.GetDimension()),
			Metric:          Metric(c.GetMetric()),
			Index:           c.GetIndex(),
			Count:           int(c.GetCount()),
			IndexCheckpoint: c.GetIndexCheckpoint(),
		})
	}
	return out
}

// SnapshotOptions are the optional settings of CreateSnapshot.
type SnapshotOptions struct {
	// Collection to snapshot; "" snapshots the whole database.
	Collection string
	// Name of the snapshot; "" lets the server generate one ("<collection or db>-<UTC time>-<hex>").
	Name string
}

// CreateSnapshot takes a consistent snapshot of one collection or of the whole database while
// writes go on; the server keeps it in its --snapshot-dir (FAILED_PRECONDITION when it has none).
func (c *Client) CreateSnapshot(ctx context.Context, opts SnapshotOptions) (SnapshotInfo, error) {
	r, err := c.rpc.CreateSnapshot(ctx, &pb.CreateSnapshotRequest{Collection: opts.Collection, Name: opts.Name})
	if err != nil {
		return SnapshotInfo{}, wrapError("CreateSnapshot", err)
	}
	return snapshotInfoFromProto(r), nil
}

// ListSnapshots returns the server's snapshots, ordered by name.
func (c *Client) ListSnapshots(ctx context.Context) ([]SnapshotInfo, error) {
	r, err := c.rpc.ListSnapshots(ctx, &pb.ListSnapshotsRequest{})
	if err != nil {
		return nil, wrapError("ListSnapshots", err)
	}
	out := make([]SnapshotInfo, 0, len(r.GetSnapshots()))
	for _, s := range r.GetSnapshots() {
		out = append(out, snapshotInfoFromProto(s))
	}
	return out, nil
}

// DeleteSnapshot deletes snapshot name. NOT_FOUND when there is none.
func (c *Client) DeleteSnapshot(ctx context.Context, name string) error {
	_, err := c.rpc.DeleteSnapshot(ctx, &pb.DeleteSnapshotRequest{Name: name})
	return wrapError("DeleteSnapshot", err)
}

// RestoreSnapshot restores collection source of snapshot name ("" when it holds exactly one) as
// the new collection `collection`, and returns a handle to it. The snapshot is verified first:
// DATA_LOSS, and nothing restored, when it is damaged; ALREADY_EXISTS when collection exists.
func (c *Client) RestoreSnapshot(ctx context.Context, name, source, collection string) (*Collection, error) {
	r, err := c.rpc.RestoreSnapshot(ctx, &pb.RestoreSnapshotRequest{Name: name, Source: source, Collection: collection})
	if err != nil {
		return nil, wrapError("RestoreSnapshot", err)
	}
	return c.Collection(r.GetName()), nil
}

// DownloadSnapshot streams snapshot name's archive (a tar) into w and returns the bytes written.
func (c *Client) DownloadSnapshot(ctx context.Context, name string, w io.Writer) (int64, error) {
	const op = "DownloadSnapshot"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.DownloadSnapshot(ctx, &pb.DownloadSnapshotRequest{Name: name})
	if err != nil {
		return 0, wrapError(op, err)
	}
	var n int64
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, wrapError(op, err)
		}
		m, werr := w.Write(chunk.GetData())
		n += int64(m)
		if werr != nil {
			return n, wrapError(op, fmt.Errorf("writing the archive: %w", werr))
		}
	}
}

// DownloadSnapshotFile downloads snapshot name into the file path (written to "path.partial"
// and renamed once complete).
func (c *Client) DownloadSnapshotFile(ctx context.Context, name, path string) (int64, error) {
	partial := path + ".partial"
	f, err := os.Create(partial)
	if err != nil {
		return 0, wrapError("DownloadSnapshot", err)
	}
	n, err := c.DownloadSnapshot(ctx, name, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(partial, path)
	}
	if err != nil {
		os.Remove(partial)
		return n, wrapError("DownloadSnapshot", err)
	}
	return n, nil
}

// UploadSnapshot sends an archive (as DownloadSnapshot writes it) read from r; the server stores
// it as a new snapshot named name ("" = the archive's own name) once complete and verified.
// DATA_LOSS for a truncated or damaged archive (nothing is stored).
func (c *Client) UploadSnapshot(ctx context.Context, name string, r io.Reader) (SnapshotInfo, error) {
	const op = "UploadSnapshot"
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.UploadSnapshot(ctx)
	if err != nil {
		return SnapshotInfo{}, wrapError(op, err)
	}
	buf := make([]byte, 1<<20)
	first := true
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 || first {
			req := &pb.UploadSnapshotRequest{Data: append([]byte(nil), buf[:n]...)}
			if first {
				req.Name = name
				first = false
			}
			if err := stream.Send(req); err != nil {
				break // the server ended the call; CloseAndRecv reports why
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return SnapshotInfo{}, wrapError(op, fmt.Errorf("reading the archive: %w", rerr))
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return SnapshotInfo{}, wrapError(op, err)
	}
	return snapshotInfoFromProto(resp), nil
}

// UploadSnapshotFile uploads the archive file path; see UploadSnapshot.
func (c *Client) UploadSnapshotFile(ctx context.Context, name, path string) (SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return SnapshotInfo{}, wrapError("UploadSnapshot", err)
	}
	defer f.Close()
	return c.UploadSnapshot(ctx, name, f)
}
