#include "peer/core/own_origin_guard.h"

#include <utility>

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

bool OwnOriginGuard::ClaimsThisNode(const wire::Write& w) const {
  if (w.origin() == node_id_) return true;
  const wire::Record& r = w.record();
  if (r.has_version() && r.version().origin() == node_id_) return true;
  if (r.has_delta_version() && r.delta_version().origin() == node_id_) return true;
  for (const wire::Field& f : r.fields()) {
    if (f.has_version() && f.version().origin() == node_id_) return true;
  }
  return false;
}

bool OwnOriginGuard::Forged(const wire::Write& w, const Dissemination& dissemination) const {
  if (!ClaimsThisNode(w)) return false;
  // Our own write, come back around a cycle before the trees pruned it:
  // SeqTracker holds its seq, so it is dropped as a duplicate and the link
  // that brought it is pruned for our origin, as for anyone's. A seq of an
  // earlier life is not ours to vouch for: the tracker may not hold it.
  const bool echo = w.origin() == node_id_ && dissemination.Originated(w.origin_seq());
  return !echo;
}

uint64_t OwnOriginGuard::Refused(int64_t now_ms) {
  ++refused_;
  ++unlogged_;
  if (last_log_ms_ && now_ms - *last_log_ms_ < kLogPeriodMs) return 0;
  last_log_ms_ = now_ms;
  return std::exchange(unlogged_, 0);
}

}  // namespace meshkv::peer
