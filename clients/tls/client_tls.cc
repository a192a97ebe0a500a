#include "clients/tls/client_tls.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace meshkv {
namespace {

void FromEnv(std::string* field, const char* name) {
  if (!field->empty()) return;
  const char* value = std::getenv(name);
  if (value != nullptr) *field = value;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  if (!in || ss.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  }
  return ss.str();
}

}  // namespace

ClientTls ClientTls::WithEnvironment(ClientTls flags) {
  FromEnv(&flags.cacert, "MESHKV_CACERT");
  FromEnv(&flags.cert, "MESHKV_CERT");
  FromEnv(&flags.key, "MESHKV_KEY");
  return flags;
}

absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> ClientTls::Load() const {
  if (!enabled()) return std::nullopt;
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(
        cert.empty() ? "--key needs --cert (MESHKV_CERT): the certificate it belongs to"
                     : "--cert needs --key (MESHKV_KEY): its private key");
  }
  grpc::SslCredentialsOptions o;
  if (!cacert.empty()) {
    absl::StatusOr<std::string> pem = ReadPem(cacert, "--cacert");
    if (!pem.ok()) return pem.status();
    o.pem_root_certs = *std::move(pem);
  }
  if (!cert.empty()) {
    absl::StatusOr<std::string> c = ReadPem(cert, "--cert");
    if (!c.ok()) return c.status();
    absl::StatusOr<std::string> k = ReadPem(key, "--key");
    if (!k.ok()) return k.status();
    o.pem_cert_chain = *std::move(c);
    o.pem_private_key = *std::move(k);
  }
  return o;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientTls::Credentials() const {
  absl::StatusOr<std::optional<grpc::SslCredentialsOptions>> options = Load();
  if (!options.ok()) return options.status();
  if (!options->has_value()) return grpc::InsecureChannelCredentials();
  return grpc::SslCredentials(**options);
}

}  // namespace meshkv
