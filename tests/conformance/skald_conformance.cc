// skald_conformance: checks a participant implementing the conformance contract
// (docs/participant-sdk.md) against the promises of every Skald participant SDK, speaking
// proto/skald/v1/participant.proto as the coordinator would. Prints each check, what it sent
// and saw; exits 0 when every check passed, 1 when one failed, 2 for bad flags.
//
//   skald_conformance --address 127.0.0.1:7900
//
// With --rate it measures instead how many calls per second each --address answers (a no-op
// handler, e.g. the benchmark's no-op participants in C++ and Go), one after the other in
// the same run, and prints each rate and their ratio to the first:
//
//   skald_conformance --rate --address C++=127.0.0.1:7901 --address Go=127.0.0.1:7902
#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tests/conformance/call_rate.h"
#include "tests/conformance/conformance_checks.h"

namespace skald::conformance {
namespace {

std::string NewRunId() {
  std::random_device random;
  char id[32];
  std::snprintf(id, sizeof(id), "run-%08x", random());
  return id;
}

int RunChecks(const std::string& address, const std::string& run_id) {
  std::printf("conformance of the participant at %s (run %s)\n", address.c_str(), run_id.c_str());
  const StepCaller caller(address);
  std::vector<std::string> failed;
  const std::vector<CheckReport> reports = RunConformanceChecks(caller, run_id);
  for (const CheckReport& report : reports) {
    std::printf("%s %s: %s\n", report.passed ? "PASS" : "FAIL", report.name.c_str(),
                report.promise.c_str());
    for (const std::string& line : report.observations) std::printf("    %s\n", line.c_str());
    if (!report.passed) failed.push_back(report.name);
  }
  std::string failed_list;
  for (const std::string& name : failed) failed_list += (failed_list.empty() ? "" : " ") + name;
  std::printf("%zu checks: %zu passed, %zu failed%s\n", reports.size(),
              reports.size() - failed.size(), failed.size(),
              failed.empty() ? "" : (" (" + failed_list + ")").c_str());
  return failed.empty() ? 0 : 1;
}

int RunRates(const std::vector<std::string>& targets, const std::string& handler, int concurrency,
             double seconds) {
  double first_rate = 0;
  for (const std::string& target : targets) {
    // "NAME=HOST:PORT" or just "HOST:PORT".
    const size_t equals = target.find('=');
    const std::string name = equals == std::string::npos ? target : target.substr(0, equals);
    const std::string address = equals == std::string::npos ? target : target.substr(equals + 1);
    const CallRate rate = MeasureCallRate(address, handler, concurrency, absl::Seconds(seconds));
    if (first_rate == 0) first_rate = rate.per_second();
    std::printf("%-12s %s: %lld calls in %.1f s = %.0f calls/s (%lld failed), %.2fx the first\n",
                name.c_str(), address.c_str(), rate.calls, absl::ToDoubleSeconds(rate.elapsed),
                rate.per_second(), rate.failures,
                first_rate > 0 ? rate.per_second() / first_rate : 0.0);
    if (rate.failures > 0 || rate.calls == 0) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace skald::conformance

int main(int argc, char** argv) {
  CLI::App app{"Checks a participant against the Skald participant conformance contract",
               "skald_conformance"};
  std::vector<std::string> addresses;
  std::string run_id = skald::conformance::NewRunId();
  bool rate = false;
  std::string handler = "noop";
  int concurrency = 16;
  double seconds = 5;
  app.add_option("--address", addresses,
                 "host:port of the participant (with --rate: NAME=host:port, repeatable)")
      ->required();
  app.add_option("--run-id", run_id, "prefix of every counter and saga id (default: random)");
  app.add_flag("--rate", rate, "measure calls per second of each --address instead of checking");
  app.add_option("--handler", handler, "with --rate: the action handler to call")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "with --rate: concurrent callers")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  app.add_option("--seconds", seconds, "with --rate: how long each address is measured")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (rate) return skald::conformance::RunRates(addresses, handler, concurrency, seconds);
  if (addresses.size() != 1) {
    std::fprintf(stderr, "skald_conformance: give one --address to check\n");
    return 2;
  }
  return skald::conformance::RunChecks(addresses[0], run_id);
}
