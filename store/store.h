// Store: the replicated dictionary of one node. Pure logic: no sockets, no
// threads of its own, time from an injected Clock.
//
// Two doors lead in, and both go through the same merge:
//   - local operations (Set, Delete, Update, ApplyDelta, Pop, PopItem), what
//     the RPCs call: validated, checked against leases, stamped with a new
//     version from the node's hybrid logical clock. Each returns the changes
//     it made.
//   - Merge(), what the mesh delivers: merged without lease checks (leases
//     are enforced where writes enter), idempotent, in any order.
// One door leads out: every committed change, whichever door it came in by,
// goes to the commit observers given at construction (commit_observer.h),
// in revision order; that is how writes get replicated and watchers woken.
// Reads: Get and List from memory; ReadEvents replays the bounded change
// history for Watch; digests and exports for anti-entropy.
//
// Concurrency: one reader/writer mutex. Writers hold it to look up, merge and
// swap one record pointer (microseconds); readers hold it shared only to copy
// record pointers. Records are immutable, so values are serialised after the
// lock is released and a reader never waits for slow work.
//
// Example:
//   Store store({.node_id = "10.0.0.1:4444"}, Clock::Real(), {&handoff});
//   auto r = store.Set("k", ValueView::Bytes("v"));  // lease-checked, versioned; the
//                                    // handoff was told before it returned
//   std::optional<Entry> e = store.Get("k");
//
// Thread-safe: every method may be called from any thread.
#ifndef MESHKV_STORE_STORE_H_
#define MESHKV_STORE_STORE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "store/commit_observer.h"
#include "store/history.h"
#include "store/hlc.h"
#include "store/lease_tracker.h"
#include "store/precondition.h"
#include "store/record.h"
#include "store/value.h"
#include "store/version.h"

namespace meshkv {

struct StoreOptions {
  std::string node_id;  // required
  bool leasing = true;
  absl::Duration lease_duration = absl::Hours(1);
  // Tombstones are kept this long so that stale writes cannot resurrect a
  // deleted key; a node partitioned for longer may resurrect it.
  absl::Duration tombstone_retention = absl::Hours(24);
  // A replicated version whose wall time is further ahead of this node's
  // clock than this is refused (INVALID_ARGUMENT), and anti-entropy brings
  // it once this clock has caught up: one node with a clock far ahead (or a
  // hostile peer) cannot drag every node's hybrid clock into the future.
  absl::Duration max_clock_ahead = absl::Minutes(1);
  size_t max_key_bytes = 4096;  // at most Record::kMaxKeyBytes
  size_t max_value_bytes = 1 << 20;
  // Expired keys swept per Maintain() call at most (the rest wait for the
  // next): bounds the work of one maintenance tick.
  size_t max_expiries_per_maintain = 100000;
  // The data quota (--max-data-bytes): a local write that would take the
  // live keys' key and value bytes (StoreStats::bytes) past this is refused
  // with RESOURCE_EXHAUSTED. Replicated writes are merged whatever it says
  // (refusing them would make replicas diverge). 0: no quota.
  uint64_t max_data_bytes = 0;
  size_t history_max_events = 100000;
  size_t history_max_bytes = 64 << 20;
  // Longest time to live a write may ask for.
  absl::Duration max_ttl = absl::Hours(24 * 365 * 10);
  // Revisions start after this (when above kEmptyRevision): a node restarted
  // from its data directory numbers its changes past every revision an
  // earlier run may have shown a watcher.
  uint64_t revision_base = 0;
};

// A record and what it means on this node, resolved under the store's lock.
struct Entry {
  RecordPtr record;
  std::string owner;  // node ID of the newest write
  int64_t timestamp_ms = 0;
  int64_t lease_expires_ms = 0;  // 0 when leasing is off
  int64_t expires_ms = 0;        // 0 when the key does not expire
};

// One change as a watcher sees it. `entry.record` is a tombstone for deletes;
// `prev` is null when the key had no value.
struct WatchEvent {
  Entry entry;
  RecordPtr prev;
  bool is_delete() const { return !entry.record->live(); }
  // A delete because the key's time to live ran out (it was live here).
  bool expired() const { return entry.record->expired() && prev != nullptr; }
};

// What a local operation did, key by key in request order. (What the mesh
// must carry to every other node went to the commit observers.)
struct WriteResult {
  struct Change {
    Entry entry;  // the state written (a tombstone for Delete and Pop)
    Entry prev;   // the state before; record null when there was none
  };
  std::vector<Change> changes;
};

struct ListPage {
  std::vector<Entry> entries;
  uint64_t revision = 0;  // the store's revision when the page was read
  bool more = false;      // keys after the last entry match too
};

struct StoreStats {
  uint64_t revision = 0;
  uint64_t keys = 0;        // live keys
  uint64_t tombstones = 0;  // deleted keys kept for anti-entropy
  uint64_t bytes = 0;       // key, value and removed-field-name bytes of live keys
  uint64_t history_events = 0;
  // Leases, by owner: this node (self) or another (other).
  int64_t leases_active[2] = {0, 0};
  uint64_t leases_acquired[2] = {0, 0};
  uint64_t leases_renewed[2] = {0, 0};
  uint64_t leases_expired[2] = {0, 0};
  uint64_t lease_refusals = 0;  // local writes refused by a lease
  uint64_t keys_expired = 0;    // live keys that expired here
  uint64_t keys_with_ttl = 0;   // live keys with an expiry
  // Running leases that a lease release ended before they lapsed (counted
  // once, on the node where they were running).
  uint64_t leases_released = 0;
  uint64_t quota_refusals = 0;  // local writes refused by the data quota
};

// The running leases of one other node (lease_holders()).
struct LeaseHolder {
  std::string node_id;
  int64_t keys = 0;             // live keys whose lease has not lapsed
  int64_t last_expires_ms = 0;  // when the last of them lapses
};

// What ReleaseLeases did on this node.
struct LeaseReleaseResult {
  uint64_t before_hlc = 0;  // leases of the node on writes below this are void
  int64_t keys = 0;         // running leases it ended here
};

class Store {
 public:
  // Anti-entropy compares digests of this many hash buckets.
  static constexpr uint32_t kBuckets = 256;

  // The revision of the empty store, as in etcd: the first change is 2. A
  // revision a client reads (List, Get) is then never 0, which Watch takes
  // to mean "from now", so list-then-watch loses nothing even on a node that
  // had no change yet.
  static constexpr uint64_t kEmptyRevision = 1;

  // `observers` (not owned) must outlive the store.
  Store(StoreOptions options, const Clock* clock, std::vector<CommitObserver*> observers = {});
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const StoreOptions& options() const { return options_; }

  // --- Local operations (lease-checked) -----------------------------------
  // INVALID_ARGUMENT for an empty or oversized key or value, an unset
  // value, repeated field names or a negative or too long `ttl`;
  // RESOURCE_EXHAUSTED when the write would grow the data past
  // max_data_bytes (a write that does not grow it, and every Delete, passes
  // even over the quota); FAILED_PRECONDITION when another node's lease
  // covers the key, or when `pre` does not hold (the message names the
  // current version, or says the key is absent). `pre` is checked under the
  // same lock as the lease and the write: atomic on this node. A key past
  // its expiry is absent to every operation (and swept first, so its expiry
  // event comes before the write's).
  //
  // `ttl` (zero: none) makes the key expire that long after the write's
  // timestamp; a write without one makes it permanent again.
  absl::StatusOr<WriteResult> Set(absl::string_view key, const ValueView& value,
                                  const Precondition& pre = {},
                                  absl::Duration ttl = absl::ZeroDuration());
  // NOT_FOUND when the key has no value and `pre` asks for none.
  absl::StatusOr<WriteResult> Delete(absl::string_view key, const Precondition& pre = {});
  // All-or-nothing: INVALID_ARGUMENT on a bad or repeated key, and
  // FAILED_PRECONDITION naming the first leased key or the first item
  // whose precondition fails, write nothing. `pres` and `ttls` are empty
  // (none) or have one entry per item.
  absl::StatusOr<WriteResult> Update(const KeyValuesView& items,
                                     const std::vector<Precondition>& pres = {},
                                     const std::vector<absl::Duration>& ttls = {});
  // Sets the fields of `delta` in the key's mapping and removes those named
  // in `remove` (creating {} when the key has no value).
  // FAILED_PRECONDITION when the value is bytes; INVALID_ARGUMENT when a
  // field is named twice (set and removed, or removed twice), or the
  // mapping, with the names of its removed fields, would exceed
  // max_value_bytes. Without `ttl` the key keeps its expiry; with one, the
  // whole mapping is written again (one whole-value write) to expire `ttl`
  // after this write.
  absl::StatusOr<WriteResult> ApplyDelta(absl::string_view key, const FieldsView& delta,
                                         const Precondition& pre = {},
                                         const FieldNamesView& remove = {},
                                         absl::Duration ttl = absl::ZeroDuration());
  // Writes the key's value again so that it expires `ttl` after now (zero:
  // never): the refresh of an ephemeral key. NOT_FOUND when absent; leases
  // as for Set.
  absl::StatusOr<WriteResult> Touch(absl::string_view key, absl::Duration ttl);
  // Delete that reports the value. NOT_FOUND when absent.
  absl::StatusOr<WriteResult> Pop(absl::string_view key);
  // Pops the first key in key order that this node may delete.
  absl::StatusOr<WriteResult> PopItem();
  // Deletes every live key with `prefix` ("" is every key), all or nothing:
  // FAILED_PRECONDITION naming one key when another node's lease covers
  // any, or when more than `max_keys` keys match (the message says how
  // many at least), and nothing is deleted. One operation: the deletes
  // commit together under one lock, one change (and event) per key, in key
  // order. Checks at most max_keys + 1 live keys (the scan also passes the
  // prefix's tombstones and expired keys). No key: an empty
  // result.
  absl::StatusOr<WriteResult> DeletePrefix(absl::string_view prefix, size_t max_keys);
  // Ends every lease `node_id` holds on writes made before now, on every
  // node: the release is a record (kind LEASE_RELEASE, empty key) that
  // replicates and merges like a write, so nodes partitioned meanwhile, and
  // restarts from a data directory, agree. Its later writes lease as
  // usual. INVALID_ARGUMENT for an empty or oversized ID or this node's own
  // (its leases end by its own writes); FAILED_PRECONDITION with leasing
  // off; RESOURCE_EXHAUSTED past kMaxLeaseReleases nodes. Whether the node
  // is gone is the caller's to check (the mesh knows). Costs one pass over
  // the keys under the write lock, to end the running leases' accounting.
  absl::StatusOr<LeaseReleaseResult> ReleaseLeases(absl::string_view node_id);
  // The lease release record holds at most this many nodes (a release of a
  // node already in it only moves its hlc).
  static constexpr size_t kMaxLeaseReleases = 1024;
  static constexpr size_t kMaxNodeIdBytes = 256;

  // --- Reads --------------------------------------------------------------
  // The live entry of `key`; `*revision`, when given, is the store's
  // revision at the read.
  std::optional<Entry> Get(absl::string_view key, uint64_t* revision = nullptr) const;
  // The number of live keys with `prefix`; `*revision`, when given, is the
  // store's revision at the count. Linear in the keys counted.
  uint64_t Count(absl::string_view prefix, uint64_t* revision = nullptr) const;
  // Up to `max_entries` live entries (and about `max_bytes` of keys and
  // values, at least one entry) with key > start_after and the prefix.
  ListPage List(absl::string_view prefix, absl::string_view start_after, size_t max_entries,
                size_t max_bytes = SIZE_MAX) const;
  uint64_t revision() const;
  // Events with revision > `after` for keys with `prefix`, at most `max`
  // (and about `max_bytes`, at least one);
  // `*scanned_through` is the revision to continue after. OUT_OF_RANGE when
  // the history no longer reaches back to `after`.
  absl::Status ReadEvents(uint64_t after, absl::string_view prefix, size_t max, size_t max_bytes,
                          std::vector<WatchEvent>* out, uint64_t* scanned_through) const;

  // --- Replication (no lease checks) --------------------------------------
  // Merges a record from another node; true when it changed this store.
  // INVALID_ARGUMENT for a malformed record, which changes nothing.
  // `source` is kFlooded or kAntiEntropy, as the observers are told.
  absl::StatusOr<bool> Merge(const meshkv::mesh::v1::Record& record,
                             CommitSource source = CommitSource::kFlooded);

  // Merges a record this node stored itself (its data directory, at
  // start-up), telling no observer: it is not a new change. Returns false
  // when the record adds nothing, e.g. a tombstone past the retention.
  absl::StatusOr<bool> Restore(const meshkv::mesh::v1::Record& record);

  // --- Anti-entropy --------------------------------------------------------
  static uint32_t BucketOf(absl::string_view key);
  // One digest per bucket: a sum of record digests, 0 for an empty bucket.
  std::vector<uint64_t> BucketDigests() const;
  // The (key, record digest) pairs of one bucket, in key order.
  std::vector<std::pair<std::string, uint64_t>> BucketKeys(uint32_t bucket) const;
  // Appends records of `bucket` with key > `after`, in key order, until
  // about `max_bytes` are exported. Returns true when the bucket is done;
  // `*last_key` is the last key exported.
  bool ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                    std::vector<meshkv::mesh::v1::Record>* out, std::string* last_key) const;
  // The whole state of `key` (tombstones included); false when unknown.
  bool ExportKey(absl::string_view key, meshkv::mesh::v1::Record* out) const;

  // --- Maintenance and observation ----------------------------------------
  // Sweeps the keys whose expiry has come (up to
  // max_expiries_per_maintain), counts lapsed leases and drops tombstones
  // older than the retention, one bucket per call: call it periodically.
  void Maintain();
  // Sweeps up to `max` keys whose expiry has come, oldest expiry first:
  // each becomes its expired form in a commit of its own (CommitSource
  // kExpired), a delete to watchers. Takes the lock in short stretches, so
  // that reads interleave. Returns how many it swept.
  size_t ExpireDue(size_t max);
  StoreStats Stats() const;
  // The other nodes holding running leases here, by node ID; counted as
  // leases are granted and lapse, so this costs a pass over the nodes only.
  std::vector<LeaseHolder> LeaseHolders() const;

 private:
  struct KeyLess {
    using is_transparent = void;
    static absl::string_view K(const RecordPtr& r) { return r->key(); }
    static absl::string_view K(absl::string_view s) { return s; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return K(a) < K(b);
    }
  };
  using Bucket = absl::btree_set<RecordPtr, KeyLess>;

  absl::Status ValidateKey(absl::string_view key) const;
  absl::Status ValidateValue(const ValueView& value) const;
  absl::Status ValidateTtl(absl::Duration ttl) const;
  // The expiry of a write at `hlc` with `ttl` (0 for none).
  static int64_t ExpiresMs(uint64_t hlc, absl::Duration ttl);

  const Record* FindLocked(absl::string_view key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // FindLocked for a write: a record past its expiry is swept first.
  const Record* FindForWriteLocked(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replaces `record` (live, due) by its expired form, a commit of its own;
  // observers are told when `announce`. Returns the expired form.
  const Record* ExpireLocked(const Record* record, bool announce)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When a record that is not live stops mattering: its newest write or its
  // expiry, whichever is later. Tombstone retention counts from here.
  static int64_t DeadSinceMs(const Record& r);
  Entry EntryLocked(RecordPtr record) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status CheckLeaseLocked(const Record* record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RESOURCE_EXHAUSTED when adding `growth` bytes would pass the quota.
  absl::Status CheckQuotaLocked(int64_t growth) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckPreconditionLocked(absl::string_view key, const Record* record,
                                       const Precondition& pre) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  meshkv::mesh::v1::Record NewWriteLocked(absl::string_view key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Merges `wire` and records the change; false when it changed nothing.
  // A record past its expiry is swept first (telling the observers when
  // `announce`), and a write that arrives already expired is stored in its
  // expired form.
  absl::StatusOr<bool> MergeLocked(const meshkv::mesh::v1::Record& wire, bool announce,
                                   RecordPtr* next, RecordPtr* prev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // MergeLocked, then tells the observers of the change.
  absl::StatusOr<bool> MergeAndAnnounceLocked(const meshkv::mesh::v1::Record& wire,
                                              CommitSource source, bool last_of_operation,
                                              RecordPtr* next, RecordPtr* prev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a locally built write, adds it to `result` and releases `*wire`
  // to the observers (OnLocalWriteReleased); `last` on the operation's last
  // write.
  void ApplyLocalLocked(meshkv::mesh::v1::Record* wire, bool last, WriteResult* result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CommitLocked(RecordPtr next, const RecordPtr& prev) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AccountLeaseLocked(const Record* next, const Record* prev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a running lease in both trackers (self/other, and by origin).
  void AddLeaseLocked(const Record& r, int64_t expires_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveLeaseLocked(const Record& r, int64_t expires_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A lease release record was committed: adopts its newer releases and
  // ends the running leases they void. Returns the leases ended.
  int64_t AdoptReleasesLocked(const Record& release) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When the lease of `r` lapses: its owner's write plus the lease duration,
  // or earlier, the wall time of a release that voids it.
  int64_t LeaseExpiryMs(const Record& r) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int64_t LeaseExpiryMs(const Record& r, uint64_t release_hlc) const;
  LeaseOwner OwnerOf(const Record& r) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return r.current_version().origin == self_ ? LeaseOwner::kSelf : LeaseOwner::kOther;
  }
  // Visits live records in key order across buckets, starting after
  // `start_after` within `prefix`, until `visit` returns false.
  template <typename Visit>
  void ScanInOrderLocked(absl::string_view prefix, absl::string_view start_after, Visit visit) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const StoreOptions options_;
  const Clock* const clock_;  // Not owned.
  const std::vector<CommitObserver*> observers_;  // Not owned.

  // State below is protected by mu_.
  mutable absl::Mutex mu_;
  OriginTable origins_ ABSL_GUARDED_BY(mu_);
  uint32_t self_ ABSL_GUARDED_BY(mu_);  // this node's origin index
  HybridClock hlc_ ABSL_GUARDED_BY(mu_);
  std::array<Bucket, kBuckets> buckets_ ABSL_GUARDED_BY(mu_);
  std::array<uint64_t, kBuckets> digests_ ABSL_GUARDED_BY(mu_) = {};
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = kEmptyRevision;
  History history_ ABSL_GUARDED_BY(mu_);
  LeaseTracker leases_ ABSL_GUARDED_BY(mu_);
  // Live records with an expiry, soonest first: (expires_ms, key), the key
  // viewed in the record the bucket holds. What ExpireDue walks.
  absl::btree_set<std::pair<int64_t, absl::string_view>> expiry_index_ ABSL_GUARDED_BY(mu_);
  StoreStats stats_ ABSL_GUARDED_BY(mu_);  // counters; gauges filled by Stats()
  uint32_t gc_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  // origin -> hlc below which its leases are void: the lease release
  // record's fields, interned, so that a lease check costs a lookup.
  absl::flat_hash_map<uint32_t, uint64_t> released_ ABSL_GUARDED_BY(mu_);
  // Running leases by origin (the kOther side of each tracker), for
  // LeaseHolders(): bounded by the nodes that ever wrote.
  absl::flat_hash_map<uint32_t, LeaseTracker> leases_by_origin_ ABSL_GUARDED_BY(mu_);
};

}  // namespace meshkv

#endif  // MESHKV_STORE_STORE_H_
