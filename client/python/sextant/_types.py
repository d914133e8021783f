"""Plain result types the client returns (frozen dataclasses, no protobuf inside)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    "EmbedderConfig",
    "TextOptions",
    "IngestResult",
    "Citation",
    "AskTimings",
    "ToolCall",
    "Answer",
    "SnapshotCollection",
    "SnapshotInfo",
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
    # Hybrid search: the vector score and the BM25 score beside the fused `score` (None when the
    # search had no vector, or no text); group_by: the hit's group value.
    dense_score: Optional[float] = None
    text_score: Optional[float] = None
    group: Any = None


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
    index_origin: "checkpoint", "built" or "none".
    properties: the application properties recorded with the collection ({} for none).
    text: the embedder and chunking of a text collection (create_collection(..., embedder=)),
    None for a plain vector collection.
    text_fields: the payload fields with a full-text (BM25) index, as create_collection's
    text_fields= with every option filled in: {"body": {"language": "english", "stemming": True,
    "stop_words": True}} ({} for none)."""

    name: str
    dimension: int
    metric: str
    count: int
    index: str
    index_state: str
    index_bytes: int
    vector_bytes: int
    index_origin: str
    properties: Dict[str, Any] = field(default_factory=dict)
    text: Optional["TextOptions"] = None
    text_fields: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    @property
    def is_text(self) -> bool:
        """Whether this is a text collection (one that ingests documents and answers ask())."""
        return self.text is not None


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


# ---------------------------------------------------------------- text collections (RAG)


@dataclass(frozen=True)
class EmbedderConfig:
    """Which embedder a text collection uses (docs/rag.md); recorded with the collection.

    kind: "hash" (feature hashing, no model), "local" (a sentence-transformers model run in the
    server, all-MiniLM-L6-v2 by default) or "openai" (an OpenAI-compatible /v1/embeddings
    endpoint; the key is the server's). dimension: hash: 384 by default; openai: 0 = learned
    from the endpoint. local_model: the model directory under the server's model root.
    openai_base_url, openai_model: the endpoint (".../v1") and model.

    An instance can be passed back as create_collection(..., embedder=config)."""

    kind: str = "hash"
    dimension: int = 0
    local_model: str = ""
    openai_base_url: str = ""
    openai_model: str = ""


@dataclass(frozen=True)
class TextOptions:
    """How a text collection chunks and embeds documents, as the server reports it.

    chunk_tokens / overlap_tokens: chunk size and overlap in tokens (0 = the embedder's
    default); markdown: headings and code fences are boundaries; tokens: "whitespace",
    "wordpiece" or "" (the default); embedder_spec: what produced the vectors, e.g. "hash:384:v1"
    (a query is embedded by the same)."""

    embedder: EmbedderConfig
    chunk_tokens: int = 0
    overlap_tokens: int = 0
    markdown: bool = False
    tokens: str = ""
    embedder_spec: str = ""


@dataclass(frozen=True)
class IngestResult:
    """What an ingest wrote: documents ingested, chunks written, and older chunks of re-ingested
    documents that were removed."""

    documents: int
    chunks: int
    replaced_chunks: int


@dataclass(frozen=True)
class Citation:
    """A chunk handed to the generator as [number] (1-based, in rank order).

    document_id and chunk (its position in the document, from 0) name it; score is the cosine
    similarity to the question; text is the chunk, which is document_text[begin:end] in bytes
    of its UTF-8; cited: the answer refers to [number]."""

    number: int
    document_id: str
    chunk: int
    score: float
    text: str
    begin: int
    end: int
    cited: bool


@dataclass(frozen=True)
class AskTimings:
    """Milliseconds spent by the server embedding the question, retrieving the chunks,
    generating the answer, and in all."""

    embed_ms: float
    retrieve_ms: float
    generate_ms: float
    total_ms: float
    rewrite_ms: float = 0.0  # chat: rewriting a follow-up into a standalone question
    tools_ms: float = 0.0  # tool mode: running the model's search calls


@dataclass(frozen=True)
class ToolCall:
    """A function call the model made: its id (a tool message answers it by id), the function's
    name and its arguments as JSON text (as the model wrote them; json.loads to read)."""

    id: str
    name: str
    arguments: str

    def to_dict(self) -> Dict[str, Any]:
        """The call in OpenAI's shape: {"id", "type": "function", "function": {"name", "arguments"}}."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class Answer:
    """The answer of ask(): its text, every chunk in the prompt ([1] first), the server's
    timings, the generator that wrote it ("extractive", "openai:<model>") and the embedder
    spec of the collection. str(answer) is the text."""

    answer: str
    citations: List[Citation]
    timings: AskTimings
    generator: str
    embedder_spec: str
    # chat() and tool mode (docs/rag.md, "Chat"):
    tool_calls: List[ToolCall] = field(default_factory=list)  # every call the model made
    pending_calls: List[ToolCall] = field(default_factory=list)  # finish_reason "tool_calls": yours to run
    # The messages this turn added, as OpenAI-style dicts: append them to continue the conversation.
    messages: List[Dict[str, Any]] = field(default_factory=list)
    finish_reason: str = ""  # "stop", "length" or "tool_calls"
    standalone_question: str = ""  # what was retrieved with (after the follow-up rewrite)
    tool_rounds: int = 0
    conversation_id: str = ""  # chat(conversation_id=...): the server-side conversation the turn was stored in

    def __str__(self) -> str:
        return self.answer

    @property
    def cited(self) -> List[Citation]:
        """The citations the answer refers to ([n] in its text)."""
        return [c for c in self.citations if c.cited]


@dataclass(frozen=True)
class ConversationInfo:
    """A server-side conversation (chat(conversation_id=...)): its id, its collection, the
    messages kept (the oldest beyond the server's --conversation-max-messages are dropped), the
    bytes of their text, and when it was created and last updated (Unix time, milliseconds)."""

    id: str
    collection: str
    messages: int
    bytes: int
    created_ms: int
    updated_ms: int


@dataclass(frozen=True)
class Conversation:
    """A stored conversation: its info and its messages, oldest first, as OpenAI-style dicts
    ({"role", "content"}, plus "tool_calls" / "tool_call_id"), as Answer.messages."""

    info: ConversationInfo
    messages: List[Dict[str, Any]]

    @property
    def id(self) -> str:
        return self.info.id


# ---------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class SnapshotCollection:
    """One collection in a snapshot: its configuration and live points at the snapshot point.
    `index_checkpoint` is True when the snapshot holds the index structure (restores need no
    rebuild); False for Flat."""

    name: str
    dimension: int
    metric: str
    index: str
    count: int
    index_checkpoint: bool


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot kept by the server (docs/snapshots.md).

    name: how to refer to it (restore_snapshot, download_snapshot, delete_snapshot); scope:
    "database" or "collection"; collections: what it holds; sequence: the database's write
    sequence at the snapshot point; created_ms: Unix time in milliseconds; bytes / files: its size
    on the server; format_version and sextant_version: who wrote it."""

    name: str
    scope: str
    collections: List[SnapshotCollection]
    sequence: int
    created_ms: int
    bytes: int
    files: int
    format_version: int
    sextant_version: str
