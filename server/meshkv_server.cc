#include "server/meshkv_server.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/host_port.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "peer/core/seq_tracker.h"
#include "server/data_dir_start.h"
#include "server/grpc_security.h"
#include "server/mesh_metrics.h"
#include "server/mesh_security.h"
#include "server/orphaned_leases.h"
#include "server/process_metrics.h"
#include "server/service_access.h"
#include "server/storage_metrics.h"
#include "server/store_metrics.h"

namespace meshkv {
namespace {

// This host's name, for advertising an address that listens everywhere.
std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

// host:port other nodes dial: as configured, else the mesh's listening
// address with the port it bound (and this host's name for 0.0.0.0).
absl::StatusOr<std::string> AdvertiseAddr(const ServerConfig& c, int bound_port) {
  if (!c.advertise_addr.empty()) return c.advertise_addr;
  auto hp = SplitHostPort(c.mesh_addr);
  if (!hp.ok()) return hp.status();
  const bool anywhere = hp->first.empty() || hp->first == "0.0.0.0" || hp->first == "::";
  return absl::StrCat(anywhere ? HostName() : hp->first, ":", bound_port);
}

void LogFromMesh(LogLevel l, const std::string& msg,
                 std::vector<std::pair<std::string, std::string>> fields) {
  if (!LogEnabled(l)) return;
  // LogFields holds views: at most four fields, as the mesh sends.
  std::pair<absl::string_view, absl::string_view> f[4];
  const size_t n = std::min<size_t>(fields.size(), 4);
  for (size_t i = 0; i < n; ++i) f[i] = {fields[i].first, fields[i].second};
  switch (n) {
    case 0:
      return Log(l, msg);
    case 1:
      return Log(l, msg, {f[0]});
    case 2:
      return Log(l, msg, {f[0], f[1]});
    case 3:
      return Log(l, msg, {f[0], f[1], f[2]});
    default:
      return Log(l, msg, {f[0], f[1], f[2], f[3]});
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<MeshkvServer>> MeshkvServer::Start(const ServerConfig& config,
                                                                  Env* env) {
  // --- Security: mesh TLS whenever certificates are given.
  absl::StatusOr<peer::TransportFactory> transports = MeshTransportsFor(config);
  if (!transports.ok()) return transports.status();
  for (const std::string& warning : MeshSecurityWarnings(config)) {
    LogWarning(warning, {{"mesh", config.mesh_addr}});
  }
  absl::StatusOr<GrpcSecurity> grpc_security = GrpcSecurityFor(config);
  if (!grpc_security.ok()) return grpc_security.status();
  if (!grpc_security->tls) {
    LogWarning(
        "--insecure: gRPC runs plaintext; any client that reaches the port may read and "
        "write every key",
        {{"grpc", config.grpc_addr}});
  } else if (grpc_security->client_auth == ClientAuth::kOff) {
    LogWarning(
        "gRPC runs TLS without client certificates: any client that reaches the port may "
        "read and write every key; pass --client-ca and --client-roles to restrict it",
        {{"grpc", config.grpc_addr}});
  } else if (grpc_security->roles.size() == 0) {
    LogWarning(
        "--client-ca without --client-roles: no client certificate has a role, so clients "
        "may reach nothing but Health");
  }
  absl::StatusOr<std::unique_ptr<peer::MeshDriver>> mesh =
      peer::MeshDriver::Bind(config.mesh_addr, *std::move(transports));
  if (!mesh.ok()) return mesh.status();
  absl::StatusOr<std::string> advertise = AdvertiseAddr(config, (*mesh)->port());
  if (!advertise.ok()) return advertise.status();
  const std::string node_id = config.node_id.empty() ? *advertise : config.node_id;
  std::unique_ptr<storage::DataDir> data_dir;
  if (config.data_dir.empty()) {
    LogWarning("no --data-dir: in memory only; nothing survives a restart of this node");
  } else {
    absl::StatusOr<std::unique_ptr<storage::DataDir>> opened =
        OpenDataDir(config, node_id, env->clock()->NowMs());
    if (!opened.ok()) return opened.status();
    data_dir = *std::move(opened);
  }
  std::unique_ptr<MeshkvServer> server(new MeshkvServer(config, env, node_id, *advertise,
                                                        std::move(*mesh), std::move(data_dir),
                                                        *std::move(grpc_security)));
  if (server->data_dir_ != nullptr) {
    MESHKV_RETURN_IF_ERROR(LoadDataDir(server->data_dir_.get(), server->node_.get()));
  }
  if (!config.metrics_addr.empty()) {
    MESHKV_RETURN_IF_ERROR(server->metrics_->Serve(config.metrics_addr));
  }
  MESHKV_RETURN_IF_ERROR(server->StartGrpc());
  server->SetServing(false);
  server->maintainer_ = std::thread([s = server.get()] { s->MaintainLoop(); });
  MESHKV_RETURN_IF_ERROR(server->StartMesh());
  MESHKV_RETURN_IF_ERROR(server->WriteInfoFile());
  return server;
}

MeshkvServer::MeshkvServer(const ServerConfig& config, Env* env, std::string node_id,
                           std::string advertise_addr, std::unique_ptr<peer::MeshDriver> mesh,
                           std::unique_ptr<storage::DataDir> data_dir, GrpcSecurity grpc_security)
    : config_(config),
      env_(env),
      node_id_(std::move(node_id)),
      advertise_addr_(std::move(advertise_addr)),
      mesh_(std::move(mesh)),
      data_dir_(std::move(data_dir)),
      incarnation_ms_(data_dir_ ? IncarnationMs(env->clock()->NowMs(), data_dir_->origin_seq_base())
                                : env->clock()->NowMs()),
      durability_(data_dir_ ? std::make_unique<DurabilityLog>(data_dir_.get()) : nullptr),
      metrics_(std::make_unique<Metrics>()),
      grpc_credentials_(std::move(grpc_security.credentials)),
      client_auth_(grpc_security.client_auth, std::move(grpc_security.roles)),
      health_(config.max_health_watches) {
  peer::MeshDriver* driver = mesh_.get();
  concern_ = std::make_unique<WriteConcern>(
      WriteConcernOptions{},
      WriteConcern::MeshView{[driver] { return driver->last_origin_seq(); },
                             [driver] { return driver->established_peers(); },
                             [driver] { return driver->known_peers(); }},
      &metrics_->registry());
  handoff_ = std::make_unique<ReplicationHandoff>(
      [driver, concern = concern_.get()](std::vector<meshkv::mesh::v1::Record> records) {
        driver->Broadcast(std::move(records), concern->ack_wanted());
      });
  commit_metrics_ = std::make_unique<CommitMetrics>(metrics_.get(), env->clock());
  StoreOptions store = StoreOptionsFor(config, node_id_);
  if (data_dir_) store.revision_base = data_dir_->revision_base();
  node_ = std::make_unique<Node>(
      std::move(store), env, std::vector<CommitObserver*>{handoff_.get(), commit_metrics_.get()},
      durability_.get(), concern_.get());
  metrics_->AddCollector(StoreCollector(&node_->store()));
  metrics_->AddCollector(ProcessCollector());
  if (data_dir_) metrics_->AddCollector(StorageCollector(data_dir_.get()));
  metrics_->AddCollector(MeshCollector([driver] { return driver->Snapshot(); }));
  metrics_->AddCollector(
      OrphanedLeaseCollector(&node_->store(), [driver] { return driver->Snapshot(); }));
  kv_service_ = std::make_unique<KeyValueService>(node_.get(), KeyValueServiceOptionsFor(config),
                                                  metrics_->watch_observer(), &client_auth_);
  cluster_service_ = std::make_unique<ClusterService>(
      ClusterService::Identity{node_id_, advertise_addr_, config.cluster, config.leasing,
                               !MeshTlsRequested(config), MeshSecurityWarnings(config)},
      node_.get(), [driver] { return driver->Snapshot(); }, &client_auth_);
  maintenance_service_ = std::make_unique<MaintenanceService>(
      MaintenanceService::Identity{node_id_, config.cluster, config.leasing}, node_.get(),
      [driver] { return driver->Snapshot(); }, &client_auth_);
}

absl::Status MeshkvServer::StartMesh() {
  // Before the first write this life can originate.
  MESHKV_RETURN_IF_ERROR(ReserveOriginSeqs());
  peer::MeshOptions o =
      MeshOptionsFor(config_, node_id_, advertise_addr_, incarnation_ms_, std::random_device()());
  peer::MeshDriver::WriteConcernHooks hooks;
  hooks.on_acked = [concern = concern_.get()](const peer::AckTracker::Marks& marks) {
    concern->Acked(marks);
  };
  if (durability_ != nullptr) {
    hooks.when_durable = [log = durability_.get()](std::function<void(bool)> done) {
      // Everything applied so far is queued: once it is written, it holds.
      log->WhenDurable(log->enqueued(), [done = std::move(done)](absl::Status s) { done(s.ok()); });
    };
  }
  // Started before the node serves, so that every write it accepts is
  // numbered from this life's base (MeshDriver::Broadcast).
  mesh_->Start(
      std::move(o), node_.get(), LogFromMesh, [this] { MarkSynced(); }, std::move(hooks));
  // With no seeds there is nothing to learn: serve at once, not whenever
  // the mesh thread gets round to saying so.
  if (config_.join.empty()) MarkSynced();
  return absl::OkStatus();
}

absl::Status MeshkvServer::ReserveOriginSeqs() {
  if (data_dir_ == nullptr) return absl::OkStatus();
  // Cheap while under the directory's ceiling, which moves ceiling_step
  // (65536) seqs ahead in one synced write: called every maintenance step,
  // it stays ahead of any write rate below 65536 per step.
  // (An empty snapshot, before the mesh runs or after, counts 0.)
  const uint64_t originated = mesh_->Snapshot().stats.writes_originated;
  return data_dir_->ReserveOriginSeqs(peer::SeqTracker::Base(incarnation_ms_) + originated + 1);
}

void MeshkvServer::MarkSynced() {
  if (node_->SetSynced()) return;  // already
  SetServing(true);
  LogInfo("serving: initial sync complete", {{"keys", absl::StrCat(node_->store().Stats().keys)}});
}

MeshkvServer::~MeshkvServer() {
  Shutdown();
  // The metrics endpoint reads the store and the mesh when scraped: stop it
  // before they go.
  metrics_.reset();
}

void MeshkvServer::MaintainLoop() {
  absl::Time last_mark = absl::InfinitePast();
  absl::Time last_trim = absl::InfinitePast();
  size_t watch_peak = 0;
  absl::MutexLock lock(&maintain_mu_);
  while (
      !maintain_mu_.AwaitWithTimeout(absl::Condition(&stop_maintaining_), config_.maintain_every)) {
    maintain_mu_.Unlock();
    node_->Maintain();
    node_->watches().Tick();  // progress notifications
    const absl::Time now = absl::FromUnixMillis(env_->clock()->NowMs());
    MarkInSyncIfDue(now, &last_mark);
    TrimHeapAfterStreamsClose(now, &watch_peak, &last_trim);
    if (absl::Status s = ReserveOriginSeqs(); !s.ok()) {
      LogWarning("data directory: cannot reserve origin sequence numbers",
                 {{"error", s.ToString()}});
    }
    maintain_mu_.Lock();
  }
}

void MeshkvServer::MarkInSyncIfDue(absl::Time now, absl::Time* last_mark) {
  if (data_dir_ == nullptr || !node_->synced() || now - *last_mark < config_.mark_in_sync_every) {
    return;
  }
  // In sync: past the first sync, and either alone by design (no seeds) or
  // connected to a peer, with which anti-entropy runs every few seconds.
  if (!config_.join.empty() && mesh_->Snapshot().peers.empty()) return;
  if (absl::Status s = data_dir_->MarkInSync(absl::ToUnixMillis(now)); !s.ok()) {
    LogWarning("data directory: cannot record being in sync", {{"error", s.ToString()}});
    return;
  }
  *last_mark = now;
}

void MeshkvServer::TrimHeapAfterStreamsClose(absl::Time now, size_t* peak, absl::Time* last) {
  // Each open watch stream holds about 16 KiB of gRPC's memory, allocated
  // and freed on gRPC's threads, in glibc's per-thread arenas. glibc returns
  // a free arena page to the system only from the top of the heap, so after
  // thousands of streams close their memory stays resident (measured: 5,000
  // streams took RSS from 27 to 106 MB, and it stayed there). malloc_trim
  // releases free pages everywhere; it walks the heap (milliseconds), so it
  // runs only once this many streams have closed since the peak, and at
  // most every few seconds, so a client that opens and closes streams in a
  // loop cannot keep a core busy walking the heap.
  constexpr size_t kTrimAfterClosed = 1000;
  constexpr absl::Duration kTrimEvery = absl::Seconds(5);
  const size_t open = kv_service_->watch_streams();
  *peak = std::max(*peak, open);
  if (*peak - open < kTrimAfterClosed || now - *last < kTrimEvery) return;
  malloc_trim(0);
  *peak = open;
  *last = now;
}

absl::Status MeshkvServer::StartGrpc() {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.grpc_addr, grpc_credentials_, &grpc_port_);
  // gRPC sets SO_REUSEPORT by default: a second node started on a busy port
  // would silently share it and take half the clients. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // One connection may not open streams without bound (gRPC's default):
  // clients queue past this many. Watch streams have a node-wide cap too.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config_.max_concurrent_streams));
  builder.AddChannelArgument(
      GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(config_.grpc_handshake_timeout)));
  // A request carries at most a few values of the maximum size.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::max<size_t>(4 << 20, 4 * (config_.max_value_bytes + config_.max_key_bytes))));
  builder.RegisterService(kv_service_.get());
  builder.RegisterService(cluster_service_.get());
  builder.RegisterService(&health_);
  builder.RegisterService(maintenance_service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics_->InterceptorFactory());
  interceptors.push_back(ServiceAccessInterceptorFactory(&client_auth_));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", config_.grpc_addr));
  }
  return absl::OkStatus();
}

void MeshkvServer::SetServing(bool serving) {
  // The empty name is the node as a whole, what probes ask about.
  health_.SetServing("", serving);
  health_.SetServing(meshkv::v1::KeyValue::service_full_name(), serving);
}

std::string MeshkvServer::grpc_address() const {
  auto hp = SplitHostPort(config_.grpc_addr);
  std::string host = hp.ok() ? hp->first : "127.0.0.1";
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "[::1]";
  return absl::StrCat(host, ":", grpc_port_);
}

absl::Status MeshkvServer::WriteInfoFile() const {
  if (config_.info_file.empty()) return absl::OkStatus();
  const std::string tmp = config_.info_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"node_id\": \"" << node_id_ << "\", \"grpc\": \"" << grpc_address()
        << "\", \"mesh\": \"" << advertise_addr_ << "\", \"metrics_port\": " << metrics_port()
        << "}\n";
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), config_.info_file.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", config_.info_file));
  }
  return absl::OkStatus();
}

void MeshkvServer::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // Start() failed before gRPC served: nothing runs yet, nothing to stop.
  if (grpc_server_ == nullptr) return;
  LogInfo("shutting down");
  SetServing(false);
  health_.Shutdown();
  node_->watches().Shutdown();
  grpc_server_->Shutdown(std::chrono::system_clock::now() +
                         absl::ToChronoMilliseconds(config_.shutdown_grace));
  grpc_server_->Wait();
  {
    absl::MutexLock lock(&maintain_mu_);
    stop_maintaining_ = true;
  }
  maintainer_.join();
  // Every acknowledged write is in the mesh's inbox by now: send them, then
  // tell the peers, so they notice at once rather than after a timeout.
  mesh_->Shutdown(absl::Seconds(5));
  LogInfo("stopped");
}

}  // namespace meshkv
