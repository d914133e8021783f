"""Fixtures: a real sextantd on a free loopback port in a temporary directory.

The binary comes from $SEXTANTD (e.g. build/server/sextantd); without it the tests that need a
server are skipped with a message. Real data comes from $SEXTANT_DATA_DIR, else ../shared/data
beside the repository; tests that need it skip when it is absent.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import sextant

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 30.0


def data_dir() -> Path:
    env = os.environ.get("SEXTANT_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


class Sextantd:
    """One sextantd process: `--data DIR --listen 127.0.0.1:0 --port-file FILE [extra...]`."""

    def __init__(self, binary: str, workdir: Path, extra_args: Optional[List[str]] = None) -> None:
        self.binary = binary
        self.workdir = workdir
        self.data = workdir / "data"
        self.extra_args = list(extra_args or [])
        self.log_path = workdir / "sextantd.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.address = ""

    def start(self) -> "Sextantd":
        port_file = self.workdir / "port"
        if port_file.exists():
            port_file.unlink()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        cmd = [self.binary, "--data", str(self.data), "--listen", "127.0.0.1:0",
               "--port-file", str(port_file)] + self.extra_args
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sextantd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                text = port_file.read_text()
            except FileNotFoundError:
                text = ""
            if text.endswith("\n") and text.strip().isdigit():
                self.address = f"127.0.0.1:{int(text)}"
                return self
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"sextantd wrote no port file within {START_TIMEOUT_S} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Sends sig and waits for the exit; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"sextantd did not stop within {timeout} s:\n{self.log()}")
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""


@pytest.fixture(scope="session")
def sextantd_binary() -> str:
    path = os.environ.get("SEXTANTD", "")
    if not path:
        pytest.skip("SEXTANTD is not set: set it to a sextantd binary (e.g. build/server/sextantd) "
                    "to run the tests against a real server")
    if not os.access(path, os.X_OK):
        pytest.skip(f"SEXTANTD={path} is not an executable file")
    return path


@pytest.fixture(scope="session")
def server(sextantd_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sextantd]:
    """One server without API keys, shared by the tests (each uses its own collections)."""
    s = Sextantd(sextantd_binary, tmp_path_factory.mktemp("sextantd")).start()
    yield s
    code = s.stop()
    assert code == 0, f"sextantd exited with {code} on SIGTERM:\n{s.log()}"


@pytest.fixture(scope="session")
def client(server: Sextantd) -> Iterator[sextant.Client]:
    with sextant.Client(server.address, timeout=120) as c:
        yield c


_counter = itertools.count()


@pytest.fixture()
def name(request: pytest.FixtureRequest) -> str:
    """A collection name unique to the test."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:100]
    return f"{base}_{next(_counter)}"


@pytest.fixture(scope="session")
def siftsmall() -> Path:
    d = data_dir() / "siftsmall"
    if not (d / "siftsmall_base.fvecs").exists():
        pytest.skip(f"siftsmall not found in {d} (set SEXTANT_DATA_DIR)")
    return d
