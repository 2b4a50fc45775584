// hostile-participant: a participant that answers with every kind of bad reply, chosen by the
// step's input, so that one binary covers every case of the participant-reply boundary
// (issue 13, scenario 14). Raw gRPC, not the SDK: the SDK would not send most of these.
//
//   action "good"     success {"ok": true}
//   action "hostile"  while the call's attempt is <= input.bad_attempts (default: every
//                     attempt), answers as input.reply says, else like "good":
//     "nul_in_value"    success, output {"a": "x\u0000y"}
//     "nul_in_key"      success, output {"k\u0000": 1}
//     "nul_in_code"     business failure, error code "card<NUL>declined"
//     "nul_in_message"  business failure "declined", message "amount<NUL>over limit"
//     "bad_utf8_message"  business failure "declined", a message with a NUL and invalid
//                       UTF-8 (protobuf C++ sends and parses it, logging an error)
//     "bad_utf8_code"   retryable error, error code "\xC3\x28"
//     "huge_message"    retryable error "busy" with a 3 MB message
//     "huge_output"     success with a 3 MB output
//     "unknown_outcome" outcome 42 with an output
//     "status_nul"      gRPC status UNAVAILABLE whose message holds a NUL byte
//     "late"            sleeps until 500 ms past the call's deadline, then succeeds
//   compensation "undo"  success {"undone": true}
//
// Flags: --listen HOST:PORT (port 0 picks one), --ready-file PATH (written with the address
// once serving).
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "nlohmann/json.hpp"
#include "skald/v1/participant.grpc.pb.h"

namespace {

using nlohmann::json;
using namespace std::string_literals;

constexpr size_t kHuge = 3 << 20;

void Succeed(skald::v1::StepReply* reply, const std::string& output) {
  reply->set_outcome(skald::v1::OUTCOME_SUCCESS);
  reply->set_output_json(output);
}

grpc::Status Misbehave(const std::string& how, grpc::ServerContext* context,
                       skald::v1::StepReply* reply) {
  if (how == "nul_in_value") {
    Succeed(reply, R"({"a":"x\u0000y"})");
  } else if (how == "nul_in_key") {
    Succeed(reply, R"({"k\u0000":1})");
  } else if (how == "nul_in_code") {
    reply->set_outcome(skald::v1::OUTCOME_BUSINESS_FAILURE);
    reply->set_error_code("card\0declined"s);
    reply->set_error_message("declined with a NUL in the code");
  } else if (how == "bad_utf8_message") {
    reply->set_outcome(skald::v1::OUTCOME_BUSINESS_FAILURE);
    reply->set_error_code("declined");
    reply->set_error_message("amount\0over \xC3\x28 limit"s);
  } else if (how == "nul_in_message") {
    reply->set_outcome(skald::v1::OUTCOME_BUSINESS_FAILURE);
    reply->set_error_code("declined");
    reply->set_error_message("amount\0over limit"s);
  } else if (how == "bad_utf8_code") {
    reply->set_outcome(skald::v1::OUTCOME_RETRYABLE_ERROR);
    reply->set_error_code("\xC3\x28");
  } else if (how == "huge_message") {
    reply->set_outcome(skald::v1::OUTCOME_RETRYABLE_ERROR);
    reply->set_error_code("busy");
    reply->set_error_message(std::string(kHuge, 'm'));
  } else if (how == "huge_output") {
    Succeed(reply, R"({"blob":")" + std::string(kHuge, 'o') + R"("})");
  } else if (how == "unknown_outcome") {
    reply->set_outcome(static_cast<skald::v1::Outcome>(42));
    reply->set_output_json(R"({"ok":true})");
  } else if (how == "status_nul") {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "unavailable\0with a NUL"s);
  } else if (how == "late") {
    const auto until = context->deadline() + std::chrono::milliseconds(500);
    std::this_thread::sleep_until(
        std::min(until, std::chrono::system_clock::now() + std::chrono::seconds(30)));
    Succeed(reply, R"({"late":true})");
  } else {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unknown reply kind: " + how);
  }
  return grpc::Status::OK;
}

class HostileParticipant final : public skald::v1::Participant::Service {
 public:
  grpc::Status ExecuteAction(grpc::ServerContext* context, const skald::v1::StepCall* call,
                             skald::v1::StepReply* reply) override {
    if (call->handler() == "good") {
      Succeed(reply, R"({"ok":true})");
      return grpc::Status::OK;
    }
    if (call->handler() != "hostile") {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no action " + call->handler());
    }
    const json input = json::parse(call->input_json(), nullptr, /*allow_exceptions=*/false);
    if (!input.is_object()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "input");
    const int bad_attempts = input.value("bad_attempts", 1000);
    if (call->attempt() > bad_attempts) {
      Succeed(reply, R"({"ok":true,"after_bad_attempts":true})");
      return grpc::Status::OK;
    }
    return Misbehave(input.value("reply", ""), context, reply);
  }

  grpc::Status ExecuteCompensation(grpc::ServerContext*, const skald::v1::StepCall* call,
                                   skald::v1::StepReply* reply) override {
    if (call->handler() != "undo") {
      return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no compensation " + call->handler());
    }
    Succeed(reply, R"({"undone":true})");
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", ready_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--listen") {
      listen = argv[i + 1];
    } else if (flag == "--ready-file") {
      ready_file = argv[i + 1];
    } else {
      std::cerr << "hostile-participant: unknown flag " << flag << "\n";
      return 2;
    }
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  HostileParticipant service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  // Replies of 3 MB go out whatever the sender's defaults.
  builder.SetMaxSendMessageSize(8 << 20);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "hostile-participant: cannot listen on " << listen << "\n";
    return 1;
  }
  const std::string address = host + ":" + std::to_string(port);
  std::cerr << "hostile-participant: serving on " << address << std::endl;
  if (!ready_file.empty()) {
    const std::string temporary = ready_file + ".tmp";
    std::ofstream(temporary) << address << "\n";
    if (std::rename(temporary.c_str(), ready_file.c_str()) != 0) return 1;
  }
  server->Wait();
  return 0;
}
