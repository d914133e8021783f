"""Plain result types the client returns (frozen dataclasses, no protobuf inside)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional, Union

__all__ = [
    "PointId",
    "Payload",
    "Point",
    "Hit",
    "SearchPlan",
    "SearchResult",
    "CollectionInfo",
    "ServerInfo",
]

#: A point id: an int in 0..2**64-1 or a str of 1..512 bytes. 7 and "7" are different ids.
PointId = Union[int, str]
#: A payload as Python sees it: the JSON object, parsed.
Payload = Dict[str, Any]


@dataclass(frozen=True)
class Point:
    """A stored point. `vector` is None when the call did not ask for vectors (scan without
    with_vector); `payload` is {} for a point stored without one."""

    id: PointId
    vector: Optional[List[float]]
    payload: Payload


@dataclass(frozen=True)
class Hit:
    """One search result. `score` is the metric's value: squared L2 distance (lower is nearer),
    or inner product / cosine similarity (higher is nearer). `payload` is None unless the search
    asked for payloads ({} for a point without one); `vector` is None unless it asked for vectors."""

    id: PointId
    score: float
    payload: Optional[Payload] = None
    vector: Optional[List[float]] = None


@dataclass(frozen=True)
class SearchPlan:
    """How the server answered a search.

    kind: "exact" (every matching point scored) or "index" (the index was walked, the filter
    applied during the walk); index: the spec that answered ("Flat" for exact); matches: live
    points matching the filter; filter_from_index: the filter was answered from payload indexes
    alone; distance_computations; effort: final ef (HNSW) or lists probed (IVF)."""

    kind: str
    index: str
    matches: int
    filter_from_index: bool
    distance_computations: int
    effort: int


class SearchResult(NamedTuple):
    """What search(..., return_plan=True) returns: unpack as `hits, plan = ...` or use the fields."""

    hits: List[Hit]
    plan: SearchPlan


@dataclass(frozen=True)
class CollectionInfo:
    """A collection's configuration and state.

    metric: "l2", "inner_product" or "cosine". index: the configured spec ("HNSW16").
    index_state: "ready", "training" (IVF/PQ waits for enough points; searches are exact
    meanwhile) or "building" (a new index is being built; the previous one answers).
    index_origin: "checkpoint", "built" or "none"."""

    name: str
    dimension: int
    metric: str
    count: int
    index: str
    index_state: str
    index_bytes: int
    vector_bytes: int
    index_origin: str


@dataclass(frozen=True)
class ServerInfo:
    """The server's version, build, SIMD level, whether the caller's key is read-only, and the
    limits it enforces (message bytes, points per batch, vector dimension)."""

    version: str
    build: str
    simd_level: str
    read_only: bool
    max_message_bytes: int
    max_batch_points: int
    max_dimension: int
