package sextant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Vectors travel as packed little-endian float32 bytes (Point.vector_f32,
// SearchRequest.vector_f32, SearchBatchRequest.vectors_f32): 4 bytes a float, copied rather than
// encoded one varint-tagged value at a time. The server accepts either that or `repeated float`
// and answers with `repeated float`.

// packFloats returns v as packed little-endian float32, nil for no floats.
func packFloats(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return appendPacked(make([]byte, 0, 4*len(v)), v)
}

// appendPacked appends v to b as packed little-endian float32.
func appendPacked(b []byte, v []float32) []byte {
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// unpackFloats decodes packed little-endian float32; field names the bytes in the error.
func unpackFloats(b []byte, field string) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes, not a multiple of 4 (packed little-endian float32)", field, len(b))
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v, nil
}
