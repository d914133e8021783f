#!/usr/bin/env bash
# Installs what building and testing Sextant needs on Debian 12 (bookworm), from Debian's
# packages. Idempotent: installs only the packages that are missing; does nothing when all are.
#
#   bash scripts/install-deps.sh          the C++ build (library, tools, sextantd, C++ client)
#   bash scripts/install-deps.sh --all    also Python with venv and Go >= 1.22, for the Python and
#                                         Go clients and their tests (see scripts/install-go.sh), and
#                                         nats-server for cluster mode's tests (scripts/install-nats.sh)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config unzip
  librocksdb-dev libeigen3-dev libxsimd-dev nlohmann-json3-dev libcurl4-openssl-dev libcpp-httplib-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libbenchmark-dev libgtest-dev libgmock-dev
  libstemmer-dev
  libnats-dev  # the NATS C client (JetStream, key-value) for cluster mode (cluster/, docs/cluster.md)
  clang-14  # libFuzzer for the fuzz targets (scripts/fuzz.sh)
)

if [ "${1:-}" = "--all" ]; then
  # Python's venv module; Debian splits it out of python3 (a pyenv or python.org build has it).
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    packages+=(python3 python3-venv python3-pip)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else

  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}"
  # A fresh machine's package lists may be empty or stale.
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "${1:-}" = "--all" ]; then
  bash "$(dirname "$0")/install-go.sh" >/dev/null
  bash "$(dirname "$0")/install-nats.sh" >/dev/null
fi
