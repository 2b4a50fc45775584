package skald

import (
	"context"
	"encoding/json"
	"net"
	"sync"
	"testing"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// fakeRegistry is a coordinator's ParticipantRegistry that records what it is sent.
type fakeRegistry struct {
	pb.UnimplementedParticipantRegistryServer
	renewMs int32

	mu          sync.Mutex
	registers   []*pb.RegisterRequest
	tokens      []string
	deregisters []*pb.DeregisterRequest
}

func (f *fakeRegistry) Register(ctx context.Context, r *pb.RegisterRequest) (*pb.RegisterReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers = append(f.registers, r)
	md, _ := metadata.FromIncomingContext(ctx)
	f.tokens = append(f.tokens, append(md.Get("authorization"), "")[0])
	return &pb.RegisterReply{TtlMs: r.TtlMs, RenewIntervalMs: f.renewMs}, nil
}

func (f *fakeRegistry) Deregister(_ context.Context, r *pb.DeregisterRequest) (*pb.DeregisterReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deregisters = append(f.deregisters, r)
	return &pb.DeregisterReply{Removed: true}, nil
}

func (f *fakeRegistry) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.registers), len(f.deregisters)
}

// startRegistry serves registry on address ("127.0.0.1:0" for any port) and returns the
// address bound.
func startRegistry(t *testing.T, registry *fakeRegistry, address string) string {
	t.Helper()
	listener, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	server := grpc.NewServer()
	pb.RegisterParticipantRegistryServer(server, registry)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	return listener.Addr().String()
}

func waitFor(t *testing.T, what string, condition func() bool) {
	t.Helper()
	for limit := time.Now().Add(5 * time.Second); time.Now().Before(limit); time.Sleep(10 * time.Millisecond) {
		if condition() {
			return
		}
	}
	t.Fatalf("timed out after 5 s waiting for %s", what)
}

func noop(context.Context, *StepContext, json.RawMessage) StepResult { return Success(nil) }

func TestServerRegistersRenewsAndDeregistersOnShutdown(t *testing.T) {
	registry := &fakeRegistry{renewMs: 30}
	coordinator := startRegistry(t, registry, "127.0.0.1:0")
	s := NewServer()
	s.OnAction("reserve", noop)
	s.OnAction("charge", noop)
	s.OnCompensation("release", noop)
	if err := s.RegistrationStatus(); err == nil {
		t.Error("RegistrationStatus without RegisterWith is nil")
	}
	s.RegisterWith(RegistrationOptions{CoordinatorAddress: coordinator, Service: "inventory",
		TTL: 3 * time.Second, Token: "secret"})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := s.RegistrationStatus(); err != nil {
		t.Errorf("RegistrationStatus after Start = %v", err)
	}
	waitFor(t, "three renewals", func() bool { n, _ := registry.counts(); return n >= 4 })

	registry.mu.Lock()
	first := registry.registers[0]
	token := registry.tokens[0]
	registry.mu.Unlock()
	if first.Service != "inventory" || first.InstanceId != s.InstanceID() || first.Address != s.Address() ||
		first.TtlMs != 3000 || len(first.Actions) != 2 || first.Actions[0] != "charge" ||
		len(first.Compensations) != 1 || first.Compensations[0] != "release" {
		t.Errorf("Register = %v", first)
	}
	if token != "Bearer secret" {
		t.Errorf("authorization metadata = %q", token)
	}

	s.Shutdown(time.Second)
	registers, deregisters := registry.counts()
	if deregisters != 1 {
		t.Fatalf("%d Deregister calls on Shutdown, want 1", deregisters)
	}
	registry.mu.Lock()
	if d := registry.deregisters[0]; d.Service != "inventory" || d.InstanceId != s.InstanceID() {
		t.Errorf("Deregister = %v", d)
	}
	registry.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if after, _ := registry.counts(); after != registers {
		t.Errorf("%d Register calls after Shutdown", after-registers)
	}
	if err := s.RegistrationStatus(); err == nil {
		t.Error("RegistrationStatus after Shutdown is nil")
	}
}

func TestServerStartsWithoutACoordinatorAndRegistersOnceItIsUp(t *testing.T) {
	// A free port with nobody on it yet.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	coordinator := probe.Addr().String()
	probe.Close()

	s := NewServer()
	s.OnAction("reserve", noop)
	s.RegisterWith(RegistrationOptions{CoordinatorAddress: coordinator, Service: "inventory"})
	begun := time.Now()
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Shutdown(time.Second)
	if took := time.Since(begun); took > 3*time.Second {
		t.Errorf("Start took %v with no coordinator, want at most the 2 s Register deadline", took)
	}
	if err := s.RegistrationStatus(); err == nil {
		t.Fatal("RegistrationStatus is nil with no coordinator")
	}
	registry := &fakeRegistry{}
	startRegistry(t, registry, coordinator)
	waitFor(t, "the retried Register", func() bool { return s.RegistrationStatus() == nil })
}

func TestRenewInterval(t *testing.T) {
	for _, c := range []struct {
		reply     *pb.RegisterReply
		requested time.Duration
		want      time.Duration
	}{
		{&pb.RegisterReply{TtlMs: 9000, RenewIntervalMs: 1000}, 0, time.Second},
		{&pb.RegisterReply{TtlMs: 9000}, 0, 3 * time.Second},
		{&pb.RegisterReply{}, 6 * time.Second, 2 * time.Second},
		{&pb.RegisterReply{}, 0, defaultTTL / 3},
		{&pb.RegisterReply{RenewIntervalMs: 1}, 0, 10 * time.Millisecond},
	} {
		if got := renewInterval(c.reply, c.requested); got != c.want {
			t.Errorf("renewInterval(%v, %v) = %v, want %v", c.reply, c.requested, got, c.want)
		}
	}
}

func TestAdvertiseAddressAndInstanceID(t *testing.T) {
	if got := defaultAdvertiseAddress("127.0.0.1:7000"); got != "127.0.0.1:7000" {
		t.Errorf("loopback: %s", got)
	}
	if got := defaultAdvertiseAddress("0.0.0.0:7000"); got != net.JoinHostPort(hostName(), "7000") {
		t.Errorf("wildcard: %s", got)
	}
	if a, b := newInstanceID(), newInstanceID(); a == b {
		t.Errorf("two instance ids are both %s", a)
	}
}

func TestRegistrationCarriesOnWhenOneCoordinatorOfTheListDies(t *testing.T) {
	first, second := &fakeRegistry{renewMs: 20}, &fakeRegistry{renewMs: 20}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dying := grpc.NewServer()
	pb.RegisterParticipantRegistryServer(dying, first)
	go dying.Serve(listener)
	defer dying.Stop()
	list := listener.Addr().String() + ", " + startRegistry(t, second, "127.0.0.1:0")

	s := NewServer()
	s.OnAction("reserve", noop)
	s.RegisterWith(RegistrationOptions{CoordinatorAddress: list, Service: "inventory"})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Shutdown(time.Second)
	waitFor(t, "renewals reaching both coordinators", func() bool {
		a, _ := first.counts()
		b, _ := second.counts()
		return a >= 2 && b >= 2
	})
	dying.Stop()
	before, _ := second.counts()
	waitFor(t, "renewals going on with the survivor", func() bool {
		n, _ := second.counts()
		return n >= before+10
	})
	if err := s.RegistrationStatus(); err != nil {
		t.Errorf("RegistrationStatus with one coordinator of two left = %v", err)
	}
}

func TestCoordinatorTargetRefusesABadList(t *testing.T) {
	for _, list := range []string{"", "a:1,,b:2", "a:1,b", "a:1,:2"} {
		if _, _, err := coordinatorTarget(list); err == nil {
			t.Errorf("coordinatorTarget(%q) accepted", list)
		}
	}
	if target, _, err := coordinatorTarget("a:1, b:2"); err != nil || target != coordinatorScheme+":///a:1" {
		t.Errorf("coordinatorTarget(a:1, b:2) = %q, %v", target, err)
	}
}
