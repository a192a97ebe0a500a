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

#include "absl/strings/string_view.h"
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
// owner=OWNER rev=REVISION ts=TIMESTAMP
std::string FormatMeta(const meshkv::v1::Meta& meta);
// KEY=VALUE owner=... rev=... ts=..., then lease=EXPIRY when leasing is on
// (`items`, `popitem`).
std::string FormatEntry(const meshkv::v1::Entry& entry);
// UPDATE KEY=VALUE owner=... rev=... ts=... or DELETE KEY owner=... rev=...
// ts=..., then prev=VALUE when the event carries one.
std::string FormatEvent(const meshkv::v1::Event& event);
// The labelled lines of `get --meta`, each ending in a newline.
std::string FormatEntryDetails(const meshkv::v1::Entry& entry);

}  // namespace meshkv::cli

#endif  // MESHKV_CLIENTS_CLI_FORMAT_H_
