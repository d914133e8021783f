"""sextant.connect(path): Sextant from Python without running a server yourself.

connect() starts a private sextantd serving the database in `path` on a Unix-domain socket in
that directory, and returns a Client connected to it. The server stops when the client is closed
(or leaves its `with` block), when the Python process exits, and, on Linux, when the process
dies without cleaning up (the server gets SIGTERM when its parent goes away), so no orphan
server keeps the database. A directory is used by one process at a time: connecting to a
directory another process has open raises FailedPreconditionError naming the directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

from ._client import Client
from ._errors import FailedPreconditionError, NotFoundError, SextantError, UnavailableError

__all__ = ["connect", "EmbeddedClient", "find_sextantd"]

#: How long connect() waits for the server to come up.
_START_TIMEOUT_S = 60.0
#: Longest Unix socket path (sun_path holds 108 bytes with the terminating NUL on Linux).
_MAX_SOCKET_PATH = 107


def find_sextantd(explicit: Optional[str] = None) -> str:
    """The sextantd binary: `explicit`, else $SEXTANTD, else `sextantd` on PATH, else one next
    to this package (sextant/bin/sextantd). NotFoundError saying how to get one otherwise."""
    candidates: List[Tuple[str, Optional[str]]] = [
        ("the sextantd argument", explicit),
        ("$SEXTANTD", os.environ.get("SEXTANTD")),
        ("PATH", shutil.which("sextantd")),
        ("the package", str(Path(__file__).resolve().parent / "bin" / "sextantd")),
    ]
    for where, path in candidates:
        if not path:
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        if where != "the package":
            raise NotFoundError(f"sextantd from {where} ({path}) is not an executable file")
    raise NotFoundError(
        "sextantd not found: put it on PATH or set $SEXTANTD (build it with "
        "`cmake --build build --target sextantd`, then `cmake --install build` or "
        "`export SEXTANTD=$PWD/build/server/sextantd`)"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: SIGTERM this process when the parent dies (so a killed Python leaves no server)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            return
    os.setsid()  # its own process group: Ctrl-C in the parent's terminal does not hit it


class _Server:
    """One private sextantd process."""

    def __init__(self, binary: str, data: Path, extra_args: Sequence[str]) -> None:
        self.data = data
        self._tmp: Optional[str] = None
        socket = data / "sextantd.sock"
        if len(str(socket)) > _MAX_SOCKET_PATH:
            self._tmp = tempfile.mkdtemp(prefix="sextant-")
            socket = Path(self._tmp) / "sextantd.sock"
        self.socket = socket
        self.log_path = data / "sextantd.log"
        fd, self._ready = tempfile.mkstemp(prefix="sextantd-", suffix=".ready")
        os.close(fd)
        os.unlink(self._ready)
        cmd = [binary, "--data", str(data), "--listen", f"unix:{socket}", "--port-file", self._ready,
               *extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self._lock = threading.Lock()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                self._cleanup_files()
                log = self.log_tail()
                if "already open" in log or "in use" in log or "lock" in log.lower():
                    raise FailedPreconditionError(
                        f"sextant.connect({str(self.data)!r}): the database is in use by another process "
                        f"(one process at a time; use a sextantd server to share it):\n{log}"
                    )
                raise SextantError(f"sextantd exited with {code} while starting:\n{log}")
            if os.path.exists(self._ready):
                self._cleanup_files()
                return
            time.sleep(0.01)
        self.stop()
        raise UnavailableError(f"sextantd did not start within {_START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 4000))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def _cleanup_files(self) -> None:
        try:
            os.unlink(self._ready)
        except OSError:
            pass

    def stop(self, timeout: float = 30.0) -> None:
        with self._lock:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None


_live: "weakref.WeakSet[_Server]" = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        server.stop()


class EmbeddedClient(Client):
    """The Client that connect() returns: the same API, plus the server it owns, stopped by
    close() (or the end of a `with` block)."""

    def __init__(self, server: _Server, **client_args: Any) -> None:
        super().__init__(f"unix:{server.socket}", **client_args)
        self._server = server

    @property
    def path(self) -> str:
        """The database directory."""
        return str(self._server.data)

    @property
    def server_pid(self) -> int:
        return int(self._server.proc.pid)

    def close(self) -> None:
        """Closes the connection and stops the private server (it checkpoints and exits)."""
        super().close()
        self._server.stop()
        _live.discard(self._server)

    def __enter__(self) -> "EmbeddedClient":
        return self

    def __repr__(self) -> str:
        return f"sextant.connect({self.path!r})"


def connect(
    path: Union[str, "os.PathLike[str]"],
    *,
    sextantd: Optional[str] = None,
    server_args: Sequence[str] = (),
    timeout: Optional[float] = None,
) -> EmbeddedClient:
    """Opens (creating it when missing) the database in directory `path` with a private server,
    and returns a Client for it:

        with sextant.connect("./my-db") as c:
            col = c.create_collection("docs", dimension=384)

    The server is a sextantd found by find_sextantd() (`sextantd=` overrides), serving a
    Unix-domain socket `sextantd.sock` in `path` (its log is `path/sextantd.log`); `server_args`
    are extra sextantd flags (e.g. ["--max-batch-points", "50000"]). It stops with the client,
    with the process, or when the process dies. FailedPreconditionError when another process
    has the directory open.
    """
    data = Path(os.fspath(path)).expanduser().absolute()
    data.mkdir(parents=True, exist_ok=True)
    server = _Server(find_sextantd(sextantd), data, list(server_args))
    _live.add(server)
    try:
        server.wait_ready()
        return EmbeddedClient(server, timeout=timeout)
    except BaseException:
        server.stop()
        _live.discard(server)
        raise
