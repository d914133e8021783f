"""sextant.connect(path): a private sextantd on a Unix socket in the database directory, stopped
with the client, refusing a second process, and never outliving a killed parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import sextant


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a dead parent's reaper) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _wait_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_connect_lifecycle(sextantd_binary: str, tmp_path: Path) -> None:
    db = tmp_path / "db"
    with sextant.connect(db, sextantd=sextantd_binary) as c:
        assert isinstance(c, sextant.Client)
        assert c.path == str(db)
        pid = c.server_pid
        col = c.create_collection("docs", dimension=2, metric="l2")
        col.upsert([1, 2], [[0, 0], [1, 1]], [{"a": 1}, None])
        assert col.count() == 2
        assert (db / "sextantd.sock").exists()
    assert _wait_gone(pid), "the server outlived close()"
    with pytest.raises(ValueError, match="closed"):
        c.list_collections()
    # The data stays, and the directory can be opened again (here and by the CLI or sextantd).
    c2 = sextant.connect(str(db), sextantd=sextantd_binary)
    try:
        assert c2.collection("docs").get(1).payload == {"a": 1}
    finally:
        c2.close()
        c2.close()  # idempotent


def test_second_process_is_refused(sextantd_binary: str, tmp_path: Path) -> None:
    db = tmp_path / "db"
    with sextant.connect(db, sextantd=sextantd_binary) as c:
        c.create_collection("docs", dimension=2)
        with pytest.raises(sextant.FailedPreconditionError, match="in use by another process"):
            sextant.connect(db, sextantd=sextantd_binary)
        script = textwrap.dedent(
            f"""
            import sextant
            try:
                sextant.connect({str(db)!r}, sextantd={sextantd_binary!r})
            except sextant.FailedPreconditionError as e:
                print("refused:", str(e).splitlines()[0])
            """
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert "refused:" in out.stdout and "in use" in out.stdout, out.stdout + out.stderr
        assert c.list_collections()[0].name == "docs"  # the first server is unharmed


def test_killed_parent_leaves_no_orphan(sextantd_binary: str, tmp_path: Path) -> None:
    db = tmp_path / "db"
    script = textwrap.dedent(
        f"""
        import sys, time, sextant
        c = sextant.connect({str(db)!r}, sextantd={sextantd_binary!r})
        c.create_collection("docs", dimension=2)
        print(c.server_pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip().isdigit(), line
        server_pid = int(line)
        assert _alive(server_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert _wait_gone(server_pid), "sextantd outlived its killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
    # The directory is free again.
    with sextant.connect(db, sextantd=sextantd_binary) as c:
        assert [x.name for x in c.list_collections()] == ["docs"]


def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(sextant.NotFoundError, match="not an executable"):
        sextant.connect(tmp_path / "db", sextantd=str(tmp_path / "nope"))
