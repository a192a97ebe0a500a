// ServerProcess: a real meshkv-server in its own process, for tests.
//
//   ServerProcess node({"--node-id=n1", "--join=127.0.0.1:4444"});
//   ASSERT_OK(node.Start());          // waits until it listens
//   auto stub = meshkv::v1::KeyValue::NewStub(node.Channel());
//   node.Terminate();                 // SIGTERM; Wait() gives the exit code
//
// Listens on 127.0.0.1 with ports chosen by the kernel unless the flags say
// otherwise; the bound addresses are read back from --info-file. Runs the
// mesh with --insecure unless the flags (or MESHKV_CERTS_DIR /
// MESHKV_INSECURE in `env`) choose.
#ifndef MESHKV_TESTS_UTIL_SERVER_PROCESS_H_
#define MESHKV_TESTS_UTIL_SERVER_PROCESS_H_

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "tests/util/subprocess.h"

namespace meshkv::testing {

class ServerProcess {
 public:
  // `launcher` runs the server, e.g. {"ip", "netns", "exec", "ns1"}.
  explicit ServerProcess(std::vector<std::string> flags = {},
                         std::map<std::string, std::string> env = {},
                         std::vector<std::string> launcher = {});
  ~ServerProcess();  // kills the server if still running; removes its files

  // Starts and waits until the node listens (not until it is SERVING).
  absl::Status Start(absl::Duration timeout = absl::Seconds(20));
  // Waits until grpc.health.v1 reports SERVING.
  absl::Status WaitServing(absl::Duration timeout = absl::Seconds(30));
  void Terminate() { process_->Signal(SIGTERM); }
  void Kill() { process_->Signal(SIGKILL); }
  std::optional<int> Wait(absl::Duration timeout = absl::Seconds(30)) {
    return process_->Wait(timeout);
  }
  bool running() { return process_->running(); }

  const std::string& node_id() const { return node_id_; }
  const std::string& grpc_addr() const { return grpc_addr_; }
  const std::string& mesh_addr() const { return mesh_addr_; }
  int metrics_port() const { return metrics_port_; }
  std::shared_ptr<grpc::Channel> Channel() const;
  std::string Logs() const { return process_->Stderr(); }

 private:
  std::vector<std::string> flags_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> launcher_;
  std::string info_dir_;
  std::unique_ptr<Subprocess> process_;
  std::string node_id_, grpc_addr_, mesh_addr_;
  int metrics_port_ = 0;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_SERVER_PROCESS_H_
