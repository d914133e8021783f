#!/usr/bin/env bash
# Regenerates the Go protobuf and gRPC code in sextantpb/ from proto/sextant/v1/sextant.proto.
#
#   ./generate.sh            # rewrites sextantpb/sextant.pb.go and sextantpb/sextant_grpc.pb.go
#   ./generate.sh OUTDIR     # writes the two files to OUTDIR instead (the drift test uses this)
#
# Needs protoc on PATH (Debian: apt-get install protobuf-compiler; the checked-in files were made
# with libprotoc 3.21.12) and Go. The plugins are built from the versions go.mod pins
# (google.golang.org/protobuf for protoc-gen-go, google.golang.org/grpc/cmd/protoc-gen-go-grpc;
# internal/tools/tools.go keeps them in go.mod) into .bin/ beside this script.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$(cd "$here/../../proto" && pwd)"
out="${1:-$here/sextantpb}"
go="${GO:-go}"
if ! command -v "$go" >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  go=/usr/local/go/bin/go
fi
protoc="${PROTOC:-protoc}"
if ! command -v "$protoc" >/dev/null 2>&1; then
  echo "generate.sh: protoc not found (install protobuf-compiler or set PROTOC)" >&2
  exit 2
fi

mkdir -p "$here/.bin"
(cd "$here" && "$go" build -o .bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go)
(cd "$here" && "$go" build -o .bin/protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
module=github.com/sextant-db/sextant/client/go
"$protoc" -I "$proto_root" \
  --plugin=protoc-gen-go="$here/.bin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$here/.bin/protoc-gen-go-grpc" \
  --go_out="$tmp" --go_opt=module="$module" \
  --go-grpc_out="$tmp" --go-grpc_opt=module="$module" \
  sextant/v1/sextant.proto

mkdir -p "$out"
cp "$tmp/sextantpb/sextant.pb.go" "$tmp/sextantpb/sextant_grpc.pb.go" "$out/"
