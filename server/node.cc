#include "server/node.h"

#include "common/status_macros.h"

namespace meshkv {
namespace {

// The watch hub first, then the durability log, then the rest.
std::vector<CommitObserver*> ObserversFor(WatchHub* hub, DurabilityLog* durability,
                                          std::vector<CommitObserver*> observers) {
  if (durability != nullptr) observers.insert(observers.begin(), durability);
  observers.insert(observers.begin(), hub);
  return observers;
}

}  // namespace

Node::Node(StoreOptions options, Env* env, std::vector<CommitObserver*> observers,
           DurabilityLog* durability)
    : durability_(durability),
      watches_(env),
      store_(std::move(options), env->clock(),
             ObserversFor(&watches_, durability, std::move(observers))) {}

template <typename Op>
absl::StatusOr<WriteResult> Node::Durably(Op op) {
  MESHKV_RETURN_IF_ERROR(CheckSynced());
  const uint64_t since = durability_ != nullptr ? durability_->enqueued() : 0;
  absl::StatusOr<WriteResult> r = op();
  if (r.ok() && durability_ != nullptr) MESHKV_RETURN_IF_ERROR(durability_->WaitDurable(since));
  return r;
}

absl::Status Node::CheckSynced() const {
  if (synced()) return absl::OkStatus();
  return absl::UnavailableError(
      "node is still syncing with its peers; writes are accepted once it is SERVING");
}

absl::StatusOr<WriteResult> Node::Set(absl::string_view key, const ValueView& value) {
  return Durably([&] { return store_.Set(key, value); });
}

absl::StatusOr<WriteResult> Node::Delete(absl::string_view key) {
  return Durably([&] { return store_.Delete(key); });
}

absl::StatusOr<WriteResult> Node::Update(const KeyValuesView& items) {
  return Durably([&] { return store_.Update(items); });
}

absl::StatusOr<WriteResult> Node::ApplyDelta(absl::string_view key, const FieldsView& delta) {
  return Durably([&] { return store_.ApplyDelta(key, delta); });
}

absl::StatusOr<WriteResult> Node::Pop(absl::string_view key) {
  return Durably([&] { return store_.Pop(key); });
}

absl::StatusOr<WriteResult> Node::PopItem() {
  return Durably([&] { return store_.PopItem(); });
}

absl::StatusOr<bool> Node::Apply(const meshkv::mesh::v1::Record& record,
                                 peer::ApplySource source) {
  return store_.Merge(record, source == peer::ApplySource::kWrite ? CommitSource::kFlooded
                                                                  : CommitSource::kAntiEntropy);
}

}  // namespace meshkv
