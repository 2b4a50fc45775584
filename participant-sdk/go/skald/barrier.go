package skald

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

// The barrier runs a participant's step handler inside the participant's own PostgreSQL
// transaction together with a barrier record keyed by (saga id, step, phase), so that calls
// delivered more than once, out of order or concurrently have exactly the effect of one
// in-order delivery. It is the C++ barrier (participant-sdk/include/skald/barrier.h): the
// same table, the same SQL, the same lock, the same answers, so a Go and a C++ participant
// may even share one database.
//
// What a call through Barrier does, in one transaction:
//  1. waits (at most BarrierOptions.LockWait and until the call's deadline) for a
//     transaction-scoped advisory lock on (saga id, step), which serializes both phases of a
//     step across every connection and process using the same database;
//  2. if a record exists for (saga id, step, phase), returns the result recorded there
//     without calling the handler (a repeat returns the FIRST result). A record of an
//     Accepted result is kept with its attempt and completion token: a delivery with the
//     same token (a duplicate of that attempt) is answered Accepted again without calling the
//     handler; a delivery of a later attempt (another token, after the earlier attempt's
//     heartbeat timeout or deadline) calls the handler again, as in 5., so the work restarts
//     under the new token, and its result replaces the record (the handler then sees its own
//     committed writes of the accepted attempt); a delivery of an earlier attempt than the
//     recorded one is answered retryable "stale_attempt" without calling the handler;
//  3. an action whose step already has a compensation record is refused without calling the
//     handler: business failure "compensated_before_action", recorded;
//  4. a compensation whose action has no record, or failed (it had no effect), is a "null
//     compensation": success with {}, recorded with origin 'null_compensation', without
//     calling the handler. An accepted action is not such a case: it may have been completed
//     with success since (the barrier does not see completions), so its compensation calls
//     the handler;
//  5. otherwise calls the handler inside a savepoint, and
//     - success or accepted: commits the handler's writes together with the record
//     (accepted without a completion token is refused like a retryable error,
//     "no_completion_token": nobody could complete the step);
//     - business failure: rolls the handler's writes back and commits the record of the
//     failure, so a repeat returns it;
//     - retryable error, a panic, or a success whose output is not a JSON object
//     (retryable "invalid_output"): rolls everything back and records nothing;
//     - success or business failure after the call's deadline passed: rolls everything
//     back, records nothing, answers retryable "deadline_exceeded".
//
// The deadline bounds the rest too: a call whose deadline passed before its transaction
// began is answered "deadline_exceeded" at once, and every statement runs under a
// statement_timeout of the time left when the transaction began. Database errors are
// retryable: "barrier_busy" when another delivery of the step held the lock longer than the
// wait, "database_unavailable" for a broken connection (a break before COMMIT is retried once
// on a fresh connection), "database_in_doubt" when the connection died during COMMIT,
// "database_error" for any other. Records are never deleted by the SDK.

const (
	barrierLockSQL           = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
	barrierSetTimeoutsSQL    = "SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)"
	barrierSetLockTimeoutSQL = "SELECT set_config('lock_timeout', $1, true)"
	barrierFindSQL           = "SELECT phase, outcome, output_json, error_code, error_message, attempt, completion_token" +
		" FROM skald.barrier WHERE saga_id = $1 AND step = $2"
	// Inserts the record, or replaces an 'accepted' one: a new attempt of an accepted step ran
	// the handler again (the only way the barrier records with a record present).
	barrierRecordSQL = "INSERT INTO skald.barrier (saga_id, step, phase, handler, origin, outcome, output_json," +
		" error_code, error_message, attempt, completion_token)" +
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)" +
		" ON CONFLICT (saga_id, step, phase) DO UPDATE SET handler = EXCLUDED.handler," +
		" origin = EXCLUDED.origin, outcome = EXCLUDED.outcome, output_json = EXCLUDED.output_json," +
		" error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message," +
		" attempt = EXCLUDED.attempt, completion_token = EXCLUDED.completion_token," +
		" recorded_at = now() WHERE skald.barrier.outcome = 'accepted'"
	barrierSavepointSQL           = "SAVEPOINT skald_barrier_handler"
	barrierRollbackToSavepointSQL = "ROLLBACK TO SAVEPOINT skald_barrier_handler"

	barrierSchemaLockSQL = "SELECT pg_advisory_xact_lock(hashtextextended('skald.barrier schema', 0))"
	barrierSchemaSQL     = "CREATE SCHEMA IF NOT EXISTS skald;" +
		"CREATE TABLE IF NOT EXISTS skald.barrier (" +
		" saga_id text NOT NULL," +
		" step text NOT NULL," +
		" phase text NOT NULL CHECK (phase IN ('action', 'compensation'))," +
		" handler text NOT NULL," +
		" origin text NOT NULL CHECK (origin IN ('handler', 'null_compensation', 'refused'))," +
		" outcome text NOT NULL CHECK (outcome IN ('success', 'business_failure', 'accepted'))," +
		" output_json text NOT NULL," +
		" error_code text NOT NULL," +
		" error_message text NOT NULL," +
		" recorded_at timestamptz NOT NULL DEFAULT now()," +
		" attempt integer NOT NULL DEFAULT 0," +
		" completion_token text NOT NULL DEFAULT ''," +
		" PRIMARY KEY (saga_id, step, phase));" +
		// A table made before accepted steps (issue 17) gains the columns (a catalog change
		// only, thanks to the defaults) and an outcome check allowing 'accepted', once.
		"ALTER TABLE skald.barrier ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 0," +
		" ADD COLUMN IF NOT EXISTS completion_token text NOT NULL DEFAULT '';" +
		"DO $$ BEGIN" +
		" IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'skald.barrier'::regclass" +
		" AND conname = 'barrier_outcome_check'" +
		" AND pg_get_constraintdef(oid) NOT LIKE '%accepted%') THEN" +
		" ALTER TABLE skald.barrier DROP CONSTRAINT barrier_outcome_check," +
		" ADD CONSTRAINT barrier_outcome_check" +
		" CHECK (outcome IN ('success', 'business_failure', 'accepted'));" +
		" END IF; END $$;"

	sqlStateLockNotAvailable = "55P03"
	sqlStateQueryCanceled    = "57014"

	// Bounds the barrier's own statements against a dead network (PostgreSQL's timeouts bound
	// them otherwise), and the wait for a connection of a call without a deadline.
	barrierStatementLimit = 30 * time.Second
)

// TxBeginner is where the barrier takes its transactions from: a *pgxpool.Pool, shared by
// every handler (a *pgx.Conn is not safe for concurrent calls).
type TxBeginner interface {
	BeginTx(ctx context.Context, options pgx.TxOptions) (pgx.Tx, error)
}

// TxHandler is a participant's handler run inside the barrier's transaction tx. It writes
// through tx only and must not commit or roll it back (its Commit and Rollback return an
// error; tx.Begin savepoints are fine). It must have no effect outside tx: it may be run
// again after a retryable result or a panic. ctx carries the call's deadline; pass it to
// tx's queries.
type TxHandler func(ctx context.Context, tx pgx.Tx, step *StepContext, input json.RawMessage) StepResult

// BarrierOptions tune Barrier.
type BarrierOptions struct {
	// How long a call waits for another delivery of the same step (or its other phase) to
	// finish before answering retryable "barrier_busy"; the call's deadline also bounds it.
	// Zero: 5 s.
	LockWait time.Duration
}

// ApplyBarrierSchema creates schema skald and table skald.barrier if they do not exist, in
// one transaction serialized by an advisory lock with every other caller on the same
// database (services starting together do not race). Idempotent; the same table as the C++
// SDK's ApplyBarrierSchema.
func ApplyBarrierSchema(ctx context.Context, db TxBeginner) error {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("applying the barrier schema: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, barrierSchemaLockSQL); err != nil {
		return fmt.Errorf("applying the barrier schema: %w", err)
	}
	if _, err := tx.Exec(ctx, barrierSchemaSQL); err != nil {
		return fmt.Errorf("applying the barrier schema: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("applying the barrier schema: %w", err)
	}
	return nil
}

// Barrier returns a StepHandler running handler behind the barrier described above, with the
// default options; register it with Server.OnAction or OnCompensation. A call whose saga id or
// step is empty is answered with business failure "invalid_input". REQUIRES:
// ApplyBarrierSchema has succeeded on db's database.
func Barrier(db TxBeginner, handler TxHandler) StepHandler {
	return BarrierWithOptions(db, handler, BarrierOptions{})
}

// BarrierWithOptions is Barrier with options.
func BarrierWithOptions(db TxBeginner, handler TxHandler, options BarrierOptions) StepHandler {
	if options.LockWait <= 0 {
		options.LockWait = 5 * time.Second
	}
	b := &barrier{db: db, handler: handler, options: options}
	return b.call
}

type barrier struct {
	db      TxBeginner
	handler TxHandler
	options BarrierOptions
}

// attemptError is a database error of one attempt; atCommit says whether COMMIT failed.
type attemptError struct {
	err      error
	atCommit bool
}

func (b *barrier) call(ctx context.Context, step *StepContext, input json.RawMessage) StepResult {
	if step.SagaID == "" || step.Step == "" {
		return BusinessFailure("invalid_input", "the call names no saga id or no step; the barrier cannot key it")
	}
	// A connection found broken before COMMIT committed nothing: one more round on a fresh
	// connection (after a database restart, pooled connections are dead).
	for round := 1; ; round++ {
		result, failure := b.attempt(ctx, step, input)
		if failure == nil {
			return result
		}
		result, broken := b.classify(ctx, step, failure)
		if !broken || failure.atCommit || round > 1 {
			return result
		}
	}
}

// classify turns an attempt's database error into the retryable result the barrier answers,
// and says whether the connection broke.
func (b *barrier) classify(ctx context.Context, step *StepContext, failure *attemptError) (StepResult, bool) {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(failure.err, &pgErr) && pgErr.Code == sqlStateLockNotAvailable:
		return Retryable("barrier_busy", fmt.Sprintf("another delivery of step %q of saga %s is still in progress",
			step.Step, step.SagaID)), false
	case errors.As(failure.err, &pgErr) && pgErr.Code == sqlStateQueryCanceled:
		return Retryable("deadline_exceeded", "statement cancelled: "+pgErr.Error()), false
	case errors.As(failure.err, &pgErr):
		return Retryable("database_error", "database error: "+pgErr.Error()), false
	case ctx.Err() != nil || pgconn.Timeout(failure.err):
		// The call's deadline (or its cancellation) interrupted a statement of the handler.
		return Retryable("deadline_exceeded", "the call's deadline passed: "+failure.err.Error()), false
	case failure.atCommit:
		return Retryable("database_in_doubt",
			"the connection died during COMMIT, outcome unknown: "+failure.err.Error()), true
	}
	return Retryable("database_unavailable", "database connection lost: "+failure.err.Error()), true
}

func statementContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), barrierStatementLimit)
}

// barrierExec runs one of the barrier's own statements; they are bounded by PostgreSQL's timeouts
// set at the start of the transaction, not by the call's context, so that the deadline
// passing mid-statement ends it with a PostgreSQL error instead of a torn connection.
func barrierExec(tx pgx.Tx, sql string, args ...interface{}) error {
	ctx, cancel := statementContext()
	defer cancel()
	_, err := tx.Exec(ctx, sql, args...)
	return err
}

type barrierRecord struct {
	phase, outcome, output, code, message string
	attempt                               int32
	completionToken                       string
}

func (r *barrierRecord) result() StepResult {
	switch r.outcome {
	case "success":
		return Success(json.RawMessage(r.output))
	case "accepted":
		return Accepted()
	}
	return BusinessFailure(r.code, r.message)
}

// attempt runs one transaction. It returns the result, or the database error that ended it.
func (b *barrier) attempt(ctx context.Context, step *StepContext, input json.RawMessage) (StepResult, *attemptError) {
	deadline, hasDeadline := ctx.Deadline()
	lockWait := b.options.LockWait
	left := time.Duration(0)
	if hasDeadline {
		left = time.Until(deadline)
		if left < time.Millisecond {
			return Retryable("deadline_exceeded", "the call's deadline passed before the barrier was entered"), nil
		}
		lockWait = minDuration(lockWait, left)
	}

	// Waiting for a connection is bounded by the deadline, or 30 s without one.
	acquireCtx, cancelAcquire := context.WithTimeout(ctx, barrierStatementLimit)
	tx, err := b.db.BeginTx(acquireCtx, pgx.TxOptions{})
	cancelAcquire()
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			return Retryable("database_unavailable", "no database connection in time: "+err.Error()), nil
		}
		// E.g. a pooled connection that died while idle: retried once on a fresh one.
		return StepResult{}, &attemptError{err: fmt.Errorf("starting a transaction: %w", err)}
	}
	defer func() {
		rollbackCtx, cancel := statementContext()
		defer cancel()
		_ = tx.Rollback(rollbackCtx) // a no-op after Commit
	}()

	millis := func(d time.Duration) string {
		if d < time.Millisecond {
			d = time.Millisecond
		}
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	if hasDeadline {
		err = barrierExec(tx, barrierSetTimeoutsSQL, millis(left), millis(lockWait))
	} else {
		err = barrierExec(tx, barrierSetLockTimeoutSQL, millis(lockWait))
	}
	if err == nil {
		err = barrierExec(tx, barrierLockSQL, "skald.barrier/"+step.SagaID+"/"+step.Step)
	}
	if err != nil {
		return StepResult{}, &attemptError{err: err}
	}

	action, compensation, err := findRecords(tx, step)
	if err != nil {
		return StepResult{}, &attemptError{err: err}
	}
	own := action
	if step.Phase == PhaseCompensation {
		own = compensation
	}
	if own != nil && own.outcome != "accepted" {
		return own.result(), nil // a repeat: the first result, no effect
	}
	if own != nil {
		switch {
		case own.completionToken == step.CompletionToken:
			return Accepted(), nil // whoever holds the token finishes the work
		case int32(step.Attempt) <= own.attempt:
			return Retryable("stale_attempt", fmt.Sprintf(
				"attempt %d of step %q of saga %s is older than accepted attempt %d; not run",
				step.Attempt, step.Step, step.SagaID, own.attempt)), nil
		}
		// The earlier attempt timed out: run the handler under the new token.
	}

	if step.Phase == PhaseAction && compensation != nil {
		refused := BusinessFailure("compensated_before_action", fmt.Sprintf(
			"step %q of saga %s was compensated before its action arrived; refused", step.Step, step.SagaID))
		return recordAndCommit(ctx, tx, step, "refused", refused)
	}
	if step.Phase == PhaseCompensation && (action == nil || action.outcome == "business_failure") {
		// Nothing to undo: the action never ran, or ran without effect. Recording the
		// compensation also makes a late action be refused.
		return recordAndCommit(ctx, tx, step, "null_compensation", Success(nil))
	}

	if err := barrierExec(tx, barrierSavepointSQL); err != nil {
		return StepResult{}, &attemptError{err: err}
	}
	result := callTxHandler(ctx, b.handler, tx, step, input)
	if result.outcome == OutcomeRetryable {
		return result, nil // rolled back by the deferred Rollback
	}
	if result.OK() && !isJSONObject(result.output) {
		return Retryable("invalid_output", fmt.Sprintf(
			"%s handler %q succeeded with an output that is not a JSON object; its writes were rolled back",
			step.Phase, step.Handler)), nil
	}
	if result.IsAccepted() && step.CompletionToken == "" {
		// Recorded, it would answer every repeat with a step nobody can complete.
		return Retryable("no_completion_token",
			"the handler answered accepted, but the call carried no completion token"), nil
	}
	if result.outcome == OutcomeBusinessFailure {
		// A business failure has no effect.
		if err := barrierExec(tx, barrierRollbackToSavepointSQL); err != nil {
			return StepResult{}, &attemptError{err: err}
		}
	}
	return recordAndCommit(ctx, tx, step, "handler", result)
}

func findRecords(tx pgx.Tx, step *StepContext) (action, compensation *barrierRecord, err error) {
	ctx, cancel := statementContext()
	defer cancel()
	rows, err := tx.Query(ctx, barrierFindSQL, step.SagaID, step.Step)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		record := &barrierRecord{}
		if err := rows.Scan(&record.phase, &record.outcome, &record.output, &record.code, &record.message,
			&record.attempt, &record.completionToken); err != nil {
			return nil, nil, err
		}
		if record.phase == "action" {
			action = record
		} else {
			compensation = record
		}
	}
	return action, compensation, rows.Err()
}

// recordAndCommit records result with origin and commits, unless the handler ran and the
// call's deadline has passed: then the caller has given up on this attempt and retries it,
// and committing would apply an effect after the deadline.
func recordAndCommit(ctx context.Context, tx pgx.Tx, step *StepContext, origin string, result StepResult) (StepResult, *attemptError) {
	outcome, output := "success", "{}"
	switch {
	case result.OK():
		var compact bytes.Buffer
		if json.Compact(&compact, result.output) == nil {
			output = compact.String()
		}
	case result.IsAccepted():
		outcome = "accepted"
	default:
		outcome = "business_failure"
	}
	if err := barrierExec(tx, barrierRecordSQL, step.SagaID, step.Step, step.Phase.String(), step.Handler, origin,
		outcome, output, result.code, result.message, int32(step.Attempt), step.CompletionToken); err != nil {
		return StepResult{}, &attemptError{err: err}
	}
	if deadline, ok := ctx.Deadline(); ok && origin == "handler" && !time.Now().Before(deadline) {
		return Retryable("deadline_exceeded", fmt.Sprintf(
			"the call's deadline passed while %s handler %q ran; its writes were rolled back",
			step.Phase, step.Handler)), nil
	}
	commitCtx, cancel := statementContext()
	defer cancel()
	if err := tx.Commit(commitCtx); err != nil {
		return StepResult{}, &attemptError{err: err, atCommit: true}
	}
	return result, nil
}

// callTxHandler runs the handler on a tx it cannot commit, turning a panic into a retryable
// result.
func callTxHandler(ctx context.Context, handler TxHandler, tx pgx.Tx, step *StepContext,
	input json.RawMessage) (result StepResult) {
	defer func() {
		if recovered := recover(); recovered != nil {
			result = Retryable("handler_exception", fmt.Sprintf("%s handler %q panicked: %v",
				step.Phase, step.Handler, recovered))
		}
	}()
	result = handler(ctx, handlerTx{tx}, step, input)
	if result.outcome == 0 {
		return Retryable("invalid_output", "the handler returned a zero StepResult")
	}
	return result
}

// handlerTx is the barrier's transaction as its handler sees it: the barrier commits.
type handlerTx struct{ pgx.Tx }

var errBarrierOwnsTx = errors.New("skald: the barrier commits or rolls back its transaction, not the handler")

func (handlerTx) Commit(context.Context) error   { return errBarrierOwnsTx }
func (handlerTx) Rollback(context.Context) error { return errBarrierOwnsTx }
