#!/usr/bin/env bash
# Calls per second of the Go SDK's no-op participant against the C++ SDK's, in the same run:
# starts both (build/tests/conformance/noop-participant-cpp and go-bin/skald-noop-participant-go,
# handler "noop" answering success at once), then for each round measures both with
# `skald_conformance --rate` (N concurrent callers for T seconds each; the order alternates
# between rounds so that neither always runs second), and prints each round's ratio Go / C++.
#   scripts/compare-sdk-rates.sh [rounds (3)] [seconds (5)] [concurrency (16)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SKALD_BUILD_DIR:-build}
rounds=${1:-3} seconds=${2:-5} concurrency=${3:-16}
cmake --build "$build" --target skald_conformance noop-participant-cpp skald-noop-participant-go >/dev/null
work=$(mktemp -d /tmp/skald-rates-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Started here, not in a $(...) subshell, so that cleanup knows their pids.
start() {  # name binary: its address appears in $work/name.addr
  "$2" >"$work/$1.addr" 2>"$work/$1.log" &
  pids+=($!)
}
address_of() {  # name: waits (at most 10 s) for the address the participant printed
  for _ in $(seq 100); do
    if [ -s "$work/$1.addr" ]; then head -1 "$work/$1.addr"; return 0; fi
    sleep 0.1
  done
  echo "$1 did not start: $(cat "$work/$1.log")" >&2
  return 1
}
start cpp "$build/tests/conformance/noop-participant-cpp"
start go "$build/tests/conformance/go-bin/skald-noop-participant-go"
cpp=$(address_of cpp)
go=$(address_of go)
echo "C++ no-op at $cpp, Go no-op at $go; $rounds rounds of ${seconds} s each, $concurrency callers; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order=("C++=$cpp" "Go=$go"); else order=("Go=$go" "C++=$cpp"); fi
  out=$("$build/tests/conformance/skald_conformance" --rate --address "${order[0]}" \
    --address "${order[1]}" --seconds "$seconds" --concurrency "$concurrency")
  echo "$out"
  cpp_rate=$(echo "$out" | sed -n 's/^C++ .*= \([0-9]*\) calls\/s.*/\1/p')
  go_rate=$(echo "$out" | sed -n 's/^Go .*= \([0-9]*\) calls\/s.*/\1/p')
  echo "round $round: Go / C++ = $(awk -v g="$go_rate" -v c="$cpp_rate" 'BEGIN { printf "%.2f", g / c }')"
done
