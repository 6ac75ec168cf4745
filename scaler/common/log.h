// Structured logging for the whole project, behind a small facade so that
// spdlog's heavy headers are compiled once (log.cc), not in every file.
//
//   ConfigureLogging(LogLevel::kInfo, LogFormat::kJson);
//   LogInfo("decision changed", {{"policy", "demo/agent"}, {"replicas", "5"}});
//
// Text format: `2026-11-23T10:00:00.123Z info decision changed
// policy=demo/agent`. JSON format: one object a line,
// `{"ts":..,"level":..,"msg":..,"policy":..}`. Never pass a secret (password,
// token, key) in a message or a field.
#ifndef SIGNALSCALER_SCALER_COMMON_LOG_H_
#define SIGNALSCALER_SCALER_COMMON_LOG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace signalscaler {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };
enum class LogFormat { kText, kJson };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Parses "debug|info|warn|error|off" and "text|json".
absl::Status ParseLogLevel(absl::string_view text, LogLevel& level);
absl::Status ParseLogFormat(absl::string_view text, LogFormat& format);

// Thread-safe; may be called again to reconfigure. Logs go to stderr.
void ConfigureLogging(LogLevel level, LogFormat format);
bool LogEnabled(LogLevel level);
void Log(LogLevel level, absl::string_view message, const LogFields& fields);
inline void LogDebug(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kDebug, m, f);
}
inline void LogInfo(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(absl::string_view m, const LogFields& f = {}) {
  Log(LogLevel::kError, m, f);
}
void FlushLogs();

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_COMMON_LOG_H_
