#include "peer/core/membership.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

Membership::Membership(Options options, std::mt19937_64* rng)
    : options_(std::move(options)), rng_(rng) {}

void Membership::Start(int64_t now_ms) {
  next_shuffle_ms_ = now_ms + options_.shuffle_ms;
  for (const std::string& seed : options_.seeds) At(seed).seed = true;
  At(options_.advertise_addr).self = true;
}

DialTarget& Membership::At(const std::string& addr) {
  auto [it, inserted] = targets_.try_emplace(addr);
  if (inserted) it->second.addr = addr;
  return it->second;
}

void Membership::Backoff(DialTarget& t, int64_t now_ms, bool refused) {
  ++t.failures;  // refused too: only a member's handshake (Reached) is an answer
  t.backoff_ms = refused ? options_.reconnect_max_ms
                         : std::clamp(t.backoff_ms * 2, options_.reconnect_min_ms,
                                      options_.reconnect_max_ms);
  // Jitter in [0.5, 1.5) keeps restarted nodes from dialling in lockstep.
  const double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(*rng_);
  t.next_attempt_ms = now_ms + static_cast<int64_t>(static_cast<double>(t.backoff_ms) * jitter);
}

void Membership::Reached(const std::string& dialled_addr, const std::string& advertised,
                         const std::string& node_id) {
  for (const std::string* addr : {&dialled_addr, &advertised}) {
    if (addr->empty()) continue;
    if (!targets_.contains(*addr) && !MakeRoom()) continue;
    DialTarget& t = At(*addr);
    t.node_id = node_id;
    t.backoff_ms = 0;
    t.failures = 0;
    t.reached = true;
  }
}

// Only for an address a member proved: it may displace hearsay.
bool Membership::MakeRoom() {
  if (targets_.size() < kMaxDialTargets) return true;
  for (auto it = targets_.begin(); it != targets_.end(); ++it) {
    const DialTarget& t = it->second;
    if (!t.reached && !t.seed && !t.self && t.conn == 0) {
      targets_.erase(it);
      return true;
    }
  }
  return false;
}

void Membership::ForgetUnanswered() {
  for (auto it = targets_.begin(); it != targets_.end();) {
    const DialTarget& t = it->second;
    if (!t.reached && !t.seed && !t.self && t.conn == 0 && t.failures >= kMaxUnansweredDials) {
      it = targets_.erase(it);
    } else {
      ++it;
    }
  }
}

DialTarget* Membership::NextToDial(int64_t now_ms,
                                   const absl::flat_hash_map<std::string, bool>& connected,
                                   bool alone) {
  ForgetUnanswered();
  // One unproven address at a time: a hostile peer list costs this node
  // one dial in flight, not max_outbound of them.
  bool probing = false;
  for (const auto& [addr, t] : targets_)
    probing = probing || (t.conn != 0 && !t.reached && !t.seed);
  std::vector<DialTarget*> candidates, seeds;
  for (auto& [addr, t] : targets_) {
    if (t.self || t.conn != 0 || t.next_attempt_ms > now_ms) continue;
    if (probing && !t.reached && !t.seed) continue;
    if (!t.node_id.empty() && connected.count(t.node_id)) continue;
    candidates.push_back(&t);
    if (t.seed) seeds.push_back(&t);
  }
  // Alone, try the seeds first: they are the way in.
  std::vector<DialTarget*>& pool = alone && !seeds.empty() ? seeds : candidates;
  if (pool.empty()) return nullptr;
  return pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(*rng_)];
}

wire::PeerList Membership::MakePeerList(const std::string& peer_id) const {
  wire::PeerList list;
  auto* me = list.add_peers();
  me->set_node_id(options_.node_id);
  me->set_addr(options_.advertise_addr);
  for (const auto& [addr, t] : targets_) {
    // Only what a member proved to this node: a list never relays another's.
    if (t.self || !t.reached || t.node_id.empty() || t.node_id == peer_id) continue;
    auto* entry = list.add_peers();
    entry->set_node_id(t.node_id);
    entry->set_addr(addr);
    if (list.peers_size() >= kMaxPeerListEntries) break;
  }
  return list;
}

void Membership::Merge(const wire::PeerList& list) {
  int entries = 0;
  for (const auto& p : list.peers()) {
    if (++entries > kMaxPeerListEntries) break;
    if (p.addr().empty() || p.node_id() == options_.node_id) continue;
    // Hearsay never displaces an address: beyond the cap, new ones are dropped.
    if (!targets_.contains(p.addr()) && targets_.size() >= kMaxDialTargets) continue;
    DialTarget& known = At(p.addr());
    if (known.node_id.empty()) known.node_id = p.node_id();
  }
}

bool Membership::ShuffleDue(int64_t now_ms) {
  if (now_ms < next_shuffle_ms_) return false;
  next_shuffle_ms_ = now_ms + options_.shuffle_ms;
  return true;
}

bool Membership::Elsewhere(int64_t now_ms,
                           const absl::flat_hash_map<std::string, bool>& connected) const {
  for (const auto& [addr, t] : targets_) {
    if (!t.self && t.conn == 0 && t.next_attempt_ms <= now_ms && !t.node_id.empty() &&
        !connected.count(t.node_id)) {
      return true;
    }
  }
  return false;
}

int Membership::KnownNodes() const {
  // Nodes, not addresses: one node may be known under several names.
  absl::flat_hash_set<std::string> nodes;
  int known = 0;
  for (const auto& [addr, t] : targets_) {
    if (t.self || t.node_id == options_.node_id) continue;
    if (t.node_id.empty() || nodes.insert(t.node_id).second) ++known;
  }
  return known;
}

}  // namespace meshkv::peer
