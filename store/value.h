// ValueView: a value as a local write takes it, borrowed from the caller (an
// RPC's request, a test's strings): bytes, or the fields of a mapping. The
// store keeps its own types free of the public API's messages; the RPC layer
// converts (server/convert.h), and the store converts to the wire
// (store/wire_convert.h).
//
// A view does not own what it points to: it must not outlive the strings it
// was made from. Field names must be distinct (the store refuses repeats).
#ifndef MESHKV_STORE_VALUE_H_
#define MESHKV_STORE_VALUE_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace meshkv {

// (name, value) pairs of a mapping, or of a delta to one.
using FieldsView = std::vector<std::pair<absl::string_view, absl::string_view>>;

struct ValueView {
  enum class Kind : uint8_t { kUnset, kBytes, kMapping };

  static ValueView Bytes(absl::string_view bytes) { return {Kind::kBytes, bytes, {}}; }
  static ValueView Mapping(FieldsView fields) { return {Kind::kMapping, {}, std::move(fields)}; }

  // Bytes of the value: the bytes, or every field's name and value.
  size_t size() const {
    if (kind != Kind::kMapping) return bytes.size();
    size_t n = 0;
    for (const auto& [name, value] : fields) n += name.size() + value.size();
    return n;
  }

  Kind kind = Kind::kUnset;
  absl::string_view bytes;  // when kind is kBytes
  FieldsView fields;        // when kind is kMapping
};

// Names of mapping fields, e.g. those an ApplyDelta removes.
using FieldNamesView = std::vector<absl::string_view>;

// The items of one Update: (key, value), keys distinct.
using KeyValuesView = std::vector<std::pair<absl::string_view, ValueView>>;

}  // namespace meshkv

#endif  // MESHKV_STORE_VALUE_H_
