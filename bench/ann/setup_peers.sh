#!/usr/bin/env bash
# Creates the Python environment that bench/ann/peers.py needs: a venv at bench/.venv (gitignored)
# with hnswlib, faiss-cpu, pyglass-portable (glass) and numpy from PyPI. For the peer comparison only: no test or build
# depends on it.
#
#   bench/ann/setup_peers.sh            # create or update bench/.venv
#   PYTHON=python3.12 bench/ann/setup_peers.sh
#
# hnswlib ships mostly as a source distribution, so pip may compile it: that needs a C++ compiler
# (g++) and the Python headers (python3-dev on Debian), which a Sextant build machine has.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(cd "$here/.." && pwd)/.venv"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup_peers.sh: $python not found (set PYTHON=...)" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup_peers.sh: creating $venv" >&2
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy faiss-cpu hnswlib pyglass-portable
"$venv/bin/python" - <<'PY'
import importlib.metadata
import faiss, glass, hnswlib, numpy
print("peers ready: numpy %s, faiss %s, hnswlib %s, glass %s" % (
    numpy.__version__, faiss.__version__, getattr(hnswlib, "__version__", "?"),
    importlib.metadata.version("pyglass-portable")))
PY
echo "setup_peers.sh: done; run bench/ann/peers.py with $venv/bin/python" >&2
