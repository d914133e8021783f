"""Python client of sextantd, the Sextant vector database server.

    import sextant

    with sextant.Client("localhost:7070") as c:
        col = c.create_collection("docs", dimension=3, metric="cosine", index="HNSW16",
                                  payload_indexes={"group": "integer"})
        col.upsert([1, 2], [[1, 0, 0], [0, 1, 0]], [{"group": 1}, {"group": 2}])
        for hit in col.search([1, 0.1, 0], k=2, filter={"group": 1}):
            print(hit.id, hit.score, hit.payload)

Everything the server does is reached through Client and Collection; failures raise SextantError
subclasses that carry the gRPC status code. See client/python/README.md.
"""

from ._client import Client, Collection
from ._errors import (
    AlreadyExistsError,
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
    CollectionInfo,
    Hit,
    Payload,
    Point,
    PointId,
    SearchPlan,
    SearchResult,
    ServerInfo,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Collection",
    "CollectionInfo",
    "Hit",
    "Payload",
    "Point",
    "PointId",
    "SearchPlan",
    "SearchResult",
    "ServerInfo",
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
    "__version__",
]
