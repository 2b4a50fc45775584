module github.com/skald-saga/skald/participant-sdk/go

go 1.19

// The versions Debian 12 packages (golang-google-grpc-dev, golang-google-protobuf-dev,
// golang-github-jackc-pgx-v4-dev); scripts/test-go.sh builds in GOPATH mode against them.
// Module users: run `go generate ./...` (needs protoc) and `go mod tidy` once.
require (
	github.com/jackc/pgx/v4 v4.15.0
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
