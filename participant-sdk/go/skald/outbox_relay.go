package skald

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
)

// The relay's SQL: the C++ relay's (participant-sdk/src/outbox_relay.cc).
const (
	outboxClaimSQL = "SELECT id, saga_id, definition, version, input_json, traceparent, callback_url, attempts" +
		" FROM skald.saga_outbox WHERE state = 'pending' AND next_attempt_at <= clock_timestamp()" +
		" ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED"
	outboxMarkSentSQL = "UPDATE skald.saga_outbox SET state = 'sent', sent_at = clock_timestamp()," +
		" attempts = attempts + 1, error_code = '', error_message = '' WHERE id = ANY($1::bigint[])"
	outboxMarkRefusedSQL = "UPDATE skald.saga_outbox SET state = 'refused', refused_at = clock_timestamp()," +
		" attempts = attempts + 1, error_code = $2, error_message = $3 WHERE id = $1"
	outboxMarkRetrySQL = "UPDATE skald.saga_outbox SET attempts = attempts + 1, error_code = $2, error_message = $3," +
		" next_attempt_at = clock_timestamp() + $4 * interval '1 millisecond' WHERE id = $1"
	outboxNextDueSQL = "SELECT (extract(epoch FROM min(next_attempt_at) - clock_timestamp()) * 1000)::bigint" +
		" FROM skald.saga_outbox WHERE state = 'pending'"
	outboxCleanupSQL = "DELETE FROM skald.saga_outbox WHERE id IN (SELECT id FROM skald.saga_outbox" +
		" WHERE state = 'sent' AND sent_at < clock_timestamp() - $1 * interval '1 millisecond' LIMIT 1000)"

	outboxMaxErrorMessage = 1000
	outboxBusyWait        = 50 * time.Millisecond
	outboxBacklogInterval = 250 * time.Millisecond
)

// OutboxRelayOptions configure StartOutboxRelay; zero durations take the defaults shown.
type OutboxRelayOptions struct {
	Pool        *pgxpool.Pool  // the service's database (the outbox's); the relay uses 2 connections
	Coordinator string         // "host:port" of a coordinator. Required
	TLS         CoordinatorTLS // TLS to the coordinator; plaintext when all empty
	Token       string         // API token, sent as "authorization: Bearer <token>"

	BatchSize       int           // rows claimed, and sent in parallel, at once: 32 (1..1000)
	CallDeadline    time.Duration // per StartSaga call: 5 s
	PollInterval    time.Duration // a look without a notification: 1 s
	InitialBackoff  time.Duration // after a transient failure: 200 ms...
	MaxBackoff      time.Duration // ...doubling up to 30 s
	Retention       time.Duration // sent rows are kept 24 h
	CleanupInterval time.Duration // 1 min
	// Reports what an operator should see (a refusal, an unreachable coordinator or
	// database); nil: the standard logger.
	Log func(message string)
}

// OutboxRelayStats are counters since the relay started, and the last backlog it read.
type OutboxRelayStats struct {
	Sent, Created, Refused, TransientFailures, Cleaned, DatabaseErrors int64
	Backlog                                                            OutboxBacklog
}

// OutboxRelay forwards committed outbox rows to the coordinator, until Stop.
type OutboxRelay struct {
	options OutboxRelayOptions
	conn    *grpc.ClientConn
	client  pb.SagaServiceClient
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    sync.WaitGroup

	mu    sync.Mutex
	stats OutboxRelayStats

	// Only the relay's goroutine uses these.
	failing     bool // the last round had a transient failure
	unreachable bool // ...and every call of it was UNAVAILABLE
	random      *rand.Rand
}

func (o *OutboxRelayOptions) withDefaults() error {
	if o.Pool == nil {
		return errors.New("OutboxRelayOptions.Pool: required")
	}
	if o.Coordinator == "" {
		return errors.New("OutboxRelayOptions.Coordinator: required")
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.BatchSize < 1 || o.BatchSize > 1000 {
		return errors.New("OutboxRelayOptions.BatchSize: must be from 1 to 1000")
	}
	defaults := []struct {
		value *time.Duration
		def   time.Duration
	}{{&o.CallDeadline, 5 * time.Second}, {&o.PollInterval, time.Second},
		{&o.InitialBackoff, 200 * time.Millisecond}, {&o.MaxBackoff, 30 * time.Second},
		{&o.Retention, 24 * time.Hour}, {&o.CleanupInterval, time.Minute}}
	for _, d := range defaults {
		if *d.value == 0 {
			*d.value = d.def
		}
		if *d.value < 0 {
			return errors.New("OutboxRelayOptions: durations must not be negative")
		}
	}
	if o.PollInterval > time.Hour || o.MaxBackoff > time.Hour {
		return errors.New("OutboxRelayOptions: PollInterval and MaxBackoff: at most one hour")
	}
	if o.Log == nil {
		o.Log = func(message string) { log.Print(message) }
	}
	return nil
}

// StartOutboxRelay checks the options and starts the relay. It does not wait for the database
// or the coordinator: it keeps trying both in the background.
func StartOutboxRelay(options OutboxRelayOptions) (*OutboxRelay, error) {
	if err := options.withDefaults(); err != nil {
		return nil, err
	}
	dial := grpc.WithInsecure()
	if options.TLS.enabled() {
		files, err := newPEMFiles(options.TLS.CertFile, options.TLS.KeyFile, options.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("OutboxRelayOptions.TLS: %w", err)
		}
		dial = grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(files)))
	}
	// Back at work within a second of the coordinator's return, not gRPC's two minutes.
	conn, err := grpc.Dial(options.Coordinator, dial, grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 2, Jitter: 0.2,
			MaxDelay: time.Second},
		MinConnectTimeout: options.CallDeadline,
	}))
	if err != nil {
		return nil, fmt.Errorf("dialling the coordinator at %s: %w", options.Coordinator, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &OutboxRelay{options: options, conn: conn, client: pb.NewSagaServiceClient(conn),
		wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		random: rand.New(rand.NewSource(time.Now().UnixNano()))}
	r.done.Add(2)
	go r.listen()
	go r.run()
	return r, nil
}

// Stop stops the relay and waits for the sends in flight (at most CallDeadline).
func (r *OutboxRelay) Stop() {
	r.cancel()
	r.done.Wait()
	r.conn.Close()
}

// Stats returns the counters and the last backlog read.
func (r *OutboxRelay) Stats() OutboxRelayStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Wake makes the relay look at the outbox now, as a notification would.
func (r *OutboxRelay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default: // Already due to wake.
	}
}

// listen holds a connection LISTENing on OutboxChannel and wakes the relay per notification;
// on any error it reconnects after a pause (the relay's PollInterval covers the gap).
func (r *OutboxRelay) listen() {
	defer r.done.Done()
	for r.ctx.Err() == nil {
		err := func() error {
			conn, err := r.options.Pool.Acquire(r.ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			if _, err := conn.Exec(r.ctx, "LISTEN "+OutboxChannel); err != nil {
				conn.Conn().Close(context.Background()) // Not lent again with a LISTEN on it.
				return err
			}
			defer conn.Conn().Close(context.Background())
			for {
				if _, err := conn.Conn().WaitForNotification(r.ctx); err != nil {
					return err
				}
				r.Wake()
			}
		}()
		if r.ctx.Err() != nil {
			return
		}
		_ = err
		r.sleep(r.options.InitialBackoff)
	}
}

func (r *OutboxRelay) sleep(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-r.ctx.Done():
	case <-timer.C:
	}
}

func (r *OutboxRelay) run() {
	defer r.done.Done()
	lastCleanup := time.Time{}
	lastBacklog := time.Now()
	databaseDown := false
	reconnectWait := r.options.InitialBackoff
	unreachableWait := r.options.InitialBackoff
	for r.ctx.Err() == nil {
		claimed, err := r.claimAndSend()
		if err == nil && time.Since(lastBacklog) >= outboxBacklogInterval {
			err = r.readBacklog()
			lastBacklog = time.Now()
		}
		if err == nil && r.unreachable {
			// Every row of the round failed to reach the coordinator: pause the relay itself,
			// so that an hour's outage costs a round per MaxBackoff, not one per row.
			r.sleep(unreachableWait)
			unreachableWait = minDuration(2*unreachableWait, r.options.MaxBackoff)
			continue
		}
		unreachableWait = r.options.InitialBackoff
		if err == nil && claimed == r.options.BatchSize {
			continue // More may be due.
		}
		if err == nil && time.Since(lastCleanup) >= r.options.CleanupInterval {
			err = r.cleanup()
			lastCleanup = time.Now()
		}
		if err == nil {
			err = r.readBacklog()
			lastBacklog = time.Now()
		}
		var wait time.Duration
		if err == nil {
			wait, err = r.nextWait()
		}
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			r.mu.Lock()
			r.stats.DatabaseErrors++
			r.mu.Unlock()
			if !databaseDown {
				r.options.Log("outbox relay: database error: " + err.Error())
			}
			databaseDown = true
			r.sleep(reconnectWait)
			reconnectWait = minDuration(2*reconnectWait, r.options.MaxBackoff)
			continue
		}
		if databaseDown {
			r.options.Log("outbox relay: the database is reachable again")
		}
		databaseDown = false
		reconnectWait = r.options.InitialBackoff
		timer := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
		case <-r.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// nextWait returns how long to sleep without a notification: until the next row is due,
// within [outboxBusyWait, PollInterval].
func (r *OutboxRelay) nextWait() (time.Duration, error) {
	var dueMillis *int64
	if err := r.options.Pool.QueryRow(r.ctx, outboxNextDueSQL).Scan(&dueMillis); err != nil {
		return 0, err
	}
	wait := r.options.PollInterval
	if dueMillis != nil {
		due := time.Duration(*dueMillis) * time.Millisecond
		if due < outboxBusyWait {
			due = outboxBusyWait // Due rows claimed by another relay: its COMMIT notifies no one.
		}
		wait = minDuration(due, wait)
	}
	return wait, nil
}

func isPermanent(code codes.Code) bool {
	switch code {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.FailedPrecondition,
		codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// codeName is the code's name as the C++ relay records it ("NOT_FOUND").
func codeName(code codes.Code) string {
	names := map[codes.Code]string{codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
		codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
		codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
		codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
		codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
		codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
		codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
		codes.Unauthenticated: "UNAUTHENTICATED"}
	if name, ok := names[code]; ok {
		return name
	}
	return "UNKNOWN"
}

func truncated(s string) string {
	if len(s) > outboxMaxErrorMessage {
		return s[:outboxMaxErrorMessage]
	}
	return s
}

func (r *OutboxRelay) backoff(attemptsBefore int) time.Duration {
	wait := r.options.InitialBackoff
	for i := 0; i < attemptsBefore && wait < r.options.MaxBackoff; i++ {
		wait *= 2
	}
	wait = minDuration(wait, r.options.MaxBackoff)
	return time.Duration(float64(wait) * (0.8 + 0.4*r.random.Float64()))
}

type outboxRow struct {
	id       int64
	attempts int
	request  *pb.StartSagaRequest
	reply    *pb.StartSagaResponse
	err      error
}

// claimAndSend runs one round in one transaction: the row locks are held while the calls are
// in flight, so a relay that dies mid-send leaves no claim behind. Returns the rows claimed.
func (r *OutboxRelay) claimAndSend() (int, error) {
	r.unreachable = false
	tx, err := r.options.Pool.Begin(r.ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background())
	rows, err := tx.Query(r.ctx, outboxClaimSQL, r.options.BatchSize)
	if err != nil {
		return 0, err
	}
	var claimed []*outboxRow
	for rows.Next() {
		row := &outboxRow{request: &pb.StartSagaRequest{}}
		if err := rows.Scan(&row.id, &row.request.SagaId, &row.request.Definition, &row.request.Version,
			&row.request.InputJson, &row.request.Traceparent, &row.request.CallbackUrl, &row.attempts); err != nil {
			rows.Close()
			return 0, err
		}
		claimed = append(claimed, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(claimed) == 0 {
		return 0, tx.Commit(r.ctx)
	}
	r.sendAll(claimed)

	var sentIDs []string
	var created, refused, transient, unavailable int64
	transientError := ""
	for _, row := range claimed {
		if row.err == nil {
			sentIDs = append(sentIDs, strconv.FormatInt(row.id, 10))
			if row.reply.GetCreated() {
				created++
			}
			continue
		}
		st, _ := status.FromError(row.err)
		code, message := codeName(st.Code()), truncated(st.Message())
		if isPermanent(st.Code()) {
			refused++
			if _, err := tx.Exec(r.ctx, outboxMarkRefusedSQL, row.id, code, message); err != nil {
				return 0, err
			}
			r.options.Log(fmt.Sprintf("outbox relay: the coordinator refused the start of saga %s for good (%s: %s);"+
				" recorded in skald.saga_outbox, not retried", row.request.SagaId, code, message))
			continue
		}
		transient++
		if st.Code() == codes.Unavailable {
			unavailable++
		}
		transientError = code + ": " + st.Message()
		if _, err := tx.Exec(r.ctx, outboxMarkRetrySQL, row.id, code, message,
			r.backoff(row.attempts).Milliseconds()); err != nil {
			return 0, err
		}
	}
	if len(sentIDs) > 0 {
		if _, err := tx.Exec(r.ctx, outboxMarkSentSQL, "{"+strings.Join(sentIDs, ",")+"}"); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(r.ctx); err != nil {
		return 0, err
	}
	if transient > 0 && !r.failing {
		r.options.Log("outbox relay: cannot start sagas now (" + transientError + "); retrying with backoff")
	} else if transient == 0 && r.failing {
		r.options.Log("outbox relay: the coordinator accepts starts again")
	}
	r.failing = transient > 0
	r.unreachable = unavailable == int64(len(claimed))
	r.mu.Lock()
	r.stats.Sent += int64(len(sentIDs))
	r.stats.Created += created
	r.stats.Refused += refused
	r.stats.TransientFailures += transient
	r.mu.Unlock()
	return len(claimed), nil
}

// sendAll sends every row's StartSaga at once, each bounded by CallDeadline, and returns when
// all have answered. Stop does not cut them short: their outcomes are recorded.
func (r *OutboxRelay) sendAll(rows []*outboxRow) {
	ctx, cancel := context.WithTimeout(context.Background(), r.options.CallDeadline)
	defer cancel()
	if r.options.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+r.options.Token)
	}
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Add(1)
		go func(row *outboxRow) {
			defer wg.Done()
			row.reply, row.err = r.client.StartSaga(ctx, row.request)
		}(row)
	}
	wg.Wait()
}

func (r *OutboxRelay) cleanup() error {
	tag, err := r.options.Pool.Exec(r.ctx, outboxCleanupSQL, r.options.Retention.Milliseconds())
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.stats.Cleaned += tag.RowsAffected()
	r.mu.Unlock()
	return nil
}

func (r *OutboxRelay) readBacklog() error {
	backlog, err := ReadOutboxBacklog(r.ctx, r.options.Pool)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.stats.Backlog = backlog
	r.mu.Unlock()
	return nil
}
