# Sourced by the demo scripts: a work folder, the processes they start, and stopping them
# on exit. Set demo_name before sourcing; append every started process to pids.
work=$(mktemp -d "/tmp/skald-${demo_name:-demo}-XXXXXX")
chmod 755 "$work"  # the postgres user must reach the cluster inside
pids=()
cleanup() {
  # Stop what we started, newest first: participants, then the coordinator (which stops
  # its PostgreSQL on the way out).
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
  done
  [ -n "${SKALD_KEEP_DEMO:-}" ] && echo "demo files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT

# Waits (at most 30 s) for ready file $1 of process $2 (log $3) and prints the address in it.
wait_ready() {
  for _ in $(seq 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "process $2 died; see $3" >&2; cat "$3" >&2; return 1; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}
