// The JSON API's query strings and request bodies, before any protobuf
// (coordinator/core/api_request.h).
#include <gtest/gtest.h>

#include "coordinator/core/api_request.h"

namespace skald::core {
namespace {

TEST(ApiQuery, ListSagas) {
  auto query = ParseListSagasQuery({{"state", "failed"},
                                    {"definition", "order"},
                                    {"created_after", "2026-01-01"},
                                    {"page_size", "20"},
                                    {"page_token", "abc"}});
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->state, "SAGA_STATE_FAILED");
  EXPECT_EQ(query->definition, "order");
  EXPECT_EQ(query->created_after, "2026-01-01");
  EXPECT_EQ(query->page_size, 20);
  EXPECT_EQ(query->page_token, "abc");
}

TEST(ApiQuery, BadParametersAreNamed) {
  EXPECT_EQ(ParseListSagasQuery({{"stat", "FAILED"}}).status().message(),
            "unknown query parameter \"stat\"; expected state, definition, created_after, "
            "created_before, page_size, page_token");
  EXPECT_EQ(ParseListSagasQuery({{"state", "FAILED"}, {"state", "RUNNING"}}).status().message(),
            "state: given more than once");
  EXPECT_EQ(ParseListSagasQuery({{"page_size", "99999999999"}}).status().message(),
            "page_size: expected an integer, got \"99999999999\"");
  EXPECT_EQ(ParseSagaHistoryQuery({{"after_event_id", "1x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckNoQueryParams({{"a", ""}}).message(),
            "unknown query parameter \"a\"; this endpoint takes none");
  EXPECT_EQ(ParseDefinitionQuery({{"version", "3"}})->version, 3);
  EXPECT_EQ(ParseParticipantsQuery({{"service", "payment"}})->service, "payment");
  EXPECT_EQ(ParseCountSagasQuery({{"definition", "order"}})->definition, "order");
}

TEST(ApiQuery, SagaStateNames) {
  EXPECT_EQ(*ParseSagaStateName("compensating"), "SAGA_STATE_COMPENSATING");
  EXPECT_EQ(*ParseSagaStateName("SAGA_STATE_COMPLETED"), "SAGA_STATE_COMPLETED");
  EXPECT_FALSE(ParseSagaStateName("UNSPECIFIED").ok());
  EXPECT_FALSE(ParseSagaStateName("SAGA_STATE_").ok());
  EXPECT_FALSE(ParseSagaStateName("").ok());
}

TEST(ApiBody, OneShallowJsonObject) {
  EXPECT_TRUE(CheckRequestBody("").ok());
  EXPECT_TRUE(CheckRequestBody(" \r\n").ok());
  EXPECT_TRUE(CheckRequestBody(R"({"definition": "order", "version": 2})").ok());
  EXPECT_EQ(CheckRequestBody("[1]").message(), "request body: must be a JSON object, got array");
  EXPECT_EQ(CheckRequestBody("{\"a\": 1,").message(), "request body: not valid JSON at byte 9");
  EXPECT_EQ(CheckRequestBody(std::string(100'000, '[')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckRequestBody(R"({"a":[[[[[[[[1]]]]]]]]})").message(),
            "request body: objects and arrays nested deeper than 8 levels");
}

}  // namespace
}  // namespace skald::core
