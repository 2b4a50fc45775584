// The writing side of the outbox (StartSagaInTransaction), its schema, and the reads an
// operator needs (refused starts, backlog). The relay is in outbox_relay.cc.
#include "skald/saga_outbox.h"

#include <cstdint>
#include <random>
#include <string>
#include <utility>

namespace skald {
namespace {

constexpr char kSchemaLockSql[] =
    "SELECT pg_advisory_xact_lock(hashtextextended('skald.saga_outbox schema', 0))";
// Claims take pending rows by next_attempt_at, so that rows backing off while the
// coordinator is down are not walked past by every claim; the backlog reads the oldest by
// id. Without partial indexes a claim walks every sent row (STACK-NOTES: SKIP LOCKED queues).
constexpr char kSchemaSql[] =
    "CREATE SCHEMA IF NOT EXISTS skald;"
    "CREATE TABLE IF NOT EXISTS skald.saga_outbox ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " saga_id text NOT NULL UNIQUE,"
    " definition text NOT NULL,"
    " version integer NOT NULL,"
    " input_json text NOT NULL,"
    " traceparent text NOT NULL,"
    " callback_url text NOT NULL,"
    " state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'refused')),"
    " attempts integer NOT NULL DEFAULT 0,"
    " next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " error_code text NOT NULL DEFAULT '',"
    " error_message text NOT NULL DEFAULT '',"
    " created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " sent_at timestamptz,"
    " refused_at timestamptz);"
    "CREATE INDEX IF NOT EXISTS saga_outbox_pending_due ON skald.saga_outbox"
    " (next_attempt_at, id) WHERE state = 'pending';"
    "CREATE INDEX IF NOT EXISTS saga_outbox_pending_age ON skald.saga_outbox (id)"
    " WHERE state = 'pending';"
    "CREATE INDEX IF NOT EXISTS saga_outbox_sent ON skald.saga_outbox (sent_at)"
    " WHERE state = 'sent';"
    "CREATE INDEX IF NOT EXISTS saga_outbox_refused ON skald.saga_outbox (id)"
    " WHERE state = 'refused';";

constexpr char kInsertSql[] =
    "INSERT INTO skald.saga_outbox (saga_id, definition, version, input_json, traceparent,"
    " callback_url) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (saga_id) DO NOTHING"
    " RETURNING id";
constexpr char kExistingSql[] =
    "SELECT definition, version, input_json FROM skald.saga_outbox WHERE saga_id = $1";
constexpr char kNotifySql[] = "SELECT pg_notify($1, '')";

constexpr char kListRefusedSql[] =
    "SELECT id, saga_id, definition, error_code, error_message, attempts,"
    " extract(epoch FROM created_at)::float8, extract(epoch FROM refused_at)::float8"
    " FROM skald.saga_outbox WHERE state = 'refused' ORDER BY id LIMIT $1";
constexpr char kRequeueSql[] =
    "UPDATE skald.saga_outbox SET state = 'pending', next_attempt_at = clock_timestamp(),"
    " refused_at = NULL WHERE saga_id = $1 AND state = 'refused' RETURNING id";
constexpr char kBacklogSql[] =
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM skald.saga_outbox WHERE state = 'pending'"
    "        LIMIT 100000) p),"
    " (SELECT count(*) FROM (SELECT 1 FROM skald.saga_outbox WHERE state = 'refused'"
    "        LIMIT 100000) r),"
    " (SELECT coalesce(extract(epoch FROM clock_timestamp() - created_at) * 1000, 0)::bigint"
    "  FROM skald.saga_outbox WHERE state = 'pending' ORDER BY id LIMIT 1)";

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// The coordinator's rule for names and saga ids (core::ValidateName), checked here so that a
// bad one fails the caller's transaction instead of being refused after its commit.
absl::Status CheckName(std::string_view field, std::string_view value, std::size_t max_length) {
  const std::string name(field);
  if (value.empty()) return absl::InvalidArgumentError(name + ": must not be empty");
  if (value.size() > max_length) {
    return absl::InvalidArgumentError(name + ": " + std::to_string(value.size()) +
                                      " characters, over the limit of " +
                                      std::to_string(max_length));
  }
  if (value.front() == '-' || value.front() == '_' || value.front() == '.') {
    return absl::InvalidArgumentError(name + ": must start with a letter or digit");
  }
  for (char c : value) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(name + ": may hold only letters, digits, '-', '_' and '.'");
    }
  }
  return absl::OkStatus();
}

// PostgreSQL cannot store a NUL character in text or jsonb, and the coordinator refuses it:
// the caller hears of it now, with the path to it.
absl::Status CheckJsonValue(const nlohmann::json& value, const std::string& path, int depth,
                            int max_depth) {
  if (depth > max_depth) {
    return absl::InvalidArgumentError("input: nested deeper than " + std::to_string(max_depth) +
                                      " levels at " + (path.empty() ? "/" : path));
  }
  auto has_nul = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  if (value.is_string() && has_nul(value.get_ref<const std::string&>())) {
    return absl::InvalidArgumentError("input: a string holds a NUL character at " + path);
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (has_nul(key)) return absl::InvalidArgumentError("input: a key holds a NUL character");
      if (absl::Status s = CheckJsonValue(item, path + "/" + key, depth + 1, max_depth); !s.ok()) {
        return s;
      }
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (absl::Status s =
              CheckJsonValue(value[i], path + "/" + std::to_string(i), depth + 1, max_depth);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUrl(const std::string& url) {
  if (url.empty()) return absl::OkStatus();
  if (url.size() > 2048) return absl::InvalidArgumentError("callback_url: over 2048 characters");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return absl::InvalidArgumentError("callback_url: must start with http:// or https://");
  }
  return absl::OkStatus();
}

std::string RandomSagaId() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "outbox-";
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = random();
    for (int i = 0; i < 16; ++i, bits >>= 4) id.push_back(kHex[bits & 0xf]);
  }
  return id;
}

std::chrono::system_clock::time_point FromEpochSeconds(double seconds) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(seconds)));
}

}  // namespace

absl::Status ApplyOutboxSchema(pqxx::connection& connection) {
  try {
    pqxx::work tx(connection);
    tx.exec(kSchemaLockSql);
    tx.exec0(kSchemaSql);
    tx.commit();
    return absl::OkStatus();
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("creating skald.saga_outbox: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("creating skald.saga_outbox: ") + e.what());
  }
}

absl::StatusOr<std::string> StartSagaInTransaction(pqxx::work& tx, std::string_view definition,
                                                   const nlohmann::json& input,
                                                   std::string_view saga_id,
                                                   const SagaStartOptions& options) {
  const OutboxLimits& limits = options.limits;
  const std::string id = saga_id.empty() ? RandomSagaId() : std::string(saga_id);
  if (absl::Status s = CheckName("saga_id", id, limits.max_saga_id_length); !s.ok()) return s;
  if (absl::Status s = CheckName("definition", definition, limits.max_definition_length); !s.ok()) {
    return s;
  }
  if (options.version < 0) {
    return absl::InvalidArgumentError("version: must be 0 (the newest) or positive");
  }
  if (options.traceparent.size() > 55) {
    return absl::InvalidArgumentError("traceparent: over 55 characters");
  }
  if (absl::Status s = CheckUrl(options.callback_url); !s.ok()) return s;
  if (!input.is_object()) {
    return absl::InvalidArgumentError(std::string("input: must be a JSON object, got ") +
                                      input.type_name());
  }
  if (absl::Status s = CheckJsonValue(input, "", 1, limits.max_input_depth); !s.ok()) return s;
  std::string input_json;
  try {
    input_json = input.dump();
  } catch (const nlohmann::json::type_error& e) {  // invalid UTF-8 in a string
    return absl::InvalidArgumentError(std::string("input: ") + e.what());
  }
  if (input_json.size() > limits.max_input_bytes) {
    return absl::ResourceExhaustedError("input: " + std::to_string(input_json.size()) +
                                        " bytes, over the limit of " +
                                        std::to_string(limits.max_input_bytes));
  }
  const std::string name(definition);
  const pqxx::result inserted = tx.exec_params(kInsertSql, id, name, options.version, input_json,
                                               options.traceparent, options.callback_url);
  if (inserted.empty()) {
    const pqxx::result existing = tx.exec_params(kExistingSql, id);
    if (existing.empty() || existing[0][0].as<std::string>() != name ||
        existing[0][1].as<int>() != options.version ||
        existing[0][2].as<std::string>() != input_json) {
      return absl::AlreadyExistsError("saga_id: \"" + id +
                                      "\" is already in the outbox with another start request");
    }
    return id;  // The same start again: one row, one saga.
  }
  tx.exec_params(kNotifySql, std::string(kOutboxChannel));
  return id;
}

absl::StatusOr<std::vector<RefusedStart>> ListRefusedStarts(pqxx::connection& connection,
                                                            int limit) {
  if (limit < 1 || limit > 10'000) {
    return absl::InvalidArgumentError("limit: must be from 1 to 10000");
  }
  try {
    pqxx::read_transaction tx(connection);
    std::vector<RefusedStart> starts;
    for (const pqxx::row& row : tx.exec_params(kListRefusedSql, limit)) {
      starts.push_back({.id = row[0].as<std::int64_t>(),
                        .saga_id = row[1].as<std::string>(),
                        .definition = row[2].as<std::string>(),
                        .error_code = row[3].as<std::string>(),
                        .error_message = row[4].as<std::string>(),
                        .attempts = row[5].as<int>(),
                        .created_at = FromEpochSeconds(row[6].as<double>()),
                        .refused_at = FromEpochSeconds(row[7].as<double>(0))});
    }
    return starts;
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("listing refused starts: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("listing refused starts: ") + e.what());
  }
}

absl::Status RequeueRefusedStart(pqxx::connection& connection, std::string_view saga_id) {
  try {
    pqxx::work tx(connection);
    const pqxx::result rows = tx.exec_params(kRequeueSql, std::string(saga_id));
    if (rows.empty()) {
      return absl::NotFoundError("no refused start has saga id \"" + std::string(saga_id) + "\"");
    }
    tx.exec_params(kNotifySql, std::string(kOutboxChannel));
    tx.commit();
    return absl::OkStatus();
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("requeueing a refused start: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("requeueing a refused start: ") + e.what());
  }
}

absl::StatusOr<OutboxBacklog> ReadOutboxBacklog(pqxx::connection& connection) {
  try {
    pqxx::read_transaction tx(connection);
    const pqxx::row row = tx.exec1(kBacklogSql);
    return OutboxBacklog{
        .pending = row[0].as<std::int64_t>(),
        .refused = row[1].as<std::int64_t>(),
        .oldest_pending_age = std::chrono::milliseconds(row[2].as<std::int64_t>(0))};
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(std::string("reading the outbox backlog: ") + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("reading the outbox backlog: ") + e.what());
  }
}

}  // namespace skald
