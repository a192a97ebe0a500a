#include "clients/cli/interrupt.h"

#include <pthread.h>
#include <unistd.h>

#include <utility>

namespace meshkv::cli {
namespace {

// SIGUSR1 is not an interrupt: the destructor sends it to stop the thread.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

InterruptHandler::InterruptHandler(std::function<void()> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {
  const sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  thread_ = std::thread([this] { Run(); });
}

InterruptHandler::~InterruptHandler() {
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptHandler::Run() {
  const sigset_t set = HandledSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0 || sig == SIGUSR1) return;
    if (interrupted_.exchange(true)) _exit(128 + SIGINT);
    on_interrupt_();
  }
}

}  // namespace meshkv::cli
