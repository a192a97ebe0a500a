// The storage benchmark: storage::DataDir on RocksDB and on LevelDB, side by
// side, in one run on one disk (meshkv-storage-bench; docs/design.md,
// "Durability", has the figures).
//
// What it measures:
//   - the fdatasync floor of the disk: a plain file, one small write and one
//     fdatasync per operation, one writer (what a log that syncs every write
//     alone can do at best);
//   - writes/s and latency of Append + WaitDurable, one 100-byte record per
//     write, for each engine x fsync mode (always, interval, never) x number
//     of concurrent writers: group commit shows as fsync=always throughput
//     growing with writers, several records per fsync;
//   - recovery: a directory of N keys, written and closed, then opened and
//     loaded by a fresh process (so its RSS is the engine's alone, the records
//     counted and dropped) three times: first with the log of the last
//     writes to replay and the files evicted from the page cache
//     (posix_fadvise, as after a machine restart), then with nothing to
//     replay, cold, then warm.
// Values are random bytes (incompressible, as user data may be). Write
// measurements run in `rounds` interleaved rounds, the floor in each, and
// report the median round: the disk of a shared machine is noisy.
//
// Single-threaded driver; each measurement owns its directory under `dir`.
#ifndef MESHKV_TOOLS_BENCH_STORAGE_BENCH_H_
#define MESHKV_TOOLS_BENCH_STORAGE_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/data_dir.h"
#include "storage/engine.h"

namespace meshkv::bench {

struct StorageBenchConfig {
  std::string dir;  // a fresh directory on the disk to measure
  std::vector<storage::EngineKind> engines = {storage::EngineKind::kRocksDb,
                                              storage::EngineKind::kLevelDb};
  std::vector<storage::FsyncMode> fsync_modes = {
      storage::FsyncMode::kAlways, storage::FsyncMode::kInterval, storage::FsyncMode::kNever};
  std::vector<int> writers = {1, 4, 16};
  absl::Duration duration = absl::Seconds(2);  // per write measurement
  int rounds = 3;
  absl::Duration fsync_interval = absl::Milliseconds(100);
  size_t value_bytes = 100;
  uint64_t recovery_keys = 1000000;  // 0: no recovery measurement
  std::string self_exe;  // this program, run again for the recovery child
};

struct FsyncFloor {
  double ops_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

struct WriteResult {
  storage::EngineKind engine;
  storage::FsyncMode fsync;
  int writers = 0;
  double ops_per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
  double records_per_fsync = 0;  // 0 when no fsync ran
};

struct RecoveryResult {
  storage::EngineKind engine;
  uint64_t keys = 0;
  double write_seconds = 0;  // writing the keys in batches, fsync=never
  int64_t disk_bytes = 0;
  // Open (engine recovery) and Load (one scan) in a fresh process.
  double replay_open_seconds = 0, replay_load_seconds = 0;  // log to replay, cold
  double cold_open_seconds = 0, cold_load_seconds = 0;
  double warm_open_seconds = 0, warm_load_seconds = 0;
  int64_t rss_kib = 0;       // VmRSS after Load (warm run)
  int64_t peak_rss_kib = 0;  // VmHWM (warm run)
  int64_t baseline_rss_kib = 0;  // VmRSS of the same process before Open
};

absl::StatusOr<FsyncFloor> MeasureFsyncFloor(const StorageBenchConfig& c);
absl::StatusOr<WriteResult> MeasureWrites(const StorageBenchConfig& c, storage::EngineKind engine,
                                          storage::FsyncMode fsync, int writers);
absl::StatusOr<RecoveryResult> MeasureRecovery(const StorageBenchConfig& c,
                                               storage::EngineKind engine);

// The recovery child: opens `dir`, loads it, prints one line
// "open_s load_s records rss_kib hwm_kib baseline_rss_kib". Returns the exit code.
int RunRecoveryChild(const std::string& dir, storage::EngineKind engine);

// Runs everything in `c` and prints the tables (Markdown) on stdout.
int RunStorageBench(const StorageBenchConfig& c);

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_STORAGE_BENCH_H_
