#include "tests/util/server_process.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/util/wait.h"

namespace meshkv::testing {
namespace {

bool HasFlag(const std::vector<std::string>& flags, const std::string& name) {
  for (const std::string& f : flags) {
    if (absl::StartsWith(f, absl::StrCat("--", name, "="))) return true;
  }
  return false;
}

// The value of --name=value in `flags` (the last one wins, as for the
// server), else `env`'s MESHKV_NAME; empty if neither.
std::string FlagValue(const std::vector<std::string>& flags,
                      const std::map<std::string, std::string>& env, const std::string& name,
                      const std::string& env_name) {
  std::string value;
  const std::string prefix = absl::StrCat("--", name, "=");
  for (const std::string& f : flags) {
    if (absl::StartsWith(f, prefix)) value = f.substr(prefix.size());
  }
  if (value.empty()) {
    if (auto it = env.find(env_name); it != env.end()) value = it->second;
  }
  return value;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "key": "value" (or "key": number) in a flat JSON object.
std::string JsonField(const std::string& json, const std::string& key) {
  std::smatch m;
  const std::regex re("\"" + key + "\": *\"?([^\",}]*)\"?");
  return std::regex_search(json, m, re) ? m[1].str() : "";
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> flags, std::map<std::string, std::string> env,
                             std::vector<std::string> launcher)
    : flags_(std::move(flags)), env_(std::move(env)), launcher_(std::move(launcher)) {}

ServerProcess::~ServerProcess() {
  process_.reset();
  std::error_code ignored;
  if (!info_dir_.empty()) std::filesystem::remove_all(info_dir_, ignored);
}

absl::Status ServerProcess::Start(absl::Duration timeout) {
  if (info_dir_.empty()) info_dir_ = TempDir();
  const std::string info_file = info_dir_ + "/info.json";
  std::filesystem::remove(info_file);
  std::vector<std::string> argv = launcher_;
  argv.push_back(BinPath("meshkv-server"));
  for (const char* name : {"grpc-addr", "mesh-addr", "metrics-addr"}) {
    if (!HasFlag(flags_, name)) argv.push_back(absl::StrCat("--", name, "=127.0.0.1:0"));
  }
  argv.insert(argv.end(), flags_.begin(), flags_.end());
  // A node refuses to start without certificates or --insecure: tests that
  // give neither run the mesh on plain TCP.
  bool security = false;
  for (const char* name : {"certs-dir", "tls-ca", "tls-cert", "tls-key", "insecure"}) {
    security = security || HasFlag(flags_, name) ||
               std::find(flags_.begin(), flags_.end(), absl::StrCat("--", name)) != flags_.end();
  }
  for (const char* env : {"MESHKV_CERTS_DIR", "MESHKV_INSECURE"}) security |= env_.count(env) > 0;
  if (!security) argv.push_back("--insecure");
  // gRPC runs TLS whenever the node has certificates.
  tls_ca_file_ = FlagValue(flags_, env_, "tls-ca", "MESHKV_TLS_CA");
  if (const std::string dir = FlagValue(flags_, env_, "certs-dir", "MESHKV_CERTS_DIR");
      tls_ca_file_.empty() && !dir.empty()) {
    tls_ca_file_ = dir + "/ca.crt";
  }
  argv.push_back("--info-file=" + info_file);
  process_ = std::make_unique<Subprocess>(argv, env_);
  if (absl::Status s = process_->Start(); !s.ok()) return s;
  std::string json;
  const bool listening = WaitFor(
      [&] {
        std::ifstream in(info_file);
        std::stringstream ss;
        ss << in.rdbuf();
        json = ss.str();
        return !json.empty() || !process_->running();
      },
      timeout);
  if (!listening || json.empty()) {
    return absl::UnavailableError(absl::StrCat("meshkv-server did not start; its log:\n", Logs()));
  }
  node_id_ = JsonField(json, "node_id");
  grpc_addr_ = JsonField(json, "grpc");
  mesh_addr_ = JsonField(json, "mesh");
  if (!absl::SimpleAtoi(JsonField(json, "metrics_port"), &metrics_port_)) {
    return absl::InternalError(
        absl::StrCat("meshkv-server's info file has no numeric metrics_port: ", json));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> ServerProcess::ChannelAs(const std::string& cert_file,
                                                        const std::string& key_file) const {
  if (tls_ca_file_.empty()) {
    return grpc::CreateChannel(grpc_addr_, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = Slurp(tls_ca_file_);
  if (!cert_file.empty()) {
    o.pem_cert_chain = Slurp(cert_file);
    o.pem_private_key = Slurp(key_file);
  }
  return grpc::CreateChannel(grpc_addr_, grpc::SslCredentials(o));
}

absl::Status ServerProcess::WaitServing(absl::Duration timeout) {
  auto health = grpc::health::v1::Health::NewStub(Channel());
  const bool serving = WaitFor(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
        grpc::health::v1::HealthCheckResponse resp;
        return health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp).ok() &&
               resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      },
      timeout, absl::Milliseconds(20));
  if (!serving) {
    return absl::DeadlineExceededError(
        absl::StrCat(node_id_, " did not become SERVING; its log:\n", Logs()));
  }
  return absl::OkStatus();
}

}  // namespace meshkv::testing
