#include "server/write_concern.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/metrics.h"

namespace meshkv {
namespace {

std::string Nodes(uint32_t n) { return absl::StrCat(n, n == 1 ? " other node" : " other nodes"); }

}  // namespace

WriteConcern::WriteConcern(WriteConcernOptions options, MeshView mesh,
                           prometheus::Registry* registry)
    : options_(options), mesh_(std::move(mesh)) {
  if (registry != nullptr) {
    auto& writes = prometheus::BuildCounter()
                       .Name("meshkv_write_concern_writes_total")
                       .Help("Writes by the min_replicas they asked for (3+: three or more)")
                       .Register(*registry);
    const char* levels[] = {"0", "1", "2", "3+"};
    for (int i = 0; i < 4; ++i) by_level_[i] = &writes.Add({{"min_replicas", levels[i]}});
    auto& failed =
        prometheus::BuildCounter()
            .Name("meshkv_write_concern_failed_total")
            .Help("Writes with min_replicas > 0 that did not get their replicas, by reason")
            .Register(*registry);
    // Every reason from the first scrape: a bounded set.
    for (const char* reason : kFailureReasons) failed_[reason] = &failed.Add({{"reason", reason}});
    wait_seconds_ = &prometheus::BuildHistogram()
                         .Name("meshkv_write_concern_wait_seconds")
                         .Help("Time a write with min_replicas > 0 waited for acknowledgements")
                         .Register(*registry)
                         .Add({}, LatencyBuckets());
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

WriteConcern::~WriteConcern() {
  std::vector<Finished> finished;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Waiter& w : waiters_) {
      finished.push_back(
          {std::move(w.done),
           absl::UnavailableError("node is stopping before enough replicas acknowledged the write; "
                                  "it is applied on this node and may still spread")});
    }
    waiters_.clear();
    wake_.Signal();
  }
  timer_.join();
  Finish(std::move(finished));
}

void WriteConcern::Failed(const char* reason) {
  auto it = failed_.find(reason);
  if (it != failed_.end()) it->second->Increment();
}

absl::Status WriteConcern::Admit(uint32_t min_replicas) {
  if (by_level_[0] != nullptr) by_level_[std::min<uint32_t>(min_replicas, 3)]->Increment();
  if (min_replicas == 0) return absl::OkStatus();
  if (min_replicas > kMaxMinReplicas) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_replicas is ", min_replicas, "; the most a cluster can satisfy is ", kMaxMinReplicas));
  }
  const int established = mesh_.established_peers();
  const int known = mesh_.known_peers();
  if (established == 0) {
    Failed("unreachable");
    return absl::UnavailableError(absl::StrCat("min_replicas=", min_replicas,
                                               " cannot be met: this node has no peer connected "
                                               "(isolated); nothing was written"));
  }
  if (static_cast<uint32_t>(known) < min_replicas) {
    Failed("unreachable");
    return absl::UnavailableError(absl::StrCat("min_replicas=", min_replicas,
                                               " cannot be met: this node knows ", Nodes(known),
                                               "; nothing was written"));
  }
  return absl::OkStatus();
}

uint32_t WriteConcern::HoldersLocked(uint64_t seq) const {
  uint32_t n = 0;
  for (const auto& [node, mark] : marks_) n += mark >= seq;
  return n;
}

void WriteConcern::Wait(uint64_t seq, const ConcernRequest& request, Done done) {
  const absl::Time now = absl::Now();
  absl::Time deadline = std::min(request.deadline, now + options_.max_wait);
  // Answer a little early, so that our message (how many held it) beats
  // the client's own deadline.
  deadline -= std::min(absl::Milliseconds(50), (deadline - now) / 10);
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (HoldersLocked(seq) >= request.min_replicas) {
      refused = absl::OkStatus();
    } else if (stopping_ || waiters_.size() >= options_.max_waits) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "this node has ", options_.max_waits,
          " writes waiting for replicas, its limit: the write is applied on this node and may "
          "still spread; retry later or with a lower min_replicas"));
    } else {
      waiters_.push_back(
          {seq, request.min_replicas, now, deadline, request.cancelled, std::move(done)});
      wake_.Signal();  // the timer may need to wake sooner
      return;
    }
  }
  if (refused.ok()) {
    if (wait_seconds_ != nullptr) wait_seconds_->Observe(0);
  } else {
    Failed("too_many_waits");
  }
  std::move(done)(refused);
}

void WriteConcern::Acked(const std::vector<std::pair<std::string, uint64_t>>& marks) {
  std::vector<Finished> finished;
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [node, seq] : marks) {
      uint64_t& mark = marks_[node];
      mark = std::max(mark, seq);
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (HoldersLocked(it->seq) < it->min_replicas) {
        ++it;
        continue;
      }
      if (wait_seconds_ != nullptr)
        wait_seconds_->Observe(absl::ToDoubleSeconds(now - it->started));
      finished.push_back({std::move(it->done), absl::OkStatus()});
      it = waiters_.erase(it);
    }
  }
  Finish(std::move(finished));
}

size_t WriteConcern::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

void WriteConcern::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time wake = absl::InfiniteFuture();
    for (const Waiter& w : waiters_) {
      wake = std::min(wake, w.reply_by);
      if (w.cancelled) wake = std::min(wake, absl::Now() + kCancelPoll);
    }
    wake_.WaitWithDeadline(&mu_, wake);
    if (stopping_) break;
    const absl::Time now = absl::Now();
    std::vector<Finished> finished;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      absl::Status status;
      const char* reason = nullptr;
      if (it->cancelled && it->cancelled()) {
        reason = "cancelled";
        status = absl::CancelledError("the client cancelled while the write waited for replicas");
      } else if (now >= it->reply_by) {
        reason = "deadline";
        const uint32_t held = HoldersLocked(it->seq);
        status = absl::DeadlineExceededError(absl::StrCat(
            "min_replicas=", it->min_replicas, " not met before the deadline: ", Nodes(held),
            " acknowledged holding the write (", held, " of ", it->min_replicas,
            "); it is applied on this node and may still spread: treat its outcome as unknown"));
      } else {
        ++it;
        continue;
      }
      if (wait_seconds_ != nullptr)
        wait_seconds_->Observe(absl::ToDoubleSeconds(now - it->started));
      Failed(reason);
      finished.push_back({std::move(it->done), std::move(status)});
      it = waiters_.erase(it);
    }
    if (finished.empty()) continue;
    mu_.Unlock();
    Finish(std::move(finished));
    mu_.Lock();
  }
}

void WriteConcern::Finish(std::vector<Finished> finished) {
  for (Finished& f : finished) std::move(f.done)(std::move(f.status));
}

}  // namespace meshkv
