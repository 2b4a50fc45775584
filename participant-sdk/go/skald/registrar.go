package skald

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// registration is what an instance registers.
type registration struct {
	service       string
	instanceID    string
	address       string
	actions       []string
	compensations []string
	ttl           time.Duration // zero: the coordinator's default
	token         string        // sent as "authorization: Bearer <token>" when set
}

// registrarTiming is the registrar's timing; defaultRegistrarTiming is what Server documents.
type registrarTiming struct {
	registerDeadline   time.Duration // bounds each Register call, the first one included
	deregisterDeadline time.Duration // bounds the Deregister call made by stop
	initialBackoff     time.Duration // the wait after a failed Register, doubled up to maxBackoff
	maxBackoff         time.Duration
}

var defaultRegistrarTiming = registrarTiming{
	registerDeadline:   2 * time.Second,
	deregisterDeadline: time.Second,
	initialBackoff:     200 * time.Millisecond,
	maxBackoff:         2 * time.Second,
}

const (
	defaultTTL       = 10 * time.Second
	minRenewInterval = 10 * time.Millisecond
)

// renewInterval returns the time to wait before renewing a registration granted with reply:
// its renew_interval_ms; else a third of its ttl_ms; else a third of requestedTTL; else a
// third of ten seconds. Never less than 10 ms.
func renewInterval(reply *pb.RegisterReply, requestedTTL time.Duration) time.Duration {
	var interval time.Duration
	switch {
	case reply.GetRenewIntervalMs() > 0:
		interval = time.Duration(reply.GetRenewIntervalMs()) * time.Millisecond
	case reply.GetTtlMs() > 0:
		interval = time.Duration(reply.GetTtlMs()) * time.Millisecond / 3
	case requestedTTL > 0:
		interval = requestedTTL / 3
	default:
		interval = defaultTTL / 3
	}
	if interval < minRenewInterval {
		return minRenewInterval
	}
	return interval
}

func hostName() string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		return "localhost"
	}
	return name
}

// newInstanceID returns an id unique per call: "<host name>/<process id>/<8 random hex digits>".
func newInstanceID() string {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		binaryNow := time.Now().UnixNano()
		suffix = []byte{byte(binaryNow), byte(binaryNow >> 8), byte(binaryNow >> 16), byte(binaryNow >> 24)}
	}
	return fmt.Sprintf("%s/%d/%s", hostName(), os.Getpid(), hex.EncodeToString(suffix))
}

// defaultAdvertiseAddress returns the address to advertise for a server bound to
// boundAddress ("host:port"): boundAddress itself, except that a wildcard host (empty,
// "0.0.0.0", "::"), which names no machine to a caller elsewhere, becomes this machine's
// host name.
func defaultAdvertiseAddress(boundAddress string) string {
	host, port, err := net.SplitHostPort(boundAddress)
	if err != nil {
		return boundAddress
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		return net.JoinHostPort(hostName(), port)
	}
	return boundAddress
}

// registrar keeps one instance registered with a coordinator's ParticipantRegistry: it
// registers, retries with backoff while the coordinator cannot be reached, renews before the
// registration expires, and deregisters when stopped (registrar.cc in the C++ SDK).
type registrar struct {
	coordinator  string
	registration registration
	timing       registrarTiming
	conn         *grpc.ClientConn
	client       pb.ParticipantRegistryClient

	ctx    context.Context // cancelled by stop: ends the loop and a Register in flight
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has ended

	mu       sync.Mutex
	started  bool
	stopping bool
	sent     bool           // a Register was sent
	inFlight sync.WaitGroup // Registers being sent; added to under mu while !stopping
	status   error          // the last Register's outcome; guarded by mu
}

// newRegistrar returns a registrar dialling coordinator, one address or a list "a,b,c"
// (coordinatorTarget; lazily: dialling never fails here for an unreachable coordinator) with
// the given dial options (TLS or plaintext).
func newRegistrar(coordinator string, reg registration, timing registrarTiming,
	dialOptions ...grpc.DialOption) (*registrar, error) {
	// Reconnect within maxBackoff of the coordinator coming back: gRPC's own reconnect
	// backoff (up to two minutes) would otherwise fail every Register fast long after.
	target, listOptions, err := coordinatorTarget(coordinator)
	if err != nil {
		return nil, err
	}
	options := append([]grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{BaseDelay: timing.initialBackoff, Multiplier: 2,
			Jitter: 0.2, MaxDelay: timing.maxBackoff},
		MinConnectTimeout: timing.registerDeadline,
	})}, listOptions...)
	options = append(options, dialOptions...)
	conn, err := grpc.Dial(target, options...)
	if err != nil {
		return nil, fmt.Errorf("dialling the coordinator at %s: %w", coordinator, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &registrar{
		coordinator:  coordinator,
		registration: reg,
		timing:       timing,
		conn:         conn,
		client:       pb.NewParticipantRegistryClient(conn),
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
		status:       status.Error(codes.FailedPrecondition, "not registered yet"),
	}, nil
}

// start sends the first Register, waiting for its reply at most timing.registerDeadline, then
// starts the goroutine that renews the registration (or retries it with backoff until it
// succeeds). Returns the first Register's outcome. REQUIRES: called at most once.
func (r *registrar) start() error {
	backoff := r.timing.initialBackoff
	wait, err := r.registerOnce()
	if err != nil {
		wait = backoff
		backoff = minDuration(2*backoff, r.timing.maxBackoff)
	}
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return err
	}
	r.started = true
	r.mu.Unlock()
	go r.run(wait, backoff)
	return err
}

// stop ends the goroutine, cancelling a Register in flight, then, if any Register was sent,
// sends Deregister (at most timing.deregisterDeadline; a failure is ignored: the registration
// then expires by itself). Returns once the goroutine has ended. Later calls do nothing.
func (r *registrar) stop() {
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return
	}
	r.stopping = true
	started := r.started
	r.mu.Unlock()
	r.cancel()
	// A Register in flight (e.g. start()'s, concurrently with this call) must be over before
	// Deregister is sent, or the registration could outlive it. Its deadline bounds the wait.
	r.inFlight.Wait()
	if started {
		<-r.done
	}
	r.mu.Lock()
	sent := r.sent
	r.mu.Unlock()
	outcome := "never registered"
	if sent {
		outcome = r.deregisterOnce()
	}
	r.conn.Close()
	r.mu.Lock()
	r.status = status.Errorf(codes.FailedPrecondition, "stopped (%s): %s", outcome, r.describe())
	r.mu.Unlock()
}

// lastStatus returns nil when the last Register succeeded, its error otherwise (a gRPC status
// error naming the service, instance and coordinator); FailedPrecondition before the first
// Register and after stop.
func (r *registrar) lastStatus() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

func (r *registrar) outgoing(ctx context.Context) context.Context {
	if r.registration.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+r.registration.token)
}

// registerOnce sends one Register and returns the renew interval, or the call's error.
// Records the outcome unless stop cancelled the call.
func (r *registrar) registerOnce() (time.Duration, error) {
	reg := r.registration
	ttlMs := reg.ttl.Milliseconds()
	if ttlMs > math.MaxInt32 {
		ttlMs = math.MaxInt32
	}
	request := &pb.RegisterRequest{
		Service: reg.service, InstanceId: reg.instanceID, Address: reg.address,
		Actions: reg.actions, Compensations: reg.compensations, TtlMs: int32(ttlMs),
	}
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return 0, status.Error(codes.Canceled, "stopped")
	}
	r.sent = true
	r.inFlight.Add(1)
	r.mu.Unlock()
	defer r.inFlight.Done()
	ctx, cancel := context.WithTimeout(r.outgoing(r.ctx), r.timing.registerDeadline)
	reply, err := r.client.Register(ctx, request)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return 0, status.Error(codes.Canceled, "stopped")
	}
	if err != nil {
		r.status = status.Errorf(status.Code(err), "registering %s: %s", r.describe(),
			status.Convert(err).Message())
		return 0, r.status
	}
	r.status = nil
	return renewInterval(reply, reg.ttl), nil
}

func (r *registrar) deregisterOnce() string {
	ctx, cancel := context.WithTimeout(r.outgoing(context.Background()), r.timing.deregisterDeadline)
	defer cancel()
	reply, err := r.client.Deregister(ctx, &pb.DeregisterRequest{
		Service: r.registration.service, InstanceId: r.registration.instanceID})
	if err != nil {
		return "deregistering failed, the registration expires by itself: " +
			status.Convert(err).Message()
	}
	if !reply.GetRemoved() {
		return "deregistered; the registration had already expired"
	}
	return "deregistered"
}

// run waits (interruptibly) and registers, until stop.
func (r *registrar) run(wait, backoff time.Duration) {
	defer close(r.done)
	for {
		timer := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		renew, err := r.registerOnce()
		if err == nil {
			wait = renew
			backoff = r.timing.initialBackoff
		} else {
			// A failed renewal is retried sooner than the renew interval: the registration may
			// be about to expire.
			wait = backoff
			backoff = minDuration(2*backoff, r.timing.maxBackoff)
		}
	}
}

func (r *registrar) describe() string {
	return fmt.Sprintf("instance %s of service %q at %s with the coordinator at %s",
		r.registration.instanceID, r.registration.service, r.registration.address, r.coordinator)
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
