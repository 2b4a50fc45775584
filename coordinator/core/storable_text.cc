#include "coordinator/core/storable_text.h"

#include <vector>

namespace skald::core {
namespace {

std::string Refusal(std::string_view what, std::string_view problem, size_t at) {
  return std::string(what) + ": " + std::string(problem) + " at byte " + std::to_string(at) +
         " (PostgreSQL cannot store it)";
}

// Returns why `text` cannot be stored, or an empty string.
std::string FindUnstorable(std::string_view text, std::string_view what) {
  for (size_t at = 0; at < text.size();) {
    if (text[at] == '\0') return Refusal(what, "a NUL character (\\u0000)", at);
    const size_t length = Utf8SequenceLength(text, at);
    if (length == 0) return Refusal(what, "invalid UTF-8", at);
    at += length;
  }
  return {};
}

// Appends `token` to a JSON pointer, escaped as RFC 6901 says.
std::string PointerTo(const std::string& parent, std::string_view token) {
  std::string pointer = parent + "/";
  for (char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
  return pointer;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // Bounds of the second byte.
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // Overlong.
    if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // Overlong.
    if (lead == 0xF4) high = 0x8F;  // Past U+10FFFF.
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

absl::Status CheckStorableText(std::string_view text, std::string_view what) {
  std::string problem = FindUnstorable(text, what);
  return problem.empty() ? absl::OkStatus() : absl::InvalidArgumentError(problem);
}

absl::Status CheckStorableJson(const nlohmann::json& value, std::string_view what) {
  // Iterative: a value may come from a client, and its depth is bounded only by the caller.
  std::vector<std::pair<const nlohmann::json*, std::string>> pending{{&value, ""}};
  while (!pending.empty()) {
    auto [node, pointer] = std::move(pending.back());
    pending.pop_back();
    const auto place = [&](const std::string& at) {
      return std::string(what) + (at.empty() ? "" : " at " + at);
    };
    if (node->is_string()) {
      std::string problem = FindUnstorable(node->get_ref<const std::string&>(), place(pointer));
      if (!problem.empty()) return absl::InvalidArgumentError(problem);
    } else if (node->is_object()) {
      for (auto it = node->begin(); it != node->end(); ++it) {
        const std::string child = PointerTo(pointer, it.key());
        std::string problem = FindUnstorable(it.key(), place(child) + " (the key)");
        if (!problem.empty()) return absl::InvalidArgumentError(problem);
        pending.emplace_back(&it.value(), child);
      }
    } else if (node->is_array()) {
      for (size_t i = 0; i < node->size(); ++i) {
        pending.emplace_back(&(*node)[i], pointer + "/" + std::to_string(i));
      }
    }
  }
  return absl::OkStatus();
}

std::string StorableText(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + kReplacement.size());
  size_t at = 0;
  while (at < text.size()) {
    const size_t length = text[at] == '\0' ? 0 : Utf8SequenceLength(text, at);
    const size_t adds = length == 0 ? kReplacement.size() : length;
    if (out.size() + adds > max_bytes) break;
    if (length == 0) {
      out += kReplacement;
      ++at;
    } else {
      out.append(text.substr(at, length));
      at += length;
    }
  }
  if (at < text.size()) out += "... (" + std::to_string(text.size() - at) + " bytes cut)";
  return out;
}

}  // namespace skald::core
