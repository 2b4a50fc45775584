// The pure parts of authentication, authorisation and redaction (docs/security.md).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cctype>

#include "coordinator/api/access_guard.h"
#include "coordinator/api/authorizer.h"
#include "coordinator/observability/redaction.h"
#include "coordinator/store/connection.h"
#include "coordinator/store/postgres_saga_store.h"

namespace skald::api {
namespace {

// SHA-256("submitter-token") etc. are computed by Sha256Hex, itself checked against a known
// vector below.
std::string TokensFile() {
  return R"({"tokens": [
    {"name": "checkout", "sha256": ")" +
         Sha256Hex("submitter-token") +
         R"(", "roles": ["submitter"], "namespaces": ["order", "billing"]},
    {"name": "alice", "sha256": ")" +
         Sha256Hex("operator-token") +
         R"(", "roles": ["operator", "submitter"], "namespaces": ["*"]},
    {"name": "bob", "sha256": ")" +
         Sha256Hex("order-operator-token") +
         R"(", "roles": ["operator"], "namespaces": ["order"]},
    {"name": "inventory", "sha256": ")" +
         Sha256Hex("participant-token") +
         R"(", "roles": ["participant"]}
  ]})";
}

Authorizer Configured() {
  absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensFile(TokensFile());
  EXPECT_TRUE(tokens.ok()) << tokens.status();
  return Authorizer(*tokens);
}

Caller As(const std::string& token) {
  absl::StatusOr<Caller> caller = Configured().Authenticate("Bearer " + token);
  EXPECT_TRUE(caller.ok()) << caller.status();
  return caller.ok() ? *caller : Caller{};
}

TEST(Sha256Hex, MatchesTheKnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(NamespaceOf, IsTheNameUpToTheFirstDot) {
  EXPECT_EQ(NamespaceOf("order.checkout.v2"), "order");
  EXPECT_EQ(NamespaceOf("billing"), "billing");
  EXPECT_EQ(NamespaceOf(".hidden"), "");
}

TEST(ParseTokensFile, ReadsEveryEntry) {
  absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensFile(TokensFile());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  ASSERT_EQ(tokens->size(), 4u);
  EXPECT_EQ((*tokens)[0].name, "checkout");
  EXPECT_EQ((*tokens)[0].roles, std::set<Role>{Role::kSubmitter});
  EXPECT_EQ((*tokens)[0].namespaces, (std::vector<std::string>{"order", "billing"}));
  EXPECT_TRUE((*tokens)[3].namespaces.empty());
}

TEST(ParseTokensFile, RefusesMalformedFilesNamingTheField) {
  const std::string hash = Sha256Hex("x");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "not valid JSON"},
      {R"({"tokens": {}})", "expected {\"tokens\""},
      {R"({"tokens": [], "extra": 1})", "expected {\"tokens\""},
      {R"({"tokens": [{"sha256": ")" + hash + R"(", "roles": ["operator"]}]})", "tokens[0].name"},
      {R"({"tokens": [{"name": "a", "sha256": "abc", "roles": ["operator"]}]})",
       "tokens[0].sha256"},
      {R"({"tokens": [{"name": "a", "sha256": ")" + std::string(64, 'g') +
           R"(", "roles": ["operator"]}]})",
       "tokens[0].sha256"},
      {R"({"tokens": [{"name": "a", "sha256": ")" + hash + R"(", "roles": []}]})",
       "tokens[0].roles"},
      {R"({"tokens": [{"name": "a", "sha256": ")" + hash + R"(", "roles": ["admin"]}]})",
       "unknown role \"admin\""},
      {R"({"tokens": [{"name": "a", "token": "x", "sha256": ")" + hash +
           R"(", "roles": ["operator"]}]})",
       "unknown field \"token\""},
      {R"({"tokens": [{"name": "a", "sha256": ")" + hash +
           R"(", "roles": ["operator"], "namespaces": "*"}]})",
       "tokens[0].namespaces"},
      {R"({"tokens": [{"name": "a", "sha256": ")" + hash +
           R"(", "roles": ["operator"]}, {"name": "a", "sha256": ")" + Sha256Hex("y") +
           R"(", "roles": ["operator"]}]})",
       "tokens[1].name: \"a\" is used twice"},
      {R"({"tokens": [{"name": "a", "sha256": ")" + hash +
           R"(", "roles": ["operator"]}, {"name": "b", "sha256": ")" + hash +
           R"(", "roles": ["operator"]}]})",
       "tokens[1].sha256: the same token"},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensFile(text);
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_EQ(tokens.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(tokens.status().message().find(expected), std::string::npos)
        << text << " -> " << tokens.status().message();
  }
}

TEST(ParseTokensFile, AcceptsUppercaseHex) {
  std::string hash = Sha256Hex("t");
  for (char& c : hash) c = static_cast<char>(std::toupper(c));
  absl::StatusOr<std::vector<TokenEntry>> tokens = ParseTokensFile(
      R"({"tokens": [{"name": "a", "sha256": ")" + hash + R"(", "roles": ["operator"]}]})");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_TRUE(Authorizer(*tokens).Authenticate("Bearer t").ok());
}

TEST(Authenticate, OffMeansEveryCallerIsUnrestricted) {
  Authorizer off;
  EXPECT_FALSE(off.enabled());
  absl::StatusOr<Caller> caller = off.Authenticate("");
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(caller->unrestricted);
  EXPECT_TRUE(Authorizer::Authorize(*caller, Permission::kOperate, "anything").ok());
  EXPECT_TRUE(Authorizer::Authorize(*caller, Permission::kRegister).ok());
}

TEST(Authenticate, FindsTheTokensCaller) {
  Caller caller = As("operator-token");
  EXPECT_EQ(caller.name, "alice");
  EXPECT_FALSE(caller.unrestricted);
  EXPECT_EQ(caller.roles, (std::set<Role>{Role::kSubmitter, Role::kOperator}));
  // The scheme is case-insensitive (RFC 7235); the token is not.
  EXPECT_TRUE(Configured().Authenticate("bearer operator-token").ok());
  EXPECT_FALSE(Configured().Authenticate("Bearer OPERATOR-TOKEN").ok());
}

TEST(Authenticate, RefusesMissingMalformedAndUnknownTokens) {
  for (const std::string& header : std::vector<std::string>{
           "", "operator-token", "Bearer ", "Basic b3BlcmF0b3ItdG9rZW4=", "Bearer wrong",
           "Bearer operator-token ", "Bearer " + Sha256Hex("operator-token")}) {
    absl::StatusOr<Caller> caller = Configured().Authenticate(header);
    ASSERT_FALSE(caller.ok()) << header;
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated) << header;
    // The refusal never repeats what was presented.
    if (header.size() > 7) {
      EXPECT_EQ(caller.status().message().find(header.substr(7)), std::string::npos);
    }
  }
}

// Every permission for every role, on a namespace of the caller's and one outside.
TEST(Authorize, FollowsTheRoleTable) {
  struct Case {
    std::string token;
    Permission permission;
    std::string definition;
    bool allowed;
  };
  const std::vector<Case> cases = {
      // A submitter applies, starts and reads in its namespaces, and nothing else.
      {"submitter-token", Permission::kApplyDefinition, "order", true},
      {"submitter-token", Permission::kApplyDefinition, "order.checkout", true},
      {"submitter-token", Permission::kApplyDefinition, "billing.invoice", true},
      {"submitter-token", Permission::kApplyDefinition, "shipping", false},
      {"submitter-token", Permission::kApplyDefinition, "orders", false},
      {"submitter-token", Permission::kStartSaga, "order", true},
      {"submitter-token", Permission::kStartSaga, "shipping.label", false},
      {"submitter-token", Permission::kRead, "order", true},
      {"submitter-token", Permission::kRead, "shipping", false},
      {"submitter-token", Permission::kRead, "", false},
      {"submitter-token", Permission::kOperate, "order", false},
      {"submitter-token", Permission::kRegister, "", false},
      {"submitter-token", Permission::kListParticipants, "", true},
      // An operator of "*" does everything but register.
      {"operator-token", Permission::kApplyDefinition, "shipping", true},
      {"operator-token", Permission::kOperate, "shipping", true},
      {"operator-token", Permission::kRead, "", true},
      {"operator-token", Permission::kRegister, "", false},
      // An operator of one namespace reads everything, acts in its namespace only.
      {"order-operator-token", Permission::kRead, "shipping", true},
      {"order-operator-token", Permission::kRead, "", true},
      {"order-operator-token", Permission::kOperate, "order.x", true},
      {"order-operator-token", Permission::kOperate, "shipping", false},
      {"order-operator-token", Permission::kStartSaga, "order", false},
      // A participant registers, lists participants, and nothing else.
      {"participant-token", Permission::kRegister, "", true},
      {"participant-token", Permission::kListParticipants, "", true},
      {"participant-token", Permission::kRead, "order", false},
      {"participant-token", Permission::kStartSaga, "order", false},
  };
  for (const Case& c : cases) {
    absl::Status status = Authorizer::Authorize(As(c.token), c.permission, c.definition);
    EXPECT_EQ(status.ok(), c.allowed) << c.token << " " << static_cast<int>(c.permission) << " "
                                      << c.definition << ": " << status;
    if (!c.allowed) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
    }
  }
}

TEST(Authorize, TheRefusalNamesCallerNamespaceAndWhatIsMissing) {
  absl::Status status =
      Authorizer::Authorize(As("submitter-token"), Permission::kOperate, "order.checkout");
  EXPECT_EQ(status.message(),
            "caller \"checkout\" (roles: submitter) may not abort, retry or skip in sagas of "
            "namespace \"order\": needs role operator with that namespace");
}

TEST(StreamLimiter, RefusesOverTheLimitPerCallerAndFreesOnRelease) {
  StreamLimiter limiter(2);
  EXPECT_TRUE(limiter.Acquire("a").ok());
  EXPECT_TRUE(limiter.Acquire("a").ok());
  absl::Status third = limiter.Acquire("a");
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.message().find("--max-watch-streams"), std::string::npos) << third;
  EXPECT_TRUE(limiter.Acquire("b").ok());
  limiter.Release("a");
  EXPECT_TRUE(limiter.Acquire("a").ok());
}

// The peak resident set of this process, in KiB.
long PeakRssKb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Issue 13: with --auth-tokens, any token (a participant's too) made ApplyDefinition parse
// a 4 MiB "[[[[..." document (about 350 MB) before the size and depth limits applied. The
// guard now reads only the name, without building the document.
TEST(AccessGuard, AuthorisesApplyWithoutBuildingTheDocument) {
  store::ConnectionPool pool("postgresql://127.0.0.1:1/unused", 1);  // never connected
  store::PostgresSagaStore store(pool);
  auto tokens = ParseTokensFile(TokensFile());
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  AccessGuard guard(Authorizer(*tokens), store);
  auto caller = [&](const std::string& token) { return *guard.Authenticate("Bearer " + token); };
  v1::ApplyDefinitionRequest request;
  request.set_definition_json(std::string(4 << 20, '['));
  const long before = PeakRssKb();
  for (const char* token : {"participant-token", "submitter-token", "order-operator-token"}) {
    EXPECT_EQ(guard.CheckApply(caller(token), request).code(), absl::StatusCode::kPermissionDenied)
        << token;
  }
  request.set_definition_json(R"({"steps": [[[[)" + std::string(4 << 20, '{'));
  EXPECT_EQ(guard.CheckApply(caller("submitter-token"), request).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_LT(PeakRssKb() - before, 64 * 1024) << "KiB more at the peak";

  // The namespace is the name's, the last one when repeated (as the parser keeps it).
  request.set_definition_json(R"({"version": 1, "name": "order.x", "steps": []})");
  EXPECT_TRUE(guard.CheckApply(caller("submitter-token"), request).ok());
  request.set_definition_json(R"({"name": "order.x", "name": "shipping.x"})");
  EXPECT_EQ(guard.CheckApply(caller("submitter-token"), request).code(),
            absl::StatusCode::kPermissionDenied);
  request.set_definition_json(R"({"name": "shipping.x", "name": "order.x"})");
  EXPECT_TRUE(guard.CheckApply(caller("submitter-token"), request).ok());
}

TEST(StreamLimiter, RefusesOverTheLimitOfTheCoordinator) {
  StreamLimiter limiter(2, 3);
  EXPECT_TRUE(limiter.Acquire("a").ok());
  EXPECT_TRUE(limiter.Acquire("b").ok());
  EXPECT_TRUE(limiter.Acquire("c").ok());
  absl::Status fourth = limiter.Acquire("d");
  EXPECT_EQ(fourth.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(fourth.message().find("on this coordinator"), std::string::npos) << fourth;
  limiter.Release("b");
  EXPECT_TRUE(limiter.Acquire("d").ok());
  limiter.Release("unknown");  // never acquired: changes nothing
  EXPECT_FALSE(limiter.Acquire("e").ok());
}

}  // namespace
}  // namespace skald::api

namespace skald::observability {
namespace {

TEST(ParseFieldList, TrimsLowercasesAndDropsEmptyItems) {
  EXPECT_EQ(ParseFieldList(" Password, cvv,,card_number ,"),
            (std::set<std::string>{"password", "cvv", "card_number"}));
  EXPECT_TRUE(ParseFieldList("").empty());
}

TEST(Redact, ReplacesNamedFieldsAtAnyDepth) {
  const nlohmann::json payload = nlohmann::json::parse(R"({
    "amount": 150, "CVV": "123",
    "card": {"card_number": "4111", "holder": "ada"},
    "items": [{"secret": {"x": 1}}, {"sku": "s-1"}]})");
  const nlohmann::json redacted = Redact(payload, {"cvv", "card_number", "secret"});
  EXPECT_EQ(redacted, nlohmann::json::parse(R"({
    "amount": 150, "CVV": "[redacted]",
    "card": {"card_number": "[redacted]", "holder": "ada"},
    "items": [{"secret": "[redacted]"}, {"sku": "s-1"}]})"));
}

TEST(Redact, LeavesScalarsAndUnnamedFieldsAlone) {
  EXPECT_EQ(Redact(nlohmann::json(3), {"x"}), nlohmann::json(3));
  EXPECT_EQ(Redact(nlohmann::json::parse(R"({"a": "password"})"), {"password"}),
            nlohmann::json::parse(R"({"a": "password"})"));
}

TEST(RedactedPayload, UsesTheConfiguredFieldsAndHidesNonJson) {
  SetRedactedFields(ParseFieldList(kDefaultRedactedFields));
  EXPECT_EQ(RedactedPayload(R"({"password":"hunter2","user":"ada"})"),
            R"({"password":"[redacted]","user":"ada"})");
  SetRedactedFields({"user"});
  EXPECT_EQ(RedactedPayload(R"({"password":"hunter2","user":"ada"})"),
            R"({"password":"hunter2","user":"[redacted]"})");
  EXPECT_EQ(RedactedPayload("password=hunter2"), "(not JSON, 16 bytes)");
  SetRedactedFields(ParseFieldList(kDefaultRedactedFields));
}

}  // namespace
}  // namespace skald::observability
