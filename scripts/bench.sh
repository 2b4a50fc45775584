#!/usr/bin/env bash
# Installs what is missing, builds, and runs the benchmark (docs/performance.md): Skald
# against PostgreSQL's own limit for the same writes, measured in one run on this machine.
#   ./scripts/bench.sh --quick                 # about 1.5 minutes after the build (short runs)
#   ./scripts/bench.sh --json bench.json       # the full run (about 15 minutes)
# Other flags: build/bench/skald_bench --help.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build_dir=${SKALD_BUILD_DIR:-build}
exec "$build_dir/bench/skald_bench" "$@"
