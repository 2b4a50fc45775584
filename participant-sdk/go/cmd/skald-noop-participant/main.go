// Command skald-noop-participant is the Go twin of the benchmark's no-op participants
// (bench/noop_participants.h): handlers "noop" (action and compensation) that answer at once,
// or, with --database, from behind the barrier (a transaction per call). An action whose input
// holds {"fail": true} fails for good (at every step: the C++ one fails only the scenario's
// last step); one holding {"wait": true} answers retryable. It prints
// the address it listens on, and serves until SIGINT or SIGTERM.
//
//	skald-noop-participant --listen 127.0.0.1:0 [--database URL] [--coordinator HOST:PORT --service NAME]
package main

import (
	"context"
	"encoding/json"
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

func answer(step *skald.StepContext, input json.RawMessage) skald.StepResult {
	var flags struct {
		Fail bool `json:"fail"`
		Wait bool `json:"wait"`
	}
	_ = json.Unmarshal(input, &flags)
	if step.Phase == skald.PhaseAction && flags.Fail {
		return skald.BusinessFailure("declined", "the input asked this action to fail")
	}
	if step.Phase == skald.PhaseAction && flags.Wait {
		return skald.Retryable("wait", "the input asked this action to be retried")
	}
	return skald.Success(nil)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "host:port to serve on")
	database := flag.String("database", "", "PostgreSQL URL: answer from behind the barrier")
	coordinator := flag.String("coordinator", "", "coordinator host:port to register with")
	service := flag.String("service", "noop", "service name to register as")
	flag.Parse()

	handler := func(_ context.Context, step *skald.StepContext, input json.RawMessage) skald.StepResult {
		return answer(step, input)
	}
	if *database != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		pool, err := pgxpool.Connect(ctx, *database)
		if err == nil {
			err = skald.ApplyBarrierSchema(ctx, pool)
		}
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, "skald-noop-participant: database:", err)
			os.Exit(1)
		}
		defer pool.Close()
		handler = skald.Barrier(pool, func(_ context.Context, _ pgx.Tx, step *skald.StepContext,
			input json.RawMessage) skald.StepResult {
			return answer(step, input)
		})
	}
	server := skald.NewServer()
	server.OnAction("noop", handler)
	server.OnCompensation("noop", handler)
	if *coordinator != "" {
		server.RegisterWith(skald.RegistrationOptions{CoordinatorAddress: *coordinator, Service: *service})
	}
	if err := server.Start(*listen); err != nil {
		fmt.Fprintln(os.Stderr, "skald-noop-participant:", err)
		os.Exit(1)
	}
	fmt.Println(server.Address())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	server.Shutdown(5 * time.Second)
}
