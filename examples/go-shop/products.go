package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"github.com/skald-saga/skald/participant-sdk/go/skald"
)

// products keeps the stock of each product.
//
//	action "reserve"       takes input.quantity of input.sku from stock ("unknown_product",
//	                       "out_of_stock": business failures, nothing taken)
//	compensation "release" puts the step's reservation back
const productsSchema = `
CREATE SCHEMA IF NOT EXISTS shop_products;
CREATE TABLE IF NOT EXISTS shop_products.stock (
  sku text PRIMARY KEY,
  quantity bigint NOT NULL CHECK (quantity >= 0));
CREATE TABLE IF NOT EXISTS shop_products.reservations (
  reservation_id bigserial PRIMARY KEY,
  saga_id text NOT NULL,
  step text NOT NULL,
  sku text NOT NULL REFERENCES shop_products.stock,
  quantity bigint NOT NULL CHECK (quantity > 0),
  status text NOT NULL CHECK (status IN ('RESERVED', 'RELEASED')),
  UNIQUE (saga_id, step));`

func products() service {
	stock := seedFlag{}
	return service{
		name: "products",
		addFlags: func(flags *flag.FlagSet) {
			flags.Var(stock, "stock", "SKU=QUANTITY: a product stocked with this quantity unless it exists (repeatable)")
		},
		setup: func(ctx context.Context, pool *pgxpool.Pool, handlers handlerRegistry) error {
			if err := applySchema(ctx, pool, productsSchema); err != nil {
				return fmt.Errorf("products schema: %w", err)
			}
			for sku, quantity := range stock {
				if _, err := pool.Exec(ctx, `INSERT INTO shop_products.stock (sku, quantity) VALUES ($1, $2)
				  ON CONFLICT (sku) DO NOTHING`, sku, quantity); err != nil {
					return fmt.Errorf("stock of %s: %w", sku, err)
				}
			}
			handlers.OnAction("reserve", skald.Barrier(pool, reserveStock))
			handlers.OnCompensation("release", skald.Barrier(pool, releaseStock))
			return nil
		},
	}
}

func reserveStock(ctx context.Context, tx pgx.Tx, step *skald.StepContext, input json.RawMessage) skald.StepResult {
	var fields struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	if failure := decodeInput(input, &fields); failure != nil {
		return *failure
	}
	if fields.SKU == "" || fields.Quantity <= 0 {
		return skald.BusinessFailure("invalid_input", "sku must be a non-empty string and quantity a positive integer")
	}
	var left int64
	err := tx.QueryRow(ctx, `UPDATE shop_products.stock SET quantity = quantity - $2
	  WHERE sku = $1 AND quantity >= $2 RETURNING quantity`, fields.SKU, fields.Quantity).Scan(&left)
	if errors.Is(err, pgx.ErrNoRows) {
		var quantity int64
		switch err := tx.QueryRow(ctx, `SELECT quantity FROM shop_products.stock WHERE sku = $1`,
			fields.SKU).Scan(&quantity); {
		case errors.Is(err, pgx.ErrNoRows):
			return skald.BusinessFailure("unknown_product", fmt.Sprintf("no product %q", fields.SKU))
		case err != nil:
			return skald.Retryable("database_error", err.Error())
		}
		return skald.BusinessFailure("out_of_stock",
			fmt.Sprintf("%d of %q in stock, the order wants %d", quantity, fields.SKU, fields.Quantity))
	}
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	var reservation int64
	if err := tx.QueryRow(ctx, `INSERT INTO shop_products.reservations (saga_id, step, sku, quantity, status)
	  VALUES ($1, $2, $3, $4, 'RESERVED') RETURNING reservation_id`,
		step.SagaID, step.Step, fields.SKU, fields.Quantity).Scan(&reservation); err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(map[string]interface{}{"reservation_id": reservation, "in_stock": left})
}

// releaseStock runs once, and only after a successful reserve of the same step (the barrier
// sees to it).
func releaseStock(ctx context.Context, tx pgx.Tx, step *skald.StepContext, _ json.RawMessage) skald.StepResult {
	var sku string
	var quantity int64
	err := tx.QueryRow(ctx, `UPDATE shop_products.reservations SET status = 'RELEASED'
	  WHERE saga_id = $1 AND step = $2 AND status = 'RESERVED' RETURNING sku, quantity`,
		step.SagaID, step.Step).Scan(&sku, &quantity)
	if errors.Is(err, pgx.ErrNoRows) {
		return skald.BusinessFailure("reservation_missing", fmt.Sprintf("step %q of saga %s has no reservation, although it succeeded", step.Step, step.SagaID))
	}
	if err == nil {
		_, err = tx.Exec(ctx, `UPDATE shop_products.stock SET quantity = quantity + $2 WHERE sku = $1`, sku, quantity)
	}
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(map[string]interface{}{"sku": sku, "released": quantity})
}
