#include "tools/bench/storage_bench.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "tools/bench/histogram.h"

namespace meshkv::bench {
namespace {

namespace fs = std::filesystem;
namespace wire = ::meshkv::mesh::v1;
using storage::DataDir;
using storage::EngineKind;
using storage::FsyncMode;

const storage::Identity kIdentity{"bench", "n1", true};

absl::Status ErrnoError(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

wire::Record MakeRecord(const std::string& key, uint64_t hlc, const std::string& value) {
  wire::Record r;
  r.set_key(key);
  r.set_kind(wire::Record::BYTES);
  r.mutable_version()->set_hlc(hlc);
  r.mutable_version()->set_origin("n1");
  r.set_bytes(value);
  return r;
}

double Micros(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string RandomValue(std::mt19937_64& rng, size_t bytes) {
  std::string v(bytes, '\0');
  for (char& c : v) c = static_cast<char>(rng());
  return v;
}

// VmRSS and VmHWM of this process, KiB.
void ReadRss(int64_t* rss_kib, int64_t* hwm_kib) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2) continue;
    if (parts[0] == "VmRSS:") (void)absl::SimpleAtoi(parts[1], rss_kib);
    if (parts[0] == "VmHWM:") (void)absl::SimpleAtoi(parts[1], hwm_kib);
  }
}

int64_t DiskBytes(const std::string& dir) {
  int64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += static_cast<int64_t>(e.file_size());
  }
  return bytes;
}

// Writes back and drops every file of `dir` from the page cache, so that the
// next open reads from the disk, as after a machine restart.
absl::Status EvictFromPageCache(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(absl::StrCat("open ", e.path().string()));
    ::fdatasync(fd);
    const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    if (rc != 0) {
      return absl::UnavailableError(absl::StrCat("fadvise ", e.path().string(), ": ",
                                                 std::strerror(rc)));
    }
  }
  return absl::OkStatus();
}

struct ChildResult {
  double open_seconds = 0, load_seconds = 0;
  uint64_t records = 0;
  int64_t rss_kib = 0, hwm_kib = 0, baseline_kib = 0;
};

absl::StatusOr<ChildResult> RunChild(const StorageBenchConfig& c, const std::string& dir,
                                     EngineKind engine) {
  const std::string cmd = absl::StrCat("'", c.self_exe, "' --recover-child='", dir,
                                       "' --engines=", storage::EngineName(engine));
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return ErrnoError("popen");
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int rc = ::pclose(p);
  if (rc != 0) return absl::InternalError(absl::StrCat("recovery child failed: ", out));
  std::vector<std::string> f = absl::StrSplit(out, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  ChildResult r;
  if (f.size() != 6 || !absl::SimpleAtod(f[0], &r.open_seconds) ||
      !absl::SimpleAtod(f[1], &r.load_seconds) || !absl::SimpleAtoi(f[2], &r.records) ||
      !absl::SimpleAtoi(f[3], &r.rss_kib) || !absl::SimpleAtoi(f[4], &r.hwm_kib) ||
      !absl::SimpleAtoi(f[5], &r.baseline_kib)) {
    return absl::InternalError(absl::StrCat("recovery child printed \"", out, "\""));
  }
  return r;
}

}  // namespace

absl::StatusOr<FsyncFloor> MeasureFsyncFloor(const StorageBenchConfig& c) {
  const std::string path = absl::StrCat(c.dir, "/fdatasync-floor");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(absl::StrCat("create ", path));
  // One log record's worth: key, value and framing.
  const std::string record(c.value_bytes + 40, 'r');
  LatencyHistogram h;
  const absl::Time start = absl::Now();
  const absl::Time end = start + c.duration;
  absl::Time now = start;
  while (now < end) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      absl::Status s = ErrnoError(absl::StrCat("write+fdatasync ", path));
      ::close(fd);
      return s;
    }
    const absl::Time after = absl::Now();
    h.Record(static_cast<uint64_t>(absl::ToInt64Nanoseconds(after - now)));
    now = after;
  }
  ::close(fd);
  fs::remove(path);
  FsyncFloor f;
  f.ops_per_second = static_cast<double>(h.count()) / absl::ToDoubleSeconds(now - start);
  f.p50_us = Micros(h.ValueAtPercentile(50));
  f.p99_us = Micros(h.ValueAtPercentile(99));
  return f;
}

absl::StatusOr<WriteResult> MeasureWrites(const StorageBenchConfig& c, EngineKind engine,
                                          FsyncMode fsync, int writers) {
  const std::string path = absl::StrCat(c.dir, "/writes-", storage::EngineName(engine), "-",
                                        storage::FsyncModeName(fsync), "-", writers);
  storage::DataDirOptions o;
  o.engine = engine;
  o.fsync = fsync;
  o.fsync_interval = c.fsync_interval;
  absl::StatusOr<std::unique_ptr<DataDir>> opened = DataDir::Open(path, kIdentity, o);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<DataDir> dir = std::move(*opened);

  std::atomic<bool> stop{false};
  std::vector<LatencyHistogram> hists(writers);
  std::vector<absl::Status> errors(writers);
  const storage::DataDirStats before = dir->Stats();
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(static_cast<uint64_t>(w) + 1);
      std::vector<std::string> values;
      for (int i = 0; i < 64; ++i) values.push_back(RandomValue(rng, c.value_bytes));
      for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string& value = values[i % values.size()];
        const absl::Time t0 = absl::Now();
        absl::StatusOr<DataDir::Token> t =
            dir->Append({MakeRecord(absl::StrFormat("w%d/%010d", w, i), i + 1, value)});
        absl::Status s = t.ok() ? dir->WaitDurable(*t) : t.status();
        if (!s.ok()) {
          errors[w] = s;
          return;
        }
        hists[w].Record(static_cast<uint64_t>(absl::ToInt64Nanoseconds(absl::Now() - t0)));
      }
    });
  }
  absl::SleepFor(c.duration);
  stop.store(true);
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const storage::DataDirStats after = dir->Stats();
  dir.reset();
  fs::remove_all(path);
  for (const absl::Status& s : errors) {
    if (!s.ok()) return s;
  }
  LatencyHistogram all;
  for (const LatencyHistogram& h : hists) all.Merge(h);
  WriteResult r;
  r.engine = engine;
  r.fsync = fsync;
  r.writers = writers;
  r.ops_per_second = static_cast<double>(all.count()) / seconds;
  r.p50_us = Micros(all.ValueAtPercentile(50));
  r.p99_us = Micros(all.ValueAtPercentile(99));
  const uint64_t fsyncs = after.fsyncs - before.fsyncs;
  if (fsyncs > 0) {
    r.records_per_fsync =
        static_cast<double>(after.records_appended - before.records_appended) / fsyncs;
  }
  return r;
}

absl::StatusOr<RecoveryResult> MeasureRecovery(const StorageBenchConfig& c, EngineKind engine) {
  const std::string path = absl::StrCat(c.dir, "/recovery-", storage::EngineName(engine));
  RecoveryResult r;
  r.engine = engine;
  r.keys = c.recovery_keys;
  {
    storage::DataDirOptions o;
    o.engine = engine;
    o.fsync = FsyncMode::kNever;
    absl::StatusOr<std::unique_ptr<DataDir>> dir = DataDir::Open(path, kIdentity, o);
    if (!dir.ok()) return dir.status();
    std::mt19937_64 rng(1);
    const absl::Time start = absl::Now();
    constexpr uint64_t kBatch = 1000;
    std::vector<wire::Record> batch;
    for (uint64_t i = 0; i < c.recovery_keys; i += kBatch) {
      batch.clear();
      for (uint64_t k = i; k < std::min(i + kBatch, c.recovery_keys); ++k) {
        batch.push_back(
            MakeRecord(absl::StrFormat("key/%010d", k), k + 1, RandomValue(rng, c.value_bytes)));
      }
      absl::StatusOr<DataDir::Token> t = (*dir)->Append(batch);
      if (!t.ok()) return t.status();
    }
    r.write_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  }
  r.disk_bytes = DiskBytes(path);
  absl::Status evicted = EvictFromPageCache(path);
  if (!evicted.ok()) return evicted;
  absl::StatusOr<ChildResult> replay = RunChild(c, path, engine);
  if (!replay.ok()) return replay.status();
  evicted = EvictFromPageCache(path);
  if (!evicted.ok()) return evicted;
  absl::StatusOr<ChildResult> cold = RunChild(c, path, engine);
  if (!cold.ok()) return cold.status();
  absl::StatusOr<ChildResult> warm = RunChild(c, path, engine);
  if (!warm.ok()) return warm.status();
  for (const ChildResult* run : {&*replay, &*cold, &*warm}) {
    if (run->records != c.recovery_keys) {
      return absl::InternalError(
          absl::StrCat("recovered ", run->records, " records of ", c.recovery_keys));
    }
  }
  r.replay_open_seconds = replay->open_seconds;
  r.replay_load_seconds = replay->load_seconds;
  r.cold_open_seconds = cold->open_seconds;
  r.cold_load_seconds = cold->load_seconds;
  r.warm_open_seconds = warm->open_seconds;
  r.warm_load_seconds = warm->load_seconds;
  r.rss_kib = warm->rss_kib;
  r.peak_rss_kib = warm->hwm_kib;
  r.baseline_rss_kib = warm->baseline_kib;
  fs::remove_all(path);
  return r;
}

int RunRecoveryChild(const std::string& dir, EngineKind engine) {
  ChildResult r;
  int64_t unused = 0;
  ReadRss(&r.baseline_kib, &unused);
  storage::DataDirOptions o;
  o.engine = engine;
  o.fsync = FsyncMode::kNever;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<DataDir>> d = DataDir::Open(dir, kIdentity, o);
  if (!d.ok()) {
    std::fprintf(stderr, "open: %s\n", d.status().ToString().c_str());
    return 1;
  }
  const absl::Time opened = absl::Now();
  absl::Status s = (*d)->Load([&](const wire::Record&) {
    ++r.records;
    return absl::OkStatus();
  });
  if (!s.ok()) {
    std::fprintf(stderr, "load: %s\n", s.ToString().c_str());
    return 1;
  }
  r.open_seconds = absl::ToDoubleSeconds(opened - start);
  r.load_seconds = absl::ToDoubleSeconds(absl::Now() - opened);
  ReadRss(&r.rss_kib, &r.hwm_kib);
  std::printf("%.4f %.4f %llu %lld %lld %lld\n", r.open_seconds, r.load_seconds,
              static_cast<unsigned long long>(r.records), static_cast<long long>(r.rss_kib),
              static_cast<long long>(r.hwm_kib), static_cast<long long>(r.baseline_kib));
  return 0;
}

int RunStorageBench(const StorageBenchConfig& c) {
  std::error_code ec;
  fs::create_directories(c.dir, ec);
  if (ec) {
    std::fprintf(stderr, "create %s: %s\n", c.dir.c_str(), ec.message().c_str());
    return 1;
  }
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "meshkv-storage-bench: %s\n", s.ToString().c_str());
    return 1;
  };
  std::printf("meshkv-storage-bench: dir %s, %zu-byte values, %s per write measurement, "
              "fsync interval %s, %u cores\n\n",
              c.dir.c_str(), c.value_bytes, absl::FormatDuration(c.duration).c_str(),
              absl::FormatDuration(c.fsync_interval).c_str(),
              std::thread::hardware_concurrency());

  // Rounds: the floor, then every cell; the median round of each is reported.
  std::vector<FsyncFloor> floors;
  std::vector<std::vector<WriteResult>> cells;  // [cell][round]
  for (int round = 0; round < std::max(c.rounds, 1); ++round) {
    absl::StatusOr<FsyncFloor> floor = MeasureFsyncFloor(c);
    if (!floor.ok()) return fail(floor.status());
    floors.push_back(*floor);
    size_t cell = 0;
    for (EngineKind engine : c.engines) {
      for (FsyncMode fsync : c.fsync_modes) {
        for (int writers : c.writers) {
          absl::StatusOr<WriteResult> r = MeasureWrites(c, engine, fsync, writers);
          if (!r.ok()) return fail(r.status());
          if (cells.size() <= cell) cells.emplace_back();
          cells[cell++].push_back(*r);
        }
      }
    }
    std::fprintf(stderr, "round %d of %d done\n", round + 1, c.rounds);
  }
  auto median = [](auto v, auto key) {
    std::sort(v.begin(), v.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
    return v[v.size() / 2];
  };
  auto ops = [](const auto& r) { return r.ops_per_second; };
  std::string floor_rounds;
  for (const FsyncFloor& f : floors) {
    absl::StrAppend(&floor_rounds, floor_rounds.empty() ? "" : ", ",
                    absl::StrFormat("%.0f", f.ops_per_second));
  }
  const FsyncFloor floor = median(floors, ops);
  std::printf("fdatasync floor (plain file, one append + fdatasync per op, 1 writer): "
              "%.0f ops/s, p50 %.0f us, p99 %.0f us (median of %zu rounds: %s ops/s)\n\n",
              floor.ops_per_second, floor.p50_us, floor.p99_us, floors.size(),
              floor_rounds.c_str());

  std::printf("| engine | fsync | writers | writes/s | x floor | p50 us | p99 us | "
              "records/fsync | writes/s by round |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
  for (const std::vector<WriteResult>& rounds : cells) {
    const WriteResult r = median(rounds, ops);
    std::string by_round;
    for (const WriteResult& x : rounds) {
      absl::StrAppend(&by_round, by_round.empty() ? "" : ", ",
                      absl::StrFormat("%.0f", x.ops_per_second));
    }
    std::printf("| %s | %s | %d | %.0f | %.2f | %.0f | %.0f | %s | %s |\n",
                std::string(storage::EngineName(r.engine)).c_str(),
                std::string(storage::FsyncModeName(r.fsync)).c_str(), r.writers,
                r.ops_per_second, r.ops_per_second / floor.ops_per_second, r.p50_us, r.p99_us,
                r.records_per_fsync > 0 ? absl::StrFormat("%.1f", r.records_per_fsync).c_str()
                                        : "-",
                by_round.c_str());
  }
  std::fflush(stdout);

  if (c.recovery_keys == 0) return 0;
  std::printf("\nrecovery of %llu keys (%zu-byte values), in a fresh process:\n\n",
              static_cast<unsigned long long>(c.recovery_keys), c.value_bytes);
  std::printf("| engine | write s | disk MiB | bytes/key | replay open s | replay load s | "
              "cold open s | cold load s | warm open s | warm load s | RSS MiB (before open) | "
              "peak RSS MiB |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (EngineKind engine : c.engines) {
    absl::StatusOr<RecoveryResult> r = MeasureRecovery(c, engine);
    if (!r.ok()) return fail(r.status());
    std::printf("| %s | %.2f | %.1f | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f (%.1f) "
                "| %.1f |\n",
                std::string(storage::EngineName(engine)).c_str(), r->write_seconds,
                r->disk_bytes / 1048576.0, static_cast<double>(r->disk_bytes) / r->keys,
                r->replay_open_seconds, r->replay_load_seconds, r->cold_open_seconds,
                r->cold_load_seconds, r->warm_open_seconds, r->warm_load_seconds,
                r->rss_kib / 1024.0, r->baseline_rss_kib / 1024.0, r->peak_rss_kib / 1024.0);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace meshkv::bench
