#include "common/env.h"

#include <thread>
#include <utility>

namespace meshkv {
namespace {

// One worker thread running closures in order; lives as long as the process.
class DefaultEnv final : public Env {
 public:
  DefaultEnv() : worker_([this] { Run(); }) { worker_.detach(); }

  const Clock* clock() const override { return Clock::Real(); }

  void Schedule(std::function<void()> work) override {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(work));
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> work;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty(); };
        mu_.Await(absl::Condition(&ready));
        work = std::move(queue_.front());
        queue_.pop_front();
      }
      work();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::thread worker_;  // last: starts after the fields above exist
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new DefaultEnv();
  return env;
}

void ManualEnv::Schedule(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
}

size_t ManualEnv::RunPending() {
  size_t ran = 0;
  for (;;) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) return ran;
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
    ++ran;
  }
}

size_t ManualEnv::pending() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace meshkv
