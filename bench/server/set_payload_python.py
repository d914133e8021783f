#!/usr/bin/env python3
"""Latency of set_payload by filter through the Python client (issue 14's closing figure).

    set_payload_python.py --address 127.0.0.1:7070 [--points 100000] [--rounds 5] [--indexed]

Against a running sextantd: (re)creates collection --collection (dimension 8, Flat) with --points
points whose payload is {"bucket": i % 10, "n": i} (with --indexed, "bucket" has an integer
payload index), then times --rounds calls of set_payload({"tag": round}, filter={"bucket": 3}),
each updating 10% of the points in one atomic batch, and prints one JSON line with the median
and every round in milliseconds. The collection is dropped afterwards.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np

import sextant


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--address", required=True)
    ap.add_argument("--points", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--indexed", action="store_true", help="declare an integer payload index on bucket")
    ap.add_argument("--collection", default="set_payload_bench")
    args = ap.parse_args()
    n = args.points
    with sextant.Client(args.address, timeout=600) as c:
        c.drop_collection(args.collection, missing_ok=True)
        col = c.create_collection(args.collection, dimension=8, metric="l2",
                                  payload_indexes={"bucket": "integer"} if args.indexed else None)
        vectors = np.random.default_rng(1).standard_normal((n, 8), dtype=np.float32)
        col.import_points(range(n), vectors, [{"bucket": i % 10, "n": i} for i in range(n)], progress=False)
        times = []
        for r in range(args.rounds):
            start = time.perf_counter()
            updated = col.set_payload({"tag": r}, filter={"bucket": 3})
            times.append((time.perf_counter() - start) * 1000)
            if updated != n // 10:
                print(f"set_payload updated {updated}, expected {n // 10}", file=sys.stderr)
                return 1
        if col.count({"tag": args.rounds - 1}) != n // 10:
            print("the last update is not visible", file=sys.stderr)
            return 1
        c.drop_collection(args.collection)
    print(json.dumps({"points": n, "updated": n // 10, "indexed": args.indexed,
                      "median_ms": round(statistics.median(times), 1),
                      "rounds_ms": [round(t, 1) for t in times]}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
