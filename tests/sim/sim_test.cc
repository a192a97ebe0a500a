// The mesh, simulated: 50 real mesh cores over real nodes (store, watch hub,
// replication hand-off) on a network that delays, reorders, drops,
// duplicates and partitions, with nodes restarting empty and concurrent
// writers on shared keys, leasing on and off. After the last fault every
// node must hold identical state within a bounded simulated time, and every
// watcher on every node must have seen each change its node committed
// exactly once, in revision order.
//
// MESHKV_SIM_SEEDS: how many seeds (default 200). MESHKV_SIM_SEED: replay
// one. MESHKV_SIM_SOAK=1: longer runs with more faults.
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/sim/simulator.h"
#include "tests/sim/watch_checker.h"

namespace meshkv::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::strtoull(v, nullptr, 10);
}

// Every node's state, compared with node 0's.
void ExpectIdentical(const Simulator& sim) {
  const std::string want = sim.Dump(0);
  for (int i = 1; i < sim.nodes(); ++i) {
    ASSERT_EQ(sim.Dump(i), want) << "node " << i << " differs from node 0";
  }
}

void RunScenario(uint64_t seed, bool soak) {
  SCOPED_TRACE(absl::StrCat("replay with MESHKV_SIM_SEED=", seed,
                            " ctest -R mesh_simulation_test --output-on-failure"));
  SimOptions o;
  o.seed = seed;
  o.leasing = seed % 2 == 0;
  Simulator sim(o);
  std::mt19937_64& rng = sim.rng();
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };

  sim.Run(absl::Seconds(3));
  sim.WriteRandomly(0.05, absl::Seconds(10));
  const int faults = soak ? 30 : 6;
  for (int f = 0; f < faults; ++f) {
    switch (pick(4)) {
      case 0: {  // a partition with writes on both sides
        std::vector<int> side;
        for (int i = 0; i < sim.nodes(); ++i) {
          if (pick(3) == 0) side.push_back(i);
        }
        sim.Partition(side);
        sim.WriteRandomly(0.05, absl::Seconds(5 + pick(15)));
        sim.Heal();
        break;
      }
      case 1:  // a node crashes and comes back from its disk, or empty
        sim.Restart(pick(sim.nodes()), /*keep_disk=*/pick(2) == 0);
        sim.WriteRandomly(0.05, absl::Seconds(pick(5)));
        break;
      case 2:
        for (int k = 0; k < 5; ++k) sim.ResetRandomConnection();
        sim.WriteRandomly(0.05, absl::Seconds(2));
        break;
      default:
        sim.WriteRandomly(0.1, absl::Seconds(5));
    }
  }
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(120)))
      << "not converged 120 s after the last fault; writes " << sim.writes_done();
  ExpectIdentical(sim);
  EXPECT_EQ(sim.CheckWatchers(), "");
  EXPECT_GT(sim.writes_done(), 50u);
  EXPECT_EQ(sim.Total(&peer::MeshStats::protocol_errors), 0u);
}

TEST(MeshSimulationTest, FiftyNodesConvergeAfterEveryKindOfFault) {
  const bool soak = EnvOr("MESHKV_SIM_SOAK", 0) != 0;
  if (const char* one = std::getenv("MESHKV_SIM_SEED")) {
    RunScenario(std::strtoull(one, nullptr, 10), soak);
    return;
  }
  const uint64_t seeds = EnvOr("MESHKV_SIM_SEEDS", soak ? 1000 : 200);
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    RunScenario(seed, soak);
    if (HasFatalFailure()) return;
  }
}

// Expiring keys in play: a third of the writes carry a time to live, some
// are refreshed, nodes' clocks are skewed by up to 50 ms, and the faults
// above happen meanwhile. Digests agree while some nodes have swept a key
// and others not (convergence is checked on digests), every node reaches the
// same state once all have swept, and every watcher saw each expiry once.
void RunTtlScenario(uint64_t seed) {
  SCOPED_TRACE(absl::StrCat("replay with MESHKV_SIM_SEED=", seed,
                            " ctest -R mesh_simulation_test --output-on-failure"));
  SimOptions o;
  o.seed = seed;
  o.nodes = 20;
  o.keys = 50;
  o.leasing = seed % 2 == 0;
  o.ttl_share = 0.35;
  Simulator sim(o);
  std::mt19937_64& rng = sim.rng();
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  sim.Run(absl::Seconds(3));
  sim.WriteRandomly(0.05, absl::Seconds(5));
  for (int f = 0; f < 3; ++f) {
    if (pick(2) == 0) {
      std::vector<int> side;
      for (int i = 0; i < sim.nodes(); ++i) {
        if (pick(3) == 0) side.push_back(i);
      }
      sim.Partition(side);
      sim.WriteRandomly(0.05, absl::Seconds(3 + pick(5)));
      sim.Heal();
    } else {
      sim.Restart(pick(sim.nodes()), /*keep_disk=*/pick(2) == 0);
      sim.WriteRandomly(0.05, absl::Seconds(2));
    }
  }
  sim.WriteRandomly(0.1, absl::Seconds(2));  // ends with keys still to expire
  uint64_t expiring = 0;
  for (int i = 0; i < sim.nodes(); ++i) expiring += sim.store(i).Stats().keys_with_ttl;
  EXPECT_GT(expiring, 0u) << "no key with a ttl in play: the check would be vacuous";
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(120))) << "writes " << sim.writes_done();
  // Every ttl (at most 5 s) runs out; every node sweeps; the state is one.
  sim.Run(absl::Seconds(6));
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(120)));
  ExpectIdentical(sim);
  uint64_t expired = 0;
  for (int i = 0; i < sim.nodes(); ++i) {
    EXPECT_EQ(sim.store(i).Stats().keys_with_ttl, 0u) << "node " << i;
    expired += sim.store(i).Stats().keys_expired;
  }
  EXPECT_GT(expired, 0u);
  EXPECT_EQ(sim.CheckWatchers(), "");
  EXPECT_EQ(sim.Total(&peer::MeshStats::protocol_errors), 0u);
}

TEST(MeshSimulationTest, ExpiringKeysConvergeAndEachExpiryIsSeenOncePerNode) {
  if (const char* one = std::getenv("MESHKV_SIM_SEED")) {
    RunTtlScenario(std::strtoull(one, nullptr, 10));
    return;
  }
  const uint64_t seeds = EnvOr("MESHKV_SIM_SEEDS", 200) / 10;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    RunTtlScenario(seed);
    if (HasFatalFailure()) return;
  }
}

// A node restarted from its disk has its dictionary back before any peer
// answers (here it is cut off), and rejoins without diverging.
TEST(MeshSimulationTest, ARestartFromDiskBringsBackTheStateBeforeAnySync) {
  SimOptions o;
  o.seed = 7;
  o.nodes = 5;
  Simulator sim(o);
  sim.Run(absl::Seconds(3));
  sim.WriteRandomly(0.1, absl::Seconds(5));
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(60)));
  const std::string before = sim.Dump(0);
  const uint64_t revision = sim.store(0).revision();
  sim.Partition({0});
  sim.Restart(0, /*keep_disk=*/true);
  EXPECT_EQ(sim.Dump(0), before);
  EXPECT_GT(sim.records_restored(), 0u);
  EXPECT_GT(sim.store(0).revision(), revision);  // never backwards for a watcher
  sim.Heal();
  sim.WriteRandomly(0.1, absl::Seconds(5));
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(60)));
  ExpectIdentical(sim);
  EXPECT_EQ(sim.CheckWatchers(), "");

  sim.Partition({1});
  sim.Restart(1, /*keep_disk=*/false);
  EXPECT_EQ(sim.store(1).Stats().keys, 0u);
}

// The scenario is not vacuous: writes flood, duplicates are dropped, and
// anti-entropy repairs what the faults lost.
TEST(MeshSimulationTest, TheFaultsHappenAndAreRepaired) {
  SimOptions o;
  o.seed = 42;
  o.nodes = 20;
  o.drop_write_frame = 0.2;
  Simulator sim(o);
  sim.Run(absl::Seconds(3));
  sim.WriteRandomly(0.1, absl::Seconds(10));
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(60)));
  ExpectIdentical(sim);
  EXPECT_GT(sim.Total(&peer::MeshStats::duplicates_dropped), 0u);
  // Echoes of a node's own writes around the mesh's cycles are duplicates,
  // not forgeries: among honest nodes nothing is refused as forged.
  EXPECT_EQ(sim.Total(&peer::MeshStats::own_origin_refused), 0u);
  EXPECT_GT(sim.Total(&peer::MeshStats::sync_keys_repaired), 0u);
  EXPECT_GT(sim.Total(&peer::MeshStats::writes_applied), 0u);
  // The watchers were checked against every kind of commit.
  EXPECT_EQ(sim.CheckWatchers(), "");
  EXPECT_GT(sim.watch_events_read(), sim.writes_done());
  EXPECT_GT(sim.watch_commits(CommitSource::kLocal), 0u);
  EXPECT_GT(sim.watch_commits(CommitSource::kFlooded), 0u);
  EXPECT_GT(sim.watch_commits(CommitSource::kAntiEntropy), 0u);
}

// The watch check is not vacuous: a watcher whose hub has not yet delivered
// (work still queued in the Env) fails it, and passes once it has.
TEST(MeshSimulationTest, TheWatchCheckCatchesAMissedEvent) {
  ManualEnv env(1'700'000'000'000);
  WatchChecker checker({"", "b"});
  StoreOptions so;
  so.node_id = "n";
  meshkv::Node node(so, &env, {&checker});
  node.SetSynced();
  checker.Watch(&node.store(), &node.watches());
  ASSERT_TRUE(node.Set("a", ValueView::Bytes("1")).ok());
  ASSERT_TRUE(node.Set("b", ValueView::Bytes("1")).ok());
  EXPECT_NE(checker.Check(), "");  // the dispatch is still queued
  env.RunPending();
  EXPECT_EQ(checker.Check(), "");
  EXPECT_EQ(checker.events_read(), 3u);  // a and b; b again under "b"
  checker.Stop();
}

// Once an origin's tree has formed, its writes cost one frame per node, not
// one per link: at most 2(N-1) per write however many links there are.
TEST(MeshSimulationTest, WritesTravelTreesOfAboutOneFramePerNode) {
  SimOptions o;
  o.seed = 3;
  o.nodes = 20;
  o.writers = 3;
  o.drop_write_frame = 0;
  o.duplicate_write_frame = 0;
  o.leasing = false;  // every write is accepted: steady streams per origin
  // No periodic anti-entropy, no shuffles: the trees alone must deliver.
  o.anti_entropy_ms = 3'600'000;
  o.shuffle_ms = 3'600'000;
  Simulator sim(o);
  sim.Run(absl::Seconds(5));
  sim.WriteRandomly(0.02, absl::Seconds(5));  // the trees form
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(30)));
  const uint64_t frames = sim.WriteFrames(), writes = sim.writes_done();
  const uint64_t repaired = sim.Total(&peer::MeshStats::sync_keys_repaired);
  sim.WriteRandomly(0.02, absl::Seconds(20));
  ASSERT_TRUE(sim.RunUntilConverged(absl::Seconds(30)));
  const double per_write = static_cast<double>(sim.WriteFrames() - frames) /
                           static_cast<double>(sim.writes_done() - writes);
  EXPECT_LE(per_write, 2.0 * (o.nodes - 1));
  EXPECT_GE(per_write, o.nodes - 1 - 0.5);  // a tree reaches every node
  // The trees delivered everything: anti-entropy found nothing to repair.
  EXPECT_EQ(sim.Total(&peer::MeshStats::sync_keys_repaired), repaired);
  EXPECT_EQ(sim.Total(&peer::MeshStats::writes_resent), 0u);
  EXPECT_EQ(sim.Total(&peer::MeshStats::own_origin_refused), 0u);
  ExpectIdentical(sim);
  std::cerr << "write frames per write with trees formed: " << per_write << "\n";
}

}  // namespace
}  // namespace meshkv::sim
