package sextant

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is the error every method of this package returns. It carries the gRPC status code the
// server answered with (or, for a mistake caught before anything was sent, INVALID_ARGUMENT),
// the server's message, which names the bad field, and the operation that failed.
//
// Test for a kind of failure with errors.Is and the sentinels of this package:
//
//	if errors.Is(err, sextant.ErrNotFound) { ... }
//
// or read the code with errors.As:
//
//	var serr *sextant.Error
//	if errors.As(err, &serr) && serr.Code() == codes.FailedPrecondition { ... }
//
// A call cut short by its context also matches context.Canceled or context.DeadlineExceeded.
type Error struct {
	code     codes.Code
	message  string
	op       string
	err      error
	sentinel bool
}

// Code is the gRPC status code of the failure.
func (e *Error) Code() codes.Code { return e.code }

// Message is the server's (or the client's) description of the failure, without the code.
func (e *Error) Message() string { return e.message }

// Op is the operation that failed, e.g. "Search" or "CreateCollection"; empty for a sentinel.
func (e *Error) Op() string { return e.op }

// Error formats the failure as "sextant: OP: CODE: message".
func (e *Error) Error() string {
	if e.sentinel {
		return "sextant: " + codeName(e.code)
	}
	if e.op == "" {
		return fmt.Sprintf("sextant: %s: %s", codeName(e.code), e.message)
	}
	return fmt.Sprintf("sextant: %s: %s: %s", e.op, codeName(e.code), e.message)
}

// Unwrap returns the underlying error: the gRPC status error the call failed with, or nil when
// the client rejected the request before sending it.
func (e *Error) Unwrap() error { return e.err }

// GRPCStatus returns the failure as a gRPC status, so that status.FromError and status.Code
// work on an *Error too.
func (e *Error) GRPCStatus() *status.Status {
	if s, ok := status.FromError(e.err); ok && e.err != nil {
		return s
	}
	return status.New(e.code, e.message)
}

// Is reports whether target is the sentinel of e's code (ErrNotFound for NOT_FOUND, ...), or
// context.Canceled / context.DeadlineExceeded for a CANCELLED / DEADLINE_EXCEEDED failure.
func (e *Error) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.code == codes.Canceled
	case context.DeadlineExceeded:
		return e.code == codes.DeadlineExceeded
	}
	t, ok := target.(*Error)
	return ok && t.sentinel && t.code == e.code
}

func sentinel(c codes.Code) *Error { return &Error{code: c, sentinel: true} }

// Sentinels for errors.Is: each matches every *Error with its code.
var (
	// ErrInvalidArgument: a malformed request (bad name, wrong dimension, bad filter, ...).
	ErrInvalidArgument error = sentinel(codes.InvalidArgument)
	// ErrNotFound: the collection (or, for Get, the point) does not exist.
	ErrNotFound error = sentinel(codes.NotFound)
	// ErrAlreadyExists: a collection of that name exists already.
	ErrAlreadyExists error = sentinel(codes.AlreadyExists)
	// ErrUnauthenticated: the server needs an API key and got none, or an unknown one.
	ErrUnauthenticated error = sentinel(codes.Unauthenticated)
	// ErrPermissionDenied: a read-only API key was used for a write.
	ErrPermissionDenied error = sentinel(codes.PermissionDenied)
	// ErrResourceExhausted: a limit was exceeded (message size, batch size, dimension).
	ErrResourceExhausted error = sentinel(codes.ResourceExhausted)
	// ErrFailedPrecondition: the request does not fit the collection's state.
	ErrFailedPrecondition error = sentinel(codes.FailedPrecondition)
	// ErrDeadlineExceeded: the call's deadline passed (also matches context.DeadlineExceeded).
	ErrDeadlineExceeded error = sentinel(codes.DeadlineExceeded)
	// ErrCanceled: the call's context was cancelled (also matches context.Canceled).
	ErrCanceled error = sentinel(codes.Canceled)
	// ErrUnavailable: the server cannot be reached or is shutting down.
	ErrUnavailable error = sentinel(codes.Unavailable)
	// ErrInternal: the server failed (an I/O error, corruption); see the message.
	ErrInternal error = sentinel(codes.Internal)
	// ErrDataLoss: stored data failed its checks (a damaged, truncated or incomplete snapshot or
	// archive); nothing was restored or stored.
	ErrDataLoss error = sentinel(codes.DataLoss)
)

// codeName is the canonical upper-case name of a gRPC code, as the other Sextant clients and the
// server's logs spell it.
func codeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return "OK"
	case codes.Canceled:
		return "CANCELLED"
	case codes.Unknown:
		return "UNKNOWN"
	case codes.InvalidArgument:
		return "INVALID_ARGUMENT"
	case codes.DeadlineExceeded:
		return "DEADLINE_EXCEEDED"
	case codes.NotFound:
		return "NOT_FOUND"
	case codes.AlreadyExists:
		return "ALREADY_EXISTS"
	case codes.PermissionDenied:
		return "PERMISSION_DENIED"
	case codes.ResourceExhausted:
		return "RESOURCE_EXHAUSTED"
	case codes.FailedPrecondition:
		return "FAILED_PRECONDITION"
	case codes.Aborted:
		return "ABORTED"
	case codes.OutOfRange:
		return "OUT_OF_RANGE"
	case codes.Unimplemented:
		return "UNIMPLEMENTED"
	case codes.Internal:
		return "INTERNAL"
	case codes.Unavailable:
		return "UNAVAILABLE"
	case codes.DataLoss:
		return "DATA_LOSS"
	case codes.Unauthenticated:
		return "UNAUTHENTICATED"
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}

// wrapError is the one place where a failure becomes an *Error: a gRPC status error keeps its
// code and message, a context error becomes CANCELLED or DEADLINE_EXCEEDED, anything else
// UNKNOWN. An *Error passes through unchanged.
func wrapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var serr *Error
	if errors.As(err, &serr) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		// Not a status: a context error from the client side, or something unforeseen.
		st = status.FromContextError(err)
	}
	return &Error{code: st.Code(), message: st.Message(), op: op, err: err}
}

// invalidArgument is an INVALID_ARGUMENT failure the client detects before sending anything.
func invalidArgument(op, format string, args ...any) error {
	return &Error{code: codes.InvalidArgument, message: fmt.Sprintf(format, args...), op: op}
}
