#include "registrar.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <random>
#include <utility>

#include "coordinator_channel.h"

namespace skald {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kDefaultTtl(10'000);
constexpr milliseconds kMinRenewInterval(10);

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// Arguments for a channel that reconnects within max_backoff of a coordinator coming back:
// gRPC's own reconnect backoff (up to two minutes by default) would otherwise fail every
// Register fast long after the coordinator is up again.
grpc::ChannelArguments ReconnectArguments(const RegistrarTiming& timing) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(timing.initial_backoff.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(timing.max_backoff.count()));
  return args;
}

v1::RegisterRequest ToRequest(const Registration& registration) {
  v1::RegisterRequest request;
  request.set_service(registration.service);
  request.set_instance_id(registration.instance_id);
  request.set_address(registration.address);
  for (const std::string& name : registration.actions) request.add_actions(name);
  for (const std::string& name : registration.compensations) request.add_compensations(name);
  request.set_ttl_ms(
      static_cast<int32_t>(std::clamp<milliseconds::rep>(registration.ttl.count(), 0, INT32_MAX)));
  return request;
}

}  // namespace

milliseconds RenewInterval(const v1::RegisterReply& reply, milliseconds requested_ttl) {
  milliseconds interval;
  if (reply.renew_interval_ms() > 0) {
    interval = milliseconds(reply.renew_interval_ms());
  } else if (reply.ttl_ms() > 0) {
    interval = milliseconds(reply.ttl_ms()) / 3;
  } else if (requested_ttl > milliseconds(0)) {
    interval = requested_ttl / 3;
  } else {
    interval = kDefaultTtl / 3;
  }
  return std::max(interval, kMinRenewInterval);
}

std::string NewInstanceId() {
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(random()));
  return HostName() + "/" + std::to_string(getpid()) + "/" + suffix;
}

std::string DefaultAdvertiseAddress(const std::string& bound_address) {
  const std::string::size_type colon = bound_address.rfind(':');
  if (colon == std::string::npos) return bound_address;
  const std::string host = bound_address.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    return HostName() + bound_address.substr(colon);
  }
  return bound_address;
}

absl::StatusOr<std::unique_ptr<Registrar>> Registrar::Create(const CoordinatorEndpoint& coordinator,
                                                             Registration registration,
                                                             RegistrarTiming timing) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      NewCoordinatorChannel(coordinator, ReconnectArguments(timing));
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<Registrar>(
      new Registrar(coordinator, std::move(registration), timing, std::move(*channel)));
}

Registrar::Registrar(CoordinatorEndpoint coordinator, Registration registration,
                     RegistrarTiming timing, std::shared_ptr<grpc::Channel> channel)
    : coordinator_(std::move(coordinator)),
      registration_(std::move(registration)),
      timing_(timing),
      stub_(v1::ParticipantRegistry::NewStub(std::move(channel))),
      status_(absl::FailedPreconditionError("not registered yet")),
      next_backoff_(timing.initial_backoff) {
  assert(!registration_.service.empty());
}

Registrar::~Registrar() { Stop(); }

absl::Status Registrar::Start() {
  absl::StatusOr<milliseconds> renew = RegisterOnce();
  milliseconds first_wait = renew.ok() ? *renew : next_backoff_;
  if (!renew.ok()) next_backoff_ = std::min(2 * next_backoff_, timing_.max_backoff);
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_) thread_ = std::thread([this, first_wait] { Run(first_wait); });
  return renew.status();
}

void Registrar::Stop() {
  bool sent = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
    changed_.notify_all();
    // A Register in flight (e.g. Start()'s, concurrently with this call) must be over before
    // Deregister is sent, or the registration could outlive it. Its deadline bounds the wait.
    changed_.wait(lock, [this] { return in_flight_ == nullptr; });
    sent = sent_;
  }
  // thread_ was started, if at all, under mu_ before stopping_ was set: it is not written
  // any more.
  if (thread_.joinable()) thread_.join();
  const std::string outcome = sent ? DeregisterOnce() : "never registered";
  std::lock_guard<std::mutex> lock(mu_);
  status_ = absl::FailedPreconditionError("stopped (" + outcome + "): " + Describe());
}

absl::Status Registrar::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

absl::StatusOr<milliseconds> Registrar::RegisterOnce() {
  const v1::RegisterRequest request = ToRequest(registration_);
  v1::RegisterReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timing_.register_deadline);
  AuthorizeCall(context, coordinator_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::CancelledError("stopped");
    sent_ = true;
    in_flight_ = &context;
  }
  const grpc::Status sent = stub_->Register(&context, request, &reply);
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ = nullptr;
  changed_.notify_all();
  if (stopping_) return absl::CancelledError("stopped");
  if (!sent.ok()) {
    status_ = absl::Status(static_cast<absl::StatusCode>(sent.error_code()),
                           "registering " + Describe() + ": " + sent.error_message());
    return status_;
  }
  status_ = absl::OkStatus();
  return RenewInterval(reply, registration_.ttl);
}

std::string Registrar::DeregisterOnce() {
  v1::DeregisterRequest request;
  request.set_service(registration_.service);
  request.set_instance_id(registration_.instance_id);
  v1::DeregisterReply reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timing_.deregister_deadline);
  AuthorizeCall(context, coordinator_);
  const grpc::Status sent = stub_->Deregister(&context, request, &reply);
  if (!sent.ok()) {
    return "deregistering failed, the registration expires by itself: " + sent.error_message();
  }
  return reply.removed() ? "deregistered" : "deregistered; the registration had already expired";
}

void Registrar::Run(milliseconds first_wait) {
  milliseconds wait = first_wait;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (changed_.wait_for(lock, wait, [this] { return stopping_; })) return;
    }
    absl::StatusOr<milliseconds> renew = RegisterOnce();
    if (renew.ok()) {
      wait = *renew;
      next_backoff_ = timing_.initial_backoff;
    } else {
      // A failed renewal is retried sooner than the renew interval: the registration may be
      // about to expire.
      wait = next_backoff_;
      next_backoff_ = std::min(2 * next_backoff_, timing_.max_backoff);
    }
  }
}

std::string Registrar::Describe() const {
  return "instance " + registration_.instance_id + " of service \"" + registration_.service +
         "\" at " + registration_.address + " with the coordinator at " + coordinator_.address;
}

}  // namespace skald
