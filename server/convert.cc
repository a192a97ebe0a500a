#include "server/convert.h"

#include <string>

namespace meshkv {

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

ValueView ToValueView(const meshkv::v1::Value& value) {
  switch (value.kind_case()) {
    case meshkv::v1::Value::kBytes:
      return ValueView::Bytes(value.bytes());
    case meshkv::v1::Value::kMapping:
      return ValueView::Mapping(ToFieldsView(value.mapping()));
    case meshkv::v1::Value::KIND_NOT_SET:
      break;
  }
  return ValueView();  // the store refuses it with INVALID_ARGUMENT
}

FieldsView ToFieldsView(const meshkv::v1::Mapping& mapping) {
  FieldsView fields;
  fields.reserve(mapping.fields_size());
  for (const auto& [name, value] : mapping.fields()) fields.emplace_back(name, value);
  return fields;
}

absl::StatusOr<Precondition> ToPrecondition(const meshkv::v1::Precondition& pre) {
  switch (pre.kind_case()) {
    case meshkv::v1::Precondition::kAbsent:
      if (!pre.absent()) {
        return absl::InvalidArgumentError("precondition absent must be true when set");
      }
      return Precondition::Absent();
    case meshkv::v1::Precondition::kVersion:
      if (pre.version().hlc() == 0 || pre.version().origin().empty()) {
        return absl::InvalidArgumentError("precondition version needs hlc and origin");
      }
      return Precondition::AtVersion(pre.version().hlc(), pre.version().origin());
    case meshkv::v1::Precondition::KIND_NOT_SET:
      break;
  }
  return Precondition();
}

absl::StatusOr<std::vector<Precondition>> ToPreconditions(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items) {
  std::vector<Precondition> out;
  bool any = false;
  for (const meshkv::v1::SetRequest& item : items) any |= item.has_precondition();
  if (!any) return out;
  out.reserve(items.size());
  for (const meshkv::v1::SetRequest& item : items) {
    absl::StatusOr<Precondition> p = ToPrecondition(item.precondition());
    if (!p.ok()) return p.status();
    out.push_back(*p);
  }
  return out;
}

std::vector<absl::Duration> ToTtls(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items) {
  std::vector<absl::Duration> out;
  bool any = false;
  for (const meshkv::v1::SetRequest& item : items) any |= item.ttl_ms() != 0;
  if (!any) return out;
  out.reserve(items.size());
  for (const meshkv::v1::SetRequest& item : items) out.push_back(absl::Milliseconds(item.ttl_ms()));
  return out;
}

KeyValuesView ToKeyValuesView(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items) {
  KeyValuesView out;
  out.reserve(items.size());
  for (const meshkv::v1::SetRequest& item : items) {
    out.emplace_back(item.key(), ToValueView(item.value()));
  }
  return out;
}

void ToValue(const Record& r, meshkv::v1::Value* out) {
  if (!r.is_mapping()) {
    out->set_bytes(std::string(r.bytes()));
    return;
  }
  auto* fields = out->mutable_mapping()->mutable_fields();
  if (r.fields() == nullptr) return;
  for (const auto& [name, field] : *r.fields()) {
    if (!field.removed) (*fields)[name] = field.value;  // a field tombstone is not shown
  }
}

void ToMeta(const Entry& e, meshkv::v1::Meta* out) {
  out->set_owner(e.owner);
  out->set_timestamp_ms(e.timestamp_ms);
  out->set_revision(e.record->revision());
  out->set_lease_expires_ms(e.lease_expires_ms);
  out->set_expires_ms(e.expires_ms);
  meshkv::v1::Version* v = out->mutable_version();
  v->set_hlc(e.record->current_version().hlc);
  v->set_origin(e.owner);  // the origin of the current version
}

void ToEntry(const Entry& e, bool with_value, meshkv::v1::Entry* out) {
  out->set_key(std::string(e.record->key()));
  if (with_value && e.record->live()) ToValue(*e.record, out->mutable_value());
  ToMeta(e, out->mutable_meta());
}

void ToEvent(const WatchEvent& e, bool with_values, bool with_prev, meshkv::v1::Event* out) {
  out->set_type(e.is_delete() ? meshkv::v1::Event::DELETE : meshkv::v1::Event::UPDATE);
  if (e.expired()) out->set_reason(meshkv::v1::Event::EXPIRED);
  ToEntry(e.entry, with_values, out->mutable_entry());
  if (with_values && with_prev && e.prev) ToValue(*e.prev, out->mutable_prev_value());
}

}  // namespace meshkv
