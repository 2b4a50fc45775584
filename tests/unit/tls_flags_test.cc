// The coordinator's TLS flags: which listen addresses count as loopback, when the plaintext
// warning is given, and the --config file of serve.

#include "coordinator/cli/tls_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "coordinator/cli/commands.h"
#include "coordinator/cli/config_file.h"

namespace skald::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(TlsFlagsTest, LoopbackAddresses) {
  for (const char* address : {"127.0.0.1:7700", "127.8.9.10:1", "localhost:7700", "LOCALHOST:0",
                              "[::1]:7700", "[::ffff:127.0.0.1]:7700", "unix:/tmp/skald.sock"}) {
    EXPECT_TRUE(IsLoopbackAddress(address)) << address;
  }
  for (const char* address :
       {"0.0.0.0:7700", "[::]:7700", ":7700", "10.0.0.5:7700", "128.0.0.1:7700", "example.com:7700",
        "localhost.example.com:1", "[2001:db8::1]:7700"}) {
    EXPECT_FALSE(IsLoopbackAddress(address)) << address;
  }
}

TEST(TlsFlagsTest, WarnsOnlyForPlaintextBeyondLoopback) {
  server::ServerOptions options;
  options.listen_address = "127.0.0.1:7700";
  options.http_listen_address = "127.0.0.1:7780";
  EXPECT_THAT(PlaintextWarning(options), IsEmpty());

  options.listen_address = "0.0.0.0:7700";
  std::vector<std::string> lines = PlaintextWarning(options);
  ASSERT_THAT(lines, Not(IsEmpty()));
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  EXPECT_THAT(text, HasSubstr("0.0.0.0:7700"));
  EXPECT_THAT(text, Not(HasSubstr("HTTP port")));
  EXPECT_THAT(text, HasSubstr("--tls-cert"));

  options.tls.cert_file = "server.pem";
  options.tls.key_file = "server.key";
  EXPECT_THAT(PlaintextWarning(options), IsEmpty());

  options.http_listen_address = "0.0.0.0:7780";
  lines = PlaintextWarning(options);
  ASSERT_THAT(lines, Not(IsEmpty()));
  text.clear();
  for (const std::string& line : lines) text += line + "\n";
  EXPECT_THAT(text, HasSubstr("HTTP port"));
  EXPECT_THAT(text, Not(HasSubstr("client API")));
}

TEST(TlsFlagsTest, ApplyNamesTheFlagsOfAMissingFile) {
  TlsFlags flags;
  flags.cert = "/nonexistent/server.pem";
  flags.key = "/nonexistent/server.key";
  server::ServerOptions options;
  absl::Status applied = ApplyTlsFlags(flags, options);
  EXPECT_EQ(applied.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(applied.message()), HasSubstr("--tls-cert"));
  EXPECT_THAT(std::string(applied.message()), HasSubstr("/nonexistent/server.pem"));

  flags = TlsFlags{};
  flags.participant_key = "/nonexistent/client.key";
  applied = ApplyTlsFlags(flags, options);
  EXPECT_THAT(std::string(applied.message()), HasSubstr("--participant-tls-*"));

  flags = TlsFlags{};
  flags.reload_interval = "0s";
  EXPECT_THAT(std::string(ApplyTlsFlags(flags, options).message()),
              HasSubstr("--tls-reload-interval"));
}

TEST(TlsFlagsTest, PlaintextByDefault) {
  server::ServerOptions options;
  ASSERT_TRUE(ApplyTlsFlags(TlsFlags{}, options).ok());
  EXPECT_FALSE(options.tls.enabled());
  EXPECT_FALSE(options.http_tls.enabled());
  EXPECT_FALSE(options.participant_tls.enabled());
  EXPECT_EQ(options.tls_reload_interval, std::chrono::seconds(60));
}

// A config file's flat keys belong to the subcommand run; the command line wins.
TEST(ConfigFileTest, FlatKeysSetTheSubcommandsFlagsAndTheCommandLineWins) {
  const std::string path = ::testing::TempDir() + "/skald-config-test.toml";
  {
    std::ofstream out(path);
    out << "# skald serve\n"
        << "log-level = \"debug\"\n"
        << "db = \"postgresql://from-file/skald\"\n"
        << "listen = \"0.0.0.0:7700\"\n"
        << "tls-cert = \"/etc/skald/server.pem\"\n";
  }
  auto parse = [&](std::vector<std::string> args, std::string& level, ServeFlags& serve) {
    CLI::App app;
    app.fallthrough();
    app.add_option("--log-level", level);
    AddConfigFile(app);
    auto* serve_cmd = app.add_subcommand("serve");
    serve_cmd->add_option("--db", serve.database_uri)->required();
    serve_cmd->add_option("--listen", serve.listen_address);
    AddTlsFlags(*serve_cmd, serve.tls);
    std::vector<const char*> argv = {"skald"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  };
  std::string level = "info";
  ServeFlags serve;
  ASSERT_NO_THROW(parse({"serve", "--config", path, "--listen", "127.0.0.1:9"}, level, serve));
  EXPECT_EQ(level, "debug");
  EXPECT_EQ(serve.database_uri, "postgresql://from-file/skald");
  EXPECT_EQ(serve.listen_address, "127.0.0.1:9");
  EXPECT_EQ(serve.tls.cert, "/etc/skald/server.pem");

  {
    std::ofstream out(path, std::ios::trunc);
    out << "no-such-flag = 1\n";
  }
  std::string ignored;
  ServeFlags other;
  EXPECT_THROW(parse({"serve", "--db", "x", "--config", path}, ignored, other), CLI::ConfigError);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace skald::cli
