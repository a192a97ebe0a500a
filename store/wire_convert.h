// Conversions between the store's types and the mesh's wire records
// (meshkv.mesh.v1.Record), in both directions, and only here.
//
// A wire record names origins by node ID; the store's records carry indices
// into its OriginTable. Decoding interns the names it meets.
#ifndef MESHKV_STORE_WIRE_CONVERT_H_
#define MESHKV_STORE_WIRE_CONVERT_H_

#include "absl/status/statusor.h"
#include "meshkv/mesh/v1/record.pb.h"
#include "store/record.h"
#include "store/value.h"
#include "store/version.h"

namespace meshkv {

// --- Store -> wire ----------------------------------------------------------
// The whole-value write of `value` (kind and payload) into `out`.
void ValueToWire(const ValueView& value, meshkv::mesh::v1::Record* out);
// The field writes of a delta, each at `version`, into `out` (kind NONE):
// the fields of `delta` set, those named in `removed` removed.
void DeltaToWire(const FieldsView& delta, const FieldNamesView& removed,
                 const meshkv::mesh::v1::Version& version, meshkv::mesh::v1::Record* out);
// The whole state of `r`.
void RecordToWire(const Record& r, const OriginTable& origins, meshkv::mesh::v1::Record* out);

// --- Wire -> store ----------------------------------------------------------
// The write `w` carries, borrowing its strings from `w`; origins interned
// into `origins`. INVALID_ARGUMENT for an unknown kind, a version without
// hlc or origin, a field without version outside a mapping write, or a
// removed field without version or with a value, a negative expiry or one
// without a whole-value write. (Key and clock checks are the store's.)
absl::StatusOr<Fragment> FragmentFromWire(const meshkv::mesh::v1::Record& w, OriginTable* origins);

}  // namespace meshkv

#endif  // MESHKV_STORE_WIRE_CONVERT_H_
