// InterruptHandler: turns SIGINT and SIGTERM into a call on a thread of its
// own, so that a command blocked in a gRPC read (watch) can cancel the call
// and exit cleanly instead of dying from the signal.
//
//   grpc::ClientContext ctx;
//   InterruptHandler interrupt([&ctx] { ctx.TryCancel(); });
//   ... start the call, read until it ends ...
//   if (interrupt.interrupted()) return kExitOk;
//
// How: the constructor blocks the signals in the calling thread, and threads
// inherit the mask, so it must run before gRPC starts any thread (before the
// first channel). A dedicated thread sigwait()s for them. A second signal
// exits at once (130), in case the first did not end the command. The
// destructor stops the thread and restores the mask.
#ifndef MESHKV_CLIENTS_CLI_INTERRUPT_H_
#define MESHKV_CLIENTS_CLI_INTERRUPT_H_

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace meshkv::cli {

class InterruptHandler {
 public:
  explicit InterruptHandler(std::function<void()> on_interrupt);
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

  // True once SIGINT or SIGTERM arrived (and on_interrupt ran or is running).
  bool interrupted() const { return interrupted_.load(); }

 private:
  void Run();

  // Constant after construction
  const std::function<void()> on_interrupt_;
  sigset_t old_mask_;
  std::atomic<bool> interrupted_{false};
  std::thread thread_;  // last: started once the fields above are ready
};

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_INTERRUPT_H_
