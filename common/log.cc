#include "common/log.h"

#include <atomic>
#include <cstdio>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace meshkv {
namespace {

std::atomic<int> g_level{static_cast<int>(kDefaultLogLevel)};
// The server learns its node ID (its bound address) after its threads have
// started logging, so the ID is read and written under a lock.
ABSL_CONST_INIT absl::Mutex g_node_mu(absl::kConstInit);
std::string* const g_node ABSL_PT_GUARDED_BY(g_node_mu) = new std::string();

constexpr absl::string_view kLevelNames[] = {"debug", "info", "warning", "error"};

// logfmt: bare when safe, quoted and escaped otherwise.
void AppendValue(std::string* out, absl::string_view v) {
  const bool bare = !v.empty() && v.find_first_of(" =\"\\\n\t") == absl::string_view::npos;
  if (bare) {
    out->append(v.data(), v.size());
  } else {
    absl::StrAppend(out, "\"", absl::CEscape(v), "\"");
  }
}

}  // namespace

absl::string_view LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  for (int i = 0; i < 4; ++i) {
    if (lower == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  if (lower == "warn") return LogLevel::kWarning;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level \"", name, "\"; use debug, info, warning or error"));
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
void SetLogNode(std::string node_id) {
  absl::MutexLock lock(&g_node_mu);
  *g_node = std::move(node_id);
}
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void Log(LogLevel level, absl::string_view msg, LogFields fields) {
  if (!LogEnabled(level)) return;
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " level=", LogLevelName(level));
  {
    absl::ReaderMutexLock lock(&g_node_mu);
    if (!g_node->empty()) {
      line += " node=";
      AppendValue(&line, *g_node);
    }
  }
  line += " msg=";
  AppendValue(&line, msg);
  for (const auto& [k, v] : fields) {
    absl::StrAppend(&line, " ", k, "=");
    AppendValue(&line, v);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace meshkv
