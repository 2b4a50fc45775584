#include "coordinator/notify/signature.h"

#include <gtest/gtest.h>

namespace skald::notify {
namespace {

TEST(HmacSha256Hex, MatchesRfc4231) {
  // RFC 4231, test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231, test case 1: a 20-byte key of 0x0b.
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(SignatureHeader, SignsTheTimestampADotAndTheBody) {
  // The same value as
  //   printf '%s' '1700000000.{"saga_id":"order-17","state":"COMPLETED"}' |
  //     openssl dgst -sha256 -hmac whsec_test
  EXPECT_EQ(
      SignatureHeader("whsec_test", 1700000000, R"({"saga_id":"order-17","state":"COMPLETED"})"),
      "sha256=74bc0ec7177ff230dd2fa921a5632d9fd68f222a645f960c046a98f9f29bcc8d");
  // Any change of secret, time or body changes it.
  const std::string base = SignatureHeader("s", 1, "{}");
  EXPECT_NE(SignatureHeader("t", 1, "{}"), base);
  EXPECT_NE(SignatureHeader("s", 2, "{}"), base);
  EXPECT_NE(SignatureHeader("s", 1, "{ }"), base);
}

}  // namespace
}  // namespace skald::notify
