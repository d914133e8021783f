"""Errors raised by the client: one class per gRPC status code the server returns.

Every failed call raises a `SextantError` subclass carrying the gRPC status code (`.code`) and
the server's message (`.message`, which names the bad field). The code -> class table is
`_ERROR_CLASSES`, the one place the mapping lives; a code without a class of its own (CANCELLED,
UNKNOWN, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED) raises `SextantError` itself.

The few checks the client makes before sending (vectors not 2-D, ids and vectors of different
lengths, an id that is neither an int nor a str) raise `InvalidArgumentError` too, exactly as the
server would; it is also a `ValueError`.
"""

from __future__ import annotations

from typing import Dict, Type

import grpc

__all__ = [
    "SextantError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "ResourceExhaustedError",
    "FailedPreconditionError",
    "DeadlineExceededError",
    "UnavailableError",
    "InternalError",
    "DataLossError",
]


class SextantError(Exception):
    """A call failed. `code` is the grpc.StatusCode, `message` the server's explanation."""

    code: grpc.StatusCode
    message: str

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.UNKNOWN) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code=grpc.StatusCode.{self.code.name})"


class InvalidArgumentError(SextantError, ValueError):
    """INVALID_ARGUMENT: a bad request (dimension, filter, id, name, option...)."""

    def __init__(
        self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT
    ) -> None:
        super().__init__(message, code)


class NotFoundError(SextantError):
    """NOT_FOUND: the collection or point does not exist."""


class AlreadyExistsError(SextantError):
    """ALREADY_EXISTS: a collection of that name exists."""


class PermissionDeniedError(SextantError):
    """PERMISSION_DENIED: the API key is read-only and the call writes."""


class UnauthenticatedError(SextantError):
    """UNAUTHENTICATED: the server wants an API key and got none, or an unknown one."""


class ResourceExhaustedError(SextantError):
    """RESOURCE_EXHAUSTED: a message or a batch above the server's limits."""


class FailedPreconditionError(SextantError):
    """FAILED_PRECONDITION: the call does not fit the collection's state."""


class DeadlineExceededError(SextantError):
    """DEADLINE_EXCEEDED: the call (or the wait for an index) took longer than allowed."""


class UnavailableError(SextantError):
    """UNAVAILABLE: the server cannot be reached or is shutting down."""


class InternalError(SextantError):
    """INTERNAL: the server failed (an I/O error, a corrupt file...); see its log."""


class DataLossError(SextantError):
    """DATA_LOSS: stored data failed its checks (a damaged, truncated or incomplete snapshot or
    archive); nothing was restored or stored."""


_ERROR_CLASSES: Dict[grpc.StatusCode, Type[SextantError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.DATA_LOSS: DataLossError,
}


def error_for(code: grpc.StatusCode, message: str) -> SextantError:
    """The exception for a status code and message."""
    return _ERROR_CLASSES.get(code, SextantError)(message, code)


def from_rpc_error(err: grpc.RpcError) -> SextantError:
    """The exception for a failed gRPC call (a grpc.RpcError that is also a grpc.Call)."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else None
    message = details_fn() if callable(details_fn) else None
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    if not message:
        message = str(err) or code.name
    return error_for(code, message)
