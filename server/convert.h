// Conversions between the store's types and the public API's messages, in
// both directions, and between absl::Status and grpc::Status (same codes;
// converted only here, at the RPC boundary).
#ifndef MESHKV_SERVER_CONVERT_H_
#define MESHKV_SERVER_CONVERT_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "meshkv/v1/kv.pb.h"
#include "store/precondition.h"
#include "store/record.h"
#include "store/store.h"
#include "store/value.h"

namespace meshkv {

grpc::Status ToGrpcStatus(const absl::Status& s);

// --- API -> store: views borrowing from the request ------------------------
ValueView ToValueView(const meshkv::v1::Value& value);
FieldsView ToFieldsView(const meshkv::v1::Mapping& mapping);
// INVALID_ARGUMENT for `absent: false` or a version without hlc or origin.
absl::StatusOr<Precondition> ToPrecondition(const meshkv::v1::Precondition& pre);
// One per item, all unset when no item has one (empty).
absl::StatusOr<std::vector<Precondition>> ToPreconditions(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items);
// One time to live per item, empty when no item has one.
std::vector<absl::Duration> ToTtls(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items);
KeyValuesView ToKeyValuesView(
    const google::protobuf::RepeatedPtrField<meshkv::v1::SetRequest>& items);

// --- Store -> API ---------------------------------------------------------

// The resolved value of a live record.
void ToValue(const Record& r, meshkv::v1::Value* out);
void ToMeta(const Entry& e, meshkv::v1::Meta* out);
// Key and meta always; the value when `with_value` and the record is live.
void ToEntry(const Entry& e, bool with_value, meshkv::v1::Entry* out);
void ToEvent(const WatchEvent& e, bool with_values, bool with_prev, meshkv::v1::Event* out);

}  // namespace meshkv

#endif  // MESHKV_SERVER_CONVERT_H_
