// The start from a data directory, in process with a real directory: the
// incarnation never numbers below an earlier life, and the
// tombstone-retention rule sets stale data aside only when there are peers.
#include "server/data_dir_start.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "peer/core/seq_tracker.h"
#include "tests/util/subprocess.h"

namespace meshkv {
namespace {

constexpr int64_t kNowMs = 1'800'000'000'000;

TEST(IncarnationTest, IsTheStartTimeUnlessAnEarlierLifeReservedMore) {
  EXPECT_EQ(IncarnationMs(kNowMs, 0), kNowMs);
  EXPECT_EQ(IncarnationMs(kNowMs, peer::SeqTracker::Base(kNowMs - 5)), kNowMs);
  // The clock stepped back below what the last life reserved.
  const uint64_t reserved = peer::SeqTracker::Base(kNowMs + 1000) + 7;
  const int64_t inc = IncarnationMs(kNowMs, reserved);
  EXPECT_GE(peer::SeqTracker::Base(inc), reserved);
  EXPECT_EQ(inc, kNowMs + 1001);
}

class OpenDataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TempDir();
    config_.data_dir = root_ + "/data";
    config_.tombstone_retention = absl::Hours(1);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A directory last in sync at `in_sync_ms`, holding one record.
  void MakeDir(int64_t in_sync_ms) {
    auto dir = OpenDataDir(config_, "n1", kNowMs);
    ASSERT_TRUE(dir.ok()) << dir.status();
    meshkv::mesh::v1::Record r;
    r.set_key("k");
    ASSERT_TRUE((*dir)->Append({r}).ok());
    ASSERT_TRUE((*dir)->MarkInSync(in_sync_ms).ok());
  }
  uint64_t Records(storage::DataDir* dir) {
    uint64_t n = 0;
    EXPECT_TRUE(dir->Load([&](const meshkv::mesh::v1::Record&) {
                     ++n;
                     return absl::OkStatus();
                   })
                    .ok());
    return n;
  }
  bool SetAside() const {
    for (const auto& e : std::filesystem::directory_iterator(root_)) {
      if (e.path().filename().string().rfind("data.stale-", 0) == 0) return true;
    }
    return false;
  }

  std::string root_;
  ServerConfig config_;
};

TEST_F(OpenDataDirTest, DataInSyncWithinTheRetentionIsKept) {
  MakeDir(kNowMs - absl::ToInt64Milliseconds(absl::Minutes(59)));
  config_.join = {"peer:1"};
  auto dir = OpenDataDir(config_, "n1", kNowMs);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(Records(dir->get()), 1u);
  EXPECT_FALSE(SetAside());
}

TEST_F(OpenDataDirTest, StaleDataIsSetAsideWhenThereArePeersToSyncFrom) {
  MakeDir(kNowMs - absl::ToInt64Milliseconds(absl::Minutes(61)));
  config_.join = {"peer:1"};
  auto dir = OpenDataDir(config_, "n1", kNowMs);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(Records(dir->get()), 0u);
  EXPECT_TRUE(SetAside());
}

TEST_F(OpenDataDirTest, StaleDataIsKeptWithoutPeers) {
  MakeDir(kNowMs - absl::ToInt64Milliseconds(absl::Hours(5)));
  auto dir = OpenDataDir(config_, "n1", kNowMs);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(Records(dir->get()), 1u);
  EXPECT_FALSE(SetAside());
}

}  // namespace
}  // namespace meshkv
