#include "tools/bench/watch_latency.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "etcd/rpc_subset.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tools/bench/load_generator.h"

namespace meshkv::bench {
namespace {

// The first key after every key with this prefix: etcd's range_end for a
// prefix watch.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace

WatchListener::WatchListener(const BenchConfig& config) : config_(config) {}

WatchListener::~WatchListener() { Stop(); }

void WatchListener::SetWindow(int64_t from_ns, int64_t to_ns) {
  from_ns_.store(from_ns);
  to_ns_.store(to_ns);
}

absl::Status WatchListener::Start(absl::Duration timeout) {
  reader_ = std::thread([this] {
    if (config_.target == Target::kEtcd) {
      ReadEtcd();
    } else {
      ReadMeshkv();
    }
    absl::MutexLock lock(&mu_);
    ended_ = true;
  });
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return created_ || ended_; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "watch at ", config_.watch_addr, " not created within ", absl::FormatDuration(timeout)));
  }
  if (!created_) {
    return absl::UnavailableError(
        absl::StrCat("watch at ", config_.watch_addr, " failed: ", start_error_));
  }
  return absl::OkStatus();
}

void WatchListener::Observe(const std::string& value, int64_t now) {
  ++events_total_;
  if (value.size() < sizeof(int64_t)) return;
  int64_t sent = 0;
  std::memcpy(&sent, value.data(), sizeof(sent));
  if (sent < from_ns_.load(std::memory_order_relaxed) ||
      sent >= to_ns_.load(std::memory_order_relaxed)) {
    return;
  }
  latency_.Record(static_cast<uint64_t>(std::max<int64_t>(0, now - sent)));
  absl::MutexLock lock(&mu_);
  ++recorded_;
}

void WatchListener::ReadMeshkv() {
  auto channel = grpc::CreateChannel(config_.watch_addr, config_.ChannelCredentials());
  auto stub = meshkv::v1::KeyValue::NewStub(channel);
  meshkv::v1::WatchRequest request;
  request.set_prefix(config_.key_prefix);
  auto reader = stub->Watch(&ctx_, request);
  meshkv::v1::WatchResponse response;
  while (reader->Read(&response)) {
    const int64_t now = NowNs();
    if (response.created()) {
      absl::MutexLock lock(&mu_);
      created_ = true;
    }
    for (const meshkv::v1::Event& e : response.events()) {
      Observe(e.entry().value().bytes(), now);
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    error_ = absl::StrCat("watch ended: code ", status.error_code(), ": ", status.error_message());
  }
  absl::MutexLock lock(&mu_);
  start_error_ = error_;
}

void WatchListener::ReadEtcd() {
  auto channel = grpc::CreateChannel(config_.watch_addr, config_.ChannelCredentials());
  auto stub = etcdserverpb::Watch::NewStub(channel);
  auto stream = stub->Watch(&ctx_);
  etcdserverpb::WatchRequest request;
  request.mutable_create_request()->set_key(config_.key_prefix);
  request.mutable_create_request()->set_range_end(PrefixEnd(config_.key_prefix));
  if (!stream->Write(request)) {
    error_ = "cannot send the watch request";
  } else {
    etcdserverpb::WatchResponse response;
    while (stream->Read(&response)) {
      const int64_t now = NowNs();
      if (response.created()) {
        absl::MutexLock lock(&mu_);
        created_ = true;
      }
      if (response.canceled()) {
        error_ = absl::StrCat("watch canceled: ", response.cancel_reason());
        break;
      }
      for (const etcdserverpb::Event& e : response.events()) Observe(e.kv().value(), now);
    }
  }
  ctx_.TryCancel();
  const grpc::Status status = stream->Finish();
  if (error_.empty() && !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    error_ = absl::StrCat("watch ended: code ", status.error_code(), ": ", status.error_message());
  }
  absl::MutexLock lock(&mu_);
  start_error_ = error_;
}

bool WatchListener::WaitForEvents(uint64_t n, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return recorded_ >= n || ended_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return recorded_ >= n;
}

void WatchListener::Stop() {
  if (!reader_.joinable()) return;
  ctx_.TryCancel();
  reader_.join();
}

}  // namespace meshkv::bench
