// SagaOperations::StartSaga reads a definition asked for by version once (immutable once
// applied), and the latest (version 0) every time.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "coordinator/api/saga_operations.h"
#include "coordinator/core/definition_parser.h"
#include "tests/sim/memory_saga_store.h"

namespace skald {
namespace {

class NoCalls final : public engine::CallTransport {
 public:
  void Call(const std::string&, const v1::StepCall&, std::chrono::milliseconds,
            std::function<void(engine::CallResult)>) override {}
  void CancelAndDrain() override {}
  size_t in_flight() const override { return 0; }
};

TEST(StartDefinitionCacheTest, AVersionIsReadOnceTheLatestEveryTime) {
  spdlog::set_level(spdlog::level::warn);
  sim::MemorySagaStore store(sim::MemorySagaStoreOptions{.now = [] { return core::Clock::now(); }});
  int reads = 0;
  store.SetFaultHook([&](const sim::StoreCall& call) -> std::optional<sim::StoreFault> {
    if (call.operation == sim::StoreOperation::kGetDefinition) ++reads;
    return std::nullopt;
  });
  for (int version : {1, 2}) {
    auto definition = core::ParseDefinition(
        R"({"name": "d", "version": )" + std::to_string(version) +
            R"(, "steps": [{"name": "a", "participant": "p:1", "action": "a.do"}]})",
        {});
    ASSERT_TRUE(definition.ok()) << definition.status();
    ASSERT_TRUE(store.PutDefinition(*definition).ok());
  }
  NoCalls transport;
  engine::CallRouter router(transport, nullptr);
  engine::Engine engine(store, router);  // Never started: the sagas are only admitted.
  api::SagaOperations operations(store, engine);
  const auto start = [&](int version) {
    v1::StartSagaRequest request;
    request.set_definition("d");
    request.set_version(version);
    v1::StartSagaResponse response;
    return operations.StartSaga(request, &response);
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(start(1).ok());
  EXPECT_EQ(reads, 1) << "version 1 was read more than once";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(start(0).ok());
  EXPECT_EQ(reads, 4) << "the latest version must be read at each start";
  // A version never applied is still NOT_FOUND, each time.
  EXPECT_EQ(start(3).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(start(3).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skald
