// Assertions on absl::Status and absl::StatusOr<T> for gtest (Debian's abseil has none).
#ifndef SKALD_TESTS_SUPPORT_STATUS_MATCHERS_H_
#define SKALD_TESTS_SUPPORT_STATUS_MATCHERS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace skald::testing::internal {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace skald::testing::internal

#define SKALD_STATUS_CONCAT_INNER_(a, b) a##b
#define SKALD_STATUS_CONCAT_(a, b) SKALD_STATUS_CONCAT_INNER_(a, b)

// ASSERT_OK(expr) / EXPECT_OK(expr): expr is an absl::Status or absl::StatusOr<T>.
#define SKALD_CHECK_OK_(expr, check)                                                   \
  do {                                                                                 \
    const ::absl::Status skald_status_ = ::skald::testing::internal::StatusOf((expr)); \
    check(skald_status_.ok()) << #expr << " returned " << skald_status_;               \
  } while (false)
#define ASSERT_OK(expr) SKALD_CHECK_OK_(expr, ASSERT_TRUE)
#define EXPECT_OK(expr) SKALD_CHECK_OK_(expr, EXPECT_TRUE)

// ASSERT_OK_AND_ASSIGN(auto x, FunctionReturningStatusOr()); fails the test on an error.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  SKALD_ASSERT_OK_AND_ASSIGN_IMPL_(SKALD_STATUS_CONCAT_(skald_statusor_, __LINE__), lhs, rexpr)
#define SKALD_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)               \
  auto statusor = (rexpr);                                                   \
  ASSERT_TRUE(statusor.ok()) << #rexpr << " returned " << statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // SKALD_TESTS_SUPPORT_STATUS_MATCHERS_H_
