#!/usr/bin/env bash
# The local encoder beside ONNX Runtime on the same weights, one thread, in one run
# (bench/README.md, "Local encoder"): long texts (python-faq answers, cut at 256 tokens) at batch 32
# and short ones (python-faq questions) at batch 1. Builds sextant-encoder-bench in $BUILD_DIR,
# makes a venv with the peer's PyPI packages (numpy onnx onnxruntime tokenizers safetensors sympy) in
# $BUILD_DIR/encoder-venv, and prints one JSON line per (engine, text set); the ONNX Runtime lines
# carry the cosine of its embeddings to Sextant's. About 2 minutes with the default 5 s per line.
#
#   bench/rag/encoder.sh [--seconds S] [--no-peers]
#
# Environment: BUILD_DIR [<repo>/build-bench], SEXTANT_DATA_DIR [<repo>/../shared/data],
# SEXTANT_MODEL_DIR [~/.cache/sextant/models], PYTHON [python3].
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
export SEXTANT_DATA_DIR=${SEXTANT_DATA_DIR:-$ROOT/../shared/data}
MODEL=${SEXTANT_MODEL_DIR:-$HOME/.cache/sextant/models}/all-MiniLM-L6-v2
die() { echo "encoder.sh: $*" >&2; exit 2; }

seconds=5 peers=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) [[ $# -ge 2 ]] || die "--seconds needs a value"; seconds=$2; shift 2 ;;
    --no-peers) peers=0; shift ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[[ -f $MODEL/model.safetensors ]] || die "no model in $MODEL: run scripts/fetch-model.sh"

if [[ ! -f $BUILD_DIR/build.ninja && ! -f $BUILD_DIR/Makefile ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build "$BUILD_DIR" --target sextant_encoder_bench -j2 >&2
BENCH=$BUILD_DIR/bench/rag/sextant-encoder-bench
VENV=$BUILD_DIR/encoder-venv
[[ -x $VENV/bin/python ]] || ${PYTHON:-python3} -m venv "$VENV" >&2
if ! "$VENV/bin/python" -c "import numpy, onnx, onnxruntime, tokenizers, safetensors, sympy" 2>/dev/null; then
  "$VENV/bin/pip" install -q numpy onnx onnxruntime tokenizers safetensors sympy >&2
fi
PEERS=("$VENV/bin/python" "$ROOT/bench/rag/encoder_peers.py")
WORK=$BUILD_DIR/encoder-bench
"${PEERS[@]}" texts "$WORK"

for set in long:32 short:1; do
  name=${set%%:*} batch=${set##*:}
  "$BENCH" --model "$MODEL" --texts "$WORK/$name.txt" --batch "$batch" --threads 1 --seconds "$seconds" \
    --vectors "$WORK/$name.f32" | sed "s/^{/{\"set\":\"$name\",/"
  if [[ $peers == 1 ]]; then
    for fused in "" --fused; do
      "${PEERS[@]}" ort --model "$MODEL" --texts "$WORK/$name.txt" --batch "$batch" --seconds "$seconds" \
        --vectors "$WORK/$name.f32" --onnx "$WORK/minilm.onnx" $fused 2> >(grep -v '^.\[0;93m' >&2) |
        sed "s/^{/{\"set\": \"$name\", /" || echo "encoder.sh: the ONNX Runtime run${fused:+ ($fused)} failed" >&2
    done
  fi
done
