"""sextant.AsyncClient against a real sextantd: the same calls as the synchronous client, awaited."""

from __future__ import annotations

import asyncio
from typing import List

import numpy as np
import pytest

import sextant
from conftest import Sextantd

pytest.importorskip("pytest_asyncio", reason="pytest-asyncio is not installed (pip install 'sextant-client[test]')")


@pytest.mark.asyncio
async def test_async_round_trip(server: Sextantd, name: str) -> None:
    async with sextant.AsyncClient(server.address, timeout=60) as c:
        info = await c.server_info()
        assert info.version
        col = await c.create_collection(name, dimension=3, metric="l2", payload_indexes={"g": "integer"})
        assert isinstance(col, sextant.AsyncCollection)
        assert await col.upsert([1, 2, 3], np.eye(3, dtype=np.float32), [{"g": 1}, {"g": 2}, {"g": 1}]) == 3
        assert await col.count() == 3 and await col.count({"g": 1}) == 2
        p = await col.get(2)
        assert p.id == 2 and p.vector == [0.0, 1.0, 0.0] and p.payload == {"g": 2}
        many = await col.get([3, 42])
        assert many[0] is not None and many[0].id == 3 and many[1] is None
        hits = await col.search([1, 0, 0], k=2, with_payload=["g"])
        assert [h.id for h in hits] == [1, 2] or hits[0].id == 1
        assert hits[0].payload == {"g": 1}
        batch = await col.search_batch([[1, 0, 0], [0, 0, 1]], k=1, return_plan=True)
        assert [r.hits[0].id for r in batch] == [1, 3]
        grouped = await col.search_batch([[1, 0, 0]], k=2, group_by="g", score_threshold=10.0)
        assert [[h.group for h in hits] for hits in grouped] == [[1, 2]]
        with pytest.raises(sextant.InvalidArgumentError, match="fusion"):
            await col.search_batch([[1, 0, 0]], text="x", fusion="borda")
        assert await col.set_payload({"t": "x"}, filter={"g": 1}) == 2
        assert await col.overwrite_payload({"g": 5}, ids=2) == 1
        assert await col.delete_payload_keys("t", ids=[1, 3]) == 2
        assert (await col.get(1)).payload == {"g": 1}
        assert await col.update_vectors([3], [[9, 9, 9]]) == 1
        assert (await col.search([9, 9, 9], k=1))[0].id == 3
        assert await col.import_points(list(range(10, 110)), np.ones((100, 3), dtype=np.float32), batch_size=30) == 100
        ids: List[object] = [p.id async for p in col.scan(page_size=7)]
        assert len(ids) == 103 and ids[:3] == [1, 2, 3]
        assert await col.delete(filter={"g": 5}) == 1
        assert (await col.describe()).count == 102

        await c.create_alias(name + "_live", name)
        assert (name + "_live", name) in await c.list_aliases()
        live = await c.collection(name + "_live")
        assert await live.count() == 102
        await c.update_aliases([("delete", name + "_live")])
        assert await c.list_aliases(name) == []

        with pytest.raises(sextant.NotFoundError):
            await col.get(999)
        with pytest.raises(sextant.NotFoundError):
            await c.collection(name + "_missing")
        with pytest.raises(sextant.InvalidArgumentError):
            await col.search([1, 0], k=1)
        assert await c.drop_collection(name)
        assert not await c.drop_collection(name, missing_ok=True)
    with pytest.raises(ValueError, match="closed"):
        await col.count()


@pytest.mark.asyncio
async def test_async_concurrent_calls_and_text(server: Sextantd, name: str) -> None:
    async with sextant.AsyncClient(server.address) as c:
        col = await c.create_collection(name, dimension=4)
        vectors = np.random.default_rng(1).standard_normal((200, 4)).astype(np.float32)
        await col.upsert(list(range(200)), vectors)
        results = await asyncio.gather(*[col.search(v, k=1) for v in vectors[:50]])
        assert [r[0].id for r in results] == list(range(50))

        faq = await c.create_collection(name + "_faq", embedder="hash")
        r = await faq.ingest([{"id": "d1", "text": "Sextant stores vectors and payloads."}])
        assert r.documents == 1 and r.chunks >= 1
        ans = await faq.ask("What does Sextant store?", generator="extractive")
        assert ans.citations and ans.citations[0].document_id == "d1"
        stream = await faq.ask("What does Sextant store?", generator="extractive", stream=True)
        pieces = [p async for p in stream]
        assert "".join(pieces) == (await stream.result()).answer
        assert (await faq.embed(["a", "b"])).shape == (2, 384)
        assert await faq.delete_documents("d1") >= 1


def test_async_api_matches_the_sync_api() -> None:
    """Every public method and property of Client, Collection and AskStream exists on the async
    classes with the same parameters (the one difference: no `progress` bar in the async bulk
    calls), so that code moves between the two by adding `await`."""
    import inspect

    from sextant._aio import AsyncAskStream
    from sextant._client import AskStream

    pairs = [(sextant.Client, sextant.AsyncClient), (sextant.Collection, sextant.AsyncCollection), (AskStream, AsyncAskStream)]
    problems = []
    for sync_cls, async_cls in pairs:
        for attr, member in inspect.getmembers(sync_cls):
            if attr.startswith("_"):
                continue
            if not hasattr(async_cls, attr):
                problems.append(f"{async_cls.__name__}.{attr} is missing")
                continue
            other = getattr(async_cls, attr)
            if callable(member) and callable(other):
                want = [p for p in inspect.signature(member).parameters if p != "progress"]
                if list(inspect.signature(other).parameters) != want:
                    problems.append(f"{async_cls.__name__}.{attr}{inspect.signature(other)} != {sync_cls.__name__}.{attr}{inspect.signature(member)}")
    assert problems == []


@pytest.mark.asyncio
async def test_async_retrieve(server: Sextantd, name: str) -> None:
    async with sextant.AsyncClient(server.address, timeout=60) as c:
        col = await c.create_collection(name, embedder="hash")
        await col.ingest([{"id": "bread", "text": "Sourdough bread rises with wild yeast."},
                          {"id": "lava", "text": "Basalt lava flows are runny."}])
        chunks = await col.retrieve("sourdough yeast", k=2, retrieval="text")
        assert [c.document_id for c in chunks] == ["bread"]
        ans = await col.ask("What is the capital of Peru?", retrieval="dense", score_threshold=0.999)
        assert ans.citations == [] and "I don't know" in ans.answer
        with pytest.raises(sextant.InvalidArgumentError):
            await col.retrieve("x", retrieval="dense", score_threshold=2.0)
