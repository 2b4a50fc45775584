#include "coordinator/cli/tls_flags.h"

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "coordinator/cli/commands.h"
#include "coordinator/core/duration.h"

namespace skald::cli {
namespace {

std::string HostOf(const std::string& listen_address) {
  const size_t colon = listen_address.rfind(':');
  std::string host = colon == std::string::npos ? listen_address : listen_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// Prefixes a file check's message with the flags it is about.
absl::Status Named(const std::string& flags, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::InvalidArgumentError(flags + ": " + std::string(status.message()));
}

}  // namespace

void AddTlsFlags(CLI::App& command, TlsFlags& flags) {
  const std::string group = "TLS (docs/tls.md)";
  command
      .add_option("--tls-cert", flags.cert,
                  "PEM certificate (chain) of the gRPC port, and of the HTTP port unless "
                  "--http-tls-cert is given; plaintext when not set")
      ->group(group);
  command.add_option("--tls-key", flags.key, "PEM private key of --tls-cert")->group(group);
  command
      .add_option("--tls-client-ca", flags.client_ca,
                  "mutual TLS: clients and participants registering must present a "
                  "certificate signed by this CA (PEM)")
      ->group(group);
  command
      .add_option("--participant-tls-ca", flags.participant_ca,
                  "call participants over TLS, checking their certificates against this CA "
                  "(PEM)")
      ->group(group);
  command
      .add_option("--participant-tls-cert", flags.participant_cert,
                  "client certificate presented to participants (mutual TLS)")
      ->group(group);
  command
      .add_option("--participant-tls-key", flags.participant_key,
                  "PEM private key of --participant-tls-cert")
      ->group(group);
  command
      .add_option("--http-tls-cert", flags.http_cert,
                  "HTTPS certificate of the HTTP port (default: --tls-cert)")
      ->group(group);
  command.add_option("--http-tls-key", flags.http_key, "PEM private key of --http-tls-cert")
      ->group(group);
  command
      .add_option("--http-tls-client-ca", flags.http_client_ca,
                  "HTTP clients must present a certificate signed by this CA (default: none "
                  "asked)")
      ->group(group);
  command
      .add_option("--tls-reload-interval", flags.reload_interval,
                  "how often the gRPC certificate, key and CA files are read again (replaced "
                  "files take effect without a restart)")
      ->capture_default_str()
      ->group(group);
}

void AddClientTlsFlags(CLI::App& command, ClientFlags& flags) {
  if (const char* ca = std::getenv("SKALD_TLS_CA"); ca && *ca && flags.tls_ca.empty()) {
    flags.tls_ca = ca;
  }
  command.add_option("--tls-ca", flags.tls_ca,
                     "connect over TLS, checking the coordinator's certificate against this CA "
                     "(PEM; env SKALD_TLS_CA)");
  command.add_option("--tls-cert", flags.tls_cert,
                     "client certificate for a coordinator that requires mutual TLS (PEM)");
  command.add_option("--tls-key", flags.tls_key, "PEM private key of --tls-cert");
}

absl::Status ApplyTlsFlags(const TlsFlags& flags, server::ServerOptions& options) {
  options.tls = {.cert_file = flags.cert, .key_file = flags.key, .client_ca_file = flags.client_ca};
  if (absl::Status s =
          Named("--tls-cert/--tls-key/--tls-client-ca", tls::CheckServerFiles(options.tls));
      !s.ok()) {
    return s;
  }
  options.participant_tls = {.ca_file = flags.participant_ca,
                             .cert_file = flags.participant_cert,
                             .key_file = flags.participant_key};
  if (absl::Status s =
          Named("--participant-tls-*", tls::CheckChannelFiles(options.participant_tls));
      !s.ok()) {
    return s;
  }
  const bool own_http_cert = !flags.http_cert.empty() || !flags.http_key.empty();
  options.http_tls = {.cert_file = own_http_cert ? flags.http_cert : flags.cert,
                      .key_file = own_http_cert ? flags.http_key : flags.key,
                      .client_ca_file = flags.http_client_ca};
  if (absl::Status s = Named("--http-tls-*", tls::CheckServerFiles(options.http_tls)); !s.ok()) {
    return s;
  }
  auto interval = core::ParseDuration(flags.reload_interval);
  if (!interval.ok() || *interval < std::chrono::seconds(1)) {
    return absl::InvalidArgumentError(
        "--tls-reload-interval: must be a duration of at least 1s, got \"" + flags.reload_interval +
        "\"");
  }
  options.tls_reload_interval = std::chrono::duration_cast<std::chrono::seconds>(*interval);
  return absl::OkStatus();
}

bool IsLoopbackAddress(const std::string& listen_address) {
  if (listen_address.starts_with("unix:") || listen_address.starts_with("unix-abstract:")) {
    return true;
  }
  std::string host = HostOf(listen_address);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::vector<std::string> PlaintextWarning(const server::ServerOptions& options) {
  std::vector<std::string> exposed;
  if (!options.tls.enabled() && !IsLoopbackAddress(options.listen_address)) {
    exposed.push_back("the client API and participant registry on " + options.listen_address);
  }
  if (!options.http_listen_address.empty() && !options.http_tls.enabled() &&
      !IsLoopbackAddress(options.http_listen_address)) {
    exposed.push_back("the HTTP port (JSON API, dashboard) on " + options.http_listen_address);
  }
  if (exposed.empty()) return {};
  std::vector<std::string> lines = {
      "************************************************************************",
      "PLAINTEXT ON A NON-LOOPBACK ADDRESS: no TLS protects"};
  for (const std::string& what : exposed) lines.push_back("  - " + what);
  lines.push_back("Anyone on the network can read saga inputs and outputs, and forge requests.");
  lines.push_back("Serve with --tls-cert and --tls-key (and --tls-client-ca for mutual TLS),");
  lines.push_back("or listen on 127.0.0.1. See docs/tls.md.");
  lines.push_back("************************************************************************");
  return lines;
}

}  // namespace skald::cli
