//go:build tools

// Package tools pins the code generators that generate.sh builds, so that go.mod and go.sum
// fix their versions: protoc-gen-go comes from google.golang.org/protobuf and protoc-gen-go-grpc
// from its own module. The build tag keeps this file out of every normal build.
package tools

import (
	_ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
