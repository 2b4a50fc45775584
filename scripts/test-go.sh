#!/usr/bin/env bash
# Builds and tests the Go participant SDK (participant-sdk/go) offline: generates the skald.v1
# Go code from proto/, then runs go vet and go test -race in GOPATH mode against Debian's Go
# packages in /usr/share/gocode (no module proxy needed). The barrier tests start (and
# remove) a throwaway PostgreSQL of their own; here they fail rather than skip without one.
# Prints a go test-style summary; exits non-zero on any failure. scripts/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh

import_path=github.com/skald-saga/skald/participant-sdk/go
gopath=$(mktemp -d -t skald-gopath-XXXXXX)
log=$(mktemp -t skald-go-test-XXXXXX.log)
cleanup() { rm -rf "$gopath" "$log"; }
trap cleanup EXIT

started=$(date +%s)
sh participant-sdk/go/internal/skaldv1/gen.sh
mkdir -p "$gopath/src/$(dirname "$import_path")"
ln -s "$root/participant-sdk/go" "$gopath/src/$import_path"
cd "$gopath/src/$import_path"
export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode"
export SKALD_GO_REQUIRE_PG=1

echo "== go vet ./..."
nice -n 19 timeout 300 go vet ./...
echo "== go test -race ./..."
status=0
nice -n 19 timeout 300 go test -race -count=1 -v ./... >"$log" 2>&1 || status=$?
grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|ok |FAIL|panic:|\?)' "$log" | grep -v '^=== RUN' || true
if [ "$status" -ne 0 ]; then
  echo "== output of the failed run:"
  cat "$log"
fi
passed=$(grep -c -- '^--- PASS' "$log" || true)
failed=$(grep -c -- '^--- FAIL' "$log" || true)
skipped=$(grep -c -- '^--- SKIP' "$log" || true)
echo "go SDK tests: $passed passed, $failed failed, $skipped skipped in $(( $(date +%s) - started )) s"
exit "$status"
