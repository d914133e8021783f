"""Python values <-> sextant.v1 messages: ids, vectors, payloads, filters, enums, results.

Every conversion the client makes lives here, so the tests can check them without a server.
Bad input raises InvalidArgumentError naming the argument (and the row: "vectors[3]").
"""

from __future__ import annotations

import json
import numbers
import os
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
import numpy as np

from ._errors import InvalidArgumentError, NotFoundError, SextantError
from ._proto import sextant_pb2 as pb
from ._types import (
    Answer,
    AskTimings,
    Citation,
    ToolCall,
    CollectionInfo,
    Conversation,
    ConversationInfo,
    EmbedderConfig,
    Hit,
    IngestResult,
    Payload,
    Point,
    PointId,
    SearchPlan,
    ServerInfo,
    SnapshotCollection,
    SnapshotInfo,
    TextOptions,
)

#: A filter: a dict (serialised to JSON), JSON text, or None for "no filter".
Filter = Union[Mapping[str, Any], str, None]
#: One vector: a sequence of numbers or a 1-D NumPy array.
VectorLike = Union[Sequence[float], "np.ndarray[Any, Any]"]
#: Several vectors: a 2-D NumPy array (n x dimension) or a sequence of vectors.
MatrixLike = Union["np.ndarray[Any, Any]", Sequence[VectorLike]]
#: An id on the way in: an int (NumPy integers too) or a str.
IdLike = Union[int, str, "np.integer[Any]"]
#: Several ids: a list, tuple, range, NumPy integer array or any other iterable of ids.
IdsLike = Union["np.ndarray[Any, Any]", Iterable[IdLike]]
#: A payload on the way in: a dict (serialised to JSON), JSON object text, or None for none.
PayloadLike = Union[Mapping[str, Any], str, None]
#: A text collection's embedder: "hash", "local", {"hash": {"dimension": 256}},
#: {"local": {"model": "all-MiniLM-L6-v2"}}, {"openai": {"base_url": ..., "model": ...,
#: "dimension": ...}}, {"kind": "hash", "dimension": 256}, or an EmbedderConfig.
EmbedderLike = Union[str, Mapping[str, Any], EmbedderConfig]
#: A document to ingest: {"id": str, "text": str, "metadata": dict | JSON text | None}, or a
#: tuple (id, text) / (id, text, metadata).
PayloadSelection = Union[bool, Sequence[str], Mapping[str, Sequence[str]]]
"""search()'s with_payload: a bool, the dotted paths to keep, or {"include": [...], "exclude": [...]}."""

DocumentLike = Union[Mapping[str, Any], Tuple[str, str], Tuple[str, str, PayloadLike]]

_UINT64_MAX = 2**64 - 1

_METRICS: Dict[str, int] = {
    "l2": pb.METRIC_L2,
    "euclidean": pb.METRIC_L2,
    "inner_product": pb.METRIC_INNER_PRODUCT,
    "ip": pb.METRIC_INNER_PRODUCT,
    "dot": pb.METRIC_INNER_PRODUCT,
    "cosine": pb.METRIC_COSINE,
}
_METRIC_NAMES: Dict[int, str] = {
    pb.METRIC_L2: "l2",
    pb.METRIC_INNER_PRODUCT: "inner_product",
    pb.METRIC_COSINE: "cosine",
}
_FIELD_TYPES: Dict[str, int] = {
    "keyword": pb.PAYLOAD_FIELD_TYPE_KEYWORD,
    "integer": pb.PAYLOAD_FIELD_TYPE_INTEGER,
    "float": pb.PAYLOAD_FIELD_TYPE_FLOAT,
    "bool": pb.PAYLOAD_FIELD_TYPE_BOOL,
}
_INDEX_STATES: Dict[int, str] = {
    pb.INDEX_STATE_READY: "ready",
    pb.INDEX_STATE_TRAINING: "training",
    pb.INDEX_STATE_BUILDING: "building",
}
_PLAN_KINDS: Dict[int, str] = {
    pb.SearchPlan.KIND_EXACT: "exact",
    pb.SearchPlan.KIND_INDEX: "index",
}


# ---------------------------------------------------------------- ids


def id_to_proto(value: object, field: str = "id") -> pb.PointId:
    """An int (0..2**64-1, NumPy integers too) or a str -> PointId. bool is refused."""
    if isinstance(value, str):
        return pb.PointId(str=value)
    if isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{field}: a bool is not an id; use an int or a str")
    if isinstance(value, numbers.Integral):
        number = int(value)
        if not 0 <= number <= _UINT64_MAX:
            raise InvalidArgumentError(
                f"{field}: {number} is out of range; numeric ids are 0..2**64-1"
            )
        return pb.PointId(num=number)
    raise InvalidArgumentError(
        f"{field}: an id is an int or a str, not {type(value).__name__}"
    )


def ids_to_proto(ids: Iterable[object], field: str = "ids") -> List[pb.PointId]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise InvalidArgumentError(f"{field}: expected a sequence of ids, got {type(ids).__name__}")
    return [id_to_proto(v, f"{field}[{i}]") for i, v in enumerate(ids)]


def id_from_proto(msg: pb.PointId) -> PointId:
    kind = msg.WhichOneof("kind")
    if kind == "str":
        return msg.str
    if kind == "num":
        return msg.num
    raise SextantError("the server sent a point without an id")


# ---------------------------------------------------------------- vectors


def as_matrix(vectors: object, field: str = "vectors") -> "np.ndarray[Any, np.dtype[np.float32]]":
    """A 2-D float32 array (n x dimension) from a 2-D array or a sequence of vectors."""
    if isinstance(vectors, (str, bytes)):
        raise InvalidArgumentError(f"{field}: expected vectors, got {type(vectors).__name__}")
    if not isinstance(vectors, np.ndarray) and len(vectors) == 0:  # type: ignore[arg-type]
        return np.zeros((0, 0), dtype=np.float32)
    try:
        arr = np.asarray(vectors, dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise InvalidArgumentError(f"{field}: {_why_not_a_matrix(vectors, e)}") from None
    if arr.ndim != 2:
        hint = "; wrap a single vector as [vector]" if arr.ndim == 1 else ""
        raise InvalidArgumentError(
            f"{field}: expected a 2-D array (n x dimension), got {arr.ndim} dimension(s){hint}"
        )
    return arr


def _why_not_a_matrix(vectors: Any, error: Exception) -> str:
    """The first row that is not a vector, or of another length than the first."""
    try:
        rows = list(vectors)
        first = len(rows[0])
        for i, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or len(row) != first:
                got = f"a {type(row).__name__}" if isinstance(row, (str, bytes)) else f"{len(row)} numbers"
                return f"row {i} has {got}, row 0 has {first} numbers; all vectors need the same length"
    except TypeError:
        pass
    return f"not a list of equally long vectors of numbers ({error})"


def as_vector(vector: object, field: str = "vector") -> "np.ndarray[Any, np.dtype[np.float32]]":
    """A 1-D float32 array from a 1-D array or a sequence of numbers."""
    if isinstance(vector, (str, bytes)):
        raise InvalidArgumentError(f"{field}: expected a vector, got {type(vector).__name__}")
    try:
        arr = np.asarray(vector, dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise InvalidArgumentError(f"{field}: not a vector of numbers ({e})") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"{field}: expected one vector (1-D), got {arr.ndim} dimension(s)"
            + ("; use search_batch for several" if arr.ndim == 2 else "")
        )
    return arr


# ---------------------------------------------------------------- payloads and filters


def payload_to_json(payload: object, field: str = "payload") -> str:
    """dict -> JSON object text; str passes unchanged (the server checks it); None -> "" (none)."""
    if payload is None:
        return ""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, Mapping):
        try:
            return json.dumps(dict(payload), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"{field}: cannot be written as JSON ({e})") from None
    raise InvalidArgumentError(
        f"{field}: a payload is a dict, JSON object text or None, not {type(payload).__name__}"
    )


def payload_from_json(text: str) -> Payload:
    """JSON object text from the server -> dict; "" -> {} (no payload)."""
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise SextantError(f"the server sent a payload that is not a JSON object: {text[:80]!r}")
    return value


def filter_to_json(filter: object, field: str = "filter") -> str:
    """dict -> JSON text; str passes unchanged; None -> "" (no filter)."""
    if filter is None:
        return ""
    if isinstance(filter, str):
        return filter
    if isinstance(filter, Mapping):
        try:
            return json.dumps(dict(filter), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"{field}: cannot be written as JSON ({e})") from None
    raise InvalidArgumentError(
        f"{field}: a filter is a dict, JSON text or None, not {type(filter).__name__}"
    )


# ---------------------------------------------------------------- points


def _checked_batch(
    ids: Sequence[object], vectors: object, payloads: Optional[Sequence[object]]
) -> Tuple["np.ndarray[Any, np.dtype[np.float32]]", int]:
    """The vectors as a matrix and the point count, after checking that vectors and payloads
    come one per id."""
    matrix = as_matrix(vectors)
    n = len(ids)
    if matrix.shape[0] != n:
        raise InvalidArgumentError(
            f"vectors: {matrix.shape[0]} vectors for {n} ids; give one vector per id"
        )
    if payloads is not None:
        if isinstance(payloads, (str, bytes, Mapping)):
            raise InvalidArgumentError("payloads: expected a list with one payload per id")
        if len(payloads) != n:
            raise InvalidArgumentError(
                f"payloads: {len(payloads)} payloads for {n} ids; give one per id (or None)"
            )
    return matrix, n


def points_to_proto(
    ids: Sequence[object],
    vectors: object,
    payloads: Optional[Sequence[object]],
    offset: int = 0,
) -> List[pb.Point]:
    """One message per point. `offset` is the index of ids[0] in the caller's whole input, so
    that errors name the caller's row."""
    matrix, n = _checked_batch(ids, vectors, payloads)
    # Vectors travel as packed little-endian float32 (Point.vector_f32): one bytes copy per
    # point instead of a Python float per component.
    packed = packed_rows(matrix)
    points = []
    for i in range(n):
        row = offset + i
        points.append(
            pb.Point(
                id=id_to_proto(ids[i], f"ids[{row}]"),
                vector_f32=packed[i],
                payload=payload_to_json(payloads[i], f"payloads[{row}]") if payloads is not None else "",
            )
        )
    return points


# ---------------------------------------------------------------- bulk writes, pre-encoded
#
# The bulk paths (Collection.import_points, AsyncCollection.import_points) send UpsertRequests
# they encode themselves: building one pb.Point and one pb.PointId per point and serialising them
# cost about three quarters of a Python import's time (cProfile of 100k x 128), while the wire
# form of a point is a few fixed bytes around its id, its payload and its packed vector. The
# bytes are exactly those of UpsertRequest(...).SerializeToString() (fields in number order).


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _length_delimited(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


def _point_id_bytes(value: object, field: str) -> bytes:
    """The PointId message of `value` (validated as id_to_proto does)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _UINT64_MAX:
        return b"\x08" + _varint(value)  # num = 1 (a oneof member: written even when 0)
    msg = id_to_proto(value, field)  # the same checks and messages; rare types take this path
    return msg.SerializeToString()


class RawUpsertStub:
    """Upsert and UpsertStream taking requests already serialized by encode_upsert_request, on a
    grpc or grpc.aio channel (the generated stub serialises pb messages itself)."""

    def __init__(self, channel: Any) -> None:
        self.Upsert = channel.unary_unary(
            "/sextant.v1.Sextant/Upsert", request_serializer=None, response_deserializer=pb.UpsertResponse.FromString
        )
        self.UpsertStream = channel.stream_stream(
            "/sextant.v1.Sextant/UpsertStream",
            request_serializer=None,
            response_deserializer=pb.UpsertProgress.FromString,
        )


def encode_upsert_request(
    collection: str,
    ids: Sequence[object],
    vectors: object,
    payloads: Optional[Sequence[object]],
    *,
    offset: int = 0,
    sync: bool = False,
) -> bytes:
    """A serialized UpsertRequest of these points, validated as points_to_proto validates them
    (errors name the caller's row: `offset` is the index of ids[0] in the whole input)."""
    matrix, n = _checked_batch(ids, vectors, payloads)
    parts = [_length_delimited(b"\x0a", collection.encode("utf-8"))] if collection else []
    if n:
        le = np.ascontiguousarray(matrix, dtype="<f4")
        flat = le.tobytes()
        width = le.shape[1] * 4
        vector_field = b"\xf2\x01" + _varint(width) if width else b""  # vector_f32 = 30
        # A numeric id's PointId is b"\x08" + varint: the point's bytes depend on the id's varint
        # length only, so the headers are made once per length.
        heads: Dict[int, bytes] = {}
        append = parts.append
        for i in range(n):
            value = ids[i]
            payload = b""
            if payloads is not None and payloads[i] is not None:
                text = payload_to_json(payloads[i], f"payloads[{offset + i}]")
                if text:
                    payload = _length_delimited(b"\x1a", text.encode("utf-8"))
            row = flat[i * width : (i + 1) * width]
            if type(value) is int and 0 <= value <= _UINT64_MAX and not payload:
                id_varint = _varint(value)
                head = heads.get(len(id_varint))
                if head is None:
                    id_len = 1 + len(id_varint)
                    body = 2 + id_len + len(vector_field) + width
                    head = heads[len(id_varint)] = b"\x12" + _varint(body) + b"\x0a" + bytes((id_len,)) + b"\x08"
                append(head + id_varint + vector_field + row)
                continue
            pid = _point_id_bytes(value, f"ids[{offset + i}]")
            body_bytes = _length_delimited(b"\x0a", pid) + payload + (vector_field + row if width else b"")
            append(_length_delimited(b"\x12", body_bytes))
    if sync:
        parts.append(b"\x18\x01")
    return b"".join(parts)


def packed_rows(matrix: "np.ndarray[Any, Any]") -> List[bytes]:
    """Each row of a 2-D array as packed little-endian float32 bytes."""
    if matrix.shape[0] == 0:
        return []
    le = np.ascontiguousarray(matrix, dtype="<f4")
    flat = le.tobytes()
    width = le.shape[1] * 4
    return [flat[i * width : (i + 1) * width] for i in range(le.shape[0])]


def packed(vectors: "np.ndarray[Any, Any]") -> bytes:
    """A vector or a row-major matrix as packed little-endian float32 bytes."""
    return np.ascontiguousarray(vectors, dtype="<f4").tobytes()


def payload_selection(with_payload: object) -> Tuple[bool, List[str], List[str]]:
    """search()'s with_payload: a bool, a list of dotted paths to keep, or a dict
    {"include": [...], "exclude": [...]} -> (with_payload, include, exclude)."""
    if isinstance(with_payload, (bool, np.bool_)):
        return bool(with_payload), [], []
    if isinstance(with_payload, Mapping):
        unknown = set(with_payload) - {"include", "exclude"}
        if unknown:
            raise InvalidArgumentError(
                f"with_payload: unknown key {sorted(unknown)[0]!r} (use 'include' and 'exclude')"
            )
        include = _paths(with_payload.get("include") or [], "with_payload['include']")
        exclude = _paths(with_payload.get("exclude") or [], "with_payload['exclude']")
        return True, include, exclude
    if isinstance(with_payload, Iterable) and not isinstance(with_payload, (str, bytes)):
        include = _paths(with_payload, "with_payload")
        if not include:
            raise InvalidArgumentError("with_payload: an empty list selects nothing; use False")
        return True, include, []
    raise InvalidArgumentError(
        "with_payload: expected a bool, a list of payload keys, or {'include': [...], 'exclude': [...]}, "
        f"not {type(with_payload).__name__}"
    )


def _paths(values: object, field: str) -> List[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(f"{field}: expected a list of payload keys, not {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v:
            raise InvalidArgumentError(f"{field}[{i}]: expected a non-empty str, not {v!r}")
        out.append(v)
    return out


def keys_list(keys: object, field: str = "keys") -> List[str]:
    """delete_payload_keys' keys: one str or a list of strs (dotted paths)."""
    if isinstance(keys, str):
        keys = [keys]
    out = _paths(keys, field)
    if not out:
        raise InvalidArgumentError(f"{field}: empty; name at least one key")
    return out


def point_from_proto(msg: pb.Point, with_vector: bool = True) -> Point:
    return Point(
        id=id_from_proto(msg.id),
        vector=list(msg.vector) if with_vector else None,
        payload=payload_from_json(msg.payload),
    )


# ---------------------------------------------------------------- enums


def metric_to_proto(metric: Union[str, int]) -> int:
    """"l2" (or "euclidean"), "inner_product" (or "ip", "dot"), "cosine"; any case."""
    if isinstance(metric, str):
        value = _METRICS.get(metric.strip().lower())
        if value is None:
            raise InvalidArgumentError(
                f"metric: unknown metric {metric!r}; expected 'l2', 'inner_product' or 'cosine'"
            )
        return value
    if isinstance(metric, int) and not isinstance(metric, bool) and metric in _METRIC_NAMES:
        return metric
    raise InvalidArgumentError(f"metric: expected 'l2', 'inner_product' or 'cosine', not {metric!r}")


def metric_name(value: int) -> str:
    return _METRIC_NAMES.get(value, "unspecified")


def field_type_to_proto(field: str, type_name: object) -> int:
    """"keyword", "integer", "float" or "bool" (any case) -> PayloadFieldType."""
    value = _FIELD_TYPES.get(type_name.strip().lower()) if isinstance(type_name, str) else None
    if value is None:
        raise InvalidArgumentError(
            f"payload_indexes[{field!r}]: unknown type {type_name!r}; expected 'keyword', "
            "'integer', 'float' or 'bool'"
        )
    return value


def payload_indexes_to_proto(
    payload_indexes: Optional[Union[Mapping[str, str], Iterable[Sequence[str]]]],
) -> List[pb.PayloadIndex]:
    """{"field": "type"} or [("field", "type"), ...] -> PayloadIndex messages."""
    if payload_indexes is None:
        return []
    if isinstance(payload_indexes, Mapping):
        pairs = list(payload_indexes.items())
    else:
        pairs = []
        for item in payload_indexes:
            if isinstance(item, str) or len(item) != 2:
                raise InvalidArgumentError(
                    "payload_indexes: expected {field: type} or a list of (field, type) pairs"
                )
            pairs.append((item[0], item[1]))
    out = []
    for field, type_name in pairs:
        if not isinstance(field, str):
            raise InvalidArgumentError(f"payload_indexes: a field name is a str, not {field!r}")
        out.append(pb.PayloadIndex(field=field, type=field_type_to_proto(field, type_name)))  # type: ignore[arg-type]
    return out


def index_spec(
    spec: str,
    ef_construction: Optional[int] = None,
    ef_search: Optional[int] = None,
    nprobe: Optional[int] = None,
) -> pb.IndexSpec:
    if not isinstance(spec, str):
        raise InvalidArgumentError(f"index: an index spec is a str such as 'HNSW16', not {spec!r}")
    return pb.IndexSpec(
        spec=spec,
        ef_construction=_count("ef_construction", ef_construction),
        ef_search=_count("ef_search", ef_search),
        nprobe=_count("nprobe", nprobe),
    )


def _count(field: str, value: Optional[int]) -> int:
    """An optional uint32 option: None -> 0 (the server's default)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgumentError(f"{field}: expected an int, not {value!r}")
    if not 1 <= int(value) <= 2**32 - 1:
        raise InvalidArgumentError(f"{field}: {value} is out of range (1..2**32-1, or None for the default)")
    return int(value)


def search_params(
    k: int,
    filter: Filter,
    ef_search: Optional[int],
    nprobe: Optional[int],
    exact: bool,
    with_payload: object,
    with_vector: bool,
    *,
    text: Optional[str] = None,
    text_fields: Optional[Sequence[str]] = None,
    fusion: str = "rrf",
    weights: Optional[Tuple[float, float]] = None,
    rrf_k: Optional[int] = None,
    candidates: Optional[int] = None,
    group_by: Optional[str] = None,
    group_size: int = 1,
    score_threshold: Optional[float] = None,
    mmr: Optional[float] = None,
) -> pb.SearchParams:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= int(k) <= 2**32 - 1:
        raise InvalidArgumentError(f"k: expected an int >= 1, not {k!r}")
    wanted, include, exclude = payload_selection(with_payload)
    params = pb.SearchParams(
        k=int(k),
        filter=filter_to_json(filter),
        with_payload=wanted,
        payload_include=include,
        payload_exclude=exclude,
        with_vector=bool(with_vector),
        ef_search=_count("ef_search", ef_search),
        nprobe=_count("nprobe", nprobe),
        exact=bool(exact),
    )
    if text is not None:
        if not isinstance(text, str):
            raise InvalidArgumentError(f"text: expected a str, not {type(text).__name__}")
        params.text = text
    if text_fields is not None:
        if isinstance(text_fields, str) or not all(isinstance(f, str) for f in text_fields):
            raise InvalidArgumentError("text_fields: expected a list of field names")
        params.text_fields.extend(text_fields)
    if fusion not in ("rrf", "weighted"):
        raise InvalidArgumentError(f'fusion: expected "rrf" or "weighted", not {fusion!r}')
    params.fusion.method = fusion
    if weights is not None:
        if fusion != "weighted":
            raise InvalidArgumentError('weights: only with fusion="weighted"')
        try:
            dense_weight, text_weight = (float(w) for w in weights)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"weights: expected (dense, text) numbers, not {weights!r}") from None
        if dense_weight == 0 and text_weight == 0:  # on the wire both 0 means the default
            raise InvalidArgumentError("weights: not both 0")
        params.fusion.dense_weight = dense_weight
        params.fusion.text_weight = text_weight
    params.fusion.rrf_k = _count("rrf_k", rrf_k)
    params.fusion.candidates = _count("candidates", candidates)
    if group_by is not None:
        if not isinstance(group_by, str) or not group_by:
            raise InvalidArgumentError(f"group_by: expected a field name, not {group_by!r}")
        params.group_by = group_by
    if isinstance(group_size, bool) or not isinstance(group_size, numbers.Integral) or not 1 <= int(group_size) < 2**32:
        raise InvalidArgumentError(f"group_size: expected an int >= 1, not {group_size!r}")
    params.group_size = int(group_size)
    if score_threshold is not None:
        if isinstance(score_threshold, bool) or not isinstance(score_threshold, numbers.Real):
            raise InvalidArgumentError(f"score_threshold: expected a number, not {score_threshold!r}")
        params.score_threshold = float(score_threshold)
    if mmr is not None:
        if isinstance(mmr, bool) or not isinstance(mmr, numbers.Real):
            raise InvalidArgumentError(f"mmr: expected the lambda in [0, 1], not {mmr!r}")
        params.mmr.SetInParent()
        params.mmr.mmr_lambda = float(mmr)
    return params


# ---------------------------------------------------------------- results


def hit_from_proto(msg: pb.Hit, with_payload: bool, with_vector: bool) -> Hit:
    return Hit(
        id=id_from_proto(msg.id),
        score=msg.score,
        payload=payload_from_json(msg.payload) if with_payload else None,
        vector=list(msg.vector) if with_vector else None,
        dense_score=msg.dense_score if msg.HasField("dense_score") else None,
        text_score=msg.text_score if msg.HasField("text_score") else None,
        group=json.loads(msg.group) if msg.group else None,
    )


def plan_from_proto(msg: pb.SearchPlan) -> SearchPlan:
    return SearchPlan(
        kind=_PLAN_KINDS.get(msg.kind, "unspecified"),
        index=msg.index,
        matches=msg.matches,
        filter_from_index=msg.filter_from_index,
        distance_computations=msg.distance_computations,
        effort=msg.effort,
    )


def collection_info_from_proto(msg: pb.CollectionInfo) -> CollectionInfo:
    return CollectionInfo(
        name=msg.name,
        dimension=msg.dimension,
        metric=metric_name(msg.metric),
        count=msg.count,
        index=msg.index,
        index_state=_INDEX_STATES.get(msg.index_state, "unspecified"),
        index_bytes=msg.index_bytes,
        vector_bytes=msg.vector_bytes,
        index_origin=msg.index_origin,
        properties=_properties_from_json(msg.properties),
        text=text_options_from_proto(msg.text) if msg.HasField("text") else None,
        text_fields={
            tf.field: {
                "language": tf.language or "english",
                "stemming": not tf.no_stemming,
                "stop_words": not tf.no_stop_words,
            }
            for tf in msg.text_fields
        },
    )


def _properties_from_json(text: str) -> Dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise SextantError(f"the server sent properties that are not JSON: {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise SextantError(f"the server sent properties that are not a JSON object: {text[:80]!r}")
    return value


def server_info_from_proto(msg: pb.ServerInfoResponse) -> ServerInfo:
    return ServerInfo(
        version=msg.version,
        build=msg.build,
        simd_level=msg.simd_level,
        read_only=msg.read_only,
        max_message_bytes=msg.max_message_bytes,
        max_batch_points=msg.max_batch_points,
        max_dimension=msg.max_dimension,
    )


# ---------------------------------------------------------------- text collections (RAG)

_EMBEDDER_KINDS = ("hash", "local", "openai")
# Option names each kind takes in the dict forms, and the EmbedderConfig field each sets.
_EMBEDDER_OPTIONS: Dict[str, Dict[str, str]] = {
    "hash": {"dimension": "dimension"},
    "local": {"model": "local_model", "local_model": "local_model"},
    "openai": {
        "base_url": "openai_base_url",
        "openai_base_url": "openai_base_url",
        "model": "openai_model",
        "openai_model": "openai_model",
        "dimension": "dimension",
    },
}
_TOKEN_KINDS = ("whitespace", "wordpiece")


def embedder_to_proto(embedder: object, dimension: Optional[int] = None) -> pb.EmbedderConfig:
    """An EmbedderLike -> EmbedderConfig. `dimension` (create_collection's) sets the embedder's
    dimension when the embedder does not name one; both and different is an error."""
    if isinstance(embedder, EmbedderConfig):
        kind = embedder.kind
        fields: Dict[str, Any] = {
            "dimension": embedder.dimension,
            "local_model": embedder.local_model,
            "openai_base_url": embedder.openai_base_url,
            "openai_model": embedder.openai_model,
        }
    else:
        if isinstance(embedder, str):
            kind, options = embedder, {}
        elif isinstance(embedder, Mapping):
            if "kind" in embedder:
                kind = embedder["kind"]
                options = {k: v for k, v in embedder.items() if k != "kind"}
            elif len(embedder) == 1:
                kind, opts = next(iter(embedder.items()))
                if opts is None:
                    opts = {}
                if not isinstance(opts, Mapping):
                    raise InvalidArgumentError(
                        f"embedder: the options of {kind!r} are a dict, not {type(opts).__name__}"
                    )
                options = dict(opts)
            else:
                raise InvalidArgumentError(
                    "embedder: expected one key naming the kind, e.g. {'openai': {'base_url': ..., "
                    "'model': ...}}, or {'kind': ..., ...}"
                )
        else:
            raise InvalidArgumentError(
                "embedder: expected 'hash', 'local', a dict such as {'openai': {...}} or an "
                f"EmbedderConfig, not {type(embedder).__name__}"
            )
        if not isinstance(kind, str) or kind.strip().lower() not in _EMBEDDER_KINDS:
            raise InvalidArgumentError(
                f"embedder: unknown kind {kind!r}; expected 'hash', 'local' or 'openai'"
            )
        kind = kind.strip().lower()
        allowed = _EMBEDDER_OPTIONS[kind]
        fields = {}
        for key, value in options.items():
            target = allowed.get(key) if isinstance(key, str) else None
            if target is None:
                raise InvalidArgumentError(
                    f"embedder: {kind!r} takes no option {key!r}; it takes "
                    + ", ".join(repr(k) for k in allowed)
                )
            fields[target] = value
    for key in ("local_model", "openai_base_url", "openai_model"):
        value = fields.get(key, "")
        if value is None:
            fields[key] = ""
        elif not isinstance(value, str):
            raise InvalidArgumentError(f"embedder: {key} is a str, not {value!r}")
    own = fields.get("dimension") or 0
    if isinstance(own, bool) or not isinstance(own, numbers.Integral) or not 0 <= int(own) <= 2**32 - 1:
        raise InvalidArgumentError(f"embedder: dimension is an int >= 1, not {own!r}")
    own = int(own)
    if dimension is not None:
        if own and own != dimension:
            raise InvalidArgumentError(
                f"dimension: {dimension} differs from the embedder's dimension {own}; give one"
            )
        if kind != "local":
            own = dimension
    return pb.EmbedderConfig(
        kind=kind,
        dimension=own,
        local_model=fields.get("local_model", ""),
        openai_base_url=fields.get("openai_base_url", ""),
        openai_model=fields.get("openai_model", ""),
    )


def text_options_to_proto(
    embedder: object,
    dimension: Optional[int],
    chunk_tokens: Optional[int],
    overlap_tokens: Optional[int],
    markdown: bool,
    tokens: Optional[str],
) -> pb.TextOptions:
    if tokens is not None and (not isinstance(tokens, str) or tokens.strip().lower() not in _TOKEN_KINDS):
        raise InvalidArgumentError(f"tokens: expected 'whitespace' or 'wordpiece', not {tokens!r}")
    return pb.TextOptions(
        embedder=embedder_to_proto(embedder, dimension),
        chunking=pb.ChunkingConfig(
            chunk_tokens=_count("chunk_tokens", chunk_tokens),
            overlap_tokens=_count("overlap_tokens", overlap_tokens),
            markdown=bool(markdown),
            tokens=tokens.strip().lower() if tokens is not None else "",
        ),
    )


def text_options_from_proto(msg: pb.TextOptions) -> TextOptions:
    e = msg.embedder
    return TextOptions(
        embedder=EmbedderConfig(
            kind=e.kind,
            dimension=e.dimension,
            local_model=e.local_model,
            openai_base_url=e.openai_base_url,
            openai_model=e.openai_model,
        ),
        chunk_tokens=msg.chunking.chunk_tokens,
        overlap_tokens=msg.chunking.overlap_tokens,
        markdown=msg.chunking.markdown,
        tokens=msg.chunking.tokens,
        embedder_spec=msg.embedder_spec,
    )


_DOCUMENT_KEYS = ("id", "text", "metadata")


def document_to_proto(doc: object, field: str = "document") -> pb.Document:
    """{"id", "text", "metadata"} or (id, text[, metadata]) -> Document. The id and the text are
    strs; metadata a dict, JSON object text or None."""
    if isinstance(doc, Mapping):
        unknown = [k for k in doc if k not in _DOCUMENT_KEYS]
        if unknown:
            raise InvalidArgumentError(
                f"{field}: unknown key {unknown[0]!r}; a document has 'id', 'text' and 'metadata'"
            )
        if "id" not in doc or "text" not in doc:
            raise InvalidArgumentError(f"{field}: a document needs 'id' and 'text'")
        doc_id, text, metadata = doc["id"], doc["text"], doc.get("metadata")
    elif isinstance(doc, (tuple, list)) and len(doc) in (2, 3):
        doc_id, text = doc[0], doc[1]
        metadata = doc[2] if len(doc) == 3 else None
    else:
        raise InvalidArgumentError(
            f"{field}: a document is a dict {{'id', 'text', 'metadata'}} or a tuple "
            f"(id, text[, metadata]), not {type(doc).__name__}"
        )
    if not isinstance(doc_id, str):
        raise InvalidArgumentError(f"{field}.id: a document id is a str, not {type(doc_id).__name__}")
    if not isinstance(text, str):
        raise InvalidArgumentError(f"{field}.text: expected a str, not {type(text).__name__}")
    return pb.Document(id=doc_id, text=text, metadata=payload_to_json(metadata, f"{field}.metadata"))


def ingest_result_from_proto(msg: pb.IngestProgress) -> IngestResult:
    return IngestResult(
        documents=msg.documents, chunks=msg.chunks, replaced_chunks=msg.replaced_chunks
    )


def document_ids(ids: object, field: str = "document_ids") -> List[str]:
    """One str or a sequence of strs -> a list of document ids."""
    if isinstance(ids, str):
        return [ids]
    if isinstance(ids, (bytes, Mapping)) or not isinstance(ids, Iterable):
        raise InvalidArgumentError(f"{field}: expected a str or a list of strs, not {type(ids).__name__}")
    out = list(ids)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise InvalidArgumentError(f"{field}[{i}]: a document id is a str, not {type(v).__name__}")
    return out


def texts(values: object, field: str = "texts") -> List[str]:
    """A sequence of strs (a single str is refused here; the caller wraps it)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise InvalidArgumentError(f"{field}: expected a list of strs, not {type(values).__name__}")
    out = list(values)
    for i, v in enumerate(out):
        if not isinstance(v, str):
            raise InvalidArgumentError(f"{field}[{i}]: expected a str, not {type(v).__name__}")
    return out


def ask_request(
    collection: str,
    question: object,
    k: int,
    filter: Filter,
    generator: Optional[str],
    stream: bool,
    system_template: Optional[str],
    user_template: Optional[str],
    max_prompt_tokens: Optional[int],
    ef_search: Optional[int],
    *,
    tools: object = None,
    max_tool_rounds: Optional[int] = None,
    generation: Optional[Mapping[str, Any]] = None,
) -> pb.AskRequest:
    """The AskRequest of Collection.ask and AsyncCollection.ask (one place for both)."""
    if not isinstance(question, str):
        raise InvalidArgumentError(f"question: expected a str, not {type(question).__name__}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= int(k) <= 2**32 - 1:
        raise InvalidArgumentError(f"k: expected an int >= 1, not {k!r}")
    for name, value in (
        ("generator", generator),
        ("system_template", system_template),
        ("user_template", user_template),
    ):
        if value is not None and not isinstance(value, str):
            raise InvalidArgumentError(f"{name}: expected a str or None, not {type(value).__name__}")
    request = pb.AskRequest(
        collection=collection,
        question=question,
        k=int(k),
        filter=filter_to_json(filter),
        stream=bool(stream),
        generator=generator or "",
        system_template=system_template or "",
        user_template=user_template or "",
        max_prompt_tokens=_count("max_prompt_tokens", max_prompt_tokens),
        ef_search=_count("ef_search", ef_search),
    )
    request.generation.CopyFrom(generation_settings(dict(generation or {})))
    mode, functions = tools_spec(tools)
    request.tools = mode
    request.functions.extend(functions)
    request.max_tool_rounds = _count("max_tool_rounds", max_tool_rounds)
    return request


def chat_request(
    collection: str,
    messages: object,
    k: object,
    stream: bool,
    tools: object,
    *,
    filter: Filter,
    generator: Optional[str],
    rewrite: Optional[str],
    max_history_tokens: Optional[int],
    max_tool_rounds: Optional[int],
    system_template: Optional[str],
    user_template: Optional[str],
    max_prompt_tokens: Optional[int],
    ef_search: Optional[int],
    generation: Mapping[str, Any],
    conversation_id: Optional[str] = None,
) -> pb.ChatRequest:
    """The ChatRequest of Collection.chat and AsyncCollection.chat (one place for both)."""
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Iterable):
        raise InvalidArgumentError(f"messages: expected a list of message dicts, not {type(messages).__name__}")
    request = pb.ChatRequest(
        collection=collection,
        stream=bool(stream),
        filter=filter_to_json(filter),
        generator=generator or "",
        system_template=system_template or "",
        user_template=user_template or "",
        max_prompt_tokens=_count("max_prompt_tokens", max_prompt_tokens),
        ef_search=_count("ef_search", ef_search),
        max_history_tokens=_count("max_history_tokens", max_history_tokens),
        max_tool_rounds=_count("max_tool_rounds", max_tool_rounds),
        rewrite=rewrite_mode(rewrite),
    )
    if conversation_id is not None:
        request.conversation_id = conversation_id_arg(conversation_id)
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= int(k) <= 2**32 - 1:
        raise InvalidArgumentError(f"k: expected an int >= 1, not {k!r}")
    request.k = int(k)
    for i, m in enumerate(messages):
        request.messages.append(chat_message(m, f"messages[{i}]"))
    request.generation.CopyFrom(generation_settings(dict(generation)))
    mode, functions = tools_spec(tools)
    request.tools = mode
    request.functions.extend(functions)
    return request


def upload_snapshot_requests(source: str, name: Optional[str]) -> Iterator[pb.UploadSnapshotRequest]:
    """The UploadSnapshot stream of the archive file `source`: 1 MiB pieces, the name in the
    first (an empty archive still sends one message). InvalidArgumentError when it is no file."""
    if not os.path.isfile(source):
        raise InvalidArgumentError(f"path: no archive file {source!r}")

    def requests() -> Iterator[pb.UploadSnapshotRequest]:
        first = True
        with open(source, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data and not first:
                    return
                yield pb.UploadSnapshotRequest(name=(name or "") if first else "", data=data)
                first = False
                if not data:
                    return

    return requests()


def answer_from_proto(msg: pb.AskAnswer) -> Answer:
    t = msg.timings
    return Answer(
        answer=msg.answer,
        citations=[
            Citation(
                number=c.number,
                document_id=c.document_id,
                chunk=c.chunk,
                score=c.score,
                text=c.text,
                begin=c.begin,
                end=c.end,
                cited=c.cited,
            )
            for c in msg.citations
        ],
        timings=AskTimings(
            embed_ms=t.embed_ms,
            retrieve_ms=t.retrieve_ms,
            generate_ms=t.generate_ms,
            total_ms=t.total_ms,
            rewrite_ms=t.rewrite_ms,
            tools_ms=t.tools_ms,
        ),
        generator=msg.generator,
        embedder_spec=msg.embedder_spec,
        tool_calls=[ToolCall(c.id, c.name, c.arguments) for c in msg.tool_calls],
        pending_calls=[ToolCall(c.id, c.name, c.arguments) for c in msg.pending_calls],
        messages=[message_to_dict(m) for m in msg.messages],
        finish_reason=msg.finish_reason,
        standalone_question=msg.standalone_question,
        tool_rounds=msg.tool_rounds,
        conversation_id=msg.conversation_id,
    )


def conversation_id_arg(value: object) -> str:
    """A conversation id argument: a str (its syntax, 1..128 of [A-Za-z0-9_.:-], is the server's
    to check, so that every client gets the same message)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"conversation_id: expected a str, not {type(value).__name__}")
    if not value:
        raise InvalidArgumentError("conversation_id: empty (omit it, or pass None, for a chat that is not stored)")
    return value


def conversation_info_from_proto(msg: pb.ConversationInfo) -> ConversationInfo:
    return ConversationInfo(
        id=msg.id,
        collection=msg.collection,
        messages=msg.messages,
        bytes=msg.bytes,
        created_ms=msg.created_ms,
        updated_ms=msg.updated_ms,
    )


def conversation_from_proto(msg: pb.Conversation, collection: str) -> Conversation:
    """GetConversation's answer, read through Collection `collection`: a conversation of another
    collection is NotFoundError there (ids are database-wide; a conversation stays with its
    collection)."""
    if msg.info.collection != collection:
        raise NotFoundError(
            f"conversation {msg.info.id!r} belongs to collection {msg.info.collection!r}, not {collection!r}",
            grpc.StatusCode.NOT_FOUND,
        )
    return Conversation(info=conversation_info_from_proto(msg.info), messages=[message_to_dict(m) for m in msg.messages])


def message_to_dict(m: pb.ChatMessage) -> Dict[str, Any]:
    """A ChatMessage as the dict OpenAI's API uses."""
    out: Dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [ToolCall(c.id, c.name, c.arguments).to_dict() for c in m.tool_calls]
    if m.role == "tool":
        out["tool_call_id"] = m.tool_call_id
    return out


def chat_message(value: object, where: str) -> pb.ChatMessage:
    """An OpenAI-style message dict ({"role", "content", "tool_calls", "tool_call_id"}) as a
    ChatMessage. Roles and the conversation's shape are checked by the server."""
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{where}: expected a dict with \"role\" and \"content\", not {type(value).__name__}")
    role = value.get("role")
    if not isinstance(role, str):
        raise InvalidArgumentError(f"{where}.role: expected a str, not {type(role).__name__}")
    content = value.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise InvalidArgumentError(f"{where}.content: expected a str, not {type(content).__name__}")
    out = pb.ChatMessage(role=role, content=content, tool_call_id=str(value.get("tool_call_id") or ""))
    for i, call in enumerate(value.get("tool_calls") or []):
        if isinstance(call, ToolCall):
            out.tool_calls.add(id=call.id, name=call.name, arguments=call.arguments)
            continue
        if not isinstance(call, Mapping):
            raise InvalidArgumentError(f"{where}.tool_calls[{i}]: expected a dict")
        inner = call.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else call
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            args = json.dumps(args)
        out.tool_calls.add(id=str(call.get("id") or ""), name=str(fn.get("name") or ""), arguments=args)
    return out


_GENERATION_KEYS = ("temperature", "max_tokens", "stop", "model", "seed")


def generation_settings(generation: Mapping[str, Any]) -> pb.GenerationSettings:
    """temperature, max_tokens, stop (a str or a list of strs), model and seed; None = unset."""
    unknown = sorted(set(generation) - set(_GENERATION_KEYS))
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {', '.join(unknown)} (generation settings are "
                        f"{', '.join(_GENERATION_KEYS)})")
    out = pb.GenerationSettings()
    t = generation.get("temperature")
    if t is not None:
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise InvalidArgumentError(f"temperature: expected a number, not {t!r}")
        out.temperature = float(t)
    m = generation.get("max_tokens")
    if m is not None:
        out.max_tokens = _count("max_tokens", m)
    stop = generation.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else list(stop)
        for i, x in enumerate(stops):
            if not isinstance(x, str):
                raise InvalidArgumentError(f"stop[{i}]: expected a str, not {type(x).__name__}")
        out.stop.extend(stops)
    model = generation.get("model")
    if model is not None:
        if not isinstance(model, str):
            raise InvalidArgumentError(f"model: expected a str, not {type(model).__name__}")
        out.model = model
    seed = generation.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise InvalidArgumentError(f"seed: expected an int, not {seed!r}")
        out.seed = int(seed)
    return out


def tools_spec(tools: object) -> Tuple["pb.ToolMode", List[pb.FunctionDefinition]]:
    """tools=None (no tools), "auto" (the model may search the collection), or a list of "auto"
    and/or function definitions (OpenAI's {"type": "function", "function": {...}} or just
    {"name", "description", "parameters"}) -> (ToolMode, functions)."""
    if tools is None:
        return pb.TOOL_MODE_NONE, []
    items = [tools] if isinstance(tools, (str, Mapping)) else tools
    if not isinstance(items, Iterable):
        raise InvalidArgumentError(f"tools: expected None, \"auto\" or a list, not {type(tools).__name__}")
    mode = pb.TOOL_MODE_NONE
    functions: List[pb.FunctionDefinition] = []
    for i, item in enumerate(items):
        if item == "auto":
            mode = pb.TOOL_MODE_AUTO
            continue
        if not isinstance(item, Mapping):
            raise InvalidArgumentError(f"tools[{i}]: expected \"auto\" or a function definition dict")
        inner = item.get("function")
        fn: Mapping[str, Any] = inner if isinstance(inner, Mapping) else item
        name = fn.get("name")
        if not isinstance(name, str):
            raise InvalidArgumentError(f"tools[{i}]: a function needs a str \"name\"")
        params = fn.get("parameters")
        functions.append(
            pb.FunctionDefinition(
                name=name,
                description=str(fn.get("description") or ""),
                parameters="" if params is None else (params if isinstance(params, str) else json.dumps(params)),
            )
        )
    return mode, functions


_REWRITE = {
    None: pb.REWRITE_MODE_AUTO,
    "auto": pb.REWRITE_MODE_AUTO,
    "model": pb.REWRITE_MODE_MODEL,
    "heuristic": pb.REWRITE_MODE_HEURISTIC,
    "off": pb.REWRITE_MODE_OFF,
}


def rewrite_mode(value: object) -> "pb.RewriteMode":
    if value is False:
        return pb.REWRITE_MODE_OFF
    if value not in _REWRITE:
        raise InvalidArgumentError(f"rewrite: expected \"auto\", \"model\", \"heuristic\" or \"off\", not {value!r}")
    return _REWRITE[value]
# ---------------------------------------------------------------- data management requests


def _selector(request: Any, ids: object, filter: object, what: str) -> None:
    """Sets a SetPayload/DeletePayloadKeys request's selector: ids (one id or a list) or a filter."""
    if (ids is None) == (filter is None):
        raise InvalidArgumentError(f"{what}: give either ids or filter=, not both or neither")
    if ids is not None:
        id_list: Iterable[object]
        if isinstance(ids, (int, str, np.integer)):
            id_list = [ids]
        elif isinstance(ids, (bytes, Mapping)) or not isinstance(ids, Iterable):
            raise InvalidArgumentError(f"ids: expected an id or a sequence of ids, not {type(ids).__name__}")
        else:
            id_list = ids
        request.ids.SetInParent()
        request.ids.ids.extend(ids_to_proto(id_list))
        if not request.ids.ids:
            raise InvalidArgumentError("ids: empty; name at least one point")
    else:
        text = filter_to_json(filter)
        if not text:
            raise InvalidArgumentError("filter: empty (use {} to select every point)")
        request.filter = text


def set_payload_request(
    collection: str, payload: object, ids: object, filter: object, overwrite: bool, sync: bool
) -> pb.SetPayloadRequest:
    what = "overwrite_payload" if overwrite else "set_payload"
    if payload is not None and not isinstance(payload, (str, Mapping)):
        raise InvalidArgumentError(f"payload: expected a dict or JSON object text, not {type(payload).__name__}")
    request = pb.SetPayloadRequest(
        collection=collection, payload=payload_to_json(payload), overwrite=overwrite, sync=sync
    )
    _selector(request, ids, filter, what)
    return request


def delete_payload_keys_request(
    collection: str, keys: object, ids: object, filter: object, sync: bool
) -> pb.DeletePayloadKeysRequest:
    request = pb.DeletePayloadKeysRequest(collection=collection, keys=keys_list(keys), sync=sync)
    _selector(request, ids, filter, "delete_payload_keys")
    return request


def update_vectors_request(
    collection: str, ids: Sequence[object], vectors: object, sync: bool
) -> pb.UpdateVectorsRequest:
    matrix = as_matrix(vectors)
    if matrix.shape[0] != len(ids):
        raise InvalidArgumentError(
            f"vectors: {matrix.shape[0]} vectors for {len(ids)} ids; give one vector per id"
        )
    if len(ids) == 0:
        raise InvalidArgumentError("ids: empty; name at least one point")
    rows = packed_rows(matrix)
    points = [pb.Point(id=id_to_proto(ids[i], f"ids[{i}]"), vector_f32=rows[i]) for i in range(len(ids))]
    return pb.UpdateVectorsRequest(collection=collection, points=points, sync=sync)


def get_many_request(collection: str, ids: Sequence[object], with_vector: bool) -> pb.GetManyRequest:
    return pb.GetManyRequest(collection=collection, ids=ids_to_proto(ids), with_vector=with_vector)


def get_many_result(
    request: pb.GetManyRequest, response: pb.GetManyResponse, with_vector: bool
) -> List[Optional[Point]]:
    """GetMany's answer aligned with the request's ids: a Point, or None for a missing id."""
    found = {}
    for msg in response.points:
        found[msg.id.SerializeToString(deterministic=True)] = point_from_proto(msg, with_vector)
    return [found.get(i.SerializeToString(deterministic=True)) for i in request.ids]


def update_aliases_request(changes: object) -> pb.UpdateAliasesRequest:
    """[("create", alias, collection) | ("delete", alias), ...] -> UpdateAliasesRequest."""
    if isinstance(changes, (str, bytes, Mapping)) or not isinstance(changes, Iterable):
        raise InvalidArgumentError(
            "changes: expected a list of ('create', alias, collection) / ('delete', alias) tuples"
        )
    request = pb.UpdateAliasesRequest()
    for i, change in enumerate(changes):
        if isinstance(change, (str, bytes)) or not isinstance(change, Sequence) or not change:
            raise InvalidArgumentError(f"changes[{i}]: expected a tuple, not {change!r}")
        kind, args = change[0], list(change[1:])
        if not all(isinstance(a, str) for a in args):
            raise InvalidArgumentError(f"changes[{i}]: alias and collection names are strs")
        if kind == "create" and len(args) == 2:
            request.changes.add().create_alias.CopyFrom(
                pb.CreateAliasRequest(alias=args[0], collection=args[1])
            )
        elif kind == "delete" and len(args) == 1:
            request.changes.add().delete_alias.CopyFrom(pb.DeleteAliasRequest(alias=args[0]))
        else:
            raise InvalidArgumentError(
                f"changes[{i}]: {change!r}; expected ('create', alias, collection) or ('delete', alias)"
            )
    if not request.changes:
        raise InvalidArgumentError("changes: empty")
    return request


# ---------------------------------------------------------------- requests shared by Client and AsyncClient


def create_collection_request(
    name: str,
    dimension: Optional[int],
    metric: str,
    index: Optional[str],
    payload_indexes: Any,
    embedder: Optional[EmbedderLike],
    chunk_tokens: Optional[int],
    overlap_tokens: Optional[int],
    markdown: bool,
    tokens: Optional[str],
    properties: Optional[Mapping[str, Any]],
    ef_construction: Optional[int],
    ef_search: Optional[int],
    nprobe: Optional[int],
    text_fields: Any = None,
    shards: Optional[int] = None,
    replication: Optional[int] = None,
) -> pb.CreateCollectionRequest:
    """The request of create_collection (see Client.create_collection)."""
    for field, value in (("shards", shards), ("replication", replication)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) < 2**32
        ):
            raise InvalidArgumentError(f"{field}: expected an int >= 1, not {value!r}")
    text_only = {
        "chunk_tokens": chunk_tokens,
        "overlap_tokens": overlap_tokens,
        "tokens": tokens,
        "markdown": markdown or None,
    }
    if dimension is not None and (
        isinstance(dimension, bool)
        or not isinstance(dimension, numbers.Integral)
        or not 1 <= int(dimension) < 2**32
    ):
        raise InvalidArgumentError(f"dimension: expected an int >= 1, not {dimension!r}")
    request = pb.CreateCollectionRequest(
        name=name,
        payload_indexes=payload_indexes_to_proto(payload_indexes),
        properties=payload_to_json(properties, "properties"),
    )
    if text_fields is not None:
        # {"body": {"language": "english", "stemming": True, "stop_words": True}} or ["body", ...]
        items = text_fields.items() if isinstance(text_fields, Mapping) else ((f, None) for f in text_fields)
        for field, opts in items:
            if not isinstance(field, str) or not field:
                raise InvalidArgumentError(f"text_fields: expected field names, not {field!r}")
            opts = dict(opts or {})
            unknown = set(opts) - {"language", "stemming", "stop_words"}
            if unknown:
                raise InvalidArgumentError(
                    f"text_fields[{field!r}]: unknown option {sorted(unknown)[0]!r} "
                    '(expected "language", "stemming", "stop_words")'
                )
            request.text_fields.add(
                field=field,
                language=str(opts.get("language", "")),
                no_stemming=not opts.get("stemming", True),
                no_stop_words=not opts.get("stop_words", True),
            )
    if embedder is None:
        if dimension is None:
            raise InvalidArgumentError(
                "dimension: required for a vector collection (or give embedder= for a text "
                "collection)"
            )
        given = [k for k, v in text_only.items() if v is not None]
        if given:
            raise InvalidArgumentError(
                f"{given[0]}: only for a text collection; give embedder= too"
            )
        request.dimension = int(dimension)
        request.metric = metric_to_proto(metric)
        request.index.CopyFrom(
            index_spec("Flat" if index is None else index, ef_construction, ef_search, nprobe)
        )
    else:
        if metric_to_proto(metric) != pb.METRIC_COSINE:
            raise InvalidArgumentError(
                f"metric: a text collection is always cosine, not {metric!r}"
            )
        request.dimension = 0 if dimension is None else int(dimension)
        request.metric = pb.METRIC_COSINE
        if index is not None or (ef_construction, ef_search, nprobe) != (None, None, None):
            # Unset, the server picks a text collection's default (HNSW16).
            request.index.CopyFrom(
                index_spec(
                    "HNSW16" if index is None else index, ef_construction, ef_search, nprobe
                )
            )
        request.text.CopyFrom(
            text_options_to_proto(
                embedder,
                None if dimension is None else int(dimension),
                chunk_tokens,
                overlap_tokens,
                markdown,
                tokens,
            )
        )
    if shards is not None:
        request.shards = int(shards)
    if replication is not None:
        request.replication = int(replication)
    return request


# ---------------------------------------------------------------- snapshots


def snapshot_info_from_proto(msg: pb.SnapshotInfo) -> SnapshotInfo:
    return SnapshotInfo(
        name=msg.name,
        scope=msg.scope,
        collections=[
            SnapshotCollection(
                name=c.name,
                dimension=c.dimension,
                metric=metric_name(c.metric),
                index=c.index,
                count=c.count,
                index_checkpoint=c.index_checkpoint,
            )
            for c in msg.collections
        ],
        sequence=msg.sequence,
        created_ms=msg.created_ms,
        bytes=msg.bytes,
        files=msg.files,
        format_version=msg.format_version,
        sextant_version=msg.sextant_version,
    )
