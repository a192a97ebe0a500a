// The exit codes of `meshkv`, a contract with scripts: stable, distinct, and
// listed in `meshkv --help` and docs/cli.md.
#ifndef MESHKV_CLIENTS_CLI_EXIT_CODES_H_
#define MESHKV_CLIENTS_CLI_EXIT_CODES_H_

namespace meshkv::cli {

enum ExitCode : int {
  kExitOk = 0,
  // NOT_FOUND: get/del/pop/touch of an absent key, popitem with nothing to
  // pop; and `health` reaching a node that is not SERVING.
  kExitNotFound = 1,
  // Unknown command or flag, missing or malformed argument.
  kExitUsage = 2,
  // Any other failed RPC (INVALID_ARGUMENT, DEADLINE_EXCEEDED, ...).
  kExitRpcError = 3,
  // FAILED_PRECONDITION: the write was refused and changed nothing -- another
  // node holds the key's lease, --if-absent / --if-version did not hold, or
  // apply-delta met a bytes value. Retrying the same write will not help.
  kExitRefused = 4,
  // UNAVAILABLE: no endpoint answered within --dial-timeout, or the node
  // went away during the call. Another endpoint or a retry may help.
  kExitUnreachable = 5,
};

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_EXIT_CODES_H_
