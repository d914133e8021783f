"""Python client of sextantd, the Sextant vector database server.

    import sextant

    with sextant.Client("localhost:7070") as c:
        col = c.create_collection("docs", dimension=3, metric="cosine", index="HNSW16",
                                  payload_indexes={"group": "integer"})
        col.upsert([1, 2], [[1, 0, 0], [0, 1, 0]], [{"group": 1}, {"group": 2}])
        for hit in col.search([1, 0.1, 0], k=2, filter={"group": 1}):
            print(hit.id, hit.score, hit.payload)

        faq = c.create_collection("faq", embedder="hash")   # a text collection (RAG)
        faq.ingest([{"id": "doc-1", "text": "Sextant stores vectors.", "metadata": {"lang": "en"}}])
        ans = faq.ask("What does Sextant store?", k=5)
        print(ans.answer, [(x.document_id, x.score) for x in ans.citations])

Everything the server does is reached through Client and Collection; failures raise SextantError
subclasses that carry the gRPC status code. See client/python/README.md.
"""

from ._aio import AsyncAskStream, AsyncClient, AsyncCollection
from ._client import AskStream, Client, Collection
from ._embedded import EmbeddedClient, connect, find_sextantd
from ._errors import (
    AlreadyExistsError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SextantError,
    UnauthenticatedError,
    UnavailableError,
)
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
    SearchResult,
    ServerInfo,
    SnapshotCollection,
    SnapshotInfo,
    TextOptions,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Collection",
    "AsyncClient",
    "AsyncCollection",
    "AsyncAskStream",
    "connect",
    "EmbeddedClient",
    "find_sextantd",
    "CollectionInfo",
    "Hit",
    "Payload",
    "Point",
    "PointId",
    "SearchPlan",
    "SearchResult",
    "ServerInfo",
    "EmbedderConfig",
    "TextOptions",
    "IngestResult",
    "Answer",
    "AskStream",
    "AskTimings",
    "Citation",
    "ToolCall",
    "Conversation",
    "ConversationInfo",
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
    "SnapshotInfo",
    "SnapshotCollection",
    "__version__",
]
