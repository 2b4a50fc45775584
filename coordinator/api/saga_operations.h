#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "coordinator/api/api_limits.h"
#include "coordinator/api/completion_tokens.h"
#include "coordinator/api/start_batcher.h"
#include "coordinator/core/definition_parser.h"
#include "coordinator/engine/engine.h"
#include "coordinator/observability/coordinator_metrics.h"
#include "coordinator/store/registry_store.h"
#include "coordinator/store/saga_store.h"
#include "skald/v1/saga_service.pb.h"

namespace skald::api {

// What the client API does, independent of the transport: the gRPC SagaService and the
// HTTP JSON API both call these. Each validates its request (INVALID_ARGUMENT naming the
// field), does its work as short database transactions, and fills `response`. Thread-safe.
class SagaOperations {
 public:
  // `metrics`, when given, counts the sagas started; `tokens`, when given, opens completion
  // tokens (without, CompleteStep and Heartbeat answer UNIMPLEMENTED). Both must outlive
  // this object.
  // `starts`, when given, group-commits the sagas started (see StartBatcher); without, each
  // start is created on the caller's thread, on its own (the simulator, which runs on one
  // thread). It must outlive this object and lease to this engine's holder.
  SagaOperations(store::SagaStore& store, engine::Engine& engine, ApiLimits limits = {},
                 observability::CoordinatorMetrics* metrics = nullptr,
                 const CompletionTokens* tokens = nullptr, StartBatcher* starts = nullptr)
      : store_(store),
        engine_(engine),
        limits_(limits),
        metrics_(metrics),
        tokens_(tokens),
        starts_(starts) {}

  absl::Status ApplyDefinition(const v1::ApplyDefinitionRequest& request,
                               v1::ApplyDefinitionResponse* response);
  // Returns the stored document of definition `name` at `version` (0: the latest).
  absl::Status GetDefinition(const v1::GetDefinitionRequest& request,
                             v1::GetDefinitionResponse* response);
  // Blocks until the saga is created (committed) and handed to the engine, or refused.
  absl::Status StartSaga(const v1::StartSagaRequest& request, v1::StartSagaResponse* response);
  // StartSaga without blocking on the commit: `done` runs once with StartSaga's status — at
  // once (on the caller's thread) for a request refused before the database, otherwise after
  // the commit of the batch the saga joined (on a StartBatcher thread). The saga is admitted
  // to the engine and `response` filled before `done` runs. REQUIRES: `request` and
  // `response` outlive that call.
  void StartSagaThen(const v1::StartSagaRequest& request, v1::StartSagaResponse* response,
                     std::function<void(absl::Status)> done);
  absl::Status GetSaga(const v1::GetSagaRequest& request, v1::GetSagaResponse* response);
  // Waits (blocking the caller) up to the request's timeout for the saga to end. The gRPC
  // service waits without a thread instead (SagaWaiters), with the three below.
  absl::Status AwaitSaga(const v1::AwaitSagaRequest& request, v1::AwaitSagaResponse* response);
  // Validates an AwaitSaga request (saga id, timeout).
  absl::Status CheckAwait(const v1::AwaitSagaRequest& request) const;
  // The saga's stored state; NOT_FOUND when there is none.
  absl::StatusOr<store::SagaOutcome> LoadOutcome(const std::string& saga_id);
  static void FillAwaitResponse(const store::SagaOutcome& outcome, v1::AwaitSagaResponse* response);
  engine::SagaOutcomes& outcomes() { return engine_.outcomes(); }
  absl::Status ListSagas(const v1::ListSagasRequest& request, v1::ListSagasResponse* response);
  absl::Status CountSagas(const v1::CountSagasRequest& request, v1::CountSagasResponse* response);
  absl::Status GetSagaHistory(const v1::GetSagaHistoryRequest& request,
                              v1::GetSagaHistoryResponse* response);
  absl::Status AbortSaga(const v1::OperatorActionRequest& request,
                         v1::OperatorActionResponse* response);
  absl::Status RetrySaga(const v1::OperatorActionRequest& request,
                         v1::OperatorActionResponse* response);
  absl::Status SkipStep(const v1::OperatorActionRequest& request,
                        v1::OperatorActionResponse* response);
  // What AbortSaga, RetrySaga and SkipStep do before they wait: checks that the action
  // applies, takes the saga's lease for this coordinator and hands the action to its engine,
  // without waiting. `done` runs once, on the engine's thread, when the action is recorded or
  // refused there (see engine::Engine::Submit); when an error is returned, it never runs.
  // For a caller that cannot block while the engine works (the simulator drives both on one
  // thread).
  absl::Status SubmitOperatorAction(const v1::OperatorActionRequest& request,
                                    core::OperatorAction::Kind kind,
                                    std::function<void(absl::Status)> done,
                                    const core::AttemptFinished* resolution = nullptr);

  // Long-running steps. What a completion token is for: NOT_FOUND "unknown or forged
  // completion token" for one this cluster did not mint (checked before anything else, so
  // that the caller's namespace can be checked on the saga it names).
  absl::StatusOr<core::CompletionClaims> OpenCompletionToken(std::string_view token) const;
  // Records the result of the accepted attempt `claims` names (see core::CheckCompletion
  // for what is refused); a repeat of the recorded result is OK with already_completed.
  // The coordinator answering takes the saga's lease and has its own engine record it, so
  // it works whichever coordinator drove the saga, or if that one is gone.
  absl::Status CompleteStep(const core::CompletionClaims& claims,
                            const v1::CompleteStepRequest& request,
                            v1::CompleteStepResponse* response);
  // Moves the heartbeat deadline of the accepted attempt `claims` names.
  absl::Status Heartbeat(const core::CompletionClaims& claims, const v1::HeartbeatRequest& request,
                         v1::HeartbeatResponse* response);
  // An operator completes or fails a waiting step by hand (recorded in the history).
  absl::Status ResolveStep(const v1::ResolveStepRequest& request,
                           v1::OperatorActionResponse* response);

 private:
  // Validates the common fields of an operator's action.
  absl::Status CheckOperatorAction(const v1::OperatorActionRequest& request) const;
  // Checks that the action applies, has this coordinator's engine carry it out, and waits
  // (at most 10 s) until it is recorded.
  absl::Status Act(const v1::OperatorActionRequest& request, core::OperatorAction::Kind kind,
                   v1::OperatorActionResponse* response,
                   const core::AttemptFinished* resolution = nullptr);
  // Returns the result a completion (or an operator's resolution) carries, as a reply of
  // the attempt would be decided; INVALID_ARGUMENT naming `field` for one that is not a
  // result or does not pass the reply limits.
  absl::StatusOr<core::AttemptFinished> ReadResult(const v1::StepReply& result,
                                                   const std::string& field) const;
  // Hands `event` to this coordinator's engine under the saga's lease, taken for it, and
  // waits (at most 10 s) until it is recorded or refused.
  absl::Status SubmitAndWait(const std::string& saga_id, core::Event event);
  // Validates a start request and returns the saga to create from it.
  absl::StatusOr<store::SagaToCreate> CheckStart(const v1::StartSagaRequest& request);
  // What follows the creation of `saga` (`created`, or why not): hands a saga created now to
  // the engine and fills `response`; returns the start's status.
  absl::Status FinishStart(const v1::StartSagaRequest& request, store::SagaToCreate saga,
                           absl::StatusOr<store::CreatedSaga> created,
                           v1::StartSagaResponse* response);
  absl::Status CheckSagaId(const std::string& saga_id) const;
  // INVALID_ARGUMENT naming --max-name-length (and counted) when a definition name is too long.
  absl::Status CheckDefinitionName(const std::string& name) const;
  // Returns `status`, counted as a refusal by `limit` ("max_input_bytes", ...).
  absl::Status OverLimit(std::string_view limit, absl::Status status) const;
  // The definition a saga is started with: a version asked for by number is immutable once
  // applied, so it is read and parsed once and kept; version 0 (the latest) is read each time,
  // since another coordinator may apply a new version at any moment.
  absl::StatusOr<std::shared_ptr<const core::SagaDefinition>> DefinitionToStart(
      const std::string& name, int version);

  store::SagaStore& store_;
  engine::Engine& engine_;
  const ApiLimits limits_;
  observability::CoordinatorMetrics* const metrics_;
  const CompletionTokens* const tokens_;
  StartBatcher* const starts_;
  // Definitions by (name, version), bounded: cleared when full.
  static constexpr size_t kMaxCachedDefinitions = 1'024;
  std::mutex definitions_mutex_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const core::SagaDefinition>> definitions_;
};

}  // namespace skald::api
