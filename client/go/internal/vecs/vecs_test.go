package vecs

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRows(t *testing.T, rows [][]uint32) string {
	t.Helper()
	var b []byte
	for _, r := range rows {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r)))
		for _, v := range r {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
	}
	path := filepath.Join(t.TempDir(), "x.vecs")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReadFvecsAndIvecs(t *testing.T) {
	f := func(x float32) uint32 { return math.Float32bits(x) }
	path := writeRows(t, [][]uint32{{f(1.5), f(-2)}, {f(0), f(3.25)}})
	got, err := ReadFvecs(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0][0] != 1.5 || got[0][1] != -2 || got[1][1] != 3.25 {
		t.Fatalf("ReadFvecs = %v", got)
	}
	ints, err := ReadIvecs(writeRows(t, [][]uint32{{7, 0xFFFFFFFF}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ints) != 1 || ints[0][0] != 7 || ints[0][1] != -1 {
		t.Fatalf("ReadIvecs = %v", ints)
	}
}

func TestReadRejectsBadFiles(t *testing.T) {
	mixed := writeRows(t, [][]uint32{{1, 2}, {1, 2, 3}})
	if _, err := ReadIvecs(mixed); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("mixed dimensions: err = %v", err)
	}
	path := writeRows(t, [][]uint32{{1, 2}})
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, b[:len(b)-2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadIvecs(path); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("truncated file: err = %v", err)
	}
	if _, err := ReadFvecs(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
}
