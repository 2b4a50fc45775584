// ParticipantServer's registration with a coordinator, against a recording
// skald.v1.ParticipantRegistry served on loopback by the test itself: the SDK's client is
// what is under test, so the registry only records what reaches it and answers as told.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "skald/participant_server.h"
#include "skald/v1/participant.grpc.pb.h"
#include "skald/v1/registry.grpc.pb.h"

namespace skald {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Steady = std::chrono::steady_clock;

// One request as the registry received it.
struct Received {
  enum class Kind { kRegister, kDeregister };
  Kind kind = Kind::kRegister;
  v1::RegisterRequest register_request;
  v1::DeregisterRequest deregister_request;
  Steady::time_point at;
  // For a Deregister: whether the participant still answered a call when it arrived.
  std::optional<bool> participant_served;
};

// Records every Register and Deregister and answers them as the test says.
class RecordingRegistry final : public v1::ParticipantRegistry::Service {
 public:
  // What Register answers from now on, when it succeeds.
  void AnswerWith(int ttl_ms, int renew_interval_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    ttl_ms_ = ttl_ms;
    renew_interval_ms_ = renew_interval_ms;
  }

  // Register fails with `status` from now on; grpc::Status::OK makes it succeed again.
  void FailWith(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(status);
  }

  // While held, Register records the request and then blocks (at most 20 s) before
  // answering: an unresponsive coordinator.
  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    changed_.notify_all();
  }

  // Run by Deregister when a request arrives; its result is recorded as participant_served.
  void OnDeregister(std::function<bool()> probe) {
    std::lock_guard<std::mutex> lock(mu_);
    probe_ = std::move(probe);
  }

  grpc::Status Register(grpc::ServerContext*, const v1::RegisterRequest* request,
                        v1::RegisterReply* reply) override {
    std::unique_lock<std::mutex> lock(mu_);
    received_.push_back(
        Received{.kind = Received::Kind::kRegister, .register_request = *request, .at = Now()});
    changed_.notify_all();
    changed_.wait_for(lock, seconds(20), [this] { return !hold_; });
    if (!failure_.ok()) return failure_;
    reply->set_ttl_ms(ttl_ms_);
    reply->set_renew_interval_ms(renew_interval_ms_);
    return grpc::Status::OK;
  }

  grpc::Status Deregister(grpc::ServerContext*, const v1::DeregisterRequest* request,
                          v1::DeregisterReply* reply) override {
    std::function<bool()> probe;
    {
      std::lock_guard<std::mutex> lock(mu_);
      probe = probe_;
    }
    std::optional<bool> served;
    if (probe) served = probe();
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(Received{.kind = Received::Kind::kDeregister,
                                 .deregister_request = *request,
                                 .at = Now(),
                                 .participant_served = served});
    changed_.notify_all();
    reply->set_removed(true);
    return grpc::Status::OK;
  }

  // Returns true once `done(received)` holds, false if `timeout` passed first.
  bool WaitUntil(const std::function<bool(const std::vector<Received>&)>& done,
                 milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return done(received_); });
  }

  // Returns true once `n` Registers arrived, false if `timeout` passed first.
  bool WaitForRegisters(int n, milliseconds timeout) {
    return WaitUntil(
        [n](const std::vector<Received>& all) {
          return Registers(all).size() >= static_cast<size_t>(n);
        },
        timeout);
  }

  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

  static std::vector<Received> Registers(const std::vector<Received>& all) {
    std::vector<Received> registers;
    for (const Received& r : all) {
      if (r.kind == Received::Kind::kRegister) registers.push_back(r);
    }
    return registers;
  }

 private:
  static Steady::time_point Now() { return Steady::now(); }

  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Received> received_;
  int ttl_ms_ = 10'000;
  int renew_interval_ms_ = 3'000;
  grpc::Status failure_ = grpc::Status::OK;
  bool hold_ = false;
  std::function<bool()> probe_;
};

// Serves a RecordingRegistry on loopback.
class RegistryServer {
 public:
  // Serves `registry` on `address`; "127.0.0.1:0" picks a free port.
  explicit RegistryServer(RecordingRegistry* registry, const std::string& address = "127.0.0.1:0") {
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(registry);
    server_ = builder.BuildAndStart();
  }
  ~RegistryServer() { Stop(); }

  bool ok() const { return server_ != nullptr && port_ != 0; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void Stop() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now() + seconds(1));
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// Returns true once `condition` holds, polling every 10 ms; false if `timeout` passed first.
bool Eventually(const std::function<bool()>& condition, milliseconds timeout) {
  const Steady::time_point give_up = Steady::now() + timeout;
  while (!condition()) {
    if (Steady::now() >= give_up) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

milliseconds Since(Steady::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Steady::now() - start);
}

class RegistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    participant_.on_action("reserve", [](const StepContext&, const nlohmann::json&) {
      return StepResult::Success({{"reserved", true}});
    });
    participant_.on_action(
        "check", [](const StepContext&, const nlohmann::json&) { return StepResult::Success(); });
    participant_.on_compensation(
        "release", [](const StepContext&, const nlohmann::json&) { return StepResult::Success(); });
  }

  void TearDown() override {
    registry_.Hold(false);  // A held Register would keep the registry server from stopping.
    participant_.Shutdown(seconds(1));
  }

  // Starts the registry on a free port.
  void StartRegistry() {
    registry_server_ = std::make_unique<RegistryServer>(&registry_);
    ASSERT_TRUE(registry_server_->ok());
  }

  ParticipantServer::RegistrationOptions Options(milliseconds ttl = seconds(10)) {
    return ParticipantServer::RegistrationOptions{
        .coordinator_address = registry_server_->address(),
        .service = "inventory",
        .advertise_address = "",
        .ttl = ttl,
    };
  }

  // Returns whether the participant answers an action call within 500 ms.
  bool ParticipantServes(const std::string& address) {
    auto stub =
        v1::Participant::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
    v1::StepCall call;
    call.set_saga_id("saga-1");
    call.set_step("reserve-stock");
    call.set_handler("reserve");
    v1::StepReply reply;
    return stub->ExecuteAction(&context, call, &reply).ok() &&
           reply.outcome() == v1::OUTCOME_SUCCESS;
  }

  RecordingRegistry registry_;
  std::unique_ptr<RegistryServer> registry_server_;
  // Declared last: destroyed (and deregistered) before the registry stops.
  ParticipantServer participant_;
};

TEST_F(RegistrationTest, RegisterCarriesServiceInstanceAddressHandlersAndTtl) {
  StartRegistry();
  participant_.register_with(Options(milliseconds(7'000)));
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());

  // Start() registered synchronously.
  EXPECT_TRUE(participant_.registration_status().ok()) << participant_.registration_status();
  const std::vector<Received> registers = RecordingRegistry::Registers(registry_.received());
  ASSERT_GE(registers.size(), 1u);
  const v1::RegisterRequest& request = registers[0].register_request;
  EXPECT_EQ(request.service(), "inventory");
  EXPECT_EQ(request.instance_id(), participant_.instance_id());
  EXPECT_EQ(request.address(), participant_.address());
  EXPECT_THAT(request.actions(), UnorderedElementsAre("reserve", "check"));
  EXPECT_THAT(request.compensations(), UnorderedElementsAre("release"));
  EXPECT_EQ(request.ttl_ms(), 7'000);
}

TEST_F(RegistrationTest, AdvertiseAddressReplacesTheBoundOne) {
  StartRegistry();
  ParticipantServer::RegistrationOptions options = Options();
  options.advertise_address = "inventory-7.internal:9000";
  participant_.register_with(options);
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());

  const std::vector<Received> registers = RecordingRegistry::Registers(registry_.received());
  ASSERT_GE(registers.size(), 1u);
  EXPECT_EQ(registers[0].register_request.address(), "inventory-7.internal:9000");
}

TEST_F(RegistrationTest, InstanceIdIsFixedPerServerAndDistinctBetweenServers) {
  const std::string id = participant_.instance_id();
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(participant_.instance_id(), id);
  ParticipantServer other;
  EXPECT_NE(other.instance_id(), id);
}

TEST_F(RegistrationTest, RenewsAtTheIntervalTheReplyAsksFor) {
  StartRegistry();
  registry_.AnswerWith(/*ttl_ms=*/30'000, /*renew_interval_ms=*/100);
  // Without the reply's interval, the renewals would come every 10 s (a third of the ttl).
  participant_.register_with(Options(seconds(30)));
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());

  ASSERT_TRUE(registry_.WaitForRegisters(6, seconds(5)));
  const std::vector<Received> registers = RecordingRegistry::Registers(registry_.received());
  for (size_t i = 1; i < registers.size(); ++i) {
    const v1::RegisterRequest& renewal = registers[i].register_request;
    EXPECT_EQ(renewal.instance_id(), participant_.instance_id());
    EXPECT_EQ(renewal.service(), "inventory");
    EXPECT_THAT(renewal.actions(), UnorderedElementsAre("reserve", "check"));
    // Not early (jitter of the loopback aside); lateness is bounded by the WaitFor above.
    EXPECT_GE(registers[i].at - registers[i - 1].at, milliseconds(70)) << "renewal " << i;
  }
  EXPECT_TRUE(participant_.registration_status().ok());
}

TEST_F(RegistrationTest, RenewsAtAThirdOfTheGrantedTtlWhenNoIntervalIsGiven) {
  StartRegistry();
  registry_.AnswerWith(/*ttl_ms=*/450, /*renew_interval_ms=*/0);
  participant_.register_with(Options(seconds(30)));
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());

  ASSERT_TRUE(registry_.WaitForRegisters(5, seconds(5)));
  const std::vector<Received> registers = RecordingRegistry::Registers(registry_.received());
  for (size_t i = 1; i < registers.size(); ++i) {
    EXPECT_GE(registers[i].at - registers[i - 1].at, milliseconds(110)) << "renewal " << i;
  }
}

TEST_F(RegistrationTest, StartSucceedsWhileTheRegistryIsDownAndRegistersOnceItIsUp) {
  std::string address;
  {
    RegistryServer gone(&registry_);  // Finds a free port, then frees it.
    ASSERT_TRUE(gone.ok());
    address = gone.address();
  }
  ParticipantServer::RegistrationOptions options{.coordinator_address = address,
                                                 .service = "inventory"};
  participant_.register_with(options);
  const Steady::time_point start = Steady::now();
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  EXPECT_LT(Since(start), milliseconds(2'500));

  const absl::Status down = participant_.registration_status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_THAT(std::string(down.message()), HasSubstr(address));
  EXPECT_THAT(std::string(down.message()), HasSubstr("\"inventory\""));
  EXPECT_THAT(std::string(down.message()), HasSubstr(participant_.instance_id()));

  // The registry comes up on the same address: the retries reach it.
  RegistryServer up(&registry_, address);
  ASSERT_TRUE(up.ok()) << "the port was taken in between: " << address;
  ASSERT_TRUE(registry_.WaitForRegisters(1, seconds(10)));
  EXPECT_TRUE(Eventually([&] { return participant_.registration_status().ok(); }, seconds(5)))
      << participant_.registration_status();
  EXPECT_EQ(RecordingRegistry::Registers(registry_.received())[0].register_request.instance_id(),
            participant_.instance_id());
  participant_.Shutdown(seconds(1));  // Deregisters while `up` still serves.
}

TEST_F(RegistrationTest, RefusedRegistrationIsReportedAndRetriedWithBackoff) {
  StartRegistry();
  registry_.AnswerWith(/*ttl_ms=*/10'000, /*renew_interval_ms=*/100);
  registry_.FailWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator not ready"));
  participant_.register_with(Options());
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());

  const absl::Status refused = participant_.registration_status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("coordinator not ready"));

  // Retried after 200 ms, then 400 ms: backing off, not spinning.
  ASSERT_TRUE(registry_.WaitForRegisters(3, seconds(5)));
  std::vector<Received> registers = RecordingRegistry::Registers(registry_.received());
  EXPECT_GE(registers[1].at - registers[0].at, milliseconds(150));
  EXPECT_GE(registers[2].at - registers[1].at, milliseconds(300));

  registry_.FailWith(grpc::Status::OK);
  EXPECT_TRUE(Eventually([&] { return participant_.registration_status().ok(); }, seconds(5)))
      << participant_.registration_status();

  // A renewal that fails is reported too.
  registry_.FailWith(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "instance revoked"));
  EXPECT_TRUE(Eventually(
      [&] {
        return participant_.registration_status().code() == absl::StatusCode::kPermissionDenied;
      },
      seconds(5)))
      << participant_.registration_status();
  EXPECT_THAT(std::string(participant_.registration_status().message()),
              HasSubstr("instance revoked"));
}

TEST_F(RegistrationTest, UnresponsiveRegistryDelaysStartAtMostTheRegisterDeadline) {
  StartRegistry();
  registry_.Hold(true);
  participant_.register_with(Options());
  const Steady::time_point start = Steady::now();
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  EXPECT_GE(Since(start), milliseconds(1'500));
  EXPECT_LT(Since(start), milliseconds(4'000));
  EXPECT_EQ(participant_.registration_status().code(), absl::StatusCode::kDeadlineExceeded)
      << participant_.registration_status();
  EXPECT_TRUE(ParticipantServes(participant_.address()));

  // A retry is now held by the registry; shutting down cancels it rather than waiting out
  // its 2 s deadline.
  ASSERT_TRUE(registry_.WaitForRegisters(2, seconds(5)));
  const Steady::time_point stop = Steady::now();
  participant_.Shutdown(milliseconds(0));
  EXPECT_LT(Since(stop), milliseconds(1'000));
}

TEST_F(RegistrationTest, ShutdownDeregistersBeforeTheServerStopsServing) {
  StartRegistry();
  registry_.AnswerWith(/*ttl_ms=*/10'000, /*renew_interval_ms=*/100);
  participant_.register_with(Options());
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  const std::string address = participant_.address();
  registry_.OnDeregister([&] { return ParticipantServes(address); });
  ASSERT_TRUE(registry_.WaitForRegisters(2, seconds(5)));  // Renewing.

  participant_.Shutdown(seconds(5));

  const std::vector<Received> received = registry_.received();
  ASSERT_FALSE(received.empty());
  const Received& last = received.back();
  ASSERT_EQ(last.kind, Received::Kind::kDeregister) << "a Register came after the Deregister";
  EXPECT_EQ(last.deregister_request.service(), "inventory");
  EXPECT_EQ(last.deregister_request.instance_id(), participant_.instance_id());
  EXPECT_EQ(last.participant_served, true);
  int deregisters = 0;
  for (const Received& r : received) deregisters += r.kind == Received::Kind::kDeregister;
  EXPECT_EQ(deregisters, 1);

  // Renewals stopped for good (three renew intervals pass without one), the status says so,
  // and the server no longer serves.
  const size_t count = received.size();
  EXPECT_FALSE(registry_.WaitUntil(
      [count](const std::vector<Received>& all) { return all.size() > count; }, milliseconds(300)));
  const absl::Status after = participant_.registration_status();
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition) << after;
  EXPECT_THAT(std::string(after.message()), HasSubstr("deregistered"));
  EXPECT_FALSE(ParticipantServes(address));
}

TEST_F(RegistrationTest, ShutdownIsPromptBetweenRenewals) {
  StartRegistry();
  registry_.AnswerWith(/*ttl_ms=*/300'000, /*renew_interval_ms=*/60'000);
  participant_.register_with(Options());
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  ASSERT_TRUE(participant_.registration_status().ok()) << participant_.registration_status();

  const Steady::time_point stop = Steady::now();
  participant_.Shutdown(milliseconds(0));
  EXPECT_LT(Since(stop), milliseconds(1'000));
  EXPECT_EQ(RecordingRegistry::Registers(registry_.received()).size(), 1u);
  EXPECT_EQ(registry_.received().back().kind, Received::Kind::kDeregister);
}

TEST_F(RegistrationTest, ShutdownIsPromptWhileTheRegistryIsDown) {
  std::string address;
  {
    RegistryServer gone(&registry_);
    ASSERT_TRUE(gone.ok());
    address = gone.address();
  }
  participant_.register_with({.coordinator_address = address, .service = "inventory"});
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  ASSERT_FALSE(participant_.registration_status().ok());

  const Steady::time_point stop = Steady::now();
  participant_.Shutdown(milliseconds(0));
  EXPECT_LT(Since(stop), milliseconds(1'500));  // Deregister fails at once or within 1 s.
  const absl::Status after = participant_.registration_status();
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition) << after;
  EXPECT_THAT(std::string(after.message()), HasSubstr("expires by itself"));
}

TEST_F(RegistrationTest, WithoutRegisterWithThereIsNoRegistration) {
  StartRegistry();
  EXPECT_EQ(participant_.registration_status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(participant_.Start("127.0.0.1:0").ok());
  EXPECT_EQ(participant_.registration_status().code(), absl::StatusCode::kFailedPrecondition);
  participant_.Shutdown(seconds(1));
  EXPECT_TRUE(registry_.received().empty());
}

TEST_F(RegistrationTest, StatusIsFailedPreconditionBeforeStart) {
  StartRegistry();
  participant_.register_with(Options());
  const absl::Status before = participant_.registration_status();
  EXPECT_EQ(before.code(), absl::StatusCode::kFailedPrecondition) << before;
  EXPECT_TRUE(registry_.received().empty());
}

}  // namespace
}  // namespace skald
