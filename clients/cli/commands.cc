#include "clients/cli/commands.h"

#include <cstdlib>
#include <iostream>

namespace meshkv::cli {

int RunCommand(const Invocation& inv, Session& session) {
  using Handler = int (*)(const Invocation&, Session&);
  struct Route {
    absl::string_view name;
    Handler run;
  };
  static constexpr Route kRoutes[] = {
      {"get", RunGet},
      {"set", RunSet},
      {"del", RunDel},
      {"update", RunUpdate},
      {"apply-delta", RunApplyDelta},
      {"pop", RunPop},
      {"popitem", RunPopItem},
      {"keys", RunList},
      {"items", RunList},
      {"watch", RunWatch},
      {"health", RunHealth},
      {"status", RunStatus},
      {"leases", RunLeases},
      {"snapshot", RunSnapshot},
  };
  for (const Route& route : kRoutes) {
    if (route.name == inv.command->name) return route.run(inv, session);
  }
  // The command table and the routes disagree: a bug, not a user error.
  std::cerr << "meshkv: internal error: no handler for command " << inv.command->name << "\n";
  std::abort();
}

}  // namespace meshkv::cli
