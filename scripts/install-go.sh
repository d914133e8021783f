#!/usr/bin/env bash
# Makes sure a Go toolchain >= 1.22 is available for the Go client, and prints the path of its `go`
# binary on stdout (messages go to stderr). Uses the `go` on PATH (or /usr/local/go) when it is new
# enough; otherwise downloads the official toolchain from the Go module proxy (the same archive
# `GOTOOLCHAIN=auto` would fetch) into ~/.cache/sextant/go. Debian 12's golang-go is 1.19: too old.
set -euo pipefail

want_minor=22
toolchain="go1.22.12"  # fetched only when no suitable Go is installed

new_enough() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1  # go1.26.8
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge "$want_minor" ]; }
}

for candidate in "$(command -v go 2>/dev/null || true)" /usr/local/go/bin/go "$HOME/.cache/sextant/$toolchain/bin/go"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && new_enough "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

dest="$HOME/.cache/sextant/$toolchain"
echo "install-go: no Go >= 1.$want_minor found; fetching $toolchain from the Go module proxy" >&2
command -v curl >/dev/null && command -v unzip >/dev/null || {
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq curl unzip ca-certificates >&2
}
proxy="${GOPROXY:-https://proxy.golang.org}"
proxy="${proxy%%,*}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL "$proxy/golang.org/toolchain/@v/v0.0.1-$toolchain.linux-amd64.zip" -o "$tmp/go.zip"
unzip -q "$tmp/go.zip" -d "$tmp/x"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$tmp/x/golang.org/toolchain@v0.0.1-$toolchain.linux-amd64" "$dest"
chmod +x "$dest/bin/"* "$dest/pkg/tool/"*/* 2>/dev/null || true
new_enough "$dest/bin/go" || { echo "install-go: the fetched toolchain does not run" >&2; exit 1; }
echo "$dest/bin/go"
