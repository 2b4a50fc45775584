// Which requests the HTTP port admits from their head alone (coordinator/core/http_admission.h):
// browsers' cross-site requests, DNS rebinding, bodies that are not JSON.
#include "coordinator/core/http_admission.h"

#include <gtest/gtest.h>

namespace skald::core {
namespace {

HostAllowlist Loopback() { return MakeHostAllowlist("127.0.0.1", {}); }

// A POST to the API as curl or the dashboard sends it.
HttpRequestHead JsonPost(const std::string& path = "/api/v1/sagas") {
  HttpRequestHead head;
  head.method = "POST";
  head.path = path;
  head.host = "127.0.0.1:7780";
  head.content_type = "application/json";
  head.has_content_length = true;
  return head;
}

TEST(HttpAdmission, AdmitsTheDashboardsAndCurlsRequests) {
  EXPECT_FALSE(CheckRequestHead(JsonPost(), Loopback()));
  HttpRequestHead dashboard = JsonPost("/api/v1/sagas/o-1/abort");
  dashboard.origin = "http://127.0.0.1:7780";
  dashboard.sec_fetch_site = "same-origin";
  dashboard.content_type = "application/json; charset=utf-8";
  EXPECT_FALSE(CheckRequestHead(dashboard, Loopback()));
  HttpRequestHead typed_in = JsonPost();
  typed_in.sec_fetch_site = "none";  // typed into the address bar, a bookmark
  EXPECT_FALSE(CheckRequestHead(typed_in, Loopback()));
  HttpRequestHead chunked = JsonPost();
  chunked.has_content_length = false;
  chunked.chunked = true;
  EXPECT_FALSE(CheckRequestHead(chunked, Loopback()));
}

TEST(HttpAdmission, StateChangingRequestsMustBeJson) {
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonp", ""}) {
    HttpRequestHead head = JsonPost();
    head.content_type = type;
    auto refusal = CheckRequestHead(head, Loopback());
    ASSERT_TRUE(refusal) << type;
    EXPECT_EQ(refusal->http_status, 415) << type;
    EXPECT_NE(refusal->status.message().find("Content-Type: application/json"), std::string::npos);
  }
  HttpRequestHead untyped = JsonPost();
  untyped.content_type.reset();
  auto refusal = CheckRequestHead(untyped, Loopback());
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->http_status, 415);
  // Reads are not concerned.
  HttpRequestHead get = JsonPost();
  get.method = "GET";
  get.content_type = "text/plain";
  EXPECT_FALSE(CheckRequestHead(get, Loopback()));
}

TEST(HttpAdmission, CrossSiteRequestsAreRefused) {
  for (const char* site : {"cross-site", "same-site"}) {
    HttpRequestHead head = JsonPost();
    head.sec_fetch_site = site;
    auto refusal = CheckRequestHead(head, Loopback());
    ASSERT_TRUE(refusal) << site;
    EXPECT_EQ(refusal->http_status, 403);
    EXPECT_EQ(refusal->status.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_NE(refusal->status.message().find("cross-site"), std::string::npos);
  }
  // Another port of the same host is another origin (the test page of the browser test).
  for (const char* origin : {"http://127.0.0.1:8000", "https://127.0.0.1:8443", "null",
                             "http://evil.example", "http://127.0.0.1"}) {
    HttpRequestHead head = JsonPost();
    head.origin = origin;
    auto refusal = CheckRequestHead(head, Loopback());
    ASSERT_TRUE(refusal) << origin;
    EXPECT_EQ(refusal->http_status, 403) << origin;
  }
}

TEST(HttpAdmission, OriginsComparedWithoutDefaultPortsOrCase) {
  EXPECT_TRUE(IsSameOrigin("http://127.0.0.1:7780", "127.0.0.1:7780"));
  EXPECT_TRUE(IsSameOrigin("http://Skald.Example", "skald.example:80"));
  EXPECT_TRUE(IsSameOrigin("https://skald.example", "skald.example:443"));
  EXPECT_TRUE(IsSameOrigin("http://[::1]:7780", "[::1]:7780"));
  EXPECT_FALSE(IsSameOrigin("http://[::1]:7780", "[::1]:7781"));
  EXPECT_FALSE(IsSameOrigin("https://skald.example", "skald.example:80"));
  EXPECT_FALSE(IsSameOrigin("null", "127.0.0.1:7780"));
  EXPECT_FALSE(IsSameOrigin("file://", "127.0.0.1:7780"));
  EXPECT_FALSE(IsSameOrigin("http://", ""));
}

TEST(HttpAdmission, UnknownHostNamesAreRefusedEverywhereButTheProbes) {
  const HostAllowlist hosts = Loopback();
  for (const char* path : {"/api/v1/sagas", "/metrics", "/", "/ui/app.js"}) {
    HttpRequestHead head;
    head.method = "GET";
    head.path = path;
    head.host = "rebound.attacker.example:7780";
    auto refusal = CheckRequestHead(head, hosts);
    ASSERT_TRUE(refusal) << path;
    EXPECT_EQ(refusal->http_status, 403);
    EXPECT_NE(refusal->status.message().find("--http-allowed-hosts"), std::string::npos);
  }
  for (const char* path : {"/healthz", "/readyz"}) {
    HttpRequestHead head;
    head.method = "GET";
    head.path = path;
    head.host = "rebound.attacker.example";
    EXPECT_FALSE(CheckRequestHead(head, hosts)) << path;
  }
}

TEST(HttpAdmission, HostsAllowedByDefaultAndByFlag) {
  const HostAllowlist loopback = Loopback();
  for (const char* host : {"127.0.0.1:7780", "localhost:7780", "LOCALHOST", "localhost.",
                           "[::1]:7780", "10.1.2.3:7780", "[fe80::1%25eth0]:80", "127.0.0.1"}) {
    EXPECT_TRUE(IsHostAllowed(host, loopback)) << host;
  }
  for (const char* host : {"evil.example", "127.0.0.1.evil.example", "localhost.evil", "",
                           "1.2.3.4.5", "256.1.1.1", "[evil]", ":7780"}) {
    EXPECT_FALSE(IsHostAllowed(host, loopback)) << host;
  }
  const HostAllowlist named = MakeHostAllowlist("coordinator.internal", {"skald.example", " "});
  EXPECT_TRUE(IsHostAllowed("coordinator.internal:7780", named));
  EXPECT_TRUE(IsHostAllowed("Skald.Example", named));
  EXPECT_FALSE(IsHostAllowed("other.example", named));
  EXPECT_TRUE(IsHostAllowed("other.example", MakeHostAllowlist("0.0.0.0", {"*"})));
}

TEST(HttpAdmission, ABodylessPostSaysWhatIsMissing) {
  HttpRequestHead head = JsonPost("/api/v1/sagas/o-1/retry");
  head.has_content_length = false;
  auto refusal = CheckRequestHead(head, Loopback());
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->http_status, 400);
  EXPECT_EQ(refusal->status.message(),
            "POST /api/v1/sagas/o-1/retry: no request body: send a JSON object with a "
            "Content-Length (an empty object {} when there is nothing to say)");
}

TEST(HttpAdmission, StateChangingRequestsOutsideTheApiAreRefusedUnread) {
  HttpRequestHead head = JsonPost("/ui/index.html");
  head.content_type = "application/x-www-form-urlencoded";
  auto refusal = CheckRequestHead(head, Loopback());
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->http_status, 404);
  EXPECT_EQ(refusal->status.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skald::core
