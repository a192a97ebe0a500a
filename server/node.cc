#include "server/node.h"

#include "absl/synchronization/notification.h"

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
void Node::Durably(Op op, WriteDone done) {
  if (absl::Status s = CheckSynced(); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  const DurabilityLog::Seq since = durability_ != nullptr ? durability_->enqueued() : 0;
  absl::StatusOr<WriteResult> r = op();
  if (!r.ok() || durability_ == nullptr) {
    std::move(done)(std::move(r));
    return;
  }
  durability_->WhenDurable(since,
                           [r = *std::move(r), done = std::move(done)](absl::Status s) mutable {
                             if (s.ok()) {
                               std::move(done)(std::move(r));
                             } else {
                               std::move(done)(std::move(s));
                             }
                           });
}

template <typename Start>
absl::StatusOr<WriteResult> Node::Wait(Start start) {
  absl::Notification done;
  absl::StatusOr<WriteResult> out;
  start([&](absl::StatusOr<WriteResult> r) {
    out = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

absl::Status Node::CheckSynced() const {
  if (synced()) return absl::OkStatus();
  return absl::UnavailableError(
      "node is still syncing with its peers; writes are accepted once it is SERVING");
}

void Node::Set(absl::string_view key, const ValueView& value, const Precondition& pre,
               WriteDone done) {
  Durably([&] { return store_.Set(key, value, pre); }, std::move(done));
}

void Node::Delete(absl::string_view key, const Precondition& pre, WriteDone done) {
  Durably([&] { return store_.Delete(key, pre); }, std::move(done));
}

void Node::Update(const KeyValuesView& items, const std::vector<Precondition>& pres,
                  WriteDone done) {
  Durably([&] { return store_.Update(items, pres); }, std::move(done));
}

void Node::ApplyDelta(absl::string_view key, const FieldsView& delta, const Precondition& pre,
                      WriteDone done) {
  Durably([&] { return store_.ApplyDelta(key, delta, pre); }, std::move(done));
}

void Node::Pop(absl::string_view key, WriteDone done) {
  Durably([&] { return store_.Pop(key); }, std::move(done));
}

void Node::PopItem(WriteDone done) {
  Durably([&] { return store_.PopItem(); }, std::move(done));
}

absl::StatusOr<WriteResult> Node::Set(absl::string_view key, const ValueView& value,
                                      const Precondition& pre) {
  return Wait([&](WriteDone done) { Set(key, value, pre, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Delete(absl::string_view key, const Precondition& pre) {
  return Wait([&](WriteDone done) { Delete(key, pre, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Update(const KeyValuesView& items,
                                         const std::vector<Precondition>& pres) {
  return Wait([&](WriteDone done) { Update(items, pres, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::ApplyDelta(absl::string_view key, const FieldsView& delta,
                                             const Precondition& pre) {
  return Wait([&](WriteDone done) { ApplyDelta(key, delta, pre, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Pop(absl::string_view key) {
  return Wait([&](WriteDone done) { Pop(key, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::PopItem() {
  return Wait([&](WriteDone done) { PopItem(std::move(done)); });
}

absl::StatusOr<LeaseReleaseResult> Node::ReleaseLeases(absl::string_view node_id) {
  LeaseReleaseResult released;
  absl::StatusOr<WriteResult> r = Wait([&](WriteDone done) {
    Durably(
        [&]() -> absl::StatusOr<WriteResult> {
          absl::StatusOr<LeaseReleaseResult> out = store_.ReleaseLeases(node_id);
          if (!out.ok()) return out.status();
          released = *out;
          return WriteResult{};
        },
        std::move(done));
  });
  if (!r.ok()) return r.status();
  return released;
}

absl::StatusOr<bool> Node::Apply(const meshkv::mesh::v1::Record& record,
                                 peer::ApplySource source) {
  return store_.Merge(record, source == peer::ApplySource::kWrite ? CommitSource::kFlooded
                                                                  : CommitSource::kAntiEntropy);
}

}  // namespace meshkv
