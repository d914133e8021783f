"""The client against an in-process fake of the Sextant service (no sextantd needed).

The fake records what arrives (requests, metadata, deadlines) and answers as scripted, so these
tests pin down what the client sends: the authorization header, the delete selector, the
batches of a streaming import, the scan cursors, and that every failure becomes the right
SextantError subclass.
"""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any, Dict, Iterator, List, Optional, Tuple

import grpc
import numpy as np
import pytest

import sextant
from sextant._proto import sextant_pb2 as pb
from sextant._proto import sextant_pb2_grpc as pb_grpc


class FakeSextant(pb_grpc.SextantServicer):
    def __init__(self) -> None:
        self.requests: List[Tuple[str, Any]] = []
        self.metadata: List[Dict[str, str]] = []
        self.deadlines: List[Optional[float]] = []
        self.fail: Optional[Tuple[grpc.StatusCode, str]] = None
        self.fail_stream_at_batch: Optional[int] = None
        self.scan_pages: List[pb.ScanResponse] = []
        self.hold = False  # keep calls waiting until the client gives up (at most 60 s)
        self.describe_reply: Optional[pb.CollectionInfo] = None
        self.ask_replies: List[pb.AskResponse] = []
        self.embed_dimension = 3
        self.write_token = ""  # the consistency_token writes answer with

    def _record(self, name: str, request: Any, context: grpc.ServicerContext) -> None:
        self.requests.append((name, request))
        self.metadata.append({k: str(v) for k, v in context.invocation_metadata()})
        self.deadlines.append(context.time_remaining())
        if self.hold:
            ended = threading.Event()
            context.add_callback(ended.set)
            ended.wait(60)
        if self.fail is not None:
            context.abort(*self.fail)

    def ServerInfo(self, request: Any, context: grpc.ServicerContext) -> pb.ServerInfoResponse:
        self._record("ServerInfo", request, context)
        return pb.ServerInfoResponse(version="9.9.9", simd_level="scalar")

    def CreateCollection(self, request: Any, context: grpc.ServicerContext) -> pb.CollectionInfo:
        self._record("CreateCollection", request, context)
        return pb.CollectionInfo(name=request.name, dimension=request.dimension, metric=request.metric)

    def DescribeCollection(self, request: Any, context: grpc.ServicerContext) -> pb.CollectionInfo:
        self._record("DescribeCollection", request, context)
        if self.describe_reply is not None:
            return self.describe_reply
        return pb.CollectionInfo(name=request.name, dimension=2, metric=pb.METRIC_L2)

    def DropCollection(self, request: Any, context: grpc.ServicerContext) -> pb.DropCollectionResponse:
        self._record("DropCollection", request, context)
        return pb.DropCollectionResponse()

    def Upsert(self, request: Any, context: grpc.ServicerContext) -> pb.UpsertResponse:
        self._record("Upsert", request, context)
        return pb.UpsertResponse(upserted=len(request.points), consistency_token=self.write_token)

    def UpsertStream(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[pb.UpsertProgress]:
        self._record("UpsertStream", None, context)
        batches = points = 0
        for request in request_iterator:
            if self.fail_stream_at_batch == batches + 1:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "points[0].vector: wrong dimension")
            self.requests.append(("UpsertStream.batch", request))
            batches += 1
            points += len(request.points)
            yield pb.UpsertProgress(batches=batches, points=points, consistency_token=self.write_token)

    def Delete(self, request: Any, context: grpc.ServicerContext) -> pb.DeleteResponse:
        self._record("Delete", request, context)
        return pb.DeleteResponse(
            deleted=len(request.ids.ids) if request.HasField("ids") else 42, consistency_token=self.write_token
        )

    def Scan(self, request: Any, context: grpc.ServicerContext) -> pb.ScanResponse:
        self._record("Scan", request, context)
        return self.scan_pages.pop(0)

    def Search(self, request: Any, context: grpc.ServicerContext) -> pb.SearchResponse:
        self._record("Search", request, context)
        return pb.SearchResponse(
            hits=[pb.Hit(id=pb.PointId(num=4), score=0.25, payload='{"g":1}')],
            plan=pb.SearchPlan(kind=pb.SearchPlan.KIND_EXACT, index="Flat", matches=1),
        )

    def SearchBatch(self, request: Any, context: grpc.ServicerContext) -> pb.SearchBatchResponse:
        self._record("SearchBatch", request, context)
        n = len(request.vectors_f32) // (2 * 4)
        return pb.SearchBatchResponse(
            results=[pb.SearchResponse(hits=[pb.Hit(id=pb.PointId(str=f"q{i}"), score=i)]) for i in range(n)]
        )

    def IngestDocuments(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[pb.IngestProgress]:
        self._record("IngestDocuments", None, context)
        batches = documents = chunks = 0
        for request in request_iterator:
            batches += 1
            if self.fail_stream_at_batch == batches:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "documents[0].metadata: not a JSON object")
            self.requests.append(("IngestDocuments.batch", request))
            documents += len(request.documents)
            chunks += sum(len(d.text.split()) for d in request.documents)
            yield pb.IngestProgress(documents=documents, chunks=chunks, replaced_chunks=1)

    def DeleteDocuments(self, request: Any, context: grpc.ServicerContext) -> pb.DeleteDocumentsResponse:
        self._record("DeleteDocuments", request, context)
        return pb.DeleteDocumentsResponse(deleted_chunks=2 * len(request.document_ids))

    def Embed(self, request: Any, context: grpc.ServicerContext) -> pb.EmbedResponse:
        self._record("Embed", request, context)
        d = self.embed_dimension
        vectors = [float(i * 10 + j) for i in range(len(request.texts)) for j in range(d)]
        return pb.EmbedResponse(dimension=d, vectors=vectors, embedder_spec="hash:3:v1")

    def Ask(self, request: Any, context: grpc.ServicerContext) -> Iterator[pb.AskResponse]:
        self._record("Ask", request, context)
        for reply in self.ask_replies:
            if reply.WhichOneof("event") == "token" and not request.stream:
                continue
            yield reply


@pytest.fixture()
def fake() -> Iterator[Tuple[FakeSextant, str]]:
    servicer = FakeSextant()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pb_grpc.add_SextantServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def last(servicer: FakeSextant, name: str) -> Any:
    return [r for n, r in servicer.requests if n == name][-1]


def test_api_key_goes_as_bearer_metadata(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address, api_key="secret") as c:
        assert c.server_info().version == "9.9.9"
    with sextant.Client(address) as c:
        c.server_info()
    assert servicer.metadata[0].get("authorization") == "Bearer secret"
    assert "authorization" not in servicer.metadata[1]


def test_default_and_per_call_deadlines(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address, timeout=30) as c:
        c.server_info()
        c.server_info(timeout=300)
    with sextant.Client(address) as c:
        c.server_info()
    first, second, none = servicer.deadlines
    # (gRPC rounds deadlines up a little on the wire.)
    assert first is not None and 0 < first <= 31
    assert second is not None and 31 < second <= 301
    assert none is None or none > 1e6  # no deadline


@pytest.mark.parametrize(
    "code, cls",
    [
        (grpc.StatusCode.NOT_FOUND, sextant.NotFoundError),
        (grpc.StatusCode.PERMISSION_DENIED, sextant.PermissionDeniedError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, sextant.ResourceExhaustedError),
        (grpc.StatusCode.ABORTED, sextant.SextantError),
    ],
)
def test_server_errors_become_exceptions(fake: Tuple[FakeSextant, str], code: grpc.StatusCode, cls: type) -> None:
    servicer, address = fake
    servicer.fail = (code, "collection 'docs' does not exist")
    with sextant.Client(address) as c:
        with pytest.raises(cls) as info:
            c.collection("docs")
    err = info.value
    assert type(err) is cls and isinstance(err, sextant.SextantError)
    assert err.code == code
    assert err.message == "collection 'docs' does not exist"


def test_create_collection_request(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = c.create_collection(
            "docs", dimension=384, metric="cosine", index="HNSW16",
            payload_indexes={"group": "integer"}, ef_search=80,
        )
    assert col.name == "docs"
    req = last(servicer, "CreateCollection")
    assert (req.name, req.dimension, req.metric) == ("docs", 384, pb.METRIC_COSINE)
    assert (req.index.spec, req.index.ef_search, req.index.ef_construction) == ("HNSW16", 80, 0)
    assert [(p.field, p.type) for p in req.payload_indexes] == [("group", pb.PAYLOAD_FIELD_TYPE_INTEGER)]


def test_delete_selectors(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        assert col.delete([1, "a", np.uint64(2)]) == 3
        req = last(servicer, "Delete")
        assert req.WhichOneof("selector") == "ids"
        assert [m.WhichOneof("kind") for m in req.ids.ids] == ["num", "str", "num"]
        # An empty list is still "by ids" (nothing to delete), never "everything".
        assert col.delete([]) == 0
        assert last(servicer, "Delete").WhichOneof("selector") == "ids"
        assert col.delete(7) == 1
        assert col.delete(filter={"group": 9}) == 42
        req = last(servicer, "Delete")
        assert req.WhichOneof("selector") == "filter" and req.filter == '{"group":9}'
        sent = len(servicer.requests)
        with pytest.raises(sextant.InvalidArgumentError, match="either ids or filter"):
            col.delete()
        with pytest.raises(sextant.InvalidArgumentError, match="either ids or filter"):
            col.delete([1], filter={"a": 1})
        assert len(servicer.requests) == sent  # refused before sending


def test_upsert_request(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        assert col.upsert([1, 2], np.array([[1, 2], [3, 4]], dtype=np.float64), [{"a": 1}, None], sync=True) == 2
    req = last(servicer, "Upsert")
    assert req.collection == "docs" and req.sync
    # Vectors travel packed (little-endian float32), not as repeated floats.
    assert [list(p.vector) for p in req.points] == [[], []]
    assert [np.frombuffer(p.vector_f32, dtype="<f4").tolist() for p in req.points] == [[1, 2], [3, 4]]
    assert [p.payload for p in req.points] == ['{"a":1}', ""]


def test_import_points_streams_batches(fake: Tuple[FakeSextant, str], capsys: pytest.CaptureFixture[str]) -> None:
    servicer, address = fake
    seen: List[Tuple[int, int]] = []
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        n = col.import_points(
            range(25), np.zeros((25, 2)), [{"i": i} for i in range(25)], batch_size=10,
            progress=False, on_progress=lambda b, p: seen.append((b, p)),
        )
    assert n == 25
    assert seen == [(1, 10), (2, 20), (3, 25)]
    batches = [r for name, r in servicer.requests if name == "UpsertStream.batch"]
    assert [len(b.points) for b in batches] == [10, 10, 5]
    assert all(b.collection == "docs" for b in batches)
    assert [cv_id.id.num for cv_id in batches[2].points] == list(range(20, 25))
    assert capsys.readouterr().err == ""  # progress=False: no bar


def test_import_points_progress_bar(fake: Tuple[FakeSextant, str], capsys: pytest.CaptureFixture[str]) -> None:
    _, address = fake
    with sextant.Client(address) as c:
        sextant.Collection(c, "docs").import_points([1, 2, 3], [[1, 2]] * 3, batch_size=2, progress=True)
        assert "3/3" in capsys.readouterr().err
        # progress=None: a bar only on a terminal, and pytest's stderr is not one.
        sextant.Collection(c, "docs").import_points([1, 2, 3], [[1, 2]] * 3, batch_size=2)
        assert capsys.readouterr().err == ""


def test_import_points_bad_row_later_keeps_earlier_batches(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    vectors: List[Any] = [[1.0, 2.0]] * 30
    vectors[25] = [1.0]  # third batch is ragged
    with sextant.Client(address) as c:
        with pytest.raises(sextant.InvalidArgumentError, match="row 5 has 1 numbers"):
            sextant.Collection(c, "docs").import_points(range(30), vectors, batch_size=10, progress=False)
    batches = [r for name, r in servicer.requests if name == "UpsertStream.batch"]
    assert [len(b.points) for b in batches] == [10, 10]


def test_import_points_server_error_midway(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    servicer.fail_stream_at_batch = 2
    seen: List[Tuple[int, int]] = []
    with sextant.Client(address) as c:
        with pytest.raises(sextant.InvalidArgumentError, match="wrong dimension"):
            sextant.Collection(c, "docs").import_points(
                range(30), np.zeros((30, 2)), batch_size=10, progress=False,
                on_progress=lambda b, p: seen.append((b, p)),
            )
    assert seen == [(1, 10)]


def test_import_points_checks_lengths_first(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        with pytest.raises(sextant.InvalidArgumentError, match="2 vectors for 3 ids"):
            col.import_points([1, 2, 3], np.zeros((2, 4)))
        with pytest.raises(sextant.InvalidArgumentError, match="2-D"):
            col.import_points([1, 2, 3], np.zeros(3))
        with pytest.raises(sextant.InvalidArgumentError, match="1 payloads for 3 ids"):
            col.import_points([1, 2, 3], np.zeros((3, 4)), [{}])
        with pytest.raises(sextant.InvalidArgumentError, match="batch_size"):
            col.import_points([1], np.zeros((1, 4)), batch_size=0)
    assert servicer.requests == []


def test_scan_follows_cursors(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake

    def page(ids: List[int], cursor: str) -> pb.ScanResponse:
        return pb.ScanResponse(
            points=[pb.Point(id=pb.PointId(num=i), payload='{"i":%d}' % i) for i in ids], next_cursor=cursor
        )

    servicer.scan_pages = [page([1, 2], "c1"), page([3, 4], "c2"), page([5], "")]
    with sextant.Client(address) as c:
        points = list(sextant.Collection(c, "docs").scan(filter={"i": {"$gt": 0}}, page_size=2))
    assert [p.id for p in points] == [1, 2, 3, 4, 5]
    assert points[0] == sextant.Point(1, None, {"i": 1})
    scans = [r for name, r in servicer.requests if name == "Scan"]
    assert [r.cursor for r in scans] == ["", "c1", "c2"]
    assert all(r.limit == 2 and r.filter == '{"i":{"$gt":0}}' and not r.with_vector for r in scans)


def test_search_and_search_batch(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        hits = col.search(np.array([1.0, 2.0]), k=3, filter='{"g": 1}', ef_search=50, exact=True)
        assert hits == [sextant.Hit(4, 0.25, {"g": 1}, None)]
        req = last(servicer, "Search")
        assert np.frombuffer(req.vector_f32, dtype="<f4").tolist() == [1, 2]
        assert (req.params.k, req.params.filter, req.params.ef_search, req.params.exact) == (3, '{"g": 1}', 50, True)
        assert req.params.with_payload and not req.params.with_vector
        result = col.search([1, 2], return_plan=True, with_payload=False)
        hits, plan = result
        assert hits == [sextant.Hit(4, 0.25, None, None)]
        assert result.plan.kind == "exact" and plan.index == "Flat"
        batch = col.search_batch([[1, 2], [3, 4], [5, 6]], k=1)
        assert [[h.id for h in r] for r in batch] == [["q0"], ["q1"], ["q2"]]
        assert np.frombuffer(last(servicer, "SearchBatch").vectors_f32, dtype="<f4").tolist() == [1, 2, 3, 4, 5, 6]
        with pytest.raises(sextant.InvalidArgumentError, match="use search_batch"):
            col.search([[1, 2]])  # type: ignore[list-item]


def test_drop_collection_missing_ok(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        assert c.drop_collection("docs") is True
        servicer.fail = (grpc.StatusCode.NOT_FOUND, "no collection 'docs'")
        assert c.drop_collection("docs", missing_ok=True) is False
        with pytest.raises(sextant.NotFoundError):
            c.drop_collection("docs")
        servicer.fail = (grpc.StatusCode.PERMISSION_DENIED, "read-only key")
        with pytest.raises(sextant.PermissionDeniedError):
            c.drop_collection("docs", missing_ok=True)


def test_closed_client(fake: Tuple[FakeSextant, str]) -> None:
    _, address = fake
    c = sextant.Client(address)
    c.close()
    c.close()  # twice is fine
    with pytest.raises(ValueError, match="closed"):
        c.server_info()
    with pytest.raises(ValueError, match="closed"):
        sextant.Collection(c, "docs").import_points([1], [[1.0]])


def test_nothing_listening_is_unavailable() -> None:
    # A port that was free a moment ago; nothing listens there.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with sextant.Client(f"127.0.0.1:{port}", timeout=20) as c:
        with pytest.raises(sextant.UnavailableError):
            c.server_info()


def test_deadline_exceeded(fake: Tuple[FakeSextant, str]) -> None:
    # The fake never answers; only the client's deadline can end the call.
    servicer, address = fake
    servicer.hold = True
    with sextant.Client(address, timeout=0.2) as c:
        with pytest.raises(sextant.DeadlineExceededError):
            c.server_info()


# ---------------------------------------------------------------- text collections (RAG)


def test_create_text_collection_request(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        c.create_collection("faq", embedder="hash")
        req = last(servicer, "CreateCollection")
        assert req.HasField("text") and (req.dimension, req.metric) == (0, pb.METRIC_COSINE)
        assert (req.text.embedder.kind, req.text.embedder.dimension) == ("hash", 0)
        assert not req.HasField("index")  # the server's default for a text collection (HNSW16)
        c.create_collection("faq", embedder="hash", ef_search=99)
        req = last(servicer, "CreateCollection")
        assert (req.index.spec, req.index.ef_search) == ("HNSW16", 99)

        c.create_collection("faq", dimension=256, embedder="hash", chunk_tokens=64, overlap_tokens=8,
                            markdown=True, index="Flat", properties={"owner": "me"})
        req = last(servicer, "CreateCollection")
        assert (req.dimension, req.text.embedder.dimension, req.index.spec) == (256, 256, "Flat")
        assert (req.text.chunking.chunk_tokens, req.text.chunking.overlap_tokens, req.text.chunking.markdown) == (64, 8, True)
        assert req.properties == '{"owner":"me"}'

        c.create_collection("faq", embedder={"local": {"model": "all-MiniLM-L6-v2"}}, tokens="WordPiece")
        req = last(servicer, "CreateCollection")
        assert (req.text.embedder.kind, req.text.embedder.local_model, req.text.chunking.tokens) == (
            "local", "all-MiniLM-L6-v2", "wordpiece")

        c.create_collection("faq", embedder={"openai": {"base_url": "http://h/v1", "model": "m", "dimension": 8}})
        e = last(servicer, "CreateCollection").text.embedder
        assert (e.kind, e.openai_base_url, e.openai_model, e.dimension) == ("openai", "http://h/v1", "m", 8)

        config = sextant.EmbedderConfig(kind="hash", dimension=128)
        c.create_collection("faq", embedder=config)
        assert last(servicer, "CreateCollection").text.embedder.dimension == 128
        c.create_collection("faq", embedder={"kind": "hash", "dimension": 64})
        assert last(servicer, "CreateCollection").text.embedder.dimension == 64

        # A vector collection carries no text options.
        c.create_collection("vec", 4)
        req = last(servicer, "CreateCollection")
        assert not req.HasField("text") and req.index.spec == "Flat"

        sent = len(servicer.requests)
        for kwargs, message in [
            ({}, "dimension: required"),
            ({"dimension": 4, "chunk_tokens": 10}, "chunk_tokens: only for a text collection"),
            ({"embedder": "hash", "metric": "l2"}, "always cosine"),
            ({"embedder": "bert"}, "unknown kind 'bert'"),
            ({"embedder": {"hash": {"model": "x"}}}, "takes no option 'model'"),
            ({"embedder": {"hash": {}, "local": {}}}, "one key"),
            ({"embedder": {"hash": {"dimension": 64}}, "dimension": 32}, "differs"),
            ({"embedder": "hash", "tokens": "chars"}, "tokens"),
            ({"embedder": "hash", "chunk_tokens": -1}, "chunk_tokens"),
            ({"embedder": 3}, "embedder: expected"),
        ]:
            with pytest.raises(sextant.InvalidArgumentError, match=message):
                c.create_collection("faq", **kwargs)  # type: ignore[arg-type]
        assert len(servicer.requests) == sent  # refused before sending


def test_describe_text_collection(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    servicer.describe_reply = pb.CollectionInfo(
        name="faq", dimension=384, metric=pb.METRIC_COSINE, properties='{"sextant.text":{"kind":"hash"}}',
        text=pb.TextOptions(embedder=pb.EmbedderConfig(kind="hash", dimension=384),
                            chunking=pb.ChunkingConfig(chunk_tokens=256, overlap_tokens=32),
                            embedder_spec="hash:384:v1"),
    )
    with sextant.Client(address) as c:
        info = c.collection("faq").describe()
    assert info.is_text and info.text is not None
    assert info.text.embedder == sextant.EmbedderConfig(kind="hash", dimension=384)
    assert (info.text.chunk_tokens, info.text.overlap_tokens, info.text.embedder_spec) == (256, 32, "hash:384:v1")
    assert info.properties == {"sextant.text": {"kind": "hash"}}
    servicer.describe_reply = pb.CollectionInfo(name="vec", dimension=2, metric=pb.METRIC_L2)
    with sextant.Client(address) as c:
        info = c.collection("vec").describe()
    assert not info.is_text and info.text is None and info.properties == {}


def test_ingest_streams_batches(fake: Tuple[FakeSextant, str], capsys: pytest.CaptureFixture[str]) -> None:
    servicer, address = fake
    seen: List[sextant.IngestResult] = []
    docs = ({"id": f"d{i}", "text": "one two", "metadata": {"i": i}} for i in range(4))
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        result = col.ingest(
            list(docs) + [("d4", "three"), ("d5", "four", '{"x":1}')], batch_size=2,
            progress=False, on_progress=seen.append, sync=True,
        )
    assert result == sextant.IngestResult(documents=6, chunks=10, replaced_chunks=1)
    assert [s.documents for s in seen] == [2, 4, 6]
    batches = [r for name, r in servicer.requests if name == "IngestDocuments.batch"]
    assert [len(b.documents) for b in batches] == [2, 2, 2]
    assert all(b.collection == "faq" and b.sync for b in batches)
    assert [(d.id, d.text, d.metadata) for d in batches[0].documents] == [
        ("d0", "one two", '{"i":0}'), ("d1", "one two", '{"i":1}')]
    assert [(d.id, d.metadata) for d in batches[2].documents] == [("d4", ""), ("d5", '{"x":1}')]
    assert capsys.readouterr().err == ""


def test_ingest_generator_and_progress_bar(fake: Tuple[FakeSextant, str], capsys: pytest.CaptureFixture[str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        col.ingest([{"id": str(i), "text": "x"} for i in range(3)], batch_size=2, progress=True)
        assert "3/3" in capsys.readouterr().err
        # A generator has no length: read lazily, the bar counts without a total.
        result = col.ingest(({"id": str(i), "text": "x y"} for i in range(5)), batch_size=4, progress=False)
        assert (result.documents, result.chunks) == (5, 10)
        # Nothing to ingest: no batch is sent.
        before = len([r for n, r in servicer.requests if n == "IngestDocuments.batch"])
        assert col.ingest([], progress=False) == sextant.IngestResult(0, 0, 0)
        assert len([r for n, r in servicer.requests if n == "IngestDocuments.batch"]) == before


def test_ingest_bad_document_later_keeps_earlier_batches(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    docs: List[Any] = [{"id": f"d{i}", "text": "t"} for i in range(5)]
    docs[3] = {"id": "d3", "text": "t", "metadata": 7}
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        with pytest.raises(sextant.InvalidArgumentError, match=r"documents\[3\]\.metadata"):
            col.ingest(docs, batch_size=2, progress=False)
        batches = [r for name, r in servicer.requests if name == "IngestDocuments.batch"]
        assert [len(b.documents) for b in batches] == [2]
        bad: Any
        for bad, message in [
            ({"id": 1, "text": "t"}, r"documents\[0\]\.id: a document id is a str"),
            ({"id": "a", "text": b"t"}, r"documents\[0\]\.text"),
            ({"id": "a"}, "needs 'id' and 'text'"),
            ({"id": "a", "text": "t", "meta": {}}, "unknown key 'meta'"),
            ("just text", "a document is a dict"),
        ]:
            with pytest.raises(sextant.InvalidArgumentError, match=message):
                col.ingest([bad], progress=False)
        with pytest.raises(sextant.InvalidArgumentError, match="documents: expected a list"):
            col.ingest("doc", progress=False)  # type: ignore[arg-type]
        with pytest.raises(sextant.InvalidArgumentError, match="batch_size"):
            col.ingest([], batch_size=0)


def test_ingest_server_error_midway(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    servicer.fail_stream_at_batch = 2
    seen: List[sextant.IngestResult] = []
    with sextant.Client(address) as c:
        with pytest.raises(sextant.InvalidArgumentError, match="not a JSON object"):
            sextant.Collection(c, "faq").ingest(
                [{"id": f"d{i}", "text": "t"} for i in range(6)], batch_size=2, progress=False,
                on_progress=seen.append)
    assert [s.documents for s in seen] == [2]


def test_delete_documents_and_embed(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        assert col.delete_documents(["a", "b"]) == 4
        assert list(last(servicer, "DeleteDocuments").document_ids) == ["a", "b"]
        assert col.delete_documents("a") == 2
        with pytest.raises(sextant.InvalidArgumentError, match=r"document_ids\[1\]"):
            col.delete_documents(["a", 2])  # type: ignore[list-item]

        vectors = col.embed(["x", "y"])
        assert vectors.dtype == np.float32 and vectors.shape == (2, 3)
        assert vectors.tolist() == [[0, 1, 2], [10, 11, 12]]
        assert list(last(servicer, "Embed").texts) == ["x", "y"]
        one = col.embed("x")
        assert one.shape == (3,)
        with pytest.raises(sextant.InvalidArgumentError, match=r"texts\[0\]"):
            col.embed([1])  # type: ignore[list-item]


def _ask_replies() -> List[pb.AskResponse]:
    answer = pb.AskAnswer(
        answer="Use reversed() [1].",
        citations=[
            pb.Citation(number=1, document_id="lists", chunk=0, score=0.9, text="Use reversed().",
                        begin=0, end=15, cited=True),
            pb.Citation(number=2, document_id="dicts", chunk=2, score=0.5, text="Dicts map.", begin=40, end=50),
        ],
        timings=pb.AskTimings(embed_ms=1, retrieve_ms=2, generate_ms=3, total_ms=6.5),
        generator="extractive", embedder_spec="hash:384:v1",
    )
    return [pb.AskResponse(token="Use "), pb.AskResponse(token="reversed() [1]."), pb.AskResponse(answer=answer)]


def test_ask(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    servicer.ask_replies = _ask_replies()
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        ans = col.ask("how to reverse?", k=3, filter={"metadata.lang": "en"}, generator="extractive",
                      max_prompt_tokens=500, ef_search=40, system_template="S {context}")
    req = last(servicer, "Ask")
    assert (req.collection, req.question, req.k, req.filter, req.generator, req.stream) == (
        "faq", "how to reverse?", 3, '{"metadata.lang":"en"}', "extractive", False)
    assert (req.max_prompt_tokens, req.ef_search, req.system_template, req.user_template) == (500, 40, "S {context}", "")
    assert isinstance(ans, sextant.Answer) and ans.answer == "Use reversed() [1]." and str(ans) == ans.answer
    first = ans.citations[0]
    assert first.score == pytest.approx(0.9)
    assert first == sextant.Citation(1, "lists", 0, first.score, "Use reversed().", 0, 15, True)
    assert [c.document_id for c in ans.cited] == ["lists"]
    assert ans.timings == sextant.AskTimings(1, 2, 3, 6.5)
    assert (ans.generator, ans.embedder_spec) == ("extractive", "hash:384:v1")


def test_ask_stream(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    servicer.ask_replies = _ask_replies()
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "faq")
        stream = col.ask("how to reverse?", stream=True)
        pieces = []
        for piece in stream:
            pieces.append(piece)
            assert not stream.done
        assert pieces == ["Use ", "reversed() [1]."] and last(servicer, "Ask").stream
        assert stream.done and "".join(pieces) == stream.answer == stream.text
        assert [x.number for x in stream.citations] == [1, 2] and stream.timings.total_ms == 6.5
        assert stream.result.generator == stream.generator == "extractive"
        assert list(stream) == []  # exhausted

        # Reading the answer first consumes the stream.
        stream = col.ask("how to reverse?", stream=True)
        assert stream.answer == "Use reversed() [1]." and list(stream) == []

        # A stream that ends without the final answer is an error, not a silent short answer.
        servicer.ask_replies = _ask_replies()[:2]
        with pytest.raises(sextant.SextantError, match="without an answer"):
            list(col.ask("q", stream=True))

        servicer.fail = (grpc.StatusCode.FAILED_PRECONDITION, "collection 'faq' is not a text collection")
        with pytest.raises(sextant.FailedPreconditionError, match="not a text collection"):
            col.ask("q")
        with pytest.raises(sextant.FailedPreconditionError):
            list(col.ask("q", stream=True))
        servicer.fail = None

        with pytest.raises(sextant.InvalidArgumentError, match="k"):
            col.ask("q", k=0)
        with pytest.raises(sextant.InvalidArgumentError, match="question"):
            col.ask(None)  # type: ignore[call-overload]


def test_consistency_tokens_travel_with_the_session(fake: Tuple[FakeSextant, str]) -> None:
    servicer, address = fake
    with sextant.Client(address) as c:
        col = sextant.Collection(c, "docs")
        other = sextant.Collection(c, "other")
        assert c.consistency_token("docs") == ""
        col.search([0.0, 1.0])
        assert last(servicer, "Search").consistency_token == ""  # nothing written yet
        servicer.write_token = "v1.7.3.0"
        col.upsert([1], [[1, 2]])
        assert last(servicer, "Upsert").consistency_token == ""
        assert c.consistency_token("docs") == "v1.7.3.0"
        # Reads and writes of that collection carry it; other collections do not.
        col.search([0.0, 1.0])
        assert last(servicer, "Search").consistency_token == "v1.7.3.0"
        other.search([0.0, 1.0])
        assert last(servicer, "Search").consistency_token == ""
        servicer.write_token = "v1.7.3.5"
        col.delete(ids=[1])
        assert last(servicer, "Delete").consistency_token == "v1.7.3.0"
        assert c.consistency_token("docs") == "v1.7.3.5"
        # A stream sends it on its first message and keeps the last answer's.
        servicer.write_token = "v1.7.9.5"
        col.import_points(range(4), np.zeros((4, 2)), batch_size=2, progress=False)
        batches = [r for name, r in servicer.requests if name == "UpsertStream.batch"]
        assert [b.consistency_token for b in batches] == ["v1.7.3.5", ""]
        assert c.consistency_token("docs") == "v1.7.9.5"
        # A single node answers "": the session stays as it was.
        servicer.write_token = ""
        col.upsert([2], [[1, 2]])
        assert c.consistency_token("docs") == "v1.7.9.5"
        with pytest.raises(TypeError):
            c.set_consistency_token("docs", None)  # type: ignore[arg-type]
    # Carried to another client (another node) by hand.
    with sextant.Client(address) as c2:
        c2.set_consistency_token("docs", "v1.7.9.5")
        sextant.Collection(c2, "docs").search([0.0, 1.0])
        assert last(servicer, "Search").consistency_token == "v1.7.9.5"
        c2.set_consistency_token("docs", "")
        sextant.Collection(c2, "docs").search([0.0, 1.0])
        assert last(servicer, "Search").consistency_token == ""
