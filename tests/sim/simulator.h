// Simulator: many meshkv nodes in one process, on a simulated network, in
// simulated time. Each node is the real mesh core (peer::Mesh) over a real
// meshkv::Node (store, watch hub, replication hand-off), with watchers on
// every node (WatchChecker); only sockets, clocks and the Env's worker are
// simulated, so a seed replays exactly.
//
// The network: a dial reaches a node that is up and not cut off, after a
// random delay; bytes travel each direction of a connection in order (TCP),
// after a random latency and at a limited bandwidth, so connections and
// paths reorder against each other. Faults: write frames dropped (as a
// sender's full queue drops them) or delivered twice, partitions (a cut
// drops everything crossing it and stalls dials until the core gives up),
// connection resets, and restarts that lose every byte of a node's state or
// keep what its disk held.
//
//   Simulator sim(options);
//   sim.Run(absl::Seconds(5));
//   sim.WriteRandomly(0.2, absl::Seconds(30));  // writes while time passes
//   sim.Partition({0, 1, 2});
//   ...
//   sim.Heal();
//   EXPECT_TRUE(sim.RunUntilConverged(absl::Seconds(60)));
//
// Not thread-safe.
#ifndef MESHKV_TESTS_SIM_SIMULATOR_H_
#define MESHKV_TESTS_SIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "peer/core/mesh.h"
#include "common/env.h"
#include "server/node.h"
#include "server/replication_handoff.h"
#include "store/store.h"
#include "tests/sim/watch_checker.h"

namespace meshkv::sim {

struct SimOptions {
  int nodes = 50;
  uint64_t seed = 1;
  bool leasing = true;
  int seeds_per_node = 2;  // each node joins this many random earlier nodes
  int64_t min_latency_ms = 1;
  int64_t max_latency_ms = 40;
  double bytes_per_ms = 10'000;    // per connection and direction (10 MB/s)
  double drop_write_frame = 0.02;  // probability per WriteBatch frame
  double duplicate_write_frame = 0.02;
  int64_t max_clock_skew_ms = 50;  // each node's wall clock is off by up to this
  int keys = 100;                  // key space of the random writes
  int writers = 0;                 // writes enter at nodes [0, writers); 0: any node
  // The mesh's own defaults unless a test changes them.
  int64_t anti_entropy_ms =  // periodic sync (a new connection syncs regardless)
      peer::MeshOptions().anti_entropy_ms;
  int64_t shuffle_ms = peer::MeshOptions().shuffle_ms;
  // Share of Sets, Updates and ApplyDeltas that carry a time to live (0.1 s
  // to 5 s), and then one write in ten is a Touch instead. 0: no expiry in
  // play (and the random choices of earlier seeds stay as they were).
  double ttl_share = 0;
};

class Simulator {
 public:
  explicit Simulator(SimOptions options);
  ~Simulator();

  // Advances simulated time, processing every event due.
  void Run(absl::Duration d);
  // Random writes at random live nodes at `per_ms` writes per ms while `d`
  // passes (sets, mappings, deltas, deletes, pops, updates).
  void WriteRandomly(double per_ms, absl::Duration d);
  // Runs until every live node holds the same state (digests equal) and is
  // synced, at most `limit`; false if it never did.
  bool RunUntilConverged(absl::Duration limit);

  // Faults.
  void Partition(const std::vector<int>& side);  // cut `side` from the rest
  void Heal();
  // Crash and start again (same ID): with `keep_disk`, from what the node
  // had recorded on its (simulated) disk, as a node with --data-dir does;
  // otherwise with nothing.
  void Restart(int node, bool keep_disk = false);
  void ResetRandomConnection();

  int nodes() const { return static_cast<int>(nodes_.size()); }
  int64_t now_ms() const { return now_; }
  std::mt19937_64& rng() { return rng_; }
  // Every record (tombstones, versions) and every live entry, as text.
  std::string Dump(int node) const;
  const Store& store(int node) const { return nodes_[node]->node->store(); }
  // Empty when every watcher of every node, in every life so far, read each
  // committed change under its prefix once, in order; else the first failure.
  std::string CheckWatchers() const;
  // What the watchers checked, over every life: events read, and the commits
  // by source they were checked against.
  uint64_t watch_events_read() const;
  uint64_t watch_commits(CommitSource source) const;
  peer::MeshSnapshot Snapshot(int node) const { return nodes_[node]->mesh->Snapshot(now_ * 1000); }
  // Sum of a counter over every node's current life.
  uint64_t Total(uint64_t peer::MeshStats::*counter) const;
  // WriteBatch frames sent by every node's current life.
  uint64_t WriteFrames() const;
  uint64_t writes_done() const { return writes_done_; }
  uint64_t writes_refused() const { return writes_refused_; }
  // Records restarted nodes restored from their disks, over every life.
  uint64_t records_restored() const { return records_restored_; }

 private:
  class HostEnv;
  class Disk;
  // One simulated machine; the members below `env` live for one life.
  struct Host {
    // The watchers leave the hub before the node (and its hub) goes.
    ~Host();
    std::string id;
    std::unique_ptr<Disk> disk;  // outlives lives; replaced when a restart loses it
    std::unique_ptr<ManualClock> clock;
    std::unique_ptr<Env> env;
    std::unique_ptr<ReplicationHandoff> handoff;
    std::unique_ptr<WatchChecker> watchers;
    std::unique_ptr<meshkv::Node> node;
    std::unique_ptr<peer::Mesh> mesh;
    int64_t skew_ms = 0;
    int life = 0;  // bumped on restart: stale events are ignored
  };
  // One end of a connection: (node, its ConnId there).
  struct End {
    int node = -1;
    peer::ConnId conn = 0;
    int life = 0;
    bool operator<(const End& o) const {
      return std::tie(node, conn, life) < std::tie(o.node, o.conn, o.life);
    }
  };
  struct Link {
    End a, b;
    int64_t free_at[2] = {0, 0};     // when each direction's wire is free
    int64_t arrived_at[2] = {0, 0};  // when its last chunk arrives
    bool sending[2] = {false, false};
    // A cut ate bytes in flight: the stream is dead, as a TCP connection
    // that lost data would be; its ends find out by their own timeouts.
    bool broken = false;
  };
  struct Event {
    int64_t at;
    uint64_t order;
    std::function<void()> run;
    bool operator>(const Event& o) const { return std::tie(at, order) > std::tie(o.at, o.order); }
  };

  void StartNode(int i);
  void At(int64_t at, std::function<void()> fn);
  void Tick(int i, int life);  // the node's timers, every 100 ms while that life lasts
  void Pump(int i);            // carries out a node's commands and output
  void StartSending(Link* link, int dir);
  void Dial(int from, peer::ConnId conn, const std::string& addr);
  void CloseEnd(const End& end);
  bool Cut(int a, int b) const;
  bool Alive(const End& e) const { return nodes_[e.node]->life == e.life; }
  int64_t Latency();
  void RandomWrite();
  std::string Addr(int i) const { return "node-" + std::to_string(i) + ":4444"; }

  const SimOptions options_;
  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t order_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::vector<std::unique_ptr<Host>> nodes_;
  std::vector<std::unique_ptr<Link>> links_;
  std::map<End, Link*> link_of_;
  std::set<int> side_;  // one side of the current partition (empty: none)
  uint64_t writes_done_ = 0;
  uint64_t writes_refused_ = 0;
  uint64_t records_restored_ = 0;
  // Of the watchers of lives that ended.
  std::string past_watch_error_;
  uint64_t past_watch_events_ = 0;
  std::array<uint64_t, 4> past_watch_commits_{};  // by CommitSource
};

}  // namespace meshkv::sim

#endif  // MESHKV_TESTS_SIM_SIMULATOR_H_
