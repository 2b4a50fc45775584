package skald

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// MaxCompletionTokenLength is the longest token a Completer sends; a longer one is refused
// before anything is sent (a real token is far shorter).
const MaxCompletionTokenLength = 1024

// CompleterOptions say where a Completer sends completions, and how long it tries.
type CompleterOptions struct {
	// "host:port" of any coordinator of the cluster (they share one database). Required.
	Address string
	// TLS to the coordinator; plaintext when all empty.
	TLS CoordinatorTLS
	// The API token of a coordinator with authentication on (a token with the "participant"
	// role), sent as "authorization: Bearer <token>". Empty: none is sent.
	Token string
	// Bounds each try of a request. Zero: 5 s.
	TryTimeout time.Duration
	// Bounds one method call, its retries and backoff included (the ctx passed in may end
	// it sooner). Zero: 30 s.
	TotalTimeout time.Duration
	// The wait after the first transient failure, doubled after each further one up to
	// MaxBackoff. Zero: 100 ms and 2 s.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// CompletionReceipt is what the coordinator answered to a completion.
type CompletionReceipt struct {
	SagaID string
	Step   string
	// True when the coordinator had already recorded this same result for the token (a
	// repeat, e.g. after a reply lost on the way back): nothing changed.
	AlreadyCompleted bool
}

// Completer completes, or keeps alive, a step its handler answered with Accepted, from
// anywhere in the participant's process (another goroutine, a webhook handler, a queue
// consumer), with the call's StepContext.CompletionToken. It is safe for concurrent use.
//
// Each method sends one request to the coordinator's SagaService (CompleteStep or
// Heartbeat). A transient failure (Unavailable, DeadlineExceeded of one try,
// ResourceExhausted, Aborted) is retried with doubling backoff until TotalTimeout; sending the
// same completion again is safe, the coordinator answers a repeat of the same result with
// AlreadyCompleted. Any other refusal is returned at once as a gRPC status error
// (status.Code(err)) carrying the coordinator's code and message: FailedPrecondition for a
// token of an old attempt, a different result after the first, or a completion after the
// step's deadline; NotFound for an unknown token; PermissionDenied for a token without the
// participant role. Bad arguments are InvalidArgument, nothing sent.
type Completer struct {
	options CompleterOptions
	conn    *grpc.ClientConn
	client  pb.SagaServiceClient
}

// NewCompleter returns a Completer for options.Address; it connects lazily. An error when
// the address is empty or a TLS file cannot be read.
func NewCompleter(options CompleterOptions) (*Completer, error) {
	if options.Address == "" {
		return nil, status.Error(codes.InvalidArgument, "NewCompleter: the coordinator address is empty")
	}
	if options.TryTimeout <= 0 {
		options.TryTimeout = 5 * time.Second
	}
	if options.TotalTimeout <= 0 {
		options.TotalTimeout = 30 * time.Second
	}
	if options.InitialBackoff <= 0 {
		options.InitialBackoff = 100 * time.Millisecond
	}
	if options.MaxBackoff <= 0 {
		options.MaxBackoff = 2 * time.Second
	}
	transport := grpc.WithInsecure()
	if options.TLS.enabled() {
		files, err := newPEMFiles(options.TLS.CertFile, options.TLS.KeyFile, options.TLS.CAFile)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "NewCompleter TLS: %v", err)
		}
		transport = grpc.WithTransportCredentials(credentials.NewTLS(clientTLSConfig(files)))
	}
	conn, err := grpc.Dial(options.Address, transport)
	if err != nil {
		return nil, fmt.Errorf("dialling the coordinator at %s: %w", options.Address, err)
	}
	return &Completer{options: options, conn: conn, client: pb.NewSagaServiceClient(conn)}, nil
}

// Close closes the connection to the coordinator.
func (c *Completer) Close() error { return c.conn.Close() }

// Complete completes the accepted step with success and output, marshalled with
// encoding/json; it must become a JSON object (nil is {}).
func (c *Completer) Complete(ctx context.Context, token string, output interface{}) (CompletionReceipt, error) {
	encoded := json.RawMessage("{}")
	if output != nil {
		if raw, ok := output.(json.RawMessage); ok {
			encoded = raw
		} else {
			marshalled, err := json.Marshal(output)
			if err != nil {
				return CompletionReceipt{}, status.Errorf(codes.InvalidArgument,
					"Complete: the output cannot be encoded as JSON: %v", err)
			}
			encoded = marshalled
		}
	}
	if !isJSONObject(encoded) {
		return CompletionReceipt{}, status.Error(codes.InvalidArgument, "Complete: the output must be a JSON object")
	}
	return c.send(ctx, token, &pb.StepReply{Outcome: pb.Outcome_OUTCOME_SUCCESS, OutputJson: string(encoded)})
}

// Fail completes the accepted step with a business failure: it had no effect and is not
// retried (compensation of the earlier steps follows). An empty code is sent as
// "business_failure".
func (c *Completer) Fail(ctx context.Context, token, code, message string) (CompletionReceipt, error) {
	if code == "" {
		code = "business_failure"
	}
	return c.send(ctx, token, &pb.StepReply{Outcome: pb.Outcome_OUTCOME_BUSINESS_FAILURE,
		ErrorCode: code, ErrorMessage: message})
}

// Retry completes the accepted step's attempt with a retryable error: the attempt failed
// without effect, and the coordinator's retry policy applies (a new attempt, a new token).
func (c *Completer) Retry(ctx context.Context, token, code, message string) (CompletionReceipt, error) {
	return c.send(ctx, token, &pb.StepReply{Outcome: pb.Outcome_OUTCOME_RETRYABLE_ERROR,
		ErrorCode: code, ErrorMessage: message})
}

// Heartbeat tells the coordinator the work is still going on, with details (marshalled with
// encoding/json into a JSON object, shown to operators; nil is {}). It returns the time
// before which the next heartbeat (or the completion) must come; the zero time when the
// coordinator sent none it could read.
func (c *Completer) Heartbeat(ctx context.Context, token string, details interface{}) (time.Time, error) {
	if err := checkToken("Heartbeat", token); err != nil {
		return time.Time{}, err
	}
	encoded := []byte("{}")
	if details != nil {
		var err error
		if encoded, err = json.Marshal(details); err != nil || !isJSONObject(encoded) {
			return time.Time{}, status.Error(codes.InvalidArgument, "Heartbeat: the details must be a JSON object")
		}
	}
	request := &pb.HeartbeatRequest{CompletionToken: token, DetailsJson: string(encoded)}
	var response *pb.HeartbeatResponse
	err := c.callWithRetries(ctx, "Heartbeat", func(callCtx context.Context) error {
		var err error
		response, err = c.client.Heartbeat(callCtx, request)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	next, err := time.Parse(time.RFC3339Nano, response.GetHeartbeatDeadline())
	if err != nil {
		return time.Time{}, nil
	}
	return next, nil
}

func checkToken(method, token string) error {
	if token == "" {
		return status.Errorf(codes.InvalidArgument, "%s: the completion token is empty", method)
	}
	if len(token) > MaxCompletionTokenLength {
		return status.Errorf(codes.InvalidArgument, "%s: the completion token is %d bytes, longer than %d",
			method, len(token), MaxCompletionTokenLength)
	}
	return nil
}

func (c *Completer) send(ctx context.Context, token string, result *pb.StepReply) (CompletionReceipt, error) {
	if err := checkToken("CompleteStep", token); err != nil {
		return CompletionReceipt{}, err
	}
	request := &pb.CompleteStepRequest{CompletionToken: token, Result: result}
	var response *pb.CompleteStepResponse
	err := c.callWithRetries(ctx, "CompleteStep", func(callCtx context.Context) error {
		var err error
		response, err = c.client.CompleteStep(callCtx, request)
		return err
	})
	if err != nil {
		return CompletionReceipt{}, err
	}
	return CompletionReceipt{SagaID: response.GetSagaId(), Step: response.GetStep(),
		AlreadyCompleted: response.GetAlreadyCompleted()}, nil
}

// isTransient says whether a later try may get another answer: the coordinator was
// unreachable, overloaded, restarting or lost a race. Every other refusal is final.
func isTransient(code codes.Code) bool {
	return code == codes.Unavailable || code == codes.DeadlineExceeded ||
		code == codes.ResourceExhausted || code == codes.Aborted
}

// callWithRetries calls call until it succeeds, fails with a code that is not transient, or
// TotalTimeout (or ctx) ends; each try bounded by TryTimeout.
func (c *Completer) callWithRetries(ctx context.Context, method string, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.options.TotalTimeout)
	defer cancel()
	if c.options.Token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.options.Token)
	}
	what := fmt.Sprintf("%s to coordinator %s", method, c.options.Address)
	backoff := c.options.InitialBackoff
	for tries := 1; ; tries++ {
		tryCtx, cancelTry := context.WithTimeout(ctx, c.options.TryTimeout)
		err := call(tryCtx)
		cancelTry()
		if err == nil {
			return nil
		}
		answer := status.Convert(err)
		if !isTransient(answer.Code()) {
			return status.Errorf(answer.Code(), "%s refused: %s", what, answer.Message())
		}
		deadline, _ := ctx.Deadline()
		if time.Until(deadline) <= backoff {
			return status.Errorf(answer.Code(), "%s failed %d time(s) within %v, last: %s",
				what, tries, c.options.TotalTimeout, answer.Message())
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return status.Errorf(codes.DeadlineExceeded, "%s: %v after %d tries, last: %s",
				what, ctx.Err(), tries, answer.Message())
		}
		backoff = minDuration(2*backoff, c.options.MaxBackoff)
	}
}
