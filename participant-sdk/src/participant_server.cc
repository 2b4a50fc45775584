#include "skald/participant_server.h"

#include <grpcpp/grpcpp.h>

#include <cassert>
#include <mutex>
#include <optional>
#include <utility>

#include "coordinator_channel.h"
#include "registrar.h"
#include "skald/v1/participant.grpc.pb.h"
#include "step_dispatcher.h"
#include "tls/grpc_credentials.h"

namespace skald {
namespace {

// Serves the Participant service with the synchronous API: each call runs on a thread of
// gRPC's own pool and may block there. Handlers write to databases, so the callback API
// would only move the same blocking onto a pool of our own, with more code and no gain at
// the call rates a participant sees.
class ParticipantService final : public v1::Participant::Service {
 public:
  explicit ParticipantService(const StepDispatcher* dispatcher) : dispatcher_(dispatcher) {}

  grpc::Status ExecuteAction(grpc::ServerContext* context, const v1::StepCall* call,
                             v1::StepReply* reply) override {
    return dispatcher_->Dispatch(Phase::kAction, *call, Info(*context), reply);
  }

  grpc::Status ExecuteCompensation(grpc::ServerContext* context, const v1::StepCall* call,
                                   v1::StepReply* reply) override {
    return dispatcher_->Dispatch(Phase::kCompensation, *call, Info(*context), reply);
  }

 private:
  static CallInfo Info(const grpc::ServerContext& context) {
    CallInfo info{.deadline = context.deadline()};
    const auto& metadata = context.client_metadata();
    if (const auto found = metadata.find("traceparent"); found != metadata.end()) {
      info.traceparent_metadata.assign(found->second.data(), found->second.size());
    }
    return info;
  }

  const StepDispatcher* dispatcher_;
};

}  // namespace

class ParticipantServer::Impl {
 public:
  StepDispatcher dispatcher;
  ParticipantService service{&dispatcher};
  const std::string instance_id = NewInstanceId();

  mutable std::mutex mu;  // Guards the members below.
  std::optional<RegistrationOptions> registration;
  std::optional<TlsOptions> tls;
  // Set by Start() when registration is set; lives until this object is destroyed.
  std::unique_ptr<Registrar> registrar;
  // Why Start() could not make the registrar, when it could not.
  absl::Status registration_error;
  std::unique_ptr<grpc::Server> server;
  bool started = false;
  bool shut_down = false;
  int port = 0;
  std::string address;

  // Builds and starts `server` on `listen_address` with `credentials`; sets started, port
  // and address. REQUIRES: mu is held.
  absl::Status Listen(const std::string& listen_address,
                      std::shared_ptr<grpc::ServerCredentials> credentials);
};

ParticipantServer::ParticipantServer() : impl_(std::make_unique<Impl>()) {}

ParticipantServer::~ParticipantServer() { Shutdown(std::chrono::milliseconds(0)); }

void ParticipantServer::on_action(std::string name, StepHandler handler) {
  assert(!impl_->started && handler);
  impl_->dispatcher.Register(Phase::kAction, std::move(name), std::move(handler));
}

void ParticipantServer::on_compensation(std::string name, StepHandler handler) {
  assert(!impl_->started && handler);
  impl_->dispatcher.Register(Phase::kCompensation, std::move(name), std::move(handler));
}

void ParticipantServer::register_with(RegistrationOptions options) {
  assert(!options.coordinator_address.empty() && !options.service.empty() &&
         options.ttl >= std::chrono::milliseconds(0));
  std::lock_guard<std::mutex> lock(impl_->mu);
  assert(!impl_->started);
  impl_->registration = std::move(options);
}

void ParticipantServer::serve_tls(TlsOptions options) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  assert(!impl_->started);
  impl_->tls = std::move(options);
}

std::string ParticipantServer::instance_id() const { return impl_->instance_id; }

absl::Status ParticipantServer::registration_status() const {
  Registrar* registrar = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->registration.has_value()) {
      return absl::FailedPreconditionError("register_with() was not called");
    }
    if (!impl_->registration_error.ok()) return impl_->registration_error;
    registrar = impl_->registrar.get();
  }
  if (registrar == nullptr) return absl::FailedPreconditionError("not started");
  return registrar->status();
}

absl::Status ParticipantServer::Start(const std::string& listen_address) {
  Registrar* registrar = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->started) {
      return absl::FailedPreconditionError("the participant server was already started");
    }
    // Every file is checked before anything listens, so that a bad one is reported by name.
    tls::ServerFiles server_files;
    if (impl_->tls.has_value()) {
      server_files = {.cert_file = impl_->tls->cert_file,
                      .key_file = impl_->tls->key_file,
                      .client_ca_file = impl_->tls->client_ca_file};
      if (server_files.cert_file.empty() || server_files.key_file.empty()) {
        return absl::InvalidArgumentError("serve_tls(): cert_file and key_file are required");
      }
    }
    auto server_credentials = tls::MakeServerCredentials(server_files);
    if (!server_credentials.ok()) {
      return absl::InvalidArgumentError("serve_tls(): " +
                                        std::string(server_credentials.status().message()));
    }
    std::optional<CoordinatorEndpoint> coordinator;
    if (impl_->registration.has_value()) {
      const RegistrationOptions& options = *impl_->registration;
      coordinator = CoordinatorEndpoint{
          .address = options.coordinator_address, .tls = options.tls, .token = options.token};
      // Checked before listening (the channel is only made, not connected), so that a bad
      // file or address list is reported by name; the registrar makes its own after.
      if (auto checked = NewCoordinatorChannel(*coordinator); !checked.ok()) {
        return absl::InvalidArgumentError("register_with(): " +
                                          std::string(checked.status().message()));
      }
    }
    if (absl::Status listening = impl_->Listen(listen_address, std::move(*server_credentials));
        !listening.ok()) {
      return listening;
    }
    if (impl_->registration.has_value()) {
      const RegistrationOptions& options = *impl_->registration;
      absl::StatusOr<std::unique_ptr<Registrar>> created = Registrar::Create(
          *coordinator,
          Registration{
              .service = options.service,
              .instance_id = impl_->instance_id,
              .address = options.advertise_address.empty() ? DefaultAdvertiseAddress(impl_->address)
                                                           : options.advertise_address,
              .actions = impl_->dispatcher.Names(Phase::kAction),
              .compensations = impl_->dispatcher.Names(Phase::kCompensation),
              .ttl = options.ttl,
          });
      // Checked above; a host name of the list that stopped resolving since is the only way
      // here. The instance serves, unregistered, and says why in registration_status().
      if (!created.ok()) {
        impl_->registration_error = created.status();
        return absl::OkStatus();
      }
      impl_->registrar = std::move(*created);
      registrar = impl_->registrar.get();
    }
  }
  // Unlocked: the first Register may take its whole deadline, and address() or Shutdown()
  // must not wait for it. The outcome is kept in registration_status().
  if (registrar != nullptr) registrar->Start().IgnoreError();
  return absl::OkStatus();
}

absl::Status ParticipantServer::Impl::Listen(const std::string& listen_address,
                                             std::shared_ptr<grpc::ServerCredentials> credentials) {
  if (started) {
    return absl::FailedPreconditionError("the participant server was already started");
  }
  const std::string::size_type colon = listen_address.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen_address.size()) {
    return absl::InvalidArgumentError("listen address \"" + listen_address +
                                      "\" has no port; expected host:port");
  }

  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT, and a second participant on the same port would
  // start "successfully" and take a share of the calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int bound_port = 0;
  builder.AddListeningPort(listen_address, std::move(credentials), &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> built = builder.BuildAndStart();
  if (built == nullptr || bound_port == 0) {
    if (built != nullptr) built->Shutdown();
    return absl::UnavailableError("cannot listen on \"" + listen_address +
                                  "\": the address is in use or cannot be bound");
  }
  server = std::move(built);
  started = true;
  port = bound_port;
  address = listen_address.substr(0, colon + 1) + std::to_string(port);
  return absl::OkStatus();
}

int ParticipantServer::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->port;
}

std::string ParticipantServer::address() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->address;
}

void ParticipantServer::Wait() {
  grpc::Server* server = nullptr;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    server = impl_->server.get();
  }
  if (server != nullptr) server->Wait();
}

void ParticipantServer::Shutdown(std::chrono::milliseconds grace) {
  grpc::Server* server = nullptr;
  Registrar* registrar = nullptr;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->server == nullptr) return;
    first = !impl_->shut_down;
    impl_->shut_down = true;
    server = impl_->server.get();
    registrar = impl_->registrar.get();
  }
  // The grpc::Server and the Registrar live until this object is destroyed, so they are
  // used unlocked here.
  if (first) {
    // Deregistered first, so that the coordinator stops choosing this instance while the
    // server still answers the calls it already sent.
    if (registrar != nullptr) registrar->Stop();
    server->Shutdown(std::chrono::system_clock::now() + grace);
  } else {
    server->Wait();
  }
}

}  // namespace skald
