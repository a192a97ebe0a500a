// Client: a synchronous client of one meshkv node for tests, with waits for
// replication to show.
//
//   Client c(node);                  // a ServerProcess
//   ASSERT_TRUE(c.Set("k", "v").ok());
//   EXPECT_TRUE(other.WaitValue("k", "v"));
#ifndef MESHKV_TESTS_UTIL_KV_CLIENT_H_
#define MESHKV_TESTS_UTIL_KV_CLIENT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/server_process.h"
#include "tests/util/wait.h"

namespace meshkv::testing {

// A client of one node.
class Client {
 public:
  explicit Client(const ServerProcess& node) : Client(node.Channel()) {}
  // Over `channel`, e.g. node.ChannelAs(cert, key) for another identity.
  explicit Client(std::shared_ptr<grpc::Channel> channel)
      : stub_(meshkv::v1::KeyValue::NewStub(std::move(channel))) {}

  grpc::Status Set(const std::string& key, const std::string& value) {
    grpc::ClientContext ctx;
    meshkv::v1::SetRequest req;
    req.set_key(key);
    req.mutable_value()->set_bytes(value);
    meshkv::v1::SetResponse resp;
    return stub_->Set(&ctx, req, &resp);
  }
  grpc::Status Delete(const std::string& key) {
    grpc::ClientContext ctx;
    meshkv::v1::DeleteRequest req;
    req.set_key(key);
    meshkv::v1::DeleteResponse resp;
    return stub_->Delete(&ctx, req, &resp);
  }
  grpc::Status Update(const std::map<std::string, std::string>& items) {
    grpc::ClientContext ctx;
    meshkv::v1::UpdateRequest req;
    for (const auto& [k, v] : items) {
      auto* item = req.add_items();
      item->set_key(k);
      item->mutable_value()->set_bytes(v);
    }
    meshkv::v1::UpdateResponse resp;
    return stub_->Update(&ctx, req, &resp);
  }
  grpc::Status ApplyDelta(const std::string& key, const std::map<std::string, std::string>& f) {
    grpc::ClientContext ctx;
    meshkv::v1::ApplyDeltaRequest req;
    req.set_key(key);
    for (const auto& [k, v] : f) (*req.mutable_delta()->mutable_fields())[k] = v;
    meshkv::v1::ApplyDeltaResponse resp;
    return stub_->ApplyDelta(&ctx, req, &resp);
  }
  std::optional<meshkv::v1::Entry> Get(const std::string& key) {
    grpc::ClientContext ctx;
    meshkv::v1::GetRequest req;
    req.set_key(key);
    meshkv::v1::GetResponse resp;
    if (!stub_->Get(&ctx, req, &resp).ok() || !resp.found()) return std::nullopt;
    return resp.entry();
  }
  // Waits until `key` holds `value` (bytes) here.
  bool WaitValue(const std::string& key, const std::string& value,
                 absl::Duration timeout = absl::Seconds(20)) {
    return WaitFor(
        [&] {
          auto e = Get(key);
          return e && e->value().bytes() == value;
        },
        timeout, absl::Milliseconds(10));
  }
  bool WaitAbsent(const std::string& key, absl::Duration timeout = absl::Seconds(20)) {
    return WaitFor([&] { return !Get(key).has_value(); }, timeout, absl::Milliseconds(10));
  }
  meshkv::v1::KeyValue::Stub* stub() { return stub_.get(); }

 private:
  std::unique_ptr<meshkv::v1::KeyValue::Stub> stub_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_KV_CLIENT_H_
