// ServerProcess: a real meshkv-server in its own process, for tests.
//
//   ServerProcess node({"--node-id=n1", "--join=127.0.0.1:4444"});
//   ASSERT_OK(node.Start());          // waits until it listens
//   auto stub = meshkv::v1::KeyValue::NewStub(node.Channel());
//   node.Terminate();                 // SIGTERM; Wait() gives the exit code
//
// Listens on 127.0.0.1 with ports chosen by the kernel unless the flags say
// otherwise; the bound addresses are read back from --info-file. Runs the
// node with --insecure (plain mesh, plaintext gRPC) unless the flags (or
// MESHKV_CERTS_DIR / MESHKV_INSECURE in `env`) choose. With certificates
// (--certs-dir, --tls-ca) gRPC runs TLS: Channel() then verifies the node
// against that CA and presents the client certificate given to
// UseClientCertificate(), if any; ChannelAs() presents another.
//
//   ServerProcess node({"--certs-dir=" + dir, "--client-ca=" + dir + "/ca.crt"});
//   node.UseClientCertificate(dir + "/client.app.crt", dir + "/client.app.key");
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
  pid_t pid() const { return process_->pid(); }

  const std::string& node_id() const { return node_id_; }
  const std::string& grpc_addr() const { return grpc_addr_; }
  const std::string& mesh_addr() const { return mesh_addr_; }
  int metrics_port() const { return metrics_port_; }
  // Before Start(): the certificate Channel() (and WaitServing) present.
  void UseClientCertificate(std::string cert_file, std::string key_file) {
    client_cert_ = std::move(cert_file);
    client_key_ = std::move(key_file);
  }
  std::shared_ptr<grpc::Channel> Channel() const { return ChannelAs(client_cert_, client_key_); }
  // A channel presenting `cert_file` (PEM; "" for none) when gRPC runs TLS.
  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& cert_file,
                                           const std::string& key_file) const;
  // The CA the node's gRPC certificate is verified against; empty: plaintext.
  const std::string& tls_ca_file() const { return tls_ca_file_; }
  std::string Logs() const { return process_->Stderr(); }

 private:
  std::vector<std::string> flags_;
  std::map<std::string, std::string> env_;
  std::vector<std::string> launcher_;
  std::string info_dir_;
  std::unique_ptr<Subprocess> process_;
  std::string node_id_, grpc_addr_, mesh_addr_;
  int metrics_port_ = 0;
  std::string tls_ca_file_;
  std::string client_cert_, client_key_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_SERVER_PROCESS_H_
