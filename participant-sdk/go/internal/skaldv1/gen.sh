#!/bin/sh
# Generates package skaldv1 (messages and gRPC stubs of skald.v1) from the shared protos in
# proto/skald/v1 into this directory. The output is gitignored: never edit or commit it.
# Needs protoc, protoc-gen-go and protoc-gen-go-grpc (scripts/install-deps.sh installs them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto_root=$(cd "$here/../../../../proto" && pwd)
pkg=github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1
map="Mskald/v1/participant.proto=$pkg,Mskald/v1/registry.proto=$pkg,Mskald/v1/saga_service.proto=$pkg"
rm -f "$here"/*.pb.go
protoc -I "$proto_root" \
  --go_out="$here" --go_opt="module=$pkg,$map" \
  --go-grpc_out="$here" --go-grpc_opt="module=$pkg,$map" \
  skald/v1/participant.proto skald/v1/registry.proto skald/v1/saga_service.proto
