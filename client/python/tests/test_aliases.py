"""Collection aliases against a real sextantd: create / delete / list, atomic update_aliases,
every RPC through an alias, text collections behind an alias, and a swap under concurrent
searches."""

from __future__ import annotations

import threading
from typing import List

import pytest

import sextant


def test_alias_lifecycle_and_rpcs_through_alias(client: sextant.Client, name: str) -> None:
    v1 = client.create_collection(f"{name}_v1", dimension=2, metric="l2", payload_indexes={"g": "integer"})
    v1.upsert([1, 2], [[0, 0], [1, 1]], [{"g": 1}, {"g": 2}])
    alias = f"{name}_live"
    client.create_alias(alias, v1.name)
    assert (alias, v1.name) in client.list_aliases()
    assert client.list_aliases(v1.name) == [(alias, v1.name)]
    assert all(c.name != alias for c in client.list_collections())

    live = client.collection(alias)
    assert live.name == alias
    assert live.describe().name == v1.name
    assert live.count() == 2 and live.count({"g": 1}) == 1
    assert live.get(1).id == 1 and live.get([1, 9])[1] is None
    assert [h.id for h in live.search([0, 0], k=1)] == [1]
    assert len(live.search_batch([[0, 0], [1, 1]], k=1)) == 2
    live.upsert([3], [[2, 2]])
    assert live.import_points([4, 5], [[3, 3], [4, 4]]) == 2
    assert live.set_payload({"tag": 1}, ids=[3]) == 1
    assert live.delete([5]) == 1
    assert [p.id for p in live.scan()] == [1, 2, 3, 4]
    assert v1.count() == 4

    with pytest.raises(sextant.AlreadyExistsError):
        client.create_alias(alias, v1.name)
    with pytest.raises(sextant.AlreadyExistsError):
        client.create_collection(alias, dimension=2)
    with pytest.raises(sextant.NotFoundError):
        client.create_alias(f"{name}_x", f"{name}_missing")
    with pytest.raises(sextant.InvalidArgumentError, match="alias"):
        client.create_alias("bad name", v1.name)
    with pytest.raises(sextant.FailedPreconditionError, match="alias"):
        client.drop_collection(alias)
    client.delete_alias(alias)
    with pytest.raises(sextant.NotFoundError):
        client.delete_alias(alias)
    with pytest.raises(sextant.NotFoundError):
        live.count()


def test_update_aliases_atomic(client: sextant.Client, name: str) -> None:
    a = client.create_collection(f"{name}_a", dimension=2)
    b = client.create_collection(f"{name}_b", dimension=2)
    live = f"{name}_live"
    client.create_alias(live, a.name)
    client.update_aliases([("delete", live), ("create", live, b.name)])
    assert client.list_aliases(b.name) == [(live, b.name)]
    with pytest.raises(sextant.NotFoundError, match="change 2"):
        client.update_aliases([("delete", live), ("create", live, a.name), ("create", "x" + live, "nope")])
    assert client.list_aliases(b.name) == [(live, b.name)]  # nothing applied
    with pytest.raises(sextant.InvalidArgumentError, match="changes"):
        client.update_aliases([])
    with pytest.raises(sextant.InvalidArgumentError, match="changes\\[0\\]"):
        client.update_aliases([("rename", live)])
    client.drop_collection(b.name)
    assert client.list_aliases(b.name) == []


def test_text_collection_behind_alias(client: sextant.Client, name: str) -> None:
    v1 = client.create_collection(f"{name}_t1", embedder="hash")
    v2 = client.create_collection(f"{name}_t2", embedder={"hash": {"dimension": 128}})
    v1.ingest([{"id": "d1", "text": "sextant stores vectors"}])
    v2.ingest([{"id": "d2", "text": "sextant stores vectors, version two"}])
    live = f"{name}_live"
    client.create_alias(live, v1.name)
    docs = client.collection(live)
    assert docs.ask("what does sextant store?", generator="extractive").citations[0].document_id == "d1"
    assert docs.embed("x").shape == (384,)
    # Switching models: new collection, ingest, swap the alias. The embedder follows.
    client.update_aliases([("delete", live), ("create", live, v2.name)])
    assert docs.ask("what does sextant store?", generator="extractive").citations[0].document_id == "d2"
    assert docs.embed("x").shape == (128,)


def test_swap_under_concurrent_search(client: sextant.Client, name: str) -> None:
    a = client.create_collection(f"{name}_a", dimension=2, metric="l2")
    b = client.create_collection(f"{name}_b", dimension=2, metric="l2")
    a.upsert(["in-a"], [[0, 0]])
    b.upsert(["in-b"], [[0, 0]])
    live = f"{name}_live"
    client.create_alias(live, a.name)
    docs = client.collection(live)
    stop = threading.Event()
    errors: List[str] = []
    seen = set()

    def reader() -> None:
        while not stop.is_set():
            try:
                hits = docs.search([0, 0], k=1)
                if len(hits) != 1:
                    errors.append(f"{len(hits)} hits")
                else:
                    seen.add(hits[0].id)
            except sextant.SextantError as e:  # pragma: no cover - reported below
                errors.append(str(e))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            target = b.name if i % 2 == 0 else a.name
            client.update_aliases([("delete", live), ("create", live, target)])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert seen <= {"in-a", "in-b"} and seen
