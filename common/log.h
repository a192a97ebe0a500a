// Structured log lines, one per event, in logfmt:
//
//   ts=2026-11-22T16:02:03.123Z level=info node=10.0.0.1:4444 msg="peer connected" peer=...
//
// Lines go to stderr. The level and the node ID are process-wide settings,
// set by main (SetLogLevel, SetLogNode). Every function here is thread-safe:
// the server sets its node ID once it knows its address, while its threads
// already log.
//
//   LogInfo("peer connected", {{"peer", id}, {"rtt_ms", absl::StrCat(rtt)}});
#ifndef MESHKV_COMMON_LOG_H_
#define MESHKV_COMMON_LOG_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace meshkv {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
// The level until SetLogLevel(), and --log-level's default.
constexpr LogLevel kDefaultLogLevel = LogLevel::kInfo;

using LogFields = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

// "debug", "info", "warning", "error": what ParseLogLevel reads and lines say.
absl::string_view LogLevelName(LogLevel level);
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);
void SetLogLevel(LogLevel level);
void SetLogNode(std::string node_id);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, absl::string_view msg, LogFields fields = {});
inline void LogDebug(absl::string_view msg, LogFields f = {}) { Log(LogLevel::kDebug, msg, f); }
inline void LogInfo(absl::string_view msg, LogFields f = {}) { Log(LogLevel::kInfo, msg, f); }
inline void LogWarning(absl::string_view msg, LogFields f = {}) { Log(LogLevel::kWarning, msg, f); }
inline void LogError(absl::string_view msg, LogFields f = {}) { Log(LogLevel::kError, msg, f); }

}  // namespace meshkv

#endif  // MESHKV_COMMON_LOG_H_
