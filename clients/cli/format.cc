#include "clients/cli/format.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

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
  return out;
}

std::string FormatEvent(const meshkv::v1::Event& event) {
  // No lease: an event is a change, and the lease follows from owner and ts.
  const meshkv::v1::Entry& e = event.entry();
  std::string out = event.type() == meshkv::v1::Event::DELETE
                        ? absl::StrCat("DELETE ", Readable(e.key()), " ", FormatMeta(e.meta()))
                        : absl::StrCat("UPDATE ", Readable(e.key()), "=", FormatValue(e.value()),
                                       " ", FormatMeta(e.meta()));
  if (event.has_prev_value()) absl::StrAppend(&out, " prev=", FormatValue(event.prev_value()));
  return out;
}

std::string FormatEntryDetails(const meshkv::v1::Entry& entry) {
  const meshkv::v1::Meta& meta = entry.meta();
  return absl::StrCat(
      "key: ", Readable(entry.key()), "\n",                  //
      "value: ", FormatValue(entry.value()), "\n",           //
      "owner: ", Readable(meta.owner()), "\n",               //
      "timestamp: ", FormatTime(meta.timestamp_ms()), "\n",  //
      "revision: ", meta.revision(), "\n",                   //
      "lease-expires: ",
      meta.lease_expires_ms() == 0 ? "never (leasing is off)" : FormatTime(meta.lease_expires_ms()),
      "\n");
}

}  // namespace meshkv::cli
