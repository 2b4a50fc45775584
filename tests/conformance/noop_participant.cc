// noop-participant-cpp: the C++ twin of participant-sdk/go/cmd/skald-noop-participant, for
// measuring calls per second of each SDK in separate processes (skald_conformance --rate):
// handler "noop" (action and compensation) answers success {} at once, like the benchmark's
// plain no-op participant (bench/noop_participants.h). Prints the address it listens on, and
// serves until SIGINT or SIGTERM.
//
//   noop-participant-cpp [--listen 127.0.0.1:0]
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "skald/participant_server.h"

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  if (argc == 3 && std::strcmp(argv[1], "--listen") == 0) {
    listen = argv[2];
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: noop-participant-cpp [--listen HOST:PORT]\n");
    return 2;
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  skald::ParticipantServer server;
  auto noop = [](const skald::StepContext&, const nlohmann::json&) {
    return skald::StepResult::Success(nlohmann::json::object());
  };
  server.on_action("noop", noop);
  server.on_compensation("noop", noop);
  if (absl::Status started = server.Start(listen); !started.ok()) {
    std::fprintf(stderr, "noop-participant-cpp: %s\n", started.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", server.address().c_str());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  server.Shutdown(std::chrono::seconds(5));
  return 0;
}
