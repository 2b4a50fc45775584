// StartSaga's group commit against the real coordinator: many clients start at once, the
// coordinator is SIGKILLed while answers are still arriving, and every start it answered OK
// is in the database (a start is acknowledged only after the commit of its batch).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/e2e/coordinator_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_postgres.h"

namespace skald::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// One StartSaga call of the asynchronous client, alive until its callback ran.
struct StartCall {
  grpc::ClientContext context;
  v1::StartSagaRequest request;
  v1::StartSagaResponse response;
};

TEST(StartGroupCommitTest, NoAcknowledgedStartIsLostWhenTheCoordinatorIsKilled) {
  auto dir = TempDir::Create("skald-startgc-");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto db = FreshDatabase("startgc");
  ASSERT_TRUE(db.ok()) << db.status();
  CoordinatorProcess coordinator(dir->path(), *db);
  ASSERT_TRUE(coordinator.Start().ok()) << coordinator.LogTail();
  // Nobody serves the step: the sagas only have to be created.
  const json definition = {{"name", "kill-start"},
                           {"version", 1},
                           {"steps",
                            {{{"name", "only"},
                              {"participant", "127.0.0.1:1"},
                              {"action", "a"},
                              {"compensation", "c"}}}}};
  ASSERT_TRUE(coordinator.Apply(definition).ok());

  constexpr int kStarts = 1'000;
  constexpr int kKillAfterAcks = 200;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> acknowledged;
  int answered = 0;
  std::vector<std::unique_ptr<StartCall>> calls;
  calls.reserve(kStarts);
  for (int i = 0; i < kStarts; ++i) {
    auto call = std::make_unique<StartCall>();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->request.set_definition("kill-start");
    call->request.set_saga_id("k-" + std::to_string(i));
    call->request.set_input_json(R"({"i": )" + std::to_string(i) + "}");
    StartCall* raw = call.get();
    coordinator.client().async()->StartSaga(&raw->context, &raw->request, &raw->response,
                                            [&, raw](grpc::Status status) {
                                              std::lock_guard lock(mutex);
                                              if (status.ok())
                                                acknowledged.push_back(raw->request.saga_id());
                                              ++answered;
                                              changed.notify_all();
                                            });
    calls.push_back(std::move(call));
  }
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(60), [&] {
      return static_cast<int>(acknowledged.size()) >= kKillAfterAcks || answered == kStarts;
    })) << coordinator.LogTail();
  }
  ASSERT_TRUE(coordinator.Stop(SIGKILL).ok());
  std::vector<std::string> acked;
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(60), [&] {
      return answered == kStarts;
    })) << "calls still unanswered after the kill";
    acked = acknowledged;
  }
  ASSERT_GE(static_cast<int>(acked.size()), kKillAfterAcks);
  std::string array = "{";
  for (size_t i = 0; i < acked.size(); ++i) array += (i ? "," : "") + acked[i];
  array += "}";
  const long long stored =
      QueryCount(*db, "SELECT count(*) FROM sagas WHERE id = ANY($1::text[])", array);
  std::cout << acked.size() << " of " << kStarts << " starts acknowledged before the kill, "
            << stored << " of them stored\n";
  EXPECT_EQ(stored, static_cast<long long>(acked.size())) << "an acknowledged start was lost";
  // Each stored saga is whole: its step and its creation event were committed with it.
  EXPECT_EQ(QueryCount(*db,
                       "SELECT count(*) FROM sagas s WHERE NOT EXISTS (SELECT 1 FROM "
                       "saga_steps t WHERE t.saga_id = s.id) OR NOT EXISTS (SELECT 1 FROM "
                       "saga_events e WHERE e.saga_id = s.id AND e.type = 'saga_created')"),
            0);
}

}  // namespace
}  // namespace skald::testing
