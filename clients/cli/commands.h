// The commands of `meshkv`. Each runs one parsed invocation against the node
// of `session` and returns the process's exit code (exit_codes.h), having
// printed its result on session.out() and any error on session.err().
// Arguments were validated by ParseArgs; commands only run them.
#ifndef MESHKV_CLIENTS_CLI_COMMANDS_H_
#define MESHKV_CLIENTS_CLI_COMMANDS_H_

#include "clients/cli/args.h"
#include "clients/cli/session.h"

namespace meshkv::cli {

// Runs inv.command, which must be set and not "help".
int RunCommand(const Invocation& inv, Session& session);

// kv_commands.cc: one unary RPC each.
int RunGet(const Invocation& inv, Session& session);
int RunSet(const Invocation& inv, Session& session);
int RunDel(const Invocation& inv, Session& session);
int RunUpdate(const Invocation& inv, Session& session);
int RunApplyDelta(const Invocation& inv, Session& session);
int RunPop(const Invocation& inv, Session& session);
int RunPopItem(const Invocation& inv, Session& session);
// list_commands.cc: `keys` and `items`.
int RunList(const Invocation& inv, Session& session);
// watch_command.cc
int RunWatch(const Invocation& inv, Session& session);
// health_command.cc
int RunHealth(const Invocation& inv, Session& session);

// status_command.cc
int RunStatus(const Invocation& inv, Session& session);

// maintenance_commands.cc: `leases release` and `snapshot save|restore`.
int RunLeases(const Invocation& inv, Session& session);
int RunSnapshot(const Invocation& inv, Session& session);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_COMMANDS_H_
