#include "peer/core/mesh_pair.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace meshkv::peer {

namespace {

uint32_t BodyLength(absl::string_view header) {
  const auto* b = reinterpret_cast<const unsigned char*>(header.data());
  return uint32_t{b[4]} << 24 | uint32_t{b[5]} << 16 | uint32_t{b[6]} << 8 | uint32_t{b[7]};
}

}  // namespace

std::string MeshPair::LogLine::field(absl::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return v;
  }
  return "";
}

MeshPair::MeshPair(int nodes, Tweak tweak, uint32_t buckets) {
  nodes_.resize(static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i) {
    MeshOptions o;
    o.node_id = IdOf(i);
    o.advertise_addr = AddrOf(i);
    o.cluster = "pair";
    o.incarnation_ms = 1'700'000'000'000;
    o.rng_seed = static_cast<uint64_t>(i) + 1;
    if (tweak) tweak(i, o);
    Node& n = nodes_[static_cast<size_t>(i)];
    n.replica = std::make_unique<MapReplica>(buckets);
    // nodes_ never grows after this loop, so the captured index stays valid.
    n.mesh = std::make_unique<Mesh>(
        std::move(o), n.replica.get(),
        [this, i](LogLevel level, const std::string& msg,
                  std::vector<std::pair<std::string, std::string>> fields) {
          nodes_[static_cast<size_t>(i)].logs.push_back({level, msg, std::move(fields)});
        });
  }
}

MeshPair::~MeshPair() = default;

std::string MeshPair::IdOf(int i) { return absl::StrCat("n", i); }
std::string MeshPair::AddrOf(int i) { return absl::StrCat("n", i, ":4444"); }

std::vector<MeshPair::LogLine> MeshPair::LogsWith(int i, absl::string_view msg) const {
  std::vector<LogLine> out;
  for (const LogLine& l : logs(i)) {
    if (l.msg == msg) out.push_back(l);
  }
  return out;
}

std::vector<PeerStatus> MeshPair::Established(int i) const {
  std::vector<PeerStatus> out;
  for (PeerStatus& p : Snapshot(i).peers) {
    if (p.state == "established") out.push_back(std::move(p));
  }
  return out;
}

void MeshPair::Start(int i) {
  nodes_[i].started = true;
  mesh(i).Start(now_us_);
  Drive();
}

void MeshPair::StartAll() {
  for (int i = 0; i < size(); ++i) {
    if (!nodes_[i].started) {
      nodes_[i].started = true;
      mesh(i).Start(now_us_);
    }
  }
  Drive();
}

meshkv::mesh::v1::Record MeshPair::Write(int i, absl::string_view key, absl::string_view value,
                                         bool ack_wanted) {
  meshkv::mesh::v1::Record r = replica(i).Put(key, value, ++hlc_, IdOf(i));
  mesh(i).Broadcast({r}, now_us_, ack_wanted);
  Pump();
  return r;
}

void MeshPair::SetReachable(int a, int b, bool reachable) {
  if (reachable) {
    unreachable_.erase({a, b});
    unreachable_.erase({b, a});
  } else {
    unreachable_.insert({a, b});
    unreachable_.insert({b, a});
  }
}

size_t MeshPair::AcceptRaw(int i, absl::string_view host) {
  Link link;
  link.end[0] = {kRaw, 0, true};
  link.end[1] = {i, 0, true};
  links_.push_back(std::move(link));
  const size_t l = links_.size() - 1;
  links_[l].end[1].conn = mesh(i).Accepted(absl::StrCat(host, ":", 50000 + l), now_us_);
  Pump();
  return l;
}

std::vector<MeshPair::Frame> MeshPair::TakeRawFrames(size_t link) {
  // Whatever is in flight to the raw end arrives first.
  while (DeliverNext(link, 1)) {
  }
  return std::exchange(links_[link].raw_inbox, {});
}

void MeshPair::CloseRaw(size_t link) {
  Link& l = links_[link];
  const int raw = l.end[0].node == kRaw ? 0 : 1;
  l.end[raw].open = false;
  l.fin[raw] = true;
  MaybeFin(link, raw);
  Pump();
}

void MeshPair::Break(size_t link) {
  for (int k = 0; k < 2; ++k) {
    End& e = links_[link].end[k];
    links_[link].wire[k].clear();
    if (!e.open) continue;
    e.open = false;
    if (e.node != kRaw) mesh(e.node).Closed(e.conn, now_us_);
  }
  Pump();
}

void MeshPair::Inject(int i, ConnId conn, absl::string_view bytes) {
  mesh(i).Received(conn, bytes, now_us_);
  Pump();
}

void MeshPair::InjectOn(size_t link, absl::string_view bytes) {
  const End& e = links_[link].end[links_[link].end[1].node == kRaw ? 0 : 1];
  Inject(e.node, e.conn, bytes);
}

void MeshPair::Pump() {
  bool busy = true;
  while (busy) {
    busy = false;
    for (int i = 0; i < size(); ++i) busy = PumpNode(i) || busy;
  }
}

bool MeshPair::PumpNode(int i) {
  bool did = false;
  for (;;) {
    // The contract's order: commands, then writable connections, until
    // both are empty.
    std::vector<Command> commands = mesh(i).TakeCommands();
    for (const Command& c : commands) {
      if (c.kind == Command::kDial) {
        OnDial(i, c);
      } else if (c.kind == Command::kClose) {
        OnClose(i, c.conn);
      } else {
        nodes_[i].durable_asked = true;  // the test completes it (CompleteDurable)
      }
    }
    std::vector<ConnId> writable = mesh(i).TakeWritable();
    for (ConnId id : writable) {
      if (std::optional<size_t> l = LinkOf(i, id)) {
        TakeAllOutput(*l, links_[*l].end[0].node == i && links_[*l].end[0].conn == id ? 0 : 1);
      }
    }
    if (commands.empty() && writable.empty()) break;
    did = true;
  }
  // Sockets here are always writable: every write completes at once, and
  // the core makes more anti-entropy output as its queue drains.
  for (size_t l = 0; l < links_.size(); ++l) {
    for (int k = 0; k < 2; ++k) {
      if (links_[l].end[k].node == i && links_[l].end[k].open) did = TakeAllOutput(l, k) || did;
    }
  }
  return did;
}

void MeshPair::OnDial(int i, const Command& dial) {
  int target = -1;
  for (int j = 0; j < size(); ++j) {
    if (AddrOf(j) == dial.addr) target = j;
  }
  if (target < 0 || !nodes_[target].started || unreachable_.contains({i, target})) {
    mesh(i).ConnectFailed(dial.conn, "connection refused", now_us_);
    return;
  }
  Link link;
  link.end[0] = {i, dial.conn, true};
  link.end[1] = {target, 0, true};
  links_.push_back(std::move(link));
  const size_t l = links_.size() - 1;
  links_[l].end[1].conn =
      mesh(target).Accepted(absl::StrCat(IdOf(i), ":", 50000 + l), now_us_);
  mesh(i).Connected(dial.conn, now_us_);
}

void MeshPair::OnClose(int i, ConnId conn) {
  if (std::optional<size_t> l = LinkOf(i, conn)) {
    const int k = links_[*l].end[0].node == i && links_[*l].end[0].conn == conn ? 0 : 1;
    TakeAllOutput(*l, k);  // flush, then close
    links_[*l].end[k].open = false;
    links_[*l].fin[k] = true;
  }
  mesh(i).Closed(conn, now_us_);
}

bool MeshPair::TakeAllOutput(size_t link, int end) {
  Link& l = links_[link];
  bool did = false;
  for (;;) {
    std::string out = mesh(l.end[end].node).TakeOutput(l.end[end].conn, 1 << 20);
    if (out.empty()) break;
    did = true;
    l.partial[end] += out;
  }
  std::string& p = l.partial[end];
  while (p.size() >= kFrameHeaderBytes) {
    const size_t n = kFrameHeaderBytes + BodyLength(p);
    if (p.size() < n) break;
    l.wire[end].push_back(p.substr(0, n));
    p.erase(0, n);
  }
  return did;
}

std::optional<MeshPair::Frame> MeshPair::PeekNext(size_t link, int from_end) const {
  const Link& l = links_[link];
  if (l.wire[from_end].empty()) return std::nullopt;
  const std::string& f = l.wire[from_end].front();
  return Frame{static_cast<FrameType>(f[1]), f.substr(kFrameHeaderBytes), f};
}

bool MeshPair::DeliverNext(size_t link, int from_end) {
  if (links_[link].wire[from_end].empty()) return false;
  std::string frame = std::move(links_[link].wire[from_end].front());
  links_[link].wire[from_end].pop_front();
  ++links_[link].delivered[from_end][static_cast<uint8_t>(frame[1]) % (kMaxFrameType + 1)];
  Arrive(link, 1 - from_end, frame);
  MaybeFin(link, from_end);
  Pump();
  return true;
}

bool MeshPair::DropNext(size_t link, int from_end) {
  if (links_[link].wire[from_end].empty()) return false;
  links_[link].wire[from_end].pop_front();
  MaybeFin(link, from_end);
  Pump();
  return true;
}

void MeshPair::Arrive(size_t link, int to, const std::string& frame) {
  Link& l = links_[link];
  if (!l.end[to].open) return;  // its socket is closed: lost
  if (l.end[to].node == kRaw) {
    l.raw_inbox.push_back(
        {static_cast<FrameType>(frame[1]), frame.substr(kFrameHeaderBytes), frame});
    return;
  }
  mesh(l.end[to].node).Received(l.end[to].conn, frame, now_us_);
}

bool MeshPair::MaybeFin(size_t link, int from_end) {
  Link& l = links_[link];
  End& peer = l.end[1 - from_end];
  if (!l.fin[from_end] || !l.wire[from_end].empty() || !peer.open) return false;
  peer.open = false;
  if (peer.node != kRaw) mesh(peer.node).Closed(peer.conn, now_us_);
  return true;
}

bool MeshPair::Drive(int max_frames) {
  Pump();
  int delivered = 0;
  for (;;) {
    bool moved = false;
    for (size_t l = 0; l < links_.size(); ++l) {
      for (int k = 0; k < 2; ++k) {
        if (DeliverNext(l, k)) {
          moved = true;
          ++delivered;
        } else if (MaybeFin(l, k)) {
          Pump();
          moved = true;
        }
      }
    }
    if (!moved) return true;
    if (delivered > max_frames) return false;
  }
}

void MeshPair::AdvanceTime(absl::Duration d) {
  int64_t left_us = absl::ToInt64Microseconds(d);
  const int64_t tick_us = absl::ToInt64Microseconds(Mesh::kTickPeriod);
  while (left_us > 0) {
    const int64_t step = std::min(left_us, tick_us);
    now_us_ += step;
    left_us -= step;
    for (int i = 0; i < size(); ++i) {
      if (!nodes_[i].started) continue;
      mesh(i).Tick(now_us_);
      Pump();
    }
    Drive();
  }
}

std::optional<size_t> MeshPair::LinkOf(int i, ConnId conn) const {
  for (size_t l = 0; l < links_.size(); ++l) {
    for (int k = 0; k < 2; ++k) {
      const End& e = links_[l].end[k];
      if (e.node == i && e.conn == conn && e.open) return l;
    }
  }
  return std::nullopt;
}

}  // namespace meshkv::peer

namespace meshkv::peer {

bool MeshPair::CompleteDurable(int i) {
  if (!std::exchange(nodes_[i].durable_asked, false)) return false;
  mesh(i).Durable(now_us_);
  Pump();
  return true;
}

}  // namespace meshkv::peer
