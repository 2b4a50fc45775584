package skald

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// fakeSagaService records CompleteStep and Heartbeat requests and answers each with the next
// scripted error (nil once the script is used up); the Completer is what is under test.
type fakeSagaService struct {
	pb.UnimplementedSagaServiceServer
	mu            sync.Mutex
	script        []error
	stall         time.Duration
	requests      int
	authorization string
	completions   []*pb.CompleteStepRequest
	heartbeats    []*pb.HeartbeatRequest
}

func (f *fakeSagaService) answer(ctx context.Context) error {
	f.mu.Lock()
	f.requests++
	f.authorization = ""
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("authorization")) > 0 {
		f.authorization = md.Get("authorization")[0]
	}
	var err error
	if len(f.script) > 0 {
		err, f.script = f.script[0], f.script[1:]
	}
	stall := f.stall
	f.mu.Unlock()
	select {
	case <-time.After(stall):
	case <-ctx.Done():
		// Whichever side notices the deadline first, the try fails.
		return status.Error(codes.DeadlineExceeded, "the fake coordinator stalled")
	}
	return err
}

func (f *fakeSagaService) CompleteStep(ctx context.Context, request *pb.CompleteStepRequest) (*pb.CompleteStepResponse, error) {
	err := f.answer(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completions = append(f.completions, request)
	if err != nil {
		return nil, err
	}
	return &pb.CompleteStepResponse{SagaId: "saga-1", Step: "approve", AlreadyCompleted: len(f.completions) > 1}, nil
}

func (f *fakeSagaService) Heartbeat(ctx context.Context, request *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	err := f.answer(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heartbeats = append(f.heartbeats, request)
	if err != nil {
		return nil, err
	}
	return &pb.HeartbeatResponse{HeartbeatDeadline: "2030-01-02T03:04:05Z"}, nil
}

func (f *fakeSagaService) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// startFakeSagaService serves fake on 127.0.0.1:0 until the test ends; returns its address.
func startFakeSagaService(t *testing.T, fake *fakeSagaService) (string, *grpc.Server) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	pb.RegisterSagaServiceServer(server, fake)
	go server.Serve(listener) //nolint:errcheck // ends with Stop
	t.Cleanup(server.Stop)
	return listener.Addr().String(), server
}

func newTestCompleter(t *testing.T, address string, total time.Duration, token string) *Completer {
	t.Helper()
	completer, err := NewCompleter(CompleterOptions{Address: address, Token: token, TryTimeout: time.Second,
		TotalTimeout: total, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { completer.Close() })
	return completer
}

func TestCompleterSendsEachResultAndTheToken(t *testing.T) {
	fake := &fakeSagaService{}
	address, _ := startFakeSagaService(t, fake)
	completer := newTestCompleter(t, address, 5*time.Second, "secret")
	ctx := context.Background()
	receipt, err := completer.Complete(ctx, "tok-1", map[string]string{"charge_id": "c-7"})
	if err != nil || receipt.SagaID != "saga-1" || receipt.Step != "approve" || receipt.AlreadyCompleted {
		t.Fatalf("Complete = %+v, %v", receipt, err)
	}
	if _, err := completer.Fail(ctx, "tok-2", "", "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := completer.Retry(ctx, "tok-3", "provider_down", "later"); err != nil {
		t.Fatal(err)
	}
	next, err := completer.Heartbeat(ctx, "tok-1", map[string]float64{"progress": 0.5})
	if err != nil || next.Unix() != 1893553445 {
		t.Errorf("Heartbeat = %v, %v", next, err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.completions) != 3 {
		t.Fatalf("%d completions", len(fake.completions))
	}
	first, second, third := fake.completions[0], fake.completions[1], fake.completions[2]
	if first.CompletionToken != "tok-1" || first.Result.Outcome != pb.Outcome_OUTCOME_SUCCESS ||
		first.Result.OutputJson != `{"charge_id":"c-7"}` {
		t.Errorf("Complete sent %v", first)
	}
	if second.Result.Outcome != pb.Outcome_OUTCOME_BUSINESS_FAILURE || second.Result.ErrorCode != "business_failure" {
		t.Errorf("Fail sent %v", second)
	}
	if third.Result.Outcome != pb.Outcome_OUTCOME_RETRYABLE_ERROR || third.Result.ErrorCode != "provider_down" {
		t.Errorf("Retry sent %v", third)
	}
	if len(fake.heartbeats) != 1 || fake.heartbeats[0].DetailsJson != `{"progress":0.5}` {
		t.Errorf("heartbeats = %v", fake.heartbeats)
	}
	if fake.authorization != "Bearer secret" {
		t.Errorf("authorization = %q", fake.authorization)
	}
}

func TestCompleterReturnsARefusalAtOnceWithTheCoordinatorsCodeAndMessage(t *testing.T) {
	fake := &fakeSagaService{script: []error{
		status.Error(codes.FailedPrecondition, "the token is for attempt 1; step \"approve\" is at attempt 2")}}
	address, _ := startFakeSagaService(t, fake)
	completer := newTestCompleter(t, address, 5*time.Second, "")
	_, err := completer.Complete(context.Background(), "tok-1", nil)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "is at attempt 2") {
		t.Errorf("Complete = %v, want FailedPrecondition with the coordinator's message", err)
	}
	if fake.count() != 1 {
		t.Errorf("%d requests, want 1", fake.count())
	}
}

func TestCompleterRetriesTransientFailuresUntilOneSucceeds(t *testing.T) {
	fake := &fakeSagaService{script: []error{status.Error(codes.Unavailable, "restarting"),
		status.Error(codes.ResourceExhausted, "busy"), status.Error(codes.Aborted, "race")}}
	address, _ := startFakeSagaService(t, fake)
	completer := newTestCompleter(t, address, 5*time.Second, "")
	if _, err := completer.Complete(context.Background(), "tok-1", json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatalf("Complete = %v", err)
	}
	if fake.count() != 4 {
		t.Errorf("%d requests, want 4", fake.count())
	}
}

func TestCompleterStopsRetryingAtTheTotalTimeout(t *testing.T) {
	script := make([]error, 1000)
	for i := range script {
		script[i] = status.Error(codes.Unavailable, "coordinator restarting")
	}
	fake := &fakeSagaService{script: script}
	address, _ := startFakeSagaService(t, fake)
	completer := newTestCompleter(t, address, 300*time.Millisecond, "")
	start := time.Now()
	_, err := completer.Fail(context.Background(), "tok-1", "x", "y")
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "coordinator restarting") {
		t.Errorf("Fail = %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
	if n := fake.count(); n < 3 || n > 12 {
		t.Errorf("%d requests in 300 ms, want a few", n)
	}
}

func TestCompleterBoundsASilentCoordinator(t *testing.T) {
	fake := &fakeSagaService{stall: 10 * time.Second}
	address, _ := startFakeSagaService(t, fake)
	completer, err := NewCompleter(CompleterOptions{Address: address, TryTimeout: 100 * time.Millisecond,
		TotalTimeout: 350 * time.Millisecond, InitialBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer completer.Close()
	start := time.Now()
	_, err = completer.Heartbeat(context.Background(), "tok-1", nil)
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Heartbeat = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v", took)
	}
	if fake.count() < 2 {
		t.Errorf("%d tries, want at least 2", fake.count())
	}
}

func TestCompleterRefusesBadArgumentsBeforeSending(t *testing.T) {
	fake := &fakeSagaService{}
	address, _ := startFakeSagaService(t, fake)
	completer := newTestCompleter(t, address, time.Second, "")
	ctx := context.Background()
	for name, err := range map[string]error{
		"empty token":  func() error { _, err := completer.Complete(ctx, "", nil); return err }(),
		"array output": func() error { _, err := completer.Complete(ctx, "t", []int{1}); return err }(),
		"long token": func() error {
			_, err := completer.Retry(ctx, strings.Repeat("t", MaxCompletionTokenLength+1), "", "")
			return err
		}(),
		"number details": func() error { _, err := completer.Heartbeat(ctx, "t", 42); return err }(),
	} {
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if fake.count() != 0 {
		t.Errorf("%d requests sent", fake.count())
	}
	if _, err := NewCompleter(CompleterOptions{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("NewCompleter without address = %v", err)
	}
}
