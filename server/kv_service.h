// KeyValueService: meshkv.v1.KeyValue on the gRPC callback API.
//
// Unary RPCs start on gRPC's threads and never block them: reads and writes
// without a data directory finish inline (the store answers from memory); a
// write with one finishes when the durability log has made it durable, from
// the log's thread. List and Watch are server streams with reactors of their own
// (ListStream below, WatchStream in watch_stream.h). Status codes come from
// the store's absl::Status, converted only here.
//
// Every handler first asks the ClientAuthorizer whether the caller's role
// may make it (server/grpc_credentials.h): PERMISSION_DENIED or
// UNAUTHENTICATED, nothing read or changed.
//
// Thread-safe; the Node and the authorizer must outlive the service.
#ifndef MESHKV_SERVER_KV_SERVICE_H_
#define MESHKV_SERVER_KV_SERVICE_H_

#include "meshkv/v1/kv.grpc.pb.h"
#include "server/grpc_credentials.h"
#include "server/node.h"
#include "server/watch_stream.h"

namespace meshkv {

struct KeyValueServiceOptions {
  WatchOptions watch;
  size_t list_page_entries = 512;
  size_t list_page_bytes = 1 << 20;
  // Watch streams open at once on this node (each holds about 16 KiB of
  // gRPC's memory); more answer RESOURCE_EXHAUSTED.
  size_t max_watch_streams = 10000;
  // Keys one DeletePrefix may delete; a request's `limit` may only lower it.
  size_t max_delete_prefix_keys = 10000;
};

class KeyValueService final : public meshkv::v1::KeyValue::CallbackService {
 public:
  KeyValueService(Node* node, KeyValueServiceOptions options, const WatchObserver* observer,
                  const ClientAuthorizer* auth);

  // Watch streams open now.
  size_t watch_streams() const { return watch_slots_.in_use(); }

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const meshkv::v1::GetRequest* req,
                                meshkv::v1::GetResponse* resp) override;
  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* ctx, const meshkv::v1::SetRequest* req,
                                meshkv::v1::SetResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const meshkv::v1::DeleteRequest* req,
                                   meshkv::v1::DeleteResponse* resp) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const meshkv::v1::UpdateRequest* req,
                                   meshkv::v1::UpdateResponse* resp) override;
  grpc::ServerUnaryReactor* ApplyDelta(grpc::CallbackServerContext* ctx,
                                       const meshkv::v1::ApplyDeltaRequest* req,
                                       meshkv::v1::ApplyDeltaResponse* resp) override;
  grpc::ServerUnaryReactor* Pop(grpc::CallbackServerContext* ctx, const meshkv::v1::PopRequest* req,
                                meshkv::v1::PopResponse* resp) override;
  grpc::ServerUnaryReactor* PopItem(grpc::CallbackServerContext* ctx,
                                    const meshkv::v1::PopItemRequest* req,
                                    meshkv::v1::PopItemResponse* resp) override;
  grpc::ServerUnaryReactor* DeletePrefix(grpc::CallbackServerContext* ctx,
                                         const meshkv::v1::DeletePrefixRequest* req,
                                         meshkv::v1::DeletePrefixResponse* resp) override;
  grpc::ServerUnaryReactor* Touch(grpc::CallbackServerContext* ctx,
                                  const meshkv::v1::TouchRequest* req,
                                  meshkv::v1::TouchResponse* resp) override;
  grpc::ServerWriteReactor<meshkv::v1::ListResponse>* List(
      grpc::CallbackServerContext* ctx, const meshkv::v1::ListRequest* req) override;
  grpc::ServerWriteReactor<meshkv::v1::WatchResponse>* Watch(
      grpc::CallbackServerContext* ctx, const meshkv::v1::WatchRequest* req) override;

 private:
  Node* const node_;  // Not owned.
  const KeyValueServiceOptions options_;
  const WatchObserver* const observer_;  // Not owned; may be null.
  const ClientAuthorizer* const auth_;   // Not owned.
  StreamSlots watch_slots_;              // --max-watch-streams
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_KV_SERVICE_H_
