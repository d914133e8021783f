"""Client and Collection: the user-facing API over the generated sextant.v1 stub."""

from __future__ import annotations

import numbers
import os
import sys
from typing import (
    Any,
    Callable,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Sized,
    Tuple,
    TypeVar,
    Union,
    overload,
)

import grpc
import numpy as np

from . import _convert as cv
from ._errors import (
    DeadlineExceededError,
    InvalidArgumentError,
    NotFoundError,
    SextantError,
    from_rpc_error,
)
from ._proto import sextant_pb2 as pb
from ._proto import sextant_pb2_grpc as pb_grpc
from ._session import Sessions
from ._types import (
    Answer,
    AskTimings,
    Citation,
    ToolCall,
    CollectionInfo,
    Conversation,
    ConversationInfo,
    Hit,
    IngestResult,
    Point,
    SearchResult,
    ServerInfo,
    SnapshotInfo,
)

__all__ = ["Client", "Collection", "AskStream"]

_T = TypeVar("_T")

#: Per-call wait of WaitForIndex when the caller waits without a limit (it calls again until ready).
_WAIT_SLICE_S = 60.0

PayloadIndexes = Union[Mapping[str, str], Iterable[Tuple[str, str]], None]


class Client:
    """A connection to a sextantd server.

    ::

        with sextant.Client("localhost:7070", api_key="secret") as c:
            col = c.create_collection("docs", dimension=384, metric="cosine", index="HNSW16")

    address: "host:port" (anything gRPC accepts as a target).
    api_key: sent as `authorization: Bearer KEY` on every call; None sends none.
    tls: connect over TLS, checking the server's certificate against `root_certificates`, or the
        system's roots when that is None.
    root_certificates: PEM bytes, or the path (str / os.PathLike) of a PEM file; implies tls.
    timeout: default deadline of every call in seconds (None = no deadline). Each method takes
        its own `timeout` too. import_points and wait_for_index do not use the default: they run
        as long as they need unless given a timeout of their own.
    options: extra gRPC channel options, [(name, value), ...]. By default the client lifts gRPC's
        4 MiB message limits, so the server's limits (ServerInfo.max_message_bytes) are the ones
        that apply.

    The client is thread-safe and holds one channel; close() it (or use `with`) when done.
    Every failed call raises a sextant.SextantError subclass (see sextant._errors).
    """

    def __init__(
        self,
        address: str = "localhost:7070",
        api_key: Optional[str] = None,
        tls: bool = False,
        root_certificates: Union[bytes, str, "os.PathLike[str]", None] = None,
        timeout: Optional[float] = None,
        options: Optional[Sequence[Tuple[str, Any]]] = None,
    ) -> None:
        if not isinstance(address, str) or not address:
            raise InvalidArgumentError("address: expected 'host:port'")
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise InvalidArgumentError("api_key: expected a non-empty str or None")
        self._address = address
        self._timeout = timeout
        self._metadata: Optional[Tuple[Tuple[str, str], ...]] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else None
        )
        channel_options: List[Tuple[str, Any]] = [
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
        ]
        channel_options += list(options or [])
        if root_certificates is not None or tls:
            roots: Optional[bytes]
            if root_certificates is None or isinstance(root_certificates, bytes):
                roots = root_certificates
            else:
                with open(root_certificates, "rb") as f:
                    roots = f.read()
            credentials = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(address, credentials, options=channel_options)
        else:
            self._channel = grpc.insecure_channel(address, options=channel_options)
        self._stub: Any = pb_grpc.SextantStub(self._channel)  # type: ignore[no-untyped-call]
        self._raw = cv.RawUpsertStub(self._channel)  # writes pre-encoded by cv.encode_upsert_request
        self._sessions = Sessions()
        self._closed = False

    # ---------------------------------------------------------------- plumbing

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return self._timeout if timeout is None else timeout

    def _call(self, method: str, request: Any, timeout: Optional[float], stub: Any = None) -> Any:
        """One unary call (of `stub`, the generated one by default); grpc errors become
        SextantError subclasses."""
        if self._closed:
            raise ValueError("sextant.Client: the client is closed")
        try:
            return getattr(self._stub if stub is None else stub, method)(
                request, timeout=self._deadline(timeout), metadata=self._metadata
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def consistency_token(self, collection: str) -> str:
        """Cluster mode (docs/cluster.md): the session's token for `collection`, which this client
        sends with every read and write of it ("" before any write, and in single-node mode).
        Every write of the collection through this client replaces it with one covering that
        write too, so this client's reads wait until the replicas they read have applied its
        writes (read-your-writes on any node)."""
        return self._sessions.get(collection)

    def set_consistency_token(self, collection: str, token: str) -> None:
        """Carries a session from elsewhere (another client's consistency_token): this client's
        reads of `collection` then wait for those writes too. "" forgets the session. A malformed
        token makes the next call raise InvalidArgumentError; a wait that outlasts the call's
        timeout raises DeadlineExceededError."""
        self._sessions.set(collection, token)

    def close(self) -> None:
        """Closes the channel. Calls in flight are cancelled; later calls raise ValueError."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"sextant.Client({self._address!r})"

    @property
    def address(self) -> str:
        return self._address

    # ---------------------------------------------------------------- server

    def server_info(self, *, timeout: Optional[float] = None) -> ServerInfo:
        """Version, build, SIMD level, the caller's read-only flag and the server's limits."""
        return cv.server_info_from_proto(self._call("ServerInfo", pb.ServerInfoRequest(), timeout))

    # ---------------------------------------------------------------- collections

    def create_collection(
        self,
        name: str,
        dimension: Optional[int] = None,
        metric: str = "cosine",
        index: Optional[str] = None,
        payload_indexes: PayloadIndexes = None,
        *,
        embedder: Optional[cv.EmbedderLike] = None,
        chunk_tokens: Optional[int] = None,
        overlap_tokens: Optional[int] = None,
        markdown: bool = False,
        tokens: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        ef_construction: Optional[int] = None,
        ef_search: Optional[int] = None,
        nprobe: Optional[int] = None,
        text_fields: Optional[Mapping[str, Any]] = None,
        shards: Optional[int] = None,
        replication: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> "Collection":
        """Creates a collection and returns its handle.

        A vector collection needs `dimension`:

            c.create_collection("docs", dimension=384, metric="cosine", index="HNSW16")

        A text collection (for ingest() and ask(), docs/rag.md) needs `embedder` instead; its
        dimension follows from the embedder and its metric is cosine:

            c.create_collection("faq", embedder="hash")        # or "local"
            c.create_collection("faq", embedder={"openai": {"base_url": "http://127.0.0.1:8080/v1",
                                                            "model": "nomic-embed", "dimension": 768}})

        metric: "l2" (score = squared distance, lower is nearer), "inner_product" or "cosine"
            (higher is nearer; vectors are stored normalised).
        index: "Flat" (exact), "HNSW16", "HNSW32,SQ8", "IVF256", "IVF1024,PQ16"...
            (docs/index_params.md); None = "Flat" for a vector collection, "HNSW16" for a text
            one. ef_construction, ef_search (HNSW) and nprobe (IVF) set the index's defaults;
            None keeps the server's.
        text_fields: {"body": {"language": "english"}} (options "language", "stemming",
            "stop_words"; or a list of field names): payload fields with a full-text (BM25) index,
            for search(text=...) and the $text filter (docs/text_search.md).
        payload_indexes: {"field": "keyword" | "integer" | "float" | "bool"} (or a list of pairs):
            payload fields whose filters are answered from memory. Vector collections only (a
            text collection indexes document_id itself).
        embedder: "hash" (no model), "local" (all-MiniLM-L6-v2 in the server), a dict
            {"hash": {"dimension": 256}}, {"local": {"model": "..."}}, {"openai": {"base_url": ...,
            "model": ..., "dimension": ...}}, or the EmbedderConfig of another collection.
            `dimension`, when given with it, is the embedder's dimension (hash, openai).
        chunk_tokens, overlap_tokens: chunk size and overlap in tokens (None = the embedder's
            default); markdown: headings and code fences are boundaries; tokens: "whitespace"
            or "wordpiece" (local only). Text collections only.
        shards, replication: against a cluster (sextantd --cluster, docs/cluster.md), how many
            shards the points are hashed over and how many nodes hold each shard (None = 1).
            A single-node server refuses values above 1 (InvalidArgumentError).
        properties: a dict recorded with the collection (CollectionInfo.properties). Vector
            collections only: a text collection records its embedder and chunking there.
        AlreadyExistsError if the name is taken, InvalidArgumentError for bad options, and for a
        text collection the embedder's error (a missing local model is NotFoundError).
        """
        request = cv.create_collection_request(
            name, dimension, metric, index, payload_indexes, embedder, chunk_tokens,
            overlap_tokens, markdown, tokens, properties, ef_construction, ef_search, nprobe,
            text_fields=text_fields,
            shards=shards, replication=replication,
        )
        info = self._call("CreateCollection", request, timeout)
        return Collection(self, info.name)

    def collection(self, name: str, *, timeout: Optional[float] = None) -> "Collection":
        """The handle of an existing collection (or alias); NotFoundError if there is none of
        that name.

        (It asks the server once, with DescribeCollection, so a typo fails here rather than at
        the first write.) A handle made from an alias keeps using the alias, so it follows the
        alias when update_aliases() switches it."""
        self._call("DescribeCollection", pb.DescribeCollectionRequest(name=name), timeout)
        return Collection(self, name)

    def has_collection(self, name: str, *, timeout: Optional[float] = None) -> bool:
        """Whether a collection of that name exists."""
        return any(c.name == name for c in self.list_collections(timeout=timeout))

    def list_collections(self, *, timeout: Optional[float] = None) -> List[CollectionInfo]:
        """Every collection, ordered by name, with its counts and index state."""
        response = self._call("ListCollections", pb.ListCollectionsRequest(), timeout)
        return [cv.collection_info_from_proto(c) for c in response.collections]

    # ---------------------------------------------------------------- aliases

    def create_alias(self, alias: str, collection: str, *, timeout: Optional[float] = None) -> None:
        """Makes `alias` a second name of `collection`, usable wherever a collection name is.
        AlreadyExistsError when the alias exists or a collection has that name; NotFoundError
        when the collection does not exist (an alias cannot name an alias)."""
        request = pb.CreateAliasRequest(alias=alias, collection=collection)
        self._call("CreateAlias", request, timeout)

    def delete_alias(self, alias: str, *, timeout: Optional[float] = None) -> None:
        """Deletes an alias (not its collection); NotFoundError when there is none."""
        self._call("DeleteAlias", pb.DeleteAliasRequest(alias=alias), timeout)

    def list_aliases(
        self, collection: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> List[Tuple[str, str]]:
        """Every alias as (alias, collection), ordered by alias; only `collection`'s with it."""
        request = pb.ListAliasesRequest(collection=collection or "")
        response = self._call("ListAliases", request, timeout)
        return [(a.alias, a.collection) for a in response.aliases]

    def update_aliases(
        self, changes: Sequence[Sequence[str]], *, timeout: Optional[float] = None
    ) -> None:
        """Applies alias changes in order, atomically (all or none):

            c.update_aliases([("delete", "live"), ("create", "live", "docs_v2")])

        switches "live" from its collection to docs_v2 in one step; a search through "live"
        sees the old collection or the new one, never an error. The first failing change's
        error is raised (naming it) and nothing is applied."""
        request = cv.update_aliases_request(changes)
        self._call("UpdateAliases", request, timeout)

    def drop_collection(
        self, name: str, *, missing_ok: bool = False, timeout: Optional[float] = None
    ) -> bool:
        """Drops a collection and its points. Returns True if it existed. A missing collection is
        NotFoundError, or returns False when missing_ok is set."""
        try:
            self._call("DropCollection", pb.DropCollectionRequest(name=name), timeout)
        except NotFoundError:
            if missing_ok:
                return False
            raise
        return True

    # ---------------------------------------------------------------- snapshots

    def create_snapshot(
        self,
        collection: Optional[str] = None,
        *,
        name: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> SnapshotInfo:
        """Takes a consistent snapshot of one collection (None: the whole database) while writes
        go on, kept on the server in its --snapshot-dir (docs/snapshots.md). `name` defaults to a
        generated one ("<collection or db>-<UTC time>-<hex>"); the result's `.name` names it.
        FailedPreconditionError when the server keeps no snapshots."""
        request = pb.CreateSnapshotRequest(collection=collection or "", name=name or "")
        return cv.snapshot_info_from_proto(self._call("CreateSnapshot", request, timeout))

    def list_snapshots(self, *, timeout: Optional[float] = None) -> List[SnapshotInfo]:
        """The server's snapshots, ordered by name."""
        response = self._call("ListSnapshots", pb.ListSnapshotsRequest(), timeout)
        return [cv.snapshot_info_from_proto(s) for s in response.snapshots]

    def delete_snapshot(
        self, name: str, *, missing_ok: bool = False, timeout: Optional[float] = None
    ) -> bool:
        """Deletes a snapshot. Returns True if it existed; a missing one is NotFoundError, or
        returns False when missing_ok is set."""
        try:
            self._call("DeleteSnapshot", pb.DeleteSnapshotRequest(name=name), timeout)
        except NotFoundError:
            if missing_ok:
                return False
            raise
        return True

    def restore_snapshot(
        self,
        name: str,
        collection: str,
        *,
        source: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> "Collection":
        """Restores a collection of snapshot `name` as the new collection `collection` and
        returns it. `source` names the snapshot's collection to restore (needed when it holds
        several). The snapshot is verified first: DataLossError, and nothing restored, when it is
        damaged; AlreadyExistsError when `collection` exists. The index loads from the snapshot,
        without a rebuild."""
        request = pb.RestoreSnapshotRequest(name=name, source=source or "", collection=collection)
        info = self._call("RestoreSnapshot", request, timeout)
        return Collection(self, info.name)

    def download_snapshot(
        self, name: str, path: Union[str, "os.PathLike[str]"], *, timeout: Optional[float] = None
    ) -> int:
        """Copies snapshot `name` off the server into the archive file `path` (a tar; written to
        "<path>.partial" and renamed when complete). Returns the bytes written."""
        if self._closed:
            raise ValueError("sextant.Client: the client is closed")
        target = os.fspath(path)
        partial = target + ".partial"
        written = 0
        try:
            call = self._stub.DownloadSnapshot(
                pb.DownloadSnapshotRequest(name=name),
                timeout=self._deadline(timeout),
                metadata=self._metadata,
            )
            with open(partial, "wb") as f:
                for chunk in call:
                    f.write(chunk.data)
                    written += len(chunk.data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, target)
        except grpc.RpcError as e:
            _remove_quietly(partial)
            raise from_rpc_error(e) from None
        except BaseException:
            _remove_quietly(partial)
            raise
        return written

    def upload_snapshot(
        self,
        path: Union[str, "os.PathLike[str]"],
        *,
        name: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> SnapshotInfo:
        """Copies the archive file `path` (as download_snapshot writes it) onto the server as a
        new snapshot, named `name` or the archive's own name. The server verifies it before
        keeping it: DataLossError for a truncated or damaged archive (nothing is kept),
        AlreadyExistsError when the name is taken."""
        if self._closed:
            raise ValueError("sextant.Client: the client is closed")
        requests = cv.upload_snapshot_requests(os.fspath(path), name)
        try:
            response = self._stub.UploadSnapshot(
                requests, timeout=self._deadline(timeout), metadata=self._metadata
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return cv.snapshot_info_from_proto(response)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class Collection:
    """A handle on one collection of a Client. Cheap to create; it holds only the name.

    Ids are ints (0..2**64-1) or strs (1..512 bytes); 7 and "7" are different ids.
    Vectors are lists of numbers or NumPy arrays (float32 on the wire).
    Payloads are dicts (sent as JSON object text) or JSON text; filters likewise (docs/filters.md).
    """

    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def client(self) -> Client:
        return self._client

    def __repr__(self) -> str:
        return f"sextant.Collection({self._name!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Collection)
            and other._client is self._client
            and other._name == self._name
        )

    def __hash__(self) -> int:
        return hash((id(self._client), self._name))

    def _call(self, method: str, request: Any, timeout: Optional[float], stub: Any = None) -> Any:
        sessions = self._client._sessions
        response = self._client._call(method, sessions.attach(self._name, request), timeout, stub)
        sessions.note(self._name, response)
        return response

    # ---------------------------------------------------------------- collection

    def describe(self, *, timeout: Optional[float] = None) -> CollectionInfo:
        """Dimension, metric, live point count, index spec and state, memory."""
        info = self._call("DescribeCollection", pb.DescribeCollectionRequest(name=self._name), timeout)
        return cv.collection_info_from_proto(info)

    def set_index(
        self,
        index: str,
        *,
        wait: bool = False,
        ef_construction: Optional[int] = None,
        ef_search: Optional[int] = None,
        nprobe: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> CollectionInfo:
        """Replaces the index ("HNSW16", "IVF256", "Flat"...). It is built in the background while
        searches use the old one; with wait=True this returns once it is ready (see
        wait_for_index, which `timeout` then bounds too)."""
        request = pb.SetIndexRequest(
            collection=self._name, index=cv.index_spec(index, ef_construction, ef_search, nprobe)
        )
        info = self._call("SetIndex", request, timeout)
        if wait:
            return self.wait_for_index(timeout=timeout)
        return cv.collection_info_from_proto(info)

    def rebuild_index(self, *, wait: bool = False, timeout: Optional[float] = None) -> CollectionInfo:
        """Rebuilds the current index from the stored vectors (retrains IVF clusters and
        quantizers), in the background like set_index."""
        info = self._call("SetIndex", pb.SetIndexRequest(collection=self._name, rebuild=True), timeout)
        if wait:
            return self.wait_for_index(timeout=timeout)
        return cv.collection_info_from_proto(info)

    def wait_for_index(self, timeout: Optional[float] = None) -> CollectionInfo:
        """Waits until the configured index answers searches (an IVF index still waiting for
        enough points to train counts as ready: searches are exact until then).

        timeout: seconds; DeadlineExceededError if the index is still building then. None waits
        as long as it takes (the client's default timeout does not apply)."""
        if timeout is not None:
            request = pb.WaitForIndexRequest(
                collection=self._name, timeout_ms=max(1, int(timeout * 1000))
            )
            # The server gives up at timeout_ms and says so; the call's own deadline is later,
            # so that the server's answer arrives rather than a client-side expiry.
            info = self._call("WaitForIndex", request, timeout + 10.0)
            return cv.collection_info_from_proto(info)
        while True:
            request = pb.WaitForIndexRequest(
                collection=self._name, timeout_ms=int(_WAIT_SLICE_S * 1000)
            )
            try:
                info = self._call("WaitForIndex", request, _WAIT_SLICE_S + 30.0)
            except DeadlineExceededError:
                continue
            return cv.collection_info_from_proto(info)

    # ---------------------------------------------------------------- points

    def upsert(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        payloads: Optional[Sequence[cv.PayloadLike]] = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Inserts or replaces points in one atomic batch (all or none) and returns how many.

        ids: a sequence of ints / strs (or a NumPy integer array); vectors: one per id, as a
        list of lists or a 2-D array; payloads: None, or one dict / JSON text / None per id.
        A batch is limited to ServerInfo.max_batch_points (10,000 by default): use import_points
        for more. sync=True fsyncs the server's log before it answers."""
        id_list = _sequence(ids, "ids")
        payload_list = None if payloads is None else _sequence(payloads, "payloads")
        request = cv.encode_upsert_request(self._name, id_list, vectors, payload_list, sync=sync)
        return int(self._call("Upsert", request, timeout, self._client._raw).upserted)

    def import_points(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        payloads: Optional[Sequence[cv.PayloadLike]] = None,
        *,
        batch_size: int = 1000,
        progress: Optional[bool] = None,
        on_progress: Optional[Callable[[int, int], None]] = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Bulk import over one streaming call; returns the number of points written.

        Arguments as for upsert, of any length. The points go in batches of batch_size, each
        committed atomically on its own and acknowledged by the server. If the import fails or
        the process dies halfway, the acknowledged batches stay and nothing of a later batch is
        half-written: re-running the import (upsert replaces) completes it.

        progress: a tqdm progress bar on stderr; None shows it when stderr is a terminal.
        on_progress(batches, points): called after each acknowledged batch with the totals.
        timeout: a deadline for the whole import (None: none, whatever the client's default).
        Conversion is lazy, one batch at a time, so a large NumPy array is not copied whole.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size: expected an int >= 1, not {batch_size!r}")
        id_list = _sequence(ids, "ids")
        n = len(id_list)
        if isinstance(vectors, np.ndarray):
            if vectors.ndim != 2:
                raise InvalidArgumentError(
                    f"vectors: expected a 2-D array (n x dimension), got {vectors.ndim} dimension(s)"
                )
            vector_rows: Sequence[Any] = vectors  # type: ignore[assignment]
        else:
            vector_rows = _sequence(vectors, "vectors")
        if len(vector_rows) != n:
            raise InvalidArgumentError(
                f"vectors: {len(vector_rows)} vectors for {n} ids; give one vector per id"
            )
        payload_list = None if payloads is None else _sequence(payloads, "payloads")
        if payload_list is not None and len(payload_list) != n:
            raise InvalidArgumentError(
                f"payloads: {len(payload_list)} payloads for {n} ids; give one per id (or None)"
            )
        if self._client._closed:
            raise ValueError("sextant.Client: the client is closed")

        # An input error in a later batch ends the stream cleanly (the batches before it are
        # committed) and is raised once the server has answered the rest.
        failure: List[BaseException] = []

        def requests() -> Iterator[bytes]:
            for start in range(0, n, batch_size):
                end = min(start + batch_size, n)
                try:
                    request = cv.encode_upsert_request(
                        self._name,
                        id_list[start:end],
                        vector_rows[start:end],
                        payload_list[start:end] if payload_list is not None else None,
                        offset=start,
                        sync=sync,
                    )
                    if start == 0:  # the server reads the session's token from the first message
                        request = self._client._sessions.attach(self._name, request)
                except BaseException as e:  # noqa: B902 - re-raised in the caller's thread
                    failure.append(e)
                    return
                yield request

        from tqdm.auto import tqdm

        show = sys.stderr.isatty() if progress is None else bool(progress)
        bar = tqdm(total=n, unit="points", desc=self._name, disable=not show)
        committed = 0
        call = self._client._raw.UpsertStream(requests(), timeout=timeout, metadata=self._client._metadata)
        try:
            for answer in call:
                bar.update(answer.points - committed)
                committed = answer.points
                self._client._sessions.note(self._name, answer)
                if on_progress is not None:
                    on_progress(int(answer.batches), int(answer.points))
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        except BaseException:
            call.cancel()
            raise
        finally:
            bar.close()
        if failure:
            raise failure[0]
        return int(committed)

    @overload
    def get(  # type: ignore[overload-overlap]  # a str is one id, not a sequence of them
        self, ids: cv.IdLike, *, with_vector: bool = ..., timeout: Optional[float] = ...
    ) -> Point: ...

    @overload
    def get(
        self, ids: cv.IdsLike, *, with_vector: bool = ..., timeout: Optional[float] = ...
    ) -> List[Optional[Point]]: ...

    def get(
        self,
        ids: Union[cv.IdLike, cv.IdsLike],
        *,
        with_vector: bool = True,
        timeout: Optional[float] = None,
    ) -> Union[Point, List[Optional[Point]]]:
        """One id: the point (vector and payload); NotFoundError if there is none.

        A list of ids: one consistent read of all of them (at most ServerInfo.max_batch_points),
        returning a list of the same length where a missing id has None (not an error).
        with_vector=False leaves Point.vector None (less to transfer)."""
        if isinstance(ids, (int, str, np.integer)):
            request = pb.GetRequest(collection=self._name, id=cv.id_to_proto(ids))
            return cv.point_from_proto(self._call("Get", request, timeout), with_vector)
        request_many = cv.get_many_request(self._name, _sequence(ids, "ids"), with_vector)
        return cv.get_many_result(request_many, self._call("GetMany", request_many, timeout), with_vector)

    def set_payload(
        self,
        payload: cv.PayloadLike,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Sets the top-level keys of `payload` (a dict) in the payloads of the points with these
        ids, or of every point matching filter= (exactly one of the two), keeping their other
        keys. Vectors are untouched; payload indexes follow. One atomic update: every selected
        point or none. By ids, every id must exist (NotFoundError naming the first missing one).
        Returns how many points were updated."""
        request = cv.set_payload_request(self._name, payload, ids, filter, False, sync)
        return int(self._call("SetPayload", request, timeout).updated)

    def overwrite_payload(
        self,
        payload: cv.PayloadLike,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """As set_payload, but replaces each selected point's whole payload with `payload`
        (None or {} clears it)."""
        request = cv.set_payload_request(self._name, payload, ids, filter, True, sync)
        return int(self._call("SetPayload", request, timeout).updated)

    def delete_payload_keys(
        self,
        keys: Union[str, Sequence[str]],
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Removes these keys (dotted paths such as "meta.author") from the payloads of the
        points with these ids or matching filter=; keys a payload lacks are skipped. Atomic, as
        set_payload. Returns how many points were updated."""
        request = cv.delete_payload_keys_request(self._name, keys, ids, filter, sync)
        return int(self._call("DeletePayloadKeys", request, timeout).updated)

    def update_vectors(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Replaces the vectors of existing points (one per id), keeping their payloads; the
        index is updated. Atomic; every id must exist (NotFoundError naming the first missing
        one). Returns how many points were updated."""
        request = cv.update_vectors_request(self._name, _sequence(ids, "ids"), vectors, sync)
        return int(self._call("UpdateVectors", request, timeout).updated)

    def delete(
        self,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        *,
        filter: cv.Filter = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """Deletes the points with these ids (absent ones are skipped; a single id works too), or
        with filter=, every point whose payload matches. Exactly one of the two. Returns how
        many points were deleted."""
        if (ids is None) == (filter is None):
            raise InvalidArgumentError("delete: give either ids or filter=, not both or neither")
        request = pb.DeleteRequest(collection=self._name, sync=sync)
        if ids is not None:
            if isinstance(ids, (int, str, np.integer)):
                id_list: Sequence[Any] = [ids]
            else:
                id_list = _sequence(ids, "ids")
            request.ids.SetInParent()
            request.ids.ids.extend(cv.ids_to_proto(id_list))
        else:
            request.filter = cv.filter_to_json(filter)
        return int(self._call("Delete", request, timeout).deleted)

    def count(self, filter: cv.Filter = None, *, timeout: Optional[float] = None) -> int:
        """The number of live points, or of those whose payload matches `filter`."""
        request = pb.CountRequest(collection=self._name, filter=cv.filter_to_json(filter))
        return int(self._call("Count", request, timeout).count)

    def scan(
        self,
        filter: cv.Filter = None,
        page_size: int = 1000,
        *,
        with_vector: bool = False,
        timeout: Optional[float] = None,
    ) -> Iterator[Point]:
        """Every point (or those whose payload matches `filter`) in id order, fetched page_size at
        a time (1..100000). Points carry payloads; vectors only with with_vector=True (else
        Point.vector is None). `timeout` applies to each page. Writes made while iterating may or
        may not be seen."""
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size < 2**32:
            raise InvalidArgumentError(f"page_size: expected an int >= 1, not {page_size!r}")
        filter_json = cv.filter_to_json(filter)
        return self._scan(filter_json, page_size, with_vector, timeout)

    def _scan(
        self, filter_json: str, page_size: int, with_vector: bool, timeout: Optional[float]
    ) -> Iterator[Point]:
        cursor = ""
        while True:
            request = pb.ScanRequest(
                collection=self._name,
                limit=page_size,
                cursor=cursor,
                filter=filter_json,
                with_vector=with_vector,
            )
            page = self._call("Scan", request, timeout)
            for point in page.points:
                yield cv.point_from_proto(point, with_vector)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # ---------------------------------------------------------------- search

    @overload
    def search(
        self,
        vector: Optional[cv.VectorLike] = ...,
        k: int = ...,
        filter: cv.Filter = ...,
        ef_search: Optional[int] = ...,
        nprobe: Optional[int] = ...,
        exact: bool = ...,
        with_payload: cv.PayloadSelection = ...,
        with_vector: bool = ...,
        *,
        text: Optional[str] = ...,
        text_fields: Optional[Sequence[str]] = ...,
        fusion: str = ...,
        weights: Optional[Tuple[float, float]] = ...,
        rrf_k: Optional[int] = ...,
        candidates: Optional[int] = ...,
        group_by: Optional[str] = ...,
        group_size: int = ...,
        score_threshold: Optional[float] = ...,
        mmr: Optional[float] = ...,
        return_plan: Literal[False] = ...,
        timeout: Optional[float] = ...,
    ) -> List[Hit]: ...

    @overload
    def search(
        self,
        vector: Optional[cv.VectorLike] = ...,
        k: int = ...,
        filter: cv.Filter = ...,
        ef_search: Optional[int] = ...,
        nprobe: Optional[int] = ...,
        exact: bool = ...,
        with_payload: cv.PayloadSelection = ...,
        with_vector: bool = ...,
        *,
        text: Optional[str] = ...,
        text_fields: Optional[Sequence[str]] = ...,
        fusion: str = ...,
        weights: Optional[Tuple[float, float]] = ...,
        rrf_k: Optional[int] = ...,
        candidates: Optional[int] = ...,
        group_by: Optional[str] = ...,
        group_size: int = ...,
        score_threshold: Optional[float] = ...,
        mmr: Optional[float] = ...,
        return_plan: Literal[True],
        timeout: Optional[float] = ...,
    ) -> SearchResult: ...

    def search(
        self,
        vector: Optional[cv.VectorLike] = None,
        k: int = 10,
        filter: cv.Filter = None,
        ef_search: Optional[int] = None,
        nprobe: Optional[int] = None,
        exact: bool = False,
        with_payload: cv.PayloadSelection = True,
        with_vector: bool = False,
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
        return_plan: bool = False,
        timeout: Optional[float] = None,
    ) -> Union[List[Hit], SearchResult]:
        """The k nearest points to `vector`, nearest first (fewer when fewer points match).

        filter: a dict or JSON text (docs/filters.md); ef_search (HNSW) / nprobe (IVF): effort of
        this search, None = the index's default; exact: score every matching point, bypassing
        the index; with_payload / with_vector: fill Hit.payload / Hit.vector. with_payload may
        also select fields: a list of dotted paths to keep (["title", "meta.author"]) or
        {"include": [...], "exclude": [...]}.
        Full-text and hybrid search (docs/text_search.md): text= a BM25 query over the
        collection's text fields (text_fields= to restrict it); vector alone = dense, text alone =
        BM25, both = hybrid, fused by fusion="rrf" (rrf_k, default 60) or "weighted" with
        weights=(dense, text). Result shaping: group_by= a payload field, group_size hits per
        group (k groups); score_threshold= keep hits at least this good (L2: distance <=);
        mmr= a lambda in [0, 1] for maximal marginal relevance; candidates= the pool these
        choose from. Hits carry dense_score, text_score and group.
        Returns a list of Hit; with return_plan=True a SearchResult (hits, plan) telling how
        the server answered."""
        params = cv.search_params(
            k, filter, ef_search, nprobe, exact, with_payload, with_vector,
            text=text, text_fields=text_fields, fusion=fusion, weights=weights, rrf_k=rrf_k,
            candidates=candidates, group_by=group_by, group_size=group_size,
            score_threshold=score_threshold, mmr=mmr,
        )
        request = pb.SearchRequest(
            collection=self._name, vector_f32=cv.packed(cv.as_vector(vector)) if vector is not None else b"", params=params
        )
        response = self._call("Search", request, timeout)
        hits = [cv.hit_from_proto(h, params.with_payload, with_vector) for h in response.hits]
        if return_plan:
            return SearchResult(hits, cv.plan_from_proto(response.plan))
        return hits

    @overload
    def search_batch(
        self,
        vectors: cv.MatrixLike,
        k: int = ...,
        filter: cv.Filter = ...,
        ef_search: Optional[int] = ...,
        nprobe: Optional[int] = ...,
        exact: bool = ...,
        with_payload: cv.PayloadSelection = ...,
        with_vector: bool = ...,
        *,
        text: Optional[str] = ...,
        text_fields: Optional[Sequence[str]] = ...,
        fusion: str = ...,
        weights: Optional[Tuple[float, float]] = ...,
        rrf_k: Optional[int] = ...,
        candidates: Optional[int] = ...,
        group_by: Optional[str] = ...,
        group_size: int = ...,
        score_threshold: Optional[float] = ...,
        mmr: Optional[float] = ...,
        return_plan: Literal[False] = ...,
        timeout: Optional[float] = ...,
    ) -> List[List[Hit]]: ...

    @overload
    def search_batch(
        self,
        vectors: cv.MatrixLike,
        k: int = ...,
        filter: cv.Filter = ...,
        ef_search: Optional[int] = ...,
        nprobe: Optional[int] = ...,
        exact: bool = ...,
        with_payload: cv.PayloadSelection = ...,
        with_vector: bool = ...,
        *,
        text: Optional[str] = ...,
        text_fields: Optional[Sequence[str]] = ...,
        fusion: str = ...,
        weights: Optional[Tuple[float, float]] = ...,
        rrf_k: Optional[int] = ...,
        candidates: Optional[int] = ...,
        group_by: Optional[str] = ...,
        group_size: int = ...,
        score_threshold: Optional[float] = ...,
        mmr: Optional[float] = ...,
        return_plan: Literal[True],
        timeout: Optional[float] = ...,
    ) -> List[SearchResult]: ...

    def search_batch(
        self,
        vectors: cv.MatrixLike,
        k: int = 10,
        filter: cv.Filter = None,
        ef_search: Optional[int] = None,
        nprobe: Optional[int] = None,
        exact: bool = False,
        with_payload: cv.PayloadSelection = True,
        with_vector: bool = False,
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
        return_plan: bool = False,
        timeout: Optional[float] = None,
    ) -> Union[List[List[Hit]], List[SearchResult]]:
        """search() for several query vectors (a list of vectors or a 2-D array) in one call, with
        the same options for all (text= makes each a hybrid search with that text; see search()
        for it and the other full-text and shaping options). Returns one list of hits per query,
        in order (or one SearchResult per query with return_plan=True)."""
        params = cv.search_params(
            k, filter, ef_search, nprobe, exact, with_payload, with_vector,
            text=text, text_fields=text_fields, fusion=fusion, weights=weights, rrf_k=rrf_k,
            candidates=candidates, group_by=group_by, group_size=group_size,
            score_threshold=score_threshold, mmr=mmr,
        )
        matrix = cv.as_matrix(vectors)
        request = pb.SearchBatchRequest(
            collection=self._name, vectors_f32=cv.packed(matrix), params=params
        )
        response = self._call("SearchBatch", request, timeout)
        results = [
            [cv.hit_from_proto(h, params.with_payload, with_vector) for h in r.hits]
            for r in response.results
        ]
        if return_plan:
            return [
                SearchResult(hits, cv.plan_from_proto(r.plan))
                for hits, r in zip(results, response.results)
            ]
        return results

    # ---------------------------------------------------------------- text collections (RAG)

    def ingest(
        self,
        documents: Iterable[cv.DocumentLike],
        *,
        batch_size: int = 64,
        progress: Optional[bool] = None,
        on_progress: Optional[Callable[[IngestResult], None]] = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> IngestResult:
        """Chunks, embeds and stores documents in a text collection, over one streaming call.

            col.ingest([{"id": "doc-1", "text": "...", "metadata": {"lang": "en"}}, ...])

        documents: dicts {"id": str, "text": str, "metadata": dict | JSON text | None} or tuples
            (id, text[, metadata]); any iterable (a generator is read lazily, batch by batch).
            The metadata is stored with every chunk under "metadata", so ask(filter=
            {"metadata.lang": "en"}) retrieves from matching documents only.
        Re-ingesting a document id replaces all its chunks atomically (a search sees the old
        version or the new one); an empty text deletes the document. The documents go in
        batches of batch_size, each committed on its own and acknowledged by the server; when the
        ingest fails halfway the acknowledged batches stay and nothing of a later batch is written.
        A bad document (id, metadata, a duplicate id in one batch) is InvalidArgumentError naming
        it. NotFoundError for an unknown collection, FailedPreconditionError for a collection
        that is not a text collection.

        progress: a tqdm progress bar (documents) on stderr; None shows it when stderr is a
        terminal. on_progress(result): called after each acknowledged batch with the totals.
        timeout: a deadline for the whole ingest (None: none, whatever the client's default).
        Returns the totals: documents, chunks written, older chunks replaced.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size: expected an int >= 1, not {batch_size!r}")
        if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
            raise InvalidArgumentError(
                f"documents: expected a list of documents, not {type(documents).__name__}"
            )
        total = len(documents) if isinstance(documents, Sized) else None
        if self._client._closed:
            raise ValueError("sextant.Client: the client is closed")

        # An input error in a later batch ends the stream cleanly (the batches before it are
        # committed) and is raised once the server has answered the rest.
        failure: List[BaseException] = []

        def requests() -> Iterator[pb.IngestDocumentsRequest]:
            batch: List[pb.Document] = []
            try:
                for i, doc in enumerate(documents):
                    batch.append(cv.document_to_proto(doc, f"documents[{i}]"))
                    if len(batch) == batch_size:
                        yield pb.IngestDocumentsRequest(
                            collection=self._name, documents=batch, sync=sync
                        )
                        batch = []
            except BaseException as e:  # noqa: B902 - re-raised in the caller's thread
                failure.append(e)
                return
            if batch:
                yield pb.IngestDocumentsRequest(collection=self._name, documents=batch, sync=sync)

        from tqdm.auto import tqdm

        show = sys.stderr.isatty() if progress is None else bool(progress)
        bar = tqdm(total=total, unit="docs", desc=self._name, disable=not show)
        result = IngestResult(documents=0, chunks=0, replaced_chunks=0)
        call = self._client._stub.IngestDocuments(
            requests(), timeout=timeout, metadata=self._client._metadata
        )
        try:
            for answer in call:
                bar.update(answer.documents - result.documents)
                result = cv.ingest_result_from_proto(answer)
                bar.set_postfix(chunks=result.chunks, refresh=False)
                if on_progress is not None:
                    on_progress(result)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        except BaseException:
            call.cancel()
            raise
        finally:
            bar.close()
        if failure:
            raise failure[0]
        return result

    def delete_documents(
        self, document_ids: Union[str, Iterable[str]], *, timeout: Optional[float] = None
    ) -> int:
        """Deletes every chunk of these documents (one id or a list) atomically; returns the
        number of chunks deleted (0 for ids that are not there)."""
        ids = cv.document_ids(document_ids)
        request = pb.DeleteDocumentsRequest(collection=self._name, document_ids=ids)
        return int(self._call("DeleteDocuments", request, timeout).deleted_chunks)

    @overload
    def embed(
        self, texts: str, *, timeout: Optional[float] = ...
    ) -> "np.ndarray[Any, np.dtype[np.float32]]": ...

    @overload
    def embed(
        self, texts: Iterable[str], *, timeout: Optional[float] = ...
    ) -> "np.ndarray[Any, np.dtype[np.float32]]": ...

    def embed(
        self, texts: Union[str, Iterable[str]], *, timeout: Optional[float] = None
    ) -> "np.ndarray[Any, np.dtype[np.float32]]":
        """Embeds texts with the text collection's embedder, as ingest() and ask() do.

        A list of strs gives a float32 array of shape (len(texts), dimension); one str gives
        one vector of shape (dimension,). The vectors have unit length. Call .tolist() for
        plain lists."""
        single = isinstance(texts, str)
        text_list = [texts] if isinstance(texts, str) else cv.texts(texts)
        request = pb.EmbedRequest(collection=self._name, texts=text_list)
        response = self._call("Embed", request, timeout)
        dim = int(response.dimension)
        flat = np.asarray(response.vectors, dtype=np.float32)
        if flat.size != len(text_list) * dim:
            raise SextantError(
                f"the server sent {flat.size} floats for {len(text_list)} texts of dimension {dim}"
            )
        matrix = flat.reshape(len(text_list), dim)
        return matrix[0] if single else matrix

    @overload
    def ask(
        self,
        question: str,
        k: int = ...,
        filter: cv.Filter = ...,
        generator: Optional[str] = ...,
        *,
        stream: Literal[False] = ...,
        system_template: Optional[str] = ...,
        user_template: Optional[str] = ...,
        max_prompt_tokens: Optional[int] = ...,
        ef_search: Optional[int] = ...,
        timeout: Optional[float] = ...,
        tools: Any = ...,
        max_tool_rounds: Optional[int] = ...,
        **generation: Any,
    ) -> Answer: ...

    @overload
    def ask(
        self,
        question: str,
        k: int = ...,
        filter: cv.Filter = ...,
        generator: Optional[str] = ...,
        *,
        stream: Literal[True],
        system_template: Optional[str] = ...,
        user_template: Optional[str] = ...,
        max_prompt_tokens: Optional[int] = ...,
        ef_search: Optional[int] = ...,
        timeout: Optional[float] = ...,
        tools: Any = ...,
        max_tool_rounds: Optional[int] = ...,
        **generation: Any,
    ) -> "AskStream": ...

    def ask(
        self,
        question: str,
        k: int = 5,
        filter: cv.Filter = None,
        generator: Optional[str] = None,
        *,
        stream: bool = False,
        system_template: Optional[str] = None,
        user_template: Optional[str] = None,
        max_prompt_tokens: Optional[int] = None,
        ef_search: Optional[int] = None,
        timeout: Optional[float] = None,
        tools: Any = None,
        max_tool_rounds: Optional[int] = None,
        **generation: Any,
    ) -> Union[Answer, "AskStream"]:
        """Answers a question from the text collection: embed -> retrieve k chunks -> prompt ->
        generate (docs/rag.md).

            ans = col.ask("How do I reverse a list?", k=5)
            print(ans.answer)
            for c in ans.citations:       # every chunk in the prompt, [1] first
                print(c.number, c.document_id, c.chunk, c.score, c.cited)
            print(ans.timings.total_ms, ans.generator)

        filter: a payload filter (docs/filters.md); document metadata is under "metadata.",
            e.g. {"metadata.lang": "en"}.
        generator: None = the server's default, "extractive" = no language model (the context
            sentences that best match the question, cited).
        system_template / user_template: prompt templates ({context} and {question} are
            replaced); max_prompt_tokens: the prompt's budget (the lowest-ranked chunks are
            dropped first); ef_search: HNSW effort of the retrieval. None = the server's default.

        stream=True returns an AskStream instead: iterate it for the answer's pieces (strs) as
        they are produced; once it is exhausted, .answer, .citations, .timings and .result (the
        whole Answer) hold the final answer:

            s = col.ask("How do I reverse a list?", stream=True)
            for piece in s:
                print(piece, end="", flush=True)
            print(s.citations)

        tools="auto" lets the model search the collection itself through function calls (an
        OpenAI-compatible generator is needed); see chat() for tools and the generation settings
        (temperature, max_tokens, stop, model, seed), which ask() takes too.

        InvalidArgumentError for an empty question or a bad filter, NotFoundError for an unknown
        collection, FailedPreconditionError for a collection that is not a text collection,
        UnavailableError when the generator's endpoint is down.
        """
        request = cv.ask_request(
            self._name,
            question,
            k,
            filter,
            generator,
            stream,
            system_template,
            user_template,
            max_prompt_tokens,
            ef_search,
            tools=tools,
            max_tool_rounds=max_tool_rounds,
            generation=generation,
        )
        if self._client._closed:
            raise ValueError("sextant.Client: the client is closed")
        call = self._client._stub.Ask(
            request, timeout=self._client._deadline(timeout), metadata=self._client._metadata
        )
        ask_stream = AskStream(call)
        if stream:
            return ask_stream
        return ask_stream.result

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        k: int = 5,
        stream: bool = False,
        tools: Any = None,
        *,
        filter: cv.Filter = None,
        generator: Optional[str] = None,
        rewrite: Optional[str] = None,
        max_history_tokens: Optional[int] = None,
        max_tool_rounds: Optional[int] = None,
        conversation_id: Optional[str] = None,
        system_template: Optional[str] = None,
        user_template: Optional[str] = None,
        max_prompt_tokens: Optional[int] = None,
        ef_search: Optional[int] = None,
        timeout: Optional[float] = None,
        **generation: Any,
    ) -> Union[Answer, "AskStream"]:
        """Answers the last turn of a conversation from the text collection (docs/rag.md, "Chat").

            history = [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": "How do I install sextant on Linux?"}]
            ans = col.chat(history)
            history += ans.messages                       # the assistant's answer
            history.append({"role": "user", "content": "and on Windows?"})
            ans = col.chat(history, temperature=0.2, max_tokens=200)
            print(ans.standalone_question, ans.answer, ans.cited)

        messages: OpenAI-style dicts with "role" (system, user, assistant, tool) and "content";
            an assistant's "tool_calls" and a tool message's "tool_call_id" as in OpenAI's API.
            The last message is from the user (or a tool, answering a call).
        A follow-up is rewritten into a standalone question before retrieval: by the model when
            the generator is one, else by a documented heuristic (rewrite="auto"; or "model",
            "heuristic", "off"). Earlier turns are kept within max_history_tokens, oldest
            dropped first.
        tools: None; "auto" (the model gets a `search` function over the collection and decides
            when to search; every chunk it saw is in .citations, its calls in .tool_calls); or a
            list of "auto" and your own function definitions (OpenAI's {"type": "function",
            "function": {"name", "description", "parameters"}}). Calls to your functions come
            back with finish_reason "tool_calls" and .pending_calls: append .messages and one
            {"role": "tool", "tool_call_id": ..., "content": ...} per call, and chat again.
        **generation: temperature, max_tokens, stop, model, seed, passed to the generator within
            the server's limits.
        stream=True returns an AskStream, as ask() does.
        conversation_id: keep the conversation on the server (docs/rag.md, "Server-side
            conversations"): its stored turns come first, then `messages` (only the new ones:
            the first turn's system and user message, later just the next user message), and
            this turn is stored; the first turn creates it. The answer's .conversation_id echoes
            it. See conversations(), conversation(id) and delete_conversation(id).

        InvalidArgumentError naming the message for an empty list, an unknown role, a last message
        not from the user or a tool, or a tool message that answers no call.
        """
        request = cv.chat_request(
            self._name,
            messages,
            k,
            stream,
            tools,
            filter=filter,
            generator=generator,
            rewrite=rewrite,
            max_history_tokens=max_history_tokens,
            max_tool_rounds=max_tool_rounds,
            system_template=system_template,
            user_template=user_template,
            max_prompt_tokens=max_prompt_tokens,
            ef_search=ef_search,
            generation=generation,
            conversation_id=conversation_id,
        )
        if self._client._closed:
            raise ValueError("sextant.Client: the client is closed")
        call = self._client._stub.Chat(
            request, timeout=self._client._deadline(timeout), metadata=self._client._metadata
        )
        chat_stream = AskStream(call)
        if stream:
            return chat_stream
        return chat_stream.result

    def conversations(self, *, timeout: Optional[float] = None) -> List[ConversationInfo]:
        """The server-side conversations of this collection (chat(conversation_id=...)), by id:
        ConversationInfo(id, collection, messages, bytes, created_ms, updated_ms)."""
        response = self._call("ListConversations", pb.ListConversationsRequest(collection=self._name), timeout)
        return [cv.conversation_info_from_proto(c) for c in response.conversations]

    def conversation(self, conversation_id: str, *, timeout: Optional[float] = None) -> Conversation:
        """A stored conversation: .info and .messages (OpenAI-style dicts, oldest first).

        NotFoundError for an unknown id or a conversation of another collection,
        InvalidArgumentError for a malformed id (1..128 of letters, digits, _ - . :)."""
        request = pb.GetConversationRequest(conversation_id=cv.conversation_id_arg(conversation_id))
        return cv.conversation_from_proto(self._call("GetConversation", request, timeout), self._name)

    def delete_conversation(self, conversation_id: str, *, timeout: Optional[float] = None) -> None:
        """Deletes a stored conversation (a read-write key). NotFoundError for an unknown id or a
        conversation of another collection (which is left alone), InvalidArgumentError for a
        malformed id."""
        cid = cv.conversation_id_arg(conversation_id)
        cv.conversation_from_proto(self._call("GetConversation", pb.GetConversationRequest(conversation_id=cid), timeout), self._name)
        self._call("DeleteConversation", pb.DeleteConversationRequest(conversation_id=cid), timeout)


class AskStream:
    """The answer of ask(..., stream=True), as it is produced.

    Iterating yields the answer's pieces (strs) in order; their concatenation is the answer's
    text. Once the iteration ends, `result` is the whole Answer, and `answer`, `citations`,
    `timings`, `generator` and `embedder_spec` its fields. Reading any of them earlier reads the
    rest of the stream first. A failure (on the server or of the connection) raises the
    SextantError subclass from the iteration (or from those attributes).

    `text` is the answer's text received so far. cancel() (or leaving a `with` block early)
    stops the server's work; the stream then raises no more.
    """

    def __init__(self, call: Any) -> None:
        self._call = call
        self._pieces: List[str] = []
        self._result: Optional[Answer] = None
        self._cancelled = False

    def __iter__(self) -> "AskStream":
        return self

    def __next__(self) -> str:
        if self._result is not None or self._cancelled:
            raise StopIteration
        try:
            message = next(self._call)
        except StopIteration:
            raise SextantError(
                "the server ended the Ask stream without an answer"
            ) from None
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        kind = message.WhichOneof("event")
        if kind == "token":
            self._pieces.append(message.token)
            return str(message.token)
        if kind == "answer":
            self._result = cv.answer_from_proto(message.answer)
            raise StopIteration
        raise SextantError("the server sent an Ask message without a token or an answer")

    def __enter__(self) -> "AskStream":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._result is None:
            self.cancel()

    def cancel(self) -> None:
        """Stops the call (the server stops generating)."""
        if self._result is None and not self._cancelled:
            self._cancelled = True
            self._call.cancel()

    @property
    def done(self) -> bool:
        """Whether the final answer has arrived."""
        return self._result is not None

    @property
    def text(self) -> str:
        """The answer's text received so far (the whole answer once done)."""
        return self._result.answer if self._result is not None else "".join(self._pieces)

    @property
    def result(self) -> Answer:
        """The whole Answer; reads the rest of the stream first when needed."""
        if self._result is None:
            if self._cancelled:
                raise SextantError("the Ask stream was cancelled", grpc.StatusCode.CANCELLED)
            for _ in self:
                pass
        assert self._result is not None
        return self._result

    @property
    def answer(self) -> str:
        """The answer's text (the pieces joined); reads the rest of the stream first."""
        return self.result.answer

    @property
    def citations(self) -> List[Citation]:
        return self.result.citations

    @property
    def timings(self) -> AskTimings:
        return self.result.timings

    @property
    def generator(self) -> str:
        return self.result.generator

    @property
    def embedder_spec(self) -> str:
        return self.result.embedder_spec

    @property
    def tool_calls(self) -> List[ToolCall]:
        return self.result.tool_calls

    def __repr__(self) -> str:
        state = "done" if self._result is not None else ("cancelled" if self._cancelled else "streaming")
        return f"sextant.AskStream({state}, {len(self._pieces)} pieces)"


def _sequence(values: Any, field: str) -> Sequence[Any]:
    """A sized, sliceable sequence (list, tuple, range, NumPy array) as is; any other iterable as
    a list; a str, bytes or dict is refused (it is almost always a mistake here)."""
    if isinstance(values, (str, bytes, Mapping)):
        raise InvalidArgumentError(f"{field}: expected a sequence, got {type(values).__name__}")
    if isinstance(values, np.ndarray):
        if values.ndim == 0:
            raise InvalidArgumentError(f"{field}: expected a sequence, got a NumPy scalar")
        return values  # type: ignore[return-value]
    if isinstance(values, Sequence):
        return values
    if isinstance(values, Iterable):
        return list(values)
    raise InvalidArgumentError(f"{field}: expected a sequence, got {type(values).__name__}")
