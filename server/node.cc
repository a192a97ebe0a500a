#include "server/node.h"

namespace meshkv {

Node::Node(StoreOptions options, const Clock* clock, RemoteObserver observer)
    : store_(std::move(options), clock),
      replica_(&store_, [this, observer = std::move(observer)](
                            const meshkv::mesh::v1::Record& record, peer::ApplySource source) {
        watches_.Notify(store_.revision());
        if (observer) observer(record, source);
      }) {}

absl::StatusOr<WriteResult> Node::Write(absl::FunctionRef<absl::StatusOr<WriteResult>(Store&)> op) {
  if (!synced()) {
    return absl::UnavailableError(
        "node is still syncing with its peers; writes are accepted once it is SERVING");
  }
  absl::StatusOr<WriteResult> result = op(store_);
  if (!result.ok() || result->changes.empty()) return result;
  watches_.Notify(result->changes.back().entry.record->revision());
  if (sink_) sink_(std::move(result->replicate));  // the caller needs only the changes
  return result;
}

}  // namespace meshkv
