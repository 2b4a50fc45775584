#include "coordinator/observability/logging.h"

#include <spdlog/pattern_formatter.h>

#include <ctime>

#include "nlohmann/json.hpp"

namespace skald::observability {
namespace {

thread_local const LogContext* current_context = nullptr;

// "saga X step Y attempt N: " before the message in the text format.
class ContextFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogContext* context = CurrentLogContext();
    if (context == nullptr || context->saga_id.empty()) return;
    std::string prefix = "saga " + std::string(context->saga_id);
    if (!context->step.empty()) prefix += " step " + std::string(context->step);
    if (context->attempt > 0) prefix += " attempt " + std::to_string(context->attempt);
    prefix += ": ";
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<ContextFlag>();
  }
};

std::string Rfc3339Millis(spdlog::log_clock::time_point time) {
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  const std::time_t seconds = millis / 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(millis % 1000));
  return text;
}

// One JSON object per line: ts, level, logger, msg, then saga_id, step, attempt when set.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["ts"] = Rfc3339Millis(msg.time);
    const auto level = spdlog::level::to_string_view(msg.level);
    line["level"] = std::string(level.data(), level.size());
    line["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    if (const LogContext* context = CurrentLogContext()) {
      if (!context->saga_id.empty()) line["saga_id"] = std::string(context->saga_id);
      if (!context->step.empty()) line["step"] = std::string(context->step);
      if (context->attempt > 0) line["attempt"] = context->attempt;
    }
    // A message with invalid UTF-8 still makes a valid line.
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view text) {
  if (text == "text") return LogFormat::kText;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

LogScope::LogScope(LogContext context) : context_(context), previous_(current_context) {
  current_context = &context_;
}

LogScope::~LogScope() { current_context = previous_; }

const LogContext* CurrentLogContext() { return current_context; }

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<ContextFlag>('*').set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %*%v");
  return formatter;
}

void ConfigureLogging(LogFormat format, spdlog::level::level_enum level) {
  const auto& sinks = spdlog::default_logger()->sinks();
  auto logger = std::make_shared<spdlog::logger>("skald", sinks.begin(), sinks.end());
  logger->set_formatter(MakeLogFormatter(format));
  logger->set_level(level);
  spdlog::set_default_logger(logger);
}

}  // namespace skald::observability
