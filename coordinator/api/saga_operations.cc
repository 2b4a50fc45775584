#include "coordinator/api/saga_operations.h"

#include <spdlog/spdlog.h>

#include <future>
#include <memory>
#include <random>
#include <tuple>

#include "coordinator/api/proto_mapping.h"
#include "coordinator/core/bounded_json.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/core/notification.h"
#include "coordinator/core/participant_reply.h"
#include "coordinator/core/storable_text.h"
#include "coordinator/core/timestamp_text.h"
#include "coordinator/core/trace_context.h"
#include "coordinator/observability/logging.h"
#include "coordinator/observability/redaction.h"

namespace skald::api {
namespace {

// Returns a fresh traceparent with random ids, for a saga started without one.
std::string RandomTraceParent() {
  thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return core::NewTraceParent({random(), random(), random()});
}

// Returns the traceparent and callback URL of a start request, validated, with a traceparent
// made up when the request has none.
absl::StatusOr<store::SagaStartOptions> StartOptions(const v1::StartSagaRequest& request) {
  store::SagaStartOptions options;
  if (request.traceparent().empty()) {
    options.traceparent = RandomTraceParent();
  } else if (auto parsed = core::ParseTraceParent(request.traceparent()); !parsed.ok()) {
    return absl::InvalidArgumentError("traceparent: " + std::string(parsed.status().message()));
  } else {
    options.traceparent = request.traceparent();
  }
  if (!request.callback_url().empty()) {
    if (absl::Status storable = core::CheckStorableText(request.callback_url(), "callback_url");
        !storable.ok()) {
      return storable;
    }
    if (absl::Status valid = core::ValidateWebhookUrl(request.callback_url()); !valid.ok()) {
      return absl::InvalidArgumentError("callback_url: " + std::string(valid.message()));
    }
    options.callback_url = request.callback_url();
  }
  return options;
}

// Heartbeat details are only shown: a small JSON object.
constexpr size_t kMaxHeartbeatDetailsBytes = 16 * 1024;
// How long a caller waits for its engine to record a submitted event.
constexpr auto kSubmitWait = std::chrono::seconds(10);

// Bounds how long one AwaitSaga call holds a server thread.
constexpr int64_t kMaxAwaitMillis = 60'000;

}  // namespace

absl::Status SagaOperations::OverLimit(std::string_view limit, absl::Status status) const {
  if (metrics_) metrics_->LimitExceeded(limit);
  return status;
}

absl::Status SagaOperations::ApplyDefinition(const v1::ApplyDefinitionRequest& request,
                                             v1::ApplyDefinitionResponse* response) {
  auto definition = core::ParseDefinition(request.definition_json(), limits_.definition);
  if (!definition.ok()) {
    // The parser names the flag of each limit it enforces.
    const std::string message(definition.status().message());
    for (const auto& [flag, limit] : {std::pair{"(--max-definition-bytes)", "max_definition_bytes"},
                                      std::pair{"(--max-steps)", "max_steps"},
                                      std::pair{"(--max-name-length)", "max_name_length"}}) {
      if (message.find(flag) != std::string::npos) return OverLimit(limit, definition.status());
    }
    return definition.status();
  }
  // Stored as jsonb, which refuses \u0000 in any string: the sender's error, said here.
  if (absl::Status storable = core::CheckStorableJson(definition->document, "definition");
      !storable.ok()) {
    return storable;
  }
  auto created = store_.PutDefinition(*definition);
  if (!created.ok()) return created.status();
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_created(*created);
  if (*created) spdlog::info("definition {} v{} applied", definition->name, definition->version);
  return absl::OkStatus();
}

absl::Status SagaOperations::GetDefinition(const v1::GetDefinitionRequest& request,
                                           v1::GetDefinitionResponse* response) {
  if (request.name().size() > limits_.definition.max_name_length) {
    return OverLimit("max_name_length",
                     absl::InvalidArgumentError("name: " + std::to_string(request.name().size()) +
                                                " characters, over the limit of " +
                                                std::to_string(limits_.definition.max_name_length) +
                                                " (--max-name-length)"));
  }
  if (auto s = core::ValidateName(request.name(), limits_.definition.max_name_length); !s.ok()) {
    return absl::InvalidArgumentError("name: " + std::string(s.message()));
  }
  if (request.version() < 0)
    return absl::InvalidArgumentError("version: must be 0 (latest) or positive");
  auto definition = store_.GetDefinition(request.name(), request.version());
  if (!definition.ok()) return definition.status();
  response->set_name(definition->name);
  response->set_version(definition->version);
  response->set_definition_json(definition->document.dump());
  return absl::OkStatus();
}

absl::Status SagaOperations::CheckDefinitionName(const std::string& name) const {
  if (name.size() > limits_.definition.max_name_length) {
    return OverLimit("max_name_length",
                     absl::InvalidArgumentError("definition: " + std::to_string(name.size()) +
                                                " characters, over the limit of " +
                                                std::to_string(limits_.definition.max_name_length) +
                                                " (--max-name-length)"));
  }
  // No definition has another name (the parser checks every name it accepts), and one with
  // a NUL byte or invalid UTF-8 would reach PostgreSQL as a query parameter.
  if (name.empty()) return absl::OkStatus();
  if (absl::Status valid = core::ValidateName(name, limits_.definition.max_name_length);
      !valid.ok()) {
    return absl::InvalidArgumentError("definition: " + std::string(valid.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<store::SagaToCreate> SagaOperations::CheckStart(
    const v1::StartSagaRequest& request) {
  if (request.definition().empty())
    return absl::InvalidArgumentError("definition: required, got empty");
  if (absl::Status name = CheckDefinitionName(request.definition()); !name.ok()) return name;
  if (request.version() < 0)
    return absl::InvalidArgumentError("version: must be 0 (latest) or positive");
  if (!request.saga_id().empty()) {
    if (request.saga_id().size() > limits_.max_saga_id_length)
      return CheckSagaId(request.saga_id());
    if (auto s = core::ValidateName(request.saga_id(), limits_.max_saga_id_length); !s.ok()) {
      return absl::InvalidArgumentError("saga_id: " + std::string(s.message()));
    }
  }
  if (request.input_json().size() > limits_.max_input_bytes) {
    return OverLimit("max_input_bytes",
                     absl::ResourceExhaustedError(
                         "input_json: " + std::to_string(request.input_json().size()) +
                         " bytes, over the limit of " + std::to_string(limits_.max_input_bytes) +
                         " (--max-input-bytes)"));
  }
  nlohmann::json input = nlohmann::json::object();
  if (!request.input_json().empty()) {
    auto parsed =
        core::ParseBoundedJson(request.input_json(), limits_.definition.max_nesting_depth);
    if (!parsed.ok())
      return absl::InvalidArgumentError("input_json: " + std::string(parsed.status().message()));
    input = *std::move(parsed);
    if (!input.is_object()) {
      return absl::InvalidArgumentError(std::string("input_json: must be a JSON object, got ") +
                                        input.type_name());
    }
    // What PostgreSQL's jsonb refuses (\u0000, invalid UTF-8) is the client's error, named
    // with its JSON pointer, never an INTERNAL error of the database later.
    if (absl::Status storable = core::CheckStorableJson(input, "input_json"); !storable.ok()) {
      return storable;
    }
  }
  absl::StatusOr<store::SagaStartOptions> options = StartOptions(request);
  if (!options.ok()) return options.status();
  auto definition = DefinitionToStart(request.definition(), request.version());
  if (!definition.ok()) return definition.status();
  return store::SagaToCreate{*std::move(definition), request.saga_id(), std::move(input),
                             *std::move(options)};
}

absl::Status SagaOperations::FinishStart(const v1::StartSagaRequest& request,
                                         store::SagaToCreate saga,
                                         absl::StatusOr<store::CreatedSaga> created,
                                         v1::StartSagaResponse* response) {
  if (absl::IsAlreadyExists(created.status())) {
    // The store names the definition of the saga holding the id, which may be another
    // namespace's: say only that the id is taken.
    return absl::AlreadyExistsError("saga id \"" + request.saga_id() +
                                    "\" is already used by a saga of another definition; "
                                    "choose another id");
  }
  if (!created.ok()) return created.status();
  if (created->created) {
    if (spdlog::default_logger_raw()->should_log(spdlog::level::debug)) {
      observability::LogAbout({created->saga_id}, spdlog::level::debug, "started with input {}",
                              observability::RedactedPayload(request.input_json()));
    }
    if (metrics_) metrics_->SagaStarted(saga.definition->name);
    engine_.AdmitNew(created->saga_id, created->lease_token, std::move(saga.definition),
                     std::move(saga.input), saga.options.traceparent);
  }
  response->set_saga_id(created->saga_id);
  response->set_created(created->created);
  return absl::OkStatus();
}

absl::Status SagaOperations::StartSaga(const v1::StartSagaRequest& request,
                                       v1::StartSagaResponse* response) {
  if (starts_ == nullptr) {
    absl::StatusOr<store::SagaToCreate> saga = CheckStart(request);
    if (!saga.ok()) return saga.status();
    auto created = store_.CreateSaga(*saga->definition, saga->saga_id, saga->input,
                                     engine_.lease_holder(), saga->options);
    return FinishStart(request, *std::move(saga), std::move(created), response);
  }
  // Shared with the callback: set_value may still be running on the committer's thread when
  // this caller wakes up and returns.
  auto answered = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> answer = answered->get_future();
  StartSagaThen(request, response,
                [answered](absl::Status status) { answered->set_value(std::move(status)); });
  return answer.get();
}

void SagaOperations::StartSagaThen(const v1::StartSagaRequest& request,
                                   v1::StartSagaResponse* response,
                                   std::function<void(absl::Status)> done) {
  if (starts_ == nullptr) return done(StartSaga(request, response));
  absl::StatusOr<store::SagaToCreate> saga = CheckStart(request);
  if (!saga.ok()) return done(saga.status());
  // The batch's commit answers. Shared: a refused Submit drops its callback, and the caller
  // must still be told.
  auto shared_done = std::make_shared<std::function<void(absl::Status)>>(std::move(done));
  absl::Status queued = starts_->Submit(
      *std::move(saga),
      [this, &request, response, shared_done](store::SagaToCreate created_from,
                                              absl::StatusOr<store::CreatedSaga> created) {
        (*shared_done)(FinishStart(request, std::move(created_from), std::move(created), response));
      });
  if (!queued.ok()) {
    if (metrics_ && absl::IsResourceExhausted(queued)) metrics_->LimitExceeded("max_queued_starts");
    (*shared_done)(queued);
  }
}

absl::StatusOr<std::shared_ptr<const core::SagaDefinition>> SagaOperations::DefinitionToStart(
    const std::string& name, int version) {
  const auto key = std::make_pair(name, version);
  if (version > 0) {
    std::lock_guard lock(definitions_mutex_);
    if (auto it = definitions_.find(key); it != definitions_.end()) return it->second;
  }
  auto loaded = store_.GetDefinition(name, version);
  if (!loaded.ok()) return loaded.status();
  auto definition = std::make_shared<const core::SagaDefinition>(*std::move(loaded));
  if (version > 0) {
    std::lock_guard lock(definitions_mutex_);
    if (definitions_.size() >= kMaxCachedDefinitions) definitions_.clear();
    definitions_.emplace(key, definition);
  }
  return definition;
}

absl::Status SagaOperations::GetSaga(const v1::GetSagaRequest& request,
                                     v1::GetSagaResponse* response) {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  auto record = store_.GetSaga(request.saga_id());
  if (!record.ok()) return record.status();
  ToWire(*record, /*with_steps=*/true, *response->mutable_saga());
  return absl::OkStatus();
}

absl::Status SagaOperations::CheckAwait(const v1::AwaitSagaRequest& request) const {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  if (request.timeout_ms() < 0 || request.timeout_ms() > kMaxAwaitMillis) {
    return absl::InvalidArgumentError("timeout_ms: must be from 0 to " +
                                      std::to_string(kMaxAwaitMillis));
  }
  return absl::OkStatus();
}

absl::StatusOr<store::SagaOutcome> SagaOperations::LoadOutcome(const std::string& saga_id) {
  return store_.GetSagaOutcome(saga_id);
}

void SagaOperations::FillAwaitResponse(const store::SagaOutcome& outcome,
                                       v1::AwaitSagaResponse* response) {
  response->set_state(ToWire(outcome.status));
  response->set_error(outcome.error);
  response->set_finished(core::IsTerminal(outcome.status));
}

absl::Status SagaOperations::AwaitSaga(const v1::AwaitSagaRequest& request,
                                       v1::AwaitSagaResponse* response) {
  if (absl::Status valid = CheckAwait(request); !valid.ok()) return valid;
  auto outcome =
      engine_.outcomes().Await(request.saga_id(), std::chrono::milliseconds(request.timeout_ms()),
                               [&] { return store_.GetSagaOutcome(request.saga_id()); });
  if (!outcome.ok()) return outcome.status();
  FillAwaitResponse(*outcome, response);
  return absl::OkStatus();
}

absl::Status SagaOperations::ListSagas(const v1::ListSagasRequest& request,
                                       v1::ListSagasResponse* response) {
  if (request.page_size() > limits_.max_page_size) {
    return OverLimit(
        "max_page_size",
        absl::InvalidArgumentError("page_size: " + std::to_string(request.page_size()) +
                                   ", over the limit of " + std::to_string(limits_.max_page_size) +
                                   " (--max-page-size)"));
  }
  if (request.page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  if (absl::Status name = CheckDefinitionName(request.definition()); !name.ok()) return name;
  store::SagaFilter filter;
  filter.page_size = request.page_size() == 0 ? limits_.default_page_size : request.page_size();
  filter.page_token = request.page_token();
  if (request.state() != v1::SAGA_STATE_UNSPECIFIED) {
    filter.status = FromWire(request.state());
    if (!filter.status) return absl::InvalidArgumentError("state: unknown value");
  }
  if (!request.definition().empty()) filter.definition_name = request.definition();
  for (const auto& [field, text, target] :
       {std::tuple{"created_after", &request.created_after(), &filter.created_after},
        std::tuple{"created_before", &request.created_before(), &filter.created_before}}) {
    if (text->empty()) continue;
    if (absl::Status valid = core::CheckTimestampText(*text); !valid.ok()) {
      return absl::InvalidArgumentError(std::string(field) + ": " + std::string(valid.message()));
    }
    *target = *text;
  }
  if (!request.page_token().empty()) {
    // "<created_at as PostgreSQL prints it>|<saga id>" (store::SagaStore::ListSagas): a
    // token that is not one is refused here, not by PostgreSQL.
    const std::string& token = request.page_token();
    const size_t bar = token.find('|');
    if (token.size() > 200 || bar == std::string::npos ||
        !core::CheckTimestampText(std::string_view(token).substr(0, bar)).ok() ||
        !core::CheckStorableText(token, "page_token").ok()) {
      return absl::InvalidArgumentError("page_token: not a token from a previous listing");
    }
  }
  auto page = store_.ListSagas(filter);
  if (!page.ok()) return page.status();
  for (const store::SagaRecord& record : page->sagas) {
    ToWire(record, /*with_steps=*/false, *response->add_sagas());
  }
  response->set_next_page_token(page->next_page_token);
  return absl::OkStatus();
}

absl::Status SagaOperations::CheckSagaId(const std::string& saga_id) const {
  if (saga_id.empty()) return absl::InvalidArgumentError("saga_id: required, got empty");
  if (saga_id.size() > limits_.max_saga_id_length) {
    return OverLimit("max_name_length",
                     absl::InvalidArgumentError("saga_id: " + std::to_string(saga_id.size()) +
                                                " characters, over the limit of " +
                                                std::to_string(limits_.max_saga_id_length) +
                                                " (--max-name-length)"));
  }
  return core::CheckStorableText(saga_id, "saga_id");
}

absl::Status SagaOperations::CountSagas(const v1::CountSagasRequest& request,
                                        v1::CountSagasResponse* response) {
  if (absl::Status name = CheckDefinitionName(request.definition()); !name.ok()) return name;
  std::optional<std::string> definition;
  if (!request.definition().empty()) definition = request.definition();
  auto counts = store_.CountSagas(definition);
  if (!counts.ok()) return counts.status();
  for (const auto& [status, count] : *counts) {
    (*response->mutable_by_state())[std::string(core::ToString(status))] = count;
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::GetSagaHistory(const v1::GetSagaHistoryRequest& request,
                                            v1::GetSagaHistoryResponse* response) {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  if (request.after_event_id() < 0)
    return absl::InvalidArgumentError("after_event_id: must not be negative");
  // A saga's history is bounded by its steps and their attempts; the cap only keeps one
  // response reasonable, and a watcher asks again from the last id.
  auto events = store_.GetHistory(request.saga_id(), request.after_event_id(), 10'000);
  if (!events.ok()) return events.status();
  for (const store::HistoryRecord& record : *events) {
    v1::SagaEvent* event = response->add_events();
    event->set_id(record.id);
    event->set_at(record.at);
    event->set_type(record.type);
    event->set_step(record.step);
    event->set_phase(record.phase);
    event->set_attempt(record.attempt);
    event->set_detail_json(record.detail_json);
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::CheckOperatorAction(const v1::OperatorActionRequest& request) const {
  if (absl::Status valid = CheckSagaId(request.saga_id()); !valid.ok()) return valid;
  if (request.operator_().empty()) {
    return absl::InvalidArgumentError(
        "operator: required: who takes the action, recorded in the saga's history");
  }
  if (request.reason().empty()) {
    return absl::InvalidArgumentError("reason: required: why, recorded in the saga's history");
  }
  for (const auto& [field, text] :
       {std::pair{"operator", &request.operator_()}, std::pair{"reason", &request.reason()},
        std::pair{"step", &request.step()}}) {
    if (text->size() > limits_.max_operator_text) {
      return OverLimit("max_text_length",
                       absl::InvalidArgumentError(
                           std::string(field) + ": " + std::to_string(text->size()) +
                           " characters, over the limit of " +
                           std::to_string(limits_.max_operator_text) + " (--max-text-length)"));
    }
    // Recorded in the saga's history with the action: a text PostgreSQL refuses would fail
    // the action's commit, after the saga was taken over.
    if (absl::Status storable = core::CheckStorableText(*text, field); !storable.ok()) {
      return storable;
    }
  }
  return absl::OkStatus();
}

absl::Status SagaOperations::SubmitOperatorAction(const v1::OperatorActionRequest& request,
                                                  core::OperatorAction::Kind kind,
                                                  std::function<void(absl::Status)> done,
                                                  const core::AttemptFinished* resolution) {
  if (absl::Status valid = CheckOperatorAction(request); !valid.ok()) return valid;
  auto record = store_.GetSaga(request.saga_id());
  if (!record.ok()) return record.status();
  auto definition = store_.GetDefinition(record->definition_name, record->definition_version);
  if (!definition.ok()) return definition.status();
  core::OperatorAction action{kind, std::nullopt, request.operator_(), request.reason()};
  if (resolution) action.resolution = *resolution;
  if (kind == core::OperatorAction::Kind::kSkip || kind == core::OperatorAction::Kind::kResolve) {
    if (request.step().empty())
      return absl::InvalidArgumentError("step: required: the step to act on");
    for (size_t i = 0; i < definition->steps.size(); ++i) {
      if (definition->steps[i].name == request.step()) action.step = static_cast<int>(i);
    }
    if (!action.step) {
      std::vector<std::string> names;
      for (const core::StepDefinition& step : definition->steps) names.push_back(step.name);
      const std::string near = core::ClosestName(request.step(), names);
      return absl::InvalidArgumentError("step: saga " + request.saga_id() + " has no step \"" +
                                        request.step() + "\"" +
                                        (near.empty() ? "" : " (did you mean \"" + near + "\"?)"));
    }
  }
  // Refused here with the reason when it cannot apply; the engine checks again against the
  // state it holds, which may have moved on meanwhile.
  if (absl::Status allowed = core::CheckOperatorAction(*definition, record->state, action);
      !allowed.ok()) {
    return allowed;
  }
  // The coordinator answering carries the action out: it takes the saga's lease (fencing
  // whichever coordinator drove it, which then lets it go) and hands it to its engine.
  auto token = store_.TakeLease(request.saga_id(), engine_.lease_holder());
  if (!token.ok()) return token.status();
  engine_.Submit(request.saga_id(), *token, action, std::move(done));
  return absl::OkStatus();
}

absl::Status SagaOperations::Act(const v1::OperatorActionRequest& request,
                                 core::OperatorAction::Kind kind,
                                 v1::OperatorActionResponse* response,
                                 const core::AttemptFinished* resolution) {
  auto committed = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> outcome = committed->get_future();
  absl::Status submitted = SubmitOperatorAction(
      request, kind, [committed](absl::Status status) { committed->set_value(std::move(status)); },
      resolution);
  if (!submitted.ok()) return submitted;
  if (outcome.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        "the action was handed to the engine but not recorded within 10 s (is the database "
        "slow?); look at the saga's history before repeating it");
  }
  if (absl::Status status = outcome.get(); !status.ok()) return status;
  std::string done = "step " + request.step() + " skipped";
  if (kind == core::OperatorAction::Kind::kAbort) done = "aborted";
  if (kind == core::OperatorAction::Kind::kRetry) done = "retried";
  if (kind == core::OperatorAction::Kind::kResolve) done = "step " + request.step() + " resolved";
  observability::LogAbout({request.saga_id()}, spdlog::level::info, "{} by {}: {}", done,
                          request.operator_(), request.reason());
  v1::GetSagaRequest get;
  get.set_saga_id(request.saga_id());
  v1::GetSagaResponse saga;
  if (absl::Status status = GetSaga(get, &saga); !status.ok()) return status;
  *response->mutable_saga() = std::move(*saga.mutable_saga());
  return absl::OkStatus();
}

absl::Status SagaOperations::AbortSaga(const v1::OperatorActionRequest& request,
                                       v1::OperatorActionResponse* response) {
  return Act(request, core::OperatorAction::Kind::kAbort, response);
}

absl::Status SagaOperations::RetrySaga(const v1::OperatorActionRequest& request,
                                       v1::OperatorActionResponse* response) {
  return Act(request, core::OperatorAction::Kind::kRetry, response);
}

absl::Status SagaOperations::SkipStep(const v1::OperatorActionRequest& request,
                                      v1::OperatorActionResponse* response) {
  return Act(request, core::OperatorAction::Kind::kSkip, response);
}

absl::StatusOr<core::AttemptFinished> SagaOperations::ReadResult(const v1::StepReply& result,
                                                                 const std::string& field) const {
  const int outcome = result.outcome();
  if (outcome != core::kWireOutcomeSuccess && outcome != core::kWireOutcomeRetryableError &&
      outcome != core::kWireOutcomeBusinessFailure) {
    return absl::InvalidArgumentError(
        field +
        ".outcome: must be OUTCOME_SUCCESS, OUTCOME_RETRYABLE_ERROR or "
        "OUTCOME_BUSINESS_FAILURE, got " +
        std::to_string(outcome));
  }
  // The same checks and bounds as a participant's reply, so that what is recorded is what
  // a reply could have recorded; but a malformed result is the caller's to fix, not a failed
  // attempt.
  core::ParticipantReply reply;
  reply.outcome = outcome;
  reply.output_json = result.output_json();
  reply.error_code = result.error_code();
  reply.error_message = result.error_message();
  core::ReplyLimits limits;
  limits.max_output_bytes = std::min(limits.max_output_bytes, limits_.max_input_bytes);
  core::CallResult classified = core::ClassifyParticipantReply("(completion)", reply, limits);
  const bool malformed = outcome == core::kWireOutcomeSuccess
                             ? classified.outcome != core::AttemptOutcome::kSuccess
                             : classified.error_code != result.error_code();
  if (malformed) {
    const std::string prefix = "participant (completion) ";
    std::string why = classified.error;
    if (why.starts_with(prefix)) why = why.substr(prefix.size());
    return absl::InvalidArgumentError(field + ": " + why);
  }
  core::AttemptFinished finished;
  finished.outcome = classified.outcome;
  finished.output = std::move(classified.output);
  finished.error = std::move(classified.error);
  finished.error_code = std::move(classified.error_code);
  return finished;
}

absl::StatusOr<core::CompletionClaims> SagaOperations::OpenCompletionToken(
    std::string_view token) const {
  if (!tokens_) {
    return absl::UnimplementedError("this coordinator does not serve completion tokens");
  }
  if (token.empty())
    return absl::InvalidArgumentError("completion_token: required: the token of the accepted call");
  return tokens_->Open(token);
}

absl::Status SagaOperations::SubmitAndWait(const std::string& saga_id, core::Event event) {
  auto lease = store_.TakeLease(saga_id, engine_.lease_holder());
  if (!lease.ok()) return lease.status();
  auto recorded = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> outcome = recorded->get_future();
  engine_.Submit(saga_id, *lease, std::move(event),
                 [recorded](absl::Status status) { recorded->set_value(std::move(status)); });
  if (outcome.wait_for(kSubmitWait) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        "handed to the engine but not recorded within 10 s (is the database slow?); repeating "
        "it is safe");
  }
  return outcome.get();
}

absl::Status SagaOperations::CompleteStep(const core::CompletionClaims& claims,
                                          const v1::CompleteStepRequest& request,
                                          v1::CompleteStepResponse* response) {
  auto result = ReadResult(request.result(), "result");
  if (!result.ok()) return result.status();
  result->step = claims.step;
  result->phase = claims.phase;
  result->attempt = claims.attempt;
  auto record = store_.GetSaga(claims.saga_id);
  // A token names a saga that existed; deleted since (retention), it is unknown now.
  if (absl::IsNotFound(record.status())) return core::UnknownCompletionToken();
  if (!record.ok()) return record.status();
  auto definition = store_.GetDefinition(record->definition_name, record->definition_version);
  if (!definition.ok()) return definition.status();
  response->set_saga_id(claims.saga_id);
  if (claims.step < static_cast<int>(definition->steps.size())) {
    response->set_step(definition->steps[claims.step].name);
  }
  core::StepCompleted completion{*std::move(result)};
  // Refused here, without taking the saga over, when it cannot apply; the engine checks
  // again against the state it holds.
  absl::Status applies =
      core::CheckCompletion(*definition, record->state, completion, core::Clock::now());
  if (applies.ok()) applies = SubmitAndWait(claims.saga_id, std::move(completion));
  if (absl::IsAlreadyExists(applies)) {
    response->set_already_completed(true);
    return absl::OkStatus();
  }
  if (applies.ok()) {
    observability::LogAbout({claims.saga_id, response->step(), claims.attempt}, spdlog::level::info,
                            "{} completed", core::ToString(claims.phase));
  }
  return applies;
}

absl::Status SagaOperations::Heartbeat(const core::CompletionClaims& claims,
                                       const v1::HeartbeatRequest& request,
                                       v1::HeartbeatResponse* response) {
  core::HeartbeatReceived heartbeat{claims.step, claims.phase, claims.attempt, nullptr};
  if (!request.details_json().empty()) {
    if (request.details_json().size() > kMaxHeartbeatDetailsBytes) {
      return absl::InvalidArgumentError(
          "details_json: " + std::to_string(request.details_json().size()) +
          " bytes, over the limit of " + std::to_string(kMaxHeartbeatDetailsBytes));
    }
    auto details = core::ParseBoundedJson(request.details_json(), 16);
    if (!details.ok()) {
      return absl::InvalidArgumentError("details_json: " + std::string(details.status().message()));
    }
    if (!details->is_object())
      return absl::InvalidArgumentError("details_json: must be a JSON object");
    if (absl::Status storable = core::CheckStorableJson(*details, "details_json"); !storable.ok()) {
      return storable;
    }
    heartbeat.details = *std::move(details);
  }
  auto record = store_.GetSaga(claims.saga_id);
  if (absl::IsNotFound(record.status())) return core::UnknownCompletionToken();
  if (!record.ok()) return record.status();
  auto definition = store_.GetDefinition(record->definition_name, record->definition_version);
  if (!definition.ok()) return definition.status();
  if (absl::Status applies =
          core::CheckHeartbeat(*definition, record->state, heartbeat, core::Clock::now());
      !applies.ok()) {
    return applies;
  }
  if (absl::Status recorded = SubmitAndWait(claims.saga_id, std::move(heartbeat)); !recorded.ok()) {
    return recorded;
  }
  auto after = store_.GetSaga(claims.saga_id);
  if (!after.ok()) return after.status();
  const core::StepState& step = after->state.steps.at(claims.step);
  if (step.waiting) response->set_heartbeat_deadline(core::Rfc3339Millis(step.waiting->due()));
  return absl::OkStatus();
}

absl::Status SagaOperations::ResolveStep(const v1::ResolveStepRequest& request,
                                         v1::OperatorActionResponse* response) {
  auto result = ReadResult(request.result(), "result");
  if (!result.ok()) return result.status();
  v1::OperatorActionRequest action;
  action.set_saga_id(request.saga_id());
  action.set_step(request.step());
  action.set_operator_(request.operator_());
  action.set_reason(request.reason());
  return Act(action, core::OperatorAction::Kind::kResolve, response, &*result);
}

}  // namespace skald::api
