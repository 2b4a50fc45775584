#!/usr/bin/env bash
# The Go shop demo (`scripts/demo.sh --go-shop`): a local coordinator (`skald dev`, with its
# own throwaway PostgreSQL), the Go shop's services on the Go SDK (orders, two products
# instances, users: examples/go-shop) and the C++ payment-service of examples/order-saga, all
# registered as services, and shop-saga.json, whose sagas span both languages. Drives an
# order to COMPLETED, one whose card the C++ service declines (the Go steps are compensated),
# one whose store credit the Go users service refuses (the C++ charge is refunded), then a
# batch during which one Go products instance is killed. Shows the sagas and every service's
# tables, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/install-deps.sh
bash scripts/build.sh skald payment-service go-shop-service
bin=$root/${SKALD_BUILD_DIR:-build}
skald=$bin/coordinator/skald
go_shop=$bin/examples/go-shop/go-bin/go-shop-service
[ -x "$go_shop" ] || { echo "$go_shop was not built (is Go installed? scripts/install-deps.sh)" >&2; exit 1; }

demo_name=go-shop-demo
# shellcheck source=lib/demo-processes.sh
source "$root/scripts/lib/demo-processes.sh"

echo "== starting the coordinator (skald dev) with its own PostgreSQL in $work/pg"
"$skald" dev --data-dir "$work/pg" --listen 127.0.0.1:0 --ready-file "$work/skald.ready" \
  >"$work/skald.log" 2>&1 &
pids+=($!)
address=$(wait_ready "$work/skald.ready" "${pids[-1]}" "$work/skald.log")
echo "   coordinator at $address"

shop_db="postgresql://postgres@/shop?host=$work/pg"
psql -q "postgresql://postgres@/postgres?host=$work/pg" -c "CREATE DATABASE shop"

start_service() {  # name command...
  local name=$1
  shift
  "$@" --db "$shop_db" --listen 127.0.0.1:0 --register-with "$address" \
    --ready-file "$work/$name.ready" >"$work/$name.log" 2>&1 &
  pids+=($!)
  echo "   $name at $(wait_ready "$work/$name.ready" "${pids[-1]}" "$work/$name.log")"
}
echo "== starting the services: Go orders, products (twice), users; C++ payment"
start_service orders "$go_shop" orders
start_service products-1 "$go_shop" products --stock widget=100
products_2_index=${#pids[@]}
start_service products-2 "$go_shop" products
start_service users "$go_shop" users --wallet ada=500 --wallet bo=3 --wallet cy=1000
start_service payment "$bin/examples/order-saga/payment-service" --limit 1000
sleep 1.2  # the coordinator reloads registrations every second

echo
echo "== skald participant list"
"$skald" participant list --address "$address"

echo
echo "== skald definition apply examples/go-shop/shop-saga.json"
"$skald" definition apply examples/go-shop/shop-saga.json --address "$address"

order() {  # order-id customer amount credit
  "$skald" saga start shop-order --address "$address" --input \
    "{\"order_id\":\"$1\",\"customer\":\"$2\",\"sku\":\"widget\",\"quantity\":1,\"amount\":$3,\"credit\":$4}"
}
state() { "$skald" saga get "$1" --json --address "$address" | sed -n 's/^  "state": "\(.*\)",$/\1/p'; }

echo
echo "== order 1: ada, 150 on the card and 20 of store credit (should complete)"
ok_id=$(order order-1 ada 150 20)
"$skald" saga wait "$ok_id" --timeout 60s --address "$address"

echo
echo "== order 2: ada, 5000 on the card: the C++ payment-service declines, the Go steps are compensated"
card_id=$(order order-2 ada 5000 20)
"$skald" saga wait "$card_id" --timeout 60s --address "$address" || true

echo
echo "== order 3: bo, 40 on the card and 50 of credit (bo has 3): Go users refuses, the C++ charge is refunded"
credit_id=$(order order-3 bo 40 50)
"$skald" saga wait "$credit_id" --timeout 60s --address "$address" || true

echo
echo "== orders 4-23 for cy; products-2 (Go) is killed (SIGKILL) after the fifth"
batch=()
for n in $(seq 4 23); do
  batch+=("$(order "order-$n" cy 20 5)")
  if [ "$n" = 8 ]; then
    kill -KILL "${pids[$products_2_index]}"
    wait "${pids[$products_2_index]}" 2>/dev/null || true
    echo "   products-2 killed"
  fi
done
batch_failed=0
for id in "${batch[@]}"; do
  "$skald" saga wait "$id" --timeout 60s --address "$address" >/dev/null || true
  [ "$(state "$id")" = COMPLETED ] || batch_failed=$((batch_failed + 1))
done
echo "   ${#batch[@]} orders, $batch_failed not COMPLETED"

echo
echo "== skald saga history (order 3: a Go decline refunds a C++ charge)"
"$skald" saga history "$credit_id" --address "$address"

echo
echo "== the services' own tables (one database; a schema per service)"
psql -q "$shop_db" \
  -c "SELECT order_id, customer, status FROM shop_orders.orders WHERE order_id IN ('order-1', 'order-2', 'order-3') ORDER BY order_id" \
  -c "SELECT status, count(*) AS orders FROM shop_orders.orders GROUP BY status ORDER BY status" \
  -c "SELECT sku, quantity AS in_stock FROM shop_products.stock ORDER BY sku" \
  -c "SELECT user_id, credit FROM shop_users.wallets ORDER BY user_id" \
  -c "SELECT status, count(*) AS charges, sum(amount) AS amount FROM payments.charges GROUP BY status ORDER BY status" \
  -c "SELECT handler, phase, origin, outcome, count(*) AS barrier_records FROM skald.barrier GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"

ok_state=$(state "$ok_id")
card_state=$(state "$card_id")
credit_state=$(state "$credit_id")
echo "order 1: $ok_state; order 2: $card_state; order 3: $credit_state"
if [ "$ok_state" != COMPLETED ] || [ "$card_state" != COMPENSATED ] ||
  [ "$credit_state" != COMPENSATED ] || [ "$batch_failed" != 0 ]; then
  echo "go-shop demo FAILED: expected COMPLETED, COMPENSATED, COMPENSATED and every order of the batch COMPLETED" >&2
  exit 1
fi
echo "go-shop demo OK: sagas across Go and C++ COMPLETED and COMPENSATED; ${#batch[@]} more COMPLETED although a Go products instance was killed"
