#pragma once

#include <cstdint>
#include <optional>

namespace skald::notify {

// Returns how many bytes TCP socket `socket` has received so far (acknowledged to the peer,
// read by the application or not), or nullopt when the kernel does not say (not TCP, or a
// kernel before 4.1). In a file of its own: <linux/tcp.h> and glibc's <netinet/tcp.h>
// (which cpp-httplib includes) cannot be included together.
std::optional<uint64_t> TcpBytesReceived(int socket);

}  // namespace skald::notify
