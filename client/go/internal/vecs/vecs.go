// Package vecs reads the TEXMEX vector files (.fvecs, .ivecs) that the tests, the scenario
// program and the benchmarks load: per vector a little-endian int32 dimension d, then d float32
// (fvecs) or int32 (ivecs) values.
package vecs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// ReadFvecs reads every vector of an .fvecs file. All vectors must have the same dimension.
func ReadFvecs(path string) ([][]float32, error) {
	rows, err := read(path)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(rows))
	for i, r := range rows {
		v := make([]float32, len(r))
		for j, bits := range r {
			v[j] = math.Float32frombits(bits)
		}
		out[i] = v
	}
	return out, nil
}

// ReadIvecs reads every row of an .ivecs file (e.g. ground-truth neighbour ids).
func ReadIvecs(path string) ([][]int32, error) {
	rows, err := read(path)
	if err != nil {
		return nil, err
	}
	out := make([][]int32, len(rows))
	for i, r := range rows {
		v := make([]int32, len(r))
		for j, bits := range r {
			v[j] = int32(bits)
		}
		out[i] = v
	}
	return out, nil
}

// read returns the rows of 4-byte values of a TEXMEX file.
func read(path string) ([][]uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var rows [][]uint32
	var head [4]byte
	dim := -1
	for {
		if _, err := io.ReadFull(r, head[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("%s: row %d: truncated dimension: %v", path, len(rows), err)
		}
		d := int32(binary.LittleEndian.Uint32(head[:]))
		if d <= 0 || d > 1<<20 {
			return nil, fmt.Errorf("%s: row %d: bad dimension %d", path, len(rows), d)
		}
		if dim >= 0 && int(d) != dim {
			return nil, fmt.Errorf("%s: row %d: dimension %d differs from %d", path, len(rows), d, dim)
		}
		dim = int(d)
		buf := make([]byte, 4*dim)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("%s: row %d: truncated values: %v", path, len(rows), err)
		}
		row := make([]uint32, dim)
		for j := range row {
			row[j] = binary.LittleEndian.Uint32(buf[4*j:])
		}
		rows = append(rows, row)
	}
	return rows, nil
}
