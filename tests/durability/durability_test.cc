// Durability with real meshkv-server processes, real data directories and
// real kill -9: what a node acknowledged comes back from its own disk.
//
// The guarantee under test (docs/design.md, "Durability"): with --data-dir,
// every change is in the OS before a local write is acknowledged, so a crash
// of the process (kill -9) loses no acknowledged write in any --fsync mode;
// --fsync=always also covers a power loss of the machine (not tested here:
// that needs a fault-injecting block device).
#include <sys/mount.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/subprocess.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;

// One sample of a node's /metrics, by exact series name; -1 when absent.
double Metric(const ServerProcess& node, const std::string& series) {
  return meshkv::testing::SampleOf(meshkv::testing::ScrapeMetrics(node.metrics_port()), series);
}

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = meshkv::testing::TempDir(); }
  void TearDown() override {
    nodes_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  std::string DataDir(const std::string& node_id) const { return root_ + "/" + node_id; }

  // Starts `node_id` on its own data directory (extra flags after), and
  // waits until it serves.
  ServerProcess& StartNode(const std::string& node_id, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"--node-id=" + node_id, "--data-dir=" + DataDir(node_id)});
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    absl::Status started = n.Start();
    EXPECT_TRUE(started.ok()) << started;
    absl::Status serving = n.WaitServing();
    EXPECT_TRUE(serving.ok()) << serving;
    return n;
  }

  static void KillNine(ServerProcess& n) {
    n.Kill();
    EXPECT_TRUE(n.Wait().has_value());
  }

  std::string root_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// Writers keep writing while the node is killed: every write it
// acknowledged is there after the restart, with its value, owner and
// timestamp; every acknowledged delete stays deleted.
TEST_F(DurabilityTest, EveryAcknowledgedWriteSurvivesKillNine) {
  for (const char* fsync : {"always", "never"}) {
    SCOPED_TRACE(fsync);
    const std::string id = absl::StrCat("n-", fsync);
    ServerProcess& n = StartNode(id, {absl::StrCat("--fsync=", fsync)});
    std::mutex mu;
    std::map<std::string, meshkv::v1::Meta> acked;  // key -> meta of its set
    std::vector<std::string> deleted;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      writers.emplace_back([&, w] {
        auto stub = meshkv::v1::KeyValue::NewStub(n.Channel());
        for (int i = 0; !stop.load(); ++i) {
          const std::string key = absl::StrCat("w", w, "/", i);
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          meshkv::v1::SetRequest req;
          req.set_key(key);
          req.mutable_value()->set_bytes(key);
          meshkv::v1::SetResponse resp;
          if (!stub->Set(&ctx, req, &resp).ok()) return;  // the node is gone
          if (i % 5 == 4) {
            grpc::ClientContext del_ctx;
            meshkv::v1::DeleteRequest del;
            del.set_key(key);
            meshkv::v1::DeleteResponse del_resp;
            if (!stub->Delete(&del_ctx, del, &del_resp).ok()) {
              // Unknown outcome: neither acknowledged as set nor as deleted.
              return;
            }
            std::lock_guard<std::mutex> lock(mu);
            deleted.push_back(key);
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          acked[key] = resp.meta();
        }
      });
    }
    const bool enough = WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return acked.size() >= 300;
        },
        absl::Seconds(60));
    KillNine(n);  // mid-stream
    stop = true;
    for (auto& t : writers) t.join();
    ASSERT_TRUE(enough);

    ServerProcess& back = StartNode(id, {absl::StrCat("--fsync=", fsync)});
    Client c(back);
    size_t lost = 0;
    for (const auto& [key, meta] : acked) {
      auto e = c.Get(key);
      if (!e || e->value().bytes() != key) {
        ++lost;
        continue;
      }
      EXPECT_EQ(e->meta().owner(), id);
      EXPECT_EQ(e->meta().timestamp_ms(), meta.timestamp_ms());
      // Revisions never go backwards for a watcher: the restarted node
      // numbers past everything the killed one handed out.
      EXPECT_GT(e->meta().revision(), meta.revision());
    }
    EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged writes";
    for (const std::string& key : deleted) EXPECT_FALSE(c.Get(key).has_value()) << key;
    EXPECT_GE(Metric(back, "meshkv_storage_records_loaded"),
              static_cast<double>(acked.size() + deleted.size()));
    KillNine(back);
  }
}

// kill -9 of every node of a 3-node cluster, then a restart: every node has
// every key again, owned as before, and the owners' leases hold.
TEST_F(DurabilityTest, AFullClusterRestartKeepsTheDictionaryAndItsLeases) {
  ServerProcess* n0 = &StartNode("n0");
  ServerProcess* n1 = &StartNode("n1", {"--join=" + n0->mesh_addr()});
  ServerProcess* n2 = &StartNode("n2", {"--join=" + n0->mesh_addr()});
  constexpr int kKeys = 300;
  {
    Client c0(*n0), c1(*n1), c2(*n2);
    Client* via[] = {&c0, &c1, &c2};
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(via[i % 3]->Set(absl::StrCat("k", i), absl::StrCat("v", i)).ok());
    }
    for (Client* c : via) ASSERT_TRUE(c->WaitValue(absl::StrCat("k", kKeys - 1), "v299"));
  }
  for (ServerProcess* n : {n0, n1, n2}) KillNine(*n);

  n0 = &StartNode("n0");
  n1 = &StartNode("n1", {"--join=" + n0->mesh_addr()});
  n2 = &StartNode("n2", {"--join=" + n0->mesh_addr()});
  Client c0(*n0), c1(*n1), c2(*n2);
  for (Client* c : {&c0, &c1, &c2}) {
    for (int i = 0; i < kKeys; ++i) {
      auto e = c->Get(absl::StrCat("k", i));
      ASSERT_TRUE(e.has_value()) << "k" << i;
      EXPECT_EQ(e->value().bytes(), absl::StrCat("v", i));
      EXPECT_EQ(e->meta().owner(), absl::StrCat("n", i % 3));
    }
  }
  // k1 belongs to n1: still writable through n1, still refused elsewhere.
  EXPECT_TRUE(c1.Set("k1", "mine still").ok());
  EXPECT_EQ(c0.Set("k1", "not yours").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// Writers on every node of a 3-node cluster; every node is killed at once,
// mid-load, then restarted. A kill -9 is a process crash: what a node
// acknowledged was in the OS, so nothing is lost in either mode (a power
// loss, not tested here, is what --fsync=interval trades against).
TEST_F(DurabilityTest, KillingEveryNodeUnderLoadLosesNoAcknowledgedWrite) {
  for (const char* fsync : {"always", "interval"}) {
    SCOPED_TRACE(fsync);
    const std::string mode = absl::StrCat("--fsync=", fsync);
    const std::string p = absl::StrCat(fsync, "-");
    ServerProcess* n0 = &StartNode(p + "n0", {mode});
    ServerProcess* n1 = &StartNode(p + "n1", {mode, "--join=" + n0->mesh_addr()});
    ServerProcess* n2 = &StartNode(p + "n2", {mode, "--join=" + n0->mesh_addr()});
    std::mutex mu;
    std::vector<std::string> acked;
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    int w = 0;
    for (ServerProcess* n : {n0, n1, n2}) {
      for (int t = 0; t < 2; ++t, ++w) {
        writers.emplace_back([&, n, w] {
          Client c(*n);
          for (int i = 0; !stop.load(); ++i) {
            const std::string key = absl::StrCat("w", w, "/", i);
            if (!c.Set(key, key).ok()) return;
            std::lock_guard<std::mutex> lock(mu);
            acked.push_back(key);
          }
        });
      }
    }
    const bool enough = WaitFor(
        [&] {
          std::lock_guard<std::mutex> lock(mu);
          return acked.size() >= 600;
        },
        absl::Seconds(60));
    for (ServerProcess* n : {n0, n1, n2}) n->Kill();
    for (ServerProcess* n : {n0, n1, n2}) n->Wait();
    stop = true;
    for (auto& t : writers) t.join();
    ASSERT_TRUE(enough);

    n0 = &StartNode(p + "n0", {mode});
    n1 = &StartNode(p + "n1", {mode, "--join=" + n0->mesh_addr()});
    n2 = &StartNode(p + "n2", {mode, "--join=" + n0->mesh_addr()});
    for (ServerProcess* n : {n0, n1, n2}) {
      Client c(*n);
      size_t lost = 0;
      for (const std::string& key : acked) {
        // A write a node acknowledged but had not yet sent is on its own
        // disk; its peers get it by anti-entropy after the restart.
        if (!c.WaitValue(key, key, absl::Seconds(lost == 0 ? 20 : 0))) ++lost;
      }
      EXPECT_EQ(lost, 0u) << n->node_id() << ": of " << acked.size() << " acknowledged writes";
    }
    for (ServerProcess* n : {n0, n1, n2}) KillNine(*n);
  }
}

// A full disk (a small tmpfs): a write that cannot be recorded fails with
// RESOURCE_EXHAUSTED and a reason, reads go on, the node stays up; once
// space returns, writes succeed again, and a restart finds every write that
// was acknowledged.
TEST_F(DurabilityTest, AFullDiskFailsWritesClearlyAndRecoversWhenSpaceReturns) {
  const std::string mount = root_ + "/small";
  std::filesystem::create_directories(mount);
  ASSERT_EQ(::mount("tmpfs", mount.c_str(), "tmpfs", 0, "size=24m"), 0) << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mount};
  const std::string ballast = mount + "/ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    const std::string mib(1 << 20, 'b');
    for (int i = 0; i < 12; ++i) out << mib;
    ASSERT_TRUE(out.good());
  }
  nodes_.push_back(std::make_unique<ServerProcess>(std::vector<std::string>{
      "--node-id=full", "--data-dir=" + mount + "/data", "--fsync=always"}));
  ServerProcess& n = *nodes_.back();
  ASSERT_TRUE(n.Start().ok()) << n.Logs();
  ASSERT_TRUE(n.WaitServing().ok()) << n.Logs();
  Client c(n);
  const std::string value(64 << 10, 'v');
  std::vector<std::string> acked;
  grpc::Status failed;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = absl::StrCat("k", i);
    failed = c.Set(key, value);
    if (!failed.ok()) break;
    acked.push_back(key);
  }
  ASSERT_FALSE(failed.ok()) << "the disk never filled";
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << failed.error_message();
  EXPECT_THAT(failed.error_message(), HasSubstr("not on disk"));
  EXPECT_TRUE(n.running());
  ASSERT_FALSE(acked.empty());
  EXPECT_TRUE(c.Get(acked.front()).has_value());
  EXPECT_GE(Metric(n, "meshkv_storage_write_errors_total"), 1);

  std::filesystem::remove(ballast);
  EXPECT_TRUE(WaitFor([&] { return c.Set("after", "space returned").ok(); }, absl::Seconds(20)));
  KillNine(n);
  nodes_.push_back(std::make_unique<ServerProcess>(std::vector<std::string>{
      "--node-id=full", "--data-dir=" + mount + "/data", "--fsync=always"}));
  ServerProcess& back = *nodes_.back();
  ASSERT_TRUE(back.Start().ok()) << back.Logs();
  ASSERT_TRUE(back.WaitServing().ok()) << back.Logs();
  Client c2(back);
  size_t lost = 0;
  for (const std::string& key : acked) lost += !c2.Get(key).has_value();
  EXPECT_EQ(lost, 0u) << "of " << acked.size();
  EXPECT_TRUE(c2.Get("after").has_value());
}

// An owner restarted while every peer is down keeps its own keys and its
// leases from its own disk; a peer that comes back later still honours them.
TEST_F(DurabilityTest, AnOwnerRestartedAloneKeepsItsKeysAndLeases) {
  ServerProcess* n0 = &StartNode("n0");
  ServerProcess* n1 = &StartNode("n1", {"--join=" + n0->mesh_addr()});
  {
    Client c0(*n0), c1(*n1);
    ASSERT_TRUE(c0.Set("owned-by-n0", "v").ok());
    ASSERT_TRUE(c1.WaitValue("owned-by-n0", "v"));
  }
  const std::string dead_seed = n1->mesh_addr();
  KillNine(*n1);
  KillNine(*n0);

  // Its only seed is dead: it serves alone after the initial-sync timeout.
  n0 = &StartNode("n0", {"--join=" + dead_seed, "--initial-sync-timeout=1s"});
  Client c0(*n0);
  auto e = c0.Get("owned-by-n0");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->meta().owner(), "n0");
  EXPECT_GT(e->meta().lease_expires_ms(), 0);
  EXPECT_TRUE(c0.Set("owned-by-n0", "v2").ok());

  n1 = &StartNode("n1", {"--join=" + n0->mesh_addr()});
  Client c1(*n1);
  EXPECT_TRUE(c1.WaitValue("owned-by-n0", "v2"));
  grpc::Status refused = c1.Set("owned-by-n0", "not yours");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("n0"));
}

// A data directory records its cluster, node and leasing mode; a node of
// another identity refuses it, saying which and what to do, and leaves it.
TEST_F(DurabilityTest, ADataDirectoryOfAnotherIdentityIsRefused) {
  ServerProcess& n0 = StartNode("n0");
  ASSERT_TRUE(Client(n0).Set("k", "v").ok());
  n0.Terminate();
  ASSERT_EQ(n0.Wait(), 0);
  const struct {
    std::vector<std::string> flags;
    std::string message;
  } cases[] = {
      {{"--node-id=n9"}, "start with --node-id=n0"},
      {{"--node-id=n0", "--cluster=other"}, "cluster"},
      {{"--node-id=n0", "--leasing=false"}, "leasing"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> flags = c.flags;
    flags.push_back("--data-dir=" + DataDir("n0"));
    ServerProcess refused(flags);
    EXPECT_FALSE(refused.Start().ok());
    EXPECT_EQ(refused.Wait(), 1) << refused.Logs();
    EXPECT_THAT(refused.Logs(), HasSubstr(c.message));
    EXPECT_THAT(refused.Logs(), HasSubstr(DataDir("n0")));
  }
  ServerProcess& back = StartNode("n0");
  auto e = Client(back).Get("k");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->value().bytes(), "v");
}

// The resurrection problem: n1 sleeps (killed) through a delete and through
// the cluster forgetting its tombstone. Loading its disk would bring the key
// back everywhere; n1 sets its stale data aside instead and re-syncs.
TEST_F(DurabilityTest, ANodeStalerThanTheTombstoneRetentionDoesNotResurrectKeys) {
  const std::string retention = "--tombstone-retention=2s";
  // n0 keeps no disk: only n1's staleness matters here.
  nodes_.push_back(std::make_unique<ServerProcess>(
      std::vector<std::string>{"--node-id=n0", retention, "--leasing=false"}));
  ServerProcess& n0 = *nodes_.back();
  ASSERT_TRUE(n0.Start().ok());
  ASSERT_TRUE(n0.WaitServing().ok());
  ServerProcess& n1 = StartNode("n1", {"--join=" + n0.mesh_addr(), retention, "--leasing=false"});
  Client c0(n0);
  ASSERT_TRUE(c0.Set("doomed", "v").ok());
  ASSERT_TRUE(Client(n1).WaitValue("doomed", "v"));
  // n1 records being in sync as soon as it has synced; let it have done so.
  ASSERT_TRUE(
      WaitFor([&] { return Metric(n1, "meshkv_storage_last_in_sync_timestamp_seconds") > 0; },
              absl::Seconds(10)));
  KillNine(n1);
  ASSERT_TRUE(c0.Delete("doomed").ok());
  // n0 forgets the tombstone once it is older than the retention (one of
  // 256 buckets is swept every 100 ms).
  ASSERT_TRUE(
      WaitFor([&] { return Metric(n0, "meshkv_store_tombstones") == 0; }, absl::Seconds(60)));

  ServerProcess& back = StartNode("n1", {"--join=" + n0.mesh_addr(), retention, "--leasing=false"});
  EXPECT_THAT(back.Logs(), HasSubstr("set aside"));
  bool set_aside = false;
  for (const auto& entry : std::filesystem::directory_iterator(root_)) {
    set_aside |= entry.path().filename().string().rfind("n1.stale-", 0) == 0;
  }
  EXPECT_TRUE(set_aside);
  // Give anti-entropy time to carry anything n1 had; nothing comes back.
  Client c1(back);
  ASSERT_TRUE(c0.Set("after", "x").ok());
  ASSERT_TRUE(c1.WaitValue("after", "x"));
  EXPECT_FALSE(c0.Get("doomed").has_value());
  EXPECT_FALSE(c1.Get("doomed").has_value());
}

// The newest write-ahead log of a killed node's data directory (RocksDB's
// numbered *.log files; LOG is its info log).
std::string NewestLog(const std::string& data_dir) {
  std::string best;
  for (const auto& e : std::filesystem::directory_iterator(data_dir + "/rocksdb")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".log" && name > std::filesystem::path(best).filename().string()) {
      best = e.path().string();
    }
  }
  return best;
}

// Every key a node lists.
std::vector<std::string> ListKeys(const ServerProcess& node) {
  auto stub = meshkv::v1::KeyValue::NewStub(node.Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  meshkv::v1::ListRequest req;
  req.set_keys_only(true);
  auto reader = stub->List(&ctx, req);
  std::vector<std::string> keys;
  meshkv::v1::ListResponse page;
  while (reader->Read(&page)) {
    for (const auto& e : page.entries()) keys.push_back(e.key());
  }
  EXPECT_TRUE(reader->Finish().ok());
  return keys;
}

// How many of k000000, k000001, ... `keys` (sorted) holds, when it holds
// exactly such a prefix; -1 when it holds anything else.
int PrefixLength(const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] != absl::StrFormat("k%06d", i)) return -1;
  }
  return static_cast<int>(keys.size());
}

// A crash can tear the log's last record, and a disk can tear more: a node
// started on its log cut at any byte starts and serves a prefix of the
// writes, never a mix and never a crash; a longer log never gives fewer. A
// byte flipped in the middle is refused at start-up, naming the file and
// the ways out; --salvage then keeps what verifies.
TEST_F(DurabilityTest, ATornLogStartsWithAPrefixAndACorruptOneNamesTheFile) {
  const std::string id = "torn";
  ServerProcess& n = StartNode(id, {"--fsync=never"});
  int acked = 0;
  {
    Client c(n);
    for (; acked < 1500; ++acked) {
      const std::string key = absl::StrFormat("k%06d", acked);
      ASSERT_TRUE(c.Set(key, key).ok());
    }
  }
  KillNine(n);
  const std::string log = NewestLog(DataDir(id));
  ASSERT_FALSE(log.empty());
  const uintmax_t size = std::filesystem::file_size(log);
  const std::string log_in_dir = std::filesystem::relative(log, DataDir(id)).string();

  // A copy of the killed node's directory, with its log cut or damaged.
  int copies = 0;
  auto copy_of = [&] {
    const std::string dir = absl::StrCat(root_, "/copy-", copies++);
    std::filesystem::copy(DataDir(id), dir, std::filesystem::copy_options::recursive);
    return dir;
  };
  auto start_on = [&](const std::string& dir, std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--node-id=" + id, "--data-dir=" + dir, "--fsync=never"});
    return std::make_unique<ServerProcess>(std::move(extra));
  };

  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::vector<uintmax_t> cuts = {0, size / 2, size - 1, size};
  for (int i = 0; i < 4; ++i) cuts.push_back(rng() % size);
  std::sort(cuts.begin(), cuts.end());
  int previous = 0;
  for (uintmax_t cut : cuts) {
    SCOPED_TRACE(absl::StrCat("log cut at ", cut, " of ", size, " bytes"));
    const std::string dir = copy_of();
    std::filesystem::resize_file(std::filesystem::path(dir) / log_in_dir, cut);
    auto node = start_on(dir);
    ASSERT_TRUE(node->Start().ok()) << node->Logs();
    ASSERT_TRUE(node->WaitServing().ok()) << node->Logs();
    const int m = PrefixLength(ListKeys(*node));
    EXPECT_GE(m, previous) << "not a prefix, or shorter than a shorter log's";
    if (cut == size) {
      EXPECT_EQ(m, acked) << "the whole log holds every write";
    }
    previous = std::max(previous, m);
    node->Kill();
    node->Wait();
  }

  // A flipped byte in the middle of the log, away from a block's padding.
  const std::string damaged = copy_of();
  uintmax_t offset = size / 2;
  offset -= offset % 32768 > 32000 ? 1000 : 0;
  {
    std::fstream f(std::filesystem::path(damaged) / log_in_dir,
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    ASSERT_TRUE(f.good());
  }
  auto refused = start_on(damaged);
  EXPECT_FALSE(refused->Start().ok());
  EXPECT_EQ(refused->Wait(), 1) << refused->Logs();
  EXPECT_THAT(refused->Logs(), HasSubstr(std::filesystem::path(log).filename().string()));
  EXPECT_THAT(refused->Logs(), HasSubstr("--salvage"));

  auto salvaged = start_on(damaged, {"--salvage"});
  ASSERT_TRUE(salvaged->Start().ok()) << salvaged->Logs();
  ASSERT_TRUE(salvaged->WaitServing().ok()) << salvaged->Logs();
  const size_t kept = ListKeys(*salvaged).size();
  EXPECT_LT(kept, static_cast<size_t>(acked)) << "the damaged record cannot come back";
  EXPECT_GE(kept, static_cast<size_t>(acked) / 2 - 50) << "the records before it do";
  salvaged->Terminate();
  EXPECT_EQ(salvaged->Wait(), 0);
  // Salvaged once, the directory opens normally from then on.
  auto again = start_on(damaged);
  ASSERT_TRUE(again->Start().ok()) << again->Logs();
  EXPECT_TRUE(again->WaitServing().ok()) << again->Logs();
}

}  // namespace
}  // namespace meshkv
