"""The status code -> exception table (no server needed)."""

from __future__ import annotations

from typing import Optional

import grpc
import pytest

import sextant
from sextant._errors import error_for, from_rpc_error

TABLE = [
    (grpc.StatusCode.INVALID_ARGUMENT, sextant.InvalidArgumentError),
    (grpc.StatusCode.NOT_FOUND, sextant.NotFoundError),
    (grpc.StatusCode.ALREADY_EXISTS, sextant.AlreadyExistsError),
    (grpc.StatusCode.PERMISSION_DENIED, sextant.PermissionDeniedError),
    (grpc.StatusCode.UNAUTHENTICATED, sextant.UnauthenticatedError),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, sextant.ResourceExhaustedError),
    (grpc.StatusCode.FAILED_PRECONDITION, sextant.FailedPreconditionError),
    (grpc.StatusCode.DEADLINE_EXCEEDED, sextant.DeadlineExceededError),
    (grpc.StatusCode.UNAVAILABLE, sextant.UnavailableError),
    (grpc.StatusCode.INTERNAL, sextant.InternalError),
    (grpc.StatusCode.DATA_LOSS, sextant.DataLossError),
]


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: Optional[grpc.StatusCode], details: Optional[str]) -> None:
        self._code = code
        self._details = details

    def code(self) -> grpc.StatusCode:
        return self._code  # type: ignore[return-value]  # None too: a malformed error

    def details(self) -> Optional[str]:
        return self._details


@pytest.mark.parametrize("code, cls", TABLE)
def test_each_code_has_its_class(code: grpc.StatusCode, cls: type) -> None:
    err = from_rpc_error(FakeRpcError(code, "points[3].vector: 127 floats, the dimension is 128"))
    assert type(err) is cls
    assert isinstance(err, sextant.SextantError)
    assert err.code == code
    assert err.message == "points[3].vector: 127 floats, the dimension is 128"
    assert str(err) == f"{code.name}: points[3].vector: 127 floats, the dimension is 128"


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
    ],
)
def test_other_codes_raise_the_base_class(code: grpc.StatusCode) -> None:
    err = error_for(code, "x")
    assert type(err) is sextant.SextantError
    assert err.code == code


def test_the_table_covers_the_classes_exported() -> None:
    exported = {
        getattr(sextant, name)
        for name in sextant.__all__
        if name.endswith("Error") and name != "SextantError"
    }
    assert exported == {cls for _, cls in TABLE}


def test_invalid_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        raise sextant.InvalidArgumentError("k: expected an int >= 1")
    assert sextant.InvalidArgumentError("m").code == grpc.StatusCode.INVALID_ARGUMENT


def test_an_error_without_details_still_says_something() -> None:
    err = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, None))
    assert isinstance(err, sextant.UnavailableError)
    assert err.message
    odd = from_rpc_error(FakeRpcError(None, "broken"))
    assert type(odd) is sextant.SextantError and odd.code == grpc.StatusCode.UNKNOWN


def test_repr() -> None:
    assert repr(sextant.NotFoundError("collection 'x'", grpc.StatusCode.NOT_FOUND)) == (
        "NotFoundError(\"collection 'x'\", code=grpc.StatusCode.NOT_FOUND)"
    )
