#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

// Structured logs. Every line has a time, a level, the logger's name and a message; a line
// about a saga also carries the saga id, and the step and attempt when it is about one.
// The fields travel beside the message (never inside it), so that both formats show them:
//
//   text: [2026-11-26 10:00:00.123] [info] saga o-17 step charge-payment attempt 2: ...
//   json: {"ts":"2026-11-26T10:00:00.123Z","level":"info","logger":"skald","msg":"...",
//          "saga_id":"o-17","step":"charge-payment","attempt":2}
//
// Log through LogAbout for lines about a saga; plain spdlog calls for the rest. Payloads
// (saga input, step input and output) belong at debug level at most.
namespace skald::observability {

enum class LogFormat { kText, kJson };

// Parses "text" or "json".
std::optional<LogFormat> ParseLogFormat(std::string_view text);

// What a log line is about. Empty strings and attempt 0 are left out.
struct LogContext {
  std::string_view saga_id;
  std::string_view step;
  int attempt = 0;
};

// While it lives, lines this thread logs carry `context` (a copy; the strings it views
// must outlive the scope). Scopes nest: the innermost one wins.
class LogScope {
 public:
  explicit LogScope(LogContext context);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  const LogContext context_;
  const LogContext* previous_;
};

// The context of the innermost LogScope on this thread, or nullptr.
const LogContext* CurrentLogContext();

// Logs a line about a saga (and a step, an attempt) at `level` on the default logger.
template <typename... Args>
void LogAbout(const LogContext& context, spdlog::level::level_enum level,
              spdlog::format_string_t<Args...> format, Args&&... args) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  LogScope scope(context);
  spdlog::default_logger_raw()->log(level, format, std::forward<Args>(args)...);
}

// Returns the formatter for `format`. Both read the LogContext of the logging thread, so
// they suit synchronous loggers only (spdlog's default).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Makes the default logger a synchronous one named "skald" on the same sinks, with the
// formatter for `format` and `level`.
void ConfigureLogging(LogFormat format, spdlog::level::level_enum level);

}  // namespace skald::observability
