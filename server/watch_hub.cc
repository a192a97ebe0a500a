#include "server/watch_hub.h"

#include <vector>

namespace meshkv {

WatchHub::WatchHub() : dispatcher_([this] { Run(); }) {}

WatchHub::~WatchHub() {
  Shutdown();
  {
    absl::MutexLock lock(&notify_mu_);
    stop_ = true;
  }
  dispatcher_.join();
}

bool WatchHub::Add(Stream* s) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return false;
  streams_.insert(s);
  absl::MutexLock count(&notify_mu_);
  ++watching_;
  return true;
}

void WatchHub::Remove(Stream* s) {
  absl::MutexLock lock(&mu_);
  if (streams_.erase(s) == 0) return;
  absl::MutexLock count(&notify_mu_);
  --watching_;
}

void WatchHub::Notify(uint64_t revision) {
  absl::MutexLock lock(&notify_mu_);
  if (revision > head_) head_ = revision;
}

void WatchHub::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  for (Stream* s : streams_) s->OnShutdown();
}

size_t WatchHub::size() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void WatchHub::Run() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t head;
    {
      absl::MutexLock lock(&notify_mu_);
      // With nobody watching, writes do not wake this thread at all.
      auto woken = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(notify_mu_) {
        return stop_ || (watching_ > 0 && head_ > seen);
      };
      notify_mu_.Await(absl::Condition(&woken));
      if (stop_) return;
      head = head_;
    }
    seen = head;
    absl::MutexLock lock(&mu_);
    for (Stream* s : streams_) s->OnAdvance(head);
  }
}

}  // namespace meshkv
