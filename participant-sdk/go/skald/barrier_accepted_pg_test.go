package skald

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

// The barrier with accepted steps (issue 17): the record keeps the attempt and its
// completion token, as in the C++ SDK (tests/sdk/barrier_pgtest.cc, AcceptedBarrierTest).

// deliverAttempt calls handler as the server would for attempt `attempt` of (saga, "step",
// phase) carrying token.
func deliverAttempt(handler StepHandler, saga string, phase Phase, attempt int, token string) StepResult {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return handler(ctx, &StepContext{SagaID: saga, Step: "step", Phase: phase, Handler: "h", Attempt: attempt,
		IdempotencyKey: saga + "/step/" + phase.String(), CompletionToken: token}, json.RawMessage("{}"))
}

// acceptedRecord returns "outcome attempt token" of the record of (saga, "step", phase), or
// "none".
func acceptedRecord(t *testing.T, pool *pgxpool.Pool, saga string, phase Phase) string {
	t.Helper()
	var outcome, token string
	var attempt int
	err := pool.QueryRow(context.Background(), "SELECT outcome, attempt, completion_token FROM skald.barrier"+
		" WHERE saga_id = $1 AND step = 'step' AND phase = $2", saga, phase.String()).Scan(&outcome, &attempt, &token)
	if err == pgx.ErrNoRows {
		return "none"
	}
	if err != nil {
		t.Fatalf("reading skald.barrier: %v", err)
	}
	return fmt.Sprintf("%s %d %s", outcome, attempt, token)
}

// accepting is an action writing one ledger row and answering Accepted.
func accepting(calls *int32) TxHandler {
	return func(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
		atomic.AddInt32(calls, 1)
		if _, err := tx.Exec(ctx, "INSERT INTO test_ledger VALUES ($1, $2, 1)", step.SagaID, step.Step); err != nil {
			return Retryable("database_error", err.Error())
		}
		return Accepted()
	}
}

func TestPGBarrierAcceptedDuplicateOfTheSameAttemptIsAcceptedWithoutRerunning(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	action := Barrier(pool, accepting(&calls))
	saga := newSaga(t)
	for i := 0; i < 3; i++ {
		if result := deliverAttempt(action, saga, PhaseAction, 1, "tok-1"); !result.IsAccepted() {
			t.Errorf("delivery %d = %v, want accepted", i+1, result)
		}
	}
	if plus, _ := effects(t, pool, saga); plus != 1 || calls != 1 {
		t.Errorf("%d effects, %d handler calls; want 1 and 1", plus, calls)
	}
	if got := acceptedRecord(t, pool, saga, PhaseAction); got != "accepted 1 tok-1" {
		t.Errorf("record = %s", got)
	}
}

func TestPGBarrierAcceptedNewAttemptRerunsUnderItsTokenAndOldOnesAreStale(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	action := Barrier(pool, accepting(&calls))
	saga := newSaga(t)
	if result := deliverAttempt(action, saga, PhaseAction, 1, "tok-1"); !result.IsAccepted() {
		t.Fatalf("attempt 1 = %v", result)
	}
	// Attempt 1's heartbeats stopped: the coordinator calls again with attempt 2.
	if result := deliverAttempt(action, saga, PhaseAction, 2, "tok-2"); !result.IsAccepted() {
		t.Errorf("attempt 2 = %v", result)
	}
	if result := deliverAttempt(action, saga, PhaseAction, 2, "tok-2"); !result.IsAccepted() {
		t.Errorf("attempt 2 again = %v", result)
	}
	stale := deliverAttempt(action, saga, PhaseAction, 1, "tok-1")
	if !stale.IsRetryable() || stale.ErrorCode() != "stale_attempt" {
		t.Errorf("late attempt 1 = %v, want retryable stale_attempt", stale)
	}
	if calls != 2 {
		t.Errorf("%d handler calls, want 2", calls)
	}
	if got := acceptedRecord(t, pool, saga, PhaseAction); got != "accepted 2 tok-2" {
		t.Errorf("record = %s", got)
	}
}

func TestPGBarrierAcceptedNewAttemptMayFinishAndThatResultIsFinal(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	action := Barrier(pool, func(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
		atomic.AddInt32(&calls, 1)
		if step.Attempt == 1 {
			return Accepted()
		}
		return Success(map[string]int{"attempt": step.Attempt})
	})
	saga := newSaga(t)
	deliverAttempt(action, saga, PhaseAction, 1, "tok-1")
	done := deliverAttempt(action, saga, PhaseAction, 2, "tok-2")
	if !done.OK() || string(done.Output()) != `{"attempt":2}` {
		t.Fatalf("attempt 2 = %v %s", done, done.Output())
	}
	for attempt, token := range map[int]string{3: "tok-3", 1: "tok-1"} {
		if again := deliverAttempt(action, saga, PhaseAction, attempt, token); !again.OK() ||
			string(again.Output()) != `{"attempt":2}` {
			t.Errorf("attempt %d = %v %s, want the recorded success", attempt, again, again.Output())
		}
	}
	if calls != 2 {
		t.Errorf("%d handler calls, want 2", calls)
	}
	if got := acceptedRecord(t, pool, saga, PhaseAction); got != "success 2 tok-2" {
		t.Errorf("record = %s", got)
	}
}

func TestPGBarrierCompensationOfAnAcceptedActionCallsItsHandler(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	l := &ledger{}
	saga := newSaga(t)
	deliverAttempt(Barrier(pool, accepting(&calls)), saga, PhaseAction, 1, "tok-1")
	if result := deliverAttempt(Barrier(pool, l.compensation), saga, PhaseCompensation, 1, "tok-c"); !result.OK() {
		t.Errorf("compensation = %v", result)
	}
	if l.compensations != 1 {
		t.Errorf("%d compensation handler calls, want 1 (not a null compensation)", l.compensations)
	}
	if got := record(t, pool, saga, PhaseCompensation); got != "handler/success" {
		t.Errorf("compensation record = %s", got)
	}
}

func TestPGBarrierAcceptedWithoutATokenIsRolledBackAndNotRecorded(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	saga := newSaga(t)
	result := deliverAttempt(Barrier(pool, accepting(&calls)), saga, PhaseAction, 1, "")
	if !result.IsRetryable() || result.ErrorCode() != "no_completion_token" {
		t.Errorf("result = %v, want retryable no_completion_token", result)
	}
	if plus, _ := effects(t, pool, saga); plus != 0 {
		t.Errorf("%d effects, want 0", plus)
	}
	if got := acceptedRecord(t, pool, saga, PhaseAction); got != "none" {
		t.Errorf("record = %s", got)
	}
}
