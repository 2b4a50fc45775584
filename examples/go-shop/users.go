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

// users keeps each customer's wallet of store credit.
//
//	action "debit"        takes input.credit from input.user's wallet ("unknown_user",
//	                      "insufficient_credit": business failures, nothing taken)
//	compensation "refund" gives the step's debit back
const usersSchema = `
CREATE SCHEMA IF NOT EXISTS shop_users;
CREATE TABLE IF NOT EXISTS shop_users.wallets (
  user_id text PRIMARY KEY,
  credit bigint NOT NULL CHECK (credit >= 0));
CREATE TABLE IF NOT EXISTS shop_users.debits (
  saga_id text NOT NULL,
  step text NOT NULL,
  user_id text NOT NULL REFERENCES shop_users.wallets,
  credit bigint NOT NULL CHECK (credit > 0),
  status text NOT NULL CHECK (status IN ('DEBITED', 'REFUNDED')),
  PRIMARY KEY (saga_id, step));`

func users() service {
	wallets := seedFlag{}
	return service{
		name: "users",
		addFlags: func(flags *flag.FlagSet) {
			flags.Var(wallets, "wallet", "USER=CREDIT: a wallet created with this credit unless it exists (repeatable)")
		},
		setup: func(ctx context.Context, pool *pgxpool.Pool, handlers handlerRegistry) error {
			if err := applySchema(ctx, pool, usersSchema); err != nil {
				return fmt.Errorf("users schema: %w", err)
			}
			for user, credit := range wallets {
				if _, err := pool.Exec(ctx, `INSERT INTO shop_users.wallets (user_id, credit) VALUES ($1, $2)
				  ON CONFLICT (user_id) DO NOTHING`, user, credit); err != nil {
					return fmt.Errorf("wallet of %s: %w", user, err)
				}
			}
			handlers.OnAction("debit", skald.Barrier(pool, debitCredit))
			handlers.OnCompensation("refund", skald.Barrier(pool, refundCredit))
			return nil
		},
	}
}

func debitCredit(ctx context.Context, tx pgx.Tx, step *skald.StepContext, input json.RawMessage) skald.StepResult {
	var fields struct {
		User   string `json:"user"`
		Credit int64  `json:"credit"`
	}
	if failure := decodeInput(input, &fields); failure != nil {
		return *failure
	}
	if fields.User == "" || fields.Credit <= 0 {
		return skald.BusinessFailure("invalid_input", "user must be a non-empty string and credit a positive integer")
	}
	var left int64
	err := tx.QueryRow(ctx, `UPDATE shop_users.wallets SET credit = credit - $2
	  WHERE user_id = $1 AND credit >= $2 RETURNING credit`, fields.User, fields.Credit).Scan(&left)
	if errors.Is(err, pgx.ErrNoRows) {
		var credit int64
		switch err := tx.QueryRow(ctx, `SELECT credit FROM shop_users.wallets WHERE user_id = $1`,
			fields.User).Scan(&credit); {
		case errors.Is(err, pgx.ErrNoRows):
			return skald.BusinessFailure("unknown_user", fmt.Sprintf("user %q has no wallet", fields.User))
		case err != nil:
			return skald.Retryable("database_error", err.Error())
		}
		return skald.BusinessFailure("insufficient_credit",
			fmt.Sprintf("user %q has %d credit, the order wants %d", fields.User, credit, fields.Credit))
	}
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	if _, err := tx.Exec(ctx, `INSERT INTO shop_users.debits (saga_id, step, user_id, credit, status)
	  VALUES ($1, $2, $3, $4, 'DEBITED')`, step.SagaID, step.Step, fields.User, fields.Credit); err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(map[string]interface{}{"user": fields.User, "debited": fields.Credit, "credit_left": left})
}

// refundCredit runs once, and only after a successful debit of the same step (the barrier
// sees to it): a missing debit means the table was changed behind the service's back.
func refundCredit(ctx context.Context, tx pgx.Tx, step *skald.StepContext, _ json.RawMessage) skald.StepResult {
	var user string
	var credit int64
	err := tx.QueryRow(ctx, `UPDATE shop_users.debits SET status = 'REFUNDED'
	  WHERE saga_id = $1 AND step = $2 AND status = 'DEBITED' RETURNING user_id, credit`,
		step.SagaID, step.Step).Scan(&user, &credit)
	if errors.Is(err, pgx.ErrNoRows) {
		return skald.BusinessFailure("debit_missing", fmt.Sprintf("step %q of saga %s has no debit, although it succeeded", step.Step, step.SagaID))
	}
	if err == nil {
		_, err = tx.Exec(ctx, `UPDATE shop_users.wallets SET credit = credit + $2 WHERE user_id = $1`, user, credit)
	}
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(map[string]interface{}{"user": user, "refunded": credit})
}
