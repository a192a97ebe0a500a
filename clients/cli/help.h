// The help texts of `meshkv`, rendered from the command table.
#ifndef MESHKV_CLIENTS_CLI_HELP_H_
#define MESHKV_CLIENTS_CLI_HELP_H_

#include <string>

#include "clients/cli/command_table.h"

namespace meshkv::cli {

// `meshkv --help`: usage, commands, global flags, output and exit codes.
std::string GlobalHelp();
// `meshkv COMMAND --help`.
std::string CommandHelp(const CommandSpec& command);
// `meshkv --version`.
std::string VersionText();

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_HELP_H_
