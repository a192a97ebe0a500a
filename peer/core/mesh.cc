#include "peer/core/mesh.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/host_port.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;
using Reason = wire::Goodbye::Reason;
using State = ConnectionState;

namespace {

// A peer-supplied ID echoed into a log or a Goodbye is cut to this.
constexpr size_t kMaxLoggedIdBytes = 128;

// Peers whose traffic is counted (each a set of metric series): members
// come and go; IDs of peers no longer connected make room.
constexpr size_t kMaxCountedPeers = 256;

// The MeshStats::batch_sizes bucket of a batch of `writes`: the smallest b
// with 2^b >= writes, the last bucket taking the rest.
size_t BatchBucket(size_t writes) {
  size_t b = 0;
  while ((size_t{1} << b) < writes && b + 1 < kBatchSizeBuckets) ++b;
  return b;
}

Handshake::Local LocalOf(const MeshOptions& o, const Replica& replica) {
  Handshake::Local l;
  l.node_id = o.node_id;
  l.advertise_addr = o.advertise_addr;
  l.cluster = o.cluster;
  l.leasing = o.leasing;
  l.buckets = replica.buckets();
  l.incarnation_ms = o.incarnation_ms;
  return l;
}

Membership::Options MembershipOf(const MeshOptions& o) {
  Membership::Options m;
  m.node_id = o.node_id;
  m.advertise_addr = o.advertise_addr;
  m.seeds = o.seeds;
  m.reconnect_min_ms = o.reconnect_min_ms;
  m.reconnect_max_ms = o.reconnect_max_ms;
  m.shuffle_ms = o.shuffle_ms;
  return m;
}

AntiEntropy::Options AntiEntropyOf(const MeshOptions& o) {
  AntiEntropy::Options a;
  a.anti_entropy_ms = o.anti_entropy_ms;
  a.initial_sync_timeout_ms = o.initial_sync_timeout_ms;
  a.sync_timeout_ms = o.sync_timeout_ms;
  return a;
}

}  // namespace

const char* Name(Refusal r) {
  switch (r) {
    case Refusal::kCertificate:
      return "certificate";
    case Refusal::kNodeIdMismatch:
      return "node_id_mismatch";
    case Refusal::kIncompatible:
      return "incompatible";
    case Refusal::kFrameTooLarge:
      return "frame_too_large";
    case Refusal::kTooManyPending:
      return "too_many_pending";
    case Refusal::kCertificateExpired:
      return "certificate_expired";
  }
  return "?";
}

Mesh::Mesh(MeshOptions options, Replica* replica, MeshLogFn log)
    : options_(std::move(options)),
      replica_(replica),
      log_(std::move(log)),
      local_(LocalOf(options_, *replica_)),
      rng_(options_.rng_seed),
      membership_(MembershipOf(options_), &rng_),
      dissemination_(options_.node_id, options_.incarnation_ms, options_.recent_writes,
                     options_.recent_write_bytes),
      own_origin_(options_.node_id),
      anti_entropy_(AntiEntropyOf(options_)) {}

Mesh::~Mesh() = default;

void Mesh::Log(LogLevel level, const std::string& msg,
               std::vector<std::pair<std::string, std::string>> fields) const {
  if (log_) log_(level, msg, std::move(fields));
}

// ---------------------------------------------------------------------------
// Inputs

void Mesh::Start(int64_t now_us) {
  const int64_t now = Clock(now_us);
  anti_entropy_.Start(now, /*has_seeds=*/!options_.seeds.empty());
  membership_.Start(now);
  MaintainDegree(now);
  Finish();
}

ConnId Mesh::Accepted(absl::string_view remote, int64_t now_us) {
  const int64_t now = Clock(now_us);
  const std::string block = AddressBlockOf(remote);
  int pending = 0, from_host = 0;
  for (const auto& [id, other] : conns_) {
    if (!other->outbound && (other->state == State::kSecuring ||
                             other->state == State::kHandshaking)) {
      ++pending;
      from_host += AddressBlockOf(other->addr) == block;
    }
  }
  Connection& c = NewConnection(/*outbound=*/false, std::string(remote), now);
  ++stats_.connections_accepted;
  if (pending >= options_.max_pending_handshakes ||
      from_host >= options_.max_pending_handshakes_per_host) {
    // A flood of strangers: close before spending a TLS handshake on it.
    Refuse(Refusal::kTooManyPending);
    Log(LogLevel::kDebug, "closing connection: too many pending handshakes",
        {{"addr", c.addr},
         {"pending", absl::StrCat(pending)},
         {"from_host", absl::StrCat(from_host)}});
    c.state = State::kSecuring;  // no goodbye: the peer has not been heard
    Close(c, wire::Goodbye::UNSPECIFIED, "");
  } else if (options_.authenticated) {
    c.state = State::kSecuring;
  } else {
    Admit(c);
  }
  Finish();
  return c.id;
}

void Mesh::Admit(Connection& c) {
  int inbound = 0;
  for (const auto& [id, other] : conns_) {
    if (!other->outbound && !other->closing() && other->state != State::kSecuring) ++inbound;
  }
  if (shutting_down_) {
    Close(c, wire::Goodbye::SHUTDOWN, "node is stopping");
  } else if (inbound > options_.max_inbound) {
    Close(c, wire::Goodbye::TOO_MANY_PEERS,
          absl::StrCat("already ", inbound - 1, " inbound peers"));
  } else {
    SendHello(c);
  }
}

void Mesh::Secured(ConnId id, absl::string_view certified_id, int64_t now_us,
                   HostCheck certifies_host) {
  Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->state != State::kSecuring) return;
  Connection& c = *it->second;
  c.certified_id = std::string(certified_id);
  c.certifies_host = std::move(certifies_host);
  c.state = State::kHandshaking;
  if (c.outbound) {
    SendHello(c);
  } else {
    Admit(c);
  }
  Finish();
}

void Mesh::TransportRefused(ConnId id, absl::string_view why, int64_t now_us, Refusal kind) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  Refuse(kind);
  Log(LogLevel::kWarning, "refusing peer",
      {{"addr", c.addr}, {"reason", absl::StrCat("TLS: ", why)}});
  if (c.outbound) membership_.Backoff(membership_.At(c.addr), now, /*refused=*/true);
  Forget(id, /*failed=*/false, now);
  MaintainDegree(now);
  Finish();
}

void Mesh::Connected(ConnId id, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->state != State::kDialing) return;
  it->second->last_recv_ms = now;
  if (options_.authenticated) {
    it->second->state = State::kSecuring;
  } else {
    it->second->state = State::kHandshaking;
    SendHello(*it->second);
  }
  Finish();
}

void Mesh::ConnectFailed(ConnId id, absl::string_view error, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Log(LogLevel::kDebug, "cannot reach peer",
      {{"addr", it->second->addr}, {"error", std::string(error)}});
  Forget(id, /*failed=*/true, now);
  Finish();
}

void Mesh::Received(ConnId id, absl::string_view bytes, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.closing()) return;
  if (c.state == State::kDialing || c.state == State::kSecuring) {
    ProtocolError(c, "bytes before the transport is up");  // a driver bug
    Finish();
    return;
  }
  c.last_recv_ms = now;
  c.decoder.Feed(bytes);
  FrameType type;
  absl::string_view bytes_of_body;
  while (!c.closing() && c.decoder.Next(&type, &bytes_of_body)) {
    if (PeerCounters* pc = CountersFor(c)) {
      ++pc->frames_received[static_cast<int>(type)];
      pc->bytes_received[static_cast<int>(type)] += kFrameHeaderBytes + bytes_of_body.size();
    }
    // Only Hello and Goodbye may come before the handshake ends.
    if (!c.established() && type != FrameType::kHello && type != FrameType::kGoodbye) {
      ProtocolError(c, absl::StrCat(FrameTypeName(type), " before the handshake"));
      break;
    }
    absl::StatusOr<FrameBody> body = ParseFrameBody(type, bytes_of_body);
    if (!body.ok()) {
      ProtocolError(c, std::string(body.status().message()));
      break;
    }
    HandleFrame(c, *body, now);
  }
  if (!c.decoder.status().ok() && !c.closing()) {
    if (c.decoder.oversized() && !c.established()) Refuse(Refusal::kFrameTooLarge);
    ProtocolError(c, std::string(c.decoder.status().message()));
  }
  Finish();
}

void Mesh::Closed(ConnId id, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  const bool unexpected = !it->second->closing();
  if (unexpected && it->second->established()) {
    Log(LogLevel::kInfo, "peer disconnected", {{"peer", it->second->peer_id}});
    LostLink(*it->second);
  }
  Forget(id, unexpected, now);
  MaintainDegree(now);
  Finish();
}

void Mesh::Tick(int64_t now_us) {
  const int64_t now = Clock(now_us);
  for (auto& [id, c] : conns_) TickConnection(*c, now);
  if (anti_entropy_.RoundDue(now)) {
    std::vector<Connection*> idle;
    for (auto& [id, c] : conns_) {
      if (c->established() && !c->initiated) idle.push_back(c.get());
    }
    if (!idle.empty()) {
      StartSync(*idle[std::uniform_int_distribution<size_t>(0, idle.size() - 1)(rng_)], now);
    }
  }
  if (membership_.ShuffleDue(now)) Shuffle(now);
  bool syncing = false;
  for (const auto& [id, c] : conns_) syncing = syncing || c->initiated || c->responding;
  if (anti_entropy_.GiveUpWaiting(now, syncing)) {
    Log(LogLevel::kWarning, "no peer answered in time; serving with what this node has",
        {{"waited_ms", absl::StrCat(anti_entropy_.waited_ms(now))}});
  }
  MaintainDegree(now);
  Finish();
}

void Mesh::TickConnection(Connection& c, int64_t now) {
  switch (c.state) {
    case State::kDialing:
    case State::kSecuring:
    case State::kHandshaking:
      if (now - c.created_ms > options_.handshake_timeout_ms) {
        // A dial that never completed failed like a refused one: back off
        // (Close() makes Closed() take it for a deliberate close).
        if (c.outbound) membership_.Backoff(membership_.At(c.addr), now, /*refused=*/false);
        Close(c, wire::Goodbye::PROTOCOL_ERROR, "handshake timed out");
      }
      return;
    case State::kEstablished:
      if (now - c.last_recv_ms > options_.failure_timeout_ms) {
        ++stats_.peers_timed_out;
        Log(LogLevel::kWarning, "peer timed out",
            {{"peer", c.peer_id}, {"silent_ms", absl::StrCat(now - c.last_recv_ms)}});
        Close(c, wire::Goodbye::UNSPECIFIED, "");
        return;
      }
      if (now - c.last_ping_ms >= options_.heartbeat_ms) {
        wire::Ping ping;
        ping.set_sent_us(now_us_);
        dissemination_.AddMarks(ping.mutable_seen());
        Send(c, FrameType::kPing, ping);
        c.last_ping_ms = now;
      }
      if (c.initiated && anti_entropy_.Expired(*c.initiated, now)) {
        EndSync(c, SyncSession::Role::kInitiator, /*completed=*/false);
      }
      if (c.responding && anti_entropy_.Expired(*c.responding, now)) {
        EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
      }
      if (c.want_sync && !c.initiated) StartSync(c, now);
      return;
    case State::kClosing:
      return;
  }
}

void Mesh::Broadcast(std::vector<wire::Record> records, int64_t now_us, bool ack_wanted) {
  Clock(now_us);
  for (wire::Record& r : records) {
    wire::Write w = dissemination_.Originate(std::move(r));
    if (ack_wanted) w.set_ack_wanted(true);
    ++stats_.writes_originated;
    Forward(nullptr, w);
    dissemination_.Remember(std::move(w));
  }
  Finish();
}

void Mesh::Durable(int64_t now_us, bool ok) {
  Clock(now_us);
  durable_pending_ = false;
  std::vector<AckTracker::Due> due = std::exchange(durable_due_, {});
  if (ok) SendAcks(due);
  if (std::exchange(durable_again_, false)) SendOwedAcks();
  Finish();
}

void Mesh::Shutdown(int64_t now_us) {
  Clock(now_us);
  shutting_down_ = true;
  for (auto& [id, c] : conns_) {
    if (c->closing()) continue;
    FlushBatch(*c);  // queued writes go before the goodbye
    Close(*c, wire::Goodbye::SHUTDOWN, "node is stopping");
  }
  Finish();
}

// ---------------------------------------------------------------------------
// Outputs

std::vector<Command> Mesh::TakeCommands() { return std::exchange(commands_, {}); }

std::vector<ConnId> Mesh::TakeWritable() {
  for (ConnId id : writable_) {
    auto it = conns_.find(id);
    if (it != conns_.end()) it->second->queued_writable = false;
  }
  return std::exchange(writable_, {});
}

std::string Mesh::TakeOutput(ConnId id, size_t max_bytes) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return "";
  Connection& c = *it->second;
  if (c.established()) {
    // Anti-entropy output is made only while the queue is short.
    int64_t budget =
        static_cast<int64_t>(options_.sync_low_water_bytes) - static_cast<int64_t>(c.out.size());
    for (auto* s : {&c.initiated, &c.responding}) {
      if (*s && budget > 0) {
        const SyncSession::Emit emit = [&](FrameType t, const google::protobuf::MessageLite& m) {
          if (t != FrameType::kSyncEnd) return Send(c, t, m);
          // Every SyncEnd carries the watermarks of when the session began.
          wire::SyncEnd end = static_cast<const wire::SyncEnd&>(m);
          for (const auto& [origin, seq] : (*s)->marks()) {
            wire::OriginMark* mark = end.add_seen();
            mark->set_origin(origin);
            mark->set_seq(seq);
          }
          Send(c, t, end);
        };
        stats_.sync_records_sent += (*s)->Produce(emit, &budget);
        if ((*s)->done()) {
          EndSync(c, (*s)->role(), /*completed=*/true);
        }
      }
    }
  }
  if (c.out.size() <= max_bytes) return std::exchange(c.out, {});
  std::string head = c.out.substr(0, max_bytes);
  c.out.erase(0, max_bytes);
  return head;
}

MeshSnapshot Mesh::Snapshot(int64_t now_us) const {
  MeshSnapshot s;
  s.taken_ms = now_us / 1000;
  s.synced = synced();
  s.peers_known = membership_.KnownNodes();
  s.peers_wanted = std::min(options_.max_outbound, s.peers_known);
  for (const auto& [id, c] : conns_) {
    PeerStatus ps;
    ps.node_id = c->peer_id;
    ps.addr = c->peer_addr.empty() ? c->addr : c->peer_addr;
    ps.state = Name(c->state);
    ps.outbound = c->outbound;
    ps.rtt_ms = c->rtt_ms;
    ps.connected_since_ms = c->established_ms;
    s.peers.push_back(std::move(ps));
  }
  s.counters.assign(counters_.begin(), counters_.end());
  s.stats = stats_;
  return s;
}

// ---------------------------------------------------------------------------
// Frames

PeerCounters* Mesh::CountersFor(const Connection& c) {
  if (c.peer_id.empty()) return nullptr;
  auto it = counters_.find(c.peer_id);
  if (it != counters_.end()) return &it->second;
  if (counters_.size() >= kMaxCountedPeers) {
    // Full (only without TLS can that many IDs come): peers gone make room.
    absl::flat_hash_map<std::string, bool> connected = ConnectedNodes();
    for (auto old = counters_.begin(); old != counters_.end();) {
      old = connected.contains(old->first) ? std::next(old) : counters_.erase(old);
    }
    if (counters_.size() >= kMaxCountedPeers) return nullptr;
  }
  return &counters_[c.peer_id];
}

void Mesh::Send(Connection& c, FrameType type, const google::protobuf::MessageLite& msg) {
  const size_t before = c.out.size();
  AppendFrame(type, msg, &c.out);
  if (PeerCounters* pc = CountersFor(c)) {
    ++pc->frames_sent[static_cast<int>(type)];
    pc->bytes_sent[static_cast<int>(type)] += c.out.size() - before;
  }
}

void Mesh::HandleFrame(Connection& c, FrameBody& body, int64_t now) {
  if (auto* hello = std::get_if<wire::Hello>(&body)) {
    if (c.established()) return ProtocolError(c, "second hello");
    return OnHello(c, *hello, now);
  }
  if (auto* bye = std::get_if<wire::Goodbye>(&body)) return OnGoodbye(c, *bye, now);
  if (auto* list = std::get_if<wire::PeerList>(&body)) return membership_.Merge(*list);
  if (auto* ping = std::get_if<wire::Ping>(&body)) return OnPing(c, *ping);
  if (auto* pong = std::get_if<wire::Pong>(&body)) return OnPong(c, *pong);
  if (auto* prune = std::get_if<wire::Prune>(&body)) {
    c.trees.pruned_by_peer.insert(prune->origin());
    return;
  }
  if (auto* graft = std::get_if<wire::Graft>(&body)) return OnGraft(c, *graft, now);
  if (auto* batch = std::get_if<wire::WriteBatch>(&body)) return OnWriteBatch(c, *batch);
  if (auto* chunk = std::get_if<wire::RecordChunk>(&body)) return OnRecordChunk(*chunk);
  if (auto* offer = std::get_if<wire::DigestOffer>(&body)) return OnDigestOffer(c, *offer, now);
  if (auto* keys = std::get_if<wire::BucketKeys>(&body)) return OnBucketKeys(c, *keys);
  if (auto* pull = std::get_if<wire::Pull>(&body)) return OnPull(c, *pull);
  if (auto* end = std::get_if<wire::SyncEnd>(&body)) return OnSyncEnd(c, *end);
  if (auto* ack = std::get_if<wire::Ack>(&body)) return OnAck(c, *ack);
}

void Mesh::OnHello(Connection& c, const wire::Hello& hello, int64_t now) {
  Handshake::Outcome outcome;
  Refusal why = Refusal::kIncompatible;
  if (options_.authenticated && hello.node_id() != c.certified_id) {
    // The certificate is the identity; the Hello's claim is untrusted input
    // (its length and bytes are bounded before it reaches a log).
    why = Refusal::kNodeIdMismatch;
    outcome.verdict = Handshake::Verdict::kRefuse;
    outcome.refusal = absl::StrCat("peer claims node ID \"",
                                   absl::CHexEscape(hello.node_id().substr(0, kMaxLoggedIdBytes)),
                                   "\" but its certificate names \"", c.certified_id, "\"");
  } else {
    outcome = Handshake::Check(hello, local_);
  }
  switch (outcome.verdict) {
    case Handshake::Verdict::kRefuse:
      ++stats_.handshakes_refused;
      Refuse(why);
      Log(LogLevel::kWarning, "refusing peer",
          {{"peer", c.certified_id.empty()
                        ? absl::CHexEscape(hello.node_id().substr(0, kMaxLoggedIdBytes))
                        : c.certified_id},
           {"addr", c.addr},
           {"reason", outcome.refusal}});
      if (c.outbound) membership_.Backoff(membership_.At(c.addr), now, /*refused=*/true);
      Close(c, wire::Goodbye::REFUSED, outcome.refusal);
      return;
    case Handshake::Verdict::kSelf:
      // Our own address, under some name: never dial it again.
      if (c.outbound) membership_.At(c.addr).self = true;
      Close(c, wire::Goodbye::UNSPECIFIED, "");
      return;
    case Handshake::Verdict::kAccept:
      break;
  }
  c.peer_id = hello.node_id();
  c.peer_addr = hello.advertise_addr();
  c.peer_synced = hello.synced();
  if (Duplicate(c)) {
    if (c.outbound) membership_.At(c.addr).node_id = c.peer_id;
    Close(c, wire::Goodbye::DUPLICATE, "another connection between us is kept");
    return;
  }
  // The other connection of the pair, if any, loses to this one.
  for (auto& [id, other] : conns_) {
    if (other.get() != &c && other->peer_id == c.peer_id && !other->closing()) {
      Close(*other, wire::Goodbye::DUPLICATE, "another connection between us is kept");
    }
  }
  Establish(c, now);
}

bool Mesh::TrustedAddr(const Connection& c) const {
  if (!c.certifies_host) return true;
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(c.peer_addr);
  if (hp.ok() && c.certifies_host(hp->first)) return true;
  Log(LogLevel::kWarning,
      "not dialling the address a peer advertises: its certificate does not name the host",
      {{"peer", c.peer_id}, {"addr", absl::CHexEscape(c.peer_addr.substr(0, kMaxLoggedIdBytes))}});
  return false;
}

bool Mesh::Duplicate(const Connection& c) const {
  for (const auto& [id, other] : conns_) {
    if (other.get() == &c || other->peer_id != c.peer_id || other->closing()) continue;
    if (Handshake::KeepsOther(options_.node_id, c.peer_id, {other->outbound, other->id},
                              {c.outbound, c.id})) {
      return true;
    }
  }
  return false;
}

void Mesh::Establish(Connection& c, int64_t now) {
  c.state = State::kEstablished;
  c.decoder.set_max_body_bytes(options_.max_frame_bytes);  // a member now
  c.established_ms = now;
  c.last_ping_ms = now;
  membership_.Reached(c.outbound ? c.addr : "", TrustedAddr(c) ? c.peer_addr : "", c.peer_id);
  Log(LogLevel::kInfo, "peer connected",
      {{"peer", c.peer_id}, {"addr", c.peer_addr}, {"direction", c.outbound ? "out" : "in"}});
  SendPeerList(c);
  // The dialler starts the first exchange, so a pair syncs once, not twice.
  if (c.outbound) StartSync(c, now);
}

void Mesh::OnGoodbye(Connection& c, const wire::Goodbye& bye, int64_t now) {
  const LogLevel level =
      bye.reason() == wire::Goodbye::REFUSED ? LogLevel::kWarning : LogLevel::kInfo;
  Log(level, "peer said goodbye",
      {{"peer", c.who()},
       {"reason", wire::Goodbye::Reason_Name(bye.reason())},
       {"detail", bye.detail()}});
  if (c.outbound) {
    // Whatever the reason, do not dial straight back: a full or stopping
    // peer would refuse again at once.
    DialTarget& t = membership_.At(c.addr);
    membership_.Backoff(t, now, /*refused=*/bye.reason() == wire::Goodbye::REFUSED);
    if (bye.reason() == wire::Goodbye::DUPLICATE && !c.peer_id.empty()) t.node_id = c.peer_id;
  }
  Close(c, wire::Goodbye::UNSPECIFIED, "");
}

void Mesh::OnPing(Connection& c, const wire::Ping& ping) {
  wire::Pong pong;
  pong.set_nonce(ping.nonce());
  pong.set_sent_us(ping.sent_us());
  Send(c, FrameType::kPong, pong);
  // While syncing, anti-entropy brings everything; grafting would only
  // duplicate it.
  if (!synced()) return;
  for (const wire::Graft& graft : dissemination_.Heartbeat(c.trees, ping.seen())) {
    SendGraft(c, graft);
  }
}

void Mesh::OnPong(Connection& c, const wire::Pong& pong) {
  const double sample = static_cast<double>(now_us_ - pong.sent_us()) / 1000.0;
  if (sample < 0) return;  // a Pong for a Ping we did not send
  c.rtt_ms = c.rtt_ms == 0 ? sample : c.rtt_ms * 0.875 + sample * 0.125;
  if (PeerCounters* pc = CountersFor(c)) {
    const double seconds = sample / 1000.0;
    size_t i = 0;
    for (double bound = kRttFirstBucketSeconds; i + 1 < kRttBuckets && seconds > bound;
         bound *= 2) {
      ++i;
    }
    ++pc->rtt_buckets[i];
    ++pc->rtt_samples;
    pc->rtt_seconds_sum += seconds;
  }
}

void Mesh::OnWriteBatch(Connection& c, wire::WriteBatch& batch) {
  for (wire::Write& w : *batch.mutable_writes()) {
    ++stats_.writes_received;
    if (own_origin_.Forged(w, dissemination_)) {
      // A write that claims to be ours but that we did not send (a
      // sequence number we have not used yet, or our ID on a version of
      // another origin's write) is forged, by the sender or by a member
      // upstream. Refused before SeqTracker sees it, so that its seq
      // cannot mark our own future writes as duplicates here.
      RefuseForgery(c, w);
      continue;
    }
    const SeqTracker::Sighting sighting = dissemination_.See(w);
    if (sighting != SeqTracker::Sighting::kNew) {
      ++stats_.duplicates_dropped;
      // Held already (or about to be, through the gap before it): owed to
      // whoever waits, by this path too, in case the first one broke.
      if (w.ack_wanted() && w.origin() != options_.node_id) {
        acks_.Owe(w.origin(), w.origin_seq(), c.id);
      }
      if (dissemination_.Duplicate(c.trees, w, sighting)) {
        wire::Prune prune;
        prune.set_origin(w.origin());
        Send(c, FrameType::kPrune, prune);
        ++stats_.prunes_sent;
      }
      continue;
    }
    absl::StatusOr<bool> changed = replica_->Apply(w.record(), ApplySource::kWrite);
    if (!changed.ok()) {
      ++stats_.writes_refused;
      Log(LogLevel::kDebug, "write refused",
          {{"origin", w.origin()}, {"error", changed.status().ToString()}});
      continue;
    }
    if (*changed) ++stats_.writes_applied;
    if (w.ack_wanted()) acks_.Owe(w.origin(), w.origin_seq(), c.id);
    if (dissemination_.Accepted(c.trees, c.id, w)) {
      wire::Graft graft;
      graft.set_origin(w.origin());
      SendGraft(c, graft);
    }
    Forward(&c, w);
    dissemination_.Remember(std::move(w));
  }
  if (acks_.owes()) SendOwedAcks();
}

void Mesh::SendOwedAcks() {
  // Before the first sync this node cannot vouch for what it holds.
  if (!synced()) return;
  auto held = [this](const std::string& origin) { return dissemination_.Held(origin); };
  if (!options_.acks_when_durable) return SendAcks(acks_.TakeDue(held));
  if (durable_pending_) {
    durable_again_ = true;  // asked again when the outstanding one completes
    return;
  }
  durable_due_ = acks_.TakeDue(held);
  if (durable_due_.empty()) return;
  durable_pending_ = true;
  commands_.push_back({Command::kAwaitDurable, 0, ""});
}

void Mesh::SendAcks(const std::vector<AckTracker::Due>& due) {
  for (const AckTracker::Due& d : due) {
    auto it = conns_.find(d.to);
    if (it == conns_.end() || !it->second->established()) continue;
    wire::Ack ack;
    ack.set_origin(d.origin);
    wire::HolderMark* m = ack.add_holders();
    m->set_node_id(options_.node_id);
    m->set_seq(d.held);
    Send(*it->second, FrameType::kAck, ack);
    ++stats_.acks_sent;
  }
}

void Mesh::OnAck(Connection& c, const wire::Ack& ack) {
  if (ack.origin() == options_.node_id) {
    for (const wire::HolderMark& m : ack.holders()) {
      if (m.node_id().empty() || m.node_id() == options_.node_id) continue;
      // A mark for a seq this life never issued proves nothing (forged, or
      // of an earlier life: it does not cover this one's writes).
      if (!dissemination_.Originated(m.seq())) {
        ++stats_.acks_refused;
        continue;
      }
      acks_.Acked(m.node_id(), m.seq());
    }
    return;
  }
  AckTracker::Marks raised = acks_.Learn(ack.origin(), ack.holders());
  if (raised.empty()) return;
  wire::Ack relay;
  relay.set_origin(ack.origin());
  for (auto& [node, seq] : raised) {
    wire::HolderMark* m = relay.add_holders();
    m->set_node_id(std::move(node));
    m->set_seq(seq);
  }
  // Toward the origin: straight to it when it is a neighbour, else up its
  // tree (the link its writes come by), else to every other neighbour; a
  // mark is passed on only where it raises what a node knew, so the flood
  // ends.
  Connection* toward = nullptr;
  const ConnId parent = dissemination_.Parent(ack.origin());
  for (auto& [id, other] : conns_) {
    if (other.get() == &c || !other->established()) continue;
    if (other->peer_id == ack.origin()) {
      toward = other.get();
      break;
    }
    if (id == parent) toward = other.get();
  }
  if (toward != nullptr) {
    Send(*toward, FrameType::kAck, relay);
    ++stats_.acks_sent;
    return;
  }
  for (auto& [id, other] : conns_) {
    if (other.get() == &c || !other->established()) continue;
    Send(*other, FrameType::kAck, relay);
    ++stats_.acks_sent;
  }
}

void Mesh::RefuseForgery(const Connection& c, const wire::Write& w) {
  ++stats_.own_origin_refused;
  const uint64_t since_last_log = own_origin_.Refused(now_us_ / 1000);
  if (since_last_log == 0) return;  // logged recently
  Log(LogLevel::kWarning, "refused forged writes claiming the origin of this node",
      {{"peer", c.who()},
       {"origin", absl::CHexEscape(w.origin().substr(0, kMaxLoggedIdBytes))},
       {"origin_seq", absl::StrCat(w.origin_seq())},
       {"refused_since_last_log", absl::StrCat(since_last_log)}});
}

void Mesh::Forward(const Connection* from, const wire::Write& w) {
  for (auto& [id, other] : conns_) {
    // Never back to its origin: it has the write already.
    if (other.get() != from && other->established() && other->peer_id != w.origin() &&
        other->trees.Pushes(w.origin())) {
      Enqueue(*other, w);
    }
  }
}

void Mesh::SendGraft(Connection& c, const wire::Graft& graft) {
  Send(c, FrameType::kGraft, graft);
  ++stats_.grafts_sent;
}

void Mesh::OnGraft(Connection& c, const wire::Graft& graft, int64_t now) {
  const Dissemination::GraftAnswer answer = dissemination_.Grafted(c.trees, graft);
  for (const wire::Write* w : answer.resend) {
    Enqueue(c, *w);
    ++stats_.writes_resent;
  }
  if (answer.needs_sync) StartSync(c, now);
}

void Mesh::LostLink(const Connection& lost) {
  if (!lost.established()) return;
  for (const std::string& origin : dissemination_.Orphaned(lost.id)) {
    for (auto& [id, c] : conns_) {
      if (c.get() == &lost || !c->established()) continue;
      // A link not pruned by us still pushes this origin to us.
      if (!Dissemination::Regraft(c->trees, origin)) continue;
      wire::Graft graft;
      graft.set_origin(origin);
      SendGraft(*c, graft);
    }
  }
}

void Mesh::OnRecordChunk(const wire::RecordChunk& chunk) {
  for (const wire::Record& r : chunk.records()) {
    absl::StatusOr<bool> changed = replica_->Apply(r, ApplySource::kSync);
    if (changed.ok() && *changed) ++stats_.sync_keys_repaired;
  }
}

void Mesh::OnDigestOffer(Connection& c, const wire::DigestOffer& offer, int64_t now) {
  if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
  absl::StatusOr<SyncSession> s =
      SyncSession::Respond(offer, replica_, options_.sync_chunk_bytes, now);
  if (!s.ok()) return ProtocolError(c, std::string(s.status().message()));
  c.responding.emplace(std::move(*s));
  c.responding->set_marks(dissemination_.Watermarks());
}

void Mesh::OnBucketKeys(Connection& c, const wire::BucketKeys& keys) {
  if (!c.initiated || c.initiated->id() != keys.session()) return;  // a session given up
  absl::Status s = c.initiated->OnBucketKeys(keys);
  if (!s.ok()) ProtocolError(c, std::string(s.message()));
}

void Mesh::OnPull(Connection& c, const wire::Pull& pull) {
  if (!c.responding || c.responding->id() != pull.session()) return;
  absl::Status s = c.responding->OnPull(pull);
  if (!s.ok()) ProtocolError(c, std::string(s.message()));
}

void Mesh::OnSyncEnd(Connection& c, const wire::SyncEnd& end) {
  // The initiator's session id is in both roles' frames; ours first.
  std::optional<SyncSession>* s = nullptr;
  if (c.initiated && c.initiated->id() == end.session()) {
    s = &c.initiated;
  } else if (c.responding && c.responding->id() == end.session()) {
    s = &c.responding;
  } else {
    return;
  }
  absl::Status st = (*s)->OnSyncEnd();
  if (!st.ok()) return ProtocolError(c, std::string(st.message()));
  SyncSession::Marks marks;
  for (const wire::OriginMark& m : end.seen()) marks.emplace_back(m.origin(), m.seq());
  (*s)->set_peer_marks(std::move(marks));
  if ((*s)->done()) EndSync(c, (*s)->role(), /*completed=*/true);
}

// ---------------------------------------------------------------------------
// Connection life

Connection& Mesh::NewConnection(bool outbound, std::string addr, int64_t now) {
  const ConnId id = next_conn_++;
  auto c = std::make_unique<Connection>(
      id, outbound, std::move(addr),
      std::min(options_.max_handshake_frame_bytes, options_.max_frame_bytes), now);
  Connection& ref = *c;
  conns_.emplace(id, std::move(c));
  return ref;
}

void Mesh::SendHello(Connection& c) {
  Send(c, FrameType::kHello, Handshake::MakeHello(local_, synced()));
}

void Mesh::Close(Connection& c, Reason reason, const std::string& detail) {
  if (c.closing()) return;
  if (reason != wire::Goodbye::UNSPECIFIED && c.state != State::kDialing &&
      c.state != State::kSecuring) {
    wire::Goodbye bye;
    bye.set_reason(reason);
    bye.set_detail(detail);
    Send(c, FrameType::kGoodbye, bye);
  }
  if (c.initiated) EndSync(c, SyncSession::Role::kInitiator, /*completed=*/false);
  if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
  LostLink(c);
  c.state = State::kClosing;
  commands_.push_back({Command::kClose, c.id, ""});
}

void Mesh::ProtocolError(Connection& c, const std::string& what) {
  ++stats_.protocol_errors;
  Log(LogLevel::kWarning, "closing connection: protocol error",
      {{"peer", c.who()}, {"error", what}});
  Close(c, wire::Goodbye::PROTOCOL_ERROR, what);
}

void Mesh::Forget(ConnId id, bool failed, int64_t now) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.initiated) EndSync(c, SyncSession::Role::kInitiator, /*completed=*/false);
  if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
  acks_.Forget(id);
  if (c.outbound) {
    DialTarget& t = membership_.At(c.addr);
    if (t.conn == id) t.conn = 0;
    if (failed) membership_.Backoff(t, now, /*refused=*/false);
  }
  conns_.erase(it);
}

// ---------------------------------------------------------------------------
// Writes

void Mesh::Enqueue(Connection& c, const wire::Write& w) {
  const size_t size = w.ByteSizeLong();
  if (c.batch_bytes + size > options_.max_batch_bytes) FlushBatch(c);
  *c.batch.add_writes() = w;
  c.batch_bytes += size;
}

void Mesh::FlushBatch(Connection& c) {
  if (c.batch.writes_size() == 0) return;
  if (c.out.size() > options_.send_queue_bytes) {
    // The peer does not drain: drop rather than hold memory or block
    // writers, and repair with anti-entropy.
    if (PeerCounters* pc = CountersFor(c)) ++pc->send_queue_drops;
    c.want_sync = true;
  } else {
    ++stats_.batches_sent;
    stats_.writes_batched += static_cast<uint64_t>(c.batch.writes_size());
    ++stats_.batch_sizes[BatchBucket(static_cast<size_t>(c.batch.writes_size()))];
    Send(c, FrameType::kWriteBatch, c.batch);
  }
  c.batch.Clear();
  c.batch_bytes = 0;
}

void Mesh::Finish() {
  for (auto& [id, c] : conns_) {
    FlushBatch(*c);
    const bool sync_output = (c->initiated && c->initiated->has_output()) ||
                             (c->responding && c->responding->has_output());
    if ((!c->out.empty() || sync_output) && !c->queued_writable) {
      c->queued_writable = true;
      writable_.push_back(id);
    }
  }
}

// ---------------------------------------------------------------------------
// Membership and anti-entropy

absl::flat_hash_map<std::string, bool> Mesh::ConnectedNodes() const {
  absl::flat_hash_map<std::string, bool> connected;
  for (const auto& [id, c] : conns_) {
    if (!c->closing() && !c->peer_id.empty()) connected[c->peer_id] = true;
  }
  return connected;
}

bool Mesh::SyncedPeerConnected() const {
  for (const auto& [id, c] : conns_) {
    if (c->established() && c->peer_synced) return true;
  }
  return false;
}

int Mesh::Established() const {
  int n = 0;
  for (const auto& [id, c] : conns_) n += c->established();
  return n;
}

void Mesh::MaintainDegree(int64_t now) {
  if (shutting_down_) return;
  int outbound = 0;
  for (const auto& [id, c] : conns_) outbound += !c->closing() && c->outbound;
  absl::flat_hash_map<std::string, bool> connected = ConnectedNodes();
  while (outbound < options_.max_outbound) {
    DialTarget* t = membership_.NextToDial(now, connected, /*alone=*/Established() == 0);
    if (t == nullptr) return;
    Dial(*t, now);
    if (!t->node_id.empty()) connected[t->node_id] = true;
    ++outbound;
  }
}

void Mesh::Dial(DialTarget& t, int64_t now) {
  Connection& c = NewConnection(/*outbound=*/true, t.addr, now);
  c.state = State::kDialing;
  t.conn = c.id;
  ++stats_.connections_dialed;
  commands_.push_back({Command::kDial, c.id, t.addr});
}

void Mesh::SendPeerList(Connection& c) {
  Send(c, FrameType::kPeerList, membership_.MakePeerList(c.peer_id));
}

void Mesh::StartSync(Connection& c, int64_t now) {
  if (c.initiated) return;
  c.want_sync = false;
  c.initiated.emplace(SyncSession::Initiate(rng_(), replica_, options_.sync_chunk_bytes, now));
  c.initiated->set_marks(dissemination_.Watermarks());
}

void Mesh::EndSync(Connection& c, SyncSession::Role role, bool completed) {
  auto& s = role == SyncSession::Role::kInitiator ? c.initiated : c.responding;
  if (!s) return;
  if (completed) {
    ++stats_.sync_rounds_completed;
    // The peer's state as of its marks is merged: what it had seen, we have.
    for (const auto& [origin, seq] : s->peer_marks()) dissemination_.Adopt(origin, seq);
    // What the exchange brought may complete writes someone waits for.
    if (acks_.owes()) SendOwedAcks();
    if (anti_entropy_.Completed(c.peer_synced, SyncedPeerConnected())) {
      Log(LogLevel::kInfo, "initial sync complete",
          {{"peer", c.peer_id}, {"buckets_differing", absl::StrCat(s->buckets_differing())}});
    }
  } else {
    ++stats_.sync_rounds_failed;
  }
  s.reset();
}

void Mesh::Shuffle(int64_t now) {
  for (auto& [id, c] : conns_) {
    if (c->established()) SendPeerList(*c);
  }
  // Replace one dialled neighbour by a node not connected, if there is one:
  // nodes that filled their slots on one side of a healed partition find
  // the other side again.
  std::vector<Connection*> dialled;
  for (auto& [id, c] : conns_) {
    if (c->outbound && c->established()) dialled.push_back(c.get());
  }
  if (static_cast<int>(dialled.size()) < options_.max_outbound) return;
  if (!membership_.Elsewhere(now, ConnectedNodes())) return;
  Connection* victim = dialled[std::uniform_int_distribution<size_t>(0, dialled.size() - 1)(rng_)];
  Log(LogLevel::kDebug, "replacing a neighbour", {{"peer", victim->peer_id}});
  membership_.At(victim->addr).next_attempt_ms = now + options_.shuffle_ms;  // pick someone else
  Close(*victim, wire::Goodbye::REBALANCE, "replacing a neighbour to mix the mesh");
}

}  // namespace meshkv::peer
