package skald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
)

// ledger is a participant whose effect is a row in test_ledger: +1 for the action, -1 for
// the compensation. It counts its handler calls.
type ledger struct {
	actions, compensations int32
}

func (l *ledger) action(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
	atomic.AddInt32(&l.actions, 1)
	if _, err := tx.Exec(ctx, "INSERT INTO test_ledger VALUES ($1, $2, 1)", step.SagaID, step.Step); err != nil {
		return Retryable("database_error", err.Error())
	}
	return Success(map[string]interface{}{"attempt": step.Attempt})
}

func (l *ledger) compensation(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
	atomic.AddInt32(&l.compensations, 1)
	if _, err := tx.Exec(ctx, "INSERT INTO test_ledger VALUES ($1, $2, -1)", step.SagaID, step.Step); err != nil {
		return Retryable("database_error", err.Error())
	}
	return Success(nil)
}

var sagaCounter int64

// newSaga returns a saga id used by no other test of this run.
func newSaga(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", t.Name(), time.Now().UnixNano(), atomic.AddInt64(&sagaCounter, 1))
}

// deliver calls handler as the server would for (saga, "step", phase, attempt), with a 5 s
// deadline.
func deliver(handler StepHandler, saga string, phase Phase, attempt int) StepResult {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return handler(ctx, &StepContext{SagaID: saga, Step: "step", Phase: phase, Handler: "h", Attempt: attempt,
		IdempotencyKey: saga + "/step/" + phase.String()}, json.RawMessage("{}"))
}

// effects returns the ledger rows of saga: how many +1 and how many -1.
func effects(t *testing.T, pool *pgxpool.Pool, saga string) (plus, minus int) {
	t.Helper()
	err := pool.QueryRow(context.Background(),
		"SELECT count(*) FILTER (WHERE delta > 0), count(*) FILTER (WHERE delta < 0) FROM test_ledger WHERE saga_id = $1",
		saga).Scan(&plus, &minus)
	if err != nil {
		t.Fatalf("reading test_ledger: %v", err)
	}
	return plus, minus
}

// record returns the barrier record of (saga, "step", phase): its origin and outcome, or
// "none".
func record(t *testing.T, pool *pgxpool.Pool, saga string, phase Phase) string {
	t.Helper()
	var origin, outcome string
	err := pool.QueryRow(context.Background(),
		"SELECT origin, outcome FROM skald.barrier WHERE saga_id = $1 AND step = 'step' AND phase = $2",
		saga, phase.String()).Scan(&origin, &outcome)
	if errors.Is(err, pgx.ErrNoRows) {
		return "none"
	}
	if err != nil {
		t.Fatalf("reading skald.barrier: %v", err)
	}
	return origin + "/" + outcome
}

func TestPGApplyBarrierSchemaMakesTheCppTableAndIsIdempotentUnderConcurrency(t *testing.T) {
	admin := testPool(t)
	ctx := context.Background()
	database := fmt.Sprintf("skald_schema_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+database); err != nil {
		t.Fatal(err)
	}
	config, err := pgxpool.ParseConfig(testPG.url)
	if err != nil {
		t.Fatal(err)
	}
	config.ConnConfig.Database = database
	pool, err := pgxpool.ConnectConfig(ctx, config)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Services starting together on a fresh database.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ApplyBarrierSchema(ctx, pool)
		}()
	}
	wg.Wait()
	errs <- ApplyBarrierSchema(ctx, pool) // and once more
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("ApplyBarrierSchema: %v", err)
		}
	}
	rows, err := pool.Query(ctx, "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM"+
		" information_schema.columns WHERE table_schema = 'skald' AND table_name = 'barrier' ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	var columns []string
	for rows.Next() {
		var column string
		if err := rows.Scan(&column); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, column)
	}
	rows.Close()
	want := []string{"saga_id text NO", "step text NO", "phase text NO", "handler text NO", "origin text NO",
		"outcome text NO", "output_json text NO", "error_code text NO", "error_message text NO",
		"recorded_at timestamp with time zone NO", "attempt integer NO", "completion_token text NO"}
	if fmt.Sprint(columns) != fmt.Sprint(want) {
		t.Errorf("skald.barrier columns = %v, want %v", columns, want)
	}
	var key string
	if err := pool.QueryRow(ctx, "SELECT pg_get_constraintdef(oid) FROM pg_constraint"+
		" WHERE conrelid = 'skald.barrier'::regclass AND contype = 'p'").Scan(&key); err != nil {
		t.Fatal(err)
	}
	if key != "PRIMARY KEY (saga_id, step, phase)" {
		t.Errorf("primary key = %s", key)
	}
}

func TestPGBarrierRepeatReturnsTheFirstResultWithoutRunningTheHandler(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	action := Barrier(pool, l.action)
	saga := newSaga(t)
	first := deliver(action, saga, PhaseAction, 1)
	again := deliver(action, saga, PhaseAction, 2)
	if !first.OK() || string(first.Output()) != `{"attempt":1}` {
		t.Fatalf("first delivery = %v %s", first, first.Output())
	}
	if !again.OK() || string(again.Output()) != `{"attempt":1}` {
		t.Errorf("repeat = %v %s, want the first result {\"attempt\":1}", again, again.Output())
	}
	if plus, _ := effects(t, pool, saga); plus != 1 || l.actions != 1 {
		t.Errorf("%d effects, %d handler calls; want 1 and 1", plus, l.actions)
	}
	if got := record(t, pool, saga, PhaseAction); got != "handler/success" {
		t.Errorf("record = %s", got)
	}
}

func TestPGBarrierCompensationWithoutActionIsNullAndRefusesTheLateAction(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	action, compensation := Barrier(pool, l.action), Barrier(pool, l.compensation)
	saga := newSaga(t)
	if result := deliver(compensation, saga, PhaseCompensation, 1); !result.OK() || string(result.Output()) != "{}" {
		t.Errorf("compensation before its action = %v, want success {}", result)
	}
	late := deliver(action, saga, PhaseAction, 1)
	if late.Outcome() != OutcomeBusinessFailure || late.ErrorCode() != "compensated_before_action" {
		t.Errorf("late action = %v, want business failure compensated_before_action", late)
	}
	if again := deliver(action, saga, PhaseAction, 2); again.ErrorCode() != "compensated_before_action" {
		t.Errorf("late action again = %v", again)
	}
	if plus, minus := effects(t, pool, saga); plus != 0 || minus != 0 || l.actions != 0 || l.compensations != 0 {
		t.Errorf("effects %d/%d, handler calls %d/%d; want none", plus, minus, l.actions, l.compensations)
	}
	if got := record(t, pool, saga, PhaseCompensation); got != "null_compensation/success" {
		t.Errorf("compensation record = %s", got)
	}
	if got := record(t, pool, saga, PhaseAction); got != "refused/business_failure" {
		t.Errorf("action record = %s", got)
	}
}

func TestPGBarrierBusinessFailureRollsBackItsWritesAndIsRecorded(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	declining := Barrier(pool, func(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
		atomic.AddInt32(&calls, 1)
		if _, err := tx.Exec(ctx, "INSERT INTO test_ledger VALUES ($1, $2, 1)", step.SagaID, step.Step); err != nil {
			return Retryable("database_error", err.Error())
		}
		return BusinessFailure("card_declined", "over the limit")
	})
	l := &ledger{}
	compensation := Barrier(pool, l.compensation)
	saga := newSaga(t)
	for attempt := 1; attempt <= 2; attempt++ {
		result := deliver(declining, saga, PhaseAction, attempt)
		if result.Outcome() != OutcomeBusinessFailure || result.ErrorCode() != "card_declined" ||
			result.ErrorMessage() != "over the limit" {
			t.Errorf("delivery %d = %v", attempt, result)
		}
	}
	// A failed action had no effect: its compensation is null.
	if result := deliver(compensation, saga, PhaseCompensation, 1); !result.OK() {
		t.Errorf("compensation of a failed action = %v", result)
	}
	if plus, minus := effects(t, pool, saga); plus != 0 || minus != 0 || calls != 1 || l.compensations != 0 {
		t.Errorf("effects %d/%d, action calls %d, compensation calls %d; want 0/0, 1, 0",
			plus, minus, calls, l.compensations)
	}
	if got := record(t, pool, saga, PhaseCompensation); got != "null_compensation/success" {
		t.Errorf("compensation record = %s", got)
	}
}

func TestPGBarrierActionThenCompensationRunsBoth(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	action, compensation := Barrier(pool, l.action), Barrier(pool, l.compensation)
	saga := newSaga(t)
	if result := deliver(action, saga, PhaseAction, 1); !result.OK() {
		t.Fatalf("action = %v", result)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if result := deliver(compensation, saga, PhaseCompensation, attempt); !result.OK() {
			t.Errorf("compensation %d = %v", attempt, result)
		}
	}
	if plus, minus := effects(t, pool, saga); plus != 1 || minus != 1 || l.compensations != 1 {
		t.Errorf("effects %d/%d, compensation calls %d; want 1/1, 1", plus, minus, l.compensations)
	}
}

func TestPGBarrierRetryablePanicAndInvalidOutputRecordNothing(t *testing.T) {
	pool := testPool(t)
	calls := int32(0)
	flaky := Barrier(pool, func(ctx context.Context, tx pgx.Tx, step *StepContext, _ json.RawMessage) StepResult {
		n := atomic.AddInt32(&calls, 1)
		if _, err := tx.Exec(ctx, "INSERT INTO test_ledger VALUES ($1, $2, 1)", step.SagaID, step.Step); err != nil {
			return Retryable("database_error", err.Error())
		}
		switch n {
		case 1:
			return Retryable("upstream_busy", "try again")
		case 2:
			panic("handler bug")
		case 3:
			return Success("not an object")
		case 4:
			if err := tx.Commit(ctx); !errors.Is(err, errBarrierOwnsTx) {
				return Success(map[string]string{"commit": fmt.Sprint(err)})
			}
		}
		return Success(map[string]int32{"call": n})
	})
	saga := newSaga(t)
	for attempt, want := range []string{"upstream_busy", "handler_exception", "invalid_output"} {
		result := deliver(flaky, saga, PhaseAction, attempt+1)
		if !result.IsRetryable() || result.ErrorCode() != want {
			t.Errorf("attempt %d = %v, want retryable %s", attempt+1, result, want)
		}
		if plus, _ := effects(t, pool, saga); plus != 0 {
			t.Errorf("attempt %d left %d effects", attempt+1, plus)
		}
		if got := record(t, pool, saga, PhaseAction); got != "none" {
			t.Errorf("attempt %d left record %s", attempt+1, got)
		}
	}
	if result := deliver(flaky, saga, PhaseAction, 4); !result.OK() || string(result.Output()) != `{"call":4}` {
		t.Errorf("attempt 4 = %v %s", result, result.Output())
	}
	if plus, _ := effects(t, pool, saga); plus != 1 {
		t.Errorf("%d effects, want 1", plus)
	}
}

func TestPGBarrierRollsBackAHandlerThatOutlivesTheDeadline(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	slow := Barrier(pool, func(ctx context.Context, tx pgx.Tx, step *StepContext, input json.RawMessage) StepResult {
		result := l.action(ctx, tx, step, input)
		if step.Attempt == 1 {
			time.Sleep(400 * time.Millisecond) // ignores ctx: outlives the 200 ms deadline
		}
		return result
	})
	saga := newSaga(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	result := slow(ctx, &StepContext{SagaID: saga, Step: "step", Phase: PhaseAction, Handler: "h", Attempt: 1},
		json.RawMessage("{}"))
	if !result.IsRetryable() || result.ErrorCode() != "deadline_exceeded" {
		t.Errorf("past the deadline = %v, want retryable deadline_exceeded", result)
	}
	if plus, _ := effects(t, pool, saga); plus != 0 || record(t, pool, saga, PhaseAction) != "none" {
		t.Errorf("past the deadline left %d effects and record %s", plus, record(t, pool, saga, PhaseAction))
	}
	if result := deliver(slow, saga, PhaseAction, 2); !result.OK() {
		t.Errorf("retry = %v", result)
	}
	if plus, _ := effects(t, pool, saga); plus != 1 || l.actions != 2 {
		t.Errorf("%d effects after %d calls, want 1 after 2", plus, l.actions)
	}
	// A call whose deadline has already passed never enters.
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancelExpired()
	if result := slow(expired, &StepContext{SagaID: newSaga(t), Step: "step", Phase: PhaseAction}, nil); result.ErrorCode() != "deadline_exceeded" {
		t.Errorf("an expired call = %v", result)
	}
}

func TestPGBarrierIsBusyWhileAnotherDeliveryHoldsTheStep(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	action := BarrierWithOptions(pool, l.action, BarrierOptions{LockWait: 200 * time.Millisecond})
	saga := newSaga(t)
	ctx := context.Background()
	holder, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, barrierLockSQL, "skald.barrier/"+saga+"/step"); err != nil {
		t.Fatal(err)
	}
	begun := time.Now()
	result := deliver(action, saga, PhaseAction, 1)
	if !result.IsRetryable() || result.ErrorCode() != "barrier_busy" {
		t.Errorf("while held = %v, want retryable barrier_busy", result)
	}
	if took := time.Since(begun); took > 3*time.Second {
		t.Errorf("waited %v, want about the 200 ms lock wait", took)
	}
	holder.Rollback(ctx)
	if result := deliver(action, saga, PhaseAction, 2); !result.OK() || l.actions != 1 {
		t.Errorf("after release = %v with %d handler calls", result, l.actions)
	}
}

func TestPGBarrierRetriesOnceWhenItsPooledConnectionDied(t *testing.T) {
	admin := testPool(t)
	ctx := context.Background()
	config, err := pgxpool.ParseConfig(testPG.url)
	if err != nil {
		t.Fatal(err)
	}
	config.MaxConns = 1
	pool, err := pgxpool.ConnectConfig(ctx, config)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pid int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// The pool's only connection dies while idle (as after a database restart).
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	l := &ledger{}
	saga := newSaga(t)
	if result := deliver(Barrier(pool, l.action), saga, PhaseAction, 1); !result.OK() {
		t.Errorf("after the connection died = %v, want success on a fresh connection", result)
	}
	if plus, _ := effects(t, admin, saga); plus != 1 {
		t.Errorf("%d effects, want 1", plus)
	}
}

func TestPGBarrierRefusesACallWithoutSagaOrStep(t *testing.T) {
	pool := testPool(t)
	action := Barrier(pool, (&ledger{}).action)
	result := action(context.Background(), &StepContext{Step: "step", Phase: PhaseAction}, nil)
	if result.Outcome() != OutcomeBusinessFailure || result.ErrorCode() != "invalid_input" {
		t.Errorf("no saga id = %v", result)
	}
}

// Concurrent duplicate deliveries over gRPC, as the coordinator's --test-duplicate-calls
// sends them: the effect is applied once and every reply is the first result.
func TestPGConcurrentDuplicateDeliveriesApplyTheEffectOnce(t *testing.T) {
	pool := testPool(t)
	l := &ledger{}
	s := NewServer()
	s.OnAction("add", Barrier(pool, l.action))
	client := startServer(t, s)
	saga := newSaga(t)
	const deliveries = 16
	var wg sync.WaitGroup
	replies := make(chan string, deliveries)
	for i := 0; i < deliveries; i++ {
		wg.Add(1)
		go func(attempt int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			reply, err := client.ExecuteAction(ctx, &pb.StepCall{SagaId: saga, Step: "step", Handler: "add",
				Phase: pb.Phase_PHASE_ACTION, Attempt: int32(attempt), IdempotencyKey: saga + "/step/action"})
			if err != nil {
				replies <- err.Error()
				return
			}
			replies <- reply.Outcome.String() + " " + reply.OutputJson + reply.ErrorCode
		}(i + 1)
	}
	wg.Wait()
	close(replies)
	seen := map[string]int{}
	for reply := range replies {
		seen[reply]++
	}
	if len(seen) != 1 {
		t.Errorf("replies differ: %v", seen)
	}
	for reply := range seen {
		if reply[:len("OUTCOME_SUCCESS")] != "OUTCOME_SUCCESS" {
			t.Errorf("reply %q, want success", reply)
		}
	}
	if plus, _ := effects(t, pool, saga); plus != 1 || l.actions != 1 {
		t.Errorf("%d effects after %d handler calls, want 1 and 1", plus, l.actions)
	}
}

// Actions and compensations of one step delivered at once, many times: whichever arrives
// first, the ledger ends consistent: either the action applied once and was undone once, or
// neither ran.
func TestPGConcurrentActionsAndCompensationsOfOneStepStayConsistent(t *testing.T) {
	pool := testPool(t)
	for round := 0; round < 5; round++ {
		l := &ledger{}
		action, compensation := Barrier(pool, l.action), Barrier(pool, l.compensation)
		saga := newSaga(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var outcomes []string
		for i := 0; i < 12; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				phase, handler := PhaseAction, action
				if i%2 == 1 {
					phase, handler = PhaseCompensation, compensation
				}
				result := deliver(handler, saga, phase, 1)
				mu.Lock()
				outcomes = append(outcomes, phase.String()+" "+result.String())
				mu.Unlock()
			}(i)
		}
		wg.Wait()
		sort.Strings(outcomes)
		plus, minus := effects(t, pool, saga)
		if plus != minus || plus > 1 || int(l.actions) != plus || int(l.compensations) != minus {
			t.Errorf("round %d: effects +%d/-%d after %d/%d handler calls; outcomes %v",
				round, plus, minus, l.actions, l.compensations, outcomes)
		}
		for _, outcome := range outcomes {
			if outcome != "action success" && outcome != "compensation success" &&
				outcome != "action business_failure compensated_before_action: "+
					fmt.Sprintf("step %q of saga %s was compensated before its action arrived; refused", "step", saga) {
				t.Errorf("round %d: outcome %q", round, outcome)
			}
		}
	}
}
