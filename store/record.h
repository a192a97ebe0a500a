// Record: the state of one key, immutable and reference-counted.
//
// A key's state is a join-semilattice built from two kinds of writes
// (docs/design.md, "Merge"):
//   - the whole-value write (Set or Delete) with the newest version: `kind`,
//     `version` and its payload (bytes, or base fields of a mapping);
//   - field writes (ApplyDelta) newer than it: per-field last-writer-wins
//     registers, and `delta_version`, the newest such write. A removed field
//     (ApplyDelta's remove_fields) is a register holding a field tombstone:
//     it wins over older writes of its field like any write, and reads skip
//     it. Field tombstones live until a whole-value write supersedes them,
//     as every field older than that write is dropped.
// The resolved value is bytes when kind is BYTES and no delta is newer; a
// mapping when kind is MAPPING or any delta is newer (the delta created {}
// over bytes or a tombstone); absent otherwise.
//
// Expiry (docs/design.md "Expiring keys") is part of the whole-value write:
// `expires_ms` travels and merges with it, so it needs no merge rule of its
// own. From that wall-clock moment the key is absent, fields and all, and
// only a newer whole-value write brings it back (a Touch is one). The store
// then replaces the record by its expired form: a tombstone that keeps the
// versions and `expires_ms` but drops the payload (field writes newer than
// the expired write stay: a late whole-value write between them would show
// them again). The expired form names
// the same writes, so it merges and hashes exactly as the record it
// replaces, whether or not another node has swept its copy yet.
//
// Records are never modified: a merge builds a new record and the store swaps
// the pointer. Readers therefore copy a RecordPtr under the store's lock and
// serialise it after releasing the lock, and the watch history shares records
// with the index instead of copying values. Key and bytes live in the same
// allocation as the header, so a small key with a 100-byte value costs one
// allocation.
//
// RecordPtr is safe to copy and destroy from any thread; a Record is
// immutable and therefore safe to read from any thread.
#ifndef MESHKV_STORE_RECORD_H_
#define MESHKV_STORE_RECORD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/strings/string_view.h"
#include "store/version.h"

namespace meshkv {

// Same numbering as meshkv.mesh.v1.Record.Kind. kLeaseRelease is the record
// of lease releases under the empty key (record.proto): its fields are
// per-node registers (name: node ID, version: leases on writes below its hlc
// are void), merged as field writes; it is never live.
enum class Kind : uint8_t {
  kNone = 0,
  kBytes = 1,
  kMapping = 2,
  kTombstone = 3,
  kLeaseRelease = 4
};

struct FieldValue {
  Version version;
  std::string value;     // empty when removed
  bool removed = false;  // a field tombstone: hidden from reads
};
using FieldMap = absl::btree_map<std::string, FieldValue>;

class Record;

// Intrusive reference-counted pointer to an immutable Record.
class RecordPtr {
 public:
  RecordPtr() = default;
  RecordPtr(std::nullptr_t) {}  // NOLINT: implicit like std::shared_ptr
  RecordPtr(const RecordPtr& o);
  RecordPtr(RecordPtr&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  RecordPtr& operator=(RecordPtr o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  ~RecordPtr();

  const Record* get() const { return r_; }
  const Record* operator->() const { return r_; }
  const Record& operator*() const { return *r_; }
  explicit operator bool() const { return r_ != nullptr; }
  bool operator==(std::nullptr_t) const { return r_ == nullptr; }
  bool operator!=(std::nullptr_t) const { return r_ != nullptr; }

 private:
  friend class Record;
  explicit RecordPtr(Record* r) : r_(r) {}
  Record* r_ = nullptr;
};

class Record {
 public:
  struct Init {
    absl::string_view key;
    Kind kind = Kind::kNone;
    Version version;
    Version delta_version;
    absl::string_view bytes;
    std::unique_ptr<FieldMap> fields;  // null or non-empty
    uint64_t revision = 0;
    int64_t expires_ms = 0;  // 0: the write does not expire
  };
  // Longest key a record can hold (its length is stored in 16 bits).
  static constexpr size_t kMaxKeyBytes = 0xffff;

  // `init.key` must be at most kMaxKeyBytes long.
  static RecordPtr Make(Init init);

  Record(const Record&) = delete;
  Record& operator=(const Record&) = delete;

  absl::string_view key() const { return {data(), key_size_}; }
  // Kind of the newest whole-value write (kNone: there was none).
  Kind kind() const { return kind_; }
  Version version() const { return {hlc_, origin_}; }
  Version delta_version() const { return has_mapping() ? mapping()->delta_version : Version{}; }
  absl::string_view bytes() const { return {data() + key_size_, bytes_size_}; }
  // Base fields and newer field writes, field tombstones included (readers
  // skip `removed` ones); null when there are none.
  const FieldMap* fields() const {
    return has_mapping() && !mapping()->fields.empty() ? &mapping()->fields : nullptr;
  }
  // Node-local revision at which this state became visible.
  uint64_t revision() const { return revision_; }
  // Wall-clock ms from which the whole-value write no longer counts; 0
  // when it does not expire.
  int64_t expires_ms() const {
    return (flags_ & kHasExpiry) ? *reinterpret_cast<const int64_t*>(tail() + MappingSlot()) : 0;
  }
  // The expired form: what the store keeps of a record once it expired.
  bool expired() const { return kind_ == Kind::kTombstone && expires_ms() != 0; }

  // Resolved view. live() ignores the clock: a live record may be past its
  // expiry until the store sweeps it, so reads ask LiveAt(now). A lease
  // release record is never live.
  bool live() const {
    return kind_ != Kind::kLeaseRelease && !expired() && (is_mapping() || kind_ == Kind::kBytes);
  }
  bool LiveAt(int64_t now_ms) const {
    return live() && (expires_ms() == 0 || now_ms < expires_ms());
  }
  // Live, but its expiry has come: the store should sweep it.
  bool DueAt(int64_t now_ms) const { return live() && expires_ms() != 0 && now_ms >= expires_ms(); }
  bool is_mapping() const { return kind_ == Kind::kMapping || !delta_version().zero(); }
  // The version that names the key's owner and timestamp: the newest write.
  Version current_version() const { return delta_version().zero() ? version() : delta_version(); }

  // Memory held by this record, approximately; for accounting.
  size_t ApproximateBytes() const;
  // Bytes of the resolved value (bytes, or field names and values; removed
  // fields excluded).
  size_t ValueBytes() const;
  // Bytes of the names of removed fields: what field tombstones cost.
  size_t RemovedFieldBytes() const;

 private:
  friend class RecordPtr;
  // What only mappings need lives out of line, so that a bytes record (the
  // common case, a million of them in a big store) does not pay for it.
  struct MappingPart {
    Version delta_version;
    FieldMap fields;
  };

  // Bits of flags_: which optional parts the tail holds.
  static constexpr uint8_t kHasMapping = 1;
  static constexpr uint8_t kHasExpiry = 2;

  Record() = default;
  ~Record();
  // The tail: [MappingPart* when kHasMapping] [int64 expires_ms when
  // kHasExpiry] key bytes, value bytes. A key without a time to live pays
  // nothing for the feature.
  const char* tail() const { return reinterpret_cast<const char*>(this + 1); }
  char* tail() { return reinterpret_cast<char*>(this + 1); }
  bool has_mapping() const { return (flags_ & kHasMapping) != 0; }
  size_t MappingSlot() const { return has_mapping() ? sizeof(MappingPart*) : 0; }
  size_t DataOffset() const {
    return MappingSlot() + ((flags_ & kHasExpiry) ? sizeof(int64_t) : 0);
  }
  const MappingPart* mapping() const {
    return *reinterpret_cast<const MappingPart* const*>(tail());
  }
  const char* data() const { return tail() + DataOffset(); }
  char* data() { return tail() + DataOffset(); }
  void Unref() const;

  // 32 bytes, so that a record of a 16-byte key and a 100-byte value fits a
  // 160-byte malloc chunk: every byte here is paid once per key.
  mutable std::atomic<uint32_t> refs_{1};
  Kind kind_ = Kind::kNone;
  uint8_t flags_ = 0;      // kHasMapping | kHasExpiry
  uint16_t key_size_ = 0;  // keys are at most kMaxKeyBytes
  uint32_t bytes_size_ = 0;
  uint32_t origin_ = 0;
  uint64_t hlc_ = 0;
  uint64_t revision_ = 0;
};

// A write to merge: decoded from a wire record, origins interned, payload
// borrowed from the wire message it was decoded from.
struct Fragment {
  struct Field {
    absl::string_view name;
    absl::string_view value;
    Version version;
    bool removed = false;  // a field tombstone (value empty)
  };
  absl::string_view key;
  Kind kind = Kind::kNone;
  Version version;  // zero when kind is kNone
  Version delta_version;
  absl::string_view bytes;
  std::vector<Field> fields;  // base fields carry `version` and are never removed
  int64_t expires_ms = 0;     // of the whole-value write; 0: none
};

// The join of `prev` (may be null) and `f`, stamped with `revision`; null
// when `f` adds nothing to `prev` (already known or superseded).
RecordPtr MergeRecord(const Record* prev, const Fragment& f, const OriginTable& origins,
                      uint64_t revision);

// The expired form of `r` (live, with an expiry), stamped with `revision`:
// a tombstone keeping r's versions and expiry, without its payload (bytes,
// base fields); field writes newer than it are kept whole. Merging it, or
// any write into it, gives what merging into `r` would, once r's expiry has
// passed.
RecordPtr ExpiredRecord(const Record& r, uint64_t revision);

// A digest of the record's versions: equal digests mean equal states, since
// a version names exactly one write (its kind, payload and expiry). Base
// fields of a mapping write and the kind are therefore left out, which makes
// a record and its expired form hash the same. Stable across nodes.
uint64_t RecordDigest(const Record& r, const OriginTable& origins);

}  // namespace meshkv

#endif  // MESHKV_STORE_RECORD_H_
