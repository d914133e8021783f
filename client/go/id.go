package sextant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/grpc/codes"

	pb "github.com/sextant-db/sextant/client/go/sextantpb"
)

type idKind uint8

const (
	idUnset idKind = iota
	idNum
	idStr
)

// ID is a point's id: an unsigned 64-bit number or a string of 1..512 bytes. The number 7 and
// the string "7" are different ids. Make one with NumID or StrID; the zero ID is unset and every
// method rejects it with INVALID_ARGUMENT. IDs are comparable with == and usable as map keys.
//
// In JSON an ID is a number or a string (see MarshalJSON).
type ID struct {
	kind idKind
	num  uint64
	str  string
}

// NumID returns the numeric id n.
func NumID(n uint64) ID { return ID{kind: idNum, num: n} }

// StrID returns the string id s.
func StrID(s string) ID { return ID{kind: idStr, str: s} }

// IsSet reports whether the id was made by NumID or StrID (the zero ID is unset).
func (id ID) IsSet() bool { return id.kind != idUnset }

// Num returns the numeric id and true, or 0 and false for a string or unset id.
func (id ID) Num() (uint64, bool) { return id.num, id.kind == idNum }

// Str returns the string id and true, or "" and false for a numeric or unset id.
func (id ID) Str() (string, bool) { return id.str, id.kind == idStr }

// String formats a numeric id as its digits and a string id quoted ("7" vs "\"7\""), so the two
// kinds stay apart in logs; the unset id prints as "<unset>".
func (id ID) String() string {
	switch id.kind {
	case idNum:
		return strconv.FormatUint(id.num, 10)
	case idStr:
		return strconv.Quote(id.str)
	}
	return "<unset>"
}

// MarshalJSON writes a numeric id as a JSON number and a string id as a JSON string. The unset
// id is an error.
func (id ID) MarshalJSON() ([]byte, error) {
	switch id.kind {
	case idNum:
		return []byte(strconv.FormatUint(id.num, 10)), nil
	case idStr:
		return json.Marshal(id.str)
	}
	return nil, fmt.Errorf("sextant: cannot marshal an unset ID")
}

// UnmarshalJSON reads a JSON number (a non-negative integer that fits 64 bits) as a numeric id
// and a JSON string as a string id.
func (id *ID) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*id = StrID(s)
		return nil
	}
	n, err := strconv.ParseUint(string(data), 10, 64)
	if err != nil {
		return fmt.Errorf("sextant: an ID is a non-negative 64-bit integer or a string, not %s", data)
	}
	*id = NumID(n)
	return nil
}

// toProto converts id; field names it in the error for an unset id.
func (id ID) toProto(op, field string) (*pb.PointId, error) {
	switch id.kind {
	case idNum:
		return &pb.PointId{Kind: &pb.PointId_Num{Num: id.num}}, nil
	case idStr:
		return &pb.PointId{Kind: &pb.PointId_Str{Str: id.str}}, nil
	}
	return nil, invalidArgument(op, "%s: the id is unset (use sextant.NumID or sextant.StrID)", field)
}

// idFromProto converts a server's id; an id with neither kind set is a protocol violation.
func idFromProto(op string, p *pb.PointId) (ID, error) {
	switch k := p.GetKind().(type) {
	case *pb.PointId_Num:
		return NumID(k.Num), nil
	case *pb.PointId_Str:
		return StrID(k.Str), nil
	}
	return ID{}, &Error{code: codes.Internal, op: op, message: "the server returned a point without an id"}
}
