#!/usr/bin/env bash
# The main job on a fresh machine: installs what is missing, builds, then runs a local
# coordinator (`skald dev`, with its own throwaway PostgreSQL) and the example order
# participants, and drives two orders: one to COMPLETED, one (payment declined) to
# COMPENSATED. Shows both sagas and the participants' own tables, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh
bin=$root/${SKALD_BUILD_DIR:-build}
skald=$bin/coordinator/skald

work=$(mktemp -d /tmp/skald-demo-XXXXXX)
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

# Waits (at most 30 s) for a ready file and prints the address in it.
wait_ready() {
  for _ in $(seq 300); do
    if [ -s "$1" ]; then cat "$1"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "process $2 died; see $3" >&2; cat "$3" >&2; return 1; fi
    sleep 0.1
  done
  echo "timed out waiting for $1" >&2
  return 1
}

echo "== starting the coordinator (skald dev) with its own PostgreSQL in $work/pg"
"$skald" dev --data-dir "$work/pg" --listen 127.0.0.1:0 --ready-file "$work/skald.ready" \
  >"$work/skald.log" 2>&1 &
pids+=($!)
address=$(wait_ready "$work/skald.ready" "${pids[-1]}" "$work/skald.log")
echo "   coordinator at $address"

shop_db="postgresql://postgres@/shop?host=$work/pg"
psql -q "postgresql://postgres@/postgres?host=$work/pg" -c "CREATE DATABASE shop"

declare -A participant_address
for service in order inventory payment; do
  "$bin/examples/order-saga/$service-service" --db "$shop_db" --listen 127.0.0.1:0 \
    --ready-file "$work/$service.ready" >"$work/$service.log" 2>&1 &
  pids+=($!)
  participant_address[$service]=$(wait_ready "$work/$service.ready" "${pids[-1]}" "$work/$service.log")
  echo "   $service-service at ${participant_address[$service]}"
done

# The example definition names the services' default ports; point it at the real ones.
sed -e "s/127.0.0.1:7801/${participant_address[order]}/" \
    -e "s/127.0.0.1:7802/${participant_address[inventory]}/" \
    -e "s/127.0.0.1:7803/${participant_address[payment]}/" \
    examples/order-saga/order-saga.json >"$work/order-saga.json"

echo
echo "== skald definition apply examples/order-saga/order-saga.json"
"$skald" definition apply "$work/order-saga.json" --address "$address"

echo
echo "== order 1: 2 widgets for 150 (should complete)"
ok_id=$("$skald" saga start order --address "$address" \
  --input '{"order_id":"order-1","customer":"ada","sku":"widget","quantity":2,"amount":150}')
"$skald" saga wait "$ok_id" --timeout 60s --address "$address"

echo
echo "== order 2: 1 widget for 5000, over the card limit (should be compensated)"
declined_id=$("$skald" saga start order --address "$address" \
  --input '{"order_id":"order-2","customer":"bo","sku":"widget","quantity":1,"amount":5000}')
"$skald" saga wait "$declined_id" --timeout 60s --address "$address"

echo
echo "== skald saga list"
"$skald" saga list --address "$address"

echo
echo "== the participants' own tables"
psql -q "$shop_db" -c "SELECT order_id, status FROM orders.orders ORDER BY order_id" \
  -c "SELECT sku, quantity AS in_stock FROM inventory.stock ORDER BY sku" \
  -c "SELECT r.saga_id, r.quantity, r.status FROM inventory.reservations r ORDER BY created_at" \
  -c "SELECT saga_id, amount, status FROM payments.charges ORDER BY created_at"

state() { "$skald" saga get "$1" --json --address "$address" | sed -n 's/^  "state": "\(.*\)",$/\1/p'; }
ok_state=$(state "$ok_id")
declined_state=$(state "$declined_id")
echo "order 1: $ok_state; order 2: $declined_state"
if [ "$ok_state" != COMPLETED ] || [ "$declined_state" != COMPENSATED ]; then
  echo "demo FAILED: expected COMPLETED and COMPENSATED" >&2
  exit 1
fi
echo "demo OK: one saga COMPLETED, one COMPENSATED"
