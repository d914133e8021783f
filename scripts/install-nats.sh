#!/usr/bin/env bash
# Makes sure a nats-server with JetStream is available for cluster mode (docs/cluster.md) and its
# tests, and prints the path of the binary on stdout (messages go to stderr).
#
# Preferred: nats-server built from its Go module at one pinned version, with the Go toolchain that
# scripts/install-go.sh provides (`go install` through the Go module proxy), into
# ~/.cache/sextant/nats-server-<version>/. Fallback when that fails (no Go, no proxy): Debian's
# nats-server package (2.9.x on bookworm, which has JetStream and key-value buckets).
#   SEXTANT_NATS_SERVER=/path/to/nats-server   use that binary instead (it must run)
set -euo pipefail

version="v2.10.24"

if [ -n "${SEXTANT_NATS_SERVER:-}" ]; then
  "$SEXTANT_NATS_SERVER" --version >/dev/null 2>&1 || {
    echo "install-nats: SEXTANT_NATS_SERVER=$SEXTANT_NATS_SERVER does not run" >&2; exit 1; }
  echo "$SEXTANT_NATS_SERVER"
  exit 0
fi

dest="$HOME/.cache/sextant/nats-server-$version"
if [ -x "$dest/nats-server" ] && "$dest/nats-server" --version 2>/dev/null | grep -q "$version"; then
  echo "$dest/nats-server"
  exit 0
fi

if go_bin=$(bash "$(dirname "$0")/install-go.sh" 2>/dev/null); then
  echo "install-nats: building nats-server $version from its Go module" >&2
  mkdir -p "$dest"
  if GOBIN="$dest" GOFLAGS=-mod=mod "$go_bin" install "github.com/nats-io/nats-server/v2@$version" >&2 &&
     "$dest/nats-server" --version >/dev/null 2>&1; then
    echo "$dest/nats-server"
    exit 0
  fi
  echo "install-nats: go install failed; falling back to Debian's nats-server" >&2
fi

if ! command -v nats-server >/dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-nats: need root or sudo to install nats-server" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nats-server >&2
fi
command -v nats-server
