// mesh_sim: runs one simulated scenario and prints what happened, for
// exploring the protocol and measuring it (frames per write, convergence).
//
//   mesh_sim [nodes] [seed] [writes_per_ms] [drop_probability]
#include <cstdio>
#include <cstdlib>

#include "tests/sim/simulator.h"

int main(int argc, char** argv) {
  meshkv::sim::SimOptions o;
  o.nodes = argc > 1 ? std::atoi(argv[1]) : 10;
  o.seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
  const double rate = argc > 3 ? std::atof(argv[3]) : 0.05;
  o.drop_write_frame = argc > 4 ? std::atof(argv[4]) : 0;
  o.duplicate_write_frame = o.drop_write_frame;
  meshkv::sim::Simulator s(o);
  s.Run(absl::Seconds(3));
  for (int i = 0; i < std::min(o.nodes, 3); ++i) {
    auto snap = s.Snapshot(i);
    std::printf("node %d synced=%d connections=%zu known=%d\n", i, snap.synced, snap.peers.size(),
                snap.peers_known);
  }
  s.WriteRandomly(rate, absl::Seconds(10));
  const int64_t before = s.now_ms();
  const bool converged = s.RunUntilConverged(absl::Seconds(120));
  using S = meshkv::peer::MeshStats;
  uint64_t frames = 0;
  for (int i = 0; i < s.nodes(); ++i) {
    for (const auto& [id, c] : s.Snapshot(i).counters) {
      frames += c.frames_sent[static_cast<int>(meshkv::peer::FrameType::kWriteBatch)];
    }
  }
  std::printf(
      "converged=%d after %lld ms; writes done=%llu refused=%llu; applied=%llu duplicates=%llu "
      "write_frames=%llu (%.2f per write) sync rounds=%llu failed=%llu repaired=%llu keys=%llu\n",
      converged, static_cast<long long>(s.now_ms() - before),
      static_cast<unsigned long long>(s.writes_done()),
      static_cast<unsigned long long>(s.writes_refused()),
      static_cast<unsigned long long>(s.Total(&S::writes_applied)),
      static_cast<unsigned long long>(s.Total(&S::duplicates_dropped)),
      static_cast<unsigned long long>(frames),
      s.writes_done() ? static_cast<double>(frames) / s.writes_done() : 0.0,
      static_cast<unsigned long long>(s.Total(&S::sync_rounds_completed)),
      static_cast<unsigned long long>(s.Total(&S::sync_rounds_failed)),
      static_cast<unsigned long long>(s.Total(&S::sync_keys_repaired)),
      static_cast<unsigned long long>(s.store(0).Stats().keys));
  return converged ? 0 : 1;
}
