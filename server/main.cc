// meshkv-server: parse flags, start the node, wait for SIGTERM, shut down.
//
// Every flag has a MESHKV_* environment equivalent (--node-id and
// MESHKV_NODE_ID); a flag on the command line wins over the environment.
// Flags are spelled with dashes, as in docs/design.md; underscores work too.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/dashed_flags.h"
#include "common/log.h"
#include "common/version.h"
#include "server/config.h"
#include "server/meshkv_server.h"

namespace {
// The flags' defaults are ServerConfig's: each is written once.
const meshkv::ServerConfig& Defaults() {
  static const meshkv::ServerConfig* c = new meshkv::ServerConfig();
  return *c;
}
}  // namespace

ABSL_FLAG(std::string, node_id, Defaults().node_id,
          "Stable node ID. A node restarted with the same ID keeps its leases. "
          "Default: the advertised mesh address.");
ABSL_FLAG(std::string, grpc_addr, Defaults().grpc_addr, "Where the gRPC API listens (host:port).");
ABSL_FLAG(std::string, mesh_addr, Defaults().mesh_addr,
          "Where the peer-to-peer mesh listens (host:port, raw TCP).");
ABSL_FLAG(std::string, advertise_addr, Defaults().advertise_addr,
          "host:port other nodes dial to reach this one. Default: --mesh-addr, with this "
          "host's name when it listens on 0.0.0.0.");
ABSL_FLAG(std::vector<std::string>, join, Defaults().join,
          "Comma-separated mesh addresses (host:port) of seed nodes to join.");
ABSL_FLAG(std::string, metrics_addr, Defaults().metrics_addr,
          "Where Prometheus metrics are served, at /metrics. Empty: no metrics endpoint.");
ABSL_FLAG(std::string, cluster, Defaults().cluster,
          "Cluster name. Nodes of different clusters refuse each other.");
ABSL_FLAG(bool, leasing, Defaults().leasing,
          "Leasing: a key written at one node cannot be changed at another until its lease "
          "lapses. Every node of a cluster must agree.");
ABSL_FLAG(absl::Duration, lease_duration, Defaults().lease_duration,
          "How long a write leases its key to the node where it entered (e.g. 1h, 90s).");
ABSL_FLAG(absl::Duration, tombstone_retention, Defaults().tombstone_retention,
          "How long deleted keys are remembered, so that stale writes cannot bring them back.");
ABSL_FLAG(uint64_t, max_key_bytes, Defaults().max_key_bytes,
          "Largest key accepted, in bytes (1 to 65535).");
ABSL_FLAG(uint64_t, max_value_bytes, Defaults().max_value_bytes,
          "Largest value accepted, in bytes (at most 64 MiB).");
ABSL_FLAG(std::string, max_data_bytes, "0",
          "The data quota: local writes that would take the live keys' key and value bytes past "
          "it are refused (RESOURCE_EXHAUSTED); replicated writes are applied and raise "
          "meshkv_store_quota_exceeded. Bytes, or N% of --memory-limit-bytes. 0: no quota.");
ABSL_FLAG(uint64_t, memory_limit_bytes, 0,
          "The memory this node may use (Kubernetes sets it from the container's limit): what "
          "--max-data-bytes=N% is a share of.");
ABSL_FLAG(uint64_t, watch_history, Defaults().watch_history,
          "Changes kept in memory for Watch to replay from a start revision.");
ABSL_FLAG(uint64_t, watch_max_lag, Defaults().watch_max_lag,
          "A watcher that stops reading is cut off (RESOURCE_EXHAUSTED) this many revisions "
          "behind.");
ABSL_FLAG(uint64_t, max_watch_streams, Defaults().max_watch_streams,
          "Watch streams open at once on this node (each holds about 16 KiB); more answer "
          "RESOURCE_EXHAUSTED, counted in meshkv_watch_streams_refused_total.");
ABSL_FLAG(uint64_t, max_health_watches, Defaults().max_health_watches,
          "grpc.health.v1.Health Watch streams open at once on this node (Health needs no client "
          "certificate); more answer RESOURCE_EXHAUSTED.");
ABSL_FLAG(uint64_t, max_delete_prefix_keys, Defaults().max_delete_prefix_keys,
          "Keys one DeletePrefix may delete (1 to 1000000): one with more under its prefix is "
          "refused whole (FAILED_PRECONDITION). The deletes commit under one lock, so this bounds "
          "how many writes one call holds writers back for.");
ABSL_FLAG(uint32_t, max_concurrent_streams, Defaults().max_concurrent_streams,
          "Concurrent RPCs on one client connection (HTTP/2 MAX_CONCURRENT_STREAMS); a client "
          "queues those past it.");
ABSL_FLAG(absl::Duration, grpc_handshake_timeout, Defaults().grpc_handshake_timeout,
          "A gRPC client connection that has not finished its TLS handshake this long after "
          "connecting is closed.");
ABSL_FLAG(absl::Duration, initial_sync_timeout, Defaults().initial_sync_timeout,
          "A node with --join serves once it has synced with a peer, or alone after this long "
          "if no peer answers.");
ABSL_FLAG(absl::Duration, shutdown_grace, Defaults().shutdown_grace,
          "On SIGTERM, how long in-flight RPCs may take to finish.");
ABSL_FLAG(std::string, data_dir, Defaults().data_dir,
          "Where this node keeps its data (created if missing). Empty: in memory only; nothing "
          "survives a restart.");
ABSL_FLAG(std::string, fsync, std::string(meshkv::storage::FsyncModeName(Defaults().fsync)),
          "When an acknowledged write is on disk: always (fsync before acknowledging; "
          "concurrent writes share one fsync), interval (every --fsync-interval: a power loss "
          "of the machine loses at most the last interval of writes), never (the OS decides, "
          "about 30 s on Linux). A crash of the process alone loses nothing in any mode.");
ABSL_FLAG(absl::Duration, fsync_interval, Defaults().fsync_interval,
          "With --fsync=interval, how often the data directory is synced (e.g. 100ms).");
ABSL_FLAG(bool, salvage, Defaults().salvage,
          "Repair mode: open a --data-dir whose files fail their checksums anyway, keeping the "
          "records that verify (damaged tables are moved to <data-dir>/.../lost/); the rest "
          "comes back from peers. Without it such a node refuses to start and names the file.");
ABSL_FLAG(std::string, log_level, std::string(meshkv::LogLevelName(meshkv::kDefaultLogLevel)),
          "Least severe log level shown: debug, info, warning, error.");
ABSL_FLAG(std::string, info_file, Defaults().info_file,
          "Write the node ID and bound addresses here as JSON once listening (for scripts).");
// --- Security
ABSL_FLAG(std::string, certs_dir, Defaults().certs_dir,
          "Directory of this node's certificates, CockroachDB's layout: ca.crt (the cluster "
          "CA), node.crt and node.key (scripts/certs.sh makes them). The mesh then runs mutual "
          "TLS 1.3: only nodes with a certificate from that CA join; gRPC runs TLS with "
          "node.crt (clients verify it against ca.crt; see --client-ca for theirs).");
ABSL_FLAG(std::string, tls_ca, Defaults().tls_ca,
          "The cluster CA certificate (PEM); instead of, or overriding, <certs-dir>/ca.crt.");
ABSL_FLAG(std::string, tls_cert, Defaults().tls_cert,
          "This node's certificate (PEM), for the mesh and for gRPC; instead of, or overriding, "
          "<certs-dir>/node.crt.");
ABSL_FLAG(std::string, tls_key, Defaults().tls_key,
          "This node's private key (PEM); instead of, or overriding, <certs-dir>/node.key.");
ABSL_FLAG(bool, insecure, Defaults().insecure,
          "Run the mesh on plain TCP and gRPC in plaintext, without authentication: for "
          "development only.");
ABSL_FLAG(std::string, client_ca, Defaults().client_ca,
          "The CA certificate (PEM) that signs client certificates: gRPC clients then "
          "authenticate with one, and --client-roles says what each may do. Empty: clients "
          "present none and every client that reaches the (TLS) port may read and write. "
          "<certs-dir>/ca.crt is not implied: pass it here to let the cluster CA sign clients.");
ABSL_FLAG(std::string, client_roles, Defaults().client_roles,
          "With --client-ca: the role of each client certificate, by its CN, e.g. "
          "\"dash=read-only,app=read-write,ops=admin\". read-only: Get, List, Watch, Status; "
          "read-write: also Set, Delete, Update, ApplyDelta, Pop, PopItem; admin: everything. "
          "A certificate not listed may call nothing but Health (PERMISSION_DENIED).");
ABSL_FLAG(bool, require_client_cert, Defaults().require_client_cert,
          "With --client-ca: refuse a client without a certificate in the TLS handshake, Health "
          "included (probes then present one, e.g. the node's own node.crt). Default: such a "
          "client reaches Health only, so that probes need no certificate; every other RPC "
          "answers UNAUTHENTICATED.");

namespace meshkv {
namespace {

constexpr char kUsage[] =
    "meshkv-server: a node of meshkv, a replicated key-value service.\n"
    "\n"
    "Every node holds the whole dictionary in memory, serves the gRPC KeyValue API and\n"
    "replicates writes to every other node over a TCP mesh.\n"
    "\n"
    "Usage: meshkv-server [flags]\n"
    "  e.g. meshkv-server --node-id=n1 --mesh-addr=127.0.0.1:4444 --join=10.0.0.2:4444\n"
    "\n"
    "Flags (each also read from the environment variable shown; the command line wins):\n";

bool IsOurs(const absl::CommandLineFlag& f) {
  return absl::EndsWith(f.Filename(), "server/main.cc");
}

std::string Dashed(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }
std::string EnvName(absl::string_view name) {
  return absl::StrCat("MESHKV_", absl::AsciiStrToUpper(name));
}

std::vector<absl::CommandLineFlag*> OurFlags() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (IsOurs(*flag)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(), [](auto* a, auto* b) { return a->Name() < b->Name(); });
  return flags;
}

void PrintUsage() {
  std::string out = kUsage;
  for (absl::CommandLineFlag* f : OurFlags()) {
    absl::StrAppend(&out, "  --", Dashed(f->Name()), "  (", EnvName(f->Name()), ", default \"",
                    f->DefaultValue(), "\")\n      ", f->Help(), "\n");
  }
  absl::StrAppend(&out,
                  "  --version\n      Print the version and exit.\n"
                  "  --help\n      Print this help and exit.\n"
                  "\nSIGTERM or SIGINT: stop accepting, finish in-flight RPCs, end watches, "
                  "exit 0.\n");
  std::fputs(out.c_str(), stdout);
}

// Applies MESHKV_* variables; the command line, parsed afterwards, wins.
bool ApplyEnvironment() {
  for (absl::CommandLineFlag* f : OurFlags()) {
    const char* value = std::getenv(EnvName(f->Name()).c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!f->ParseFrom(value, &error)) {
      std::fprintf(stderr, "meshkv-server: %s=%s: %s\n", EnvName(f->Name()).c_str(), value,
                   error.c_str());
      return false;
    }
  }
  return true;
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig c;
  c.node_id = absl::GetFlag(FLAGS_node_id);
  c.grpc_addr = absl::GetFlag(FLAGS_grpc_addr);
  c.mesh_addr = absl::GetFlag(FLAGS_mesh_addr);
  c.advertise_addr = absl::GetFlag(FLAGS_advertise_addr);
  for (const std::string& seed : absl::GetFlag(FLAGS_join)) {
    if (!seed.empty()) c.join.push_back(seed);
  }
  c.metrics_addr = absl::GetFlag(FLAGS_metrics_addr);
  c.cluster = absl::GetFlag(FLAGS_cluster);
  c.leasing = absl::GetFlag(FLAGS_leasing);
  c.lease_duration = absl::GetFlag(FLAGS_lease_duration);
  c.tombstone_retention = absl::GetFlag(FLAGS_tombstone_retention);
  c.max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes);
  c.max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes);
  absl::StatusOr<uint64_t> quota =
      ParseDataQuota(absl::GetFlag(FLAGS_max_data_bytes), absl::GetFlag(FLAGS_memory_limit_bytes));
  if (!quota.ok()) return quota.status();
  c.max_data_bytes = *quota;
  c.watch_history = absl::GetFlag(FLAGS_watch_history);
  c.watch_max_lag = absl::GetFlag(FLAGS_watch_max_lag);
  c.max_watch_streams = absl::GetFlag(FLAGS_max_watch_streams);
  c.max_delete_prefix_keys = absl::GetFlag(FLAGS_max_delete_prefix_keys);
  c.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  c.max_health_watches = absl::GetFlag(FLAGS_max_health_watches);
  c.grpc_handshake_timeout = absl::GetFlag(FLAGS_grpc_handshake_timeout);
  c.initial_sync_timeout = absl::GetFlag(FLAGS_initial_sync_timeout);
  c.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  c.info_file = absl::GetFlag(FLAGS_info_file);
  c.data_dir = absl::GetFlag(FLAGS_data_dir);
  std::optional<storage::FsyncMode> fsync = storage::ParseFsyncMode(absl::GetFlag(FLAGS_fsync));
  if (!fsync.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("--fsync \"", absl::GetFlag(FLAGS_fsync),
                                                   "\" must be always, interval or never"));
  }
  c.fsync = *fsync;
  c.fsync_interval = absl::GetFlag(FLAGS_fsync_interval);
  c.salvage = absl::GetFlag(FLAGS_salvage);
  // --- Security
  c.certs_dir = absl::GetFlag(FLAGS_certs_dir);
  c.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  c.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  c.tls_key = absl::GetFlag(FLAGS_tls_key);
  c.insecure = absl::GetFlag(FLAGS_insecure);
  c.client_ca = absl::GetFlag(FLAGS_client_ca);
  c.client_roles = absl::GetFlag(FLAGS_client_roles);
  c.require_client_cert = absl::GetFlag(FLAGS_require_client_cert);
  return c;
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintUsage();
      return 0;
    }
    if (arg == "--version") {
      std::printf("meshkv-server %s\n", kMeshkvVersion);
      return 0;
    }
  }
  if (!ApplyEnvironment()) return 2;
  std::vector<std::string> storage;
  std::vector<char*> args = Undash(argc, argv, &storage);
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (rest.size() > 1) {
    std::fprintf(stderr, "meshkv-server: unexpected argument \"%s\"; see --help\n", rest[1]);
    return 2;
  }
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::fprintf(stderr, "meshkv-server: --log-level: %s\n",
                 std::string(level.status().message()).c_str());
    return 2;
  }
  SetLogLevel(*level);

  // Block the stop signals in every thread; this one waits for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  absl::StatusOr<ServerConfig> parsed = ConfigFromFlags();
  if (!parsed.ok()) {
    std::fprintf(stderr, "meshkv-server: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const ServerConfig& config = *parsed;
  if (absl::Status valid = ValidateConfig(config); !valid.ok()) {
    std::fprintf(stderr, "meshkv-server: %s\n", std::string(valid.message()).c_str());
    return 2;
  }
#ifdef NDEBUG
  // Debian's Abseil is built with assertions on, so every absl::Mutex
  // acquisition updates a lock-order graph for deadlock detection: about 5%
  // of a Get's CPU. Release builds skip it; debug builds keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
  absl::StatusOr<std::unique_ptr<MeshkvServer>> server = MeshkvServer::Start(config);
  if (!server.ok()) {
    LogError("cannot start", {{"error", server.status().ToString()}});
    return 1;
  }
  SetLogNode((*server)->node_id());
  LogInfo("started",
          {{"version", kMeshkvVersion},
           {"grpc", (*server)->grpc_address()},
           {"cluster", config.cluster},
           {"leasing", config.leasing ? "on" : "off"},
           {"data_dir", config.data_dir.empty() ? "(none: in memory only)" : config.data_dir},
           {"fsync",
            config.data_dir.empty() ? "-" : std::string(storage::FsyncModeName(config.fsync))}});
  int sig = 0;
  sigwait(&stop, &sig);
  LogInfo("signal received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace meshkv

int main(int argc, char** argv) { return meshkv::Main(argc, argv); }
