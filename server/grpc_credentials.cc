#include "server/grpc_credentials.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/server_credentials.h"

namespace meshkv {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ClientRole Needed(Access access) {
  switch (access) {
    case Access::kHealth:
      return ClientRole::kNone;
    case Access::kRead:
      return ClientRole::kReadOnly;
    case Access::kWrite:
      return ClientRole::kReadWrite;
    case Access::kAdmin:
      return ClientRole::kAdmin;
  }
  return ClientRole::kAdmin;
}

absl::string_view Verb(Access access) {
  switch (access) {
    case Access::kHealth:
      return "check health";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
    case Access::kAdmin:
      return "administer";
  }
  return "administer";
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeGrpcServerCredentials(
    const GrpcTlsOptions& options) {
  if (absl::Status s = peer::CheckTlsFiles(options.tls); !s.ok()) return s;
  auto cert = ReadFile(options.tls.cert_file, "certificate");
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(options.tls.key_file, "private key");
  if (!key.ok()) return key.status();

  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  std::string client_ca;
  if (!options.client_ca_file.empty()) {
    auto pem = ReadFile(options.client_ca_file, "client CA certificate (--client-ca)");
    if (!pem.ok()) return pem.status();
    if (auto parsed = peer::ParseCertificate(*pem); !parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.client_ca_file, ": ", parsed.status().message()));
    }
    client_ca = *std::move(pem);
    request = options.policy == ClientCertPolicy::kRequire
                  ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc::SslServerCredentialsOptions ssl(request);
  ssl.pem_root_certs = std::move(client_ca);
  ssl.pem_key_cert_pairs.push_back({*std::move(key), *std::move(cert)});
  return grpc::SslServerCredentials(ssl);
}

absl::string_view ClientRoleName(ClientRole role) {
  switch (role) {
    case ClientRole::kNone:
      return "none";
    case ClientRole::kReadOnly:
      return "read-only";
    case ClientRole::kReadWrite:
      return "read-write";
    case ClientRole::kAdmin:
      return "admin";
  }
  return "none";
}

absl::StatusOr<ClientRole> ParseClientRole(absl::string_view name) {
  for (ClientRole r : {ClientRole::kNone, ClientRole::kReadOnly, ClientRole::kReadWrite,
                       ClientRole::kAdmin}) {
    if (name == ClientRoleName(r)) return r;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown client role \"", name, "\" (none, read-only, read-write or admin)"));
}

Access KeyValueMethodAccess(absl::string_view method) {
  // "/meshkv.v1.KeyValue/Set" or "Set".
  if (size_t slash = method.rfind('/'); slash != absl::string_view::npos) {
    method.remove_prefix(slash + 1);
  }
  for (absl::string_view read : {"Get", "List", "Watch", "Subscribe"}) {
    if (method == read) return Access::kRead;
  }
  for (absl::string_view write : {"Set", "Delete", "Update", "ApplyDelta", "Pop", "PopItem",
                                  "Touch", "DeletePrefix", "Publish"}) {
    if (method == write) return Access::kWrite;
  }
  return Access::kAdmin;
}

absl::Status Authorize(ClientRole role, Access access, bool authenticated) {
  if (access == Access::kHealth) return absl::OkStatus();
  if (role == ClientRole::kNone && !authenticated) {
    return absl::UnauthenticatedError(
        "this server requires a client certificate (signed by its --client-ca)");
  }
  if (role >= Needed(access)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("role ", ClientRoleName(role), " may not ",
                                                  Verb(access), " (needs ",
                                                  ClientRoleName(Needed(access)), ")"));
}

absl::StatusOr<ClientRoleTable> ClientRoleTable::Parse(absl::string_view spec) {
  ClientRoleTable table;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("--client-roles: \"", item, "\" is not name=role"));
    }
    const absl::string_view name = absl::StripAsciiWhitespace(kv[0]);
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--client-roles: empty name in \"", item, "\""));
    }
    auto role = ParseClientRole(absl::StripAsciiWhitespace(kv[1]));
    if (!role.ok()) return absl::InvalidArgumentError(absl::StrCat("--client-roles: ", role.status().message()));
    if (!table.roles_.emplace(std::string(name), *role).second) {
      return absl::InvalidArgumentError(absl::StrCat("--client-roles: ", name, " given twice"));
    }
  }
  return table;
}

ClientRole ClientRoleTable::Lookup(absl::string_view name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? ClientRole::kNone : it->second;
}

std::string ClientAuthorizer::CommonNameOf(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return "";
  std::vector<grpc::string_ref> cns = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (cns.size() != 1) return "";  // none, or ambiguous: no role
  return std::string(cns[0].data(), cns[0].size());
}

ClientRole ClientAuthorizer::RoleOf(const grpc::ServerContextBase& context) const {
  if (auth_ == ClientAuth::kOff) return ClientRole::kAdmin;
  const std::string cn = CommonNameOf(context);
  return cn.empty() ? ClientRole::kNone : roles_.Lookup(cn);
}

absl::Status ClientAuthorizer::Check(const grpc::ServerContextBase& context, Access access) const {
  if (auth_ == ClientAuth::kOff || access == Access::kHealth) return absl::OkStatus();
  const std::string cn = CommonNameOf(context);
  const ClientRole role = cn.empty() ? ClientRole::kNone : roles_.Lookup(cn);
  absl::Status s = Authorize(role, access, !cn.empty());
  if (s.ok() || cn.empty()) return s;
  if (role == ClientRole::kNone) {
    return absl::PermissionDeniedError(
        absl::StrCat("client ", cn, " has no role in --client-roles; it may not ", Verb(access)));
  }
  return absl::Status(s.code(), absl::StrCat("client ", cn, ": ", s.message()));
}

}  // namespace meshkv
