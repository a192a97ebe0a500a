// meshkv-storage-bench: the data directory's engines side by side on this
// disk (see storage_bench.h for what is measured). Parses flags and hands
// over to RunStorageBench().
//
//   meshkv-storage-bench --dir=/var/tmp/sb --duration=3s --recovery-keys=1000000
//
// Flags are spelled with dashes (--recovery-keys); underscores work too.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/dashed_flags.h"
#include "tools/bench/storage_bench.h"

ABSL_FLAG(std::string, dir, "",
          "Where to write (on the disk to measure). Default: a new directory under $TMPDIR "
          "(else /var/tmp), removed at the end.");
ABSL_FLAG(std::string, engines, "rocksdb,leveldb", "Engines to compare.");
ABSL_FLAG(std::string, fsync, "always,interval,never", "fsync modes to compare.");
ABSL_FLAG(std::string, writers, "1,4,16", "Numbers of concurrent writers.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(2), "Length of each write measurement.");
ABSL_FLAG(int, rounds, 3, "Rounds of write measurements; the median round is reported.");
ABSL_FLAG(absl::Duration, fsync_interval, absl::Milliseconds(100), "For --fsync=interval.");
ABSL_FLAG(uint64_t, value_size, 100, "Value size in bytes.");
ABSL_FLAG(uint64_t, recovery_keys, 1000000, "Keys in the recovery measurement (0: skip it).");
ABSL_FLAG(std::string, recover_child, "",
          "Internal: open and load this directory, print the figures, exit.");

namespace {

using meshkv::storage::EngineKind;
using meshkv::storage::FsyncMode;

int Usage(const std::string& what) {
  std::fprintf(stderr, "meshkv-storage-bench: %s\n", what.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  meshkv::ParseDashedCommandLine(
      argc, argv,
      "meshkv-storage-bench: RocksDB vs LevelDB x fsync always/interval/never on this disk:\n"
      "writes/s by concurrent writers, the fdatasync floor, recovery of --recovery-keys keys.",
      "storage_bench_main.cc");
  meshkv::bench::StorageBenchConfig c;
  c.engines.clear();
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_engines), ',')) {
    std::optional<EngineKind> e = meshkv::storage::ParseEngineKind(name);
    if (!e) return Usage(absl::StrCat("unknown engine \"", name, "\""));
    c.engines.push_back(*e);
  }
  if (!absl::GetFlag(FLAGS_recover_child).empty()) {
    return meshkv::bench::RunRecoveryChild(absl::GetFlag(FLAGS_recover_child), c.engines[0]);
  }
  c.fsync_modes.clear();
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_fsync), ',')) {
    std::optional<FsyncMode> m = meshkv::storage::ParseFsyncMode(name);
    if (!m) return Usage(absl::StrCat("unknown fsync mode \"", name, "\""));
    c.fsync_modes.push_back(*m);
  }
  c.writers.clear();
  for (absl::string_view n : absl::StrSplit(absl::GetFlag(FLAGS_writers), ',')) {
    int w = 0;
    if (!absl::SimpleAtoi(n, &w) || w < 1) return Usage(absl::StrCat("bad writers \"", n, "\""));
    c.writers.push_back(w);
  }
  c.duration = absl::GetFlag(FLAGS_duration);
  c.rounds = absl::GetFlag(FLAGS_rounds);
  c.fsync_interval = absl::GetFlag(FLAGS_fsync_interval);
  c.value_bytes = absl::GetFlag(FLAGS_value_size);
  c.recovery_keys = absl::GetFlag(FLAGS_recovery_keys);
  c.self_exe = std::filesystem::read_symlink("/proc/self/exe").string();

  bool remove_dir = false;
  c.dir = absl::GetFlag(FLAGS_dir);
  if (c.dir.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string tmpl = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/var/tmp",
                                    "/meshkv-storage-bench.XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) return Usage(absl::StrCat("mkdtemp ", tmpl));
    c.dir = tmpl;
    remove_dir = true;
  }
  const int rc = meshkv::bench::RunStorageBench(c);
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(c.dir, ec);
  }
  return rc;
}
