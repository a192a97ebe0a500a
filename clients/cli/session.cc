#include "clients/cli/session.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/cli/exit_codes.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace meshkv::cli {
namespace {

// The error on one line, whatever the server put in it.
std::string OneLine(absl::string_view message) {
  std::string out(message);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

Session::Session(GlobalOptions options, std::optional<grpc::SslCredentialsOptions> tls,
                 std::ostream& out, std::ostream& err, bool out_is_terminal)
    : options_(std::move(options)),
      tls_(std::move(tls)),
      out_(out),
      err_(err),
      out_is_terminal_(out_is_terminal) {}

std::shared_ptr<grpc::Channel> Session::Channel() {
  if (channel_ == nullptr) {
    // Credentials start gRPC's threads: only now, once the command is ready.
    channel_ = grpc::CreateChannel(
        options_.addr, tls_ ? grpc::SslCredentials(*tls_) : grpc::InsecureChannelCredentials());
  }
  return channel_;
}

meshkv::v1::KeyValue::Stub& Session::kv() {
  if (kv_ == nullptr) kv_ = meshkv::v1::KeyValue::NewStub(Channel());
  return *kv_;
}

meshkv::v1::Cluster::Stub& Session::cluster() {
  if (cluster_ == nullptr) cluster_ = meshkv::v1::Cluster::NewStub(Channel());
  return *cluster_;
}

meshkv::v1::Maintenance::Stub& Session::maintenance() {
  if (maintenance_ == nullptr) maintenance_ = meshkv::v1::Maintenance::NewStub(Channel());
  return *maintenance_;
}

grpc::health::v1::Health::Stub& Session::health() {
  if (health_ == nullptr) health_ = grpc::health::v1::Health::NewStub(Channel());
  return *health_;
}

void Session::SetDeadline(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
}

int Session::Fail(const grpc::Status& status) {
  return Fail(status.error_code(), status.error_message());
}

int Session::Fail(grpc::StatusCode code, absl::string_view message) {
  // gRPC's codes are absl's, number for number.
  std::string line =
      absl::StrCat("meshkv: ", absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ": ");
  // Transport failures name the address: the usual cause is a wrong --addr
  // or a node that is down.
  if (code == grpc::StatusCode::UNAVAILABLE) {
    absl::StrAppend(&line, options_.addr, ": ");
  } else if (code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    absl::StrAppend(&line, options_.addr, ": no answer within ",
                    absl::FormatDuration(options_.timeout), " (--timeout): ");
  }
  absl::StrAppend(&line, OneLine(message));
  // Plaintext against a TLS port fails as a broken connection: say what to
  // try.
  if (code == grpc::StatusCode::UNAVAILABLE && !options_.tls.enabled()) {
    absl::StrAppend(&line,
                    " (if the node runs TLS, pass --cacert, and --cert and --key if it "
                    "asks for a client certificate)");
  } else if (code == grpc::StatusCode::UNAUTHENTICATED) {
    absl::StrAppend(&line, " (pass --cert and --key)");
  }
  err_ << line << std::endl;
  return code == grpc::StatusCode::NOT_FOUND ? kExitNotFound : kExitRpcError;
}

}  // namespace meshkv::cli
