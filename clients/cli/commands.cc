#include "clients/cli/commands.h"

#include <cstdlib>
#include <iostream>

#include "clients/cli/exit_codes.h"
#include "clients/cli/format.h"

namespace meshkv::cli {

int RunCommand(const Invocation& inv, Session& session) {
  using Handler = int (*)(const Invocation&, Session&);
  struct Route {
    absl::string_view name;
    Handler run;
    bool streaming;  // connects by itself, after installing its interrupt handler
  };
  static constexpr Route kRoutes[] = {
      {"get", RunGet, false},
      {"set", RunSet, false},
      {"del", RunDel, false},
      {"update", RunUpdate, false},
      {"apply-delta", RunApplyDelta, false},
      {"pop", RunPop, false},
      {"popitem", RunPopItem, false},
      {"touch", RunTouch, false},
      {"keys", RunList, false},
      {"items", RunList, false},
      {"count", RunList, false},
      {"watch", RunWatch, true},
      {"publish", RunPublish, false},
      {"subscribe", RunSubscribe, true},
      {"health", RunHealth, false},
      {"status", RunStatus, false},
      {"leases", RunLeases, false},
      {"snapshot", RunSnapshot, false},
  };
  for (const Route& route : kRoutes) {
    if (route.name != inv.command->name) continue;
    if (!route.streaming) {
      if (int rc = session.Connect(); rc != kExitOk) return rc;
    }
    return route.run(inv, session);
  }
  // The command table and the routes disagree: a bug, not a user error.
  std::cerr << "meshkv: internal error: no handler for command " << inv.command->name << "\n";
  std::abort();
}

void PrintResult(Session& session, const google::protobuf::Message& response,
                 absl::FunctionRef<std::string()> simple, absl::FunctionRef<std::string()> table) {
  switch (session.output()) {
    case OutputFormat::kJson:
      session.out() << ToJson(response) << "\n";
      return;
    case OutputFormat::kTable:
      session.out() << table();
      return;
    case OutputFormat::kSimple:
      session.out() << simple();
      return;
  }
}

}  // namespace meshkv::cli
