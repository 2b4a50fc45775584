#!/usr/bin/env bash
# Runs the deterministic simulator (tests/sim/) over many seeds, or replays one:
#   scripts/simulate.sh --seeds 1000            seeds 1..1000
#   scripts/simulate.sh --seeds 500 --seed 9000 seeds 9000..9499
#   scripts/simulate.sh --seed 42 --trace       replays seed 42 and prints its whole trace
#   scripts/simulate.sh --seeds 200 --mutation fencing-off   the mutation check: some seed
#     must fail (also: --mutation swallow-replies --mutation no-self-check)
# A failing seed prints the command that replays it. Builds skald_simulate first (in
# $SKALD_BUILD_DIR, default build/, configured as the README says).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${SKALD_BUILD_DIR:-build}"
if [[ ! -f "$build_dir/build.ninja" && ! -f "$build_dir/Makefile" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
nice cmake --build "$build_dir" -j2 --target skald_simulate >/dev/null
exec "$build_dir/tests/sim/skald_simulate" "$@"
