// DurabilityLog against a real store and a real data directory (real files,
// real fsyncs): changes reach the disk in commit order, changes queued while
// a batch is written share the next batch and its one fsync, and a batch
// that fails fails every write waiting on it and no later one.
//
// The log thread runs completions; a completion that blocks holds the log
// thread between two batches, which is how these tests queue changes
// deterministically behind a batch.
#include "server/durability_log.h"

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/store.h"
#include "tests/util/status_matchers.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::StatusIs;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;

const storage::Identity kIdentity{"test", "n1", true};
constexpr int64_t kNowMs = 1'800'000'000'000;

std::string FreshDir() {
  std::string tmpl = "/tmp/durability_log_test.XXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

std::unique_ptr<storage::DataDir> OpenDir(const std::string& path, storage::FsyncMode mode) {
  storage::DataDirOptions o;
  o.fsync = mode;
  absl::StatusOr<std::unique_ptr<storage::DataDir>> dir =
      storage::DataDir::Open(path, kIdentity, o);
  EXPECT_TRUE(dir.ok()) << dir.status();
  return dir.ok() ? *std::move(dir) : nullptr;
}

// A store whose every commit goes through a DurabilityLog into `dir`.
struct LoggedStore {
  explicit LoggedStore(storage::DataDir* dir) : log(dir), store(Options(), &clock, {&log}) {}
  static StoreOptions Options() {
    StoreOptions o;
    o.node_id = "n1";
    return o;
  }

  void Set(const std::string& key, const std::string& value) {
    ASSERT_TRUE(store.Set(key, ValueView::Bytes(value)).ok());
  }
  // Holds the log thread in a completion until `release` is notified.
  // (A completion registered after its change is done runs inline, on
  // this thread: then it does not hold, and the next try does.)
  void HoldLogThread(absl::Notification* release) {
    const std::thread::id self = std::this_thread::get_id();
    for (;;) {
      const DurabilityLog::Seq since = log.enqueued();
      Set("hold", "x");
      bool ran_inline = false;  // touched only on this thread
      log.WhenDurable(since, [&ran_inline, self, this, release](absl::Status) {
        if (std::this_thread::get_id() == self) {
          ran_inline = true;
          return;
        }
        held.Notify();
        release->WaitForNotification();
      });
      if (!ran_inline) break;
    }
    held.WaitForNotification();
  }

  ManualClock clock{kNowMs};
  absl::Notification held;
  DurabilityLog log;
  Store store;
};

std::map<std::string, std::string> Load(storage::DataDir* dir) {
  std::map<std::string, std::string> out;
  EXPECT_OK(dir->Load([&](const meshkv::mesh::v1::Record& r) {
    out[r.key()] = r.bytes();
    return absl::OkStatus();
  }));
  return out;
}

TEST(DurabilityLogTest, ChangesReachTheDiskInCommitOrder) {
  const std::string path = FreshDir();
  std::map<std::string, std::string> last;
  {
    std::unique_ptr<storage::DataDir> dir = OpenDir(path, storage::FsyncMode::kNever);
    ASSERT_NE(dir, nullptr);
    LoggedStore s(dir.get());
    // Many changes of few keys, in batches of every size the log thread
    // happens to take: the last change of each key is what is stored.
    for (int i = 0; i < 3000; ++i) {
      const std::string key = absl::StrCat("k", i % 7), value = absl::StrCat("v", i);
      s.Set(key, value);
      last[key] = value;
    }
    ASSERT_TRUE(s.store.Delete("k6").ok());
    EXPECT_OK(s.log.WaitDurable(0));
    EXPECT_LT(s.log.batches(), 3001u);
  }
  std::unique_ptr<storage::DataDir> dir = OpenDir(path, storage::FsyncMode::kNever);
  ASSERT_NE(dir, nullptr);
  const std::map<std::string, std::string> loaded = Load(dir.get());
  for (int k = 0; k < 6; ++k) {
    const std::string key = absl::StrCat("k", k);
    EXPECT_EQ(loaded.at(key), last[key]) << key;
  }
  ASSERT_EQ(loaded.count("k6"), 1u);  // its tombstone
  EXPECT_EQ(loaded.at("k6"), "");
  std::filesystem::remove_all(path);
}

TEST(DurabilityLogTest, ChangesQueuedDuringABatchShareTheNextBatchAndOneFsync) {
  const std::string path = FreshDir();
  std::unique_ptr<storage::DataDir> dir = OpenDir(path, storage::FsyncMode::kAlways);
  ASSERT_NE(dir, nullptr);
  LoggedStore s(dir.get());
  absl::Notification release;
  s.HoldLogThread(&release);
  const uint64_t batches = s.log.batches();
  const uint64_t fsyncs = dir->Stats().fsyncs;

  constexpr int kWrites = 50;
  std::atomic<int> acknowledged{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < kWrites; ++i) {
    const DurabilityLog::Seq since = s.log.enqueued();
    s.Set(absl::StrCat("k", i), "v");
    s.log.WhenDurable(since, [&](absl::Status st) { ++(st.ok() ? acknowledged : failed); });
  }
  EXPECT_EQ(acknowledged.load(), 0) << "acknowledged before its batch was written";
  release.Notify();
  ASSERT_TRUE(WaitFor([&] { return acknowledged.load() + failed.load() == kWrites; }));
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(s.log.batches(), batches + 1);
  EXPECT_EQ(dir->Stats().fsyncs, fsyncs + 1);
  std::filesystem::remove_all(path);
}

// A full disk (a small tmpfs; needs root, skipped otherwise).
TEST(DurabilityLogTest, AFailedBatchFailsEveryWriteWaitingOnItAndNoLaterOne) {
  const std::string mount = FreshDir();
  if (::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=16m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
  }
  struct Unmount {
    std::string path;
    ~Unmount() {
      ::umount2(path.c_str(), MNT_DETACH);
      std::filesystem::remove_all(path);
    }
  } unmount{mount};
  const std::string ballast = mount + "/ballast";
  {
    std::ofstream f(ballast, std::ios::binary);
    const std::string mib(1 << 20, 'b');
    for (int i = 0; i < 8; ++i) f << mib;
    ASSERT_TRUE(f.good());
  }
  std::unique_ptr<storage::DataDir> dir = OpenDir(mount + "/data", storage::FsyncMode::kAlways);
  ASSERT_NE(dir, nullptr);
  LoggedStore s(dir.get());
  absl::Notification release;
  s.HoldLogThread(&release);

  // 16 MiB in one batch, on a 16 MiB disk half full.
  constexpr int kWrites = 16;
  const std::string big(1 << 20, 'v');
  std::vector<absl::Status> results(kWrites);
  std::atomic<int> completed{0};
  for (int i = 0; i < kWrites; ++i) {
    const DurabilityLog::Seq since = s.log.enqueued();
    s.Set(absl::StrCat("big", i), big);
    s.log.WhenDurable(since, [&, i](absl::Status st) {
      results[i] = std::move(st);
      ++completed;
    });
  }
  const uint64_t batches = s.log.batches();
  release.Notify();
  ASSERT_TRUE(WaitFor([&] { return completed.load() == kWrites; }));
  EXPECT_EQ(s.log.batches(), batches + 1);
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_THAT(results[i],
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("not on disk")))
        << i;
  }
  // The store still holds them (outcome unknown), and serves reads.
  EXPECT_TRUE(s.store.Get("big0").has_value());
  // Space returns. A later write does not inherit the failure: it succeeds
  // once the engine has resumed.
  std::filesystem::remove(ballast);
  int attempt = 0;
  absl::Status last;
  EXPECT_TRUE(WaitFor(
      [&] {
        const DurabilityLog::Seq since = s.log.enqueued();
        s.Set(absl::StrCat("after", attempt++), "small");
        last = s.log.WaitDurable(since);
        return last.ok();
      },
      absl::Seconds(20), absl::Milliseconds(100)))
      << last;
}

}  // namespace
}  // namespace meshkv
