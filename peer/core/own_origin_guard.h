// OwnOriginGuard: refuses flooded writes that claim to be this node's own
// but that it never made (docs/design.md, "Trust model").
//
// Writes are not signed, so a member can forge any origin's. It cannot make
// this node take a forgery of its *own* writes: a flooded write whose
// origin, or any version it carries, names this node is refused unless it is
// the echo of a write this node made in this life (a sequence number it
// used: such a write came back around a cycle of the mesh before the trees
// pruned it, and is dropped as a duplicate like anyone's). Refused before the
// sequence tracker sees it, so a forged seq cannot mark this node's next own
// writes as duplicates, and before the store, so this node keeps its values.
// Each refusal is counted; the warning about them is rate-limited, so a
// flood of forgeries costs a log line per kLogPeriodMs.
//
//   OwnOriginGuard guard("n1");
//   if (guard.Forged(w, dissemination)) {
//     if (uint64_t n = guard.Refused(now_ms)) Log(..., n refused since the last line);
//     continue;
//   }
//
// Not thread-safe: owned by the mesh core.
#ifndef MESHKV_PEER_CORE_OWN_ORIGIN_GUARD_H_
#define MESHKV_PEER_CORE_OWN_ORIGIN_GUARD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "meshkv/mesh/v1/mesh.pb.h"
#include "peer/core/dissemination.h"

namespace meshkv::peer {

class OwnOriginGuard {
 public:
  // Refusals are logged at most this often (each is counted).
  static constexpr int64_t kLogPeriodMs = 10000;

  explicit OwnOriginGuard(std::string node_id) : node_id_(std::move(node_id)) {}

  // Whether `w` names this node as an author: its origin, or the origin of
  // any version it carries. A write relayed for another origin carries only
  // that origin's versions (a store writes with its own node ID), so only a
  // forgery (or our own write) names ours.
  bool ClaimsThisNode(const meshkv::mesh::v1::Write& w) const;
  // Whether `w` must be refused: it claims this node, and is not a write
  // this node originated in this life (`dissemination` knows the seqs used).
  bool Forged(const meshkv::mesh::v1::Write& w, const Dissemination& dissemination) const;

  // Counts a refusal at `now_ms`. Returns the number refused since the last
  // warning (this one included) when a warning is due now: the first
  // refusal, then at most one per kLogPeriodMs; else 0.
  uint64_t Refused(int64_t now_ms);

  uint64_t refused() const { return refused_; }

 private:
  const std::string node_id_;
  uint64_t refused_ = 0;
  uint64_t unlogged_ = 0;  // refused since the last warning
  std::optional<int64_t> last_log_ms_;
};

}  // namespace meshkv::peer

#endif  // MESHKV_PEER_CORE_OWN_ORIGIN_GUARD_H_
