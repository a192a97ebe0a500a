#include "store/store.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "store/wire_convert.h"

namespace meshkv {
namespace {

namespace wire = ::meshkv::mesh::v1;

// How a key is named in error messages: printable, and bounded in length.
std::string Quote(absl::string_view key) {
  constexpr size_t kMax = 64;
  std::string s = absl::CHexEscape(key.substr(0, kMax));
  return absl::StrCat("\"", s, key.size() > kMax ? "...\"" : "\"");
}

// Field names must be distinct: a mapping holds each once.
absl::Status CheckDistinctFields(const FieldsView& fields) {
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& field : fields) {
    if (!seen.insert(field.first).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", Quote(field.first), " appears twice"));
    }
  }
  return absl::OkStatus();
}

// Removed field names must be distinct and not among those a delta sets: a
// write sets or removes each field once.
absl::Status CheckRemovedFields(const FieldsView& delta, const FieldNamesView& remove) {
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& field : delta) seen.insert(field.first);
  for (absl::string_view name : remove) {
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", Quote(name), " is removed twice, or both set and removed"));
    }
  }
  return absl::OkStatus();
}

// The newest hlc a write carries: how far ahead of this clock it reaches.
uint64_t NewestHlc(const Fragment& f) {
  uint64_t newest = std::max(f.version.hlc, f.delta_version.hlc);
  for (const Fragment::Field& field : f.fields) newest = std::max(newest, field.version.hlc);
  return newest;
}

// The bytes a live record counts in StoreStats::bytes: its key, its value,
// and the names its field tombstones keep (they take memory too, so the
// quota must see them).
int64_t DataBytes(const Record* r) {
  return r != nullptr && r->live()
             ? static_cast<int64_t>(r->key().size() + r->ValueBytes() + r->RemovedFieldBytes())
             : 0;
}

}  // namespace

const char* CommitSourceName(CommitSource source) {
  switch (source) {
    case CommitSource::kLocal:
      return "local";
    case CommitSource::kFlooded:
      return "flooded";
    case CommitSource::kAntiEntropy:
      return "anti_entropy";
    case CommitSource::kExpired:
      return "expired";
  }
  return "unknown";
}

Store::Store(StoreOptions options, const Clock* clock, std::vector<CommitObserver*> observers)
    : options_(std::move(options)),
      clock_(clock),
      observers_(std::move(observers)),
      hlc_(clock),
      revision_(std::max(kEmptyRevision, options_.revision_base)),
      history_(options_.history_max_events, options_.history_max_bytes, revision_) {
  ABSL_RAW_CHECK(!options_.node_id.empty(), "Store needs a node ID");
  ABSL_RAW_CHECK(options_.max_key_bytes <= Record::kMaxKeyBytes, "max_key_bytes too large");
  self_ = origins_.Intern(options_.node_id);
}

uint32_t Store::BucketOf(absl::string_view key) { return StableHash(key) % kBuckets; }

// ---------------------------------------------------------------------------
// Validation and helpers

absl::Status Store::ValidateKey(absl::string_view key) const {
  if (key.empty()) return absl::InvalidArgumentError("key must not be empty");
  if (key.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key is ", key.size(), " bytes; the limit is ", options_.max_key_bytes));
  }
  return absl::OkStatus();
}

absl::Status Store::ValidateValue(const ValueView& value) const {
  if (value.kind == ValueView::Kind::kUnset) {
    return absl::InvalidArgumentError("value must be set: bytes or a mapping");
  }
  if (value.kind == ValueView::Kind::kMapping) {
    MESHKV_RETURN_IF_ERROR(CheckDistinctFields(value.fields));
  }
  const size_t size = value.size();
  if (size > options_.max_value_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("value is ", size, " bytes; the limit is ", options_.max_value_bytes));
  }
  return absl::OkStatus();
}

absl::Status Store::ValidateTtl(absl::Duration ttl) const {
  if (ttl < absl::ZeroDuration()) return absl::InvalidArgumentError("ttl must not be negative");
  if (ttl > options_.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat("ttl is ", absl::FormatDuration(ttl),
                                                   "; the limit is ",
                                                   absl::FormatDuration(options_.max_ttl)));
  }
  return absl::OkStatus();
}

int64_t Store::ExpiresMs(uint64_t hlc, absl::Duration ttl) {
  if (ttl == absl::ZeroDuration()) return 0;
  // At least 1 ms after the write, so that no write expires at its own
  // timestamp; counted from the write's timestamp, which every node sees.
  return HybridClock::WallMs(hlc) + std::max<int64_t>(1, absl::ToInt64Milliseconds(ttl));
}

int64_t Store::DeadSinceMs(const Record& r) {
  return std::max(HybridClock::WallMs(r.current_version().hlc), r.expires_ms());
}

const Record* Store::FindLocked(absl::string_view key) const {
  const Bucket& b = buckets_[BucketOf(key)];
  auto it = b.find(key);
  return it == b.end() ? nullptr : it->get();
}

const Record* Store::FindForWriteLocked(absl::string_view key) {
  const Record* r = FindLocked(key);
  if (r != nullptr && r->expires_ms() != 0 && r->DueAt(clock_->NowMs())) {
    return ExpireLocked(r, /*announce=*/true);
  }
  return r;
}

const Record* Store::ExpireLocked(const Record* record, bool announce) {
  const Bucket& bucket = buckets_[BucketOf(record->key())];
  auto it = bucket.find(record->key());
  ABSL_RAW_CHECK(it != bucket.end() && it->get() == record && record->live(),
                 "expiring a record the store does not hold");
  RecordPtr prev = *it;
  RecordPtr next = ExpiredRecord(*prev, revision_ + 1);
  ++stats_.keys_expired;
  CommitLocked(next, prev);
  if (announce) {
    wire::Record change;
    RecordToWire(*next, origins_, &change);
    const Commit commit{CommitSource::kExpired, revision_, next, prev, change, true, origins_};
    for (CommitObserver* o : observers_) o->OnCommit(commit);
  }
  return next.get();
}

int64_t Store::LeaseExpiryMs(const Record& r, uint64_t release_hlc) const {
  const uint64_t hlc = r.current_version().hlc;
  int64_t natural = HybridClock::WallMs(hlc) + absl::ToInt64Milliseconds(options_.lease_duration);
  // When the key expires, its lease ends with it.
  if (r.expires_ms() != 0) natural = std::min(natural, r.expires_ms());
  // A release voids the leases of writes before it, from its wall time.
  if (hlc < release_hlc) return std::min(natural, HybridClock::WallMs(release_hlc));
  return natural;
}

int64_t Store::LeaseExpiryMs(const Record& r) const {
  if (released_.empty()) return LeaseExpiryMs(r, 0);
  auto it = released_.find(r.current_version().origin);
  return LeaseExpiryMs(r, it == released_.end() ? 0 : it->second);
}

Entry Store::EntryLocked(RecordPtr record) const {
  Entry e;
  const Version v = record->current_version();
  e.owner = origins_.Name(v.origin);
  e.timestamp_ms = HybridClock::WallMs(v.hlc);
  // A deleted key has no owner's lease: the delete relinquished it.
  e.lease_expires_ms = options_.leasing && record->live() ? LeaseExpiryMs(*record) : 0;
  e.expires_ms = record->expires_ms();
  e.record = std::move(record);
  return e;
}

absl::Status Store::CheckLeaseLocked(const Record* record) {
  if (!options_.leasing || record == nullptr || !record->live()) return absl::OkStatus();
  if (OwnerOf(*record) == LeaseOwner::kSelf) return absl::OkStatus();
  const int64_t expires = LeaseExpiryMs(*record);
  if (clock_->NowMs() >= expires) return absl::OkStatus();
  ++stats_.lease_refusals;
  return absl::FailedPreconditionError(absl::StrCat(
      "key ", Quote(record->key()), " is leased by ",
      origins_.Name(record->current_version().origin), " until ",
      absl::FormatTime(absl::RFC3339_full, absl::FromUnixMillis(expires), absl::UTCTimeZone())));
}

absl::Status Store::CheckQuotaLocked(int64_t growth) {
  const uint64_t max = options_.max_data_bytes;
  // A write that does not grow the data always passes, so that an operator
  // over the quota (replicated writes took it there) can still shrink it.
  if (max == 0 || growth <= 0 || stats_.bytes + static_cast<uint64_t>(growth) <= max) {
    return absl::OkStatus();
  }
  ++stats_.quota_refusals;
  return absl::ResourceExhaustedError(
      absl::StrCat("the data quota is full: this node holds ", stats_.bytes,
                   " bytes of keys and values and the write would add ", growth,
                   ", over --max-data-bytes ", max, "; delete keys or raise the quota"));
}

absl::Status Store::CheckPreconditionLocked(absl::string_view key, const Record* record,
                                            const Precondition& pre) const {
  if (pre.kind == Precondition::Kind::kNone) return absl::OkStatus();
  const bool live = record != nullptr && record->live();
  if (!live) {
    if (pre.kind == Precondition::Kind::kAbsent) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("key ", Quote(key), " is absent, not at version ", pre.hlc, "/", pre.origin));
  }
  const Version v = record->current_version();
  const std::string& origin = origins_.Name(v.origin);
  if (pre.kind == Precondition::Kind::kVersion && v.hlc == pre.hlc && origin == pre.origin) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("key ", Quote(key), " is at version ", v.hlc, "/", origin,
                   pre.kind == Precondition::Kind::kAbsent
                       ? ", not absent"
                       : absl::StrCat(", not ", pre.hlc, "/", pre.origin.substr(0, 256))));
}

meshkv::mesh::v1::Record Store::NewWriteLocked(absl::string_view key) {
  wire::Record w;
  w.set_key(std::string(key));
  w.mutable_version()->set_hlc(hlc_.Now());
  w.mutable_version()->set_origin(options_.node_id);
  return w;
}

// ---------------------------------------------------------------------------
// The one merge path

absl::StatusOr<bool> Store::MergeAndAnnounceLocked(const wire::Record& w, CommitSource source,
                                                   bool last_of_operation, RecordPtr* next,
                                                   RecordPtr* prev) {
  absl::StatusOr<bool> changed = MergeLocked(w, /*announce=*/true, next, prev);
  if (!changed.ok() || !*changed) return changed;
  const Commit commit{source, revision_, *next, *prev, w, last_of_operation, origins_};
  for (CommitObserver* o : observers_) o->OnCommit(commit);
  return true;
}

absl::StatusOr<bool> Store::MergeLocked(const wire::Record& w, bool announce, RecordPtr* next_out,
                                        RecordPtr* prev_out) {
  if (w.kind() == wire::Record::LEASE_RELEASE) {
    // A peer's release is held to what ReleaseLeases writes, so no peer can
    // grow the record (kept forever) or the origin table without bound.
    if (static_cast<size_t>(w.fields_size()) > kMaxLeaseReleases) {
      return absl::InvalidArgumentError("a lease release names too many nodes");
    }
    for (const wire::Field& field : w.fields()) {
      if (field.name().empty() || field.name().size() > kMaxNodeIdBytes) {
        return absl::InvalidArgumentError("a lease release names an empty or oversized node ID");
      }
      if (!field.value().empty() || field.removed()) {
        return absl::InvalidArgumentError("a lease release's fields carry only a version");
      }
    }
  } else {
    MESHKV_RETURN_IF_ERROR(ValidateKey(w.key()));
  }
  absl::StatusOr<Fragment> decoded = FragmentFromWire(w, &origins_);
  if (!decoded.ok()) return decoded.status();
  const Fragment& f = *decoded;
  const uint64_t newest = NewestHlc(f);
  const int64_t ahead_ms = HybridClock::WallMs(newest) - clock_->NowMs();
  if (ahead_ms > absl::ToInt64Milliseconds(options_.max_clock_ahead)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of \"", absl::CHexEscape(f.key), "\" is ", ahead_ms,
        " ms ahead of this node's clock (limit ", absl::FormatDuration(options_.max_clock_ahead),
        "); it will be accepted once the clocks agree"));
  }
  hlc_.Observe(newest);

  const int64_t now = clock_->NowMs();
  // The expiry of what the store holds comes first, as its own commit.
  if (const Record* held = FindLocked(f.key); held != nullptr && held->DueAt(now)) {
    ExpireLocked(held, announce);
  }
  const Bucket& bucket = buckets_[BucketOf(f.key)];
  auto it = bucket.find(f.key);
  RecordPtr prev = it == bucket.end() ? nullptr : *it;
  RecordPtr next = MergeRecord(prev.get(), f, origins_, revision_ + 1);
  if (!next) return false;
  if (next->kind() == Kind::kLeaseRelease && next->fields() != nullptr &&
      next->fields()->size() > kMaxLeaseReleases) {
    return absl::InvalidArgumentError("lease releases would name too many nodes");
  }
  // A write already past its expiry (delayed, or brought by anti-entropy)
  // is kept in the expired form every node sweeps it to.
  if (next->DueAt(now)) {
    if (prev != nullptr && prev->live()) ++stats_.keys_expired;  // it ends a live value
    next = ExpiredRecord(*next, revision_ + 1);
  }
  // A tombstone older than the retention is garbage everywhere by now;
  // storing it again would only make nodes collect it again.
  const int64_t horizon = now - absl::ToInt64Milliseconds(options_.tombstone_retention);
  if (prev == nullptr && next->kind() != Kind::kLeaseRelease && !next->live() &&
      DeadSinceMs(*next) < horizon) {
    return false;
  }
  CommitLocked(next, prev);
  *next_out = std::move(next);
  *prev_out = std::move(prev);
  return true;
}

void Store::CommitLocked(RecordPtr next, const RecordPtr& prev) {
  const uint32_t b = BucketOf(next->key());
  Bucket& bucket = buckets_[b];
  // The lease release record is neither a key nor a tombstone.
  const bool release = next->kind() == Kind::kLeaseRelease;
  if (prev) {
    digests_[b] -= RecordDigest(*prev, origins_);
    if (prev->live()) {
      --stats_.keys;
      stats_.bytes -= DataBytes(prev.get());
      if (prev->expires_ms() != 0) expiry_index_.erase({prev->expires_ms(), prev->key()});
    } else if (!release) {
      --stats_.tombstones;
    }
  }
  digests_[b] += RecordDigest(*next, origins_);
  if (next->live()) {
    ++stats_.keys;
    stats_.bytes += DataBytes(next.get());
    if (next->expires_ms() != 0) expiry_index_.insert({next->expires_ms(), next->key()});
  } else if (!release) {
    ++stats_.tombstones;
  }
  if (release) {
    stats_.leases_released += AdoptReleasesLocked(*next);
  } else {
    AccountLeaseLocked(next.get(), prev.get());
  }
  revision_ = next->revision();
  history_.Append(ChangeEvent{next, prev});
  auto it = bucket.find(next->key());
  if (it != bucket.end()) {
    // Same key, so the set's order holds; only the pointer changes.
    const_cast<RecordPtr&>(*it) = std::move(next);
  } else {
    bucket.insert(std::move(next));
  }
}

void Store::AccountLeaseLocked(const Record* next, const Record* prev) {
  if (!options_.leasing) return;
  const int64_t now = clock_->NowMs();
  const bool prev_held = prev != nullptr && prev->live() && LeaseExpiryMs(*prev) > now;
  // The tracker holds exactly the leases added below, while they run: one
  // that lapsed before it was replaced stays for Advance() to count.
  if (prev_held) RemoveLeaseLocked(*prev, LeaseExpiryMs(*prev));
  if (!next->live() || LeaseExpiryMs(*next) <= now) return;
  const LeaseOwner owner = OwnerOf(*next);
  AddLeaseLocked(*next, LeaseExpiryMs(*next));
  const bool renewal =
      prev_held && prev->current_version().origin == next->current_version().origin;
  ++(renewal ? stats_.leases_renewed : stats_.leases_acquired)[static_cast<int>(owner)];
}

void Store::AddLeaseLocked(const Record& r, int64_t expires_ms) {
  leases_.Add(OwnerOf(r), expires_ms);
  if (OwnerOf(r) == LeaseOwner::kOther) {
    leases_by_origin_[r.current_version().origin].Add(LeaseOwner::kOther, expires_ms);
  }
}

void Store::RemoveLeaseLocked(const Record& r, int64_t expires_ms) {
  leases_.Remove(OwnerOf(r), expires_ms);
  if (OwnerOf(r) == LeaseOwner::kOther) {
    auto it = leases_by_origin_.find(r.current_version().origin);
    if (it != leases_by_origin_.end()) it->second.Remove(LeaseOwner::kOther, expires_ms);
  }
}

int64_t Store::AdoptReleasesLocked(const Record& release) {
  if (release.fields() == nullptr) return 0;
  // The origins whose release moved, and the hlc it moved from.
  absl::flat_hash_map<uint32_t, uint64_t> moved;
  for (const auto& [node, field] : *release.fields()) {
    const uint32_t origin = origins_.Intern(node);
    uint64_t& hlc = released_[origin];
    if (field.version.hlc > hlc) {
      moved.emplace(origin, hlc);
      hlc = field.version.hlc;
    }
  }
  if (moved.empty() || !options_.leasing) return 0;
  // Re-account the running leases of those origins: rare (an operator's
  // command), so one pass over the keys is its price.
  const int64_t now = clock_->NowMs();
  int64_t ended = 0;
  for (const Bucket& bucket : buckets_) {
    for (const RecordPtr& r : bucket) {
      if (!r->live()) continue;
      auto it = moved.find(r->current_version().origin);
      if (it == moved.end()) continue;
      const int64_t before = LeaseExpiryMs(*r, it->second);
      const int64_t after = LeaseExpiryMs(*r);
      if (before <= now || before == after) continue;
      RemoveLeaseLocked(*r, before);
      if (after > now) {
        AddLeaseLocked(*r, after);
      } else {
        ++ended;
      }
    }
  }
  return ended;
}

void Store::ApplyLocalLocked(wire::Record* w, bool last, WriteResult* result) {
  RecordPtr next, prev;
  absl::StatusOr<bool> changed =
      MergeAndAnnounceLocked(*w, CommitSource::kLocal, last, &next, &prev);
  // A local write carries a fresh HLC reading, newer than anything merged.
  ABSL_RAW_CHECK(changed.ok() && *changed, "a local write did not apply");
  for (CommitObserver* o : observers_) o->OnLocalWriteReleased(w, last);
  result->changes.push_back({EntryLocked(std::move(next)), prev ? EntryLocked(prev) : Entry{}});
}

// ---------------------------------------------------------------------------
// Local operations

absl::StatusOr<WriteResult> Store::Set(absl::string_view key, const ValueView& value,
                                       const Precondition& pre, absl::Duration ttl) {
  MESHKV_RETURN_IF_ERROR(ValidateKey(key));
  MESHKV_RETURN_IF_ERROR(ValidateValue(value));
  MESHKV_RETURN_IF_ERROR(ValidateTtl(ttl));
  absl::MutexLock lock(&mu_);
  const Record* prev = FindForWriteLocked(key);
  MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(prev));
  MESHKV_RETURN_IF_ERROR(CheckPreconditionLocked(key, prev, pre));
  MESHKV_RETURN_IF_ERROR(
      CheckQuotaLocked(static_cast<int64_t>(key.size() + value.size()) - DataBytes(prev)));
  wire::Record w = NewWriteLocked(key);
  ValueToWire(value, &w);
  w.set_expires_ms(ExpiresMs(w.version().hlc(), ttl));
  WriteResult result;
  ApplyLocalLocked(&w, /*last=*/true, &result);
  return result;
}

absl::StatusOr<WriteResult> Store::Delete(absl::string_view key, const Precondition& pre) {
  MESHKV_RETURN_IF_ERROR(ValidateKey(key));
  absl::MutexLock lock(&mu_);
  const Record* prev = FindForWriteLocked(key);
  if (prev == nullptr || !prev->live()) {
    // A version precondition on an absent key fails as a precondition,
    // which tells a compare-and-delete client more than NOT_FOUND would.
    if (pre.kind == Precondition::Kind::kVersion) {
      return CheckPreconditionLocked(key, prev, pre);
    }
    return absl::NotFoundError(absl::StrCat("key ", Quote(key), " not found"));
  }
  MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(prev));
  MESHKV_RETURN_IF_ERROR(CheckPreconditionLocked(key, prev, pre));
  wire::Record w = NewWriteLocked(key);
  w.set_kind(wire::Record::TOMBSTONE);
  WriteResult result;
  ApplyLocalLocked(&w, /*last=*/true, &result);
  return result;
}

absl::StatusOr<WriteResult> Store::Pop(absl::string_view key) { return Delete(key); }

absl::StatusOr<WriteResult> Store::Touch(absl::string_view key, absl::Duration ttl) {
  MESHKV_RETURN_IF_ERROR(ValidateKey(key));
  MESHKV_RETURN_IF_ERROR(ValidateTtl(ttl));
  absl::MutexLock lock(&mu_);
  const Record* prev = FindForWriteLocked(key);
  if (prev == nullptr || !prev->live()) {
    return absl::NotFoundError(absl::StrCat("key ", Quote(key), " not found"));
  }
  MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(prev));
  // The value is written again, not just its expiry: a write that only
  // moved the expiry could revive a value that other nodes have already
  // swept (docs/design.md "Expiring keys").
  wire::Record w = NewWriteLocked(key);
  if (prev->is_mapping()) {
    FieldsView fields;
    if (prev->fields() != nullptr) {
      // Removed fields stay removed: the rewrite leaves their tombstones
      // out, as every whole-value write does.
      for (const auto& [name, field] : *prev->fields()) {
        if (!field.removed) fields.emplace_back(name, field.value);
      }
    }
    ValueToWire(ValueView::Mapping(std::move(fields)), &w);
  } else {
    ValueToWire(ValueView::Bytes(prev->bytes()), &w);
  }
  w.set_expires_ms(ExpiresMs(w.version().hlc(), ttl));
  WriteResult result;
  ApplyLocalLocked(&w, /*last=*/true, &result);
  return result;
}

absl::StatusOr<WriteResult> Store::Update(const KeyValuesView& items,
                                          const std::vector<Precondition>& pres,
                                          const std::vector<absl::Duration>& ttls) {
  if (!pres.empty() && pres.size() != items.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(pres.size(), " preconditions for ", items.size(), " items"));
  }
  if (!ttls.empty() && ttls.size() != items.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ttls.size(), " ttls for ", items.size(), " items"));
  }
  for (absl::Duration ttl : ttls) MESHKV_RETURN_IF_ERROR(ValidateTtl(ttl));
  absl::flat_hash_set<absl::string_view> seen;
  for (const auto& [key, value] : items) {
    MESHKV_RETURN_IF_ERROR(ValidateKey(key));
    MESHKV_RETURN_IF_ERROR(ValidateValue(value));
    if (!seen.insert(key).second) {
      return absl::InvalidArgumentError(absl::StrCat("key ", Quote(key), " appears twice"));
    }
  }
  absl::MutexLock lock(&mu_);
  // Every key is checked before any is written: all or nothing.
  int64_t growth = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Record* prev = FindForWriteLocked(items[i].first);
    MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(prev));
    if (!pres.empty())
      MESHKV_RETURN_IF_ERROR(CheckPreconditionLocked(items[i].first, prev, pres[i]));
    growth +=
        static_cast<int64_t>(items[i].first.size() + items[i].second.size()) - DataBytes(prev);
  }
  MESHKV_RETURN_IF_ERROR(CheckQuotaLocked(growth));
  WriteResult result;
  for (size_t i = 0; i < items.size(); ++i) {
    wire::Record w = NewWriteLocked(items[i].first);
    ValueToWire(items[i].second, &w);
    if (!ttls.empty()) w.set_expires_ms(ExpiresMs(w.version().hlc(), ttls[i]));
    ApplyLocalLocked(&w, /*last=*/i + 1 == items.size(), &result);
  }
  return result;
}

absl::StatusOr<WriteResult> Store::ApplyDelta(absl::string_view key, const FieldsView& delta,
                                              const Precondition& pre,
                                              const FieldNamesView& remove, absl::Duration ttl) {
  MESHKV_RETURN_IF_ERROR(ValidateKey(key));
  MESHKV_RETURN_IF_ERROR(CheckDistinctFields(delta));
  MESHKV_RETURN_IF_ERROR(CheckRemovedFields(delta, remove));
  MESHKV_RETURN_IF_ERROR(ValidateTtl(ttl));
  absl::MutexLock lock(&mu_);
  const Record* prev = FindForWriteLocked(key);
  MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(prev));
  MESHKV_RETURN_IF_ERROR(CheckPreconditionLocked(key, prev, pre));
  const bool live = prev != nullptr && prev->live();
  if (live && !prev->is_mapping()) {
    return absl::FailedPreconditionError(
        absl::StrCat("key ", Quote(key), " holds bytes; ApplyDelta needs a mapping"));
  }
  // The limit covers the names of removed fields too: a field tombstone
  // keeps its name until a whole-value write drops it, so removing cannot
  // grow a mapping past the limit either.
  const FieldMap* fields = live ? prev->fields() : nullptr;
  auto find = [&](absl::string_view name) -> const FieldValue* {
    if (fields == nullptr) return nullptr;
    auto it = fields->find(name);
    return it == fields->end() ? nullptr : &it->second;
  };
  size_t size = live ? prev->ValueBytes() + prev->RemovedFieldBytes() : 0;
  for (const auto& [name, value] : delta) {
    size += name.size() + value.size();
    if (const FieldValue* old = find(name)) size -= name.size() + old->value.size();
  }
  for (absl::string_view name : remove) {
    const FieldValue* old = find(name);
    if (old == nullptr)
      size += name.size();
    else
      size -= old->value.size();
  }
  if (size > options_.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the mapping would be ", size, " bytes; the limit is ", options_.max_value_bytes));
  }
  MESHKV_RETURN_IF_ERROR(
      CheckQuotaLocked(static_cast<int64_t>(key.size() + size) - DataBytes(prev)));
  WriteResult result;
  // Field writes into an expired key would stay absent with it, and a new
  // expiry belongs to a whole-value write: both write the whole mapping.
  if (ttl != absl::ZeroDuration() || (prev != nullptr && prev->expired())) {
    FieldsView merged;
    if (live && prev->fields() != nullptr) {
      // Neither the fields replaced or removed now nor the tombstones of
      // earlier removals: the whole-value write supersedes them all.
      absl::flat_hash_set<absl::string_view> replaced(remove.begin(), remove.end());
      for (const auto& field : delta) replaced.insert(field.first);
      for (const auto& [name, field] : *prev->fields()) {
        if (!field.removed && !replaced.contains(name)) merged.emplace_back(name, field.value);
      }
    }
    merged.insert(merged.end(), delta.begin(), delta.end());
    wire::Record w = NewWriteLocked(key);
    ValueToWire(ValueView::Mapping(std::move(merged)), &w);
    w.set_expires_ms(ExpiresMs(w.version().hlc(), ttl));
    ApplyLocalLocked(&w, /*last=*/true, &result);
    return result;
  }
  wire::Record w;
  w.set_key(std::string(key));
  wire::Version version;
  version.set_hlc(hlc_.Now());
  version.set_origin(options_.node_id);
  DeltaToWire(delta, remove, version, &w);
  ApplyLocalLocked(&w, /*last=*/true, &result);
  return result;
}

absl::StatusOr<LeaseReleaseResult> Store::ReleaseLeases(absl::string_view node_id) {
  if (node_id.empty() || node_id.size() > kMaxNodeIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ID must be 1 to ", kMaxNodeIdBytes, " bytes"));
  }
  if (node_id == options_.node_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", Quote(node_id), " is this node: its leases end by its own writes"));
  }
  if (!options_.leasing) {
    return absl::FailedPreconditionError("leasing is off: there are no leases to release");
  }
  absl::MutexLock lock(&mu_);
  const Record* current = FindLocked("");
  if (current != nullptr && current->fields() != nullptr &&
      current->fields()->size() >= kMaxLeaseReleases && !current->fields()->contains(node_id)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("leases of ", kMaxLeaseReleases, " nodes were released already"));
  }
  wire::Version version;
  version.set_hlc(hlc_.Now());
  version.set_origin(options_.node_id);
  wire::Record w;
  w.set_kind(wire::Record::LEASE_RELEASE);
  *w.mutable_delta_version() = version;
  wire::Field* field = w.add_fields();
  field->set_name(std::string(node_id));
  *field->mutable_version() = version;
  const uint64_t ended_before = stats_.leases_released;
  WriteResult ignored;
  ApplyLocalLocked(&w, /*last=*/true, &ignored);
  return LeaseReleaseResult{version.hlc(),
                            static_cast<int64_t>(stats_.leases_released - ended_before)};
}

absl::StatusOr<WriteResult> Store::PopItem() {
  absl::MutexLock lock(&mu_);
  const Record* victim = nullptr;
  const int64_t now = clock_->NowMs();
  ScanInOrderLocked("", "", [&](const RecordPtr& r) {
    mu_.AssertHeld();  // called by ScanInOrderLocked, under the lock taken above
    const bool ours =
        !options_.leasing || OwnerOf(*r) == LeaseOwner::kSelf || LeaseExpiryMs(*r) <= now;
    if (ours) victim = r.get();
    return !ours;
  });
  if (victim == nullptr) {
    return absl::NotFoundError("no key that this node may delete");
  }
  wire::Record w = NewWriteLocked(victim->key());
  w.set_kind(wire::Record::TOMBSTONE);
  WriteResult result;
  ApplyLocalLocked(&w, /*last=*/true, &result);
  return result;
}

absl::StatusOr<WriteResult> Store::DeletePrefix(absl::string_view prefix, size_t max_keys) {
  if (prefix.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix is ", prefix.size(), " bytes; the key limit is ", options_.max_key_bytes));
  }
  {
    absl::MutexLock lock(&mu_);
    std::vector<RecordPtr> victims;
    ScanInOrderLocked(prefix, "", [&](const RecordPtr& r) {
      victims.push_back(r);
      return victims.size() <= max_keys;  // one past the limit says "too many"
    });
    if (victims.size() <= max_keys) {
      // Every key is checked before any is deleted: all or nothing.
      for (const RecordPtr& r : victims) MESHKV_RETURN_IF_ERROR(CheckLeaseLocked(r.get()));
      WriteResult result;
      for (size_t i = 0; i < victims.size(); ++i) {
        wire::Record w = NewWriteLocked(victims[i]->key());
        w.set_kind(wire::Record::TOMBSTONE);
        ApplyLocalLocked(&w, /*last=*/i + 1 == victims.size(), &result);
      }
      return result;
    }
  }
  // Too many: counted after the write lock is released, under the shared
  // lock as List's count_only counts (and at its cost), so other reads go
  // on meanwhile. Only what the message says can be a moment stale.
  return absl::FailedPreconditionError(absl::StrCat(
      Count(prefix), " keys under prefix ", Quote(prefix), ", more than the limit of ", max_keys,
      " for one DeletePrefix; nothing was deleted: delete under longer prefixes (or raise the "
      "request's limit, up to the server's --max-delete-prefix-keys)"));
}

// ---------------------------------------------------------------------------
// Reads

std::optional<Entry> Store::Get(absl::string_view key, uint64_t* revision) const {
  absl::ReaderMutexLock lock(&mu_);
  if (revision != nullptr) *revision = revision_;
  const Bucket& b = buckets_[BucketOf(key)];
  auto it = b.find(key);
  if (it == b.end() || !(*it)->live()) return std::nullopt;
  // Only a key with an expiry pays for reading the clock.
  if ((*it)->expires_ms() != 0 && !(*it)->LiveAt(clock_->NowMs())) return std::nullopt;
  return EntryLocked(*it);
}

uint64_t Store::revision() const {
  absl::ReaderMutexLock lock(&mu_);
  return revision_;
}

template <typename Visit>
void Store::ScanInOrderLocked(absl::string_view prefix, absl::string_view start_after,
                              Visit visit) const {
  // A k-way merge of the buckets, each ordered by key.
  struct Cursor {
    Bucket::const_iterator it, end;
  };
  auto after = [](const Cursor& a, const Cursor& b) { return (*a.it)->key() > (*b.it)->key(); };
  std::vector<Cursor> heap;
  heap.reserve(kBuckets);
  for (const Bucket& b : buckets_) {
    auto it = start_after >= prefix ? b.upper_bound(start_after) : b.lower_bound(prefix);
    if (it != b.end() && absl::StartsWith((*it)->key(), prefix)) heap.push_back({it, b.end()});
  }
  std::make_heap(heap.begin(), heap.end(), after);
  const int64_t now = clock_->NowMs();
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    Cursor& c = heap.back();
    if ((*c.it)->LiveAt(now) && !visit(*c.it)) return;
    if (++c.it != c.end && absl::StartsWith((*c.it)->key(), prefix)) {
      std::push_heap(heap.begin(), heap.end(), after);
    } else {
      heap.pop_back();
    }
  }
}

uint64_t Store::Count(absl::string_view prefix, uint64_t* revision) const {
  uint64_t n = 0;
  absl::ReaderMutexLock lock(&mu_);
  if (revision != nullptr) *revision = revision_;
  ScanInOrderLocked(prefix, "", [&](const RecordPtr&) {
    ++n;
    return true;
  });
  return n;
}

ListPage Store::List(absl::string_view prefix, absl::string_view start_after, size_t max_entries,
                     size_t max_bytes) const {
  ListPage page;
  size_t bytes = 0;
  absl::ReaderMutexLock lock(&mu_);
  page.revision = revision_;
  ScanInOrderLocked(prefix, start_after, [&](const RecordPtr& r) {
    mu_.AssertReaderHeld();  // called by ScanInOrderLocked, under the lock taken above
    if (page.entries.size() == max_entries || (!page.entries.empty() && bytes >= max_bytes)) {
      page.more = true;
      return false;
    }
    bytes += r->key().size() + r->ValueBytes();
    page.entries.push_back(EntryLocked(r));
    return true;
  });
  return page;
}

absl::Status Store::ReadEvents(uint64_t after, absl::string_view prefix, size_t max,
                               size_t max_bytes, std::vector<WatchEvent>* out,
                               uint64_t* scanned_through) const {
  std::vector<ChangeEvent> changes;
  absl::ReaderMutexLock lock(&mu_);
  MESHKV_RETURN_IF_ERROR(history_.Read(after, prefix, max, max_bytes, &changes, scanned_through));
  for (ChangeEvent& c : changes) {
    WatchEvent e;
    e.entry = EntryLocked(std::move(c.next));
    if (c.prev && c.prev->live()) e.prev = std::move(c.prev);
    out->push_back(std::move(e));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Replication and anti-entropy

absl::StatusOr<bool> Store::Merge(const wire::Record& record, CommitSource source) {
  absl::MutexLock lock(&mu_);
  RecordPtr next, prev;
  return MergeAndAnnounceLocked(record, source, /*last_of_operation=*/true, &next, &prev);
}

absl::StatusOr<bool> Store::Restore(const wire::Record& record) {
  absl::MutexLock lock(&mu_);
  RecordPtr next, prev;
  return MergeLocked(record, /*announce=*/false, &next, &prev);
}

std::vector<uint64_t> Store::BucketDigests() const {
  absl::ReaderMutexLock lock(&mu_);
  return std::vector<uint64_t>(digests_.begin(), digests_.end());
}

std::vector<std::pair<std::string, uint64_t>> Store::BucketKeys(uint32_t bucket) const {
  std::vector<std::pair<std::string, uint64_t>> keys;
  absl::ReaderMutexLock lock(&mu_);
  keys.reserve(buckets_[bucket].size());
  for (const RecordPtr& r : buckets_[bucket]) {
    keys.emplace_back(std::string(r->key()), RecordDigest(*r, origins_));
  }
  return keys;
}

bool Store::ExportBucket(uint32_t bucket, absl::string_view after, size_t max_bytes,
                         std::vector<wire::Record>* out, std::string* last_key) const {
  absl::ReaderMutexLock lock(&mu_);
  const Bucket& b = buckets_[bucket];
  size_t bytes = 0;
  // "" both starts the bucket and names the lease release record (sorted
  // first): never stop right after it, or a resume would repeat it forever.
  bool past_empty_key = false;
  for (auto it = after.empty() ? b.begin() : b.upper_bound(after); it != b.end(); ++it) {
    if (bytes >= max_bytes && past_empty_key) return false;
    past_empty_key = !(*it)->key().empty();
    out->emplace_back();
    RecordToWire(**it, origins_, &out->back());
    bytes += (*it)->ApproximateBytes();
    *last_key = std::string((*it)->key());
  }
  return true;
}

bool Store::ExportKey(absl::string_view key, wire::Record* out) const {
  absl::ReaderMutexLock lock(&mu_);
  const Record* r = FindLocked(key);
  if (r == nullptr) return false;
  RecordToWire(*r, origins_, out);
  return true;
}

// ---------------------------------------------------------------------------
// Maintenance

size_t Store::ExpireDue(size_t max) {
  // Short stretches under the lock (64 keys, ~60 us), so that reads and writes interleave
  // with a large sweep instead of waiting for all of it.
  constexpr size_t kPerLock = 64;  // ~60 us of sweeping (store_ttl_benchmark)
  size_t swept = 0;
  while (swept < max) {
    absl::MutexLock lock(&mu_);
    const int64_t now = clock_->NowMs();
    const size_t until = std::min(max, swept + kPerLock);
    while (swept < until && !expiry_index_.empty() && expiry_index_.begin()->first <= now) {
      ExpireLocked(FindLocked(expiry_index_.begin()->second), /*announce=*/true);
      ++swept;
    }
    if (swept < until) break;  // nothing more is due
  }
  return swept;
}

void Store::Maintain() {
  ExpireDue(options_.max_expiries_per_maintain);
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowMs();
  leases_.Advance(now);
  for (auto& [origin, tracker] : leases_by_origin_) tracker.Advance(now);
  const int64_t horizon = now - absl::ToInt64Milliseconds(options_.tombstone_retention);
  const uint32_t b = gc_cursor_;
  gc_cursor_ = (gc_cursor_ + 1) % kBuckets;
  Bucket& bucket = buckets_[b];
  std::vector<std::string> collected;
  for (auto it = bucket.begin(); it != bucket.end();) {
    const Record& r = **it;
    if (r.kind() != Kind::kLeaseRelease && !r.live() && DeadSinceMs(r) < horizon) {
      digests_[b] -= RecordDigest(r, origins_);
      --stats_.tombstones;
      collected.emplace_back(r.key());
      it = bucket.erase(it);
    } else {
      ++it;
    }
  }
  if (collected.empty()) return;
  for (CommitObserver* o : observers_) o->OnTombstonesCollected(collected);
}

StoreStats Store::Stats() const {
  absl::ReaderMutexLock lock(&mu_);
  StoreStats s = stats_;
  s.revision = revision_;
  s.history_events = history_.size();
  s.keys_with_ttl = expiry_index_.size();
  for (LeaseOwner o : {LeaseOwner::kSelf, LeaseOwner::kOther}) {
    s.leases_active[static_cast<int>(o)] = leases_.active(o);
    s.leases_expired[static_cast<int>(o)] = leases_.expired(o);
  }
  return s;
}

std::vector<LeaseHolder> Store::LeaseHolders() const {
  std::vector<LeaseHolder> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [origin, tracker] : leases_by_origin_) {
    if (tracker.active(LeaseOwner::kOther) <= 0) continue;
    out.push_back({origins_.Name(origin), tracker.active(LeaseOwner::kOther),
                   tracker.last_lapse_ms(LeaseOwner::kOther)});
  }
  std::sort(out.begin(), out.end(),
            [](const LeaseHolder& a, const LeaseHolder& b) { return a.node_id < b.node_id; });
  return out;
}

}  // namespace meshkv
