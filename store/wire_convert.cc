#include "store/wire_convert.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace meshkv {
namespace {

namespace wire = ::meshkv::mesh::v1;

absl::StatusOr<Version> DecodeVersion(const wire::Version& v, OriginTable* origins) {
  if (v.hlc() == 0 || v.origin().empty()) {
    return absl::InvalidArgumentError("record version without hlc or origin");
  }
  return Version{v.hlc(), origins->Intern(v.origin())};
}

void EncodeVersion(const Version& v, const OriginTable& origins, wire::Version* out) {
  out->set_hlc(v.hlc);
  out->set_origin(origins.Name(v.origin));
}

}  // namespace

void ValueToWire(const ValueView& value, wire::Record* out) {
  if (value.kind == ValueView::Kind::kMapping) {
    out->set_kind(wire::Record::MAPPING);
    for (const auto& [name, field] : value.fields) {
      wire::Field* f = out->add_fields();
      f->set_name(std::string(name));
      f->set_value(std::string(field));
    }
  } else {
    out->set_kind(wire::Record::BYTES);
    out->set_bytes(std::string(value.bytes));
  }
}

void DeltaToWire(const FieldsView& delta, const FieldNamesView& removed,
                 const wire::Version& version, wire::Record* out) {
  out->set_kind(wire::Record::NONE);
  *out->mutable_delta_version() = version;
  for (const auto& [name, value] : delta) {
    wire::Field* f = out->add_fields();
    f->set_name(std::string(name));
    f->set_value(std::string(value));
    *f->mutable_version() = version;
  }
  for (absl::string_view name : removed) {
    wire::Field* f = out->add_fields();
    f->set_name(std::string(name));
    f->set_removed(true);
    *f->mutable_version() = version;
  }
}

void RecordToWire(const Record& r, const OriginTable& origins, wire::Record* out) {
  out->set_key(std::string(r.key()));
  out->set_kind(static_cast<wire::Record::Kind>(r.kind()));
  if (!r.version().zero()) EncodeVersion(r.version(), origins, out->mutable_version());
  if (r.kind() == Kind::kBytes) out->set_bytes(std::string(r.bytes()));
  out->set_expires_ms(r.expires_ms());
  if (!r.delta_version().zero()) {
    EncodeVersion(r.delta_version(), origins, out->mutable_delta_version());
  }
  if (r.fields() == nullptr) return;
  for (const auto& [name, field] : *r.fields()) {
    wire::Field* f = out->add_fields();
    f->set_name(name);
    f->set_value(field.value);
    if (field.removed) f->set_removed(true);
    // Base fields of a mapping write inherit the record's version; a removed
    // field always names its own.
    if (field.removed || r.kind() != Kind::kMapping || field.version != r.version()) {
      EncodeVersion(field.version, origins, f->mutable_version());
    }
  }
}

absl::StatusOr<Fragment> FragmentFromWire(const wire::Record& w, OriginTable* origins) {
  if (w.kind() < wire::Record::NONE || w.kind() > wire::Record::LEASE_RELEASE) {
    return absl::InvalidArgumentError(absl::StrCat("record kind ", w.kind(), " is unknown"));
  }
  // The empty key holds the lease releases and nothing else.
  if ((w.kind() == wire::Record::LEASE_RELEASE) != w.key().empty()) {
    return absl::InvalidArgumentError(w.key().empty() ? "key must not be empty"
                                                      : "a lease release under a non-empty key");
  }
  if (w.kind() == wire::Record::LEASE_RELEASE &&
      (w.has_version() || !w.bytes().empty() || w.fields_size() == 0)) {
    return absl::InvalidArgumentError("a lease release carries only fields with versions");
  }
  Fragment f;
  f.key = w.key();
  f.kind = static_cast<Kind>(w.kind());
  if (f.kind != Kind::kNone && f.kind != Kind::kLeaseRelease) {
    absl::StatusOr<Version> v = DecodeVersion(w.version(), origins);
    if (!v.ok()) return v.status();
    f.version = *v;
  }
  if (f.kind == Kind::kBytes) f.bytes = w.bytes();
  if (w.expires_ms() < 0 || (w.expires_ms() != 0 && f.kind == Kind::kNone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record expiry ", w.expires_ms(), " is negative or comes without a whole-value write"));
  }
  f.expires_ms = w.expires_ms();
  if (w.has_delta_version()) {
    absl::StatusOr<Version> v = DecodeVersion(w.delta_version(), origins);
    if (!v.ok()) return v.status();
    f.delta_version = *v;
  }
  f.fields.reserve(w.fields_size());
  for (const wire::Field& field : w.fields()) {
    Version v = f.version;  // a base field of a whole mapping write
    if (field.has_version()) {
      absl::StatusOr<Version> decoded = DecodeVersion(field.version(), origins);
      if (!decoded.ok()) return decoded.status();
      v = *decoded;
    } else if (f.kind != Kind::kMapping) {
      return absl::InvalidArgumentError("field without version outside a mapping write");
    }
    if (field.removed() && (!field.has_version() || !field.value().empty())) {
      return absl::InvalidArgumentError("removed field without its own version, or with a value");
    }
    f.fields.push_back({field.name(), field.value(), v, field.removed()});
  }
  return f;
}

}  // namespace meshkv
