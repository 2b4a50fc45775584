#include "coordinator/store/cluster_secret.h"

#include <pqxx/pqxx>

#include "coordinator/store/statements.h"

namespace skald::store {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 0xf]);
  }
  return hex;
}

std::string FromHex(const std::string& hex) {
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string bytes;
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(value(hex[i]) << 4 | value(hex[i + 1])));
  }
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateClusterSecret(ConnectionPool& pool, const std::string& name,
                                                      const std::string& candidate) {
  std::string stored;
  absl::Status status = pool.Run("load the cluster secret " + name, [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_prepared0(std::string(stmt::kInsertClusterSecret), name, Hex(candidate));
    stored = tx.exec_prepared1(std::string(stmt::kSelectClusterSecret), name)[0].as<std::string>();
    tx.commit();
  });
  if (!status.ok()) return status;
  return FromHex(stored);
}

}  // namespace skald::store
