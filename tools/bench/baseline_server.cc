// meshkv-bench-baseline: the ceiling for meshkv's Get. Serves
// meshkv.bench.v1.Baseline/Get, which takes and returns Get's messages and
// answers found=false at once, on the callback API, with the server options of
// meshkv-server (health service, reflection, the same receive-size limit).
// What it does not have is meshkv-server's metrics interceptor: that cost is
// part of what the ratio meshkv Get / baseline Get measures.
//
//   meshkv-bench-baseline --grpc-addr=127.0.0.1:0 --info-file=/tmp/b.json
//
// Writes {"grpc": "host:port"} to --info-file once listening; exits on
// SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "common/dashed_flags.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "meshkv/bench/v1/baseline.grpc.pb.h"

ABSL_FLAG(std::string, grpc_addr, "127.0.0.1:0", "Where to listen (host:port; port 0: any).");
ABSL_FLAG(std::string, info_file, "", "Write {\"grpc\": \"host:port\"} here once listening.");

namespace {

class BaselineService final : public meshkv::bench::v1::Baseline::CallbackService {
 public:
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const meshkv::v1::GetRequest* /*request*/,
                                meshkv::v1::GetResponse* response) override {
    response->set_found(false);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// meshkv-server's limit with its default flags: 4 x (1 MiB + 4 KiB).
constexpr int kMaxReceiveMessageBytes = 4 * ((1 << 20) + 4096);

std::string Host(const std::string& addr) {
  const std::string host = addr.substr(0, addr.rfind(':'));
  return host.empty() || host == "0.0.0.0" ? "127.0.0.1" : host;
}

}  // namespace

int main(int argc, char** argv) {
  meshkv::ParseDashedCommandLine(
      argc, argv,
      "meshkv-bench-baseline: the no-op gRPC server that is the ceiling for meshkv's Get.\n"
      "  meshkv-bench-baseline --grpc-addr=127.0.0.1:0 --info-file=/tmp/b.json",
      "baseline_server.cc");
  const std::string addr = absl::GetFlag(FLAGS_grpc_addr);

  // Block the signals before gRPC starts its threads, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  BaselineService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(addr, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "meshkv-bench-baseline: cannot listen on %s\n", addr.c_str());
    return 1;
  }
  const std::string bound = absl::StrCat(Host(addr), ":", port);
  std::fprintf(stderr, "meshkv-bench-baseline: listening on %s\n", bound.c_str());
  if (const std::string info = absl::GetFlag(FLAGS_info_file); !info.empty()) {
    const std::string tmp = info + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "{\"grpc\": \"" << bound << "\"}\n";
    }
    std::rename(tmp.c_str(), info.c_str());
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  return 0;
}
