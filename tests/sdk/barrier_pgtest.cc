// The sub-transaction barrier (skald/barrier.h) against a real PostgreSQL: every ordering of
// actions and compensations, repeats, failures, and concurrent duplicate deliveries. Each
// test checks the participant's own table, test_effects, besides the replies.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "skald/barrier.h"
#include "tests/support/status_matchers.h"
#include "tests/support/test_postgres.h"

namespace skald {
namespace {

using std::chrono::milliseconds;

class BarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url = testing::FreshDatabase("barrier");
    ASSERT_OK(url);
    url_ = *url;
    db_ = std::make_unique<pqxx::connection>(url_);
    ASSERT_OK(ApplyBarrierSchema(*db_));
    pqxx::work tx(*db_);
    tx.exec0(
        "CREATE TABLE test_effects (id serial PRIMARY KEY, saga_id text NOT NULL,"
        " step text NOT NULL, phase text NOT NULL)");
    tx.commit();
    pool_ = NewConnectionPool(url_, 10);
  }

  static StepContext Context(const std::string& saga, const std::string& step, Phase phase) {
    StepContext context;
    context.saga_id = saga;
    context.step = step;
    context.phase = phase;
    context.handler = phase == Phase::kAction ? "charge" : "refund";
    context.attempt = 1;
    context.idempotency_key = saga + "/" + step + "/" + std::string(PhaseName(phase));
    context.deadline = std::chrono::system_clock::now() + std::chrono::seconds(20);
    return context;
  }

  // Inserts one effect row and returns its id.
  static int Effect(pqxx::work& tx, const StepContext& context) {
    return tx
        .exec_params1(
            "INSERT INTO test_effects (saga_id, step, phase) VALUES ($1, $2, $3)"
            " RETURNING id",
            context.saga_id, context.step, std::string(PhaseName(context.phase)))[0]
        .as<int>();
  }

  // An action applying one effect; its output names the effect's id, unique per run.
  StepHandler Action() {
    return Barrier(pool_,
                   [this](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
                     ++action_calls_;
                     return StepResult::Success({{"effect_id", Effect(tx, context)}});
                   });
  }

  StepHandler Compensation() {
    return Barrier(pool_,
                   [this](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
                     ++compensation_calls_;
                     return StepResult::Success({{"undo_id", Effect(tx, context)}});
                   });
  }

  int CountEffects(const std::string& saga, Phase phase) {
    pqxx::work tx(*db_);
    return tx
        .exec_params1("SELECT count(*) FROM test_effects WHERE saga_id = $1 AND phase = $2", saga,
                      std::string(PhaseName(phase)))[0]
        .as<int>();
  }

  // The origin column of the barrier record, if there is one.
  std::optional<std::string> RecordOrigin(const std::string& saga, const std::string& step,
                                          Phase phase) {
    pqxx::work tx(*db_);
    const pqxx::result r = tx.exec_params(
        "SELECT origin FROM skald.barrier WHERE saga_id = $1 AND step = $2 AND phase = $3", saga,
        step, std::string(PhaseName(phase)));
    if (r.empty()) return std::nullopt;
    return r[0][0].as<std::string>();
  }

  static void ExpectSame(const StepResult& a, const StepResult& b) {
    EXPECT_EQ(a.outcome(), b.outcome()) << a.ToString() << " vs " << b.ToString();
    EXPECT_EQ(a.output(), b.output());
    EXPECT_EQ(a.error_code(), b.error_code());
    EXPECT_EQ(a.error_message(), b.error_message());
  }

  std::string url_;
  std::unique_ptr<pqxx::connection> db_;
  std::shared_ptr<ConnectionSource> pool_;
  std::atomic<int> action_calls_{0};
  std::atomic<int> compensation_calls_{0};
};

TEST_F(BarrierTest, ApplyBarrierSchemaIsIdempotent) {
  EXPECT_OK(ApplyBarrierSchema(*db_));
  EXPECT_OK(ApplyBarrierSchema(*db_));
}

TEST_F(BarrierTest, ActionTwiceHasOneEffectAndReturnsTheFirstResult) {
  const StepHandler action = Action();
  const StepResult first = action(Context("s1", "charge", Phase::kAction), {});
  ASSERT_TRUE(first.ok()) << first.ToString();
  ASSERT_TRUE(first.output().contains("effect_id"));
  const StepResult second = action(Context("s1", "charge", Phase::kAction), {});
  ExpectSame(first, second);
  EXPECT_EQ(action_calls_, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), "handler");
}

TEST_F(BarrierTest, CompensationFirstIsNullAndTheLateActionIsRefused) {
  const StepHandler action = Action();
  const StepHandler compensation = Compensation();
  const StepResult compensated = compensation(Context("s1", "charge", Phase::kCompensation), {});
  ASSERT_TRUE(compensated.ok()) << compensated.ToString();
  EXPECT_EQ(compensation_calls_, 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), "null_compensation");

  const StepResult late = action(Context("s1", "charge", Phase::kAction), {});
  EXPECT_EQ(late.outcome(), StepResult::Outcome::kBusinessFailure) << late.ToString();
  EXPECT_EQ(late.error_code(), "compensated_before_action");
  EXPECT_EQ(action_calls_, 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), "refused");

  ExpectSame(late, action(Context("s1", "charge", Phase::kAction), {}));
  ExpectSame(compensated, compensation(Context("s1", "charge", Phase::kCompensation), {}));
  EXPECT_EQ(action_calls_, 0);
  EXPECT_EQ(compensation_calls_, 0);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
  EXPECT_EQ(CountEffects("s1", Phase::kCompensation), 0);
}

TEST_F(BarrierTest, NullCompensationTwiceCallsNoHandler) {
  const StepHandler compensation = Compensation();
  const StepResult first = compensation(Context("s1", "charge", Phase::kCompensation), {});
  const StepResult second = compensation(Context("s1", "charge", Phase::kCompensation), {});
  ASSERT_TRUE(first.ok()) << first.ToString();
  ExpectSame(first, second);
  EXPECT_EQ(compensation_calls_, 0);
  EXPECT_EQ(CountEffects("s1", Phase::kCompensation), 0);
}

TEST_F(BarrierTest, CompensationTwiceAfterActionHasOneEffect) {
  const StepHandler action = Action();
  const StepHandler compensation = Compensation();
  ASSERT_TRUE(action(Context("s1", "charge", Phase::kAction), {}).ok());
  const StepResult first = compensation(Context("s1", "charge", Phase::kCompensation), {});
  ASSERT_TRUE(first.ok()) << first.ToString();
  ASSERT_TRUE(first.output().contains("undo_id"));
  ExpectSame(first, compensation(Context("s1", "charge", Phase::kCompensation), {}));
  EXPECT_EQ(compensation_calls_, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kCompensation), 1);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), "handler");
}

TEST_F(BarrierTest, ActionThenCompensationThenBothRepeated) {
  const StepHandler action = Action();
  const StepHandler compensation = Compensation();
  const StepResult acted = action(Context("s1", "charge", Phase::kAction), {});
  const StepResult compensated = compensation(Context("s1", "charge", Phase::kCompensation), {});
  ASSERT_TRUE(acted.ok()) << acted.ToString();
  ASSERT_TRUE(compensated.ok()) << compensated.ToString();
  for (int i = 0; i < 3; ++i) {
    ExpectSame(acted, action(Context("s1", "charge", Phase::kAction), {}));
    ExpectSame(compensated, compensation(Context("s1", "charge", Phase::kCompensation), {}));
  }
  EXPECT_EQ(action_calls_, 1);
  EXPECT_EQ(compensation_calls_, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
  EXPECT_EQ(CountEffects("s1", Phase::kCompensation), 1);
  // Another saga and another step of the same saga are keyed apart.
  EXPECT_TRUE(action(Context("s2", "charge", Phase::kAction), {}).ok());
  EXPECT_TRUE(action(Context("s1", "reserve", Phase::kAction), {}).ok());
  EXPECT_EQ(action_calls_, 3);
}

TEST_F(BarrierTest, BusinessFailureIsRecordedWithoutEffect) {
  int calls = 0;
  const StepHandler action =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        Effect(tx, context);  // Rolled back: a business failure has no effect.
        return StepResult::BusinessFailure("card_declined", "the card was declined");
      });
  const StepResult first = action(Context("s1", "charge", Phase::kAction), {});
  EXPECT_EQ(first.outcome(), StepResult::Outcome::kBusinessFailure) << first.ToString();
  EXPECT_EQ(first.error_code(), "card_declined");
  EXPECT_EQ(first.error_message(), "the card was declined");
  ExpectSame(first, action(Context("s1", "charge", Phase::kAction), {}));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), "handler");

  // Its compensation has nothing to undo.
  const StepResult compensated = Compensation()(Context("s1", "charge", Phase::kCompensation), {});
  EXPECT_TRUE(compensated.ok()) << compensated.ToString();
  EXPECT_EQ(compensation_calls_, 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), "null_compensation");
}

TEST_F(BarrierTest, ThrowingHandlerRollsBackAndRecordsNothing) {
  int calls = 0;
  const StepHandler action =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        const int id = Effect(tx, context);
        if (calls == 1) throw std::runtime_error("boom");
        return StepResult::Success({{"effect_id", id}});
      });
  const StepResult thrown = action(Context("s1", "charge", Phase::kAction), {});
  EXPECT_TRUE(thrown.retryable()) << thrown.ToString();
  EXPECT_EQ(thrown.error_code(), "handler_exception");
  EXPECT_EQ(thrown.error_message(), "boom");
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), std::nullopt);

  const StepResult retried = action(Context("s1", "charge", Phase::kAction), {});
  ASSERT_TRUE(retried.ok()) << retried.ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
  ExpectSame(retried, action(Context("s1", "charge", Phase::kAction), {}));
  EXPECT_EQ(calls, 2);
}

TEST_F(BarrierTest, RetryableResultRollsBackAndRecordsNothing) {
  int calls = 0;
  const StepHandler action =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        const int id = Effect(tx, context);
        if (calls == 1) return StepResult::Retryable("downstream busy", "busy");
        return StepResult::Success({{"effect_id", id}});
      });
  const StepResult busy = action(Context("s1", "charge", Phase::kAction), {});
  EXPECT_TRUE(busy.retryable()) << busy.ToString();
  EXPECT_EQ(busy.error_code(), "busy");
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), std::nullopt);
  EXPECT_TRUE(action(Context("s1", "charge", Phase::kAction), {}).ok());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
}

TEST_F(BarrierTest, ConcurrentDuplicatesRunTheHandlerOnce) {
  constexpr int kThreads = 8;
  std::atomic<int> calls{0};
  std::atomic<int> ready{0};
  const StepHandler action =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        const int id = Effect(tx, context);
        std::this_thread::sleep_for(milliseconds(300));  // Others pile up on the lock.
        return StepResult::Success({{"effect_id", id}});
      });
  std::vector<std::future<StepResult>> replies;
  for (int i = 0; i < kThreads; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      ++ready;
      // Bounded spin so that every delivery starts at about the same time.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (ready < kThreads && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      return action(Context("s1", "charge", Phase::kAction), {});
    }));
  }
  std::optional<StepResult> success;
  int retryable = 0;
  for (auto& reply : replies) {
    ASSERT_EQ(reply.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    const StepResult result = reply.get();
    if (result.retryable()) {
      EXPECT_EQ(result.error_code(), "barrier_busy") << result.ToString();
      ++retryable;
      continue;
    }
    ASSERT_TRUE(result.ok()) << result.ToString();
    if (success.has_value()) {
      ExpectSame(*success, result);
    } else {
      success = result;
    }
  }
  ASSERT_TRUE(success.has_value());
  EXPECT_LT(retryable, kThreads);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
}

TEST_F(BarrierTest, DeliveryWaitingTooLongIsBusy) {
  std::atomic<bool> entered{false};
  const TxHandler slow = [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
    const int id = Effect(tx, context);
    entered = true;
    std::this_thread::sleep_for(milliseconds(1500));
    return StepResult::Success({{"effect_id", id}});
  };
  const StepHandler action = Barrier(pool_, slow, BarrierOptions{milliseconds(200)});
  auto first = std::async(std::launch::async,
                          [&] { return action(Context("s1", "charge", Phase::kAction), {}); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!entered && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(entered);
  const StepResult second = action(Context("s1", "charge", Phase::kAction), {});
  EXPECT_TRUE(second.retryable()) << second.ToString();
  EXPECT_EQ(second.error_code(), "barrier_busy");
  ASSERT_EQ(first.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  const StepResult acted = first.get();
  ASSERT_TRUE(acted.ok()) << acted.ToString();
  ExpectSame(acted, action(Context("s1", "charge", Phase::kAction), {}));
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
}

// Returns once `context`'s deadline has passed (polled, at most 10 s).
void WaitUntilExpired(const StepContext& context) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!context.expired() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
}

TEST_F(BarrierTest, HandlerOutlivingTheDeadlineIsRolledBackAndRetryable) {
  int calls = 0;
  const StepHandler action =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        const int id = Effect(tx, context);
        if (calls == 1) WaitUntilExpired(context);  // Only the first attempt is too slow.
        return StepResult::Success({{"effect_id", id}});
      });
  StepContext late = Context("s1", "charge", Phase::kAction);
  late.deadline = std::chrono::system_clock::now() + milliseconds(300);
  const StepResult expired = action(late, {});
  EXPECT_TRUE(late.expired());
  EXPECT_TRUE(expired.retryable()) << expired.ToString();
  EXPECT_EQ(expired.error_code(), "deadline_exceeded");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), std::nullopt);

  // The coordinator's retry runs the handler again, and this time it counts.
  const StepResult retried = action(Context("s1", "charge", Phase::kAction), {});
  ASSERT_TRUE(retried.ok()) << retried.ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), "handler");
}

TEST_F(BarrierTest, BusinessFailurePastTheDeadlineIsNotRecorded) {
  int calls = 0;
  const StepHandler compensation =
      Barrier(pool_, [&](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++calls;
        Effect(tx, context);
        if (calls == 1) WaitUntilExpired(context);
        return StepResult::BusinessFailure("refund_refused", "the refund was refused");
      });
  ASSERT_TRUE(Action()(Context("s1", "charge", Phase::kAction), {}).ok());
  StepContext late = Context("s1", "charge", Phase::kCompensation);
  late.deadline = std::chrono::system_clock::now() + milliseconds(300);
  const StepResult expired = compensation(late, {});
  EXPECT_TRUE(expired.retryable()) << expired.ToString();
  EXPECT_EQ(expired.error_code(), "deadline_exceeded");
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), std::nullopt);

  // Had the failure been recorded, the retry would return it without calling the handler.
  const StepResult retried = compensation(Context("s1", "charge", Phase::kCompensation), {});
  EXPECT_EQ(retried.error_code(), "refund_refused") << retried.ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(CountEffects("s1", Phase::kCompensation), 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), "handler");
}

TEST_F(BarrierTest, CallWhoseDeadlinePassedBeforeTheBarrierRunsNothing) {
  StepContext late = Context("s1", "charge", Phase::kAction);
  late.deadline = std::chrono::system_clock::now() - milliseconds(1);
  const StepResult expired = Action()(late, {});
  EXPECT_TRUE(expired.retryable()) << expired.ToString();
  EXPECT_EQ(expired.error_code(), "deadline_exceeded");
  EXPECT_EQ(action_calls_, 0);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kAction), std::nullopt);
}

TEST_F(BarrierTest, CallWithoutDeadlineCommits) {
  StepContext unbounded = Context("s1", "charge", Phase::kAction);
  unbounded.deadline = std::chrono::system_clock::time_point::max();
  const StepResult acted = Action()(unbounded, {});
  ASSERT_TRUE(acted.ok()) << acted.ToString();
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
}

// ---- Accepted steps (issue 17): the record keeps the attempt and its completion token. ----

class AcceptedBarrierTest : public BarrierTest {
 protected:
  // An action applying one effect and answering accepted: the work goes on after the reply.
  StepHandler AcceptingAction() {
    return Barrier(pool_,
                   [this](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
                     ++action_calls_;
                     Effect(tx, context);
                     return StepResult::Accepted();
                   });
  }

  static StepContext Attempt(int attempt, const std::string& token, Phase phase = Phase::kAction) {
    StepContext context = Context("s1", "charge", phase);
    context.attempt = attempt;
    context.completion_token = token;
    return context;
  }

  // "outcome attempt token" of the record, or "none".
  std::string Record(Phase phase) {
    pqxx::work tx(*db_);
    const pqxx::result r = tx.exec_params(
        "SELECT outcome, attempt, completion_token FROM skald.barrier"
        " WHERE saga_id = 's1' AND step = 'charge' AND phase = $1",
        std::string(PhaseName(phase)));
    if (r.empty()) return "none";
    return r[0][0].as<std::string>() + " " + r[0][1].as<std::string>() + " " +
           r[0][2].as<std::string>();
  }
};

TEST_F(AcceptedBarrierTest, DuplicateOfTheSameAttemptIsAcceptedAgainWithoutRerunning) {
  const StepHandler action = AcceptingAction();
  EXPECT_TRUE(action(Attempt(1, "tok-1"), {}).accepted());
  EXPECT_EQ(Record(Phase::kAction), "accepted 1 tok-1");
  for (int i = 0; i < 3; ++i) {
    const StepResult repeat = action(Attempt(1, "tok-1"), {});
    EXPECT_TRUE(repeat.accepted()) << repeat.ToString();
  }
  EXPECT_EQ(action_calls_, 1);
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 1);
  EXPECT_EQ(Record(Phase::kAction), "accepted 1 tok-1");
}

TEST_F(AcceptedBarrierTest, NewAttemptRunsTheHandlerAgainUnderItsTokenAndOldOnesAreStale) {
  const StepHandler action = AcceptingAction();
  ASSERT_TRUE(action(Attempt(1, "tok-1"), {}).accepted());
  // The first attempt's heartbeats stopped: the coordinator calls again, attempt 2.
  const StepResult second = action(Attempt(2, "tok-2"), {});
  EXPECT_TRUE(second.accepted()) << second.ToString();
  EXPECT_EQ(action_calls_, 2);
  EXPECT_EQ(Record(Phase::kAction), "accepted 2 tok-2");
  // A duplicate of attempt 2 does not restart the work again.
  EXPECT_TRUE(action(Attempt(2, "tok-2"), {}).accepted());
  EXPECT_EQ(action_calls_, 2);
  // A late duplicate of attempt 1 runs nothing: its token is dead.
  const StepResult stale = action(Attempt(1, "tok-1"), {});
  EXPECT_TRUE(stale.retryable()) << stale.ToString();
  EXPECT_EQ(stale.error_code(), "stale_attempt");
  EXPECT_EQ(action_calls_, 2);
  EXPECT_EQ(Record(Phase::kAction), "accepted 2 tok-2");
  // The accepted attempt's writes were committed; the restart added its own.
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 2);
}

TEST_F(AcceptedBarrierTest, NewAttemptMayFinishAtOnceAndThatResultIsFinal) {
  const StepHandler action =
      Barrier(pool_, [this](pqxx::work& tx, const StepContext& context, const nlohmann::json&) {
        ++action_calls_;
        if (context.attempt == 1) return StepResult::Accepted();
        return StepResult::Success({{"effect_id", Effect(tx, context)}});
      });
  ASSERT_TRUE(action(Attempt(1, "tok-1"), {}).accepted());
  const StepResult done = action(Attempt(2, "tok-2"), {});
  ASSERT_TRUE(done.ok()) << done.ToString();
  EXPECT_EQ(Record(Phase::kAction), "success 2 tok-2");
  // From now on every delivery, whatever its attempt, gets the recorded success.
  ExpectSame(done, action(Attempt(3, "tok-3"), {}));
  ExpectSame(done, action(Attempt(1, "tok-1"), {}));
  EXPECT_EQ(action_calls_, 2);
}

TEST_F(AcceptedBarrierTest, CompensationOfAnAcceptedActionCallsItsHandler) {
  ASSERT_TRUE(AcceptingAction()(Attempt(1, "tok-1"), {}).accepted());
  const StepHandler compensation = Compensation();
  const StepResult undone = compensation(Attempt(1, "tok-c1", Phase::kCompensation), {});
  ASSERT_TRUE(undone.ok()) << undone.ToString();
  EXPECT_TRUE(undone.output().contains("undo_id")) << undone.output();
  EXPECT_EQ(compensation_calls_, 1);
  EXPECT_EQ(RecordOrigin("s1", "charge", Phase::kCompensation), "handler");
}

TEST_F(AcceptedBarrierTest, AcceptedCompensationIsKeptLikeAnAcceptedAction) {
  const StepHandler compensation =
      Barrier(pool_, [this](pqxx::work&, const StepContext&, const nlohmann::json&) {
        ++compensation_calls_;
        return StepResult::Accepted();
      });
  // The action succeeded, so the compensation handler is asked; it answers accepted.
  ASSERT_TRUE(Action()(Attempt(1, ""), {}).ok());
  EXPECT_TRUE(compensation(Attempt(1, "tok-c1", Phase::kCompensation), {}).accepted());
  EXPECT_TRUE(compensation(Attempt(1, "tok-c1", Phase::kCompensation), {}).accepted());
  EXPECT_EQ(compensation_calls_, 1);
  EXPECT_EQ(Record(Phase::kCompensation), "accepted 1 tok-c1");
}

TEST_F(AcceptedBarrierTest, AcceptedWithoutATokenIsRolledBackAndNotRecorded) {
  const StepResult result = AcceptingAction()(Attempt(1, ""), {});
  EXPECT_TRUE(result.retryable()) << result.ToString();
  EXPECT_EQ(result.error_code(), "no_completion_token");
  EXPECT_EQ(Record(Phase::kAction), "none");
  EXPECT_EQ(CountEffects("s1", Phase::kAction), 0);
}

// The Go SDK's TestPGApplyBarrierSchemaMakesTheCppTableAndIsIdempotentUnderConcurrency
// expects exactly these columns: both SDKs share the table.
TEST_F(BarrierTest, TableHasTheColumnsTheGoSdkExpects) {
  pqxx::work tx(*db_);
  const pqxx::result columns = tx.exec(
      "SELECT column_name || ' ' || data_type || ' ' || is_nullable FROM"
      " information_schema.columns WHERE table_schema = 'skald' AND table_name = 'barrier'"
      " ORDER BY ordinal_position");
  std::vector<std::string> names;
  for (const pqxx::row& row : columns) names.push_back(row[0].as<std::string>());
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "saga_id text NO", "step text NO", "phase text NO", "handler text NO",
                "origin text NO", "outcome text NO", "output_json text NO", "error_code text NO",
                "error_message text NO", "recorded_at timestamp with time zone NO",
                "attempt integer NO", "completion_token text NO"}));
}

// A database whose skald.barrier was made by an SDK before accepted steps: its rows stay
// valid and it can record accepted ones after ApplyBarrierSchema.
TEST(BarrierSchemaUpgradeTest, TableFromBeforeAcceptedStepsGainsAcceptedAndKeepsItsRows) {
  absl::StatusOr<std::string> url = testing::FreshDatabase("barrier_upgrade");
  ASSERT_OK(url);
  pqxx::connection db(*url);
  {
    pqxx::work tx(db);
    tx.exec0(
        "CREATE SCHEMA skald; CREATE TABLE skald.barrier ("
        " saga_id text NOT NULL, step text NOT NULL,"
        " phase text NOT NULL CHECK (phase IN ('action', 'compensation')),"
        " handler text NOT NULL,"
        " origin text NOT NULL CHECK (origin IN ('handler', 'null_compensation', 'refused')),"
        " outcome text NOT NULL CHECK (outcome IN ('success', 'business_failure')),"
        " output_json text NOT NULL, error_code text NOT NULL, error_message text NOT NULL,"
        " recorded_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (saga_id, step, phase));"
        "INSERT INTO skald.barrier VALUES ('old', 'charge', 'action', 'charge', 'handler',"
        " 'success', '{\"id\": 7}', '', '', now())");
    tx.commit();
  }
  ASSERT_OK(ApplyBarrierSchema(db));
  ASSERT_OK(ApplyBarrierSchema(db));  // The second run changes nothing.
  std::shared_ptr<ConnectionSource> pool = NewConnectionPool(*url, 2);
  int calls = 0;
  const StepHandler action =
      Barrier(pool, [&](pqxx::work&, const StepContext&, const nlohmann::json&) {
        ++calls;
        return StepResult::Accepted();
      });
  StepContext context;
  context.saga_id = "new";
  context.step = "charge";
  context.handler = "charge";
  context.attempt = 1;
  context.completion_token = "tok-1";
  const StepResult accepted = action(context, {});
  EXPECT_TRUE(accepted.accepted()) << accepted.ToString();
  context.saga_id = "old";
  const StepResult old = action(context, {});
  ASSERT_TRUE(old.ok()) << old.ToString();
  EXPECT_EQ(old.output(), (nlohmann::json{{"id", 7}}));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace skald
