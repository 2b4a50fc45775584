// A saga this coordinator holds the lease of but never drove — created in the database while
// the API never handed it to the engine, as when a client saw its StartSaga's commit fail in
// doubt and the saga existed after all — is taken up by the engine's self-check, instead of
// having its lease renewed for ever with nothing happening (found by FaultTest's database
// restarts; issue 13).
#include <gtest/gtest.h>

#include "coordinator/store/connection.h"
#include "coordinator/store/postgres_saga_store.h"
#include "tests/e2e/saga_harness.h"

namespace skald::testing {
namespace {

using nlohmann::json;

TEST(UnattendedLeaseTest, ASagaLeasedHereButNeverAdmittedIsTakenUp) {
  auto harness = SagaHarness::Start(1, {"--node-id", "unattended-node", "--lease-ttl", "2s"});
  ASSERT_TRUE(harness.ok()) << harness.status();
  SagaHarness& h = **harness;
  ASSERT_TRUE(h.Apply({{"name", "lonely"},
                       {"version", 1},
                       {"steps", {{{"name", "only"}, {"participant", "p0"}, {"action", "echo"}}}}})
                  .ok())
      << h.Logs();
  // What StartSaga's store call does, without the engine being told.
  store::ConnectionPool pool(h.coordinator().db_uri(), 1);
  store::PostgresSagaStore sagas(pool);
  auto definition = sagas.GetDefinition("lonely", 1);
  ASSERT_TRUE(definition.ok()) << definition.status();
  auto created = sagas.CreateSaga(*definition, "never-admitted", json::object(),
                                  {"unattended-node", std::chrono::seconds(2)});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(created->created);
  // Two self-checks (5 s apart) see its lease held and renewed without a saga in memory.
  auto ended = h.coordinator().WaitForEnd("never-admitted", absl::Seconds(30));
  ASSERT_TRUE(ended.ok()) << ended.status() << "\n" << h.Logs();
  EXPECT_EQ(ended->state(), v1::SAGA_STATE_COMPLETED);
  EXPECT_NE(h.coordinator().Log().find("holds the saga's lease but was not driving it"),
            std::string::npos);
}

}  // namespace
}  // namespace skald::testing
