// Protocol: how one kind of server spells Get and Set on the wire.
//
// The load generator sends serialized requests through grpc::GenericStub, so
// one engine drives meshkv (meshkv.v1.KeyValue), the no-op baseline
// (meshkv.bench.v1.Baseline) and etcd (etcdserverpb.KV: Get is a Range of one
// key, serializable unless asked otherwise; Set is a Put).
//
// Not thread-safe (it reuses messages): one per worker thread.
#ifndef MESHKV_TOOLS_BENCH_PROTOCOL_H_
#define MESHKV_TOOLS_BENCH_PROTOCOL_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/support/byte_buffer.h"
#include "tools/bench/bench_config.h"

namespace meshkv::bench {

class Protocol {
 public:
  // `ttl_ms` (meshkv only): every Set asks for this time to live; 0: none.
  // `min_replicas`: meshkv Sets ask that many other nodes to hold them.
  static std::unique_ptr<Protocol> For(Target target, bool linearizable, int64_t ttl_ms = 0,
                                       uint32_t min_replicas = 0);
  virtual ~Protocol() = default;

  // Full method names, "/package.Service/Method".
  virtual const std::string& get_method() const = 0;
  // Empty when the server has no write.
  virtual const std::string& set_method() const = 0;

  virtual grpc::ByteBuffer EncodeGet(absl::string_view key) = 0;
  virtual grpc::ByteBuffer EncodeSet(absl::string_view key, absl::string_view value) = 0;
  // Whether a Get answer found the key; false also when it does not parse.
  virtual bool GetFound(grpc::ByteBuffer* response) = 0;
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_PROTOCOL_H_
