package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"github.com/skald-saga/skald/participant-sdk/go/skald"
)

// orders keeps the orders.
//
//	action "create"       records order input.order_id as PENDING ("duplicate_order" when
//	                      another saga created it)
//	compensation "cancel" marks the step's order CANCELLED
//	action "confirm"      marks order input.order_id CONFIRMED (the pivot)
const ordersSchema = `
CREATE SCHEMA IF NOT EXISTS shop_orders;
CREATE TABLE IF NOT EXISTS shop_orders.orders (
  order_id text PRIMARY KEY,
  saga_id text NOT NULL,
  customer text NOT NULL,
  sku text NOT NULL,
  quantity bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
  created_at timestamptz NOT NULL DEFAULT now());`

func orders() service {
	return service{
		name: "orders",
		setup: func(ctx context.Context, pool *pgxpool.Pool, handlers handlerRegistry) error {
			if err := applySchema(ctx, pool, ordersSchema); err != nil {
				return fmt.Errorf("orders schema: %w", err)
			}
			handlers.OnAction("create", skald.Barrier(pool, createOrder))
			handlers.OnCompensation("cancel", skald.Barrier(pool, cancelOrder))
			handlers.OnAction("confirm", skald.Barrier(pool, confirmOrder))
			return nil
		},
	}
}

func createOrder(ctx context.Context, tx pgx.Tx, step *skald.StepContext, input json.RawMessage) skald.StepResult {
	var fields struct {
		OrderID  string `json:"order_id"`
		Customer string `json:"customer"`
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	if failure := decodeInput(input, &fields); failure != nil {
		return *failure
	}
	if fields.OrderID == "" || fields.Customer == "" || fields.SKU == "" || fields.Quantity <= 0 {
		return skald.BusinessFailure("invalid_input", "order_id, customer and sku must be non-empty strings, quantity a positive integer")
	}
	tag, err := tx.Exec(ctx, `INSERT INTO shop_orders.orders (order_id, saga_id, customer, sku, quantity, status)
	  VALUES ($1, $2, $3, $4, $5, 'PENDING') ON CONFLICT (order_id) DO NOTHING`,
		fields.OrderID, step.SagaID, fields.Customer, fields.SKU, fields.Quantity)
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	if tag.RowsAffected() == 0 {
		return skald.BusinessFailure("duplicate_order", fmt.Sprintf("order %q exists already", fields.OrderID))
	}
	return skald.Success(map[string]string{"order_id": fields.OrderID, "status": "PENDING"})
}

// cancelOrder runs once, and only after a successful create of the same step.
func cancelOrder(ctx context.Context, tx pgx.Tx, step *skald.StepContext, _ json.RawMessage) skald.StepResult {
	var orderID string
	err := tx.QueryRow(ctx, `UPDATE shop_orders.orders SET status = 'CANCELLED'
	  WHERE saga_id = $1 AND status = 'PENDING' RETURNING order_id`, step.SagaID).Scan(&orderID)
	if errors.Is(err, pgx.ErrNoRows) {
		return skald.BusinessFailure("order_missing", fmt.Sprintf("saga %s has no PENDING order, although it created one", step.SagaID))
	}
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(map[string]string{"order_id": orderID, "status": "CANCELLED"})
}

func confirmOrder(ctx context.Context, tx pgx.Tx, step *skald.StepContext, input json.RawMessage) skald.StepResult {
	var fields struct {
		OrderID string `json:"order_id"`
	}
	if failure := decodeInput(input, &fields); failure != nil {
		return *failure
	}
	tag, err := tx.Exec(ctx, `UPDATE shop_orders.orders SET status = 'CONFIRMED'
	  WHERE order_id = $1 AND saga_id = $2 AND status = 'PENDING'`, fields.OrderID, step.SagaID)
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	if tag.RowsAffected() == 0 {
		return skald.BusinessFailure("order_missing", fmt.Sprintf("saga %s has no PENDING order %q", step.SagaID, fields.OrderID))
	}
	return skald.Success(map[string]string{"order_id": fields.OrderID, "status": "CONFIRMED"})
}
