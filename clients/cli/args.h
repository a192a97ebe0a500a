// Parsing meshkv's command line: global flags, one command, its flags and
// arguments, validated against the command table.
//
//   Invocation inv = ParseArgs({"--endpoints", "10.0.0.1:50051", "get", "-v", "k"}, kDefaultAddr);
//   if (!inv.error.empty()) ...  // a usage error, worded for the user
//   inv.command->name == "get"; inv.args == {"k"}; inv.Has("meta")
//
// Flags are `--name value`, `--name=value` or a short `-x`; global flags may
// come before or after the command, a command's flags only after it; `--`
// ends the flags, and a lone `-` is an argument.
#ifndef MESHKV_CLIENTS_CLI_ARGS_H_
#define MESHKV_CLIENTS_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/cli/command_table.h"
#include "clients/tls/client_tls.h"

namespace meshkv::cli {

// How results are printed (-w): simple lines, JSON (protobuf's mapping of the
// RPC's response, bytes in base64) or aligned tables.
enum class OutputFormat { kSimple, kJson, kTable };

struct GlobalOptions {
  // Tried in order; the first that answers within dial_timeout serves.
  std::vector<std::string> endpoints = {kDefaultAddr};
  absl::Duration dial_timeout = absl::Seconds(2);
  absl::Duration timeout = absl::Seconds(5);
  OutputFormat output = OutputFormat::kSimple;
  // --cacert --cert --key as given (the caller adds MESHKV_CACERT ...).
  ClientTls tls;
};

struct Invocation {
  GlobalOptions global;
  const CommandSpec* command = nullptr;  // nullptr: no command given
  std::vector<std::string> args;         // the command's positional arguments
  // The command's flags by long name, each value given in order ("" for a
  // switch). Values already passed their FlagType's check.
  std::map<std::string, std::vector<std::string>, std::less<>> flags;
  bool help = false;
  bool version = false;
  // Non-empty: the first usage error. The fields above still hold what was
  // understood, so the hint can name the command and --help still works.
  std::string error;

  bool Has(absl::string_view flag) const { return flags.find(flag) != flags.end(); }
  // The last value given; "" when absent.
  std::string Flag(absl::string_view flag) const;
  // Every value given, in order (a repeated flag).
  std::vector<std::string> Values(absl::string_view flag) const;
  // A kCount or kRevision flag's value; 0 when absent.
  uint64_t Number(absl::string_view flag) const;
  // A kMillis flag's value in milliseconds; 0 when absent.
  int64_t Millis(absl::string_view flag) const;
};

// `args` excludes the program name. `default_endpoints` is --endpoints'
// default, comma-separated (the caller reads $MESHKV_ENDPOINTS / $MESHKV_ADDR).
Invocation ParseArgs(const std::vector<std::string>& args, std::string default_endpoints);

// Parses a --timeout value: an absl duration ("500ms", "1m30s") or a bare
// number of seconds ("2.5"). Must be positive.
bool ParseTimeout(absl::string_view text, absl::Duration* out);
// A time to live in whole milliseconds: a ParseTimeout duration of at least
// 1ms, or "0" when `allow_zero`.
bool ParseMillis(absl::string_view text, bool allow_zero, int64_t* ms);
// "HLC/ORIGIN" (split at the first '/'): HLC a uint64, ORIGIN non-empty.
bool ParseVersion(absl::string_view text, uint64_t* hlc, std::string* origin);
// "a,b, c" -> {"a", "b", "c"}; false when an entry is empty or none is given.
bool ParseEndpoints(absl::string_view text, std::vector<std::string>* out);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_ARGS_H_
