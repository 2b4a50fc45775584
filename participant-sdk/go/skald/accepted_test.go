package skald

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	pb "github.com/skald-saga/skald/participant-sdk/go/internal/skaldv1"
)

func TestServerRepliesAcceptedAndTheHandlerSeesTheCompletionToken(t *testing.T) {
	s := NewServer()
	tokens := make(chan string, 2)
	s.OnCompensation("refund", func(_ context.Context, step *StepContext, _ json.RawMessage) StepResult {
		tokens <- step.CompletionToken
		return Accepted()
	})
	client := startServer(t, s)
	reply, err := client.ExecuteCompensation(callCtx(t), &pb.StepCall{SagaId: "s", Step: "p", Handler: "refund",
		CompletionToken: "opaque-1"})
	if err != nil || reply.Outcome != pb.Outcome_OUTCOME_ACCEPTED || reply.ErrorCode != "" {
		t.Fatalf("ExecuteCompensation = %v, %v; want OUTCOME_ACCEPTED", reply, err)
	}
	if token := <-tokens; token != "opaque-1" {
		t.Errorf("handler saw token %q", token)
	}

	// Without a token nobody could complete the step: the SDK refuses the answer.
	reply, err = client.ExecuteCompensation(callCtx(t), &pb.StepCall{SagaId: "s", Step: "p", Handler: "refund"})
	if err != nil || reply.Outcome != pb.Outcome_OUTCOME_RETRYABLE_ERROR || reply.ErrorCode != "no_completion_token" ||
		!strings.Contains(reply.ErrorMessage, `"refund"`) {
		t.Errorf("without a token: %v, %v; want retryable no_completion_token", reply, err)
	}
}

func TestAcceptedResult(t *testing.T) {
	result := Accepted()
	if !result.IsAccepted() || result.OK() || result.IsRetryable() || result.Outcome() != OutcomeAccepted ||
		result.String() != "accepted" || result.ErrorCode() != "" {
		t.Errorf("Accepted() = %v", result)
	}
	if Success(nil).IsAccepted() {
		t.Error("Success is accepted")
	}
}
