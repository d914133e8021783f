#!/usr/bin/env bash
# Sets up, builds and runs Sextant's main job: sextantd, the gRPC server, on its embedded defaults
# (data in ./sextant-data, listening on 127.0.0.1:7070, no keys, loopback only). Extra arguments go
# to sextantd (docs/server.md lists them), e.g. `bash scripts/serve.sh --metrics 127.0.0.1:9090`.
# Stop it with Ctrl-C (SIGINT) or SIGTERM: it finishes the calls in flight, flushes and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "${SEXTANT_JOBS:-2}" --target sextantd
exec ./build/server/sextantd --data "${SEXTANT_DATA:-./sextant-data}" --listen "${SEXTANT_LISTEN:-127.0.0.1:7070}" "$@"
