#!/usr/bin/env bash
# Runs Sextant (sextant-bench) and its peers (peers.py: hnswlib, FAISS) on the same data with
# matching parameters, prints every JSON line, then a table: per system and index, the best qps
# among the settings that reach recall >= 0.95 (RECALL_TARGET), and the build time.
#
#   bench/ann/compare.sh --base B.fvecs --query Q.fvecs [--gt G.ivecs] [common options]
#   bench/ann/compare.sh --synthetic 100000,128 [--queries 1000] [--seed 42] [common options]
#
# common options (passed to both tools): --metric l2|ip|cosine, -k K, --threads N, --max-base N
# A synthetic set is first written to a temporary directory with `sextant-bench --write-synthetic`
# (vectors and exact ground truth), and both tools read those files: identical data and truth.
#
# Parameters (environment, with defaults):
#   INDEXES="Flat HNSW IVF IVFPQ"       which index families to run; also HNSWSQ8 and IVFSQ8
#                                         (Flat and the SQ8 ones: Sextant only)
#   SYSTEMS=hnswlib,faiss-hnsw,faiss-ivf,faiss-ivfpq   peers to run ("" for none)
#   M=16 EFC=200 EF=16,32,64,128,256      HNSW links, build list, search-list sweep
#   NLIST=auto NPROBE=1,2,4,8,16,32,64    IVF lists (auto: the power of two nearest sqrt(n)), probes
#   PQM=16 PQ_REFINE=8                    IVF-PQ sub-quantizers; FAISS re-rank factor (IndexRefineFlat
#                                         k_factor; 8 matches Sextant, which re-ranks max(8k, 64); 0: none)
#   REOPEN=0                              1: add --reopen (reopen_s) to every run
#   RUNS=1                                timed passes per setting, the fastest reported (a busy box)
#   RECALL_TARGET=0.95
#   SEXTANT_BENCH=path/to/sextant-bench   default: build-bench/, then build/ of this checkout
#   PEERS_PYTHON=bench/.venv/bin/python   made by bench/ann/setup_peers.sh
#   OUT=file                              also keep all JSON lines there
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

die() { echo "compare.sh: $*" >&2; exit 2; }

peers_python="${PEERS_PYTHON:-$root/bench/.venv/bin/python}"

INDEXES="${INDEXES:-Flat HNSW IVF IVFPQ}"
SYSTEMS="${SYSTEMS-hnswlib,faiss-hnsw,faiss-ivf,faiss-ivfpq}"
M="${M:-16}"
EFC="${EFC:-200}"
EF="${EF:-16,32,64,128,256}"
NLIST="${NLIST:-auto}"
NPROBE="${NPROBE:-1,2,4,8,16,32,64}"
PQM="${PQM:-16}"
PQ_REFINE="${PQ_REFINE:-8}"
REOPEN="${REOPEN:-0}"
RUNS="${RUNS:-1}"
RECALL_TARGET="${RECALL_TARGET:-0.95}"

# Split the arguments: data (--base/--query/--gt or --synthetic/--queries/--seed) and common.
base="" query="" gt="" synthetic="" queries="" seed="" metric="l2" k="10"
common=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --query) query="$2"; shift 2 ;;
    --gt) gt="$2"; shift 2 ;;
    --synthetic) synthetic="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --metric) metric="$2"; shift 2 ;;
    -k) k="$2"; shift 2 ;;
    --threads|--max-base) common+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
common+=(--metric "$metric" -k "$k")

bench="${SEXTANT_BENCH:-}"
if [[ -z "$bench" ]]; then
  for b in "$root/build-bench/bench/sextant-bench" "$root/build/bench/sextant-bench"; do
    [[ -x "$b" ]] && bench="$b" && break
  done
fi
[[ -n "$bench" && -x "$bench" ]] || die "sextant-bench not found: build it (ninja -C build-bench sextant_bench) or set SEXTANT_BENCH"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sextant-compare-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if [[ -n "$synthetic" ]]; then
  [[ -z "$base$query$gt" ]] || die "give either --synthetic or --base/--query/--gt"
  gen=(--synthetic "$synthetic" --metric "$metric" -k "$k" --write-synthetic "$tmp/data")
  [[ -n "$queries" ]] && gen+=(--queries "$queries")
  [[ -n "$seed" ]] && gen+=(--seed "$seed")
  "$bench" "${gen[@]}"
  base="$(ls "$tmp"/data/*_base.fvecs)"
  query="$(ls "$tmp"/data/*_query.fvecs)"
  gt="$(ls "$tmp"/data/*_groundtruth*.ivecs)"
  queries=""
fi
[[ -n "$base" && -n "$query" ]] || die "give --base and --query, or --synthetic N,D"
data=(--base "$base" --query "$query")
[[ -n "$gt" ]] && data+=(--gt "$gt")
[[ -n "$queries" ]] && data+=(--queries "$queries")
[[ "$REOPEN" == 1 ]] && common+=(--reopen)
common+=(--runs "$RUNS")

if [[ "$NLIST" == auto ]]; then
  # The number of base rows from the file size, then the power of two nearest its square root.
  NLIST="$(python3 - "$base" "${common[@]}" <<'PY'
import math, os, struct, sys
path, args = sys.argv[1], sys.argv[2:]
with open(path, "rb") as f:
    d = struct.unpack("<i", f.read(4))[0]
rows = os.path.getsize(path) // (4 + d * (1 if path.endswith(".bvecs") else 4))
if "--max-base" in args:
    rows = min(rows, int(args[args.index("--max-base") + 1]))
print(max(1, 2 ** round(math.log2(max(1, math.sqrt(rows))))))
PY
)"
fi
echo "compare.sh: $(basename "$base"), nlist $NLIST, ${common[*]}" >&2

out="$tmp/results.jsonl"
: >"$out"
run_sextant() {
  "$bench" "${data[@]}" "${common[@]}" "$@" | tee -a "$out" || echo "compare.sh: sextant-bench $* failed" >&2
}
for family in $INDEXES; do
  case "$family" in
    Flat) run_sextant --index Flat ;;
    HNSW) run_sextant --index "HNSW$M" --ef-construction "$EFC" --ef-search "$EF" ;;
    IVF) run_sextant --index "IVF$NLIST" --nprobe "$NPROBE" ;;
    IVFPQ) run_sextant --index "IVF$NLIST,PQ$PQM" --nprobe "$NPROBE" ;;
    HNSWSQ8) run_sextant --index "HNSW$M,SQ8" --ef-construction "$EFC" --ef-search "$EF" ;;
    IVFSQ8) run_sextant --index "IVF$NLIST,SQ8" --nprobe "$NPROBE" ;;
    *) die "unknown index family $family in INDEXES" ;;
  esac
done

if [[ -n "$SYSTEMS" ]]; then
  if "$peers_python" -c 'import faiss, hnswlib, numpy' 2>/dev/null; then
    "$peers_python" "$here/peers.py" "${data[@]}" "${common[@]}" --systems "$SYSTEMS" --m "$M" \
      --ef-construction "$EFC" --ef-search "$EF" --nlist "$NLIST" --nprobe "$NPROBE" --pq-m "$PQM" \
      --pq-refine "$PQ_REFINE" | tee -a "$out" || echo "compare.sh: peers.py failed" >&2
  else
    echo "compare.sh: no peers ($peers_python cannot import faiss and hnswlib): run bench/ann/setup_peers.sh" >&2
  fi
fi
[[ -n "${OUT:-}" ]] && cp "$out" "$OUT"

python3 - "$out" "$RECALL_TARGET" <<'PY'
import json, sys
path, target = sys.argv[1], float(sys.argv[2])
groups = {}
for line in open(path):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        groups.setdefault((r["system"], r["index"]), []).append(r)
if not groups:
    sys.exit("compare.sh: no results")
first = next(iter(groups.values()))[0]
print(f"\n{first['dataset']}: n={first['n']} dim={first['dim']} k={first['k']} metric={first['metric']} "
      f"threads={first['threads']} queries={first['queries']}")
head = ("system", "index", f"qps@{target:g}", "recall", "p99_us", "setting", "build_s", "B/vec", "note")
rows = []
for (system, index), rs in groups.items():
    ok = [r for r in rs if r["recall"] >= target]
    best = max(ok, key=lambda r: r["qps"]) if ok else max(rs, key=lambda r: r["recall"])
    setting = ",".join(f"{k}={v}" for k, v in best["params"].items() if k in ("ef_search", "nprobe")) or "-"
    note = "" if ok else f"never reaches {target:g}"
    if system == "sextant" and best.get("engine_index") not in (None, index):
        note = (note + "; " if note else "") + f"engine ran {best['engine_index']}"
    elif system == "sextant" and index != "Flat" and best.get("plan") != "index":
        note = (note + "; " if note else "") + f"plan {best.get('plan')}"
    rows.append((system, index, f"{best['qps']:.0f}" if ok else "-", f"{best['recall']:.4f}",
                 f"{best['p99_us']:.0f}" if best.get("p99_us") is not None else "-", setting,
                 f"{best['build_s']:.2f}", f"{best.get('bytes_per_vector', 0):.0f}", note))
widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
for r in (head, *rows):
    print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())
PY
