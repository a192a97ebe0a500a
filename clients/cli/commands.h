// The commands of `meshkv`. Each runs one parsed invocation against the node
// of `session` and returns the process's exit code (exit_codes.h), having
// printed its result on session.out() and any error on session.err().
// Arguments were validated by ParseArgs; commands only run them.
#ifndef MESHKV_CLIENTS_CLI_COMMANDS_H_
#define MESHKV_CLIENTS_CLI_COMMANDS_H_

#include <string>

#include "absl/functional/function_ref.h"
#include "clients/cli/args.h"
#include "clients/cli/session.h"
#include "google/protobuf/message.h"

namespace meshkv::cli {

// Runs inv.command, which must be set and not "help" or "completion".
// Connects the session first, except for the streaming commands, which
// connect once they can be interrupted (interrupt.h).
int RunCommand(const Invocation& inv, Session& session);

// Prints one result in the session's format (-w): `response` as JSON, or
// what `table` or `simple` returns.
void PrintResult(Session& session, const google::protobuf::Message& response,
                 absl::FunctionRef<std::string()> simple, absl::FunctionRef<std::string()> table);

// kv_commands.cc: one unary RPC each.
int RunGet(const Invocation& inv, Session& session);
int RunSet(const Invocation& inv, Session& session);
int RunDel(const Invocation& inv, Session& session);  // and del --prefix
int RunUpdate(const Invocation& inv, Session& session);
int RunApplyDelta(const Invocation& inv, Session& session);
int RunPop(const Invocation& inv, Session& session);
int RunPopItem(const Invocation& inv, Session& session);
int RunTouch(const Invocation& inv, Session& session);
int RunPublish(const Invocation& inv, Session& session);
// list_commands.cc: `keys`, `items` and `count`.
int RunList(const Invocation& inv, Session& session);
// watch_command.cc: `watch` and `subscribe`, streams until interrupted.
int RunWatch(const Invocation& inv, Session& session);
int RunSubscribe(const Invocation& inv, Session& session);
// health_command.cc
int RunHealth(const Invocation& inv, Session& session);
// status_command.cc
int RunStatus(const Invocation& inv, Session& session);

// maintenance_commands.cc: `leases release` and `snapshot save|restore`.
int RunLeases(const Invocation& inv, Session& session);
int RunSnapshot(const Invocation& inv, Session& session);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_COMMANDS_H_
