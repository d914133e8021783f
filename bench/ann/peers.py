#!/usr/bin/env python3
"""Runs the data set sextant-bench uses through hnswlib and FAISS, printing the same JSON lines.

    bench/.venv/bin/python bench/ann/peers.py --base B.fvecs --query Q.fvecs [--gt G.ivecs] \
        [--systems hnswlib,faiss-hnsw,faiss-ivf,faiss-ivfpq,glass] [--m 16] [--ef-construction 200] \
        [--ef-search 16,32,64] [--nlist 1024] [--nprobe 1,4,16] [--pq-m 16] [-k 10] [--threads 1]

One JSON line per (system, setting), in the shape sextant-bench prints: index, params, recall, qps,
p50_us, p99_us, build_s, rss_mb, peak_rss_mb, index_bytes, vector_bytes, bytes_per_vector, n, dim,
k, queries, threads, metric, dataset (and reopen_s / close_s with --reopen).

Measured the same way as sextant-bench (bench/README.md):
  - recall = |returned ids & first k true neighbours| / (queries * k), the truth from --gt or, when
    absent (or --max-base cuts the base), an exact brute force in numpy;
  - each query is one search call on a (1, dim) array, timed with perf_counter_ns; p50/p99 are
    nearest-rank percentiles; qps = queries / wall time of the pass; with --threads N the queries
    are split into N contiguous slices run by N Python threads (both libraries release the GIL
    while searching); a few warm-up queries run first;
  - build_s covers training (IVF), adding every vector, and nothing else;
  - rss_mb / peak_rss_mb are VmRSS / VmHWM of a process that holds only this one index: every
    system runs in its own child process. The base vectors are streamed from the file in blocks.

Synthetic data: pass the files `sextant-bench --synthetic N,D --write-synthetic DIR` writes, so
that both tools see identical vectors and identical ground truth (bench/ann/compare.sh does this).

Set up with bench/ann/setup_peers.sh (a venv at bench/.venv with hnswlib, faiss-cpu, pyglass-portable
and numpy).
"""

import argparse
import concurrent.futures
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

SYSTEMS = ("hnswlib", "faiss-hnsw", "faiss-ivf", "faiss-ivfpq", "glass")
BLOCK = 10000  # rows per add call (streams the base, bounds the temporary copies)


# ------------------------------------------------------------------------------------------------
# TEXMEX files: per row an int32 d, then d float32 (.fvecs) / uint8 (.bvecs) / int32 (.ivecs).

class VecsFile:
    """A TEXMEX file read a block of rows at a time, as float32 (or int32 for .ivecs)."""

    def __init__(self, path):
        self.path = path
        ext = os.path.splitext(path)[1]
        if ext not in (".fvecs", ".bvecs", ".ivecs"):
            raise ValueError(f"{path}: unknown extension '{ext}' (expected .fvecs, .bvecs or .ivecs)")
        self.ext = ext
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4)
        if len(head) < 4:
            raise ValueError(f"{path}: empty")
        self.dim = int(np.frombuffer(head, dtype="<i4")[0])
        if self.dim <= 0 or self.dim > 65536:
            raise ValueError(f"{path}: row 0 has dimension {self.dim}")
        self.elt = 1 if ext == ".bvecs" else 4
        self.row_bytes = 4 + self.dim * self.elt
        if size % self.row_bytes:
            raise ValueError(f"{path}: size {size} is not a multiple of the row size {self.row_bytes}")
        self.rows = size // self.row_bytes

    def read(self, start, count):
        """Rows [start, start + count) as a C-contiguous array."""
        count = max(0, min(count, self.rows - start))
        raw = np.fromfile(self.path, dtype=np.uint8, count=count * self.row_bytes, offset=start * self.row_bytes)
        return self._convert(raw.reshape(count, self.row_bytes), np.arange(start, start + count))

    def take(self, rows):
        """The rows with these (sorted) numbers."""
        mm = np.memmap(self.path, dtype=np.uint8, mode="r", shape=(self.rows, self.row_bytes))
        raw = np.asarray(mm[rows])
        del mm
        return self._convert(raw, rows)

    def _convert(self, raw, row_numbers):
        dims = raw[:, :4].copy().view("<i4").ravel()
        if len(raw) and not np.all(dims == self.dim):
            bad = int(np.nonzero(dims != self.dim)[0][0])
            raise ValueError(f"{self.path}: row {row_numbers[bad]} has dimension {dims[bad]}, expected {self.dim}")
        body = raw[:, 4:]
        if self.ext == ".fvecs":
            return np.ascontiguousarray(body).view("<f4").astype(np.float32, copy=False)
        if self.ext == ".bvecs":
            return body.astype(np.float32)
        return np.ascontiguousarray(body).view("<i4").astype(np.int32, copy=False)

    def blocks(self, n, block=BLOCK):
        for start in range(0, n, block):
            yield start, self.read(start, min(block, n - start))


def dataset_name(base_path):
    stem = os.path.splitext(os.path.basename(base_path))[0]
    return stem[: -len("_base")] if stem.endswith("_base") else stem


def normalized(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (x / norms).astype(np.float32)


def brute_force(base, n, queries, metric, k):
    """Exact k-NN ids (nearest first) of each query over the first n base rows, streamed."""
    q = normalized(queries) if metric == "cosine" else queries
    best_d = np.full((len(q), 0), np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    q_norms = (q.astype(np.float64) ** 2).sum(1)[:, None]
    for start, x in base.blocks(n, 50000):
        if metric == "cosine":
            x = normalized(x)
        dots = q.astype(np.float64) @ x.astype(np.float64).T
        if metric == "l2":
            d = q_norms - 2 * dots + (x.astype(np.float64) ** 2).sum(1)[None, :]
        else:
            d = -dots
        cand_d = np.concatenate([best_d, d.astype(np.float32)], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + len(x)), d.shape)], axis=1)
        take = min(k, cand_d.shape[1])
        part = np.argpartition(cand_d, take - 1, axis=1)[:, :take]
        best_d = np.take_along_axis(cand_d, part, 1)
        best_i = np.take_along_axis(cand_i, part, 1)
    order = np.argsort(best_d, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1)


# ------------------------------------------------------------------------------------------------
# Measurement helpers, the same definitions as sextant-bench.

def proc_status_mb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def percentile(sorted_values, p):
    """Nearest-rank percentile, p in 0..1."""
    if not sorted_values:
        return None
    rank = math.ceil(p * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


def recall(result_ids, truth, k):
    hits = 0
    for got, want in zip(result_ids, truth):
        hits += len(set(int(i) for i in got[:k] if i >= 0) & set(int(i) for i in want[:k]))
    return hits, hits / (len(truth) * k)


def parse_list(text):
    values = [int(v) for v in text.split(",")]
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("values must be >= 1")
    return values


# ------------------------------------------------------------------------------------------------
# The systems. Each returns an object with search(q_row, k) -> ids, set_param(value), save(path),
# load(path) and the figures for the JSON line.

class HnswlibSystem:
    system = "hnswlib"
    sweep_name = "ef_search"

    def __init__(self, args, dim, n):
        import hnswlib
        self.hnswlib = hnswlib
        self.space = {"l2": "l2", "ip": "ip", "cosine": "cosine"}[args.metric]
        self.dim, self.n, self.args = dim, n, args
        self.index = hnswlib.Index(space=self.space, dim=dim)
        self.index.init_index(max_elements=n, M=args.m, ef_construction=args.ef_construction, random_seed=100)
        self.index.set_num_threads(args.threads)
        self.name = f"HNSW{args.m}"
        self.impl = "hnswlib " + importlib.metadata.version("hnswlib")

    def add(self, start, x):
        self.index.add_items(x, np.arange(start, start + len(x)))

    def finish(self):
        pass

    def params(self, value):
        return {"m": self.args.m, "ef_construction": self.args.ef_construction, "ef_search": value}

    def set_param(self, value):
        self.index.set_ef(max(value, self.args.k))  # as the engine: a list of at least k

    def reset_stats(self):
        pass

    def distances(self):
        return None  # hnswlib does not count them in its Python binding

    def search(self, q, k):
        labels, _ = self.index.knn_query(q, k=k, num_threads=1)
        return labels[0]

    def sizes(self):
        vector_bytes = self.n * self.dim * 4
        return max(0, self.index.index_file_size() - vector_bytes), vector_bytes

    def save(self, path):
        self.index.save_index(path)

    def load(self, path):
        self.index = self.hnswlib.Index(space=self.space, dim=self.dim)
        self.index.load_index(path, max_elements=self.n)
        self.index.set_num_threads(self.args.threads)


class FaissSystem:
    system = "faiss"

    def __init__(self, args, dim, n, kind, base):
        import faiss
        self.faiss, self.args, self.dim, self.n, self.kind = faiss, args, dim, n, kind
        faiss.omp_set_num_threads(args.threads)
        metric = faiss.METRIC_L2 if args.metric == "l2" else faiss.METRIC_INNER_PRODUCT
        self.stores_floats = True
        if kind == "faiss-hnsw":
            self.index = faiss.IndexHNSWFlat(dim, args.m, metric)
            self.index.hnsw.efConstruction = args.ef_construction
            self.name, self.sweep_name, cls = f"HNSW{args.m}", "ef_search", "IndexHNSWFlat"
        else:
            quantizer = faiss.IndexFlat(dim, metric)
            if kind == "faiss-ivf":
                ivf = faiss.IndexIVFFlat(quantizer, dim, args.nlist, metric)
                self.name, cls = f"IVF{args.nlist}", "IndexIVFFlat"
                self.index = ivf
            else:
                pq_m = args.pq_m or default_pq_m(dim)
                if dim % pq_m:
                    raise ValueError(f"--pq-m {pq_m} must divide the dimension {dim}")
                ivf = faiss.IndexIVFPQ(quantizer, dim, args.nlist, pq_m, 8, metric)
                self.pq_m = pq_m
                self.name, cls = f"IVF{args.nlist},PQ{pq_m}", "IndexIVFPQ"
                self.index = ivf
                self.stores_floats = False
                if args.pq_refine:
                    # Re-rank k * pq_refine candidates with the float vectors, as Sextant does.
                    self.index = faiss.IndexRefineFlat(ivf)
                    self.index.k_factor = args.pq_refine
                    cls += f"+IndexRefineFlat(k_factor={args.pq_refine})"
                    self.stores_floats = True
            ivf.cp.seed = 1234
            self.ivf, self._quantizer, self.sweep_name = ivf, quantizer, "nprobe"
        self.impl = f"faiss {faiss.__version__} {cls}"
        self.base = base

    def train(self):
        if self.kind == "faiss-hnsw":
            return
        # A seeded sample of up to 256 points per list, as FAISS's k-means would subsample anyway.
        want = min(self.n, 256 * self.args.nlist)
        if want == self.n:
            sample = self.base.read(0, self.n)
        else:
            sample = self.base.take(np.sort(np.random.default_rng(1234).choice(self.n, size=want, replace=False)))
        if self.args.metric == "cosine":
            sample = normalized(sample)
        self.index.train(sample)

    def add(self, start, x):
        if self.args.metric == "cosine":
            x = normalized(x)
        self.index.add(x)

    def finish(self):
        pass

    def params(self, value):
        if self.kind == "faiss-hnsw":
            return {"m": self.args.m, "ef_construction": self.args.ef_construction, "ef_search": value}
        out = {"nlist": self.args.nlist, "nprobe": value}
        if self.kind == "faiss-ivfpq":
            out["pq_m"] = self.pq_m
            if self.args.pq_refine:
                out["refine"] = self.args.pq_refine
        return out

    def set_param(self, value):
        if self.kind == "faiss-hnsw":
            self.index.hnsw.efSearch = max(value, self.args.k)
        else:
            self.ivf.nprobe = value

    def reset_stats(self):
        self.faiss.cvar.hnsw_stats.reset()
        self.faiss.cvar.indexIVF_stats.reset()

    def distances(self):
        """Distances computed since reset_stats (FAISS's global counters; approximate with threads)."""
        if self.kind == "faiss-hnsw":
            return self.faiss.cvar.hnsw_stats.ndis
        return self.faiss.cvar.indexIVF_stats.ndis

    def search(self, q, k):
        if self.args.metric == "cosine":
            q = normalized(q)
        _, ids = self.index.search(q, k)
        return ids[0]

    def sizes(self):
        total = self.faiss.serialize_index(self.index).nbytes if self.n <= 200000 else self._file_size()
        vector_bytes = self.n * self.dim * 4 if self.stores_floats else 0
        return max(0, total - vector_bytes), vector_bytes

    def _file_size(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "index.faiss")
            self.faiss.write_index(self.index, path)
            return os.path.getsize(path)

    def save(self, path):
        self.faiss.write_index(self.index, path)

    def load(self, path):
        self.index = self.faiss.read_index(path)
        if self.kind != "faiss-hnsw":
            inner = self.index
            if isinstance(inner, self.faiss.IndexRefine):
                inner = self.faiss.downcast_index(inner.base_index)
            self.ivf = self.faiss.extract_index_ivf(inner)


class GlassSystem:
    """glass (zilliztech, PyPI pyglass-portable): its HNSW graph (R = 2m links on layer 0, as the
    engine's 2m; L = ef_construction), walked on 8-bit codes (--glass-quant, default SQ8U: one
    uniform scale, integer distances) and re-ranked with float32 vectors (refine FP32), the way
    Sextant's HNSW16,SQ8 walks on codes and re-ranks. glass builds from the whole base at once, so
    `add` collects the blocks and `finish` builds; searcher.optimize() (its prefetch tuning on
    sample queries) runs once after the build, as glass's own examples do."""

    system = "glass"
    sweep_name = "ef_search"

    def __init__(self, args, dim, n):
        import glass
        self.glass, self.args, self.dim, self.n = glass, args, dim, n
        glass.set_num_threads(args.threads)
        self.metric = {"l2": "L2", "ip": "IP", "cosine": "IP"}[args.metric]
        self.quant = args.glass_quant
        self.blocks = []
        self.name = f"HNSW{args.m},{self.quant}"
        self.impl = "glass " + importlib.metadata.version("pyglass-portable")

    def add(self, start, x):
        if self.args.metric == "cosine":
            x = normalized(x)
        self.blocks.append(np.ascontiguousarray(x, dtype=np.float32))

    def finish(self):
        data = np.concatenate(self.blocks) if len(self.blocks) > 1 else self.blocks[0]
        self.blocks = []
        index = self.glass.Index("HNSW", metric=self.metric, R=2 * self.args.m, L=self.args.ef_construction)
        self.graph = index.build(data)
        self.searcher = self.glass.Searcher(self.graph, data, self.metric, self.quant, "FP32")
        self.searcher.optimize()
        self.data = data

    def params(self, value):
        return {"m": self.args.m, "ef_construction": self.args.ef_construction, "ef_search": value,
                "quant": self.quant}

    def set_param(self, value):
        self.searcher.set_ef(max(value, self.args.k))

    def reset_stats(self):
        pass

    def distances(self):
        return None

    def search(self, q, k):
        if self.args.metric == "cosine":
            q = normalized(q)
        if len(q) == 1:
            return np.asarray(self.searcher.search(np.ascontiguousarray(q[0]), k)).reshape(-1)
        return np.asarray(self.searcher.batch_search(np.ascontiguousarray(q), k, 1))

    def sizes(self):
        return 0, self.n * self.dim * 4  # glass reports no index size

    def save(self, path):
        raise ValueError("glass: --index-file / --reopen are not supported (its Python API has no load)")

    def load(self, path):
        self.save(path)


def default_pq_m(dim):
    """The engine's rule for PQ without a number: the largest divisor of dim <= dim/2 and <= 64."""
    for m in range(min(64, max(1, dim // 2)), 1, -1):
        if dim % m == 0:
            return m
    return 1


# ------------------------------------------------------------------------------------------------

def default_sweep(system, args):
    if system in ("hnswlib", "faiss-hnsw", "glass"):
        return args.ef_search or [16, 32, 64, 128, 256]
    return args.nprobe or [p for p in (1, 2, 4, 8, 16, 32, 64) if p <= args.nlist]


def run_pass(sut, queries, k, threads, warmup):
    for i in range(min(warmup, len(queries))):
        sut.search(queries[i:i + 1], k)
    nq = len(queries)
    latency = [0.0] * nq
    ids = np.full((nq, k), -1, dtype=np.int64)

    def work(begin, end):
        for i in range(begin, end):
            t0 = time.perf_counter_ns()
            got = sut.search(queries[i:i + 1], k)
            latency[i] = (time.perf_counter_ns() - t0) / 1000.0
            ids[i, :len(got)] = got[:k]

    per = -(-nq // threads)
    start = time.perf_counter()
    if threads == 1:
        work(0, nq)
    else:
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            futures = [pool.submit(work, b, min(nq, b + per)) for b in range(0, nq, per)]
            for f in futures:
                f.result()
    wall = time.perf_counter() - start
    return wall, sorted(latency), ids


def run_system(system, args):
    base = VecsFile(args.base)
    n = min(base.rows, args.max_base) if args.max_base else base.rows
    qfile = VecsFile(args.query)
    if qfile.dim != base.dim:
        raise ValueError(f"{args.query}: dimension {qfile.dim}, but the base vectors have {base.dim}")
    nq = min(args.queries or qfile.rows, qfile.rows)
    queries = qfile.read(0, nq).astype(np.float32)
    k = args.k
    if k > n:
        raise ValueError(f"-k {k} exceeds the {n} base points")
    if args.gt and n == base.rows:
        gt = VecsFile(args.gt)
        if gt.rows < nq or gt.dim < k:
            raise ValueError(f"{args.gt}: {gt.rows} x {gt.dim} ids, need {nq} x {k}")
        truth = gt.read(0, nq)[:, :k]
    else:
        print(f"peers.py: computing exact ground truth ({nq} queries x {n} points)...", file=sys.stderr)
        truth = brute_force(base, n, queries, args.metric, k)

    if system == "hnswlib":
        sut = HnswlibSystem(args, base.dim, n)
    elif system == "glass":
        sut = GlassSystem(args, base.dim, n)
    else:
        sut = FaissSystem(args, base.dim, n, system, base)
    index_file = args.index_file.replace("{system}", system) if args.index_file else None
    build_s = None
    reopen_s = close_s = None
    if index_file and os.path.exists(index_file):
        # An index an earlier run saved with --index-file: only the sweep is measured.
        t0 = time.perf_counter()
        sut.load(index_file)
        reopen_s = time.perf_counter() - t0
        print(f"peers.py: loaded {index_file} in {reopen_s:.2f} s", file=sys.stderr)
    else:
        print(f"peers.py: {sut.impl}: building {sut.name} on {n} x {base.dim}", file=sys.stderr)
        t0 = time.perf_counter()
        if hasattr(sut, "train"):
            sut.train()
        for start, x in base.blocks(n):
            sut.add(start, x)
        sut.finish()
        build_s = time.perf_counter() - t0
        print(f"peers.py: built in {build_s:.2f} s", file=sys.stderr)
        if index_file:
            sut.save(index_file)
    index_bytes, vector_bytes = sut.sizes()

    if args.reopen and build_s is not None:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "index.bin")
            t0 = time.perf_counter()
            sut.save(path)
            close_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            sut.load(path)
            reopen_s = time.perf_counter() - t0

    for value in default_sweep(system, args):
        sut.set_param(value)
        sut.reset_stats()
        wall, latency, ids = run_pass(sut, queries, k, args.threads, args.warmup)
        ndis = sut.distances()
        for _ in range(1, args.runs):  # report the fastest pass
            again = run_pass(sut, queries, k, args.threads, args.warmup)
            if again[0] < wall:
                wall, latency, ids = again
        hits, r = recall(ids, truth, k)
        # The same queries in one library call on one thread: the library's own throughput, without
        # the Python call per query that `qps` pays (Sextant's C++ tool pays none).
        t0 = time.perf_counter()
        sut.search(queries, k)
        batch_qps = nq / (time.perf_counter() - t0)
        line = {
            "system": sut.system,
            "index": sut.name,
            "params": sut.params(value),
            "recall": 1.0 if hits == nq * k else round(min(r, 0.999999), 6),
            "qps": round(nq / wall, 1),
            "batch_qps": round(batch_qps, 1),
            "p50_us": round(percentile(latency, 0.50), 1),
            "p99_us": round(percentile(latency, 0.99), 1),
            "build_s": None if build_s is None else round(build_s, 3),
            "rss_mb": round(proc_status_mb("VmRSS") or -1, 1),
            "peak_rss_mb": round(proc_status_mb("VmHWM") or -1, 1),
            "index_bytes": int(index_bytes),
            "vector_bytes": int(vector_bytes),
            "bytes_per_vector": round(index_bytes / n, 1),
            "n": n,
            "dim": base.dim,
            "k": k,
            "queries": nq,
            "threads": args.threads,
            "runs": args.runs,
            "metric": args.metric,
            "dataset": dataset_name(args.base),
            "engine_index": sut.impl,
            "plan": "index",
            "distances_per_query": None if ndis is None else round(ndis / (nq + min(args.warmup, nq))),
        }
        if reopen_s is not None:
            line["reopen_s"] = round(reopen_s, 3)
        if close_s is not None:
            line["close_s"] = round(close_s, 3)
        print(json.dumps(line, separators=(",", ":")), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", required=True, help=".fvecs or .bvecs base vectors; ids are row numbers")
    p.add_argument("--query", required=True, help=".fvecs or .bvecs queries")
    p.add_argument("--gt", help=".ivecs ground truth (>= k ids per query); computed when absent")
    p.add_argument("--queries", type=int, help="use the first Q queries (default all)")
    p.add_argument("--max-base", type=int, help="use the first N base vectors (the truth is then recomputed)")
    p.add_argument("--metric", choices=("l2", "ip", "cosine"), default="l2")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma list of " + ", ".join(SYSTEMS))
    p.add_argument("--m", type=int, default=16, help="HNSW links per node (2m on the base layer)")
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef-search", type=parse_list, help="HNSW sweep (default 16,32,64,128,256)")
    p.add_argument("--nlist", type=int, default=256, help="IVF lists")
    p.add_argument("--nprobe", type=parse_list, help="IVF sweep (default 1,2,4,8,16,32,64 up to nlist)")
    p.add_argument("--pq-m", type=int, default=0, help="IVF-PQ sub-quantizers (0: the engine's default rule)")
    p.add_argument("--pq-refine", type=int, default=0,
                   help="IVF-PQ: re-rank k*F candidates with float vectors (IndexRefineFlat); 0 = off")
    p.add_argument("--glass-quant", default="SQ8U",
                   help="glass's walk quantizer (SQ8U, SQ8, SQ4U, FP16, ...); re-ranked with FP32")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=1, help="timed passes per setting; the fastest is reported")
    p.add_argument("--reopen", action="store_true",
                   help="save the index to a file (close_s), load it back (reopen_s), search the loaded one")
    p.add_argument("--index-file", help="load the index from this file when it exists (build_s null), else build "
                   "it and save it there; {system} in the path is replaced by the system's name")
    p.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    for s in systems:
        if s not in SYSTEMS:
            p.error(f"unknown system '{s}' (expected {', '.join(SYSTEMS)})")
    if args.k < 1 or args.threads < 1 or args.runs < 1:
        p.error("-k, --threads and --runs must be >= 1")

    try:
        if args.in_process or len(systems) == 1:
            for s in systems:
                run_system(s, args)
            return 0
        # One child process per system, so each RSS figure holds one index only.
        status = 0
        for s in systems:
            argv = [a for a in sys.argv[1:]]
            rc = subprocess.call([sys.executable, os.path.abspath(__file__), *argv, "--systems", s, "--in-process"])
            status = status or rc
        return status
    except (ValueError, OSError) as e:
        print(f"peers.py: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"peers.py: error: {e} (run bench/ann/setup_peers.sh and use bench/.venv/bin/python)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
