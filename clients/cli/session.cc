#include "clients/cli/session.h"

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

std::shared_ptr<grpc::Channel> Session::NewChannel(const std::string& endpoint) const {
  // Credentials start gRPC's threads: only now, once the command is ready.
  return grpc::CreateChannel(
      endpoint, tls_ ? grpc::SslCredentials(*tls_) : grpc::InsecureChannelCredentials());
}

int Session::Connect() {
  if (channel_ != nullptr) return kExitOk;
  std::vector<std::string> failures;
  for (const std::string& endpoint : options_.endpoints) {
    std::shared_ptr<grpc::Channel> channel = NewChannel(endpoint);
    const absl::Time deadline = absl::Now() + options_.dial_timeout;
    // Follow the channel's states rather than WaitForConnected: a refused
    // connection shows as TRANSIENT_FAILURE at once, and the next endpoint
    // need not wait for the dial timeout.
    grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
    std::string why;
    while (state != GRPC_CHANNEL_READY && why.empty()) {
      if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
        why = options_.tls.enabled() ? "connection or TLS handshake failed" : "connection failed";
      } else if (!channel->WaitForStateChange(state, absl::ToChronoTime(deadline))) {
        why = absl::StrCat("no answer within ", absl::FormatDuration(options_.dial_timeout),
                           " (--dial-timeout)");
      } else {
        state = channel->GetState(/*try_to_connect=*/true);
      }
    }
    if (why.empty()) {
      endpoint_ = endpoint;
      channel_ = std::move(channel);
      return kExitOk;
    }
    failures.push_back(absl::StrCat(endpoint, ": ", why));
  }
  std::string line =
      absl::StrCat("meshkv: UNAVAILABLE: no endpoint answered: ", absl::StrJoin(failures, "; "));
  // Plaintext against a TLS port fails as a broken connection: say what to
  // try.
  if (!options_.tls.enabled()) {
    absl::StrAppend(&line,
                    " (if the node runs TLS, pass --cacert, and --cert and --key if it "
                    "asks for a client certificate)");
  }
  err_ << line << std::endl;
  return kExitUnreachable;
}

void Session::CheckConnected() const {
  if (channel_ != nullptr) return;
  // A command used a stub before Connect() succeeded: a bug, not a user error.
  err_ << "meshkv: internal error: RPC before Connect()" << std::endl;
  std::abort();
}

meshkv::v1::KeyValue::Stub& Session::kv() {
  CheckConnected();
  if (kv_ == nullptr) kv_ = meshkv::v1::KeyValue::NewStub(channel_);
  return *kv_;
}

meshkv::v1::Cluster::Stub& Session::cluster() {
  CheckConnected();
  if (cluster_ == nullptr) cluster_ = meshkv::v1::Cluster::NewStub(channel_);
  return *cluster_;
}

meshkv::v1::Maintenance::Stub& Session::maintenance() {
  CheckConnected();
  if (maintenance_ == nullptr) maintenance_ = meshkv::v1::Maintenance::NewStub(channel_);
  return *maintenance_;
}

grpc::health::v1::Health::Stub& Session::health() {
  CheckConnected();
  if (health_ == nullptr) health_ = grpc::health::v1::Health::NewStub(channel_);
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
  // Transport failures name the endpoint: the node went away, or is slow.
  if (code == grpc::StatusCode::UNAVAILABLE) {
    absl::StrAppend(&line, endpoint_, ": ");
  } else if (code == grpc::StatusCode::DEADLINE_EXCEEDED) {
    absl::StrAppend(&line, endpoint_, ": no answer within ", absl::FormatDuration(options_.timeout),
                    " (--timeout): ");
  }
  absl::StrAppend(&line, OneLine(message));
  // gRPC's own answer for an RPC the server does not have says nothing.
  if (code == grpc::StatusCode::UNIMPLEMENTED && message.empty()) {
    absl::StrAppend(&line, endpoint_, " does not implement this call (an older meshkv-server?)");
  }
  if (code == grpc::StatusCode::UNAUTHENTICATED) absl::StrAppend(&line, " (pass --cert and --key)");
  err_ << line << std::endl;
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitRefused;
    case grpc::StatusCode::UNAVAILABLE:
      return kExitUnreachable;
    default:
      return kExitRpcError;
  }
}

}  // namespace meshkv::cli
