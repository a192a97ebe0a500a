// Subprocess: a child process for tests, with its output captured to files.
//
//   Subprocess p({"/bin/echo", "hi"});
//   ASSERT_OK(p.Start());
//   int status = p.Wait();          // exit code, or 128 + signal
//   std::string out = p.Stdout();
//
// Not thread-safe; the destructor kills (SIGKILL) a child still running.
#ifndef MESHKV_TESTS_UTIL_SUBPROCESS_H_
#define MESHKV_TESTS_UTIL_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace meshkv::testing {

class Subprocess {
 public:
  explicit Subprocess(std::vector<std::string> argv,
                      std::map<std::string, std::string> extra_env = {});
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  absl::Status Start();
  bool running();
  void Signal(int sig);
  // Waits up to `timeout` for the child to exit; its exit code (128 +
  // signal when killed), or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout = absl::Seconds(30));
  pid_t pid() const { return pid_; }

  std::string Stdout() const;
  std::string Stderr() const;

 private:
  std::vector<std::string> argv_;
  std::map<std::string, std::string> env_;
  std::string dir_;  // holds the captured output
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// Runs a command to completion; returns {exit code, stdout, stderr}.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult Run(std::vector<std::string> argv, absl::Duration timeout = absl::Seconds(30),
              std::map<std::string, std::string> extra_env = {});

// A built binary: $MESHKV_BIN_DIR/name (set by CTest), else ./name.
std::string BinPath(const std::string& name);

// A fresh temporary directory, removed by nobody (tests are short-lived).
std::string TempDir();

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_SUBPROCESS_H_
