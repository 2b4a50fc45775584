#include "coordinator/core/bounded_json.h"

#include <string>

namespace skald::core {
namespace {

using json = nlohmann::json;

// SAX events forwarded to nlohmann's DOM builder, with a count of the containers open:
// false (stop) at the first one over the limit.
class DepthBoundedDomSax {
 public:
  DepthBoundedDomSax(json& out, size_t max_depth) : dom_(out, true), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(json::number_integer_t value) { return dom_.number_integer(value); }
  bool number_unsigned(json::number_unsigned_t value) { return dom_.number_unsigned(value); }
  bool number_float(json::number_float_t value, const json::string_t& text) {
    return dom_.number_float(value, text);
  }
  bool string(json::string_t& value) { return dom_.string(value); }
  bool binary(json::binary_t& value) { return dom_.binary(value); }
  bool start_object(std::size_t size) { return Open() && dom_.start_object(size); }
  bool key(json::string_t& value) { return dom_.key(value); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t size) { return Open() && dom_.start_array(size); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t position, const std::string& last_token, const Exception& error) {
    return dom_.parse_error(position, last_token, error);
  }

 private:
  bool Open() {
    if (++depth_ > max_depth_) too_deep_ = true;
    return !too_deep_;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  const size_t max_depth_;
  size_t depth_ = 0;
  bool too_deep_ = false;
};

// SAX events that keep only the last string value of one top-level member.
class TopLevelStringSax {
 public:
  TopLevelStringSax(std::string_view key, size_t max_depth) : key_(key), max_depth_(max_depth) {}

  std::optional<std::string> found() && { return std::move(found_); }

  bool null() { return Scalar(); }
  bool boolean(bool) { return Scalar(); }
  bool number_integer(json::number_integer_t) { return Scalar(); }
  bool number_unsigned(json::number_unsigned_t) { return Scalar(); }
  bool number_float(json::number_float_t, const json::string_t&) { return Scalar(); }
  bool binary(json::binary_t&) { return Scalar(); }
  bool string(json::string_t& value) {
    if (depth_ == 0) return false;  // not an object
    if (depth_ == 1 && at_key_) found_ = value;
    at_key_ = false;
    return true;
  }
  bool key(json::string_t& value) {
    if (depth_ == 1) at_key_ = value == key_;
    return true;
  }
  bool start_object(std::size_t) { return Open(); }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) {
    if (depth_ == 0) return false;  // not an object
    return Open();
  }
  bool end_array() { return Close(); }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception&) {
    found_.reset();
    return false;
  }

 private:
  bool Scalar() {
    if (depth_ == 0) return false;  // not an object
    // A later member of the same name that is no string replaces the earlier one.
    if (depth_ == 1 && at_key_) found_.reset();
    at_key_ = false;
    return true;
  }
  bool Open() {
    if (depth_ == 1 && at_key_) found_.reset();
    at_key_ = false;
    if (++depth_ > max_depth_) {
      found_.reset();
      return false;
    }
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  const std::string_view key_;
  const size_t max_depth_;
  size_t depth_ = 0;
  bool at_key_ = false;
  std::optional<std::string> found_;
};

}  // namespace

bool ParseJsonWithinDepth(std::string_view text, size_t max_depth, nlohmann::json& out) {
  out = nullptr;
  DepthBoundedDomSax sax(out, max_depth);
  json::sax_parse(text.begin(), text.end(), &sax);
  if (sax.too_deep()) {
    out = nullptr;
    return false;
  }
  return true;
}

absl::StatusOr<nlohmann::json> ParseBoundedJson(std::string_view text, size_t max_depth) {
  nlohmann::json value;
  try {
    if (!ParseJsonWithinDepth(text, max_depth, value)) {
      return absl::InvalidArgumentError("objects and arrays nested deeper than " +
                                        std::to_string(max_depth) + " levels");
    }
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError("not valid JSON at byte " + std::to_string(e.byte));
  } catch (const nlohmann::json::exception& e) {
    // E.g. a number too large for any type (out_of_range 406): refused, never thrown on.
    return absl::InvalidArgumentError(e.what());
  }
  return value;
}

std::optional<std::string> FindTopLevelString(std::string_view text, std::string_view key,
                                              size_t max_depth) {
  TopLevelStringSax sax(key, max_depth);
  try {
    if (!json::sax_parse(text.begin(), text.end(), &sax)) return std::nullopt;
  } catch (const json::exception&) {
    return std::nullopt;
  }
  return std::move(sax).found();
}

}  // namespace skald::core
