#include "coordinator/core/notification.h"

#include <algorithm>

#include "absl/status/status.h"

namespace skald::core {
namespace {

std::string QuotedInPart(std::string_view text) {
  // Long or odd URLs are shown in part: enough to recognise them.
  constexpr size_t kShown = 80;
  std::string shown(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  return "\"" + shown + "\"";
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '.' || c == '-' ||
         c == '_';
}

bool IsIpv6Char(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// Checks "host[:port]" of an http(s) URL.
absl::Status CheckAuthority(std::string_view authority, std::string_view url) {
  if (authority.empty()) return absl::InvalidArgumentError("has no host: " + QuotedInPart(url));
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("must not hold credentials (user@host): " +
                                      QuotedInPart(url));
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1 ||
        !std::ranges::all_of(authority.substr(1, close - 1), IsIpv6Char)) {
      return absl::InvalidArgumentError("has an invalid IPv6 host: " + QuotedInPart(url));
    }
    host = authority.substr(0, close + 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':')
        return absl::InvalidArgumentError("has an invalid host: " + QuotedInPart(url));
      port = rest.substr(1);
      if (port.empty())
        return absl::InvalidArgumentError("has an empty port: " + QuotedInPart(url));
    }
  } else {
    if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty())
        return absl::InvalidArgumentError("has an empty port: " + QuotedInPart(url));
    }
    if (host.empty()) return absl::InvalidArgumentError("has no host: " + QuotedInPart(url));
    if (!std::ranges::all_of(host, IsHostChar)) {
      return absl::InvalidArgumentError("has an invalid host " + QuotedInPart(host));
    }
  }
  if (!port.empty()) {
    if (port.size() > 5 || !std::ranges::all_of(port, IsDigit) ||
        std::stoi(std::string(port)) == 0 || std::stoi(std::string(port)) > 65535) {
      return absl::InvalidArgumentError("port must be a number from 1 to 65535, got " +
                                        QuotedInPart(port));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateWebhookUrl(std::string_view url) { return SplitWebhookUrl(url).status(); }

absl::StatusOr<WebhookUrl> SplitWebhookUrl(std::string_view url) {
  if (url.size() > kMaxWebhookUrlLength) {
    return absl::InvalidArgumentError("is " + std::to_string(url.size()) +
                                      " characters, over the limit of " +
                                      std::to_string(kMaxWebhookUrlLength));
  }
  size_t scheme_end = 0;
  if (url.starts_with("http://")) {
    scheme_end = 7;
  } else if (url.starts_with("https://")) {
    scheme_end = 8;
  } else {
    return absl::InvalidArgumentError("must start with http:// or https://, got " +
                                      QuotedInPart(url));
  }
  if (std::ranges::any_of(url, [](char c) {
        return static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) == 0x7f;
      })) {
    return absl::InvalidArgumentError("must not hold spaces or control characters: " +
                                      QuotedInPart(url));
  }
  if (url.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError("must not hold a fragment (#...): " + QuotedInPart(url));
  }
  const std::string_view rest = url.substr(scheme_end);
  const size_t target_start = std::min(rest.find('/'), rest.find('?'));
  const std::string_view authority = rest.substr(0, target_start);
  if (absl::Status s = CheckAuthority(authority, url); !s.ok()) return s;
  WebhookUrl parts;
  parts.origin = std::string(url.substr(0, scheme_end)) + std::string(authority);
  parts.target =
      target_start == std::string_view::npos ? "/" : std::string(rest.substr(target_start));
  if (parts.target.front() == '?') parts.target.insert(0, "/");
  return parts;
}

std::chrono::milliseconds DeliveryBackoff(int failures) {
  constexpr std::chrono::milliseconds kFirst{1'000};
  constexpr std::chrono::milliseconds kMax{300'000};
  std::chrono::milliseconds wait = kFirst;
  for (int i = 1; i < failures && wait < kMax; ++i) wait *= 2;
  return std::min(wait, kMax);
}

std::vector<Notice> NoticesOf(const SagaState& before, const Transition& transition,
                              int compensation_failures) {
  std::vector<Notice> notices;
  const SagaState& after = transition.state;
  if (compensation_failures >= 1) {
    std::vector<int> alerted;
    for (const HistoryEntry& entry : transition.history) {
      if (entry.type != "attempt_failed" || entry.phase != Phase::kCompensation || !entry.step ||
          entry.attempt < compensation_failures ||
          std::ranges::find(alerted, *entry.step) != alerted.end()) {
        continue;
      }
      alerted.push_back(*entry.step);
      std::string error;
      if (auto it = entry.detail.find("error"); it != entry.detail.end() && it->is_string()) {
        error = it->get<std::string>();
      } else if (*entry.step >= 0 && *entry.step < static_cast<int>(after.steps.size())) {
        error = after.steps[*entry.step].error;
      }
      notices.push_back(
          Notice{Notice::Kind::kCompensationFailing, entry.step, entry.attempt, std::move(error)});
    }
  }
  if (after.status != before.status && IsTerminal(after.status)) {
    notices.push_back(Notice{Notice::Kind::kSagaFinished, std::nullopt, 0, after.error});
    if (after.status == SagaStatus::kFailed) {
      notices.push_back(Notice{Notice::Kind::kSagaFailed, std::nullopt, 0, after.error});
    }
  }
  return notices;
}

}  // namespace skald::core
