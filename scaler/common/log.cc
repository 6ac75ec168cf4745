#include "scaler/common/log.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace signalscaler {
namespace {

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kOff:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "info";
}

std::atomic<LogFormat> g_format{LogFormat::kText};

std::shared_ptr<spdlog::logger> Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "signalscaler", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    // The line is fully formatted by Log(): spdlog only writes it.
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::warn);
    return l;
  }();
  return logger;
}

// Text values with spaces, quotes or '=' are quoted so that lines stay
// machine-splittable.
std::string TextValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string::npos) return v;
  return nlohmann::json(v).dump(-1, ' ', false,
                                nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::Status ParseLogLevel(absl::string_view text, LogLevel& level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError, LogLevel::kOff}) {
    if (text == LevelName(l)) {
      level = l;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", text,
                   "\"; expected debug, info, warn, error or off"));
}

absl::Status ParseLogFormat(absl::string_view text, LogFormat& format) {
  if (text == "text") {
    format = LogFormat::kText;
  } else if (text == "json") {
    format = LogFormat::kJson;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown log format \"", text, "\"; expected text or json"));
  }
  return absl::OkStatus();
}

void ConfigureLogging(LogLevel level, LogFormat format) {
  g_format.store(format);
  Logger()->set_level(ToSpd(level));
}

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff && Logger()->should_log(ToSpd(level));
}

void Log(LogLevel level, absl::string_view message, const LogFields& fields) {
  if (!LogEnabled(level)) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                          absl::UTCTimeZone());
  std::string line;
  if (g_format.load() == LogFormat::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts;
    j["level"] = LevelName(level);
    j["msg"] = std::string(message);
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = absl::StrCat(ts, " ", LevelName(level), " ", message);
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&line, " ", k, "=", TextValue(v));
    }
  }
  Logger()->log(ToSpd(level), "{}", line);
}

void FlushLogs() { Logger()->flush(); }

}  // namespace signalscaler
