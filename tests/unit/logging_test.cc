// Structured logs: the text and JSON formatters and the saga fields they carry.
#include "coordinator/observability/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "nlohmann/json.hpp"

namespace skald::observability {
namespace {

std::string Format(LogFormat format, spdlog::level::level_enum level, std::string_view message) {
  auto formatter = MakeLogFormatter(format);
  spdlog::details::log_msg msg(spdlog::source_loc{}, "skald", level,
                               spdlog::string_view_t(message.data(), message.size()));
  spdlog::memory_buf_t out;
  formatter->format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(LogFormat, Parses) {
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("JSON"), std::nullopt);
  EXPECT_EQ(ParseLogFormat(""), std::nullopt);
}

TEST(JsonLogFormat, OneObjectPerLineWithTheFourFields) {
  const std::string line = Format(LogFormat::kJson, spdlog::level::warn, "database \"down\"");
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["logger"], "skald");
  EXPECT_EQ(parsed["msg"], "database \"down\"");
  // RFC 3339, UTC, milliseconds: 2026-11-26T10:00:00.123Z
  const std::string ts = parsed["ts"];
  EXPECT_EQ(ts.size(), 24u) << ts;
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_FALSE(parsed.contains("saga_id")) << line;
  EXPECT_FALSE(parsed.contains("step")) << line;
  EXPECT_FALSE(parsed.contains("attempt")) << line;
}

TEST(JsonLogFormat, LinesAboutASagaCarryItsIdStepAndAttempt) {
  {
    LogScope scope({"order-17", "charge-payment", 2});
    const nlohmann::json parsed =
        nlohmann::json::parse(Format(LogFormat::kJson, spdlog::level::info, "answered"));
    EXPECT_EQ(parsed["saga_id"], "order-17");
    EXPECT_EQ(parsed["step"], "charge-payment");
    EXPECT_EQ(parsed["attempt"], 2);
    EXPECT_EQ(parsed["msg"], "answered");
  }
  {
    LogScope scope({"order-18"});
    const nlohmann::json parsed =
        nlohmann::json::parse(Format(LogFormat::kJson, spdlog::level::info, "COMPLETED"));
    EXPECT_EQ(parsed["saga_id"], "order-18");
    EXPECT_FALSE(parsed.contains("step"));
    EXPECT_FALSE(parsed.contains("attempt"));
  }
  // Out of every scope, no saga.
  EXPECT_FALSE(nlohmann::json::parse(Format(LogFormat::kJson, spdlog::level::info, "x"))
                   .contains("saga_id"));
}

TEST(JsonLogFormat, ScopesNestAndRestore) {
  LogScope outer({"a"});
  {
    LogScope inner({"b", "s", 1});
    EXPECT_EQ(CurrentLogContext()->saga_id, "b");
  }
  EXPECT_EQ(CurrentLogContext()->saga_id, "a");
  EXPECT_TRUE(CurrentLogContext()->step.empty());
}

TEST(JsonLogFormat, ControlCharactersAndInvalidUtf8StillMakeOneValidLine) {
  const std::string line =
      Format(LogFormat::kJson, spdlog::level::err, std::string("bad\nline\t\xff\xfe end"));
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "error");
  EXPECT_NE(parsed["msg"].get<std::string>().find("bad\nline"), std::string::npos);
}

TEST(TextLogFormat, SagaFieldsPrefixTheMessage) {
  std::string plain = Format(LogFormat::kText, spdlog::level::info, "listening");
  EXPECT_NE(plain.find("] [info] listening\n"), std::string::npos) << plain;
  LogScope scope({"order-17", "charge-payment", 2});
  std::string about = Format(LogFormat::kText, spdlog::level::info, "answered");
  EXPECT_NE(about.find("] [info] saga order-17 step charge-payment attempt 2: answered\n"),
            std::string::npos)
      << about;
}

// LogAbout on the configured default logger: the level filters, the fields arrive.
TEST(LogAbout, ThroughTheDefaultLogger) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  ConfigureLogging(LogFormat::kJson, spdlog::level::info);
  LogAbout({"s-1", "reserve", 3}, spdlog::level::debug, "payload {}", "{\"secret\":1}");
  LogAbout({"s-1"}, spdlog::level::info, "{}", "COMPENSATED");
  spdlog::info("not about a saga");
  spdlog::set_default_logger(previous);

  std::istringstream lines(out.str());
  std::vector<nlohmann::json> parsed;
  for (std::string line; std::getline(lines, line);) parsed.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(parsed.size(), 2u) << out.str();
  EXPECT_EQ(parsed[0]["msg"], "COMPENSATED");
  EXPECT_EQ(parsed[0]["saga_id"], "s-1");
  EXPECT_EQ(parsed[0]["logger"], "skald");
  EXPECT_EQ(parsed[1]["msg"], "not about a saga");
  EXPECT_FALSE(parsed[1].contains("saga_id"));
  EXPECT_EQ(out.str().find("secret"), std::string::npos);
}

}  // namespace
}  // namespace skald::observability
