#include "clients/cli/format.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace meshkv::cli {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (1 to 4) and
// its code point; 0 when `s` does not start with one (stray continuation
// byte, overlong form, surrogate, beyond U+10FFFF, truncated).
int DecodeUtf8(absl::string_view s, char32_t* cp) {
  const auto b = [&s](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  int len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    *cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    *cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    *cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < static_cast<size_t>(len)) return 0;
  for (int i = 1; i < len; ++i) {
    if (b(i) < (i == 1 ? lo : 0x80) || b(i) > (i == 1 ? hi : 0xBF)) return 0;
    *cp = (*cp << 6) | (b(i) & 0x3F);
  }
  return len;
}

// Code points above ASCII that print as nothing or reorder the line (C1
// controls, line and paragraph separators, bidirectional overrides, BOM):
// shown escaped so that what is on screen is what is stored.
bool IsInvisible(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

// Calls `plain(text)` for printable runs and `escape(byte or code point,
// is_code_point)` for everything else, in order.
template <typename Plain, typename Escape>
void Scan(absl::string_view s, Plain plain, Escape escape) {
  while (!s.empty()) {
    char32_t cp;
    const int len = DecodeUtf8(s, &cp);
    if (len == 0) {
      escape(static_cast<unsigned char>(s[0]), false);
      s.remove_prefix(1);
    } else if (len == 1 ? (cp < 0x20 || cp == 0x7F) : IsInvisible(cp)) {
      escape(cp, len > 1);
      s.remove_prefix(len);
    } else {
      plain(s.substr(0, len));
      s.remove_prefix(len);
    }
  }
}

}  // namespace

std::string Quote(absl::string_view bytes) {
  std::string out = "\"";
  Scan(
      bytes,
      [&out](absl::string_view text) {
        if (text == "\"" || text == "\\") out.push_back('\\');
        out.append(text.data(), text.size());
      },
      [&out](char32_t c, bool is_code_point) {
        switch (c) {
          case '\n':
            out += "\\n";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\r':
            out += "\\r";
            break;
          default:
            out += is_code_point ? absl::StrFormat("\\u%04x", static_cast<uint32_t>(c))
                                 : absl::StrFormat("\\x%02x", static_cast<uint32_t>(c));
        }
      });
  out.push_back('"');
  return out;
}

std::string Readable(absl::string_view bytes) {
  bool plain = !bytes.empty();
  Scan(
      bytes,
      [&plain](absl::string_view text) {
        if (text == " " || text == "=" || text == "\"" || text == "\\") plain = false;
      },
      [&plain](char32_t, bool) { plain = false; });
  return plain ? std::string(bytes) : Quote(bytes);
}

std::string FormatMapping(const meshkv::v1::Mapping& mapping) {
  // A protobuf map iterates in no particular order; sort for stable output.
  std::vector<std::pair<absl::string_view, absl::string_view>> fields(mapping.fields().begin(),
                                                                      mapping.fields().end());
  std::sort(fields.begin(), fields.end());
  return absl::StrCat("{",
                      absl::StrJoin(fields, ", ",
                                    [](std::string* out, const auto& f) {
                                      absl::StrAppend(out, Quote(f.first), ": ", Quote(f.second));
                                    }),
                      "}");
}

std::string FormatValue(const meshkv::v1::Value& value) {
  switch (value.kind_case()) {
    case meshkv::v1::Value::kBytes:
      return Readable(value.bytes());
    case meshkv::v1::Value::kMapping:
      return FormatMapping(value.mapping());
    case meshkv::v1::Value::KIND_NOT_SET:
      break;
  }
  return "";
}

std::string RawValue(const meshkv::v1::Value& value) {
  if (value.has_mapping()) return FormatMapping(value.mapping()) + "\n";
  return value.bytes();
}

std::string FormatTime(int64_t unix_ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(unix_ms),
                          absl::UTCTimeZone());
}

std::string FormatVersion(const meshkv::v1::Version& version) {
  if (version.hlc() == 0 && version.origin().empty()) return "-";
  return absl::StrCat(version.hlc(), "/", version.origin());
}

std::string FormatMeta(const meshkv::v1::Meta& meta) {
  return absl::StrCat("owner=", Readable(meta.owner()), " rev=", meta.revision(),
                      " ts=", FormatTime(meta.timestamp_ms()));
}

std::string FormatEntry(const meshkv::v1::Entry& entry) {
  std::string out = absl::StrCat(Readable(entry.key()), "=", FormatValue(entry.value()), " ",
                                 FormatMeta(entry.meta()));
  if (entry.meta().lease_expires_ms() != 0) {
    absl::StrAppend(&out, " lease=", FormatTime(entry.meta().lease_expires_ms()));
  }
  if (entry.meta().expires_ms() != 0) {
    absl::StrAppend(&out, " expires=", FormatTime(entry.meta().expires_ms()));
  }
  return out;
}

std::string FormatEvent(const meshkv::v1::Event& event) {
  // No lease: an event is a change, and the lease follows from owner and ts.
  const meshkv::v1::Entry& e = event.entry();
  std::string out;
  if (event.type() == meshkv::v1::Event::DELETE) {
    out = absl::StrCat("DELETE ", Readable(e.key()), " ", FormatMeta(e.meta()));
    if (event.reason() == meshkv::v1::Event::EXPIRED) absl::StrAppend(&out, " reason=expired");
  } else if (!e.has_value()) {  // keys-only
    out = absl::StrCat("UPDATE ", Readable(e.key()), " ", FormatMeta(e.meta()));
  } else {
    out = absl::StrCat("UPDATE ", Readable(e.key()), "=", FormatValue(e.value()), " ",
                       FormatMeta(e.meta()));
  }
  if (event.has_prev_value()) absl::StrAppend(&out, " prev=", FormatValue(event.prev_value()));
  return out;
}

std::string FormatMessage(const meshkv::v1::Message& message) {
  return absl::StrCat(Readable(message.topic()), "=", Readable(message.payload()),
                      " origin=", Readable(message.origin()),
                      " ts=", FormatTime(message.timestamp_ms()));
}

std::string FormatEntryDetails(const meshkv::v1::Entry& entry) {
  const meshkv::v1::Meta& meta = entry.meta();
  return absl::StrCat(
      "key: ", Readable(entry.key()), "\n",                  //
      "value: ", FormatValue(entry.value()), "\n",           //
      "owner: ", Readable(meta.owner()), "\n",               //
      "timestamp: ", FormatTime(meta.timestamp_ms()), "\n",  //
      "version: ", FormatVersion(meta.version()), "\n",      //
      "revision: ", meta.revision(), "\n",                   //
      "lease-expires: ",
      meta.lease_expires_ms() == 0 ? "never (leasing is off)" : FormatTime(meta.lease_expires_ms()),
      "\n",  //
      "expires: ", meta.expires_ms() == 0 ? "never" : FormatTime(meta.expires_ms()), "\n");
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Only fails on a message that cannot be valid (e.g. a bad Any): a bug.
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    out = "{\"error\": \"unprintable response\"}";
  }
  return out;
}

namespace {

// East Asian wide and fullwidth characters take two columns on a terminal
// (the main ranges of Unicode's EastAsianWidth W and F, as wcwidth has them).
bool IsWide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x20000 && cp <= 0x3FFFD);
}

// Columns `s` takes on a terminal. Table cells are Readable, so every byte
// is part of printable UTF-8 or of an escape.
size_t Width(absl::string_view s) {
  size_t n = 0;
  while (!s.empty()) {
    char32_t cp;
    const int len = DecodeUtf8(s, &cp);
    n += len > 1 && IsWide(cp) ? 2 : 1;
    s.remove_prefix(len == 0 ? 1 : len);
  }
  return n;
}

std::string Time(int64_t unix_ms) { return unix_ms == 0 ? "-" : FormatTime(unix_ms); }

}  // namespace

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = Width(header[i]);
  for (const std::vector<std::string>& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  std::string rule = "+";
  for (size_t w : widths) absl::StrAppend(&rule, std::string(w + 2, '-'), "+");
  rule += "\n";
  const auto line = [&widths](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      absl::StrAppend(&out, " ", cell, std::string(widths[i] - Width(cell), ' '), " |");
    }
    return out + "\n";
  };
  std::string out = rule + line(header) + rule;
  for (const std::vector<std::string>& row : rows) out += line(row);
  return out + rule;
}

std::string EntryTable(const std::vector<const meshkv::v1::Entry*>& entries, bool keys_only) {
  std::vector<std::vector<std::string>> rows;
  for (const meshkv::v1::Entry* e : entries) {
    if (keys_only) {
      rows.push_back({Readable(e->key())});
      continue;
    }
    const meshkv::v1::Meta& m = e->meta();
    rows.push_back({Readable(e->key()), FormatValue(e->value()), Readable(m.owner()),
                    FormatVersion(m.version()), absl::StrCat(m.revision()), Time(m.timestamp_ms()),
                    Time(m.lease_expires_ms()), Time(m.expires_ms())});
  }
  if (keys_only) return FormatTable({"KEY"}, rows);
  return FormatTable(
      {"KEY", "VALUE", "OWNER", "VERSION", "REVISION", "TIMESTAMP", "LEASE", "EXPIRES"}, rows);
}

std::string MetaTable(const std::vector<std::string>& keys,
                      const std::vector<const meshkv::v1::Meta*>& metas) {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < metas.size(); ++i) {
    const meshkv::v1::Meta& m = *metas[i];
    rows.push_back({i < keys.size() ? Readable(keys[i]) : "", Readable(m.owner()),
                    FormatVersion(m.version()), absl::StrCat(m.revision()), Time(m.timestamp_ms()),
                    Time(m.lease_expires_ms()), Time(m.expires_ms())});
  }
  return FormatTable({"KEY", "OWNER", "VERSION", "REVISION", "TIMESTAMP", "LEASE", "EXPIRES"},
                     rows);
}

}  // namespace meshkv::cli
