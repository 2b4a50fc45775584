package skald

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startServer starts s on 127.0.0.1:0 and returns a client dialled to it; both are stopped
// when the test ends.
func startServer(t *testing.T, s *Server) pb.ParticipantClient {
	t.Helper()
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(time.Second) })
	return pb.NewParticipantClient(dial(t, s.Address()))
}

func dial(t *testing.T, address string, options ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(options) == 0 {
		options = []grpc.DialOption{grpc.WithInsecure()}
	}
	conn, err := grpc.Dial(address, options...)
	if err != nil {
		t.Fatalf("dial %s: %v", address, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestServerPassesTheStepContextAndInputToTheHandler(t *testing.T) {
	s := NewServer()
	var seen StepContext
	var seenInput string
	var deadlineLeft time.Duration
	s.OnAction("charge", func(ctx context.Context, step *StepContext, input json.RawMessage) StepResult {
		seen, seenInput = *step, string(input)
		deadline, ok := ctx.Deadline()
		if ok {
			deadlineLeft = time.Until(deadline)
		}
		return Success(map[string]string{"charge_id": "c-1"})
	})
	client := startServer(t, s)
	ctx := metadata.AppendToOutgoingContext(callCtx(t), "traceparent", "00-from-metadata-01")
	reply, err := client.ExecuteAction(ctx, &pb.StepCall{SagaId: "saga-1", Step: "charge-payment",
		Phase: pb.Phase_PHASE_ACTION, Handler: "charge", Attempt: 3, IdempotencyKey: "key-1",
		InputJson: `{"amount": 5}`})
	if err != nil {
		t.Fatalf("ExecuteAction: %v", err)
	}
	if reply.Outcome != pb.Outcome_OUTCOME_SUCCESS || reply.OutputJson != `{"charge_id":"c-1"}` {
		t.Errorf("reply = %v", reply)
	}
	want := StepContext{SagaID: "saga-1", Step: "charge-payment", Phase: PhaseAction, Handler: "charge",
		Attempt: 3, IdempotencyKey: "key-1", Traceparent: "00-from-metadata-01"}
	if seen.SagaID != want.SagaID || seen.Step != want.Step || seen.Phase != want.Phase ||
		seen.Handler != want.Handler || seen.Attempt != want.Attempt ||
		seen.IdempotencyKey != want.IdempotencyKey || seen.Traceparent != want.Traceparent ||
		seen.ActionOutput != nil {
		t.Errorf("step context = %+v, want %+v", seen, want)
	}
	if seenInput != `{"amount": 5}` {
		t.Errorf("input = %s", seenInput)
	}
	if deadlineLeft <= 0 || deadlineLeft > 5*time.Second {
		t.Errorf("handler's deadline is %v away, want the call's (at most 5 s)", deadlineLeft)
	}
}

func TestServerPrefersTheCallsTraceparentAndPassesActionOutput(t *testing.T) {
	s := NewServer()
	var seen StepContext
	s.OnCompensation("refund", func(ctx context.Context, step *StepContext, input json.RawMessage) StepResult {
		seen = *step
		return Success(nil)
	})
	client := startServer(t, s)
	ctx := metadata.AppendToOutgoingContext(callCtx(t), "traceparent", "00-from-metadata-01")
	reply, err := client.ExecuteCompensation(ctx, &pb.StepCall{SagaId: "s", Step: "p", Handler: "refund",
		Traceparent: "00-from-field-01", ActionOutputJson: `{"charge_id":"c-1"}`})
	if err != nil || reply.Outcome != pb.Outcome_OUTCOME_SUCCESS || reply.OutputJson != "{}" {
		t.Fatalf("ExecuteCompensation = %v, %v", reply, err)
	}
	if seen.Traceparent != "00-from-field-01" || string(seen.ActionOutput) != `{"charge_id":"c-1"}` ||
		seen.Phase != PhaseCompensation {
		t.Errorf("step context = %+v", seen)
	}
}

func TestServerRepliesEachOutcome(t *testing.T) {
	s := NewServer()
	s.OnAction("declined", func(context.Context, *StepContext, json.RawMessage) StepResult {
		return BusinessFailure("card_declined", "over the limit")
	})
	s.OnAction("unnamed", func(context.Context, *StepContext, json.RawMessage) StepResult {
		return BusinessFailure("", "no code")
	})
	s.OnAction("busy", func(context.Context, *StepContext, json.RawMessage) StepResult {
		return Retryable("database_unavailable", "try later")
	})
	s.OnAction("panics", func(context.Context, *StepContext, json.RawMessage) StepResult {
		panic("boom")
	})
	s.OnAction("array", func(context.Context, *StepContext, json.RawMessage) StepResult {
		return Success([]int{1, 2})
	})
	s.OnAction("zero", func(context.Context, *StepContext, json.RawMessage) StepResult {
		return StepResult{}
	})
	client := startServer(t, s)
	for _, c := range []struct {
		handler, input string
		outcome        pb.Outcome
		code           string
	}{
		{"declined", "", pb.Outcome_OUTCOME_BUSINESS_FAILURE, "card_declined"},
		{"unnamed", "", pb.Outcome_OUTCOME_BUSINESS_FAILURE, "business_failure"},
		{"busy", "", pb.Outcome_OUTCOME_RETRYABLE_ERROR, "database_unavailable"},
		{"panics", "", pb.Outcome_OUTCOME_RETRYABLE_ERROR, "handler_exception"},
		{"array", "", pb.Outcome_OUTCOME_RETRYABLE_ERROR, "invalid_output"},
		{"zero", "", pb.Outcome_OUTCOME_RETRYABLE_ERROR, "invalid_output"},
		{"declined", "{not json", pb.Outcome_OUTCOME_BUSINESS_FAILURE, "invalid_input"},
		{"declined", "[1]", pb.Outcome_OUTCOME_BUSINESS_FAILURE, "invalid_input"},
	} {
		reply, err := client.ExecuteAction(callCtx(t), &pb.StepCall{SagaId: "s", Step: "p",
			Handler: c.handler, InputJson: c.input})
		if err != nil {
			t.Errorf("%s with input %q: %v", c.handler, c.input, err)
			continue
		}
		if reply.Outcome != c.outcome || reply.ErrorCode != c.code {
			t.Errorf("%s with input %q: reply %v, want %v %s", c.handler, c.input, reply, c.outcome, c.code)
		}
	}
}

func TestServerRefusesAWrongPhaseAndAnUnknownHandler(t *testing.T) {
	s := NewServer()
	s.OnAction("charge", func(context.Context, *StepContext, json.RawMessage) StepResult { return Success(nil) })
	client := startServer(t, s)
	_, err := client.ExecuteAction(callCtx(t), &pb.StepCall{Handler: "charge", Phase: pb.Phase_PHASE_COMPENSATION})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("wrong phase: %v, want InvalidArgument", err)
	}
	_, err = client.ExecuteCompensation(callCtx(t), &pb.StepCall{Handler: "charge"})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), `"charge"`) {
		t.Errorf("no compensation handler: %v, want Unimplemented naming it", err)
	}
}

func TestDispatcherDoesNotCallAHandlerAfterTheDeadline(t *testing.T) {
	d := newDispatcher()
	called := false
	d.register(PhaseAction, "charge", func(context.Context, *StepContext, json.RawMessage) StepResult {
		called = true
		return Success(nil)
	})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Millisecond))
	defer cancel()
	_, err := d.dispatch(ctx, PhaseAction, &pb.StepCall{Handler: "charge"}, "")
	if status.Code(err) != codes.DeadlineExceeded || called {
		t.Errorf("dispatch after the deadline = %v (handler called: %v), want DeadlineExceeded", err, called)
	}
}

func TestShutdownWaitsForCallsInFlightThenCancelsThemAfterGrace(t *testing.T) {
	s := NewServer()
	started := make(chan struct{}, 2)
	var finished int32
	s.OnAction("slow", func(ctx context.Context, step *StepContext, _ json.RawMessage) StepResult {
		started <- struct{}{}
		if step.SagaID == "quick" {
			time.Sleep(200 * time.Millisecond)
		} else {
			<-ctx.Done() // only the grace's end frees it
		}
		atomic.AddInt32(&finished, 1)
		return Success(nil)
	})
	client := startServer(t, s)
	replies := make(chan error, 2)
	for _, saga := range []string{"quick", "stuck"} {
		saga := saga
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.ExecuteAction(ctx, &pb.StepCall{SagaId: saga, Handler: "slow"})
			replies <- err
		}()
	}
	<-started
	<-started
	begun := time.Now()
	s.Shutdown(500 * time.Millisecond)
	if took := time.Since(begun); took < 400*time.Millisecond || took > 5*time.Second {
		t.Errorf("Shutdown took %v, want about the 500 ms grace", took)
	}
	if atomic.LoadInt32(&finished) != 2 {
		t.Errorf("Shutdown returned with %d of 2 handlers finished", finished)
	}
	quickOrStuck := []error{<-replies, <-replies}
	ok := 0
	for _, err := range quickOrStuck {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("replies %v: want the quick call answered and the stuck one cancelled", quickOrStuck)
	}
	s.Shutdown(time.Second) // a second call returns at once
	s.Wait()
}

func TestStartRefusesAnAddressWithoutPortAndASecondStart(t *testing.T) {
	if err := NewServer().Start("127.0.0.1"); err == nil {
		t.Error("Start without a port succeeded")
	}
	s := NewServer()
	startServer(t, s)
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("a second Start succeeded")
	}
	other := NewServer()
	if err := other.Start(s.Address()); err == nil {
		other.Shutdown(0)
		t.Errorf("a second server bound the port in use %s", s.Address())
	}
}
