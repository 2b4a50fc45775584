// Command conformance-participant-go is the conformance contract (docs/participant-sdk.md,
// "The conformance contract") on the Go SDK, with its counters behind skald.Barrier: the
// twin of tests/conformance/cpp_participant.cc.
//
//	action "conformance.add"             counter += amount, then waits delay_ms; business
//	                                     failure "failed_after_write" after the write when
//	                                     fail_after_write is true
//	compensation "conformance.subtract"  counter -= amount
//	action "conformance.read"            the counter's value, no effect (outside the barrier)
//
// Flags: --db URL (required), --listen HOST:PORT, --ready-file PATH (the bound address is
// written there, atomically, once serving). Serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"github.com/skald-saga/skald/participant-sdk/go/skald"
)

const schemaDDL = `
CREATE SCHEMA IF NOT EXISTS conformance;
CREATE TABLE IF NOT EXISTS conformance.counters (
  name text PRIMARY KEY,
  value bigint NOT NULL);`

type change struct {
	Counter        string `json:"counter"`
	Amount         int64  `json:"amount"`
	DelayMS        int64  `json:"delay_ms"`
	FailAfterWrite bool   `json:"fail_after_write"`
}

func parseChange(input json.RawMessage) (change, error) {
	var c change
	if err := json.Unmarshal(input, &c); err != nil {
		return c, err
	}
	switch {
	case c.Counter == "":
		return c, errors.New("counter must be a non-empty string")
	case c.Amount <= 0:
		return c, errors.New("amount must be a positive integer")
	case c.DelayMS < 0 || c.DelayMS > 60000:
		return c, errors.New("delay_ms must be an integer in [0, 60000]")
	}
	return c, nil
}

type counterValue struct {
	Counter string `json:"counter"`
	Value   int64  `json:"value"`
}

func addToCounter(ctx context.Context, tx pgx.Tx, counter string, delta int64) (int64, error) {
	var value int64
	err := tx.QueryRow(ctx, `INSERT INTO conformance.counters (name, value) VALUES ($1, $2)
	  ON CONFLICT (name) DO UPDATE SET value = conformance.counters.value + EXCLUDED.value
	  RETURNING value`, counter, delta).Scan(&value)
	return value, err
}

func add(ctx context.Context, tx pgx.Tx, _ *skald.StepContext, input json.RawMessage) skald.StepResult {
	c, err := parseChange(input)
	if err != nil {
		return skald.BusinessFailure("invalid_input", err.Error())
	}
	value, err := addToCounter(ctx, tx, c.Counter, c.Amount)
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	if c.FailAfterWrite {
		return skald.BusinessFailure("failed_after_write", "the input asked for a failure after the write")
	}
	// Deliberately blind to the call's deadline: the contract's slow handler.
	time.Sleep(time.Duration(c.DelayMS) * time.Millisecond)
	return skald.Success(counterValue{c.Counter, value})
}

func subtract(ctx context.Context, tx pgx.Tx, _ *skald.StepContext, input json.RawMessage) skald.StepResult {
	c, err := parseChange(input)
	if err != nil {
		return skald.BusinessFailure("invalid_input", err.Error())
	}
	value, err := addToCounter(ctx, tx, c.Counter, -c.Amount)
	if err != nil {
		return skald.Retryable("database_error", err.Error())
	}
	return skald.Success(counterValue{c.Counter, value})
}

func read(pool *pgxpool.Pool) skald.StepHandler {
	return func(ctx context.Context, _ *skald.StepContext, input json.RawMessage) skald.StepResult {
		var c struct {
			Counter string `json:"counter"`
		}
		if err := json.Unmarshal(input, &c); err != nil || c.Counter == "" {
			return skald.BusinessFailure("invalid_input", "counter must be a non-empty string")
		}
		var value int64
		err := pool.QueryRow(ctx, `SELECT value FROM conformance.counters WHERE name = $1`, c.Counter).Scan(&value)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return skald.Retryable("database_error", err.Error())
		}
		return skald.Success(counterValue{c.Counter, value})
	}
}

func writeReadyFile(path, address string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(address+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func run() error {
	database := flag.String("db", "", "PostgreSQL URL (required)")
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve on; port 0 picks a free one")
	readyFile := flag.String("ready-file", "", "once serving, write the bound host:port here")
	flag.Parse()
	if *database == "" {
		return errors.New("--db is required")
	}
	setup, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.Connect(setup, *database)
	if err != nil {
		return fmt.Errorf("database: %w", err)
	}
	defer pool.Close()
	if err := skald.ApplyBarrierSchema(setup, pool); err != nil {
		return err
	}
	if _, err := pool.Exec(setup, schemaDDL); err != nil {
		return fmt.Errorf("schema: %w", err)
	}

	server := skald.NewServer()
	server.OnAction("conformance.add", skald.Barrier(pool, add))
	server.OnCompensation("conformance.subtract", skald.Barrier(pool, subtract))
	server.OnAction("conformance.read", read(pool))
	if err := server.Start(*listen); err != nil {
		return err
	}
	if *readyFile != "" {
		if err := writeReadyFile(*readyFile, server.Address()); err != nil {
			server.Shutdown(0)
			return err
		}
	}
	fmt.Fprintln(os.Stderr, "conformance-participant-go: listening on", server.Address())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	server.Shutdown(10 * time.Second)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance-participant-go:", err)
		os.Exit(1)
	}
}
