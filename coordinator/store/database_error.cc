#include "coordinator/store/database_error.h"

namespace skald::store {
namespace {

using absl::StatusCode;

constexpr DatabaseRefusal Passing(std::string_view cause, bool discard, bool refuses_writes) {
  return {StatusCode::kUnavailable, cause, discard, refuses_writes};
}

// Class 22, data exception: the value is refused whatever the database's state.
DatabaseRefusal DataException(std::string_view sqlstate) {
  std::string_view cause = "a value the database refuses";
  if (sqlstate == "22007" || sqlstate == "22008") {
    cause = "an invalid date or time";
  } else if (sqlstate == "22021" || sqlstate == "22P05") {
    cause = "text the database cannot store (invalid encoding or a NUL character)";
  } else if (sqlstate == "22003") {
    cause = "a number out of range";
  } else if (sqlstate == "22001") {
    cause = "a value too long";
  } else if (sqlstate == "22P02") {
    cause = "a value of the wrong form";
  }
  return {StatusCode::kInvalidArgument, cause, false, false};
}

}  // namespace

DatabaseRefusal ClassifySqlState(std::string_view sqlstate) {
  const std::string_view klass = sqlstate.substr(0, 2);
  if (klass == "08") {
    if (sqlstate == "08007") {
      return Passing("the connection was lost during commit, its outcome is unknown", true, false);
    }
    return Passing("lost the database connection", true, false);
  }
  if (sqlstate == "25006") return Passing("the database is read-only", true, true);
  if (sqlstate == "53100") return Passing("the database refused: disk full", false, true);
  if (sqlstate == "53200") return Passing("the database refused: out of memory", false, true);
  if (sqlstate == "53300") {
    return Passing("the database refused: too many connections", true, false);
  }
  if (klass == "53") {
    return Passing("the database refused: insufficient resources", false, true);
  }
  if (sqlstate == "42501") {
    // A privilege may be granted back; a fresh session sees the grant at once either way,
    // but a role's session settings only on connecting.
    return Passing("the coordinator's database role lacks a privilege", true, true);
  }
  if (sqlstate == "57P01") return Passing("the database is shutting down", true, false);
  if (sqlstate == "57P02") {
    return Passing("the database server crashed and is restarting", true, false);
  }
  if (sqlstate == "57P03") {
    return Passing("the database is not accepting connections yet", true, false);
  }
  if (sqlstate == "55P03") return Passing("a lock was not available", false, false);
  if (klass == "40") {
    return {StatusCode::kAborted,
            "conflicted with a concurrent transaction (deadlock or serialization failure)", false,
            false};
  }
  if (sqlstate == "23505") return {StatusCode::kAlreadyExists, "already exists", false, false};
  if (klass == "22") return DataException(sqlstate);
  return {StatusCode::kInternal,
          "the database failed unexpectedly (the coordinator's log has the details)", false, false};
}

absl::Status RefusalStatus(std::string_view what, const DatabaseRefusal& refusal) {
  std::string message(what);
  message += ": ";
  message += refusal.cause;
  return absl::Status(refusal.code, message);
}

}  // namespace skald::store
