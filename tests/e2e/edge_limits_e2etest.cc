// The client API's edges against the real coordinator (issue 13): what PostgreSQL refuses
// is the client's INVALID_ARGUMENT, a pathological JSON input costs linear time, the CLI
// reads what the server sends and takes large inputs from a file or stdin, participant
// listings are paged and registrations bounded, and thousands of AwaitSaga calls wait
// without a thread each.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "skald/v1/registry.grpc.pb.h"
#include "tests/e2e/api_client.h"
#include "tests/e2e/saga_harness.h"
#include "tests/e2e/skald_command.h"

namespace skald::testing {
namespace {

using nlohmann::json;

// The "Threads:" line of /proc/<pid>/status; -1 when it cannot be read.
int ThreadsOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

class EdgeLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = SagaHarness::Start(1);
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = std::move(*harness);
    client_ = std::make_unique<ApiClient>(address(), "");
    auto dir = TempDir::Create("skald-edge-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    grpc::Status applied = client_->Apply(Definition("edge", 4));
    ASSERT_TRUE(applied.ok()) << applied.error_message();
  }

  // `steps` steps that each sleep input.sleep_ms; each step gets the saga's input.
  json Definition(const std::string& name, int steps) {
    json list = json::array();
    for (int i = 0; i < steps; ++i) {
      list.push_back({{"name", "s" + std::to_string(i)},
                      {"participant", harness_->participant(0)},
                      {"action", "sleep"},
                      {"compensation", "undo"}});
    }
    return {{"name", name}, {"version", 1}, {"steps", list}};
  }

  const std::string& address() { return harness_->coordinator().address(); }

  std::unique_ptr<SagaHarness> harness_;
  std::unique_ptr<ApiClient> client_;
  std::unique_ptr<TempDir> dir_;
};

// Each of these reached PostgreSQL and came back INTERNAL with its text (a NUL in a reason
// even wedged the saga); now each is the client's error, naming the field.
TEST_F(EdgeLimitsTest, WhatPostgresqlRefusesIsTheClientsInvalidArgument) {
  grpc::Status nul_input = client_->Start(
      "edge", {{"sleep_ms", 0}, {"note", {{"text", std::string("a\0b", 3)}}}}, "n-1");
  EXPECT_EQ(nul_input.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << nul_input.error_message();
  EXPECT_NE(nul_input.error_message().find("input_json at /note/text"), std::string::npos)
      << nul_input.error_message();

  v1::ListSagasRequest list;
  list.set_created_after("2026-02-30");
  v1::ListSagasResponse page;
  grpc::Status bad_date = client_->sagas().ListSagas(client_->Context().get(), list, &page);
  EXPECT_EQ(bad_date.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad_date.error_message();
  EXPECT_EQ(bad_date.error_message(), "created_after: 2026-02-30: February 2026 has 28 days");
  list.set_created_after("");
  list.set_page_token("2026-02-30 10:00:00+00|x");
  grpc::Status bad_token = client_->sagas().ListSagas(client_->Context().get(), list, &page);
  EXPECT_EQ(bad_token.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << bad_token.error_message();

  EXPECT_EQ(client_->Get(std::string("x\0y", 3)).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A NUL in an operator's reason: refused before the saga is taken over, which then
  // goes on and can still be aborted.
  ASSERT_TRUE(client_->Start("edge", {{"sleep_ms", 1500}}, "slow-1").ok());
  grpc::Status nul_reason = client_->Abort("slow-1", "ada", std::string("why\0not", 7));
  EXPECT_EQ(nul_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << nul_reason.error_message();
  EXPECT_NE(nul_reason.error_message().find("reason"), std::string::npos)
      << nul_reason.error_message();
  grpc::Status aborted = client_->Abort("slow-1", "ada", "a reason PostgreSQL can store");
  ASSERT_TRUE(aborted.ok()) << aborted.error_message();
  auto ended = harness_->coordinator().WaitForEnd("slow-1", absl::Seconds(30));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state(), v1::SAGA_STATE_COMPENSATED);
  EXPECT_EQ(harness_->coordinator().Count("SELECT count(*) FROM sagas WHERE id = 'n-1'"), 0);
}

// Issue 13: a 1 MiB {"a":[{},{},...]} took about 56 s to be accepted or refused.
TEST_F(EdgeLimitsTest, AnInputOfManyEmptyObjectsIsTakenInLinearTime) {
  std::string input = R"({"sleep_ms": 0, "a": [{})";
  while (input.size() < 1'000'000) input += ",{}";
  input += "]}";
  v1::StartSagaRequest request;
  request.set_definition("edge");
  request.set_saga_id("many-objects");
  request.set_input_json(input);
  v1::StartSagaResponse response;
  const auto started = std::chrono::steady_clock::now();
  grpc::Status status = client_->sagas().StartSaga(client_->Context().get(), request, &response);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_LT(seconds, 10.0);
  auto ended = harness_->coordinator().WaitForEnd("many-objects", absl::Seconds(60));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(ended->state(), v1::SAGA_STATE_COMPLETED) << ended->DebugString().substr(0, 2000);
}

// Issue 13: a finished 4-step saga with a 0.9 MB input could not be shown by `skald saga
// get` or `wait` (GetSaga repeated the input per step, over the CLI's 4 MiB receive
// limit), and inputs over 128 KiB (Linux's cap on one argument) could not be started.
TEST_F(EdgeLimitsTest, TheCliStartsAndShowsASagaWithALargeInput) {
  const json input = {{"sleep_ms", 0}, {"blob", std::string(900'000, 'x')}};
  const std::string file = dir_->path() + "/input.json";
  std::ofstream(file) << input.dump();
  CommandOutput started = RunSkald(dir_->path(), {"saga", "start", "edge", "--input", "@" + file,
                                                  "--id", "big-1", "--address", address()});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(started.out, "big-1\n");

  CommandOutput waited = RunSkald(dir_->path(), {"saga", "wait", "big-1", "--json", "--timeout",
                                                 "60s", "--address", address()});
  ASSERT_EQ(waited.exit_code, 0) << waited.err;
  json saga = json::parse(waited.out);
  EXPECT_EQ(saga["state"], "COMPLETED");
  ASSERT_EQ(saga["steps"].size(), 4u);
  for (const json& step : saga["steps"]) EXPECT_EQ(step["input"], input) << step["name"];

  CommandOutput shown =
      RunSkald(dir_->path(), {"saga", "get", "big-1", "--json", "--address", address()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(json::parse(shown.out)["input"], input);

  // The same from stdin.
  CommandOutput from_stdin = RunSkald(
      dir_->path(),
      {"saga", "start", "edge", "--input", "-", "--id", "big-2", "--address", address()}, file);
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  auto ended = harness_->coordinator().WaitForEnd("big-2", absl::Seconds(60));
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(json::parse(ended->input_json()), input);

  CommandOutput missing = RunSkald(
      dir_->path(), {"saga", "start", "edge", "--input", "@/nonexistent", "--address", address()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err, "error: --input: cannot read /nonexistent\n");
}

// Issue 13: 500 registrations were accepted in 3 s, after which `skald participant list`
// failed (one reply over the CLI's receive limit). Listings are paged and the CLI follows
// the pages; registrations are bounded per service (200 by default).
TEST_F(EdgeLimitsTest, ParticipantListingsArePagedAndRegistrationsBounded) {
  auto registry = v1::ParticipantRegistry::NewStub(
      grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  auto register_instance = [&](const std::string& service, int i) {
    v1::RegisterRequest request;
    request.set_service(service);
    request.set_instance_id(service + "-" + std::to_string(i));
    request.set_address("127.0.0.1:" + std::to_string(10'000 + i));
    request.set_ttl_ms(300'000);
    // 200 handlers of 100 characters: 20 KB per registration.
    for (int h = 0; h < 200; ++h) {
      std::string name = "h" + std::to_string(h) + "-";
      request.add_actions(name + std::string(100 - name.size(), 'x'));
    }
    v1::RegisterReply reply;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return registry->Register(&context, request, &reply);
  };
  for (int i = 0; i < 200; ++i) {
    grpc::Status status = register_instance("svc-a", i);
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(register_instance("svc-b", i).ok());
  grpc::Status over = register_instance("svc-a", 200);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << over.error_message();
  EXPECT_TRUE(register_instance("svc-a", 7).ok()) << "a renewal passes";

  // 260 instances of 20 KB: 5 MB, over gRPC's default 4 MiB in one reply.
  CommandOutput listed =
      RunSkald(dir_->path(), {"participant", "list", "--json", "--address", address()});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json instances = json::parse(listed.out);
  ASSERT_EQ(instances.size(), 260u);
  std::set<std::string> ids;
  for (const json& instance : instances) ids.insert(instance["instance_id"].get<std::string>());
  EXPECT_EQ(ids.size(), 260u) << "no instance twice";

  // Pages by hand: 100 by default, then the rest.
  v1::ListParticipantsRequest request;
  v1::ListParticipantsReply first;
  grpc::ClientContext context;
  ASSERT_TRUE(registry->ListParticipants(&context, request, &first).ok());
  EXPECT_EQ(first.instances_size(), 100);
  EXPECT_FALSE(first.next_page_token().empty());
}

// Issue 13: 3,000 concurrent AwaitSaga calls made 3,000 threads. They now wait without a
// thread each: the coordinator's thread count stays bounded, and every waiter is answered
// when its saga ends.
TEST_F(EdgeLimitsTest, ThreeThousandAwaitSagaCallsWaitWithoutAThreadEach) {
  constexpr int kSagas = 30;
  constexpr int kWaiters = 3000;
  ASSERT_TRUE(client_->Apply(Definition("one-step", 1)).ok());
  for (int i = 0; i < kSagas; ++i) {
    ASSERT_TRUE(client_->Start("one-step", {{"sleep_ms", 6000}}, "w-" + std::to_string(i)).ok());
  }
  const pid_t pid = harness_->coordinator().pid();
  const int threads_before = ThreadsOf(pid);
  ASSERT_GT(threads_before, 0);

  // Four channels, callback calls: the test itself holds no thread per call either.
  std::vector<std::unique_ptr<v1::SagaService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("grpc.channel_id", i);  // distinct connections
    stubs.push_back(v1::SagaService::NewStub(
        grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), arguments)));
  }
  struct Call {
    grpc::ClientContext context;
    v1::AwaitSagaRequest request;
    v1::AwaitSagaResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  std::mutex mutex;
  std::condition_variable all_done;
  int done = 0;
  for (int i = 0; i < kWaiters; ++i) {
    auto call = std::make_unique<Call>();
    call->request.set_saga_id("w-" + std::to_string(i % kSagas));
    call->request.set_timeout_ms(50'000);
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    Call* raw = call.get();
    stubs[i % stubs.size()]->async()->AwaitSaga(&raw->context, &raw->request, &raw->response,
                                                [raw, &mutex, &all_done, &done](grpc::Status s) {
                                                  std::lock_guard lock(mutex);
                                                  raw->status = std::move(s);
                                                  if (++done == kWaiters) all_done.notify_all();
                                                });
    calls.push_back(std::move(call));
  }
  // Sample the coordinator's threads while they wait.
  int most_threads = threads_before;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < give_up) {
    most_threads = std::max(most_threads, ThreadsOf(pid));
    std::unique_lock lock(mutex);
    if (all_done.wait_for(lock, std::chrono::milliseconds(100), [&] { return done == kWaiters; })) {
      break;
    }
  }
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(done, kWaiters) << "not every waiter was answered in 90 s";
  }
  int finished = 0;
  for (const auto& call : calls) {
    EXPECT_TRUE(call->status.ok()) << call->status.error_message();
    if (call->response.finished() && call->response.state() == v1::SAGA_STATE_COMPLETED) {
      ++finished;
    }
  }
  EXPECT_EQ(finished, kWaiters);
  std::cout << "coordinator threads: " << threads_before << " before, at most " << most_threads
            << " with " << kWaiters << " AwaitSaga calls waiting\n";
  // Generous: a thread per waiter would be 3,000 more.
  EXPECT_LT(most_threads, threads_before + 200)
      << "threads before: " << threads_before << ", at most while waiting: " << most_threads;
}

}  // namespace
}  // namespace skald::testing
