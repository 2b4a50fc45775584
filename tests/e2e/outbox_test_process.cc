// A service process for outbox_e2etest, killed by the test at the moment that matters:
//   outbox-test-process commit-then-die DB_URL DEFINITION SAGA_ID
//       commits one start through the outbox, with no relay running, then SIGKILLs itself
//       (a service that dies right after its COMMIT, before any relay of its own sent it);
//   outbox-test-process relay DB_URL COORDINATOR READY_FILE
//       runs a relay until killed, after writing READY_FILE.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <string>

#include "skald/saga_outbox.h"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "commit-then-die" && argc == 5) {
    pqxx::connection connection(argv[2]);
    if (absl::Status schema = skald::ApplyOutboxSchema(connection); !schema.ok()) {
      std::cerr << schema << "\n";
      return 1;
    }
    pqxx::work tx(connection);
    absl::StatusOr<std::string> id =
        skald::StartSagaInTransaction(tx, argv[3], {{"from", "commit-then-die"}}, argv[4]);
    if (!id.ok()) {
      std::cerr << id.status() << "\n";
      return 1;
    }
    tx.commit();
    raise(SIGKILL);
  }
  if (mode == "relay" && argc == 5) {
    auto relay = skald::OutboxRelay::Start({.db_url = argv[2],
                                            .coordinator = {.address = argv[3]},
                                            .call_deadline = std::chrono::seconds(60)});
    if (!relay.ok()) {
      std::cerr << relay.status() << "\n";
      return 1;
    }
    std::ofstream(argv[4]) << "relay\n";
    for (;;) pause();
  }
  std::cerr << "usage: outbox-test-process commit-then-die DB_URL DEFINITION SAGA_ID\n"
               "       outbox-test-process relay DB_URL COORDINATOR READY_FILE\n";
  return 2;
}
