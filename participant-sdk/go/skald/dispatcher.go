package skald

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dispatcher turns one StepCall into a StepReply by running the registered handler. It knows
// nothing of servers, so server.go stays wiring only (step_dispatcher.cc in the C++ SDK).
type dispatcher struct {
	actions       map[string]StepHandler
	compensations map[string]StepHandler
}

func newDispatcher() *dispatcher {
	return &dispatcher{actions: map[string]StepHandler{}, compensations: map[string]StepHandler{}}
}

func (d *dispatcher) handlers(phase Phase) map[string]StepHandler {
	if phase == PhaseAction {
		return d.actions
	}
	return d.compensations
}

// register registers handler for phase calls naming name, replacing an earlier one.
// REQUIRES: no dispatch runs concurrently.
func (d *dispatcher) register(phase Phase, name string, handler StepHandler) {
	d.handlers(phase)[name] = handler
}

// names returns the names registered for phase, sorted.
func (d *dispatcher) names(phase Phase) []string {
	names := make([]string, 0, len(d.handlers(phase)))
	for name := range d.handlers(phase) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func toWire(phase Phase) pb.Phase {
	if phase == PhaseAction {
		return pb.Phase_PHASE_ACTION
	}
	return pb.Phase_PHASE_COMPENSATION
}

// dispatch runs the phase handler named by call.Handler and returns its reply; the rules are
// those of the C++ StepDispatcher (participant_server.h): a gRPC InvalidArgument error when
// call.Phase names the other phase, Unimplemented when no such handler is registered,
// DeadlineExceeded without calling the handler when ctx's deadline has passed; a business
// failure "invalid_input" when input_json is not a JSON object or action_output_json not
// JSON. traceparentMetadata is the request metadata "traceparent" ("" when absent).
func (d *dispatcher) dispatch(ctx context.Context, phase Phase, call *pb.StepCall,
	traceparentMetadata string) (*pb.StepReply, error) {
	if call.GetPhase() != pb.Phase_PHASE_UNSPECIFIED && call.GetPhase() != toWire(phase) {
		return nil, status.Errorf(codes.InvalidArgument,
			"StepCall.phase is %s but the %s method was called", call.GetPhase(), phase)
	}
	handler, found := d.handlers(phase)[call.GetHandler()]
	if !found {
		return nil, status.Errorf(codes.Unimplemented,
			"no %s handler named %q is registered with this participant", phase, call.GetHandler())
	}
	// The caller has given up: its reply would reach no one, and it retries the attempt.
	if deadline, set := ctx.Deadline(); set && !time.Now().Before(deadline) {
		return nil, status.Errorf(codes.DeadlineExceeded,
			"the call's deadline passed before %s handler %q could be called", phase, call.GetHandler())
	}

	step := &StepContext{
		SagaID:          call.GetSagaId(),
		Step:            call.GetStep(),
		Phase:           phase,
		Handler:         call.GetHandler(),
		Attempt:         int(call.GetAttempt()),
		IdempotencyKey:  call.GetIdempotencyKey(),
		Traceparent:     call.GetTraceparent(),
		CompletionToken: call.GetCompletionToken(),
	}
	if step.Traceparent == "" {
		step.Traceparent = traceparentMetadata
	}
	input := json.RawMessage("{}")
	if call.GetInputJson() != "" {
		input = json.RawMessage(call.GetInputJson())
		if !json.Valid(input) {
			return toReply(BusinessFailure("invalid_input", "input_json is not valid JSON")), nil
		}
		if !isJSONObject(input) {
			return toReply(BusinessFailure("invalid_input", "input_json must be a JSON object")), nil
		}
	}
	if phase == PhaseCompensation && call.GetActionOutputJson() != "" {
		step.ActionOutput = json.RawMessage(call.GetActionOutputJson())
		if !json.Valid(step.ActionOutput) {
			return toReply(BusinessFailure("invalid_input", "action_output_json is not valid JSON")), nil
		}
	}
	return toReply(runHandler(ctx, handler, step, input)), nil
}

// runHandler returns the handler's result, or an error result when it panics or breaks the
// contract.
func runHandler(ctx context.Context, handler StepHandler, step *StepContext,
	input json.RawMessage) (result StepResult) {
	where := fmt.Sprintf("%s handler %q", step.Phase, step.Handler)
	defer func() {
		if recovered := recover(); recovered != nil {
			result = Retryable("handler_exception", fmt.Sprintf("%s panicked: %v", where, recovered))
		}
	}()
	result = handler(ctx, step, input)
	if result.outcome == 0 {
		return Retryable("invalid_output", where+" returned a zero StepResult; use Success, Retryable or BusinessFailure")
	}
	if result.OK() && !isJSONObject(result.output) {
		return Retryable("invalid_output", where+" succeeded with an output that is not a JSON object")
	}
	if result.IsAccepted() && step.CompletionToken == "" {
		// Nobody could ever complete the step: it would wait until its deadline for nothing.
		return Retryable("no_completion_token", where+
			" answered accepted, but the call carried no completion token (the coordinator cannot take accepted steps)")
	}
	return result
}

func toReply(result StepResult) *pb.StepReply {
	switch result.outcome {
	case OutcomeSuccess:
		return &pb.StepReply{Outcome: pb.Outcome_OUTCOME_SUCCESS, OutputJson: string(result.output)}
	case OutcomeBusinessFailure:
		return &pb.StepReply{Outcome: pb.Outcome_OUTCOME_BUSINESS_FAILURE,
			ErrorCode: result.code, ErrorMessage: result.message}
	case OutcomeAccepted:
		return &pb.StepReply{Outcome: pb.Outcome_OUTCOME_ACCEPTED}
	}
	return &pb.StepReply{Outcome: pb.Outcome_OUTCOME_RETRYABLE_ERROR,
		ErrorCode: result.code, ErrorMessage: result.message}
}
