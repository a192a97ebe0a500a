// How meshkv prints keys, values, metadata and events. Pure functions of the
// API's messages, so every line format is unit-tested.
//
// Lines are logfmt-like (`key=value owner=n1 rev=7`), so they stay readable
// and split unambiguously: a key or value is shown as it is when it is
// printable text (UTF-8 included, 测试 stays 测试) and holds no space, '=',
// '"' or '\'; otherwise it is double-quoted with C escapes (\n, \t, \r, \",
// \\, \xHH for other bytes that are not printable UTF-8, \uXXXX for invisible
// Unicode controls). Mappings are JSON-like: {"field": "value", ...}.
#ifndef MESHKV_CLIENTS_CLI_FORMAT_H_
#define MESHKV_CLIENTS_CLI_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "meshkv/v1/kv.pb.h"

namespace meshkv::cli {

// `bytes` double-quoted with C escapes; printable UTF-8 is kept as it is.
std::string Quote(absl::string_view bytes);
// `bytes` as they are when that is unambiguous in a line of words, else Quote.
std::string Readable(absl::string_view bytes);

// {"field": "value", ...}, fields in order; {} when empty.
std::string FormatMapping(const meshkv::v1::Mapping& mapping);
// A value for a line: Readable bytes or a mapping; "" when unset.
std::string FormatValue(const meshkv::v1::Value& value);
// A value for `get` and `pop`: the bytes exactly as stored, or a mapping's
// FormatMapping followed by a newline.
std::string RawValue(const meshkv::v1::Value& value);

// ISO 8601 in UTC with milliseconds: 2024-05-01T12:00:00.123Z.
std::string FormatTime(int64_t unix_ms);
// HLC/ORIGIN, what --if-version takes; "-" when unset.
std::string FormatVersion(const meshkv::v1::Version& version);
// owner=OWNER rev=REVISION ts=TIMESTAMP
std::string FormatMeta(const meshkv::v1::Meta& meta);
// KEY=VALUE owner=... rev=... ts=..., then lease=EXPIRY when leasing is on
// and expires=TIME when the key has a time to live (`items`, `popitem`).
std::string FormatEntry(const meshkv::v1::Entry& entry);
// UPDATE KEY=VALUE owner=... rev=... ts=... or DELETE KEY owner=... rev=...
// ts=..., then reason=expired for an expiry and prev=VALUE when the event
// carries one. An UPDATE without a value (keys-only watch) is UPDATE KEY ...
std::string FormatEvent(const meshkv::v1::Event& event);
// TOPIC=PAYLOAD origin=NODE ts=TIMESTAMP (`subscribe`).
std::string FormatMessage(const meshkv::v1::Message& message);
// The labelled lines of `get --meta`, each ending in a newline.
std::string FormatEntryDetails(const meshkv::v1::Entry& entry);

// -w json: protobuf's JSON mapping of `message` on one line, as etcdctl
// prints its responses: `bytes` fields (keys, values, mapping values,
// prefixes, payloads) in base64, `string` fields (owners, origins, mapping
// field names, topics) as UTF-8, 64-bit integers as strings, field names as
// in the .proto, and fields at their default value included.
std::string ToJson(const google::protobuf::Message& message);

// -w table: a header and rows in aligned columns, boxed as etcdctl's tables
// are. Widths count terminal columns (CJK characters take two), so UTF-8
// keys line up.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);
// Entries as a table: KEY VALUE OWNER VERSION REVISION TIMESTAMP LEASE
// EXPIRES, or KEY alone when `keys_only`.
std::string EntryTable(const std::vector<const meshkv::v1::Entry*>& entries, bool keys_only);
// The metas of written keys: KEY OWNER VERSION REVISION TIMESTAMP LEASE
// EXPIRES; `keys` and `metas` in the same order.
std::string MetaTable(const std::vector<std::string>& keys,
                      const std::vector<const meshkv::v1::Meta*>& metas);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_FORMAT_H_
