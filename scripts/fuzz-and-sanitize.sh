#!/usr/bin/env bash
# Two stages, each ending with one "fuzz-and-sanitize: <stage> passed|FAILED" line:
#  1. sanitize: the unit tests that need no database or network, built with AddressSanitizer
#     and UndefinedBehaviorSanitizer (gcc, ${SKALD_SANITIZE_BUILD_DIR:-build-sanitize});
#     all five by default, SKALD_SANITIZE_TESTS="core_test ..." picks some;
#  2. fuzz: each libFuzzer target of fuzz/ (clang-14, ${SKALD_FUZZ_BUILD_DIR:-build-fuzz}) for
#     SKALD_FUZZ_SECONDS seconds (default 60; scripts/test.sh passes 30), on a copy of its
#     seed corpus in a temporary directory: the repository's corpus is never written.
# Exits non-zero if a test fails, a sanitizer reports anything, or a fuzzer finds a crash, a
# leak, a timeout (-timeout=5) or runs out of memory (-rss_limit_mb=2048). A fuzzer's crash
# input is kept in ${SKALD_FUZZ_BUILD_DIR:-build-fuzz}/artifacts/ (docs/fuzzing.md: how to
# reproduce it). SKALD_FUZZ_STAGES="sanitize fuzz" picks stages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

seconds=${SKALD_FUZZ_SECONDS:-60}
jobs=${SKALD_BUILD_JOBS:-2}
stages=${SKALD_FUZZ_STAGES:-sanitize fuzz}
sanitize_dir=${SKALD_SANITIZE_BUILD_DIR:-build-sanitize}
fuzz_dir=${SKALD_FUZZ_BUILD_DIR:-build-fuzz}
# The unit tests of tests/unit/: no PostgreSQL (shell_unit_test's HTTP port cases use
# loopback sockets). The last one links the whole shell (gRPC, protobuf, libpqxx, httplib),
# whose sanitized build costs about 15 min of CPU; scripts/test.sh therefore limits CI to the
# first two (SKALD_SANITIZE_TESTS).
read -r -a unit_tests <<<"${SKALD_SANITIZE_TESTS:-core_test observability_test shell_unit_test}"
fuzz_targets=(definition_parser template duration http_request participant_reply)

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

# Reports on stderr, stop at the first one (halt_on_error), and exit non-zero from the
# sanitizer runtime even when a test framework would otherwise carry on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14 || true)}

elapsed() { echo "$(($(date +%s) - $1)) s"; }

stage_sanitize() {
  local started failed=0
  started=$(date +%s)
  # Debug (-O0): it builds faster than an optimized build, and the tests are small.
  # Each step is checked by hand: stages run in `||` context, where `set -e` does not apply.
  if ! cmake -S . -B "$sanitize_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
    -DSKALD_SANITIZE=address,undefined -DSKALD_BUILD_EXAMPLES=OFF >/dev/null ||
    ! nice -n 5 cmake --build "$sanitize_dir" -j "$jobs" --target "${unit_tests[@]}"; then
    echo "fuzz-and-sanitize: sanitize FAILED: the build failed ($(elapsed "$started"))"
    return 1
  fi
  echo "fuzz-and-sanitize: sanitizer build took $(elapsed "$started")"
  local run_started
  run_started=$(date +%s)
  for test in "${unit_tests[@]}"; do
    local binary
    binary=$(find "$sanitize_dir/tests/unit" -maxdepth 1 -type f -name "$test" | head -n 1)
    if [ -z "$binary" ]; then
      echo "fuzz-and-sanitize: $test was not built" >&2
      failed=1
      continue
    fi
    if ! timeout 600 "$binary" --gtest_brief=1; then
      echo "fuzz-and-sanitize: $test FAILED under ASan/UBSan" >&2
      failed=1
    fi
  done
  echo "fuzz-and-sanitize: sanitized unit tests ran in $(elapsed "$run_started")"
  if [ "$failed" -ne 0 ]; then
    echo "fuzz-and-sanitize: sanitize FAILED ($(elapsed "$started"))"
    return 1
  fi
  echo "fuzz-and-sanitize: sanitize passed: ${unit_tests[*]} clean under ASan+UBSan ($(elapsed "$started"))"
}

stage_fuzz() {
  local started failed=0
  started=$(date +%s)
  if ! CC=clang-14 CXX=clang++-14 cmake -S . -B "$fuzz_dir" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKALD_FUZZ=ON >/dev/null ||
    ! nice -n 5 cmake --build "$fuzz_dir" -j "$jobs"; then
    echo "fuzz-and-sanitize: fuzz FAILED: the build failed ($(elapsed "$started"))"
    return 1
  fi
  echo "fuzz-and-sanitize: fuzz build took $(elapsed "$started")"
  mkdir -p "$fuzz_dir/artifacts"
  for target in "${fuzz_targets[@]}"; do
    local corpus="$work/$target" artifacts="$work/$target-artifacts" log="$work/$target.log"
    mkdir -p "$corpus" "$artifacts"
    cp fuzz/corpus/"$target"/* "$corpus"/
    # The examples' definitions are seeds too, read from where they live.
    if [ "$target" = definition_parser ]; then
      find examples -name '*.json' -exec cp {} "$corpus"/ \;
    fi
    # Pathological shapes (half a MiB of empty objects, long strings, ...) too big to
    # commit, each run once (not mutated: inputs that big would slow the fuzzing down to a
    # few runs a second): a parser that turns quadratic on them again is a -timeout finding.
    # (Definition parser only: the template fuzzer walks its input some twenty times, and
    # took 11.6 s under ASan on the deep-but-allowed shape.)
    if [ "$target" = definition_parser ]; then
      local shapes="$work/$target-shapes"
      mkdir -p "$shapes"
      python3 fuzz/pathological_seeds.py "$shapes"
      if ! timeout 300 "$fuzz_dir/fuzz/${target}_fuzzer" -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" "$shapes"/* >"$log" 2>&1; then
        failed=1
        tail -n 30 "$log" >&2
        echo "fuzz-and-sanitize: $target FAILED on a pathological shape (fuzz/pathological_seeds.py)" >&2
      fi
    fi
    # -max_total_time bounds the run; timeout(1) is the backstop should libFuzzer hang.
    if timeout $((seconds + 60)) "$fuzz_dir/fuzz/${target}_fuzzer" \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
      -dict=fuzz/definition.dict -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
      echo "fuzz-and-sanitize: $target: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${seconds} s, no finding"
    else
      failed=1
      tail -n 60 "$log" >&2
      cp "$artifacts"/* "$fuzz_dir/artifacts/" 2>/dev/null || true
      echo "fuzz-and-sanitize: $target FAILED; inputs kept in $fuzz_dir/artifacts/:" \
        "$(ls "$artifacts")" >&2
    fi
  done
  if [ "$failed" -ne 0 ]; then
    echo "fuzz-and-sanitize: fuzz FAILED ($(elapsed "$started"))"
    return 1
  fi
  echo "fuzz-and-sanitize: fuzz passed: ${fuzz_targets[*]}, ${seconds} s each ($(elapsed "$started"))"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/skald-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
for stage in $stages; do
  case $stage in
    sanitize) stage_sanitize || status=1 ;;
    fuzz) stage_fuzz || status=1 ;;
    *)
      echo "fuzz-and-sanitize: unknown stage '$stage' (SKALD_FUZZ_STAGES: sanitize, fuzz)" >&2
      status=1
      ;;
  esac
done
exit "$status"
