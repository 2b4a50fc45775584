package skald

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TLSOptions are the PEM files for serving the Participant service over TLS; see ServeTLS.
type TLSOptions struct {
	// This server's certificate (chain) and private key. Required.
	CertFile string
	KeyFile  string
	// Set: every caller must present a certificate signed by this CA (mutual TLS), or the
	// handshake fails. Empty: callers are not asked for a certificate.
	ClientCAFile string
}

// CoordinatorTLS are the PEM files for the channel to the coordinator; all empty: plaintext.
type CoordinatorTLS struct {
	// The CA the coordinator's certificate is checked against (it must also name the host of
	// CoordinatorAddress). Empty with CertFile set: the system's CA bundle.
	CAFile string
	// This instance's client certificate and key, for a coordinator requiring mutual TLS.
	CertFile string
	KeyFile  string
}

func (t CoordinatorTLS) enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// RegistrationOptions say where and as what this instance registers; see RegisterWith.
type RegistrationOptions struct {
	// "host:port" of any coordinator of the cluster (they share the registry). Required.
	CoordinatorAddress string
	// The service this instance belongs to, e.g. "inventory": the name definitions give in a
	// step's `service`. Required.
	Service string
	// "host:port" the coordinator calls this instance on. Empty: Address(), except that a
	// wildcard host ("0.0.0.0", "::" or none) is replaced by this machine's host name.
	AdvertiseAddress string
	// How long the registration lasts without renewal: the coordinator ejects an instance that
	// stops renewing (e.g. killed) after this long, clamped to [1 s, 5 min]. Zero: 10 s, as in
	// the C++ SDK. Negative: the coordinator chooses.
	TTL time.Duration
	// TLS to the coordinator; plaintext when all empty.
	TLS CoordinatorTLS
	// The API token of a coordinator with authentication on (a token with the "participant"
	// role), sent as "authorization: Bearer <token>". Empty: none is sent.
	Token string
}

// Server serves a participant's named step handlers to the Skald coordinator over gRPC.
//
// How a call is answered, the first that applies (as in the C++ ParticipantServer):
//   - a StepCall whose phase names the other phase than the method called: gRPC status
//     InvalidArgument (PHASE_UNSPECIFIED is accepted);
//   - no handler of the call's phase registered under the call's handler name: Unimplemented;
//   - a call whose deadline has already passed: DeadlineExceeded, the handler is not called;
//   - input_json that is not a JSON object, or action_output_json that is not JSON: business
//     failure "invalid_input"; the handler is not called. An empty input_json is {};
//   - otherwise the handler's StepResult; a panic is a retryable error "handler_exception", a
//     success whose output is not a JSON object a retryable error "invalid_output".
//
// Registration: with RegisterWith, Start registers the instance with the coordinator's
// ParticipantRegistry (proto/skald/v1/registry.proto), waiting at most 2 s, and returns nil
// once listening whatever the outcome; a goroutine retries a failed Register after 200 ms,
// doubling up to 2 s, and renews a registration at the interval the coordinator asks for (a
// third of the ttl when it names none). Shutdown stops renewing and deregisters (at most 1 s)
// before it stops accepting calls, so the coordinator stops choosing this instance while the
// calls in flight finish.
//
// Each call runs its handler on a goroutine of its own. Methods are safe for concurrent use,
// except that OnAction, OnCompensation, RegisterWith and ServeTLS must precede Start.
type Server struct {
	dispatcher *dispatcher
	instanceID string
	timing     registrarTiming // what the tests shorten

	mu           sync.Mutex
	registration *RegistrationOptions
	tls          *TLSOptions
	started      bool
	shuttingDown bool
	grpcServer   *grpc.Server
	registrar    *registrar
	port         int
	address      string
	active       int        // handlers running
	idle         *sync.Cond // signalled when active drops to zero; uses mu
	stopped      chan struct{}
	served       chan struct{} // closed when Serve has returned
}

// NewServer returns a server with no handlers; register them, then Start it.
func NewServer() *Server {
	s := &Server{dispatcher: newDispatcher(), instanceID: newInstanceID(),
		timing: defaultRegistrarTiming, stopped: make(chan struct{}), served: make(chan struct{})}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// OnAction registers handler for action calls naming name, replacing an earlier one.
// REQUIRES: Start has not been called; handler is not nil.
func (s *Server) OnAction(name string, handler StepHandler) { s.on(PhaseAction, name, handler) }

// OnCompensation registers handler for compensation calls naming name, replacing an earlier
// one. REQUIRES: Start has not been called; handler is not nil.
func (s *Server) OnCompensation(name string, handler StepHandler) {
	s.on(PhaseCompensation, name, handler)
}

func (s *Server) on(phase Phase, name string, handler StepHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || handler == nil {
		panic(fmt.Sprintf("skald: %s handler %q registered after Start or nil", phase, name))
	}
	s.dispatcher.register(phase, name, handler)
}

// RegisterWith makes Start register this instance with a coordinator and keep it registered,
// replacing an earlier call's options. REQUIRES: Start has not been called;
// CoordinatorAddress and Service are not empty.
func (s *Server) RegisterWith(options RegistrationOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || options.CoordinatorAddress == "" || options.Service == "" {
		panic("skald: RegisterWith after Start, or without CoordinatorAddress and Service")
	}
	s.registration = &options
}

// ServeTLS makes Start serve over TLS (mutual TLS with a ClientCAFile), replacing an earlier
// call's options. The files are read again every minute: replaced files are used for new
// connections without a restart. REQUIRES: Start has not been called.
func (s *Server) ServeTLS(options TLSOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("skald: ServeTLS after Start")
	}
	s.tls = &options
}

// InstanceID returns the id this instance registers under: "<host name>/<process id>/<8
// random hex digits>", fixed for the lifetime of the server and distinct between servers.
func (s *Server) InstanceID() string { return s.instanceID }

// RegistrationStatus returns nil when the last Register (the first or a renewal) succeeded;
// otherwise its error, a gRPC status error (status.Code: Unavailable when the coordinator
// cannot be reached, DeadlineExceeded when it did not answer within 2 s) naming the
// instance, service and coordinator. FailedPrecondition when RegisterWith was not called,
// before Start, and after Shutdown.
func (s *Server) RegistrationStatus() error {
	s.mu.Lock()
	registration, registrar := s.registration, s.registrar
	s.mu.Unlock()
	if registration == nil {
		return status.Error(codes.FailedPrecondition, "RegisterWith was not called")
	}
	if registrar == nil {
		return status.Error(codes.FailedPrecondition, "not started")
	}
	return registrar.lastStatus()
}

// Start serves on listenAddress ("host:port"; port 0 picks a free port), then registers when
// RegisterWith was called (up to 2 s when the coordinator does not answer). Returns nil once
// listening, whether or not the registration succeeded; an error when the address has no
// port, a TLS file cannot be used (named), the address cannot be bound, or Start was called
// before.
func (s *Server) Start(listenAddress string) error {
	s.mu.Lock()
	registrar, err := s.listen(listenAddress)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	// Unlocked: the first Register may take its whole deadline, and Address or Shutdown must
	// not wait for it. The outcome is kept for RegistrationStatus.
	if registrar != nil {
		_ = registrar.start()
	}
	return nil
}

// listen does Start's work up to registering. REQUIRES: s.mu is held.
func (s *Server) listen(listenAddress string) (*registrar, error) {
	if s.started {
		return nil, errors.New("the participant server was already started")
	}
	host, _, err := net.SplitHostPort(listenAddress)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: expected host:port: %w", listenAddress, err)
	}
	// Every file is checked before anything listens, so that a bad one is reported by name.
	var serverOptions []grpc.ServerOption
	if s.tls != nil {
		if s.tls.CertFile == "" || s.tls.KeyFile == "" {
			return nil, errors.New("ServeTLS: CertFile and KeyFile are required")
		}
		files, err := newPEMFiles(s.tls.CertFile, s.tls.KeyFile, s.tls.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("ServeTLS: %w", err)
		}
		serverOptions = append(serverOptions, grpc.Creds(credentials.NewTLS(serverTLSConfig(files))))
	}
	coordinatorDial := grpc.WithInsecure()
	if s.registration != nil && s.registration.TLS.enabled() {
		t := s.registration.TLS
		files, err := newPEMFiles(t.CertFile, t.KeyFile, t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("RegisterWith TLS: %w", err)
		}
		coordinatorDial = grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(files)))
	}

	listener, err := net.Listen("tcp", listenAddress)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %q: %w", listenAddress, err)
	}
	s.grpcServer = grpc.NewServer(serverOptions...)
	pb.RegisterParticipantServer(s.grpcServer, &participantService{server: s})
	s.started = true
	s.port = listener.Addr().(*net.TCPAddr).Port
	s.address = net.JoinHostPort(host, strconv.Itoa(s.port))
	go func() {
		defer close(s.served)
		_ = s.grpcServer.Serve(listener)
	}()

	if s.registration == nil {
		return nil, nil
	}
	options := s.registration
	advertise := options.AdvertiseAddress
	if advertise == "" {
		advertise = defaultAdvertiseAddress(s.address)
	}
	ttl := options.TTL
	if ttl == 0 {
		ttl = defaultTTL
	} else if ttl < 0 {
		ttl = 0
	}
	s.registrar, err = newRegistrar(options.CoordinatorAddress, registration{
		service: options.Service, instanceID: s.instanceID, address: advertise,
		actions: s.dispatcher.names(PhaseAction), compensations: s.dispatcher.names(PhaseCompensation),
		ttl: ttl, token: options.Token,
	}, s.timing, coordinatorDial)
	if err != nil {
		s.grpcServer.Stop()
		return nil, err
	}
	return s.registrar, nil
}

// Port returns the bound port. REQUIRES: Start returned nil.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Address returns the listen address with the bound port, e.g. "127.0.0.1:40123" for
// "127.0.0.1:0". REQUIRES: Start returned nil.
func (s *Server) Address() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.address
}

// Wait blocks until Shutdown has finished. REQUIRES: Start returned nil.
func (s *Server) Wait() { <-s.stopped }

// Shutdown, when registered, stops renewing and deregisters (at most 1 s). Then it stops
// accepting calls and waits up to grace for the calls in progress; the contexts of calls
// still running then are cancelled. Returns once every handler has returned. Safe to call
// more than once (a later call waits for the first to finish); before Start it does nothing.
func (s *Server) Shutdown(grace time.Duration) {
	s.mu.Lock()
	if !s.started {
		s.mu.Unlock()
		return
	}
	first := !s.shuttingDown
	s.shuttingDown = true
	grpcServer, registrar := s.grpcServer, s.registrar
	s.mu.Unlock()
	if !first {
		<-s.stopped
		return
	}
	// Deregistered first, so that the coordinator stops choosing this instance while the
	// server still answers the calls it already sent.
	if registrar != nil {
		registrar.stop()
	}
	drained := make(chan struct{})
	go func() {
		grpcServer.GracefulStop()
		close(drained)
	}()
	timer := time.NewTimer(grace)
	select {
	case <-drained:
		timer.Stop()
	case <-timer.C:
		grpcServer.Stop() // cancels the contexts of the calls in progress
		<-drained
	}
	<-s.served
	s.mu.Lock()
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	close(s.stopped)
}

// participantService adapts the generated gRPC service to the dispatcher.
type participantService struct {
	pb.UnimplementedParticipantServer
	server *Server
}

func (p *participantService) ExecuteAction(ctx context.Context, call *pb.StepCall) (*pb.StepReply, error) {
	return p.server.serve(ctx, PhaseAction, call)
}

func (p *participantService) ExecuteCompensation(ctx context.Context, call *pb.StepCall) (*pb.StepReply, error) {
	return p.server.serve(ctx, PhaseCompensation, call)
}

func (s *Server) serve(ctx context.Context, phase Phase, call *pb.StepCall) (*pb.StepReply, error) {
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		if s.active == 0 {
			s.idle.Broadcast()
		}
		s.mu.Unlock()
	}()
	traceparent := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if values := md.Get("traceparent"); len(values) > 0 {
			traceparent = values[0]
		}
	}
	return s.dispatcher.dispatch(ctx, phase, call, traceparent)
}
