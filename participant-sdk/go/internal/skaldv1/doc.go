// Package skaldv1 is the Go code of the wire contracts in proto/skald/v1 (participant.proto,
// registry.proto), generated at build time by gen.sh: run `go generate ./...` (or
// scripts/test-go.sh) before building. Internal: participants use package skald.
package skaldv1

//go:generate sh gen.sh
