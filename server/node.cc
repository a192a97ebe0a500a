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
           DurabilityLog* durability, WriteConcern* concern)
    : durability_(durability),
      concern_(concern),
      watches_(env),
      store_(std::move(options), env->clock(),
             ObserversFor(&watches_, durability, std::move(observers))) {}

template <typename Op>
void Node::Durably(Op op, WriteDone done, const ConcernRequest& concern) {
  if (absl::Status s = CheckSynced(); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  if (concern_ != nullptr) {
    if (absl::Status s = concern_->Admit(concern.min_replicas); !s.ok()) {
      std::move(done)(std::move(s));
      return;
    }
  } else if (concern.min_replicas != 0) {
    std::move(done)(absl::UnavailableError("this node does not replicate: min_replicas must be 0"));
    return;
  }
  const DurabilityLog::Seq since = durability_ != nullptr ? durability_->enqueued() : 0;
  absl::StatusOr<WriteResult> r;
  if (concern.min_replicas == 0) {
    r = op();
  } else {
    // Committed under a marking, so that it is flooded with ack_wanted; the
    // origin_seq read before the marking ends is the write's or a later
    // marked one's, which holders acknowledge as promptly.
    uint64_t seq = 0;
    {
      WriteConcern::Marking marking(concern_);
      r = op();
      seq = concern_->last_origin_seq();
    }
    // Durable here first (as without a concern), then held elsewhere.
    done = [this, seq, concern, done = std::move(done)](absl::StatusOr<WriteResult> r) mutable {
      // A write that changed nothing (a DeletePrefix that matched no key)
      // has nothing for replicas to hold.
      if (!r.ok() || r->changes.empty()) {
        std::move(done)(std::move(r));
        return;
      }
      concern_->Wait(seq, concern,
                     [r = *std::move(r), done = std::move(done)](absl::Status s) mutable {
                       if (s.ok()) {
                         std::move(done)(std::move(r));
                       } else {
                         std::move(done)(std::move(s));
                       }
                     });
    };
  }
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
               absl::Duration ttl, WriteDone done, const ConcernRequest& concern) {
  Durably([&] { return store_.Set(key, value, pre, ttl); }, std::move(done), concern);
}

void Node::Delete(absl::string_view key, const Precondition& pre, WriteDone done,
                  const ConcernRequest& concern) {
  Durably([&] { return store_.Delete(key, pre); }, std::move(done), concern);
}

void Node::Update(const KeyValuesView& items, const std::vector<Precondition>& pres,
                  const std::vector<absl::Duration>& ttls, WriteDone done,
                  const ConcernRequest& concern) {
  Durably([&] { return store_.Update(items, pres, ttls); }, std::move(done), concern);
}

void Node::ApplyDelta(absl::string_view key, const FieldsView& delta, const Precondition& pre,
                      const FieldNamesView& remove, absl::Duration ttl, WriteDone done,
                      const ConcernRequest& concern) {
  Durably([&] { return store_.ApplyDelta(key, delta, pre, remove, ttl); }, std::move(done),
          concern);
}

void Node::Pop(absl::string_view key, WriteDone done, const ConcernRequest& concern) {
  Durably([&] { return store_.Pop(key); }, std::move(done), concern);
}

void Node::PopItem(WriteDone done, const ConcernRequest& concern) {
  Durably([&] { return store_.PopItem(); }, std::move(done), concern);
}

void Node::DeletePrefix(absl::string_view prefix, size_t max_keys, WriteDone done,
                        const ConcernRequest& concern) {
  Durably([&] { return store_.DeletePrefix(prefix, max_keys); }, std::move(done), concern);
}

void Node::Touch(absl::string_view key, absl::Duration ttl, WriteDone done,
                 const ConcernRequest& concern) {
  Durably([&] { return store_.Touch(key, ttl); }, std::move(done), concern);
}

absl::StatusOr<WriteResult> Node::Set(absl::string_view key, const ValueView& value,
                                      const Precondition& pre, absl::Duration ttl) {
  return Wait([&](WriteDone done) { Set(key, value, pre, ttl, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Delete(absl::string_view key, const Precondition& pre) {
  return Wait([&](WriteDone done) { Delete(key, pre, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Update(const KeyValuesView& items,
                                         const std::vector<Precondition>& pres,
                                         const std::vector<absl::Duration>& ttls) {
  return Wait([&](WriteDone done) { Update(items, pres, ttls, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::ApplyDelta(absl::string_view key, const FieldsView& delta,
                                             const Precondition& pre,
                                             const FieldNamesView& remove, absl::Duration ttl) {
  return Wait([&](WriteDone done) { ApplyDelta(key, delta, pre, remove, ttl, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Pop(absl::string_view key) {
  return Wait([&](WriteDone done) { Pop(key, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::PopItem() {
  return Wait([&](WriteDone done) { PopItem(std::move(done)); });
}

absl::StatusOr<WriteResult> Node::DeletePrefix(absl::string_view prefix, size_t max_keys) {
  return Wait([&](WriteDone done) { DeletePrefix(prefix, max_keys, std::move(done)); });
}

absl::StatusOr<WriteResult> Node::Touch(absl::string_view key, absl::Duration ttl) {
  return Wait([&](WriteDone done) { Touch(key, ttl, std::move(done)); });
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
        std::move(done), ConcernRequest{});
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
