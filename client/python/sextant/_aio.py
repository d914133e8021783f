"""AsyncClient and AsyncCollection: the API of Client and Collection for asyncio code, over
grpc.aio. Every call is awaited; requests and results are the same as the synchronous client's
(built and read by the same functions in _convert)."""

from __future__ import annotations

import os
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Iterable,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

import grpc
import grpc.aio
import numpy as np

from . import _convert as cv
from ._client import PayloadIndexes, _remove_quietly, _sequence
from ._errors import DeadlineExceededError, InvalidArgumentError, NotFoundError, SextantError, from_rpc_error
from ._proto import sextant_pb2 as pb
from ._proto import sextant_pb2_grpc as pb_grpc
from ._session import Sessions
from ._types import (
    Answer,
    AskTimings,
    Citation,
    CollectionInfo,
    Conversation,
    ConversationInfo,
    Hit,
    IngestResult,
    Point,
    SearchResult,
    ServerInfo,
    SnapshotInfo,
    ToolCall,
)

__all__ = ["AsyncClient", "AsyncCollection", "AsyncAskStream"]

_WAIT_SLICE_S = 60.0


class AsyncClient:
    """A connection to a sextantd server for asyncio code: the API of sextant.Client with every
    call awaited.

    ::

        async with sextant.AsyncClient("localhost:7070") as c:
            col = await c.create_collection("docs", dimension=384)
            await col.upsert([1, 2], vectors, payloads)
            hits = await col.search(query, k=5)

    The arguments are Client's. Create it inside the event loop that uses it; close() it (or use
    `async with`) when done.
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
            self._channel = grpc.aio.secure_channel(address, credentials, options=channel_options)
        else:
            self._channel = grpc.aio.insecure_channel(address, options=channel_options)
        self._stub: Any = pb_grpc.SextantStub(self._channel)  # type: ignore[no-untyped-call]
        self._raw = cv.RawUpsertStub(self._channel)  # writes pre-encoded by cv.encode_upsert_request
        self._sessions = Sessions()
        self._closed = False

    # ---------------------------------------------------------------- plumbing

    def _deadline(self, timeout: Optional[float]) -> Optional[float]:
        return self._timeout if timeout is None else timeout

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("sextant.AsyncClient: the client is closed")

    async def _call(self, method: str, request: Any, timeout: Optional[float], stub: Any = None) -> Any:
        self._check_open()
        try:
            return await getattr(self._stub if stub is None else stub, method)(
                request, timeout=self._deadline(timeout), metadata=self._metadata
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    def consistency_token(self, collection: str) -> str:
        """As Client.consistency_token (cluster mode's session consistency, docs/cluster.md)."""
        return self._sessions.get(collection)

    def set_consistency_token(self, collection: str, token: str) -> None:
        """As Client.set_consistency_token."""
        self._sessions.set(collection, token)

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled, later calls raise ValueError."""
        if not self._closed:
            self._closed = True
            await self._channel.close(None)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"sextant.AsyncClient({self._address!r})"

    @property
    def address(self) -> str:
        return self._address

    # ---------------------------------------------------------------- server and collections

    async def server_info(self, *, timeout: Optional[float] = None) -> ServerInfo:
        return cv.server_info_from_proto(await self._call("ServerInfo", pb.ServerInfoRequest(), timeout))

    async def create_collection(
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
    ) -> "AsyncCollection":
        """As Client.create_collection."""
        request = cv.create_collection_request(
            name, dimension, metric, index, payload_indexes, embedder, chunk_tokens,
            overlap_tokens, markdown, tokens, properties, ef_construction, ef_search, nprobe,
            text_fields=text_fields,
            shards=shards, replication=replication,
        )
        info = await self._call("CreateCollection", request, timeout)
        return AsyncCollection(self, info.name)

    async def collection(self, name: str, *, timeout: Optional[float] = None) -> "AsyncCollection":
        """The handle of an existing collection (or alias); NotFoundError if there is none."""
        await self._call("DescribeCollection", pb.DescribeCollectionRequest(name=name), timeout)
        return AsyncCollection(self, name)

    async def has_collection(self, name: str, *, timeout: Optional[float] = None) -> bool:
        return any(c.name == name for c in await self.list_collections(timeout=timeout))

    async def list_collections(self, *, timeout: Optional[float] = None) -> List[CollectionInfo]:
        response = await self._call("ListCollections", pb.ListCollectionsRequest(), timeout)
        return [cv.collection_info_from_proto(c) for c in response.collections]

    async def drop_collection(
        self, name: str, *, missing_ok: bool = False, timeout: Optional[float] = None
    ) -> bool:
        try:
            await self._call("DropCollection", pb.DropCollectionRequest(name=name), timeout)
        except NotFoundError:
            if missing_ok:
                return False
            raise
        return True

    # ---------------------------------------------------------------- aliases

    async def create_alias(self, alias: str, collection: str, *, timeout: Optional[float] = None) -> None:
        await self._call("CreateAlias", pb.CreateAliasRequest(alias=alias, collection=collection), timeout)

    async def delete_alias(self, alias: str, *, timeout: Optional[float] = None) -> None:
        await self._call("DeleteAlias", pb.DeleteAliasRequest(alias=alias), timeout)

    async def list_aliases(
        self, collection: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> List[Tuple[str, str]]:
        response = await self._call("ListAliases", pb.ListAliasesRequest(collection=collection or ""), timeout)
        return [(a.alias, a.collection) for a in response.aliases]

    async def update_aliases(
        self, changes: Sequence[Sequence[str]], *, timeout: Optional[float] = None
    ) -> None:
        await self._call("UpdateAliases", cv.update_aliases_request(changes), timeout)


    # ---------------------------------------------------------------- snapshots

    async def create_snapshot(
        self, collection: Optional[str] = None, *, name: Optional[str] = None, timeout: Optional[float] = None
    ) -> SnapshotInfo:
        """As Client.create_snapshot."""
        request = pb.CreateSnapshotRequest(collection=collection or "", name=name or "")
        return cv.snapshot_info_from_proto(await self._call("CreateSnapshot", request, timeout))

    async def list_snapshots(self, *, timeout: Optional[float] = None) -> List[SnapshotInfo]:
        """As Client.list_snapshots."""
        response = await self._call("ListSnapshots", pb.ListSnapshotsRequest(), timeout)
        return [cv.snapshot_info_from_proto(s) for s in response.snapshots]

    async def delete_snapshot(self, name: str, *, missing_ok: bool = False, timeout: Optional[float] = None) -> bool:
        """As Client.delete_snapshot."""
        try:
            await self._call("DeleteSnapshot", pb.DeleteSnapshotRequest(name=name), timeout)
        except NotFoundError:
            if missing_ok:
                return False
            raise
        return True

    async def restore_snapshot(
        self, name: str, collection: str, *, source: Optional[str] = None, timeout: Optional[float] = None
    ) -> "AsyncCollection":
        """As Client.restore_snapshot."""
        request = pb.RestoreSnapshotRequest(name=name, source=source or "", collection=collection)
        info = await self._call("RestoreSnapshot", request, timeout)
        return AsyncCollection(self, info.name)

    async def download_snapshot(
        self, name: str, path: Union[str, "os.PathLike[str]"], *, timeout: Optional[float] = None
    ) -> int:
        """As Client.download_snapshot ("<path>.partial", renamed when complete)."""
        self._check_open()
        target = os.fspath(path)
        partial = target + ".partial"
        written = 0
        try:
            call = self._stub.DownloadSnapshot(
                pb.DownloadSnapshotRequest(name=name), timeout=self._deadline(timeout), metadata=self._metadata
            )
            with open(partial, "wb") as f:
                async for chunk in call:
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

    async def upload_snapshot(
        self, path: Union[str, "os.PathLike[str]"], *, name: Optional[str] = None, timeout: Optional[float] = None
    ) -> SnapshotInfo:
        """As Client.upload_snapshot."""
        self._check_open()
        pieces = cv.upload_snapshot_requests(os.fspath(path), name)

        async def requests() -> AsyncIterator[pb.UploadSnapshotRequest]:
            for piece in pieces:
                yield piece

        try:
            response = await self._stub.UploadSnapshot(
                requests(), timeout=self._deadline(timeout), metadata=self._metadata
            )
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return cv.snapshot_info_from_proto(response)


class AsyncCollection:
    """A handle on one collection of an AsyncClient: the methods of sextant.Collection, awaited."""

    def __init__(self, client: AsyncClient, name: str) -> None:
        self._client = client
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def client(self) -> AsyncClient:
        return self._client

    def __repr__(self) -> str:
        return f"sextant.AsyncCollection({self._name!r})"

    async def _call(self, method: str, request: Any, timeout: Optional[float], stub: Any = None) -> Any:
        sessions = self._client._sessions
        response = await self._client._call(method, sessions.attach(self._name, request), timeout, stub)
        sessions.note(self._name, response)
        return response

    # ---------------------------------------------------------------- collection

    async def describe(self, *, timeout: Optional[float] = None) -> CollectionInfo:
        info = await self._call("DescribeCollection", pb.DescribeCollectionRequest(name=self._name), timeout)
        return cv.collection_info_from_proto(info)

    async def set_index(
        self,
        index: str,
        *,
        wait: bool = False,
        ef_construction: Optional[int] = None,
        ef_search: Optional[int] = None,
        nprobe: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> CollectionInfo:
        request = pb.SetIndexRequest(
            collection=self._name, index=cv.index_spec(index, ef_construction, ef_search, nprobe)
        )
        info = await self._call("SetIndex", request, timeout)
        if wait:
            return await self.wait_for_index(timeout=timeout)
        return cv.collection_info_from_proto(info)

    async def rebuild_index(self, *, wait: bool = False, timeout: Optional[float] = None) -> CollectionInfo:
        info = await self._call("SetIndex", pb.SetIndexRequest(collection=self._name, rebuild=True), timeout)
        if wait:
            return await self.wait_for_index(timeout=timeout)
        return cv.collection_info_from_proto(info)

    async def wait_for_index(self, timeout: Optional[float] = None) -> CollectionInfo:
        if timeout is not None:
            request = pb.WaitForIndexRequest(collection=self._name, timeout_ms=max(1, int(timeout * 1000)))
            return cv.collection_info_from_proto(await self._call("WaitForIndex", request, timeout + 10.0))
        while True:
            request = pb.WaitForIndexRequest(collection=self._name, timeout_ms=int(_WAIT_SLICE_S * 1000))
            try:
                info = await self._call("WaitForIndex", request, _WAIT_SLICE_S + 30.0)
            except DeadlineExceededError:
                continue
            return cv.collection_info_from_proto(info)

    # ---------------------------------------------------------------- points

    async def upsert(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        payloads: Optional[Sequence[cv.PayloadLike]] = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        id_list = _sequence(ids, "ids")
        payload_list = None if payloads is None else _sequence(payloads, "payloads")
        request = cv.encode_upsert_request(self._name, id_list, vectors, payload_list, sync=sync)
        return int((await self._call("Upsert", request, timeout, self._client._raw)).upserted)

    async def import_points(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        payloads: Optional[Sequence[cv.PayloadLike]] = None,
        *,
        batch_size: int = 1000,
        on_progress: Optional[Callable[[int, int], None]] = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        """As Collection.import_points (without a progress bar)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size: expected an int >= 1, not {batch_size!r}")
        id_list = _sequence(ids, "ids")
        n = len(id_list)
        matrix = cv.as_matrix(vectors) if n else np.zeros((0, 0), dtype=np.float32)
        if matrix.shape[0] != n:
            raise InvalidArgumentError(f"vectors: {matrix.shape[0]} vectors for {n} ids; give one vector per id")
        payload_list = None if payloads is None else _sequence(payloads, "payloads")
        if payload_list is not None and len(payload_list) != n:
            raise InvalidArgumentError(
                f"payloads: {len(payload_list)} payloads for {n} ids; give one per id (or None)"
            )
        self._client._check_open()
        # As Collection.import_points: each batch is encoded as the stream asks for it, so that
        # encoding overlaps the server's commits; an input error in a later batch ends the stream
        # cleanly (the batches before it are committed) and is raised once the server has answered.
        failure: List[BaseException] = []

        async def requests() -> AsyncIterator[bytes]:
            for start in range(0, n, batch_size):
                try:
                    request = cv.encode_upsert_request(
                        self._name,
                        id_list[start : start + batch_size],
                        matrix[start : start + batch_size],
                        payload_list[start : start + batch_size] if payload_list is not None else None,
                        offset=start,
                        sync=sync,
                    )
                    if start == 0:  # the server reads the session's token from the first message
                        request = self._client._sessions.attach(self._name, request)
                except BaseException as e:  # noqa: B902 - re-raised below
                    failure.append(e)
                    return
                yield request

        call = self._client._raw.UpsertStream(requests(), timeout=timeout, metadata=self._client._metadata)
        committed = 0
        try:
            async for answer in call:
                committed = int(answer.points)
                self._client._sessions.note(self._name, answer)
                if on_progress is not None:
                    on_progress(int(answer.batches), committed)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        if failure:
            raise failure[0]
        return committed

    @overload
    async def get(  # type: ignore[overload-overlap]  # a str is one id, not a sequence of them
        self, ids: cv.IdLike, *, with_vector: bool = ..., timeout: Optional[float] = ...
    ) -> Point: ...

    @overload
    async def get(
        self, ids: cv.IdsLike, *, with_vector: bool = ..., timeout: Optional[float] = ...
    ) -> List[Optional[Point]]: ...

    async def get(
        self,
        ids: Union[cv.IdLike, cv.IdsLike],
        *,
        with_vector: bool = True,
        timeout: Optional[float] = None,
    ) -> Union[Point, List[Optional[Point]]]:
        """As Collection.get: one id gives a Point (NotFoundError when missing), a list gives a
        list with None for missing ids."""
        if isinstance(ids, (int, str, np.integer)):
            request = pb.GetRequest(collection=self._name, id=cv.id_to_proto(ids))
            return cv.point_from_proto(await self._call("Get", request, timeout), with_vector)
        request_many = cv.get_many_request(self._name, _sequence(ids, "ids"), with_vector)
        return cv.get_many_result(request_many, await self._call("GetMany", request_many, timeout), with_vector)

    async def set_payload(
        self,
        payload: cv.PayloadLike,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        request = cv.set_payload_request(self._name, payload, ids, filter, False, sync)
        return int((await self._call("SetPayload", request, timeout)).updated)

    async def overwrite_payload(
        self,
        payload: cv.PayloadLike,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        request = cv.set_payload_request(self._name, payload, ids, filter, True, sync)
        return int((await self._call("SetPayload", request, timeout)).updated)

    async def delete_payload_keys(
        self,
        keys: Union[str, Sequence[str]],
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        filter: cv.Filter = None,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        request = cv.delete_payload_keys_request(self._name, keys, ids, filter, sync)
        return int((await self._call("DeletePayloadKeys", request, timeout)).updated)

    async def update_vectors(
        self,
        ids: cv.IdsLike,
        vectors: cv.MatrixLike,
        *,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        request = cv.update_vectors_request(self._name, _sequence(ids, "ids"), vectors, sync)
        return int((await self._call("UpdateVectors", request, timeout)).updated)

    async def delete(
        self,
        ids: Union[cv.IdsLike, cv.IdLike, None] = None,
        *,
        filter: cv.Filter = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> int:
        if (ids is None) == (filter is None):
            raise InvalidArgumentError("delete: give either ids or filter=, not both or neither")
        request = pb.DeleteRequest(collection=self._name, sync=sync)
        if ids is not None:
            id_list: Sequence[Any] = [ids] if isinstance(ids, (int, str, np.integer)) else _sequence(ids, "ids")
            request.ids.SetInParent()
            request.ids.ids.extend(cv.ids_to_proto(id_list))
        else:
            request.filter = cv.filter_to_json(filter)
        return int((await self._call("Delete", request, timeout)).deleted)

    async def count(self, filter: cv.Filter = None, *, timeout: Optional[float] = None) -> int:
        request = pb.CountRequest(collection=self._name, filter=cv.filter_to_json(filter))
        return int((await self._call("Count", request, timeout)).count)

    def scan(
        self,
        filter: cv.Filter = None,
        page_size: int = 1000,
        *,
        with_vector: bool = False,
        timeout: Optional[float] = None,
    ) -> AsyncIterator[Point]:
        """As Collection.scan, as an async iterator: `async for p in col.scan(): ...`."""
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size < 2**32:
            raise InvalidArgumentError(f"page_size: expected an int >= 1, not {page_size!r}")
        return self._scan(cv.filter_to_json(filter), page_size, with_vector, timeout)

    async def _scan(
        self, filter_json: str, page_size: int, with_vector: bool, timeout: Optional[float]
    ) -> AsyncIterator[Point]:
        cursor = ""
        while True:
            request = pb.ScanRequest(
                collection=self._name, limit=page_size, cursor=cursor, filter=filter_json, with_vector=with_vector
            )
            page = await self._call("Scan", request, timeout)
            for point in page.points:
                yield cv.point_from_proto(point, with_vector)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # ---------------------------------------------------------------- search

    @overload
    async def search(
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
    async def search(
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

    async def search(
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
        """As Collection.search."""
        params = cv.search_params(
            k, filter, ef_search, nprobe, exact, with_payload, with_vector,
            text=text, text_fields=text_fields, fusion=fusion, weights=weights, rrf_k=rrf_k,
            candidates=candidates, group_by=group_by, group_size=group_size,
            score_threshold=score_threshold, mmr=mmr,
        )
        request = pb.SearchRequest(collection=self._name, vector_f32=cv.packed(cv.as_vector(vector)) if vector is not None else b"", params=params)
        response = await self._call("Search", request, timeout)
        hits = [cv.hit_from_proto(h, params.with_payload, with_vector) for h in response.hits]
        if return_plan:
            return SearchResult(hits, cv.plan_from_proto(response.plan))
        return hits

    @overload
    async def search_batch(
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
    async def search_batch(
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

    async def search_batch(
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
        """As Collection.search_batch."""
        params = cv.search_params(
            k, filter, ef_search, nprobe, exact, with_payload, with_vector,
            text=text, text_fields=text_fields, fusion=fusion, weights=weights, rrf_k=rrf_k,
            candidates=candidates, group_by=group_by, group_size=group_size,
            score_threshold=score_threshold, mmr=mmr,
        )
        matrix = cv.as_matrix(vectors)
        request = pb.SearchBatchRequest(collection=self._name, vectors_f32=cv.packed(matrix), params=params)
        response = await self._call("SearchBatch", request, timeout)
        results = [[cv.hit_from_proto(h, params.with_payload, with_vector) for h in r.hits] for r in response.results]
        if return_plan:
            return [SearchResult(hits, cv.plan_from_proto(r.plan)) for hits, r in zip(results, response.results)]
        return results

    # ---------------------------------------------------------------- text collections (RAG)

    async def ingest(
        self,
        documents: Iterable[cv.DocumentLike],
        *,
        batch_size: int = 64,
        on_progress: Optional[Callable[[IngestResult], None]] = None,
        sync: bool = False,
        timeout: Optional[float] = None,
    ) -> IngestResult:
        """As Collection.ingest (without a progress bar)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size: expected an int >= 1, not {batch_size!r}")
        if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
            raise InvalidArgumentError(f"documents: expected a list of documents, not {type(documents).__name__}")
        docs = [cv.document_to_proto(doc, f"documents[{i}]") for i, doc in enumerate(documents)]
        self._client._check_open()

        async def requests() -> AsyncIterator[pb.IngestDocumentsRequest]:
            for start in range(0, len(docs), batch_size):
                yield pb.IngestDocumentsRequest(
                    collection=self._name, documents=docs[start : start + batch_size], sync=sync
                )

        call = self._client._stub.IngestDocuments(requests(), timeout=timeout, metadata=self._client._metadata)
        result = IngestResult(documents=0, chunks=0, replaced_chunks=0)
        try:
            async for answer in call:
                result = cv.ingest_result_from_proto(answer)
                if on_progress is not None:
                    on_progress(result)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        return result

    async def delete_documents(
        self, document_ids: Union[str, Iterable[str]], *, timeout: Optional[float] = None
    ) -> int:
        request = pb.DeleteDocumentsRequest(collection=self._name, document_ids=cv.document_ids(document_ids))
        return int((await self._call("DeleteDocuments", request, timeout)).deleted_chunks)

    async def embed(
        self, texts: Union[str, Iterable[str]], *, timeout: Optional[float] = None
    ) -> "np.ndarray[Any, np.dtype[np.float32]]":
        """As Collection.embed."""
        single = isinstance(texts, str)
        text_list = [texts] if isinstance(texts, str) else cv.texts(texts)
        response = await self._call("Embed", pb.EmbedRequest(collection=self._name, texts=text_list), timeout)
        dim = int(response.dimension)
        flat = np.asarray(response.vectors, dtype=np.float32)
        if flat.size != len(text_list) * dim:
            raise SextantError(f"the server sent {flat.size} floats for {len(text_list)} texts of dimension {dim}")
        matrix = flat.reshape(len(text_list), dim)
        return matrix[0] if single else matrix

    @overload
    async def ask(
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
    async def ask(
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
    ) -> "AsyncAskStream": ...

    async def ask(
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
    ) -> Union[Answer, "AsyncAskStream"]:
        """As Collection.ask; with stream=True an AsyncAskStream (`async for piece in s`)."""
        request = cv.ask_request(
            self._name, question, k, filter, generator, stream, system_template, user_template,
            max_prompt_tokens, ef_search, tools=tools, max_tool_rounds=max_tool_rounds, generation=generation,
        )
        self._client._check_open()
        call = self._client._stub.Ask(
            request, timeout=self._client._deadline(timeout), metadata=self._client._metadata
        )
        s = AsyncAskStream(call)
        if stream:
            return s
        return await s.result()

    @overload
    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        k: int = ...,
        stream: Literal[False] = ...,
        tools: Any = ...,
        *,
        filter: cv.Filter = ...,
        generator: Optional[str] = ...,
        rewrite: Optional[str] = ...,
        max_history_tokens: Optional[int] = ...,
        max_tool_rounds: Optional[int] = ...,
        conversation_id: Optional[str] = ...,
        system_template: Optional[str] = ...,
        user_template: Optional[str] = ...,
        max_prompt_tokens: Optional[int] = ...,
        ef_search: Optional[int] = ...,
        timeout: Optional[float] = ...,
        **generation: Any,
    ) -> Answer: ...

    @overload
    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        k: int = ...,
        *,
        stream: Literal[True],
        tools: Any = ...,
        filter: cv.Filter = ...,
        generator: Optional[str] = ...,
        rewrite: Optional[str] = ...,
        max_history_tokens: Optional[int] = ...,
        max_tool_rounds: Optional[int] = ...,
        conversation_id: Optional[str] = ...,
        system_template: Optional[str] = ...,
        user_template: Optional[str] = ...,
        max_prompt_tokens: Optional[int] = ...,
        ef_search: Optional[int] = ...,
        timeout: Optional[float] = ...,
        **generation: Any,
    ) -> "AsyncAskStream": ...

    async def chat(
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
    ) -> Union[Answer, "AsyncAskStream"]:
        """As Collection.chat; with stream=True an AsyncAskStream."""
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
        self._client._check_open()
        call = self._client._stub.Chat(
            request, timeout=self._client._deadline(timeout), metadata=self._client._metadata
        )
        s = AsyncAskStream(call)
        if stream:
            return s
        return await s.result()

    async def conversations(self, *, timeout: Optional[float] = None) -> List[ConversationInfo]:
        """As Collection.conversations."""
        response = await self._call("ListConversations", pb.ListConversationsRequest(collection=self._name), timeout)
        return [cv.conversation_info_from_proto(c) for c in response.conversations]

    async def conversation(self, conversation_id: str, *, timeout: Optional[float] = None) -> Conversation:
        """As Collection.conversation."""
        request = pb.GetConversationRequest(conversation_id=cv.conversation_id_arg(conversation_id))
        return cv.conversation_from_proto(await self._call("GetConversation", request, timeout), self._name)

    async def delete_conversation(self, conversation_id: str, *, timeout: Optional[float] = None) -> None:
        """As Collection.delete_conversation."""
        cid = cv.conversation_id_arg(conversation_id)
        got = await self._call("GetConversation", pb.GetConversationRequest(conversation_id=cid), timeout)
        cv.conversation_from_proto(got, self._name)
        await self._call("DeleteConversation", pb.DeleteConversationRequest(conversation_id=cid), timeout)


class AsyncAskStream:
    """The answer of AsyncCollection.ask or chat with stream=True, as it is produced:
    `async for piece in s` yields the answer's pieces (strs); afterwards (or by awaiting
    s.result()) the whole Answer, whose fields `answer`, `citations`, `timings`, `generator`,
    `embedder_spec` and `tool_calls` are also properties here (reading one before the answer has
    arrived raises SextantError: await result() first). cancel() (or leaving an `async with`
    block early) stops the server's work."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._pieces: List[str] = []
        self._result: Optional[Answer] = None
        self._cancelled = False

    def __aiter__(self) -> "AsyncAskStream":
        return self

    async def __anext__(self) -> str:
        if self._result is not None or self._cancelled:
            raise StopAsyncIteration
        try:
            message = await self._call.read()
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None
        if message is grpc.aio.EOF:  # type: ignore[attr-defined]  # not in grpc-stubs
            raise SextantError("the server ended the Ask stream without an answer")
        kind = message.WhichOneof("event")
        if kind == "token":
            self._pieces.append(message.token)
            return str(message.token)
        if kind == "answer":
            self._result = cv.answer_from_proto(message.answer)
            raise StopAsyncIteration
        raise SextantError("the server sent an Ask message without a token or an answer")

    async def __aenter__(self) -> "AsyncAskStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._result is None:
            self.cancel()

    async def result(self) -> Answer:
        """The whole Answer; reads the rest of the stream first when needed."""
        if self._result is None and self._cancelled:
            raise SextantError("the Ask stream was cancelled", grpc.StatusCode.CANCELLED)
        async for _ in self:
            pass
        assert self._result is not None
        return self._result

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

    def _arrived(self) -> Answer:
        if self._result is None:
            raise SextantError("the answer has not arrived yet: iterate the stream or await result()")
        return self._result

    @property
    def answer(self) -> str:
        return self._arrived().answer

    @property
    def citations(self) -> List[Citation]:
        return self._arrived().citations

    @property
    def timings(self) -> AskTimings:
        return self._arrived().timings

    @property
    def generator(self) -> str:
        return self._arrived().generator

    @property
    def embedder_spec(self) -> str:
        return self._arrived().embedder_spec

    @property
    def tool_calls(self) -> List[ToolCall]:
        return self._arrived().tool_calls

    def __repr__(self) -> str:
        state = "done" if self._result is not None else ("cancelled" if self._cancelled else "streaming")
        return f"sextant.AsyncAskStream({state}, {len(self._pieces)} pieces)"
