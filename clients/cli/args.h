// Parsing meshkv's command line: global flags, one command, its flags and
// arguments, validated against the command table.
//
//   Invocation inv = ParseArgs({"--addr", "10.0.0.1:50051", "get", "-v", "k"}, kDefaultAddr);
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

struct GlobalOptions {
  std::string addr = kDefaultAddr;
  absl::Duration timeout = absl::Seconds(5);
  // --cacert --cert --key as given (the caller adds MESHKV_CACERT ...).
  ClientTls tls;
};

struct Invocation {
  GlobalOptions global;
  const CommandSpec* command = nullptr;  // nullptr: no command given
  std::vector<std::string> args;         // the command's positional arguments
  // The command's flags by long name; "" for a switch. Values already passed
  // their FlagType's check.
  std::map<std::string, std::string, std::less<>> flags;
  bool help = false;
  bool version = false;
  // Non-empty: the first usage error. The fields above still hold what was
  // understood, so the hint can name the command and --help still works.
  std::string error;

  bool Has(absl::string_view flag) const { return flags.find(flag) != flags.end(); }
  // "" when absent.
  std::string Flag(absl::string_view flag) const;
  // A kCount or kRevision flag's value; 0 when absent.
  uint64_t Number(absl::string_view flag) const;
};

// `args` excludes the program name. `default_addr` is --addr's default (the
// caller reads $MESHKV_ADDR).
Invocation ParseArgs(const std::vector<std::string>& args, std::string default_addr);

// Parses a --timeout value: an absl duration ("500ms", "1m30s") or a bare
// number of seconds ("2.5"). Must be positive.
bool ParseTimeout(absl::string_view text, absl::Duration* out);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_ARGS_H_
