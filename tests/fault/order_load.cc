#include "tests/fault/order_load.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/time/clock.h"
#include "coordinator/api/proto_mapping.h"
#include "skald/v1/saga_service.grpc.pb.h"

namespace skald::testing::fault {
namespace {

constexpr auto kCallDeadline = std::chrono::seconds(3);

// A decimal amount with two places, as a JSON number: e.g. 123.45.
nlohmann::json Amount(int whole, int cents) {
  char text[32];
  std::snprintf(text, sizeof(text), "%d.%02d", whole, cents);
  return nlohmann::json::parse(text);
}

// "UNAVAILABLE", "DEADLINE_EXCEEDED", ...

}  // namespace

std::vector<OrderSaga> MakeOrderMix(std::string_view prefix, int count, long long stock,
                                    std::mt19937_64& rng) {
  std::uniform_int_distribution<int> quantity(1, 3);
  std::uniform_int_distribution<int> whole(1, 500);
  std::uniform_int_distribution<int> cents(0, 99);
  std::vector<OrderSaga> sagas;
  for (int i = 0; i < count; ++i) {
    char id[160];
    std::snprintf(id, sizeof(id), "%.*s-%03d", static_cast<int>(prefix.size()), prefix.data(), i);
    const OrderKind kind = i % 3 != 2   ? OrderKind::kCompletes
                           : i % 6 == 2 ? OrderKind::kDeclined
                                        : OrderKind::kOutOfStock;
    nlohmann::json input = {{"order_id", std::string("order-") + id},
                            {"customer", "customer-" + std::to_string(i % 17)},
                            {"sku", "widget"},
                            {"quantity", quantity(rng)},
                            {"amount", Amount(whole(rng), cents(rng))}};
    if (kind == OrderKind::kDeclined) input["amount"] = Amount(2000, cents(rng));
    if (kind == OrderKind::kOutOfStock) input["quantity"] = stock + 1;
    sagas.push_back({id, std::move(input), kind});
  }
  std::shuffle(sagas.begin(), sagas.end(), rng);
  return sagas;
}

std::vector<ExpectedSaga> ExpectedEnds(const std::vector<OrderSaga>& sagas, bool strict) {
  std::vector<ExpectedSaga> expected;
  for (const OrderSaga& saga : sagas) {
    if (saga.kind != OrderKind::kCompletes) {
      expected.push_back({saga.id, {"COMPENSATED"}});
    } else if (strict) {
      expected.push_back({saga.id, {"COMPLETED"}});
    } else {
      expected.push_back({saga.id, {"COMPLETED", "COMPENSATED"}});
    }
  }
  return expected;
}

SagaStarter::SagaStarter(std::string address, std::vector<OrderSaga> sagas, Options options)
    : address_(std::move(address)), sagas_(std::move(sagas)), options_(options) {
  thread_ = std::thread([this] { Run(); });
}

SagaStarter::~SagaStarter() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool SagaStarter::WaitDone(absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!done_.load()) {
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (thread_.joinable()) thread_.join();
  return true;
}

void SagaStarter::Run() {
  const absl::Time began = absl::Now();
  // Reconnect quickly after the coordinator comes back, rather than after gRPC's default
  // backoff of 1 s growing to 2 min. (Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: that is the
  // connect timeout, and a short one fails every handshake on a loaded machine.)
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto stub = v1::SagaService::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), arguments));
  for (const OrderSaga& saga : sagas_) {
    const absl::Time saga_give_up = absl::Now() + options_.give_up_after;
    std::string last_error;
    bool acknowledged = false;
    while (!stop_.load() && absl::Now() < saga_give_up) {
      v1::StartSagaRequest request;
      request.set_definition("order");
      request.set_saga_id(saga.id);
      request.set_input_json(saga.input.dump());
      v1::StartSagaResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      const grpc::Status status = stub->StartSaga(&context, request, &response);
      if (status.ok()) {
        acknowledged = true;
        if (!response.created()) ++result_.existing;
        break;
      }
      ++result_.failed_calls;
      last_error = api::StatusCodeName(status.error_code()) + ": " + status.error_message();
      if (result_.failures.size() < 10 || result_.failures.contains(last_error)) {
        ++result_.failures[last_error];
      }
      absl::SleepFor(options_.retry_pause);
    }
    if (acknowledged) {
      result_.acknowledged.push_back(saga.id);
      ++acknowledged_count_;
    } else {
      result_.given_up.push_back(saga.id + " (" + last_error + ")");
    }
    if (stop_.load()) break;
    absl::SleepFor(options_.pace);
  }
  result_.took = absl::Now() - began;
  done_ = true;
}

}  // namespace skald::testing::fault
