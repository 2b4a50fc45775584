#include "bench/noop_participants.h"

#include <pqxx/pqxx>

#include "skald/barrier.h"

namespace skald::bench {
namespace {

// Fails for good at the last step (s<N>) of a saga that asks for it; the step's name says
// which it is, since every scenario names its steps s1..sN and the input says N.
bool ShouldFail(const StepContext& context, const nlohmann::json& input) {
  if (!input.is_object() || !input.value("fail", false)) return false;
  return context.step == "s" + std::to_string(input.value("steps", 0));
}

StepResult Answer(const StepContext& context, const nlohmann::json& input) {
  // Sagas that should sit in a retry backoff (the idle-cost check).
  if (context.phase == Phase::kAction && input.is_object() && input.value("wait", false)) {
    return StepResult::Retryable("the benchmark asked this step to wait");
  }
  if (context.phase == Phase::kAction && ShouldFail(context, input)) {
    return StepResult::BusinessFailure("declined", "the benchmark asked this step to fail");
  }
  return StepResult::Success();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NoopParticipants>> NoopParticipants::Start(
    const std::string& barrier_database_uri) {
  std::unique_ptr<NoopParticipants> participants(new NoopParticipants());
  auto calls = participants->calls_;
  StepHandler plain = [calls](const StepContext& context, const nlohmann::json& input) {
    calls->fetch_add(1, std::memory_order_relaxed);
    return Answer(context, input);
  };
  participants->plain_.on_action("act", plain);
  participants->plain_.on_compensation("undo", plain);
  if (auto s = participants->plain_.Start("127.0.0.1:0"); !s.ok()) return s;
  participants->plain_address_ = participants->plain_.address();

  try {
    pqxx::connection setup(barrier_database_uri);
    if (auto s = ApplyBarrierSchema(setup); !s.ok()) return s;
  } catch (const std::exception& e) {
    return absl::UnavailableError(std::string("barrier database: ") + e.what());
  }
  auto pool = NewConnectionPool(barrier_database_uri, 16);
  TxHandler in_barrier = [calls](pqxx::work&, const StepContext& context,
                                 const nlohmann::json& input) {
    calls->fetch_add(1, std::memory_order_relaxed);
    return Answer(context, input);
  };
  participants->barrier_.on_action("act", Barrier(pool, in_barrier));
  participants->barrier_.on_compensation("undo", Barrier(pool, in_barrier));
  if (auto s = participants->barrier_.Start("127.0.0.1:0"); !s.ok()) return s;
  participants->barrier_address_ = participants->barrier_.address();
  return participants;
}

NoopParticipants::~NoopParticipants() {
  plain_.Shutdown(std::chrono::seconds(1));
  barrier_.Shutdown(std::chrono::seconds(1));
}

}  // namespace skald::bench
