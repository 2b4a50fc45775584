package skald

import (
	"context"
	"encoding/json"
	"fmt"
)

// Phase says which half of a step a call runs.
type Phase int

const (
	PhaseAction Phase = iota + 1
	PhaseCompensation
)

// String returns "action" or "compensation".
func (p Phase) String() string {
	switch p {
	case PhaseAction:
		return "action"
	case PhaseCompensation:
		return "compensation"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// StepContext is everything about a call except its input and its deadline: the deadline is
// the handler's context.Context deadline (ctx.Deadline()), and ctx is cancelled when the
// caller stops waiting or the server stops. Valid only during the handler call.
type StepContext struct {
	SagaID string
	// The step's name in the saga definition, e.g. "charge-payment".
	Step  string
	Phase Phase
	// The name the handler was registered under, e.g. "charge".
	Handler string
	// 1 for the first attempt of this step and phase; grows with each retry.
	Attempt int
	// Identical for every attempt of the same saga, step and phase. Handlers use it to apply
	// their effect at most once: the coordinator delivers each call at least once.
	IdempotencyKey string
	// For a compensation: the output (a JSON value) of the step's action when the action
	// reported success. Nil otherwise (every action, and a compensation whose action never
	// reported success, which includes an action that never ran).
	ActionOutput json.RawMessage
	// The W3C trace context of this attempt, "00-<trace id>-<span id>-<flags>", as the caller
	// sent it (not validated): the StepCall's traceparent field, or when that is empty the
	// gRPC request metadata "traceparent". Empty when the call carried neither.
	Traceparent string
	// Opaque, bound to this saga, step, phase and attempt: the same for every delivery of this
	// attempt, different for the next attempt. A handler that answers Accepted hands it to
	// whatever finishes the work, which completes the step with it later (Completer). Empty
	// when the coordinator sent none.
	CompletionToken string
}

// StepHandler runs one phase of a step. input is the step's input, always a JSON object.
// It may block (e.g. on a database; bound the waits by ctx) and is called concurrently, also
// for the same saga. A panic is recovered and replied as a retryable error
// "handler_exception".
type StepHandler func(ctx context.Context, step *StepContext, input json.RawMessage) StepResult

// Outcome is what kind of answer a StepResult is.
type Outcome int

const (
	// The step's effect is applied.
	OutcomeSuccess Outcome = iota + 1
	// A transient problem: the coordinator retries with backoff.
	OutcomeRetryable
	// A business rule refused the step: it had no effect and is not retried.
	OutcomeBusinessFailure
	// The participant took the step on and completes it later with the call's
	// CompletionToken (Completer).
	OutcomeAccepted
)

// StepResult is what a handler answers. Make one with Success, Retryable, BusinessFailure or
// Accepted.
type StepResult struct {
	outcome Outcome
	output  json.RawMessage
	code    string
	message string
}

// Success returns the result of a step whose effect is applied. output is marshalled with
// encoding/json and must become a JSON object (a struct, a map, or a json.RawMessage holding
// an object); nil is an empty object. Any other value, or one that cannot be marshalled, is
// replied as a retryable error "invalid_output" (the effect may be applied, so the call must
// not be reported as a failure without effect).
func Success(output interface{}) StepResult {
	if output == nil {
		return StepResult{outcome: OutcomeSuccess, output: json.RawMessage("{}")}
	}
	if raw, ok := output.(json.RawMessage); ok {
		return StepResult{outcome: OutcomeSuccess, output: raw}
	}
	encoded, err := json.Marshal(output)
	if err != nil {
		return Retryable("invalid_output", "the step's output cannot be encoded as JSON: "+err.Error())
	}
	return StepResult{outcome: OutcomeSuccess, output: encoded}
}

// Retryable returns the result of a transient problem (database unreachable, timeout, ...):
// the coordinator retries the call with backoff. The effect must not be half applied. code
// is optional, e.g. "database_unavailable".
func Retryable(code, message string) StepResult {
	return StepResult{outcome: OutcomeRetryable, code: code, message: message}
}

// BusinessFailure returns the result of a step a business rule refused: it had no effect and
// is not retried. code is short and machine-readable, e.g. "card_declined"; an empty code is
// replied as "business_failure".
func BusinessFailure(code, message string) StepResult {
	if code == "" {
		code = "business_failure"
	}
	return StepResult{outcome: OutcomeBusinessFailure, code: code, message: message}
}

// Accepted returns the result of a step the participant took on and completes later, from
// anywhere in its process, with the call's StepContext.CompletionToken (Completer.Complete,
// Fail, Retry; Heartbeat keeps it alive). The step waits, holding no goroutine, within its
// deadline and heartbeat timeout. Answered to a call without a completion token, it is
// replied as a retryable error "no_completion_token": nobody could complete the step.
func Accepted() StepResult { return StepResult{outcome: OutcomeAccepted} }

// Outcome returns the kind of result.
func (r StepResult) Outcome() Outcome { return r.outcome }

// OK returns true for a success.
func (r StepResult) OK() bool { return r.outcome == OutcomeSuccess }

// IsRetryable returns true for a retryable error.
func (r StepResult) IsRetryable() bool { return r.outcome == OutcomeRetryable }

// IsAccepted returns true for Accepted.
func (r StepResult) IsAccepted() bool { return r.outcome == OutcomeAccepted }

// Output returns the JSON output of a success; nil for the other outcomes.
func (r StepResult) Output() json.RawMessage { return r.output }

// ErrorCode returns the code of a retryable error or business failure; empty for a success.
func (r StepResult) ErrorCode() string { return r.code }

// ErrorMessage returns the message of a retryable error or business failure.
func (r StepResult) ErrorMessage() string { return r.message }

// String returns a one-line description for logs, e.g. "business_failure card_declined: ...".
func (r StepResult) String() string {
	switch r.outcome {
	case OutcomeSuccess:
		return "success"
	case OutcomeRetryable:
		if r.code == "" {
			return "retryable_error: " + r.message
		}
		return "retryable_error " + r.code + ": " + r.message
	case OutcomeBusinessFailure:
		return "business_failure " + r.code + ": " + r.message
	case OutcomeAccepted:
		return "accepted"
	}
	return "unknown outcome"
}

// isJSONObject returns true when raw is one JSON object (surrounding white space allowed).
func isJSONObject(raw json.RawMessage) bool {
	var object map[string]json.RawMessage
	return json.Unmarshal(raw, &object) == nil && object != nil
}
