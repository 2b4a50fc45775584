#include <openssl/rand.h>

#include <iostream>
#include <string>

#include "coordinator/api/authorizer.h"
#include "coordinator/cli/commands.h"

namespace skald::cli {

int HashToken() {
  std::string token;
  std::getline(std::cin, token);
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) {
    std::cerr << "error: no token on stdin (echo -n TOKEN | skald token hash)\n";
    return 2;
  }
  std::cout << api::Sha256Hex(token) << "\n";
  return 0;
}

int NewToken() {
  // 32 random bytes, as hex: as hard to guess as the hash is to invert.
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::cerr << "error: no randomness from OpenSSL\n";
    return 1;
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string token = "skald_";
  for (unsigned char byte : bytes) {
    token += kDigits[byte >> 4];
    token += kDigits[byte & 0xf];
  }
  std::cout << "token:  " << token << "\nsha256: " << api::Sha256Hex(token) << "\n";
  return 0;
}

}  // namespace skald::cli
