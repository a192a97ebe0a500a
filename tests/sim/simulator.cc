#include "tests/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "peer/core/frame.h"
#include "store/wire_convert.h"

namespace meshkv::sim {
namespace {

constexpr int64_t kEpochMs = 1'700'000'000'000;  // simulated wall clock at t=0
const int64_t kTickMs = absl::ToInt64Milliseconds(peer::Mesh::kTickPeriod);
constexpr size_t kChunkBytes = 64 << 10;  // bytes a simulated socket write takes

}  // namespace

// A node's Env: its (skewed) clock, and work scheduled as an event of the
// simulation at the current time, dropped if the node restarts first.
class Simulator::HostEnv final : public Env {
 public:
  HostEnv(Simulator* sim, int node, int life, const Clock* clock)
      : sim_(sim), node_(node), life_(life), clock_(clock) {}
  const Clock* clock() const override { return clock_; }
  void Schedule(std::function<void()> work) override {
    sim_->At(sim_->now_, [sim = sim_, node = node_, life = life_, work = std::move(work)] {
      if (sim->nodes_[node]->life == life) work();
    });
  }

 private:
  Simulator* const sim_;
  const int node_, life_;
  const Clock* const clock_;
};

// A node's disk, as its data directory would hold it: the whole state of
// every key the store committed (in revision order, so the last wins), minus
// tombstones it collected, and the highest revision handed out. It outlives
// the node's lives; a restart that loses the disk replaces it. In memory, so
// that the simulation stays deterministic and fast; the real data directory
// is tested with real processes (tests/durability).
class Simulator::Disk final : public CommitObserver {
 public:
  void OnCommit(const Commit& c) override {
    meshkv::mesh::v1::Record& stored = records_[std::string(c.next->key())];
    stored.Clear();  // the key's whole state replaces what was stored
    RecordToWire(*c.next, c.origins, &stored);
    revision_ = c.revision;
  }
  void OnTombstonesCollected(const std::vector<std::string>& keys) override {
    for (const std::string& k : keys) records_.erase(k);
  }
  // Brings `node` back to what was recorded; returns how many records.
  uint64_t RestoreInto(meshkv::Node* node) {
    // A record that adds nothing (a tombstone past the retention) is
    // forgotten, as LoadDataDir does.
    for (auto it = records_.begin(); it != records_.end();) {
      it = node->Restore(it->second).value_or(false) ? std::next(it) : records_.erase(it);
    }
    revision_ = node->store().revision();
    return records_.size();
  }
  uint64_t revision() const { return revision_; }

 private:
  std::map<std::string, meshkv::mesh::v1::Record> records_;
  uint64_t revision_ = 0;
};

Simulator::Host::~Host() {
  if (watchers) watchers->Stop();
}

Simulator::Simulator(SimOptions options) : options_(std::move(options)), rng_(options_.seed) {
  for (int i = 0; i < options_.nodes; ++i) {
    auto n = std::make_unique<Host>();
    n->id = Addr(i);
    n->skew_ms = std::uniform_int_distribution<int64_t>(-options_.max_clock_skew_ms,
                                                        options_.max_clock_skew_ms)(rng_);
    nodes_.push_back(std::move(n));
  }
  // Nodes come up one after another, as an operator would start them.
  for (int i = 0; i < options_.nodes; ++i) At(i * 20, [this, i] { StartNode(i); });
}

Simulator::~Simulator() = default;

void Simulator::At(int64_t at, std::function<void()> fn) {
  events_.push(Event{std::max(at, now_), order_++, std::move(fn)});
}

void Simulator::Run(absl::Duration d) {
  const int64_t until = now_ + absl::ToInt64Milliseconds(d);
  while (!events_.empty() && events_.top().at <= until) {
    // Moved out, not copied: events carry the bytes they deliver. The
    // element is popped right after, so its moved-from state is never read.
    Event e = std::move(const_cast<Event&>(events_.top()));
    events_.pop();
    now_ = e.at;
    for (auto& n : nodes_) {
      if (n->clock) n->clock->SetMs(kEpochMs + now_ + n->skew_ms);
    }
    e.run();
  }
  now_ = until;
}

void Simulator::StartNode(int i) {
  Host& n = *nodes_[i];
  n.clock = std::make_unique<ManualClock>(kEpochMs + now_ + n.skew_ms);
  n.env = std::make_unique<HostEnv>(this, i, n.life, n.clock.get());
  if (!n.disk) n.disk = std::make_unique<Disk>();
  StoreOptions so;
  so.node_id = n.id;
  so.leasing = options_.leasing;
  so.lease_duration = absl::Seconds(20);  // ownership changes hands within a run
  so.revision_base = n.disk->revision();
  n.handoff = std::make_unique<ReplicationHandoff>(
      [this, i](std::vector<meshkv::mesh::v1::Record> records) {
        nodes_[i]->mesh->Broadcast(std::move(records), now_ * 1000);
      });
  // One watcher of everything, one of a prefix that some keys share.
  n.watchers = std::make_unique<WatchChecker>(std::vector<std::string>{"", "k1"});
  n.node = std::make_unique<meshkv::Node>(
      so, n.env.get(),
      std::vector<CommitObserver*>{n.handoff.get(), n.watchers.get(), n.disk.get()});
  records_restored_ += n.disk->RestoreInto(n.node.get());
  n.watchers->Watch(&n.node->store(), &n.node->watches());
  peer::MeshOptions mo;
  mo.node_id = n.id;
  mo.advertise_addr = Addr(i);
  mo.cluster = "sim";
  mo.leasing = options_.leasing;
  mo.incarnation_ms = kEpochMs + now_ + n.skew_ms;
  mo.anti_entropy_ms = options_.anti_entropy_ms;
  mo.shuffle_ms = options_.shuffle_ms;
  mo.rng_seed = rng_();
  for (int s = 0; s < options_.seeds_per_node && i > 0; ++s) {
    mo.seeds.push_back(Addr(std::uniform_int_distribution<int>(0, i - 1)(rng_)));
  }
  peer::MeshLogFn log;
  if (std::getenv("MESHKV_SIM_LOG") != nullptr) {
    log = [this, i](LogLevel level, const std::string& msg,
                    std::vector<std::pair<std::string, std::string>> fields) {
      if (level < LogLevel::kInfo) return;
      std::string line = absl::StrCat(now_, " node-", i, " ", msg);
      for (const auto& [k, v] : fields) absl::StrAppend(&line, " ", k, "=", v);
      std::fprintf(stderr, "%s\n", line.c_str());
    };
  }
  n.mesh = std::make_unique<peer::Mesh>(mo, n.node.get(), std::move(log));
  n.mesh->Start(now_ * 1000);
  Pump(i);
  At(now_ + kTickMs, [this, i, life = n.life] { Tick(i, life); });
}

void Simulator::Tick(int i, int life) {
  if (nodes_[i]->life != life) return;  // restarted: that life's timer ends
  nodes_[i]->mesh->Tick(now_ * 1000);
  nodes_[i]->node->Maintain();  // as the server's maintenance loop: expiry, leases
  Pump(i);
  At(now_ + kTickMs, [this, i, life] { Tick(i, life); });
}

void Simulator::Pump(int i) {
  Host& n = *nodes_[i];
  for (;;) {
    std::vector<peer::Command> commands = n.mesh->TakeCommands();
    std::vector<peer::ConnId> writable = n.mesh->TakeWritable();
    if (commands.empty() && writable.empty()) return;
    for (const peer::Command& c : commands) {
      if (c.kind == peer::Command::kDial) {
        Dial(i, c.conn, c.addr);
      } else if (c.kind == peer::Command::kClose) {
        CloseEnd(End{i, c.conn, n.life});
      }
    }
    for (peer::ConnId conn : writable) {
      auto it = link_of_.find(End{i, conn, n.life});
      if (it == link_of_.end()) continue;
      StartSending(it->second, it->second->a.node == i && it->second->a.conn == conn ? 0 : 1);
    }
  }
}

int64_t Simulator::Latency() {
  return std::uniform_int_distribution<int64_t>(options_.min_latency_ms,
                                                options_.max_latency_ms)(rng_);
}

bool Simulator::Cut(int a, int b) const {
  return !side_.empty() && (side_.count(a) != side_.count(b));
}

void Simulator::Dial(int from, peer::ConnId conn, const std::string& addr) {
  int target = -1;
  absl::string_view s = addr;
  if (!absl::ConsumePrefix(&s, "node-") || !absl::ConsumeSuffix(&s, ":4444") ||
      !absl::SimpleAtoi(s, &target) || target < 0 || target >= nodes() || !nodes_[target]->mesh) {
    At(now_ + Latency(), [this, from, conn, life = nodes_[from]->life] {
      if (nodes_[from]->life != life) return;
      nodes_[from]->mesh->ConnectFailed(conn, "no such host", now_ * 1000);
      Pump(from);
    });
    return;
  }
  // Across a cut the SYN is lost: the dial hangs until the core gives up.
  if (Cut(from, target)) return;
  const End a{from, conn, nodes_[from]->life};
  At(now_ + 2 * Latency(), [this, a, target] {
    if (!Alive(a) || Cut(a.node, target) || !nodes_[target]->mesh) return;
    auto link = std::make_unique<Link>();
    link->a = a;
    link->b = End{target, nodes_[target]->mesh->Accepted(Addr(a.node), now_ * 1000),
                  nodes_[target]->life};
    link->free_at[0] = link->free_at[1] = now_;
    link_of_[link->a] = link.get();
    link_of_[link->b] = link.get();
    links_.push_back(std::move(link));
    nodes_[a.node]->mesh->Connected(a.conn, now_ * 1000);
    Pump(a.node);
    Pump(target);
  });
}

void Simulator::StartSending(Link* link, int dir) {
  if (link->sending[dir]) return;
  const End from = dir == 0 ? link->a : link->b;
  const End to = dir == 0 ? link->b : link->a;
  if (!Alive(from)) return;
  std::string out = nodes_[from.node]->mesh->TakeOutput(from.conn, kChunkBytes);
  if (out.empty()) return;
  link->sending[dir] = true;
  const int64_t start = std::max(now_, link->free_at[dir]);
  const int64_t done = start + static_cast<int64_t>(out.size() / options_.bytes_per_ms);
  link->free_at[dir] = done;

  // Faults at frame granularity: the sender's queue drops a write batch, or
  // one arrives twice. Frames are whole within one output chunk only by
  // luck, so a frame that straddles chunks passes untouched.
  std::string delivered;
  peer::FrameDecoder tap(SIZE_MAX);
  tap.Feed(out);
  peer::FrameType type;
  absl::string_view body;
  size_t consumed = 0;
  while (tap.Next(&type, &body)) {
    const absl::string_view frame(out.data() + consumed, peer::kFrameHeaderBytes + body.size());
    consumed += frame.size();
    if (type == peer::FrameType::kWriteBatch) {
      if (std::bernoulli_distribution(options_.drop_write_frame)(rng_)) continue;
      if (std::bernoulli_distribution(options_.duplicate_write_frame)(rng_)) {
        delivered.append(frame.data(), frame.size());
      }
    }
    delivered.append(frame.data(), frame.size());
  }
  delivered.append(out, consumed, std::string::npos);

  // Later chunks never overtake earlier ones: TCP.
  const int64_t arrive = std::max(done + Latency(), link->arrived_at[dir]);
  link->arrived_at[dir] = arrive;
  At(done, [this, link, dir, from] {
    if (!Alive(from) || link_of_.find(from) == link_of_.end()) return;
    link->sending[dir] = false;
    StartSending(link, dir);
  });
  // Bytes in flight still arrive after the sender closes (TCP delivers
  // data before the FIN); only the receiver's own close discards them.
  At(arrive, [this, link, from, to, bytes = std::move(delivered)] {
    if (!Alive(to) || link_of_.find(to) == link_of_.end() || link->broken) return;
    if (Cut(from.node, to.node)) {
      link->broken = true;
      return;
    }
    nodes_[to.node]->mesh->Received(to.conn, bytes, now_ * 1000);
    Pump(to.node);
  });
}

void Simulator::CloseEnd(const End& end) {
  auto it = link_of_.find(end);
  if (it != link_of_.end()) {
    Link* link = it->second;
    const End other = link->a.node == end.node && link->a.conn == end.conn ? link->b : link->a;
    // A graceful close: what is queued (a goodbye) still goes out.
    std::string rest;
    for (std::string s; !(s = nodes_[end.node]->mesh->TakeOutput(end.conn, SIZE_MAX)).empty();) {
      rest += s;
    }
    // Only this end stops; the other keeps receiving what is in flight,
    // then this end's last bytes and the close.
    link_of_.erase(end);
    if (!Cut(end.node, other.node) && !link->broken) {
      const int dir = link->a.node == end.node && link->a.conn == end.conn ? 0 : 1;
      const int64_t arrive =
          std::max(std::max(now_, link->free_at[dir]) + Latency(), link->arrived_at[dir]);
      link->arrived_at[dir] = arrive;
      At(arrive, [this, end, other, rest = std::move(rest)] {
        if (!Alive(other) || Cut(end.node, other.node) || link_of_.erase(other) == 0) return;
        if (!rest.empty()) nodes_[other.node]->mesh->Received(other.conn, rest, now_ * 1000);
        nodes_[other.node]->mesh->Closed(other.conn, now_ * 1000);
        Pump(other.node);
      });
    }
  }
  nodes_[end.node]->mesh->Closed(end.conn, now_ * 1000);
}

void Simulator::Partition(const std::vector<int>& side) { side_ = {side.begin(), side.end()}; }

void Simulator::Heal() { side_.clear(); }

void Simulator::Restart(int i, bool keep_disk) {
  Host& n = *nodes_[i];
  // Peers see the connections reset.
  std::vector<End> ends;
  for (const auto& [end, link] : link_of_) {
    if (end.node == i) ends.push_back(end);
  }
  for (const End& end : ends) {
    Link* link = link_of_[end];
    const End other = link->a.node == i ? link->b : link->a;
    link_of_.erase(link->a);
    link_of_.erase(link->b);
    if (Cut(i, other.node)) continue;
    At(now_ + Latency(), [this, other] {
      if (!Alive(other)) return;
      nodes_[other.node]->mesh->Closed(other.conn, now_ * 1000);
      Pump(other.node);
    });
  }
  if (past_watch_error_.empty()) {
    const std::string e = n.watchers->Check();
    if (!e.empty()) past_watch_error_ = absl::StrCat("node ", i, " life ", n.life, ": ", e);
  }
  past_watch_events_ += n.watchers->events_read();
  for (CommitSource src : {CommitSource::kLocal, CommitSource::kFlooded, CommitSource::kAntiEntropy,
                           CommitSource::kExpired}) {
    past_watch_commits_[static_cast<int>(src)] += n.watchers->commits(src);
  }
  ++n.life;
  n.mesh.reset();
  n.watchers->Stop();
  n.node.reset();
  n.watchers.reset();
  n.handoff.reset();
  n.env.reset();
  if (!keep_disk) n.disk.reset();
  StartNode(i);
}

void Simulator::ResetRandomConnection() {
  if (link_of_.empty()) return;
  auto it = link_of_.begin();
  std::advance(it, std::uniform_int_distribution<size_t>(0, link_of_.size() - 1)(rng_));
  const End a = it->first;
  Link* link = it->second;
  const End b = link->a.node == a.node && link->a.conn == a.conn ? link->b : link->a;
  link_of_.erase(link->a);
  link_of_.erase(link->b);
  for (const End& e : {a, b}) {
    nodes_[e.node]->mesh->Closed(e.conn, now_ * 1000);
    Pump(e.node);
  }
}

void Simulator::RandomWrite() {
  const int writers = options_.writers > 0 ? options_.writers : nodes();
  const int i = std::uniform_int_distribution<int>(0, writers - 1)(rng_);
  Host& n = *nodes_[i];
  if (!n.mesh || !n.mesh->synced()) {
    ++writes_refused_;  // the node answers UNAVAILABLE until synced
    return;
  }
  n.node->SetSynced();  // as the driver's on_synced does
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); };
  const std::string key = absl::StrCat("k", pick(options_.keys));
  const int value_number = pick(100000);
  const std::string value = absl::StrCat("v", value_number);
  // No random draw at all without ttl_share: older seeds replay unchanged.
  auto ttl = [&] {
    if (options_.ttl_share <= 0 || !std::bernoulli_distribution(options_.ttl_share)(rng_)) {
      return absl::ZeroDuration();
    }
    return absl::Milliseconds(100 + pick(4900));
  };
  absl::StatusOr<WriteResult> r;
  const bool touch = options_.ttl_share > 0 && pick(10) == 0;
  switch (touch ? -1 : pick(8)) {
    case -1:
      r = n.node->Touch(key, ttl());
      break;
    case 0:
    case 1:
    case 2: {
      r = n.node->Set(key, ValueView::Bytes(value), {}, ttl());
      break;
    }
    case 3: {
      const std::string field = absl::StrCat("f", pick(3));
      r = n.node->Set(key, ValueView::Mapping({{field, value}}), {}, ttl());
      break;
    }
    case 4: {
      const std::string field = absl::StrCat("f", pick(3));
      // A third of the deltas remove their field instead (a field
      // tombstone), chosen by the value so the random stream stays as it was.
      if (value_number % 3 == 0) {
        r = n.node->ApplyDelta(key, {}, {}, {field}, ttl());
      } else {
        r = n.node->ApplyDelta(key, {{field, value}}, {}, {}, ttl());
      }
      break;
    }
    case 5:
      r = n.node->Delete(key);
      break;
    case 6:
      r = n.node->Pop(key);
      break;
    default: {
      const std::string other = absl::StrCat("k", pick(options_.keys));
      const std::string other_value = value + "'";
      if (other == key) return;
      std::vector<absl::Duration> ttls;
      if (options_.ttl_share > 0) ttls = {ttl(), ttl()};
      r = n.node->Update({{key, ValueView::Bytes(value)}, {other, ValueView::Bytes(other_value)}},
                         {}, ttls);
    }
  }
  if (!r.ok()) {
    ++writes_refused_;
    return;
  }
  ++writes_done_;
  Pump(i);  // the hand-off gave the mesh the write to send
}

void Simulator::WriteRandomly(double per_ms, absl::Duration d) {
  const int64_t span = absl::ToInt64Milliseconds(d);
  const int64_t count = static_cast<int64_t>(per_ms * static_cast<double>(span));
  for (int64_t k = 0; k < count; ++k) {
    At(now_ + std::uniform_int_distribution<int64_t>(0, span - 1)(rng_), [this] { RandomWrite(); });
  }
  Run(d);
}

bool Simulator::RunUntilConverged(absl::Duration limit) {
  const int64_t until = now_ + absl::ToInt64Milliseconds(limit);
  while (now_ < until) {
    Run(absl::Milliseconds(250));
    bool same = true;
    const std::vector<uint64_t> first = nodes_[0]->node->store().BucketDigests();
    for (const auto& n : nodes_) {
      same = same && n->mesh->synced() && n->node->store().BucketDigests() == first;
    }
    if (same) return true;
  }
  return false;
}

uint64_t Simulator::Total(uint64_t peer::MeshStats::*counter) const {
  uint64_t total = 0;
  for (const auto& n : nodes_) total += n->mesh->Snapshot(now_ * 1000).stats.*counter;
  return total;
}

uint64_t Simulator::WriteFrames() const {
  uint64_t frames = 0;
  for (const auto& n : nodes_) {
    for (const auto& [id, c] : n->mesh->Snapshot(now_ * 1000).counters) {
      frames += c.frames_sent[static_cast<int>(peer::FrameType::kWriteBatch)];
    }
  }
  return frames;
}

std::string Simulator::CheckWatchers() const {
  if (!past_watch_error_.empty()) return past_watch_error_;
  for (int i = 0; i < nodes(); ++i) {
    if (!nodes_[i]->watchers) continue;
    const std::string e = nodes_[i]->watchers->Check();
    if (!e.empty()) return absl::StrCat("node ", i, ": ", e);
  }
  return "";
}

uint64_t Simulator::watch_events_read() const {
  uint64_t n = past_watch_events_;
  for (const auto& h : nodes_) {
    if (h->watchers) n += h->watchers->events_read();
  }
  return n;
}

uint64_t Simulator::watch_commits(CommitSource source) const {
  uint64_t n = past_watch_commits_[static_cast<int>(source)];
  for (const auto& h : nodes_) {
    if (h->watchers) n += h->watchers->commits(source);
  }
  return n;
}

std::string Simulator::Dump(int i) const {
  const Store& s = nodes_[i]->node->store();
  std::string out;
  for (uint32_t b = 0; b < Store::kBuckets; ++b) {
    std::vector<meshkv::mesh::v1::Record> records;
    std::string last;
    s.ExportBucket(b, "", SIZE_MAX, &records, &last);
    for (const auto& r : records) out += r.ShortDebugString() + "\n";
  }
  for (const Entry& e : s.List("", "", SIZE_MAX).entries) {
    absl::StrAppend(&out, "live ", e.record->key(), " owner=", e.owner, "\n");
  }
  return out;
}

}  // namespace meshkv::sim
