// The load of a fault-injection run: a mix of order sagas meant to complete or to be
// compensated, and a client that starts them through the API whatever happens to the
// coordinator meanwhile.
#ifndef SKALD_TESTS_FAULT_ORDER_LOAD_H_
#define SKALD_TESTS_FAULT_ORDER_LOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "tests/fault/invariants.h"

namespace skald::testing::fault {

enum class OrderKind {
  kCompletes,   // In stock, within the card limit.
  kDeclined,    // Amount over the payment service's limit: card_declined.
  kOutOfStock,  // More than the whole stock: insufficient_stock.
};

struct OrderSaga {
  std::string id;
  nlohmann::json input;
  OrderKind kind;
};

// Returns `count` order sagas with ids "<prefix>-000", "<prefix>-001", ... in an order
// shuffled by `rng`: two in three complete (1-3 widgets, 1-500.xx), the others alternate
// between declined (2000.xx) and out of stock (`stock` + 1 widgets).
// REQUIRES: prefix matches [A-Za-z0-9._-]+.
std::vector<OrderSaga> MakeOrderMix(std::string_view prefix, int count, long long stock,
                                    std::mt19937_64& rng);

// The end states each saga may reach. `strict`: a completing order must complete; otherwise
// it may also be compensated (its retries may run out while a participant or the database
// is down). Declined and out-of-stock orders must always be compensated.
std::vector<ExpectedSaga> ExpectedEnds(const std::vector<OrderSaga>& sagas, bool strict);

// Starts sagas through the coordinator's client API on a thread of its own, each with its
// client-chosen id, so that a start whose answer was lost (the coordinator was killed, the
// database was down) is simply sent again and returns the saga it created, if any. The
// client reconnects within 100-500 ms of the coordinator coming back.
class SagaStarter {
 public:
  struct Options {
    // Pause between two sagas' first start attempts.
    absl::Duration pace = absl::Milliseconds(10);
    // Pause between failed attempts of one start.
    absl::Duration retry_pause = absl::Milliseconds(50);
    // How long one saga may keep failing before it is given up on.
    absl::Duration give_up_after = absl::Seconds(60);
  };

  struct Result {
    std::vector<std::string> acknowledged;  // Ids StartSaga answered OK for.
    std::vector<std::string> given_up;      // Ids never acknowledged, with the last error.
    int failed_calls = 0;                   // Calls that failed and were sent again.
    // How many failed calls got each answer ("UNAVAILABLE: ..."), the first 10 kinds.
    std::map<std::string, int> failures;
    int existing = 0;  // Acknowledged as already created (created=false).
    absl::Duration took;
  };

  // Starts the thread. `address` is the coordinator's host:port.
  SagaStarter(std::string address, std::vector<OrderSaga> sagas, Options options);
  // Stops the thread (finishing the call in progress) and joins it.
  ~SagaStarter();
  SagaStarter(const SagaStarter&) = delete;
  SagaStarter& operator=(const SagaStarter&) = delete;

  // Waits up to `timeout` for every saga to be acknowledged or given up on; false if the
  // thread is still busy then.
  bool WaitDone(absl::Duration timeout);
  // Sagas acknowledged so far (readable while running).
  int acknowledged_count() const { return acknowledged_count_.load(); }
  // REQUIRES: WaitDone returned true.
  const Result& result() const { return result_; }

 private:
  void Run();

  const std::string address_;
  const std::vector<OrderSaga> sagas_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<int> acknowledged_count_{0};
  Result result_;  // Written by the thread only, until done_.
  std::thread thread_;
};

}  // namespace skald::testing::fault

#endif  // SKALD_TESTS_FAULT_ORDER_LOAD_H_
