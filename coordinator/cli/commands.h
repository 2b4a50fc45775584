#pragma once

#include <string>

// The subcommands of `skald`. Each returns the process exit code.
namespace skald::cli {

struct ServeFlags {
  std::string database_uri;
  std::string listen_address = "127.0.0.1:7700";
  // When set, the bound address is written here once the server accepts requests.
  std::string ready_file;
};

struct DevFlags {
  std::string data_dir;
  std::string listen_address = "127.0.0.1:7700";
  std::string ready_file;
};

struct ClientFlags {
  std::string address = "127.0.0.1:7700";
  bool json = false;
};

int RunServe(const ServeFlags& flags);
int RunDev(const DevFlags& flags);

int ApplyDefinition(const ClientFlags& client, const std::string& file);
int StartSaga(const ClientFlags& client, const std::string& definition, int version,
              const std::string& input_json, const std::string& saga_id);
int GetSaga(const ClientFlags& client, const std::string& saga_id);
int ListSagas(const ClientFlags& client, const std::string& state, const std::string& definition,
              int limit);
int WaitSaga(const ClientFlags& client, const std::string& saga_id, const std::string& timeout);

}  // namespace skald::cli
