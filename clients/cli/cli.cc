#include "clients/cli/cli.h"

#include <stdlib.h>
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "clients/cli/args.h"
#include "clients/cli/commands.h"
#include "clients/cli/completion.h"
#include "clients/cli/exit_codes.h"
#include "clients/cli/help.h"
#include "clients/cli/session.h"
#include "clients/tls/client_tls.h"
#include "grpc/support/log.h"

namespace meshkv::cli {
namespace {

int UsageError(const Invocation& inv, const std::string& message) {
  std::cerr << "meshkv: " << message << "\n";
  if (inv.command != nullptr && inv.command->name != "help") {
    std::cerr << "Run 'meshkv " << inv.command->name << " --help' for usage.\n";
  } else {
    std::cerr << "Run 'meshkv --help' for usage.\n";
  }
  return kExitUsage;
}

void DiscardGrpcLog(gpr_log_func_args*) {}

}  // namespace

int Main(int argc, char** argv) {
  // $MESHKV_ENDPOINTS, else $MESHKV_ADDR (its older name), else the default.
  std::string endpoints = kDefaultAddr;
  for (const char* name : {"MESHKV_ADDR", "MESHKV_ENDPOINTS"}) {
    const char* value = getenv(name);
    if (value != nullptr && *value != '\0') endpoints = value;
  }
  const Invocation inv = ParseArgs(std::vector<std::string>(argv + 1, argv + argc), endpoints);
  if (inv.help) {
    std::cout << (inv.command != nullptr ? CommandHelp(*inv.command) : GlobalHelp());
    return kExitOk;
  }
  if (inv.version) {
    std::cout << VersionText();
    return kExitOk;
  }
  if (!inv.error.empty()) return UsageError(inv, inv.error);
  if (inv.command == nullptr) return UsageError(inv, "missing command");
  if (inv.command->name == "help") {
    if (inv.args.empty()) {
      std::cout << GlobalHelp();
      return kExitOk;
    }
    const CommandSpec* topic = FindCommand(inv.args[0]);
    if (topic == nullptr) return UsageError(inv, "unknown command \"" + inv.args[0] + "\"");
    std::cout << CommandHelp(*topic);
    return kExitOk;
  }
  if (inv.command->name == "completion") {
    std::cout << CompletionScript(inv.args[0]);
    return kExitOk;
  }

  // Every failure is reported as one line from the RPC status; gRPC's own log
  // lines would only repeat it. GRPC_VERBOSITY, when set, still shows them.
  if (getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(DiscardGrpcLog);
  GlobalOptions global = inv.global;
  global.tls = ClientTls::WithEnvironment(std::move(global.tls));
  absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> tls = global.tls.Load();
  if (!tls.ok()) return UsageError(inv, std::string(tls.status().message()));
  Session session(std::move(global), *std::move(tls), std::cout, std::cerr,
                  isatty(STDOUT_FILENO) == 1);
  return RunCommand(inv, session);
}

}  // namespace meshkv::cli
