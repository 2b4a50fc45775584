package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"github.com/skald-saga/skald/participant-sdk/go/skald"
)

// drainGrace is how long a stopping service lets the calls in progress finish.
const drainGrace = 10 * time.Second

// service is one of the shop's services: its flags, schema and handlers.
type service struct {
	// The name it registers under by default, e.g. "products".
	name string
	// Adds the service's own flags to flags.
	addFlags func(flags *flag.FlagSet)
	// Creates its schema, fills it as its flags say, and registers its handlers.
	setup func(ctx context.Context, pool *pgxpool.Pool, handlers handlerRegistry) error
}

// handlerRegistry is where a service registers its handlers (a *skald.Server, here wrapped
// to log every call).
type handlerRegistry interface {
	OnAction(name string, handler skald.StepHandler)
	OnCompensation(name string, handler skald.StepHandler)
}

// run parses the common flags and the service's own from args, sets the service up, serves
// until SIGTERM or SIGINT, then deregisters and drains. Returns the process exit code: 0
// after a signal, 1 when setup or listening failed, 2 for bad flags.
func run(s service, args []string) int {
	logger := log.New(os.Stderr, s.name+" ", log.LstdFlags|log.Lmicroseconds|log.LUTC)
	flags := flag.NewFlagSet(s.name, flag.ContinueOnError)
	database := flags.String("db", "", "PostgreSQL URL (required), e.g. postgresql://skald@127.0.0.1/shop")
	listen := flags.String("listen", "127.0.0.1:0", "host:port to serve on; port 0 picks a free one")
	readyFile := flags.String("ready-file", "", "once listening, write the bound host:port to this file (atomically)")
	poolSize := flags.Int("db-pool", 4, "maximum PostgreSQL connections")
	coordinator := flags.String("register-with", "", "host:port of a coordinator to register with")
	serviceName := flags.String("service", s.name, "the service name to register under")
	if s.addFlags != nil {
		s.addFlags(flags)
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *database == "" || *poolSize < 1 {
		fmt.Fprintln(os.Stderr, "--db is required and --db-pool must be at least 1")
		return 2
	}

	pool, err := connect(*database, *poolSize)
	if err != nil {
		logger.Print("setup failed: ", err)
		return 1
	}
	defer pool.Close()
	server := skald.NewServer()
	setupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = skald.ApplyBarrierSchema(setupCtx, pool)
	if err == nil {
		err = s.setup(setupCtx, pool, withCallLog(logger, server))
	}
	cancel()
	if err != nil {
		logger.Print("setup failed: ", err)
		return 1
	}
	if *coordinator != "" {
		server.RegisterWith(skald.RegistrationOptions{CoordinatorAddress: *coordinator, Service: *serviceName})
	}
	if err := server.Start(*listen); err != nil {
		logger.Print(err)
		return 1
	}
	if *coordinator != "" {
		if err := server.RegistrationStatus(); err != nil {
			logger.Print("not registered yet, retrying in the background: ", err)
		} else {
			logger.Printf("registered as service %q (instance %s) with %s", *serviceName, server.InstanceID(), *coordinator)
		}
	}
	if *readyFile != "" {
		if err := writeReadyFile(*readyFile, server.Address()); err != nil {
			logger.Print(err)
			server.Shutdown(0)
			return 1
		}
	}
	logger.Print("listening on ", server.Address())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	received := <-signals
	logger.Printf("received %v; draining calls in progress", received)
	server.Shutdown(drainGrace)
	logger.Print("stopped")
	return 0
}

func connect(url string, poolSize int) (*pgxpool.Pool, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	config.MaxConns = int32(poolSize)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgxpool.ConnectConfig(ctx, config)
}

// applySchema runs ddl in one transaction, serialized with every other shop service starting
// on the same database, so that CREATE ... IF NOT EXISTS does not race.
func applySchema(ctx context.Context, pool *pgxpool.Pool, ddl string) error {
	return pool.BeginFunc(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7340210002)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
}

func writeReadyFile(path, address string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(address+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// loggingServer registers handlers wrapped to log one line per call.
type loggingServer struct {
	logger *log.Logger
	server *skald.Server
}

func withCallLog(logger *log.Logger, server *skald.Server) *loggingServer {
	return &loggingServer{logger, server}
}

func (l *loggingServer) OnAction(name string, handler skald.StepHandler) {
	l.server.OnAction(name, l.wrap(handler))
}

func (l *loggingServer) OnCompensation(name string, handler skald.StepHandler) {
	l.server.OnCompensation(name, l.wrap(handler))
}

func (l *loggingServer) wrap(handler skald.StepHandler) skald.StepHandler {
	return func(ctx context.Context, step *skald.StepContext, input json.RawMessage) skald.StepResult {
		start := time.Now()
		result := handler(ctx, step, input)
		l.logger.Printf("saga=%s step=%s phase=%s handler=%s attempt=%d outcome=%s (%.1f ms)",
			step.SagaID, step.Step, step.Phase, step.Handler, step.Attempt, result,
			float64(time.Since(start).Microseconds())/1000)
		return result
	}
}

// seedFlag is a repeatable NAME=COUNT flag, e.g. --stock widget=100.
type seedFlag map[string]int64

func (s seedFlag) String() string { return fmt.Sprint(map[string]int64(s)) }

func (s seedFlag) Set(value string) error {
	name, count, found := strings.Cut(value, "=")
	n, err := strconv.ParseInt(count, 10, 64)
	if !found || name == "" || err != nil || n < 0 {
		return fmt.Errorf("want NAME=COUNT with COUNT >= 0, got %q", value)
	}
	s[name] = n
	return nil
}

// decodeInput unmarshals a step's input into fields; a business failure "invalid_input"
// naming the problem when it does not fit.
func decodeInput(input json.RawMessage, fields interface{}) *skald.StepResult {
	if err := json.Unmarshal(input, fields); err != nil {
		failure := skald.BusinessFailure("invalid_input", err.Error())
		return &failure
	}
	return nil
}
