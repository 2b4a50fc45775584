#include "coordinator/devdb/local_postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "coordinator/devdb/cluster_files.h"
#include "coordinator/devdb/subprocess.h"
#include "coordinator/devdb/system_account.h"

namespace skald::devdb {
namespace {

namespace fs = std::filesystem;

// sizeof(sockaddr_un::sun_path) is 108, and the path needs its terminating NUL.
constexpr size_t kMaxSocketPath = 107;
constexpr char kLogFile[] = "skald-postgres.log";
constexpr char kServerUser[] = "postgres";
const absl::Duration kInitdbTimeout = absl::Seconds(120);
// pg_ctl gives up after 60 s itself; this bounds pg_ctl.
const absl::Duration kPgCtlTimeout = absl::Seconds(90);
const absl::Duration kReadyWait = absl::Seconds(60);

// How initdb and pg_ctl run: from "/" (the postgres user may not be able to enter our
// working directory) with messages in English.
RunOptions ServerRunOptions(absl::Duration timeout) {
  RunOptions options;
  options.timeout = timeout;
  options.working_dir = "/";
  options.env = {{"LC_ALL", "C"}};
  return options;
}

std::string LogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::StrCat("(no server log at ", path, ")");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return absl::StrCat("last lines of the server log ", path, ":\n", TailOf(buffer.str(), 3000));
}

// The error for a command that ran but failed.
absl::Status CommandFailed(const std::vector<std::string>& argv, const CommandResult& result,
                           std::string_view log_path = "") {
  std::string message =
      absl::StrCat("`", DescribeCommand(argv), "` exited with code ", result.exit_code,
                   "; its output:\n", TailOf(result.output, 3000));
  if (!log_path.empty()) absl::StrAppend(&message, "\n", LogTail(std::string(log_path)));
  return absl::InternalError(message);
}

// pg_ctl builds a /bin/sh command line with the data directory and log path inside double
// quotes, so characters special there would be interpreted by the shell.
absl::Status CheckShellSafePath(const std::string& path, const char* what) {
  for (char c : path) {
    if (c == '"' || c == '$' || c == '`' || c == '\\' || absl::ascii_iscntrl(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", path,
                       "' contains a character that pg_ctl would pass through /bin/sh "
                       "(one of \" $ ` \\ or a control character); choose another path"));
    }
  }
  return absl::OkStatus();
}

bool IsExecutable(const fs::path& path) { return ::access(path.c_str(), X_OK) == 0; }

bool HasServerPrograms(const fs::path& dir) {
  return IsExecutable(dir / "initdb") && IsExecutable(dir / "pg_ctl") &&
         IsExecutable(dir / "postgres");
}

absl::StatusOr<std::string> FindBinDir(const std::string& requested) {
  if (!requested.empty()) {
    if (!HasServerPrograms(requested)) {
      return absl::NotFoundError(absl::StrCat("bin_dir ", requested,
                                              " does not hold executable initdb, pg_ctl and "
                                              "postgres programs"));
    }
    return requested;
  }
  const fs::path root = "/usr/lib/postgresql";
  int best_version = -1;
  fs::path best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    int version = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &version)) continue;
    if (version > best_version && HasServerPrograms(entry.path() / "bin")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (best_version >= 0) return best.string();

  absl::StatusOr<CommandResult> pg_config =
      RunCommand({"pg_config", "--bindir"}, ServerRunOptions(absl::Seconds(10)));
  if (pg_config.ok() && pg_config->exit_code == 0) {
    std::string dir(absl::StripAsciiWhitespace(pg_config->output));
    if (HasServerPrograms(dir)) return dir;
  }
  return absl::NotFoundError(
      "no PostgreSQL server programs (initdb, pg_ctl, postgres) found: looked in "
      "/usr/lib/postgresql/<version>/bin and `pg_config --bindir`; install "
      "postgresql-15 or set bin_dir");
}

std::string FindRunuser() {
  for (const char* candidate : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
    if (IsExecutable(candidate)) return candidate;
  }
  return "runuser";
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool IsValidDatabaseName(std::string_view name) {
  return !name.empty() && name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsValidSettingName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
}

// Waits for a server found running in data_dir to be ready (or to go away).
absl::StatusOr<std::optional<PostmasterInfo>> WaitForRunningServer(const std::string& data_dir) {
  const absl::Time deadline = absl::Now() + kReadyWait;
  while (true) {
    std::optional<PostmasterInfo> info = ReadLivePostmaster(data_dir);
    if (!info.has_value()) return std::optional<PostmasterInfo>();
    if (info->status == "ready" || info->status == "standby") return info;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("a PostgreSQL server (pid ", info->pid, ") is running in ", data_dir,
                       " but did not become ready within ", absl::FormatDuration(kReadyWait),
                       " (status '", info->status, "')"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::Status CheckEmptyOrMissing(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("data_dir ", dir, " exists and is not a directory"));
  }
  if (!fs::is_empty(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data_dir ", dir,
        " is not empty but holds no PostgreSQL cluster (no PG_VERSION file); empty it or "
        "choose another directory"));
  }
  return absl::OkStatus();
}

// Returns dir if it exists, else its deepest ancestor that does.
std::string DeepestExisting(const std::string& dir) {
  fs::path path = dir;
  std::error_code ec;
  while (!fs::exists(path, ec) && path.has_relative_path()) path = path.parent_path();
  return path.string();
}

absl::Status CreateDirectory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

std::string AbsolutePath(const std::string& path) {
  std::string absolute = fs::absolute(path).lexically_normal().string();
  if (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  return absolute;
}

absl::Status ValidateOptions(const LocalPostgresOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("data_dir is empty");
  if (options.port <= 0 || options.port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", options.port, " is out of range"));
  }
  for (const auto& [name, value] : options.settings) {
    if (!IsValidSettingName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("server setting name '", name, "' must match [a-z0-9_.]+"));
    }
  }
  return absl::OkStatus();
}

// Checks that pg_ctl, the server and libpq can all use these (absolute) paths.
absl::Status ValidatePaths(const std::string& data_dir, const std::string& socket_dir, int port) {
  if (absl::Status s = CheckShellSafePath(data_dir, "data_dir"); !s.ok()) return s;
  if (absl::Status s = CheckShellSafePath(socket_dir, "socket_dir"); !s.ok()) return s;
  if (socket_dir.find(',') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("the socket directory ", socket_dir,
                     " contains a comma, which libpq would read as a list of hosts; choose another "
                     "data_dir or set socket_dir"));
  }
  const std::string socket_path = absl::StrCat(socket_dir, "/.s.PGSQL.", port);
  if (socket_path.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(
        absl::StrCat("the unix socket path ", socket_path, " is ", socket_path.size(),
                     " bytes, over the system limit of ", kMaxSocketPath,
                     "; use a shorter data_dir or set socket_dir to a shorter directory"));
  }
  return absl::OkStatus();
}

// Creates the data and socket directories. When the server runs as another account
// (`account` not null), also checks that it can reach them and gives it the new ones.
absl::Status PrepareDirectories(const std::string& data_dir, const std::string& socket_dir,
                                bool fresh, const SystemAccount* account) {
  if (fresh) {
    if (absl::Status s = CheckEmptyOrMissing(data_dir); !s.ok()) return s;
  }
  if (account != nullptr) {
    // Before creating anything, so that a failure leaves nothing behind.
    for (const std::string& dir : {data_dir, socket_dir}) {
      if (absl::Status s = CheckCanEnter(DeepestExisting(dir), *account); !s.ok()) return s;
    }
  }
  if (absl::Status s = CreateDirectory(data_dir); !s.ok()) return s;
  if (socket_dir != data_dir) {
    std::error_code ec;
    const bool existed = fs::exists(socket_dir, ec);
    if (absl::Status s = CreateDirectory(socket_dir); !s.ok()) return s;
    if (account != nullptr && !existed) {
      if (absl::Status s = ChownTo(socket_dir, *account); !s.ok()) return s;
    }
  }
  if (account == nullptr) return absl::OkStatus();
  if (absl::Status s = CheckCanEnter(data_dir, *account); !s.ok()) return s;
  if (absl::Status s = CheckCanEnter(socket_dir, *account); !s.ok()) return s;
  if (fresh) return ChownTo(data_dir, *account);
  struct stat st;
  if (::stat(data_dir.c_str(), &st) == 0 && st.st_uid != account->uid) {
    return absl::FailedPreconditionError(
        absl::StrCat("data_dir ", data_dir, " holds a cluster owned by uid ", st.st_uid,
                     ", but as root Skald runs PostgreSQL as user '", account->name, "' (uid ",
                     account->uid, "); fix it with: chown -R ", account->name, ": ", data_dir));
  }
  return absl::OkStatus();
}

// Skald's server settings, then the caller's.
std::vector<std::pair<std::string, std::string>> ServerSettings(const LocalPostgresOptions& options,
                                                                const std::string& socket_dir,
                                                                int port) {
  std::vector<std::pair<std::string, std::string>> settings = {
      {"listen_addresses", ""},
      {"unix_socket_directories", SocketDirectoriesSetting(socket_dir)},
      {"port", absl::StrCat(port)},
  };
  if (options.fsync_off) {
    settings.insert(settings.end(),
                    {{"fsync", "off"}, {"synchronous_commit", "off"}, {"full_page_writes", "off"}});
  }
  settings.insert(settings.end(), options.settings.begin(), options.settings.end());
  return settings;
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalPostgres>> LocalPostgres::Start(
    const LocalPostgresOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  std::unique_ptr<LocalPostgres> pg(new LocalPostgres());
  pg->data_dir_ = AbsolutePath(options.data_dir);
  pg->socket_dir_ = options.socket_dir.empty() ? pg->data_dir_ : AbsolutePath(options.socket_dir);
  pg->port_ = options.port;
  pg->log_path_ = absl::StrCat(pg->data_dir_, "/", kLogFile);
  if (absl::Status s = ValidatePaths(pg->data_dir_, pg->socket_dir_, pg->port_); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> bin_dir = FindBinDir(options.bin_dir);
  if (!bin_dir.ok()) return bin_dir.status();
  pg->bin_dir_ = *bin_dir;

  std::optional<SystemAccount> server_account;
  if (::geteuid() == 0) {
    absl::StatusOr<SystemAccount> account = LookUpAccount(kServerUser);
    if (!account.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("running as root, so PostgreSQL must run as another user, but ",
                       account.status().message()));
    }
    server_account = *account;
    pg->run_as_postgres_ = true;
  }

  // A server already running here (e.g. a `skald dev` still up) is reused as it is.
  absl::StatusOr<std::optional<PostmasterInfo>> running = WaitForRunningServer(pg->data_dir_);
  if (!running.ok()) return running.status();
  if (running->has_value()) {
    const PostmasterInfo& info = **running;
    if (info.socket_dir.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a PostgreSQL server (pid ", info.pid, ") is running in ", pg->data_dir_,
          " without a unix socket; stop it (pg_ctl stop -D ", pg->data_dir_, ") and retry"));
    }
    pg->socket_dir_ = info.socket_dir;
    pg->port_ = info.port;
    return pg;
  }

  const bool fresh = !HoldsCluster(pg->data_dir_);
  if (absl::Status s = PrepareDirectories(pg->data_dir_, pg->socket_dir_, fresh,
                                          server_account ? &*server_account : nullptr);
      !s.ok()) {
    return s;
  }
  if (fresh) {
    std::vector<std::string> initdb =
        pg->ServerCommand("initdb", {"-D", pg->data_dir_, "--auth=trust", "-U", "postgres",
                                     "--encoding=UTF8", "--locale=C", "--no-sync"});
    absl::StatusOr<CommandResult> result = RunCommand(initdb, ServerRunOptions(kInitdbTimeout));
    if (!result.ok()) return result.status();
    if (result->exit_code != 0) return CommandFailed(initdb, *result);
  }
  const uid_t owner = server_account ? server_account->uid : static_cast<uid_t>(-1);
  const gid_t group = server_account ? server_account->gid : static_cast<gid_t>(-1);
  if (absl::Status s = WriteSkaldConfig(
          pg->data_dir_, ServerSettings(options, pg->socket_dir_, pg->port_), owner, group);
      !s.ok()) {
    return s;
  }

  std::vector<std::string> start = pg->ServerCommand(
      "pg_ctl", {"-D", pg->data_dir_, "-l", pg->log_path_, "-w", "-t", "60", "start"});
  absl::StatusOr<CommandResult> result = RunCommand(start, ServerRunOptions(kPgCtlTimeout));
  if (!result.ok()) {
    return absl::Status(result.status().code(),
                        absl::StrCat(result.status().message(), "\n", LogTail(pg->log_path_)));
  }
  if (result->exit_code != 0) return CommandFailed(start, *result, pg->log_path_);
  pg->started_server_ = true;
  pg->stop_on_destruction_ = true;
  return pg;
}

LocalPostgres::~LocalPostgres() {
  if (!stop_on_destruction_) return;
  absl::Status status = Stop();
  if (!status.ok()) {
    std::fprintf(stderr, "skald devdb: could not stop PostgreSQL in %s: %s\n", data_dir_.c_str(),
                 std::string(status.message()).c_str());
  }
}

std::string LocalPostgres::ConnectionUri(std::string_view database) const {
  return absl::StrCat("postgresql://postgres@/", PercentEncode(database, false),
                      "?host=", PercentEncode(socket_dir_, true), "&port=", port_);
}

absl::Status LocalPostgres::CreateDatabase(std::string_view name) {
  if (!IsValidDatabaseName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("database name '", std::string(name),
                     "' is not allowed: use 1 to 63 characters from [a-z0-9_]"));
  }
  const std::string uri = ConnectionUri("postgres");
  const std::string db(name);
  try {
    pqxx::connection conn(uri);
    pqxx::nontransaction tx(conn);
    if (!tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", db).empty()) {
      return absl::OkStatus();
    }
    tx.exec0(absl::StrCat("CREATE DATABASE ", tx.quote_name(db)));
    return absl::OkStatus();
  } catch (const pqxx::sql_error& e) {
    // Someone else created it between our check and our CREATE.
    if (e.sqlstate() == "42P04" || e.sqlstate() == "23505") return absl::OkStatus();
    return absl::InternalError(absl::StrCat("CREATE DATABASE ", db, " on ", uri,
                                            " failed (SQLSTATE ", e.sqlstate(), "): ", e.what()));
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", uri, " to create database ", db, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("creating database ", db, " on ", uri, " failed: ", e.what()));
  }
}

absl::Status LocalPostgres::Stop() {
  stop_on_destruction_ = false;
  if (!ReadLivePostmaster(data_dir_).has_value()) return absl::OkStatus();
  std::vector<std::string> stop =
      ServerCommand("pg_ctl", {"-D", data_dir_, "-m", "fast", "-w", "-t", "60", "stop"});
  absl::StatusOr<CommandResult> result = RunCommand(stop, ServerRunOptions(kPgCtlTimeout));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    // It may have stopped on its own between our check and pg_ctl's.
    if (!ReadLivePostmaster(data_dir_).has_value()) return absl::OkStatus();
    return CommandFailed(stop, *result, log_path_);
  }
  return absl::OkStatus();
}

std::vector<std::string> LocalPostgres::ServerCommand(std::string_view program,
                                                      std::vector<std::string> args) const {
  std::vector<std::string> argv;
  if (run_as_postgres_) {
    argv = {FindRunuser(), "-u", std::string(kServerUser), "--"};
  }
  argv.push_back(absl::StrCat(bin_dir_, "/", std::string(program)));
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

}  // namespace skald::devdb
