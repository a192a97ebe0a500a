#include "peer/core/mesh.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;
using Reason = wire::Goodbye::Reason;

// One TCP connection.
//
// The flow is: (dialled) kDialing -> kHandshaking -> kEstablished -> kClosing;
// accepted connections start at kHandshaking. A connection in kClosing waits
// for the driver to flush its output and report Closed().
struct Mesh::Connection {
  enum class State { kDialing, kHandshaking, kEstablished, kClosing };

  Connection(ConnId id, bool outbound, std::string addr, size_t max_frame, int64_t now)
      : id(id),
        outbound(outbound),
        addr(std::move(addr)),
        decoder(max_frame),
        created_ms(now),
        last_recv_ms(now) {}

  static const char* StateName(State s) {
    switch (s) {
      case State::kDialing:
        return "dialing";
      case State::kHandshaking:
        return "handshaking";
      case State::kEstablished:
        return "established";
      case State::kClosing:
        return "closing";
    }
    return "?";
  }

  const ConnId id;
  const bool outbound;
  const std::string addr;  // dialled address, or the remote endpoint
  State state = State::kHandshaking;
  FrameDecoder decoder;
  std::string out;  // frames waiting for the driver
  bool queued_writable = false;

  const int64_t created_ms;
  int64_t last_recv_ms;
  int64_t established_ms = 0;
  int64_t last_ping_ms = 0;
  double rtt_ms = 0;

  // Known after the peer's Hello.
  std::string peer_id;
  std::string peer_addr;
  bool peer_synced = false;  // as its Hello said

  // Writes gathered during the current input, sent as one frame.
  wire::WriteBatch batch;
  size_t batch_bytes = 0;

  // Dissemination trees: origins whose writes the peer asked us not to push
  // (it gets them another way), and origins we asked it the same.
  absl::flat_hash_set<std::string> pruned_by_peer;
  absl::flat_hash_set<std::string> pruned_by_us;
  // Origins this peer's last heartbeat showed ahead of us, and how far: if
  // the next one still does, we graft.
  absl::flat_hash_map<std::string, uint64_t> suspect;

  std::optional<SyncSession> initiated;   // our anti-entropy session
  std::optional<SyncSession> responding;  // theirs
  bool want_sync = false;                 // writes were dropped: repair soon
};

namespace {

// A frame body parsed into `msg`, or false.
bool Parse(absl::string_view body, google::protobuf::MessageLite* msg) {
  return msg->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

size_t BatchBucket(size_t writes) {
  size_t b = 0;
  while ((size_t{1} << b) < writes && b + 1 < kBatchSizeBuckets) ++b;
  return b;
}

}  // namespace

Mesh::Mesh(MeshOptions options, Replica* replica, MeshLogFn log)
    : options_(std::move(options)),
      replica_(replica),
      log_(std::move(log)),
      rng_(options_.rng_seed),
      next_seq_(SeqTracker::Base(options_.incarnation_ms)) {}

Mesh::~Mesh() = default;

void Mesh::Log(MeshLogLevel level, const std::string& msg,
               std::vector<std::pair<std::string, std::string>> fields) const {
  if (log_) log_(level, msg, std::move(fields));
}

// ---------------------------------------------------------------------------
// Inputs

void Mesh::Start(int64_t now_us) {
  const int64_t now = Clock(now_us);
  started_ms_ = now;
  next_sync_ms_ = now + options_.anti_entropy_ms;
  next_shuffle_ms_ = now + options_.shuffle_ms;
  for (const std::string& seed : options_.seeds) {
    Peer& p = PeerAt(seed);
    p.seed = true;
  }
  PeerAt(options_.advertise_addr).self = true;
  if (options_.seeds.empty()) {
    synced_ = true;  // nobody to learn from: the state is complete
  }
  MaintainDegree(now);
  Finish();
}

ConnId Mesh::Accepted(absl::string_view remote, int64_t now_us) {
  const int64_t now = Clock(now_us);
  Connection& c = NewConnection(/*outbound=*/false, std::string(remote), now);
  ++stats_.connections_accepted;
  int inbound = 0;
  for (const auto& [id, other] : conns_) {
    if (!other->outbound && other->state != Connection::State::kClosing) ++inbound;
  }
  if (shutting_down_) {
    Close(c, wire::Goodbye::SHUTDOWN, "node is stopping", now);
  } else if (inbound > options_.max_inbound) {
    Close(c, wire::Goodbye::TOO_MANY_PEERS, absl::StrCat("already ", inbound - 1, " inbound peers"),
          now);
  } else {
    SendHello(c);
  }
  Finish();
  return c.id;
}

void Mesh::Connected(ConnId id, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end() || it->second->state != Connection::State::kDialing) return;
  it->second->state = Connection::State::kHandshaking;
  it->second->last_recv_ms = now;
  SendHello(*it->second);
  Finish();
}

void Mesh::ConnectFailed(ConnId id, absl::string_view error, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Log(MeshLogLevel::kDebug, "cannot reach peer",
      {{"addr", it->second->addr}, {"error", std::string(error)}});
  Forget(id, /*failed=*/true, now);
  Finish();
}

void Mesh::Received(ConnId id, absl::string_view bytes, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.state == Connection::State::kClosing) return;
  c.last_recv_ms = now;
  c.decoder.Feed(bytes);
  FrameType type;
  absl::string_view body;
  while (c.state != Connection::State::kClosing && c.decoder.Next(&type, &body)) {
    if (PeerCounters* pc = CountersFor(c)) {
      ++pc->frames_received[static_cast<int>(type)];
      pc->bytes_received[static_cast<int>(type)] += kFrameHeaderBytes + body.size();
    }
    HandleFrame(c, type, body, now);
  }
  if (!c.decoder.status().ok() && c.state != Connection::State::kClosing) {
    ProtocolError(c, std::string(c.decoder.status().message()), now);
  }
  Finish();
}

void Mesh::Closed(ConnId id, int64_t now_us) {
  const int64_t now = Clock(now_us);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  const bool unexpected = it->second->state != Connection::State::kClosing;
  if (unexpected && it->second->state == Connection::State::kEstablished) {
    Log(MeshLogLevel::kInfo, "peer disconnected", {{"peer", it->second->peer_id}});
    LostLink(*it->second);
  }
  Forget(id, unexpected, now);
  MaintainDegree(now);
  Finish();
}

void Mesh::Tick(int64_t now_us) {
  const int64_t now = Clock(now_us);
  for (auto& [id, cp] : conns_) {
    Connection& c = *cp;
    switch (c.state) {
      case Connection::State::kDialing:
      case Connection::State::kHandshaking:
        if (now - c.created_ms > options_.handshake_timeout_ms) {
          // A dial that never completed failed like a refused one: back off
          // (Close() makes Closed() take it for a deliberate close).
          if (c.outbound) Backoff(PeerAt(c.addr), now, /*refused=*/false);
          Close(c, wire::Goodbye::PROTOCOL_ERROR, "handshake timed out", now);
        }
        break;
      case Connection::State::kEstablished:
        if (now - c.last_recv_ms > options_.failure_timeout_ms) {
          ++stats_.peers_timed_out;
          Log(MeshLogLevel::kWarning, "peer timed out",
              {{"peer", c.peer_id}, {"silent_ms", absl::StrCat(now - c.last_recv_ms)}});
          Close(c, wire::Goodbye::UNSPECIFIED, "", now);
          break;
        }
        if (now - c.last_ping_ms >= options_.heartbeat_ms) {
          wire::Ping ping;
          ping.set_sent_us(now_us_);
          AddMarks(ping.mutable_seen());
          Send(c, FrameType::kPing, ping);
          c.last_ping_ms = now;
        }
        for (SyncSession::Role role :
             {SyncSession::Role::kInitiator, SyncSession::Role::kResponder}) {
          auto& s = role == SyncSession::Role::kInitiator ? c.initiated : c.responding;
          if (s && now - s->started_ms() > options_.sync_timeout_ms)
            EndSync(c, role, /*completed=*/false);
        }
        if (c.want_sync && !c.initiated) StartSync(c, now);
        break;
      case Connection::State::kClosing:
        break;
    }
  }
  if (now >= next_sync_ms_) {
    next_sync_ms_ = now + options_.anti_entropy_ms;
    std::vector<Connection*> idle;
    for (auto& [id, c] : conns_) {
      if (c->state == Connection::State::kEstablished && !c->initiated) idle.push_back(c.get());
    }
    if (!idle.empty()) {
      StartSync(*idle[std::uniform_int_distribution<size_t>(0, idle.size() - 1)(rng_)], now);
    }
  }
  if (now >= next_shuffle_ms_) {
    next_shuffle_ms_ = now + options_.shuffle_ms;
    Shuffle(now);
  }
  if (!synced_ && now - started_ms_ >= options_.initial_sync_timeout_ms) {
    bool syncing = false;
    for (const auto& [id, c] : conns_) syncing = syncing || c->initiated || c->responding;
    if (!syncing) {
      synced_ = true;
      Log(MeshLogLevel::kWarning, "no peer answered in time; serving with what this node has",
          {{"waited_ms", absl::StrCat(now - started_ms_)}});
    }
  }
  MaintainDegree(now);
  Finish();
}

void Mesh::Broadcast(std::vector<wire::Record> records, int64_t now_us) {
  Clock(now_us);
  for (wire::Record& r : records) {
    wire::Write w;
    w.set_origin(options_.node_id);
    w.set_origin_seq(++next_seq_);
    *w.mutable_record() = std::move(r);
    seen_.FirstSighting(options_.node_id, w.origin_seq());
    ++stats_.writes_originated;
    for (auto& [id, c] : conns_) {
      if (c->state == Connection::State::kEstablished &&
          !c->pruned_by_peer.contains(options_.node_id)) {
        Enqueue(*c, w);
      }
    }
    Remember(std::move(w));
  }
  Finish();
}

void Mesh::Shutdown(int64_t now_us) {
  const int64_t now = Clock(now_us);
  shutting_down_ = true;
  for (auto& [id, c] : conns_) {
    if (c->state == Connection::State::kClosing) continue;
    FlushBatch(*c);  // queued writes go before the goodbye
    Close(*c, wire::Goodbye::SHUTDOWN, "node is stopping", now);
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
  if (c.state == Connection::State::kEstablished) {
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
  const int64_t now = now_us / 1000;
  MeshSnapshot s;
  s.taken_ms = now;
  s.synced = synced_;
  // Nodes, not addresses: one node may be known under several names (a
  // seed given as a DNS name, advertising an IP).
  absl::flat_hash_set<std::string> nodes;
  for (const auto& [addr, p] : peers_) {
    if (p.self || p.node_id == options_.node_id) continue;
    if (p.node_id.empty() || nodes.insert(p.node_id).second) ++s.peers_known;
  }
  s.peers_wanted = std::min(options_.max_outbound, s.peers_known);
  for (const auto& [id, c] : conns_) {
    PeerStatus ps;
    ps.node_id = c->peer_id;
    ps.addr = c->peer_addr.empty() ? c->addr : c->peer_addr;
    ps.state = Connection::StateName(c->state);
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
  return c.peer_id.empty() ? nullptr : &counters_[c.peer_id];
}

void Mesh::Send(Connection& c, FrameType type, const google::protobuf::MessageLite& msg) {
  const size_t before = c.out.size();
  AppendFrame(type, msg, &c.out);
  if (PeerCounters* pc = CountersFor(c)) {
    ++pc->frames_sent[static_cast<int>(type)];
    pc->bytes_sent[static_cast<int>(type)] += c.out.size() - before;
  }
}

void Mesh::HandleFrame(Connection& c, FrameType type, absl::string_view body, int64_t now) {
  if (c.state != Connection::State::kEstablished && type != FrameType::kHello &&
      type != FrameType::kGoodbye) {
    ProtocolError(c, absl::StrCat(FrameTypeName(type), " before the handshake"), now);
    return;
  }
  switch (type) {
    case FrameType::kHello: {
      wire::Hello hello;
      if (!Parse(body, &hello)) return ProtocolError(c, "malformed hello", now);
      if (c.state == Connection::State::kEstablished) return ProtocolError(c, "second hello", now);
      return OnHello(c, hello, now);
    }
    case FrameType::kGoodbye: {
      wire::Goodbye bye;
      if (!Parse(body, &bye)) return ProtocolError(c, "malformed goodbye", now);
      return OnGoodbye(c, bye, now);
    }
    case FrameType::kPeerList: {
      wire::PeerList list;
      if (!Parse(body, &list)) return ProtocolError(c, "malformed peer list", now);
      return OnPeerList(list);
    }
    case FrameType::kPing: {
      wire::Ping ping;
      if (!Parse(body, &ping)) return ProtocolError(c, "malformed ping", now);
      wire::Pong pong;
      pong.set_nonce(ping.nonce());
      pong.set_sent_us(ping.sent_us());
      Send(c, FrameType::kPong, pong);
      return OnPing(c, ping);
    }
    case FrameType::kPrune: {
      wire::Prune prune;
      if (!Parse(body, &prune)) return ProtocolError(c, "malformed prune", now);
      c.pruned_by_peer.insert(prune.origin());
      return;
    }
    case FrameType::kGraft: {
      wire::Graft graft;
      if (!Parse(body, &graft)) return ProtocolError(c, "malformed graft", now);
      return OnGraft(c, graft, now);
    }
    case FrameType::kPong: {
      wire::Pong pong;
      if (!Parse(body, &pong)) return ProtocolError(c, "malformed pong", now);
      const double sample = static_cast<double>(now_us_ - pong.sent_us()) / 1000.0;
      if (sample >= 0) c.rtt_ms = c.rtt_ms == 0 ? sample : c.rtt_ms * 0.875 + sample * 0.125;
      return;
    }
    case FrameType::kWriteBatch: {
      wire::WriteBatch batch;
      if (!Parse(body, &batch)) return ProtocolError(c, "malformed write batch", now);
      return OnWriteBatch(c, batch);
    }
    case FrameType::kRecordChunk: {
      wire::RecordChunk chunk;
      if (!Parse(body, &chunk)) return ProtocolError(c, "malformed record chunk", now);
      return OnRecordChunk(chunk);
    }
    case FrameType::kDigestOffer:
    case FrameType::kBucketKeys:
    case FrameType::kPull:
    case FrameType::kSyncEnd:
      return OnSyncMessage(c, type, body, now);
  }
}

void Mesh::OnHello(Connection& c, const wire::Hello& hello, int64_t now) {
  std::string refusal;
  if (hello.protocol_version() != kProtocolVersion) {
    refusal =
        absl::StrCat("protocol version ", hello.protocol_version(), " is not ", kProtocolVersion);
  } else if (hello.cluster() != options_.cluster) {
    refusal = absl::StrCat("cluster \"", hello.cluster(), "\" is not \"", options_.cluster, "\"");
  } else if (hello.leasing() != options_.leasing) {
    refusal = absl::StrCat("leasing is ", hello.leasing() ? "on" : "off", " there and ",
                           options_.leasing ? "on" : "off", " here");
  } else if (hello.buckets() != replica_->buckets()) {
    refusal = absl::StrCat(hello.buckets(), " anti-entropy buckets is not ", replica_->buckets());
  } else if (hello.node_id().empty() || hello.advertise_addr().empty()) {
    refusal = "hello without node ID or address";
  }
  if (!refusal.empty()) {
    ++stats_.handshakes_refused;
    Log(MeshLogLevel::kWarning, "refusing peer",
        {{"peer", hello.node_id()}, {"addr", c.addr}, {"reason", refusal}});
    if (c.outbound) Backoff(PeerAt(c.addr), now, /*refused=*/true);
    Close(c, wire::Goodbye::REFUSED, refusal, now);
    return;
  }
  if (hello.node_id() == options_.node_id) {
    // Our own address, under some name: never dial it again.
    if (c.outbound) PeerAt(c.addr).self = true;
    Close(c, wire::Goodbye::UNSPECIFIED, "", now);
    return;
  }
  c.peer_id = hello.node_id();
  c.peer_addr = hello.advertise_addr();
  c.peer_synced = hello.synced();
  if (Duplicate(c)) {
    if (c.outbound) PeerAt(c.addr).node_id = c.peer_id;
    Close(c, wire::Goodbye::DUPLICATE, "another connection between us is kept", now);
    return;
  }
  // The other connection of the pair, if any, loses to this one.
  for (auto& [id, other] : conns_) {
    if (other.get() != &c && other->peer_id == c.peer_id &&
        other->state != Connection::State::kClosing) {
      Close(*other, wire::Goodbye::DUPLICATE, "another connection between us is kept", now);
    }
  }
  Establish(c, now);
}

// Of two connections between one pair, the one dialled by the smaller node
// ID survives (the older if both were); both sides decide alike.
bool Mesh::Duplicate(const Connection& c) const {
  auto dialler = [&](const Connection& x) { return x.outbound ? options_.node_id : x.peer_id; };
  const std::string& preferred = std::min(options_.node_id, c.peer_id);
  for (const auto& [id, other] : conns_) {
    if (other.get() == &c || other->peer_id != c.peer_id ||
        other->state == Connection::State::kClosing) {
      continue;
    }
    const bool other_preferred = dialler(*other) == preferred;
    const bool this_preferred = dialler(c) == preferred;
    if (other_preferred != this_preferred) return other_preferred;
    if (other->id < c.id) return true;
  }
  return false;
}

void Mesh::Establish(Connection& c, int64_t now) {
  c.state = Connection::State::kEstablished;
  c.established_ms = now;
  c.last_ping_ms = now;
  if (c.outbound) {
    Peer& p = PeerAt(c.addr);
    p.node_id = c.peer_id;
    p.backoff_ms = 0;
  }
  Peer& advertised = PeerAt(c.peer_addr);
  advertised.node_id = c.peer_id;
  advertised.backoff_ms = 0;
  Log(MeshLogLevel::kInfo, "peer connected",
      {{"peer", c.peer_id}, {"addr", c.peer_addr}, {"direction", c.outbound ? "out" : "in"}});
  SendPeerList(c);
  // The dialler starts the first exchange, so a pair syncs once, not twice.
  if (c.outbound) StartSync(c, now);
}

void Mesh::OnGoodbye(Connection& c, const wire::Goodbye& bye, int64_t now) {
  const MeshLogLevel level =
      bye.reason() == wire::Goodbye::REFUSED ? MeshLogLevel::kWarning : MeshLogLevel::kInfo;
  Log(level, "peer said goodbye",
      {{"peer", c.peer_id.empty() ? c.addr : c.peer_id},
       {"reason", wire::Goodbye::Reason_Name(bye.reason())},
       {"detail", bye.detail()}});
  if (c.outbound) {
    // Whatever the reason, do not dial straight back: a full or stopping
    // peer would refuse again at once.
    Peer& p = PeerAt(c.addr);
    Backoff(p, now, /*refused=*/bye.reason() == wire::Goodbye::REFUSED);
    if (bye.reason() == wire::Goodbye::DUPLICATE && !c.peer_id.empty()) p.node_id = c.peer_id;
  }
  Close(c, wire::Goodbye::UNSPECIFIED, "", now);
}

void Mesh::OnPeerList(const wire::PeerList& list) {
  for (const auto& p : list.peers()) {
    if (p.addr().empty() || p.node_id() == options_.node_id) continue;
    Peer& known = PeerAt(p.addr());
    if (known.node_id.empty()) known.node_id = p.node_id();
  }
}

void Mesh::OnWriteBatch(Connection& c, wire::WriteBatch& batch) {
  for (wire::Write& w : *batch.mutable_writes()) {
    ++stats_.writes_received;
    const SeqTracker::Sighting sighting = seen_.See(w.origin(), w.origin_seq());
    if (sighting != SeqTracker::Sighting::kNew) {
      ++stats_.duplicates_dropped;
      // It came another way first: this link is not in the origin's tree.
      // (A covered write may have been on its way during a sync: no proof.)
      if (sighting == SeqTracker::Sighting::kDuplicate &&
          c.pruned_by_us.insert(w.origin()).second) {
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
      Log(MeshLogLevel::kDebug, "write refused",
          {{"origin", w.origin()}, {"error", changed.status().ToString()}});
      continue;
    }
    if (*changed) ++stats_.writes_applied;
    parent_[w.origin()] = c.id;
    // First over a link we had pruned for this origin (it was in flight, or
    // the other path slowed down): this link is the parent now, and the one
    // the duplicate will come over is pruned instead. Without the graft, a
    // node could prune every path of an origin.
    if (c.pruned_by_us.erase(w.origin()) > 0) {
      wire::Graft graft;
      graft.set_origin(w.origin());
      Send(c, FrameType::kGraft, graft);
      ++stats_.grafts_sent;
    }
    for (auto& [id, other] : conns_) {
      if (other.get() != &c && other->state == Connection::State::kEstablished &&
          !other->pruned_by_peer.contains(w.origin())) {
        Enqueue(*other, w);
      }
    }
    Remember(std::move(w));
  }
}

void Mesh::OnPing(Connection& c, const wire::Ping& ping) {
  // While syncing, anti-entropy brings everything; grafting would only
  // duplicate it.
  if (!synced_) return;
  for (const wire::OriginMark& mark : ping.seen()) {
    const uint64_t mine = seen_.Watermark(mark.origin());
    if (mark.seq() <= mine) {
      c.suspect.erase(mark.origin());
      continue;
    }
    // Ahead of us twice in a row: not just a write in flight on another
    // path, a gap in the origin's tree. Graft this neighbour into it.
    auto it = c.suspect.find(mark.origin());
    if (it != c.suspect.end() && it->second > mine) {
      wire::Graft graft;
      graft.set_origin(mark.origin());
      graft.set_after(mine);
      graft.set_upto(mark.seq());
      Send(c, FrameType::kGraft, graft);
      ++stats_.grafts_sent;
      c.pruned_by_us.erase(mark.origin());
      c.suspect.erase(it);
    } else {
      c.suspect[mark.origin()] = mark.seq();
    }
  }
}

void Mesh::OnGraft(Connection& c, const wire::Graft& graft, int64_t now) {
  c.pruned_by_peer.erase(graft.origin());
  if (graft.upto() <= graft.after()) return;  // a re-attachment: nothing to resend
  bool first_held = false;
  auto it = recent_.find(graft.origin());
  if (it == recent_.end()) {
    StartSync(c, now);
    return;
  }
  for (const wire::Write& w : it->second) {
    if (w.origin_seq() <= graft.after() || w.origin_seq() > graft.upto()) continue;
    first_held = first_held || w.origin_seq() == graft.after() + 1;
    Enqueue(c, w);
    ++stats_.writes_resent;
  }
  // The cache no longer reaches back that far: repair the rest by state.
  if (!first_held) StartSync(c, now);
}

void Mesh::Remember(wire::Write w) {
  const size_t bytes = w.ByteSizeLong();
  recent_bytes_ += bytes;
  recent_order_.emplace_back(w.origin(), bytes);
  recent_[w.origin()].push_back(std::move(w));
  while (!recent_order_.empty() && (recent_order_.size() > options_.recent_writes ||
                                    recent_bytes_ > options_.recent_write_bytes)) {
    const auto& [origin, oldest_bytes] = recent_order_.front();
    auto it = recent_.find(origin);
    recent_bytes_ -= oldest_bytes;
    it->second.pop_front();
    if (it->second.empty()) recent_.erase(it);
    recent_order_.pop_front();
  }
}

void Mesh::AddMarks(google::protobuf::RepeatedPtrField<wire::OriginMark>* marks) const {
  for (const auto& [origin, seq] : seen_.Watermarks()) {
    wire::OriginMark* m = marks->Add();
    m->set_origin(origin);
    m->set_seq(seq);
  }
}

void Mesh::LostLink(const Connection& lost) {
  if (lost.state != Connection::State::kEstablished) return;
  for (auto it = parent_.begin(); it != parent_.end();) {
    if (it->second != lost.id) {
      ++it;
      continue;
    }
    const std::string& origin = it->first;
    for (auto& [id, c] : conns_) {
      if (c.get() == &lost || c->state != Connection::State::kEstablished ||
          c->pruned_by_us.erase(origin) == 0) {
        continue;  // it still pushes this origin to us
      }
      wire::Graft graft;
      graft.set_origin(origin);
      Send(*c, FrameType::kGraft, graft);
      ++stats_.grafts_sent;
    }
    parent_.erase(it++);
  }
}

void Mesh::OnRecordChunk(const wire::RecordChunk& chunk) {
  for (const wire::Record& r : chunk.records()) {
    absl::StatusOr<bool> changed = replica_->Apply(r, ApplySource::kSync);
    if (changed.ok() && *changed) ++stats_.sync_keys_repaired;
  }
}

void Mesh::OnSyncMessage(Connection& c, FrameType type, absl::string_view body, int64_t now) {
  switch (type) {
    case FrameType::kDigestOffer: {
      wire::DigestOffer offer;
      if (!Parse(body, &offer)) return ProtocolError(c, "malformed digest offer", now);
      if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
      absl::StatusOr<SyncSession> s =
          SyncSession::Respond(offer, replica_, options_.sync_chunk_bytes, now);
      if (!s.ok()) return ProtocolError(c, std::string(s.status().message()), now);
      c.responding.emplace(std::move(*s));
      c.responding->set_marks(seen_.Watermarks());
      return;
    }
    case FrameType::kBucketKeys: {
      wire::BucketKeys keys;
      if (!Parse(body, &keys)) return ProtocolError(c, "malformed bucket keys", now);
      if (!c.initiated || c.initiated->id() != keys.session()) return;  // a session given up
      absl::Status s = c.initiated->OnBucketKeys(keys);
      if (!s.ok()) ProtocolError(c, std::string(s.message()), now);
      return;
    }
    case FrameType::kPull: {
      wire::Pull pull;
      if (!Parse(body, &pull)) return ProtocolError(c, "malformed pull", now);
      if (!c.responding || c.responding->id() != pull.session()) return;
      absl::Status s = c.responding->OnPull(pull);
      if (!s.ok()) ProtocolError(c, std::string(s.message()), now);
      return;
    }
    case FrameType::kSyncEnd: {
      wire::SyncEnd end;
      if (!Parse(body, &end)) return ProtocolError(c, "malformed sync end", now);
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
      if (!st.ok()) return ProtocolError(c, std::string(st.message()), now);
      SyncSession::Marks marks;
      for (const wire::OriginMark& m : end.seen()) marks.emplace_back(m.origin(), m.seq());
      (*s)->set_peer_marks(std::move(marks));
      if ((*s)->done()) EndSync(c, (*s)->role(), /*completed=*/true);
      return;
    }
    default:
      return;
  }
}

// ---------------------------------------------------------------------------
// Connections

Mesh::Connection& Mesh::NewConnection(bool outbound, std::string addr, int64_t now) {
  const ConnId id = next_conn_++;
  auto c =
      std::make_unique<Connection>(id, outbound, std::move(addr), options_.max_frame_bytes, now);
  Connection& ref = *c;
  conns_.emplace(id, std::move(c));
  return ref;
}

void Mesh::SendHello(Connection& c) {
  wire::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_cluster(options_.cluster);
  hello.set_leasing(options_.leasing);
  hello.set_node_id(options_.node_id);
  hello.set_advertise_addr(options_.advertise_addr);
  hello.set_buckets(replica_->buckets());
  hello.set_incarnation(static_cast<uint64_t>(options_.incarnation_ms));
  hello.set_synced(synced_);
  Send(c, FrameType::kHello, hello);
}

void Mesh::Close(Connection& c, Reason reason, const std::string& detail, int64_t /*now*/) {
  if (c.state == Connection::State::kClosing) return;
  if (reason != wire::Goodbye::UNSPECIFIED && c.state != Connection::State::kDialing) {
    wire::Goodbye bye;
    bye.set_reason(reason);
    bye.set_detail(detail);
    Send(c, FrameType::kGoodbye, bye);
  }
  if (c.initiated) EndSync(c, SyncSession::Role::kInitiator, /*completed=*/false);
  if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
  LostLink(c);
  c.state = Connection::State::kClosing;
  commands_.push_back({Command::kClose, c.id, ""});
}

void Mesh::ProtocolError(Connection& c, const std::string& what, int64_t now) {
  ++stats_.protocol_errors;
  Log(MeshLogLevel::kWarning, "closing connection: protocol error",
      {{"peer", c.peer_id.empty() ? c.addr : c.peer_id}, {"error", what}});
  Close(c, wire::Goodbye::PROTOCOL_ERROR, what, now);
}

void Mesh::Forget(ConnId id, bool failed, int64_t now) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.initiated) EndSync(c, SyncSession::Role::kInitiator, /*completed=*/false);
  if (c.responding) EndSync(c, SyncSession::Role::kResponder, /*completed=*/false);
  if (c.outbound) {
    Peer& p = PeerAt(c.addr);
    if (p.conn == id) p.conn = 0;
    if (failed) Backoff(p, now, /*refused=*/false);
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

Mesh::Peer& Mesh::PeerAt(const std::string& addr) {
  auto [it, inserted] = peers_.try_emplace(addr);
  if (inserted) it->second.addr = addr;
  return it->second;
}

void Mesh::Backoff(Peer& p, int64_t now, bool refused) {
  p.backoff_ms =
      refused ? options_.reconnect_max_ms
              : std::clamp(p.backoff_ms * 2, options_.reconnect_min_ms, options_.reconnect_max_ms);
  // Jitter in [0.5, 1.5) keeps restarted nodes from dialling in lockstep.
  const double jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
  p.next_attempt_ms = now + static_cast<int64_t>(static_cast<double>(p.backoff_ms) * jitter);
}

bool Mesh::SyncedPeerConnected() const {
  for (const auto& [id, c] : conns_) {
    if (c->state == Connection::State::kEstablished && c->peer_synced) return true;
  }
  return false;
}

int Mesh::Established() const {
  int n = 0;
  for (const auto& [id, c] : conns_) n += c->state == Connection::State::kEstablished;
  return n;
}

void Mesh::MaintainDegree(int64_t now) {
  if (shutting_down_) return;
  int outbound = 0;
  absl::flat_hash_map<std::string, bool> connected;  // node IDs with a live connection
  for (const auto& [id, c] : conns_) {
    if (c->state == Connection::State::kClosing) continue;
    if (c->outbound) ++outbound;
    if (!c->peer_id.empty()) connected[c->peer_id] = true;
  }
  while (outbound < options_.max_outbound) {
    std::vector<Peer*> candidates, seeds;
    for (auto& [addr, p] : peers_) {
      if (p.self || p.conn != 0 || p.next_attempt_ms > now) continue;
      if (!p.node_id.empty() && connected.count(p.node_id)) continue;
      candidates.push_back(&p);
      if (p.seed) seeds.push_back(&p);
    }
    // Alone, try the seeds first: they are the way in.
    std::vector<Peer*>& pool = Established() == 0 && !seeds.empty() ? seeds : candidates;
    if (pool.empty()) return;
    Peer* p = pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng_)];
    Dial(*p, now);
    if (!p->node_id.empty()) connected[p->node_id] = true;
    ++outbound;
  }
}

void Mesh::Dial(Peer& p, int64_t now) {
  Connection& c = NewConnection(/*outbound=*/true, p.addr, now);
  c.state = Connection::State::kDialing;
  p.conn = c.id;
  ++stats_.connections_dialed;
  commands_.push_back({Command::kDial, c.id, p.addr});
}

void Mesh::SendPeerList(Connection& c) {
  wire::PeerList list;
  auto* me = list.add_peers();
  me->set_node_id(options_.node_id);
  me->set_addr(options_.advertise_addr);
  for (const auto& [addr, p] : peers_) {
    if (p.self || p.node_id.empty() || p.node_id == c.peer_id) continue;
    auto* entry = list.add_peers();
    entry->set_node_id(p.node_id);
    entry->set_addr(addr);
    if (list.peers_size() >= 64) break;
  }
  Send(c, FrameType::kPeerList, list);
}

void Mesh::StartSync(Connection& c, int64_t now) {
  if (c.initiated) return;
  c.want_sync = false;
  c.initiated.emplace(SyncSession::Initiate(rng_(), replica_, options_.sync_chunk_bytes, now));
  c.initiated->set_marks(seen_.Watermarks());
}

void Mesh::EndSync(Connection& c, SyncSession::Role role, bool completed) {
  auto& s = role == SyncSession::Role::kInitiator ? c.initiated : c.responding;
  if (!s) return;
  if (completed) {
    ++stats_.sync_rounds_completed;
    // The peer's state as of its marks is merged: what it had seen, we have.
    for (const auto& [origin, seq] : s->peer_marks()) seen_.Adopt(origin, seq);
    // A peer that is itself still joining may hold little: its session
    // counts only when no synced peer is in sight (a cluster starting
    // together), else the node would serve without the cluster's state.
    if (!synced_ && (c.peer_synced || !SyncedPeerConnected())) {
      synced_ = true;
      Log(MeshLogLevel::kInfo, "initial sync complete",
          {{"peer", c.peer_id}, {"buckets_differing", absl::StrCat(s->buckets_differing())}});
    }
  } else {
    ++stats_.sync_rounds_failed;
  }
  s.reset();
}

void Mesh::Shuffle(int64_t now) {
  for (auto& [id, c] : conns_) {
    if (c->state == Connection::State::kEstablished) SendPeerList(*c);
  }
  // Replace one dialled neighbour by a node not connected, if there is one:
  // nodes that filled their slots on one side of a healed partition find
  // the other side again.
  std::vector<Connection*> dialled;
  absl::flat_hash_map<std::string, bool> connected;
  for (auto& [id, c] : conns_) {
    if (c->state == Connection::State::kClosing) continue;
    if (!c->peer_id.empty()) connected[c->peer_id] = true;
    if (c->outbound && c->state == Connection::State::kEstablished) dialled.push_back(c.get());
  }
  if (static_cast<int>(dialled.size()) < options_.max_outbound) return;
  bool elsewhere = false;
  for (const auto& [addr, p] : peers_) {
    elsewhere = elsewhere || (!p.self && p.conn == 0 && p.next_attempt_ms <= now &&
                              !p.node_id.empty() && !connected.count(p.node_id));
  }
  if (!elsewhere) return;
  Connection* victim = dialled[std::uniform_int_distribution<size_t>(0, dialled.size() - 1)(rng_)];
  Log(MeshLogLevel::kDebug, "replacing a neighbour", {{"peer", victim->peer_id}});
  PeerAt(victim->addr).next_attempt_ms = now + options_.shuffle_ms;  // pick someone else
  Close(*victim, wire::Goodbye::REBALANCE, "replacing a neighbour to mix the mesh", now);
}

}  // namespace meshkv::peer
