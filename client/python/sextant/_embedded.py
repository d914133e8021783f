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


def _lock_holder_exists(data: Path) -> bool:
    """Whether another process holds the database lock of `data` (the engine's flock on
    data/sextant.lock, engine/db/file_lock.cc): a non-blocking try, released at once."""
    import fcntl

    try:
        fd = os.open(data / "sextant.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError:
        return False  # not ours to diagnose: the server reports it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the lock
    return False


def _in_use(data: Path, log: str = "") -> FailedPreconditionError:
    return FailedPreconditionError(
        f"sextant.connect({str(data)!r}): the database is in use by another process "
        f"(one process at a time; use a sextantd server to share it)" + (f":\n{log}" if log else "")
    )


#: grpc.health.v1.HealthCheckResponse{status: SERVING}, as bytes (field 1, varint 1).
_HEALTH_SERVING = b"\x08\x01"


def _health(target: str, timeout: float) -> Optional[bool]:
    """Asks grpc.health.v1.Health/Check at `target`: True when it answers SERVING, False when it
    answers otherwise (NOT_SERVING, or an error the server itself returns, such as a missing API
    key: it is up), None when nothing answers yet."""
    import grpc

    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary(  # raw bytes in and out: no dependency on grpcio-health-checking
            "/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None
        )
        try:
            reply = check(b"", timeout=timeout)
        except grpc.RpcError as e:
            code = e.code() if isinstance(e, grpc.Call) else None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, None):
                return None
            return False
    return bool(reply == _HEALTH_SERVING)


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
        cmd = [binary, "--data", str(data), "--listen", f"unix:{socket}", *extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self._lock = threading.Lock()

    def wait_ready(self, timeout: float) -> None:
        """Returns once the server answers a health check SERVING on its socket; raises when it
        exits first (FailedPreconditionError when another process holds the database) or does not
        answer within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        target = f"unix:{self.socket}"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                log = self.log_tail()
                if _lock_holder_exists(self.data):
                    raise _in_use(self.data, log)
                raise SextantError(f"sextantd exited with {code} while starting:\n{log}")
            if self.socket.exists() and _health(target, timeout=1.0):
                return
            time.sleep(0.02)
        self.stop()
        raise UnavailableError(f"sextantd did not answer a health check within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - 4000))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

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
    start_timeout: float = _START_TIMEOUT_S,
) -> EmbeddedClient:
    """Opens (creating it when missing) the database in directory `path` with a private server,
    and returns a Client for it:

        with sextant.connect("./my-db") as c:
            col = c.create_collection("docs", dimension=384)

    The server is a sextantd found by find_sextantd() (`sextantd=` overrides), serving a
    Unix-domain socket `sextantd.sock` in `path` (its log is `path/sextantd.log`); `server_args`
    are extra sextantd flags (e.g. ["--max-batch-points", "50000"]). It stops with the client,
    with the process, or when the process dies. FailedPreconditionError when another process
    has the directory open. The server is ready when it answers the standard gRPC health check
    SERVING on its socket; UnavailableError (and the server stopped) when it has not within
    `start_timeout` seconds.
    """
    data = Path(os.fspath(path)).expanduser().absolute()
    data.mkdir(parents=True, exist_ok=True)
    binary = find_sextantd(sextantd)
    if _lock_holder_exists(data):  # refused before starting anything
        raise _in_use(data)
    server = _Server(binary, data, list(server_args))
    _live.add(server)
    try:
        server.wait_ready(start_timeout)
        return EmbeddedClient(server, timeout=timeout)
    except BaseException:
        server.stop()
        _live.discard(server)
        raise
