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


def _fake_sextantd(tmp_path: Path, body: str) -> str:
    """An executable standing in for sextantd (it gets the same arguments)."""
    path = tmp_path / "fake-sextantd"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_ready_means_answering_health_not_log_words(tmp_path: Path) -> None:
    # A process that says what a server says and creates the socket file, but serves nothing,
    # is not a ready server: connect() gives up after start_timeout and stops it.
    fake = _fake_sextantd(
        tmp_path,
        'echo "sextantd listening on $4, database open"; : > "${4#unix:}"; exec sleep 600',
    )
    start = time.monotonic()
    with pytest.raises(sextant.UnavailableError, match="health check within 1 s"):
        sextant.connect(tmp_path / "db", sextantd=fake, start_timeout=1.0)
    assert time.monotonic() - start < 30
    out = subprocess.run(["pgrep", "-f", fake], capture_output=True, text=True)
    assert out.stdout.strip() == "", "the fake server was left running"


def test_early_exit_is_reported_by_its_cause_not_its_words(tmp_path: Path) -> None:
    # Words that used to mean "in use" in its log, but nobody holds the database: a plain error.
    fake = _fake_sextantd(tmp_path, 'echo "cannot lock: database already open, in use"; exit 3')
    with pytest.raises(sextant.SextantError, match="exited with 3") as e:
        sextant.connect(tmp_path / "db", sextantd=fake)
    assert not isinstance(e.value, sextant.FailedPreconditionError)


def test_held_lock_is_refused_before_starting(tmp_path: Path) -> None:
    import fcntl

    db = tmp_path / "db"
    db.mkdir()
    fake = _fake_sextantd(tmp_path, f': > {tmp_path}/started; exit 0')
    # Another process holding the database's lock (the engine's flock), whatever it is.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)",
         str(db / "sextant.lock")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(sextant.FailedPreconditionError, match="in use by another process"):
            sextant.connect(db, sextantd=fake)
        assert not (tmp_path / "started").exists(), "a server was started for a database in use"
    finally:
        holder.kill()
        holder.wait()
    # Released, the directory is usable (and connect's probe left no lock behind).
    with open(db / "sextant.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
