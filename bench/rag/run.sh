#!/usr/bin/env bash
# The RAG benchmark of bench/README.md ("RAG: retrieval quality and speed"), in full: builds
# sextant-rag-bench (CMake, in $BUILD_DIR), makes sure the local model is there (scripts/
# fetch-model.sh, unless --no-fetch), then runs python-faq and Cranfield with the hash and the
# local embedder. One JSON line per (data set, embedder) on stdout, and a copy in --out FILE;
# progress on stderr. With the local encoder on a 2-core machine it takes several minutes
# (Cranfield: 1,400 abstracts).
#
#   bench/rag/run.sh                          # everything
#   bench/rag/run.sh --embedders hash         # seconds
#   bench/rag/run.sh --out rag.jsonl -- --max-docs 300   (flags after -- go to sextant-rag-bench)
#
# Environment: BUILD_DIR [<repo>/build-bench], SEXTANT_DATA_DIR [<repo>/../shared/data],
# SEXTANT_MODEL_DIR [~/.cache/sextant/models].
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
die() { echo "run.sh: $*" >&2; exit 2; }
say() { echo "run.sh: $*" >&2; }

embedders=hash,local datasets=faq,cranfield out="" fetch=1 extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --embedders) [[ $# -ge 2 ]] || die "--embedders needs a value"; embedders=$2; shift 2 ;;
    --datasets) [[ $# -ge 2 ]] || die "--datasets needs a value"; datasets=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a value"; out=$2; shift 2 ;;
    --no-fetch) fetch=0; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [[ ! -f $BUILD_DIR/build.ninja && ! -f $BUILD_DIR/Makefile ]]; then
  say "configuring $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
say "building sextant-rag-bench"
cmake --build "$BUILD_DIR" --target sextant_rag_bench -j2 >&2
BENCH=$BUILD_DIR/bench/rag/sextant-rag-bench

if [[ $embedders == *local* && $fetch == 1 ]]; then
  model_root=${SEXTANT_MODEL_DIR:-$HOME/.cache/sextant/models}
  if [[ ! -f $model_root/all-MiniLM-L6-v2/model.safetensors ]]; then
    say "fetching all-MiniLM-L6-v2 (scripts/fetch-model.sh)"
    bash "$ROOT/scripts/fetch-model.sh" >&2 || say "could not fetch the model: the local embedder will be skipped"
  fi
fi

say "running: $BENCH --embedders $embedders --datasets $datasets ${extra[*]:-}"
if [[ -n $out ]]; then
  "$BENCH" --embedders "$embedders" --datasets "$datasets" "${extra[@]}" | tee "$out"
else
  "$BENCH" --embedders "$embedders" --datasets "$datasets" "${extra[@]}"
fi
