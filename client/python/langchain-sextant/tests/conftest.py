"""A real sextantd for the LangChain tests: $SEXTANTD, started once per session through
sextant.connect() on a temporary directory (skipped with a message when $SEXTANTD is unset)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Iterator

import pytest

import sextant


@pytest.fixture(scope="session")
def sextant_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sextant.Client]:
    if not os.environ.get("SEXTANTD"):
        pytest.skip("SEXTANTD is not set: set it to a sextantd binary to run the LangChain tests")
    path: Path = tmp_path_factory.mktemp("langchain") / "db"
    with sextant.connect(path) as c:
        yield c


_counter = itertools.count()


def fresh_name(prefix: str = "lc") -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"
