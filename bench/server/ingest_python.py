#!/usr/bin/env python3
"""Bulk ingest rate of the Python client over the streaming upsert (UpsertStream).

    ingest_python.py --address 127.0.0.1:7070 --base siftsmall_base.fvecs [--batch 1000]
    ingest_python.py --address 127.0.0.1:7070 --synthetic 100000,128 [--mode sync|async|messages|repeated]

Against a running sextantd: drops the collection --collection if it exists, creates it
(dimension of the data, --metric, --index), then times Collection.import_points over every vector
(ids = row numbers, no payload, batches of --batch points, each committed and acknowledged by the
server), and prints one JSON line:

    {"client":"python","points":N,"seconds":S,"points_per_s":R,"batch":B,...}

The time runs from the start of import_points until the server has acknowledged the last batch:
it includes the client's conversion of NumPy rows to protobuf messages, which is part of what a
Python user pays. Reading the file or generating the data is not timed. The collection is dropped
afterwards unless --keep is given.

--synthetic N,D draws seeded standard-normal vectors with NumPy (not sextant-bench's mixture: the
ingest rate does not depend on the values, and the Go program draws its own the same way in
spirit). Needs the client installed (pip install client/python) and NumPy.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

import sextant


def read_vecs(path: str) -> np.ndarray:
    """The rows of an .fvecs (float32) or .bvecs (uint8) file as a float32 matrix."""
    ext = os.path.splitext(path)[1]
    if ext not in (".fvecs", ".bvecs"):
        raise ValueError(f"{path}: expected a .fvecs or .bvecs file")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size < 4:
        raise ValueError(f"{path}: empty")
    dim = int(raw[:4].view(np.int32)[0])
    width = 4 + dim * (4 if ext == ".fvecs" else 1)
    if dim <= 0 or raw.size % width != 0:
        raise ValueError(f"{path}: size {raw.size} is not a whole number of rows of dimension {dim}")
    rows = raw.reshape(-1, width)
    if not (rows[:, :4].copy().view(np.int32)[:, 0] == dim).all():
        raise ValueError(f"{path}: rows of different dimensions")
    body = rows[:, 4:]
    if ext == ".fvecs":
        return np.ascontiguousarray(body).view(np.float32).reshape(-1, dim)
    return body.astype(np.float32)


def parse_synthetic(text: str):
    try:
        n, d = (int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected N,D, e.g. 100000,128") from None
    if n < 1 or d < 1:
        raise argparse.ArgumentTypeError("N and D must be >= 1")
    return n, d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--address", required=True, help="sextantd address, host:port")
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--base", help="vectors to load (.fvecs or .bvecs)")
    data.add_argument("--synthetic", type=parse_synthetic, metavar="N,D", help="N seeded random vectors of dimension D")
    ap.add_argument("--batch", type=int, default=1000, help="points per stream message (default 1000)")
    ap.add_argument("--collection", default="ingest_python", help="collection to (re)create (default ingest_python)")
    ap.add_argument("--metric", default="l2", help="l2, inner_product or cosine (default l2)")
    ap.add_argument("--index", default="Flat", help="index spec (default Flat)")
    ap.add_argument("--seed", type=int, default=42, help="seed of --synthetic (default 42)")
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--keep", action="store_true", help="keep the collection afterwards")
    ap.add_argument("--mode", choices=["sync", "async", "messages", "repeated"], default="sync",
                    help="sync: Collection.import_points (pre-encoded requests with packed float32 "
                         "vectors, the default); async: AsyncCollection.import_points; messages: sync, "
                         "but requests built as pb.Point messages with packed vectors (the client "
                         "before pre-encoding); repeated: messages with vectors as repeated float "
                         "(the wire form before packed vectors), for comparison")
    args = ap.parse_args()
    if args.batch < 1:
        ap.error("--batch must be >= 1")

    if args.base:
        vectors = read_vecs(args.base)
        dataset = os.path.basename(args.base).rsplit(".", 1)[0].removesuffix("_base")
    else:
        n, d = args.synthetic
        vectors = np.random.default_rng(args.seed).standard_normal((n, d), dtype=np.float32)
        dataset = f"random-{n}x{d}-s{args.seed}"
    n, dim = vectors.shape

    with sextant.Client(args.address, api_key=args.api_key) as client:
        client.drop_collection(args.collection, missing_ok=True)
        col = client.create_collection(args.collection, dimension=dim, metric=args.metric, index=args.index)
        if args.mode == "async":
            import asyncio

            async def run() -> int:
                async with sextant.AsyncClient(args.address, api_key=args.api_key) as ac:
                    acol = await ac.collection(args.collection)
                    return await acol.import_points(range(n), vectors, batch_size=args.batch)

            start = time.perf_counter()
            written = asyncio.run(run())
        elif args.mode in ("messages", "repeated"):
            from sextant import _convert
            from sextant._proto import sextant_pb2 as pb

            def as_messages(collection, ids, rows, payloads, offset=0, sync=False):  # type: ignore[no-untyped-def]
                # The client's conversion before pre-encoded requests: one pb.Point (and PointId)
                # per point, serialised by protobuf; "repeated" also a Python float per component.
                if args.mode == "repeated":
                    m = _convert.as_matrix(rows).tolist()
                    points = [pb.Point(id=_convert.id_to_proto(ids[i]), vector=m[i]) for i in range(len(ids))]
                else:
                    points = _convert.points_to_proto(ids, rows, payloads, offset)
                return pb.UpsertRequest(collection=collection, points=points, sync=sync).SerializeToString()

            _convert.encode_upsert_request = as_messages
            start = time.perf_counter()
            written = col.import_points(range(n), vectors, batch_size=args.batch, progress=False)
        else:
            start = time.perf_counter()
            written = col.import_points(range(n), vectors, batch_size=args.batch, progress=False)
        seconds = time.perf_counter() - start
        count = col.count()
        if written != n or count != n:
            print(f"ingest_python: imported {written} and the collection counts {count}, expected {n}", file=sys.stderr)
            return 1
        if not args.keep:
            client.drop_collection(args.collection)

    print(json.dumps({
        "client": "python",
        "mode": args.mode,
        "points": n,
        "seconds": round(seconds, 3),
        "points_per_s": round(n / seconds),
        "batch": args.batch,
        "index": args.index,
        "dim": dim,
        "dataset": dataset,
    }, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (sextant.SextantError, OSError, ValueError) as e:
        print(f"ingest_python: error: {e}", file=sys.stderr)
        sys.exit(1)
