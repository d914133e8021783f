"""Readers of the TEXMEX vector files (.fvecs, .ivecs) used by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np


def _read(path: Union[str, Path], dtype: str) -> "np.ndarray[Any, Any]":
    raw = np.fromfile(str(path), dtype="<i4")
    if raw.size == 0:
        raise ValueError(f"{path}: empty file")
    dim = int(raw[0])
    if dim <= 0 or raw.size % (dim + 1) != 0:
        raise ValueError(f"{path}: not a TEXMEX vector file (dimension {dim}, {raw.size * 4} bytes)")
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise ValueError(f"{path}: vectors of different dimensions")
    return np.ascontiguousarray(rows[:, 1:].view(dtype))


def read_fvecs(path: Union[str, Path]) -> "np.ndarray[Any, np.dtype[np.float32]]":
    """Per vector an int32 dimension, then that many float32."""
    return _read(path, "<f4").astype(np.float32)


def read_ivecs(path: Union[str, Path]) -> "np.ndarray[Any, np.dtype[np.int32]]":
    """Per vector an int32 count, then that many int32 (ground-truth ids, nearest first)."""
    return _read(path, "<i4").astype(np.int32)
