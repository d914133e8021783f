"""Snapshots through the Python client: create (one collection, whole database), list, restore
(answers equal to the original's), download / upload round trip, damaged and truncated archives
(DataLossError, nothing kept), and the error paths. Runs its own sextantd with --snapshot-dir."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import sextant

from conftest import Sextantd


@pytest.fixture(scope="module")
def snap_server(sextantd_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sextantd]:
    work = tmp_path_factory.mktemp("sextantd-snapshots")
    s = Sextantd(sextantd_binary, work, ["--snapshot-dir", str(work / "snaps")]).start()
    yield s
    assert s.stop() == 0, s.log()


@pytest.fixture(scope="module")
def sc(snap_server: Sextantd) -> Iterator[sextant.Client]:
    with sextant.Client(snap_server.address, timeout=120) as c:
        yield c


def fill(c: sextant.Client, name: str, index: str, n: int = 400) -> sextant.Collection:
    rng = np.random.default_rng(5)
    col = c.create_collection(name, dimension=8, metric="l2", index=index,
                              payload_indexes={"group": "integer"})
    vectors = rng.standard_normal((n, 8)).astype(np.float32)
    col.upsert(list(range(n)), vectors, [{"group": i % 7, "name": f"p{i}"} for i in range(n)])
    col.wait_for_index()
    return col


def answers(col: sextant.Collection) -> list:
    rng = np.random.default_rng(9)
    out = []
    for q in rng.standard_normal((6, 8)).astype(np.float32):
        for flt in (None, {"group": 3}):
            hits = col.search(q, k=6, filter=flt, with_payload=True)
            out.append([(h.id, h.score, h.payload) for h in hits])
    return out


def test_snapshot_restore_download_upload(sc: sextant.Client, tmp_path: Path) -> None:
    col = fill(sc, "py_snap_docs", "HNSW8")
    fill(sc, "py_snap_other", "Flat", 50)
    before = answers(col)

    info = sc.create_snapshot("py_snap_docs")
    assert info.name.startswith("py_snap_docs-")
    assert info.scope == "collection"
    assert [c.name for c in info.collections] == ["py_snap_docs"]
    assert info.collections[0].count == 400
    assert info.collections[0].index_checkpoint
    whole = sc.create_snapshot(name="py-whole")
    assert whole.scope == "database" and whole.name == "py-whole"
    assert {c.name for c in whole.collections} >= {"py_snap_docs", "py_snap_other"}
    names = [s.name for s in sc.list_snapshots()]
    assert info.name in names and "py-whole" in names

    col.upsert([1000], [[0.5] * 8])  # after the snapshot: not in it
    restored = sc.restore_snapshot(info.name, collection="py_snap_restored")
    assert restored.describe().count == 400
    assert restored.describe().index_origin == "checkpoint"
    col.delete([1000])
    assert answers(restored) == before
    from_whole = sc.restore_snapshot("py-whole", collection="py_snap_other2", source="py_snap_other")
    assert from_whole.count() == 50

    archive = tmp_path / "docs.tar"
    size = sc.download_snapshot(info.name, archive)
    assert size == archive.stat().st_size > info.bytes
    up = sc.upload_snapshot(archive, name="py-uploaded")
    assert up.name == "py-uploaded" and up.collections[0].count == 400
    again = sc.restore_snapshot("py-uploaded", collection="py_snap_uploaded")
    assert answers(again) == before

    data = archive.read_bytes()
    (tmp_path / "half.tar").write_bytes(data[: len(data) // 2])
    with pytest.raises(sextant.DataLossError):
        sc.upload_snapshot(tmp_path / "half.tar", name="py-half")
    damaged = bytearray(data)
    damaged[len(damaged) // 2 + 3] ^= 0x20
    (tmp_path / "bad.tar").write_bytes(bytes(damaged))
    with pytest.raises(sextant.DataLossError):
        sc.upload_snapshot(tmp_path / "bad.tar", name="py-bad")
    names = [s.name for s in sc.list_snapshots()]
    assert "py-half" not in names and "py-bad" not in names

    assert sc.delete_snapshot("py-uploaded")
    assert not sc.delete_snapshot("py-uploaded", missing_ok=True)
    with pytest.raises(sextant.NotFoundError):
        sc.delete_snapshot("py-uploaded")


def test_snapshot_errors(sc: sextant.Client, client: sextant.Client, tmp_path: Path) -> None:
    fill(sc, "py_snap_err", "Flat", 20)
    with pytest.raises(sextant.NotFoundError):
        sc.create_snapshot("py_snap_missing")
    with pytest.raises(sextant.InvalidArgumentError):
        sc.create_snapshot("py_snap_err", name="../up")
    sc.create_snapshot("py_snap_err", name="py-err")
    with pytest.raises(sextant.AlreadyExistsError):
        sc.create_snapshot("py_snap_err", name="py-err")
    with pytest.raises(sextant.AlreadyExistsError):
        sc.restore_snapshot("py-err", collection="py_snap_err")
    with pytest.raises(sextant.NotFoundError):
        sc.restore_snapshot("py-nothing", collection="x")
    with pytest.raises(sextant.NotFoundError):
        sc.download_snapshot("py-nothing", tmp_path / "x.tar")
    assert not (tmp_path / "x.tar").exists() and not (tmp_path / "x.tar.partial").exists()
    with pytest.raises(sextant.InvalidArgumentError):
        sc.upload_snapshot(tmp_path / "absent.tar")
    (tmp_path / "junk.tar").write_bytes(b"not an archive" * 100)
    with pytest.raises(sextant.DataLossError):
        sc.upload_snapshot(tmp_path / "junk.tar")
    # The shared server has no --snapshot-dir.
    with pytest.raises(sextant.FailedPreconditionError, match="--snapshot-dir"):
        client.create_snapshot()


def test_async_snapshots(snap_server: Sextantd, sc: sextant.Client, tmp_path: Path) -> None:
    """AsyncClient has the snapshot calls of Client, with the same results and errors."""
    import asyncio

    fill(sc, "py_snap_async", "Flat", 60)

    async def run() -> None:
        async with sextant.AsyncClient(snap_server.address, timeout=120) as ac:
            info = await ac.create_snapshot("py_snap_async", name="py-async")
            assert info.name == "py-async" and [c.name for c in info.collections] == ["py_snap_async"]
            assert "py-async" in [s.name for s in await ac.list_snapshots()]
            restored = await ac.restore_snapshot("py-async", "py_snap_async_restored")
            assert isinstance(restored, sextant.AsyncCollection) and await restored.count() == 60
            archive = tmp_path / "async.tar"
            size = await ac.download_snapshot("py-async", archive)
            assert size == archive.stat().st_size > 0 and not (tmp_path / "async.tar.partial").exists()
            with pytest.raises(sextant.AlreadyExistsError):
                await ac.upload_snapshot(archive)  # its own name is taken
            copy = await ac.upload_snapshot(archive, name="py-async-copy")
            assert copy.name == "py-async-copy" and copy.collections[0].count == 60
            torn = tmp_path / "torn.tar"
            torn.write_bytes(archive.read_bytes()[: size // 2])
            with pytest.raises(sextant.DataLossError):
                await ac.upload_snapshot(torn, name="py-async-torn")
            with pytest.raises(sextant.InvalidArgumentError, match="no archive file"):
                await ac.upload_snapshot(tmp_path / "missing.tar")
            with pytest.raises(sextant.NotFoundError):
                await ac.download_snapshot("no-such-snapshot", tmp_path / "x.tar")
            assert not (tmp_path / "x.tar.partial").exists()
            assert await ac.delete_snapshot("py-async-copy") is True
            assert await ac.delete_snapshot("py-async-copy", missing_ok=True) is False
            with pytest.raises(sextant.NotFoundError):
                await ac.delete_snapshot("py-async-copy")
            assert "py-async-torn" not in [s.name for s in await ac.list_snapshots()]

    asyncio.run(run())
