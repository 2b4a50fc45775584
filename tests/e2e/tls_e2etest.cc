// TLS end to end: the real `skald serve` and real SDK participants (test-participant) on
// loopback, with certificates from a throwaway CA and from a second, untrusted one
// (tests/support/test_certificates.h). Mutual TLS on both legs (client API and
// registration; participant calls), each side refusing the other's certificate from the
// wrong CA, plaintext clients refused, the CLI over TLS, and HTTPS on the HTTP port.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/e2e/coordinator_process.h"
#include "tests/e2e/skald_command.h"
#include "tests/support/ready_file.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tests/support/test_postgres.h"
#include "tls/grpc_credentials.h"

namespace skald::testing {
namespace {

using nlohmann::json;

constexpr const char* kService = "tlsp";

// One step on service `kService`, or at the fixed address `participant` when not empty;
// attempts are few and short, so that a refused call ends the saga quickly.
json Definition(const std::string& participant = "") {
  json definition = json::parse(R"({
    "name": "tls-saga", "version": 1,
    "defaults": {"retry": {"max_attempts": 3, "initial_interval": "100ms"},
                 "attempt_timeout": "2s"},
    "steps": [{"name": "a", "action": "echo"}]})");
  if (participant.empty()) {
    definition["steps"][0]["service"] = kService;
  } else {
    definition["steps"][0]["participant"] = participant;
  }
  return definition;
}

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-tls-e2e-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto ca = TestCa::Create(dir_->path(), "skald");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    auto rogue = TestCa::Create(dir_->path(), "rogue");
    ASSERT_TRUE(rogue.ok()) << rogue.status();
    rogue_ca_ = std::make_unique<TestCa>(std::move(*rogue));
    for (auto [name, ca, files] :
         {std::tuple{"coordinator", ca_.get(), &coordinator_cert_},
          std::tuple{"participant", ca_.get(), &participant_cert_},
          std::tuple{"operator", ca_.get(), &operator_cert_},
          std::tuple{"rogue-coordinator", rogue_ca_.get(), &rogue_coordinator_cert_},
          std::tuple{"rogue-participant", rogue_ca_.get(), &rogue_participant_cert_}}) {
      auto issued = ca->Issue(name);
      ASSERT_TRUE(issued.ok()) << issued.status();
      *files = *issued;
    }
    auto participants_db = FreshDatabase("testp");
    ASSERT_TRUE(participants_db.ok()) << participants_db.status();
    participants_db_ = *participants_db;
  }

  // `skald serve` flags for mutual TLS on the gRPC port and on participant calls, the
  // coordinator presenting `participant_client` to participants.
  std::vector<std::string> MutualTlsFlags(const CertificateFiles& participant_client) const {
    return {"--tls-cert",
            coordinator_cert_.cert_file,
            "--tls-key",
            coordinator_cert_.key_file,
            "--tls-client-ca",
            ca_->cert_file(),
            "--participant-tls-ca",
            ca_->cert_file(),
            "--participant-tls-cert",
            participant_client.cert_file,
            "--participant-tls-key",
            participant_client.key_file};
  }

  // Starts a coordinator with `flags` on a fresh database; its client() presents the
  // operator's certificate and trusts the CA.
  void StartCoordinator(std::vector<std::string> flags) {
    auto db = FreshDatabase("coordinator");
    ASSERT_TRUE(db.ok()) << db.status();
    coordinator_ = std::make_unique<CoordinatorProcess>(dir_->path(), *db, std::move(flags));
    auto credentials = tls::MakeChannelCredentials({.ca_file = ca_->cert_file(),
                                                    .cert_file = operator_cert_.cert_file,
                                                    .key_file = operator_cert_.key_file});
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    coordinator_->SetClientCredentials(*credentials);
    absl::Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // Starts a test-participant serving mutual TLS with `cert` (trusting the CA) that
  // registers with the coordinator as kService, presenting `cert`.
  void StartParticipant(const CertificateFiles& cert) {
    const std::string name = dir_->File("participant");
    auto started = SpawnAndWaitReady(
        {TEST_PARTICIPANT_BINARY, "--db", participants_db_, "--listen", "127.0.0.1:0",
         "--ready-file", name + ".ready", "--register-with", coordinator_->address(), "--service",
         kService, "--tls-cert", cert.cert_file, "--tls-key", cert.key_file, "--tls-ca",
         ca_->cert_file()},
        name + ".log", name + ".ready");
    ASSERT_TRUE(started.ok()) << started.status();
    participant_ = std::move(*started);
  }

  long long RegisteredInstances() const {
    return coordinator_->Count("SELECT count(*) FROM participant_instances WHERE service = $1",
                               kService);
  }

  // Waits up to 15 s for the participant's registration to be stored.
  bool WaitForRegistration() const {
    const absl::Time give_up = absl::Now() + absl::Seconds(15);
    while (RegisteredInstances() == 0) {
      if (absl::Now() > give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
  }

  // Calls recorded by the participant for `saga_id` (its handler ran).
  long long ParticipantCalls(const std::string& saga_id) const {
    return QueryCount(participants_db_, "SELECT count(*) FROM testp.calls WHERE saga_id = $1",
                      saga_id);
  }

  std::string Logs() const {
    return "coordinator log:\n" + (coordinator_ ? coordinator_->LogTail() : "") +
           "\nparticipant log:\n" + ReadFileTail(dir_->File("participant.log"), 3000);
  }

  // A SagaService client for the coordinator with `credentials`.
  std::unique_ptr<v1::SagaService::Stub> ClientWith(
      std::shared_ptr<grpc::ChannelCredentials> credentials) const {
    // A connection of its own: gRPC would otherwise share one (and its reconnect backoff)
    // between channels to the same address.
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::SagaService::NewStub(
        grpc::CreateCustomChannel(coordinator_->address(), credentials, arguments));
  }

  static grpc::Status ListSagas(v1::SagaService::Stub& client) {
    v1::ListSagasRequest request;
    v1::ListSagasResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return client.ListSagas(&context, request, &response);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> rogue_ca_;
  CertificateFiles coordinator_cert_, participant_cert_, operator_cert_;
  CertificateFiles rogue_coordinator_cert_, rogue_participant_cert_;
  std::string participants_db_;
  std::unique_ptr<CoordinatorProcess> coordinator_;
  ReadyProcess participant_;
};

TEST_F(TlsE2eTest, SagaCompletesWithMutualTlsOnBothLegs) {
  StartCoordinator(MutualTlsFlags(coordinator_cert_));
  EXPECT_NE(coordinator_->Log().find("(mutual TLS)"), std::string::npos) << Logs();
  StartParticipant(participant_cert_);
  ASSERT_TRUE(WaitForRegistration()) << Logs();
  ASSERT_TRUE(coordinator_->Apply(Definition()).ok()) << Logs();
  auto id = coordinator_->StartSaga("tls-saga", {{"order", 1}});
  ASSERT_TRUE(id.ok()) << id.status();
  auto saga = coordinator_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_EQ(StateName(saga->state()), "COMPLETED") << saga->DebugString() << Logs();
  EXPECT_EQ(ParticipantCalls(*id), 1);
}

TEST_F(TlsE2eTest, CoordinatorRefusesParticipantWithCertificateFromAnotherCa) {
  StartCoordinator(MutualTlsFlags(coordinator_cert_));
  StartParticipant(rogue_participant_cert_);
  // The participant retries its registration every 200 ms to 2 s: none gets through.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(RegisteredInstances(), 0) << Logs();
  EXPECT_NE(ReadFileTail(dir_->File("participant.log"), 1 << 16).find("not registered"),
            std::string::npos)
      << Logs();
}

TEST_F(TlsE2eTest, ParticipantRefusesCoordinatorWithCertificateFromAnotherCa) {
  // The gRPC port's certificate is trusted, so the participant registers; the certificate
  // the coordinator presents when calling it is the rogue CA's.
  StartCoordinator(MutualTlsFlags(rogue_coordinator_cert_));
  StartParticipant(participant_cert_);
  ASSERT_TRUE(WaitForRegistration()) << Logs();
  // At its address rather than through the service, so that each attempt goes to it (a
  // failing instance of a service is ejected for a while).
  ASSERT_TRUE(coordinator_->Apply(Definition(participant_.address)).ok()) << Logs();
  auto id = coordinator_->StartSaga("tls-saga", {{"order", 2}});
  ASSERT_TRUE(id.ok()) << id.status();
  auto saga = coordinator_->WaitForEnd(*id);
  ASSERT_TRUE(saga.ok()) << saga.status();
  EXPECT_NE(StateName(saga->state()), "COMPLETED") << saga->DebugString() << Logs();
  ASSERT_EQ(saga->steps_size(), 1);
  EXPECT_EQ(saga->steps(0).attempts(), 3) << saga->DebugString();
  EXPECT_NE(saga->steps(0).error().find("(gRPC code 14)"), std::string::npos)  // UNAVAILABLE
      << saga->DebugString();
  EXPECT_EQ(ParticipantCalls(*id), 0) << "the participant ran a handler for a refused caller";
}

TEST_F(TlsE2eTest, ClientsWithoutTheRightCertificatesAreRefused) {
  StartCoordinator(MutualTlsFlags(coordinator_cert_));
  EXPECT_TRUE(ListSagas(coordinator_->client()).ok());

  auto plaintext = ClientWith(grpc::InsecureChannelCredentials());
  EXPECT_EQ(ListSagas(*plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto no_client_cert = tls::MakeChannelCredentials({.ca_file = ca_->cert_file()});
  ASSERT_TRUE(no_client_cert.ok());
  EXPECT_EQ(ListSagas(*ClientWith(*no_client_cert)).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto rogue_client = tls::MakeChannelCredentials({.ca_file = ca_->cert_file(),
                                                   .cert_file = rogue_participant_cert_.cert_file,
                                                   .key_file = rogue_participant_cert_.key_file});
  ASSERT_TRUE(rogue_client.ok());
  EXPECT_EQ(ListSagas(*ClientWith(*rogue_client)).error_code(), grpc::StatusCode::UNAVAILABLE);

  auto trusting_rogue = tls::MakeChannelCredentials({.ca_file = rogue_ca_->cert_file(),
                                                     .cert_file = operator_cert_.cert_file,
                                                     .key_file = operator_cert_.key_file});
  ASSERT_TRUE(trusting_rogue.ok());
  EXPECT_EQ(ListSagas(*ClientWith(*trusting_rogue)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsE2eTest, CliConnectsOverTls) {
  // Server-side TLS only: --tls-ca is all a client needs.
  StartCoordinator(
      {"--tls-cert", coordinator_cert_.cert_file, "--tls-key", coordinator_cert_.key_file});
  const std::string address = coordinator_->address();
  CommandOutput listed =
      RunSkald(dir_->path(), {"saga", "list", "--address", address, "--tls-ca", ca_->cert_file()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;

  // The same CA from the environment (the command inherits this process's).
  setenv("SKALD_TLS_CA", ca_->cert_file().c_str(), 1);
  CommandOutput from_env = RunSkald(dir_->path(), {"saga", "list", "--address", address});
  unsetenv("SKALD_TLS_CA");
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;

  CommandOutput plaintext = RunSkald(dir_->path(), {"saga", "list", "--address", address});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_NE(plaintext.err.find("UNAVAILABLE"), std::string::npos) << plaintext.err;
  EXPECT_NE(plaintext.err.find("--tls-ca"), std::string::npos) << plaintext.err;

  CommandOutput missing = RunSkald(
      dir_->path(), {"saga", "list", "--address", address, "--tls-ca", dir_->File("none.pem")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.pem"), std::string::npos) << missing.err;
}

TEST_F(TlsE2eTest, CliPresentsItsCertificateToAMutualTlsCoordinator) {
  StartCoordinator(MutualTlsFlags(coordinator_cert_));
  CommandOutput listed =
      RunSkald(dir_->path(), {"participant", "list", "--address", coordinator_->address(),
                              "--tls-ca", ca_->cert_file(), "--tls-cert", operator_cert_.cert_file,
                              "--tls-key", operator_cert_.key_file});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  CommandOutput without = RunSkald(
      dir_->path(),
      {"participant", "list", "--address", coordinator_->address(), "--tls-ca", ca_->cert_file()});
  EXPECT_EQ(without.exit_code, 1) << without.out;
}

TEST_F(TlsE2eTest, ReplacedCertificateIsServedWithoutRestart) {
  const std::string served_cert = dir_->File("served.pem");
  const std::string served_key = dir_->File("served.key");
  // Replaces the served files with `files`, each by a rename.
  auto serve = [&](const CertificateFiles& files) {
    for (auto [from, to] :
         {std::pair{files.cert_file, served_cert}, {files.key_file, served_key}}) {
      std::filesystem::copy_file(from, to + ".tmp",
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::rename(to + ".tmp", to);
    }
  };
  serve(coordinator_cert_);
  StartCoordinator(
      {"--tls-cert", served_cert, "--tls-key", served_key, "--tls-reload-interval", "1s"});
  auto trusting_rogue = tls::MakeChannelCredentials({.ca_file = rogue_ca_->cert_file()});
  ASSERT_TRUE(trusting_rogue.ok());
  EXPECT_EQ(ListSagas(*ClientWith(*trusting_rogue)).error_code(), grpc::StatusCode::UNAVAILABLE);

  serve(rogue_coordinator_cert_);
  // Read again within the interval (1 s); each attempt on a new channel, a new connection.
  const absl::Time give_up = absl::Now() + absl::Seconds(15);
  grpc::Status status;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    status = ListSagas(*ClientWith(*trusting_rogue));
  } while (!status.ok() && absl::Now() < give_up);
  EXPECT_TRUE(status.ok()) << status.error_message() << Logs();
}

// The TLS flags come from a --config file here, which the real binary reads.
TEST_F(TlsE2eTest, HttpsHealthEndpointAnswersOverTls) {
  const std::string config = dir_->File("skald.toml");
  {
    std::ofstream out(config);
    out << "# skald serve --config\n"
        << "tls-cert = \"" << coordinator_cert_.cert_file << "\"\n"
        << "tls-key = \"" << coordinator_cert_.key_file << "\"\n";
  }
  auto db = FreshDatabase("coordinator");
  ASSERT_TRUE(db.ok()) << db.status();
  coordinator_ = std::make_unique<CoordinatorProcess>(dir_->path(), *db,
                                                      std::vector<std::string>{"--config", config});
  coordinator_->ServeHttp();
  auto credentials = tls::MakeChannelCredentials({.ca_file = ca_->cert_file()});
  ASSERT_TRUE(credentials.ok());
  coordinator_->SetClientCredentials(*credentials);
  absl::Status started = coordinator_->Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(ListSagas(coordinator_->client()).ok()) << Logs();

  const std::string http = coordinator_->http_address();
  const size_t colon = http.rfind(':');
  const std::string host = http.substr(0, colon);
  const int port = std::stoi(http.substr(colon + 1));
  httplib::SSLClient https(host, port);
  https.set_ca_cert_path(ca_->cert_file().c_str());
  https.enable_server_certificate_verification(true);
  https.set_connection_timeout(5);
  https.set_read_timeout(5);
  auto healthy = https.Get("/healthz");
  ASSERT_TRUE(healthy) << httplib::to_string(healthy.error()) << Logs();
  EXPECT_EQ(healthy->status, 200);
  EXPECT_EQ(healthy->body, "ok\n");

  // Plain HTTP gets no answer from an HTTPS port.
  httplib::Client plain(host, port);
  plain.set_connection_timeout(5);
  plain.set_read_timeout(5);
  auto refused = plain.Get("/healthz");
  EXPECT_FALSE(refused && refused->status == 200);

  // Nor does a client that trusts another CA.
  httplib::SSLClient distrustful(host, port);
  distrustful.set_ca_cert_path(rogue_ca_->cert_file().c_str());
  distrustful.enable_server_certificate_verification(true);
  distrustful.set_connection_timeout(5);
  EXPECT_FALSE(distrustful.Get("/healthz"));
}

}  // namespace
}  // namespace skald::testing
