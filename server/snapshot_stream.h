// The server side of meshkv.v1.Maintenance's Snapshot and Restore
// (proto/meshkv/v1/maintenance.proto; the file format is the CLI's,
// clients/cli/snapshot_file.h).
//
// SnapshotStream walks the store's 256 buckets in order, exporting each in
// chunks of about 1 MiB (Store::ExportBucket: the store's read lock is held
// for one chunk at a time, so writers wait microseconds), one response per
// chunk, the next made only when the last was written: memory is one chunk.
//
// RestoreStream buffers the records a client sends (each parsed and bounded
// as it arrives) and merges them only when the final `done` message comes
// with the right count, as anti-entropy input (Node::Apply): a stream that
// breaks off changes nothing. At most kMaxRestoreBytes are buffered.
//
// Lifetime: created by MaintenanceService, each deletes itself in OnDone().
// Reactions come one at a time (one read or write in flight), so neither
// needs a lock.
#ifndef MESHKV_SERVER_SNAPSHOT_STREAM_H_
#define MESHKV_SERVER_SNAPSHOT_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "grpcpp/support/server_callback.h"
#include "meshkv/v1/maintenance.pb.h"
#include "server/node.h"

namespace meshkv {

class SnapshotStream final : public grpc::ServerWriteReactor<meshkv::v1::SnapshotResponse> {
 public:
  // `node` is not owned and must outlive the stream.
  SnapshotStream(const Node* node, meshkv::v1::SnapshotHeader header);
  void OnWriteDone(bool ok) override;
  void OnDone() override { delete this; }

  static constexpr size_t kChunkBytes = 1 << 20;

 private:
  void NextChunk();

  const Node* const node_;  // Not owned.
  uint32_t bucket_ = 0;
  std::string after_;  // resume the bucket after this key ("" at its start)
  meshkv::v1::SnapshotResponse response_;
};

class RestoreStream final : public grpc::ServerReadReactor<meshkv::v1::RestoreRequest> {
 public:
  // `node` is not owned and must outlive the stream; `response` is gRPC's.
  RestoreStream(Node* node, meshkv::v1::RestoreResponse* response);
  void OnReadDone(bool ok) override;
  void OnDone() override { delete this; }

  static constexpr uint64_t kMaxRestoreBytes = 4ull << 30;

 private:
  // Merges every record; the stream's outcome.
  grpc::Status MergeAll();

  Node* const node_;                             // Not owned.
  meshkv::v1::RestoreResponse* const response_;  // Not owned.
  meshkv::v1::RestoreRequest request_;
  std::vector<std::string> records_;  // serialized, each parsed once to check it
  meshkv::mesh::v1::Record scratch_;
  uint64_t bytes_ = 0;
};

}  // namespace meshkv

#endif  // MESHKV_SERVER_SNAPSHOT_STREAM_H_
