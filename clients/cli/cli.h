// The whole of `meshkv` behind main(): parse, show help or run a command.
#ifndef MESHKV_CLIENTS_CLI_CLI_H_
#define MESHKV_CLIENTS_CLI_CLI_H_

namespace meshkv::cli {

// Runs meshkv with the process's arguments, environment and standard
// streams; returns the exit code (exit_codes.h).
int Main(int argc, char** argv);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_CLI_H_
