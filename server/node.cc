#include "server/node.h"

#include "common/status_macros.h"

namespace meshkv {
namespace {

std::vector<CommitObserver*> HubFirst(WatchHub* hub, std::vector<CommitObserver*> observers) {
  observers.insert(observers.begin(), hub);
  return observers;
}

}  // namespace

Node::Node(StoreOptions options, Env* env, std::vector<CommitObserver*> observers)
    : watches_(env),
      store_(std::move(options), env->clock(), HubFirst(&watches_, std::move(observers))) {}

absl::Status Node::CheckSynced() const {
  if (synced()) return absl::OkStatus();
  return absl::UnavailableError(
      "node is still syncing with its peers; writes are accepted once it is SERVING");
}

absl::StatusOr<WriteResult> Node::Set(absl::string_view key, const ValueView& value) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.Set(key, value);
}

absl::StatusOr<WriteResult> Node::Delete(absl::string_view key) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.Delete(key);
}

absl::StatusOr<WriteResult> Node::Update(const KeyValuesView& items) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.Update(items);
}

absl::StatusOr<WriteResult> Node::ApplyDelta(absl::string_view key, const FieldsView& delta) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.ApplyDelta(key, delta);
}

absl::StatusOr<WriteResult> Node::Pop(absl::string_view key) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.Pop(key);
}

absl::StatusOr<WriteResult> Node::PopItem() {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  return store_.PopItem();
}

absl::StatusOr<bool> Node::Apply(const meshkv::mesh::v1::Record& record,
                                 peer::ApplySource source) {
  return store_.Merge(record, source == peer::ApplySource::kWrite ? CommitSource::kFlooded
                                                                  : CommitSource::kAntiEntropy);
}

}  // namespace meshkv
