#include "step_dispatcher.h"

#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace skald {
namespace {

v1::Phase ToWire(Phase phase) {
  return phase == Phase::kAction ? v1::PHASE_ACTION : v1::PHASE_COMPENSATION;
}

// Returns `text` parsed, or nullopt with `*problem` set when it is not valid JSON.
std::optional<nlohmann::json> ParseJson(const std::string& text, std::string* problem) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    *problem = e.what();
    return std::nullopt;
  }
}

// Parses the call's input into `*input` (an empty input_json is an empty object) and, for a
// compensation, its action output into `*action_output` (empty: null). Returns the
// "invalid_input" failure naming the bad field, if any.
std::optional<StepResult> ParsePayloads(Phase phase, const v1::StepCall& call,
                                        nlohmann::json* input, nlohmann::json* action_output) {
  std::string problem;
  *input = nlohmann::json::object();
  if (!call.input_json().empty()) {
    std::optional<nlohmann::json> parsed = ParseJson(call.input_json(), &problem);
    if (!parsed) {
      return StepResult::BusinessFailure("invalid_input",
                                         "input_json is not valid JSON: " + problem);
    }
    if (!parsed->is_object()) {
      return StepResult::BusinessFailure("invalid_input", "input_json must be a JSON object, got " +
                                                              std::string(parsed->type_name()));
    }
    *input = std::move(*parsed);
  }
  *action_output = nullptr;
  if (phase == Phase::kCompensation && !call.action_output_json().empty()) {
    std::optional<nlohmann::json> parsed = ParseJson(call.action_output_json(), &problem);
    if (!parsed) {
      return StepResult::BusinessFailure("invalid_input",
                                         "action_output_json is not valid JSON: " + problem);
    }
    *action_output = std::move(*parsed);
  }
  return std::nullopt;
}

void Fill(const StepResult& result, v1::StepReply* reply) {
  switch (result.outcome()) {
    case StepResult::Outcome::kSuccess:
      reply->set_outcome(v1::OUTCOME_SUCCESS);
      // Replacing invalid UTF-8 keeps a bad string in the output from throwing here.
      reply->set_output_json(
          result.output().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    case StepResult::Outcome::kRetryableError:
      reply->set_outcome(v1::OUTCOME_RETRYABLE_ERROR);
      break;
    case StepResult::Outcome::kBusinessFailure:
      reply->set_outcome(v1::OUTCOME_BUSINESS_FAILURE);
      break;
    case StepResult::Outcome::kAccepted:
      reply->set_outcome(v1::OUTCOME_ACCEPTED);
      return;
  }
  reply->set_error_code(result.error_code());
  reply->set_error_message(result.error_message());
}

// Returns the handler's result, or an error result when it throws or breaks the contract.
StepResult RunHandler(const StepHandler& handler, const StepContext& context,
                      const nlohmann::json& input) {
  const std::string where =
      std::string(PhaseName(context.phase)) + " handler \"" + context.handler + "\"";
  try {
    StepResult result = handler(context, input);
    if (result.ok() && !result.output().is_object()) {
      return StepResult::Retryable(where + " succeeded with a " +
                                       std::string(result.output().type_name()) +
                                       " output; a step's output must be a JSON object",
                                   "invalid_output");
    }
    if (result.accepted() && context.completion_token.empty()) {
      // Nobody could ever complete the step: it would wait until its deadline for nothing.
      return StepResult::Retryable(where +
                                       " answered accepted, but the call carried no "
                                       "completion token (the coordinator cannot take "
                                       "accepted steps)",
                                   "no_completion_token");
    }
    return result;
  } catch (const std::exception& e) {
    return StepResult::Retryable(where + " threw: " + e.what(), "handler_exception");
  } catch (...) {
    return StepResult::Retryable(where + " threw a non-standard exception", "handler_exception");
  }
}

}  // namespace

void StepDispatcher::Register(Phase phase, std::string name, StepHandler handler) {
  auto& handlers = phase == Phase::kAction ? actions_ : compensations_;
  handlers.insert_or_assign(std::move(name), std::move(handler));
}

std::vector<std::string> StepDispatcher::Names(Phase phase) const {
  const auto& handlers = phase == Phase::kAction ? actions_ : compensations_;
  std::vector<std::string> names;
  names.reserve(handlers.size());
  for (const auto& [name, handler] : handlers) names.push_back(name);
  return names;
}

grpc::Status StepDispatcher::Dispatch(Phase phase, const v1::StepCall& call, const CallInfo& info,
                                      v1::StepReply* reply) const {
  if (call.phase() != v1::PHASE_UNSPECIFIED && call.phase() != ToWire(phase)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "StepCall.phase is " + v1::Phase_Name(call.phase()) + " but the " +
                            std::string(PhaseName(phase)) + " method was called");
  }
  const auto& handlers = phase == Phase::kAction ? actions_ : compensations_;
  const auto found = handlers.find(call.handler());
  if (found == handlers.end()) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "no " + std::string(PhaseName(phase)) + " handler named \"" +
                            call.handler() + "\" is registered with this participant");
  }

  // The caller has given up: its reply would reach no one, and it retries the attempt.
  if (info.deadline != std::chrono::system_clock::time_point::max() &&
      info.deadline <= std::chrono::system_clock::now()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the call's deadline passed before " + std::string(PhaseName(phase)) +
                            " handler \"" + call.handler() + "\" could be called");
  }

  StepContext context{
      .saga_id = call.saga_id(),
      .step = call.step(),
      .phase = phase,
      .handler = call.handler(),
      .attempt = call.attempt(),
      .idempotency_key = call.idempotency_key(),
      .deadline = info.deadline,
      .action_output = nullptr,
      .traceparent = call.traceparent().empty() ? info.traceparent_metadata : call.traceparent(),
      .completion_token = call.completion_token(),
  };
  nlohmann::json input;
  if (std::optional<StepResult> invalid =
          ParsePayloads(phase, call, &input, &context.action_output)) {
    Fill(*invalid, reply);
    return grpc::Status::OK;
  }
  Fill(RunHandler(found->second, context, input), reply);
  return grpc::Status::OK;
}

}  // namespace skald
