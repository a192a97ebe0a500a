#include "server/durability_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log.h"
#include "store/wire_convert.h"

namespace meshkv {

DurabilityLog::DurabilityLog(storage::DataDir* dir, size_t max_queued_bytes)
    : dir_(dir), max_queued_bytes_(max_queued_bytes), thread_([this] { Run(); }) {}

DurabilityLog::~DurabilityLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void DurabilityLog::OnCommit(const Commit& c) {
  absl::Status s = dir_->ReserveRevisions(c.revision);
  if (!s.ok()) {
    Enqueue({}, s);
    return;
  }
  meshkv::mesh::v1::Record state;
  RecordToWire(*c.next, c.origins, &state);
  absl::StatusOr<storage::EngineOp> op = storage::DataDir::EncodeRecord(state);
  if (!op.ok()) {
    Enqueue({}, op.status());
    return;
  }
  Enqueue(*std::move(op), absl::OkStatus());
}

void DurabilityLog::OnTombstonesCollected(const std::vector<std::string>& keys) {
  for (const std::string& k : keys) Enqueue(storage::DataDir::EncodeForget(k), absl::OkStatus());
}

void DurabilityLog::Enqueue(storage::EngineOp op, absl::Status failed) {
  // A write waiting for the disk also holds its gRPC call, request and
  // response: count them, so that the cap bounds how many writes wait.
  constexpr size_t kPerChangeBytes = 1024;
  const size_t bytes = op.key.size() + (op.value ? op.value->size() : 0) + kPerChangeBytes;
  absl::MutexLock lock(&mu_);
  // Under the store's lock: a full queue holds back the store's commits
  // until the log thread has written a batch (it never takes that lock).
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queued_bytes_ + writing_bytes_ < max_queued_bytes_ || stopping_;
  };
  mu_.Await(absl::Condition(&room));
  const Seq seq = enqueued_.load(std::memory_order_relaxed) + 1;
  queue_.push_back({seq, std::move(op), std::move(failed)});
  queued_bytes_ += bytes;
  enqueued_.store(seq, std::memory_order_release);
}

void DurabilityLog::WhenDurable(Seq since, Done done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    Waiter w{since, enqueued_.load(std::memory_order_relaxed), nullptr};
    if (w.target > done_) {
      w.done = std::move(done);
      waiters_.push_back(std::move(w));
      return;
    }
    status = StatusFor(w);
  }
  std::move(done)(std::move(status));
}

absl::Status DurabilityLog::WaitDurable(Seq since) {
  absl::Notification notified;
  absl::Status out;
  WhenDurable(since, [&](absl::Status s) {
    out = std::move(s);
    notified.Notify();
  });
  notified.WaitForNotification();
  return out;
}

absl::Status DurabilityLog::StatusFor(const Waiter& w) const {
  if (last_failed_ <= w.since) return absl::OkStatus();
  return last_failure_;
}

void DurabilityLog::Run() {
  std::vector<Change> batch;
  std::vector<storage::EngineOp> ops;
  std::vector<Completion> completions;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || stopping_; };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and everything written
      batch.swap(queue_);
      writing_bytes_ = std::exchange(queued_bytes_, 0);
    }
    bool had_forgets = false;
    absl::Status s = WriteBatch(batch, ops, &had_forgets);
    if (!s.ok() && had_forgets) {
      // The tombstones stay on disk and come back at the next start, where
      // they are past the retention and forgotten then.
      LogWarning("data directory: could not forget collected tombstones",
                 {{"error", s.ToString()}});
    }
    {
      absl::MutexLock lock(&mu_);
      for (const Change& c : batch) {
        if (!c.failed.ok()) {
          last_failed_ = c.seq;
          last_failure_ = absl::Status(
              c.failed.code(), absl::StrCat("the write is in memory but not on disk (its outcome "
                                            "is unknown; it may still replicate): ",
                                            c.failed.message()));
        }
      }
      if (!s.ok()) {
        last_failed_ = batch.back().seq;
        last_failure_ = std::move(s);
      }
      done_ = batch.back().seq;
      writing_bytes_ = 0;
      while (!waiters_.empty() && waiters_.front().target <= done_) {
        completions.push_back({StatusFor(waiters_.front()), std::move(waiters_.front().done)});
        waiters_.pop_front();
      }
    }
    batches_.fetch_add(1, std::memory_order_relaxed);
    batch.clear();
    for (Completion& c : completions) std::move(c.done)(std::move(c.status));
    completions.clear();
  }
}

absl::Status DurabilityLog::WriteBatch(std::vector<Change>& batch,
                                       std::vector<storage::EngineOp>& ops, bool* had_forgets) {
  ops.clear();
  for (Change& c : batch) {
    if (!c.failed.ok()) continue;
    *had_forgets = *had_forgets || !c.op.value.has_value();
    ops.push_back(std::move(c.op));
  }
  if (ops.empty()) return absl::OkStatus();
  absl::StatusOr<storage::DataDir::Token> token = dir_->AppendEncoded(ops);
  if (!token.ok()) {
    return absl::Status(token.status().code(),
                        absl::StrCat("the write is in memory but not on disk (its outcome is "
                                     "unknown; it may still replicate): ",
                                     token.status().message()));
  }
  absl::Status s = dir_->WaitDurable(*token);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the write is in memory but its fsync failed (its "
                                               "outcome is unknown): ",
                                               s.message()));
  }
  return absl::OkStatus();
}

}  // namespace meshkv
