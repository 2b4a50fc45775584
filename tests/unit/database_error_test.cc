// The mapping of PostgreSQL's refusals to statuses (store/database_error.h): the contract
// the engine relies on (UNAVAILABLE: retry with backoff; ABORTED: retry the batch;
// INVALID_ARGUMENT: the value is refused) and what a client may read.
#include "coordinator/store/database_error.h"

#include <gtest/gtest.h>

namespace skald::store {
namespace {

using absl::StatusCode;

TEST(ClassifySqlStateTest, CausesThatMayPassAreUnavailable) {
  for (const char* sqlstate : {"08000", "08003", "08006", "08007", "25006", "53000", "53100",
                               "53200", "53300", "42501", "57P01", "57P02", "57P03", "55P03"}) {
    EXPECT_EQ(ClassifySqlState(sqlstate).code, StatusCode::kUnavailable) << sqlstate;
  }
}

TEST(ClassifySqlStateTest, ConflictsAreAbortedSoThatTheBatchIsRetried) {
  for (const char* sqlstate : {"40000", "40001", "40P01"}) {
    EXPECT_EQ(ClassifySqlState(sqlstate).code, StatusCode::kAborted) << sqlstate;
  }
}

TEST(ClassifySqlStateTest, RefusedValuesAreInvalidArguments) {
  for (const char* sqlstate : {"22000", "22P05", "22021", "22007", "22008", "22003", "22P02"}) {
    EXPECT_EQ(ClassifySqlState(sqlstate).code, StatusCode::kInvalidArgument) << sqlstate;
  }
  EXPECT_EQ(ClassifySqlState("22008").cause, "an invalid date or time");
  EXPECT_EQ(ClassifySqlState("22P05").cause,
            "text the database cannot store (invalid encoding or a NUL character)");
}

TEST(ClassifySqlStateTest, UniqueViolationIsAlreadyExistsAndTheRestInternal) {
  EXPECT_EQ(ClassifySqlState("23505").code, StatusCode::kAlreadyExists);
  for (const char* sqlstate : {"", "42601", "42P01", "23503", "XX000", "0A000", "25P02"}) {
    EXPECT_EQ(ClassifySqlState(sqlstate).code, StatusCode::kInternal) << sqlstate;
  }
}

TEST(ClassifySqlStateTest, ConnectionsWithStaleSessionStateAreDiscarded) {
  for (const char* sqlstate : {"08006", "25006", "42501", "57P01", "57P02", "57P03"}) {
    EXPECT_TRUE(ClassifySqlState(sqlstate).discard_connection) << sqlstate;
  }
  for (const char* sqlstate : {"53100", "40001", "22008", "23505", "XX000"}) {
    EXPECT_FALSE(ClassifySqlState(sqlstate).discard_connection) << sqlstate;
  }
}

TEST(ClassifySqlStateTest, RefusalsOfTheWholeDatabaseMakeItNotReady) {
  for (const char* sqlstate : {"25006", "53100", "53000", "42501"}) {
    EXPECT_TRUE(ClassifySqlState(sqlstate).refuses_writes) << sqlstate;
  }
  for (const char* sqlstate : {"08006", "40001", "22008", "23505", "XX000", "57P01"}) {
    EXPECT_FALSE(ClassifySqlState(sqlstate).refuses_writes) << sqlstate;
  }
}

TEST(RefusalStatusTest, NamesTheOperationAndAPlainCause) {
  absl::Status read_only = RefusalStatus("start saga order-17", ClassifySqlState("25006"));
  EXPECT_EQ(read_only.code(), StatusCode::kUnavailable);
  EXPECT_EQ(read_only.message(), "start saga order-17: the database is read-only");
  EXPECT_EQ(RefusalStatus("commit saga transitions", ClassifySqlState("53100")).message(),
            "commit saga transitions: the database refused: disk full");
  EXPECT_EQ(RefusalStatus("list sagas", ClassifySqlState("42501")).message(),
            "list sagas: the coordinator's database role lacks a privilege");
}

}  // namespace
}  // namespace skald::store
