#include "skald/participant_server.h"

#include <grpcpp/grpcpp.h>

#include <cassert>
#include <mutex>
#include <utility>

#include "skald/v1/participant.grpc.pb.h"
#include "step_dispatcher.h"

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
    return dispatcher_->Dispatch(Phase::kAction, *call, context->deadline(), reply);
  }

  grpc::Status ExecuteCompensation(grpc::ServerContext* context, const v1::StepCall* call,
                                   v1::StepReply* reply) override {
    return dispatcher_->Dispatch(Phase::kCompensation, *call, context->deadline(), reply);
  }

 private:
  const StepDispatcher* dispatcher_;
};

}  // namespace

class ParticipantServer::Impl {
 public:
  StepDispatcher dispatcher;
  ParticipantService service{&dispatcher};

  std::mutex mu;  // Guards the members below.
  std::unique_ptr<grpc::Server> server;
  bool started = false;
  bool shut_down = false;
  int port = 0;
  std::string address;
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

absl::Status ParticipantServer::Start(const std::string& listen_address) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started) {
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
  int port = 0;
  builder.AddListeningPort(listen_address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&impl_->service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError("cannot listen on \"" + listen_address +
                                  "\": the address is in use or cannot be bound");
  }
  impl_->server = std::move(server);
  impl_->started = true;
  impl_->port = port;
  impl_->address = listen_address.substr(0, colon + 1) + std::to_string(port);
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
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->server == nullptr) return;
    first = !impl_->shut_down;
    impl_->shut_down = true;
    server = impl_->server.get();
  }
  // The grpc::Server lives until this object is destroyed, so it is used unlocked here.
  if (first) {
    server->Shutdown(std::chrono::system_clock::now() + grace);
  } else {
    server->Wait();
  }
}

}  // namespace skald
