// Command go-shop-service runs one service of the Go shop (examples/go-shop), the article's
// e-commerce cluster as Skald participants on the Go SDK, each with its own PostgreSQL schema
// and every handler behind the SDK's barrier:
//
//	go-shop-service users    --db URL [--wallet ada=500 ...]  wallets of store credit
//	go-shop-service products --db URL [--stock widget=100 ...] stock
//	go-shop-service orders   --db URL                          orders
//
// Common flags: --listen HOST:PORT, --ready-file PATH, --db-pool N, --register-with
// HOST:PORT and --service NAME. shop-saga.json spans these and the C++ payment-service of
// examples/order-saga.
package main

import (
	"fmt"
	"os"
)

func main() {
	services := map[string]service{"users": users(), "products": products(), "orders": orders()}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-shop-service users|products|orders --db URL [flags]")
		os.Exit(2)
	}
	s, ok := services[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "go-shop-service: unknown service %q (users, products or orders)\n", os.Args[1])
		os.Exit(2)
	}
	os.Exit(run(s, os.Args[2:]))
}
