"""Session consistency in cluster mode (docs/cluster.md): a client keeps, per collection, the
last consistency token a write returned (it covers every earlier write of the session, the server
merges them) and sends it with every read and write of that collection, so a read waits until
the replicas it reads have applied the client's writes, whichever node answers."""

import threading
from typing import Any, Dict

# UpsertRequest.consistency_token (field 62, length-delimited) for requests pre-encoded by
# _convert.encode_upsert_request: appended after the lower-numbered fields.
_TOKEN_TAG = bytes([0xF2, 0x03])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Sessions:
    """Per collection name, the session's token ("" = none). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: Dict[str, str] = {}

    def get(self, collection: str) -> str:
        with self._lock:
            return self._tokens.get(collection, "")

    def set(self, collection: str, token: str) -> None:
        if not isinstance(token, str):
            raise TypeError(f"consistency token: expected a str, not {type(token).__name__}")
        with self._lock:
            if token:
                self._tokens[collection] = token
            else:
                self._tokens.pop(collection, None)

    def attach(self, collection: str, request: Any) -> Any:
        """The request carrying the collection's token (when it has the field and there is one)."""
        token = self.get(collection)
        if not token:
            return request
        if isinstance(request, (bytes, bytearray)):
            data = token.encode()
            return bytes(request) + _TOKEN_TAG + _varint(len(data)) + data
        if "consistency_token" in type(request).DESCRIPTOR.fields_by_name:
            request.consistency_token = token
        return request

    def note(self, collection: str, response: Any) -> None:
        """Keeps a write's token (it covers the one the write sent)."""
        token = getattr(response, "consistency_token", "")
        if isinstance(token, str) and token:
            with self._lock:
                self._tokens[collection] = token
