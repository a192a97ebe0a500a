// Certificates for tests, made by scripts/certs.sh (the same script users
// run) in a fresh temporary directory.
//
//   TestCerts certs;                                   // a new temp dir
//   ASSERT_OK(certs.Run({"create-ca", "--certs-dir", certs.Path("ca")}));
//   std::string n1 = certs.Path("n1");                 // <tmp>/n1
//
// The test target defines MESHKV_CERTS_SH (the script's path). Not
// thread-safe; nothing is removed afterwards (tests are short-lived).
#ifndef MESHKV_TESTS_UTIL_TEST_CERTS_H_
#define MESHKV_TESTS_UTIL_TEST_CERTS_H_

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace meshkv::testing {

class TestCerts {
 public:
  TestCerts() {
    const char* base = getenv("TMPDIR");
    std::string pattern = absl::StrCat(base ? base : "/tmp", "/meshkv-certs-XXXXXX");
    dir_ = mkdtemp(pattern.data()) ? pattern : "/tmp";
  }

  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Runs scripts/certs.sh with `args`; INTERNAL with its output on failure.
  absl::Status Run(const std::vector<std::string>& args) const {
    std::string cmd = Quote(MESHKV_CERTS_SH);
    for (const auto& a : args) absl::StrAppend(&cmd, " ", Quote(a));
    return Shell(cmd);
  }

  // Runs a bash command line (for certificates certs.sh will not make).
  static absl::Status Shell(const std::string& command) {
    const std::string cmd = absl::StrCat("bash -c ", Quote(command), " 2>&1");
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return absl::InternalError("popen failed");
    std::string out;
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    const int status = pclose(p);
    if (status != 0) return absl::InternalError(absl::StrCat(command, " failed: ", out));
    return absl::OkStatus();
  }

  static std::string Quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
      if (c == '\'') {
        q += "'\\''";
      } else {
        q += c;
      }
    }
    return q + "'";
  }

 private:
  std::string dir_;
};

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_UTIL_TEST_CERTS_H_
