// DataDir: a node's data directory, the durable copy of its store.
//
// It records every committed change (wire records: versions, owners, lease
// times, tombstones) in an embedded engine's write-ahead log, gives them
// back at start-up, and owns the few counters that must never go backwards
// across restarts. It holds no copy of the records in memory: reads are
// served by the store.
//
//   auto dir = DataDir::Open("/var/lib/meshkv", {"prod", "n1", true}, {});
//   (*dir)->Load([&](const wire::Record& r) { return store.Restore(r); });
//   // under the store lock, in revision order:
//   absl::StatusOr<DataDir::Token> t = (*dir)->Append({record});
//   // after releasing it, before acknowledging the client:
//   absl::Status s = (*dir)->WaitDurable(*t);
//
// Concurrency: thread-safe. Append is cheap (one unsynced write of the log,
// no fsync) and serialised by its own mutex, so tokens follow the order of
// the calls. WaitDurable does group commit: one waiter (the leader) syncs
// the log for everything appended so far while the others wait on a
// condition variable; every waiter whose token that sync covers returns.
// With --fsync=interval a background thread syncs every interval.
//
// Errors are absl::Status, never aborts: DATA_LOSS for corruption (the
// message names the file or key), RESOURCE_EXHAUSTED for a full disk,
// FAILED_PRECONDITION for a directory of another cluster, node or leasing
// mode (or locked by another process), UNAVAILABLE for other I/O errors.
// A failed Append wrote nothing (batches are atomic); after a failure the
// next Append first asks the engine to resume, so writes succeed again once
// space returns.
#ifndef MESHKV_STORAGE_DATA_DIR_H_
#define MESHKV_STORAGE_DATA_DIR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "storage/engine.h"
#include "storage/identity.h"

namespace meshkv::storage {

namespace wire = ::meshkv::mesh::v1;

// When appended records become durable against a power loss:
//   kAlways    WaitDurable returns after an fsync covering the records
//              (shared by concurrent waiters);
//   kInterval  a background fsync every `fsync_interval`: a power loss
//              loses at most that much; WaitDurable returns at once;
//   kNever     the OS writes back when it likes (Linux: ~30 s).
// In every mode an appended record is in the OS before Append returns, so
// a crash of the process alone (kill -9) loses nothing.
enum class FsyncMode { kAlways, kInterval, kNever };
absl::string_view FsyncModeName(FsyncMode mode);  // "always", "interval", "never"
std::optional<FsyncMode> ParseFsyncMode(absl::string_view name);

struct DataDirOptions {
  FsyncMode fsync = FsyncMode::kInterval;
  absl::Duration fsync_interval = absl::Milliseconds(100);
  EngineKind engine = EngineKind::kRocksDb;
  // Open a directory whose log or tables fail their checksums anyway,
  // keeping what verifies (see docs/design.md, "Durability").
  bool salvage = false;
  // Revisions and origin sequences reserved per durable write of a ceiling.
  uint64_t ceiling_step = 1 << 16;
};

struct DataDirStats {
  int64_t disk_bytes = 0;  // every file under the directory
  uint64_t appends = 0;
  uint64_t records_appended = 0;
  uint64_t records_forgotten = 0;
  uint64_t write_errors = 0;  // failed Append, Forget or sync
  uint64_t fsyncs = 0;
  double fsync_seconds_sum = 0;
  // Histogram of fsync latency: counts[i] fsyncs took at most bounds[i]
  // seconds and more than bounds[i-1]; the last count is above every bound.
  std::vector<double> fsync_bucket_bounds_seconds;
  std::vector<uint64_t> fsync_bucket_counts;
  double open_seconds = 0;  // Open, engine recovery included
  double load_seconds = 0;  // the last Load
  uint64_t records_loaded = 0;
};

class DataDir {
 public:
  // Appends are numbered 1, 2, ...; 0 is "nothing".
  using Token = uint64_t;

  // Creates `path` (and parents) when missing, or opens it. A directory
  // that holds files but no IDENTITY is refused (FAILED_PRECONDITION): it is
  // not a meshkv data directory.
  static absl::StatusOr<std::unique_ptr<DataDir>> Open(const std::string& path,
                                                       const Identity& identity,
                                                       const DataDirOptions& options);
  // Syncs what was appended (unless kNever) and closes the engine.
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  const std::string& path() const { return path_; }
  // True when Open created the directory's contents (nothing to load).
  bool created() const { return created_; }

  // Calls `fn` for every stored record, in key order; stops at the first
  // error `fn` returns. DATA_LOSS if a stored record fails to parse.
  absl::Status Load(const std::function<absl::Status(const wire::Record&)>& fn);

  // Records committed changes: each record is the key's whole new state and
  // replaces what was stored for that key. Returns the token to wait for.
  absl::StatusOr<Token> Append(absl::Span<const wire::Record> records);
  // The same in two steps, so that a caller can encode under its own lock
  // and append many changes later as one batch (one engine write): a
  // record's state (INVALID_ARGUMENT without a key) or a key to forget,
  // as the engine stores it. AppendEncoded writes `ops` as one atomic batch.
  static absl::StatusOr<EngineOp> EncodeRecord(const wire::Record& record);
  static EngineOp EncodeForget(absl::string_view key);
  absl::StatusOr<Token> AppendEncoded(const std::vector<EngineOp>& ops);
  // Blocks until every append up to `token` is durable per the fsync mode.
  // An error (a failed fsync) leaves those records of unknown durability.
  absl::Status WaitDurable(Token token);
  // Drops the stored records of `keys` (tombstones past their retention).
  // The caller orders it with Append, as the store orders its changes.
  absl::StatusOr<Token> Forget(absl::Span<const std::string> keys);

  // Revisions: every revision that a previous run reserved is below
  // revision_base(), so a restarted node that numbers from there never
  // reuses a revision a watcher saw. ReserveRevisions(r) makes that true of
  // r: cheap while r is under the durable ceiling, otherwise one synced
  // write that moves the ceiling `ceiling_step` past r. 0 for a new directory.
  uint64_t revision_base() const { return revision_base_; }
  absl::Status ReserveRevisions(uint64_t through);
  // The same for this node's origin sequence numbers (dissemination IDs).
  uint64_t origin_seq_base() const { return origin_seq_base_; }
  absl::Status ReserveOriginSeqs(uint64_t through);
  // 1 on the directory's first Open, one more on each later Open (durable
  // before Open returns).
  uint64_t incarnation() const { return incarnation_; }

  // Records (synced) that this node was in sync with its peers at `wall_ms`:
  // the tombstone-retention rule compares it with the current time at the
  // next start. last_in_sync_ms(): the newest such time, nullopt if never.
  absl::Status MarkInSync(int64_t wall_ms);
  std::optional<int64_t> last_in_sync_ms() const;

  DataDirStats Stats() const;

 private:
  DataDir(std::string path, const DataDirOptions& options, std::unique_ptr<Engine> engine);
  absl::Status InitMeta();
  absl::StatusOr<Token> WriteLogged(const std::vector<EngineOp>& ops, uint64_t records);
  // Writes `ops` and syncs, whatever the mode (for the counters).
  absl::Status WriteSynced(const std::vector<EngineOp>& ops);
  absl::Status SyncThrough(Token token);
  absl::Status TimedSync();
  void IntervalLoop();
  absl::Status Reserve(absl::string_view key, uint64_t through, uint64_t* ceiling)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ceiling_mu_);
  void CountError(const absl::Status& s);

  // Constant after construction.
  const std::string path_;
  const DataDirOptions options_;
  bool created_ = false;
  uint64_t revision_base_ = 0;
  uint64_t origin_seq_base_ = 0;
  uint64_t incarnation_ = 0;
  double open_seconds_ = 0;

  // Readers use the engine concurrently; Resume (after a failed write)
  // replaces its state, so it takes this exclusively.
  mutable absl::Mutex engine_mu_;
  std::unique_ptr<Engine> engine_ ABSL_PT_GUARDED_BY(engine_mu_);

  // Serialises appends so that tokens follow the log's order.
  absl::Mutex append_mu_ ABSL_ACQUIRED_BEFORE(engine_mu_);
  // Set by a failed write or sync; the next append resumes the engine first.
  std::atomic<bool> needs_resume_{false};
  std::atomic<Token> appended_{0};

  // Group commit.
  mutable absl::Mutex sync_mu_;
  absl::CondVar sync_done_;
  Token durable_ ABSL_GUARDED_BY(sync_mu_) = 0;
  bool syncing_ ABSL_GUARDED_BY(sync_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(sync_mu_) = false;

  absl::Mutex ceiling_mu_;
  uint64_t revision_ceiling_ ABSL_GUARDED_BY(ceiling_mu_) = 0;
  uint64_t origin_seq_ceiling_ ABSL_GUARDED_BY(ceiling_mu_) = 0;

  mutable absl::Mutex stats_mu_;
  DataDirStats stats_ ABSL_GUARDED_BY(stats_mu_);
  std::optional<int64_t> last_in_sync_ms_ ABSL_GUARDED_BY(stats_mu_);

  std::thread interval_thread_;  // kInterval only
};

}  // namespace meshkv::storage

#endif  // MESHKV_STORAGE_DATA_DIR_H_
