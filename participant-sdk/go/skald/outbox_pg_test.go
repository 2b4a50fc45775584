package skald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
)

// A coordinator's SagaService for the relay: StartSaga is idempotent by saga id like the real
// one; definition "unknown" is NOT_FOUND, "hang" waits for the caller's deadline, and while
// down every call is UNAVAILABLE.
type fakeStartSagaService struct {
	pb.UnimplementedSagaServiceServer
	mu      sync.Mutex
	sagas   map[string]int // saga id -> StartSaga calls that reached it
	calls   int
	created int
	down    bool
}

func (f *fakeStartSagaService) StartSaga(ctx context.Context, req *pb.StartSagaRequest) (*pb.StartSagaResponse, error) {
	f.mu.Lock()
	f.calls++
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, status.Error(codes.Unavailable, "coordinator down (test)")
	}
	switch req.Definition {
	case "unknown":
		return nil, status.Error(codes.NotFound, `no definition named "unknown" has been applied`)
	case "hang":
		<-ctx.Done()
		// The caller's own deadline has passed too, or is about to: either way the relay
		// records DEADLINE_EXCEEDED.
		return nil, status.Error(codes.DeadlineExceeded, "hung until the deadline (test)")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sagas[req.SagaId]++
	created := f.sagas[req.SagaId] == 1
	if created {
		f.created++
	}
	return &pb.StartSagaResponse{SagaId: req.SagaId, Created: created}, nil
}

func (f *fakeStartSagaService) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeStartSagaService) counts() (calls, created, sagas int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.created, len(f.sagas)
}

func startFakeCoordinator(t *testing.T) (*fakeStartSagaService, string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	service := &fakeStartSagaService{sagas: map[string]int{}}
	server := grpc.NewServer()
	pb.RegisterSagaServiceServer(server, service)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return service, listener.Addr().String()
}

// outboxPool is testPool with an empty outbox.
func outboxPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testPool(t)
	ctx := context.Background()
	if err := ApplyOutboxSchema(ctx, pool); err != nil {
		t.Fatalf("ApplyOutboxSchema: %v", err)
	}
	if err := ApplyOutboxSchema(ctx, pool); err != nil { // Idempotent.
		t.Fatalf("ApplyOutboxSchema again: %v", err)
	}
	if _, err := pool.Exec(ctx, "TRUNCATE skald.saga_outbox"); err != nil {
		t.Fatal(err)
	}
	return pool
}

func startRelay(t *testing.T, pool *pgxpool.Pool, address string, tune func(*OutboxRelayOptions)) *OutboxRelay {
	t.Helper()
	options := OutboxRelayOptions{Pool: pool, Coordinator: address, CallDeadline: 2 * time.Second,
		PollInterval: 500 * time.Millisecond, InitialBackoff: 50 * time.Millisecond,
		MaxBackoff: 400 * time.Millisecond, Log: func(m string) { t.Log(m) }}
	if tune != nil {
		tune(&options)
	}
	relay, err := StartOutboxRelay(options)
	if err != nil {
		t.Fatalf("StartOutboxRelay: %v", err)
	}
	t.Cleanup(relay.Stop)
	return relay
}

func commitStart(t *testing.T, pool *pgxpool.Pool, definition, sagaID string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StartSagaInTransaction(ctx, tx, definition, map[string]interface{}{"id": sagaID}, sagaID); err != nil {
		tx.Rollback(ctx)
		t.Fatalf("StartSagaInTransaction(%s): %v", sagaID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func outboxCount(t *testing.T, pool *pgxpool.Pool, where string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM skald.saga_outbox WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func eventually(t *testing.T, timeout time.Duration, what string, condition func() bool) {
	t.Helper()
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if condition() {
			return
		}
	}
	if !condition() {
		t.Fatalf("not within %v: %s", timeout, what)
	}
}

func TestOutboxPGRollbackLeavesNothingCommitStartsOnce(t *testing.T) {
	pool := outboxPool(t)
	fake, address := startFakeCoordinator(t)
	relay := startRelay(t, pool, address, nil)
	ctx := context.Background()

	tx, _ := pool.Begin(ctx)
	if _, err := StartSagaInTransaction(ctx, tx, "order", map[string]int{"n": 1}, "rolled-back"); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)

	tx, _ = pool.Begin(ctx)
	for i := 0; i < 2; i++ { // The same start twice: one row.
		if _, err := StartSagaInTransaction(ctx, tx, "order", json.RawMessage(`{"n":1}`), "committed"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := StartSagaInTransaction(ctx, tx, "order", json.RawMessage(`{"n":2}`), "committed"); !errors.Is(err, ErrOutboxConflict) {
		t.Fatalf("another request under the same saga id: got %v, want ErrOutboxConflict", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the committed start sent", func() bool {
		return outboxCount(t, pool, "state = 'sent'") == 1
	})
	time.Sleep(300 * time.Millisecond)
	calls, created, sagas := fake.counts()
	if calls != 1 || created != 1 || sagas != 1 {
		t.Errorf("calls %d, created %d, sagas %d; want 1 each", calls, created, sagas)
	}
	if fake.sagas["rolled-back"] != 0 {
		t.Error("the rolled-back start reached the coordinator")
	}
	if s := relay.Stats(); s.Sent != 1 || s.Created != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestOutboxPGTwoRelaysSendEachRowOnce(t *testing.T) {
	pool := outboxPool(t)
	fake, address := startFakeCoordinator(t)
	small := func(o *OutboxRelayOptions) { o.BatchSize = 4 }
	first := startRelay(t, pool, address, small)
	second := startRelay(t, pool, address, small)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				commitStart(t, pool, "order", fmt.Sprintf("two-%d-%d", w, i))
			}
		}(w)
	}
	wg.Wait()
	eventually(t, 60*time.Second, "200 rows sent", func() bool { return outboxCount(t, pool, "state = 'sent'") == 200 })
	calls, created, sagas := fake.counts()
	if calls != 200 || created != 200 || sagas != 200 {
		t.Errorf("calls %d, created %d, sagas %d; want 200 each (no row sent twice)", calls, created, sagas)
	}
	a, b := first.Stats(), second.Stats()
	if a.Sent+b.Sent != 200 {
		t.Errorf("sent %d + %d, want 200", a.Sent, b.Sent)
	}
}

func TestOutboxPGPermanentRefusalRecordedNotRetried(t *testing.T) {
	pool := outboxPool(t)
	fake, address := startFakeCoordinator(t)
	relay := startRelay(t, pool, address, nil)
	commitStart(t, pool, "unknown", "refused-1")
	commitStart(t, pool, "order", "fine-1")
	eventually(t, 10*time.Second, "refused and sent", func() bool {
		return outboxCount(t, pool, "state = 'refused'") == 1 && outboxCount(t, pool, "state = 'sent'") == 1
	})
	time.Sleep(1500 * time.Millisecond)
	if calls, _, _ := fake.counts(); calls != 2 {
		t.Errorf("StartSaga calls %d, want 2 (the refused start is not retried)", calls)
	}
	refused, err := ListRefusedStarts(context.Background(), pool, 100)
	if err != nil || len(refused) != 1 || refused[0].SagaID != "refused-1" || refused[0].ErrorCode != "NOT_FOUND" ||
		refused[0].Attempts != 1 {
		t.Fatalf("ListRefusedStarts: %+v, %v", refused, err)
	}
	if relay.Stats().Refused != 1 {
		t.Errorf("stats %+v", relay.Stats())
	}
	if err := RequeueRefusedStart(context.Background(), pool, "refused-1"); err != nil {
		t.Fatal(err)
	}
	if err := RequeueRefusedStart(context.Background(), pool, "refused-1"); !errors.Is(err, ErrNoRefusedStart) {
		t.Errorf("second requeue: %v", err)
	}
	eventually(t, 5*time.Second, "refused again after the requeue", func() bool {
		calls, _, _ := fake.counts()
		return calls == 3 && outboxCount(t, pool, "state = 'refused'") == 1
	})
}

func TestOutboxPGCoordinatorDownThenBackAndTheLag(t *testing.T) {
	pool := outboxPool(t)
	fake, address := startFakeCoordinator(t)
	relay := startRelay(t, pool, address, nil)
	fake.setDown(true)
	for i := 0; i < 5; i++ {
		commitStart(t, pool, "order", fmt.Sprintf("outage-%d", i))
	}
	eventually(t, 10*time.Second, "the lag rises", func() bool {
		s := relay.Stats()
		return s.Backlog.Pending == 5 && s.Backlog.OldestPendingAge >= 1500*time.Millisecond && s.TransientFailures > 0
	})
	if n := outboxCount(t, pool, "state = 'pending' AND error_code = 'UNAVAILABLE'"); n != 5 {
		t.Errorf("%d rows pending with UNAVAILABLE, want 5", n)
	}
	fake.setDown(false)
	eventually(t, 10*time.Second, "sent once the coordinator is back", func() bool {
		return outboxCount(t, pool, "state = 'sent'") == 5
	})
	eventually(t, 5*time.Second, "the lag falls", func() bool {
		s := relay.Stats()
		return s.Backlog.Pending == 0 && s.Backlog.OldestPendingAge == 0
	})
}

func TestOutboxPGHangingCallDoesNotStallOthers(t *testing.T) {
	pool := outboxPool(t)
	_, address := startFakeCoordinator(t)
	startRelay(t, pool, address, func(o *OutboxRelayOptions) {
		o.CallDeadline = 300 * time.Millisecond
		o.InitialBackoff, o.MaxBackoff = 5*time.Second, 5*time.Second
	})
	commitStart(t, pool, "hang", "hangs")
	start := time.Now()
	commitStart(t, pool, "order", "fine-a")
	commitStart(t, pool, "order", "fine-b")
	eventually(t, 5*time.Second, "the others sent", func() bool { return outboxCount(t, pool, "state = 'sent'") == 2 })
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("the others took %v", elapsed)
	}
	eventually(t, 5*time.Second, "the hanging one pending with DEADLINE_EXCEEDED", func() bool {
		return outboxCount(t, pool, "state = 'pending' AND error_code = 'DEADLINE_EXCEEDED'") == 1
	})
}

func TestOutboxPGRelayDeadMidSendLeavesNoRowBehind(t *testing.T) {
	pool := outboxPool(t)
	fake, address := startFakeCoordinator(t)
	commitStart(t, pool, "hang", "mid-send")
	startRelay(t, pool, address, func(o *OutboxRelayOptions) { o.CallDeadline = 3 * time.Second })
	eventually(t, 5*time.Second, "the call in flight", func() bool { calls, _, _ := fake.counts(); return calls == 1 })
	// What a killed relay leaves: its transaction ends with its connection. Ending that
	// connection's backend does the same without killing the test.
	if _, err := pool.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"+
		" WHERE query LIKE 'SELECT id, saga_id, definition%' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatal(err)
	}
	// The row is unclaimed at once, and another relay sends it (its definition fixed meanwhile)
	// while the first relay's call still hangs.
	if _, err := pool.Exec(context.Background(), "UPDATE skald.saga_outbox SET definition = 'order'"); err != nil {
		t.Fatal(err)
	}
	if n := outboxCount(t, pool, "state = 'pending' AND attempts = 0"); n != 1 {
		t.Fatalf("%d rows pending, never attempted; want 1", n)
	}
	startRelay(t, pool, address, nil)
	eventually(t, 2*time.Second, "sent by the other relay", func() bool {
		return outboxCount(t, pool, "state = 'sent'") == 1
	})
	if _, created, _ := fake.counts(); created != 1 {
		t.Errorf("created %d sagas, want 1", created)
	}
}

func TestOutboxPGHostileInput(t *testing.T) {
	pool := outboxPool(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	deep := map[string]interface{}{}
	for i := 0; i < 100; i++ {
		deep = map[string]interface{}{"d": deep}
	}
	cases := []struct {
		name, definition, sagaID string
		input                    interface{}
		options                  SagaStartOptions
	}{
		{"saga id with a space", "order", "bad id", map[string]int{}, SagaStartOptions{}},
		{"saga id with a leading dash", "order", "-x", map[string]int{}, SagaStartOptions{}},
		{"saga id too long", "order", strings.Repeat("a", 129), map[string]int{}, SagaStartOptions{}},
		{"saga id with NUL", "order", "a\x00b", map[string]int{}, SagaStartOptions{}},
		{"empty definition", "", "x1", map[string]int{}, SagaStartOptions{}},
		{"input an array", "order", "x2", []int{1}, SagaStartOptions{}},
		{"input not JSON", "order", "x3", json.RawMessage(`{"a":`), SagaStartOptions{}},
		{"input too large", "order", "x4", map[string]string{"pad": strings.Repeat("x", 1<<20)}, SagaStartOptions{}},
		{"input with NUL", "order", "x5", map[string]string{"nul": "a\x00b"}, SagaStartOptions{}},
		{"input invalid UTF-8", "order", "x6", json.RawMessage("{\"a\":\"\xff\"}"), SagaStartOptions{}},
		{"input too deep", "order", "x7", deep, SagaStartOptions{}},
		{"negative version", "order", "x8", map[string]int{}, SagaStartOptions{Version: -1}},
		{"callback not http", "order", "x9", map[string]int{}, SagaStartOptions{CallbackURL: "file:///etc/passwd"}},
	}
	for _, c := range cases {
		if _, err := StartSagaInTransaction(ctx, tx, c.definition, c.input, c.sagaID, c.options); !errors.Is(err, ErrOutboxInvalid) {
			t.Errorf("%s: got %v, want ErrOutboxInvalid", c.name, err)
		}
	}
	id, err := StartSagaInTransaction(ctx, tx, "order", map[string]int{}, "")
	if err != nil || !strings.HasPrefix(id, "outbox-") || len(id) != len("outbox-")+32 {
		t.Errorf("a generated saga id: %q, %v", id, err)
	}
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM skald.saga_outbox").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in the transaction: %d, %v; want only the valid start", n, err)
	}
	if _, err := StartOutboxRelay(OutboxRelayOptions{Pool: pool}); err == nil {
		t.Error("a relay without a coordinator was started")
	}
	if _, err := StartOutboxRelay(OutboxRelayOptions{Pool: pool, Coordinator: "x:1", BatchSize: 5000}); err == nil {
		t.Error("a relay with a batch of 5000 was started")
	}
}
