#include "coordinator/core/completion_token.h"

#include <array>
#include <charconv>

namespace skald::core {
namespace {

constexpr std::string_view kPrefix = "skc1.";
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

// Decodes unpadded base64url; nullopt for any other character or an impossible length.
std::optional<std::string> FromBase64Url(std::string_view text) {
  static const std::array<int8_t, 256> kValues = [] {
    std::array<int8_t, 256> values{};
    values.fill(-1);
    for (size_t i = 0; i < kAlphabet.size(); ++i) {
      values[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return values;
  }();
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : text) {
    const int value = kValues[c];
    if (value < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<int> PositiveInt(std::string_view text, int min) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min) return std::nullopt;
  return value;
}

}  // namespace

absl::Status UnknownCompletionToken() {
  return absl::NotFoundError("unknown or forged completion token");
}

std::string CompletionPayload(const CompletionClaims& claims) {
  return claims.saga_id + "\n" + std::to_string(claims.step) + "\n" +
         (claims.phase == Phase::kAction ? "a" : "c") + "\n" + std::to_string(claims.attempt);
}

std::string AssembleCompletionToken(std::string_view payload, std::string_view mac) {
  return std::string(kPrefix) + Base64Url(payload) + "." + Base64Url(mac);
}

absl::StatusOr<CompletionTokenParts> SplitCompletionToken(std::string_view token) {
  if (token.size() > kMaxCompletionTokenBytes || !token.starts_with(kPrefix)) {
    return UnknownCompletionToken();
  }
  token.remove_prefix(kPrefix.size());
  const size_t dot = token.find('.');
  if (dot == std::string_view::npos) return UnknownCompletionToken();
  auto payload = FromBase64Url(token.substr(0, dot));
  auto mac = FromBase64Url(token.substr(dot + 1));
  if (!payload || !mac || payload->empty() || mac->size() != kCompletionMacBytes) {
    return UnknownCompletionToken();
  }
  return CompletionTokenParts{*std::move(payload), *std::move(mac)};
}

absl::StatusOr<CompletionClaims> ParseCompletionPayload(std::string_view payload) {
  std::array<std::string_view, 4> fields;
  for (size_t i = 0; i < fields.size(); ++i) {
    const size_t newline = payload.find('\n');
    if ((newline == std::string_view::npos) != (i == fields.size() - 1)) {
      return UnknownCompletionToken();
    }
    fields[i] = payload.substr(0, newline);
    payload.remove_prefix(newline == std::string_view::npos ? payload.size() : newline + 1);
  }
  auto step = PositiveInt(fields[1], 0);
  auto attempt = PositiveInt(fields[3], 1);
  if (fields[0].empty() || !step || !attempt || (fields[2] != "a" && fields[2] != "c")) {
    return UnknownCompletionToken();
  }
  return CompletionClaims{std::string(fields[0]), *step,
                          fields[2] == "a" ? Phase::kAction : Phase::kCompensation, *attempt};
}

}  // namespace skald::core
