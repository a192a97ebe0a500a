// Real meshkv-server processes and the operator's maintenance RPCs
// (meshkv.v1.Maintenance): releasing the leases of a node that has left,
// across a partition and a restart from a data directory.
#include <inttypes.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "meshkv/v1/cluster.grpc.pb.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "meshkv/v1/maintenance.grpc.pb.h"
#include "tests/util/kv_client.h"
#include "tests/util/node_probe.h"
#include "tests/util/server_process.h"
#include "tests/util/subprocess.h"
#include "tests/util/test_certs.h"
#include "tests/util/wait.h"

namespace meshkv {
namespace {

using ::meshkv::testing::Client;
using ::meshkv::testing::ServerProcess;
using ::meshkv::testing::TempDir;
using ::meshkv::testing::WaitFor;
using ::testing::HasSubstr;
namespace v1 = ::meshkv::v1;

class MaintenanceTest : public ::testing::Test {
 protected:
  ServerProcess& StartNode(std::vector<std::string> flags) {
    nodes_.push_back(std::make_unique<ServerProcess>(std::move(flags)));
    ServerProcess& n = *nodes_.back();
    EXPECT_TRUE(n.Start().ok());
    absl::Status serving = n.WaitServing();
    EXPECT_TRUE(serving.ok()) << serving << n.Logs();
    return n;
  }

  static grpc::Status Release(const ServerProcess& n, const std::string& node, bool force = false,
                              v1::ReleaseLeasesResponse* resp = nullptr) {
    v1::ReleaseLeasesRequest req;
    req.set_node_id(node);
    req.set_force(force);
    v1::ReleaseLeasesResponse ignored;
    grpc::ClientContext ctx;
    return v1::Maintenance::NewStub(n.Channel())
        ->ReleaseLeases(&ctx, req, resp != nullptr ? resp : &ignored);
  }

  static v1::StatusResponse Status(const ServerProcess& n) {
    v1::StatusResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(v1::Cluster::NewStub(n.Channel())->Status(&ctx, {}, &resp).ok());
    return resp;
  }

  static bool Connected(const ServerProcess& n, const std::string& peer) {
    const v1::StatusResponse status = Status(n);
    for (const v1::PeerStatus& p : status.peers()) {
      if (p.node_id() == peer && p.state() == "established") return true;
    }
    return false;
  }

  static double Metric(const ServerProcess& n, const std::string& sample) {
    return ::meshkv::testing::SampleOf(::meshkv::testing::ScrapeMetrics(n.metrics_port()), sample);
  }

  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// node2 writes keys and is killed; node1 is down meanwhile (partitioned).
// node0 sees node2's leases as orphaned, refuses to release a connected
// node or itself, releases node2, and may write its keys. node1 comes back
// from its data directory holding node2's leases and learns the release by
// anti-entropy; node0, restarted alone from its data directory, still
// honours it.
TEST_F(MaintenanceTest, ReleasedLeasesOfALeftNodeAreVoidOnEveryNodeAndAcrossRestarts) {
  const std::string dir0 = TempDir(), dir1 = TempDir();
  ServerProcess& n0 = StartNode({"--node-id=node0", "--data-dir=" + dir0});
  const std::string mesh0 = n0.mesh_addr();
  ServerProcess& n1 = StartNode({"--node-id=node1", "--data-dir=" + dir1, "--join=" + mesh0});
  ServerProcess& n2 = StartNode({"--node-id=node2", "--join=" + mesh0});
  Client c0(n0), c1(n1);
  {
    Client c2(n2);
    for (const char* k : {"k-a", "k-b", "k-c"}) ASSERT_TRUE(c2.Set(k, "by node2").ok());
  }
  ASSERT_TRUE(c0.WaitValue("k-c", "by node2"));
  ASSERT_TRUE(c1.WaitValue("k-c", "by node2"));
  ASSERT_TRUE(WaitFor([&] { return Connected(n0, "node2"); }));

  // Connected: refused unless forced; oneself: refused.
  grpc::Status s = Release(n0, "node2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("connected"));
  EXPECT_EQ(Release(n0, "node0").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Release(n0, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Status(n0).orphaned_lease_keys(), 0u);

  n1.Terminate();
  ASSERT_EQ(n1.Wait(), 0);
  n2.Kill();
  ASSERT_EQ(n2.Wait(), 128 + SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return !Connected(n0, "node2"); }, absl::Seconds(20)));
  const v1::StatusResponse before = Status(n0);
  EXPECT_EQ(before.orphaned_lease_keys(), 3u);
  ASSERT_EQ(before.orphaned_lease_holders_size(), 1);
  EXPECT_EQ(before.orphaned_lease_holders(0).node_id(), "node2");
  EXPECT_EQ(Metric(n0, "meshkv_lease_orphaned_keys"), 3);
  EXPECT_EQ(c0.Set("k-a", "by node0").error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::ReleaseLeasesResponse released;
  s = Release(n0, "node2", /*force=*/false, &released);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(released.keys(), 3);
  EXPECT_EQ(Status(n0).orphaned_lease_keys(), 0u);
  EXPECT_EQ(Metric(n0, "meshkv_lease_orphaned_keys"), 0);
  EXPECT_EQ(Metric(n0, "meshkv_lease_released_total"), 3);
  ASSERT_TRUE(c0.Set("k-a", "by node0").ok());
  // A second release of the same node is harmless.
  EXPECT_TRUE(Release(n0, "node2").ok());

  // node1 restarts from its data directory, where node2 still holds every
  // lease, and learns the release from node0.
  ServerProcess& back1 = StartNode({"--node-id=node1", "--data-dir=" + dir1, "--join=" + mesh0});
  Client b1(back1);
  EXPECT_TRUE(b1.WaitValue("k-a", "by node0"));
  EXPECT_TRUE(WaitFor([&] { return b1.Set("k-b", "by node1").ok(); }));
  EXPECT_TRUE(c0.WaitValue("k-b", "by node1"));

  // node0 restarts alone (no --join: it serves at once) from its directory.
  back1.Terminate();
  ASSERT_EQ(back1.Wait(), 0);
  n0.Terminate();
  ASSERT_EQ(n0.Wait(), 0);
  ServerProcess& back0 =
      StartNode({"--node-id=node0", "--data-dir=" + dir0, "--mesh-addr=" + mesh0});
  Client b0(back0);
  EXPECT_EQ(b0.Get("k-c")->meta().owner(), "node2");
  EXPECT_TRUE(b0.Set("k-c", "by node0 after restart").ok());
}

// --force releases a node that is still connected: its old writes lose
// their leases, its new ones lease as usual.
TEST_F(MaintenanceTest, ForceReleasesAConnectedNodeWhoseNewWritesLeaseAgain) {
  ServerProcess& n0 = StartNode({"--node-id=node0"});
  ServerProcess& n1 = StartNode({"--node-id=node1", "--join=" + n0.mesh_addr()});
  Client c0(n0), c1(n1);
  ASSERT_TRUE(c1.Set("old", "by node1").ok());
  ASSERT_TRUE(c0.WaitValue("old", "by node1"));
  ASSERT_TRUE(WaitFor([&] { return Connected(n0, "node1"); }));
  ASSERT_TRUE(Release(n0, "node1", /*force=*/true).ok());
  EXPECT_TRUE(c0.Set("old", "by node0").ok());
  // node1 hears of the release (flooded) before it may write anew.
  ASSERT_TRUE(c1.WaitValue("old", "by node0"));
  ASSERT_TRUE(c1.Set("new", "by node1").ok());
  ASSERT_TRUE(c0.WaitValue("new", "by node1"));
  EXPECT_EQ(c0.Set("new", "by node0").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

// --- The data quota -------------------------------------------------------------

// A node with --max-data-bytes refuses local writes that would pass it,
// applies replicated ones anyway (replicas must agree) and raises the alarm
// metric, which clears once keys are deleted.
TEST_F(MaintenanceTest, TheQuotaRefusesLocalGrowthAndAlarmsOnReplicatedWrites) {
  ServerProcess& q = StartNode({"--node-id=node-q", "--max-data-bytes=1000"});
  ServerProcess& f = StartNode({"--node-id=node-f", "--join=" + q.mesh_addr()});
  Client cq(q), cf(f);
  ASSERT_TRUE(cq.Set("a", std::string(499, 'a')).ok());
  grpc::Status s = cq.Set("b", std::string(600, 'b'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("--max-data-bytes 1000"));
  EXPECT_FALSE(cq.Get("b").has_value());
  EXPECT_EQ(Metric(q, "meshkv_store_quota_exceeded"), 0);
  EXPECT_EQ(Metric(q, "meshkv_store_max_data_bytes"), 1000);
  EXPECT_EQ(Metric(q, "meshkv_store_quota_refused_total"), 1);

  ASSERT_TRUE(cf.Set("c", std::string(799, 'c')).ok());  // node-f has no quota
  ASSERT_TRUE(cq.WaitValue("c", std::string(799, 'c')));
  EXPECT_EQ(Metric(q, "meshkv_store_quota_exceeded"), 1);
  const v1::StatusResponse st = Status(q);
  EXPECT_EQ(st.data_bytes(), 1300u);
  EXPECT_EQ(st.max_data_bytes(), 1000u);
  EXPECT_EQ(cq.Set("d", "1").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(cq.Delete("a").ok());  // deletes pass over the quota
  EXPECT_EQ(Metric(q, "meshkv_store_quota_exceeded"), 0);
  EXPECT_TRUE(cq.Set("d", "1").ok());
}

TEST_F(MaintenanceTest, AQuotaShareWithoutAMemoryLimitIsRefusedAtStart) {
  ServerProcess bad({"--node-id=node-b", "--max-data-bytes=35%"});
  EXPECT_FALSE(bad.Start().ok());
  EXPECT_NE(bad.Wait(absl::Seconds(10)), 0);
  EXPECT_THAT(bad.Logs(), HasSubstr("--memory-limit-bytes"));
  ServerProcess good({"--node-id=node-g", "--max-data-bytes=50%", "--memory-limit-bytes=4000"});
  ASSERT_TRUE(good.Start().ok());
  ASSERT_TRUE(good.WaitServing().ok());
  EXPECT_EQ(Status(good).max_data_bytes(), 2000u);
}

// --- Backup and restore -------------------------------------------------------

class SnapshotTest : public MaintenanceTest {
 protected:
  static ::meshkv::testing::RunResult Cli(const ServerProcess& n, std::vector<std::string> args) {
    std::vector<std::string> argv = {::meshkv::testing::BinPath("meshkv"), "--addr", n.grpc_addr()};
    for (std::string& a : args) argv.push_back(std::move(a));
    return ::meshkv::testing::Run(argv, absl::Minutes(5));
  }
  static uint64_t Count(const ServerProcess& n) {
    v1::ListRequest req;
    req.set_count_only(true);
    grpc::ClientContext ctx;
    auto reader = v1::KeyValue::NewStub(n.Channel())->List(&ctx, req);
    v1::ListResponse resp;
    uint64_t count = 0;
    while (reader->Read(&resp)) count = resp.count();
    EXPECT_TRUE(reader->Finish().ok());
    return count;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
};

// 100k keys (and a tombstone, a mapping, a lease release) saved from one
// node and restored into a fresh one keep their values, versions and
// owners; restored into a node that holds newer writes, the newer win.
TEST_F(SnapshotTest, ARoundTripOf100kKeysKeepsVersionsAndMergesWithNewerWrites) {
  constexpr int kKeys = 100000;
  ServerProcess& a = StartNode({"--node-id=node-a"});
  ServerProcess& c = StartNode({"--node-id=node-c"});
  Client ca(a), cc(c);
  // c holds an old value of a key that a then deletes.
  ASSERT_TRUE(cc.Set("gone", "c-old").ok());
  for (int batch = 0; batch < kKeys / 1000; ++batch) {
    std::map<std::string, std::string> items;
    for (int i = batch * 1000; i < (batch + 1) * 1000; ++i) {
      items[absl::StrCat("key/", i)] = absl::StrCat("value-", i);
    }
    ASSERT_TRUE(ca.Update(items).ok());
  }
  ASSERT_TRUE(ca.Set("gone", "a").ok());
  ASSERT_TRUE(ca.Delete("gone").ok());
  ASSERT_TRUE(ca.ApplyDelta("map", {{"f", "1"}, {"g", "2"}}).ok());
  ASSERT_TRUE(ca.Set("newer", "a-old").ok());
  ASSERT_TRUE(Release(a, "node-x").ok());

  const std::string file = TempDir() + "/snap";
  ::meshkv::testing::RunResult saved = Cli(a, {"snapshot", "save", file});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_THAT(saved.out, HasSubstr(absl::StrCat(kKeys + 2, " keys")));
  // c's write after the save is newer than the snapshot's.
  ASSERT_TRUE(cc.Set("newer", "c-new").ok());

  ServerProcess& b = StartNode({"--node-id=node-b"});
  ::meshkv::testing::RunResult restored = Cli(b, {"snapshot", "restore", file});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(Count(b), static_cast<uint64_t>(kKeys + 2));
  Client cb(b);
  for (const char* k : {"key/0", "key/4242", "key/99999", "map", "newer"}) {
    std::optional<v1::Entry> want = ca.Get(k), got = cb.Get(k);
    ASSERT_TRUE(want.has_value() && got.has_value()) << k;
    // Compared as messages: a mapping's serialized field order is not fixed.
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got->value(), want->value()))
        << k << ": " << got->value().ShortDebugString() << " vs "
        << want->value().ShortDebugString();
    EXPECT_EQ(got->meta().owner(), "node-a") << k;
    EXPECT_EQ(got->meta().version().SerializeAsString(), want->meta().version().SerializeAsString())
        << k;
  }
  EXPECT_FALSE(cb.Get("gone").has_value());
  // Every record came along, the tombstone and the lease release included.
  uint64_t records = 0;
  ASSERT_EQ(sscanf(saved.out.c_str(), "saved %" SCNu64 " records", &records), 1) << saved.out;
  EXPECT_EQ(records, static_cast<uint64_t>(kKeys + 4));
  ::meshkv::testing::RunResult resaved = Cli(b, {"snapshot", "save", TempDir() + "/again"});
  EXPECT_THAT(resaved.out, HasSubstr(absl::StrCat("saved ", records, " records")));

  // Into c: a's records, except where c holds newer.
  ASSERT_EQ(Cli(c, {"snapshot", "restore", file}).exit_code, 0);
  EXPECT_EQ(cc.Get("newer")->value().bytes(), "c-new");
  EXPECT_FALSE(cc.Get("gone").has_value());
  EXPECT_EQ(cc.Get("key/77")->value().bytes(), "value-77");
  // Restoring twice changes nothing more.
  ::meshkv::testing::RunResult twice = Cli(c, {"snapshot", "restore", file});
  ASSERT_EQ(twice.exit_code, 0) << twice.err;
  EXPECT_THAT(twice.out, HasSubstr(" 0 changed"));
}

// A torn or corrupted file is refused with a clear error and restores
// nothing; a file that is not a snapshot too.
TEST_F(SnapshotTest, ATornOrCorruptedFileIsRefusedAndChangesNothing) {
  ServerProcess& a = StartNode({"--node-id=node-a"});
  Client ca(a);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(ca.Set(absl::StrCat("k", i), "v").ok());
  const std::string dir = TempDir();
  ASSERT_EQ(Cli(a, {"snapshot", "save", dir + "/good"}).exit_code, 0);
  const std::string good = ReadFile(dir + "/good");
  ASSERT_GT(good.size(), 1000u);

  ServerProcess& b = StartNode({"--node-id=node-b"});
  struct Case {
    std::string name, bytes, message;
  };
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x20;
  std::vector<Case> cases = {
      {"torn", good.substr(0, good.size() - 7), "torn"},
      {"torn-at-a-frame", good.substr(0, good.size() - 21), "without its end frame"},
      {"flipped", flipped, "damaged"},
      {"trailing", good + "x", "bytes after its end"},
      {"not-a-snapshot", "hello world, this is not it", "not a meshkv snapshot"},
  };
  for (const Case& k : cases) {
    WriteFile(dir + "/" + k.name, k.bytes);
    ::meshkv::testing::RunResult r = Cli(b, {"snapshot", "restore", dir + "/" + k.name});
    EXPECT_NE(r.exit_code, 0) << k.name;
    EXPECT_THAT(r.err, HasSubstr("DATA_LOSS")) << k.name;
    EXPECT_THAT(r.err, HasSubstr(k.message)) << k.name;
  }
  EXPECT_EQ(Count(b), 0u);
  // The good file still restores.
  ASSERT_EQ(Cli(b, {"snapshot", "restore", dir + "/good"}).exit_code, 0);
  EXPECT_EQ(Count(b), 200u);
}

// --- Access -------------------------------------------------------------------

// With client certificates, only the admin role reaches Maintenance: a
// read-write client is refused every RPC and changes nothing.
TEST_F(MaintenanceTest, OnlyTheAdminRoleReachesMaintenance) {
  ::meshkv::testing::TestCerts certs;
  const std::string ca_key = certs.Path("ca/ca.key"), dir = certs.Path("n1");
  ASSERT_TRUE(certs.Run({"create-ca", "--certs-dir", certs.Path("ca")}).ok());
  ASSERT_TRUE(certs
                  .Run({"create-node", "--certs-dir", dir, "--ca-key", ca_key, "--node-id", "n1",
                        "--host", "127.0.0.1"})
                  .ok());
  for (const char* name : {"app", "ops"}) {
    ASSERT_TRUE(
        certs.Run({"create-client", "--certs-dir", dir, "--ca-key", ca_key, "--name", name}).ok());
  }
  nodes_.push_back(std::make_unique<ServerProcess>(std::vector<std::string>{
      "--node-id=n1", "--certs-dir=" + dir, "--client-ca=" + dir + "/ca.crt",
      "--client-roles=app=read-write,ops=admin"}));
  ServerProcess& n = *nodes_.back();
  n.UseClientCertificate(dir + "/client.ops.crt", dir + "/client.ops.key");
  ASSERT_TRUE(n.Start().ok());
  ASSERT_TRUE(n.WaitServing().ok()) << n.Logs();
  auto app =
      v1::Maintenance::NewStub(n.ChannelAs(dir + "/client.app.crt", dir + "/client.app.key"));
  {
    v1::ReleaseLeasesRequest req;
    req.set_node_id("gone");
    v1::ReleaseLeasesResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = app->ReleaseLeases(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("admin"));
  }
  {
    grpc::ClientContext ctx;
    auto reader = app->Snapshot(&ctx, {});
    v1::SnapshotResponse resp;
    EXPECT_FALSE(reader->Read(&resp));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    v1::RestoreResponse resp;
    auto writer = app->Restore(&ctx, &resp);
    writer->WritesDone();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  // The admin may.
  EXPECT_TRUE(Release(n, "gone").ok());
}

}  // namespace
}  // namespace meshkv
