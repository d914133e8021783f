#!/usr/bin/env python3
"""The cross-client scenario through the Python client (the `sextant` package).

    python tests/integration/scenario.py --address 127.0.0.1:7070 \
        --siftsmall ../shared/data/siftsmall --out python.json [--api-key KEY]

Against a running sextantd: recreate collection `scenario` (128-d, L2, Flat, payload index
`group` INTEGER), stream-upsert siftsmall_base.fvecs in batches of 1000 (id = row i, payload
{"group": i % 10, "name": "p<i>"}), then count, search the first 10 queries (k=10), the same
with filter {"group": 3}, delete ids i % 7 == 0, delete by filter {"group": 9}, count, search
again, get id 5; writes the answers as JSON to --out (compared with the other clients' by
tests/integration/compare_clients.py). Exits 1 with a message on any error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List

import numpy as np

import sextant

NAME = "scenario"
QUERIES = 10
K = 10
BATCH = 1000


def read_fvecs(path: str) -> "np.ndarray[Any, np.dtype[np.float32]]":
    """TEXMEX .fvecs: per vector an int32 dimension then that many float32."""
    raw = np.fromfile(path, dtype="<i4")
    if raw.size == 0:
        raise ValueError(f"{path}: empty file")
    dim = int(raw[0])
    if dim <= 0 or raw.size % (dim + 1) != 0:
        raise ValueError(f"{path}: not an .fvecs file (dimension {dim}, {raw.size * 4} bytes)")
    rows = raw.reshape(-1, dim + 1)
    if not (rows[:, 0] == dim).all():
        raise ValueError(f"{path}: vectors of different dimensions")
    return rows[:, 1:].view("<f4").astype(np.float32)


def ids_of(results: List[List[sextant.Hit]]) -> List[List[Any]]:
    return [[h.id for h in hits] for hits in results]


def run(address: str, siftsmall: str, api_key: str | None) -> Dict[str, Any]:
    base = read_fvecs(os.path.join(siftsmall, "siftsmall_base.fvecs"))
    queries = read_fvecs(os.path.join(siftsmall, "siftsmall_query.fvecs"))[:QUERIES]
    n = base.shape[0]
    out: Dict[str, Any] = {}
    with sextant.Client(address, api_key=api_key) as client:
        # 1. A fresh collection.
        client.drop_collection(NAME, missing_ok=True)
        col = client.create_collection(
            NAME, dimension=base.shape[1], metric="l2", index="Flat",
            payload_indexes={"group": "integer"},
        )
        # 2. Streaming upsert, batches of 1000.
        payloads = [{"group": i % 10, "name": f"p{i}"} for i in range(n)]
        written = col.import_points(range(n), base, payloads, batch_size=BATCH, progress=False)
        if written != n:
            raise RuntimeError(f"the import acknowledged {written} points, expected {n}")
        # 3.-5.
        out["count_after_upsert"] = col.count()
        out["search"] = ids_of(col.search_batch(queries, k=K, with_payload=False))
        out["filtered"] = ids_of(
            col.search_batch(queries, k=K, filter={"group": 3}, with_payload=False)
        )
        # 6.-9.
        out["deleted_ids"] = col.delete(list(range(0, n, 7)))
        out["deleted_filter"] = col.delete(filter={"group": 9})
        out["count_final"] = col.count()
        out["search_after_delete"] = ids_of(col.search_batch(queries, k=K, with_payload=False))
        # 10.
        point = col.get(5)
        out["get_5"] = {"id": point.id, "payload": point.payload}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--address", required=True, help="sextantd's HOST:PORT")
    ap.add_argument("--siftsmall", required=True, help="folder with siftsmall_base.fvecs and siftsmall_query.fvecs")
    ap.add_argument("--out", required=True, help="where to write the JSON answers")
    ap.add_argument("--api-key", default=None)
    args = ap.parse_args()
    try:
        result = run(args.address, args.siftsmall, args.api_key)
    except (sextant.SextantError, OSError, ValueError, RuntimeError) as e:
        print(f"scenario.py: {e}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
