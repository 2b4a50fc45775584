// A ParticipantServer serving over TLS on loopback, called by real gRPC clients with
// certificates from the right CA, from another CA, and without any (certificates made by
// tests/support/test_certificates.h).

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "skald/participant_server.h"
#include "skald/v1/participant.grpc.pb.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tls/grpc_credentials.h"

namespace skald {
namespace {

using ::skald::testing::CertificateFiles;
using ::skald::testing::TempDir;
using ::skald::testing::TestCa;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ParticipantTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-sdk-tls-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto ca = TestCa::Create(dir_->path(), "trusted");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    auto other = TestCa::Create(dir_->path(), "stranger");
    ASSERT_TRUE(other.ok()) << other.status();
    other_ca_ = std::make_unique<TestCa>(std::move(*other));
    auto server_cert = ca_->Issue("participant");
    ASSERT_TRUE(server_cert.ok()) << server_cert.status();
    server_cert_ = *server_cert;
    server_.on_action("echo", [](const StepContext&, const nlohmann::json& input) {
      return StepResult::Success(input);
    });
  }

  void TearDown() override { server_.Shutdown(std::chrono::seconds(2)); }

  // Serves with the trusted CA's certificate, requiring client certificates from it.
  void StartMutualTls() {
    server_.serve_tls({.cert_file = server_cert_.cert_file,
                       .key_file = server_cert_.key_file,
                       .client_ca_file = ca_->cert_file()});
    absl::Status started = server_.Start("127.0.0.1:0");
    ASSERT_TRUE(started.ok()) << started;
  }

  // Calls "echo" through a channel with `credentials`; returns the call's status.
  grpc::Status Echo(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto stub = v1::Participant::NewStub(grpc::CreateChannel(server_.address(), credentials));
    v1::StepCall call;
    call.set_saga_id("saga-1");
    call.set_step("a");
    call.set_handler("echo");
    call.set_attempt(1);
    call.set_input_json(R"({"n": 1})");
    v1::StepReply reply;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->ExecuteAction(&context, call, &reply);
  }

  // gRPC's plain SSL credentials, independent of skald::tls: trusting `ca_file`, presenting
  // `client` when it names a certificate.
  static std::shared_ptr<grpc::ChannelCredentials> Ssl(const std::string& ca_file,
                                                       const CertificateFiles& client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Read(ca_file);
    if (!client.cert_file.empty()) {
      options.pem_cert_chain = Read(client.cert_file);
      options.pem_private_key = Read(client.key_file);
    }
    return grpc::SslCredentials(options);
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<TestCa> ca_;
  std::unique_ptr<TestCa> other_ca_;
  CertificateFiles server_cert_;
  ParticipantServer server_;
};

TEST_F(ParticipantTlsTest, ClientWithCertificateFromTheClientCaIsServed) {
  StartMutualTls();
  auto client = ca_->Issue("coordinator");
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status status = Echo(Ssl(ca_->cert_file(), *client));
  EXPECT_TRUE(status.ok()) << status.error_code() << ": " << status.error_message();
}

TEST_F(ParticipantTlsTest, ClientWithCertificateFromAnotherCaIsRefused) {
  StartMutualTls();
  auto client = other_ca_->Issue("impostor");
  ASSERT_TRUE(client.ok()) << client.status();
  grpc::Status status = Echo(Ssl(ca_->cert_file(), *client));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ParticipantTlsTest, ClientWithoutCertificateIsRefused) {
  StartMutualTls();
  grpc::Status status = Echo(Ssl(ca_->cert_file(), {}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ParticipantTlsTest, PlaintextClientIsRefused) {
  StartMutualTls();
  grpc::Status status = Echo(grpc::InsecureChannelCredentials());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ParticipantTlsTest, WithoutClientCaAnyTlsClientIsServed) {
  server_.serve_tls({.cert_file = server_cert_.cert_file, .key_file = server_cert_.key_file});
  ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
  grpc::Status status = Echo(Ssl(ca_->cert_file(), {}));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// skald::tls's channel credentials, which the coordinator uses to call participants.
TEST_F(ParticipantTlsTest, SkaldChannelCredentialsVerifyTheServerAndPresentTheirCertificate) {
  StartMutualTls();
  auto client = ca_->Issue("coordinator");
  ASSERT_TRUE(client.ok()) << client.status();
  auto trusted = tls::MakeChannelCredentials(
      {.ca_file = ca_->cert_file(), .cert_file = client->cert_file, .key_file = client->key_file});
  ASSERT_TRUE(trusted.ok()) << trusted.status();
  grpc::Status status = Echo(*trusted);
  EXPECT_TRUE(status.ok()) << status.error_message();

  // The same client certificate, but trusting only another CA: the server is refused.
  auto distrustful = tls::MakeChannelCredentials({.ca_file = other_ca_->cert_file(),
                                                  .cert_file = client->cert_file,
                                                  .key_file = client->key_file});
  ASSERT_TRUE(distrustful.ok()) << distrustful.status();
  EXPECT_EQ(Echo(*distrustful).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ParticipantTlsTest, ServerCertificateForAnotherHostIsRefused) {
  auto elsewhere = ca_->Issue("elsewhere", "DNS:elsewhere.invalid");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  server_.serve_tls({.cert_file = elsewhere->cert_file, .key_file = elsewhere->key_file});
  ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
  auto credentials = tls::MakeChannelCredentials({.ca_file = ca_->cert_file()});
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(Echo(*credentials).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ParticipantTlsTest, StartRefusesUnusableFilesNamingThem) {
  auto other = other_ca_->Issue("other");
  ASSERT_TRUE(other.ok()) << other.status();
  server_.serve_tls({.cert_file = server_cert_.cert_file, .key_file = other->key_file});
  absl::Status started = server_.Start("127.0.0.1:0");
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.message()), HasSubstr("does not belong to the certificate"));

  ParticipantServer missing;
  missing.serve_tls({.cert_file = dir_->File("nope.pem"), .key_file = server_cert_.key_file});
  started = missing.Start("127.0.0.1:0");
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.message()), HasSubstr("nope.pem"));

  ParticipantServer registering;
  registering.register_with({.coordinator_address = "127.0.0.1:1",
                             .service = "s",
                             .tls = {.ca_file = server_cert_.key_file}});
  started = registering.Start("127.0.0.1:0");
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.message()), HasSubstr("no PEM certificate"));
}

}  // namespace
}  // namespace skald
