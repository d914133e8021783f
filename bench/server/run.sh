#!/usr/bin/env bash
# The server benchmarks of bench/README.md ("Server: gRPC against in-process"), in one go:
#  1. builds sextantd and sextant-server-bench (CMake, in $BUILD_DIR), the Go program
#     sextant-ingest-bench, and a venv with the Python client (unless $PYTHON is given);
#  2. starts sextantd on a scratch directory and measures the streaming bulk ingest from Python
#     (ingest_python.py) and from Go (sextant-ingest-bench), each into a fresh collection, and the
#     in-process ingest through the engine (sextant-server-bench --ingest-only) as the baseline,
#     in rounds of the three;
#  3. stops that server and runs the search benchmark (sextant-server-bench, which loads a
#     collection, searches it in-process, then serves it with its own sextantd and searches it
#     over loopback with 1, 8, 32 concurrent clients).
# Every result is a JSON line on stdout; progress goes to stderr.
#
#   bench/server/run.sh                                   # siftsmall (10k x 128), 10 s per setting
#   bench/server/run.sh --synthetic 100000,128 --duration-s 10
#   bench/server/run.sh --base B.fvecs --query Q.fvecs --gt G.ivecs --clients 1,8,32
#
# Options (defaults in brackets):
#   --base F --query F [--gt F] | --synthetic N,D   the data [siftsmall from $SEXTANT_DATA_DIR]
#   --index SPEC [HNSW16]   --ef-search N [64]   -k K [10]   the search collection
#   --clients LIST [1,8,32]   --duration-s S [10]   --warmup-s S [1]
#   --batch N [1000]          points per upsert / stream message, for all three ingest runs
#   --ingest-index SPEC [Flat]   the index of the ingest collections
#   --ingest-runs R [5]       ingest rounds (python, go, in-process; each a fresh collection)
#   --skip-search / --skip-ingest
# Environment: BUILD_DIR [<repo>/build-bench], PYTHON [$BUILD_DIR/venv/bin/python, created when
# missing], GO [go on PATH, else /usr/local/go/bin/go], SEXTANT_DATA_DIR [<repo>/../shared/data].
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
DATA_DIR=${SEXTANT_DATA_DIR:-$ROOT/../shared/data}
die() { echo "run.sh: $*" >&2; exit 2; }
say() { echo "run.sh: $*" >&2; }

data=() base="" query="" gt="" synthetic=""
index=HNSW16 ef_search=64 k=10 clients=1,8,32 duration=10 warmup=1 batch=1000
ingest_index=Flat ingest_runs=5 do_search=1 do_ingest=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --base) base=${2:?--base needs a file}; shift 2 ;;
    --query) query=${2:?--query needs a file}; shift 2 ;;
    --gt) gt=${2:?--gt needs a file}; shift 2 ;;
    --synthetic) synthetic=${2:?--synthetic needs N,D}; shift 2 ;;
    --index) index=${2:?}; shift 2 ;;
    --ef-search) ef_search=${2:?}; shift 2 ;;
    -k) k=${2:?}; shift 2 ;;
    --clients) clients=${2:?}; shift 2 ;;
    --duration-s) duration=${2:?}; shift 2 ;;
    --warmup-s) warmup=${2:?}; shift 2 ;;
    --batch) batch=${2:?}; shift 2 ;;
    --ingest-index) ingest_index=${2:?}; shift 2 ;;
    --ingest-runs) ingest_runs=${2:?}; shift 2 ;;
    --skip-search) do_search=0; shift ;;
    --skip-ingest) do_ingest=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
if [[ -n $synthetic ]]; then
  [[ -z $base$query$gt ]] || die "give either --synthetic or --base/--query, not both"
  data=(--synthetic "$synthetic")
  ingest_data=(--synthetic "$synthetic")
else
  if [[ -z $base$query ]]; then
    base=$DATA_DIR/siftsmall/siftsmall_base.fvecs
    query=$DATA_DIR/siftsmall/siftsmall_query.fvecs
    gt=$DATA_DIR/siftsmall/siftsmall_groundtruth.ivecs
    [[ -f $base ]] || die "no data given and $base is missing (set SEXTANT_DATA_DIR or give --base/--query)"
  fi
  [[ -n $base && -n $query ]] || die "--base and --query go together"
  data=(--base "$base" --query "$query")
  [[ -z $gt ]] || data+=(--gt "$gt")
  ingest_data=(--base "$base")
fi
[[ $ingest_runs =~ ^[1-9][0-9]*$ ]] || die "--ingest-runs: expected a number >= 1"

# 1. Build.
if [[ ! -f $BUILD_DIR/build.ninja && ! -f $BUILD_DIR/Makefile ]]; then
  say "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
say "building sextantd and sextant-server-bench"
cmake --build "$BUILD_DIR" --target sextantd sextant_server_bench -j2 >&2
SEXTANTD=$BUILD_DIR/server/sextantd
BENCH=$BUILD_DIR/bench/server/sextant-server-bench
if [[ $do_ingest == 1 ]]; then
  GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
  [[ -x $GO ]] || die "no Go toolchain (set GO=/path/to/go)"
  GO_BENCH=$BUILD_DIR/bench/server/sextant-ingest-bench
  say "building sextant-ingest-bench with $GO"
  (cd "$ROOT/client/go" && "$GO" build -o "$GO_BENCH" ./cmd/sextant-ingest-bench)
  if [[ -z ${PYTHON:-} ]]; then
    PYTHON=$BUILD_DIR/venv/bin/python
    if [[ ! -x $PYTHON ]] || ! "$PYTHON" -c 'import sextant, numpy' 2>/dev/null; then
      say "creating $BUILD_DIR/venv with the Python client"
      python3 -m venv "$BUILD_DIR/venv"
      "$BUILD_DIR/venv/bin/pip" install -q "$ROOT/client/python" >&2
    fi
  fi
fi

# 2. Ingest through a running sextantd.
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/sextant-server-run-XXXXXX")
SERVER_PID=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

if [[ $do_ingest == 1 ]]; then
  "$SEXTANTD" --data "$SCRATCH/db" --listen 127.0.0.1:0 --port-file "$SCRATCH/port" >"$SCRATCH/sextantd.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    [[ -s $SCRATCH/port ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$SCRATCH/sextantd.log" >&2; die "sextantd did not start"; }
    sleep 0.1
  done
  [[ -s $SCRATCH/port ]] || die "sextantd wrote no port file in 30 s"
  ADDRESS=127.0.0.1:$(tr -d '\n' <"$SCRATCH/port")
  say "sextantd listening on $ADDRESS; ingest runs: $ingest_runs per client, batch $batch, index $ingest_index"
  # Round by round, so that a burst of load elsewhere on the machine hits all three alike; the
  # in-process baseline (the same upserts through the embedded engine) runs beside the idle server.
  for run in $(seq "$ingest_runs"); do
    "$PYTHON" "$ROOT/bench/server/ingest_python.py" --address "$ADDRESS" "${ingest_data[@]}" \
      --batch "$batch" --index "$ingest_index"
    "$GO_BENCH" -address "$ADDRESS" "${ingest_data[@]}" -batch "$batch" -index "$ingest_index"
    "$BENCH" "${data[@]}" --index "$ingest_index" --batch "$batch" --ingest-only
  done
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || die "sextantd exited with status $? (log: $(tail -3 "$SCRATCH/sextantd.log"))"
  SERVER_PID=""
fi

# 3. Search: in-process against sextantd over loopback.
if [[ $do_search == 1 ]]; then
  ef=()
  [[ $index == HNSW* ]] && ef=(--ef-search "$ef_search")
  "$BENCH" "${data[@]}" --index "$index" "${ef[@]}" -k "$k" --clients "$clients" \
    --duration-s "$duration" --warmup-s "$warmup" --batch "$batch" --sextantd "$SEXTANTD"
fi
