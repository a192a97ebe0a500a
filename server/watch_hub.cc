#include "server/watch_hub.h"

namespace meshkv {

WatchHub::WatchHub(Env* env) : env_(env), anchor_(std::make_shared<Anchor>()) {
  absl::MutexLock lock(&anchor_->mu);
  anchor_->hub = this;
}

WatchHub::~WatchHub() {
  Shutdown();
  // Waits for a dispatch running now; a later one finds no hub.
  absl::MutexLock lock(&anchor_->mu);
  anchor_->hub = nullptr;
}

bool WatchHub::Add(Stream* s, absl::Duration progress_every) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return false;
  streams_.insert(s);
  if (progress_every > absl::ZeroDuration()) {
    const int64_t every = absl::ToInt64Milliseconds(progress_every);
    const int64_t due = env_->clock()->NowMs() + every;
    progress_[s] = {every, due};
    progress_due_.insert({due, s});
  }
  absl::MutexLock count(&notify_mu_);
  ++watching_;
  // Commits while nobody watched scheduled nothing: catch up now.
  if (head_ > dispatched_) ScheduleLocked();
  return true;
}

void WatchHub::Remove(Stream* s) {
  absl::MutexLock lock(&mu_);
  if (streams_.erase(s) == 0) return;
  if (auto it = progress_.find(s); it != progress_.end()) {
    progress_due_.erase({it->second.due_ms, s});
    progress_.erase(it);
  }
  absl::MutexLock count(&notify_mu_);
  --watching_;
}

void WatchHub::Notify(uint64_t revision) {
  absl::MutexLock lock(&notify_mu_);
  if (revision > head_) head_ = revision;
  // With nobody watching, writes schedule nothing at all.
  if (watching_ > 0 && head_ > dispatched_) ScheduleLocked();
}

void WatchHub::ScheduleLocked() {
  if (scheduled_) return;
  scheduled_ = true;
  env_->Schedule([anchor = anchor_] {
    absl::MutexLock lock(&anchor->mu);
    if (anchor->hub != nullptr) anchor->hub->Dispatch();
  });
}

void WatchHub::Dispatch() {
  uint64_t head;
  {
    absl::MutexLock lock(&notify_mu_);
    scheduled_ = false;
    head = dispatched_ = head_;
  }
  absl::MutexLock lock(&mu_);
  for (Stream* s : streams_) s->OnAdvance(head);
}

void WatchHub::Tick() {
  const int64_t now = env_->clock()->NowMs();
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  while (!progress_due_.empty() && progress_due_.begin()->first <= now) {
    Stream* s = progress_due_.begin()->second;
    progress_due_.erase(progress_due_.begin());
    Progress& p = progress_[s];
    p.due_ms = now + p.every_ms;
    progress_due_.insert({p.due_ms, s});
    s->OnProgress();
  }
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

}  // namespace meshkv
