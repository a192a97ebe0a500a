// Faults against real processes and real files (label storage_slow):
// kill -9 of a writer mid-append, a torn log tail, a flipped byte, a full
// disk. The writer is storage_crash_writer, a separate process, so that the
// kill is a real crash and not a destructor.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/crash_writer_value.h"
#include "storage/data_dir.h"
#include "tests/util/status_matchers.h"
#include "tests/util/subprocess.h"
#include "tests/util/wait.h"

namespace meshkv::storage {
namespace {

namespace fs = std::filesystem;
using ::meshkv::testing::BinPath;
using ::meshkv::testing::StatusIs;
using ::meshkv::testing::Subprocess;
using ::meshkv::testing::WaitFor;
using ::testing::AnyOf;
using ::testing::HasSubstr;

const Identity kWriterIdentity{"crash", "writer", true};
constexpr size_t kValueBytes = 100;

std::string FreshDir() {
  std::string tmpl = "/tmp/data_dir_fault_test.XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

uint32_t Seed() {
  const char* s = getenv("MESHKV_TEST_SEED");
  uint32_t seed = 0;
  if (s == nullptr || !absl::SimpleAtoi(s, &seed)) seed = static_cast<uint32_t>(time(nullptr));
  std::cerr << "seed " << seed << " (MESHKV_TEST_SEED to replay)\n";
  return seed;
}

// key -> hlc of every complete "ack" line.
std::map<std::string, uint64_t> ParseAcks(const std::string& out) {
  std::map<std::string, uint64_t> acks;
  size_t end = out.rfind('\n');
  if (end == std::string::npos) return acks;
  for (absl::string_view line : absl::StrSplit(out.substr(0, end), '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    uint64_t hlc = 0;
    if (parts.size() == 3 && parts[0] == "ack" && absl::SimpleAtoi(parts[2], &hlc)) {
      acks[parts[1]] = hlc;
    }
  }
  return acks;
}

size_t CountAcks(const std::string& out) {
  size_t n = 0;
  for (size_t p = out.find("ack "); p != std::string::npos; p = out.find("ack ", p + 4)) ++n;
  return n;
}

// Opens `path` as the writer's directory and loads it; checks every value.
struct Loaded {
  absl::Status status;
  std::map<std::string, uint64_t> hlc;  // key -> hlc
};
Loaded LoadDir(const std::string& path, EngineKind engine, bool salvage = false) {
  DataDirOptions o;
  o.engine = engine;
  o.fsync = FsyncMode::kNever;
  o.salvage = salvage;
  Loaded out;
  absl::StatusOr<std::unique_ptr<DataDir>> dir = DataDir::Open(path, kWriterIdentity, o);
  if (!dir.ok()) {
    out.status = dir.status();
    return out;
  }
  out.status = (*dir)->Load([&](const wire::Record& r) {
    EXPECT_EQ(r.bytes(), CrashWriterValue(r.key(), kValueBytes)) << r.key();
    out.hlc[r.key()] = r.version().hlc();
    return absl::OkStatus();
  });
  return out;
}

// Runs the writer until at least `acks` acknowledgements, then kill -9.
std::map<std::string, uint64_t> WriteAndKill(const std::string& path, EngineKind engine,
                                             FsyncMode fsync, int writers, size_t acks) {
  Subprocess writer({BinPath("storage_crash_writer"), path, std::string(EngineName(engine)),
                     std::string(FsyncModeName(fsync)), absl::StrCat(writers), "0",
                     absl::StrCat(kValueBytes)});
  EXPECT_OK(writer.Start());
  EXPECT_TRUE(WaitFor([&] { return CountAcks(writer.Stdout()) >= acks || !writer.running(); },
                      absl::Seconds(120)))
      << writer.Stderr();
  EXPECT_TRUE(writer.running()) << writer.Stderr();
  writer.Signal(SIGKILL);
  EXPECT_EQ(writer.Wait(absl::Seconds(30)), 128 + SIGKILL);
  return ParseAcks(writer.Stdout());
}

// The newest write-ahead log of an engine directory.
std::string NewestLog(const std::string& engine_dir) {
  std::string best;
  for (const auto& e : fs::directory_iterator(engine_dir)) {
    if (e.path().extension() == ".log" && e.path().filename().string() != "LOG" &&
        e.path().filename().string() > fs::path(best).filename().string()) {
      best = e.path().string();
    }
  }
  return best;
}

std::string CopyOf(const std::string& src) {
  const std::string dst = absl::StrCat(FreshDir(), "/copy");
  fs::copy(src, dst, fs::copy_options::recursive);
  return dst;
}

// The keys of writer 0 that `loaded` holds are exactly w0-0..w0-(m-1).
bool IsPrefix(const std::map<std::string, uint64_t>& loaded, size_t* m) {
  *m = loaded.size();
  size_t i = 0;
  for (const auto& [key, hlc] : loaded) {
    if (key != absl::StrFormat("w0-%08d", i) || hlc != i + 1) return false;
    ++i;
  }
  return true;
}

class FaultTest : public ::testing::TestWithParam<EngineKind> {};

TEST_P(FaultTest, KillNineLosesNoAcknowledgedRecord) {
  std::mt19937 rng(Seed());
  for (FsyncMode fsync : {FsyncMode::kAlways, FsyncMode::kInterval}) {
    SCOPED_TRACE(FsyncModeName(fsync));
    const std::string path = absl::StrCat(FreshDir(), "/data");
    const size_t want = 200 + rng() % 800;
    std::map<std::string, uint64_t> acks = WriteAndKill(path, GetParam(), fsync, 4, want);
    ASSERT_GE(acks.size(), want);
    Loaded loaded = LoadDir(path, GetParam());
    ASSERT_OK(loaded.status);
    size_t missing = 0;
    for (const auto& [key, hlc] : acks) {
      auto it = loaded.hlc.find(key);
      if (it == loaded.hlc.end() || it->second != hlc) ++missing;
    }
    EXPECT_EQ(missing, 0u) << "of " << acks.size() << " acknowledged";
    EXPECT_GE(loaded.hlc.size(), acks.size());
  }
}

TEST_P(FaultTest, TornTailLeavesAConsistentPrefix) {
  std::mt19937 rng(Seed());
  const std::string path = absl::StrCat(FreshDir(), "/data");
  std::map<std::string, uint64_t> acks = WriteAndKill(path, GetParam(), FsyncMode::kNever, 1, 3000);
  const std::string log = NewestLog(absl::StrCat(path, "/", EngineName(GetParam())));
  ASSERT_FALSE(log.empty());
  const uintmax_t size = fs::file_size(log);
  ASSERT_GT(size, 100000u) << "the records should all be in the log";
  {
    Loaded whole = LoadDir(CopyOf(path), GetParam());
    ASSERT_OK(whole.status);
    size_t m = 0;
    EXPECT_TRUE(IsPrefix(whole.hlc, &m));
    EXPECT_GE(m, acks.size());
  }
  std::vector<uintmax_t> cuts = {0, size - 1, size / 2};
  for (int i = 0; i < 6; ++i) cuts.push_back(rng() % size);
  size_t previous = 0;
  std::sort(cuts.begin(), cuts.end());
  for (uintmax_t cut : cuts) {
    SCOPED_TRACE(absl::StrCat("log cut at ", cut, " of ", size));
    const std::string copy = CopyOf(path);
    fs::resize_file(fs::path(copy) / fs::relative(log, path), cut);
    Loaded loaded = LoadDir(copy, GetParam());
    ASSERT_OK(loaded.status);
    size_t m = 0;
    EXPECT_TRUE(IsPrefix(loaded.hlc, &m)) << "not a prefix: " << loaded.hlc.size() << " keys";
    EXPECT_GE(m, previous);  // a longer log never yields fewer records
    previous = m;
  }
  EXPECT_GT(previous, 0u);
}

TEST_P(FaultTest, FlippedByteIsDataLossAndSalvageKeepsWhatVerifies) {
  const std::string path = absl::StrCat(FreshDir(), "/data");
  std::map<std::string, uint64_t> acks = WriteAndKill(path, GetParam(), FsyncMode::kNever, 1, 3000);
  const std::string copy = CopyOf(path);
  const std::string log = (fs::path(copy) / fs::relative(NewestLog(absl::StrCat(
                                                            path, "/", EngineName(GetParam()))),
                                                        path))
                              .string();
  uintmax_t offset = fs::file_size(log) / 2;
  offset -= offset % 32768 > 32000 ? 1000 : 0;  // not in a block's trailing padding
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
  }
  Loaded strict = LoadDir(copy, GetParam());
  EXPECT_THAT(strict.status, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("salvage")));
  EXPECT_THAT(strict.status.message(), HasSubstr(fs::path(log).filename().string()))
      << "the message names the damaged file";
  Loaded salvaged = LoadDir(copy, GetParam(), /*salvage=*/true);
  ASSERT_OK(salvaged.status);
  EXPECT_LT(salvaged.hlc.size(), acks.size()) << "the damaged record cannot come back";
  EXPECT_GE(salvaged.hlc.size(), acks.size() / 2 - 1) << "the records before it do";
  // Salvaged, the directory opens normally from then on.
  EXPECT_OK(LoadDir(copy, GetParam()).status);
}

// The engine's table files (RocksDB *.sst, LevelDB *.ldb) of a directory.
std::vector<std::string> Tables(const std::string& engine_dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(engine_dir)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".sst" || ext == ".ldb") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void FlipByte(const std::string& file, uintmax_t offset) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c ^= 0x5a;
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  ASSERT_TRUE(f.good()) << file;
}

TEST_P(FaultTest, DamagedTableIsDataLossNamingItAndSalvageSetsItAside) {
  const std::string path = absl::StrCat(FreshDir(), "/data");
  std::map<std::string, uint64_t> acks = WriteAndKill(path, GetParam(), FsyncMode::kNever, 1, 3000);
  // Recovery writes the replayed log to a table.
  ASSERT_OK(LoadDir(path, GetParam()).status);
  const std::string engine_dir = absl::StrCat(path, "/", EngineName(GetParam()));
  std::vector<std::string> tables = Tables(engine_dir);
  ASSERT_EQ(tables.size(), 1u);
  const std::string copy = CopyOf(path);
  const std::string table = (fs::path(copy) / fs::relative(tables[0], path)).string();
  // In a data block (the first half of the file; the index and footer are at its end).
  FlipByte(table, fs::file_size(table) / 3);
  Loaded strict = LoadDir(copy, GetParam());
  EXPECT_THAT(strict.status, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("salvage")));
  EXPECT_THAT(strict.status.message(), HasSubstr(fs::path(table).filename().string()))
      << "the message names the damaged file";
  EXPECT_TRUE(strict.hlc.size() < acks.size()) << "the load stopped at the damage";
  // Salvage sets the table aside (in lost/): what loads verifies (LoadDir
  // checks every value), and the directory opens strictly again.
  Loaded salvaged = LoadDir(copy, GetParam(), /*salvage=*/true);
  ASSERT_OK(salvaged.status);
  EXPECT_LT(salvaged.hlc.size(), acks.size());
  EXPECT_FALSE(fs::exists(table));
  EXPECT_OK(LoadDir(copy, GetParam()).status);
}

// A full disk: a small tmpfs (needs root; skipped otherwise).
TEST_P(FaultTest, FullDiskIsResourceExhaustedAndRecovers) {
  const std::string mount = FreshDir();
  if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=8m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount};
  const std::string ballast = mount + "/ballast";
  {
    std::ofstream f(ballast, std::ios::binary);
    std::string mib(1 << 20, 'b');
    for (int i = 0; i < 2; ++i) f.write(mib.data(), static_cast<std::streamsize>(mib.size()));
  }
  const std::string path = mount + "/data";
  DataDirOptions o;
  o.engine = GetParam();
  o.fsync = FsyncMode::kAlways;
  std::map<std::string, std::string> acked;
  absl::Status failure;
  const std::string big(4096, 'v');
  {
    absl::StatusOr<std::unique_ptr<DataDir>> dir = DataDir::Open(path, kWriterIdentity, o);
    ASSERT_OK(dir);
    for (int i = 0; i < 100000 && failure.ok(); ++i) {
      wire::Record r;
      r.set_key(absl::StrFormat("k%08d", i));
      r.set_kind(wire::Record::BYTES);
      r.mutable_version()->set_hlc(1);
      r.set_bytes(big);
      absl::StatusOr<DataDir::Token> t = (*dir)->Append({r});
      failure = t.ok() ? (*dir)->WaitDurable(*t) : t.status();
      if (failure.ok()) acked[r.key()] = big;
    }
    EXPECT_THAT(failure, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("disk full")));
    ASSERT_GT(acked.size(), 10u);
    EXPECT_GE((*dir)->Stats().write_errors, 1u);
    // While the disk stays full, writes keep failing the same way (the
    // engine's resume with them), and nothing breaks.
    for (int i = 0; i < 3; ++i) {
      wire::Record r;
      r.set_key(absl::StrCat("still-full-", i));
      r.set_kind(wire::Record::BYTES);
      r.set_bytes(big);
      absl::StatusOr<DataDir::Token> t = (*dir)->Append({r});
      EXPECT_THAT(t.ok() ? (*dir)->WaitDurable(*t) : t.status(),
                  StatusIs(absl::StatusCode::kResourceExhausted));
    }
    // Reads keep working.
    size_t seen = 0;
    EXPECT_OK((*dir)->Load([&](const wire::Record&) {
      ++seen;
      return absl::OkStatus();
    }));
    EXPECT_GE(seen, acked.size());
    // Space returns: writes succeed again, without a restart.
    fs::remove(ballast);
    int attempt = 0;
    absl::Status last;
    EXPECT_TRUE(WaitFor(
        [&] {
          wire::Record r;
          r.set_key(absl::StrCat("after-", attempt++));
          r.set_kind(wire::Record::BYTES);
          r.set_bytes("ok");
          absl::StatusOr<DataDir::Token> t = (*dir)->Append({r});
          last = t.ok() ? (*dir)->WaitDurable(*t) : t.status();
          if (!last.ok()) return false;
          acked[r.key()] = "ok";
          return true;
        },
        absl::Seconds(20), absl::Milliseconds(100)))
        << "the last attempt: " << last;
  }
  absl::StatusOr<std::unique_ptr<DataDir>> dir = DataDir::Open(path, kWriterIdentity, o);
  ASSERT_OK(dir);
  std::map<std::string, std::string> loaded;
  ASSERT_OK((*dir)->Load([&](const wire::Record& r) {
    loaded[r.key()] = r.bytes();
    return absl::OkStatus();
  }));
  for (const auto& [key, value] : acked) {
    auto it = loaded.find(key);
    ASSERT_TRUE(it != loaded.end()) << key;
    EXPECT_EQ(it->second, value) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, FaultTest,
                         ::testing::Values(EngineKind::kRocksDb, EngineKind::kLevelDb),
                         [](const auto& info) { return std::string(EngineName(info.param)); });

}  // namespace
}  // namespace meshkv::storage
