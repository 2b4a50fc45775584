#!/usr/bin/env bash
# Configures and builds Skald (coordinator, SDK, examples, tests) into ${SKALD_BUILD_DIR:-build};
# given target names, only those and what they need (the demo builds no test).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SKALD_BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
# Two jobs: the machines have two cores, and gRPC translation units are memory-hungry.
targets=()
for target in "$@"; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j "${SKALD_BUILD_JOBS:-2}" "${targets[@]}"
