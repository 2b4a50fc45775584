#pragma once

#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <string>
#include <vector>

namespace skald::cli {

// Returns the interceptors that add "authorization: Bearer <token>" to every call of a
// channel; none when `token` is empty. For grpc::experimental::
// CreateCustomChannelWithInterceptors, so that no command has to set it call by call.
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
BearerTokenInterceptors(const std::string& token);

}  // namespace skald::cli
