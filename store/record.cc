#include "store/record.h"

#include <cassert>
#include <cstring>
#include <new>

#include "absl/base/optimization.h"

namespace meshkv {

RecordPtr::RecordPtr(const RecordPtr& o) : r_(o.r_) {
  if (r_ != nullptr) r_->refs_.fetch_add(1, std::memory_order_relaxed);
}

RecordPtr::~RecordPtr() {
  if (r_ != nullptr) r_->Unref();
}

void Record::Unref() const {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const Record* r = this;
    r->~Record();
    ::operator delete(const_cast<Record*>(r));
  }
}

Record::~Record() {
  if (has_mapping()) delete mapping();
}

RecordPtr Record::Make(Init init) {
  assert(init.key.size() <= kMaxKeyBytes);
  const bool has_mapping = init.fields != nullptr || !init.delta_version.zero();
  const bool has_expiry = init.expires_ms != 0;
  const size_t tail = (has_mapping ? sizeof(MappingPart*) : 0) +
                      (has_expiry ? sizeof(int64_t) : 0) + init.key.size() + init.bytes.size();
  static_assert(sizeof(Record) == 32, "the header is paid once per key: keep it small");
  static_assert(sizeof(Record) % alignof(MappingPart*) == 0, "the tail starts aligned");
  Record* r = new (::operator new(sizeof(Record) + tail)) Record();
  r->kind_ = init.kind;
  r->flags_ = (has_mapping ? kHasMapping : 0) | (has_expiry ? kHasExpiry : 0);
  r->key_size_ = static_cast<uint16_t>(init.key.size());
  r->bytes_size_ = static_cast<uint32_t>(init.bytes.size());
  r->origin_ = init.version.origin;
  r->hlc_ = init.version.hlc;
  r->revision_ = init.revision;
  if (has_mapping) {
    auto* part = new MappingPart{init.delta_version, {}};
    if (init.fields != nullptr) part->fields = std::move(*init.fields);
    std::memcpy(r->tail(), &part, sizeof(part));
  }
  if (has_expiry) std::memcpy(r->tail() + r->MappingSlot(), &init.expires_ms, sizeof(int64_t));
  if (!init.key.empty()) std::memcpy(r->data(), init.key.data(), init.key.size());
  if (!init.bytes.empty()) {
    std::memcpy(r->data() + init.key.size(), init.bytes.data(), init.bytes.size());
  }
  return RecordPtr(r);
}

size_t Record::ValueBytes() const {
  size_t n = bytes_size_;
  if (const FieldMap* fields = this->fields()) {
    for (const auto& [name, field] : *fields) {
      if (!field.removed) n += name.size() + field.value.size();
    }
  }
  return n;
}

size_t Record::RemovedFieldBytes() const {
  size_t n = 0;
  if (const FieldMap* fields = this->fields()) {
    for (const auto& [name, field] : *fields) {
      if (field.removed) n += name.size();
    }
  }
  return n;
}

size_t Record::ApproximateBytes() const {
  size_t n = sizeof(Record) + DataOffset() + key_size_ + bytes_size_;
  if (has_mapping()) n += sizeof(MappingPart);
  if (const FieldMap* fields = this->fields()) {
    for (const auto& [name, field] : *fields) {
      n += sizeof(FieldMap::value_type) + name.size() + field.value.size();
    }
  }
  return n;
}

RecordPtr MergeRecord(const Record* prev, const Fragment& f, const OriginTable& origins,
                      uint64_t revision) {
  // A lease release carries field writes only (no whole-value version), so
  // it merges below as a delta does; the kind just marks the record.
  Kind kind = prev ? prev->kind() : Kind::kNone;
  if (f.kind == Kind::kLeaseRelease) kind = Kind::kLeaseRelease;
  Version reset = prev ? prev->version() : Version{};
  Version delta = prev ? prev->delta_version() : Version{};
  absl::string_view bytes = prev ? prev->bytes() : absl::string_view();
  int64_t expires_ms = prev ? prev->expires_ms() : 0;
  // Copied on first change; until then reads go to prev's fields.
  std::unique_ptr<FieldMap> fields;
  const FieldMap* current_fields = prev ? prev->fields() : nullptr;
  bool changed = false;

  auto mutable_fields = [&]() -> FieldMap& {
    if (fields == nullptr) {
      fields = current_fields ? std::make_unique<FieldMap>(*current_fields)
                              : std::make_unique<FieldMap>();
      current_fields = fields.get();
    }
    return *fields;
  };

  // A newer whole-value write replaces everything not newer than itself.
  if (f.kind != Kind::kNone && f.kind != Kind::kLeaseRelease && origins.Newer(f.version, reset)) {
    changed = true;
    kind = f.kind;
    reset = f.version;
    bytes = kind == Kind::kBytes ? f.bytes : absl::string_view();
    expires_ms = f.expires_ms;
    if (!origins.Newer(delta, reset)) delta = Version{};
    if (current_fields != nullptr) {
      FieldMap& m = mutable_fields();
      for (auto it = m.begin(); it != m.end();) {
        it = origins.Newer(it->second.version, reset) ? std::next(it) : m.erase(it);
      }
    }
    if (kind == Kind::kMapping) {
      for (const Fragment::Field& field : f.fields) {
        // A newer field write is merged below; a base field is never removed.
        if (field.version != reset || field.removed) continue;
        // A surviving field is newer than this write and keeps its value.
        mutable_fields().try_emplace(std::string(field.name),
                                     FieldValue{reset, std::string(field.value)});
      }
    }
  }

  // Field writes count only when newer than the whole-value write. (Into an
  // expired one too, values included: a whole-value write older than them
  // but newer than the expired one may still come and make them visible.)
  for (const Fragment::Field& field : f.fields) {
    if (!origins.Newer(field.version, reset)) continue;
    delta = origins.Max(delta, field.version);
    auto it = current_fields ? current_fields->find(field.name) : FieldMap::const_iterator();
    // On equal versions (only a forged write has two writes of one field at
    // one version) the removal wins, so the merge stays a join.
    if (current_fields != nullptr && it != current_fields->end() &&
        !origins.Newer(field.version, it->second.version) &&
        !(field.version == it->second.version && field.removed && !it->second.removed)) {
      continue;
    }
    mutable_fields().insert_or_assign(
        std::string(field.name),
        FieldValue{field.version, field.removed ? std::string() : std::string(field.value),
                   field.removed});
    changed = true;
  }
  if (origins.Newer(f.delta_version, reset) && origins.Newer(f.delta_version, delta)) {
    delta = f.delta_version;
  }
  if (prev == nullptr ? !delta.zero() : delta != prev->delta_version()) changed = true;

  if (!changed) return nullptr;
  Record::Init init;
  init.key = f.key;
  init.kind = kind;
  init.version = reset;
  init.delta_version = delta;
  init.bytes = bytes;
  init.revision = revision;
  init.expires_ms = expires_ms;
  if (fields != nullptr && !fields->empty()) {
    init.fields = std::move(fields);
  } else if (fields == nullptr && current_fields != nullptr) {
    init.fields = std::make_unique<FieldMap>(*current_fields);
  }
  return Record::Make(std::move(init));
}

RecordPtr ExpiredRecord(const Record& r, uint64_t revision) {
  Record::Init init;
  init.key = r.key();
  init.kind = Kind::kTombstone;
  init.version = r.version();
  init.delta_version = r.delta_version();
  init.revision = revision;
  init.expires_ms = r.expires_ms();
  if (const FieldMap* fields = r.fields()) {
    // Base fields belong to the expired write itself and go with it. Newer
    // field writes stay whole: absent while this write is the newest whole
    // write, they show again under a newer one that is older than they are
    // (a delete, say, that reaches this node late).
    auto kept = std::make_unique<FieldMap>();
    for (const auto& [name, field] : *fields) {
      if (field.version != r.version()) kept->try_emplace(name, field);
    }
    if (!kept->empty()) init.fields = std::move(kept);
  }
  return Record::Make(std::move(init));
}

uint64_t RecordDigest(const Record& r, const OriginTable& origins) {
  auto version_hash = [&](uint64_t h, const Version& v) {
    return HashCombine(HashCombine(h, v.hlc), origins.NameHash(v.origin));
  };
  uint64_t h = StableHash(r.key());
  h = version_hash(h, r.version());
  h = version_hash(h, r.delta_version());
  if (r.fields() != nullptr) {
    for (const auto& [name, field] : *r.fields()) {
      if (field.version == r.version()) continue;  // a base field: named by version()
      h = version_hash(HashCombine(h, StableHash(name)), field.version);
      // Only tombstones add to the hash: digests of records without any stay
      // what they were.
      if (field.removed) h = HashCombine(h, 1);
    }
  }
  return h;
}

}  // namespace meshkv
