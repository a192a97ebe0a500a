// The exit codes of `meshkv`, a contract with scripts: stable, distinct, and
// listed in `meshkv --help`.
#ifndef MESHKV_CLIENTS_CLI_EXIT_CODES_H_
#define MESHKV_CLIENTS_CLI_EXIT_CODES_H_

namespace meshkv::cli {

enum ExitCode : int {
  kExitOk = 0,
  // NOT_FOUND: get/del/pop of an absent key, popitem with nothing to pop; and
  // `health` reaching a node that is not SERVING.
  kExitNotFound = 1,
  // Unknown command or flag, missing or malformed argument.
  kExitUsage = 2,
  // Any other failed RPC, including an unreachable server.
  kExitRpcError = 3,
};

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_EXIT_CODES_H_
