#!/usr/bin/env bash
# Creates a Python venv with llama-cpp-python's OpenAI-compatible server, for the real-server tests
# of the OpenAI embedder and generator (tests/llm/README.md).
#
#   bash tests/llm/setup.sh [VENV]     # default: build/llmvenv
#
# PyPI has only the source of llama-cpp-python: pip compiles llama.cpp (about 10 minutes on two
# cores). GGML_NATIVE=OFF builds for any x86-64, not just this CPU. Does nothing when the venv
# already has it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$here/build/llmvenv}"
# The version these scripts were checked with; LLAMA_CPP_PYTHON_VERSION overrides it.
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "llama-cpp-python is already in $venv"
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
echo "building llama-cpp-python $version (compiles llama.cpp; several minutes)..."
start=$(date +%s)
CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 19 "$venv/bin/pip" install "llama-cpp-python[server]==$version"
echo "llama-cpp-python built in $(( $(date +%s) - start )) s into $venv"
