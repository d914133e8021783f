"""The client against a real sextantd ($SEXTANTD; skipped without it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import pytest

import sextant
from _vecs import read_fvecs, read_ivecs
from conftest import REPO, Sextantd


def random_vectors(n: int, dim: int, seed: int) -> "np.ndarray[Any, np.dtype[np.float32]]":
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def nearest_l2(base: "np.ndarray[Any, Any]", query: "np.ndarray[Any, Any]", k: int,
               mask: Optional["np.ndarray[Any, Any]"] = None) -> List[int]:
    """Brute-force k nearest rows (squared L2 in float64), their indexes nearest first."""
    d = ((base.astype(np.float64) - query.astype(np.float64)) ** 2).sum(axis=1)
    if mask is not None:
        d = np.where(mask, d, np.inf)
    order = np.argsort(d, kind="stable")[:k]
    return [int(i) for i in order if np.isfinite(d[i])]


# ---------------------------------------------------------------- server and collections


def test_server_info(client: sextant.Client) -> None:
    info = client.server_info()
    assert re.fullmatch(r"\d+\.\d+\.\d+", info.version), info.version
    assert info.simd_level in {"scalar", "sse4", "avx2", "avx512"}
    assert info.build
    assert info.read_only is False
    assert (info.max_message_bytes, info.max_batch_points, info.max_dimension) == (64 << 20, 10000, 65536)


def test_collection_lifecycle(client: sextant.Client, name: str) -> None:
    col = client.create_collection(
        name, dimension=8, metric="l2", index="HNSW16", payload_indexes={"group": "integer"}
    )
    assert col.name == name
    info = col.describe()
    assert (info.name, info.dimension, info.metric, info.count, info.index) == (name, 8, "l2", 0, "HNSW16")
    assert info.index_state in {"ready", "building"}
    listed = client.list_collections()
    assert name in [c.name for c in listed]
    assert [c.name for c in listed] == sorted(c.name for c in listed)
    assert client.collection(name) == col
    assert client.has_collection(name)

    assert client.drop_collection(name) is True
    assert not client.has_collection(name)
    with pytest.raises(sextant.NotFoundError, match=name):
        client.collection(name)
    with pytest.raises(sextant.NotFoundError):
        client.drop_collection(name)
    assert client.drop_collection(name, missing_ok=True) is False


def test_create_errors(client: sextant.Client, name: str) -> None:
    client.create_collection(name, dimension=4, metric="l2")
    with pytest.raises(sextant.AlreadyExistsError, match=name) as info:
        client.create_collection(name, dimension=4, metric="l2")
    assert info.value.code.name == "ALREADY_EXISTS"
    with pytest.raises(sextant.InvalidArgumentError, match="name"):
        client.create_collection("bad name!", dimension=4)
    with pytest.raises(sextant.InvalidArgumentError, match="dimension"):
        client.create_collection(name + "_big", dimension=65537)
    with pytest.raises(sextant.InvalidArgumentError, match="HNSW0|index"):
        client.create_collection(name + "_idx", dimension=4, index="HNSW0")
    assert not client.has_collection(name + "_big")
    # shards/replication above 1 need a cluster (sextantd --cluster).
    with pytest.raises(sextant.InvalidArgumentError, match="cluster mode"):
        client.create_collection(name + "_sh", dimension=4, shards=3)
    with pytest.raises(sextant.InvalidArgumentError, match="cluster mode"):
        client.create_collection(name + "_rep", dimension=4, replication=2)
    client.create_collection(name + "_one", dimension=4, shards=1, replication=1)


def test_metrics(client: sextant.Client, name: str) -> None:
    cos = client.create_collection(name + "_cos", dimension=2, metric="cosine")
    cos.upsert([1, 2], [[3, 4], [0, 2]])
    # Cosine stores vectors normalised; the score is the similarity (higher is nearer).
    np.testing.assert_allclose(np.array(cos.get(1).vector), np.array([0.6, 0.8]), rtol=1e-6)
    hits = cos.search([6, 8], k=2)
    assert [h.id for h in hits] == [1, 2]
    np.testing.assert_allclose([h.score for h in hits], [1.0, 0.8], rtol=1e-5)

    ip = client.create_collection(name + "_ip", dimension=2, metric="inner_product")
    ip.upsert([1, 2], [[3, 4], [0, 2]])
    hits = ip.search([1, 1], k=2)
    assert [(h.id, h.score) for h in hits] == [(1, 7.0), (2, 2.0)]
    assert client.collection(name + "_ip").describe().metric == "inner_product"


# ---------------------------------------------------------------- points


def test_upsert_get_count_delete(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, dimension=4, metric="l2", payload_indexes={"group": "integer"})
    vectors = random_vectors(23, 4, seed=1)
    ids: List[sextant.PointId] = list(range(20)) + ["a", "b", "7"]
    payloads: List[Optional[Dict[str, Any]]] = [{"group": i % 3, "name": f"p{i}"} for i in range(20)]
    payloads += [None, {"group": 0, "name": "béta", "big": 2**64 - 1}, {"group": 1}]
    assert col.upsert(ids, vectors, payloads) == 23
    assert col.count() == 23

    p7, s7 = col.get(7), col.get("7")  # the number 7 and the string "7" are different points
    assert p7.id == 7 and s7.id == "7"
    assert p7.vector == vectors[7].tolist() and s7.vector == vectors[22].tolist()
    assert p7.payload == {"group": 1, "name": "p7"}
    assert col.get("a").payload == {}
    assert col.get("b").payload == {"group": 0, "name": "béta", "big": 2**64 - 1}

    # Upsert replaces; lists and float64 arrays are the same on the wire.
    assert col.upsert([5], [vectors[0].tolist()], [{"group": 99}]) == 1
    assert col.upsert([6], vectors[:1].astype(np.float64)) == 1
    assert col.get(5).vector == col.get(6).vector == vectors[0].tolist()
    assert col.get(5).payload == {"group": 99}
    assert col.get(6).payload == {}
    assert col.count() == 23

    # The largest numeric id and a long UTF-8 string id.
    long_id = "ü" * 256  # 512 bytes
    col.upsert([2**64 - 1, long_id], vectors[:2])
    assert col.get(2**64 - 1).id == 2**64 - 1
    assert col.get(long_id).id == long_id
    assert col.delete([2**64 - 1, long_id]) == 2

    # Delete by ids skips absent ones.
    assert col.delete([0, 1, "a", 1000, "zzz"]) == 3
    assert col.count() == 20
    with pytest.raises(sextant.NotFoundError):
        col.get(0)
    # Delete by filter.
    remaining_group_2 = sum(1 for i in range(2, 20) if i % 3 == 2 and i != 5)
    assert col.delete(filter={"group": 2}) == remaining_group_2
    assert col.delete(filter='{"group": 2}') == 0
    assert col.count() == 20 - remaining_group_2
    # Every point left has a group in {0, 1, 99} except 6, whose payload was replaced by none.
    left = col.count()
    assert col.delete(filter={"group": {"$in": [0, 1, 99]}}) == left - 1
    assert [p.id for p in col.scan()] == [6]


def test_invalid_arguments_from_the_server(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, dimension=4, metric="l2")
    with pytest.raises(sextant.InvalidArgumentError, match="dimension") as info:
        col.upsert([1], [[1, 2, 3, 4, 5]])
    assert info.value.code.name == "INVALID_ARGUMENT"
    with pytest.raises(sextant.InvalidArgumentError, match="dimension"):
        col.search([1, 2, 3])
    with pytest.raises(sextant.InvalidArgumentError, match="filter"):
        col.search([1, 2, 3, 4], filter='{"a": }')
    with pytest.raises(sextant.InvalidArgumentError, match="filter"):
        col.delete(filter={"x": {"$gt": True}})
    with pytest.raises(sextant.InvalidArgumentError, match="payload"):
        col.upsert([1], [[1, 2, 3, 4]], ["[1, 2]"])
    with pytest.raises(sextant.InvalidArgumentError):
        col.upsert([""], [[1, 2, 3, 4]])  # string ids are 1..512 bytes
    with pytest.raises(sextant.InvalidArgumentError):
        col.upsert(["x" * 513], [[1, 2, 3, 4]])
    assert col.count() == 0  # nothing of a refused batch was written


def test_unknown_collection(client: sextant.Client) -> None:
    col = sextant.Collection(client, "no_such_collection")
    for call in (col.count, col.describe, lambda: col.get(1), lambda: col.search([1.0]),
                 lambda: col.upsert([1], [[1.0]]), lambda: col.delete([1])):
        with pytest.raises(sextant.NotFoundError, match="no_such_collection"):
            call()


def test_batch_limit(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, dimension=2, metric="l2")
    with pytest.raises(sextant.ResourceExhaustedError, match="10000"):
        col.upsert(range(10001), np.zeros((10001, 2)))
    # import_points splits the same input into batches the server takes.
    assert col.import_points(range(10001), np.zeros((10001, 2)), progress=False) == 10001


def test_scan_paging(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, dimension=3, metric="l2")
    n = 2500
    order = np.random.default_rng(2).permutation(n)
    vectors = random_vectors(n, 3, seed=3)
    col.upsert([int(i) for i in order], vectors[order], [{"g": int(i) % 4} for i in order])
    points = list(col.scan(page_size=1000))
    assert [p.id for p in points] == list(range(n))
    assert all(p.vector is None and p.payload == {"g": p.id % 4} for p in points)
    with_vectors = list(col.scan(page_size=333, with_vector=True))
    assert [p.id for p in with_vectors] == list(range(n))
    assert all(p.vector == vectors[p.id].tolist() for p in with_vectors)  # type: ignore[index]
    filtered = list(col.scan(filter={"g": 1}, page_size=100))
    assert [p.id for p in filtered] == list(range(1, n, 4))
    assert list(col.scan(filter={"g": 7})) == []


# ---------------------------------------------------------------- search


def test_search_flat(client: sextant.Client, name: str) -> None:
    n, dim = 1000, 16
    base = random_vectors(n, dim, seed=4)
    queries = random_vectors(5, dim, seed=5)
    col = client.create_collection(name, dimension=dim, metric="l2", payload_indexes={"group": "integer"})
    col.upsert(range(n), base, [{"group": i % 5} for i in range(n)])
    groups = np.arange(n) % 5

    for q in queries:
        hits = col.search(q, k=10)
        expected = nearest_l2(base, q, 10)
        assert [h.id for h in hits] == expected
        np.testing.assert_allclose([h.score for h in hits], ((base[expected] - q) ** 2).sum(axis=1), rtol=1e-4)
        assert all(h.payload == {"group": h.id % 5} and h.vector is None for h in hits)

        filtered = col.search(q, k=10, filter={"group": 2})
        assert [h.id for h in filtered] == nearest_l2(base, q, 10, groups == 2)

    q = queries[0]
    bare = col.search(q.tolist(), k=3, with_payload=False, with_vector=True)
    assert all(h.payload is None and h.vector == base[h.id].tolist() for h in bare)  # type: ignore[index]

    hits, plan = col.search(q, k=10, filter={"group": 2}, return_plan=True)
    assert (plan.kind, plan.index, plan.matches) == ("exact", "Flat", 200)
    assert col.search(q, k=10, return_plan=True).plan.matches == n

    # Fewer hits than k when fewer points match.
    assert len(col.search(q, k=10, filter={"$and": [{"group": 2}, {"group": {"$lt": 2}}]})) == 0
    assert len(col.search(q, k=5000)) == n

    batch = col.search_batch(queries, k=10, filter={"group": {"$in": [1, 3]}})
    assert batch == [col.search(v, k=10, filter={"group": {"$in": [1, 3]}}) for v in queries]
    batch_plans = col.search_batch(queries.tolist(), k=4, return_plan=True)
    assert [r.hits for r in batch_plans] == [col.search(v, k=4) for v in queries]
    assert all(r.plan.index == "Flat" for r in batch_plans)


def test_search_hnsw_options(client: sextant.Client, name: str) -> None:
    n, dim = 3000, 16
    base = random_vectors(n, dim, seed=6)
    queries = random_vectors(20, dim, seed=7)
    col = client.create_collection(name, dimension=dim, metric="l2", index="HNSW16")
    col.import_points(range(n), base, progress=False)
    assert col.wait_for_index().index_state == "ready"

    low = col.search(queries[0], k=10, ef_search=20, return_plan=True).plan
    high = col.search(queries[0], k=10, ef_search=300, return_plan=True).plan
    assert low.kind == high.kind == "index" and high.index == "HNSW16"
    assert high.effort >= 300 > low.effort
    assert high.distance_computations > low.distance_computations

    exact = col.search(queries[0], k=10, exact=True, return_plan=True)
    assert exact.plan.kind == "exact"
    assert [h.id for h in exact.hits] == nearest_l2(base, queries[0], 10)

    found = sum(
        len({h.id for h in hits} & set(nearest_l2(base, q, 10)))
        for q, hits in zip(queries, col.search_batch(queries, k=10, ef_search=200))
    )
    assert found / (10 * len(queries)) >= 0.9


def test_set_index(client: sextant.Client, name: str) -> None:
    n, dim = 2000, 8
    base = random_vectors(n, dim, seed=8)
    col = client.create_collection(name, dimension=dim, metric="l2")
    col.import_points(range(n), base, progress=False)
    info = col.set_index("HNSW16", wait=True, ef_search=100)
    assert (info.index, info.index_state, info.count) == ("HNSW16", "ready", n)
    assert col.search(base[3], k=1, return_plan=True).plan.index == "HNSW16"
    assert col.rebuild_index(wait=True).index_state == "ready"
    with pytest.raises(sextant.InvalidArgumentError):
        col.set_index("NoSuchIndex")
    info = col.set_index("IVF16", wait=True)
    assert info.index == "IVF16" and info.index_state in {"ready", "training"}
    assert [h.id for h in col.search(base[5], k=1, nprobe=16)] == [5]


# ---------------------------------------------------------------- bulk import


def test_import_points(client: sextant.Client, name: str) -> None:
    n, dim = 5000, 8
    base = random_vectors(n, dim, seed=9)
    col = client.create_collection(name, dimension=dim, metric="l2")
    seen: List[Any] = []
    written = col.import_points(
        [f"id{i}" for i in range(n)], base, [{"i": i} for i in range(n)],
        batch_size=700, progress=False, on_progress=lambda b, p: seen.append((b, p)),
    )
    assert written == n == col.count()
    assert seen == [(b, min(700 * b, n)) for b in range(1, 9)]
    point = col.get("id4321")
    assert point.payload == {"i": 4321} and point.vector == base[4321].tolist()
    # Again from lists: upsert replaces, the count stays.
    assert col.import_points([f"id{i}" for i in range(n)], base.tolist(), progress=False) == n
    assert col.count() == n
    assert col.get("id4321").payload == {}


def test_import_stops_at_a_refused_batch(client: sextant.Client, name: str) -> None:
    col = client.create_collection(name, dimension=4, metric="l2")
    vectors = [[1.0, 2.0, 3.0, 4.0]] * 250
    vectors[200:] = [[1.0, 2.0, 3.0]] * 50  # the third batch has the wrong dimension
    with pytest.raises(sextant.InvalidArgumentError, match="dimension"):
        col.import_points(range(250), vectors, batch_size=100, progress=False)
    assert col.count() == 200
    assert sorted(p.id for p in col.scan()) == list(range(200))


KILLED_CLIENT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import sextant

    address, name, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    col = sextant.Client(address).collection(name)
    n = batch * 40
    vectors = np.random.default_rng(11).standard_normal((n, 64)).astype(np.float32)

    def acknowledged(batches, points):
        print(points, flush=True)
        if batches == 3:
            os._exit(3)  # dies with later batches in flight

    col.import_points(range(n), vectors, batch_size=batch, progress=False, on_progress=acknowledged)
    print("finished", flush=True)
    """
)


def test_killed_client_leaves_whole_batches(client: sextant.Client, name: str) -> None:
    batch = 1000
    col = client.create_collection(name, dimension=64, metric="l2")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CLIENT, client.address, name, str(batch)],
        capture_output=True, text=True, timeout=300,
    )
    assert child.returncode == 3, child.stdout + child.stderr
    acknowledged = int(child.stdout.split()[-1])
    assert acknowledged == 3 * batch
    # Whatever the server had received whole when the client died is committed; nothing of a
    # half-sent batch. Batches commit in order, so the ids are always a prefix 0..m-1.
    for _ in range(3):
        count = col.count()
        assert count % batch == 0 and count >= acknowledged, count
        ids = [p.id for p in col.scan(page_size=100000)]
        assert ids == list(range(len(ids))) and len(ids) % batch == 0


# ---------------------------------------------------------------- real data


def test_siftsmall_recall_hnsw16(client: sextant.Client, name: str, siftsmall: Path) -> None:
    base = read_fvecs(siftsmall / "siftsmall_base.fvecs")
    queries = read_fvecs(siftsmall / "siftsmall_query.fvecs")
    truth = read_ivecs(siftsmall / "siftsmall_groundtruth.ivecs")[:, :10]
    col = client.create_collection(name, dimension=128, metric="l2", index="HNSW16")
    assert col.import_points(range(len(base)), base, progress=False) == len(base)
    col.wait_for_index()
    results = col.search_batch(queries, k=10, with_payload=False)
    found = sum(len({h.id for h in hits} & set(truth[i].tolist())) for i, hits in enumerate(results))
    recall = found / truth.size
    assert recall >= 0.95, f"recall@10 {recall:.3f}"


def test_scenario_script(server: Sextantd, siftsmall: Path, tmp_path: Path) -> None:
    out = tmp_path / "python.json"
    script = REPO / "tests" / "integration" / "scenario.py"
    run = subprocess.run(
        [sys.executable, str(script), "--address", server.address, "--siftsmall", str(siftsmall), "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    n = 10000
    deleted_filter = sum(1 for i in range(n) if i % 10 == 9 and i % 7 != 0)
    assert result["count_after_upsert"] == n
    assert result["deleted_ids"] == 1429
    assert result["deleted_filter"] == deleted_filter
    assert result["count_final"] == n - 1429 - deleted_filter
    assert result["get_5"] == {"id": 5, "payload": {"group": 5, "name": "p5"}}
    assert len(result["search"]) == len(result["filtered"]) == len(result["search_after_delete"]) == 10
    assert all(len(ids) == 10 for ids in result["search"] + result["filtered"] + result["search_after_delete"])
    assert all(i % 10 == 3 for ids in result["filtered"] for i in ids)
    assert all(i % 7 != 0 and i % 10 != 9 for ids in result["search_after_delete"] for i in ids)
    truth = read_ivecs(siftsmall / "siftsmall_groundtruth.ivecs")[:10, :10]
    agree = sum(len(set(ids) & set(t.tolist())) for ids, t in zip(result["search"], truth))
    assert agree >= 99  # Flat is exact; the ground truth has a few ties


# ---------------------------------------------------------------- servers of their own


def test_api_keys(sextantd_binary: str, tmp_path: Path) -> None:
    s = Sextantd(sextantd_binary, tmp_path, ["--api-key", "secret", "--read-only-key", "ro"]).start()
    try:
        with sextant.Client(s.address) as anonymous:
            with pytest.raises(sextant.UnauthenticatedError):
                anonymous.list_collections()
        with sextant.Client(s.address, api_key="wrong") as wrong:
            with pytest.raises(sextant.UnauthenticatedError):
                wrong.create_collection("docs", dimension=2)
        with sextant.Client(s.address, api_key="secret") as rw:
            assert rw.server_info().read_only is False
            col = rw.create_collection("docs", dimension=2, metric="l2")
            col.upsert([1, 2], [[0, 0], [1, 1]])
        with sextant.Client(s.address, api_key="ro") as ro:
            assert ro.server_info().read_only is True
            col = ro.collection("docs")
            assert col.count() == 2
            assert [h.id for h in col.search([0.9, 0.9], k=1)] == [2]
            with pytest.raises(sextant.PermissionDeniedError):
                col.upsert([3], [[2, 2]])
            with pytest.raises(sextant.PermissionDeniedError):
                col.import_points([3], [[2, 2]], progress=False)
            with pytest.raises(sextant.PermissionDeniedError):
                col.delete([1])
            with pytest.raises(sextant.PermissionDeniedError):
                ro.create_collection("other", dimension=2)
            with pytest.raises(sextant.PermissionDeniedError):
                ro.drop_collection("docs")
            assert col.count() == 2
    finally:
        assert s.stop() == 0, s.log()


def test_limits(sextantd_binary: str, tmp_path: Path) -> None:
    s = Sextantd(sextantd_binary, tmp_path,
                 ["--max-batch-points", "100", "--max-dimension", "64", "--max-message-bytes", "1000000"]).start()
    try:
        with sextant.Client(s.address) as c:
            info = c.server_info()
            assert (info.max_batch_points, info.max_dimension, info.max_message_bytes) == (100, 64, 1000000)
            with pytest.raises(sextant.InvalidArgumentError, match="64"):
                c.create_collection("wide", dimension=65)
            col = c.create_collection("docs", dimension=64, metric="l2")
            with pytest.raises(sextant.ResourceExhaustedError, match="100"):
                col.upsert(range(101), np.zeros((101, 64)))
            with pytest.raises(sextant.ResourceExhaustedError):
                col.upsert([1], [np.zeros(64)], [{"text": "x" * 2_000_000}])
            with pytest.raises(sextant.ResourceExhaustedError):
                col.search_batch(np.zeros((101, 64)))
            assert col.import_points(range(250), np.zeros((250, 64)), batch_size=100, progress=False) == 250
            with pytest.raises(sextant.ResourceExhaustedError):
                col.import_points(range(250), np.zeros((250, 64)), batch_size=101, progress=False)
    finally:
        assert s.stop() == 0, s.log()


def test_restart_keeps_data(sextantd_binary: str, tmp_path: Path) -> None:
    base = random_vectors(3000, 16, seed=12)
    s = Sextantd(sextantd_binary, tmp_path).start()
    try:
        with sextant.Client(s.address) as c:
            col = c.create_collection("docs", dimension=16, metric="l2", index="HNSW16",
                                      payload_indexes={"g": "integer"})
            col.import_points(range(3000), base, [{"g": i % 3} for i in range(3000)], progress=False)
            col.delete(filter={"g": 0})
            before = col.search_batch(base[:5], k=10, exact=True)
    finally:
        assert s.stop(signal.SIGTERM) == 0, s.log()
    s.start()
    try:
        with sextant.Client(s.address) as c:
            col = c.collection("docs")
            info = col.describe()
            assert (info.count, info.index, info.dimension) == (2000, "HNSW16", 16)
            assert col.get(1).payload == {"g": 1} and col.get(1).vector == base[1].tolist()
            with pytest.raises(sextant.NotFoundError):
                col.get(3)
            assert col.search_batch(base[:5], k=10, exact=True) == before
    finally:
        assert s.stop(signal.SIGINT) == 0, s.log()


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sigterm_exits_zero(sextantd_binary: str, tmp_path: Path) -> None:
    s = Sextantd(sextantd_binary, tmp_path).start()
    with sextant.Client(s.address) as c:
        c.server_info()
    assert s.stop(signal.SIGTERM) == 0, s.log()


def test_tls(sextantd_binary: str, tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )
    s = Sextantd(sextantd_binary, tmp_path, ["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    try:
        with sextant.Client(s.address, root_certificates=str(cert)) as c:
            c.create_collection("docs", dimension=2, metric="l2").upsert([1], [[1, 2]])
        with sextant.Client(s.address, tls=True, root_certificates=cert.read_bytes()) as c:
            assert c.collection("docs").count() == 1
        # Plain text to a TLS port, and TLS that does not trust the certificate, both fail.
        with sextant.Client(s.address, timeout=30) as plain:
            with pytest.raises(sextant.UnavailableError):
                plain.server_info()
        with sextant.Client(s.address, tls=True, timeout=30) as untrusted:
            with pytest.raises(sextant.UnavailableError):
                untrusted.server_info()
    finally:
        assert s.stop() == 0, s.log()
