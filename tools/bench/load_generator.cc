#include "tools/bench/load_generator.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "meshkv/v1/kv.grpc.pb.h"
#include "tools/bench/protocol.h"

namespace meshkv::bench {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr int64_t kNever = INT64_MAX;

std::chrono::system_clock::time_point WallIn(int64_t ns) {
  return std::chrono::system_clock::now() + std::chrono::nanoseconds(std::max<int64_t>(ns, 0));
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void SleepUntil(int64_t ns) {
  const int64_t now = NowNs();
  if (ns > now) std::this_thread::sleep_for(std::chrono::nanoseconds(ns - now));
}

// xorshift64*: a few instructions per number, plenty random for key choice.
class Rng {
 public:
  explicit Rng(uint64_t seed) : x_(seed * 0x9E3779B97F4A7C15ULL | 1) {}
  uint64_t Next() {
    x_ ^= x_ >> 12;
    x_ ^= x_ << 25;
    x_ ^= x_ >> 27;
    return x_ * 2685821657736338717ULL;
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t x_;
};

enum class OpKind { kGet, kSet, kList };
enum class ListState { kStarting, kReading, kFinishing };

}  // namespace

struct LoadGenerator::Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> generic;
  std::unique_ptr<meshkv::v1::KeyValue::Stub> kv;  // List only
  int target_index = 0;                            // into config.addrs
};

// One run, shared by its workers. Constant once the workers start, but for
// the atomics.
struct LoadGenerator::Plan {
  Workload workload = Workload::kGet;
  bool stamp_values = false;
  // Preload: keys in order, key k through a connection to address k % n.
  bool sequential = false;
  uint64_t sequential_limit = 0;
  std::unique_ptr<std::atomic<uint64_t>[]> sequential_next;  // one per address

  int64_t start_ns = 0;
  int64_t measure_start_ns = 0;
  int64_t end_ns = kNever;  // stop sending; kNever with a request budget
  uint64_t budget = 0;      // measured requests; 0: time-bound
  std::atomic<uint64_t> measured_issued{0};
  double rate_per_worker = 0;  // 0: closed loop
};

namespace {

// One thread's share of the load: see the class comment in the header.
class Worker {
 public:
  Worker(const BenchConfig& config, LoadGenerator::Plan* plan, int index, int worker_count)
      : config_(config),
        plan_(plan),
        protocol_(Protocol::For(config.target, config.linearizable, config.ttl_ms,
                                config.min_replicas)),
        rng_(config.seed * 1000003 + static_cast<uint64_t>(index)),
        index_(index),
        worker_count_(worker_count) {
    value_.resize(config.value_size);
    for (char& c : value_) c = static_cast<char>('a' + rng_.Below(26));
  }

  void AddConnection(LoadGenerator::Connection* conn, int slots) {
    for (int i = 0; i < slots; ++i) {
      auto slot = std::make_unique<Slot>();
      slot->conn = conn;
      slots_.push_back(std::move(slot));
    }
  }

  void Run();
  const RunStats& stats() const { return stats_; }

 private:
  struct Slot {
    LoadGenerator::Connection* conn = nullptr;  // Not owned
    OpKind kind = OpKind::kGet;
    ListState list_state = ListState::kStarting;
    int64_t intended_ns = 0;
    int64_t sent_ns = 0;
    uint64_t entries = 0;
    std::unique_ptr<grpc::ClientContext> ctx;
    grpc::ByteBuffer response;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::ByteBuffer>> unary;
    std::unique_ptr<grpc::ClientAsyncReader<meshkv::v1::ListResponse>> list;
    meshkv::v1::ListResponse list_response;
  };

  bool Issue(Slot* s, int64_t intended_ns);
  void OnEvent(Slot* s, bool ok);
  void Complete(Slot* s);
  bool InWindow(const Slot* s, int64_t now) const {
    if (plan_->budget > 0) return s->intended_ns >= plan_->measure_start_ns;
    return now >= plan_->measure_start_ns && now < plan_->end_ns;
  }
  // A key for a write through `conn`: with partitioning, one that belongs to
  // its address. False when a preload has no more keys for it.
  bool WriteKeyId(const LoadGenerator::Connection* conn, uint64_t* id);

  const BenchConfig& config_;
  LoadGenerator::Plan* const plan_;  // Not owned
  std::unique_ptr<Protocol> protocol_;
  Rng rng_;
  const int index_;
  const int worker_count_;
  std::string value_;

  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_;
  std::deque<int64_t> owed_;  // open loop: scheduled, waiting for a free slot
  int outstanding_ = 0;
  bool done_issuing_ = false;
  RunStats stats_;
};

bool Worker::WriteKeyId(const LoadGenerator::Connection* conn, uint64_t* id) {
  const uint64_t n = config_.partition_keys ? config_.addrs.size() : 1;
  const uint64_t t = config_.partition_keys ? static_cast<uint64_t>(conn->target_index) : 0;
  if (plan_->sequential) {
    *id = plan_->sequential_next[t].fetch_add(1, std::memory_order_relaxed) * n + t;
    return *id < plan_->sequential_limit;
  }
  const uint64_t per_target = std::max<uint64_t>(1, config_.keyspace / n);
  *id = rng_.Below(per_target) * n + t;
  return true;
}

bool Worker::Issue(Slot* s, int64_t intended_ns) {
  const int64_t now = NowNs();
  if (!plan_->sequential) {
    if (now >= plan_->end_ns) {
      done_issuing_ = true;
      return false;
    }
    if (plan_->budget > 0 && intended_ns >= plan_->measure_start_ns &&
        plan_->measured_issued.fetch_add(1, std::memory_order_relaxed) >= plan_->budget) {
      done_issuing_ = true;
      return false;
    }
  }
  OpKind kind = OpKind::kGet;
  switch (plan_->workload) {
    case Workload::kSet:
      kind = OpKind::kSet;
      break;
    case Workload::kMixed:
      kind = rng_.Unit() < config_.read_ratio ? OpKind::kGet : OpKind::kSet;
      break;
    case Workload::kList:
      kind = OpKind::kList;
      break;
    default:
      break;
  }
  uint64_t id = 0;
  if (kind == OpKind::kSet) {
    if (!WriteKeyId(s->conn, &id)) return false;
  } else {
    id = rng_.Below(config_.keyspace);
  }
  const std::string key = config_.Key(id);

  s->kind = kind;
  s->intended_ns = intended_ns;
  s->sent_ns = now;
  s->entries = 0;
  s->ctx = std::make_unique<grpc::ClientContext>();
  s->ctx->set_deadline(WallIn(absl::ToInt64Nanoseconds(config_.rpc_timeout)));
  switch (kind) {
    case OpKind::kGet:
      s->unary = s->conn->generic->PrepareUnaryCall(s->ctx.get(), protocol_->get_method(),
                                                    protocol_->EncodeGet(key), &cq_);
      s->unary->StartCall();
      s->unary->Finish(&s->response, &s->status, s);
      break;
    case OpKind::kSet: {
      grpc::ByteBuffer request;
      if (config_.random_values) {
        for (size_t i = 0; i < value_.size(); i += sizeof(uint64_t)) {
          const uint64_t r = rng_.Next();
          std::memcpy(value_.data() + i, &r, std::min(sizeof(r), value_.size() - i));
        }
      }
      if (plan_->stamp_values) {
        std::string stamped = value_;
        const int64_t t = NowNs();
        std::memcpy(stamped.data(), &t, sizeof(t));  // little-endian on x86 and arm64
        s->sent_ns = t;
        request = protocol_->EncodeSet(key, stamped);
      } else {
        request = protocol_->EncodeSet(key, value_);
      }
      s->unary =
          s->conn->generic->PrepareUnaryCall(s->ctx.get(), protocol_->set_method(), request, &cq_);
      s->unary->StartCall();
      s->unary->Finish(&s->response, &s->status, s);
      break;
    }
    case OpKind::kList: {
      meshkv::v1::ListRequest request;
      request.set_start_after(key);
      request.set_limit(config_.list_limit);
      s->list_state = ListState::kStarting;
      s->list = s->conn->kv->PrepareAsyncList(s->ctx.get(), request, &cq_);
      s->list->StartCall(s);
      break;
    }
  }
  ++outstanding_;
  return true;
}

void Worker::OnEvent(Slot* s, bool ok) {
  if (s->kind == OpKind::kList) {
    switch (s->list_state) {
      case ListState::kStarting:
      case ListState::kReading:
        if (ok) {
          if (s->list_state == ListState::kReading) {
            s->entries += static_cast<uint64_t>(s->list_response.entries_size());
          }
          s->list_state = ListState::kReading;
          s->list->Read(&s->list_response, s);
        } else {
          s->list_state = ListState::kFinishing;
          s->list->Finish(&s->status, s);
        }
        return;
      case ListState::kFinishing:
        break;
    }
  }
  Complete(s);
}

void Worker::Complete(Slot* s) {
  const int64_t now = NowNs();
  --outstanding_;
  if (InWindow(s, now)) {
    if (s->status.ok()) {
      const uint64_t latency = static_cast<uint64_t>(std::max<int64_t>(0, now - s->intended_ns));
      stats_.latency.Record(latency);
      ++stats_.ops;
      switch (s->kind) {
        case OpKind::kGet:
          ++stats_.gets;
          stats_.get_latency.Record(latency);
          if (protocol_->GetFound(&s->response)) ++stats_.found;
          break;
        case OpKind::kSet:
          ++stats_.sets;
          stats_.set_latency.Record(latency);
          break;
        case OpKind::kList:
          ++stats_.lists;
          stats_.list_entries += s->entries;
          break;
      }
    } else {
      ++stats_.errors;
      ++stats_.errors_by_code[std::min<size_t>(s->status.error_code(), 16)];
      if (stats_.first_error.empty()) {
        stats_.first_error =
            absl::StrCat("code ", s->status.error_code(), ": ", s->status.error_message());
      }
    }
  }
  if (plan_->stamp_values && s->kind == OpKind::kSet && s->status.ok() &&
      s->sent_ns >= plan_->measure_start_ns && s->sent_ns < plan_->end_ns) {
    ++stats_.stamped_ok;
  }
  s->unary.reset();
  s->list.reset();
  s->ctx.reset();
  s->response.Clear();
  if (plan_->rate_per_worker > 0 || !Issue(s, now)) free_.push_back(s);
}

void Worker::Run() {
  const bool open_loop = plan_->rate_per_worker > 0;
  const int64_t interval =
      open_loop ? std::max<int64_t>(1, static_cast<int64_t>(1e9 / plan_->rate_per_worker)) : 0;
  // Workers' schedules interleave rather than fire together.
  int64_t next_due = plan_->start_ns + interval * index_ / std::max(1, worker_count_);
  if (open_loop) {
    for (auto& s : slots_) free_.push_back(s.get());
  } else {
    for (auto& s : slots_) {
      if (!Issue(s.get(), NowNs())) free_.push_back(s.get());
    }
  }
  while (outstanding_ > 0 || (open_loop && !done_issuing_)) {
    int64_t now = NowNs();
    int64_t wait = 50'000'000;
    if (open_loop && !done_issuing_) wait = std::min(wait, next_due - now);
    void* tag = nullptr;
    bool ok = false;
    const auto status = cq_.AsyncNext(&tag, &ok, WallIn(wait));
    if (status == grpc::CompletionQueue::SHUTDOWN) break;
    if (status == grpc::CompletionQueue::GOT_EVENT) OnEvent(static_cast<Slot*>(tag), ok);
    if (!open_loop || done_issuing_) continue;
    now = NowNs();
    if (now >= plan_->end_ns) {
      done_issuing_ = true;
      continue;
    }
    // A request counts from when it was due or, if this thread woke after
    // that, from when it woke: the completion queue's timer wakes us up to a
    // millisecond late, and that lateness is the client's, not the server's.
    // Waiting for a free slot (the server not keeping up) still counts.
    for (; next_due <= now; next_due += interval) owed_.push_back(now);
    while (!owed_.empty() && !free_.empty()) {
      Slot* s = free_.back();
      if (!Issue(s, owed_.front())) break;
      free_.pop_back();
      owed_.pop_front();
    }
  }
  // Scheduled inside the window, never sent.
  for (int64_t t : owed_) {
    if (t >= plan_->measure_start_ns) ++stats_.unsent;
  }
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

}  // namespace

void RunStats::Merge(const RunStats& o) {
  latency.Merge(o.latency);
  get_latency.Merge(o.get_latency);
  set_latency.Merge(o.set_latency);
  ops += o.ops;
  gets += o.gets;
  sets += o.sets;
  lists += o.lists;
  found += o.found;
  list_entries += o.list_entries;
  errors += o.errors;
  for (size_t i = 0; i < errors_by_code.size(); ++i) errors_by_code[i] += o.errors_by_code[i];
  if (first_error.empty()) first_error = o.first_error;
  unsent += o.unsent;
  stamped_ok += o.stamped_ok;
}

LoadGenerator::LoadGenerator(BenchConfig config) : config_(std::move(config)) {}
LoadGenerator::~LoadGenerator() = default;

absl::Status LoadGenerator::Connect(absl::Duration timeout) {
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  for (int i = 0; i < config_.connections; ++i) {
    auto conn = std::make_unique<Connection>();
    conn->target_index = i % static_cast<int>(config_.addrs.size());
    grpc::ChannelArguments args;
    // A subchannel (TCP connection) of its own: channels with equal arguments
    // would otherwise share one from the global pool.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("meshkv.bench.connection", i);
    args.SetMaxReceiveMessageSize(-1);
    conn->channel = grpc::CreateCustomChannel(config_.addrs[conn->target_index],
                                              config_.ChannelCredentials(), args);
    if (!conn->channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", config_.addrs[conn->target_index]));
    }
    conn->generic = std::make_unique<grpc::GenericStub>(conn->channel);
    conn->kv = meshkv::v1::KeyValue::NewStub(conn->channel);
    connections_.push_back(std::move(conn));
  }
  return absl::OkStatus();
}

RunStats LoadGenerator::Preload(uint64_t n) {
  Plan plan;
  plan.workload = Workload::kSet;
  plan.sequential = true;
  plan.sequential_limit = n;
  plan.sequential_next = std::make_unique<std::atomic<uint64_t>[]>(config_.addrs.size());
  for (size_t i = 0; i < config_.addrs.size(); ++i) plan.sequential_next[i] = 0;
  plan.start_ns = plan.measure_start_ns = NowNs();
  plan.end_ns = kNever;
  RunStats stats = Execute(&plan, std::max(config_.inflight, 32));
  return stats;
}

RunStats LoadGenerator::Run(Workload workload, bool stamp_values, int64_t start_ns) {
  Plan plan;
  plan.workload = workload;
  plan.stamp_values = stamp_values;
  plan.start_ns = start_ns > 0 ? start_ns : NowNs();
  plan.measure_start_ns = plan.start_ns + absl::ToInt64Nanoseconds(config_.warmup);
  plan.budget = config_.requests;
  plan.end_ns = config_.requests > 0
                    ? kNever
                    : plan.measure_start_ns + absl::ToInt64Nanoseconds(config_.duration);
  plan.rate_per_worker = config_.rate / config_.EffectiveThreads();
  return Execute(&plan, config_.inflight);
}

RunStats LoadGenerator::Execute(Plan* plan, int slots_per_connection) {
  const int n = config_.EffectiveThreads();
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < n; ++i) workers.push_back(std::make_unique<Worker>(config_, plan, i, n));
  for (size_t c = 0; c < connections_.size(); ++c) {
    workers[c % n]->AddConnection(connections_[c].get(), slots_per_connection);
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([w = w.get()] { w->Run(); });

  SleepUntil(plan->measure_start_ns);
  const double cpu_start = CpuSeconds();
  if (plan->end_ns != kNever) SleepUntil(plan->end_ns);
  double cpu_end = CpuSeconds();
  for (std::thread& t : threads) t.join();
  const int64_t finished = NowNs();
  if (plan->end_ns == kNever) cpu_end = CpuSeconds();

  RunStats total;
  for (auto& w : workers) total.Merge(w->stats());
  const int64_t window_end = plan->end_ns == kNever ? finished : plan->end_ns;
  total.seconds = static_cast<double>(window_end - plan->measure_start_ns) / 1e9;
  total.client_cpu_seconds = cpu_end - cpu_start;
  return total;
}

}  // namespace meshkv::bench
