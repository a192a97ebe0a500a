// The commands and flags of `meshkv`, as data: the argument parser validates
// against it and the help text is rendered from it, so the two cannot drift.
#ifndef MESHKV_CLIENTS_CLI_COMMAND_TABLE_H_
#define MESHKV_CLIENTS_CLI_COMMAND_TABLE_H_

#include <vector>

#include "absl/strings/string_view.h"

namespace meshkv::cli {

// What a flag's value must be; the parser checks it so that commands need not.
enum class FlagType {
  kSwitch,     // no value
  kString,     // any bytes
  kCount,      // an unsigned 32-bit integer
  kRevision,   // an unsigned 64-bit integer
  kDuration,   // a positive absl duration ("500ms", "1m") or a number of seconds
  kMillis,     // a kDuration of at least 1ms, sent as whole milliseconds
  kChoice,     // one of FlagSpec::choices
  kVersion,    // a write's global version, HLC/ORIGIN (as `get -v` prints it)
  kAddresses,  // host:port[,host:port...]
};

struct FlagSpec {
  absl::string_view name;  // long name, without the dashes
  char short_name = 0;     // 0: none
  FlagType type = FlagType::kSwitch;
  absl::string_view value_name;  // for the help text, e.g. "N"
  absl::string_view help;
  std::vector<absl::string_view> choices = {};  // kChoice: the values allowed
  bool repeated = false;                        // may be given more than once (Invocation::Values)
};

struct CommandSpec {
  absl::string_view name;
  absl::string_view synopsis;  // the positional arguments, e.g. "KEY VALUE"
  absl::string_view summary;   // one line, for the command list
  absl::string_view details;   // paragraphs for `meshkv COMMAND --help`
  std::vector<FlagSpec> flags;
  int min_args = 0;
  int max_args = 0;  // kUnlimited: any number
};

inline constexpr int kUnlimited = -1;
inline constexpr char kDefaultAddr[] = "127.0.0.1:50051";
// The shells `meshkv completion` writes a script for.
inline constexpr absl::string_view kShells[] = {"bash", "zsh"};

// Flags accepted before or after any command.
const std::vector<FlagSpec>& GlobalFlags();
// Every command, in the order `meshkv --help` lists them.
const std::vector<CommandSpec>& Commands();
// nullptr when there is no such command.
const CommandSpec* FindCommand(absl::string_view name);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_COMMAND_TABLE_H_
