#!/usr/bin/env bash
# Sets up, builds and runs Sextant's main job: the `sextant` tool's quick demo, which creates a
# database, loads vectors it generates and searches them. Extra arguments go to `sextant demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${SEXTANT_JOBS:-2}" --target sextant_cli
exec ./build/engine/sextant demo "$@"
