package sextant

import (
	"bytes"
	"encoding/json"
	"reflect"

	"google.golang.org/grpc/codes"
)

// Payloads and filters travel as JSON text. These are the conversions, in one place.

// encodePayload turns a payload into the JSON object text the wire carries; nil or empty is ""
// (no payload).
func encodePayload(op, field string, p map[string]any) (string, error) {
	if len(p) == 0 {
		return "", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", invalidArgument(op, "%s: the payload cannot be encoded as JSON: %v", field, err)
	}
	return string(b), nil
}

// decodePayload parses the JSON object text of a payload. Numbers become json.Number, so
// 64-bit integers stay exact; "" is nil (no payload asked for) and "{}" an empty map.
func decodePayload(op, text string) (map[string]any, error) {
	if text == "" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, &Error{code: codes.Internal, op: op,
			message: "the server returned a payload that is not a JSON object: " + err.Error()}
	}
	return m, nil
}

// encodeFilter turns a filter into JSON text: nil (or a nil map, slice or pointer) is "" (no
// filter); a string, []byte or json.RawMessage is taken as JSON text as it is; anything else is
// marshalled with encoding/json.
func encodeFilter(op string, f any) (string, error) {
	switch v := f.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.RawMessage:
		return string(v), nil
	case []byte:
		return string(v), nil
	}
	rv := reflect.ValueOf(f)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "", nil
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", invalidArgument(op, "filter: cannot be encoded as JSON: %v", err)
	}
	return string(b), nil
}
