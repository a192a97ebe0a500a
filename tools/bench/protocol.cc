#include "tools/bench/protocol.h"

#include <string>
#include <utility>

#include "etcd/rpc_subset.pb.h"
#include "grpcpp/support/proto_buffer_reader.h"
#include "grpcpp/support/slice.h"
#include "meshkv/v1/kv.pb.h"

namespace meshkv::bench {
namespace {

// Serialized straight into the slice gRPC sends: no intermediate string.
grpc::ByteBuffer ToBuffer(const google::protobuf::MessageLite& m) {
  grpc::Slice slice(m.ByteSizeLong());
  m.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
  return grpc::ByteBuffer(&slice, 1);
}

template <typename Message>
bool Parse(grpc::ByteBuffer* buffer, Message* m) {
  grpc::ProtoBufferReader reader(buffer);
  return m->ParseFromZeroCopyStream(&reader);
}

// meshkv.v1.KeyValue, and the baseline, which has its Get.
class MeshkvProtocol final : public Protocol {
 public:
  MeshkvProtocol(bool baseline, int64_t ttl_ms, uint32_t min_replicas)
      : get_method_(baseline ? "/meshkv.bench.v1.Baseline/Get" : "/meshkv.v1.KeyValue/Get"),
        set_method_(baseline ? "" : "/meshkv.v1.KeyValue/Set") {
    set_.set_ttl_ms(ttl_ms);
    set_.set_min_replicas(min_replicas);
  }

  const std::string& get_method() const override { return get_method_; }
  const std::string& set_method() const override { return set_method_; }

  grpc::ByteBuffer EncodeGet(absl::string_view key) override {
    get_.set_key(key.data(), key.size());
    return ToBuffer(get_);
  }
  grpc::ByteBuffer EncodeSet(absl::string_view key, absl::string_view value) override {
    set_.set_key(key.data(), key.size());
    set_.mutable_value()->set_bytes(value.data(), value.size());
    return ToBuffer(set_);
  }
  bool GetFound(grpc::ByteBuffer* response) override {
    return Parse(response, &get_response_) && get_response_.found();
  }

 private:
  const std::string get_method_;
  const std::string set_method_;
  meshkv::v1::GetRequest get_;
  meshkv::v1::SetRequest set_;
  meshkv::v1::GetResponse get_response_;
};

class EtcdProtocol final : public Protocol {
 public:
  explicit EtcdProtocol(bool linearizable) { range_.set_serializable(!linearizable); }

  const std::string& get_method() const override { return get_method_; }
  const std::string& set_method() const override { return set_method_; }

  grpc::ByteBuffer EncodeGet(absl::string_view key) override {
    range_.set_key(key.data(), key.size());
    return ToBuffer(range_);
  }
  grpc::ByteBuffer EncodeSet(absl::string_view key, absl::string_view value) override {
    put_.set_key(key.data(), key.size());
    put_.set_value(value.data(), value.size());
    return ToBuffer(put_);
  }
  bool GetFound(grpc::ByteBuffer* response) override {
    return Parse(response, &range_response_) && range_response_.kvs_size() > 0;
  }

 private:
  const std::string get_method_ = "/etcdserverpb.KV/Range";
  const std::string set_method_ = "/etcdserverpb.KV/Put";
  etcdserverpb::RangeRequest range_;
  etcdserverpb::PutRequest put_;
  etcdserverpb::RangeResponse range_response_;
};

}  // namespace

std::unique_ptr<Protocol> Protocol::For(Target target, bool linearizable, int64_t ttl_ms,
                                        uint32_t min_replicas) {
  switch (target) {
    case Target::kMeshkv:
      return std::make_unique<MeshkvProtocol>(/*baseline=*/false, ttl_ms, min_replicas);
    case Target::kBaseline:
      return std::make_unique<MeshkvProtocol>(/*baseline=*/true, 0, 0);
    case Target::kEtcd:
      return std::make_unique<EtcdProtocol>(linearizable);
  }
  return nullptr;
}

}  // namespace meshkv::bench
