// A coordinator address list (tls/address_list.h) over TLS: the channel's authority is the
// list's first entry, so a certificate is checked against that host as for one address, and
// calls reach the live server of a list whose other entry is dead.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>

#include "skald/participant_server.h"
#include "skald/v1/participant.grpc.pb.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_certificates.h"
#include "tls/address_list.h"
#include "tls/grpc_credentials.h"

namespace skald {
namespace {

using ::skald::testing::TempDir;
using ::skald::testing::TestCa;

class AddressListTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("skald-list-tls-");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    auto ca = TestCa::Create(dir_->path(), "trusted");
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::make_unique<TestCa>(std::move(*ca));
    server_.on_action("echo", [](const StepContext&, const nlohmann::json& input) {
      return StepResult::Success(input);
    });
  }
  void TearDown() override { server_.Shutdown(std::chrono::seconds(2)); }

  // Serves over TLS with a certificate naming `names`.
  void Serve(const std::string& names) {
    auto cert = ca_->Issue("coordinator", names);
    ASSERT_TRUE(cert.ok()) << cert.status();
    server_.serve_tls({.cert_file = cert->cert_file, .key_file = cert->key_file});
    ASSERT_TRUE(server_.Start("127.0.0.1:0").ok());
  }

  // Calls "echo" `calls` times over one channel to `list`; returns the first failure.
  grpc::Status EchoThrough(const std::string& list, int calls) {
    grpc::ChannelArguments args;
    auto target = tls::BalancedTarget(list, args);
    if (!target.ok()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad list");
    auto credentials = tls::MakeChannelCredentials({.ca_file = ca_->cert_file()});
    if (!credentials.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "credentials");
    auto stub = v1::Participant::NewStub(grpc::CreateCustomChannel(*target, *credentials, args));
    for (int i = 0; i < calls; ++i) {
      v1::StepCall call;
      call.set_saga_id("saga-" + std::to_string(i));
      call.set_step("a");
      call.set_handler("echo");
      call.set_attempt(1);
      call.set_input_json("{}");
      v1::StepReply reply;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      grpc::Status status = stub->ExecuteAction(&context, call, &reply);
      if (!status.ok()) return status;
    }
    return grpc::Status::OK;
  }

  std::string Port() const { return server_.address().substr(server_.address().rfind(':') + 1); }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<TestCa> ca_;
  ParticipantServer server_;
};

TEST_F(AddressListTlsTest, ACertificateNamingTheFirstHostIsAccepted) {
  Serve("DNS:localhost");
  // Resolved to 127.0.0.1 for the list, checked as "localhost"; the dead second entry
  // (nothing listens on port 1) is passed over.
  const grpc::Status status = EchoThrough("localhost:" + Port() + ",localhost:1", 6);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AddressListTlsTest, ACertificateForAnotherHostIsRefused) {
  Serve("DNS:elsewhere.invalid");
  EXPECT_EQ(EchoThrough("localhost:" + Port() + ",localhost:1", 1).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(AddressListTest, ABadListIsRefusedNamingTheEntry) {
  grpc::ChannelArguments args;
  EXPECT_EQ(tls::BalancedTarget("a:1,,b:2", args).status().message(),
            "coordinator address list \"a:1,,b:2\": entry 2 is empty");
  EXPECT_EQ(tls::BalancedTarget("127.0.0.1:1,127.0.0.1", args).status().message(),
            "coordinator address \"127.0.0.1\": no port (expected host:port)");
  EXPECT_FALSE(tls::BalancedTarget("127.0.0.1:1,[::1]:2", args).ok()) << "mixes families";
  EXPECT_FALSE(tls::BalancedTarget("127.0.0.1:1,127.0.0.1:70000", args).ok());
  EXPECT_FALSE(tls::BalancedTarget("", args).ok());
  EXPECT_EQ(*tls::BalancedTarget("dns:///coordinators:7700", args), "dns:///coordinators:7700");
  EXPECT_EQ(*tls::BalancedTarget("127.0.0.1:1, 127.0.0.2:2", args), "ipv4:127.0.0.1:1,127.0.0.2:2");
  EXPECT_EQ(*tls::BalancedTarget("[::1]:1,[::1]:2", args), "ipv6:[::1]:1,[::1]:2");
}

}  // namespace
}  // namespace skald
